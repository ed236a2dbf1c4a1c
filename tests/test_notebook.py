"""The example notebook (docs/notebooks/sigma-lambda.ipynb) runs from top to bottom on the current code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "sigma-lambda.ipynb"


@pytest.fixture(scope="module")
def executed() -> Any:
    """The notebook executed once by a fresh Python kernel, as Jupyter would run it."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the 'test' extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the 'test' extra")
    pytest.importorskip("ipykernel", reason="ipykernel (the Python kernel) is in the 'test' extra")
    from sigma_lambda_layer.api import ConversionResults
    from sigma_lambda_layer.display import ResultsDisplay

    if not issubclass(ConversionResults, ResultsDisplay):  # the notebook shows tables and to_dataframe()
        pytest.skip("api.ConversionResults does not inherit display.ResultsDisplay yet (lead's change)")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    return notebook


def _outputs(cell: Any) -> list[Any]:
    return list(cell.get("outputs", []))


def _stdout(notebook: Any) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in _outputs(cell)
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )


def test_notebook_committed_executed() -> None:
    """The committed notebook carries its outputs, so readers see results without running it."""
    data = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [cell for cell in data["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["execution_count"] is not None for cell in code)
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    assert not [o for cell in code for o in cell["outputs"] if o["output_type"] == "error"]


def test_notebook_cells_run_without_error(executed: Any) -> None:
    errors = [
        f"cell {number}: {output.get('ename')}: {output.get('evalue')}"
        for number, cell in enumerate(executed.cells)
        for output in _outputs(cell)
        if output.get("output_type") == "error"
    ]
    assert not errors, errors


def test_notebook_exemption_removes_only_the_exempted_event(executed: Any) -> None:
    lines = _stdout(executed).splitlines()
    assert "deployment role  rule: True   with exemption: False" in lines
    assert "unknown role     rule: True   with exemption: True" in lines


def test_notebook_rule_tests_pass(executed: Any) -> None:
    lines = [line for line in _stdout(executed).splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert [line.split(":")[0] for line in lines] == [
        "PASS aws_attached_malicious_lambda_layer.yml",
        "PASS aws_lambda_layer_attached_to_function.yml",
    ]


def test_notebook_results_display_as_html(executed: Any) -> None:
    tables = [
        output["data"]["text/html"]
        for cell in executed.cells
        for output in _outputs(cell)
        if "text/html" in output.get("data", {}) and "<table>" in output["data"]["text/html"]
    ]
    from sigma_lambda_layer.registry import TARGETS

    batches = [table for table in tables if "results for 1 rule(s)" in table]
    assert len(batches) == 2  # the founding rule, then with the exemption
    count = len(TARGETS)
    assert f"{count} results for 1 rule(s): {count} converted, 0 unsupported, 0 failed" in batches[0]
    # The exemption's case-insensitive 'not userAgent|startswith' has no EventBridge operator: one refusal.
    assert all(f"{count} results for 1 rule(s): " in table and ", 0 failed" in table for table in batches)


def test_notebook_shows_a_hunt(executed: Any) -> None:
    """The hunt over the corpus displays its rules table with hits, and the hits as a data frame."""
    shown = [
        output["data"]["text/html"]
        for cell in executed.cells
        for output in _outputs(cell)
        if "text/html" in output.get("data", {}) and "record(s)," in output["data"]["text/html"]
    ]
    assert len(shown) == 1 and "AWS Attached Malicious Lambda Layer" in shown[0]
    assert "0 hit(s)" not in shown[0]
