"""Hypothesis strategies for hostile input: SQL-ish text built from the tokens migrations are made of,
TOML-ish config documents built from our own keys, and raw bytes."""

from __future__ import annotations

import dataclasses
import os
import typing

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from expandcontract.config import Config

EXAMPLES = int(os.environ.get("EXPANDCONTRACT_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SQL_TOKENS = [
    "ALTER TABLE",
    "users",
    "orders",
    '"Weird ""name"""',
    "public.users",
    "ADD COLUMN",
    "DROP COLUMN",
    "email",
    "text",
    "bigint",
    "int",
    "NOT NULL",
    "DEFAULT",
    "now()",
    "gen_random_uuid()",
    "CREATE",
    "UNIQUE",
    "INDEX",
    "CONCURRENTLY",
    "IF NOT EXISTS",
    "ON",
    "(",
    ")",
    ",",
    ";",
    "SET NOT NULL",
    "ADD CONSTRAINT",
    "CHECK",
    "NOT VALID",
    "VALIDATE CONSTRAINT",
    "FOREIGN KEY",
    "REFERENCES",
    "RENAME COLUMN",
    "TO",
    "TYPE",
    "USING",
    "DROP TABLE",
    "TRUNCATE",
    "UPDATE",
    "SET",
    "=",
    "WHERE",
    "id",
    "1",
    "'x'",
    "''",
    "'",
    "$$",
    "$tag$",
    "DO",
    "BEGIN",
    "END",
    "COMMIT",
    "ROLLBACK",
    "LOCK TABLE",
    "IN ACCESS EXCLUSIVE MODE",
    "VACUUM FULL",
    "CLUSTER",
    "REINDEX",
    "-- comment\n",
    "/*",
    "*/",
    "/* c */",
    "\n",
    "\t",
    " ",
    "\x00",
    "\ufeff",
    "é",
    "😀",
    "-- expandcontract:ignore set-not-null\n",
    "-- expandcontract:ignore",
    "E'\\\\'",
    "U&'\\0041'",
    "::",
    "[",
    "]",
    "PARTITION OF",
    "DETACH PARTITION",
    "ATTACH PARTITION",
    "GENERATED ALWAYS AS",
    "STORED",
    "SERIAL",
    "CREATE TRIGGER",
    "CREATE FUNCTION",
    "RETURNS trigger",
    "LANGUAGE plpgsql",
    "AS",
    "EXECUTE",
    "PERFORM",
]

sql_text = st.one_of(
    st.lists(st.sampled_from(SQL_TOKENS), max_size=60).map(" ".join),
    st.lists(st.one_of(st.sampled_from(SQL_TOKENS), st.text(max_size=8)), max_size=40).map("".join),
    st.text(max_size=300),
)


def _keys() -> dict[str, list[str]]:
    """Every section of the config and its keys (so the fuzzer mostly reaches the value checks)."""
    hints = typing.get_type_hints(Config)
    out: dict[str, list[str]] = {"": [f.name for f in dataclasses.fields(Config) if f.name not in ("root", "source")]}
    for f in dataclasses.fields(Config):
        if dataclasses.is_dataclass(hints[f.name]):
            out[f.name] = [g.name for g in dataclasses.fields(hints[f.name])]
    return out


KEYS = _keys()

toml_values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["0", "-0", "1", "-1", "2147483647", "2147483648", "9223372036854775807", "1e308", "-1e-308"]),
    st.sampled_from(["nan", "inf", "-inf", "+nan", "1.5", "0.0", "-0.0", "true", "false", "[]", "{}", "''"]),
    st.floats(allow_nan=True, allow_infinity=False).map(repr),
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.lists(st.integers(min_value=-5, max_value=5).map(str), max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(st.text(alphabet="abc-", max_size=4).map(lambda s: f'"{s}"'), max_size=3).map(
        lambda xs: "[" + ", ".join(xs) + "]"
    ),
    st.sampled_from(["{kind = 'Deployment', name = 'web'}", "[{kind = 'Deployment', name = 'w'}]", "[{}]"]),
    st.text(max_size=10),  # often not TOML at all
)


@st.composite
def config_documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        section = draw(st.sampled_from([*KEYS, "bogus", "ddl.inner"]))
        header = "[tool.expandcontract]" if section == "" else f"[tool.expandcontract.{section}]"
        if draw(st.booleans()) or not lines:
            lines.append(header)
        keys = KEYS.get(section) or ["x"]
        for _ in range(draw(st.integers(min_value=0, max_value=5))):
            key = draw(st.one_of(st.sampled_from(keys), st.sampled_from(keys), st.text(alphabet="abcz_", max_size=6)))
            lines.append(f"{key or 'k'} = {draw(toml_values)}")
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        lines.append(draw(st.text(max_size=20)))  # trailing junk
    return "\n".join(lines) + "\n"
