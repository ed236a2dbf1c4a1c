"""Processing pipeline for CloudTrail records held as DuckDB ``JSON`` (the ``duckdb`` target).

The records are CloudTrail's own JSON, unflattened, so Sigma's CloudTrail field names (``userIdentity.arn``,
``requestParameters.layers``) are already the paths the backend walks: this pipeline renames nothing. Arrays
and keys holding dots need no field table either: the backend searches arrays element by element and tries
dotted keys, as the reference evaluator does. What the pipeline owns is the log source: the builder's
CloudTrail-only refusal (:mod:`.builder`), since a rule for another log source means nothing over
CloudTrail records.
"""

from __future__ import annotations

from sigma.processing.pipeline import ProcessingPipeline

from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_duckdb"


def aws_cloudtrail_duckdb() -> ProcessingPipeline:
    """CloudTrail records as DuckDB JSON: raw CloudTrail field names, CloudTrail rules only."""
    return cloudtrail_pipeline(PIPELINE_ID, "AWS CloudTrail records as DuckDB JSON", [])
