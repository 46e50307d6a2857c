"""deploy/: every manifest parses, core objects round-trip through the kubernetes client's models, CRD
objects are accepted by kmock, and the URLs and commands they contain are ones we actually serve/accept.
No cluster runs here: this is structure, not behaviour in a cluster."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from expandcontract.gates.registry import KINDS
from expandcontract.gates.server import GateApp

from .conftest import FIXTURES
from .kmock_thread import KmockThread

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHART = DEPLOY / "helm" / "expandcontract-hooks"
MODELS = {
    "ServiceAccount": "V1ServiceAccount",
    "Role": "V1Role",
    "RoleBinding": "V1RoleBinding",
    "Job": "V1Job",
    "Deployment": "V1Deployment",
    "Service": "V1Service",
}


def render(text: str, values: dict[str, Any]) -> str:
    """The subset of Helm templating the example chart uses: {{ .Values.x }} and {{ .Release.* }}."""
    scope = {"Values": values, "Release": {"Name": "shop", "Namespace": "shop"}}

    def sub(m: re.Match[str]) -> str:
        cur: Any = scope
        for part in m.group(1).split("."):
            cur = cur[part]
        return str(cur)

    out = re.sub(r"\{\{\s*\.([A-Za-z.]+)\s*\}\}", sub, text)
    assert "{{" not in out, "template uses more than the test renderer knows"
    return out


def documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in sorted((CHART / "templates").glob("*.yaml")):
        docs += [(path.name, d) for d in yaml.safe_load_all(render(path.read_text(), values)) if d]
    return docs


DOCS = documents()


def test_every_manifest_parses_and_the_chart_is_complete() -> None:
    kinds = {d["kind"] for _, d in DOCS}
    assert {"ServiceAccount", "Role", "RoleBinding", "Job", "AnalysisTemplate", "Canary"} <= kinds
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "expandcontract-hooks"


@pytest.mark.parametrize(
    ("name", "doc"),
    [(n, d) for n, d in DOCS if d["kind"] in MODELS],
    ids=lambda v: v if isinstance(v, str) else v["kind"],
)
def test_core_objects_round_trip_through_the_client_models(name: str, doc: dict[str, Any]) -> None:
    api = client.ApiClient()
    model = api.deserialize(json.dumps(doc), MODELS[doc["kind"]], "application/json")
    back = api.sanitize_for_serialization(model)
    assert back == doc, f"{name}: a field was dropped or changed by the {MODELS[doc['kind']]} model (typo?)"


def test_rbac_is_read_only_and_covers_every_kind_the_gate_reads() -> None:
    role = next(d for _, d in DOCS if d["kind"] == "Role")
    granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    needed = {(k.group, k.plural) for k in KINDS.values()}
    assert needed == granted
    for rule in role["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list", "watch"]
    binding = next(d for _, d in DOCS if d["kind"] == "RoleBinding")
    sa = next(d for _, d in DOCS if d["kind"] == "ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == sa["metadata"]["name"]
    for _, doc in DOCS:
        if doc["kind"] in ("Job", "Deployment"):
            pod = doc["spec"]["template"]["spec"]
            args = [a for c in pod["containers"] for a in c.get("args", [])]
            if args[:2] == ["backfill", "work"]:  # backfill workers need PostgreSQL, not the Kubernetes API
                assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
            else:
                assert pod["serviceAccountName"] == sa["metadata"]["name"]


def test_crd_objects_are_accepted_by_kmock() -> None:
    crds = [d for _, d in DOCS if d["kind"] in ("AnalysisTemplate", "Canary")]
    with KmockThread() as km:
        cfg = client.Configuration()
        cfg.host = km.url
        api = client.CustomObjectsApi(client.ApiClient(cfg))
        for doc in crds:
            group, version = doc["apiVersion"].split("/")
            plural = {"AnalysisTemplate": "analysistemplates", "Canary": "canaries"}[doc["kind"]]
            resp = api.create_namespaced_custom_object(group, version, "shop", plural, doc, _preload_content=False)
            assert resp.status in (200, 201)
            got = json.loads(
                api.get_namespaced_custom_object(
                    group, version, "shop", plural, doc["metadata"]["name"], _preload_content=False
                ).data
            )
            assert got == doc


def serves(url: str) -> int:
    app = GateApp(reader=_Never(), classifier=lambda change: lambda stamp: (None, ""))  # type: ignore[arg-type,return-value]
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    status, _ = app.handle("POST" if path.startswith("/flagger/") else "GET", path, {}, {})
    return status


class _Never:
    def get(self, *args: Any) -> Any:
        raise AssertionError("routing only")

    def list(self, *args: Any) -> Any:
        raise AssertionError("routing only")


def test_urls_and_commands_point_at_what_we_serve() -> None:
    template = next(d for _, d in DOCS if d["kind"] == "AnalysisTemplate")
    web = next(m for m in template["spec"]["metrics"] if "web" in m["provider"])
    assert web["provider"]["web"]["jsonPath"] == "{$.decision}"
    assert web["successCondition"] == 'result == "allow"'
    assert serves(web["provider"]["web"]["url"]) != 404
    job = next(m for m in template["spec"]["metrics"] if "job" in m["provider"])
    args = job["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "gate" and "--change" in args and "--wait" in args
    canary = next(d for _, d in DOCS if d["kind"] == "Canary")
    hooks = canary["spec"]["analysis"]["webhooks"]
    assert {h["type"] for h in hooks} == {"confirm-rollout", "confirm-promotion"}
    for hook in hooks:
        assert serves(hook["url"]) not in (404, 405), hook["url"]
        assert hook["metadata"]["change"]
    assert FIXTURES.is_dir()


def test_commands_in_jobs_are_real_cli_invocations() -> None:
    from click.testing import CliRunner

    from expandcontract.cli import cli

    for _, doc in DOCS:
        if doc["kind"] != "Job" and doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["command"] == ["expandcontract"]
            result = CliRunner().invoke(cli, [*container["args"], "--help"])
            assert result.exit_code == 0, (container["args"], result.output)
