"""The gate over HTTP, for deploy tools that call out instead of running a Job.

- Argo Rollouts `web` metric: `GET /argo/web?phase=contract&change=users-email` (or POST with the same
  fields as JSON). Always 200 with the decision document; the AnalysisTemplate reads `{$.decision}` and
  its success/failure conditions say what allow/deny mean. A non-200 would only count as a metric error.
- Flagger webhooks: `POST /flagger/confirm-rollout` and `/flagger/confirm-promotion` (the incoming
  template's schema must be ready: rollout-start) and `POST /flagger/gate` (any phase, from the webhook's
  metadata). Flagger passes on 2xx: 200 allow, 403 blocked, 503 unknown or deny, with a JSON reason.
- `GET /gate?phase=...&change=...` answers like the Flagger gate; `GET /healthz` is liveness.

rollout-start needs the database (are the stamp's expands applied?). The server takes a hook
`schema_ready(stamp) -> (ready, reason)` from its caller; without one it answers unknown. Loopback by
default; stdlib only, one thread per request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from expandcontract.errors import ExpandContractError
from expandcontract.gates.base import Classify, Reader, SourceError
from expandcontract.gates.evaluate import evaluate
from expandcontract.gates.model import ALLOW, BLOCKED, PHASES, Decision, Reason, Severity, Target
from expandcontract.gates.objects import dig
from expandcontract.gates.pods import template_stamp

SchemaReady = Callable[[str], tuple[bool, str]]
ROLLOUT_START = "rollout-start"
FLAGGER_STATUS = {ALLOW: 200, BLOCKED: 403}  # anything else (unknown, deny) -> 503


@dataclass
class GateApp:
    """What the HTTP layer needs: where to read, how to classify, the default target, the DB hook."""

    reader: Reader
    classifier: Callable[[str], Classify]  # change slug -> classify; raises ExpandContractError if unknown
    default_target: Target | None = None
    options: Mapping[str, Any] | None = None
    schema_ready: SchemaReady | None = None

    # -- requests ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: Mapping[str, str], body: Mapping[str, Any]) -> tuple[int, Any]:
        if path == "/healthz":
            return 200, {"ok": True}
        if path == "/argo/web":
            fields = {**query, **{k: str(v) for k, v in body.items() if isinstance(v, str | int)}}
            return 200, self._decide_or_error(fields).as_dict()
        if path.startswith("/flagger/"):
            if method != "POST":
                return 405, {"error": "Flagger webhooks are POST requests"}
            hook = path.removeprefix("/flagger/")
            meta = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
            fields = {
                "kind": "Canary",
                "name": str(body.get("name", "")),
                "namespace": str(body.get("namespace", "")),
                **meta,
            }
            if hook in ("confirm-rollout", "confirm-promotion"):
                fields["phase"] = ROLLOUT_START
            elif hook != "gate":
                return 404, {"error": f"unknown webhook {hook!r}; use confirm-rollout, confirm-promotion or gate"}
            return self._as_webhook(self._decide_or_error(fields))
        if path == "/gate":
            return self._as_webhook(self._decide_or_error(dict(query)))
        return 404, {"error": f"no endpoint {path}; see /argo/web, /flagger/<hook>, /gate, /healthz"}

    def _as_webhook(self, decision: Decision) -> tuple[int, Any]:
        doc = decision.as_dict()
        doc["reason"] = decision.summary()
        return FLAGGER_STATUS.get(decision.decision, 503), doc

    def _decide_or_error(self, fields: Mapping[str, str]) -> Decision:
        phase, change = fields.get("phase", ""), fields.get("change", "")
        try:
            target = self._target(fields)
            if phase == ROLLOUT_START:
                return self.rollout_start(target, change)
            if phase not in PHASES:
                raise ValueError(f"phase must be one of {', '.join((*PHASES, ROLLOUT_START))}, got {phase!r}")
            if not change:
                raise ValueError("missing change (query parameter or webhook metadata `change`)")
            return evaluate(self.reader, phase, change, target, self.classifier(change), self.options)
        except (ValueError, ExpandContractError) as exc:
            return _bad_request(phase or "?", change or "?", str(exc))

    def _target(self, fields: Mapping[str, str]) -> Target:
        base = self.default_target
        kind = fields.get("kind") or (base.kind if base else "")
        name = fields.get("name") or (base.name if base else "")
        namespace = fields.get("namespace") or (base.namespace if base else "default")
        if not kind or not name:
            raise ValueError("no rollout target: pass kind and name, or configure [tool.expandcontract.rollout]")
        return Target(kind, name, namespace)

    # -- rollout-start -----------------------------------------------------------------------------
    def rollout_start(self, target: Target, change: str) -> Decision:
        """Is the schema ready for the template about to start? Needs the database hook."""
        base = Decision(ROLLOUT_START, change or "-", "schema", target)
        try:
            stamp = self.incoming_stamp(target)
        except SourceError as exc:
            return replace(base, reasons=(Reason(exc.code, exc.message, exc.objects, Severity.UNKNOWN),))
        if stamp is None:
            return replace(
                base,
                reasons=(
                    Reason(
                        "UNSTAMPED_POD",
                        f"the incoming pod template of {target} has no expandcontract.io/schema annotation; stamp it "
                        "with `expandcontract heads --stamp` at build time",
                        (str(target),),
                        Severity.UNKNOWN,
                    ),
                ),
            )
        if self.schema_ready is None:
            return replace(
                base,
                reasons=(
                    Reason(
                        "NO_DATABASE_HOOK",
                        "rollout-start needs the database and this server has no schema_ready hook wired; "
                        "run `expandcontract gate` checks instead or start serve with a database",
                        (str(target),),
                        Severity.UNKNOWN,
                    ),
                ),
            )
        try:
            ready, why = self.schema_ready(stamp)
        except Exception as exc:  # the hook talks to a database: any failure is "could not tell"
            return replace(
                base, reasons=(Reason("SCHEMA_UNKNOWN", f"schema check failed: {exc}", (), Severity.UNKNOWN),)
            )
        if ready:
            return replace(base, observed={"stamp": stamp})
        return replace(
            base,
            observed={"stamp": stamp},
            reasons=(
                Reason(
                    "SCHEMA_NOT_READY",
                    f"{target} is about to start pods built with {stamp}, but {why}; "
                    "run `expandcontract run expand` first",
                    (str(target),),
                    Severity.BLOCK,
                ),
            ),
        )

    def incoming_stamp(self, target: Target) -> str | None:
        obj = self.reader.get(target.kind, target.namespace, target.name)
        if target.kind == "Canary":
            name = str(dig(obj, "spec", "targetRef", "name", default=target.name))
            obj = self.reader.get("Deployment", target.namespace, name)
        if target.kind not in ("Deployment", "Rollout", "Canary"):
            raise SourceError("UNSUPPORTED", f"rollout-start needs a Deployment, Rollout or Canary, not {target.kind}")
        return template_stamp(obj)


def _bad_request(phase: str, change: str, message: str) -> Decision:
    reason = Reason("BAD_REQUEST", message, (), Severity.UNKNOWN)
    return Decision(phase, change, "-", None, (reason,))


def make_server(app: GateApp, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "expandcontract-gate"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            body: Any = {}
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    return self._send(400, {"error": "the request body is not JSON"})
            if not isinstance(body, dict):
                return self._send(400, {"error": "the request body must be a JSON object"})
            status, doc = app.handle(method, url.path, query, body)
            self._send(status, doc)

        def _send(self, status: int, doc: Any) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
