"""Reversibility verifier vs pytest-alembic, side by side on the same server and the same chains.

    /work/venv/bin/python benchmarks/verify.py [--database-url URL] [--peer-venv DIR] [--json FILE]

Measures, in one run:
1. A 30-revision chain (one lane) with 7 planted downgrade bugs (tests/verify/planted.py): bugs found
   and wall time for `expandcontract verify` and for pytest-alembic's `test_up_down_consistency` and
   experimental `test_downgrade_leaves_no_trace` (the peer).
2. The same chain with the bugs fixed (clean): wall time of both.
3. `verify --since HEAD` with 3 new revisions on top of 27 committed ones.

pytest-alembic 0.13 does not collect under pytest 9, so the peer runs in its own venv (default
/work/venv-peer, created here when missing: pytest<9, pytest-alembic, SQLAlchemy, Alembic, psycopg).
The peer gets the same revision files with a plain Alembic env.py (it hands env.py an Engine, or in
`downgrade_leaves_no_trace` a connection inside a transaction, which our env helper does not take).
Wall times are whole processes (interpreter start, imports, pytest collection for the peer), each on a
fresh database of the same server: the embedded PostgreSQL in a temp dir unless --database-url is given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from verify.conftest import Chain  # noqa: E402
from verify.planted import BASE, BUGS, Bug, correct  # noqa: E402

from expandcontract.db.connect import connect  # noqa: E402
from expandcontract.db.url import with_database  # noqa: E402
from expandcontract.phases.adopt import init  # noqa: E402

OURS = Path(sys.executable)
CHAIN_LENGTH = 30
SINGLE_LANE_KINDS = (0, 2, 3)  # correct() kinds that stay in the expand lane (pytest-alembic wants one)

PEER_ENV_PY = '''"""Plain Alembic env.py for pytest-alembic: it hands over an Engine (or a wrapped connection)."""
from alembic import context

connectable = context.config.attributes["connection"]
with connectable.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
'''

PEER_CONFTEST = """
import os

import pytest
import sqlalchemy as sa
from pytest_alembic.config import Config


@pytest.fixture
def alembic_config():
    return Config(config_options={"file": os.environ["PEER_INI"]})


@pytest.fixture
def alembic_engine():
    return sa.create_engine(os.environ["PEER_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
"""

PEER_TESTS = """
from pytest_alembic.tests import test_up_down_consistency
from pytest_alembic.tests.experimental import test_downgrade_leaves_no_trace
"""


def ensure_peer_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating the peer venv in {venv} (pytest<9 + pytest-alembic)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "pytest<9",
                "pytest-alembic",
                "sqlalchemy",
                "alembic",
                "psycopg[binary]",
            ],
            check=True,
        )
    return python


def build_chain(root: Path, *, planted: bool, length: int = CHAIN_LENGTH) -> tuple[Chain, dict[str, Bug]]:
    """Base revision, then (when `planted`) the bugs spread out, the rest correct; all in one lane."""
    init(root)
    chain = Chain(root)
    chain.add("users", {"expand": BASE})
    bugs: dict[str, Bug] = {}
    slots = length - 1
    bug_at = {2 + i * (slots // len(BUGS)): bug for i, bug in enumerate(BUGS)} if planted else {}
    kind = 0
    for i in range(1, slots + 1):
        bug = bug_at.get(i)
        if bug is not None:
            rid = chain.add(bug.slug, {"expand": (bug.upgrade, bug.downgrade)})["expand"]
            bugs[rid] = bug
            continue
        n = SINGLE_LANE_KINDS[kind % len(SINGLE_LANE_KINDS)] + 4 * (kind // len(SINGLE_LANE_KINDS) + 1)
        kind += 1
        chain.add(f"change-{i}", {"expand": correct(n)["expand"]})
    return chain, bugs


def fresh_db(server: str) -> str:
    name = f"ec_bench_{uuid.uuid4().hex[:10]}"
    with connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server, name)


def drop_db(server: str, url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_ours(chain: Chain, server: str, *extra: str) -> tuple[float, dict[str, Any]]:
    cmd = [str(OURS), "-m", "expandcontract", "verify", "--database-url", server, "--format", "json", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=chain.root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"verify exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def found_by_ours(doc: dict[str, Any], bugs: dict[str, Bug]) -> list[str]:
    found = []
    for entry in doc["revisions"]:
        bug = bugs.get(entry["revision"])
        if bug is not None and bug.message.format(rev=entry["revision"]) in entry["differences"]:
            found.append(bug.kind)
    return found


def peer_project(chain: Chain, where: Path) -> Path:
    shutil.copytree(chain.root, where)
    (where / "migrations" / "env.py").write_text(PEER_ENV_PY)
    (where / "conftest.py").write_text(PEER_CONFTEST)
    (where / "test_peer.py").write_text(PEER_TESTS)
    return where


def run_peer(python: Path, project: Path, server: str, test: str) -> tuple[float, bool, str]:
    url = fresh_db(server)
    env = {**os.environ, "PEER_URL": url, "PEER_INI": str(project / "alembic.ini")}
    env.pop("DATABASE_URL", None)
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "test_peer.py", "-k", test]
    try:
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - t0
    finally:
        drop_db(server, url)
    return wall, done.returncode == 0, done.stdout + done.stderr


_FAILING = re.compile(r"Failing Revision:[\sE]*([0-9a-f]{12})|pre-'([0-9a-f]{12})'-upgrade")


def failing_revision(output: str, chain: Chain) -> str | None:
    """The revision the peer's failure is about. Its up/down test names the *target* of a failed
    downgrade (the revision below the one whose downgrade raised): map that to the child."""
    m = _FAILING.search(output)
    if not m:
        return None
    rid = m.group(1) or m.group(2)
    if "Failed to downgrade" in output:
        from expandcontract.phases.project import load_project

        children = {d: r.id for r in load_project(chain.config).revisions.values() for d in r.down_revisions}
        return children.get(rid, rid)
    return rid


def peer_flag(test: str, passed: bool, output: str, chain: Chain, bugs: dict[str, Bug]) -> dict[str, Any]:
    if passed:
        return {"test": test, "result": "passed"}
    rid = failing_revision(output, chain)
    errors = [ln[1:].strip() for ln in output.splitlines() if ln.startswith("E ") and "errors." in ln]
    asserts = [ln[1:].strip() for ln in output.splitlines() if ln.startswith("E ") and "Error" in ln]
    why = (errors or asserts or ["see output"])[-1][:160]
    return {
        "test": test,
        "result": "failed" if rid else "crashed",
        "revision": rid,
        "planted_kind": bugs[rid].kind if rid in bugs else None,
        "error": why,
    }


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="server for both tools (default: embedded in a temp dir)")
    parser.add_argument("--peer-venv", type=Path, default=Path("/work/venv-peer"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    args = parser.parse_args()
    peer_python = ensure_peer_venv(args.peer_venv)
    os.environ.pop("DATABASE_URL", None)
    tmp = Path(tempfile.mkdtemp(prefix="ec-bench-verify-"))
    embedded_dir = tmp / "pg"
    try:
        if args.database_url:
            server = args.database_url
        else:
            from expandcontract.db import embedded

            server = embedded.start(embedded_dir, fast=True)
        figures = measure(tmp, server, peer_python, args.repeat)
    finally:
        if not args.database_url:
            from expandcontract.db import embedded

            embedded.stop(embedded_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def measure(tmp: Path, server: str, peer_python: Path, repeat: int) -> dict[str, Any]:
    with connect(server) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    version = str(row[0]).split()[0] if row else "?"
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    log(f"building chains in {tmp} (PostgreSQL {version})")
    planted, bugs = build_chain(tmp / "planted", planted=True)
    clean, _ = build_chain(tmp / "clean", planted=False)
    peer_planted = peer_project(planted, tmp / "peer-planted")
    peer_clean = peer_project(clean, tmp / "peer-clean")

    walls: dict[str, list[float]] = {}
    last: dict[str, Any] = {}

    def timed(name: str, fn: Any, *a: Any) -> None:
        out = fn(*a)
        walls.setdefault(name, []).append(out[0])
        last[name] = out

    for i in range(repeat):
        log(f"round {i + 1}/{repeat}: planted and clean chains, ours and pytest-alembic")
        timed("ours_planted", run_ours, planted, server)
        timed("peer_updown_planted", run_peer, peer_python, peer_planted, server, "up_down")
        timed("peer_trace_planted", run_peer, peer_python, peer_planted, server, "leaves_no_trace")
        timed("ours_clean", run_ours, clean, server)
        timed("peer_updown_clean", run_peer, peer_python, peer_clean, server, "up_down")
        timed("peer_trace_clean", run_peer, peer_python, peer_clean, server, "leaves_no_trace")

    log("--since with 3 new revisions")
    since_root = tmp / "since"
    since_chain, _ = build_chain(since_root, planted=False, length=CHAIN_LENGTH - 3)
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q"], cwd=since_root, check=True)
    subprocess.run([*git, "add", "."], cwd=since_root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "27 revisions"], cwd=since_root, check=True)
    for i in range(3):
        since_chain.add(f"new-{i}", {"expand": correct(SINGLE_LANE_KINDS[i] + 40)["expand"]})
    for _ in range(repeat):
        timed("ours_since", run_ours, since_chain, server, "--since", "HEAD")

    m = {name: round(median(values), 2) for name, values in walls.items()}
    ours_doc, clean_doc, since_doc = last["ours_planted"][1], last["ours_clean"][1], last["ours_since"][1]
    ours_found = found_by_ours(ours_doc, bugs)
    flags = {
        name: peer_flag(test, last[name][1], last[name][2], chain, bugs)
        for name, test, chain in (
            ("peer_updown_planted", "test_up_down_consistency", planted),
            ("peer_trace_planted", "test_downgrade_leaves_no_trace", planted),
            ("peer_updown_clean", "test_up_down_consistency", clean),
            ("peer_trace_clean", "test_downgrade_leaves_no_trace", clean),
        )
    }
    peer_found = sorted({f["planted_kind"] for n, f in flags.items() if "planted" in n and f.get("planted_kind")})
    return {
        "server": f"PostgreSQL {version}",
        "repeat": repeat,
        "chain": {"revisions": CHAIN_LENGTH, "planted_bugs": len(bugs), "kinds": [b.kind for b in bugs.values()]},
        "planted": {
            "ours": {
                "wall_s": m["ours_planted"],
                "bugs_found": len(ours_found),
                "found": ours_found,
                "orders": ours_doc["orders"],
            },
            "peer_up_down": {"wall_s": m["peer_updown_planted"], **flags["peer_updown_planted"]},
            "peer_leaves_no_trace": {"wall_s": m["peer_trace_planted"], **flags["peer_trace_planted"]},
            "peer_planted_revisions_flagged": len(peer_found),
            "peer_flagged": peer_found,
            "ratio_ours_to_peer_up_down": round(m["ours_planted"] / m["peer_updown_planted"], 2),
        },
        "clean": {
            "ours_wall_s": m["ours_clean"],
            "ours_ok": clean_doc["ok"],
            "peer_up_down_wall_s": m["peer_updown_clean"],
            "peer_up_down": flags["peer_updown_clean"],
            "peer_leaves_no_trace_wall_s": m["peer_trace_clean"],
            "peer_leaves_no_trace": flags["peer_trace_clean"],
            "ratio_ours_to_peer_up_down": round(m["ours_clean"] / m["peer_updown_clean"], 2),
        },
        "since_3_new": {
            "wall_s": m["ours_since"],
            "verified": len(since_doc["revisions"]),
            "ok": since_doc["ok"],
            "full_clean_chain_wall_s": m["ours_clean"],
        },
        "all_walls_s": {name: [round(v, 2) for v in values] for name, values in walls.items()},
    }


if __name__ == "__main__":
    main()
