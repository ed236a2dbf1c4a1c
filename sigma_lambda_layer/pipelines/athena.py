"""Processing pipeline for the CloudTrail table of Amazon Athena (the ``athena`` target).

Each CloudTrail field becomes its path in the table the Athena User Guide creates
(:mod:`sigma_lambda_layer.fields.athena`): the fixed fields their lowercase column or struct member
(``userIdentity.sessionContext.sessionIssuer.arn`` -> ``useridentity.sessioncontext.sessionissuer.arn``,
``resources.ARN`` -> ``resources.arn``, any element of the array), and fields under a free-form subtree
their JSON-text column with the CloudTrail keys kept as they are (``requestParameters.bucketName`` ->
``requestparameters.bucketName``: JSON keys are case-sensitive). The pipeline also names the table schema in
its state (:data:`~sigma_lambda_layer.fields.athena.STATE_SCHEMA`), which the backend reads to choose each
field's syntax.

Refused, each with a located :func:`~sigma_lambda_layer.errors.unsupported` error:

- a field the documented DDL has no column for (``managementEvent``, ``userIdentity.identityProvider``,
  ``userIdentity.sessionContext.sourceIdentity``, ``insightDetails.*``): the SerDe drops undeclared keys, so
  no query over that table can see the value;
- a field that is not CloudTrail's spelling of a fixed field (``eventname``, ``resources.arn``): the table
  reads struct keys case-insensitively, so it cannot tell ``ARN`` from ``arn`` as the rule's exact key asks;
- a whole object (``requestParameters``, ``userIdentity``), as on every target
  (:func:`~sigma_lambda_layer.fields.cloudtrail.refuse_object_field`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation
from sigma.processing.transformations.base import FieldMappingTransformationBase

from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported
from sigma_lambda_layer.fields.athena import CLOUDTRAIL, STATE_SCHEMA, TableSchema, cloudtrail_path
from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS, FREE_FORM, refuse_object_field
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_athena"


def athena_field(field: str, table: TableSchema = CLOUDTRAIL) -> str:
    """The table path of CloudTrail field ``field``, or a refusal naming why the table cannot hold it."""
    refuse_object_field(field)
    path = cloudtrail_path(field, table)
    if path is not None:
        return path
    if field not in FIXED_FIELDS and not any(field.startswith(r + ".") for r in FREE_FORM):
        unsupported(
            f"{field!r} is not a CloudTrail field the Athena table declares: its columns and struct members are "
            "CloudTrail's documented fields, read by their lowercased names, so another spelling or an "
            "undocumented key cannot be told apart from them",
            field=field,
            hint="name the field as the CloudTrail record contents page spells it (see docs/targets/athena.md)",
            kind=UnsupportedFieldError,
        )
    unsupported(
        f"CloudTrail field {field!r} has no column in the documented Athena CloudTrail table: its SerDe drops "
        "keys the DDL does not declare, so no query over that table can see the value",
        field=field,
        hint="use a target that keeps the whole record (duckdb, splunk, cloudwatch), or add the column "
        "to your table and a pipeline that maps it",
        kind=UnsupportedFieldError,
    )


@dataclass
class CloudTrailToAthenaFields(FieldMappingTransformationBase):
    """Rename CloudTrail fields to their paths in the Athena CloudTrail table (see the module docstring)."""

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None:  # keywords: the backend refuses them
            return None
        path = athena_field(field)
        return None if path == field else path


def aws_cloudtrail_athena() -> ProcessingPipeline:
    """CloudTrail rules over the Athena CloudTrail table (lowercase columns, JSON-text subtrees)."""
    return cloudtrail_pipeline(
        PIPELINE_ID,
        "AWS CloudTrail in the Amazon Athena CloudTrail table",
        [
            ("schema", SetStateTransformation(STATE_SCHEMA, CLOUDTRAIL.id)),
            ("fields", CloudTrailToAthenaFields()),
        ],
    )
