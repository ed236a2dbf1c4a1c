"""hunt's native engine: its shortcuts (dispatch, raw-text prefilter, fast reader, worker processes) never
change a hit; each is checked against the reference evaluator on records built to break it."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.types import SigmaString

from sigma_lambda_layer.errors import SigmaLambdaError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.evaluator.values import StringMatch, compile_value
from sigma_lambda_layer.hunt import HitWriter, hunt, native, parallel
from sigma_lambda_layer.hunt.inputs import LogFile
from tests.support.corpus import AWS_RULES, CLOUDTRAIL, OUR_RULES, requires_corpus
from tests.support.rulekit import rule_yaml

#: Characters that exercise folding (final sigma, dotted I, Kelvin sign), JSON escapes and wildcards.
TRICKY = 'aAbBkK*?\\/"\u03a3\u03c3\u03c2\u0130iI\u212a\u0307.\n\u00e9'


def test_folds_to_ascii_lists_every_character_whose_lowercase_holds_ascii() -> None:
    found = tuple(chr(c) for c in range(0x80, 0x110000) if any(ord(x) < 0x80 for x in chr(c).lower()))
    assert found == native.FOLDS_TO_ASCII


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=6), st.text(alphabet=TRICKY, max_size=8))
def test_plain_text_string_tests_mean_what_the_wildcard_pattern_means(value: str, text: str) -> None:
    test = compile_value(SigmaString(value))
    assert isinstance(test, StringMatch)
    reference = StringMatch(test.pattern, fold=test.fold)  # the regex path, no shortcut
    assert test.test(text) == reference.test(text), (value, text, test.literal, test.shape)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (".+:assumed-role/aws:.+", ":assumed-role/aws:"),
        ("^ab(d|e)fgh", "fgh"),
        ("a|bcd", None),  # an alternative at the top: nothing is required
        ("(?i)trufflehog", None),  # case-insensitive: no raw needle
        ("x?yz", "yz"),
    ],
)
def test_regex_literal_is_a_text_every_match_holds(pattern: str, literal: str | None) -> None:
    assert native._regex_literal(re.compile(pattern)) == literal


def _scan(rule_text: str, records: list[Any], tmp_path: Path, raw: bytes | None = None) -> list[str]:
    """The eventIDs the native engine's file scanner reports for ``rule_text`` over one Records file."""
    path = tmp_path / "f.json"
    path.write_bytes(raw if raw is not None else json.dumps({"Records": records}).encode())
    compiled, errors = native.compile_rules(rule_text)
    assert not errors, [str(e) for e in errors]
    scanner = native.FileScanner(native._Job(compiled, None, None, None, None))
    outcome = scanner.scan(0, LogFile(str(path), path, path.stat().st_size, False))
    assert not outcome.errors, outcome.errors
    return sorted(str(hit[7]) for hit in outcome.hits)


def _expected(rule_text: str, records: list[Any]) -> list[str]:
    evaluator = RuleEvaluator(SigmaCollection.from_yaml(rule_text).rules[0])  # type: ignore[arg-type]
    return sorted(str(r["eventID"]) for r in records if evaluator.matches(r))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    needle=st.text(alphabet=TRICKY, min_size=1, max_size=5),
    values=st.lists(st.text(alphabet=TRICKY, max_size=8), min_size=1, max_size=4),
    modifier=st.sampled_from(["|contains", "|startswith", "|endswith", "", "|contains|cased", "|re"]),
    ascii_only=st.booleans(),
    escape_slash=st.booleans(),
)
def test_raw_prefilter_and_fast_reader_keep_every_evaluator_hit(
    tmp_path: Path, needle: str, values: list[str], modifier: str, ascii_only: bool, escape_slash: bool
) -> None:
    """A rule with no dispatch values (like SigmaHQ's TruffleHog and IMDS rules) meets the raw prefilter:
    the document's text, as JSON may spell it (``\\u`` escapes, ``\\/``), must never hide a hit."""
    if modifier == "|re":
        needle = re.escape(needle)
    rule = rule_yaml(f"selection:\n    userAgent{modifier}: {json.dumps(needle)}\ncondition: selection\n")
    records = [{"eventName": "X", "eventID": str(i), "userAgent": v} for i, v in enumerate(values)]
    raw = json.dumps({"Records": records}, ensure_ascii=ascii_only).encode()
    if escape_slash:
        raw = raw.replace(b"/", b"\\/")
    assert _scan(rule, records, tmp_path, raw) == _expected(rule, records)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        (
            "a number simdjson cannot hold",
            b'{"Records":[{"eventName":"X","eventID":"1","n":123456789012345678901234567890}]}',
        ),
        (
            "a pretty-printed document",
            json.dumps({"Records": [{"eventName": "X", "eventID": "1"}]}, indent=0).encode(),
        ),
        ("objects back to back", b'{"eventName":"X","eventID":"1"}{"eventName":"Y","eventID":"2"}'),
        ("a top-level array", b'[{"eventName":"X","eventID":"1"},{"eventName":"Y","eventID":"2"}]'),
        (
            "an EventBridge event",
            json.dumps(
                {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "X", "eventID": "1"}}
            ).encode(),
        ),
    ],
)
def test_what_the_fast_reader_does_not_take_is_read_by_the_python_reader(
    tmp_path: Path, name: str, raw: bytes
) -> None:
    rule = rule_yaml("selection:\n    eventName: X\ncondition: selection\n")
    assert _scan(rule, [], tmp_path, raw) == ["1"], name


@pytest.mark.parametrize("layout", ["one Records document", "JSON lines", "an escaped dotted key"])
def test_dispatch_by_identity_type_sees_every_spelling(tmp_path: Path, layout: str) -> None:
    """``userIdentity.type`` as the evaluator reads it: a dotted top-level key, an array of identities,
    another case, a number; the dispatch never drops one of them. As JSON lines, each record is its own
    document: the dotted key's is read by listing its keys, the others by two lookups; a ``\\u`` escape
    may spell the dotted key in a document's text."""
    rule = rule_yaml("selection:\n    userIdentity.type: Root\ncondition: selection\n")
    records: list[dict[str, Any]] = [
        {"eventName": "A", "eventID": "1", "userIdentity": {"type": "Root"}},
        {"eventName": "A", "eventID": "2", "userIdentity": {"type": "ROOT"}},
        {"eventName": "A", "eventID": "3", "userIdentity.type": "root"},
        {"eventName": "A", "eventID": "4", "userIdentity": [{"type": "IAMUser"}, {"type": "Root"}]},
        {"eventName": "A", "eventID": "5", "userIdentity": {"type": "IAMUser"}},
        {"eventName": "A", "eventID": "6", "userIdentity": {"type": 7}},
        {"eventName": "A", "eventID": "7"},
    ]
    raw = json.dumps({"Records": records}).encode()
    if layout == "JSON lines":
        raw = b"\n".join(json.dumps(r).encode() for r in records)
    elif layout == "an escaped dotted key":
        raw = raw.replace(b'"userIdentity.type"', b'"userIdentity\\u002etype"')
    assert _scan(rule, records, tmp_path, raw) == _expected(rule, records) == ["1", "2", "3", "4"]


def _rule_paths() -> list[str]:
    ours = sorted(p for p in OUR_RULES.glob("*.yml") if not p.name.endswith(".tests.yml"))
    return [str(p) for p in [*sorted(AWS_RULES.glob("*.yml")), *ours]]


@requires_corpus
def test_worker_processes_give_the_hits_and_lines_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus split over gzipped Records files and scanned by two worker processes (the path of any
    real hunt, which the corpus alone is too small to take): the same hits, counts and JSON lines as in
    one process, and ``keep_records`` still bounds the records kept per rule."""
    records = [
        json.loads(line)
        for path in sorted(CLOUDTRAIL.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(0, len(records), 50):
        (logs / f"part-{n:04d}.json.gz").write_bytes(
            gzip.compress(json.dumps({"Records": records[n : n + 50]}).encode())
        )
    inline = hunt(_rule_paths(), [str(logs)])
    monkeypatch.setattr(parallel, "INLINE_BYTES", 0)
    out = tmp_path / "hits.jsonl"
    with HitWriter(out) as writer:
        pooled = hunt(_rule_paths(), [str(logs)], threads=2, on_hit=writer.write, keep_records=1)
    key = lambda h: (h.rule_title, h.event_id, h.file, h.principal)  # noqa: E731
    assert Counter(map(key, pooled.hits)) == Counter(map(key, inline.hits)) and len(inline.hits) > 100
    assert (pooled.records, pooled.files, pooled.ok) == (inline.records, inline.files, True)
    canonical = lambda d: json.dumps(d, sort_keys=True, ensure_ascii=False)  # noqa: E731
    lines = Counter(canonical(json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines())
    assert lines == Counter(canonical(h.to_dict()) for h in inline.hits)
    kept = Counter(h.rule_title for h in pooled.hits if h.record is not None)
    assert kept == Counter({title: 1 for title in {h.rule_title for h in inline.hits}})


def _die(tasks: Any) -> Any:
    os._exit(9)  # a worker killed mid-task (the OOM killer)


@requires_corpus
def test_a_worker_that_dies_is_a_clear_error_not_a_partial_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(4):
        (logs / f"{n}.jsonl").write_text((CLOUDTRAIL / "stratus-red-team_detonation-logs.jsonl").read_text())
    monkeypatch.setattr(parallel, "INLINE_BYTES", 0)
    monkeypatch.setattr(parallel, "_worker_scan", _die)
    with pytest.raises(SigmaLambdaError, match="worker process ended abruptly"):
        hunt(_rule_paths(), [str(logs)], threads=2)


_REAL_WORKER_SCAN = parallel._worker_scan


def _slow_but_first(tasks: Any) -> Any:
    if tasks[0][0] != 0:
        time.sleep(60)
    return _REAL_WORKER_SCAN(tasks)


@requires_corpus
def test_ctrl_c_ends_the_workers_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt in the command (Ctrl-C, or SIGTERM in the CLI) terminates the workers instead of
    waiting for their tasks: here every task but the first would take a minute."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(6):
        (logs / f"{n}.jsonl").write_text((CLOUDTRAIL / "stratus-red-team_detonation-logs.jsonl").read_text())
    monkeypatch.setattr(parallel, "INLINE_BYTES", 0)
    monkeypatch.setattr(parallel, "_tasks", lambda files, workers: [[(i, f)] for i, f in enumerate(files)])
    monkeypatch.setattr(parallel, "_worker_scan", _slow_but_first)

    def interrupt(*_: int) -> None:
        raise KeyboardInterrupt

    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        hunt(_rule_paths(), [str(logs)], threads=2, progress=interrupt)
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize(
    ("detection", "guard"),
    [
        ("selection:\n    userAgent: TruffleHog\ncondition: selection", ("userAgent", {"trufflehog"})),
        (
            "selection:\n    userAgent:\n        - A\n        - b\ncondition: selection",
            ("userAgent", {"a", "b"}),
        ),
        ("selection:\n    userAgent|cased: TruffleHog\ncondition: selection", ("userAgent", {"trufflehog"})),
        ("selection:\n    eventName: X\n    userAgent: a\ncondition: selection", None),  # dispatch does it
        ("selection:\n    userAgent|contains: a\ncondition: selection", None),
        ("selection:\n    userIdentity.arn: a\ncondition: selection", None),  # a dotted name: not one key
        ("a:\n    userAgent: a\nb:\n    sourceIPAddress: b\ncondition: a or b", None),
        ("a:\n    userAgent: a\nb:\n    userAgent: b\ncondition: a or b", ("userAgent", {"a", "b"})),
        ("a:\n    userAgent: a\nb:\n    sourceIPAddress: b\ncondition: a and not b", ("userAgent", {"a"})),
    ],
)
def test_field_guard_is_read_off_the_evaluator_tree(detection: str, guard: Any) -> None:
    compiled, errors = native.compile_rules(rule_yaml(detection))
    assert not errors
    found = compiled[0].guard
    assert (found if found is None else (found[0], set(found[1]))) == guard


#: userAgent values of every JSON kind a guard meets (and no userAgent at all).
_AGENT_VALUES = st.one_of(
    st.text(alphabet=TRICKY + "12", max_size=5),
    st.integers(-2, 12),
    st.booleans(),
    st.none(),
    st.lists(st.text(alphabet=TRICKY, max_size=3), max_size=3),
    st.just({"a": "b"}),
    st.just(_MISSING_AGENT := object()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    needle=st.one_of(
        st.text(alphabet=TRICKY.translate({ord(c): None for c in "*?\\"}) + "12", min_size=1, max_size=4),
        st.sampled_from(["1", "true"]),
    ),
    values=st.lists(_AGENT_VALUES, min_size=1, max_size=5),
    cased=st.booleans(),
)
def test_field_guard_keeps_every_evaluator_hit(
    tmp_path: Path, needle: str, values: list[Any], cased: bool
) -> None:
    """A rule without dispatch values but with a one-key equality (SigmaHQ's TruffleHog rule) meets only
    records whose key holds one of its values: never one the evaluator would match."""
    rule = rule_yaml(
        f"selection:\n    userAgent{'|cased' if cased else ''}: {json.dumps(needle)}\ncondition: selection\n"
    )
    records = []
    for i, value in enumerate(values):
        record: dict[str, Any] = {"eventName": "X", "eventID": str(i)}
        if value is not _MISSING_AGENT:
            record["userAgent"] = value
        records.append(record)
    assert native.compile_rules(rule)[0][0].guard is not None
    assert _scan(rule, records, tmp_path) == _expected(rule, records)
