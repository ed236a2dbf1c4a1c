"""The ``aws_cloudtrail_splunk`` pipeline: CloudTrail field names as the Splunk Add-on for AWS extracts them.

It owns the names, not the syntax. It renames fields through :mod:`sigma_lambda_layer.fields.splunk` (which
refuses fields outside the CloudTrail schema and whole JSON objects) and records the sourcetype in the
pipeline state. The sourcetype is state rather than an added condition because in SPL it belongs to the
base search, ahead of any ``| eval`` the backend may need.

It also tells the backend, per Splunk field of the rule, which readings of the text ``null`` the field's
value domain admits (:func:`null_readings`, pipeline state :data:`STATE_NULL_READINGS`). Splunk extracts a
JSON ``null`` as the text ``null``, so only a field that can hold both a JSON null and the string ``"null"``
needs the backend's structural test over ``_raw``; the others get plain search terms (``NOT errorCode=*``).
A request or response member beside a fixed ``eventSource`` and ``eventName`` gets the readings of those
operations' botocore shapes (:class:`CloudTrailSplunkFieldMapping`, :func:`context_readings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sigma.conditions import ConditionAND
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.processing.transformations.state import SetStateTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaString, SpecialChars

from sigma_lambda_layer.fields import domains
from sigma_lambda_layer.fields.splunk import SOURCETYPE, splunk_field
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_splunk"

#: Pipeline state key read by :class:`sigma_lambda_layer.backends.splunk.CloudTrailSplunkBackend`.
STATE_SOURCETYPE: Final[str] = "splunk_sourcetype"
#: Pipeline state key read by the backend: Splunk field -> ``[json_null, string_null]`` (see null_readings).
STATE_NULL_READINGS: Final[str] = "splunk_null_readings"


def null_readings(field: str) -> tuple[bool, bool]:
    """``(json_null, string_null)`` for CloudTrail field ``field``: can AWS write a JSON ``null`` there, and
    can the field hold a string whose lowercase is ``null``?

    This is the one question the Splunk backend asks about values (its forms for ``exists``, ``null`` and
    values matching the text ``null`` depend on it). The answer comes from the field's value domain
    (:func:`sigma_lambda_layer.fields.domains.domain`); a field the domains say nothing about may hold
    either, which keeps the exact but costly structural test.
    """
    known = domains.domain(field)
    if known is None:
        return True, True
    return known.json_null, known.string_null


def _values(item: SigmaDetectionItem) -> list[str] | None:
    """The plain and ``*``-pattern values of ``item`` as lower-case regexes, or None if it has any other."""
    out = []
    for value in item.value:
        if not isinstance(value, SigmaString) or not value.s:
            return None
        parts: list[str] = []
        for part in value.s:
            if isinstance(part, str):
                parts.append(re.escape(part.lower()))
            elif part is SpecialChars.WILDCARD_MULTI:
                parts.append(".*")
            else:
                return None
        out.append("".join(parts))
    return out or None


def operations(items: list[SigmaDetectionItem]) -> tuple[str, frozenset[str]] | None:
    """``(eventSource, eventNames)`` that every record matching the AND of ``items`` has: one fixed
    ``eventSource`` and ``eventName`` values (exact or ``*`` patterns, compared case-insensitively) expanded
    over that source's names (:func:`~sigma_lambda_layer.fields.domains.event_names`, a closed domain).
    None unless both are there. Several ``eventName`` items: the last one's names, a superset of the AND's."""
    sources: set[str] | None = None
    names: list[str] | None = None
    for item in items:
        if item.negated:  # |neq: not a fixed value
            continue
        if item.field == "eventSource" and (vals := _values(item)):
            got = {s for s in domains.event_sources() if any(re.fullmatch(v, s, re.DOTALL) for v in vals)}
            sources = got if sources is None else sources & got
        elif item.field == "eventName" and (vals := _values(item)):
            names = vals
    if sources is None or len(sources) != 1 or names is None:
        return None
    (source,) = sources
    matched = frozenset(
        n for n in domains.event_names(source) if any(re.fullmatch(v, n.lower(), re.DOTALL) for v in names)
    )
    return (source, matched) if matched else None


def context_readings(field_name: str, context: tuple[str, frozenset[str]] | None) -> tuple[bool, bool]:
    """:func:`null_readings`, narrowed by the operations a record must have for the test on ``field_name``
    to matter (``context``, see :class:`CloudTrailSplunkFieldMapping`): the union over those operations of
    their botocore member readings (:func:`~sigma_lambda_layer.fields.domains.member_null_readings`); the
    field-wide readings if any operation has none."""
    general = null_readings(field_name)
    if context is None or not general[0]:
        return general
    source, names = context
    json_null = string_null = False
    for name in names:
        got = domains.member_null_readings(source, name, field_name)
        if got is None:
            return general
        json_null, string_null = json_null or got[0], string_null or got[1]
    return json_null, string_null


@dataclass
class CloudTrailSplunkFieldMapping(FieldMappingTransformationBase):
    """Rename CloudTrail paths to Splunk Add-on fields.

    A field outside the CloudTrail schema, or one that holds a JSON object, raises
    :class:`~sigma_lambda_layer.errors.UnsupportedFieldError` naming it: a query on a field Splunk never
    extracts would silently match nothing.

    A ``requestParameters``/``responseElements`` member has a domain per operation. When a detection item
    stands in an AND (one selection map) beside a fixed ``eventSource`` and ``eventName`` items, the AND is
    true only on records of those operations, whatever the item's test says elsewhere, so the item's test
    need only be exact there: its null readings are those operations' (:func:`context_readings`). That holds
    under any negation or OR around the AND. A Splunk field's readings are the union over its occurrences.
    """

    _contexts: list[tuple[str, frozenset[str]] | None] = field(default_factory=list, init=False, repr=False)

    def apply_detection(self, detection: SigmaDetection) -> None:
        items = [i for i in detection.detection_items if isinstance(i, SigmaDetectionItem)]
        linked_and = detection.item_linking is ConditionAND
        self._contexts.append(operations(items) if linked_and else None)
        try:
            super().apply_detection(detection)
        finally:
            self._contexts.pop()

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None:
            return None
        mapped = splunk_field(field)
        if self._pipeline is not None:  # record what the field's domain says about "null" (module doc)
            state = cast(dict[str, Any], self._pipeline.state)
            context = self._contexts[-1] if self._contexts else None
            readings = context_readings(field, context)
            table = state.setdefault(STATE_NULL_READINGS, {})
            old = table.get(mapped, (False, False))
            table[mapped] = [bool(a or b) for a, b in zip(old, readings, strict=True)]
        return mapped


def aws_cloudtrail_splunk() -> ProcessingPipeline:
    """CloudTrail rules (``logsource: product: aws, service: cloudtrail``) for the Splunk Add-on for AWS."""
    return cloudtrail_pipeline(
        PIPELINE_ID,
        "AWS CloudTrail for the Splunk Add-on for AWS",
        [
            ("sourcetype", SetStateTransformation(STATE_SOURCETYPE, SOURCETYPE)),
            ("fields", CloudTrailSplunkFieldMapping()),
        ],
    )
