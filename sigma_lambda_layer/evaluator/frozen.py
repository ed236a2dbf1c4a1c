"""Pickling the evaluator's frozen dataclasses by their constructor.

The native hunt engine pickles the compiled rules to its worker processes. Where these modules are compiled
with mypyc (a release build, see docs/hunt.md), a frozen dataclass cannot be unpickled the default way
(its ``__setstate__`` assigns to frozen fields), so each tree class rebuilds itself from its fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def rebuild_args(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    """``obj.__reduce__()`` of a dataclass: its class and the values of its ``__init__`` fields."""
    return type(obj), tuple(getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init)
