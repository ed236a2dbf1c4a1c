"""The eventbridge target: event patterns, their refusals, and their meaning on the reference matcher.

The differential runs every SigmaHQ AWS rule and every rule of the test pack, compiled to a pattern, on every
corpus record in its EventBridge envelope (:mod:`sigma_lambda_layer.views.eventbridge`) through the reference
matcher (:mod:`sigma_lambda_layer.engines.eventbridge`), against the Sigma reference evaluator.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from sigma_lambda_layer import convert
from sigma_lambda_layer.backends.eventbridge import ENABLED, ENABLED_ALL_MANAGEMENT, rule_state
from sigma_lambda_layer.engines.eventbridge import PatternError, compile_pattern, matches
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.views.eventbridge import eventbridge_view
from tests.support.corpus import AWS_RULES, FOUNDING_RULE, OUR_RULES, cloudtrail_records, lambda_layer_record
from tests.support.pack_loader import load_pack
from tests.support.rulekit import rule_yaml

#: SigmaHQ AWS rules the target refuses, and the construct each is refused for (docs/targets/eventbridge.md).
REFUSED_SIGMAHQ: dict[str, str] = {
    "aws_cloudtrail_imds_malicious_usage": "regular expression",
    "aws_console_getsignintoken": "case-insensitive contains",
    "aws_disable_bucket_versioning": "is a JSON object",
    "aws_ec2_vm_export_failure": "is a JSON object",
    "aws_ecs_task_definition_cred_endpoint_query": "case-insensitive contains",
    "aws_iam_backdoor_users_keys": "case-insensitive contains",
    "aws_iam_s3browser_loginprofile_creation": "case-insensitive contains",
    "aws_iam_s3browser_templated_s3_bucket_policy_creation": "is a JSON object",
    "aws_iam_s3browser_user_or_accesskey_creation": "case-insensitive contains",
    "aws_sts_getcalleridentity_trufflehog": "case-insensitive contains",
    "aws_update_login_profile": "field reference",
}


def _rule(detection: str) -> str:
    return rule_yaml(detection if "condition:" in detection else detection + "\ncondition: sel")


def eventbridge(detection: str) -> dict[str, Any]:
    """The pattern of a small CloudTrail rule."""
    [result] = convert(_rule(detection), target="eventbridge")
    return json.loads(result.output)


def refusal(detection: str) -> str:
    [result] = convert(_rule(detection), target="eventbridge", collect_errors=True)
    assert result.error is not None, result.output
    return str(result.error)


# ------------------------------------------------------------------------------ constructs


def test_eventbridge_founding_rule_matches_the_real_record() -> None:
    [result] = convert(str(FOUNDING_RULE), target="eventbridge")
    event = eventbridge_view(lambda_layer_record())
    assert event["detail"]["eventName"] == "UpdateFunctionConfiguration20150331v2"
    assert matches(result.output, event)
    pattern = json.loads(result.output)
    assert pattern["source"] == ["aws.lambda"]
    assert "AWS API Call via CloudTrail" in pattern["detail-type"]


def test_eventbridge_case_insensitive_equality_and_prefix() -> None:
    pattern = eventbridge(
        "sel:\n    userAgent|startswith: Boto\n    userIdentity.arn: arn:aws:iam::1:user/Bob"
    )
    assert pattern["detail"]["userAgent"] == [{"prefix": {"equals-ignore-case": "Boto"}}]
    assert pattern["detail"]["userIdentity"]["arn"] == [{"equals-ignore-case": "arn:aws:iam::1:user/Bob"}]


def test_eventbridge_canonical_values_are_exact() -> None:
    """The canonicalisation step (pipelines/canonical.py) spells canonical values as AWS writes them."""
    pattern = eventbridge("sel:\n    eventName|startswith: delete\n    eventSource: S3.amazonaws.com")
    assert pattern["detail"]["eventName"] == [{"prefix": "Delete"}]
    assert pattern["detail"]["eventSource"] == ["s3.amazonaws.com"]


def test_eventbridge_caseless_and_cased_values_are_exact() -> None:
    pattern = eventbridge("sel:\n    awsRegion: '1-2'\n    eventName|cased|contains: Bucket")
    assert pattern["detail"]["awsRegion"] == ["1-2"]
    assert pattern["detail"]["eventName"] == [{"wildcard": "*Bucket*"}]


def test_eventbridge_not_is_anything_but_or_missing() -> None:
    pattern = eventbridge(
        "sel:\n    eventName: X1\nflt:\n    errorCode: AccessDenied\ncondition: sel and not flt"
    )
    assert pattern["$or"] == [
        {"detail": {"errorCode": [{"anything-but": {"equals-ignore-case": "AccessDenied"}}]}},
        {"detail": {"errorCode": [{"exists": False}]}},
    ]
    base = {"eventSource": "s3.amazonaws.com", "eventName": "X1"}
    for record, expected in (
        (base, True),
        ({**base, "errorCode": "accessdenied"}, False),
        ({**base, "errorCode": "Other"}, True),
        ({**base, "errorCode": None}, True),
    ):
        assert matches(pattern, eventbridge_view(record)) is expected, record


def test_eventbridge_or_across_fields_is_dollar_or() -> None:
    pattern = eventbridge("a:\n    eventName: X1\nb:\n    errorCode: Y2\ncondition: a or b")
    assert pattern["$or"] == [
        {"detail": {"eventName": [{"equals-ignore-case": "X1"}]}},
        {"detail": {"errorCode": [{"equals-ignore-case": "Y2"}]}},
    ]


def test_eventbridge_list_is_one_value_list() -> None:
    pattern = eventbridge("sel:\n    eventName:\n        - A1\n        - B2")
    assert pattern["detail"]["eventName"] == [{"equals-ignore-case": "A1"}, {"equals-ignore-case": "B2"}]


@pytest.mark.parametrize(
    ("detection", "words"),
    [
        ("sel:\n    userAgent|contains: boto", "case-insensitive contains"),
        ("sel:\n    eventName|re: 'A.*'", "regular expression"),
        (
            "sel:\n    eventName|startswith: Get\nflt:\n    eventName: GetX\ncondition: sel and not flt",
            "one field ANDed",
        ),
        ("sel:\n    eventName: X\n    userIdentity.arn|fieldref: eventName", "field reference"),
        ("sel:\n    - evil", "keyword search"),
        ("sel:\n    eventName|gt: 5", "numeric comparison"),
        ("sel:\n    eventName: 'A?B'", "'?' wildcard"),
        ("sel:\n    eventName: X\nf:\n    resources.ARN: arn1\ncondition: sel and not f", "array field"),
    ],
)
def test_eventbridge_refusals_name_the_construct(detection: str, words: str) -> None:
    message = refusal(detection)
    assert words in message
    assert "hint:" in message


def test_eventbridge_refuses_too_many_combinations_with_the_figure() -> None:
    ors = "\n".join(f"s{i}:\n    eventName: N{i}\n    errorCode: E{i}" for i in range(11))
    ands = "\n".join(f"t{i}:\n    awsRegion: R{i}\n    userAgent: U{i}" for i in range(100))
    message = refusal(f"{ors}\n{ands}\ncondition: 1 of s* and 1 of t*")
    assert "1100 combinations" in message and "1000" in message


def test_eventbridge_refuses_long_patterns_with_the_figure() -> None:
    values = "\n".join(f"        - Name{i:04d}{'x' * 30}" for i in range(150))
    message = refusal(f"sel:\n    eventName:\n{values}")
    assert "4096" in message and "characters" in message


def test_eventbridge_rule_state_from_event_names() -> None:
    assert rule_state(eventbridge("sel:\n    eventName: CreateUser")) == ENABLED
    assert rule_state(eventbridge("sel:\n    eventName: GetSessionToken")) == ENABLED_ALL_MANAGEMENT
    assert rule_state(eventbridge("sel:\n    eventName|startswith: Ge")) == ENABLED_ALL_MANAGEMENT
    assert rule_state(eventbridge("sel:\n    eventName|endswith: BucketPolicy")) == ENABLED_ALL_MANAGEMENT
    assert rule_state(eventbridge("sel:\n    eventName: Put*Policy")) == ENABLED
    assert rule_state(eventbridge("sel:\n    eventName|startswith: UpdateFunction")) == ENABLED
    assert rule_state(eventbridge("sel:\n    userIdentity.type: Root")) == ENABLED_ALL_MANAGEMENT


def test_eventbridge_sign_in_detail_type() -> None:
    pattern = eventbridge("sel:\n    eventSource: signin.amazonaws.com\n    eventName: ConsoleLogin")
    assert pattern["source"] == ["aws.signin"]
    assert "AWS Console Sign In via CloudTrail" in pattern["detail-type"]
    assert "AWS Console Signin via CloudTrail" in pattern["detail-type"]


def test_reference_matcher_refuses_what_eventbridge_refuses() -> None:
    for bad in (
        '{"a": [{"contains": "x"}]}',
        '{"$or": [{"a": ["x"]}]}',
        '{"a": [{"wildcard": "a**b"}]}',
        "[]",
    ):
        with pytest.raises(PatternError):
            compile_pattern(bad)


def test_reference_matcher_arrays_of_objects_match_any_element() -> None:
    event = {"detail": {"resources": [{"ARN": "a"}, {"ARN": "b"}]}}
    assert matches({"detail": {"resources": {"ARN": ["b"]}}}, event)
    assert not matches({"detail": {"resources": {"ARN": ["c"]}}}, event)
    assert matches({"detail": {"missing": [{"exists": False}]}}, event)
    assert not matches({"detail": {"missing": [{"anything-but": "x"}]}}, event)
    assert matches({"detail": {"n": [{"anything-but": "x"}]}}, {"detail": {"n": None}})


# ------------------------------------------------------------------------------ SigmaHQ and the differential


@cache
def _sigmahq() -> dict[str, Any]:
    return {
        Path(r.path or "").stem: r for r in convert(str(AWS_RULES), target="eventbridge", collect_errors=True)
    }


def test_eventbridge_sigmahq_conversions_and_refusals_exactly() -> None:
    results = _sigmahq()
    assert len(results) == 57
    refused = {stem: str(r.error) for stem, r in results.items() if not r.ok}
    assert set(refused) == set(REFUSED_SIGMAHQ)
    for stem, words in REFUSED_SIGMAHQ.items():
        assert words in refused[stem], refused[stem]
        assert f"{stem}.yml:" in refused[stem]  # located: path:line:col
    assert len(results) - len(refused) == 46
    opt_in = {
        s for s, r in results.items() if r.ok and rule_state(json.loads(r.output)) == ENABLED_ALL_MANAGEMENT
    }
    assert opt_in == {
        "aws_cloudtrail_pua_trufflehog",  # no eventName condition
        "aws_enum_buckets",  # ListBuckets
        "aws_root_account_usage",  # no eventName condition
        "aws_sts_assumerole_misuse",  # no eventName condition
        "aws_sts_getsessiontoken_misuse",  # GetSessionToken
    }


def _rule_paths() -> list[Path]:
    return sorted(AWS_RULES.glob("*.yml")) + sorted({e.rule_path for e in load_pack()})


def test_eventbridge_differential_against_the_evaluator() -> None:
    records = cloudtrail_records()
    events = [eventbridge_view(r) for r in records]
    disagreements: list[str] = []
    converted = 0
    for path in _rule_paths():
        [result] = convert(str(path), target="eventbridge", collect_errors=True)
        if not result.ok:
            continue
        converted += 1
        rule = SigmaCollection.from_yaml(path.read_text()).rules[0]
        assert isinstance(rule, SigmaRule)
        evaluator = RuleEvaluator(rule)
        for i, (record, event) in enumerate(zip(records, events, strict=True)):
            want, got = evaluator.matches(record), matches(result.output, event)
            if want != got:
                disagreements.append(
                    f"{path.name} record {i} ({record.get('eventName')}): sigma {want}, pattern {got}"
                )
    assert converted >= 46
    assert not disagreements, "\n".join(disagreements[:50])


def test_eventbridge_pack_true_positives_and_near_misses() -> None:
    failures = []
    for entry in load_pack():
        [result] = convert(str(entry.rule_path), target="eventbridge", collect_errors=True)
        if not result.ok:
            continue
        if matches(result.output, eventbridge_view(entry.record)) is not entry.sigma_verdict:
            failures.append(entry.name)
    assert not failures


def test_eventbridge_our_rules_convert() -> None:
    results = convert(str(OUR_RULES), target="eventbridge", collect_errors=True)
    assert results and all(r.ok for r in results), [str(r.error) for r in results if not r.ok]


def test_eventbridge_refuses_correlation_rules() -> None:
    base = rule_yaml("sel:\n    eventName: ConsoleLogin\ncondition: sel", name="logins")
    correlation = (
        "title: many logins\ncorrelation:\n    type: event_count\n    rules: [logins]\n    group-by: [userIdentity.arn]\n"
        "    timespan: 5m\n    condition:\n        gte: 10\n"
    )
    results = convert(base + "---\n" + correlation, target="eventbridge", collect_errors=True)
    [refused] = [r for r in results if not r.ok]
    assert "correlation rule" in str(refused.error) and "hint:" in str(refused.error)
