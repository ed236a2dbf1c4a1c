"""Markdown text that shows exactly what it holds: escaped plain text and fenced code.

Shared by the rule pages (:mod:`sigma_lambda_layer.pages`) and the notebook display
(:mod:`sigma_lambda_layer.display`), so that neither imports the other.
"""

from __future__ import annotations

import re
from typing import Final

#: Characters with a meaning in (GitHub-flavoured) Markdown, escaped with a backslash by :func:`md`.
_ESCAPE: Final = re.compile(r"([\\`*_\[\]<>|])")


def md(text: object) -> str:
    """Plain text as Markdown that shows exactly that text (no emphasis, links, HTML or table breaks)."""
    return _ESCAPE.sub(r"\\\1", str(text))


def fence(code: str, language: str = "") -> str:
    """A fenced code block long enough that no backtick run inside ``code`` can close it."""
    runs = [len(m) for m in re.findall(r"`+", code)]
    ticks = "`" * max(3, max(runs, default=0) + 1)
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"
