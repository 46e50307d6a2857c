"""JSON for the `.sql` lint path, through CPython's C accelerator (`_json`) without importing `json`.

`import json` imports re, and re imports enum and functools: about 5 ms, a quarter of linting one file.
`_json` is what json itself runs: `loads_first` is `json.JSONDecoder().raw_decode(s)[0]` and `dumps` is
`json.dumps(obj)` with the default settings, byte for byte (tests/test_fastjson.py). Where `_json` is
missing or refuses these arguments (another Python implementation or version), both are json's own.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _Context:
    """The attributes json's C scanner reads from a JSONDecoder (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity: float() reads all three


def _not_serializable(o: object) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _encoder() -> Callable[[Any, int], Any]:
    """A new C encoder: its circular-reference markers must not outlive one document."""
    import _json

    return _json.make_encoder(
        {}, _not_serializable, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )


def _accelerated() -> Callable[[str, int], Any] | None:
    try:
        import _json

        scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed: it reads attributes
        encode = _encoder()
        if scan('{"a": [1, 2.5, "\\u00e9"]}', 0) != ({"a": [1, 2.5, "\u00e9"]}, 25):
            return None
        if "".join(encode({"a": [1, 2.5, "\u00e9", None, True]}, 0)) != '{"a": [1, 2.5, "\\u00e9", null, true]}':
            return None
        return scan
    except Exception:  # no _json, or other arguments: json's own code below
        return None


_FAST = _accelerated()


def loads_first(text: str) -> Any:
    """The JSON value at the start of `text` (pglast's parser output: one document)."""
    if _FAST is None:
        import json

        return json.JSONDecoder().raw_decode(text)[0]
    try:
        return _FAST(text, 0)[0]
    except StopIteration:  # what the C scanner raises for no value: json's error, with its message
        import json

        return json.JSONDecoder().raw_decode(text)[0]


def dumps(obj: Any) -> str:
    """`json.dumps(obj)`."""
    if _FAST is None:
        import json

        return json.dumps(obj)
    return "".join(_encoder()(obj, 0))
