"""EQL target: exact queries for the founding rule and each modifier / condition shape, the SigmaHQ corpus."""

from __future__ import annotations

import pytest
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from sigma_lambda_layer.backends.eql import CloudTrailEqlBackend
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from tests.engines.eql_engine import check_eql
from tests.support.corpus import FOUNDING_RULE, requires_corpus
from tests.support.rulekit import REFUSED_EVERYWHERE, convert_rule, rule_yaml, sigmahq_aws_refusals
from tests.test_lucene import DIGITS

DATASET = 'data_stream.dataset == "aws.cloudtrail"'


def convert(detection: str) -> str:
    query: str = convert_rule(CloudTrailEqlBackend(aws_cloudtrail_elastic()), rule_yaml(detection))
    return query


def where(detection: str) -> str:
    """The condition after the dataset filter, checked to parse as Elasticsearch EQL."""
    query = convert(detection)
    prefix = f"any where {DATASET} and "
    assert query.startswith(prefix), query
    check_eql(query, cased="|cased" in detection or ("|re" in detection and "|re|i" not in detection))
    return query[len(prefix) :]


def test_eql_founding_rule() -> None:
    query = convert_rule(CloudTrailEqlBackend(aws_cloudtrail_elastic()), FOUNDING_RULE.read_text())
    assert query == (
        f"any where {DATASET} and "
        'event.provider == "lambda.amazonaws.com" and event.action like "UpdateFunctionConfiguration*"'
    )


def test_eql_rule_formats_use_cloudtrail_index() -> None:
    def run(output_format: str) -> dict[str, object]:
        backend = CloudTrailEqlBackend(aws_cloudtrail_elastic())
        result: dict[str, object] = convert_rule(backend, FOUNDING_RULE.read_text(), output_format)
        return result

    siem = run("siem_rule_ndjson")
    assert siem["index"] == ["logs-aws.cloudtrail-*"]
    assert siem["language"] == "eql"
    assert str(run("eqlapi")["query"]).startswith("any where ")


def test_eql_plain_value_is_case_insensitive() -> None:
    assert (
        where("  sel: {errorCode: ListBuckets}\n  condition: sel")
        == 'aws.cloudtrail.error_code : "ListBuckets"'
    )
    # on a canonical field the canonicalisation step made it exact (fields/domains.py)
    assert where("  sel: {eventName: listbuckets}\n  condition: sel") == 'event.action == "ListBuckets"'


def test_eql_modifiers_use_wildcards() -> None:
    e = "aws.cloudtrail.error_code"
    assert where("  sel: {errorCode|contains: Bucket}\n  condition: sel") == f'{e} : "*Bucket*"'
    assert where("  sel: {errorCode|endswith: Bucket}\n  condition: sel") == f'{e} : "*Bucket"'
    assert where("  sel: {errorCode|startswith: List}\n  condition: sel") == f'{e} : "List*"'


def test_eql_value_list_is_one_lookup() -> None:
    assert (
        where("  sel:\n    errorCode: [ListBuckets, 'Get*']\n  condition: sel")
        == 'aws.cloudtrail.error_code : ("ListBuckets", "Get*")'
    )


def test_eql_cased_uses_case_sensitive_operators() -> None:
    assert where("  sel: {eventName|cased: ListBuckets}\n  condition: sel") == 'event.action == "ListBuckets"'
    assert where("  sel: {eventName|cased|startswith: List}\n  condition: sel") == 'event.action like "List*"'


def test_eql_value_without_letters_uses_equality() -> None:
    assert where("  sel: {sourceIPAddress: 10.1.2.3}\n  condition: sel") == 'source.address == "10.1.2.3"'


def test_eql_literal_wildcard_characters_become_regexp() -> None:
    assert where(r"  sel: {userAgent|contains: 'a\*b'}" + "\n  condition: sel") == (
        r'user_agent.original regex ".*[Aa]\\*[Bb].*"'
    )


def test_eql_quotes_and_backslashes_are_escaped() -> None:
    assert where("  sel: {userAgent: 'say \"hi\"'}\n  condition: sel") == (
        r'user_agent.original : "say \"hi\""'
    )


def test_eql_regex_is_translated_to_lucene() -> None:
    assert where(r"  sel: {userIdentity.arn|re: '^arn:aws:iam::\d+:user/'}" + "\n  condition: sel") == (
        'aws.cloudtrail.user_identity.arn regex "arn:aws:iam::[' + DIGITS + ']+:user/.*"'
    )
    assert where("  sel: {userAgent|re|i: 'boto|cli'}\n  condition: sel") == (
        'user_agent.original regex "(.*[Bb][Oo][Tt][Oo].*|.*[Cc][Ll][Ii].*)"'
    )


def test_eql_regex_without_lucene_equivalent_is_an_error() -> None:
    with pytest.raises(UnsupportedConstructError, match="group construct"):
        convert(r"  sel: {userAgent|re: 'a(?=b)'}" + "\n  condition: sel")
    with pytest.raises(UnsupportedConstructError, match=r"\\b"):
        convert(r"  sel: {userAgent|re: '\bboto'}" + "\n  condition: sel")


def test_eql_not_holds_for_missing_fields() -> None:
    assert where(
        "  sel: {eventSource: s3.amazonaws.com}\n  f: {errorCode: AccessDenied}\n  condition: sel and not f"
    ) == (
        'event.provider == "s3.amazonaws.com" and '
        '(?aws.cloudtrail.error_code == null or not aws.cloudtrail.error_code : "AccessDenied")'
    )


def test_eql_not_over_and_uses_de_morgan() -> None:
    assert where(
        "  sel: {eventSource: s3.amazonaws.com}\n"
        "  f:\n    errorCode: AccessDenied\n    userAgent|contains: boto\n"
        "  condition: sel and not f"
    ) == (
        'event.provider == "s3.amazonaws.com" and '
        '((?aws.cloudtrail.error_code == null or not aws.cloudtrail.error_code : "AccessDenied") or '
        '(?user_agent.original == null or not user_agent.original : "*boto*"))'
    )


def test_eql_or_inside_and_is_grouped() -> None:
    assert (
        where("  a: {eventName: A}\n  b: {eventSource: b}\n  c: {userAgent: c}\n  condition: a and (b or c)")
        == 'event.action : "A" and (event.provider == "b" or user_agent.original : "c")'
    )


def test_eql_null_and_exists() -> None:
    assert where("  sel: {errorCode: null}\n  condition: sel") == "?aws.cloudtrail.error_code == null"
    assert where("  sel: {errorCode|exists: true}\n  condition: sel") == "?aws.cloudtrail.error_code != null"
    assert where("  sel: {errorCode: null}\n  condition: not sel") == "?aws.cloudtrail.error_code != null"


def test_eql_cidr_uses_cidr_match() -> None:
    assert where("  sel: {sourceIPAddress|cidr: 10.0.0.0/8}\n  condition: sel") == (
        'cidrMatch(source.ip, "10.0.0.0/8")'
    )


def test_eql_fieldref_is_an_error() -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="another field"):
        convert("  sel: {userIdentity.arn|fieldref: userIdentity.principalId}\n  condition: sel")


def test_eql_flattened_field_is_an_error() -> None:
    with pytest.raises(UnsupportedFieldError, match="flattened"):
        convert("  sel: {requestParameters.functionName: x}\n  condition: sel")


def test_eql_keyword_search_is_an_error() -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="keyword"):
        convert("  kw: [evil]\n  condition: kw")


#: SigmaHQ AWS rules EQL refuses: the REFUSED_EVERYWHERE ones of the ES|QL tests and every rule that reads a
#: key of requestParameters / responseElements / additionalEventData (flattened, unsupported in EQL).
FLATTENED_RULES = {
    "aws_cloudtrail_console_login_success_without_mfa.yml",
    "aws_cloudtrail_guardduty_detector_deleted_or_updated.yml",
    "aws_ec2_startup_script_change.yml",
    "aws_ecs_task_definition_cred_endpoint_query.yml",
    "aws_new_lambda_layer_attached.yml",
    "aws_rds_change_master_password.yml",
    "aws_rds_public_db_restore.yml",
    "aws_update_login_profile.yml",
}


@requires_corpus
def test_eql_sigmahq_aws_rules_convert_or_fail_clearly() -> None:
    refused = sigmahq_aws_refusals(
        lambda: CloudTrailEqlBackend(aws_cloudtrail_elastic()), lambda query: check_eql(query, cased=True)
    )
    assert set(refused) == set(REFUSED_EVERYWHERE) | FLATTENED_RULES, refused
    for name in FLATTENED_RULES:
        assert "'flattened' field" in refused[name] and "#101985" in refused[name]


def test_eql_numeric_comparison_on_whole_object_is_refused() -> None:
    from sigma_lambda_layer.api import convert
    from sigma_lambda_layer.errors import UnsupportedConstructError

    text = "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    requestParameters|gt: 5\n  condition: sel\n"
    [result] = convert(text, target="eql", collect_errors=True)
    assert isinstance(result.error, UnsupportedConstructError)
    assert "numeric comparison" in result.error.message
