"""Processing pipeline for CloudTrail records held as DuckDB ``JSON`` (the ``duckdb`` target).

The records are CloudTrail's own JSON, unflattened, so Sigma's CloudTrail field names (``userIdentity.arn``,
``requestParameters.layers``) are already the paths the backend walks: this pipeline renames nothing. Arrays
and keys holding dots need no field table either: the backend searches arrays element by element and tries
dotted keys, as the reference evaluator does. What the pipeline owns is the log source: a rule for another
log source would run over CloudTrail records and mean nothing there, so it is refused.
"""

from __future__ import annotations

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import RuleFailureTransformation

PIPELINE_ID = "aws_cloudtrail_duckdb"


def _cloudtrail() -> LogsourceCondition:
    """A fresh condition per item: pySigma binds each condition object to one processing item."""
    return LogsourceCondition(product="aws", service="cloudtrail")


def aws_cloudtrail_duckdb() -> ProcessingPipeline:
    """CloudTrail records as DuckDB JSON: raw CloudTrail field names, CloudTrail rules only."""
    return ProcessingPipeline(
        name="AWS CloudTrail records as DuckDB JSON",
        priority=20,
        items=[
            ProcessingItem(
                identifier="cloudtrail_duckdb_logsource_only",
                transformation=RuleFailureTransformation(
                    "the aws_cloudtrail_duckdb pipeline handles only rules with logsource product: aws, "
                    "service: cloudtrail"
                ),
                rule_conditions=[_cloudtrail()],
                rule_condition_negation=True,
            ),
        ],
    )
