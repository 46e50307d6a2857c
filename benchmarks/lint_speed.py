"""Speed of `expandcontract lint` vs squawk, whole-process wall time (start-up included).

1. 1,000 .sql files (the labelled corpus, cycled) in one invocation of each tool, same pg version and
   transaction mode, runs interleaved (ours, squawk, ours, ...) so machine noise hits both; reports the
   median of the per-round ratios. Goal <= 2x squawk (stretch <= 1x).
2. A project of 200 Alembic revisions (expand / migrate / contract lanes) linted by one
   `expandcontract lint`: median wall time. Goal <= 2 s.

Run: python benchmarks/lint_speed.py [--rounds 11]
Needs squawk-cli (pip install squawk-cli; benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "lint" / "corpus"


def ours_binary() -> list[str]:
    local = Path(sys.executable).with_name("expandcontract")
    return [str(local)] if local.exists() else [sys.executable, "-m", "expandcontract"]


def squawk_binary() -> str:
    local = Path(sys.executable).with_name("squawk")
    found = str(local) if local.exists() else shutil.which("squawk")
    if not found:
        sys.exit("squawk not found: pip install squawk-cli")
    return found


def wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def make_sql_files(where: Path, n: int = 1000) -> list[str]:
    sources = sorted(CORPUS.glob("*.sql"))
    names = []
    for i in range(n):
        name = f"m{i:04d}.sql"
        (where / name).write_text(sources[i % len(sources)].read_text().replace("-- transaction: none\n", ""))
        names.append(name)
    return names


REVISION = '''"""{phase} {n}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {deps!r}
ec_change = "change-{n}"
ec_phase = "{phase}"


def upgrade():
{body}


def downgrade():
    pass
'''

BODIES = {
    "expand": '    op.add_column("t{k}", sa.Column("c{n}", sa.Text(), nullable=True))\n'
    "    with op.get_context().autocommit_block():\n"
    '        op.create_index("ix_{n}", "t{k}", ["c{n}"], postgresql_concurrently=True)',
    "migrate": "    op.execute(\"UPDATE t{k} SET c{n} = 'x' WHERE id BETWEEN 1 AND 1000\")",
    "contract": '    op.drop_column("t{k}", "old{n}")\n    op.alter_column("t{k}", "c{n}", nullable=False)',
}


def make_project(where: Path, revisions: int = 200) -> None:
    (where / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\npath_separator = space\n"
        "version_locations = %(here)s/migrations/versions/expand %(here)s/migrations/versions/migrate "
        "%(here)s/migrations/versions/contract\n"
    )
    mig = where / "migrations"
    for lane in ("expand", "migrate", "contract"):
        (mig / "versions" / lane).mkdir(parents=True)
    (mig / "env.py").write_text("")
    heads: dict[str, str | None] = {"expand": None, "migrate": None, "contract": None}
    setup = '    op.create_table("t{k}", sa.Column("id", sa.BigInteger(), primary_key=True))'
    count = 0
    n = 0
    while count < revisions:
        for phase in ("expand", "migrate", "contract"):
            if count >= revisions:
                break
            rev = f"{phase[:2]}{n:04d}"
            deps = {"expand": None, "migrate": f"ex{n:04d}", "contract": f"mi{n:04d}"}[phase]
            body = BODIES[phase].format(n=n, k=n % 20)
            if phase == "expand" and n < 20:
                body = setup.format(k=n) + "\n" + body
            down = heads[phase]
            text = REVISION.format(
                phase=phase, n=n, rev=rev, down=down, labels=(phase,) if down is None else None, deps=deps, body=body
            )
            (mig / "versions" / phase / f"{rev}.py").write_text(text)
            heads[phase] = rev
            count += 1
        n += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--pg-version", type=int, default=17)
    args = ap.parse_args()
    ours, squawk = ours_binary(), squawk_binary()
    with tempfile.TemporaryDirectory() as tmp:
        sql_dir = Path(tmp) / "sql"
        sql_dir.mkdir()
        names = make_sql_files(sql_dir)
        ours_cmd = [
            *ours,
            "lint",
            "--format",
            "json",
            "--pg-version",
            str(args.pg_version),
            "--transaction",
            "per-file",
            *names,
        ]
        squawk_cmd = [
            squawk,
            "--reporter",
            "json",
            f"--pg-version={args.pg_version}",
            "--assume-in-transaction",
            *names,
        ]
        wall(ours_cmd, sql_dir)
        wall(squawk_cmd, sql_dir)  # warm the page cache for both
        ratios, t_ours, t_squawk = [], [], []
        for _ in range(args.rounds):
            a = wall(ours_cmd, sql_dir)
            b = wall(squawk_cmd, sql_dir)
            t_ours.append(a)
            t_squawk.append(b)
            ratios.append(a / b)
        print(f"1,000 .sql files, {args.rounds} interleaved rounds, whole-process wall time:")
        print(
            f"  expandcontract median {statistics.median(t_ours) * 1000:.0f} ms, "
            f"squawk median {statistics.median(t_squawk) * 1000:.0f} ms"
        )
        print(f"  median ratio expandcontract/squawk: {statistics.median(ratios):.2f}x (goal <= 2x)")
        proj = Path(tmp) / "proj"
        proj.mkdir()
        make_project(proj)
        cmd = [*ours, "lint", "--format", "json"]
        wall(cmd, proj)
        times = [wall(cmd, proj) for _ in range(5)]
        out = subprocess.run(cmd, cwd=proj, capture_output=True, text=True)
        files = out.stdout.count('"path"')
        print(
            f"200 Alembic revisions, one `expandcontract lint`: median {statistics.median(times):.2f} s "
            f"(goal <= 2 s; {files} findings)"
        )


if __name__ == "__main__":
    main()
