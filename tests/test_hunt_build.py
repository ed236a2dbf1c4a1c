"""The compiled build against the plain-Python sources: the same hunt, hit for hit and line for line.

tests/setup-and-run.sh installs the release build, whose per-record modules are compiled with mypyc
(pyproject.toml); the build leaves the compiled modules beside their sources, so this suite runs them. This
test runs the same hunt once more on the sources as plain Python (a copy of the package without the
compiled modules, in its own process) over the corpus spread into enough files to start the worker
processes (the compiled rules pickled to them), with a corrupt gzip and a JSON-lines file beside them (the
Python reader's path), and compares the two.

Where the suite runs plain Python (no compiler at install), the test skips; CI sets
``SIGMA_LAMBDA_REQUIRE_COMPILED=1`` so that it fails instead.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sigma_lambda_layer.evaluator import rule
from sigma_lambda_layer.hunt import HitWriter, hunt, native
from tests.support.corpus import AWS_RULES, OUR_RULES, cloudtrail_records, requires_corpus

#: the source files of the package (everything but compiled modules and caches)
_PACKAGE = Path(native.__file__).resolve().parent.parent


def _compiled() -> bool:
    return all(Path(m.__file__ or "").suffix in (".so", ".pyd") for m in (native, rule))


def _canonical(line: str) -> str:
    return json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False)


@requires_corpus
def test_the_compiled_build_hunts_as_the_plain_sources_do(tmp_path: Path) -> None:
    if not _compiled():
        message = "sigma-lambda runs as plain Python here (build it with HATCH_BUILD_HOOK_ENABLE_MYPYC=1)"
        if os.environ.get("SIGMA_LAMBDA_REQUIRE_COMPILED"):
            pytest.fail(message)
        pytest.skip(message)
    records = cloudtrail_records()
    logs = tmp_path / "logs"
    logs.mkdir()
    # Stored (level 0) gzip: over the 8 MiB below which a hunt runs in one process.
    for n in range(12):
        part = [dict(r, eventID=f"{n}-{i}") for i, r in enumerate(records)]
        (logs / f"part-{n:02d}.json.gz").write_bytes(
            gzip.compress(json.dumps({"Records": part}).encode(), compresslevel=0)
        )
    (logs / "lines.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:200]))
    (logs / "corrupt.json.gz").write_bytes(gzip.compress(b'{"Records": []}')[:-6])
    ours = sorted(p for p in OUR_RULES.glob("*.yml") if not p.name.endswith(".tests.yml"))
    rules = [*sorted(AWS_RULES.glob("*.yml")), *ours]
    assert sum(f.stat().st_size for f in logs.iterdir()) > 8 << 20 and len(rules) > 50

    plain = tmp_path / "plain"
    shutil.copytree(
        _PACKAGE, plain / "sigma_lambda_layer", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__")
    )
    out = tmp_path / "plain.jsonl"
    command = [sys.executable, "-m", "sigma_lambda_layer", "hunt", *map(str, rules), "--logs", str(logs)]
    done = subprocess.run(
        [*command, "--output", str(out), "--threads", "2", "--json", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(plain)},
    )
    assert done.returncode == 1, done.stderr  # the corrupt file: a located error, every other file scanned
    plain_summary = json.loads(done.stdout)
    assert plain_summary["records"] == 12 * len(records) + 200

    compiled = tmp_path / "compiled.jsonl"
    with HitWriter(compiled) as writer:
        found = hunt([str(r) for r in rules], [str(logs)], threads=2, on_hit=writer.write)
    assert [e.location.path for e in found.input_errors] == [str(logs / "corrupt.json.gz")]
    assert found.records == 12 * len(records) + 200
    lines = Counter(_canonical(line) for line in compiled.read_text(encoding="utf-8").splitlines())
    assert lines == Counter(_canonical(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert sum(lines.values()) == len(found.hits) > 1000
    # The CLI keeps no hit: its summaries are the workers' stats, merged per task (parallel._worker_scan).
    assert plain_summary["rules"] == found.to_summary()["rules"]
