"""The GitHub Action's steps (expandcontract/ci/action.py, what action.yml runs) on a real project: the shipped
example in a subdirectory of a git repository, a pull request committed on top of its release, the real CLI
in this venv. act is not available, so the composite's steps are run here as the action runs them: the same
file, the same environment variables, the same working directory (the repository root)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from expandcontract.ci import action
from expandcontract.demo import copy_example, example_at, naive_rename
from tests.gitrepo import git

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "expandcontract" / "ci" / "action.py"
CLI = str(Path(sys.executable).parent / "expandcontract")
FAST = "--rows 200 --seconds 0.3"
EXPAND = Path("migrations") / "versions" / "expand"
FULL_NAME = [
    EXPAND / "ex03_users_full_name.py",
    Path("migrations") / "versions" / "migrate" / "mg03_users_full_name.py",
    Path("migrations") / "versions" / "contract" / "ct03_users_full_name.py",
]


def release_models(project: Path, release: str) -> None:
    (project / "app" / "models.py").write_text(f"from app.releases.{release} import *  # noqa: F403\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose main is the example released with users-email-verified, in services/app."""
    root = tmp_path / "repo"
    project = example_at(root / "services" / "app", "users-email-verified")
    release_models(project, "users_email_verified")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "release 2")
    return root


def pull_request(repo: Path, tmp_path: Path, naive: bool) -> None:
    """Commit the next change on top of main, as a pull request's merge commit has it: the users-full-name
    change done right (three phases), or the naive one-step rename."""
    project = repo / "services" / "app"
    source = naive_rename(tmp_path / "naive") if naive else copy_example(tmp_path / "full")
    for rel in FULL_NAME[:1] if naive else FULL_NAME:
        shutil.copy(source / rel, project / rel)
    release_models(project, "users_full_name")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "users.name -> full_name")


def step(repo: Path, name: str, **inputs: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """Run one step as the composite does; returns the process, its GITHUB_OUTPUT and its step summary."""
    outputs, summary = repo.parent / "github_output", repo.parent / "step_summary"
    outputs.write_text("")
    summary.write_text("")
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",) and not k.startswith("EC_")}
    environ |= {"EC_WORKING_DIRECTORY": "services/app", "EC_COMMAND": CLI}
    environ |= {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    environ |= {f"EC_{k.upper()}": v for k, v in inputs.items()}
    done = subprocess.run(
        [sys.executable, str(ACTION), name], cwd=repo, env=environ, capture_output=True, text=True, check=False
    )
    pairs = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return done, pairs, summary.read_text()


def sarif_results(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """SARIF 2.1.0 as code scanning reads it: version, $schema, runs[].tool.driver, results[] with rule ids,
    levels, messages and physical locations."""
    assert doc["version"] == "2.1.0"
    assert "sarif" in doc["$schema"] and "2.1.0" in doc["$schema"]
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "expandcontract" and isinstance(driver["version"], str) and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    for result in run["results"]:
        assert result["ruleId"] in rule_ids and rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note", "none")
        assert result["message"]["text"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    results: list[dict[str, Any]] = run["results"]
    return results


def test_lint_of_a_clean_change_passes_and_writes_a_valid_empty_sarif_log(repo: Path, tmp_path: Path) -> None:
    pull_request(repo, tmp_path, naive=False)
    done, outputs, summary = step(repo, "lint")
    assert done.returncode == 0, done.stderr
    sarif = repo / "expandcontract.sarif"
    assert outputs == {"sarif": "expandcontract.sarif"}
    assert sarif_results(json.loads(sarif.read_text())) == []
    assert done.stdout.strip().splitlines()[-1] == "lint: 0 errors, 0 warnings; SARIF log in expandcontract.sarif"
    assert "### expandcontract lint" in summary
    assert f"$ {CLI} lint --format sarif" in done.stderr  # the command it ran, for the job's log


def test_lint_of_a_naive_rename_fails_the_job_with_findings_at_repository_paths(repo: Path, tmp_path: Path) -> None:
    pull_request(repo, tmp_path, naive=True)
    done, outputs, summary = step(repo, "lint", sarif_file="reports/lint.sarif", codequality_file="cq.json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert outputs == {"sarif": "reports/lint.sarif"}
    results = sarif_results(json.loads((repo / "reports" / "lint.sarif").read_text()))
    errors = [r for r in results if r["level"] == "error"]
    assert [r["ruleId"] for r in errors] == ["destructive-outside-contract"]  # a rename in the expand lane
    assert "rename-column" in {r["ruleId"] for r in results}
    uri = errors[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "services/app/migrations/versions/expand/ex03_users_full_name.py"
    assert (repo / uri).is_file()  # code scanning resolves it from the repository root
    assert f"{uri}:" in done.stdout and "error destructive-outside-contract" in done.stdout
    assert "lint: 1 errors, 1 warnings" in done.stdout and "destructive-outside-contract" in summary
    quality = json.loads((repo / "cq.json").read_text())  # GitLab's Code Quality report, for the MR widget
    assert [(q["check_name"], q["severity"], q["location"]["path"]) for q in quality] == [
        (r["ruleId"], "major" if r["level"] == "error" else "minor", uri) for r in results
    ]
    assert len({q["fingerprint"] for q in quality}) == 2 and all(q["location"]["lines"]["begin"] >= 1 for q in quality)


def test_lint_paths_and_extra_options_reach_the_cli(repo: Path, tmp_path: Path) -> None:
    pull_request(repo, tmp_path, naive=True)
    naive = "migrations/versions/expand/ex03_users_full_name.py"
    done, _, _ = step(repo, "lint", paths=naive, lint_args="--ignore rename-column --pg-version 15")
    assert done.returncode == 1, done.stderr
    assert "rename-column" not in (repo / "expandcontract.sarif").read_text()
    assert "destructive-outside-contract" in (repo / "expandcontract.sarif").read_text()
    assert f"lint {naive} --format sarif --ignore rename-column --pg-version 15" in done.stderr


def test_bad_inputs_are_one_line_and_exit_2_without_a_sarif_log(repo: Path) -> None:
    done, outputs, _ = step(repo, "lint", lint_args="--select no-such-rule")
    assert done.returncode == 2 and outputs == {}
    assert "unknown rule id 'no-such-rule'" in done.stderr and not (repo / "expandcontract.sarif").exists()

    done, _, _ = step(repo, "lint", steps="lint,lnt")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "error: steps: unknown lnt; choose from lint, verify, rehearse (comma-separated)",
    )
    done, _, _ = step(repo, "lint", working_directory="services/nope")
    assert (done.returncode, done.stderr.strip()) == (2, "error: working-directory services/nope: no such directory")
    done, _, _ = step(repo, "rehearse", base_ref="release-9")
    assert done.returncode == 2 and "base-ref release-9: no such commit" in done.stderr
    assert "fetch-depth: 0" in done.stderr
    done, _, _ = step(repo, "lint", command="no-such-expandcontract")
    assert done.returncode == 2 and "command 'no-such-expandcontract' not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_steps_not_selected_run_nothing(repo: Path, tmp_path: Path) -> None:
    pull_request(repo, tmp_path, naive=True)
    done, outputs, _ = step(repo, "lint", steps="verify, rehearse")
    assert done.returncode == 0 and outputs == {} and "lint: not among the selected steps" in done.stderr
    assert not (repo / "expandcontract.sarif").exists()
    module = subprocess.run(  # the GitLab example's form, with the package installed
        [sys.executable, "-m", "expandcontract.ci.action", "lint"],
        cwd=repo / "services" / "app",
        env={**os.environ, "EC_STEPS": "lint", "EC_COMMAND": CLI},
        capture_output=True,
        text=True,
        check=False,
    )
    assert module.returncode == 1 and "error destructive-outside-contract" in module.stdout, module.stderr
    assert (repo / "services" / "app" / "expandcontract.sarif").is_file()


@pytest.mark.integration
def test_verify_runs_on_the_scratch_server_and_fails_on_a_lossy_downgrade(repo: Path, pg_server_url: str) -> None:
    done, _, _ = step(repo, "verify", database_url=pg_server_url)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "verify ok" in done.stdout + done.stderr

    broken = repo / "services" / "app" / EXPAND / "ex03_forgets_its_downgrade.py"
    broken.write_text(
        'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "ex03_nickname"\n'
        'down_revision = "ex02_users_email_verified"\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n"
        '    op.add_column("users", sa.Column("nickname", sa.Text(), nullable=True))\n\n\n'
        "def downgrade() -> None:\n    pass\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a downgrade that leaves the column behind")
    done, _, _ = step(repo, "verify", database_url=pg_server_url, verify_since="true")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "ex03_nickname" in done.stdout and "nickname" in done.stdout
    assert "--since 'HEAD^1'" in done.stderr  # only what the pull request changed


@pytest.mark.integration
@pytest.mark.slow
def test_rehearse_passes_a_phased_rename_and_fails_the_naive_one(
    repo: Path, tmp_path: Path, pg_server_url: str
) -> None:
    pull_request(repo, tmp_path, naive=False)
    done, _, _ = step(repo, "rehearse", database_url=pg_server_url, rehearse_args=FAST)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "--old 'HEAD^1'" in done.stderr

    git(repo, "reset", "-q", "--hard", "HEAD^1")
    pull_request(repo, tmp_path / "again", naive=True)
    done, _, _ = step(repo, "rehearse", database_url=pg_server_url, rehearse_args=FAST, base_ref="main~1")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "app-error: users-full-name expand, old release" in done.stdout


def test_the_log_never_shows_a_database_password(repo: Path) -> None:
    url = "postgresql://ci:s3cret@db:5432/ci?sslmode=require&password=s3cret"
    done, _, _ = step(repo, "lint", database_url=url, command="no-such-expandcontract")
    assert "s3cret" not in done.stderr + done.stdout
    assert "--database-url 'postgresql://ci:***@db:5432/ci?sslmode=require&password=***'" in done.stderr
    assert action.masked("postgresql://app@/app?host=/run/pg") == "postgresql://app@/app?host=/run/pg"
    shown = action.shown(["expandcontract", "verify", "--database-url=postgres://u:pw@h/d", "--since", "x"])
    assert shown == "expandcontract verify '--database-url=postgres://u:***@h/d' --since x"
    done, _, _ = step(repo, "verify", verify_args="--database-url 'postgres://u:pw@h/d")  # unbalanced quote
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "error: EC_VERIFY_ARGS: No closing quotation; quote its words as a shell would",
    )


def test_a_branch_name_resolves_as_its_remote_tracking_ref(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    git(clone, "checkout", "-q", "--detach")
    git(clone, "branch", "-q", "-D", "main")  # as actions/checkout leaves a pull request: only origin/main
    assert action.resolve_ref(clone, "main") == "origin/main"
    assert action.resolve_ref(clone, "HEAD") == "HEAD"


def help_options(command: str) -> set[str]:
    done = subprocess.run([CLI, command, "--help"], capture_output=True, text=True, check=True)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", done.stdout))


def test_every_option_the_steps_pass_is_one_the_cli_has(repo: Path) -> None:
    environ = {"EC_DATABASE_URL": "postgresql://ci@db/ci", "EC_VERIFY_SINCE": "true", "EC_BASE_REF": "main"}
    for name, argv in action.ARGV.items():
        built = argv(environ, repo, ["expandcontract"])
        assert built[1] == name
        used = {arg for arg in built if arg.startswith("--")}
        assert used and used <= help_options(name), (name, used - help_options(name))


def test_action_yml_runs_each_step_with_every_input() -> None:
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    assert spec["runs"]["using"] == "composite"
    steps = spec["runs"]["steps"]
    scripted = [s for s in steps if "action.py" in s.get("run", "")]
    assert [s["run"].split()[-1] for s in scripted] == ["lint", "verify", "rehearse"]
    read = set(re.findall(r'"(EC_[A-Z_]+)"', ACTION.read_text())) - {"EC_CODEQUALITY_FILE"}  # GitLab only
    inputs = set(spec["inputs"])
    for s in scripted:
        assert set(s["env"]) == read, s["name"]
        for value in s["env"].values():
            assert re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)[1] in inputs  # type: ignore[index]
        assert "${{" not in s["run"]  # inputs reach the script through env only, never the shell text
    assert all(s.get("if") == "${{ !cancelled() }}" for s in scripted[1:])  # verify runs after a failed lint
    (upload,) = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert upload["with"]["sarif_file"] == "${{ steps.lint.outputs.sarif }}" and scripted[0]["id"] == "lint"
    assert "!cancelled()" in upload["if"]
    used = {m for s in steps for m in re.findall(r"inputs\.([a-z-]+)", json.dumps(s))}
    assert used == inputs  # no input declared and ignored


def test_the_gitlab_example_runs_the_step_and_commands_that_exist() -> None:
    spec = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())
    jobs = {name: job for name, job in spec.items() if not name.startswith(".") and name != "variables"}
    assert set(jobs) == {"expandcontract-lint", "expandcontract-verify", "expandcontract-rehearse"}
    lint = jobs["expandcontract-lint"]
    assert lint["script"] == ["python -m expandcontract.ci.action lint"]
    read = set(re.findall(r'"(EC_[A-Z_]+)"', ACTION.read_text()))
    assert set(lint["variables"]) <= read
    assert lint["artifacts"]["reports"]["codequality"] == lint["variables"]["EC_CODEQUALITY_FILE"]
    assert lint["artifacts"]["paths"] == [lint["variables"]["EC_SARIF_FILE"]]
    for name in ("verify", "rehearse"):
        (line,) = jobs[f"expandcontract-{name}"]["script"]
        words = line.split()
        assert words[:2] == ["expandcontract", name]
        assert {w for w in words if w.startswith("--")} <= help_options(name)
    assert all(job["extends"] == ".expandcontract" for job in jobs.values())
    assert spec["variables"]["GIT_DEPTH"] == "0"
