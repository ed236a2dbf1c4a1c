"""Correlation rules across targets: converted after the rules they reference, clear errors where a target
has no correlation support, and never served from the cache (their output depends on other files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import UnsupportedConstructError

# The correlation sorts first by file name, so conversion order must not follow file order.
BASE = """\
title: Failed console login
id: 0d6d6b7c-7c4e-4f0a-9b7e-1e2f3a4b5c6d
name: failed_console_login
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: ConsoleLogin
        errorMessage: Failed authentication
    condition: selection
"""
CORRELATION = """\
title: Many failed console logins
id: 1e7e7c8d-8d5f-4a1b-8c8f-2f3a4b5c6d7e
correlation:
    type: event_count
    rules:
        - failed_console_login
    group-by:
        - sourceIPAddress
    timespan: 10m
    condition:
        gte: 5
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    (tmp_path / "a_correlation.yml").write_text(CORRELATION)
    (tmp_path / "b_base.yml").write_text(BASE)
    return tmp_path


def _correlation(results: list, target: str):  # type: ignore[no-untyped-def]
    return next(r for r in results if r.target == target and r.title == "Many failed console logins")


def test_correlation_splunk(rules: Path) -> None:
    result = _correlation(convert(rules, target="splunk", collect_errors=True), "splunk")
    assert result.output.startswith('sourcetype=aws:cloudtrail eventName="ConsoleLogin"')
    assert result.output.count("sourcetype=") == 1
    assert "| stats count as event_count by _time sourceIPAddress" in result.output
    assert result.output.rstrip().endswith("| search event_count >= 5")


def test_correlation_cloudwatch(rules: Path) -> None:
    result = _correlation(convert(rules, target="cloudwatch", collect_errors=True), "cloudwatch")
    assert "stats count(*) as event_count by bin(10m) as window, sourceIPAddress" in result.output
    assert "filter event_count >= 5" in result.output


@pytest.mark.parametrize("target", ["eql", "esql"])
def test_correlation_elastic_query_languages(rules: Path, target: str) -> None:
    result = _correlation(convert(rules, target=target, collect_errors=True), target)
    assert result.ok, result.error
    assert "source.address" in result.output


def test_correlation_lucene_is_unsupported(rules: Path) -> None:
    result = _correlation(convert(rules, target="lucene", collect_errors=True), "lucene")
    assert isinstance(result.error, UnsupportedConstructError)
    assert "correlation" in result.error.message


def test_correlation_batches_bypass_the_cache(rules: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.mktemp("cache")
    first = convert(rules, target="splunk", collect_errors=True, cache_dir=cache)
    (rules / "b_base.yml").write_text(BASE.replace("Failed authentication", "Other failure"))
    second = convert(rules, target="splunk", collect_errors=True, cache_dir=cache)
    assert "Other failure" in _correlation(second, "splunk").output
    assert _correlation(first, "splunk").output != _correlation(second, "splunk").output
    assert not any(cache.rglob("*.json"))
