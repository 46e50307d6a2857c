"""deploy/: every manifest validates against the Kubernetes schemas (kubernetes-validate, strict) and the
Argo Rollouts / Flagger CRD schemas (tests/gates/schemas, strict), the shipped AnalysisTemplate behaves
as intended under Argo's own metric rules, the RBAC covers every kind the gate reads, and the URLs and
commands the manifests contain are ones we actually serve and accept. No cluster runs here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from expandcontract.gates.evaluate import Selection
from expandcontract.gates.model import Target
from expandcontract.gates.registry import KINDS
from expandcontract.gates.server import GateApp

SCHEMAS = Path(__file__).parent / "schemas"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests promise to work on

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHART = DEPLOY / "helm" / "expandcontract-hooks"


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


def _strict(schema: Any) -> Any:
    """additionalProperties: false wherever properties are listed and unknown fields are not preserved."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_errors(doc: dict[str, Any]) -> list[str]:
    import jsonschema

    group, version = doc["apiVersion"].split("/")
    schema = _strict(json.loads((SCHEMAS / f"{doc['kind'].lower()}-{group}-{version}.json").read_text()))
    schema["properties"]["metadata"] = {"type": "object", "required": ["name"]}
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


CRDS = [(n, d) for n, d in DOCS if d["kind"] in ("AnalysisTemplate", "Canary")]


@pytest.mark.parametrize(("name", "doc"), [(n, d) for n, d in DOCS if d["kind"] not in ("AnalysisTemplate", "Canary")])
def test_kubernetes_objects_validate_strictly(name: str, doc: dict[str, Any]) -> None:
    from kubernetes_validate import utils

    utils.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize(("name", "doc"), CRDS, ids=[f"{n}:{d['metadata']['name']}" for n, d in CRDS])
def test_crd_objects_validate_against_the_crd_schemas(name: str, doc: dict[str, Any]) -> None:
    assert crd_errors(doc) == []


def test_the_validators_catch_typos() -> None:
    """The checks above can fail: a misspelt field in each kind of manifest is reported."""
    from kubernetes_validate import utils
    from kubernetes_validate.utils import ValidationError

    job = json.loads(json.dumps(next(d for _, d in DOCS if d["kind"] == "Job")))
    job["spec"]["template"]["spec"]["serviceAccountNam"] = "x"
    with pytest.raises(ValidationError):
        utils.validate(job, K8S_VERSION, strict=True)
    template = json.loads(json.dumps(next(d for _, d in CRDS if d["kind"] == "AnalysisTemplate")))
    template["spec"]["metrics"][0]["successConditon"] = template["spec"]["metrics"][0].pop("successCondition")
    assert any("successConditon" in e for e in crd_errors(template))
    canary = json.loads(json.dumps(next(d for _, d in CRDS if d["kind"] == "Canary")))
    canary["spec"]["analysis"]["webhooks"][0]["type"] = "confirm-rolout"
    assert crd_errors(canary)


# -- the AnalysisTemplate under Argo's metric rules -----------------------------------------------


def validate_metric(m: dict[str, Any]) -> None:
    """utils/analysis/factory.go ValidateMetric, for the fields the template uses."""
    count, failure = int(m.get("count", 0)), int(m.get("failureLimit", 0))
    success, inconclusive = int(m.get("consecutiveSuccessLimit", 0)), int(m.get("inconclusiveLimit", 0))
    assert success >= 0 and failure >= -1 and inconclusive >= 0
    assert not (success == 0 and failure == -1)
    if count > 0:
        if success >= 0 and failure >= 0:
            assert count >= failure + success
        assert count >= inconclusive
    assert count <= 1 or m.get("interval")


def metric_phase(m: dict[str, Any], decisions: list[str]) -> str:
    """analysis/analysis.go assessMetricStatus after each measurement (web provider, jsonPath decision)."""
    failed = inconclusive = consecutive_success = 0
    limit_f, limit_i = int(m.get("failureLimit", 0)), int(m.get("inconclusiveLimit", 0))
    limit_s, count = int(m.get("consecutiveSuccessLimit", 0)), int(m.get("count", 0))
    for taken, decision in enumerate(decisions, start=1):
        if decision == "allow":  # successCondition result == "allow"
            consecutive_success += 1
        elif decision == "deny":  # failureCondition result == "deny"
            failed, consecutive_success = failed + 1, 0
        else:  # neither condition holds: Inconclusive
            inconclusive, consecutive_success = inconclusive + 1, 0
        if limit_f >= 0 and failed > limit_f:
            return "Failed"
        if inconclusive > limit_i:
            return "Inconclusive"
        if limit_s > 0 and consecutive_success >= limit_s:
            return "Successful"
        if count and taken >= count:
            return "Inconclusive" if limit_s > 0 and limit_f >= 0 else "Successful"
    return "Running"


def test_analysis_template_waits_on_blocked_and_fails_on_deny() -> None:
    template = next(d for _, d in CRDS if d["metadata"]["name"] == "expandcontract-gate")
    (metric,) = template["spec"]["metrics"]
    validate_metric(metric)
    assert metric["successCondition"] == 'result == "allow"' and metric["failureCondition"] == 'result == "deny"'
    assert metric["provider"]["web"]["jsonPath"] == "{$.decision}"
    assert metric_phase(metric, ["allow"]) == "Successful"  # a steady allow passes in one interval
    count = int(metric["count"])
    waits = ["blocked"] * (count - 1)
    assert metric_phase(metric, waits) == "Running"  # blocked never pauses the rollout while it waits
    assert metric_phase(metric, ["unknown", "blocked", *waits[: count - 3], "allow"]) == "Successful"
    assert metric_phase(metric, ["blocked", "deny"]) == "Failed"
    assert metric_phase(metric, ["blocked"] * count) == "Inconclusive"  # only when the whole wait ran out
    headers = {h["key"]: h["value"] for h in metric["provider"]["web"]["headers"]}
    assert headers["Authorization"] == "Bearer {{args.token}}"
    job = next(d for _, d in CRDS if d["metadata"]["name"] == "expandcontract-gate-job")
    for m in job["spec"]["metrics"]:
        validate_metric(m)


def serves(url: str) -> int:
    """The status our app gives the URL's path with a valid token and an empty body: 404 = not served."""
    token = "t" * 32
    app = GateApp(
        _Never(), Selection((Target("Canary", "web", "shop"),)), lambda change: lambda stamp: (None, ""), token
    )  # type: ignore[arg-type,return-value]
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    status, _ = app.handle(
        "POST" if path.startswith("/flagger/") else "GET", path, "", {"authorization": f"Bearer {token}"}, b""
    )
    return status


class _Never:
    def get(self, *args: Any) -> Any:
        raise AssertionError("routing only")

    def list(self, *args: Any) -> Any:
        raise AssertionError("routing only")


def test_urls_and_commands_point_at_what_we_serve() -> None:
    template = next(
        d for _, d in DOCS if d["metadata"]["name"] == "expandcontract-gate" and d["kind"] == "AnalysisTemplate"
    )
    web = next(m for m in template["spec"]["metrics"] if "web" in m["provider"])
    assert serves(web["provider"]["web"]["url"]) != 404
    job_template = next(
        d for _, d in DOCS if d["kind"] == "AnalysisTemplate" and d["metadata"]["name"].endswith("-job")
    )
    job = job_template["spec"]["metrics"][0]
    args = job["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "gate" and "--change" in args and "--wait" in args
    canary = next(d for _, d in DOCS if d["kind"] == "Canary")
    hooks = canary["spec"]["analysis"]["webhooks"]
    assert {h["type"] for h in hooks} == {"confirm-rollout", "confirm-promotion"}  # never `rollback`
    for hook in hooks:
        assert serves(hook["url"]) not in (404, 405), hook["url"]
        assert hook["metadata"]["token"]


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
