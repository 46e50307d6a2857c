"""Record (the lint path's value classes without dataclasses): equality and repr by field, derived
views left out, value types hashable, mutable ones not."""

from __future__ import annotations

import pytest

from expandcontract.lint.finding import Finding
from expandcontract.sql.nodes import TypeSpec
from expandcontract.sql.parse import Statement


def test_equality_and_repr_go_by_fields_without_the_hidden_ones() -> None:
    a = Statement("DropStmt", {"x": 1}, "DROP TABLE t", 1, 1)
    b = Statement("DropStmt", {"x": 1}, "DROP TABLE t", 1, 1)
    b.cache["cmds"] = []
    assert a == b and "cache" not in repr(b) and "kind='DropStmt'" in repr(a)
    assert a != Statement("DropStmt", {"x": 1}, "DROP TABLE t", 2, 1)
    assert a != ("DropStmt", {"x": 1})
    f = Finding("m.sql", 1, 1, "drop-table", "error", "m")
    assert f == Finding("m.sql", 1, 1, "drop-table", "error", "m", fix=[])
    assert f.fix == [] and f.fix is not Finding("m.sql", 1, 1, "drop-table", "error", "m").fix


def test_value_types_hash_by_value_and_mutable_ones_refuse() -> None:
    assert {TypeSpec("varchar", (20,)): 1}[TypeSpec("varchar", (20,))] == 1
    assert TypeSpec("varchar", (20,)) != TypeSpec("varchar", (30,))
    with pytest.raises(TypeError):
        hash(Finding("m.sql", 1, 1, "drop-table", "error", "m"))
