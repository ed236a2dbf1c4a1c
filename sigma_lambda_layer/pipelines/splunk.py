"""The ``aws_cloudtrail_splunk`` pipeline: CloudTrail field names as the Splunk Add-on for AWS extracts them.

It owns the names, not the syntax. It renames fields through :mod:`sigma_lambda_layer.fields.splunk` and
records in the pipeline state what the backend needs to open the query: the sourcetype, and the
free-form subtree roots (``requestParameters`` ...) the rule matches as a whole, which Splunk holds only as
JSON text that ``spath`` must extract. The sourcetype is state rather than an added condition because in
SPL it belongs to the base search, ahead of any ``| spath`` or ``| eval`` the backend may need to put
before the rule's own terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.processing.transformations.state import SetStateTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaFieldReference

from sigma_lambda_layer.fields.splunk import SOURCETYPE, needs_spath, splunk_field

#: Pipeline state keys read by :class:`sigma_lambda_layer.backends.splunk.CloudTrailSplunkBackend`.
STATE_SOURCETYPE: Final[str] = "splunk_sourcetype"
STATE_SPATH_FIELDS: Final[str] = "splunk_spath_fields"


def _fields_of(detection: SigmaDetection) -> set[str]:
    """Every field a detection names, in detection items and in field references."""
    found: set[str] = set()
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            found |= _fields_of(item)
        elif isinstance(item, SigmaDetectionItem):
            if item.field is not None:
                found.add(item.field)
            found |= {v.field for v in item.value if isinstance(v, SigmaFieldReference)}
    return found


@dataclass
class CloudTrailSplunkFieldMapping(FieldMappingTransformationBase):
    """Rename CloudTrail paths to Splunk Add-on fields; note the subtree roots that need ``spath``.

    A field outside the CloudTrail schema raises :class:`~sigma_lambda_layer.errors.UnsupportedFieldError`
    naming it, because a query on a field Splunk never extracts silently matches nothing.
    """

    def apply(self, rule: SigmaRule) -> None:  # type: ignore[override]
        if isinstance(rule, SigmaRule) and self._pipeline is not None:
            used: set[str] = set()
            for detection in rule.detection.detections.values():
                used |= _fields_of(detection)
            roots = sorted(splunk_field(f) for f in used if needs_spath(f))
            if roots:
                self._pipeline.state[STATE_SPATH_FIELDS] = roots
        super().apply(rule)

    def apply_field_name(self, field: str | None) -> str | None:
        return None if field is None else splunk_field(field)


def aws_cloudtrail_splunk() -> ProcessingPipeline:
    """CloudTrail rules (``logsource: product: aws, service: cloudtrail``) for the Splunk Add-on for AWS."""

    def cloudtrail() -> list[LogsourceCondition]:
        # A condition object belongs to one processing item (pySigma sets its pipeline once).
        return [LogsourceCondition(product="aws", service="cloudtrail")]

    return ProcessingPipeline(
        name="AWS CloudTrail for the Splunk Add-on for AWS",
        priority=20,
        items=[
            ProcessingItem(
                identifier="splunk_cloudtrail_sourcetype",
                transformation=SetStateTransformation(STATE_SOURCETYPE, SOURCETYPE),
                rule_conditions=cloudtrail(),  # type: ignore[arg-type]
            ),
            ProcessingItem(
                identifier="splunk_cloudtrail_fields",
                transformation=CloudTrailSplunkFieldMapping(),
                rule_conditions=cloudtrail(),  # type: ignore[arg-type]
            ),
        ],
    )
