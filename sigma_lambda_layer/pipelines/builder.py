"""The one builder of every target's AWS CloudTrail pipeline, and the one definition of "a CloudTrail rule".

Each pipeline module (one per SIEM family) names its steps, the field mapping, state and added conditions,
and :func:`cloudtrail_pipeline` assembles them the same way for every target:

- first, the **backend check** (:class:`SigmaLambdaBackendOnly`): a stock pySigma backend given one of our
  pipelines (sigma-cli's ``-t lucene -p aws_cloudtrail_elastic``) refuses each rule with an unsupported-construct
  error, which sigma-cli's ``-s`` skips (see :class:`SigmaLambdaBackendOnly` for why no stock backend qualifies);
- then the **CloudTrail-only refusal**: a rule whose log source is not ``product: aws, service:
  cloudtrail`` is refused with an unsupported-construct error on its ``logsource`` (a Windows rule would
  otherwise pass through with its own field names and give a query that silently matches nothing);
- then the **canonical values** step (:mod:`sigma_lambda_layer.pipelines.canonical`, before any field is
  renamed): a case-insensitive value on a field AWS writes in one spelling becomes that spelling, cased;
- then each step, applied only to CloudTrail rules (pySigma's ``LogsourceCondition``);
- item identifiers ``<pipeline id>_<step>`` (``aws_cloudtrail_splunk_fields``), so that a
  ``--pipeline`` file or a pySigma ``ProcessingItemAppliedCondition`` names them alike on every target.

:func:`covers` is the same condition as plain data, for the batch engine's refusal before parsing
(``sigma_lambda_layer.batch``): one definition, two speeds.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sigma.correlations import SigmaCorrelationRule
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import PreprocessingTransformation
from sigma.rule import SigmaLogSource, SigmaRule

from sigma_lambda_layer.errors import OutOfScopeError, unsupported
from sigma_lambda_layer.pipelines.canonical import CANONICAL_STEP, CanonicalValuesTransformation

#: The log source every shipped pipeline handles (the Sigma taxonomy's CloudTrail log source).
CLOUDTRAIL: Final[Mapping[str, str]] = {"product": "aws", "service": "cloudtrail"}
#: The hint of the refusal: how to convert a rule for another log source anyway.
OTHER_SOURCE_HINT: Final = (
    "use --without-pipeline (plain field names) or --pipeline with a pipeline for this log source"
)


def cloudtrail_condition() -> LogsourceCondition:
    """A fresh condition per item: pySigma binds each condition object to one processing item."""
    return LogsourceCondition(**CLOUDTRAIL)


def covers(logsource: Mapping[str, Any]) -> bool:
    """Does a rule's ``logsource`` mapping fall under the pipelines (the test pySigma's condition makes)?"""
    fields = {k: logsource.get(k) for k in ("category", "product", "service")}
    if not all(v is None or isinstance(v, str) for v in fields.values()) or not any(fields.values()):
        return False  # not a log source pySigma can build, so not CloudTrail's
    return SigmaLogSource(**fields) in cloudtrail_condition().logsource


def outside_message(logsource: Mapping[str, Any]) -> str:
    """The refusal's message for a rule of another log source (also the CLI's marker for "skipped")."""
    shown = {k: v for k, v in logsource.items() if k in ("product", "service", "category")}
    return (
        f"log source {shown} is not AWS CloudTrail: sigma-lambda's pipelines cover "
        "logsource product: aws, service: cloudtrail"
    )


@dataclass
class CloudTrailOnly(PreprocessingTransformation):
    """Refuse the rule (it reaches this step only when its log source is not CloudTrail)."""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        logsource = rule.logsource.to_dict() if isinstance(rule, SigmaRule) else {}
        unsupported(
            outside_message(logsource),
            construct="logsource",
            hint=OTHER_SOURCE_HINT,
            kind=OutOfScopeError,
            source=rule.source,
        )


def sigma_lambda_backend_names() -> frozenset[str]:
    """The ``name`` of every sigma-lambda backend class whose module is imported.

    A backend that is converting has its module imported, so this never imports anything (listing pipelines
    and converting with one target stay as cheap as before).
    """
    from sigma_lambda_layer.registry import TARGETS

    names = set()
    for target in TARGETS.values():
        module, _, cls = target.backend_ref.partition(":")
        if module in sys.modules and (backend := getattr(sys.modules[module], cls, None)) is not None:
            names.add(str(backend.name))
    return frozenset(names)


def served_backends(pipeline_id: str) -> frozenset[str]:
    """The backend identifiers ``pipeline_id`` declares (pySigma ``allowed_backends``, shown by ``sigma list
    pipelines``): the registry targets whose pipeline it is. No stock pySigma backend is added (see
    :class:`SigmaLambdaBackendOnly`)."""
    from sigma_lambda_layer.registry import TARGETS

    return frozenset(t.id for t in TARGETS.values() if t.pipeline_id == pipeline_id)


@dataclass
class SigmaLambdaBackendOnly(PreprocessingTransformation):
    """Refuse the rule when a backend that is not sigma-lambda's converts it (sigma-cli's stock backends).

    Why no stock pySigma backend qualifies (measured over the 57 SigmaHQ CloudTrail rules with pySigma 1.5,
    pySigma-backend-elasticsearch 2.1 and pySigma-backend-splunk 2.1, docs/cli.md "sigma-cli interop"):

    - the canonical-values step makes values cased (AWS writes ``eventName`` in one spelling), and the stock
      Lucene, ES|QL and Splunk backends have no case-sensitive match: they raise ``NotImplementedError``,
      which sigma-cli does not count as unsupported, so one rule aborted the whole batch even with ``-s``;
    - the stock Splunk backend ignores the sourcetype (pipeline state our backend puts in the base search),
      the stock Lucene backend ignores the index, and none knows the per-field ``null`` readings: a query
      without them has another meaning than ours;
    - the stock EQL backend converts most rules, but its output is not ours (no refusal of what Elastic's
      mapping cannot answer exactly) and nothing tests its meaning on a real engine.

    The backend is known by name: pySigma puts the converting backend's ``name`` in pipeline variable
    ``backend`` (``Backend.init_processing_pipeline``). Without that variable (a pipeline applied on its own,
    as the checks do) nothing is refused.
    """

    pipeline_id: str = ""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        backend = self._pipeline.vars.get("backend") if self._pipeline is not None else None
        if backend is None or backend in sigma_lambda_backend_names():
            return
        targets = ", ".join(sorted(served_backends(self.pipeline_id)))
        unsupported(
            f"pipeline {self.pipeline_id} serves sigma-lambda's own backends (targets {targets}), not the stock "
            f"pySigma backend {backend!r}: that backend ignores the pipeline's state and cannot express its "
            "cased values, so its query would not mean the rule",
            construct="backend",
            hint=f"convert with sigma-lambda (sigma-lambda convert --target one of: {targets}); sigma-cli runs "
            "sigma-lambda's backends for the targets it registers (-t cloudwatch, -t eventbridge)",
            source=rule.source,
        )


def cloudtrail_pipeline(
    pipeline_id: str, name: str, steps: Sequence[tuple[str, PreprocessingTransformation]], priority: int = 20
) -> ProcessingPipeline:
    """The CloudTrail-only refusal, then ``steps`` (``(step name, transformation)``) for CloudTrail rules."""
    items = [
        ProcessingItem(
            identifier=f"{pipeline_id}_backend",
            transformation=SigmaLambdaBackendOnly(pipeline_id),
        ),
        ProcessingItem(
            identifier=f"{pipeline_id}_cloudtrail_only",
            transformation=CloudTrailOnly(),
            rule_conditions=[cloudtrail_condition()],
            rule_condition_negation=True,
        ),
    ]
    items += [
        ProcessingItem(
            identifier=f"{pipeline_id}_{step}",
            transformation=transformation,
            rule_conditions=[cloudtrail_condition()],
        )
        for step, transformation in [(CANONICAL_STEP, CanonicalValuesTransformation()), *steps]
    ]
    return ProcessingPipeline(
        name=name, priority=priority, items=items, allowed_backends=served_backends(pipeline_id)
    )
