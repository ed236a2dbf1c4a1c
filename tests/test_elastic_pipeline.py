"""The Elastic field table, the aws_cloudtrail_elastic pipeline, the Elastic view of a CloudTrail record."""

from __future__ import annotations

import json

import pytest
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetectionItem, SigmaRule

from sigma_lambda_layer.errors import UnsupportedFieldError
from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS
from sigma_lambda_layer.fields.elastic import (
    FIELD_MAP,
    UNMAPPED,
    UnmappedFieldError,
    elastic_field,
    field_type,
    markdown_table,
)
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from sigma_lambda_layer.registry import get_pipeline
from sigma_lambda_layer.views.elastic import drop_empty, elastic_view, java_to_string
from tests.support.corpus import CLOUDTRAIL, requires_corpus


def processed(detection: str, logsource: str = "product: aws\n  service: cloudtrail") -> tuple[dict, dict]:
    """(field -> values after the pipeline, pipeline state) for an inline rule."""
    rule = SigmaCollection.from_yaml(f"title: t\nlogsource:\n  {logsource}\ndetection:\n{detection}").rules[0]
    pipeline = aws_cloudtrail_elastic()
    pipeline.apply(rule)
    fields: dict[str, list[str]] = {}
    assert isinstance(rule, SigmaRule)
    for detection_ in rule.detection.detections.values():
        for item in detection_.detection_items:
            assert isinstance(item, SigmaDetectionItem) and item.field is not None
            fields.setdefault(item.field, []).extend(str(v) for v in item.value)
    return fields, pipeline.state


def test_elastic_every_cloudtrail_field_is_mapped_or_explained() -> None:
    for field in FIXED_FIELDS:
        assert field in FIELD_MAP or field in UNMAPPED, field


def test_elastic_field_table_lookups() -> None:
    assert elastic_field("eventName").name == "event.action"
    assert (
        elastic_field("requestParameters.layers").name == "aws.cloudtrail.flattened.request_parameters.layers"
    )
    assert elastic_field("requestParameters").name == "aws.cloudtrail.request_parameters"
    assert (
        elastic_field("additionalEventData.MFAUsed").name
        == "aws.cloudtrail.flattened.additional_eventdata.MFAUsed"
    )
    assert elastic_field("resources.ARN").name == "aws.cloudtrail.resources.arn"
    assert elastic_field("insightDetails.state").name == "aws.cloudtrail.flattened.insight_details.state"
    with pytest.raises(UnmappedFieldError, match=r"tlsDetails\.tlsVersion"):
        elastic_field("tlsDetails.tlsVersion")
    with pytest.raises(UnmappedFieldError):
        elastic_field("status")


def test_elastic_field_types() -> None:
    assert field_type("event.action") == "keyword"
    assert field_type("source.ip") == "ip"
    assert field_type("aws.cloudtrail.read_only") == "boolean"
    assert field_type("aws.cloudtrail.flattened.request_parameters") == "flattened"
    assert field_type("aws.cloudtrail.flattened.request_parameters.a.b") == "flattened"
    assert field_type("aws.cloudtrail.request_parameters.text") == "text"
    assert field_type("user_agent.original.text") == "match_only_text"


def test_elastic_markdown_table() -> None:
    table = markdown_table()
    assert table.startswith("| CloudTrail field | Elastic field | type | notes |\n|---|---|---|---|\n")
    assert "| `eventSource` | `event.provider` | keyword |  |" in table
    assert "| `sharedEventID` | (none) |" in table


def test_elastic_pipeline_renames_and_sets_index() -> None:
    fields, state = processed(
        "  sel:\n    eventSource: lambda.amazonaws.com\n    requestParameters.layers|contains: x\n"
        "    sourceIPAddress: AWS Internal\n  condition: sel\n"
    )
    assert fields == {
        "event.provider": ["lambda.amazonaws.com"],
        "aws.cloudtrail.flattened.request_parameters.layers": ["*x*"],
        "source.address": ["AWS Internal"],
        "data_stream.dataset": ["aws.cloudtrail"],
    }
    assert state["index"] == "logs-aws.cloudtrail-*"


def test_elastic_pipeline_cidr_goes_to_source_ip() -> None:
    fields, _ = processed("  sel:\n    sourceIPAddress|cidr: 10.0.0.0/8\n  condition: sel\n")
    assert "source.ip" in fields


def test_elastic_pipeline_unmapped_field_error_names_it() -> None:
    with pytest.raises(UnsupportedFieldError, match=r"'userIdentity\.userName'.*overwrites"):
        processed("  sel:\n    userIdentity.userName: alice\n  condition: sel\n")


def test_elastic_pipeline_rejects_other_logsources() -> None:
    with pytest.raises(
        Exception, match=r"is not AWS CloudTrail: .* cover logsource product: aws, service: cloudtrail"
    ):
        processed("  sel:\n    a: b\n  condition: sel\n", logsource="product: windows")


def test_elastic_pipeline_is_registered() -> None:
    assert isinstance(get_pipeline("aws_cloudtrail_elastic").build(), ProcessingPipeline)


def test_elastic_view_java_map_tostring() -> None:
    raw = {"functionName": "f", "environment": {}, "layers": ["a", "b"]}
    # HashMap order: bucket (String.hashCode spread, table of 16) then insertion order; empties dropped.
    assert java_to_string(drop_empty(raw), raw) == "{functionName=f, layers=[a, b]}"
    assert (
        java_to_string({"publish": False, "size": 1.5, "big": 1e20})
        == "{big=1.0E20, size=1.5, publish=false}"
    )


@requires_corpus
def test_elastic_view_lambda_record() -> None:
    """The real UpdateFunctionConfiguration record (Stratus, line 101) as the ingest pipeline stores it."""
    lines = (CLOUDTRAIL / "stratus-red-team_detonation-logs.jsonl").read_text().splitlines()
    record = json.loads(lines[100])
    assert record["eventName"] == "UpdateFunctionConfiguration20150331v2"
    doc = elastic_view(record)
    ct = doc["aws"]["cloudtrail"]
    assert doc["event"] == {
        "provider": "lambda.amazonaws.com",
        "action": "UpdateFunctionConfiguration20150331v2",
        "id": "da929d96-8e20-475c-a810-973addd64769",
        "kind": "event",
        "type": ["info"],
        "outcome": "success",
    }
    assert doc["@timestamp"] == "2024-07-30T21:57:20.000Z"
    assert doc["source"] == {"address": "211.219.255.238", "ip": "211.219.255.238"}
    assert doc["user"] == {"name": "christophe", "id": "AIDACL6MX7XSJHAMTCHM"}
    assert doc["cloud"] == {"account": {"id": "712967571683"}, "region": "eugov-eastcentral-1r"}
    assert doc["tls"] == {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {"server_name": "lambda.eugov-eastcentral-1r.amazonaws.com"},
        "version_protocol": "tls",
        "version": "1.3",
    }
    layer = (
        "arn:aws:lambda:eugov-eastcentral-1r:712967571683:layer:"
        "stratus-red-team-lambda-layer-my-lambda-extension:1"
    )
    function = (
        "arn:aws:lambda:eugov-eastcentral-1r:712967571683:function:stratus-red-team-lambda-layer-simpleLambda"
    )
    assert ct["request_parameters"] == f"{{functionName={function}, layers=[{layer}]}}"
    assert ct["flattened"]["request_parameters"] == {
        "functionName": function,
        "layers": [layer],
    }  # {} dropped
    assert "environment" not in ct["flattened"]["response_elements"]
    assert "description" not in ct["flattened"]["response_elements"]  # "" dropped
    assert ct["user_identity"] == {
        "type": "IAMUser",
        "arn": "arn:aws:iam::712967571683:user/christophe",
        "access_key_id": "AKIAUBN5AMJF3I0EG996",
    }
    assert ct["read_only"] is False
    assert ct["management_event"] is True
    assert doc["user_agent"] == {"original": "stratus-red-team_cc572e3c-6c82-4c71-82f7-bf38ee5dbb4d"}


def test_elastic_view_rules_of_the_pipeline() -> None:
    doc = elastic_view(
        {
            "eventName": "ConsoleLogin",
            "sourceIPAddress": "AWS Internal",
            "errorMessage": "Failed authentication",
            "responseElements": {"ConsoleLogin": "Failure"},
            "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console"},
            "userIdentity": {"userName": "a", "sessionContext": {"sessionIssuer": {"userName": "role"}}},
            "resources": [{"ARN": "x", "accountId": "1"}, {"ARN": "x", "accountId": "1"}],
            "sharedEventID": "dropped",
        }
    )
    assert doc["source"] == {"address": "AWS Internal"}  # no source.ip for a service name
    assert doc["event"]["outcome"] == "failure"  # lower-cased ConsoleLogin response
    assert doc["user"]["name"] == "role"  # sessionIssuer.userName overwrites userIdentity.userName
    assert doc["related"]["user"] == ["a"]
    assert doc["aws"]["cloudtrail"]["resources"] == [{"arn": "x", "account_id": "1"}]
    assert doc["aws"]["cloudtrail"]["console_login"] == {
        "additional_eventdata": {"login_to": "https://console", "mfa_used": False}
    }
    assert "shared_event_id" not in doc["aws"]["cloudtrail"]
