"""The differential fidelity test: every target's match sets equal the reference evaluator's.

The whole table (rules x records x targets, see :mod:`tests.fidelity`) is built once per session; each
target's test then fails once, with every disagreement of that target. The summary (counts, per-target
agreement, the stock backends' scores) is printed (``pytest -s``) and issued as a warning, so that it shows
in the ``-ra`` summary of every run. ``python -m tests.fidelity_report`` writes the same table to
``docs/fidelity.md``.
"""

from __future__ import annotations

import warnings

import pytest
from sigma.collection import SigmaCollection

from sigma_lambda_layer.evaluator import RuleEvaluator
from tests.fidelity import FidelityRun, cached_run, failure_table, summary_lines
from tests.probes import CONSTRUCTS, probes


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


def test_fidelity_summary(fidelity: FidelityRun) -> None:
    """Print the summary and scores, including the stock backends' (reported, never asserted)."""
    text = "\n".join(summary_lines(fidelity))
    print("\n" + text)
    warnings.warn(FidelitySummary("differential fidelity\n" + text), stacklevel=1)
    assert fidelity.inputs.rules and fidelity.inputs.records
    assert set(fidelity.stock) <= set(fidelity.ours)
