"""The ``aws_cloudtrail_splunk`` pipeline: CloudTrail field names as the Splunk Add-on for AWS extracts them.

It owns the names, not the syntax. It renames fields through :mod:`sigma_lambda_layer.fields.splunk` (which
refuses fields outside the CloudTrail schema and whole JSON objects) and records the sourcetype in the
pipeline state. The sourcetype is state rather than an added condition because in SPL it belongs to the
base search, ahead of any ``| eval`` the backend may need to put before the rule's own terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.processing.transformations.state import SetStateTransformation

from sigma_lambda_layer.fields.splunk import SOURCETYPE, splunk_field
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_splunk"

#: Pipeline state key read by :class:`sigma_lambda_layer.backends.splunk.CloudTrailSplunkBackend`.
STATE_SOURCETYPE: Final[str] = "splunk_sourcetype"


@dataclass
class CloudTrailSplunkFieldMapping(FieldMappingTransformationBase):
    """Rename CloudTrail paths to Splunk Add-on fields.

    A field outside the CloudTrail schema, or one that holds a JSON object, raises
    :class:`~sigma_lambda_layer.errors.UnsupportedFieldError` naming it: a query on a field Splunk never
    extracts would silently match nothing.
    """

    def apply_field_name(self, field: str | None) -> str | None:
        return None if field is None else splunk_field(field)


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
