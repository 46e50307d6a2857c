"""The gate over HTTP, for deploy tools that call out instead of running a Job (`expandcontract serve`).

- Argo Rollouts `web` metric: `GET /argo/web?phase=contract&change=users-email` (or POST with the same
  fields as JSON). Always 200 with the decision document; the AnalysisTemplate reads `{$.decision}`.
- Flagger webhooks: `POST /flagger/confirm-rollout` and `/flagger/confirm-promotion` (rollout-start:
  rollout_start.py) and `POST /flagger/gate` (a phase named in the webhook's metadata). Flagger passes on
  200-202: 200 allow, 403 blocked, 503 unknown or deny, with a JSON reason.
- `GET /gate?phase=...&change=...` answers like the Flagger gate; `GET /healthz` is liveness.
- `GET /metrics`: Prometheus text (expandcontract/metrics), when the server was given a scrape function;
  it needs the bearer token like the gate endpoints (Prometheus sends it: `authorization.credentials_file`).

As a service: every endpoint but /healthz needs `Authorization: Bearer TOKEN` (Flagger cannot send
headers, so its webhooks may carry `token` in their metadata instead); only the configured targets are
ever read (a request may narrow the answer to one of them, never name another); bodies are capped;
malformed input is a 400 with our own one-line message and exception text is never sent back.
Identical questions asked at the same time share one evaluation (single flight), so 200 Argo analyses
polling at once cost one read of the cluster. `GateApp.handle` is the whole application, a function of
the request; wsgi.py serves it.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from expandcontract.errors import ExpandContractError
from expandcontract.gates.base import Classify, Reader
from expandcontract.gates.evaluate import Selection, evaluate_all, resolve
from expandcontract.gates.model import ALLOW, BLOCKED, PHASES, GateDecision, Target
from expandcontract.gates.rollout_start import ROLLOUT_START, SchemaReady, rollout_start

FLAGGER_STATUS = {ALLOW: 200, BLOCKED: 403}  # anything else (unknown, deny) -> 503
MAX_DEPTH = 32  # JSON nesting a webhook body may have
log = logging.getLogger("expandcontract.serve")

__all__ = ["ROLLOUT_START", "BadRequest", "GateApp", "Raw", "SchemaReady"]


@dataclass(frozen=True)
class Raw:
    """A response body that is not JSON (the Prometheus text of /metrics)."""

    data: bytes
    content_type: str


class BadRequest(Exception):
    """Malformed or unauthorised input: (status, message), the message ours, never an exception's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def parse_body(raw: bytes, limit: int) -> dict[str, Any]:
    if len(raw) > limit:
        raise BadRequest(413, f"the request body is larger than {limit} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest(400, f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise BadRequest(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "the request body must be a JSON object")
    if _depth(body, MAX_DEPTH) > MAX_DEPTH:
        raise BadRequest(400, f"the request body nests deeper than {MAX_DEPTH} levels")
    return body


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadRequest(400, f"{what} must be a string")
    return str(value)


class _SingleFlight:
    """Concurrent calls with the same key wait for the first one's result instead of repeating it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[Any, tuple[threading.Event, list[Any]]] = {}

    def do(self, key: Any, fn: Callable[[], Any]) -> Any:
        with self.lock:
            running = self.calls.get(key)
            if running is None:
                running = (threading.Event(), [])
                self.calls[key] = running
                leader = True
            else:
                leader = False
        done, box = running
        if not leader:
            done.wait()
            if box and box[0] == "ok":
                return box[1]
            raise RuntimeError("the shared evaluation failed")
        try:
            result = fn()
            box[:] = ["ok", result]
            return result
        except BaseException:
            box[:] = ["error"]
            raise
        finally:
            with self.lock:
                self.calls.pop(key, None)
            done.set()


@dataclass
class GateApp:
    """What the HTTP layer needs: where to read, what to read (the configured targets), how to classify."""

    reader: Reader
    selection: Selection
    classifier: Callable[[str], Classify]  # change slug -> classify; raises ExpandContractError if unknown
    token: str
    changes: tuple[str, ...] = ()  # every change of the project (rollout-start checks each)
    options: Mapping[str, Any] | None = None
    schema_ready: SchemaReady | None = None
    max_body: int = 65536
    flight: _SingleFlight = field(default_factory=_SingleFlight)
    metrics: Callable[[], tuple[bytes, str]] | None = None  # one scrape: (body, content type)
    on_decision: Callable[[GateDecision, float], None] | None = None  # every answer, with its evaluation time

    # -- the application -----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, Any]:
        """(status, JSON document) for one request. Never raises."""
        try:
            return self._route(method, path, parse_qs(query, max_num_fields=50), headers, raw)
        except BadRequest as exc:
            return exc.status, {"error": exc.message}
        except Exception:  # a bug or an unexpected failure: logged here, never sent back
            log.exception("expandcontract serve: %s %s failed", method, path)
            return 500, {"error": "internal error; the server log has the details"}

    def _route(
        self, method: str, path: str, qs: Mapping[str, list[str]], headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, Any]:
        if path == "/healthz":
            return 200, {"ok": True}
        if method not in ("GET", "POST"):
            raise BadRequest(405, "use GET or POST")
        body = parse_body(raw, self.max_body)
        query = {k: v[-1] for k, v in qs.items()}
        meta = body.get("metadata") if path.startswith("/flagger/") else None
        self._authorise(headers, meta.get("token") if isinstance(meta, dict) else None)
        if path == "/metrics" and self.metrics is not None:
            if method != "GET":
                raise BadRequest(405, "scrape /metrics with GET")
            return 200, Raw(*self.metrics())
        known = ("/argo/web", "/gate", "/flagger/confirm-rollout", "/flagger/confirm-promotion", "/flagger/gate")
        if path not in known:
            raise BadRequest(404, f"no endpoint {path[:80]}; see /argo/web, /flagger/<hook>, /gate, /metrics, /healthz")
        if meta is not None and not isinstance(meta, dict):
            raise BadRequest(400, "the webhook metadata must be a JSON object of strings")
        if path == "/argo/web":
            fields = {**query, **{k: _text(v, k) for k, v in body.items() if k in ("phase", "change", "target")}}
            return 200, self._decide(fields).as_dict()
        if path == "/gate":
            return self._as_webhook(self._decide(query))
        if method != "POST":
            raise BadRequest(405, "Flagger webhooks are POST requests")
        fields = {k: _text(v, f"metadata.{k}") for k, v in (meta or {}).items() if k != "token"}
        canary = Target("Canary", _text(body.get("name"), "name"), _text(body.get("namespace"), "namespace"))
        if path == "/flagger/gate":
            return self._as_webhook(self._decide(fields))
        return self._as_webhook(self._rollout_start(canary))

    def _authorise(self, headers: Mapping[str, str], meta_token: Any) -> None:
        given = ""
        auth = headers.get("authorization") or ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif isinstance(meta_token, str):
            given = meta_token
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise BadRequest(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")

    # -- decisions ---------------------------------------------------------------------------------
    def _targets(self) -> tuple[Target, ...]:
        targets, _ = resolve(self.reader, self.selection)
        return targets

    def _narrow(self, text: str) -> Selection:
        """The configured selection, or one of its targets when the caller names it (never another)."""
        if not text:
            return self.selection
        try:
            wanted = Target.parse(text, self.selection.namespace)
        except ValueError as exc:
            raise BadRequest(400, str(exc)) from None
        if wanted not in self._targets():
            raise BadRequest(400, f"{wanted} is not one of the targets this server is configured for")
        return Selection((wanted,))

    def _decide(self, fields: Mapping[str, str]) -> GateDecision:
        phase, change = fields.get("phase", ""), fields.get("change", "")
        if phase not in PHASES:
            raise BadRequest(400, f"phase must be one of {', '.join(PHASES)}, got {phase[:40]!r}")
        if not change:
            raise BadRequest(400, "missing change (query parameter or webhook metadata `change`)")
        try:
            classify = self.classifier(change)
        except ExpandContractError as exc:
            raise BadRequest(400, str(exc).splitlines()[0][:300]) from None
        selection = self._narrow(fields.get("target", ""))
        key = ("decide", phase, change, selection)
        t0 = time.monotonic()
        decision: GateDecision = self.flight.do(
            key, lambda: evaluate_all(self.reader, phase, change, selection, classify, self.options)
        )
        self._observed(decision, t0)
        return decision

    def _observed(self, decision: GateDecision, t0: float) -> None:
        if self.on_decision is not None:
            try:
                self.on_decision(decision, time.monotonic() - t0)
            except Exception:  # metrics never change an answer
                log.exception("expandcontract serve: recording a gate decision failed")

    def _rollout_start(self, canary: Target) -> GateDecision:
        targets = self._targets()
        if canary not in targets:
            raise BadRequest(400, f"{canary} is not one of the targets this server is configured for")
        classifiers = {slug: self.classifier(slug) for slug in self.changes}

        def ask() -> GateDecision:
            part = rollout_start(self.reader, canary, targets, classifiers, self.schema_ready, self.options)
            return GateDecision(ROLLOUT_START, "-", (part,))

        t0 = time.monotonic()
        decision: GateDecision = self.flight.do(("rollout-start", canary), ask)
        self._observed(decision, t0)
        return decision

    def _as_webhook(self, decision: GateDecision) -> tuple[int, Any]:
        doc = decision.as_dict()
        doc["reason"] = decision.summary()
        return FLAGGER_STATUS.get(decision.decision, 503), doc
