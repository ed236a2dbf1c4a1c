"""Jupyter display of conversion results (``sigma_lambda_layer.display``) and the pandas export."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

from sigma_lambda_layer.api import ConversionResult, ConversionResults
from sigma_lambda_layer.display import ResultDisplay, ResultsDisplay, highlight_html
from sigma_lambda_layer.errors import Location, UnsupportedFieldError

REPO = Path(__file__).resolve().parents[1]
SPL = (
    'sourcetype=aws:cloudtrail eventSource="lambda.amazonaws.com" eventName="UpdateFunctionConfiguration*"'
)
ESQL = 'from logs-aws.cloudtrail-* | where TO_LOWER(event.provider) == "lambda.amazonaws.com"'


def _ok(target: str, output: str) -> ConversionResult:
    return ConversionResult("rules/r.yml", "id-1", "Layer <attached>", target, "default", output=output)


def _failed() -> ConversionResult:
    error = UnsupportedFieldError(
        "field 'x.y' is a sub-field of a 'flattened' field",
        location=Location("rules/r.yml", 30, 9),
        hint="use the lucene target",
    )
    return ConversionResult("rules/r.yml", "id-1", "Layer <attached>", "eql", "default", error=error)


def _text_of(markup: str) -> str:
    """What a reader sees in an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_display_html_single_result_is_highlighted_and_lossless() -> None:
    markup = ResultDisplay._repr_html_(_ok("splunk", SPL))
    assert markup.startswith("<div><b>Layer &lt;attached&gt; — Splunk SPL</b></div>")
    code = markup.split("<pre", 1)[1]
    assert "color:" in code  # Pygments coloured it
    assert _text_of("<pre" + code) == SPL


def test_display_markdown_single_result_fenced_in_its_language() -> None:
    assert ResultDisplay._repr_markdown_(_ok("splunk", SPL)) == (
        f"**Layer \\<attached\\> — Splunk SPL**\n\n```spl\n{SPL}\n```\n"
    )
    assert "```sql\n" in ResultDisplay._repr_markdown_(_ok("esql", ESQL))
    assert "```text\n" in ResultDisplay._repr_markdown_(_ok("cloudwatch", "filter a = 1"))


def test_display_structured_output_as_json() -> None:
    result = ConversionResult("r.yml", "i", "T", "cloudwatch", "query_definition", output={"name": "T"})
    assert ResultDisplay._repr_markdown_(result) == (
        '**T — CloudWatch Logs Insights, format query\\_definition**\n\n```json\n{\n  "name": "T"\n}\n```\n'
    )


def test_display_error_shows_rule_location_and_hint() -> None:
    markup = ResultDisplay._repr_html_(_failed())
    text = _text_of(markup)
    assert "UnsupportedFieldError at rules/r.yml:30:9" in text
    assert "field 'x.y' is a sub-field of a 'flattened' field" in text
    assert "hint: use the lucene target" in text
    assert ResultDisplay._repr_markdown_(_failed()) == (
        "**Layer \\<attached\\> — Elastic EQL**\n\n"
        "`rules/r.yml:30:9`: **UnsupportedFieldError**: field 'x.y' is a sub-field of a 'flattened' field"
        "\n\nhint: use the lucene target\n"
    )


def test_display_batch_html_table() -> None:
    batch = ConversionResults([_ok("splunk", SPL), _failed()])
    markup = ResultsDisplay._repr_html_(batch)
    assert markup.startswith(
        "<div><small>2 results for 1 rule(s): 1 converted, 1 unsupported, 0 failed</small></div><table>"
    )
    rows = re.findall(r"<tr>.*?</tr>", markup, flags=re.S)
    assert len(rows) == 3  # header + one per result
    assert [re.findall(r"<td[^>]*>(ok|unsupported|error)</td>", row) for row in rows[1:]] == [
        ["ok"],
        ["unsupported"],
    ]
    assert "rules/r.yml:30:9" in rows[2]


def test_display_batch_markdown_table_escapes_pipes() -> None:
    batch = ConversionResults([_ok("esql", ESQL), _failed()])
    assert ResultsDisplay._repr_markdown_(batch).splitlines() == [
        "2 results for 1 rule(s): 1 converted, 1 unsupported, 0 failed",
        "",
        "| Rule | Target | Status | Query |",
        "| --- | --- | --- | --- |",
        "| Layer \\<attached\\> | Elastic ES\\|QL | ok | ` " + ESQL.replace("|", "\\|") + " ` |",
        "| Layer \\<attached\\> | Elastic EQL | unsupported "
        "| `rules/r.yml:30:9`: field 'x.y' is a sub-field of a 'flattened' field |",
    ]


def test_display_to_dataframe_rows() -> None:
    pytest.importorskip("pandas", reason="pandas is an optional extra")
    frame = ResultsDisplay.to_dataframe(ConversionResults([_ok("splunk", SPL), _failed()]))
    assert list(frame.columns) == [
        "path",
        "id",
        "title",
        "target",
        "format",
        "status",
        "ok",
        "query",
        "error",
        "error_type",
        "line",
        "column",
    ]
    assert frame["target"].tolist() == ["splunk", "eql"]
    assert frame["ok"].tolist() == [True, False]
    assert frame.loc[0, "query"] == SPL
    assert frame.loc[1, "error_type"] == "UnsupportedFieldError"
    assert frame.loc[1, "line"] == 30
    assert frame["status"].tolist() == ["ok", "unsupported"]
    assert str(frame["line"].dtype) == str(frame["column"].dtype) == "Int64"  # no float line numbers
    assert frame["line"].isna().tolist() == [True, False]


def test_display_to_dataframe_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(
        ModuleNotFoundError, match=r"needs pandas, which is not installed: pip install pandas"
    ):
        ResultsDisplay.to_dataframe(ConversionResults([_ok("splunk", SPL)]))


def test_display_without_pygments_falls_back_to_escaped_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygments", None)
    assert highlight_html('a="<b>"', "spl") == (
        '<pre style="margin:0;white-space:pre-wrap;word-break:break-all">a=&quot;&lt;b&gt;&quot;</pre>'
    )


def test_display_unknown_lexer_is_plain_text() -> None:
    markup = highlight_html("x <y>", "no-such-language")
    assert _text_of(markup) == "x <y>"
    assert "color" not in markup


def test_display_eql_optional_field_is_not_boxed_as_an_error() -> None:
    pytest.importorskip("eql", reason="the EQL lexer comes with the eql package")
    markup = highlight_html("any where ?a.b == null", "eql")
    assert "border" not in markup
    assert _text_of(markup) == "any where ?a.b == null"


def test_display_real_conversion_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    from sigma_lambda_layer.api import convert

    results = convert("rules/aws_attached_malicious_lambda_layer.yml", target="all", collect_errors=True)
    markdown = ResultsDisplay._repr_markdown_(results)
    from sigma_lambda_layer.registry import TARGETS

    count = len(TARGETS)
    assert markdown.startswith(f"{count} results for 1 rule(s): {count} converted, 0 unsupported, 0 failed\n")
    assert [line.split(" | ")[1] for line in markdown.splitlines()[4:]] == [
        t.label.replace("|", "\\|") for t in TARGETS.values()
    ]


def test_display_wired_into_api() -> None:
    """api.ConversionResult(s) inherit the mixins, so notebooks show them without any call."""
    if not issubclass(ConversionResults, ResultsDisplay):
        pytest.skip("api.ConversionResults does not inherit display.ResultsDisplay yet (lead's change)")
    assert issubclass(ConversionResult, ResultDisplay)
    assert _ok("splunk", SPL)._repr_markdown_() == ResultDisplay._repr_markdown_(_ok("splunk", SPL))


def test_display_all_targets_returns_refusals_as_values(tmp_path: Path) -> None:
    """``convert(rule, target="all")`` (a notebook's first call) returns every target's result; a target that
    refuses the rule is a result with its located error, not a traceback that loses the other targets."""
    from sigma_lambda_layer.api import convert
    from sigma_lambda_layer.registry import TARGETS

    rule = tmp_path / "flattened.yml"
    rule.write_text(
        "title: MFA\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n"
        "  sel:\n    additionalEventData.MFAUsed: 'No'\n  condition: sel\n",
        encoding="utf-8",
    )
    results = convert(str(rule), target="all")
    assert [r.target for r in results] == list(TARGETS)
    refused = [r for r in results if r.error is not None]
    assert refused and all(r.status == "unsupported" for r in refused)
    assert any(r.ok for r in results)
    assert repr(refused[0].error).startswith(f"UnsupportedFieldError('{rule}:5:5', ")
    error = refused[0].error
    assert error is not None
    with pytest.raises(type(error)):  # one target: the refusal is raised, as before
        convert(str(rule), target=refused[0].target)


def test_display_table_paths_are_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sigma_lambda_layer.display import short_path

    monkeypatch.chdir(tmp_path)
    assert short_path(str(tmp_path / "rules" / "a.yml")) == "rules/a.yml"
    assert short_path("/srv/detections/sigma/rules/cloud/a.yml") == "…/cloud/a.yml"
    assert short_path(None) == ""
