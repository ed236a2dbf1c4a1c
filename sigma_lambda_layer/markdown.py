"""Markdown text that shows exactly what it holds: escaped plain text, inline code and fenced code.

The one escaping for Markdown output (docs/hostile-input.md): every piece of rule text a page or the
notebook display shows goes through :func:`md`, :func:`code` or :func:`fence`.

Shared by the rule pages (:mod:`sigma_lambda_layer.pages`) and the notebook display
(:mod:`sigma_lambda_layer.display`), so that neither imports the other.
"""

from __future__ import annotations

import re
from typing import Final

#: Characters Python-Markdown gives a meaning inline: emphasis, code, links, HTML, tables and ``{...}``, which
#: attr_list reads as attributes (``# Title {: onclick=... }`` gave ``<h1 onclick>``). Each is a backslash
#: escape Python-Markdown knows (``markdown.inlinepatterns``' ESCAPED_CHARS) or, for ``&``, an entity.
_ESCAPE: Final = re.compile(r"([\\`*_\[\]<>|{}])")


def md(text: object, *, block: bool = False) -> str:
    """Rule text as Markdown that shows exactly that text: no emphasis, link, HTML, table break or attribute.

    The one escaping function for Markdown: every piece of rule text a page shows goes through it (or through
    :func:`code` or :func:`fence`). Line breaks become spaces unless ``block`` (a description's paragraphs).
    """
    value = str(text).replace("&", "&amp;")
    if not block:
        value = " ".join(value.split("\n")).replace("\r", " ")
    return _ESCAPE.sub(r"\\\1", value)


def code(text: object) -> str:
    """Rule text as inline code: a code span, or ``<code>`` with every special character an entity.

    A Markdown code span closes at the first backtick run of its own length, so a backtick in a tag or file
    name broke out into ``<img src=x onerror=...>``; raw HTML with entities cannot be closed or re-read by
    attr_list or the table extension.
    """
    value = " ".join(str(text).splitlines())
    if not re.search(r"[`|<>&]", value) and value.strip() == value and value:
        return f"`{value}`"  # nothing inside a code span is read as Markdown but its closing backticks
    escaped = "".join(f"&#{ord(ch)};" if ch in "&<>\"'`|{}\\*_[]" else ch for ch in value)
    return f"<code>{escaped}</code>"


def fence(code: str, language: str = "") -> str:
    """A fenced code block long enough that no backtick run inside ``code`` can close it."""
    runs = [len(m) for m in re.findall(r"`+", code)]
    ticks = "`" * max(3, max(runs, default=0) + 1)
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"
