"""Our reading of a Deployment's rollout status against the real `kubectl rollout status --watch=false`.

A tiny loopback API server (stdlib) serves discovery and the Deployment (GET, LIST with `kind` and the
name field selector, an empty WATCH) so kubectl v1.32 runs unmodified against generated statuses.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from expandcontract.gates.deployment import COMPLETE, FAILED, kubectl_status

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

DISCOVERY: dict[str, Any] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": "apps",
                "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
            }
        ],
    },
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
    "/apis/apps/v1": {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "apps/v1",
        "resources": [
            {
                "name": "deployments",
                "singularName": "deployment",
                "namespaced": True,
                "kind": "Deployment",
                "verbs": ["get", "list", "watch"],
                "shortNames": ["deploy"],
            }
        ],
    },
}


class Api(BaseHTTPRequestHandler):
    deployments: dict[str, dict[str, Any]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path in DISCOVERY:
            return self.send(200, DISCOVERY[url.path])
        prefix = "/apis/apps/v1/namespaces/shop/deployments"
        if not url.path.startswith(prefix):
            return self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})
        name = url.path[len(prefix) + 1 :]
        if name:
            dep = self.deployments.get(name)
            return self.send(200, dep) if dep else self.send(404, {"kind": "Status", "code": 404})
        if query.get("watch") == ["true"]:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        wanted = (query.get("fieldSelector") or [""])[0].removeprefix("metadata.name=")
        items = [d for n, d in self.deployments.items() if not wanted or n == wanted]
        return self.send(
            200,
            {"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "100"}, "items": items},
        )


def generated(n: int, seed: int = 6) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    reasons = ["NewReplicaSetAvailable", "ReplicaSetUpdated", "ProgressDeadlineExceeded", None]
    for i in range(n):
        gen = rnd.randint(1, 3)
        spec: dict[str, Any] = {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        }
        if rnd.random() < 0.9:
            spec["replicas"] = rnd.randint(0, 4)
        status: dict[str, Any] = {}
        if rnd.random() < 0.9:
            status["observedGeneration"] = rnd.randint(max(0, gen - 1), gen)
        for key in ("replicas", "updatedReplicas", "availableReplicas", "readyReplicas"):
            value = rnd.randint(0, 5)
            if value:
                status[key] = value  # kubectl omits zero counts
        reason = rnd.choice(reasons)
        if reason:
            status["conditions"] = [{"type": "Progressing", "status": "True", "reason": reason, "message": "m"}]
        yield {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": f"web-{i}",
                "namespace": "shop",
                "generation": gen,
                "uid": f"u{i}",
                "resourceVersion": str(100 + i),
            },
            "spec": spec,
            "status": status,
        }


def test_completion_check_agrees_with_kubectl(tmp_path: Path) -> None:
    cases = list(generated(36))
    Api.deployments = {c["metadata"]["name"]: c for c in cases}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "t",
                "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "t", "user": {}}],
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
            }
        )
    )

    def kubectl(name: str) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        return subprocess.run(
            [
                KUBECTL,
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "cache"),
                "rollout",
                "status",
                f"deployment/{name}",
                "-n",
                "shop",
                "--watch=false",
                "--request-timeout=5s",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    try:
        kubectl(cases[0]["metadata"]["name"])  # warm the discovery cache once
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(kubectl, [c["metadata"]["name"] for c in cases]))
    finally:
        server.shutdown()
    states = set()
    for case, result in zip(cases, results, strict=True):
        state, text = kubectl_status(case)
        states.add(state)
        if state == FAILED:
            assert result.returncode == 1, (case, result)
            assert text in result.stderr, (case, result.stderr)
        else:
            assert result.returncode == 0, (case, result.stderr)
            assert result.stdout.strip() == text, (case["status"], case["spec"].get("replicas"), result.stdout)
            assert (state == COMPLETE) == ("successfully rolled out" in result.stdout)
    assert len(states) == 4  # every outcome was exercised
