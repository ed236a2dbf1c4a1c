"""sigma-lambda and sigma-cli side by side, same machine, same run; prints ratios (lower is better).

Usage (from the repository root, with sigma-lambda and sigma-cli installed in the active environment)::

    python benchmarks/bench_vs_sigma_cli.py [--rules ../shared/corpus/sigmahq] [--repeat 3]

Each command is run ``--repeat`` times and the median wall-clock time is kept. sigma-cli converts with
``--without-pipeline --skip-unsupported`` (it has no AWS pipelines), sigma-lambda with its own pipelines, so
sigma-lambda does more work per rule. By default sigma-lambda refuses rules whose log source is not CloudTrail
before parsing them (its pipelines cover CloudTrail only), which is most of the SigmaHQ corpus; the
``--without-pipeline`` line converts every rule, the same work as sigma-cli. The script also checks that sigma-lambda's cached, parallel
output is byte-identical to its uncached, single-process output. It never asserts on times: it reports them.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["splunk", "lucene", "eql", "esql", "cloudwatch"]


def timed(cmd: list[str], repeat: int, env_cache: str | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        sys.exit(f"{name} is not installed in this environment")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=Path, default=REPO / ".." / "shared" / "corpus" / "sigmahq")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rules = str(args.rules.resolve())
    sigma, lam = tool("sigma"), tool("sigma-lambda")
    work = Path(tempfile.mkdtemp(prefix="sigma-lambda-bench-"))
    cache = work / "cache"

    rows: list[tuple[str, float, float, str]] = []

    def compare(label: str, ours: list[str], theirs: list[str], goal: str, warm: bool = False) -> None:
        if warm:  # fill the cache once, then time re-runs over the unchanged rule set
            subprocess.run(ours, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        t_ours = timed(ours, args.repeat)
        t_theirs = timed(theirs, args.repeat)
        rows.append((label, t_ours, t_theirs, goal))

    sigma_splunk = [sigma, "convert", "-t", "splunk", "--without-pipeline", "--skip-unsupported", rules]
    compare("--help", [lam, "--help"], [sigma, "--help"], "<= 0.25")
    compare("--version", [lam, "--version"], [sigma, "--help"], "<= 0.25")
    compare(
        "one target (splunk), whole corpus, cold",
        [lam, "convert", "-q", "--no-cache", "-t", "splunk", rules],
        sigma_splunk,
        "<= 0.25",
    )
    compare(
        "one target (splunk), whole corpus, cold, --without-pipeline (the same work as sigma-cli)",
        [lam, "convert", "-q", "--no-cache", "--without-pipeline", "-t", "splunk", rules],
        sigma_splunk,
        "(reference)",
    )
    compare(
        "all five targets in one run, cold (vs one sigma-cli target)",
        [lam, "convert", "-q", "--no-cache", "-t", "all", rules],
        sigma_splunk,
        "<= 0.5",
    )
    cached = [lam, "convert", "-q", "--cache-dir", str(cache), "-t", "splunk", rules]
    compare(
        "one target, re-run over unchanged rules (cache)", cached, sigma_splunk, "<= 0.1 of cold", warm=True
    )
    cold = next(r[1] for r in rows if r[0].startswith("one target (splunk)"))
    warm = rows[-1][1]

    # Byte-identical outputs: uncached single process vs cached parallel, every target.
    identical = True
    for target in TARGETS:
        plain, fast = work / f"{target}-plain", work / f"{target}-fast"
        base = [lam, "convert", "-q", "-t", target, rules, "--output-dir"]
        subprocess.run([*base, str(plain), "--no-cache", "--jobs", "1"], capture_output=True, check=False)
        subprocess.run([*base, str(fast), "--cache-dir", str(cache)], capture_output=True, check=False)
        subprocess.run([*base, str(fast), "--cache-dir", str(cache)], capture_output=True, check=False)
        cmp = filecmp.dircmp(plain, fast)
        identical &= not (cmp.left_only or cmp.right_only or cmp.diff_files)
        identical &= all(
            filecmp.cmp(p, fast / p.relative_to(plain), shallow=False)
            for p in plain.rglob("*")
            if p.is_file()
        )

    print(f"rules: {rules}  repeat: {args.repeat}  python: {sys.version.split()[0]}")
    print()
    print("| measurement | sigma-lambda (s) | sigma-cli (s) | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for label, ours, theirs, goal in rows:
        print(f"| {label} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.3f} | {goal} |")
    print(
        f"| cached re-run vs sigma-lambda cold | {warm:.3f} | {cold:.3f} (ours, cold) | {warm / cold:.3f} | <= 0.1 |"
    )
    print()
    print(f"outputs byte-identical (cached+parallel vs uncached single-process, all targets): {identical}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
