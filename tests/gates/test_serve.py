"""`serve` over real HTTP (waitress on loopback) with requests shaped like Argo Rollouts' web metric and
Flagger's webhooks, and like a hostile client: no token, a caller-chosen target, malformed bodies and
headers, deep nesting, oversized bodies."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from expandcontract.errors import ProjectError
from expandcontract.gates.evaluate import Selection
from expandcontract.gates.model import Target
from expandcontract.gates.server import GateApp, SchemaReady
from expandcontract.gates.sources import SnapshotSource
from expandcontract.gates.wsgi import make_server, run_in_thread

from .conftest import FINAL, FIXTURES, NEW, fake_classify, fixture_text

TOKEN = "s3cret-token-for-tests-0123456789"


def classifier(change: str) -> Any:
    if change != "users-email":
        raise ProjectError(f"unknown change {change!r}; known: users-email")
    return fake_classify


Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    servers = []

    def start(
        fixture: str,
        kind: str = "Canary",
        *,
        text: str | None = None,
        hook: SchemaReady | None = None,
        targets: tuple[Target, ...] | None = None,
    ) -> str:
        path = tmp_path / fixture
        path.write_text(text if text is not None else fixture_text(fixture))
        app = GateApp(
            SnapshotSource(path),
            Selection(targets or (Target(kind, "web", "shop"),)),
            classifier,
            TOKEN,
            changes=("users-email",),
            schema_ready=hook,
        )
        server = make_server(app, "127.0.0.1", 0, threads=8)
        servers.append(run_in_thread(server))
        return f"http://127.0.0.1:{server.effective_port}"

    yield start
    for stop in servers:
        stop()


def request(url: str, body: Any = None, method: str | None = None, token: str | None = TOKEN) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", "Go-http-client/1.1")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def raw(base: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are; return the status and body (the server must answer, not drop us)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data, "the server closed the connection without an answer"
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


def flagger_payload(phase: str | None = None, change: str = "users-email", token: str | None = None) -> dict[str, Any]:
    """What Flagger POSTs to a webhook (CanaryWebhookPayload)."""
    meta: dict[str, Any] = {"change": change}
    if phase:
        meta["phase"] = phase
    if token:
        meta["token"] = token
    return {"name": "web", "namespace": "shop", "phase": "Progressing", "checksum": "7f9c6d5b8", "metadata": meta}


# -- what the deploy tools ask -----------------------------------------------------------------------


def test_argo_web_metric_is_200_with_the_decision(serve: Serve) -> None:
    base = serve("argo-canary-scaledown.yaml", "Rollout")
    status, doc = request(f"{base}/argo/web?phase=migrate&change=users-email")
    assert status == 200
    assert doc["decision"] == "blocked"  # jsonPath {$.decision}
    assert doc["reasons"][0]["code"] == "HOT_ROLLBACK_TARGET"
    status, doc = request(f"{base}/argo/web", {"phase": "undo-expand", "change": "users-email"})
    assert status == 200 and doc["decision"] == "blocked"


def test_argo_web_metric_reports_deny(serve: Serve) -> None:
    text = fixture_text("argo-canary-paused.yaml").replace("phase: Paused", "phase: Degraded")
    base = serve("degraded.yaml", "Rollout", text=text)
    status, doc = request(f"{base}/argo/web?phase=contract&change=users-email&target=Rollout/shop/web")
    assert (status, doc["decision"]) == (200, "deny")


@pytest.mark.parametrize(
    ("fixture", "status", "decision"),
    [("flagger-succeeded.yaml", 200, "allow"), ("flagger-progressing.yaml", 403, "blocked")],
)
def test_flagger_gate_webhook(serve: Serve, fixture: str, status: int, decision: str) -> None:
    base = serve(fixture)
    code, doc = request(f"{base}/flagger/gate", flagger_payload("migrate"))
    assert code == status
    assert doc["decision"] == decision
    assert doc["reason"].startswith(f"migrate(users-email) {decision}")


def test_flagger_can_pass_the_token_in_its_metadata(serve: Serve) -> None:
    base = serve("flagger-succeeded.yaml")
    code, doc = request(f"{base}/flagger/gate", flagger_payload("migrate", token=TOKEN), token=None)
    assert (code, doc["decision"]) == (200, "allow")
    code, _ = request(f"{base}/flagger/gate", flagger_payload("migrate", token="wrong-token-wrong-token"), token=None)
    assert code == 401


def test_flagger_deny_is_503_and_an_unconfigured_canary_is_400(serve: Serve) -> None:
    failed = fixture_text("flagger-progressing.yaml").replace("phase: Progressing", "phase: Failed")
    base = serve("failed.yaml", text=failed)
    code, doc = request(f"{base}/flagger/gate", flagger_payload("contract"))
    assert (code, doc["decision"]) == (503, "deny")
    code, doc = request(f"{base}/flagger/confirm-rollout", {**flagger_payload(), "name": "api"})
    assert code == 400 and "not one of the targets" in doc["error"]
    code, doc = request(f"{base}/flagger/gate", flagger_payload(None))
    assert code == 400 and "phase must be one of" in doc["error"]


def test_confirm_rollout_without_a_database_is_unknown(serve: Serve) -> None:
    base = serve("flagger-progressing.yaml")
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 503
    assert {r["code"] for r in doc["reasons"]} == {"NO_DATABASE_HOOK"}


def test_confirm_rollout_and_promotion_ask_the_database_with_the_incoming_stamp(serve: Serve) -> None:
    seen: list[str] = []

    def ready(stamp: str) -> tuple[bool, str]:
        seen.append(stamp)
        return len(seen) > 1, "revision(s) 1b2c3d4e5f60 (users-email) are not applied"

    base = serve("flagger-progressing.yaml", hook=ready)
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 403
    assert doc["reasons"][0]["code"] == "SCHEMA_NOT_READY"
    assert "1b2c3d4e5f60 (users-email) are not applied" in doc["reason"]
    code, doc = request(f"{base}/flagger/confirm-promotion", flagger_payload())
    assert code == 200 and doc["decision"] == "allow"
    assert seen == [NEW, NEW]  # the canary Deployment's template stamp


def test_a_final_canary_never_starts_while_old_primary_pods_serve(serve: Serve) -> None:
    """Issue 14 item 5: confirm-rollout consults the rollout state as well as the database."""
    text = fixture_text("flagger-progressing.yaml")
    canary_final = text.replace(NEW, FINAL)  # canary built with the contract; the primary is OLD
    base = serve("final-canary.yaml", text=canary_final, hook=lambda stamp: (True, "ready"))
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 403
    assert {r["code"] for r in doc["reasons"]} == {"OLD_PODS_SERVE"}
    assert all("web-primary" in o for r in doc["reasons"] for o in r["objects"])
    base = serve("new-canary.yaml", text=text, hook=lambda stamp: (True, "ready"))  # NEW canary: dual-writes
    assert request(f"{base}/flagger/confirm-rollout", flagger_payload())[0] == 200


def test_database_failure_is_unknown_and_its_text_is_not_sent(serve: Serve) -> None:
    def broken(stamp: str) -> tuple[bool, str]:
        raise ConnectionError("password authentication failed for user app at db.internal:5432")

    base = serve("flagger-progressing.yaml", hook=broken)
    code, doc = request(f"{base}/flagger/confirm-rollout", flagger_payload())
    assert code == 503 and doc["reasons"][0]["code"] == "SCHEMA_UNKNOWN"
    assert "db.internal" not in json.dumps(doc) and "password" not in json.dumps(doc)


# -- as a service ----------------------------------------------------------------------------------


def test_every_endpoint_but_healthz_needs_the_token(serve: Serve) -> None:
    base = serve("deployment-complete.yaml", "Deployment")
    assert request(f"{base}/healthz", token=None) == (200, {"ok": True})
    for path in ("/gate?phase=migrate&change=users-email", "/argo/web?phase=migrate&change=users-email", "/nope"):
        code, doc = request(f"{base}{path}", token=None)
        assert code == 401, path
        assert "bearer token" in doc["error"]
    assert request(f"{base}/gate?phase=migrate&change=users-email", token="x" * 40)[0] == 401
    assert request(f"{base}/gate?phase=migrate&change=users-email")[0] == 200


def test_callers_cannot_choose_what_is_read(serve: Serve) -> None:
    base = serve("deployment-complete.yaml", "Deployment")
    code, doc = request(f"{base}/gate?phase=migrate&change=users-email&target=Deployment/kube-system/coredns")
    assert code == 400 and "not one of the targets" in doc["error"]
    # the old kind/name/namespace parameters no longer pick a target: they are ignored
    code, doc = request(f"{base}/gate?phase=migrate&change=users-email&kind=Deployment&name=other&namespace=x")
    assert code == 200 and doc["target"] == {"kind": "Deployment", "name": "web", "namespace": "shop"}


def test_several_configured_targets_answer_together(serve: Serve, tmp_path: Path) -> None:
    text = fixture_text("deployment-complete.yaml") + "\n---\n" + (FIXTURES / "workloads.yaml").read_text()
    targets = (Target("Deployment", "web", "shop"), Target("StatefulSet", "ledger", "shop"))
    base = serve("both.yaml", text=text, targets=targets)
    code, doc = request(f"{base}/gate?phase=migrate&change=users-email")
    assert code == 403
    assert [t["decision"] for t in doc["targets"]] == ["allow", "blocked"]
    code, doc = request(f"{base}/gate?phase=migrate&change=users-email&target=Deployment/shop/web")
    assert code == 200


@pytest.mark.parametrize(
    ("head", "body"),
    [
        ("POST /flagger/gate HTTP/1.1\nHost: x\nContent-Length: abc\nAuthorization: Bearer " + TOKEN + "\n", b"{}"),
        ("POST /flagger/gate HTTP/1.1\nHost: x\nContent-Length: -1\nAuthorization: Bearer " + TOKEN + "\n", b"{}"),
        ("GARBAGE\n", b""),
    ],
    ids=["length-abc", "length-negative", "request-line"],
)
def test_malformed_http_is_a_400_not_a_dropped_connection(serve: Serve, head: str, body: bytes) -> None:
    base = serve("flagger-succeeded.yaml")
    status, _ = raw(base, head, body)
    assert status == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "web", "namespace": "shop", "metadata": ["phase", "migrate"]}, "metadata must be a JSON object"),
        ({"name": ["web"], "namespace": "shop", "metadata": {"phase": "migrate", "change": "users-email"}}, "name"),
        ({"name": "web", "namespace": "shop", "metadata": {"phase": {"a": 1}, "change": "users-email"}}, "phase"),
        ([1, 2, 3], "must be a JSON object"),
    ],
    ids=["metadata-list", "name-list", "phase-object", "array"],
)
def test_malformed_bodies_are_400(serve: Serve, body: Any, message: str) -> None:
    base = serve("flagger-succeeded.yaml")
    code, doc = request(f"{base}/flagger/gate", body)
    assert code == 400 and message in doc["error"]


def test_deep_nesting_and_big_bodies_are_refused(serve: Serve) -> None:
    base = serve("flagger-succeeded.yaml")
    auth = f"Authorization: Bearer {TOKEN}\n"
    deep = b'{"a":' * 10000 + b"1" + b"}" * 10000  # deeper than Python's recursion limit
    status, body = raw(base, f"POST /flagger/gate HTTP/1.1\nHost: x\n{auth}Content-Length: {len(deep)}\n", deep)
    assert status == 400 and b"nests deeper" in body
    nested = b'{"metadata": {"phase": "migrate", "x": ' + b"[" * 100 + b"]" * 100 + b"}}"
    status, body = raw(base, f"POST /flagger/gate HTTP/1.1\nHost: x\n{auth}Content-Length: {len(nested)}\n", nested)
    assert status == 400 and b"nests deeper" in body
    big = b'{"pad": "' + b"x" * 70000 + b'"}'
    status, _ = raw(base, f"POST /flagger/gate HTTP/1.1\nHost: x\n{auth}Content-Length: {len(big)}\n", big)
    assert status == 413


def test_unknown_change_and_endpoint_are_our_own_messages(serve: Serve) -> None:
    base = serve("deployment-complete.yaml", "Deployment")
    code, doc = request(f"{base}/gate?phase=migrate&change=nope")
    assert code == 400 and doc == {"error": "unknown change 'nope'; known: users-email"}
    assert request(f"{base}/nope")[0] == 404
    assert request(f"{base}/flagger/gate")[0] == 405
    assert request(f"{base}/flagger/rollback", flagger_payload())[0] == 404  # never a rollback webhook


def test_serve_command_needs_a_token_and_listens_on_loopback(project_root: Path) -> None:
    cfg = project_root / "pyproject.toml"
    cfg.write_text('[tool.expandcontract.rollout]\nkind = "Rollout"\nname = "web"\nnamespace = "shop"\n')
    args = [sys.executable, "-m", "expandcontract", "serve", "--port", "0", "--config", str(cfg)]
    args += ["--snapshot", str(FIXTURES / "argo-canary-scaledown.yaml")]
    env = {k: v for k, v in os.environ.items() if k != "EXPANDCONTRACT_SERVE_TOKEN"}
    refused = subprocess.run(args, capture_output=True, text=True, cwd=project_root, env=env, timeout=60)
    assert refused.returncode == 2 and "EXPANDCONTRACT_SERVE_TOKEN" in refused.stderr
    assert "Traceback" not in refused.stderr
    proc = subprocess.Popen(
        args,
        stderr=subprocess.PIPE,
        text=True,
        cwd=project_root,
        env={**env, "EXPANDCONTRACT_SERVE_TOKEN": TOKEN},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "http://127.0.0.1:" in line, line
        url = line.split(" on ")[1].split()[0]
        status, doc = request(f"{url}/argo/web?phase=migrate&change=users-email")
        assert (status, doc["decision"]) == (200, "blocked")
    finally:
        proc.terminate()
        proc.wait(10)
