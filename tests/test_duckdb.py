"""The duckdb target on DuckDB itself: each construct's query run over crafted records, against the evaluator.

Every case names the records that must match (the evaluator is checked to agree, so a case cannot pass on a
wrong expectation) and runs the compiled SQL on an in-memory DuckDB table ``cloudtrail(record JSON)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sigma.collection import SigmaCollection

from sigma_lambda_layer import convert
from sigma_lambda_layer.engines.duckdb import run_duckdb
from sigma_lambda_layer.errors import UnsupportedConstructError, is_unsupported
from sigma_lambda_layer.evaluator import RuleEvaluator
from tests.support.rulekit import rule_yaml


def _check(detection: str, records: Sequence[Any], expected: set[int]) -> str:
    text = rule_yaml(detection)
    evaluator = RuleEvaluator(SigmaCollection.from_yaml(text).rules[0])  # type: ignore[arg-type]
    assert {i for i, r in enumerate(records) if evaluator.matches(r)} == expected, "the evaluator disagrees"
    query = convert(text, target="duckdb")[0].output
    assert set(run_duckdb(query, records)) == expected, query
    return str(query)


def test_duckdb_case_insensitive_equality() -> None:
    # errorCode is free text (fields/domains.py); eventName is canonicalised to an exact comparison.
    records = [{"errorCode": "CONSOLELOGIN"}, {"errorCode": "consolelogin"}, {"errorCode": "ConsoleLogon"}, {}]
    _check("sel:\n  errorCode: ConsoleLogin\ncondition: sel", records, {0, 1})
    _check("sel:\n  errorCode|cased: ConsoleLogin\ncondition: sel", [{"errorCode": "ConsoleLogin"}, *records], {0})


def test_duckdb_dotted_capital_i_follows_the_project_definition() -> None:
    """``a.lower() == b.lower()`` (COMMON.md): Python lowers İ to two characters, DuckDB's lower() to one."""
    values = ["ConsoleLogİn", "consolelogi\u0307n", "CONSOLELOGIN"]
    for rule_value in ("ConsoleLogin", "ConsoleLogİn"):
        query = convert(rule_yaml(f"sel:\n  errorCode: {rule_value}\ncondition: sel"), target="duckdb")[0].output
        got = set(run_duckdb(query, [{"errorCode": v} for v in values]))
        assert got == {i for i, v in enumerate(values) if v.lower() == rule_value.lower()}, rule_value
    # Wildcards are per character: İ matches only İ (and ? or *), never i.
    text = rule_yaml("sel:\n  errorCode|startswith: Consolelogi\ncondition: sel")
    query = convert(text, target="duckdb")[0].output
    assert set(run_duckdb(query, [{"errorCode": v} for v in values])) == {1, 2}


def test_duckdb_wildcards_escape_like_metacharacters() -> None:
    records = [{"userAgent": "a%b_c\\d"}, {"userAgent": "aXbYc\\d"}, {"userAgent": "A%B_C\\D-tail"}]
    _check("sel:\n  userAgent|startswith: 'a%b_c\\'\ncondition: sel", records, {0, 2})
    _check("sel:\n  userAgent: 'a?b?c*'\ncondition: sel", records, {0, 1, 2})


def test_duckdb_missing_field_never_equals_and_not_is_true() -> None:
    records = [{"errorCode": "AccessDenied"}, {"errorCode": None}, {}]
    _check("sel:\n  errorCode: AccessDenied\ncondition: not sel", records, {1, 2})
    _check("sel:\n  errorCode: null\ncondition: sel", records, {1, 2})
    _check("sel:\n  errorCode|exists: true\ncondition: sel", records, {0})


def test_duckdb_arrays_of_objects_and_nested_arrays() -> None:
    records = [
        {"resources": [{"ARN": "arn:a"}, {"ARN": "arn:b"}]},
        {"resources": {"ARN": "arn:b"}},
        {"requestParameters": {"items": [[{"k": "x"}], [{"k": "y"}]]}},
        {"resources": [{"arn": "arn:b"}]},  # JSON keys are case-sensitive
    ]
    _check("sel:\n  resources.ARN: arn:b\ncondition: sel", records, {0, 1})
    _check("sel:\n  requestParameters.items.k: y\ncondition: sel", records, {2})


def test_duckdb_keys_with_dots_slashes_and_quotes() -> None:
    records = [
        {"requestParameters": {"a.b": "v"}},
        {"requestParameters": {"a": {"b": "v"}}},
        {"requestParameters": {"x/y~z": "v"}},
        {"requestParameters": {"q'\"": "v"}},
    ]
    _check("sel:\n  requestParameters.a.b: v\ncondition: sel", records, {0, 1})
    _check("sel:\n  requestParameters.x/y~z: v\ncondition: sel", records, {2})
    _check("sel:\n  requestParameters.q'\": v\ncondition: sel", records, {3})


def test_duckdb_cidr_ipv4_ipv6_and_service_names() -> None:
    records = [
        {"sourceIPAddress": "10.1.2.3"},
        {"sourceIPAddress": "010.1.2.3"},  # leading zero: not an address for Python's ipaddress
        {"sourceIPAddress": "lambda.amazonaws.com"},
        {"sourceIPAddress": "2001:db8::1"},
        {"sourceIPAddress": "2001:DB8:0:0:0:0:0:ff"},
        {"sourceIPAddress": "::ffff:10.1.2.3"},
        {"sourceIPAddress": "2001:db8::1::2"},
        {"sourceIPAddress": "fe80::1%eth0"},
        {"sourceIPAddress": "AWS Internal"},
    ]
    _check("sel:\n  sourceIPAddress|cidr: 10.0.0.0/8\ncondition: sel", records, {0})
    _check("sel:\n  sourceIPAddress|cidr: '2001:db8::/32'\ncondition: sel", records, {3, 4})
    _check("sel:\n  sourceIPAddress|cidr: '::ffff:0:0/96'\ncondition: sel", records, {5})
    _check("sel:\n  sourceIPAddress|cidr: 'fe80::/10'\ncondition: sel", records, {7})
    _check("sel:\n  sourceIPAddress|cidr: 10.0.0.0/8\ncondition: not sel", records, set(range(1, 9)))


def test_duckdb_numbers_and_booleans_as_cloudtrail_types_them() -> None:
    records = [
        {"readOnly": True},
        {"readOnly": "TRUE"},
        {"readOnly": False},
        {"requestParameters": {"maxResults": 50}},
        {"requestParameters": {"maxResults": "50"}},
        {"requestParameters": {"maxResults": 50.0}},
        {"requestParameters": {"maxResults": "5e1"}},
    ]
    _check("sel:\n  readOnly: true\ncondition: sel", records, {0, 1})
    _check("sel:\n  readOnly: 'true'\ncondition: sel", records, {0, 1})
    _check("sel:\n  requestParameters.maxResults: 50\ncondition: sel", records, {3, 4, 5, 6})
    _check("sel:\n  requestParameters.maxResults|gt: 49\ncondition: sel", records, {3, 4, 5, 6})


def test_duckdb_regex_python_meaning_on_re2() -> None:
    records = [{"userAgent": "abc\n"}, {"userAgent": "abc"}, {"userAgent": "x٣"}, {"userAgent": "ABC"}]
    _check("sel:\n  userAgent|re: 'abc$'\ncondition: sel", records, {0, 1})
    _check("sel:\n  userAgent|re: 'x\\d'\ncondition: sel", records, {2})
    _check("sel:\n  userAgent|re|i: '^abc'\ncondition: sel", records, {0, 1, 3})


@pytest.mark.parametrize("pattern", ["a(?=b)", "(a)\\1", "(?<!x)y", "\\bword"])
def test_duckdb_refuses_what_re2_cannot_say(pattern: str) -> None:
    result = convert(rule_yaml(f"sel:\n  userAgent|re: '{pattern}'\ncondition: sel"), target="duckdb", collect_errors=True)[0]
    assert result.error is not None and is_unsupported(result.error), result.error
    assert result.error.location.line is not None  # located in the rule file


def test_duckdb_keywords_search_values_not_keys() -> None:
    records = [{"eventName": "x", "userAgent": "has-needle-inside"}, {"needle": "y"}, {"a": {"b": ["NEEDLE"]}}]
    _check("keywords:\n  - needle\ncondition: keywords", records, {0, 2})


def test_duckdb_no_injection_through_values_or_fields() -> None:
    hostile = "x') OR true OR ('"
    records = [{"eventName": hostile}, {"eventName": "other"}]
    query = _check(f"sel:\n  eventName: \"{hostile}\"\ncondition: sel", records, {0})
    assert "= 'x'') or true or ('''" in query  # inside the literal, its quotes doubled
    _check("sel:\n  \"a') OR (1=1\": v\ncondition: sel", [{"a') OR (1=1": "v"}, {"b": "v"}], {0})


def test_duckdb_greek_final_sigma_equality_is_refused() -> None:
    result = convert(rule_yaml("sel:\n  userAgent: ΟΔΟΣ\ncondition: sel"), target="duckdb", collect_errors=True)[0]
    assert isinstance(result.error, UnsupportedConstructError) or is_unsupported(result.error)


def test_duckdb_table_option_is_quoted() -> None:
    text = rule_yaml("sel:\n  eventName: x\ncondition: sel")
    query = convert(text, target="duckdb", options={"table": 'my"logs'})[0].output
    assert query.startswith('SELECT * FROM "my""logs" WHERE ')


def test_duckdb_scalar_string_fields_read_plainly_arrays_keep_the_walk() -> None:
    """Where the CloudTrail schema proves a field one JSON string, the query is what an expert writes."""
    records = [
        {"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2"},
        {"eventSource": "lambda.amazonaws.com", "eventName": "GetFunction"},
        {"eventSource": "s3.amazonaws.com", "eventName": "UpdateFunctionConfiguration"},
        {"eventName": "UpdateFunctionConfiguration"},
    ]
    detection = (
        "sel:\n  eventSource: lambda.amazonaws.com\n  eventName|startswith: UpdateFunctionConfiguration\n"
        "condition: sel"
    )
    query = _check(detection, records, {0})
    assert query == (
        "SELECT * FROM \"cloudtrail\" WHERE record->>'$.eventSource' = 'lambda.amazonaws.com' "
        "AND record->>'$.eventName' LIKE 'UpdateFunctionConfiguration%'"
    )
    # Free text stays case-insensitive; NOT over a missing plain field is true (NULL is not false in SQL).
    agents = [{"userAgent": "AWS-CLI/2"}, {"userAgent": "boto3"}, {}]
    query = _check("sel:\n  userAgent|contains: aws-cli\ncondition: not sel", agents, {1, 2})
    assert "record->>'$.userAgent'" in query and "lower(" in query
    # resources is an array of objects: the any-element walk remains.
    query = _check("sel:\n  resources.ARN: arn:b\ncondition: sel", [{"resources": [{"ARN": "arn:b"}]}], {0})
    assert "list_filter" in query
