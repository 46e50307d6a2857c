"""Where the objects come from: the live API (read-only) or a snapshot file.

Live: the official `kubernetes` client with kubeconfig or the in-cluster ServiceAccount, GET and LIST
only, lists paginated (`limit`/`continue`), 429 and 5xx retried with backoff, responses read as raw JSON
(`_preload_content=False`): the typed models are strict (Argo writes `observedGeneration` as a string)
and slow for thousands of pods. Every failure becomes a SourceError, which the gate turns into unknown.

Snapshot: what `kubectl get ... -o yaml` prints, a List or multi-document YAML. An object the file lacks
is a 404, and a kind the file has no object of at all is unknown too: a snapshot without pods must not
look like a namespace without pods.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from expandcontract.config import RolloutConfig
from expandcontract.errors import UsageError
from expandcontract.gates.base import SourceError
from expandcontract.gates.objects import Kind, Obj, ObjectSet, matches
from expandcontract.gates.registry import KINDS

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(f"unsupported kind {name!r}; use one of {', '.join(KINDS)}") from None


def selector_string(selector: Mapping[str, Any] | None) -> str | None:
    """A LabelSelector (or a plain map) as the API's labelSelector query, expressions included."""
    if not selector:
        return None
    is_selector = "matchLabels" in selector or "matchExpressions" in selector
    labels = (selector.get("matchLabels") or {}) if is_selector else selector
    parts = [f"{k}={v}" for k, v in sorted(labels.items())]
    for expr in (selector.get("matchExpressions") or []) if is_selector else []:
        key, op, values = expr.get("key"), expr.get("operator"), sorted(expr.get("values") or [])
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or None


class SnapshotSource:
    """Objects from one or more files; read once."""

    def __init__(self, *paths: Path) -> None:
        self.paths = paths
        self.path = ", ".join(str(p) for p in paths)
        self.objects = ObjectSet()
        for path in paths:
            load_snapshot(path, self.objects)

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        obj = self.objects.get(kind, namespace, name)
        if obj is None:
            what = f"{kind} {namespace}/{name}"
            raise SourceError(
                "NOT_FOUND",
                f"{what} is not in the snapshot {self.path} (counts as a 404); add it: "
                f"`kubectl get {_kind(kind).plural} {name} -n {namespace} -o yaml`",
                (what,),
            )
        return obj

    def list(self, kind: str, namespace: str, selector: Mapping[str, Any] | None = None) -> list[Obj]:
        if kind not in self.objects.by_kind:
            raise SourceError(
                "INCOMPLETE_SNAPSHOT",
                f"the snapshot {self.path} has no {kind} objects at all, so the gate cannot tell which "
                f"exist; include them (`kubectl get {_kind(kind).plural} -n {namespace} -o yaml`), or, when "
                f"there are none, an empty {kind}List (`kubectl get --raw "
                f"/{'apis/' + _kind(kind).api_version if _kind(kind).group else 'api/v1'}/namespaces/{namespace}/"
                f"{_kind(kind).plural}`)",
            )
        return self.objects.list(kind, namespace, selector)


def _parse(text: str, path: Path) -> list[Any]:
    """JSON first (what `kubectl get -o json` and the API print: parsed in C), else YAML through libyaml."""
    import yaml

    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return [json.loads(text)]
        except ValueError:
            pass  # YAML flow style, or broken JSON: let the YAML parser say where
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError as exc:
        raise UsageError(
            f"{path}: not valid YAML or JSON ({str(exc).splitlines()[0]}); write it with `kubectl get ... -o yaml`"
        ) from None


def load_snapshot(path: Path, into: ObjectSet | None = None) -> ObjectSet:
    """Objects of a `kubectl get -o yaml|json` file. A typed List (`PodList`, even empty) declares its
    kind: the snapshot then says there are exactly those objects of that kind, possibly none."""
    objects = into if into is not None else ObjectSet()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read snapshot {path}: {exc.strerror}; pass an existing file") from None
    if b"\0" in raw:
        raise UsageError(f"{path} is a binary file, not a snapshot; write one with `kubectl get ... -o yaml`")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; write it with `kubectl get ... -o yaml`") from None
    for obj in _flatten(_parse(text, path), str(path), declare=objects):
        objects.add(obj)
    return objects


def _flatten(
    docs: Iterable[Any], where: str, list_kind: str | None = None, declare: ObjectSet | None = None
) -> Iterable[Obj]:
    for doc in docs:
        if not isinstance(doc, dict):
            raise UsageError(f"{where}: expected Kubernetes objects, found {type(doc).__name__}")
        kind = doc.get("kind") or (list_kind[:-4] if list_kind and list_kind.endswith("List") else None)
        if "items" in doc and (kind in (None, "List") or str(kind).endswith("List")):
            list_of = str(doc.get("kind") or "List")
            if declare is not None and list_of.endswith("List") and list_of[:-4] in KINDS:
                declare.by_kind.setdefault(list_of[:-4], {})
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise UsageError(f"{where}: `items` of a {list_of} must be a list")
            yield from _flatten(items, where, list_of, declare)
            continue
        if not kind:
            raise UsageError(f"{where}: an object without `kind`; write it with `kubectl get ... -o yaml`")
        if not isinstance(doc.get("metadata", {}), dict):
            raise UsageError(f"{where}: {kind} has a `metadata` that is not a mapping")
        doc = dict(doc, kind=kind)
        doc.setdefault("metadata", {})
        yield doc


class LiveSource:
    """Read-only client for one cluster."""

    def __init__(
        self,
        api_client: Any,
        *,
        timeout: tuple[float, float] = (3.0, 10.0),
        retries: int = 3,
        backoff: float = 0.2,
        page_size: int = 500,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api_client
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.page_size = page_size
        self.sleep = sleep
        self.requests = 0
        # what the last reads saw, for `--wait` to watch: (kind, namespace, label selector, name) ->
        # (list resourceVersion, {uid: object}); see watch.py
        self.seen: dict[tuple[str, str, str | None, str | None], tuple[str | None, dict[str, Obj]]] = {}

    @classmethod
    def from_config(cls, rollout: RolloutConfig, **kwargs: Any) -> LiveSource:
        """kubeconfig from the config, else in-cluster when running in a pod, else the default kubeconfig."""
        from kubernetes import client, config

        cfg = client.Configuration()
        try:
            if rollout.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            else:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=rollout.kubeconfig, context=rollout.context, client_configuration=cfg
                )
        except Exception as exc:  # the loaders raise ConfigException, OSError, TypeError...
            raise SourceError(
                "NO_CLUSTER_CONFIG",
                f"cannot load Kubernetes credentials ({exc}); set kubeconfig/context in "
                "[tool.expandcontract.rollout], KUBECONFIG, or run in a pod with a ServiceAccount",
            ) from None
        cfg.retries = 0  # our own retry loop decides; urllib3 must not retry behind it
        return cls(client.ApiClient(cfg), **kwargs)

    # -- reading ---------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> Obj:
        k = _kind(kind)
        obj = self._call(k, namespace, name, {})
        obj.setdefault("kind", k.name)
        obj.setdefault("apiVersion", k.api_version)
        meta = obj.get("metadata") or {}
        self.seen[(kind, namespace, None, name)] = (None, {str(meta.get("uid") or name): obj})
        return obj

    def list(self, kind: str, namespace: str, selector: Mapping[str, Any] | None = None) -> list[Obj]:
        k = _kind(kind)
        items: list[Obj] = []
        query: dict[str, Any] = {"limit": self.page_size}
        label_selector = selector_string(selector)
        if label_selector:
            query["label_selector"] = label_selector
        restarted = False
        every: dict[str, Obj] = {}
        while True:
            try:
                page = self._call(k, namespace, None, query)
            except SourceError as exc:
                if exc.code == "EXPIRED" and not restarted:  # 410: continue token expired, start over
                    restarted, items = True, []
                    query.pop("_continue", None)
                    continue
                if exc.code == "EXPIRED":
                    raise SourceError(
                        "INCOMPLETE_LIST",
                        f"listing {k.plural} in {namespace} could not be finished (HTTP 410 twice); retry",
                        exc.objects,
                    ) from None
                raise
            for item in page.get("items") or []:
                item.setdefault("kind", k.name)
                item.setdefault("apiVersion", k.api_version)
                meta = item.get("metadata") or {}
                every[str(meta.get("uid") or meta.get("name"))] = item
                if selector is None or matches(selector, dict(meta.get("labels") or {})):
                    items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                self.seen[(kind, namespace, label_selector, None)] = (
                    (page.get("metadata") or {}).get("resourceVersion"),
                    every,
                )
                return items
            query["_continue"] = token

    def open_watch(self, kind: str, namespace: str, query: dict[str, Any], read_timeout: float) -> Any:
        """A WATCH stream (the raw urllib3 response, one JSON event per line); raises ApiException etc."""
        method = self._method(_kind(kind), None)
        return method(namespace, _preload_content=False, _request_timeout=(self.timeout[0], read_timeout), **query)

    # -- HTTP --------------------------------------------------------------------------------------
    def _method(self, k: Kind, name: str | None) -> Callable[..., Any]:
        from kubernetes import client

        if k.custom:
            api = client.CustomObjectsApi(self.api)
            fn = api.get_namespaced_custom_object if name else api.list_namespaced_custom_object

            def custom(namespace: str, **kw: Any) -> Any:
                if name:
                    return fn(k.group, k.version, namespace, k.plural, name, **kw)
                return fn(k.group, k.version, namespace, k.plural, **kw)

            return custom
        apis = {
            "": client.CoreV1Api,
            "apps": client.AppsV1Api,
            "batch": client.BatchV1Api,
            "discovery.k8s.io": client.DiscoveryV1Api,
        }
        typed: Any = apis[k.group](self.api)
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in k.name).lstrip("_")
        method: Callable[..., Any] = getattr(typed, f"read_namespaced_{snake}" if name else f"list_namespaced_{snake}")
        if name:
            return lambda namespace, **kw: method(name, namespace, **kw)
        return method

    def _call(self, k: Kind, namespace: str, name: str | None, query: dict[str, Any]) -> Obj:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        what = f"{k.name} {namespace}/{name}" if name else f"{k.plural}.{k.group or 'core'} in {namespace}"
        host = getattr(self.api.configuration, "host", "?")
        method = self._method(k, name)
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                resp = method(namespace, _preload_content=False, _request_timeout=self.timeout, **query)
                data = resp.data if hasattr(resp, "data") else resp.read()
                obj: Obj = json.loads(data)
                return obj
            except ApiException as exc:
                status = int(exc.status or 0)
                if status in RETRY_STATUSES and attempt < self.retries:
                    self.sleep(self._delay(attempt, exc))
                    continue
                raise _api_error(status, what, host, exc) from None
            except HTTPError as exc:
                timed_out = isinstance(exc, TimeoutError) or "timed out" in str(exc).lower()
                raise SourceError(
                    "TIMEOUT" if timed_out else "UNREACHABLE",
                    f"cannot read {what} from {host}: {type(exc).__name__} ({_short(exc)}); check the "
                    "cluster is reachable and the kubeconfig context",
                    (what,),
                ) from None
            except OSError as exc:
                raise SourceError("UNREACHABLE", f"cannot read {what} from {host}: {_short(exc)}", (what,)) from None
            except json.JSONDecodeError as exc:
                raise SourceError("BAD_RESPONSE", f"{host} answered {what} with non-JSON ({exc})", (what,)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, exc: Any) -> float:
        headers = getattr(exc, "headers", None) or {}
        retry_after = headers.get("Retry-After") if hasattr(headers, "get") else None
        if retry_after:
            try:
                return min(float(retry_after), 2.0)
            except ValueError:
                pass
        return float(self.backoff * (2**attempt) * (0.5 + random.random() / 2))


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _api_error(status: int, what: str, host: str, exc: Any) -> SourceError:
    message = ""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = str(json.loads(exc.body or b"{}").get("message", ""))
    detail = f" ({message[:160]})" if message else ""
    if status in (401, 403):
        return SourceError(
            "FORBIDDEN",
            f"{host} refused to let the gate read {what} (HTTP {status}){detail}; grant get/list/watch with "
            "deploy/rbac.yaml, or check the credentials",
            (what,),
        )
    if status == 404:
        return SourceError(
            "NOT_FOUND",
            f"{what} does not exist (HTTP 404){detail}; check the name and namespace, and that the CRD "
            "(Argo Rollouts / Flagger) is installed",
            (what,),
        )
    if status == 410:
        return SourceError("EXPIRED", f"listing {what} expired (HTTP 410){detail}; retry", (what,))
    if status in RETRY_STATUSES:
        return SourceError(
            "SERVER_ERROR",
            f"{host} kept failing on {what} (HTTP {status} after retries){detail}; retry later",
            (what,),
        )
    return SourceError("HTTP_ERROR", f"reading {what} failed with HTTP {status}{detail}", (what,))
