"""`expandcontract rehearse` in a git repository, as CI runs it: `--old GIT_REF`, exit codes, JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from expandcontract.cli import cli
from expandcontract.demo import copy_example, example_at, naive_rename
from tests.gitrepo import git

pytestmark = pytest.mark.integration

FAST = ["--rows", "200", "--seconds", "0.3"]
VERSIONS = Path("migrations") / "versions"
FULL_NAME_REVISIONS = [
    VERSIONS / "expand" / "ex03_users_full_name.py",
    VERSIONS / "migrate" / "mg03_users_full_name.py",
    VERSIONS / "contract" / "ct03_users_full_name.py",
]


def release_models(repo: Path, release: str) -> None:
    """app/models.py as a real app has it: the models of the release in this tree."""
    (repo / "app" / "models.py").write_text(f"from app.releases.{release} import *  # noqa: F403\n")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository whose HEAD is the example as released with users-email-verified."""
    root = example_at(tmp_path / "repo", "users-email-verified")
    release_models(root, "users_email_verified")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "release 2")
    monkeypatch.chdir(root)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return root


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["rehearse", *args])


def test_ci_rehearses_the_uncommitted_change_over_head(repo: Path, tmp_path: Path, pg_server_url: str) -> None:
    full = copy_example(tmp_path / "full")
    for rel in FULL_NAME_REVISIONS:
        shutil.copy(full / rel, repo / rel)
    release_models(repo, "users_full_name")
    r = invoke("--old", "HEAD", "--format", "json", "--database-url", pg_server_url, *FAST)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["old"] == "HEAD" and doc["changes"] == ["users-full-name"]
    assert {(s["step"], s["release"]) for s in doc["steps"]} >= {("both", "old"), ("both", "new"), ("contract", "new")}
    assert "step 1/" in r.stderr  # progress goes to stderr, the document alone to stdout
    assert (
        git(repo, "status", "--porcelain", "--untracked-files=no").strip() == "M app/models.py"
    )  # nothing else touched


def test_a_committed_naive_rename_fails_against_the_previous_commit(
    repo: Path, tmp_path: Path, pg_server_url: str
) -> None:
    naive = naive_rename(tmp_path / "naive")
    for rel in FULL_NAME_REVISIONS[:1]:
        shutil.copy(naive / rel, repo / rel)
    release_models(repo, "users_full_name")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release 3: users.name renamed in one step")
    r = invoke("--old", "HEAD~1", "--database-url", pg_server_url, *FAST)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert "problems:" in r.stdout and "app-error: users-full-name expand, old release" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("rehearse: FAILED")


def test_bad_input_is_one_line_and_exit_2(repo: Path, pg_server_url: str) -> None:
    r = invoke("--old", "no-such-ref", "--format", "json", "--database-url", pg_server_url)
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == [
        f"error: --old no-such-ref: no such git ref in {repo}; try origin/main, HEAD~1 or a commit hash"
    ]
    assert json.loads(r.stdout)["error"]["code"] == 2

    r = invoke("--new-models", "app.nowhere:Base", "--database-url", pg_server_url, *FAST)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "app.nowhere" in r.stderr and "Traceback" not in r.stderr

    r = invoke("--new-models", "not a spec", "--database-url", pg_server_url)
    assert r.exit_code == 2 and "is not module.path:attr or path/to/file.py:attr" in r.stderr

    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('models = "app.models:Base"', ""))
    r = invoke("--database-url", pg_server_url)
    assert r.exit_code == 2 and "rehearse needs the app's models" in r.stderr
