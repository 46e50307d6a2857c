"""Ignore comments and `ec_safety_assured`: every ignore needs a reason, and an ignore that suppresses
nothing is itself reported (`unused-ignore`), so stale ignores cannot pile up and hide new problems.

`-- expandcontract: ignore[rule-a,rule-b] reason` (SQL) or `# expandcontract: ignore[...] reason`
(Python) applies to the next statement or op: the first line after the comment that is neither blank nor
a comment. `ignore-file[...]` applies to the whole file.
"""

from __future__ import annotations

from expandcontract.lint.finding import Finding
from expandcontract.record import Record

_PATTERN = r"^(?:--|#|/\*)\s*expandcontract:\s*(ignore|ignore-file)\[([^\]]*)\]\s*(.*?)\s*(?:\*/)?\s*$"


class Ignore(Record):
    __slots__ = ("line", "reason", "rules", "source", "target", "used")

    def __init__(
        self,
        line: int,  # where the comment is
        target: int | None,  # the line it applies to (None: the whole file)
        rules: tuple[str, ...],
        reason: str,
        used: set[str] | None = None,
        source: str = "comment",
    ) -> None:
        self.line = line
        self.target = target
        self.rules = rules
        self.reason = reason
        self.used = used if used is not None else set()
        self.source = source


def _sql_comments(text: str) -> list[tuple[int, int, str]]:
    """(line, column, text) of each SQL comment, found by PostgreSQL's scanner (so `--` inside a string
    is not a comment)."""
    from pglast.parser import scan

    data = text.encode("utf-8")
    try:
        tokens = scan(text)
    except Exception:  # unscannable SQL: it is a syntax-error finding anyway
        return []
    out = []
    for tok in tokens:
        if tok.name in ("SQL_COMMENT", "C_COMMENT"):
            before = data[: tok.start]
            line = before.count(b"\n") + 1
            col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
            out.append((line, col, data[tok.start : tok.end + 1].decode("utf-8", "replace")))
    return out


def _python_comments(text: str) -> list[tuple[int, int, str]]:
    import io
    import tokenize

    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                out.append((tok.start[0], tok.start[1] + 1, tok.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def find_ignores(text: str, skip: tuple[int, int] | None = None, python: bool = False) -> list[Ignore]:
    """Ignores in the comments of `text` (SQL, or Python when `python`); comments in the line range
    `skip` (a revision's downgrade()) are not looked at."""
    if "expandcontract:" not in text:
        return []
    import re  # only for text that has an ignore comment: `re` costs more than linting 50 files

    pattern = re.compile(_PATTERN, re.S)
    lines = text.splitlines()
    out: list[Ignore] = []
    for line_no, col, comment in _python_comments(text) if python else _sql_comments(text):
        if skip is not None and skip[0] <= line_no <= skip[1]:
            continue
        m = pattern.match(comment.strip())
        if not m:
            continue
        rules = tuple(r.strip() for r in m.group(2).split(",") if r.strip())
        target: int | None = None
        if m.group(1) == "ignore" and lines[line_no - 1][: col - 1].strip():
            target = line_no  # a trailing comment applies to its own line
        elif m.group(1) == "ignore":
            target = line_no + 1
            for j in range(line_no, len(lines)):
                stripped = lines[j].strip()
                if stripped and not stripped.startswith(("--", "#", "/*")):
                    target = j + 1
                    break
        out.append(Ignore(line_no, target, rules, m.group(3).strip()))
    return out


def apply_ignores(
    findings: list[Finding],
    ignores: list[Ignore],
    path: str,
    unused_enabled: bool,
    unused_severity: str,
    reasonless_severity: str,
) -> list[Finding]:
    """Drop suppressed findings; add ignore-without-reason and unused-ignore findings."""
    kept: list[Finding] = []
    valid = [ig for ig in ignores if ig.reason]
    for f in findings:
        suppressed = False
        for ig in valid:
            if f.rule in ig.rules and (ig.target is None or ig.target == f.line):
                ig.used.add(f.rule)
                suppressed = True
        if not suppressed:
            kept.append(f)
    for ig in ignores:
        where = "ec_safety_assured" if ig.source == "safety_assured" else "ignore comment"
        if not ig.reason:
            kept.append(
                Finding(
                    path,
                    ig.line,
                    1,
                    "ignore-without-reason",
                    reasonless_severity,
                    f"{where} for {', '.join(ig.rules)} has no reason, so it suppresses nothing",
                    fix=[f"Say why it is safe: `expandcontract: ignore[{','.join(ig.rules)}] <reason>`."],
                )
            )
            continue
        if unused_enabled:
            for rule in ig.rules:
                if rule not in ig.used:
                    kept.append(
                        Finding(
                            path,
                            ig.line,
                            1,
                            "unused-ignore",
                            unused_severity,
                            f"{where} for {rule} suppresses nothing",
                            fix=[f"Remove {rule} from this {where}."],
                        )
                    )
    return kept
