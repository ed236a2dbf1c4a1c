"""One outcome type from the driver through the cache to the API, and the CLI printing the API's own reports.

A :class:`ConversionResult` is made by the conversion core, stored and restored by the batch cache and worker
processes, and returned by ``convert()``; the CLI's summary, ``--report`` and ``test --json`` are the result
objects' methods, so a notebook gets exactly what the command prints.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sigma_lambda_layer import batch
from sigma_lambda_layer.api import convert
from sigma_lambda_layer.cli import main
from sigma_lambda_layer.registry import TARGETS
from sigma_lambda_layer.results import ConversionResult, ConversionResults
from sigma_lambda_layer.testing import run_rule_tests

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
RULE = RULES / "aws_attached_malicious_lambda_layer.yml"
#: A rule every target refuses (a JSON object compared with a value), next to one they all convert.
REFUSED = """\
title: Whole object
id: 7f1c7d3e-1d2b-4a52-9a64-0f4f1b0c8f01
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        requestParameters: x
    condition: selection
"""


def _comparable(results: ConversionResults) -> list[tuple[Any, ...]]:
    """A result as plain data (errors are exceptions, which compare by identity)."""
    return [(r.to_dict(), r.queries, r.status) for r in results]


def test_conversion_result_is_frozen() -> None:
    result = convert(str(RULE), target=next(iter(TARGETS)))[0]
    assert isinstance(result, ConversionResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.output = "changed"  # type: ignore[misc]


def test_cached_results_are_the_converted_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second run reads every result from the cache (conversion is made to fail) and gets the same."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "ok.yml").write_text(RULE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "rules" / "refused.yml").write_text(REFUSED, encoding="utf-8")
    inputs = [str(tmp_path / "rules")]
    first = convert(inputs, target="all", collect_errors=True, cache_dir=tmp_path / "cache")
    assert {r.status for r in first} == {"ok", "unsupported"}

    def no_conversion(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(batch, "convert_sources", no_conversion)
    second = convert(inputs, target="all", collect_errors=True, cache_dir=tmp_path / "cache")
    assert _comparable(second) == _comparable(first)
    assert all(isinstance(r, ConversionResult) for r in second)
    located = [str(r.error.location) for r in first if r.error]
    assert [str(r.error.location) for r in second if r.error] == located
    assert second.batch_outputs == first.batch_outputs


def test_cli_report_and_summary_are_the_results_methods(tmp_path: Path) -> None:
    (tmp_path / "refused.yml").write_text(REFUSED, encoding="utf-8")
    inputs = [str(RULE), str(tmp_path / "refused.yml")]
    results = convert(inputs, target="all", collect_errors=True)
    report = tmp_path / "report.json"
    cli = CliRunner().invoke(main, ["convert", *inputs, "-t", "all", "--no-cache", "--report", str(report)])
    assert json.loads(report.read_text(encoding="utf-8")) == results.report()
    assert cli.stderr.splitlines()[-1] == results.summary_line()
    assert cli.stdout.rstrip("\n") == results.text()
    summary = results.summary()
    assert summary["ok"] == len(TARGETS) and summary["unsupported"] == len(TARGETS), summary


def test_cli_test_json_and_text_are_the_reports_methods() -> None:
    rules = sorted(RULES.glob("*.yml"))
    rules = [r for r in rules if not r.name.endswith(".tests.yml")]
    reports = run_rule_tests(rules)
    as_json = CliRunner().invoke(main, ["test", *map(str, rules), "--json"])
    assert as_json.stdout == reports.to_json() + "\n"
    assert json.loads(as_json.stdout) == [r.to_dict() for r in reports]
    text = CliRunner().invoke(main, ["test", *map(str, rules)])
    assert text.stdout.splitlines() == [line for r in reports for line in r.lines()]
    assert text.stderr.splitlines() == [reports.summary_line()]
    assert reports.summary_line() == f"{len(rules)} passed, 0 failed"
