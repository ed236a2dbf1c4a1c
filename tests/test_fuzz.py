"""A bounded, seeded fuzz campaign over the SigmaHQ corpus (see :mod:`tests.support.fuzz` for the mutations).

Every mutant is converted for every target and linted with ``check``: zero crashes (uncaught exceptions
or "internal error" messages), zero hangs (each mutant within :data:`tests.support.fuzz.PER_RULE_SECONDS`), and
every error located (path always; line whenever the file parses as YAML). Longer campaigns are run by hand
(``python -m tests.support.fuzz --count N --seed S``) and recorded in docs/hostile-input.md.
"""

from __future__ import annotations

from typing import Final

import pytest

from tests.support.fuzz import AWS_RULES, SIGMAHQ_RULES, Campaign, run_campaign, summary

#: Mutants per seed set and the wall-clock budget of each campaign in CI.
COUNT: Final = 400
BUDGET_SECONDS: Final = 20.0

#: Findings from the ``check`` stage of a mutant; the conversion tests leave them to
#: ``test_check_fuzz_no_exception_escapes`` so that each test names one stage.
CHECK_STAGE: Final = "check: "


def _skip_without_corpus() -> None:
    if not AWS_RULES.is_dir():
        pytest.skip(f"SigmaHQ rules not found under {SIGMAHQ_RULES}")


def _assert_clean(campaign: Campaign, *, with_check: bool = False) -> None:
    assert campaign.mutants > 0
    found = [f for f in campaign.findings if with_check or not f.detail.startswith(CHECK_STAGE)]
    assert not found, summary(campaign)


def test_all_targets_fuzz_aws_rules() -> None:
    """Mutants of the 57 AWS CloudTrail rules: these reach the CloudTrail pipelines and every backend."""
    _skip_without_corpus()
    campaign = run_campaign(
        COUNT, seed=20240601, seeds=sorted(AWS_RULES.glob("*.yml")), budget=BUDGET_SECONDS
    )
    _assert_clean(campaign)
    assert sum(campaign.conversions.values()) >= 5 * campaign.mutants


def test_all_targets_fuzz_whole_corpus() -> None:
    """Mutants of every SigmaHQ rule: other log sources, modifiers and condition shapes."""
    _skip_without_corpus()
    campaign = run_campaign(COUNT, seed=7, budget=BUDGET_SECONDS)
    _assert_clean(campaign)


def test_check_fuzz_no_exception_escapes() -> None:
    """``check`` on the same mutants: every malformed rule is a located finding, never an exception."""
    _skip_without_corpus()
    campaign = run_campaign(COUNT, seed=7, budget=BUDGET_SECONDS)
    _assert_clean(campaign, with_check=True)
