"""Resolving a Sigma field name (a CloudTrail dotted path) to the values a record holds there.

A field can hold several values: every SIEM flattens JSON arrays into multi-valued fields (Splunk multivalue
fields, Elastic arrays), so ``resources.ARN`` holds one value per element of ``resources``. Resolution
therefore returns a list of *leaf values*: arrays met on the way or at the end are walked element by element
and flattened; JSON ``null`` is kept as ``None`` and objects as ``dict`` so that ``null`` and ``exists`` can
tell "absent" from "present but null" and value tests can refuse objects.

A record key may itself contain a dot (rare in CloudTrail, but it happens below ``requestParameters``), so at
every object the resolver tries each way of grouping the remaining path segments into one key:
``a.b.c`` is looked up as ``a`` → ``b`` → ``c``, ``a`` → ``b.c``, ``a.b`` → ``c`` and ``a.b.c``. All the
values found are returned; a test passes when any of them passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

# hunt's native engine evaluates simdjson's lazy records in place (hunt/native.py)
from simdjson import Array as _LazyArray
from simdjson import Object as _LazyObject

from sigma_lambda_layer.evaluator.frozen import rebuild_args

#: What a JSON array and a JSON object can be here: parsed by ``json``, or simdjson's lazy proxies.
LISTS = (list, _LazyArray)
MAPPINGS = (dict, _LazyObject, Mapping)

# Final: the compiled build (mypyc) reads a Final module name from a C static, any other from the module's
# dict. Each type is tested with ``type(x) is``, the common cases first, and ``isinstance`` after.
_MISSING: Final = object()
_LAZY_OBJECT: Final[type] = _LazyObject


@dataclass(frozen=True)
class FieldPath:
    """A dotted field name split once, with the candidate keys precomputed for speed."""

    name: str
    #: ``keys[i]`` lists the keys that start at segment ``i`` with the segment after each:
    #: ``(seg[i], i + 1)``, ``(seg[i].seg[i+1], i + 2)``, ...
    keys: tuple[tuple[tuple[str, int], ...], ...] = field(init=False, repr=False, compare=False)
    #: the key of a field name without a dot (the common case), else None
    single: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments = self.name.split(".")
        keys = tuple(
            tuple((".".join(segments[start:end]), end) for end in range(start + 1, len(segments) + 1))
            for start in range(len(segments))
        )
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "single", segments[0] if len(segments) == 1 else None)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # pickled to the hunt workers
        return rebuild_args(self)

    def values(self, record: Mapping[str, Any]) -> list[Any]:
        """Every leaf value at this path; empty when the record lacks the field."""
        out: list[Any] = []
        single = self.single
        if single is not None:
            kind = type(record)
            if kind is dict:
                value = cast(dict[str, Any], record).get(single, _MISSING)
            elif kind is _LAZY_OBJECT:
                value = record.get(single, _MISSING)
            else:
                self._walk(record, 0, out)
                return out
            if value is not _MISSING:
                _flatten(value, out)
            return out
        self._walk(record, 0, out)
        return out

    def _walk(self, node: Any, start: int, out: list[Any]) -> None:
        keys = self.keys
        if start == len(keys):
            _flatten(node, out)
            return
        kind = type(node)
        if kind is dict:
            plain = cast(dict[str, Any], node)
            for key, end in keys[start]:
                child = plain.get(key, _MISSING)
                if child is not _MISSING:
                    self._walk(child, end, out)
        elif kind is list:
            for element in cast(list[Any], node):
                self._walk(element, start, out)
        elif isinstance(node, LISTS):
            for element in node:
                self._walk(element, start, out)
        elif isinstance(node, MAPPINGS):
            for key, end in keys[start]:
                child = node.get(key, _MISSING)
                if child is not _MISSING:
                    self._walk(child, end, out)


def _flatten(value: Any, out: list[Any]) -> None:
    kind = type(value)
    if kind is str or kind is dict:
        out.append(value)
    elif kind is list:
        for element in cast(list[Any], value):
            _flatten(element, out)
    elif isinstance(value, LISTS):
        for element in value:
            _flatten(element, out)
    else:
        out.append(value)


def scalar_leaves(node: Any, out: list[Any]) -> list[Any]:
    """Every non-null scalar anywhere in ``node`` (what keywords search); keys excluded."""
    if isinstance(node, MAPPINGS):
        for value in node.values():
            scalar_leaves(value, out)
    elif isinstance(node, LISTS):
        for element in node:
            scalar_leaves(element, out)
    elif node is not None:
        out.append(node)
    return out
