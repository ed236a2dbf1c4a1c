"""Rule unit tests: sample CloudTrail events with the verdict each rule must give.

A rule ``foo.yml`` carries its tests beside it, in either form:

* ``foo.tests.yml``::

      entries:
        - id: layer-attached              # unique within the file
          expect: match                   # or no_match
          reason: why this is the verdict
          record: {...}                   # a CloudTrail record, inline, or
          # record_file: events/attach.json           (JSON, or JSON lines with :LINE), relative to this file
          # corpus: stratus-red-team_detonation-logs.jsonl:101   (resolved against --corpus DIR)
          expected_failure: true          # optional: the rule as written is known to give the other verdict

* a folder ``foo.tests/`` with ``match/*.json`` and ``no_match/*.json`` (one record per file, or JSON lines).

Verdicts come from the reference evaluator (:mod:`sigma_lambda_layer.evaluator`), which follows the Sigma
specification on the raw record. Keys starting with ``_`` (such as ``_origin``, which marks a crafted record)
are dropped before evaluation. An entry whose record file is missing is reported as skipped, not failed.

With ``targets`` (``sigma-lambda test --target T``) each rule is also compiled for every target named and the
query is run on that target's reference engine (:mod:`sigma_lambda_layer.engines`) over the target's view of
each record (:mod:`sigma_lambda_layer.views`): the check that the query a SIEM would run gives the labelled
verdict, not only the Sigma meaning. A rule the target refuses is reported as unsupported there, not failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sigma_lambda_layer.errors import Location, RuleLoadError, UsageError, is_unsupported
from sigma_lambda_layer.loading import decode, read_bytes, regular_file

Verdict = Literal["match", "no_match"]
Status = Literal["pass", "fail", "skip", "xfail", "xpass", "error"]
_OK = ("pass", "skip", "xfail")
#: Statuses listed under a rule in the text output.
_FAILED = ("fail", "error", "xpass")
TESTS_SUFFIX = ".tests.yml"
TESTS_DIR_SUFFIX = ".tests"


@dataclass(frozen=True)
class TestCase:
    id: str
    expect: Verdict
    reason: str
    record: Mapping[str, Any] | None
    source: str
    expected_failure: bool = False
    skip_reason: str | None = None


@dataclass
class TestOutcome:
    case: TestCase
    status: Status
    actual: Verdict | None = None
    message: str = ""
    #: the same case on each requested target's engine, by target id
    targets: dict[str, TargetOutcome] = field(default_factory=dict)

    def to_dict(self, with_targets: bool) -> dict[str, Any]:
        """The element of a rule's ``outcomes`` in ``sigma-lambda test --json``."""
        out: dict[str, Any] = {
            "id": self.case.id,
            "expect": self.case.expect,
            "actual": self.actual,
            "status": self.status,
            "message": self.message,
        }
        if with_targets:
            out["targets"] = {t: to.to_dict() for t, to in self.targets.items()}
        return out


@dataclass(frozen=True)
class TargetOutcome:
    """One case's verdict on one target's engine; ``status`` follows :data:`Status`."""

    target: str
    status: Status
    actual: Verdict | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"actual": self.actual, "status": self.status, "message": self.message}


@dataclass
class RuleTestReport:
    rule_path: str
    tests_path: str | None
    outcomes: list[TestOutcome] = field(default_factory=list)
    error: str | None = None
    #: targets requested, in order
    targets: tuple[str, ...] = ()
    #: target id -> why the target refuses the rule (its cases were not run there)
    unsupported: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.error is None and all(
            o.status in _OK and all(t.status in _OK for t in o.targets.values()) for o in self.outcomes
        )

    def target_status(self, target: str) -> str:
        """``pass``, ``fail`` or ``unsupported``: the rule's outcome on one target's engine."""
        if target in self.unsupported:
            return "unsupported"
        ok = all(o.targets[target].status in _OK for o in self.outcomes if target in o.targets)
        return "pass" if ok else "fail"

    def target_counts(self, target: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            if target in outcome.targets:
                status = outcome.targets[target].status
                counts[status] = counts.get(status, 0) + 1
        return counts

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    @property
    def tested(self) -> bool:
        """The rule has tests, or failed before any could run (a rule without either is not reported)."""
        return self.tests_path is not None or bool(self.error)

    def to_dict(self) -> dict[str, Any]:
        """One rule's object in ``sigma-lambda test --json`` (documented in docs/rule-tests.md)."""
        out: dict[str, Any] = {
            "rule": self.rule_path,
            "tests": self.tests_path,
            "passed": self.passed,
            "error": self.error,
        }
        if self.targets:
            out["targets"] = {
                t: {"status": self.target_status(t), "unsupported": self.unsupported.get(t)}
                for t in self.targets
            }
        out["outcomes"] = [o.to_dict(with_targets=bool(self.targets)) for o in self.outcomes]
        return out

    def lines(self) -> list[str]:
        """The rule's lines in the text output of ``sigma-lambda test``: the verdict, then what failed."""
        if self.tests_path is None and self.error is None:
            return []
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        out = [f"{'PASS' if self.passed else 'FAIL'} {self.rule_path} ({counts or self.error})"]
        out += [
            f"  {o.status}: {o.case.id}: {o.message or o.case.reason} [{o.case.source}]"
            for o in self.outcomes
            if o.status in _FAILED
        ]
        if self.error is None:
            for t in self.targets:
                out += self._target_lines(t)
        return out

    def _target_lines(self, target: str) -> list[str]:
        status = self.target_status(target)
        if status == "unsupported":
            return [f"  {target}: unsupported on {target}: {self.unsupported[target]}"]
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.target_counts(target).items()))
        out = [f"  {target}: {status.upper()} ({counts or 'no entries'})"]
        for o in self.outcomes:
            to = o.targets.get(target)
            if to is not None and to.status in _FAILED:
                out.append(f"    {to.status}: {o.case.id}: {to.message or o.case.reason} [{o.case.source}]")
        return out


class RuleTestReports(list[RuleTestReport]):
    """The reports of one :func:`run_rule_tests` call, in rule order, with the run's summary."""

    @property
    def failed(self) -> list[RuleTestReport]:
        return [r for r in self if r.tested and not r.passed]

    def summary_line(self) -> str:
        """``N passed, M failed`` over the rules that have tests (or failed before running them)."""
        tested = [r for r in self if r.tested]
        return f"{len(tested) - len(self.failed)} passed, {len(self.failed)} failed"

    def to_json(self) -> str:
        """The ``sigma-lambda test --json`` document: one object per rule."""
        return json.dumps([r.to_dict() for r in self], indent=2)


def tests_for(rule_path: Path) -> Path | None:
    """The tests file or folder that belongs to ``rule_path``, if any."""
    stem = rule_path.name.rsplit(".", 1)[0]
    for candidate in (rule_path.with_name(stem + TESTS_SUFFIX), rule_path.with_name(stem + TESTS_DIR_SUFFIX)):
        if candidate.exists():
            return candidate
    return None


def is_tests_file(path: Path) -> bool:
    return path.name.endswith(TESTS_SUFFIX)


def rule_of(path: Path) -> Path | None:
    """The rule a tests file (``foo.tests.yml``) or a record inside a tests folder (``foo.tests/match/x.json``)
    belongs to, if that rule file exists; ``None`` for any other path (a rule, a folder)."""
    for part in (path, path.parent, path.parent.parent):  # foo.tests.yml, foo.tests/, foo.tests/match/x.json
        name = part.name
        if name.endswith(TESTS_SUFFIX):
            stem = name[: -len(TESTS_SUFFIX)]
        elif name.endswith(TESTS_DIR_SUFFIX):
            stem = name[: -len(TESTS_DIR_SUFFIX)]
        else:
            continue
        for suffix in (".yml", ".yaml"):
            rule = part.with_name(stem + suffix)
            if rule.is_file():
                return rule
        return None
    return None


def _read_records(path: Path, line: int | None = None) -> list[dict[str, Any]]:
    regular_file(path)  # no FIFO or device (record files may be large: no size limit)
    text = path.read_text(encoding="utf-8")
    if line is not None:
        return [json.loads(text.splitlines()[line - 1])]
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(text)
        return list(data)
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(row) for row in text.splitlines() if row.strip()]


def _split_line(ref: str) -> tuple[str, int | None]:
    name, sep, line = ref.rpartition(":")
    if sep and line.isdigit():
        return name, int(line)
    return ref, None


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not str(k).startswith("_")}


def load_cases(tests_path: Path, corpus: Path | None = None) -> list[TestCase]:
    """Read a tests file or folder into cases. Raises :class:`RuleLoadError` for a malformed file."""
    if tests_path.is_dir():
        return _load_folder(tests_path)
    try:
        data = yaml.safe_load(decode(read_bytes(tests_path), str(tests_path)))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleLoadError(f"cannot read rule tests: {exc}", location=Location(str(tests_path))) from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RuleLoadError(
            "rule tests file has no 'entries' list",
            location=Location(str(tests_path), 1),
            hint="see sigma_lambda_layer/testing.py or docs/rule-tests.md for the format",
        )
    cases: list[TestCase] = []
    for number, entry in enumerate(entries, start=1):
        cases.append(_case(entry, number, tests_path, corpus))
    return cases


def _case(entry: Any, number: int, tests_path: Path, corpus: Path | None) -> TestCase:
    where = f"{tests_path} entry {number}"
    if not isinstance(entry, dict) or entry.get("expect") not in ("match", "no_match"):
        raise RuleLoadError(
            f"entry {number} needs 'expect: match' or 'expect: no_match'", location=Location(str(tests_path))
        )
    common = {
        "id": str(entry.get("id", number)),
        "expect": entry["expect"],
        "reason": str(entry.get("reason", "")),
        "expected_failure": bool(entry.get("expected_failure", False)),
    }
    if isinstance(entry.get("record"), dict):
        return TestCase(record=_clean(entry["record"]), source=where, **common)
    ref_key = "record_file" if "record_file" in entry else "corpus" if "corpus" in entry else None
    if ref_key is None:
        raise RuleLoadError(
            f"entry {number} has no record, record_file or corpus", location=Location(str(tests_path))
        )
    name, line = _split_line(str(entry[ref_key]))
    base = tests_path.parent if ref_key == "record_file" else corpus
    if base is None:
        return TestCase(
            record=None, source=where, skip_reason="corpus record and no --corpus folder", **common
        )
    path = (base / name).resolve()
    if not path.is_file():
        return TestCase(record=None, source=where, skip_reason=f"record file {path} not found", **common)
    [record] = _read_records(path, line) if line else _read_records(path)[:1]
    return TestCase(record=_clean(record), source=f"{path}:{line}" if line else str(path), **common)


def _load_folder(folder: Path) -> list[TestCase]:
    cases: list[TestCase] = []
    for verdict in ("match", "no_match"):
        for path in sorted((folder / verdict).glob("*.json*")):
            for index, record in enumerate(_read_records(path), start=1):
                cases.append(
                    TestCase(
                        id=f"{verdict}/{path.name}#{index}",
                        expect=verdict,  # type: ignore[arg-type]
                        reason=f"in {verdict}/",
                        record=_clean(record),
                        source=str(path),
                    )
                )
    return cases


def _with_engine() -> list[str]:
    """Targets whose reference engine ships in :mod:`sigma_lambda_layer.engines` (the registry says which).
    Lucene needs Java and Lucene, EQL and ES|QL need extra packages; their engines stay in the test suite."""
    from sigma_lambda_layer.registry import TARGETS

    return sorted(t.id for t in TARGETS.values() if t.engine_ref is not None)


def resolve_targets(names: Iterable[str]) -> tuple[str, ...]:
    """Target ids in the order given (``all`` = every target with an engine). Raises :class:`UsageError`
    for a target without a shipped engine, or an unknown one, naming the supported ones."""
    engines = _with_engine()
    resolved: list[str] = []
    for name in names:
        for target in engines if name == "all" else [name]:
            if target not in engines:
                raise UsageError(
                    f"no reference engine for target {target!r}; --target accepts {', '.join(engines)} or all"
                )
            if target not in resolved:
                resolved.append(target)
    return tuple(resolved)


def _compile(rule_path: Path, target: str) -> tuple[list[str], str | None, bool]:
    """The rule's queries for ``target``, or (``[]``, the error, whether it means "unsupported")."""
    from sigma_lambda_layer.api import convert

    texts: list[str] = []
    for result in convert(rule_path, target=target, collect_errors=True):
        if result.error is not None:
            return [], str(result.error), is_unsupported(result.error)
        output = result.output
        if isinstance(output, str):
            texts.append(output)
        elif isinstance(output, list) and all(isinstance(o, str) for o in output):
            texts.extend(output)
        else:
            return [], f"unexpected {type(output).__name__} output for {target}", False
    return texts, None, False


def run_rule_tests(
    rule_paths: Iterable[Path],
    corpus: Path | None = None,
    require_tests: bool = False,
    targets: Sequence[str] = (),
) -> RuleTestReports:
    """Evaluate every rule's tests with the reference evaluator, and on each of ``targets``' engines.

    ``targets`` are ids with an engine (the registry's ``engine_ref``) or ``all``; any other id raises
    :class:`UsageError` before a rule is read.
    """
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    from sigma_lambda_layer.evaluator import RuleEvaluator

    wanted = resolve_targets(targets)
    reports = RuleTestReports()
    for rule_path in rule_paths:
        tests_path = tests_for(rule_path)
        report = RuleTestReport(str(rule_path), str(tests_path) if tests_path else None, targets=wanted)
        reports.append(report)
        if tests_path is None:
            if require_tests:
                report.error = "rule has no tests (expected a sibling .tests.yml file or .tests/ folder)"
            continue
        try:
            cases = load_cases(tests_path, corpus)
            collection = SigmaCollection.from_yaml(rule_path.read_text(encoding="utf-8"))
            evaluators = [RuleEvaluator(rule) for rule in collection.rules if isinstance(rule, SigmaRule)]
            if len(evaluators) != len(collection.rules):
                raise RuleLoadError(
                    "rule tests need plain Sigma rules; correlation rules cannot be evaluated on single events",
                    location=Location(str(rule_path)),
                )
        except Exception as exc:  # a located error for this rule; the other rules still run
            report.error = str(exc)
            continue
        for case in cases:
            report.outcomes.append(_run_case(case, evaluators))
        for target in wanted:
            _run_target(report, rule_path, target)
    return reports


def _verdict(case: TestCase, matched: bool) -> tuple[Status, Verdict, str]:
    actual: Verdict = "match" if matched else "no_match"
    if case.expected_failure:
        return ("xfail" if actual != case.expect else "xpass"), actual, ""
    if actual == case.expect:
        return "pass", actual, ""
    return "fail", actual, f"expected {case.expect}, got {actual}: {case.reason}"


def _run_target(report: RuleTestReport, rule_path: Path, target: str) -> None:
    """Run the report's cases on ``target``'s engine, all records in one pass per query."""
    texts, error, unsupported = _compile(rule_path, target)
    if error is not None and unsupported:
        report.unsupported[target] = error
        return
    live = [o for o in report.outcomes if o.case.record is not None]
    for outcome in report.outcomes:
        if outcome.case.record is None:
            outcome.targets[target] = TargetOutcome(target, "skip", message=outcome.case.skip_reason or "")
    if error is not None:
        for outcome in live:
            outcome.targets[target] = TargetOutcome(target, "error", message=f"conversion failed: {error}")
        return
    from sigma_lambda_layer.registry import get_target

    entry = get_target(target)
    view, engine = entry.view(), entry.engine()
    assert engine is not None  # resolve_targets admits only targets with an engine
    try:
        views = [view(o.case.record) for o in live if o.case.record is not None]
        hits: set[int] = set()
        for text in texts:  # a rule with several queries matches when any of them does
            hits |= set(engine(text, views))
    except Exception as exc:  # the engine refusing the query is a finding about the query
        for outcome in live:
            outcome.targets[target] = TargetOutcome(
                target, "error", message=f"{target} engine: {type(exc).__name__}: {exc}"
            )
        return
    for index, outcome in enumerate(live):
        status, actual, message = _verdict(outcome.case, index in hits)
        outcome.targets[target] = TargetOutcome(target, status, actual, message)


def _run_case(case: TestCase, evaluators: list[Any]) -> TestOutcome:
    if case.record is None:
        return TestOutcome(case, "skip", message=case.skip_reason or "")
    try:
        matched = any(e.matches(case.record) for e in evaluators)
    except Exception as exc:
        return TestOutcome(case, "error", message=str(exc))
    status, actual, message = _verdict(case, matched)
    return TestOutcome(case, status, actual, message)
