"""Every SigmaHQ rule converts for every target without a crash; every AWS rule converts everywhere."""

from __future__ import annotations

from collections import Counter

import pytest

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.registry import TARGETS
from tests.corpus import AWS_RULES, SIGMAHQ, requires_corpus

pytestmark = requires_corpus


@pytest.mark.parametrize("target", list(TARGETS))
def test_corpus_whole_sigmahq_no_crash(target: str) -> None:
    results = convert([SIGMAHQ], target=target, collect_errors=True)
    assert len(results) >= 3780
    crashes = [
        f"{r.path}: {r.error.message}" for r in results if r.error and "internal error" in r.error.message
    ]
    kinds = Counter(type(r.error).__name__ for r in results if r.error)
    print(f"{target}: {len(results)} rules, {sum(r.ok for r in results)} converted, errors {dict(kinds)}")
    assert not crashes, "\n".join(crashes)


@pytest.mark.parametrize("target", list(TARGETS))
def test_corpus_every_aws_rule_converts(target: str) -> None:
    results = convert([AWS_RULES], target=target, collect_errors=True)
    assert len(results) == 57
    failures = [str(r.error) for r in results if r.error]
    assert not failures, "\n".join(failures)
