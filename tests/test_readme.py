"""The README shows the founding rule's query for every target; this keeps it true.

Run ``pytest tests/test_readme.py --update-golden`` to rewrite the block after a deliberate change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.registry import TARGETS

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FOUNDING = REPO / "rules" / "aws_attached_malicious_lambda_layer.yml"
BLOCK = re.compile(r"(<!-- founding-queries:start -->\n)(.*?)(<!-- founding-queries:end -->)", re.S)


def founding_block() -> str:
    parts = []
    for result in convert(FOUNDING, target=list(TARGETS)):
        target = TARGETS[result.target]
        parts.append(
            f"**{result.target}** ({target.description}):\n\n```{target.language}\n{result.output}\n```\n"
        )
    return "\n".join(parts)


def test_readme_founding_queries_are_current(request: pytest.FixtureRequest) -> None:
    text = README.read_text()
    expected = founding_block()
    if request.config.getoption("--update-golden"):
        README.write_text(BLOCK.sub(lambda m: m.group(1) + expected + m.group(3), text))
        text = README.read_text()
    match = BLOCK.search(text)
    assert match, "README lost its founding-queries block"
    assert match.group(2) == expected
