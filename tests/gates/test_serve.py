"""`serve` over real HTTP with requests shaped like Argo Rollouts' web metric and Flagger's webhooks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from expandcontract.errors import ProjectError
from expandcontract.gates.model import Target
from expandcontract.gates.server import GateApp, SchemaReady, make_server
from expandcontract.gates.sources import SnapshotSource

from .conftest import FIXTURES, NEW, fake_classify, fixture_text


def classifier(change: str) -> Any:
    if change != "users-email":
        raise ProjectError(f"unknown change {change!r}")
    return fake_classify


Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    servers = []

    def start(fixture: str, kind: str = "Canary", *, text: str | None = None, hook: SchemaReady | None = None) -> str:
        path = tmp_path / fixture
        path.write_text(text if text is not None else fixture_text(fixture))
        app = GateApp(SnapshotSource(path), classifier, Target(kind, "web", "shop"), schema_ready=hook)
        server = make_server(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def request(url: str, body: Any = None, method: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", "Go-http-client/1.1")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def flagger_payload(phase: str | None = None, change: str = "users-email") -> dict[str, Any]:
    """What Flagger POSTs to a webhook (CanaryWebhookPayload)."""
    meta = {"change": change}
    if phase:
        meta["phase"] = phase
    return {"name": "web", "namespace": "shop", "phase": "Progressing", "checksum": "7f9c6d5b8", "metadata": meta}


def test_argo_web_metric_is_always_200_with_the_decision(serve: Serve) -> None:
    base = serve("argo-canary-scaledown.yaml", "Rollout")
    status, doc = request(f"{base}/argo/web?phase=migrate&change=users-email")
    assert status == 200
    assert doc["decision"] == "blocked"  # jsonPath {$.decision}
    assert doc["reasons"][0]["code"] == "HOT_ROLLBACK_TARGET"
    status, doc = request(f"{base}/argo/web?phase=migrate&change=nope")
    assert status == 200 and doc["decision"] == "unknown"
    assert doc["reasons"][0]["code"] == "BAD_REQUEST"
    status, doc = request(f"{base}/argo/web", {"phase": "undo-expand", "change": "users-email"})
    assert status == 200 and doc["decision"] == "blocked"


def test_argo_web_metric_reports_deny(serve: Serve) -> None:
    text = fixture_text("argo-canary-paused.yaml").replace("phase: Paused", "phase: Degraded")
    base = serve("degraded.yaml", "Rollout", text=text)
    status, doc = request(f"{base}/argo/web?phase=contract&change=users-email&kind=Rollout&name=web&namespace=shop")
    assert status == 200
    assert doc["decision"] == "deny"


@pytest.mark.parametrize(
    ("fixture", "shift", "status", "decision"),
    [
        ("flagger-succeeded.yaml", False, 200, "allow"),
        ("flagger-progressing.yaml", False, 403, "blocked"),
    ],
)
def test_flagger_gate_webhook(serve: Serve, fixture: str, shift: bool, status: int, decision: str) -> None:
    base = serve(fixture)
    code, doc = request(f"{base}/flagger/gate", flagger_payload("migrate"))
    assert code == status
    assert doc["decision"] == decision
    assert doc["reason"].startswith(f"migrate(users-email) {decision}")


def test_flagger_gate_unknown_and_deny_are_503(serve: Serve) -> None:
    failed = fixture_text("flagger-progressing.yaml").replace("phase: Progressing", "phase: Failed")
    base = serve("failed.yaml", text=failed)
    code, doc = request(f"{base}/flagger/gate", flagger_payload("contract"))
    assert (code, doc["decision"]) == (503, "deny")
    code, doc = request(f"{base}/flagger/gate", {**flagger_payload("contract"), "name": "api"})
    assert (code, doc["decision"]) == (503, "unknown")
    code, doc = request(f"{base}/flagger/gate", flagger_payload(None))
    assert (code, doc["reasons"][0]["code"]) == (503, "BAD_REQUEST")


def test_confirm_rollout_without_a_database_hook_is_unknown(serve: Serve) -> None:
    base = serve("flagger-progressing.yaml")
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 503
    assert doc["reasons"][0]["code"] == "NO_DATABASE_HOOK"


def test_confirm_rollout_and_promotion_ask_the_hook_with_the_incoming_stamp(serve: Serve) -> None:
    seen: list[str] = []

    def ready(stamp: str) -> tuple[bool, str]:
        seen.append(stamp)
        return len(seen) > 1, "expand 1b2c3d4e5f60 is not applied"

    base = serve("flagger-progressing.yaml", hook=ready)
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 403
    assert doc["reasons"][0]["code"] == "SCHEMA_NOT_READY"
    assert "expand 1b2c3d4e5f60 is not applied" in doc["reason"]
    code, doc = request(f"{base}/flagger/confirm-promotion", flagger_payload())
    assert code == 200 and doc["decision"] == "allow"
    assert seen == [NEW, NEW]  # the canary Deployment's template stamp


def test_hook_failure_is_unknown(serve: Serve) -> None:
    def broken(stamp: str) -> tuple[bool, str]:
        raise ConnectionError("database at 127.0.0.1:5432 refused")

    base = serve("flagger-progressing.yaml", hook=broken)
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 503 and doc["reasons"][0]["code"] == "SCHEMA_UNKNOWN"


def test_generic_gate_healthz_and_errors(serve: Serve) -> None:
    base = serve("deployment-complete.yaml", "Deployment")
    assert request(f"{base}/gate?phase=migrate&change=users-email")[0] == 200
    assert request(f"{base}/gate?phase=contract&change=users-email")[0] == 403
    assert request(f"{base}/healthz") == (200, {"ok": True})
    assert request(f"{base}/nope")[0] == 404
    assert request(f"{base}/flagger/gate")[0] == 405
    assert request(f"{base}/flagger/rollback", flagger_payload())[0] == 404
    req = urllib.request.Request(f"{base}/flagger/gate", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400


def test_serve_command_listens_on_loopback(project_root: Path) -> None:
    cfg = project_root / "pyproject.toml"
    cfg.write_text('[tool.expandcontract.rollout]\nkind = "Rollout"\nname = "web"\nnamespace = "shop"\n')
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "expandcontract",
            "serve",
            "--port",
            "0",
            "--config",
            str(cfg),
            "--snapshot",
            str(FIXTURES / "argo-canary-scaledown.yaml"),
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=project_root,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "http://127.0.0.1:" in line, line
        url = line.split()[4]
        status, doc = request(f"{url}/argo/web?phase=migrate&change=users-email")
        assert (status, doc["decision"]) == (200, "blocked")
    finally:
        proc.terminate()
        proc.wait(10)
