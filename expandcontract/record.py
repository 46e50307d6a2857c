"""`Record`: the base of the small value classes on the `lint FILE.sql` path (findings, statements, the
lint context).

They would be dataclasses, but `import dataclasses` imports inspect, ast, dis and tokenize: 15-20 ms of
the 60 ms a one-file lint may take in an editor or pre-commit hook. Each class writes its `__init__`
with `__slots__`; Record adds what @dataclass would generate besides: `repr` and field-by-field `==`
over `__slots__` (minus the names in `_hidden`, derived views that are not part of the value).
"""

from __future__ import annotations


class Record:
    __slots__ = ()
    _hidden: tuple[str, ...] = ()

    def _names(self) -> list[str]:
        slots: tuple[str, ...] = type(self).__slots__
        return [name for name in slots if name not in self._hidden]

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    # defining __eq__ leaves __hash__ None, as for a non-frozen dataclass; value types define their own
