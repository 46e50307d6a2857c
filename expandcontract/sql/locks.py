"""Lock facts: what each table lock mode blocks. Every claim a rule makes about a lock is one of these
modes, and tests/lint/test_lock_facts.py checks each claim by running the statement on PostgreSQL and
reading pg_locks before the transaction commits."""

from __future__ import annotations

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"

BLOCKS = {
    ACCESS_EXCLUSIVE: "blocks every read and write on {table}, and queues all later queries behind it",
    SHARE: "blocks INSERT, UPDATE and DELETE on {table} (reads continue)",
    SHARE_ROW_EXCLUSIVE: "blocks INSERT, UPDATE and DELETE on {table} (reads continue)",
    SHARE_UPDATE_EXCLUSIVE: "blocks other schema changes and VACUUM on {table}; reads and writes continue",
    ROW_EXCLUSIVE: "blocks schema changes on {table}; the updated rows stay locked until commit",
}

# pg_locks.mode spelling for each mode
PG_LOCKS_MODE = {
    ACCESS_EXCLUSIVE: "AccessExclusiveLock",
    SHARE: "ShareLock",
    SHARE_ROW_EXCLUSIVE: "ShareRowExclusiveLock",
    SHARE_UPDATE_EXCLUSIVE: "ShareUpdateExclusiveLock",
    ROW_EXCLUSIVE: "RowExclusiveLock",
}

# modes that block writes: a later backfill in the same transaction holds them for its whole run
BLOCKING = {ACCESS_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE}


def describe(mode: str, table: str) -> str:
    return f"{mode} lock on {table}: {BLOCKS.get(mode, 'blocks other sessions').format(table=table)}"


def article(mode: str) -> str:
    """`an ACCESS EXCLUSIVE`, `a SHARE`."""
    return f"{'an' if mode[:1] in 'AEIOU' else 'a'} {mode}"
