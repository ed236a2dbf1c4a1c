"""One CloudTrail record as EventBridge delivers it: the record under ``detail``, in the envelope.

Envelope fields per the EventBridge User Guide ("Amazon EventBridge events", event structure; "AWS service
events delivered via AWS CloudTrail"). ``detail-type`` follows the record's ``eventType``
(:data:`~sigma_lambda_layer.pipelines.eventbridge.DETAIL_TYPE_OF_EVENT_TYPE`; a record without one is an API
call, or a sign-in when it comes from ``signin.amazonaws.com``); ``source`` is ``aws.`` + the event source's
service prefix (what the Events Reference pages show); ``account``, ``region`` and ``time`` come from the
record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigma_lambda_layer.pipelines.eventbridge import (
    API_CALL,
    DETAIL_TYPE_OF_EVENT_TYPE,
    SIGN_IN,
    SIGNIN_SOURCE,
)


def eventbridge_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge event of one CloudTrail record."""
    source = str(record.get("eventSource") or "")
    detail_type = DETAIL_TYPE_OF_EVENT_TYPE.get(str(record.get("eventType")))
    if detail_type is None:
        detail_type = SIGN_IN[0] if source == SIGNIN_SOURCE else API_CALL
    return {
        "version": "0",
        "id": str(record.get("eventID") or "00000000-0000-0000-0000-000000000000"),
        "detail-type": detail_type,
        "source": "aws." + source.split(".amazonaws.com")[0] if source else "aws.unknown",
        "account": str(record.get("recipientAccountId") or "123456789012"),
        "time": str(record.get("eventTime") or "1970-01-01T00:00:00Z"),
        "region": str(record.get("awsRegion") or "us-east-1"),
        "resources": [],
        "detail": dict(record),
    }
