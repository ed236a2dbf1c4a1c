"""The differential fidelity harness: every rule x every record x every target, against the evaluator.

A query that compiles but matches the wrong events is the worst output a compiler can give, and no amount of
spelling tests catches it. So every rule (SigmaHQ's AWS rules, ours, and the generated probes of
:mod:`tests.support.probes`) is compiled for every target, each query is run on that target's engine over the
target's *view* of every record (the document the SIEM would hold), and the set of records it returns is
compared with the set the reference evaluator (:mod:`sigma_lambda_layer.evaluator`) decides on the raw
records. Each (rule, target) pair ends in one :class:`Cell`:

``agree``
    the engine returns exactly the evaluator's records;
``error``
    the compiler refused the rule with a clear unsupported-construct or unsupported-field error (acceptable:
    an analyst sees it, nothing silently wrong ships);
``disagree``
    the match sets differ (the records on either side are listed);
``bad-error``
    the compiler failed some other way (an internal error, a crash);
``rejected``
    the engine refused the query: invalid in the target, or outside the subset a reference interpreter
    models (so its meaning is unproven);
``storage-gap``
    (Elastic targets only) the match sets differ, but only on records where the storage explains it: the
    record holds, in a field the rule uses, a value Elastic keeps unsearchable (an empty or null value the
    ingest pipeline drops, a keyword over ``ignore_above``, a malformed boolean, an object too long for its
    flattened copy) *and* the evaluator, run on the record without those values, gives the target's answer
    (:func:`elastic_storage_gap`, the one definition every Elastic fidelity test uses). Each such record is
    listed; the query is not at fault, and no query could do better on that storage;
``no-oracle``
    the evaluator itself cannot decide the rule (not counted against a target).

Work is batched per target: one conversion call per target, one engine pass per query over all records, and
one JVM for all Lucene queries (started first, in a thread, so that it overlaps the Python engines on a
second core). A target whose engine is unavailable (module missing, Java or Lucene not installed) is
skipped with the reason. The same run also scores the *stock* pySigma backends (Splunk, Lucene, EQL,
ES|QL) with the same field names, for the report's comparison column; they are never asserted.

Records: the shared corpus (``../shared/corpus/cloudtrail/*.jsonl``), the crafted records of the labelled
pack (``tests/pack/``), and the probes' crafted near misses. Every rule is compared on every record.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from sigma_lambda_layer.errors import is_unsupported
from sigma_lambda_layer.registry import TARGETS as REGISTRY
from sigma_lambda_layer.registry import Target
from sigma_lambda_layer.views.elastic import FLATTENED_MAX_STRING
from tests.support.probes import probes

REPO: Final = Path(__file__).resolve().parents[2]
CORPUS: Final = (REPO / ".." / "shared" / "corpus").resolve()
CLOUDTRAIL: Final = CORPUS / "cloudtrail"
AWS_RULES: Final = CORPUS / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"
OUR_RULES: Final = REPO / "rules"

TARGETS: Final = tuple(REGISTRY)
#: Statuses that fail the differential test for one of our targets.
FAILING: Final = frozenset({"disagree", "bad-error", "rejected"})
#: How many record ids a disagreement lists on each side before "...".
SHOWN_RECORDS: Final = 6

Status = Literal["agree", "error", "disagree", "storage-gap", "bad-error", "rejected", "no-oracle"]


# --------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Record:
    """One CloudTrail record of the pool, with a stable id for the report."""

    id: str
    data: dict[str, Any] = field(repr=False)
    origin: Literal["corpus", "pack", "probe"]


@dataclass(frozen=True)
class Label:
    """A hand label of the pack: the rule as written should (not) match this record."""

    record: int
    #: what the rule *as written* gives (the author's intent, flipped for a documented expected failure)
    verdict: bool
    name: str
    #: the rule cannot give its author's intent on this record (docs/findings.md)
    expected_failure: bool = False

    @property
    def intended(self) -> bool:
        """What the rule's author meant (``expect: match``), whether or not the rule as written gives it."""
        return self.verdict is not self.expected_failure


@dataclass(frozen=True)
class RuleCase:
    """One rule of the table."""

    key: str
    kind: Literal["sigmahq", "ours", "probe"]
    text: str = field(repr=False)
    labels: tuple[Label, ...] = ()


@dataclass(frozen=True)
class Inputs:
    rules: tuple[RuleCase, ...]
    records: tuple[Record, ...]
    #: why some inputs are absent (no corpus beside the project, no pack yet)
    notes: tuple[str, ...] = ()


def _corpus_records() -> list[Record]:
    records: list[Record] = []
    for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    records.append(Record(f"{path.stem}:{number}", json.loads(line), "corpus"))
    return records


def _rule_key(path: Path) -> tuple[str, Literal["sigmahq", "ours"]]:
    if path.is_relative_to(OUR_RULES):
        return f"rules/{path.stem}", "ours"
    return f"sigmahq/{path.stem}", "sigmahq"


@cache
def load_inputs() -> Inputs:
    """Rules and records of the table, in a stable order."""
    notes: list[str] = []
    records: list[Record] = []
    # ``*.tests.yml`` beside a rule are its unit tests (records with verdicts), read by the pack loader.
    rule_paths = sorted(p for p in OUR_RULES.glob("*.yml") if not p.name.endswith(".tests.yml"))
    if CLOUDTRAIL.is_dir() and AWS_RULES.is_dir():
        records += _corpus_records()
        rule_paths += sorted(AWS_RULES.glob("*.yml"))
    else:
        notes.append(f"{CORPUS} is absent: no SigmaHQ rules and no corpus records")
    corpus_index = {r.id: i for i, r in enumerate(records)}

    labels: dict[Path, list[Label]] = {}
    try:
        from tests.support.pack_loader import load_pack
    except ImportError:
        notes.append("tests/support/pack_loader.py is absent: no labelled pack records")
    else:
        for entry in load_pack():
            corpus_ref = entry.origin.get("corpus")
            if isinstance(corpus_ref, str):
                name, _, line = corpus_ref.rpartition(":")
                index = corpus_index.get(f"{Path(name).stem}:{line}")
            else:
                index = None
            if index is None:
                index = len(records)
                records.append(Record(f"pack:{entry.name}", entry.record, "pack"))
            labels.setdefault(entry.rule_path.resolve(), []).append(
                Label(index, entry.sigma_verdict, entry.name, entry.expected_failure)
            )

    rules: list[RuleCase] = []
    for path in rule_paths:
        key, kind = _rule_key(path.resolve())
        rules.append(
            RuleCase(key, kind, path.read_text(encoding="utf-8"), tuple(labels.get(path.resolve(), ())))
        )
    for probe in probes():
        rules.append(RuleCase(f"probe/{probe.name}", "probe", probe.rule))
        records += [Record(f"probe:{r.name}", r.record, "probe") for r in probe.records]
    return Inputs(tuple(rules), tuple(records), tuple(notes))


# --------------------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class Query:
    """One compiled rule for one target: its query strings (a rule may give several) and case need."""

    texts: tuple[str, ...]
    #: the rule uses ``|cased`` or a case-sensitive ``|re`` (the strict EQL check needs to know)
    cased: bool


EngineResult = set[int] | Exception


class EngineRefusal(Exception):
    """The engine refused a query; carries the original error's type and message as text."""


@dataclass(frozen=True)
class Engine:
    """How to run one target's queries: the record view and a batch runner over all views."""

    target: str
    #: modules that must import for the engine to run (the reason to skip otherwise)
    modules: tuple[str, ...]
    view: Callable[[Mapping[str, Any]], Any]
    run: Callable[[Sequence[Query], list[Any]], list[EngineResult]]
    #: an extra availability check (Java, jars), returning the reason it cannot run
    missing: Callable[[], str | None] = lambda: None


def _one_by_one(
    runner: Callable[[str, list[Any], Query], Iterable[int]],
) -> Callable[..., list[EngineResult]]:
    """A batch runner from a per-query one; a query's exception becomes its result."""

    def run(queries: Sequence[Query], views: list[Any]) -> list[EngineResult]:
        results: list[EngineResult] = []
        for query in queries:
            try:
                hits: set[int] = set()
                for text in query.texts:
                    hits |= set(runner(text, views, query))
                results.append(hits)
            except Exception as exc:  # the engine's refusal is the finding
                results.append(exc)
        return results

    return run


def _run_eql(text: str, views: list[Any], query: Query) -> Iterable[int]:
    from tests.engines.eql_engine import run_eql

    return run_eql(text, views, cased=query.cased)


def _run_esql(text: str, views: list[Any], _: Query) -> Iterable[int]:
    from tests.engines.esql_engine import run_esql

    return run_esql(text, views)


def _run_lucene(queries: Sequence[Query], views: list[Any]) -> list[EngineResult]:
    """All queries of all rules in one JVM; a rule's several queries are OR-ed back together."""
    from sigma_lambda_layer.views.elastic import field_type
    from tests.engines.lucene_engine import LuceneEngine, LuceneQueryError

    texts = [t for q in queries for t in q.texts]
    flat = LuceneEngine().search_many(texts, views, field_type)
    results: list[EngineResult] = []
    position = 0
    for query in queries:
        parts = flat[position : position + len(query.texts)]
        position += len(query.texts)
        errors = [p for p in parts if isinstance(p, LuceneQueryError)]
        hits = [p for p in parts if not isinstance(p, LuceneQueryError)]
        results.append(errors[0] if errors else set().union(*hits))
    return results


def _sql_hits(database: Any, queries: Sequence[Query]) -> list[EngineResult]:
    """Every query run on one database loaded once; the engine's refusal of a query is the finding."""
    results: list[EngineResult] = []
    for query in queries:
        try:
            results.append(set().union(*(database.hits(text) for text in query.texts)))
        except Exception as exc:  # the engine's refusal is the finding
            results.append(exc)
    return results


def _run_duckdb(queries: Sequence[Query], views: list[Any]) -> list[EngineResult]:
    """DuckDB itself: every record loaded once as ``cloudtrail(id, record JSON)``, every query run on it."""
    from sigma_lambda_layer.engines.duckdb import DuckDBRecords

    return _sql_hits(DuckDBRecords(views), queries)


def _run_athena(queries: Sequence[Query], views: list[Any]) -> list[EngineResult]:
    """The offline Athena proxy: every Athena row loaded once into DuckDB in the DDL's types, every Trino
    query transpiled by sqlglot and run on it (sigma_lambda_layer/engines/athena.py)."""
    from sigma_lambda_layer.engines.athena import AthenaRecords

    return _sql_hits(AthenaRecords(views), queries)


def _run_securitylake(queries: Sequence[Query], views: list[Any]) -> list[EngineResult]:
    """The Athena proxy over Security Lake's OCSF table: every row (the project's CloudTrail -> OCSF mapping)
    loaded once, every Trino query transpiled and run on it (sigma_lambda_layer/engines/securitylake.py)."""
    from sigma_lambda_layer.engines.securitylake import securitylake_records

    return _sql_hits(securitylake_records(views), queries)


def _lucene_missing() -> str | None:
    from tests.engines.lucene_engine import LuceneEngine

    return LuceneEngine.missing()


#: Runners of the engines that live in the test suite (Java and Lucene, the eql and ES|QL packages), by
#: target; the others run the registry's shipped engine (:attr:`Target.engine_ref`).
_TEST_ENGINES: Final[
    dict[str, tuple[tuple[str, ...], Callable[..., list[EngineResult]], Callable[[], str | None]]]
] = {
    "lucene": (("tests.engines.lucene_engine",), _run_lucene, _lucene_missing),
    "eql": (("tests.engines.eql_engine",), _one_by_one(_run_eql), lambda: None),
    "esql": (("tests.engines.esql_engine",), _one_by_one(_run_esql), lambda: None),
    # DuckDB itself, with every record loaded once for all queries (the shipped engine loads per query).
    "duckdb": (("duckdb",), _run_duckdb, lambda: None),
    # The Athena proxy, with every row loaded once for all queries.
    "athena": (("duckdb", "sqlglot"), _run_athena, lambda: None),
    # The same proxy over the OCSF table, with every row loaded once for all queries.
    "securitylake": (("duckdb", "sqlglot"), _run_securitylake, lambda: None),
}


def _shipped(target: Target) -> Callable[..., list[EngineResult]]:
    def run(text: str, views: list[Any], _: Query) -> Iterable[int]:
        engine = target.engine()
        assert engine is not None
        return engine(text, views)

    return _one_by_one(run)


def _no_engine() -> str:
    return "no reference engine, in the package or the test suite"


def _engine(target: Target) -> Engine:
    """The registry's view of the target's records, and its engine: shipped, or from the test suite."""
    view_module = target.view_ref.partition(":")[0]

    def view(record: Mapping[str, Any]) -> Any:  # loaded on first use, like the registry's refs
        return target.view()(record)

    if target.id in _TEST_ENGINES:
        modules, run, missing = _TEST_ENGINES[target.id]
        return Engine(target.id, (*modules, view_module), view, run, missing)
    if target.engine_ref is not None:
        engine_module = target.engine_ref.partition(":")[0]
        return Engine(target.id, (engine_module, view_module), view, _shipped(target))
    return Engine(target.id, (view_module,), view, _one_by_one(lambda *_: ()), _no_engine)


ENGINES: Final[dict[str, Engine]] = {t.id: _engine(t) for t in REGISTRY.values()}


def engine_unavailable(target: str) -> str | None:
    """Why ``target``'s engine cannot run here, or None."""
    engine = ENGINES[target]
    for module in engine.modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            return f"{module} does not import ({type(exc).__name__}: {exc})"
    try:
        return engine.missing()
    except Exception as exc:
        return f"engine check failed ({type(exc).__name__}: {exc})"


# --------------------------------------------------------------------------------------- conversion


@dataclass(frozen=True)
class Compiled:
    """A rule compiled for one target: queries, or the error the compiler gave."""

    query: Query | None
    error: str | None = None
    #: the error names an unsupported construct or field (acceptable), rather than an internal failure
    clear: bool = False


def _cased(text: str) -> bool:
    """Does the rule ask for case-sensitive matching (``|cased``, or ``|re`` without ``i``)?"""
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaDetection, SigmaDetectionItem
    from sigma.types import SigmaCasedString, SigmaRegularExpression, SigmaRegularExpressionFlag

    def walk(node: Any) -> Iterable[Any]:
        if isinstance(node, SigmaDetection):
            for item in node.detection_items:
                yield from walk(item)
        elif isinstance(node, SigmaDetectionItem):
            yield from node.value

    try:
        rule: Any = SigmaCollection.from_yaml(text).rules[0]
        values = [v for d in rule.detection.detections.values() for v in walk(d)]
    except Exception:
        return False
    return any(
        isinstance(v, SigmaCasedString)
        or (isinstance(v, SigmaRegularExpression) and SigmaRegularExpressionFlag.IGNORECASE not in v.flags)
        for v in values
    )


#: An error that names a construct or field the target cannot express (acceptable in the table).
is_clear_error = is_unsupported


def _texts(output: Any) -> tuple[str, ...]:
    if isinstance(output, str):
        return (output,)
    if isinstance(output, list) and all(isinstance(o, str) for o in output):
        return tuple(output)
    raise TypeError(f"unexpected query output {type(output).__name__}")


def compile_ours(target: str, rules: Sequence[RuleCase]) -> list[Compiled]:
    """Every rule through the public API for ``target``: one call, errors collected per rule.

    Results come back in rule order. Rule ids are not unique across sources (our founding rule keeps its
    SigmaHQ id), so results are matched by position; if some rule failed to load, and positions shift,
    each rule is converted on its own instead.
    """
    from sigma_lambda_layer.api import convert

    results = list(convert([r.text for r in rules], target=target, collect_errors=True))
    if len(results) != len(rules):
        results = [convert(r.text, target=target, collect_errors=True)[0] for r in rules]
    compiled: list[Compiled] = []
    for rule, result in zip(rules, results, strict=True):
        if result.error is not None:
            error = result.error
            compiled.append(Compiled(None, getattr(error, "message", str(error)), is_clear_error(error)))
            continue
        try:
            compiled.append(Compiled(Query(_texts(result.output), _cased(rule.text))))
        except TypeError as exc:
            compiled.append(Compiled(None, str(exc), False))
    return compiled


def _stock_pipeline(family: str) -> Any:
    """The same field names as ours, applied with nothing else: a plain field-name mapping.

    Our own transformation classes do the renaming (so both sides query the same fields); the log source
    condition is added as a plain (not ``|cased``) value, which the stock Lucene and ES|QL backends refuse.
    """
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import AddConditionTransformation, SetStateTransformation

    from sigma_lambda_layer.fields.elastic import DATASET, INDEX_PATTERN
    from sigma_lambda_layer.pipelines.elastic import CloudTrailToElasticFieldsTransformation
    from sigma_lambda_layer.pipelines.splunk import CloudTrailSplunkFieldMapping

    def cloudtrail() -> list[Any]:
        return [LogsourceCondition(product="aws", service="cloudtrail")]

    if family == "splunk":
        items = [ProcessingItem(CloudTrailSplunkFieldMapping(), rule_conditions=cloudtrail())]
    else:
        items = [
            ProcessingItem(CloudTrailToElasticFieldsTransformation(), rule_conditions=cloudtrail()),
            ProcessingItem(SetStateTransformation("index", INDEX_PATTERN), rule_conditions=cloudtrail()),
            ProcessingItem(
                AddConditionTransformation({"data_stream.dataset": DATASET}), rule_conditions=cloudtrail()
            ),
        ]
    return ProcessingPipeline(name=f"stock comparison ({family} field names)", priority=20, items=items)


#: Stock backend per target, by import path, with the field family of its pipeline.
STOCK: Final[dict[str, tuple[str, str]]] = {
    "splunk": ("sigma.backends.splunk:SplunkBackend", "splunk"),
    "lucene": ("sigma.backends.elasticsearch:LuceneBackend", "elastic"),
    "eql": ("sigma.backends.elasticsearch:EqlBackend", "elastic"),
    "esql": ("sigma.backends.elasticsearch:ESQLBackend", "elastic"),
}


def compile_stock(target: str, rules: Sequence[RuleCase]) -> list[Compiled]:
    """Every rule through the stock pySigma backend for ``target``, rule by rule."""
    from sigma.collection import SigmaCollection

    module, _, name = STOCK[target][0].partition(":")
    backend_class = getattr(importlib.import_module(module), name)
    backend = backend_class(processing_pipeline=_stock_pipeline(STOCK[target][1]))
    compiled: list[Compiled] = []
    for rule in rules:
        try:
            sigma_rule = SigmaCollection.from_yaml(rule.text).rules[0]
            output = backend.convert_rule(sigma_rule)
            compiled.append(Compiled(Query(_texts(list(output)), _cased(rule.text))))
        except Exception as exc:
            compiled.append(Compiled(None, f"{type(exc).__name__}: {exc}", is_clear_error(exc)))
    return compiled


# --------------------------------------------------------------------------------------- Elastic storage gaps

#: The Elastic targets: one document (:func:`sigma_lambda_layer.views.elastic.elastic_view`), one storage.
ELASTIC_TARGETS: Final = frozenset({"lucene", "eql", "esql"})
#: Fleet's ``ignore_above`` for the integration's keyword fields: longer values are stored, not indexed.
KEYWORD_IGNORE_ABOVE: Final = 1024

_EMPTY: Final = "empty or null value dropped by the ingest pipeline"
_LONG_KEYWORD: Final = f"keyword over ignore_above {KEYWORD_IGNORE_ABOVE}"
_BAD_BOOLEAN: Final = "malformed boolean ignored"
_LONG_OBJECT: Final = f"object text of {FLATTENED_MAX_STRING}+ characters, no flattened copy"


def rule_fields(rule: Any) -> set[str]:
    """Every field a parsed rule tests, including the fields its ``|fieldref`` values name."""
    from sigma.rule import SigmaDetection, SigmaDetectionItem
    from sigma.types import SigmaFieldReference

    fields: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, SigmaDetection):
            for item in node.detection_items:
                walk(item)
        elif isinstance(node, SigmaDetectionItem):
            if node.field:
                fields.add(node.field)
            fields.update(v.field for v in node.value if isinstance(v, SigmaFieldReference))

    for detection in rule.detection.detections.values():
        walk(detection)
    return fields


def _utf16_length(text: str) -> int:
    """Java's ``String.length()``, which ``ignore_above`` counts."""
    return len(text.encode("utf-16-le")) // 2


def _unsearchable(name: str, value: Any) -> str | None:
    """Why Elastic stores ``value`` of Sigma field ``name`` where no query finds it, or None."""
    from sigma_lambda_layer.fields.elastic import SUBTREES, elastic_field
    from sigma_lambda_layer.views.elastic import drop_empty, java_to_string

    if name in SUBTREES and isinstance(value, Mapping):
        kept = drop_empty(value)
        if isinstance(kept, Mapping) and len(java_to_string(kept, value)) >= FLATTENED_MAX_STRING:
            return _LONG_OBJECT
        return None
    try:
        kind = elastic_field(name).type
    except KeyError:
        return None
    if kind == "keyword" and isinstance(value, str) and _utf16_length(value) > KEYWORD_IGNORE_ABOVE:
        return _LONG_KEYWORD
    if kind == "boolean" and not isinstance(value, bool) and value not in ("true", "false", None, ""):
        return _BAD_BOOLEAN
    return None


_GONE: Final = object()


def _prune(node: Any, path: Any, start: int, reasons: set[str]) -> Any:
    """``node`` with the unsearchable values at ``path`` (a :class:`FieldPath`) removed, walking arrays and
    dotted keys as the evaluator does; the reasons found are added to ``reasons``."""
    if start == len(path.keys):
        if isinstance(node, list):
            return [p for v in node if (p := _prune(v, path, start, reasons)) is not _GONE]
        reason = _unsearchable(path.name, node)
        if reason is None:
            return node
        reasons.add(reason)
        return _GONE
    if isinstance(node, list):
        return [_prune(v, path, start, reasons) for v in node]
    if isinstance(node, Mapping):
        out = dict(node)
        for key, end in path.keys[start]:
            if key in out:
                pruned = _prune(out[key], path, end, reasons)
                if pruned is _GONE:
                    del out[key]
                else:
                    out[key] = pruned
        return out
    return node


@dataclass(frozen=True)
class StorageGap:
    """What Elastic cannot search in one record, in the fields one rule uses."""

    reasons: tuple[str, ...]
    #: the record as Elastic can search it: empty values dropped, unsearchable values of the rule's fields gone
    kept: dict[str, Any] = field(repr=False)


def elastic_unsearchable(rule: Any, record: Mapping[str, Any]) -> StorageGap | None:
    """The values of ``record`` in a field ``rule`` uses (or an object above it) that Elastic stores
    unsearchably, with the record as Elastic can search it; None when there are none.

    The four storage gaps (``docs/targets/elastic.md``, "Storage gaps"): the ingest pipeline's painless script
    drops null and empty values (``""``, ``{}``, ``[]``, recursively); keyword values over ``ignore_above``
    (1024) are stored but not indexed; a non-boolean string in a boolean field is ignored
    (``ignore_malformed``); an object whose ``Map.toString()`` reaches 32766 characters gets no flattened
    copy (and its text is over its own ``ignore_above``).
    """
    from sigma_lambda_layer.evaluator.paths import FieldPath
    from sigma_lambda_layer.views.elastic import drop_empty

    names = rule_fields(rule)
    paths = [
        FieldPath(p)
        for p in sorted({".".join(n.split(".")[:end]) for n in names for end in range(1, n.count(".") + 2)})
    ]
    reasons: set[str] = set()
    pruned: Any = record
    for path in paths:
        pruned = _prune(pruned, path, 0, reasons)
    stored = drop_empty(record)
    stored = stored if isinstance(stored, dict) else {}
    if any(p.values(record) != p.values(stored) for p in paths):
        reasons.add(_EMPTY)
    kept = drop_empty(pruned)
    kept = kept if isinstance(kept, dict) else {}
    if not reasons:
        return None
    return StorageGap(tuple(sorted(reasons)), kept)


def elastic_storage_gap(
    rule: Any, record: Mapping[str, Any], verdict: bool, evaluator: Any | None = None
) -> str | None:
    """Accept a difference between an Elastic target and the evaluator on one record, or not.

    The project's one definition, shared by every Elastic fidelity test: the difference is the storage, not
    the query, only when the record holds an unsearchable value (:func:`elastic_unsearchable`) in a field the
    rule uses *and* the evaluator, run on the record with those values removed, gives the target's
    ``verdict``. Returns the reasons (for the report) when accepted, else None.
    """
    gap = elastic_unsearchable(rule, record)
    if gap is None:
        return None
    if evaluator is None:
        from sigma_lambda_layer.evaluator import RuleEvaluator

        evaluator = RuleEvaluator(rule)
    if evaluator.matches(gap.kept) is not verdict:
        return None
    return "; ".join(gap.reasons)


# --------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Cell:
    """The verdict of one (rule, target)."""

    rule: str
    target: str
    status: Status
    query: str | None = None
    detail: str | None = None
    #: records the engine returns and the evaluator does not, and the reverse
    extra: tuple[str, ...] = ()
    missed: tuple[str, ...] = ()
    #: records on which an Elastic target differs only through an accepted storage gap, "id [reason]"
    gaps: tuple[str, ...] = ()
    #: labelled pack records to which the engine gives their hand label: positives, near misses
    pack_positives: int = 0
    pack_near_misses: int = 0


@dataclass
class TargetRun:
    target: str
    stock: bool
    skipped: str | None = None
    cells: list[Cell] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> Counter[str]:
        return Counter(c.status for c in self.cells)


@dataclass
class FidelityRun:
    inputs: Inputs
    #: rule key -> evaluator match set, or the evaluator's error
    oracle: dict[str, set[int] | str]
    ours: dict[str, TargetRun]
    stock: dict[str, TargetRun]
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def failures(self, target: str) -> list[Cell]:
        return [c for c in self.ours[target].cells if c.status in FAILING]


@cache
def oracle() -> dict[str, set[int] | str]:
    """The evaluator's match set of every rule over every record (or why it cannot decide the rule)."""
    from sigma.collection import SigmaCollection

    from sigma_lambda_layer.evaluator import RuleEvaluator

    inputs = load_inputs()
    out: dict[str, set[int] | str] = {}
    for rule in inputs.rules:
        try:
            evaluator = RuleEvaluator(SigmaCollection.from_yaml(rule.text).rules[0])  # type: ignore[arg-type]
            out[rule.key] = {i for i, r in enumerate(inputs.records) if evaluator.matches(r.data)}
        except Exception as exc:
            out[rule.key] = f"{type(exc).__name__}: {exc}"
    return out


@cache
def views(target: str) -> list[Any]:
    """Every record as ``target`` stores it (the document its engine searches)."""
    engine = ENGINES[target]
    return [engine.view(r.data) for r in load_inputs().records]


def _ids(inputs: Inputs, indexes: Iterable[int]) -> tuple[str, ...]:
    return tuple(inputs.records[i].id for i in sorted(indexes))


@cache
def _parsed(text: str) -> tuple[Any, Any]:
    """A rule's pySigma object and its evaluator (the storage gap test needs both), once per process."""
    from sigma.collection import SigmaCollection

    from sigma_lambda_layer.evaluator import RuleEvaluator

    rule = SigmaCollection.from_yaml(text).rules[0]
    return rule, RuleEvaluator(rule)  # type: ignore[arg-type]


#: Targets over a typed table whose rows keep less than the record (the Athena CloudTrail table): the
#: CloudTrail record a row stands for (:func:`sigma_lambda_layer.fields.athena.as_record`), by target.
ROW_TARGETS: Final[dict[str, str]] = {"athena": "sigma_lambda_layer.fields.athena:as_record"}
_ROW_GAP: Final = (
    "the table's row differs from the record (struct keys read case-insensitively, undeclared keys dropped)"
)


def row_storage_gap(target: str, evaluator: Any, record: Mapping[str, Any], engine_hit: bool) -> str | None:
    """Why ``target`` answers ``engine_hit`` on ``record`` where the evaluator does not, if its table row
    explains it: the evaluator, run on the record the row stands for, gives the target's answer."""
    module, _, name = ROW_TARGETS[target].partition(":")
    as_record = getattr(importlib.import_module(module), name)
    row = ENGINES[target].view(record)
    if as_record(row) == record:
        return None
    return _ROW_GAP if bool(evaluator.matches(as_record(row))) is engine_hit else None


def _split_gaps(
    target: str, rule: RuleCase, got: set[int], truth: set[int]
) -> tuple[set[int], dict[int, str]]:
    """The records on which ``target`` and the evaluator differ: those no storage gap explains, and the
    accepted storage gaps with their reasons (Elastic targets only, :func:`elastic_storage_gap`)."""
    differ = got ^ truth
    if not differ or target not in ELASTIC_TARGETS | ROW_TARGETS.keys():
        return differ, {}
    sigma_rule, evaluator = _parsed(rule.text)
    records = load_inputs().records
    gaps: dict[int, str] = {}
    if target in ROW_TARGETS:
        for index in differ:
            reason = row_storage_gap(target, evaluator, records[index].data, index in got)
            if reason is not None:
                gaps[index] = reason
        return differ - gaps.keys(), gaps
    for index in differ:
        reason = elastic_storage_gap(sigma_rule, records[index].data, index in got, evaluator)
        if reason is not None:
            gaps[index] = reason
    return differ - gaps.keys(), gaps


def _cells(target: str, compiled: list[Compiled], results: dict[int, EngineResult]) -> list[Cell]:
    inputs, truths = load_inputs(), oracle()
    cells: list[Cell] = []
    for index, (rule, comp) in enumerate(zip(inputs.rules, compiled, strict=True)):
        if comp.query is None:
            status: Status = "error" if comp.clear else "bad-error"
            cells.append(Cell(rule.key, target, status, detail=comp.error))
            continue
        query = "\n".join(comp.query.texts)
        truth = truths[rule.key]
        if isinstance(truth, str):
            cells.append(Cell(rule.key, target, "no-oracle", query, truth))
            continue
        got = results[index]
        if isinstance(got, Exception):
            cells.append(Cell(rule.key, target, "rejected", query, str(got)))
            continue
        wrong, gaps = _split_gaps(target, rule, got, truth)
        # A labelled record backs the cell when the engine gives it the hand label (a storage gap does not).
        positives = sum(1 for lab in rule.labels if lab.verdict and lab.record in got)
        near = sum(1 for lab in rule.labels if not lab.verdict and lab.record not in got)
        status = "disagree" if wrong else "storage-gap" if gaps else "agree"
        cells.append(
            Cell(
                rule.key,
                target,
                status,
                query,
                extra=_ids(inputs, wrong & got),
                missed=_ids(inputs, wrong - got),
                gaps=tuple(f"{inputs.records[i].id} [{gaps[i]}]" for i in sorted(gaps)),
                pack_positives=positives,
                pack_near_misses=near,
            )
        )
    return cells


def _run_target(target: str, stock: bool) -> TargetRun:
    """Compile every rule for ``target`` (ours or stock) and run the queries; one process job."""
    start = time.perf_counter()
    run = TargetRun(target, stock)
    reason = engine_unavailable(target)
    if reason is not None:
        run.skipped = reason
        return run
    engine = ENGINES[target]
    inputs = load_inputs()
    try:
        compiled = (compile_stock if stock else compile_ours)(target, inputs.rules)
    except Exception as exc:  # the backend does not import, or the API is broken: skip with the reason
        run.skipped = f"conversion failed as a whole ({type(exc).__name__}: {exc})"
        return run
    todo = [(i, c.query) for i, c in enumerate(compiled) if c.query is not None]
    found = engine.run([q for _, q in todo], views(target))
    # Exceptions may not survive the trip back from a worker process: keep their text only.
    results: dict[int, EngineResult] = {
        i: (EngineRefusal(f"{type(r).__name__}: {r}") if isinstance(r, Exception) else r)
        for (i, _), r in zip(todo, found, strict=True)
    }
    run.cells = _cells(target, compiled, results)
    run.seconds = time.perf_counter() - start
    return run


#: Rough cost order (slowest first), so that the longest jobs start first on the worker processes.
_COST: Final = ("lucene", "eql", "esql", "athena", "splunk", "cloudwatch", "duckdb")


def run_fidelity(targets: Sequence[str] = TARGETS, *, with_stock: bool = True) -> FidelityRun:
    """Build the whole table (ours, and the stock backends if asked), one job per (target, ours|stock)
    spread over the machine's cores."""
    start = time.perf_counter()
    timings: dict[str, float] = {}
    inputs = load_inputs()
    timings["inputs"] = time.perf_counter() - start
    t = time.perf_counter()
    truths = oracle()
    timings["evaluator"] = time.perf_counter() - t

    jobs = [(tg, False) for tg in targets]
    if with_stock:
        jobs += [(tg, True) for tg in targets if tg in STOCK]
    jobs.sort(key=lambda j: (_COST.index(j[0]) if j[0] in _COST else len(_COST), j[1]))
    runs: dict[tuple[str, bool], TargetRun] = {}
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        # fork: workers inherit the loaded inputs and the evaluator's verdicts (computed above).
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {job: pool.submit(_run_target, *job) for job in jobs}
            runs = {job: future.result() for job, future in futures.items()}
    else:
        runs = {job: _run_target(*job) for job in jobs}
    for (target, stock), run in runs.items():
        timings[f"{target}{' (stock)' if stock else ''}"] = run.seconds

    return FidelityRun(
        inputs=inputs,
        oracle=truths,
        ours={tg: runs[(tg, False)] for tg in targets},
        stock={tg: runs[(tg, True)] for tg in targets if (tg, True) in runs},
        seconds=time.perf_counter() - start,
        timings=timings,
    )


@cache
def cached_run() -> FidelityRun:
    """One run per process, shared by the test functions and the report."""
    return run_fidelity()


# --------------------------------------------------------------------------------------- text output


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def summary_lines(run: FidelityRun, *, timing: bool = True) -> list[str]:
    """The counts, per-target agreement and stock scores: printed by the test and put in the report."""
    inputs = run.inputs
    kinds = Counter(r.kind for r in inputs.rules)
    origins = Counter(r.origin for r in inputs.records)
    labelled = [r for r in inputs.rules if r.labels]
    labels = [lab for r in labelled for lab in r.labels]
    positives = sum(1 for lab in labels if lab.intended)
    no_oracle = sum(1 for v in run.oracle.values() if isinstance(v, str))

    def covered(kind: str) -> int:
        return sum(
            1 for r in inputs.rules if r.kind == kind and {lab.intended for lab in r.labels} == {True, False}
        )

    lines = [
        f"rules: {len(inputs.rules)} ({kinds['sigmahq']} SigmaHQ AWS, {kinds['ours']} ours, "
        f"{kinds['probe']} probes over {len({p.construct for p in probes()})} constructs)",
        f"records: {len(inputs.records)} ({origins['corpus']} corpus, {origins['pack']} crafted pack, "
        f"{origins['probe']} crafted probe)",
        f"pack: {len(labels)} hand labels ({positives} positives, {len(labels) - positives} near misses, "
        f"{sum(lab.expected_failure for lab in labels)} documented expected failures) on "
        f"{len(labelled)} rules; with >= 1 positive and >= 1 near miss: "
        f"{covered('sigmahq')} of {kinds['sigmahq']} SigmaHQ AWS rules, {covered('ours')} of {kinds['ours']} ours",
        f"comparisons per target: {len(inputs.rules) * len(inputs.records)} (rule x record)"
        + (f"; evaluator cannot decide {no_oracle} rules" if no_oracle else ""),
    ]
    lines += [f"note: {n}" for n in inputs.notes]
    lines.append("")
    header = "".join(f"{h:>{w}}" for h, w in zip(_OURS_COLUMNS, _WIDTHS, strict=True))
    lines.append(f"{'target':<11}{header} | stock:{''.join(f'{h:>10}' for h in _STOCK_COLUMNS)}")
    for target, ours in run.ours.items():
        stock = run.stock.get(target)
        stock_row = " n/a (no stock backend)" if stock is None else _score_row(stock, stock=True)
        lines.append(f"{target:<11}{_score_row(ours)} | {stock_row}")
    gap_pairs = {
        t: sum(len(c.gaps) for c in r.cells)
        for t, r in run.ours.items()
        if t in ELASTIC_TARGETS | ROW_TARGETS.keys()
    }
    if any(gap_pairs.values()):
        lines.append("")
        lines.append(
            "storage gaps accepted (rule, record) pairs: "
            + ", ".join(f"{t} {n}" for t, n in gap_pairs.items())
            + " (Elastic stores the value unsearchably, or the Athena row holds less than the record; the "
            "evaluator on the record as stored agrees)"
        )
    if timing:
        lines.append("")
        lines.append(
            f"time: {run.seconds:.1f}s (" + ", ".join(f"{k} {v:.1f}s" for k, v in run.timings.items()) + ")"
        )
    return lines


_OURS_COLUMNS: Final = ("agree", "gap", "error", "disagree", "bad-error", "rejected", "agreement")
_WIDTHS: Final = (7, 5, 7, 10, 11, 10, 11)
_STOCK_COLUMNS: Final = ("agree", "gap", "error", "wrong", "rejected", "agreement")


def agreement(run: TargetRun) -> str:
    """Share of the decidable rules whose query returns exactly the evaluator's records, apart from
    accepted storage gaps (``agree`` and ``storage-gap`` cells); refusals count against it."""
    c = run.counts()
    return _pct(c["agree"] + c["storage-gap"], len(run.cells) - c["no-oracle"])


def _score_row(run: TargetRun, *, stock: bool = False) -> str:
    if run.skipped:
        return f" skipped: {run.skipped}"
    c = run.counts()
    if stock:
        wrong = c["disagree"] + c["bad-error"]
        short = (c["agree"], c["storage-gap"], c["error"], wrong, c["rejected"], agreement(run))
        return "".join(f"{v:>10}" for v in short)
    counts = (c["agree"], c["storage-gap"], c["error"], c["disagree"], c["bad-error"], c["rejected"])
    return "".join(f"{v:>{w}}" for v, w in zip((*counts, agreement(run)), _WIDTHS, strict=True))


def failure_table(run: FidelityRun, target: str) -> str:
    """Every failing cell of ``target``, one block per (rule, target), for the assertion message."""
    rows = []
    for cell in run.failures(target):
        rows.append(f"- {cell.rule} [{target}] {cell.status}")
        if cell.detail:
            rows.append(f"    detail: {cell.detail}")
        if cell.query:
            rows.append(f"    query: {cell.query}")
        for label, ids, evaluator, engine in (
            ("engine only", cell.extra, False, True),
            ("evaluator only", cell.missed, True, False),
        ):
            if ids:
                shown = ", ".join(ids[:SHOWN_RECORDS]) + (" ..." if len(ids) > SHOWN_RECORDS else "")
                rows.append(f"    {label} ({len(ids)}; evaluator={evaluator}, engine={engine}): {shown}")
    return "\n".join(rows)
