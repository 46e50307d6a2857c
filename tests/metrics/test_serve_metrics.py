"""`expandcontract serve` scraped over real HTTP: the backfill state and the audit log of a real database
(one backfill done, one throttled by its health check in another thread), the gate answers it gave, the
bearer token, and that every series it exports is in the catalog the docs and the dashboard use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from expandcontract.backfill import api
from expandcontract.backfill.spec import Spec
from expandcontract.metrics.catalog import STATE, exported_series
from expandcontract.metrics.reasons import KINDS
from tests.backfill import helpers
from tests.backfill.helpers import make_table, start_backfill, touched, wait_for
from tests.metrics.scrape import fetch, names, parse, value
from tests.phases.conftest import ProjectFactory

pytestmark = pytest.mark.integration

TOKEN = "metrics-token-for-tests-0123456789"
SNAPSHOT = Path(__file__).parents[1] / "gates" / "fixtures" / "argo-canary-scaledown.yaml"
ROLLOUT = '\n[tool.expandcontract.rollout]\nkind = "Rollout"\nname = "web"\nnamespace = "shop"\n'


@pytest.fixture(autouse=True)
def _current_test(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    helpers.CURRENT_TEST.append(request.node)  # start_backfill cancels its thread at teardown
    yield
    helpers.CURRENT_TEST.remove(request.node)


def _serve(root: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "expandcontract", "--database-url", url, "serve", "--port", "0"]
    args += ["--snapshot", str(SNAPSHOT)]
    env = {**os.environ, "EXPANDCONTRACT_SERVE_TOKEN": TOKEN}
    proc = subprocess.Popen(args, cwd=root, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "http://127.0.0.1:" in line, line
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
    return proc, line.split(" on ")[1].split()[0]


def test_serve_metrics_show_every_backfill_and_run_from_the_database(
    factory: ProjectFactory, database_url: str
) -> None:
    factory.new("items", phases=("expand",))
    with (factory.root / "pyproject.toml").open("a") as fh:
        fh.write(ROLLOUT)
    r = subprocess.run(
        [sys.executable, "-m", "expandcontract", "--database-url", database_url, "run", "expand"],
        cwd=factory.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    make_table(database_url, "finished", rows=1500)
    make_table(database_url, "waiting", rows=500)
    cfg = helpers.config()
    api.run(database_url, Spec("finished-fill", "finished", {"v": "v + 1"}), cfg, lambda e: None)
    assert touched(database_url, "finished") == {1: 1500}
    _thread, _events, errors = start_backfill(
        database_url, Spec("waiting-fill", "waiting", {"v": "v + 1"}), helpers.config(health_check_sql="SELECT false")
    )
    reason = "SELECT throttled_reason FROM expandcontract.backfills WHERE name = 'waiting-fill'"
    wait_for(lambda: helpers.scalar(database_url, reason), what="the second backfill to wait for its health check")
    proc, base = _serve(factory.root, database_url)
    try:
        assert fetch(f"{base}/metrics")[0] == 401  # the token is required
        assert fetch(f"{base}/metrics", "wrong-token-wrong-token")[0] == 401
        assert fetch(f"{base}/healthz")[0] == 200  # liveness stays open
        code, _ctype, _body = fetch(f"{base}/argo/web?phase=migrate&change=items", TOKEN)
        assert code == 200
        answer = json.loads(_body)["decision"]
        code, ctype, text = fetch(f"{base}/metrics", TOKEN)
        assert code == 200 and ctype.startswith("text/plain"), (code, ctype)
        s = parse(text)
    finally:
        proc.terminate()
        proc.wait(10)
    assert not errors
    assert value(s, "expandcontract_database_up") == 1
    assert value(s, "expandcontract_backfill_rows_done", backfill="finished-fill") == 1500
    assert value(s, "expandcontract_backfill_rows_done", backfill="waiting-fill") == 0
    assert value(s, "expandcontract_backfill_rows_estimated", backfill="finished-fill") == pytest.approx(1500, rel=0.2)
    assert value(s, "expandcontract_backfill_status", backfill="finished-fill", status="done") == 1
    assert value(s, "expandcontract_backfill_status", backfill="finished-fill", status="running") == 0
    assert value(s, "expandcontract_backfill_status", backfill="waiting-fill", status="running") == 1
    throttled = {k: value(s, "expandcontract_backfill_throttled", backfill="waiting-fill", reason=k) for k in KINDS}
    assert throttled == {k: (1.0 if k == "health_check_sql" else 0.0) for k in KINDS}
    assert value(s, "expandcontract_backfill_throttled", backfill="finished-fill", reason="health_check_sql") == 0
    assert value(s, "expandcontract_backfill_workers", backfill="waiting-fill") == 1  # the thread, live
    assert value(s, "expandcontract_backfill_workers", backfill="finished-fill") == 0
    assert value(s, "expandcontract_backfill_ranges", backfill="finished-fill", state="done") >= 1  # type: ignore[operator]
    assert value(s, "expandcontract_backfill_ranges", backfill="finished-fill", state="open") == 0
    assert value(s, "expandcontract_phase_runs", command="run", phase="expand", outcome="succeeded") == 1
    run_labels = {"command": "run", "phase": "expand", "outcome": "succeeded"}
    last = value(s, "expandcontract_phase_last_run_timestamp_seconds", **run_labels)
    assert last is not None and abs(last - time.time()) < 600
    target = "Rollout/shop/web"
    assert value(s, "expandcontract_gate_decisions_total", phase="migrate", target=target, decision=answer) == 1
    assert value(s, "expandcontract_gate_decision", phase="migrate", target=target, decision=answer) == 1
    assert value(s, "expandcontract_gate_evaluation_seconds_count", phase="migrate") == 1
    ours = {n for n in names(s) if n.startswith("expandcontract_")}
    assert ours <= exported_series(), ours - exported_series()
    assert set(STATE) <= ours  # every state metric is really produced


def test_serve_metrics_say_when_the_database_cannot_be_read(factory: ProjectFactory, tmp_path: Path) -> None:
    with (factory.root / "pyproject.toml").open("a") as fh:
        fh.write(ROLLOUT)
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc, base = _serve(factory.root, f"postgresql://nobody@127.0.0.1:{port}/nothing")
    try:
        code, _ctype, text = fetch(f"{base}/metrics", TOKEN)
    finally:
        proc.terminate()
        proc.wait(10)
    assert code == 200
    s = parse(text)
    assert value(s, "expandcontract_database_up") == 0
    assert not any(n.startswith("expandcontract_backfill_") for n in names(s))
