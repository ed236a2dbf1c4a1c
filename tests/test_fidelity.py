"""The differential fidelity test: every target's match sets equal the reference evaluator's.

The whole table (rules x records x targets, see :mod:`tests.support.fidelity`) is built once per session; each
target's test then fails once, with every disagreement of that target. The summary (counts, per-target
agreement, the stock backends' scores) is printed (``pytest -s``) and issued as a warning, so that it shows
in the ``-ra`` summary of every run. ``python -m tests.support.fidelity_report`` writes the same table to
``docs/fidelity.md``.
"""

from __future__ import annotations

import warnings

import pytest
from sigma.collection import SigmaCollection

from sigma_lambda_layer.evaluator import RuleEvaluator
from tests.support.fidelity import (
    FidelityRun,
    cached_run,
    elastic_storage_gap,
    elastic_unsearchable,
    failure_table,
    load_inputs,
    oracle,
    summary_lines,
)
from tests.support.probes import CONSTRUCTS, probes

#: Under pytest-xdist (``--dist loadgroup``) every test of this module runs on one worker, so the differential
#: (``cached_run``, about 45 s) is computed once, not once per worker.
pytestmark = pytest.mark.xdist_group("fidelity")


class FidelitySummary(UserWarning):
    """Carries the fidelity summary into pytest's warnings summary."""


@pytest.fixture(scope="module")
def fidelity() -> FidelityRun:
    return cached_run()


def _check(run: FidelityRun, target: str) -> None:
    ours = run.ours[target]
    if ours.skipped:
        pytest.skip(f"{target}: {ours.skipped}")
    failures = run.failures(target)
    assert not failures, (
        f"{len(failures)} of {len(ours.cells)} rules do not mean on {target} what they mean to the evaluator:\n"
        + failure_table(run, target)
        + "\n\n"
        + "\n".join(summary_lines(run))
    )


def test_fidelity_probes_are_deterministic_and_bounded() -> None:
    generated = probes()
    assert len(generated) == len({p.name for p in generated})
    assert {p.construct for p in generated} == {c.name for c in CONSTRUCTS}
    assert len(generated) <= 6 * len(CONSTRUCTS)
    assert [p.rule for p in probes.__wrapped__()] == [p.rule for p in generated]


def test_fidelity_probe_records_hit_what_they_aim_at() -> None:
    """Each probe's crafted records are labelled with the verdict they were built for; the evaluator must
    give it (this checks the probes, and the evaluator on the constructs the probes exercise)."""
    wrong = []
    for probe in probes():
        evaluator = RuleEvaluator(SigmaCollection.from_yaml(probe.rule).rules[0])  # type: ignore[arg-type]
        for record in probe.records:
            if evaluator.matches(record.record) != (record.intent == "match"):
                wrong.append(f"{record.name}: meant {record.intent}")
    assert not wrong, "\n".join(wrong)


def test_fidelity_pack_labels_agree_with_the_evaluator() -> None:
    """Every hand label of the pack is the evaluator's verdict, so a target that agrees with the evaluator on
    every record agrees with every label (a disagreement is investigated, never fixed by editing a label)."""
    inputs, truths = load_inputs(), oracle()
    wrong = [
        f"{rule.key}: {label.name} labelled {label.verdict}"
        for rule in inputs.rules
        for label in rule.labels
        if not isinstance(truths[rule.key], str) and (label.record in truths[rule.key]) is not label.verdict
    ]
    assert not wrong, "\n".join(wrong)


def _rule(detection: str) -> object:
    text = f"title: gap\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}\n"
    return SigmaCollection.from_yaml(text).rules[0]


_EVENT = {"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "readOnly": False}


def test_elastic_storage_gap_empty_value() -> None:
    """``errorCode: ""`` is dropped by the ingest pipeline: Elastic reads it as missing."""
    rule = _rule("  sel: {errorCode|exists: true}\n  condition: sel")
    record = {**_EVENT, "errorCode": ""}
    assert elastic_storage_gap(rule, record, False) == "empty or null value dropped by the ingest pipeline"
    assert elastic_storage_gap(rule, record, True) is None  # on the stored record the evaluator says no


def test_elastic_storage_gap_long_keyword() -> None:
    """A keyword value over ``ignore_above`` (1024 UTF-16 units) is stored but not indexed."""
    rule = _rule("  sel: {errorMessage|contains: denied}\n  condition: sel")
    long = {**_EVENT, "errorMessage": "denied " + "x" * 1018}
    assert elastic_storage_gap(rule, long, False) == "keyword over ignore_above 1024"
    assert elastic_unsearchable(rule, {**_EVENT, "errorMessage": "denied " + "x" * 1017}) is None
    array = {**_EVENT, "resources": [{"ARN": "arn:" + "a" * 1100}, {"ARN": "arn:b"}]}
    gap = elastic_unsearchable(_rule("  sel: {resources.ARN|startswith: 'arn:a'}\n  condition: sel"), array)
    assert gap is not None and gap.reasons == ("keyword over ignore_above 1024",)
    assert gap.kept["resources"] == [{"ARN": "arn:b"}]


def test_elastic_storage_gap_malformed_boolean() -> None:
    """``readOnly: "True"`` is not a boolean Elasticsearch accepts; ``ignore_malformed`` drops it."""
    rule = _rule("  sel: {readOnly: 'true'}\n  condition: sel")
    assert elastic_storage_gap(rule, {**_EVENT, "readOnly": "True"}, False) == "malformed boolean ignored"
    assert elastic_unsearchable(rule, {**_EVENT, "readOnly": "true"}) is None


def test_elastic_storage_gap_long_object() -> None:
    """An object whose ``Map.toString()`` reaches 32766 characters gets no flattened copy."""
    rule = _rule("  sel: {requestParameters.bucketName: b}\n  condition: sel")
    record = {**_EVENT, "requestParameters": {"bucketName": "b", "policy": "x" * 32766}}
    assert elastic_storage_gap(rule, record, False) == "object text of 32766+ characters, no flattened copy"
    assert elastic_storage_gap(rule, record, True) is None


def test_elastic_storage_gap_only_in_the_rules_fields() -> None:
    """An unsearchable value in a field the rule does not use excuses nothing."""
    rule = _rule("  sel: {eventName: PutBucketPolicy}\n  condition: sel")
    record = {**_EVENT, "errorCode": "", "errorMessage": "x" * 2000}
    assert elastic_unsearchable(rule, record) is None
    assert elastic_storage_gap(rule, record, False) is None


def test_splunk_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "splunk")


def test_lucene_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "lucene")


def test_eql_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "eql")


def test_esql_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "esql")


def test_cloudwatch_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "cloudwatch")


def test_eventbridge_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "eventbridge")


def test_duckdb_fidelity(fidelity: FidelityRun) -> None:
    _check(fidelity, "duckdb")


def test_athena_fidelity(fidelity: FidelityRun) -> None:
    """The offline proxy (DuckDB over the DDL's shape, queries transpiled by sqlglot) agrees with the
    evaluator, apart from differences the table's row explains (struct keys read case-insensitively)."""
    _check(fidelity, "athena")


def test_fidelity_summary(fidelity: FidelityRun) -> None:
    """Print the summary and scores, including the stock backends' (reported, never asserted)."""
    text = "\n".join(summary_lines(fidelity))
    print("\n" + text)
    warnings.warn(FidelitySummary("differential fidelity\n" + text), stacklevel=1)
    assert fidelity.inputs.rules and fidelity.inputs.records
    assert set(fidelity.stock) <= set(fidelity.ours)
