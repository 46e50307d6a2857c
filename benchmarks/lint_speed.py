"""Speed of `expandcontract lint` vs squawk, whole-process wall time (start-up included).

1. 1,000 .sql files (the labelled corpus, cycled) in one invocation of each tool, same pg version and
   transaction mode, runs interleaved (ours, squawk, ours, ...) so machine noise hits both; reports the
   median of the per-round ratios. Goal <= 2x squawk (stretch <= 1x). Also each tool's start-up (one
   file) and cost per further file, `python -c pass` as the floor, and with `--baseline REF` the same
   figures for another version of this checkout (`git archive`), in the same interleaved rounds.
2. A project of 200 Alembic revisions (expand / migrate / contract lanes) linted by one
   `expandcontract lint`: median wall time. Goal <= 2 s.

Run: python benchmarks/lint_speed.py [--rounds 5] [--baseline main] [--skip-project]
Needs squawk-cli (pip install squawk-cli; benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "lint" / "corpus"


LAUNCH = "from expandcontract.cli import main; main()"  # as the console script calls it (argv from sys.argv)


def user_python(where: Path) -> str:
    """An interpreter like a user's after `pip install expandcontract`: a fresh venv that sees this
    environment's packages through a plain path .pth, without the editable-install finder (which imports
    pathlib, importlib.util and more at every start of this checkout's venv)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = subprocess.run(
        [str(where / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "benchmark-deps.pth").write_text(ours + "\n")
    return str(where / "bin" / "python")


def ours_command(python: str) -> list[str]:
    """Our CLI (the checkout is on PYTHONPATH, see env_for), as the installed script starts it."""
    return [python, "-c", LAUNCH]


def env_for(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code)}


def compile_bytecode(code: Path) -> None:
    """pip compiles an installed package's bytecode; an editable checkout under PYTHONDONTWRITEBYTECODE
    (as on CI machines) would recompile every module on every start: measure what users run."""
    compileall.compile_dir(str(code / "expandcontract"), quiet=1)


def baseline_checkout(ref: str, where: Path) -> Path:
    """`git archive REF` of this repository into `where` (the code to compare against)."""
    where.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    # the version file is generated at install time, never committed: without it the package asks
    # importlib.metadata at every start (25 ms), and the baseline would look that much slower
    version = ROOT / "expandcontract" / "_version.py"
    if version.exists() and not (where / "expandcontract" / "_version.py").exists():
        shutil.copy(version, where / "expandcontract" / "_version.py")
    return where


def squawk_binary() -> str:
    local = Path(sys.executable).with_name("squawk")
    found = str(local) if local.exists() else shutil.which("squawk")
    if not found:
        sys.exit("squawk not found: pip install squawk-cli")
    return found


CPU: list[float] = []  # CPU seconds (user + system, the process and its children) of each wall() call


def wall(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return elapsed


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
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pg-version", type=int, default=15)
    ap.add_argument("--baseline", default=None, help="also time this git ref of the checkout (e.g. main)")
    ap.add_argument("--skip-project", action="store_true", help="only the .sql figures")
    args = ap.parse_args()
    squawk = squawk_binary()
    with tempfile.TemporaryDirectory() as tmp:
        python = user_python(Path(tmp) / "venv")
        codes = {"ours": ROOT}
        if args.baseline:
            codes[f"baseline {args.baseline}"] = baseline_checkout(args.baseline, Path(tmp) / "baseline")
        for code in codes.values():
            compile_bytecode(code)
        sql_dir = Path(tmp) / "sql"
        sql_dir.mkdir()
        names = make_sql_files(sql_dir)
        lint = ["lint", "--format", "json", "--pg-version", str(args.pg_version)]
        sq = [squawk, "--reporter", "json", f"--pg-version={args.pg_version}", "--assume-in-transaction"]
        # (command, env) per tool, for 1,000 files and for one file (start-up)
        tools: dict[str, tuple[list[str], list[str], dict[str, str] | None]] = {
            label: ([*ours_command(python), *lint, *names], [*ours_command(python), *lint, names[0]], env_for(code))
            for label, code in codes.items()
        }
        tools["squawk"] = ([*sq, *names], [*sq, names[0]], None)
        tools["python -c pass"] = ([python, "-c", "pass"], [python, "-c", "pass"], None)
        for many, one, env in tools.values():  # warm the page cache
            wall(many, sql_dir, env)
            wall(one, sql_dir, env)
        t_many: dict[str, list[float]] = {k: [] for k in tools}
        t_one: dict[str, list[float]] = {k: [] for k in tools}
        c_many: dict[str, list[float]] = {k: [] for k in tools}  # CPU time: less sensitive to a loaded machine
        c_one: dict[str, list[float]] = {k: [] for k in tools}
        for _ in range(args.rounds):  # interleaved: machine noise hits every tool alike
            for label, (many, one, env) in tools.items():
                t_many[label].append(wall(many, sql_dir, env))
                c_many[label].append(CPU[-1])
                t_one[label].append(wall(one, sql_dir, env))
                c_one[label].append(CPU[-1])
        med = statistics.median
        print(f"{len(names):,} .sql files, {args.rounds} interleaved rounds, whole-process wall time (median):")
        for label in tools:
            many, one = med(t_many[label]), med(t_one[label])
            per_file = (many - one) / (len(names) - 1)
            ratio = med([a / b for a, b in zip(t_many[label], t_many["squawk"], strict=True)])
            print(
                f"  {label:22} 1,000 files {many * 1000:6.0f} ms ({ratio:5.2f}x squawk)   one file (start-up) "
                f"{one * 1000:5.0f} ms   per further file {per_file * 1e6:6.0f} us"
            )
        print("  goal: ours <= 2x squawk on 1,000 files")
        print("CPU time (user + system, median), the same runs:")
        for label in tools:
            ratio = med([a / b for a, b in zip(c_many[label], c_many["squawk"], strict=True)])
            print(
                f"  {label:22} 1,000 files {med(c_many[label]) * 1000:6.0f} ms ({ratio:5.2f}x squawk)   "
                f"one file {med(c_one[label]) * 1000:5.0f} ms"
            )
        if args.skip_project:
            return
        proj = Path(tmp) / "proj"
        proj.mkdir()
        make_project(proj)
        cmd = [*ours_command(python), "lint", "--format", "json"]
        env = env_for(ROOT)
        wall(cmd, proj, env)
        times = [wall(cmd, proj, env) for _ in range(5)]
        out = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True)
        files = out.stdout.count('"path"')
        print(
            f"200 Alembic revisions, one `expandcontract lint`: median {statistics.median(times):.2f} s "
            f"(goal <= 2 s; {files} findings)"
        )


if __name__ == "__main__":
    main()
