"""EQL: why a keyed ``requestParameters.X`` match is refused rather than written on the string form.

Issue 11 asks, for EQL and ES|QL, to match a flattened key on the integration's ``Map.toString()`` keyword
``aws.cloudtrail.request_parameters`` (``{detectorId=x, enable=false}``) "where a flattened key's domain
proves the string form exact (the key's values cannot contain its separators)", as Elastic's own EQL rules
do (``aws.cloudtrail.request_parameters : "*enable=false*"``). That condition is not enough: the text
``key=value`` also appears where the key is *nested* under another member, and where *another* member's
value spells it. Each test below is one record AWS can write, run through the integration's ingest view
and the real ``eql`` engine (tests/engines/eql_engine.py): the string-form query, even with the separators
written out, disagrees with the reference evaluator, while the target refuses the rule by name. The members
come from botocore's service models (GuardDuty ``UpdateDetector``, EC2 ``ModifyInstanceAttribute``).
"""

from __future__ import annotations

from typing import Any

import pytest
from sigma.collection import SigmaCollection

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import UnsupportedFieldError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.views.elastic import elastic_view
from tests.engines.eql_engine import run_eql
from tests.support.probes import BASE_RECORD


def _rule(selection: str) -> str:
    return (
        "title: string form probe\nlogsource: {product: aws, service: cloudtrail}\n"
        f"detection:\n  sel:\n{selection}  condition: sel\n"
    )


def _record(source: str, name: str, request: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**BASE_RECORD, "eventSource": source, "eventName": name, "requestParameters": request, **extra}


def _string_form_queries(provider: str, action: str, key: str, value: str) -> list[str]:
    """Elastic's own form (``*key=value*``) and the tightest one: the key=value pair delimited by the
    ``{``, ``, `` and ``}`` that ``Map.toString()`` writes around an entry."""
    head = (
        f'any where data_stream.dataset == "aws.cloudtrail" and event.provider == "{provider}" '
        f'and event.action == "{action}" and aws.cloudtrail.request_parameters : '
    )
    pair = f"{key}={value}"
    tight = ", ".join(f'"*{a}{pair}{b}*"' for a in ("{", ", ") for b in (",", "}"))
    return [f'{head}"*{pair}*"', f"{head}({tight})"]


CASES = [
    pytest.param(
        "    eventSource: guardduty.amazonaws.com\n    eventName: UpdateDetector\n"
        "    requestParameters.enable: false\n",
        ("guardduty.amazonaws.com", "UpdateDetector", "enable", "false"),
        # a valid, successful call: the detector stays on, S3 log scanning is turned off; the key
        # ``enable`` is also a member of DataSources.S3Logs (botocore guardduty UpdateDetector)
        _record(
            "guardduty.amazonaws.com",
            "UpdateDetector",
            {
                "detectorId": "12abc34d567e8fa901bc2d34e56789f0",
                "enable": True,
                "dataSources": {"s3Logs": {"enable": False}},
            },
        ),
        id="nested-member-of-the-same-name",
    ),
    pytest.param(
        "    eventSource: ec2.amazonaws.com\n    requestParameters.attribute: userData\n"
        "    eventName: ModifyInstanceAttribute\n",
        ("ec2.amazonaws.com", "ModifyInstanceAttribute", "attribute", "userData"),
        # a failed call logs the parameters as the caller sent them (fields/domains.py): instanceId is a
        # free string member of ModifyInstanceAttribute, and here it spells the pair and its separators
        _record(
            "ec2.amazonaws.com",
            "ModifyInstanceAttribute",
            {"instanceId": "i-0abc, attribute=userData, x", "attribute": "kernel"},
            errorCode="InvalidInstanceID.Malformed",
            errorMessage="Invalid id",
        ),
        id="another-member-spells-the-pair",
    ),
]


@pytest.mark.parametrize(("selection", "form", "record"), CASES)
def test_eql_string_form_is_not_the_rule(
    selection: str, form: tuple[str, str, str, str], record: dict[str, Any]
) -> None:
    text = _rule(selection)
    rule = SigmaCollection.from_yaml(text).rules[0]
    assert not RuleEvaluator(rule).matches(record)  # type: ignore[arg-type]
    doc = elastic_view(record)
    for query in _string_form_queries(*form):
        assert run_eql(query, [doc]) == {0}, query  # the string form matches a record the rule does not
    result = convert(text, target="eql", collect_errors=True)[0]
    assert isinstance(result.error, UnsupportedFieldError)
    assert "flattened" in str(result.error)


def test_eql_string_form_agrees_where_the_key_is_top_level() -> None:
    """The control: on the plain record the string form and the rule agree, so the disagreements above
    come from the nested or spelled pair, not from the engine or the view."""
    text = _rule(str(CASES[0].values[0]))
    record = _record(
        "guardduty.amazonaws.com",
        "UpdateDetector",
        {"detectorId": "12abc34d567e8fa901bc2d34e56789f0", "enable": False},
    )
    assert RuleEvaluator(SigmaCollection.from_yaml(text).rules[0]).matches(record)  # type: ignore[arg-type]
    for query in _string_form_queries("guardduty.amazonaws.com", "UpdateDetector", "enable", "false"):
        assert run_eql(query, [elastic_view(record)]) == {0}, query
