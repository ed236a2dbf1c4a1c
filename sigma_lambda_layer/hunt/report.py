"""The hunt's HTML: a notebook table and a self-contained report page.

The report is one file with inline CSS and inline SVG (no script, no font, no network), so it opens offline
and in a locked-down browser. Every piece of rule or record text goes through ``html.escape``: rule titles
and CloudTrail values are attacker-influenced (a user agent, a bucket name), and a report must not run them.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sigma_lambda_layer.hunt import HuntResult, RuleSummary

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;
vertical-align:top} th{background:#f6f8fa} .n{text-align:right} .err{color:#cf222e}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:12px} details{margin:.1em 0}
svg{background:#f6f8fa;border:1px solid #d0d7de}
"""
_WIDTH, _HEIGHT, _BUCKETS = 600, 60, 48
#: Hits listed per rule (the timeline and the counts cover all of them); the rest are in ``--output``.
REPORT_HITS_PER_RULE = 500


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment[:-1] + "+00:00" if moment.endswith("Z") else moment)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def timeline_svg(times: list[datetime], start: datetime, end: datetime) -> str:
    """Hits per time bucket between ``start`` and ``end`` as an inline SVG bar chart."""
    span = max((end - start).total_seconds(), 1.0)
    counts = Counter(min(int((t - start).total_seconds() / span * _BUCKETS), _BUCKETS - 1) for t in times)
    peak = max(counts.values(), default=1)
    width = _WIDTH / _BUCKETS
    bars = "".join(
        f'<rect x="{b * width:.1f}" y="{_HEIGHT - n / peak * (_HEIGHT - 4):.1f}" width="{width - 1:.1f}" '
        f'height="{n / peak * (_HEIGHT - 4):.1f}" fill="#0969da"><title>{n} hit(s)</title></rect>'
        for b, n in sorted(counts.items())
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" role="img" '
        f'aria-label="hits over time">{bars}</svg>'
        f"<div><small>{_e(start.isoformat())} .. {_e(end.isoformat())} (peak {peak} per bucket)</small></div>"
    )


def _record_cell(event_id: str | None, record: str | None) -> str:
    if record is None:
        return _e(event_id or "")
    text = json.dumps(json.loads(record), indent=2, ensure_ascii=False)
    return f"<details><summary>{_e(event_id or 'record')}</summary><pre>{_e(text)}</pre></details>"


def _tops(pairs: tuple[tuple[str, int], ...]) -> str:
    return "<br>".join(f"{_e(p)} ({n})" for p, n in pairs)


def _summary_rows(summaries: list[RuleSummary]) -> str:
    return "".join(
        f"<tr><td>{_e(s.title)}</td><td>{_e(s.level or '')}</td><td class=n>{s.hits}</td>"
        f"<td>{_e(s.first_seen or '')}</td><td>{_e(s.last_seen or '')}</td>"
        f"<td>{_tops(s.top_principals)}</td><td>{_tops(s.top_source_ips)}</td></tr>"
        for s in sorted(summaries, key=lambda s: -s.hits)
    )


_SUMMARY_HEAD = (
    "<tr><th>rule</th><th>level</th><th>hits</th><th>first seen</th><th>last seen</th>"
    "<th>top principals</th><th>top source IPs</th></tr>"
)


def summary_table(result: HuntResult) -> str:
    """The notebook display: the counts, one row per rule, and the errors."""
    scope = f"{result.records} record(s), {result.files} file(s)" if result.athena is None else result.scope()
    head = f"<div><b>{_e(scope)}, {len(result.rules)} rule(s): {len(result.hits)} hit(s)</b></div>"
    errors = "".join(f"<li class=err>{_e(err)}</li>" for err in result.errors)
    return f"{head}<table>{_SUMMARY_HEAD}{_summary_rows(result.summaries())}</table>" + (
        f"<ul>{errors}</ul>" if errors else ""
    )


def _queries_table(result: HuntResult) -> str:
    """``--engine athena``: one row per query (its rules, state, bytes scanned, engine time)."""
    if result.athena is None:
        return ""
    rows = "".join(
        f"<tr><td class=n>{q.batch}</td><td>{_e(q.execution_id or '-')}</td><td>{_e(q.state)}</td>"
        f"<td class=n>{len(q.rules)}</td><td class=n>{q.bytes_scanned}</td><td class=n>{q.engine_ms / 1000:.1f}</td>"
        f"<td class=n>{q.rows}</td><td>{_e(q.reason or '')}</td></tr>"
        for q in result.athena.queries
    )
    return (
        "<h2>Athena queries</h2><table><tr><th>query</th><th>execution id</th><th>state</th><th>rules</th>"
        f"<th>bytes scanned</th><th>engine s</th><th>rows</th><th>reason</th></tr>{rows}</table>"
    )


def html_report(result: HuntResult) -> str:
    """The ``--report`` page."""
    summaries = result.summaries()
    times = [t for t in (_parse(h.event_time) for h in result.hits) if t is not None]
    start, end = (min(times), max(times)) if times else (None, None)
    sections = []
    for index, summary in enumerate(s for s in summaries if s.hits):
        hits = [
            h
            for h in result.hits
            if (h.rule_title, h.rule_id, h.rule_path) == (summary.title, summary.id, summary.path)
        ]
        rule_times = [t for t in (_parse(h.event_time) for h in hits) if t is not None]
        chart = timeline_svg(rule_times, start, end) if start is not None and end is not None else ""
        rows = "".join(
            f"<tr><td>{_e(h.event_time)}</td><td>{_e(h.event_source)}</td><td>{_e(h.event_name)}</td>"
            f"<td>{_e(h.principal)}</td><td>{_e(h.source_ip)}</td><td>{_e(h.aws_region)}</td>"
            f"<td>{_e(h.file)}</td><td>{_record_cell(h.event_id, h.record)}</td></tr>"
            for h in hits[:REPORT_HITS_PER_RULE]
        )
        if len(hits) > REPORT_HITS_PER_RULE:
            rows += (
                f"<tr><td colspan=8>... and {len(hits) - REPORT_HITS_PER_RULE} more hit(s): "
                "see the --output file</td></tr>"
            )
        sections.append(
            f'<section id="rule-{index}"><h2>{_e(summary.title)} <small>({summary.hits} hit(s), '
            f"{_e(summary.level or 'no level')})</small></h2><div><small>{_e(summary.path or '')}</small></div>"
            f"{chart}<table><tr><th>eventTime</th><th>eventSource</th><th>eventName</th><th>principal</th>"
            f"<th>sourceIPAddress</th><th>region</th><th>file</th><th>record</th></tr>{rows}</table></section>"
        )
    errors = "".join(f"<li class=err>{_e(err)}</li>" for err in result.errors)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>sigma-lambda hunt report</title><style>{_CSS}</style></head><body>"
        f"<h1>sigma-lambda hunt</h1><p>{_e(result.scope())}, "
        f"{len(result.rules)} rule(s), {len(result.hits)} hit(s), {result.seconds:.1f} s.</p>"
        f"<h2>Rules</h2><table>{_SUMMARY_HEAD}{_summary_rows(summaries)}</table>"
        + _queries_table(result)
        + (f"<h2>Errors</h2><ul>{errors}</ul>" if errors else "")
        + "".join(sections)
        + "</body></html>"
    )
