"""fastjson is json, byte for byte: what the `.sql` lint path decodes from pglast and prints."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expandcontract import fastjson

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def test_the_c_accelerator_is_in_use() -> None:
    assert fastjson._FAST is not None  # CPython: the point of the module


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_dumps_is_json_dumps(value: object) -> None:
    assert fastjson.dumps(value) == json.dumps(value)


@settings(max_examples=500, deadline=None)
@given(VALUES, st.sampled_from(["", " ", "\n", " trailing"]))
def test_loads_first_is_raw_decode(value: object, after: str) -> None:
    text = json.dumps(value) + after
    assert repr(fastjson.loads_first(text)) == repr(json.JSONDecoder().raw_decode(text)[0])


def test_what_json_refuses_it_refuses_alike() -> None:
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        fastjson.dumps({"a": object()})
    with pytest.raises(json.JSONDecodeError):
        fastjson.loads_first("  {}")  # raw_decode reads no leading white space either
    circular: list[object] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        fastjson.dumps(circular)
    assert fastjson.dumps([1, [2]]) == "[1, [2]]"  # a failed document leaves nothing behind
