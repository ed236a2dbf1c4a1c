"""ES|QL target: exact queries for the founding rule and each modifier / condition shape; SigmaHQ corpus."""

from __future__ import annotations

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError

from sigma_lambda_layer.backends.esql import CloudTrailEsqlBackend
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from tests.corpus import FOUNDING_RULE, aws_rule_paths, requires_corpus
from tests.engines.esql_engine import parse_where

PREFIX = (
    "from logs-aws.cloudtrail-* metadata _id, _index, _version | where "
    'data_stream.dataset == "aws.cloudtrail" and '
)


def convert(detection: str, output_format: str = "default") -> str:
    rule = f"""
title: test
logsource: {{product: aws, service: cloudtrail}}
detection:
{detection}
"""
    backend = CloudTrailEsqlBackend(aws_cloudtrail_elastic())
    return backend.convert(SigmaCollection.from_yaml(rule), output_format)[0]


def where(detection: str) -> str:
    """The condition after the dataset filter, checked against Elastic's ES|QL grammar."""
    query = convert(detection)
    assert query.startswith(PREFIX), query
    parse_where(query)
    return query[len(PREFIX) :]


def test_esql_founding_rule() -> None:
    backend = CloudTrailEsqlBackend(aws_cloudtrail_elastic())
    query = backend.convert(SigmaCollection.from_yaml(FOUNDING_RULE.read_text()))[0]
    assert query == PREFIX + (
        'TO_LOWER(event.provider) == "lambda.amazonaws.com" and '
        'STARTS_WITH(TO_LOWER(event.action), "updatefunctionconfiguration")'
    )


def test_esql_rule_formats_use_cloudtrail_index() -> None:
    backend = CloudTrailEsqlBackend(aws_cloudtrail_elastic())
    siem = backend.convert(SigmaCollection.from_yaml(FOUNDING_RULE.read_text()), "siem_rule_ndjson")[0]
    assert siem["language"] == "esql"
    assert siem["query"].startswith("from logs-aws.cloudtrail-* metadata")


def test_esql_plain_value_lowercases_both_sides() -> None:
    assert where("  sel: {eventName: ListBuckets}\n  condition: sel") == (
        'TO_LOWER(event.action) == "listbuckets"'
    )


def test_esql_modifiers() -> None:
    assert where("  sel: {eventName|contains: Bucket}\n  condition: sel") == (
        'TO_LOWER(event.action) like "*bucket*"'
    )
    assert where("  sel: {eventName|endswith: Bucket}\n  condition: sel") == (
        'ENDS_WITH(TO_LOWER(event.action), "bucket")'
    )


def test_esql_value_list_is_in() -> None:
    assert where("  sel:\n    eventName: [ListBuckets, GetObject]\n  condition: sel") == (
        'TO_LOWER(event.action) in ("listbuckets", "getobject")'
    )


def test_esql_value_list_with_wildcards_is_or() -> None:
    assert where("  sel:\n    eventName: [ListBuckets, 'Get*']\n  condition: sel") == (
        '(TO_LOWER(event.action) == "listbuckets" or STARTS_WITH(TO_LOWER(event.action), "get"))'
    )


def test_esql_cased_keeps_case() -> None:
    assert where("  sel: {eventName|cased: ListBuckets}\n  condition: sel") == 'event.action == "ListBuckets"'


def test_esql_value_without_letters_is_not_lowercased() -> None:
    assert where("  sel: {sourceIPAddress: 10.1.2.3}\n  condition: sel") == 'source.address == "10.1.2.3"'


def test_esql_like_escapes_literal_wildcards() -> None:
    assert where(r"  sel: {userAgent|contains: 'a\*b\\c'}" + "\n  condition: sel") == (
        r'TO_LOWER(user_agent.original) like "*a\\*b\\\\c*"'
    )


def test_esql_regex() -> None:
    assert where(r"  sel: {userIdentity.arn|re: '^arn:aws:iam::\d+:user/'}" + "\n  condition: sel") == (
        'aws.cloudtrail.user_identity.arn rlike "arn:aws:iam::[0-9]+:user/.*"'
    )
    assert where("  sel: {userAgent|re|i: 'Boto[A-Z]'}\n  condition: sel") == (
        'TO_LOWER(user_agent.original) rlike ".*boto[A-Za-z].*"'
    )


def test_esql_regex_without_lucene_equivalent_is_an_error() -> None:
    with pytest.raises(UnsupportedConstructError, match=r"the escape \\1"):
        convert(r"  sel: {userAgent|re: '(a)\1'}" + "\n  condition: sel")


def test_esql_not_holds_for_missing_fields() -> None:
    assert where(
        "  sel: {eventSource: s3.amazonaws.com}\n  f: {errorCode: AccessDenied}\n  condition: sel and not f"
    ) == (
        'TO_LOWER(event.provider) == "s3.amazonaws.com" and '
        '(aws.cloudtrail.error_code IS NULL or not (TO_LOWER(aws.cloudtrail.error_code) == "accessdenied"))'
    )


def test_esql_null_exists_and_cidr() -> None:
    assert where("  sel: {errorCode: null}\n  condition: sel") == "aws.cloudtrail.error_code IS NULL"
    assert where("  sel: {errorCode: null}\n  condition: not sel") == "aws.cloudtrail.error_code IS NOT NULL"
    assert (
        where("  sel: {errorCode|exists: true}\n  condition: sel") == "aws.cloudtrail.error_code IS NOT NULL"
    )
    assert where("  sel: {sourceIPAddress|cidr: 10.0.0.0/8}\n  condition: sel") == (
        'CIDR_MATCH(source.ip, "10.0.0.0/8")'
    )


def test_esql_fieldref_compares_lowercased_fields() -> None:
    assert where("  sel: {userIdentity.arn|fieldref: userIdentity.principalId}\n  condition: not sel") == (
        "(aws.cloudtrail.user_identity.arn IS NULL or user.id IS NULL or "
        "not (TO_LOWER(aws.cloudtrail.user_identity.arn) == TO_LOWER(user.id)))"
    )


def test_esql_flattened_and_multivalued_fields_are_errors() -> None:
    with pytest.raises(UnsupportedFieldError, match="flattened"):
        convert("  sel: {requestParameters.functionName: x}\n  condition: sel")
    with pytest.raises(UnsupportedFieldError, match="multivalued"):
        convert("  sel: {resources.ARN: x}\n  condition: sel")


def test_esql_keyword_search_is_an_error() -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="keyword"):
        convert("  kw: [evil]\n  condition: kw")


@requires_corpus
def test_esql_sigmahq_aws_rules_convert_or_fail_clearly() -> None:
    converted, refused, wrong = 0, [], []
    for path in aws_rule_paths():
        backend = CloudTrailEsqlBackend(aws_cloudtrail_elastic())
        try:
            for query in backend.convert(SigmaCollection.from_yaml(path.read_text())):
                parse_where(query)
            converted += 1
        except (UnsupportedFieldError, SigmaFeatureNotSupportedByBackendError) as e:
            refused.append(f"{path.name}: {e}")
        except (SigmaError, AssertionError) as e:
            wrong.append(f"{path.name}: {type(e).__name__}: {e}")
    assert not wrong, "\n".join(wrong)
    assert converted + len(refused) == len(aws_rule_paths()) == 57
    assert converted >= 48, "\n".join(refused)
