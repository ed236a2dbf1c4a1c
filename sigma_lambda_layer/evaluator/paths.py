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
from typing import Any


@dataclass(frozen=True)
class FieldPath:
    """A dotted field name split once, with the candidate keys precomputed for speed."""

    name: str
    #: ``keys[i]`` lists the keys that start at segment ``i``: ``seg[i]``, ``seg[i].seg[i+1]``, ...
    keys: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments = self.name.split(".")
        keys = tuple(
            tuple(".".join(segments[start:end]) for end in range(start + 1, len(segments) + 1))
            for start in range(len(segments))
        )
        object.__setattr__(self, "keys", keys)

    def values(self, record: Mapping[str, Any]) -> list[Any]:
        """Every leaf value at this path; empty when the record lacks the field."""
        out: list[Any] = []
        self._walk(record, 0, out)
        return out

    def _walk(self, node: Any, start: int, out: list[Any]) -> None:
        if start == len(self.keys):
            _flatten(node, out)
        elif isinstance(node, list):
            for element in node:
                self._walk(element, start, out)
        elif isinstance(node, Mapping):
            for length, key in enumerate(self.keys[start], start=1):
                if key in node:
                    self._walk(node[key], start + length, out)


def _flatten(value: Any, out: list[Any]) -> None:
    if isinstance(value, list):
        for element in value:
            _flatten(element, out)
    else:
        out.append(value)


def scalar_leaves(node: Any, out: list[Any]) -> list[Any]:
    """Every non-null scalar anywhere in ``node`` (what keywords search); keys excluded."""
    if isinstance(node, Mapping):
        for value in node.values():
            scalar_leaves(value, out)
    elif isinstance(node, list):
        for element in node:
            scalar_leaves(element, out)
    elif node is not None:
        out.append(node)
    return out
