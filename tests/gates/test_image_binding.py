"""The stamp bound to the image (`expandcontract.io/schema-image`, issue 14 item 2).

`kubectl set image` (or an image updater) changes the image and leaves the annotations: a pre-expand
image kept a FINAL stamp and the contract was allowed. With the binding, a container of the bound
repository running another tag or digest makes the stamp untrusted (unknown, exit 4); without the
annotation the stamp alone decides, as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli
from expandcontract.gates.image import image_problem, parse_image

from .conftest import FINAL, codes, decide_on, deciding, find, find_all, load

IMAGE = "registry.example.com/shop/web:1.42.0"
DIGEST = "sha256:" + "ab" * 32


def bind(objs: list[dict[str, Any]], value: str) -> None:
    """What a bound build writes: the annotation on the template, so every pod inherits it."""
    for obj in objs:
        holders = [obj["metadata"]] if obj["kind"] == "Pod" else [obj["spec"]["template"]["metadata"]]
        for meta in holders:
            if "expandcontract.io/schema" in meta.get("annotations", {}):
                meta["annotations"]["expandcontract.io/schema-image"] = value


def set_image(objs: list[dict[str, Any]], image: str) -> None:
    """`kubectl set image deployment/web web=IMAGE`: the template changes, the annotations stay."""
    find(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] = image


def test_parse_image_normalises_docker_hub_and_keeps_tag_and_digest() -> None:
    assert str(parse_image("nginx")) == "docker.io/library/nginx"
    assert parse_image("nginx:1.27").tag == "1.27"
    ref = parse_image("registry:5000/shop/web:1.4@sha256:ABCD")
    assert (ref.repository, ref.tag, ref.digest) == ("registry:5000/shop/web", "1.4", "sha256:abcd")
    assert parse_image(DIGEST).digest == DIGEST and parse_image(DIGEST).repository == ""
    for bad in ("", "a b", "web:", "a//b", "x@sha256"):
        with pytest.raises(ValueError):
            parse_image(bad)


def test_bound_stamp_on_the_image_it_names_decides_as_before() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    bind(objs, IMAGE)
    assert decide_on(objs, "contract", "Deployment").decision == "allow"


def test_set_image_under_a_final_stamp_is_untrusted() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    bind(objs, IMAGE)
    set_image(objs, "registry.example.com/shop/web:1.39.0")  # built before the expand
    decision = decide_on(objs, "contract", "Deployment")
    assert decision.decision == "unknown"
    assert deciding(decision) == {"UNTRUSTED_STAMP"}
    message = decision.deciding()[0].message
    assert "runs registry.example.com/shop/web:1.39.0, not registry.example.com/shop/web:1.42.0" in message
    assert "heads --stamp --image" in message
    assert decide_on(objs, "expand", "Deployment").decision == "allow"  # additive: a warning only


def test_without_the_annotation_the_stamp_alone_decides() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    set_image(objs, "registry.example.com/shop/web:1.39.0")
    assert decide_on(objs, "contract", "Deployment").decision == "allow"  # opt-in: nothing to check against


def test_another_repository_is_untrusted_and_sidecars_are_ignored() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    bind(objs, IMAGE)
    template = find(objs, "Deployment")["spec"]["template"]["spec"]
    template["containers"].append({"name": "proxy", "image": "docker.io/envoyproxy/envoy:v1.31"})
    assert decide_on(objs, "contract", "Deployment").decision == "allow"
    template["containers"][0]["image"] = "registry.example.com/other/web:1.42.0"
    assert deciding(decide_on(objs, "contract", "Deployment")) == {"UNTRUSTED_STAMP"}


def test_digest_binding_is_checked_against_what_the_kubelet_pulled() -> None:
    pod: dict[str, Any] = {
        "spec": {"containers": [{"name": "web", "image": IMAGE}]},
        "status": {"containerStatuses": [{"name": "web", "imageID": f"registry.example.com/shop/web@{DIGEST}"}]},
    }
    assert image_problem(f"registry.example.com/shop/web@{DIGEST}", pod["spec"], pod) is None
    assert image_problem(DIGEST, pod["spec"], pod) is None  # a bare digest binds the container running it
    other = "sha256:" + "cd" * 32
    assert "not" in str(image_problem(f"registry.example.com/shop/web@{other}", pod["spec"], pod))
    assert "no container runs" in str(image_problem(other, pod["spec"], pod))
    # a template has no status: a tag cannot prove a digest
    assert image_problem(f"registry.example.com/shop/web@{DIGEST}", pod["spec"]) is not None
    assert image_problem(IMAGE, {"containers": [{"name": "web", "image": f"registry.example.com/shop/web@{DIGEST}"}]})


def test_pods_are_judged_by_their_own_image_and_counted_as_untrusted() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    bind(objs, IMAGE)
    pod = find_all(objs, "Pod")[0]
    pod["spec"]["containers"][0]["image"] = "registry.example.com/shop/web:1.39.0"
    decision = decide_on(objs, "contract", "Deployment")
    assert codes(decision) == {"UNTRUSTED_STAMP"}
    assert decision.reasons[0].objects == (f"Pod shop/{pod['metadata']['name']}",)
    assert decision.observed["pods"]["UNTRUSTED"] == 1


def test_malformed_binding_is_untrusted() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    bind(objs, "not an image")
    assert "malformed" in decide_on(objs, "contract", "Deployment").deciding()[0].message


def test_heads_stamp_image_prints_both_annotations(project_root: Path) -> None:
    (project_root / "pyproject.toml").write_text("[tool.expandcontract]\n")
    runner = CliRunner()
    plain = runner.invoke(cli, ["heads", "--stamp", "--config", str(project_root / "pyproject.toml")])
    assert plain.exit_code == 0 and plain.stdout.strip() == FINAL  # the stamp text is unchanged
    ref = f"registry.example.com/shop/web@{DIGEST}"
    bound = runner.invoke(cli, ["heads", "--stamp", "--image", ref, "--config", str(project_root / "pyproject.toml")])
    assert bound.exit_code == 0, bound.output
    assert bound.stdout.splitlines() == [
        f'expandcontract.io/schema: "{FINAL}"',
        f'expandcontract.io/schema-image: "{ref}"',
    ]
    doc = json.loads(
        runner.invoke(
            cli,
            ["heads", "--stamp", "--image", ref, "--format", "json", "--config", str(project_root / "pyproject.toml")],
        ).stdout
    )
    assert doc["annotations"] == {"expandcontract.io/schema": FINAL, "expandcontract.io/schema-image": ref}
    bad = runner.invoke(cli, ["heads", "--stamp", "--image", "a b", "--config", str(project_root / "pyproject.toml")])
    assert bad.exit_code == 2 and "--image" in bad.stderr
    alone = runner.invoke(cli, ["heads", "--image", ref, "--config", str(project_root / "pyproject.toml")])
    assert alone.exit_code == 2 and "with --stamp" in alone.stderr
