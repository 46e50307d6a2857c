"""`expandcontract gate` in-process with CliRunner on snapshot fixtures: exit codes, text, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli

from .conftest import FIXTURES, fixture_text


def configure(root: Path, kind: str | None = "Deployment", name: str = "web") -> Path:
    lines = ["[tool.expandcontract]", "[tool.expandcontract.rollout]", 'namespace = "shop"']
    if kind:
        lines += [f'kind = "{kind}"', f'name = "{name}"']
    path = root / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def shifted(tmp: Path, name: str) -> Path:
    path = tmp / f"shifted-{name}"
    path.write_text(fixture_text(name, shift=True))
    return path


@pytest.mark.parametrize(
    ("phase", "fixture", "shift", "code"),
    [
        ("migrate", "deployment-complete.yaml", False, 0),
        ("migrate", "deployment-mid.yaml", False, 3),
        ("contract", "deployment-terminating.yaml", True, 3),
        ("contract", "deployment-complete.yaml", True, 0),
        ("undo-expand", "deployment-complete.yaml", False, 3),
        ("expand", "deployment-mid.yaml", False, 0),
    ],
)
def test_exit_codes_from_snapshots(project_root: Path, phase: str, fixture: str, shift: bool, code: int) -> None:
    cfg = configure(project_root)
    snap = shifted(project_root, fixture) if shift else FIXTURES / fixture
    status, out, _ = run(["gate", phase, "--change", "users-email", "--snapshot", str(snap), "--config", str(cfg)])
    assert status == code, out
    assert out.splitlines()[0].startswith(f"{phase}(users-email) ")


def test_json_is_exactly_one_document(project_root: Path) -> None:
    cfg = configure(project_root, "Rollout")
    status, out, err = run(
        [
            "gate",
            "migrate",
            "--change",
            "users-email",
            "--snapshot",
            str(FIXTURES / "argo-canary-scaledown.yaml"),
            "--config",
            str(cfg),
            "--format",
            "json",
        ]
    )
    assert status == 3
    assert err == ""
    doc = json.loads(out)
    assert doc["decision"] == "blocked" and doc["strategy"] == "argo"
    assert doc["reasons"][0]["code"] == "HOT_ROLLBACK_TARGET"
    assert doc["reasons"][0]["objects"]
    assert doc["observed"]["phase"] == "Healthy"
    assert doc["checked_at"].endswith("Z")


def test_flags_override_the_config_and_deny_exits_5(project_root: Path, tmp_path: Path) -> None:
    cfg = configure(project_root, "Deployment", "nope")
    text = fixture_text("flagger-progressing.yaml").replace("phase: Progressing", "phase: Failed")
    snap = tmp_path / "failed.yaml"
    snap.write_text(text)
    status, out, _ = run(
        [
            "gate",
            "contract",
            "--change",
            "users-email",
            "--kind",
            "Canary",
            "--name",
            "web",
            "--snapshot",
            str(snap),
            "--config",
            str(cfg),
        ]
    )
    assert status == 5, out
    assert "CANARY_FAILED" in out


def test_object_missing_from_snapshot_is_unknown(project_root: Path) -> None:
    cfg = configure(project_root, "Deployment", "api")
    status, out, _ = run(
        [
            "gate",
            "migrate",
            "--change",
            "users-email",
            "--snapshot",
            str(FIXTURES / "deployment-complete.yaml"),
            "--config",
            str(cfg),
            "--format",
            "json",
        ]
    )
    assert status == 4
    doc = json.loads(out)
    assert doc["reasons"][0]["code"] == "NOT_FOUND"
    assert "not in the snapshot" in doc["reasons"][0]["message"]


def test_snapshot_without_pods_is_unknown_not_empty(project_root: Path, tmp_path: Path) -> None:
    import yaml

    docs = [d for d in yaml.safe_load(fixture_text("deployment-complete.yaml"))["items"] if d["kind"] != "Pod"]
    snap = tmp_path / "nopods.yaml"
    snap.write_text(yaml.safe_dump_all(docs))  # multi-document form
    cfg = configure(project_root)
    status, out, _ = run(["gate", "migrate", "--change", "users-email", "--snapshot", str(snap), "--config", str(cfg)])
    assert status == 4
    assert "INCOMPLETE_SNAPSHOT" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--change", "users-email"], "no rollout target"),
        (["--change", "Users_Email", "--kind", "Deployment", "--name", "web"], "not a slug"),
        (["--change", "nope", "--kind", "Deployment", "--name", "web"], "unknown change"),
        (["--change", "users-email", "--kind", "Deployment", "--name", "web", "--wait", "soon"], "invalid duration"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(project_root: Path, args: list[str], needle: str) -> None:
    cfg = configure(project_root, kind=None)
    status, out, err = run(
        ["gate", "migrate", *args, "--snapshot", str(FIXTURES / "deployment-mid.yaml"), "--config", str(cfg)]
    )
    assert status == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_bad_snapshot_file_is_exit_2(project_root: Path, tmp_path: Path) -> None:
    cfg = configure(project_root)
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [\n")
    status, _, err = run(["gate", "migrate", "--change", "users-email", "--snapshot", str(bad), "--config", str(cfg)])
    assert status == 2 and "not valid YAML" in err
    status, _, err = run(
        ["gate", "migrate", "--change", "users-email", "--snapshot", str(tmp_path / "none.yaml"), "--config", str(cfg)]
    )
    assert status == 2 and "cannot read snapshot" in err


def test_wait_gives_up_with_the_last_answer(project_root: Path) -> None:
    cfg = configure(project_root)
    status, out, err = run(
        [
            "gate",
            "migrate",
            "--change",
            "users-email",
            "--snapshot",
            str(FIXTURES / "deployment-mid.yaml"),
            "--config",
            str(cfg),
            "--wait",
            "300ms",
            "--interval",
            "100ms",
            "--format",
            "json",
        ]
    )
    assert status == 3
    assert json.loads(out)["decision"] == "blocked"
    assert "waiting:" in err and "gave up after 300ms" in err


def test_repeatable_target_and_snapshot_flags(project_root: Path) -> None:
    cfg = configure(project_root, kind=None)
    web = shifted(project_root, "deployment-complete.yaml")  # FINAL: alone it allows the contract
    args = ["gate", "contract", "--change", "users-email", "--snapshot", str(web), "--config", str(cfg)]
    status, out, _ = run([*args, "--target", "Deployment/shop/web"])
    assert status == 0, out
    both = [*args, "--snapshot", str(FIXTURES / "workloads.yaml"), "--target", "Deployment/shop/web"]
    status, out, _ = run([*both, "--target", "StatefulSet/shop/ledger", "--format", "json"])
    assert status == 3
    doc = json.loads(out)
    assert [(t["target"]["kind"], t["decision"]) for t in doc["targets"]] == [
        ("Deployment", "allow"),
        ("StatefulSet", "blocked"),
    ]
    status, out, _ = run([*both, "--target", "StatefulSet/shop/ledger"])
    assert status == 3
    assert (
        "  Deployment shop/web: allow" in out.splitlines() and "  StatefulSet shop/ledger: blocked" in out.splitlines()
    )
    status, out, err = run([*args, "--target", "Widget/shop/web"])
    assert status == 2 and "unsupported rollout kind 'Widget'" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary file"),
        (b"\xff\xfe\xfa garbage", "not UTF-8"),
        (b"kind: Pod\nmetadata: [a, b]\n", "metadata"),
        (b"apiVersion: v1\nkind: PodList\nitems: {a: 1}\n", "items"),
    ],
    ids=["binary", "not-utf8", "metadata-list", "items-mapping"],
)
def test_unreadable_snapshots_are_one_line_exit_2(project_root: Path, content: bytes, message: str) -> None:
    cfg = configure(project_root)
    snap = project_root / "snap.bin"
    snap.write_bytes(content)
    args = ["gate", "migrate", "--change", "users-email", "--snapshot", str(snap), "--config", str(cfg)]
    status, out, err = run([*args, "--format", "json"])
    assert status == 2
    assert message in json.loads(out)["error"]["message"]
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
