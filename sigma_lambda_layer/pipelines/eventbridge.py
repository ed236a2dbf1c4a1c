"""Processing pipeline for CloudTrail events as Amazon EventBridge delivers them (event patterns).

CloudTrail sends each record to the default event bus wrapped in an envelope (``version``, ``id``,
``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``), with the record itself under
``detail`` (Amazon EventBridge User Guide, "AWS service events delivered via AWS CloudTrail"). So:

- every CloudTrail field ``f`` becomes ``detail.f``;
- a whole object (``requestParameters``, ``userIdentity``) is refused, as on the other targets: Sigma compares
  values with strings and an object is not one;
- the envelope conditions are data kept here and handed to the backend in the pipeline state
  (:data:`STATE_ENVELOPE`): the ``detail-type`` of each kind of CloudTrail record, and the ``source`` of the
  event sources whose pairing AWS documents. The backend adds them from the event sources the rule pins.

``detail-type`` strings: the EventBridge User Guide ("AWS service events delivered via AWS CloudTrail") lists
``AWS API Call via CloudTrail``, ``AWS Console Signin via CloudTrail``, ``AWS Console Action via CloudTrail``,
``AWS Service Event via CloudTrail`` and ``AWS Insight via CloudTrail``. Real sign-in events and the public
patterns written against them spell the sign-in type ``AWS Console Sign In via CloudTrail``; the pattern
lists both spellings, since a wrong one would silently match nothing. The envelope conditions only narrow
which bus events the rule looks at: the ``detail`` conditions alone carry the rule's meaning, so a list that
is a superset never changes what matches among CloudTrail events.

``source``: each service page of the EventBridge Events Reference ("<service> events delivered via AWS
CloudTrail") gives the pair ``source: aws.<x>`` / ``eventSource: <x>.amazonaws.com``. Only pairs read on those
pages are in :data:`EVENT_SOURCE_TO_SOURCE` (the envelope ``source`` is not always ``aws.`` + the event
source's prefix: it is the service's namespace). A rule on another event source gets no ``source`` condition,
which is exact, only less narrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from sigma.processing.transformations import SetStateTransformation
from sigma.processing.transformations.base import FieldMappingTransformationBase

from sigma_lambda_layer.fields.cloudtrail import ARRAY_FIELDS, refuse_object_field
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_eventbridge"
#: Where EventBridge puts the CloudTrail record.
DETAIL: Final = "detail"
#: Pipeline state key of the envelope data (read by :mod:`sigma_lambda_layer.backends.eventbridge`).
STATE_ENVELOPE: Final = "eventbridge_envelope"

API_CALL: Final = "AWS API Call via CloudTrail"
#: Both spellings of the sign-in detail type (the docs' list, and real events; see the module docstring).
SIGN_IN: Final[tuple[str, ...]] = ("AWS Console Sign In via CloudTrail", "AWS Console Signin via CloudTrail")
CONSOLE_ACTION: Final = "AWS Console Action via CloudTrail"
SERVICE_EVENT: Final = "AWS Service Event via CloudTrail"
SIGNIN_SOURCE: Final = "signin.amazonaws.com"

#: The detail type of a CloudTrail record by its ``eventType`` (CloudTrail User Guide, "CloudTrail record
#: contents": AwsApiCall, AwsServiceEvent, AwsConsoleAction, AwsConsoleSignIn).
DETAIL_TYPE_OF_EVENT_TYPE: Final[dict[str, str]] = {
    "AwsApiCall": API_CALL,
    "AwsConsoleSignIn": SIGN_IN[0],
    "AwsConsoleAction": CONSOLE_ACTION,
    "AwsServiceEvent": SERVICE_EVENT,
}

#: ``eventSource`` -> envelope ``source``, each read on the service's EventBridge Events Reference page.
EVENT_SOURCE_TO_SOURCE: Final[dict[str, str]] = {
    "signin.amazonaws.com": "aws.signin",  # events-ref-signin
    "lambda.amazonaws.com": "aws.lambda",  # events-ref-lambda
    "cloudtrail.amazonaws.com": "aws.cloudtrail",  # events-ref-cloudtrail
    "logs.amazonaws.com": "aws.logs",  # events-ref-logs
    "events.amazonaws.com": "aws.events",  # events-ref-events
    "consoleapp.amazonaws.com": "aws.consoleapp",  # events-ref-consoleapp
    "cloudtrail-data.amazonaws.com": "aws.cloudtrail-data",  # events-ref-cloudtrail-data
    "iam.amazonaws.com": "aws.iam",  # events-ref-iam
    "sts.amazonaws.com": "aws.sts",  # events-ref-sts
    "sso-oauth.amazonaws.com": "aws.sso-oauth",  # events-ref-sso-oauth
    "access-analyzer.amazonaws.com": "aws.access-analyzer",  # events-ref-access-analyzer
}


def detail_types(event_sources: frozenset[str] | None) -> list[str]:
    """The detail types a rule pinned to ``event_sources`` (``None``: not pinned) can be delivered with."""
    if event_sources is not None and event_sources == {SIGNIN_SOURCE}:
        return [*SIGN_IN, API_CALL]
    if event_sources is not None and SIGNIN_SOURCE not in event_sources:
        return [API_CALL, CONSOLE_ACTION, SERVICE_EVENT]
    return [API_CALL, *SIGN_IN, CONSOLE_ACTION, SERVICE_EVENT]


#: Read-only management events are the Get, List and Describe calls (EventBridge User Guide, "Receiving
#: read-only management events from AWS services").
READ_ONLY_VERBS: Final[tuple[str, ...]] = ("Get", "List", "Describe")


@cache
def read_only_event_names() -> frozenset[str]:
    """Every read-only event name AWS writes (the value domain of ``eventName``, fields/domains.py)."""
    from sigma_lambda_layer.fields.domains import event_names

    return frozenset(n for n in event_names() if n.startswith(READ_ONLY_VERBS))


def envelope_state() -> dict[str, Any]:
    """What the backend needs to write the envelope conditions (plain data, so the state stays picklable)."""
    return {
        "event_source_field": f"{DETAIL}.eventSource",
        "sources": dict(EVENT_SOURCE_TO_SOURCE),
        "arrays": sorted(f"{DETAIL}.{a}" for a in ARRAY_FIELDS),
    }


def eventbridge_field(field: str) -> str:
    """The event-pattern path of a CloudTrail field (``userIdentity.arn`` -> ``detail.userIdentity.arn``)."""
    refuse_object_field(field)
    return f"{DETAIL}.{field}"


@dataclass
class CloudTrailToEventBridgeFields(FieldMappingTransformationBase):
    """Every CloudTrail field under ``detail`` (see the module docstring)."""

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None:  # keywords: the backend refuses them
            return None
        return eventbridge_field(field)


def aws_cloudtrail_eventbridge() -> Any:
    """CloudTrail records inside the EventBridge envelope (``detail.<field>``)."""
    return cloudtrail_pipeline(
        PIPELINE_ID,
        "AWS CloudTrail events on Amazon EventBridge (detail.<field>, envelope detail-type and source)",
        [
            ("fields", CloudTrailToEventBridgeFields()),
            ("envelope", SetStateTransformation(STATE_ENVELOPE, envelope_state())),
        ],
    )
