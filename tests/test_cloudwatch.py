"""CloudWatch Logs Insights target: exact queries, meaning under the reference interpreter, formats, CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule

from sigma_lambda_layer.backends.cloudwatch import LogsInsightsBackend
from sigma_lambda_layer.errors import UnsupportedFieldError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.pipelines.cloudwatch import aws_cloudtrail_cloudwatch
from sigma_lambda_layer.views.cloudwatch import logs_insights_view
from tests.engines.logs_insights import run_logs_insights
from tests.support.corpus import (
    FOUNDING_RULE,
    aws_rule_paths,
    cloudtrail_records,
    lambda_layer_record,
    requires_corpus,
)

HEAD = (
    "fields @timestamp, eventTime, eventSource, eventName, awsRegion, recipientAccountId, userIdentity.type, "
    "userIdentity.arn, sourceIPAddress, userAgent, errorCode, errorMessage | filter "
)
TAIL = " | sort @timestamp desc | limit 10000"


def rule(detection: str, logsource: str = "product: aws\n    service: cloudtrail") -> str:
    return textwrap.dedent(
        """\
        title: Test rule
        id: 5f3b1b7e-1c1a-4a55-9a4f-3c2d6f0e2a10
        status: test
        logsource:
            {logsource}
        detection:
        {detection}
        level: low
        """
    ).format(logsource=logsource, detection=textwrap.indent(textwrap.dedent(detection), "    "))


def convert(yaml_text: str, fmt: str = "default", **options: Any) -> Any:
    backend = LogsInsightsBackend(aws_cloudtrail_cloudwatch(), **options)
    return backend.convert(SigmaCollection.from_yaml(yaml_text), fmt)


def filter_of(yaml_text: str, **options: Any) -> str:
    query = convert(yaml_text, **options)[0]
    assert query.startswith(HEAD) and query.endswith(TAIL), query
    return query[len(HEAD) : -len(TAIL)]


def matches(yaml_text: str, events: list[dict[str, Any]]) -> list[int]:
    query = convert(yaml_text)[0]
    return run_logs_insights(query, [logs_insights_view(e) for e in events])


# --------------------------------------------------------------------------------------------- constructs


def test_cloudwatch_founding_rule_query() -> None:
    query = convert(FOUNDING_RULE.read_text())[0]
    assert query == (
        HEAD + 'eventSource = "lambda.amazonaws.com" and eventName =~ /^UpdateFunctionConfiguration/' + TAIL
    )


@requires_corpus
def test_cloudwatch_founding_rule_matches_real_record() -> None:
    record = lambda_layer_record()
    assert record["eventName"] == "UpdateFunctionConfiguration20150331v2"
    query = convert(FOUNDING_RULE.read_text())[0]
    assert run_logs_insights(query, [logs_insights_view(record)]) == [0]


def test_cloudwatch_equality_is_case_insensitive() -> None:
    r = rule("sel:\n    errorCode: CreateUser\ncondition: sel")
    assert filter_of(r) == "errorCode =~ /(?i)^CreateUser$/"
    assert matches(r, [{"errorCode": "createuser"}, {"errorCode": "CreateUsers"}, {}]) == [0]
    # on a canonical field (fields/domains.py) the canonicalisation step made it an exact, indexable =
    assert filter_of(rule("sel:\n    eventName: createuser\ncondition: sel")) == 'eventName = "CreateUser"'


def test_cloudwatch_case_invariant_value_uses_equals() -> None:
    r = rule("sel:\n    recipientAccountId: '123456789012'\ncondition: sel")
    assert filter_of(r) == 'recipientAccountId = "123456789012"'


def test_cloudwatch_cased() -> None:
    r = rule("sel:\n    eventName|cased: CreateUser\ncondition: sel")
    assert filter_of(r) == 'eventName = "CreateUser"'
    assert matches(r, [{"eventName": "CreateUser"}, {"eventName": "createuser"}]) == [0]
    r = rule("sel:\n    eventName|cased|startswith: Create\ncondition: sel")
    assert filter_of(r) == "eventName =~ /^Create/"


def test_cloudwatch_wildcards_anywhere() -> None:
    r = rule("sel:\n    errorCode: 'Put*Pol?cy'\ncondition: sel")
    assert filter_of(r) == r"errorCode =~ /(?i)^Put[\s\S]*Pol[\s\S]cy$/"
    events = [{"errorCode": "PutUserPolicy"}, {"errorCode": "putrolepolicy"}, {"errorCode": "PutPolcy"}]
    assert matches(r, events) == [0, 1]
    escaped = rule("sel:\n    errorCode: 'a\\*b'\ncondition: sel")
    assert filter_of(escaped) == r"errorCode =~ /(?i)^a\*b$/"
    assert matches(escaped, [{"errorCode": "a*b"}, {"errorCode": "axb"}]) == [0]


def test_cloudwatch_contains_startswith_endswith() -> None:
    assert filter_of(rule("sel:\n    userAgent|contains: S3 Browser\ncondition: sel")) == (
        "userAgent =~ /(?i)S3 Browser/"
    )
    assert filter_of(rule("sel:\n    errorCode|startswith: Get\ncondition: sel")) == "errorCode =~ /(?i)^Get/"
    assert filter_of(rule("sel:\n    errorCode|endswith: Policy\ncondition: sel")) == (
        "errorCode =~ /(?i)Policy$/"
    )


def test_cloudwatch_contains_all() -> None:
    r = rule("sel:\n    userAgent|contains|all:\n        - aws-cli\n        - linux\ncondition: sel")
    assert filter_of(r) == "userAgent =~ /(?i)aws-cli/ and userAgent =~ /(?i)linux/"
    assert matches(r, [{"userAgent": "aws-cli/2 Linux"}, {"userAgent": "aws-cli/2 darwin"}]) == [0]


def test_cloudwatch_list_is_or() -> None:
    r = rule("sel:\n    eventName:\n        - A\n        - B\ncondition: sel")
    assert filter_of(r) == "eventName =~ /(?i)^A$/ or eventName =~ /(?i)^B$/"


def test_cloudwatch_re_with_flags() -> None:
    r = rule("sel:\n    userIdentity.arn|re: 'x/y.+'\ncondition: sel")
    assert filter_of(r) == r"userIdentity.arn =~ /x\/y.+/"
    ri = rule("sel:\n    eventName|re|i|m|s: '^get'\ncondition: sel")
    assert filter_of(ri) == "eventName =~ /(?ims)^get/"
    assert matches(ri, [{"eventName": "GetObject"}, {"eventName": "xget"}]) == [0]


def test_cloudwatch_re_lookaround_is_unsupported() -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="lookaround"):
        convert(rule("sel:\n    eventName|re: '(?!Get)'\ncondition: sel"))


def test_cloudwatch_cidr_v4_v6_and_non_ip_values() -> None:
    r = rule("sel:\n    sourceIPAddress|cidr:\n        - 10.0.0.0/8\n        - 2001:db8::/32\ncondition: sel")
    assert filter_of(r) == (
        '(isValidIp(sourceIPAddress) and isIpInSubnet(sourceIPAddress, "10.0.0.0/8")) or '
        '(isValidIp(sourceIPAddress) and isIpInSubnet(sourceIPAddress, "2001:db8::/32"))'
    )
    events = [
        {"sourceIPAddress": "10.1.2.3"},
        {"sourceIPAddress": "AWS Internal"},
        {"sourceIPAddress": "lambda.amazonaws.com"},
        {"sourceIPAddress": "2001:db8::1"},
        {"sourceIPAddress": "11.0.0.1"},
        {},
    ]
    assert matches(r, events) == [0, 3]
    negated = rule("sel:\n    sourceIPAddress|cidr: 10.0.0.0/8\ncondition: not sel")
    assert matches(negated, events) == [1, 2, 3, 4, 5]


def test_cloudwatch_exists() -> None:
    r = rule("sel:\n    errorCode|exists: true\ncondition: sel")
    assert filter_of(r) == "ispresent(errorCode)"
    r = rule("sel:\n    errorCode|exists: false\ncondition: sel")
    assert filter_of(r) == "not ispresent(errorCode)"


def test_cloudwatch_null() -> None:
    r = rule("sel:\n    errorCode: null\ncondition: sel")
    assert filter_of(r) == "not ispresent(errorCode)"
    assert matches(r, [{"errorCode": "AccessDenied"}, {}]) == [1]


def test_cloudwatch_compare_operators() -> None:
    r = rule("sel:\n    requestParameters.maxResults|gte: 100\ncondition: sel")
    assert filter_of(r) == "requestParameters.maxResults >= 100"
    events = [{"requestParameters": {"maxResults": 100}}, {"requestParameters": {"maxResults": 5}}]
    assert matches(r, events) == [0]


def test_cloudwatch_fieldref() -> None:
    r = rule("sel:\n    userIdentity.userName|fieldref: requestParameters.userName\ncondition: sel")
    assert filter_of(r) == (
        "(ispresent(userIdentity.userName) and ispresent(requestParameters.userName) and "
        "tolower(userIdentity.userName) = tolower(requestParameters.userName))"
    )
    events = [
        {"userIdentity": {"userName": "Bob"}, "requestParameters": {"userName": "bob"}},
        {"userIdentity": {"userName": "Bob"}, "requestParameters": {"userName": "alice"}},
        {"userIdentity": {"userName": "Bob"}},
    ]
    assert matches(r, events) == [0]


def test_cloudwatch_not_is_true_for_missing_field() -> None:
    r = rule("sel:\n    errorCode: AccessDenied\ncondition: not sel")
    assert filter_of(r) == "not ((ispresent(errorCode) and errorCode =~ /(?i)^AccessDenied$/))"
    assert matches(r, [{"errorCode": "AccessDenied"}, {"errorCode": "Other"}, {}]) == [1, 2]


def test_cloudwatch_one_of_and_all_of() -> None:
    r = rule(
        "sel_a:\n    errorCode: A\nsel_b:\n    userAgent: b\nsel_c:\n    errorMessage: c\n"
        "condition: 1 of sel_* and not all of sel_b*"
    )
    assert filter_of(r) == (
        "(errorCode =~ /(?i)^A$/ or userAgent =~ /(?i)^b$/ or errorMessage =~ /(?i)^c$/) and "
        "(not ((ispresent(userAgent) and userAgent =~ /(?i)^b$/)))"
    )
    assert matches(r, [{"errorCode": "a"}, {"errorCode": "a", "userAgent": "B"}, {"errorMessage": "C"}]) == [
        0,
        2,
    ]


def test_cloudwatch_keywords_search_message() -> None:
    r = rule("keywords:\n    - 'evil.example'\ncondition: keywords")
    assert filter_of(r) == r"@message =~ /(?i)evil\.example/"
    assert matches(r, [{"userAgent": "EVIL.example/1"}, {"userAgent": "evilxexample"}]) == [0]


def test_cloudwatch_boolean_strings_match_either_rendering() -> None:
    r = rule("sel:\n    readOnly: 'false'\ncondition: sel")
    assert filter_of(r) == "(readOnly =~ /(?i)^false$/ or readOnly = 0)"
    assert matches(r, [{"readOnly": False}, {"readOnly": True}, {}]) == [0]


def test_cloudwatch_array_field_matches_any_element() -> None:
    # Under and only: one record per element (unnest over jsonParse(@message)), one row per event again
    # (dedup @ptr), so every element is searched, the sixth too.
    r = rule("sel:\n    requestParameters.layers|contains: evil\ncondition: sel")
    assert convert(r)[0] == (
        HEAD.removesuffix("filter ")
        + "fields jsonParse(@message) as record | unnest record.requestParameters.layers into element1"
        " | filter element1 =~ /(?i)evil/ | sort @timestamp desc | dedup @ptr | limit 10000"
    )
    events: list[dict[str, Any]] = [
        {"requestParameters": {"layers": ["arn:good", "arn:EVIL", "arn:evil2"]}},
        {"requestParameters": {"layers": ["arn:good"]}},
        {"requestParameters": {"layers": [f"arn:{i}" for i in range(5)] + ["arn:evil"]}},
        {"requestParameters": {"layers": []}},
        {},
    ]
    assert matches(r, events) == [0, 2]
    nested = rule("sel:\n    requestParameters.containerDefinitions.command|contains: x\ncondition: sel")
    assert (
        "| unnest record.requestParameters.containerDefinitions into element1 | unnest element1.command into "
        "element2 | filter element2 =~ /(?i)x/ |" in convert(nested)[0]
    )
    deep = [
        {"requestParameters": {"containerDefinitions": [{"command": ["a"]}, {}, {"command": ["b", "x"]}]}}
    ]
    assert matches(nested, deep) == [0]
    # an or of values on the same array shares one unnest: some element matches one of them
    either = rule(
        "sel:\n    requestParameters.layers|contains:\n        - evil\n        - bad\ncondition: sel"
    )
    assert "into element1 | filter element1 =~ /(?i)evil/ or element1 =~ /(?i)bad/ |" in convert(either)[0]


def test_cloudwatch_array_field_under_not_enumerates() -> None:
    # Under not, unnest would keep an event with one non-matching element: the documented enumeration stays.
    r = rule("sel:\n    requestParameters.layers|contains: evil\ncondition: not sel")
    expr = filter_of(r, array_elements=3)
    assert expr == (
        "not (((ispresent(requestParameters.layers.0) and requestParameters.layers.0 =~ /(?i)evil/) or "
        "(ispresent(requestParameters.layers.1) and requestParameters.layers.1 =~ /(?i)evil/) or "
        "(ispresent(requestParameters.layers.2) and requestParameters.layers.2 =~ /(?i)evil/)))"
    )
    events = [
        {"requestParameters": {"layers": ["arn:good", "arn:EVIL"]}},
        {"requestParameters": {"layers": ["a"]}},
    ]
    assert matches(r, events) == [1]
    nested = rule("sel:\n    resources.ARN|endswith: ':x'\nother:\n    eventName: X\ncondition: sel or other")
    assert "resources.4.ARN =~" in filter_of(nested)


def test_cloudwatch_object_field_is_refused() -> None:
    with pytest.raises(UnsupportedFieldError, match="is a JSON object"):
        convert(rule("sel:\n    requestParameters|contains: Suspended\ncondition: sel"))


def test_cloudwatch_field_name_quoting() -> None:
    r = rule("sel:\n    requestParameters.some-key: x\ncondition: sel")
    assert filter_of(r) == "`requestParameters.some-key` =~ /(?i)^x$/"
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="backtick"):
        convert(rule("sel:\n    'requestParameters.a`b': x\ncondition: sel"))


def test_cloudwatch_query_length_limit() -> None:
    values = "\n".join(f"        - value{i:05d}" for i in range(400))
    with pytest.raises(SigmaError, match="10000-character limit"):
        convert(rule(f"sel:\n    eventName:\n{values}\ncondition: sel"))


def test_cloudwatch_options_fields_sort_limit() -> None:
    r = rule("sel:\n    eventName: A\ncondition: sel")
    query = convert(r, fields="@timestamp,eventName", sort="eventTime asc", limit="50")[0]
    assert (
        query
        == "fields @timestamp, eventName | filter eventName =~ /(?i)^A$/ | sort eventTime asc | limit 50"
    )


def test_cloudwatch_rejects_other_logsources() -> None:
    with pytest.raises(SigmaError, match=r"is not AWS CloudTrail: .* cover logsource product: aws"):
        convert(rule("sel:\n    x: y\ncondition: sel", logsource="product: windows"))


# --------------------------------------------------------------------------------------------- hostile values

HOSTILE = [
    'quote"double',
    "quote'single",
    "back\\slash",
    "trailing\\",
    "slash/and//",
    "back`tick",
    "regex.^$*+?()[]{}|meta",
    "new\nline\ttab\rcr",
    "pipe | filter 1=1 # comment",
    '"/ or ispresent(@message) or /',
    "ünïcødé ✓",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_cloudwatch_hostile_values_match_literally(value: str) -> None:
    yaml_value = json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar
    escaped = yaml_value.replace("*", "\\\\*").replace("?", "\\\\?")
    for modifier, exact in (("", True), ("|cased", True), ("|contains", False)):
        r = rule(f"sel:\n    userAgent{modifier}: {escaped}\ncondition: sel")
        events = [
            {"userAgent": value},
            {"userAgent": value + "x"},
            {"userAgent": "x" + value[1:]},
            {"userAgent": value.upper()},
            {},
        ]
        got = matches(r, events)
        expected = [0]
        if not exact:
            expected.append(1)
        if modifier != "|cased" and value.upper() != value and value.upper().lower() == value.lower():
            expected.append(3)
        if modifier == "|cased" and value.upper() == value:
            expected.append(3)
        assert got == sorted(set(expected)), (modifier, value, convert(r)[0])


# --------------------------------------------------------------------------------------------- corpus


@requires_corpus
def test_cloudwatch_all_aws_rules_agree_with_evaluator_on_corpus() -> None:
    """Every SigmaHQ AWS rule converts, or is refused for testing a whole object (F2 in docs/findings.md);
    each query returns exactly the records the Sigma evaluator matches."""
    object_field_rules = {
        "aws_disable_bucket_versioning.yml",
        "aws_ec2_vm_export_failure.yml",
        "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
    }
    records = cloudtrail_records()
    views = [logs_insights_view(r) for r in records]
    failures = []
    matched = 0
    for path in aws_rule_paths():
        if path.name in object_field_rules:
            with pytest.raises(UnsupportedFieldError, match="is a JSON object"):
                convert(path.read_text())
            continue
        query = convert(path.read_text())[0]
        got = set(run_logs_insights(query, views))
        evaluator = RuleEvaluator(SigmaRule.from_yaml(path.read_text()))
        expected = {i for i, r in enumerate(records) if evaluator.matches(r)}
        matched += len(expected)
        if got != expected:
            failures.append((path.name, sorted(got ^ expected)[:10]))
    assert len(aws_rule_paths()) == 57
    assert failures == []
    assert matched > 100


# --------------------------------------------------------------------------------------------- formats


def _logs_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("logs")


def _validate(operation: str, params: dict[str, Any]) -> None:
    from botocore.validate import ParamValidator

    shape = _logs_model().operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


FOUNDING_OPTS = {
    "log_group": ["CloudTrail/logs", "org/trail"],
    "start_time": "1700000000",
    "end_time": "1700086400",
}


def test_cloudwatch_format_query_definition_validates() -> None:
    out = convert(FOUNDING_RULE.read_text(), "query_definition", **FOUNDING_OPTS)
    params = json.loads(out[0])
    assert params["name"] == "AWS Attached Malicious Lambda Layer"
    assert params["logGroupNames"] == ["CloudTrail/logs", "org/trail"]
    _validate("PutQueryDefinition", params)


def test_cloudwatch_format_start_query_validates() -> None:
    params = json.loads(convert(FOUNDING_RULE.read_text(), "start_query", **FOUNDING_OPTS)[0])
    assert (params["startTime"], params["endTime"], params["limit"]) == (1700000000, 1700086400, 10000)
    _validate("StartQuery", params)


def test_cloudwatch_format_cloudformation() -> None:
    text = convert(
        FOUNDING_RULE.read_text() + "\n---\n" + FOUNDING_RULE.read_text(), "cloudformation", log_group="g"
    )
    template = json.loads(text)
    resources = template["Resources"]
    assert list(resources) == [
        "SigmaAWSAttachedMaliciousLambdaLayer",
        "SigmaAWSAttachedMaliciousLambdaLayer2",
    ]
    props = resources["SigmaAWSAttachedMaliciousLambdaLayer"]["Properties"]
    assert resources["SigmaAWSAttachedMaliciousLambdaLayer"]["Type"] == "AWS::Logs::QueryDefinition"
    # CloudFormation properties are the PutQueryDefinition parameters, capitalised.
    _validate("PutQueryDefinition", {k[0].lower() + k[1:]: v for k, v in props.items()})


def test_cloudwatch_boto3_calls_against_moto_and_stubber() -> None:
    import boto3
    from botocore.stub import Stubber
    from moto import mock_aws

    definition = json.loads(convert(FOUNDING_RULE.read_text(), "query_definition", **FOUNDING_OPTS)[0])
    start = json.loads(convert(FOUNDING_RULE.read_text(), "start_query", **FOUNDING_OPTS)[0])
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        for group in FOUNDING_OPTS["log_group"]:
            client.create_log_group(logGroupName=group)
        query_id = client.start_query(**start)["queryId"]
        assert client.get_query_results(queryId=query_id)["status"] == "Complete"
    # moto does not implement PutQueryDefinition: botocore's Stubber checks the call against the model.
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("put_query_definition", {"queryDefinitionId": "qd-1"}, definition)
        assert client.put_query_definition(**definition)["queryDefinitionId"] == "qd-1"


# --------------------------------------------------------------------------------------------- correlation


def test_cloudwatch_correlation_event_and_value_count() -> None:
    base = rule("sel:\n    eventName: ConsoleLogin\ncondition: sel").replace(
        "title: Test rule", "title: base\nname: base_rule"
    )
    event_count = base + textwrap.dedent(
        """\
        ---
        title: many logins
        correlation:
            type: event_count
            rules: [base_rule]
            group-by: [sourceIPAddress]
            timespan: 5m
            condition:
                gte: 10
        """
    )
    assert convert(event_count) == [
        'filter (eventName = "ConsoleLogin") | stats count(*) as event_count by bin(5m) as window, '
        "sourceIPAddress | filter event_count >= 10 | sort window desc | limit 10000"
    ]
    value_count = event_count.replace("event_count", "value_count").replace(
        "gte: 10", "gte: 3\n        field: userIdentity.arn"
    )
    assert convert(value_count)[0].startswith(
        'filter (eventName = "ConsoleLogin") | stats count_distinct(userIdentity.arn) as value_count'
    )


# --------------------------------------------------------------------------------------------- sigma-cli


#: The sigma-cli of the running interpreter's environment (the one the plugin shims were installed into).
SIGMA_CLI = (
    str(Path(sys.executable).with_name("sigma"))
    if Path(sys.executable).with_name("sigma").exists()
    else shutil.which("sigma")
)


@pytest.mark.skipif(
    importlib.util.find_spec("sigma.backends.cloudwatch") is None or SIGMA_CLI is None,
    reason="sigma-lambda is not installed as a wheel with its sigma-cli plugin shims",
)
def test_cloudwatch_sigma_cli_plugin(tmp_path: Path) -> None:
    assert SIGMA_CLI is not None
    targets = subprocess.run(
        [SIGMA_CLI, "list", "targets"], capture_output=True, text=True, check=True
    ).stdout
    assert "cloudwatch" in targets
    pipelines = subprocess.run(
        [SIGMA_CLI, "list", "pipelines"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("aws_cloudtrail_splunk", "aws_cloudtrail_elastic", "aws_cloudtrail_cloudwatch"):
        assert name in pipelines
    out = subprocess.run(
        [SIGMA_CLI, "convert", "-t", "cloudwatch", "-p", "aws_cloudtrail_cloudwatch", str(FOUNDING_RULE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # sigma-cli users get the canonicalisation step with the pipeline: an exact, case-sensitive regex
    assert "eventName =~ /^UpdateFunctionConfiguration/" in out


def test_cloudwatch_value_list_of_exact_values_is_in() -> None:
    # canonical eventName values (fields/domains.py): exact, so one set-membership test a field index serves
    r = rule("sel:\n    eventName:\n        - createuser\n        - DeleteUser\ncondition: sel")
    assert filter_of(r) == 'eventName in ["CreateUser", "DeleteUser"]'
    events = [{"eventName": "CreateUser"}, {"eventName": "DeleteUser"}, {"eventName": "deleteuser"}, {}]
    assert matches(r, events) == [0, 1]
    negated = rule("sel:\n    eventName:\n        - CreateUser\n        - DeleteUser\ncondition: not sel")
    assert filter_of(negated) == 'not ((ispresent(eventName) and eventName in ["CreateUser", "DeleteUser"]))'
    assert matches(negated, events) == [2, 3]
    # a list mixing exact and case-insensitive values: the exact ones as one in, the rest as they are
    mixed = rule("sel:\n    - userAgent|cased:\n        - A\n        - B\n    - userAgent: c\ncondition: sel")
    assert filter_of(mixed) == '(userAgent in ["A", "B"]) or userAgent =~ /(?i)^c$/'
    assert matches(mixed, [{"userAgent": "A"}, {"userAgent": "a"}, {"userAgent": "C"}]) == [0, 2]
    flat = rule(
        "sel:\n    eventName:\n        - createuser\n        - Nope*\n        - deleteuser\ncondition: sel"
    )
    assert filter_of(flat) == 'eventName in ["CreateUser", "DeleteUser"] or eventName =~ /(?i)^Nope/'
    assert matches(flat, [{"eventName": "CreateUser"}, {"eventName": "nopex"}, {"eventName": "x"}]) == [0, 1]
    # free text stays a case-insensitive regex per value
    free = rule("sel:\n    errorCode:\n        - A\n        - B\ncondition: sel")
    assert filter_of(free) == "errorCode =~ /(?i)^A$/ or errorCode =~ /(?i)^B$/"


def test_cloudwatch_correlation_over_unnest_rule_is_refused() -> None:
    collection = textwrap.dedent(
        """\
        title: Layer
        name: layer
        logsource:
            product: aws
            service: cloudtrail
        detection:
            sel:
                requestParameters.layers|contains: evil
            condition: sel
        ---
        title: Many
        correlation:
            type: event_count
            rules: layer
            timespan: 5m
            condition:
                gte: 3
        """
    )
    with pytest.raises(SigmaError, match="one record per element"):
        LogsInsightsBackend(aws_cloudtrail_cloudwatch()).convert(SigmaCollection.from_yaml(collection))
