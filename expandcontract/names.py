"""Names every room shares, kept in the lowest room so no room imports a higher one for a constant.

Our own schema, the runner's advisory lock key, the lanes, and the `config.attributes` keys through which
the runner hands its connection and hooks to a project's env.py (and verify hands its own).
"""

from __future__ import annotations

import re

SCHEMA = "expandcontract"

# Keyed by the advisory lock's first int: "ec" in ASCII, so other apps' locks are unlikely to collide.
ADVISORY_LOCK_KEY = 0x6563_0001
# Shared (transaction-level) by every statement and batch a runner runs, exclusively taken and released by
# a runner right after it gets ADVISORY_LOCK_KEY: so it starts only after the previous holder's last
# statement or batch ended, even when that holder lost its lock connection mid-transaction.
RUNNER_STEP_KEY = 0x6563_0005
# (RUNNER_ALIVE_CLASS, pid) is held exclusively by the runner's lock connection while it holds the runner
# lock: one pg_try_advisory_xact_lock_shared on it tells any session whether that connection still lives
# (much cheaper than reading pg_locks, which copies the server's whole lock table).
RUNNER_ALIVE_CLASS = 0x6563_0006

LANES: tuple[str, str, str] = ("expand", "migrate", "contract")

# A change's slug (DESIGN.md): `users-email-verified`.
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")

ATTR_CONNECTION = "connection"
ATTR_RUN_ID = "expandcontract.run_id"
ATTR_ON_STEP = "expandcontract.on_step"
ATTR_BEFORE_MIGRATIONS = "expandcontract.before_migrations"
ATTR_CONFIG = "expandcontract.config"
ATTR_BATCH_GUARD = "expandcontract.batch_guard"  # called in each backfill batch's transaction
