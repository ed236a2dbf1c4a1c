"""ES|QL target: exact queries for the founding rule and each modifier / condition shape; SigmaHQ corpus."""

from __future__ import annotations

import pytest
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from sigma_lambda_layer.backends.esql import CloudTrailEsqlBackend
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError, UsageError
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from tests.engines.esql_engine import parse_where
from tests.support.corpus import FOUNDING_RULE, requires_corpus
from tests.support.rulekit import REFUSED_EVERYWHERE, convert_rule, rule_yaml, sigmahq_aws_refusals
from tests.test_lucene import DIGITS

PREFIX = (
    "from logs-aws.cloudtrail-* metadata _id, _index, _version | where "
    'data_stream.dataset == "aws.cloudtrail" and '
)


def convert(detection: str) -> str:
    query: str = convert_rule(CloudTrailEsqlBackend(aws_cloudtrail_elastic()), rule_yaml(detection))
    return query


def where(detection: str) -> str:
    """The condition after the dataset filter, checked against Elastic's ES|QL grammar."""
    query = convert(detection)
    assert query.startswith(PREFIX), query
    parse_where(query)
    return query[len(PREFIX) :]


def test_esql_founding_rule() -> None:
    query = convert_rule(CloudTrailEsqlBackend(aws_cloudtrail_elastic()), FOUNDING_RULE.read_text())
    assert query == PREFIX + (
        'event.provider == "lambda.amazonaws.com" and STARTS_WITH(event.action, "UpdateFunctionConfiguration")'
    )


def test_esql_rule_formats_use_cloudtrail_index() -> None:
    backend = CloudTrailEsqlBackend(aws_cloudtrail_elastic())
    siem = convert_rule(backend, FOUNDING_RULE.read_text(), "siem_rule_ndjson")
    assert siem["language"] == "esql"
    assert siem["query"].startswith("from logs-aws.cloudtrail-* metadata")


def test_esql_plain_value_lowercases_both_sides() -> None:
    assert where("  sel: {errorCode: ListBuckets}\n  condition: sel") == (
        'TO_LOWER(aws.cloudtrail.error_code) == "listbuckets"'
    )
    # on a canonical field the canonicalisation step made it exact (fields/domains.py)
    assert where("  sel: {eventName: listbuckets}\n  condition: sel") == 'event.action == "ListBuckets"'


def test_esql_modifiers() -> None:
    assert where("  sel: {errorCode|contains: Bucket}\n  condition: sel") == (
        'TO_LOWER(aws.cloudtrail.error_code) like "*bucket*"'
    )
    assert where("  sel: {errorCode|endswith: Bucket}\n  condition: sel") == (
        'ENDS_WITH(TO_LOWER(aws.cloudtrail.error_code), "bucket")'
    )


def test_esql_value_list_is_in() -> None:
    assert where("  sel:\n    errorCode: [ListBuckets, GetObject]\n  condition: sel") == (
        'TO_LOWER(aws.cloudtrail.error_code) in ("listbuckets", "getobject")'
    )


def test_esql_value_list_with_wildcards_is_or() -> None:
    assert where("  sel:\n    errorCode: [ListBuckets, 'Get*']\n  condition: sel") == (
        '(TO_LOWER(aws.cloudtrail.error_code) == "listbuckets" or '
        'STARTS_WITH(TO_LOWER(aws.cloudtrail.error_code), "get"))'
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
        'aws.cloudtrail.user_identity.arn rlike "arn:aws:iam::[' + DIGITS + ']+:user/.*"'
    )
    assert where("  sel: {userAgent|re|i: 'Boto[A-Z]'}\n  condition: sel") == (
        'user_agent.original rlike ".*[Bb][Oo][Tt][Oo][A-Za-z\u212a].*"'
    )


def test_esql_regex_without_lucene_equivalent_is_an_error() -> None:
    with pytest.raises(UnsupportedConstructError, match=r"the escape \\1"):
        convert(r"  sel: {userAgent|re: '(a)\1'}" + "\n  condition: sel")


def test_esql_not_holds_for_missing_fields() -> None:
    assert where(
        "  sel: {eventSource: s3.amazonaws.com}\n  f: {errorCode: AccessDenied}\n  condition: sel and not f"
    ) == (
        'event.provider == "s3.amazonaws.com" and '
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


def test_esql_flattened_key_exact_value_uses_field_extract_and_mv_contains() -> None:
    assert where("  sel: {requestParameters.attribute: userData}\n  condition: sel") == (
        'MV_CONTAINS(TO_LOWER(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "attribute")), '
        '"userdata")'
    )
    assert where("  sel: {responseElements.publiclyAccessible: true}\n  condition: sel") == (
        "MV_CONTAINS(TO_LOWER(FIELD_EXTRACT(aws.cloudtrail.flattened.response_elements, "
        '"publiclyAccessible")), "true")'
    )
    assert where("  sel: {requestParameters.attribute|cased: userData}\n  condition: sel") == (
        'MV_CONTAINS(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "attribute"), "userData")'
    )


def test_esql_flattened_key_value_list_is_or_of_mv_contains() -> None:
    assert where("  sel:\n    requestParameters.attribute: [userData, kernel]\n  condition: sel") == (
        '(MV_CONTAINS(TO_LOWER(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "attribute")), '
        '"userdata") or MV_CONTAINS(TO_LOWER(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, '
        '"attribute")), "kernel"))'
    )


def test_esql_flattened_key_contains_searches_mv_concat() -> None:
    assert where(
        "  sel: {requestParameters.containerDefinitions.command|contains: Curl}\n  condition: sel"
    ) == (
        "TO_LOWER(MV_CONCAT(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "
        '"containerDefinitions.command"), "\\n")) like "*curl*"'
    )
    # the separator is one the searched text does not contain
    assert '"\\t"' in where(r'  sel: {requestParameters.x|contains: "a\nb"}' + "\n  condition: sel")


def test_esql_flattened_key_only_wildcards_is_presence() -> None:
    assert where("  sel: {requestParameters.layers|contains: '*'}\n  condition: sel") == (
        'FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "layers") IS NOT NULL'
    )


def test_esql_flattened_key_patterns_on_scalars_and_arrays() -> None:
    assert where("  sel: {requestParameters.functionName|startswith: Prod}\n  condition: sel") == (
        'STARTS_WITH(TO_LOWER(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "functionName")), '
        '"prod")'
    )
    with pytest.raises(UnsupportedConstructError, match=r"array.*MV_LIKE"):
        convert("  sel: {requestParameters.layers|startswith: arn}\n  condition: sel")
    with pytest.raises(UnsupportedConstructError, match="MV_RLIKE"):
        convert("  sel: {requestParameters.policyArns|re: 'Admin'}\n  condition: sel")


def test_esql_flattened_key_not_holds_for_missing_keys() -> None:
    assert where("  sel: {requestParameters.attribute: userData}\n  condition: not sel") == (
        '(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "attribute") IS NULL or not '
        '(MV_CONTAINS(TO_LOWER(FIELD_EXTRACT(aws.cloudtrail.flattened.request_parameters, "attribute")), '
        '"userdata")))'
    )


def test_esql_flattened_key_fieldref_uses_mv_contains() -> None:
    assert where("  sel: {userIdentity.arn|fieldref: requestParameters.userName}\n  condition: sel") == (
        "(aws.cloudtrail.user_identity.arn IS NOT NULL and MV_CONTAINS(TO_LOWER(FIELD_EXTRACT("
        'aws.cloudtrail.flattened.request_parameters, "userName")), TO_LOWER(aws.cloudtrail.user_identity.arn)))'
    )


def test_esql_flattened_refusals() -> None:
    with pytest.raises(UnsupportedConstructError, match="object"):
        convert("  sel: {requestParameters.x|exists: true}\n  condition: sel")
    with pytest.raises(UnsupportedConstructError, match="object"):
        convert("  sel: {requestParameters.x: null}\n  condition: not sel")
    with pytest.raises(UnsupportedConstructError, match="number"):
        convert("  sel: {requestParameters.maxItems: 5}\n  condition: sel")
    with pytest.raises(UnsupportedConstructError, match="CIDR"):
        convert("  sel: {requestParameters.ip|cidr: 10.0.0.0/8}\n  condition: sel")


def test_esql_whole_object_presence_and_value_tests() -> None:
    assert where("  sel: {requestParameters: null}\n  condition: sel") == (
        "aws.cloudtrail.flattened.request_parameters IS NULL"
    )
    with pytest.raises(UnsupportedConstructError, match="JSON object"):
        convert("  sel: {requestParameters|contains: Suspended}\n  condition: sel")


def test_esql_flattened_option_error_for_older_stacks() -> None:
    rule = rule_yaml("sel: {requestParameters.attribute: userData}\ncondition: sel")
    backend = CloudTrailEsqlBackend(aws_cloudtrail_elastic(), esql_flattened="error")
    with pytest.raises(UnsupportedFieldError, match=r"before 9\.5"):
        convert_rule(backend, rule)
    with pytest.raises(UsageError, match="esql_flattened"):
        CloudTrailEsqlBackend(aws_cloudtrail_elastic(), esql_flattened="maybe")


def test_esql_multivalued_fields_are_errors() -> None:
    with pytest.raises(UnsupportedFieldError, match="multivalued"):
        convert("  sel: {resources.ARN: x}\n  condition: sel")


def test_esql_keyword_search_is_an_error() -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="keyword"):
        convert("  kw: [evil]\n  condition: kw")


@requires_corpus
def test_esql_sigmahq_aws_rules_convert_or_fail_clearly() -> None:
    refused = sigmahq_aws_refusals(lambda: CloudTrailEsqlBackend(aws_cloudtrail_elastic()), parse_where)
    assert set(refused) == set(REFUSED_EVERYWHERE), refused
    for name, reason in REFUSED_EVERYWHERE.items():
        assert reason in refused[name]
