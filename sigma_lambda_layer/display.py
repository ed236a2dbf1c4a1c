"""How conversion results look in Jupyter, and what a batch turns into for pandas.

``results.ConversionResult`` and ``results.ConversionResults`` inherit the mixins below, so that a notebook cell that
ends with ``convert(...)`` shows the query highlighted in its own language (or the error with the rule file,
line and column) and a batch shows as a table. Highlighting uses Pygments when it is installed
(``pygments-lexer-spl`` adds SPL, the ``eql`` package adds EQL) and falls back to plain escaped text, so the
display never fails for want of an optional package. Pygments and pandas are imported only when a result is
displayed.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Final

from sigma_lambda_layer.markdown import code, fence, md
from sigma_lambda_layer.outputs import render

if TYPE_CHECKING:
    from sigma_lambda_layer.errors import SigmaLambdaError
    from sigma_lambda_layer.results import ConversionResult

#: Markdown fence language of structured (non-string) outputs such as siem_rule or query_definition.
STRUCTURED_LANGUAGE: Final = "json"

_STYLE: Final = "default"
_BOX: Final = "border:1px solid #d0d7de;border-radius:6px;padding:0.4em 0.8em;margin:0.3em 0"
_ERROR_BOX: Final = "border:1px solid #cf222e;border-radius:6px;padding:0.4em 0.8em;margin:0.3em 0"
_PRE: Final = "margin:0;white-space:pre-wrap;word-break:break-all"


def target_label(target_id: str) -> str:
    """The registry's display name of a target (the id itself for one the registry does not know)."""
    from sigma_lambda_layer.registry import TARGETS

    target = TARGETS.get(target_id)
    return target.label if target is not None else target_id


def language_of(target_id: str) -> str:
    """The registry's Pygments lexer / fence language of a target's queries (``text`` when unknown)."""
    from sigma_lambda_layer.registry import TARGETS

    target = TARGETS.get(target_id)
    return target.language if target is not None else "text"


def highlight_html(code: str, language: str) -> str:
    """``code`` as a self-contained ``<pre>`` (inline styles: notebooks and GitHub carry no stylesheet)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:
        return f'<pre style="{_PRE}">{html.escape(code)}</pre>'
    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:  # the lexer's plugin package is not installed
        lexer = get_lexer_by_name("text")
    formatter = HtmlFormatter(noclasses=True, style=_quiet_style(), nowrap=True)
    return f'<pre style="{_PRE}">{highlight(code, lexer, formatter).rstrip()}</pre>'


def _quiet_style() -> Any:
    """Pygments' default colours without the red box it draws round tokens a lexer does not know.

    Lexers lag behind query languages (the EQL lexer does not know ``?field``, EQL's optional-field syntax),
    and a boxed character reads as a mistake in a query that is correct.
    """
    from pygments.styles import get_style_by_name
    from pygments.token import Error

    base = get_style_by_name(_STYLE)
    return type("QuietStyle", (base,), {"styles": {**base.styles, Error: ""}})


def _language(result: ConversionResult) -> str:
    return language_of(result.target) if isinstance(result.output, str) else STRUCTURED_LANGUAGE


def _text(result: ConversionResult) -> str:
    return render(result.output)


def short_path(path: str | None) -> str:
    """``path`` relative to the working folder when it lies below it, else its last two parts after ``…/``:
    a table's path column must not crowd out the query."""
    import os

    if not path:
        return ""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        relative = path
    if not relative.startswith(".."):
        return relative
    parts = path.replace("\\", "/").rstrip("/").split("/")
    return path if len(parts) <= 3 else "…/" + "/".join(parts[-2:])


def _location(error: SigmaLambdaError, short: bool = False) -> str:
    if not short:
        return str(error.location)
    where = error.location
    return str(type(where)(short_path(where.path) or None, where.line, where.column))


def _error_html(error: SigmaLambdaError) -> str:
    hint = f"<br><i>hint:</i> {html.escape(error.hint)}" if error.hint else ""
    return (
        f'<div style="{_ERROR_BOX}"><b>{html.escape(type(error).__name__)}</b> at '
        f"<code>{html.escape(_location(error))}</code><br>{html.escape(error.message)}{hint}</div>"
    )


def _heading(result: ConversionResult) -> str:
    name = result.title or result.id or result.path or "rule"
    fmt = "" if result.format == "default" else f", format {result.format}"
    return f"{name} — {target_label(result.target)}{fmt}"


class ResultDisplay:
    """Jupyter display of one :class:`~sigma_lambda_layer.api.ConversionResult`."""

    def _repr_html_(self: Any) -> str:
        result: ConversionResult = self
        heading = f"<div><b>{html.escape(_heading(result))}</b></div>"
        if result.error is not None:
            return heading + _error_html(result.error)
        return heading + f'<div style="{_BOX}">{highlight_html(_text(result), _language(result))}</div>'

    def _repr_markdown_(self: Any) -> str:
        result: ConversionResult = self
        heading = f"**{md(_heading(result))}**\n\n"
        if result.error is not None:
            error = result.error
            hint = f"\n\nhint: {md(error.hint)}" if error.hint else ""
            return (
                heading + f"{code(_location(error))}: **{type(error).__name__}**: {md(error.message)}{hint}\n"
            )
        return heading + fence(_text(result), _language(result)) + "\n"


class ResultsDisplay:
    """Jupyter display of :class:`~sigma_lambda_layer.api.ConversionResults` (a table) and pandas export."""

    def _repr_html_(self: Any) -> str:
        results: list[ConversionResult] = list(self)
        rows = []
        for r in results:
            status = r.status
            cell = _error_html(r.error) if r.error is not None else highlight_html(_text(r), _language(r))
            rule = html.escape(r.title or r.id or "")
            where = html.escape(short_path(r.path))
            rows.append(
                f'<tr><td style="text-align:left">{rule}<br><small><code>{where}</code></small></td>'
                f'<td style="text-align:left">{html.escape(target_label(r.target))}</td>'
                f'<td style="text-align:left">{status}</td>'
                f'<td style="text-align:left;max-width:60em">{cell}</td></tr>'
            )
        summary = _summary(results)
        return (
            f"<div><small>{html.escape(summary)}</small></div><table>"
            '<thead><tr><th style="text-align:left">Rule</th><th style="text-align:left">Target</th>'
            '<th style="text-align:left">Status</th><th style="text-align:left">Query</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def _repr_markdown_(self: Any) -> str:
        results: list[ConversionResult] = list(self)
        lines = [_summary(results), "", "| Rule | Target | Status | Query |", "| --- | --- | --- | --- |"]
        for r in results:
            if r.error is not None:
                cell = f"{code(_location(r.error, short=True))}: {md(r.error.message)}"
            else:
                cell = _code_span(_text(r))
            lines.append(
                f"| {md(r.title or r.id or '')} | {md(target_label(r.target))} | {r.status} | {cell} |"
            )
        return "\n".join(lines) + "\n"

    def to_dataframe(self: Any) -> Any:
        """One row per rule and target: path, id, title, target, format, status (ok, unsupported, error), ok,
        query, error, error_type, line and column (pandas' nullable ``Int64``: no float line numbers).

        pandas is an optional extra: without it this raises :class:`ModuleNotFoundError` saying what to
        install, and everything else still works.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ModuleNotFoundError(
                "ConversionResults.to_dataframe() needs pandas, which is not installed: "
                "pip install pandas (or the package's 'notebook' extra)",
                name="pandas",
            ) from None
        results: list[ConversionResult] = list(self)
        rows = [
            {
                "path": r.path,
                "id": r.id,
                "title": r.title,
                "target": r.target,
                "format": r.format,
                "status": r.status,
                "ok": r.error is None,
                "query": None if r.error is not None else _text(r),
                "error": None if r.error is None else r.error.message,
                "error_type": None if r.error is None else type(r.error).__name__,
                "line": None if r.error is None else r.error.location.line,
                "column": None if r.error is None else r.error.location.column,
            }
            for r in results
        ]
        columns = ["path", "id", "title", "target", "format", "status", "ok", "query", "error", "error_type"]
        frame = pd.DataFrame(rows, columns=[*columns, "line", "column"])
        return frame.astype({"line": "Int64", "column": "Int64"})


def _summary(results: list[ConversionResult]) -> str:
    """The table's caption, in the CLI summary's words (converted, unsupported, failed)."""
    statuses = [r.status for r in results]
    rules = len({(r.path, r.id) for r in results})
    scope = statuses.count("out_of_scope")
    return (
        f"{len(results)} results for {rules} rule(s): {statuses.count('ok')} converted, "
        + (f"{scope} out of scope, " if scope else "")
        + f"{statuses.count('unsupported')} unsupported, {statuses.count('error')} failed"
    )


def _code_span(code: str) -> str:
    """A one-line code span for a table cell: newlines become spaces, pipes are escaped (GFM tables)."""
    import re

    flat = " ".join(code.split("\n")).replace("|", "\\|")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    return f"{ticks} {flat} {ticks}"
