"""Findings -> text | json | sarif | github. One renderer per format, all from the same Finding fields.

Text follows squawk / strong_migrations: the greppable first line `path:line:col: rule-id message`, then
the lock and what it blocks, why, and the numbered fix in the user's own names.
"""

from __future__ import annotations

from expandcontract.fastjson import dumps
from expandcontract.lint.finding import Finding

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def render(
    fmt: str, findings: list[Finding], files: int, not_analysable: int = 0, json_tail: Sequence[str] = ()
) -> str:
    """`json_tail`: findings after `findings`, already rendered by json_findings() (forked workers)."""
    if fmt == "json":
        pieces = [p for p in (json_findings(findings), *json_tail) if p]
        # what dumps({"files": ..., "findings": [...], "not_analysable": ...}) prints, pieces and all
        return f'{{"files": {int(files)}, "findings": [{", ".join(pieces)}], "not_analysable": {int(not_analysable)}}}'
    if json_tail:
        raise ValueError(f"findings rendered as JSON cannot be printed as {fmt}")
    if fmt == "sarif":
        import json

        return json.dumps(sarif(findings), indent=2)
    if fmt == "github":
        return github(findings)
    return text(findings, files, not_analysable)


def json_findings(findings: list[Finding]) -> str:
    """The findings as the JSON document lists them, without the brackets ("" for none)."""
    return dumps([f.to_dict() for f in findings])[1:-1]


def text(findings: list[Finding], files: int, not_analysable: int = 0) -> str:
    out: list[str] = []
    for f in findings:
        out.append(f"{f.path}:{f.line}:{f.column}: {f.rule} {f.message}")
        if f.lock:
            out.append(f"  lock: {f.lock}")
        if f.why:
            out.append(f"  why: {f.why}")
        if f.direction == "downgrade":
            out.append("  in: downgrade()")
        if f.fix:
            out.append("  fix:")
            out.extend(f"    {i}. {step}" for i, step in enumerate(f.fix, 1))
        out.append("")
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    noun = "file" if files == 1 else "files"
    unseen = f"; {not_analysable} place(s) could not be analysed offline" if not_analysable else ""
    if findings:
        out.append(f"{files} {noun} linted: {errors} error(s), {warnings} warning(s){unseen}")
    else:
        out.append(f"{files} {noun} linted: no problems")
    return "\n".join(out)


def _escape(value: str, props: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if props:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(findings: list[Finding]) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for f in findings:
        level = "error" if f.severity == "error" else "warning"
        body = f.message
        if f.lock:
            body += f"\nlock: {f.lock}"
        body += "".join(f"\n{i}. {s}" for i, s in enumerate(f.fix, 1))
        props = f"file={_escape(f.path, True)},line={f.line},col={f.column},title={_escape(f.rule, True)}"
        lines.append(f"::{level} {props}::{_escape(body)}")
    return "\n".join(lines)


def sarif(findings: list[Finding]) -> dict[str, Any]:
    from expandcontract import __version__
    from expandcontract.lint.registry import all_rules

    rules = all_rules()
    used = sorted({f.rule for f in findings})
    index = {rid: i for i, rid in enumerate(used)}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "expandcontract",
                        "version": __version__,
                        "informationUri": "https://github.com/expandcontract/expandcontract",
                        "rules": [
                            {
                                "id": rid,
                                "shortDescription": {"text": rules[rid].summary or rid},
                                "fullDescription": {"text": rules[rid].why},
                                "help": {"text": rules[rid].docs(), "markdown": rules[rid].docs()},
                                "defaultConfiguration": {"level": rules[rid].severity},
                            }
                            for rid in used
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.rule,
                        "ruleIndex": index[f.rule],
                        "level": "error" if f.severity == "error" else "warning",
                        "message": {
                            "text": f.message
                            + (f"\nlock: {f.lock}" if f.lock else "")
                            + "".join(f"\n{i}. {s}" for i, s in enumerate(f.fix, 1))
                        },
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.path.removeprefix("./")},
                                    "region": {"startLine": f.line, "startColumn": f.column},
                                }
                            }
                        ],
                    }
                    for f in findings
                ],
            }
        ],
    }
