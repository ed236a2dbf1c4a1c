"""The canonical_values pipeline step (<pipeline>_canonical_values): case-insensitive values on canonical fields become exact."""

from __future__ import annotations

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import SigmaCasedString, SpecialChars

from sigma_lambda_layer.pipelines.canonical import CANONICAL_STEP, CanonicalString, canonical_parts
from sigma_lambda_layer.pipelines.cloudwatch import aws_cloudtrail_cloudwatch
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from sigma_lambda_layer.pipelines.splunk import aws_cloudtrail_splunk

STAR = SpecialChars.WILDCARD_MULTI


@pytest.mark.parametrize(
    ("field", "parts", "sources", "expected"),
    [
        ("eventName", ("createuser",), None, ("CreateUser",)),
        ("eventName", ("consolelogin",), None, ("ConsoleLogin",)),  # a non-API event
        (
            "eventName",
            ("updatefunctionconfiguration20150331V2",),
            None,
            ("UpdateFunctionConfiguration20150331v2",),
        ),
        # every operation starting so (versioned or not) shares the spelling
        ("eventName", ("updatefunctionconfiguration", STAR), None, ("UpdateFunctionConfiguration", STAR)),
        # botocore spells CreateDBInstance (RDS) and CreateDbInstance (Lightsail): two spellings, left alone ...
        ("eventName", ("createdbinstance",), None, None),
        # ... unless the selection pins the service
        ("eventName", ("createdbinstance",), frozenset({"rds.amazonaws.com"}), ("CreateDBInstance",)),
        ("eventName", ("nosuchoperationanywhere",), None, None),  # matches nothing: left alone
        ("eventName", (STAR, "policy", STAR), None, (STAR, "Policy", STAR)),  # every such name says "Policy"
        ("eventName", (STAR, "workgroup"), None, None),  # GetWorkGroup (Athena) and GetWorkgroup (Redshift)
        ("eventSource", ("Lambda.AmazonAWS.com",), None, ("lambda.amazonaws.com",)),
        ("eventSource", (STAR, ".AMAZONAWS.COM"), None, (STAR, ".amazonaws.com")),
        ("userIdentity.type", ("iamuser",), None, ("IAMUser",)),
        ("userIdentity.type", ("a", STAR), None, ("A", STAR)),  # AssumedRole, AWSAccount, AWSService
        ("responseElements.ConsoleLogin", ("SUCCESS",), None, ("Success",)),
        ("additionalEventData.MFAUsed", ("yes",), None, None),  # AWS writes Yes and YES: free
        ("userAgent", ("boto3", STAR), None, None),  # free text
        ("readOnly", ("true",), None, None),  # a JSON boolean: the backends' own boolean handling stays
    ],
)
def test_canonical_parts(
    field: str, parts: tuple, sources: frozenset[str] | None, expected: tuple | None
) -> None:
    assert canonical_parts(field, parts, sources) == expected


def _processed(detection: str, pipeline: object) -> dict[str, list[object]]:
    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n" + detection
    ).rules[0]
    step = "_" + CANONICAL_STEP
    items = [i for i in pipeline.items if str(i.identifier).endswith(step)]  # type: ignore[attr-defined]
    assert len(items) == 1
    pipeline.apply(rule)  # type: ignore[attr-defined]
    assert isinstance(rule, SigmaRule)
    out: dict[str, list[object]] = {}
    for det in rule.detection.detections.values():
        for item in det.detection_items:
            assert isinstance(item, SigmaDetectionItem)
            out[str(item.field)] = list(item.value)
    return out


@pytest.mark.parametrize(
    "factory", [aws_cloudtrail_splunk, aws_cloudtrail_elastic, aws_cloudtrail_cloudwatch]
)
def test_canonical_step_in_every_pipeline(factory: object) -> None:
    values = _processed(
        "  sel:\n    eventSource: Lambda.amazonaws.com\n    eventName|startswith: updatefunction\n"
        "    userAgent: Boto3\n    errorCode|cased: accessdenied\n  condition: sel",
        factory(),  # type: ignore[operator]
    )
    [source] = next(v for k, v in values.items() if "rovider" in k or "eventSource" in k)
    assert isinstance(source, CanonicalString) and isinstance(source, SigmaCasedString)
    assert tuple(source.s) == ("lambda.amazonaws.com",)
    [name] = next(v for k, v in values.items() if "action" in k or "eventName" in k)
    # UpdateFunctionCode..., UpdateFunctionConfiguration..., UpdateFunctionEventInvokeConfig, ...UrlConfig
    assert isinstance(name, CanonicalString) and tuple(name.s) == ("UpdateFunction", STAR)
    [agent] = next(v for k, v in values.items() if "gent" in k)
    assert not isinstance(agent, SigmaCasedString)
    [error] = next(v for k, v in values.items() if "rror" in k)
    assert type(error) is SigmaCasedString and tuple(error.s) == (
        "accessdenied",
    )  # the author's |cased stays
