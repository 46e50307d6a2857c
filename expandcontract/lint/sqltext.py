"""Pieces of a statement's source text that fix texts quote (the CHECK expression, the DEFAULT
expression, CREATE INDEX made CONCURRENTLY), found without `re`.

`import re` costs more than linting 50 files (it imports enum and functools), and the `.sql` path
otherwise never needs it. Each function states its meaning as a regular expression (`*_PATTERN`), and
for ASCII text (nearly every migration) finds the same match with str methods on the lower-cased text;
other text goes through the pattern itself, as lower() may change the length of non-ASCII text.
tests/lint/test_sqltext.py checks both paths agree on generated text.
"""

from __future__ import annotations

CHECK_PATTERN = r"(?is)\bcheck\s*(\(.*\))"
CHECK_NOT_VALID_PATTERN = r"(?is)\bcheck\s*(\(.*\))\s*not\s+valid"
INDEX_PATTERN = r"(?i)\bINDEX\b"
DEFAULT_PATTERN = r"(?is)\bdefault\s+(.+?)(?:\s+(?:not\s+null|null|check|references|constraint)\b|\s*;?\s*$)"

_SPACE = " \t\n\r\f\v\x1c\x1d\x1e\x1f"  # what \s matches in ASCII text (str.isspace())
_DEFAULT_ENDS = ("not", "null", "check", "references", "constraint")


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _starts_word(low: str, word: str, at: int) -> bool:
    """`\\bword` at `at` (the character before is not a word character)."""
    return low.startswith(word, at) and (at == 0 or not _word(low[at - 1]))


def _ends_word(low: str, at: int) -> bool:
    """`\\b` after a word that ends before `at`."""
    return at >= len(low) or not _word(low[at])


def _skip_space(text: str, at: int) -> int:
    n = len(text)
    while at < n and text[at] in _SPACE:
        at += 1
    return at


def _occurrences(low: str, word: str) -> list[int]:
    out, at = [], low.find(word)
    while at >= 0:
        if _starts_word(low, word, at):
            out.append(at)
        at = low.find(word, at + 1)
    return out


def check_expr(text: str) -> str | None:
    """The parenthesised expression after the first CHECK (to the last closing parenthesis)."""
    if not text.isascii():
        return _group(CHECK_PATTERN, text)
    low = text.lower()
    last = text.rfind(")")
    for at in _occurrences(low, "check"):
        open_at = _skip_space(text, at + 5)
        if open_at < len(text) and text[open_at] == "(" and last > open_at:
            return text[open_at : last + 1]
    return None


def check_expr_not_valid(text: str) -> str | None:
    """The parenthesised expression of the first `CHECK (...) NOT VALID`, to the last `)` before NOT VALID."""
    if not text.isascii():
        return _group(CHECK_NOT_VALID_PATTERN, text)
    low = text.lower()
    for at in _occurrences(low, "check"):
        open_at = _skip_space(text, at + 5)
        if open_at >= len(text) or text[open_at] != "(":
            continue
        close = text.rfind(")")
        while close > open_at:
            after = _skip_space(text, close + 1)
            if low.startswith("not", after):
                valid = _skip_space(text, after + 3)
                if valid > after + 3 and low.startswith("valid", valid):
                    return text[open_at : close + 1]
            close = text.rfind(")", 0, close)
    return None


def concurrently(text: str) -> str:
    """The statement with its first word INDEX replaced by `INDEX CONCURRENTLY`."""
    if not text.isascii():
        import re

        return re.sub(INDEX_PATTERN, "INDEX CONCURRENTLY", text, count=1)
    low = text.lower()
    for at in _occurrences(low, "index"):
        if _ends_word(low, at + 5):
            return text[:at] + "INDEX CONCURRENTLY" + text[at + 5 :]
    return text


def default_expr(text: str) -> str | None:
    """The expression after the first DEFAULT, up to NOT NULL / NULL / CHECK / REFERENCES / CONSTRAINT
    or the end of the statement."""
    if not text.isascii():
        return _group(DEFAULT_PATTERN, text)
    low = text.lower()
    n = len(text)
    for at in _occurrences(low, "default"):
        start = _skip_space(text, at + 7)
        if start == at + 7:
            continue  # `default` must be followed by white space
        if start == n:  # only white space follows: the lazy group takes its last character
            if start - (at + 7) >= 2:
                return text[n - 1]
            continue
        for end in range(start + 1, n + 1):
            if _default_ends_at(text, low, end):
                return text[start:end]
    return None


def _default_ends_at(text: str, low: str, at: int) -> bool:
    n = len(text)
    after = _skip_space(text, at)
    if after > at:  # \s+ then a keyword that ends a default
        for word in _DEFAULT_ENDS:
            if low.startswith(word, after):
                end = after + len(word)
                if word == "not":
                    null = _skip_space(text, end)
                    if null == end or not low.startswith("null", null):
                        continue
                    end = null + 4
                if _ends_word(low, end):
                    return True
    # \s*;?\s*$ ($: the end, or before a final newline)
    if after < n and text[after] == ";":
        after = _skip_space(text, after + 1)
    return after == n or (after == n - 1 and text[after] == "\n")


def _group(pattern: str, text: str) -> str | None:
    import re

    m = re.search(pattern, text)
    return m.group(1) if m else None
