"""The steps of the GitHub Action (action.yml at the repository root), also usable from any CI.

    python expandcontract/ci/action.py lint|verify|rehearse

Each step runs the real `expandcontract` command and exits with its exit code (0 clean, 1 problems found,
2 bad usage or input), so a failing step fails the job. Inputs come from the environment, as the composite
action passes them (never interpolated into a shell):

    EC_STEPS              comma-separated steps to run (default "lint,verify,rehearse"); others exit 0
    EC_WORKING_DIRECTORY  the project (where pyproject.toml / alembic.ini live), default "."
    EC_COMMAND            how to call the CLI (default "expandcontract"; e.g. "poetry run expandcontract")
    EC_DATABASE_URL       scratch server for verify / rehearse, database for lint (default: embedded)
    EC_PATHS              lint: paths, shell-quoted (default: the whole project)
    EC_SARIF_FILE         lint: where to write the SARIF log (default "expandcontract.sarif")
    EC_CODEQUALITY_FILE   lint: also write a GitLab Code Quality report there (the GitLab CI example)
    EC_BASE_REF           rehearse --old (and verify --since with EC_VERIFY_SINCE=true); default HEAD^1:
                          on a pull request's merge commit that is the base branch, on a push the parent
    EC_VERIFY_SINCE       "true": verify only the revisions changed since EC_BASE_REF
    EC_LINT_ARGS, EC_VERIFY_ARGS, EC_REHEARSE_ARGS   extra options, shell-quoted

Only the standard library: the action runs this file before, or without, importing the package.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

STEPS = ("lint", "verify", "rehearse")
USAGE = 2


class InputError(Exception):
    """A bad input: one line naming it and how to fix it, exit 2."""


def env(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name, "").strip() or default


def words(environ: Mapping[str, str], name: str) -> list[str]:
    try:
        return shlex.split(environ.get(name, ""))
    except ValueError as exc:
        raise InputError(f"{name}: {exc}; quote its words as a shell would") from None


def selected_steps(environ: Mapping[str, str]) -> list[str]:
    chosen = [s.strip() for s in env(environ, "EC_STEPS", ",".join(STEPS)).replace(" ", ",").split(",")]
    chosen = [s for s in chosen if s]
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        raise InputError(f"steps: unknown {', '.join(unknown)}; choose from {', '.join(STEPS)} (comma-separated)")
    return chosen


def database_args(environ: Mapping[str, str]) -> list[str]:
    url = env(environ, "EC_DATABASE_URL")
    return ["--database-url", url] if url else []


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InputError("git not found: the base-ref and SARIF paths need git on PATH") from None


def resolve_ref(cwd: Path, ref: str) -> str:
    """`ref` as given when git knows it, else `origin/ref` (a pull request's base branch after checkout)."""
    for candidate in (ref, f"origin/{ref}"):
        if git(cwd, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}").returncode == 0:
            return candidate
    raise InputError(
        f"base-ref {ref}: no such commit in {cwd}; check out more history "
        "(actions/checkout with fetch-depth: 0) or set base-ref to a branch, tag or commit"
    )


def base_ref(environ: Mapping[str, str], cwd: Path) -> str:
    return resolve_ref(cwd, env(environ, "EC_BASE_REF", "HEAD^1"))


def repository_root(cwd: Path) -> Path:
    done = git(cwd, "rev-parse", "--show-toplevel")
    return Path(done.stdout.strip()) if done.returncode == 0 else cwd.resolve()


def check_sarif(doc: Any) -> list[dict[str, Any]]:
    """The SARIF 2.1.0 shape code scanning needs; returns the results. Raises InputError naming what is off."""
    if not isinstance(doc, dict) or doc.get("version") != "2.1.0":
        raise InputError("lint printed no SARIF 2.1.0 log (no version 2.1.0)")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        raise InputError("lint printed a SARIF log without runs")
    results: list[dict[str, Any]] = []
    for run in runs:
        driver = run.get("tool", {}).get("driver", {}) if isinstance(run, dict) else {}
        if not isinstance(driver, dict) or not driver.get("name"):
            raise InputError("lint printed a SARIF run without tool.driver.name")
        if not isinstance(run.get("results"), list):
            raise InputError("lint printed a SARIF run without results")
        results.extend(run["results"])
    return results


def rebase_uris(results: list[dict[str, Any]], project: Path, root: Path) -> None:
    """Code scanning resolves artifact URIs from the repository root: make the project's paths relative to
    it (a project in a subdirectory would otherwise point at files that do not exist)."""
    for result in results:
        for location in result.get("locations", []):
            artifact = location.get("physicalLocation", {}).get("artifactLocation", {})
            uri = artifact.get("uri")
            if isinstance(uri, str) and not uri.startswith(("/", "file:")) and "://" not in uri:
                absolute = (project / uri).resolve()
                if absolute.is_relative_to(root):
                    artifact["uri"] = absolute.relative_to(root).as_posix()


def summary_line(result: dict[str, Any]) -> str:
    location = (result.get("locations") or [{}])[0].get("physicalLocation", {})
    path = location.get("artifactLocation", {}).get("uri", "?")
    line = location.get("region", {}).get("startLine", "?")
    message = str(result.get("message", {}).get("text", "")).splitlines() or [""]
    return f"{path}:{line}: {result.get('level', 'warning')} {result.get('ruleId', '?')}: {message[0]}"


def code_quality(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings as a GitLab Code Quality report (merge request widget): one issue per result."""
    issues = []
    for result in results:
        location = (result.get("locations") or [{}])[0].get("physicalLocation", {})
        path = str(location.get("artifactLocation", {}).get("uri", ""))
        line = int(location.get("region", {}).get("startLine", 1))
        rule, text = str(result.get("ruleId", "")), str(result.get("message", {}).get("text", ""))
        identity = f"{rule}\0{path}\0{line}\0{text}".encode()
        issues.append(
            {
                "description": text.splitlines()[0] if text else rule,
                "check_name": rule,
                "fingerprint": hashlib.sha256(identity).hexdigest(),
                "severity": "major" if result.get("level") == "error" else "minor",
                "location": {"path": path, "lines": {"begin": line}},
            }
        )
    return issues


def append_file(environ: Mapping[str, str], name: str, text: str) -> None:
    target = environ.get(name)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(text)


def masked(url: str) -> str:
    """The URL with its password (in the userinfo or a `password=` parameter) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = "&".join(
        f"{key}=***" if key.lower() == "password" else f"{key}={value}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def shown(command: Sequence[str]) -> str:
    """The command as the job's log shows it: a database URL's password masked."""
    after_url = {i + 1 for i, arg in enumerate(command) if arg == "--database-url"}
    flag = "--database-url="
    return shlex.join(
        masked(arg) if i in after_url else flag + masked(arg.removeprefix(flag)) if arg.startswith(flag) else arg
        for i, arg in enumerate(command)
    )


def run_cli(command: Sequence[str], cwd: Path, capture: bool = False) -> subprocess.CompletedProcess[str]:
    print(f"$ {shown(command)}", file=sys.stderr, flush=True)
    try:
        return subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE if capture else None, text=True, check=False)
    except FileNotFoundError:
        raise InputError(f"command {command[0]!r} not found; install expandcontract or set the command input") from None


def lint_argv(environ: Mapping[str, str], cwd: Path, command: list[str]) -> list[str]:
    paths = words(environ, "EC_PATHS")
    return [*command, "lint", *paths, "--format", "sarif", *database_args(environ), *words(environ, "EC_LINT_ARGS")]


def verify_argv(environ: Mapping[str, str], cwd: Path, command: list[str]) -> list[str]:
    since = ["--since", base_ref(environ, cwd)] if env(environ, "EC_VERIFY_SINCE") == "true" else []
    return [*command, "verify", *since, *database_args(environ), *words(environ, "EC_VERIFY_ARGS")]


def rehearse_argv(environ: Mapping[str, str], cwd: Path, command: list[str]) -> list[str]:
    old = ["--old", base_ref(environ, cwd)]
    return [*command, "rehearse", *old, *database_args(environ), *words(environ, "EC_REHEARSE_ARGS")]


ARGV = {"lint": lint_argv, "verify": verify_argv, "rehearse": rehearse_argv}


def lint(environ: Mapping[str, str], cwd: Path, command: list[str]) -> int:
    done = run_cli(lint_argv(environ, cwd, command), cwd, capture=True)
    if done.returncode not in (0, 1):  # bad usage or input: the CLI said why on stderr
        return done.returncode
    try:
        doc = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise InputError("lint printed no JSON on stdout (is the command expandcontract?)") from None
    results = check_sarif(doc)
    rebase_uris(results, cwd.resolve(), repository_root(cwd))
    sarif = Path(env(environ, "EC_SARIF_FILE", "expandcontract.sarif"))
    sarif.parent.mkdir(parents=True, exist_ok=True)
    sarif.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    quality = env(environ, "EC_CODEQUALITY_FILE")
    if quality:
        Path(quality).write_text(json.dumps(code_quality(results), indent=2) + "\n", encoding="utf-8")
    errors = sum(1 for r in results if r.get("level") == "error")
    lines = [summary_line(r) for r in results]
    verdict = f"lint: {errors} errors, {len(results) - errors} warnings; SARIF log in {sarif}"
    print("\n".join([*lines, verdict]))
    append_file(environ, "GITHUB_OUTPUT", f"sarif={sarif}\n")
    listing = "".join(f"- `{line}`\n" for line in lines)
    append_file(environ, "GITHUB_STEP_SUMMARY", f"### expandcontract lint\n\n{verdict}\n\n{listing}\n")
    return done.returncode


def passthrough(step: str) -> Callable[[Mapping[str, str], Path, list[str]], int]:
    def run(environ: Mapping[str, str], cwd: Path, command: list[str]) -> int:
        return run_cli(ARGV[step](environ, cwd, command), cwd).returncode

    return run


RUN = {"lint": lint, "verify": passthrough("verify"), "rehearse": passthrough("rehearse")}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    if len(args) != 1 or args[0] not in STEPS:
        print(f"usage: action.py {{{'|'.join(STEPS)}}}", file=sys.stderr)
        return USAGE
    step = args[0]
    try:
        if step not in selected_steps(environ):
            print(f"{step}: not among the selected steps, skipped", file=sys.stderr)
            return 0
        cwd = Path(env(environ, "EC_WORKING_DIRECTORY", "."))
        if not cwd.is_dir():
            raise InputError(f"working-directory {cwd}: no such directory")
        command = words(environ, "EC_COMMAND") or ["expandcontract"]
        return RUN[step](environ, cwd, command)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE


if __name__ == "__main__":
    sys.exit(main())
