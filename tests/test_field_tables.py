"""The field tables in the docs are generated from the mapping data, so they cannot drift from it.

``pytest tests/test_field_tables.py --update-golden`` rewrites them in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from sigma_lambda_layer.fields import athena, elastic, ocsf, splunk

DOCS = Path(__file__).resolve().parents[1] / "docs" / "targets"
TABLES: dict[str, Callable[[], str]] = {
    "splunk.md": splunk.markdown_table,
    "elastic.md": elastic.markdown_table,
    "athena.md": athena.markdown_table,
    "securitylake.md": ocsf.markdown_table,
}


@pytest.mark.parametrize("page", sorted(TABLES))
def test_field_tables_are_generated_from_the_data(page: str, request: pytest.FixtureRequest) -> None:
    path = DOCS / page
    table = TABLES[page]().strip()
    text = path.read_text(encoding="utf-8")
    if request.config.getoption("--update-golden") and table not in text:
        header = table.splitlines()[0]
        start = text.index(header)
        rows = re.compile(r"(?:^\|.*\n?)+", re.M).match(text, start)
        assert rows, f"no table after the header in {page}"
        text = text[:start] + table + "\n" + text[rows.end() :]
        path.write_text(text, encoding="utf-8")
    assert table in text, f"{page}: the field table differs from fields/{page[:-3]}.py; run --update-golden"


def test_field_tables_cover_the_founding_rule_fields() -> None:
    for table in (splunk.markdown_table(), elastic.markdown_table()):
        assert "eventSource" in table and "eventName" in table


def test_user_pipeline_yaml_replaces_the_default(tmp_path: Path) -> None:
    from sigma_lambda_layer.api import convert

    pipeline = tmp_path / "mine.yml"
    pipeline.write_text(
        "name: my fields\npriority: 20\ntransformations:\n"
        "  - id: rename\n    type: field_name_mapping\n    mapping:\n"
        "      eventSource: source_service\n      eventName: api_call\n"
    )
    rule = Path(__file__).resolve().parents[1] / "rules" / "aws_attached_malicious_lambda_layer.yml"
    [result] = convert(rule, target="splunk", pipelines=[str(pipeline)], without_pipeline=True)
    assert result.output == 'source_service="lambda.amazonaws.com" api_call="UpdateFunctionConfiguration*"'
    [added] = convert(rule, target="splunk", pipelines=[str(pipeline)])
    assert added.output.startswith('sourcetype=aws:cloudtrail ')


def test_user_pipeline_yaml_invalid_is_a_usage_error(tmp_path: Path) -> None:
    from sigma_lambda_layer.api import convert
    from sigma_lambda_layer.errors import UsageError

    pipeline = tmp_path / "bad.yml"
    pipeline.write_text("transformations: [{type: no_such_transformation}]\n")
    rule = Path(__file__).resolve().parents[1] / "rules" / "aws_attached_malicious_lambda_layer.yml"
    with pytest.raises(UsageError, match="invalid pipeline"):
        convert(rule, target="splunk", pipelines=[str(pipeline)])
