"""The ``aws_cloudtrail_splunk`` pipeline: CloudTrail field names as the Splunk Add-on for AWS extracts them.

It owns the names, not the syntax. It renames fields through :mod:`sigma_lambda_layer.fields.splunk` (which
refuses fields outside the CloudTrail schema and whole JSON objects) and records the sourcetype in the
pipeline state. The sourcetype is state rather than an added condition because in SPL it belongs to the
base search, ahead of any ``| eval`` the backend may need.

It also tells the backend, per Splunk field of the rule, which readings of the text ``null`` the field's
value domain admits (:func:`null_readings`, pipeline state :data:`STATE_NULL_READINGS`). Splunk extracts a
JSON ``null`` as the text ``null``, so only a field that can hold both a JSON null and the string ``"null"``
needs the backend's structural test over ``_raw``; the others get plain search terms (``NOT errorCode=*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, cast

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.processing.transformations.state import SetStateTransformation

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


@dataclass
class CloudTrailSplunkFieldMapping(FieldMappingTransformationBase):
    """Rename CloudTrail paths to Splunk Add-on fields.

    A field outside the CloudTrail schema, or one that holds a JSON object, raises
    :class:`~sigma_lambda_layer.errors.UnsupportedFieldError` naming it: a query on a field Splunk never
    extracts would silently match nothing.
    """

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None:
            return None
        mapped = splunk_field(field)
        if self._pipeline is not None:  # record what the field's domain says about "null" (module doc)
            state = cast(dict[str, Any], self._pipeline.state)
            state.setdefault(STATE_NULL_READINGS, {})[mapped] = list(null_readings(field))
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
