"""The one place that knows which targets exist.

A target id maps to its backend class, its default AWS CloudTrail pipeline and a description. Backends and
pipelines are named by import path and loaded on first use, so that ``sigma-lambda --help`` does not import
pySigma at all. Nothing outside this module branches on a target id.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sigma_lambda_layer.errors import UsageError

if TYPE_CHECKING:
    from sigma.conversion.base import Backend
    from sigma.processing.pipeline import ProcessingPipeline


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Target:
    """A query language sigma-lambda compiles to."""

    id: str
    description: str
    backend_ref: str
    pipeline_id: str
    #: Backend options (``--option key=value``) the target reads; a name ending in ``.`` is a prefix.
    options: tuple[str, ...] = ()

    def accepts_option(self, name: str) -> bool:
        return any(name == o or (o.endswith(".") and name.startswith(o)) for o in self.options)

    def backend_class(self) -> type[Backend]:
        cls: type[Backend] = _load(self.backend_ref)
        return cls

    def formats(self) -> dict[str, str]:
        """Output format name -> description, as the backend declares them."""
        return dict(self.backend_class().formats)


@dataclass(frozen=True)
class PipelineEntry:
    """A named processing pipeline shipped with sigma-lambda."""

    id: str
    description: str
    factory_ref: str

    def build(self) -> ProcessingPipeline:
        factory: Callable[[], ProcessingPipeline] = _load(self.factory_ref)
        return factory()


#: Detection-rule options shared by the Elastic targets' rule formats (backends/eql.py).
_ELASTIC_RULE_OPTIONS = (
    "rule_interval",
    "rule_from",
    "timestamp_override",
    "enabled",
    "license",
    "max_signals",
)

TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target(
            "splunk",
            "Splunk SPL over the Splunk Add-on for AWS (sourcetype aws:cloudtrail)",
            "sigma_lambda_layer.backends.splunk:CloudTrailSplunkBackend",
            "aws_cloudtrail_splunk",
            (
                "index",
                "cron_schedule",
                "earliest_time",
                "latest_time",
                "enable_sched",
                "alert_type",
                "alert_relation",
                "alert_threshold",
                "alert_severity",
                "digest_mode",
                "track",
                "suppress",
                "suppress_fields",
                "actions",
                "action.",
                "correlation_search",
                "app",
            ),
        ),
        Target(
            "lucene",
            "Elasticsearch Lucene (query_string / Kibana Lucene) over the Elastic AWS integration",
            "sigma_lambda_layer.backends.lucene:CloudTrailLuceneBackend",
            "aws_cloudtrail_elastic",
            _ELASTIC_RULE_OPTIONS,
        ),
        Target(
            "eql",
            "Elasticsearch EQL over the Elastic AWS integration",
            "sigma_lambda_layer.backends.eql:CloudTrailEqlBackend",
            "aws_cloudtrail_elastic",
            _ELASTIC_RULE_OPTIONS,
        ),
        Target(
            "esql",
            "Elasticsearch ES|QL over the Elastic AWS integration",
            "sigma_lambda_layer.backends.esql:CloudTrailEsqlBackend",
            "aws_cloudtrail_elastic",
            (*_ELASTIC_RULE_OPTIONS, "esql_flattened"),
        ),
        Target(
            "cloudwatch",
            "Amazon CloudWatch Logs Insights over CloudTrail delivered to CloudWatch Logs",
            "sigma_lambda_layer.backends.cloudwatch:LogsInsightsBackend",
            "aws_cloudtrail_cloudwatch",
            ("log_group", "fields", "sort", "limit", "start_time", "end_time", "lookback", "array_elements"),
        ),
        Target(
            "duckdb",
            "DuckDB SQL over CloudTrail records held as JSON (a table of record JSON; sigma-lambda hunt)",
            "sigma_lambda_layer.backends.duckdb:DuckDBBackend",
            "aws_cloudtrail_duckdb",
            ("table",),
        ),
    )
}

PIPELINES: dict[str, PipelineEntry] = {
    p.id: p
    for p in (
        PipelineEntry(
            "aws_cloudtrail_splunk",
            "CloudTrail field names as the Splunk Add-on for AWS extracts them; sourcetype aws:cloudtrail",
            "sigma_lambda_layer.pipelines.splunk:aws_cloudtrail_splunk",
        ),
        PipelineEntry(
            "aws_cloudtrail_elastic",
            "CloudTrail fields of Elastic's AWS integration data stream logs-aws.cloudtrail-* (ECS)",
            "sigma_lambda_layer.pipelines.elastic:aws_cloudtrail_elastic",
        ),
        PipelineEntry(
            "aws_cloudtrail_cloudwatch",
            "CloudTrail JSON fields as CloudWatch Logs Insights discovers them",
            "sigma_lambda_layer.pipelines.cloudwatch:aws_cloudtrail_cloudwatch",
        ),
        PipelineEntry(
            "aws_cloudtrail_duckdb",
            "CloudTrail records as DuckDB JSON (raw CloudTrail field names)",
            "sigma_lambda_layer.pipelines.duckdb:aws_cloudtrail_duckdb",
        ),
    )
}

ALL_TARGETS = "all"


def _unknown(kind: str, name: str, known: list[str]) -> UsageError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return UsageError(f"unknown {kind} {name!r}", hint=f"{hint}valid {kind}s: {', '.join(known)}")


def get_target(target_id: str) -> Target:
    try:
        return TARGETS[target_id]
    except KeyError:
        raise _unknown("target", target_id, list(TARGETS)) from None


def get_pipeline(pipeline_id: str) -> PipelineEntry:
    try:
        return PIPELINES[pipeline_id]
    except KeyError:
        raise _unknown("pipeline", pipeline_id, list(PIPELINES)) from None


def expand_targets(target_ids: list[str] | tuple[str, ...]) -> list[Target]:
    """Resolve target ids in the order given, ``all`` standing for every target; duplicates dropped."""
    seen: dict[str, Target] = {}
    for tid in target_ids:
        for t in TARGETS.values() if tid == ALL_TARGETS else [get_target(tid)]:
            seen.setdefault(t.id, t)
    return list(seen.values())
