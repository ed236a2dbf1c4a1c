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


#: What makes a line a block of its own at its start (after the indentation, which is dropped: four spaces
#: begin a code block): ATX headings, block quotes, list items, setext underlines and rules, ordered list
#: numbers, admonitions (``!!!``), details (``???``) and ``~~~`` fences. A list item's text is a line start too
#: (``- #`` gave ``<li><h1>``). Backslash escapes where Python-Markdown has one, entities elsewhere.
_BLOCK_START: Final = re.compile(r"^(?:([#>+\-!])|([=~?:])|(\d+)([.)]))")


def _inline_line(line: str) -> str:
    line = line.strip(" \t")  # indentation (a code block) and trailing spaces (a hard break) dropped

    def escaped(m: re.Match[str]) -> str:
        if m.group(1):
            return "\\" + m.group(1)
        if m.group(2):
            return f"&#{ord(m.group(2))};"
        return m.group(3) + "\\" + m.group(4)

    return _BLOCK_START.sub(escaped, line, count=1)


def md(text: object, *, block: bool = False) -> str:
    """Rule text as Markdown that shows exactly that text: no emphasis, link, HTML, table break, attribute,
    heading, list, quote or code block.

    The one escaping function for Markdown: every piece of rule text a page shows goes through it (or through
    :func:`code` or :func:`fence`). Line breaks become spaces unless ``block`` (a description's paragraphs);
    every line is read as if it started a block (the callers put text at line starts and in list items), and
    whitespace at line ends and starts, which HTML would not show, is dropped.
    """
    value = str(text).replace("&", "&amp;").replace("\r", " ")
    if not block:
        value = " ".join(value.split("\n"))
    return "\n".join(_inline_line(line) for line in _ESCAPE.sub(r"\\\1", value).split("\n"))


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
