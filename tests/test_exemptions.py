"""The example exemption removes exactly the exempted events from the founding rule, on every target.

The filter in rules/filters/ exempts the Lambda deployment role and Terraform run under an assumed role. For
each target the rule is compiled with the filter, run on that target's engine over that target's view of the
founding rule's labelled events plus exempted and near-miss variants of them, and the match set must be the
reference evaluator's verdict on the filtered rule. The exempted events must not match; every other event
that matches the unfiltered rule must still match.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.exemptions import apply, parse_filters, read_filter_sources
from tests.support.pack_loader import load_pack

REPO = Path(__file__).resolve().parents[1]
RULE = REPO / "rules" / "aws_attached_malicious_lambda_layer.yml"
FILTERS = REPO / "rules" / "filters"
DEPLOYER = "arn:aws:iam::123456789012:role/lambda-deployer"


def _assumed(record: dict[str, Any], issuer_arn: str, user_agent: str) -> dict[str, Any]:
    event = copy.deepcopy(record)
    event["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:session",
        "arn": f"arn:aws:sts::123456789012:assumed-role/{issuer_arn.rsplit('/', 1)[1]}/session",
        "accountId": "123456789012",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": issuer_arn,
                "accountId": "123456789012",
                "userName": issuer_arn.rsplit("/", 1)[1],
            },
            "attributes": {"creationDate": "2024-07-30T21:50:00Z", "mfaAuthenticated": "false"},
        },
    }
    event["userAgent"] = user_agent
    return event


def events() -> list[tuple[str, dict[str, Any]]]:
    """The founding rule's labelled pack events, plus exempted and near-miss variants of its first positive."""
    pack = [e for e in load_pack() if e.rule_path.name == RULE.name]
    labelled = [(f"pack:{e.entry_id}", e.record) for e in pack]
    base = next(e.record for e in pack if e.should_match)
    terraform = (
        "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.60.0"
    )
    return [
        *labelled,
        ("exempt:deployer-role", _assumed(base, DEPLOYER, "aws-cli/2.17.0")),
        ("exempt:deployer-role-other-case", _assumed(base, DEPLOYER.upper(), "aws-cli/2.17.0")),
        ("exempt:terraform-assumed-role", _assumed(base, "arn:aws:iam::123456789012:role/ci", terraform)),
        ("keep:other-role", _assumed(base, "arn:aws:iam::123456789012:role/intruder", "aws-cli/2.17.0")),
        ("keep:terraform-as-iam-user", {**copy.deepcopy(base), "userAgent": terraform}),
        ("keep:deployer-name-in-agent", _assumed(base, "arn:aws:iam::123456789012:role/x", DEPLOYER)),
    ]


def _engines() -> dict[str, Callable[[str, list[dict[str, Any]]], set[int]]]:
    from sigma_lambda_layer.views.cloudwatch import logs_insights_view
    from sigma_lambda_layer.views.elastic import elastic_view, field_type
    from sigma_lambda_layer.views.splunk import splunk_view
    from tests.engines.eql_engine import run_eql
    from tests.engines.esql_engine import run_esql
    from tests.engines.logs_insights import run_logs_insights
    from tests.engines.lucene_engine import LuceneEngine
    from tests.engines.spl import run_spl

    def lucene(query: str, records: list[dict[str, Any]]) -> set[int]:
        if LuceneEngine.missing():
            pytest.skip(f"Lucene engine unavailable: {LuceneEngine.missing()}")
        return LuceneEngine().search(query, [elastic_view(r) for r in records], field_type)

    return {
        "splunk": lambda q, rs: run_spl(q, [splunk_view(r) for r in rs]),
        "lucene": lucene,
        "eql": lambda q, rs: run_eql(q, [elastic_view(r) for r in rs]),
        "esql": lambda q, rs: run_esql(q, [elastic_view(r) for r in rs]),
        "cloudwatch": lambda q, rs: set(run_logs_insights(q, [logs_insights_view(r) for r in rs])),
    }


def _expected(records: list[dict[str, Any]], filtered: bool) -> set[int]:
    rule = SigmaCollection.from_yaml(RULE.read_text())[0]
    if filtered:
        rule = apply(rule, parse_filters(read_filter_sources([FILTERS])))
    assert isinstance(rule, SigmaRule)
    evaluator = RuleEvaluator(rule)
    return {i for i, r in enumerate(records) if evaluator.matches(r)}


@pytest.mark.parametrize("target", ["splunk", "lucene", "eql", "esql", "cloudwatch"])
def test_exemption_removes_exactly_the_exempted_events(target: str) -> None:
    named = events()
    names = [n for n, _ in named]
    records = [r for _, r in named]
    [result] = convert(RULE, target=target, filters=[FILTERS])
    got = _engines()[target](result.output, records)
    expected = _expected(records, filtered=True)
    assert {names[i] for i in got} == {names[i] for i in expected}, result.output
    exempted = {i for i, n in enumerate(names) if n.startswith("exempt:")}
    assert not (got & exempted)
    unfiltered = _expected(records, filtered=False)
    assert got == unfiltered - exempted
    assert {names[i] for i in got} >= {
        "keep:other-role",
        "keep:terraform-as-iam-user",
        "keep:deployer-name-in-agent",
    }


EXEMPT_BY_REGEX = """\
title: Exempt Terraform by user agent pattern
logsource: {product: aws, service: cloudtrail}
filter:
  rules:
    - 00000001-1111-4111-8111-111111111111
  selection:
    userAgent|re: '^Terraform/.*'
  condition: not selection
"""
EXEMPTED_RULE = """\
title: Console login
id: 00000001-1111-4111-8111-111111111111
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
  condition: selection
"""


def test_exemption_refusal_is_located_in_the_filter_file(tmp_path: Path) -> None:
    """A target refusing a construct the exemption brought in (EventBridge has no |re) points at the
    filter file's line and column, like every other refusal points into the rule."""
    rule, filter_file = tmp_path / "rule.yml", tmp_path / "filters" / "terraform.yml"
    filter_file.parent.mkdir()
    rule.write_text(EXEMPTED_RULE, encoding="utf-8")
    filter_file.write_text(EXEMPT_BY_REGEX, encoding="utf-8")
    results = convert(
        rule, target=["eventbridge", "splunk"], filters=[filter_file.parent], collect_errors=True
    )
    by_target = {r.target: r for r in results}
    error = by_target["eventbridge"].error
    assert error is not None and "regular expression" in error.message
    assert (error.location.path, error.location.line, error.location.column) == (str(filter_file), 7, 5)
    assert str(error).startswith(f"{filter_file}:7:5: ")
    assert by_target["splunk"].error is None and "Terraform" in by_target["splunk"].output
    # A refusal of the rule's own construct stays in the rule.
    rule.write_text(EXEMPTED_RULE.replace("eventName: ConsoleLogin", "eventName|re: '^Console'"), "utf-8")
    [own] = convert(rule, target="eventbridge", filters=[filter_file.parent], collect_errors=True)
    assert own.error is not None
    assert (own.error.location.path, own.error.location.line) == (str(rule), 6)
