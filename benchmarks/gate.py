"""Gate speed: snapshots, the live source, `--wait`, and `serve` under 200 concurrent requests.

    python benchmarks/gate.py [--pods 2000] [--runs 5] [--skip-live] [--skip-serve]

1. Snapshot, whole process: `expandcontract gate contract --snapshot FILE` of one Deployment with `--pods`
   pods mid rollout (a subprocess, interpreter start-up and imports included), YAML and JSON, median of
   `--runs`; beside it the parse alone with the loaders: pure-Python SafeLoader (the baseline, what the
   gate used before), libyaml's CSafeLoader and json, as ratios. Goal (issue 14): < 1 s whole process.
2. Live: a decision through the live source against kmock (the official client over loopback HTTP, lists
   paginated, raw JSON reads) next to the same pod LIST decoded into the client's typed models.
3. `--wait`: the delay from the rollout finishing (one API change) to the gate answering allow, with the
   WATCH (what --wait does on a live cluster) and with polling every 250 ms (the fallback).
4. `serve`: 200 requests at once on loopback (each its own connection, released together), every answer
   timed; waitress as shipped, beside the standard library's ThreadingHTTPServer (the baseline, backlog 5)
   serving the same application. Goal (issue 10.8): every request answered within 1 s.
"""

from __future__ import annotations

import argparse
import copy
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from expandcontract.gates.evaluate import Selection, evaluate_all
from expandcontract.gates.model import Target
from expandcontract.gates.wait import wait_for
from tests.gates.conftest import FINAL, NEW, fake_classify, find, find_all, load, write_project
from tests.gates.kmock_thread import KmockThread, resource_of

TARGET = Target("Deployment", "web", "shop")
TOKEN = "benchmark-token-0123456789abcdef"


def namespace(pods: int, *, finished: bool) -> list[dict[str, Any]]:
    """A Deployment with `pods` replicas: mid rollout NEW -> FINAL (half each), or finished."""
    base = load("deployment-mid.yaml", shift=True)  # old RS = NEW, new RS = FINAL
    dep = find(base, "Deployment")
    old_rs, new_rs = find(base, "ReplicaSet", "web-5d8c7f9b4"), find(base, "ReplicaSet", "web-7b9f6c8d5")
    template = find_all(base, "Pod", "web-7b9f6c8d5")[0]
    dep["spec"]["replicas"] = pods
    status = dep["status"]
    objs: list[dict[str, Any]] = [dep, old_rs, new_rs]
    n_old = 0 if finished else pods // 2
    for i in range(pods):
        pod = copy.deepcopy(template)
        rs = old_rs if i < n_old else new_rs
        pod["metadata"]["name"] = f"{rs['metadata']['name']}-{i:05d}"
        pod["metadata"]["uid"] = f"pod-{i:05d}"
        pod["metadata"]["ownerReferences"][0].update(name=rs["metadata"]["name"], uid=rs["metadata"]["uid"])
        pod["metadata"]["labels"]["pod-template-hash"] = rs["metadata"]["labels"]["pod-template-hash"]
        pod["metadata"]["annotations"]["expandcontract.io/schema"] = NEW if i < n_old else FINAL
        objs.append(pod)
    old_rs["spec"]["replicas"] = n_old
    old_rs["status"] = {"replicas": n_old, "readyReplicas": n_old, "availableReplicas": n_old} if n_old else {}
    new_rs["spec"]["replicas"] = pods - n_old
    new_rs["status"] = {"replicas": pods - n_old, "readyReplicas": pods - n_old, "availableReplicas": pods - n_old}
    status.update(replicas=pods, updatedReplicas=pods - n_old, readyReplicas=pods, availableReplicas=pods)
    status["conditions"][1]["reason"] = "NewReplicaSetAvailable" if finished else "ReplicaSetUpdated"
    return objs


def median_ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.0f} ms"


# -- 1. snapshots ---------------------------------------------------------------------------------


def bench_snapshot(pods: int, runs: int, work: Path) -> None:
    write_project(work)
    (work / "pyproject.toml").write_text(
        '[tool.expandcontract]\n[tool.expandcontract.rollout]\nkind = "Deployment"\nname = "web"\nnamespace = "shop"\n'
    )
    doc = {"apiVersion": "v1", "kind": "List", "items": namespace(pods, finished=False)}
    files = {"yaml": work / "state.yaml", "json": work / "state.json"}
    files["yaml"].write_text(yaml.safe_dump(doc))
    files["json"].write_text(json.dumps(doc))
    sizes = {k: f"{p.stat().st_size / 1e6:.1f} MB" for k, p in files.items()}
    print(f"snapshot of {pods} pods: YAML {sizes['yaml']}, JSON {sizes['json']}")
    text = files["yaml"].read_text()
    parse = {}
    for name, fn in (
        ("SafeLoader (pure Python)", lambda: yaml.load(text, Loader=yaml.SafeLoader)),
        ("CSafeLoader (libyaml)", lambda: yaml.load(text, Loader=yaml.CSafeLoader)),
        ("json", lambda: json.loads(files["json"].read_text())),
    ):
        times = []
        for _ in range(max(1, runs // 2) if "pure" in name else runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        parse[name] = statistics.median(times)
    base = parse["SafeLoader (pure Python)"]
    print("  parse alone: " + ", ".join(f"{k} {v * 1000:.0f} ms ({base / v:.0f}x)" for k, v in parse.items()))
    for fmt, path in files.items():
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "expandcontract",
                    "gate",
                    "contract",
                    "--change",
                    "users-email",
                    "--snapshot",
                    str(path),
                ],
                cwd=work,
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - t)
            assert proc.returncode == 3, proc.stdout + proc.stderr
        spread = f"max {max(times) * 1000:.0f} ms over {runs} runs"
        print(f"  whole process, {fmt}: median {median_ms(times)}, {spread} (goal < 1000 ms)")


# -- 2. and 3. live ------------------------------------------------------------------------------


def seed(km: KmockThread, objs: list[dict[str, Any]], *, replace: bool = False) -> None:
    def put() -> None:
        if replace:
            for key in [k for k in km.handler.objects if k[0] == resource_of("Pod")]:
                del km.handler.objects[key]
        for obj in objs:
            meta = obj["metadata"]
            km.handler.objects[resource_of(obj["kind"]), meta["namespace"], meta["name"]] = obj

    km.call(put)


def bench_live(pods: int, runs: int) -> None:
    from kubernetes import client

    from expandcontract.gates.watch import Watcher

    with KmockThread() as km:
        seed(km, namespace(pods, finished=False))
        src = km.client(timeout=(3.0, 30.0))

        def ask() -> Any:
            return evaluate_all(src, "contract", "users-email", Selection((TARGET,)), fake_classify)

        first = time.perf_counter()
        assert ask().decision == "blocked"
        first = time.perf_counter() - first
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            ask()
            times.append(time.perf_counter() - t)
        core = client.CoreV1Api(src.api)
        typed, rawl = [], []
        for _ in range(max(3, runs // 2)):
            t = time.perf_counter()
            core.list_namespaced_pod("shop", label_selector="app.kubernetes.io/name=web", limit=500)
            typed.append(time.perf_counter() - t)
            t = time.perf_counter()
            src.list("Pod", "shop", {"matchLabels": {"app.kubernetes.io/name": "web"}})
            rawl.append(time.perf_counter() - t)
        print(
            f"live decision over {pods} pods (kmock, pages of {src.page_size}): first {first * 1000:.0f} ms, "
            f"median {median_ms(times)}, max {max(times) * 1000:.0f} ms over {runs} runs (goal < 1000 ms)"
        )
        print(
            f"  pod LIST alone: raw JSON {median_ms(rawl)} vs typed models {median_ms(typed)} "
            f"({statistics.median(typed) / statistics.median(rawl):.1f}x slower typed)"
        )

        for mode in ("watch", "poll 250 ms"):
            delays = []
            for i in range(3):
                seed(km, namespace(pods, finished=False), replace=True)
                result: dict[str, Any] = {}
                asked = threading.Event()
                changed = Watcher(src).changed if mode == "watch" else None
                thread = threading.Thread(target=_waiter, args=(ask, asked, changed, result))
                thread.start()
                asked.wait(30)
                time.sleep(0.3 + 0.1 * i)  # let the waiter settle at different points of its cycle
                done = namespace(pods, finished=True)
                dep = next(o for o in done if o["kind"] == "Deployment")
                seed(km, [o for o in done if o["kind"] != "Deployment"], replace=True)
                dep_status = dict(dep["status"], observedGeneration=dep["status"]["observedGeneration"] + 1)
                changed_at = time.perf_counter()
                client.AppsV1Api(src.api).patch_namespaced_deployment("web", "shop", {"status": dep_status})
                thread.join(60)
                assert result["d"].decision == "allow", result["d"].summary()
                delays.append(result["at"] - changed_at)
            print(
                f"--wait ({mode}): rollout finished -> allow after median {median_ms(delays)}, "
                f"max {max(delays) * 1000:.0f} ms over {len(delays)} runs"
            )


def _waiter(ask: Any, asked: threading.Event, changed: Any, result: dict[str, Any]) -> None:
    def counted() -> Any:
        decision = ask()
        asked.set()
        return decision

    result["d"] = wait_for(counted, 60, interval=0.25, min_gap=0.05, changed=changed)
    result["at"] = time.perf_counter()


# -- 4. serve --------------------------------------------------------------------------------------


def _one(port: int, path: str, start: threading.Event, out: list[float], errors: list[str]) -> None:
    start.wait()
    t = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        if data.startswith(b"HTTP/1."):
            out.append(time.perf_counter() - t)
        else:
            errors.append("no answer")
    except OSError as exc:
        errors.append(type(exc).__name__)


def _storm(port: int, n: int) -> tuple[list[float], list[str]]:
    start, out, errors = threading.Event(), [], []  # type: ignore[var-annotated]
    path = "/argo/web?phase=migrate&change=users-email"
    threads = [threading.Thread(target=_one, args=(port, path, start, out, errors)) for _ in range(n)]
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join(60)
    return out, errors


def bench_serve(n: int, work: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlparse

    from expandcontract.gates.server import GateApp
    from expandcontract.gates.sources import SnapshotSource
    from expandcontract.gates.wsgi import make_server, run_in_thread

    snap = work / "serve.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": load("deployment-mid.yaml")}))
    app = GateApp(SnapshotSource(snap), Selection((TARGET,)), lambda change: fake_classify, TOKEN)
    server = make_server(app, "127.0.0.1", 0)
    stop = run_in_thread(server)
    try:
        _storm(server.effective_port, 10)  # warm up
        ours, errors = _storm(server.effective_port, n)
    finally:
        stop()

    class Handler(BaseHTTPRequestHandler):  # the stdlib baseline serving the same app
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, doc = app.handle(
                "GET", url.path, url.query, {"authorization": self.headers.get("Authorization", "")}, b""
            )
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    stdlib = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stdlib.daemon_threads = True
    threading.Thread(target=stdlib.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        _storm(stdlib.server_address[1], 10)
        theirs, their_errors = _storm(stdlib.server_address[1], n)
    finally:
        stdlib.shutdown()
        stdlib.server_close()

    def line(name: str, times: list[float], errs: list[str]) -> str:
        q = sorted(times)
        p99 = q[min(len(q) - 1, int(len(q) * 0.99))] if q else float("nan")
        late = sum(1 for t in times if t > 1.0)
        return (
            f"  {name}: {len(times)} answered, {len(errs)} failed, p50 {median_ms(times)}, p99 {p99 * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms, {late} over 1 s"
        )

    print(f"serve: {n} concurrent requests on loopback (GET /argo/web, a snapshot-backed decision)")
    print(line("waitress (shipped)", ours, errors))
    print(line("stdlib ThreadingHTTPServer (baseline)", theirs, their_errors))
    if ours and theirs:
        print(f"  max latency ratio baseline/shipped: {max(theirs) / max(ours):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ec-gate-bench-") as tmp:
        bench_snapshot(args.pods, args.runs, Path(tmp))
        if not args.skip_live:
            bench_live(args.pods, args.runs)
        if not args.skip_serve:
            bench_serve(args.concurrent, Path(tmp))


if __name__ == "__main__":
    main()
