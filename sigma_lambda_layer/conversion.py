"""The conversion core: parsed rules in, one :class:`~sigma_lambda_layer.results.ConversionResult` per rule and
target out.

:func:`rules_of` parses loaded YAML with pySigma (errors located in the file); :func:`convert_sources` runs
every target's pipeline and backend over the parsed rules; :func:`configure` checks a request (targets,
format, options, filters) before any rule is converted. Rules are parsed once; each target but the last gets
fresh pySigma rule objects (pySigma's pipelines modify the rule they process). A rule that fails on a target
becomes a located error for that rule and target, and every other rule and target is still converted. The
batch engine (:mod:`sigma_lambda_layer.batch`) calls this module per unit of work, in this process or a
worker; :func:`sigma_lambda_layer.convert` is a thin layer over both.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sigma_lambda_layer.errors import (
    ConversionError,
    Location,
    OutOfScopeError,
    RuleLoadError,
    SigmaLambdaError,
    UnsupportedConstructError,
    UnsupportedFieldError,
    UsageError,
)
from sigma_lambda_layer.loading import LoadedFile, LoadResult, hint_for, locate, locate_refusal
from sigma_lambda_layer.registry import Target, expand_targets, get_pipeline
from sigma_lambda_layer.results import ConversionResult


@dataclass(frozen=True)
class Config:
    """Everything besides the rule bytes that decides a conversion's output."""

    targets: tuple[str, ...]
    format: str
    pipelines: tuple[str, ...] = ()
    without_pipeline: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    #: Exemptions as (path, YAML text) pairs of Sigma filters, merged into the rules they name.
    filters: tuple[tuple[str, str], ...] = ()
    #: pySigma's correlation method (``None``: each backend's default).
    correlation_method: str | None = None


def configure(
    target: str | Sequence[str],
    format: str,
    *,
    pipelines: Sequence[str] = (),
    without_pipeline: bool = False,
    options: Mapping[str, Any] | None = None,
    filters: Sequence[str | Path] = (),
    correlation_method: str | None = None,
) -> tuple[list[Target], Config]:
    """The targets and settings of a request, every usage error (bad filter, target, format or option) raised
    before any rule is converted."""
    from sigma_lambda_layer.exemptions import parse_filters, read_filter_sources

    filter_sources = tuple(read_filter_sources(filters)) if filters else ()
    if filter_sources:
        parse_filters(filter_sources)  # a bad filter is a usage error before any rule is converted
    targets = expand_targets([target] if isinstance(target, str) else list(target))
    for t in targets if format != "default" else ():  # every backend has "default"; skip importing them
        formats = t.backend_class().formats
        if format not in formats:
            raise UsageError(
                f"target {t.id!r} has no output format {format!r}",
                hint=f"formats of {t.id}: {', '.join(formats)}",
            )
    _check_options(targets, dict(options or {}))
    if correlation_method is not None:
        _check_correlation_method(targets, correlation_method)
    config = Config(
        targets=tuple(t.id for t in targets),
        format=format,
        pipelines=tuple(pipelines),
        without_pipeline=without_pipeline,
        options=dict(options or {}),
        filters=filter_sources,
        correlation_method=correlation_method,
    )
    return targets, config


def _check_correlation_method(targets: Sequence[Target], method: str) -> None:
    """Every target's backend must know ``method`` (sigma-cli's ``-c``); else a usage error naming theirs."""
    for t in targets:
        methods = getattr(t.backend_class(), "correlation_methods", None) or {}
        if method not in methods:
            known = ", ".join(methods) or "none (the backend converts no correlation rule)"
            raise UsageError(
                f"target {t.id!r} has no correlation method {method!r}",
                hint=f"correlation methods of {t.id}: {known}",
            )


def check_pipelines(target: str | Sequence[str], pipelines: Sequence[str]) -> None:
    """sigma-cli's ``--pipeline-check``: a pipeline given with ``-p`` that declares the backends it is meant
    for (pySigma's ``allowed_backends``) must name every target; else a usage error."""
    targets = expand_targets([target] if isinstance(target, str) else list(target))
    for ref in pipelines:
        allowed = getattr(_load_pipeline(ref), "allowed_backends", None) or frozenset()
        wrong = [t.id for t in targets if allowed and t.id not in allowed]
        if wrong:
            raise UsageError(
                f"pipeline {ref!r} is intended for {', '.join(sorted(allowed))}, not {', '.join(wrong)}",
                hint="--disable-pipeline-check applies it anyway",
            )


@dataclass
class _Source:
    """A parsed rule document or pySigma object with where it came from."""

    path: str | None
    file: LoadedFile | None
    rule: Any  # SigmaRuleBase
    #: Position of the rule among the rules pySigma parsed from ``file``.
    index: int = 0


def _load_pipeline(ref: str) -> Any:
    """A pipeline by registry id or from a YAML file."""
    from sigma.processing.pipeline import ProcessingPipeline

    path = Path(ref)
    if ref.endswith((".yml", ".yaml")) or path.is_file():
        try:
            return ProcessingPipeline.from_yaml(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(
                f"cannot read pipeline file: {exc.strerror or exc}", location=Location(ref)
            ) from None
        except Exception as exc:  # pySigma raises several types for a bad pipeline
            raise UsageError(f"invalid pipeline: {exc}", location=Location(ref)) from None
    return get_pipeline(ref).build()


def build_pipeline(target: Target, pipelines: Sequence[str] = (), without_pipeline: bool = False) -> Any:
    """The processing pipeline for ``target``: its default AWS pipeline (unless disabled) plus the user's."""
    from sigma.processing.pipeline import ProcessingPipeline

    combined = ProcessingPipeline()
    names = [] if without_pipeline else [target.pipeline_id]
    names += [p for p in pipelines if p not in names]
    for name in names:
        combined = combined + _load_pipeline(name)
    return combined


def rules_of(loaded: LoadResult) -> tuple[list[_Source], list[SigmaLambdaError]]:
    """Parse every loaded YAML file with pySigma, turning pySigma's errors into located ones."""
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaRuleLocation

    sources: list[_Source] = []
    errors: list[SigmaLambdaError] = list(loaded.errors)
    for file in loaded.files:
        try:
            collection = SigmaCollection.from_dicts(
                # The load-time parse may use the documents themselves: pySigma reads them without change
                # (except collection actions, which it deletes), and every later target parses a copy taken
                # before this parse's rule objects go through a pipeline (see _fresh_rules).
                file.fresh_documents() if _has_actions(file) else file.documents,
                collect_errors=True,
                source=SigmaRuleLocation(Path(file.path)),
                collect_filters=True,
                resolve_references=False,
            )
        except Exception as exc:  # pySigma raises plain exceptions for some malformed documents
            errors.append(_located(RuleLoadError, exc, file))
            continue
        rule_errors = {id(e) for rule in collection.rules for e in rule.errors}
        for error in collection.errors:
            if id(error) not in rule_errors:
                errors.append(_located(RuleLoadError, error, file))
        for index, rule in enumerate(collection.rules):
            problems: list[Exception] = list(rule.errors) or _condition_errors(rule)
            if problems:
                for problem in problems:
                    errors.append(_located(RuleLoadError, problem, file, _document_index_of(file, index)))
                continue
            sources.append(_Source(file.path, file, rule, index))
    for obj in loaded.objects:
        rules = obj.rules if hasattr(obj, "rules") else [obj]
        for rule in rules:
            path = str(rule.source.path) if getattr(rule, "source", None) else None
            sources.append(_Source(path, None, rule))
    return sources, errors


_PUBLIC_ERRORS = (
    ConversionError,
    RuleLoadError,
    OutOfScopeError,
    UnsupportedConstructError,
    UnsupportedFieldError,
    UsageError,
    SigmaLambdaError,
)


def _located(
    kind: type[SigmaLambdaError],
    exc: BaseException,
    file: LoadedFile | None,
    document: int = 0,
    rule_fields: Callable[[str], list[str]] | None = None,
) -> SigmaLambdaError:
    """Wrap any exception into ``kind`` with the file, line and column we can recover.

    A refusal of ours (:func:`sigma_lambda_layer.errors.unsupported`) names its construct, field and value:
    the YAML node is found from them, the field mapped back to the rule's name by ``rule_fields`` (the
    pipeline's field mappings). Only pySigma's own errors, which carry no such attributes, are located by
    reading the quoted words of their message.
    """
    # Already located, and of a public class (results cross processes and the cache by class name).
    if isinstance(exc, SigmaLambdaError) and exc.location.line is not None and type(exc) in _PUBLIC_ERRORS:
        return exc
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    if not isinstance(exc, (SigmaLambdaError, NotImplementedError)) and not _is_sigma_error(exc):
        message = f"internal error ({type(exc).__name__}): {message}"
    path = file.path if file else None
    line = column = None
    if file is not None and isinstance(exc, (UnsupportedConstructError, UnsupportedFieldError)):
        names = [exc.field] if exc.field else []
        if exc.field and rule_fields is not None:
            names += [f for f in rule_fields(exc.field) if f not in names]
        where = locate_refusal(file.text, document, construct=exc.construct, fields=names, value=exc.value)
        line, column = where if where is not None else (None, None)
    elif file is not None:
        line, column = locate(file.text, message, document)
    hint = getattr(exc, "hint", None) or hint_for(message)
    if kind is ConversionError:
        kind = _unsupported_kind(exc)
    error = kind(message, location=Location(path, line, column), hint=hint)
    error.__cause__ = exc
    return error


def located_load_error(exc: BaseException, file: LoadedFile, rule_index: int = 0) -> SigmaLambdaError:
    """pySigma's error about the ``rule_index``-th rule of ``file`` as ``convert`` reports it: a
    :class:`RuleLoadError` located at the node it names (``sigma-lambda check`` uses this, so both commands
    give the same line and column for the same problem)."""
    return _located(RuleLoadError, exc, file, _document_index_of(file, rule_index))


def _unsupported_kind(exc: BaseException) -> type[SigmaLambdaError]:
    """Our error class for a backend failure: "unsupported" when the target cannot express the construct."""
    from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

    # The public classes, not a backend's own subclass: results cross processes and the cache by class name.
    if isinstance(exc, UnsupportedFieldError):
        return UnsupportedFieldError
    if isinstance(exc, OutOfScopeError):
        return OutOfScopeError
    if isinstance(exc, UnsupportedConstructError):
        return UnsupportedConstructError
    # pySigma backends without correlation support raise NotImplementedError for correlation rules.
    if isinstance(exc, (SigmaFeatureNotSupportedByBackendError, NotImplementedError)):
        return UnsupportedConstructError
    return ConversionError


def _is_sigma_error(exc: BaseException) -> bool:
    from sigma.exceptions import SigmaError

    return isinstance(exc, SigmaError)


def _has_actions(file: LoadedFile) -> bool:
    return any(isinstance(doc, dict) and "action" in doc for doc in file.documents)


def _condition_errors(rule: Any) -> list[Exception]:
    """Parse a rule's conditions now, so that a bad condition is a load error of that rule alone."""
    from sigma.exceptions import SigmaError

    detection = getattr(rule, "detection", None)
    if detection is None:
        return []
    try:
        for condition in detection.parsed_condition:
            condition.parsed  # noqa: B018 - parsing is the check
    except SigmaError as exc:
        return [exc]
    return []


def _document_index_of(file: LoadedFile | None, index: int) -> int:
    """The YAML document the ``index``-th parsed rule came from (exact for one rule per document)."""
    if file is None:
        return 0
    documents = [i for i, doc in enumerate(file.documents) if isinstance(doc, dict)]
    return documents[index] if index < len(documents) else 0


def _document_index(source: _Source) -> int:
    return _document_index_of(source.file, source.index)


def _fresh_rules(sources: list[_Source], reuse: bool) -> list[Any]:
    """Rule objects for one target, with cross-rule references resolved.

    pySigma's pipelines modify the rule they process, so only one target may use the rules parsed at load
    time (``reuse``); every further target gets new objects, parsed from the documents read once.
    """
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaRuleLocation

    fresh: list[Any] = []
    by_file: dict[int, list[Any]] = {}
    for source in sources:
        if reuse or source.file is None:
            fresh.append(source.rule if reuse else copy.deepcopy(source.rule))
            continue
        key = id(source.file)
        if key not in by_file:
            by_file[key] = SigmaCollection.from_dicts(
                source.file.fresh_documents(),
                collect_errors=True,
                source=SigmaRuleLocation(Path(source.file.path)),
                collect_filters=True,
                resolve_references=False,
            ).rules
        fresh.append(by_file[key][source.index])
    # Resolve correlation-rule references; an unresolved one surfaces per rule at conversion time.
    with contextlib.suppress(Exception):
        SigmaCollection(fresh, resolve_references=True)
    return fresh


def _check_options(targets: Sequence[Target], options: dict[str, Any]) -> None:
    """Unknown option names, and values a backend refuses, are usage errors before any rule is converted."""
    from sigma.exceptions import SigmaError

    for name in options:
        if not any(t.accepts_option(name) for t in targets):
            known = sorted({o.name for t in targets for o in t.options})
            raise UsageError(
                f"unknown option {name!r} for target(s) {', '.join(t.id for t in targets)}",
                hint=f"options: {', '.join(known) or 'none'} (see docs/cli.md)",
            )
    for target in targets:
        own = {k: v for k, v in options.items() if target.accepts_option(k)}
        if not own:
            continue
        try:  # the backend checks each value against its declaration (dialect.validate), and across options
            target.backend_class()(processing_pipeline=None, **own)
        except UsageError:
            raise
        except (ValueError, TypeError, SigmaError) as exc:
            raise UsageError(f"invalid option for target {target.id!r}: {exc}") from None


def convert_sources(
    sources: list[_Source], config: Config, reuse_last: bool = True
) -> list[dict[str, ConversionResult]]:
    """Convert parsed rules for every target of ``config``: per rule, target id -> its result.

    Rules are parsed once; every target but the last gets fresh rule objects (pySigma's pipelines modify
    the rule they process).
    """
    from sigma.correlations import SigmaCorrelationRule

    from sigma_lambda_layer.checks import offline
    from sigma_lambda_layer.exemptions import applicable, parse_filters
    from sigma_lambda_layer.exemptions import apply as apply_filters
    from sigma_lambda_layer.registry import get_target

    offline.install_attack()  # formats such as siem_rule read MITRE ATT&CK data: ours, never a download
    filters = parse_filters(config.filters)
    converted: list[dict[str, ConversionResult]] = [{} for _ in sources]
    for number, target_id in enumerate(config.targets):
        target = get_target(target_id)
        pipeline = build_pipeline(target, config.pipelines, config.without_pipeline)
        own = {k: v for k, v in config.options.items() if target.accepts_option(k)}
        backend = target.backend_class()(processing_pipeline=pipeline, **own)
        reuse = reuse_last and number == len(config.targets) - 1
        rules = _fresh_rules(sources, reuse)
        # Correlation rules last: pySigma builds them from their referenced rules' conversions by this backend.
        order = sorted(range(len(rules)), key=lambda i: isinstance(rules[i], SigmaCorrelationRule))
        for index in order:
            slot, source, rule = converted[index], sources[index], rules[index]
            result = _result_of(source, target_id, config.format)
            exempting: list[Any] = []
            try:
                if isinstance(rule, SigmaCorrelationRule):
                    queries = backend.convert_correlation_rule(rule, config.format, config.correlation_method)
                else:
                    if filters:
                        exempting = applicable(rule, filters)
                        rule = apply_filters(rule, filters)
                    queries = backend.convert_rule(rule, config.format)
                output = _single(backend.finalize(list(queries), config.format))
                slot[target_id] = replace(result, output=output, queries=list(queries))
            except Exception as exc:
                error = _located(
                    ConversionError, exc, source.file, _document_index(source), _mapped_back(backend)
                )
                if error.location.line is None and exempting:  # a construct an exemption brought in
                    error.location = _in_filters(exc, exempting, config.filters, _mapped_back(backend)) or (
                        error.location
                    )
                if error.location.path is None and source.path is not None:  # a pySigma object's file
                    error.location = Location(source.path)
                slot[target_id] = replace(result, error=error)
    return converted


def _in_filters(
    exc: BaseException,
    exempting: Sequence[Any],
    sources: Sequence[tuple[str, str]],
    rule_fields: Callable[[str], list[str]],
) -> Location | None:
    """Where, in the filter files that apply to the rule, the construct a target refused is written: a
    refusal the rule's own text does not locate came with an exemption (docs/exemptions.md)."""
    if not isinstance(exc, (UnsupportedConstructError, UnsupportedFieldError)):
        return None
    names = [exc.field] if exc.field else []
    if exc.field:
        names += [f for f in rule_fields(exc.field) if f not in names]
    texts = dict(sources)
    for sigma_filter in exempting:
        path = str(getattr(getattr(sigma_filter, "source", None), "path", ""))
        text = texts.get(path)
        if text is None:
            continue
        for document in range(text.count("---") + 1):  # each YAML document of the file
            where = locate_refusal(text, document, construct=exc.construct, fields=names, value=exc.value)
            if where is not None:
                return Location(path, *where)
    return None


def _mapped_back(backend: Any) -> Callable[[str], list[str]]:
    """Target field -> the rule's field names it came from, through the field mappings pySigma tracked while
    the failed rule went through the pipeline (``ProcessingPipeline.field_mappings``)."""

    def rule_fields(field: str) -> list[str]:
        pipeline = getattr(backend, "last_processing_pipeline", None)
        tracked = getattr(getattr(pipeline, "field_mappings", None), "target_fields", {})
        return sorted(str(f) for f in tracked.get(field, ()) if f is not None)

    return rule_fields


def _result_of(source: _Source, target: str, format: str) -> ConversionResult:
    """The result of ``source`` on ``target`` with neither output nor error yet (the rule's path, id, title)."""
    rid = str(source.rule.id) if source.rule.id else None
    return ConversionResult(source.path, rid, source.rule.title, target, format)


def _single(output: Any) -> Any:
    if isinstance(output, list) and len(output) == 1:
        return output[0]
    return output
