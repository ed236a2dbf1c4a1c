"""sigma-cli interop: the real ``sigma`` command, through the installed plugin shims, with our pipelines.

For every (sigma-cli backend, sigma-lambda pipeline) pair sigma-cli offers (the pipeline declares the
backend, so ``sigma convert`` accepts it without ``--disable-pipeline-check``), the 57 SigmaHQ CloudTrail rules
either convert to exactly sigma-lambda's queries (the backend is sigma-lambda's own plugin) or are each
skipped with ``-s``, with a refusal naming the pipeline (a stock pySigma backend: see
``SigmaLambdaBackendOnly`` in sigma_lambda_layer/pipelines/builder.py). ``sigma list pipelines`` shows the
backends each pipeline declares, and an undeclared pair is refused before conversion.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sigma_lambda_layer import convert
from sigma_lambda_layer.registry import PIPELINES, TARGETS
from tests.support.corpus import AWS_RULES, aws_rule_paths, requires_corpus

#: The sigma-cli of the running interpreter's environment (the one the plugin shims were installed into).
SIGMA_CLI = (
    str(Path(sys.executable).with_name("sigma"))
    if Path(sys.executable).with_name("sigma").exists()
    else shutil.which("sigma")
)

needs_sigma_cli = pytest.mark.skipif(
    importlib.util.find_spec("sigma.pipelines.sigma_lambda") is None or SIGMA_CLI is None,
    reason="sigma-lambda is not installed as a wheel with its sigma-cli plugin shims",
)

#: The words of the per-rule refusal of a stock backend (builder.SigmaLambdaBackendOnly).
STOCK_REFUSAL = "serves sigma-lambda's own backends"


def sigma(*args: str) -> subprocess.CompletedProcess[str]:
    assert SIGMA_CLI is not None
    return subprocess.run([SIGMA_CLI, *args], capture_output=True, text=True, timeout=300)


def table(text: str) -> dict[str, list[str]]:
    """A sigma-cli ``list`` table as first cell -> cells, wrapped rows joined (a row continues when its
    first cell is empty)."""
    rows: dict[str, list[str]] = {}
    header: list[str] | None = None
    last: str | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = cells
        elif cells[0]:
            last = cells[0]
            rows[last] = cells
        elif last is not None:
            rows[last] = [f"{a} {b}".strip() for a, b in zip(rows[last], cells, strict=True)]
    return rows


def sigma_cli_targets() -> dict[str, str]:
    """sigma-cli backend identifier -> the plugin that provides it."""
    listed = sigma("list", "targets")
    assert listed.returncode == 0, listed.stderr
    return {ident: cells[-1] for ident, cells in table(listed.stdout).items() if ident != "Identifier"}


def declared_pairs() -> list[tuple[str, str]]:
    """(sigma-cli backend, our pipeline) pairs sigma-cli accepts: the pipeline declares the backend."""
    offered = sigma_cli_targets()
    return [
        (backend, pipeline)
        for pipeline in PIPELINES
        for backend in sorted(offered)
        if any(t.id == backend and t.pipeline_id == pipeline for t in TARGETS.values())
    ]


@needs_sigma_cli
def test_sigma_list_pipelines_shows_the_declared_backends() -> None:
    listed = sigma("list", "pipelines")
    assert listed.returncode == 0, listed.stderr
    rows = table(listed.stdout)
    for pipeline in PIPELINES:
        backends = {b.strip() for b in rows[pipeline][3].split(",")}
        expected = {t.id for t in TARGETS.values() if t.pipeline_id == pipeline}
        assert backends == expected, pipeline
        assert "all" not in backends


@needs_sigma_cli
def test_an_undeclared_pair_is_refused_before_conversion() -> None:
    run = sigma("convert", "-t", "lucene", "-p", "aws_cloudtrail_splunk", "-s", str(AWS_RULES))
    assert run.returncode != 0
    assert "not intended to be used with the target lucene" in run.stderr
    assert run.stdout == ""


@needs_sigma_cli
@requires_corpus
@pytest.mark.parametrize(("backend", "pipeline"), declared_pairs() if SIGMA_CLI else [])
def test_declared_pair_converts_our_queries_or_skips_each_rule(backend: str, pipeline: str) -> None:
    run = sigma("convert", "-t", backend, "-p", pipeline, "-s", str(AWS_RULES))
    assert run.returncode == 0, run.stderr  # -s: no rule aborts the batch
    rules = aws_rule_paths()
    ours = TARGETS[backend].sigma_cli_backend  # registered by our plugin shim under the target id
    if not ours:  # a stock backend: every rule skipped, the refusal naming the pipeline
        assert run.stdout.strip() == ""
        ignored = [line for line in run.stderr.splitlines() if STOCK_REFUSAL in line]
        assert sorted(line.split(": ", 1)[0] for line in ignored) == sorted(str(p) for p in rules)
        assert all(pipeline in line for line in ignored)
        return
    # sigma-lambda's backend: the queries sigma-lambda writes, and the refusals it makes, rule for rule
    results = convert(str(AWS_RULES), target=backend, collect_errors=True)
    expected = sorted(
        line for r in results if r.error is None for q in r.queries for line in str(q).splitlines() if line
    )
    assert sorted(line for line in run.stdout.splitlines() if line) == expected
    refused = {Path(r.path).name for r in results if r.error is not None and r.path}
    skipped = {Path(line.split(": ", 1)[0]).name for line in run.stderr.splitlines() if ".yml: " in line}
    assert skipped == refused
    assert len(refused) < len(rules)


@needs_sigma_cli
@requires_corpus
def test_stock_lucene_without_skip_fails_with_the_refusal() -> None:
    run = sigma("convert", "-t", "lucene", "-p", "aws_cloudtrail_elastic", str(aws_rule_paths()[0]))
    assert run.returncode != 0
    assert "Error while converting: pipeline aws_cloudtrail_elastic " + STOCK_REFUSAL in run.stderr
    assert "NotImplementedError" not in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_stock_backend_refuses_each_rule_in_process(pipeline: str) -> None:
    """The same refusal without sigma-cli: pySigma's stock Lucene backend, collecting errors as ``-s`` does,
    gets an unsupported-construct error (a SigmaError) for the rule, never a NotImplementedError."""
    from sigma.backends.elasticsearch import LuceneBackend
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

    from tests.support.corpus import FOUNDING_RULE

    backend = LuceneBackend(processing_pipeline=PIPELINES[pipeline].build(), collect_errors=True)
    assert backend.convert(SigmaCollection.from_yaml(FOUNDING_RULE.read_text(encoding="utf-8"))) == []
    [(_, error)] = backend.errors
    assert isinstance(error, SigmaFeatureNotSupportedByBackendError)
    assert f"pipeline {pipeline} {STOCK_REFUSAL}" in str(error)
    # sigma-lambda's own backend for the target of the pipeline converts the same rule
    target = next(t for t in TARGETS.values() if t.pipeline_id == pipeline)
    [result] = convert(str(FOUNDING_RULE), target=target.id)
    assert result.error is None and result.queries
