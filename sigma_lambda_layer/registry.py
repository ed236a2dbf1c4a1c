"""The one place that knows which targets exist: the dialect table.

A :class:`Target` holds every per-target fact: its label and description, the language its queries are
highlighted in, the extension of its query files, its backend class, its default AWS CloudTrail pipeline,
the view of a CloudTrail record as that SIEM stores it and, where one ships, its reference engine. What a
backend declares about itself (its options and output files, :mod:`sigma_lambda_layer.dialect`) is read from
the backend class. Backends, pipelines, views and engines are named by import path and loaded on first use,
so that ``sigma-lambda --help`` does not import pySigma at all. Nothing outside this module names a target:
adding one is a backend module, a pipeline module and an entry here (tests/test_registry.py checks it).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sigma_lambda_layer.dialect import TEXT_FILE, BackendOption, FormatFile, FormatKind
from sigma_lambda_layer.errors import UsageError

if TYPE_CHECKING:
    from sigma.conversion.base import Backend
    from sigma.processing.pipeline import ProcessingPipeline

#: A record view: one CloudTrail record (a JSON object) as the SIEM stores it.
View = Callable[[Mapping[str, Any]], Any]
#: A reference engine: (query, views) -> the indexes of the views the query matches.
Engine = Callable[[str, list[Any]], Iterable[int]]


@cache
def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Target:
    """A query language sigma-lambda compiles to, with everything the package knows about it."""

    id: str
    description: str
    #: display name (headings, tables); the description is a sentence
    label: str
    #: Pygments lexer and Markdown fence language of the queries (``text`` where Pygments has none)
    language: str
    #: extension of the ``default`` (plain query) format's files
    extension: str
    backend_ref: str
    pipeline_id: str
    #: ``module:function`` of the record view (:mod:`sigma_lambda_layer.views`)
    view_ref: str
    #: ``module:function`` of the reference engine shipped in :mod:`sigma_lambda_layer.engines`, or ``None``
    #: (``sigma-lambda test --target`` runs only targets with one)
    engine_ref: str | None = None
    #: registered as a sigma-cli backend plugin under :attr:`id` (``sigma_lambda_layer/_plugins``): only for
    #: targets no upstream pySigma backend plugin provides under that id
    sigma_cli_backend: bool = False

    def backend_class(self) -> type[Backend]:
        cls: type[Backend] = _load(self.backend_ref)
        return cls

    @property
    def options(self) -> tuple[BackendOption, ...]:
        """The ``--option`` declarations of the backend (:attr:`Backend.options`)."""
        declared: tuple[BackendOption, ...] = getattr(self.backend_class(), "options", ())
        return declared

    def accepts_option(self, name: str) -> bool:
        return any(o.matches(name) for o in self.options)

    def formats(self) -> dict[str, str]:
        """Output format name -> description, as the backend declares them."""
        return dict(self.backend_class().formats)

    def format_file(self, fmt: str) -> FormatFile:
        """Kind and extension of ``fmt``'s files (``default``: query text in :attr:`extension`)."""
        if fmt == "default":
            return FormatFile("text", self.extension)
        files: dict[str, FormatFile] = getattr(self.backend_class(), "format_files", {})
        return files.get(fmt, TEXT_FILE)

    def view(self) -> View:
        view: View = _load(self.view_ref)
        return view

    def engine(self) -> Engine | None:
        engine: Engine | None = None if self.engine_ref is None else _load(self.engine_ref)
        return engine


@dataclass(frozen=True)
class PipelineEntry:
    """A named processing pipeline shipped with sigma-lambda."""

    id: str
    description: str
    factory_ref: str

    def build(self) -> ProcessingPipeline:
        factory: Callable[[], ProcessingPipeline] = _load(self.factory_ref)
        return factory()


TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target(
            "splunk",
            "Splunk SPL over the Splunk Add-on for AWS (sourcetype aws:cloudtrail)",
            "Splunk SPL",
            "spl",
            "spl",
            "sigma_lambda_layer.backends.splunk:CloudTrailSplunkBackend",
            "aws_cloudtrail_splunk",
            "sigma_lambda_layer.views.splunk:splunk_view",
            "sigma_lambda_layer.engines.spl:run_spl",
        ),
        Target(
            "lucene",
            "Elasticsearch Lucene (query_string / Kibana Lucene) over the Elastic AWS integration",
            "Elastic Lucene",
            "text",  # Pygments has no Lucene lexer
            "lucene",
            "sigma_lambda_layer.backends.lucene:CloudTrailLuceneBackend",
            "aws_cloudtrail_elastic",
            "sigma_lambda_layer.views.elastic:elastic_view",
        ),
        Target(
            "eql",
            "Elasticsearch EQL over the Elastic AWS integration",
            "Elastic EQL",
            "eql",  # the lexer of the eql package
            "eql",
            "sigma_lambda_layer.backends.eql:CloudTrailEqlBackend",
            "aws_cloudtrail_elastic",
            "sigma_lambda_layer.views.elastic:elastic_view",
        ),
        Target(
            "esql",
            "Elasticsearch ES|QL over the Elastic AWS integration",
            "Elastic ES|QL",
            "sql",  # a piped SQL dialect whose keywords, strings and functions the SQL lexer colours right
            "esql",
            "sigma_lambda_layer.backends.esql:CloudTrailEsqlBackend",
            "aws_cloudtrail_elastic",
            "sigma_lambda_layer.views.elastic:elastic_view",
        ),
        Target(
            "cloudwatch",
            "Amazon CloudWatch Logs Insights over CloudTrail delivered to CloudWatch Logs",
            "CloudWatch Logs Insights",
            "text",  # Pygments has no Logs Insights lexer
            "logsinsights",
            "sigma_lambda_layer.backends.cloudwatch:LogsInsightsBackend",
            "aws_cloudtrail_cloudwatch",
            "sigma_lambda_layer.views.cloudwatch:logs_insights_view",
            "sigma_lambda_layer.engines.logs_insights:run_logs_insights",
            sigma_cli_backend=True,
        ),
        Target(
            "duckdb",
            "DuckDB SQL over CloudTrail records held as JSON (a table of record JSON; sigma-lambda hunt)",
            "DuckDB SQL",
            "sql",
            "sql",
            "sigma_lambda_layer.backends.duckdb:DuckDBBackend",
            "aws_cloudtrail_duckdb",
            "sigma_lambda_layer.views.duckdb:duckdb_view",
            "sigma_lambda_layer.engines.duckdb:run_duckdb",
        ),
        Target(
            "athena",
            "Amazon Athena (Trino SQL) over the CloudTrail table of the Athena User Guide, with its DDL",
            "Amazon Athena SQL",
            "sql",
            "sql",
            "sigma_lambda_layer.backends.athena:AthenaBackend",
            "aws_cloudtrail_athena",
            "sigma_lambda_layer.views.athena:athena_view",
            "sigma_lambda_layer.engines.athena:run_athena",
        ),
        Target(
            "securitylake",
            "Amazon Athena (Trino SQL) over Amazon Security Lake's CloudTrail table (OCSF 1.1, source version 2)",
            "Amazon Security Lake (Athena SQL)",
            "sql",
            "sql",
            "sigma_lambda_layer.backends.securitylake:SecurityLakeBackend",
            "aws_cloudtrail_securitylake",
            "sigma_lambda_layer.views.securitylake:securitylake_view",
            "sigma_lambda_layer.engines.securitylake:run_securitylake",
        ),
        Target(
            "eventbridge",
            "Amazon EventBridge event patterns over CloudTrail events (real-time rules, no SIEM)",
            "EventBridge event pattern",
            "json",
            "json",
            "sigma_lambda_layer.backends.eventbridge:EventBridgeBackend",
            "aws_cloudtrail_eventbridge",
            "sigma_lambda_layer.views.eventbridge:eventbridge_view",
            "sigma_lambda_layer.engines.eventbridge:run_event_pattern",
            sigma_cli_backend=True,
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
        PipelineEntry(
            "aws_cloudtrail_athena",
            "CloudTrail fields as columns of the Amazon Athena CloudTrail table (lowercase, JSON-text subtrees)",
            "sigma_lambda_layer.pipelines.athena:aws_cloudtrail_athena",
        ),
        PipelineEntry(
            "aws_cloudtrail_securitylake",
            "CloudTrail fields as OCSF 1.1 columns of Amazon Security Lake's CloudTrail table (source version 2)",
            "sigma_lambda_layer.pipelines.securitylake:aws_cloudtrail_securitylake",
        ),
        PipelineEntry(
            "aws_cloudtrail_eventbridge",
            "CloudTrail records under detail in the EventBridge envelope (detail-type, source)",
            "sigma_lambda_layer.pipelines.eventbridge:aws_cloudtrail_eventbridge",
        ),
    )
}

ALL_TARGETS = "all"
#: The target :func:`sigma_lambda_layer.convert` compiles for when none is named.
DEFAULT_TARGET = "splunk"
#: The target ``sigma-lambda hunt`` compiles rules for (its ``hunt`` format runs on the embedded DuckDB with
#: ``--engine duckdb``; the native engine loads and gates rules through it too).
HUNT_TARGET = "duckdb"
#: ``hunt --engine athena``: the target whose ``hunt`` format runs on Amazon Athena (hunt/athena.py).
HUNT_ATHENA_TARGET = "athena"
#: ``hunt --engine native`` (the default): the reference evaluator over log files on this machine
#: (hunt/native.py); it compiles the rules for ``HUNT_TARGET`` for that target's refusals and dispatch values.
HUNT_NATIVE = "native"
#: The engines of ``sigma-lambda hunt``: the native one, then each named after the target whose queries it
#: runs. The first is the default.
HUNT_ENGINES: tuple[str, ...] = (HUNT_NATIVE, HUNT_TARGET, HUNT_ATHENA_TARGET)


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


def format_kind(fmt: str) -> FormatKind:
    """How ``fmt``'s output is rendered, from the first target whose backend declares it (a format name
    means the same on every target that has it: ``siem_rule`` is one JSON document everywhere)."""
    if fmt != "default":
        for target in TARGETS.values():
            if fmt in target.formats():
                return target.format_file(fmt).kind
    return "text"
