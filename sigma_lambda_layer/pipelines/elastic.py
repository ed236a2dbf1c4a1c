"""Processing pipeline for Elastic's AWS integration (CloudTrail data stream ``logs-aws.cloudtrail-*``).

Shared by the three Elastic targets (Lucene, EQL, ES|QL): it owns the field names, the index and the
data-stream condition; each backend owns only its syntax. Field names come from
:mod:`sigma_lambda_layer.fields.elastic`.

Choices, documented in ``docs/targets/elastic.md``:

- The index pattern goes into pipeline state ``index``: the stock ES|QL backend puts it in ``from``, the stock
  EQL backend and our Lucene backend put it in their rule formats.
- Every rule gets ``data_stream.dataset: aws.cloudtrail``, so a query pasted into a broader data view
  (``logs-*``) still only matches CloudTrail documents. Elastic's own CloudTrail rules do the same.
- ``sourceIPAddress`` maps to ``source.address`` (always the raw value, also for ``AWS Internal``), except
  under ``|cidr``, which needs the ``ip`` field ``source.ip``: the ingest pipeline fills it only when the
  value is an IP address, which is exactly when a CIDR can match.
- ``null`` and ``exists`` on a whole free-form object (``requestParameters``) test its flattened field, which
  exists exactly when the object holds a value; its ``Map.toString()`` keyword is not indexed when long.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation, SetStateTransformation
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaCIDRExpression, SigmaExists, SigmaNull

from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported
from sigma_lambda_layer.fields.elastic import (
    DATASET,
    INDEX_PATTERN,
    UnmappedFieldError,
    elastic_field,
    presence_field,
)
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_elastic"


@dataclass
class CloudTrailToElasticFieldsTransformation(FieldMappingTransformationBase):
    """Rename CloudTrail fields to the integration's fields; fail, naming the field, where none exists."""

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None:  # keyword (unbound) search: no field to rename; the backend decides
            return None
        try:
            return elastic_field(field).name
        except UnmappedFieldError as e:
            unsupported(
                f"field {field!r} has no counterpart in Elastic's AWS CloudTrail data stream: {e.reason}",
                field=field,
                hint="see the field table in docs/targets/elastic.md",
                kind=UnsupportedFieldError,
            )

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetection | SigmaDetectionItem | None:
        original = detection_item.field
        try:
            result = super().apply_detection_item(detection_item)
        except UnsupportedFieldError as e:
            e.source = detection_item.source
            raise
        if (
            isinstance(result, SigmaDetectionItem)
            and original is not None
            and (presence := presence_field(original)) is not None
            and result.value
            and all(isinstance(v, (SigmaNull, SigmaExists)) for v in result.value)
        ):
            result.field = presence
        if (
            isinstance(result, SigmaDetectionItem)
            and result.field == "source.address"
            and result.value
            and all(isinstance(v, SigmaCIDRExpression) for v in result.value)
        ):
            result.field = "source.ip"
        return result


def aws_cloudtrail_elastic() -> ProcessingPipeline:
    """CloudTrail field names as Elastic's AWS integration stores them; index ``logs-aws.cloudtrail-*``."""
    return cloudtrail_pipeline(
        PIPELINE_ID,
        "AWS CloudTrail for Elastic's AWS integration (logs-aws.cloudtrail-*)",
        [
            ("fields", CloudTrailToElasticFieldsTransformation()),
            ("index", SetStateTransformation("index", INDEX_PATTERN)),
            (
                "dataset",
                AddConditionTransformation({"data_stream.dataset|cased": DATASET}, name="_elastic_dataset"),
            ),
        ],
    )
