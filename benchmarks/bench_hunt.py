"""sigma-lambda hunt against its floor (DuckDB parsing the same files) and the reference evaluator, one run.

Usage (from the repository root)::

    python benchmarks/bench_hunt.py [--records 1000000] [--corpus ../shared/corpus] [--sample 5000]

The data set is built reproducibly (seeded) from the shared corpus: its CloudTrail records are replicated,
each copy with a fresh ``eventID`` and ``eventTime``, into CloudTrail's S3 layout
(``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``, a
``{"Records": [...]}`` document of 500 records per file), in a temporary folder. Then, in one run:

* **floor**: DuckDB's parse-only pass over the same files, ``count(*)`` over ``read_json_objects`` (no
  rule, no unnesting) -- no scan that reads these files can beat it by much. It runs right before each
  hunt run (``--repeat`` pairs of each hunt variant, after one run that fills the page cache), and each
  pair gives a ratio: the machine's speed drifts within minutes, and not alike for both;
* **hunt**: the ``sigma-lambda hunt`` command with the 57 SigmaHQ AWS CloudTrail rules plus ours and
  ``--output`` (every hit written), in its own process, timed from start to exit, on its default engine
  (native) and with ``--engine duckdb``, and once more on the native engine without ``--output`` (the
  terminal summary only: what writing the hits costs); its peak memory is the peak of the summed
  resident memory of the command and its worker processes (sampled from /proc);
* **reader**: ISA-L gunzip and a simdjson parse of every file on two processes, the native engine's own
  reading floor (what it does before any rule);
* **evaluator**: the reference evaluator (gunzip, ``json.loads``, every rule on every record) on a sample,
  in its own process; with ``--baseline-evaluator REVISION`` also the evaluator of that git revision (its
  package tree from ``git archive``, run as plain Python), for a goal set against an older evaluator;
* two bounds, to read the hunt/floor ratio: **unwrap**, ``count(*)`` of the records unnested from the same
  files (each ``Records`` document parsed a second time and every record written out as its own JSON, the
  least any per-record scan does); and the **bare scan**, hunt's own load query with every rule's condition
  as one ``WHERE``, ``count(*)`` (no batch table, no hit leaves DuckDB): the most a scan of these rules
  with DuckDB's JSON functions could do. Both in their own process, like the floor.

It prints records per second for each, the ratios (hunt/floor, hunt/evaluator, and each bound/floor) and
the load average during the run; it asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PER_FILE = 500
ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")


def build(corpus: Path, out: Path, records: int, seed: int = 14, hit_rate: float | None = None) -> list[Path]:
    """The S3-layout data set: ``records`` records in gzipped Records files (same seed, same bytes).

    With ``hit_rate``, each record is drawn from the corpus records some rule matches with that probability,
    else from those no rule matches (the corpus itself is attack samples: 36 % of its draws hit).
    """
    pool = []
    for path in sorted((corpus / "cloudtrail").glob("*.jsonl")):
        pool += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    hits: list[dict[str, object]] = []
    if hit_rate is not None:
        from sigma.collection import SigmaCollection

        from sigma_lambda_layer.evaluator import RuleEvaluator

        evaluators = [
            RuleEvaluator(r)  # type: ignore[arg-type]
            for p in rule_paths(corpus)
            for r in SigmaCollection.from_yaml(p.read_text(encoding="utf-8")).rules
        ]
        hits = [r for r in pool if any(e.matches(r) for e in evaluators)]
        pool = [r for r in pool if not any(e.matches(r) for e in evaluators)]
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    files = []
    for number in range(0, records, PER_FILE):
        region = REGIONS[(number // PER_FILE) % len(REGIONS)]
        moment = start + timedelta(seconds=number * 3)
        batch = []
        for offset in range(min(PER_FILE, records - number)):
            drawn = hits if hit_rate is not None and rng.random() < hit_rate else pool
            record = dict(drawn[rng.randrange(len(drawn))])
            record["eventID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            record["eventTime"] = (moment + timedelta(seconds=offset * 3)).strftime("%Y-%m-%dT%H:%M:%SZ")
            batch.append(record)
        folder = out / "AWSLogs" / ACCOUNT / "CloudTrail" / region / moment.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{ACCOUNT}_CloudTrail_{region}_{moment.strftime('%Y%m%dT%H%MZ')}_{number:08d}.json.gz"
        path = folder / name
        path.write_bytes(gzip.compress(json.dumps({"Records": batch}).encode(), mtime=0))
        files.append(path)
    return files


def rule_paths(corpus: Path) -> list[Path]:
    aws = sorted((corpus / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail").glob("*.yml"))
    ours = sorted(p for p in (REPO / "rules").glob("*.yml") if not p.name.endswith(".tests.yml"))
    return [*aws, *ours]


#: A DuckDB ``count(*)`` over the files' JSON documents (``{docs}``: ``read_json_objects`` of them), timed in
#: its own process: the floor and the unwrap bound differ only in the query.
_DUCKDB_COUNT = """
import json, resource, sys, time
import duckdb
files = json.loads(open(sys.argv[1]).read())
start = time.perf_counter()
listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
docs = (f"read_json_objects([{listed}], format='auto', compression='gzip', "
        "maximum_object_size=67108864)")
db = duckdb.connect()
db.execute('SET enable_progress_bar = false')
count = db.execute(QUERY.replace("{docs}", docs)).fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - start, "count": count,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""
_FLOOR = _DUCKDB_COUNT.replace("QUERY", repr("SELECT count(*) FROM {docs}"))
_UNWRAP = _DUCKDB_COUNT.replace(
    "QUERY",
    repr(
        "SELECT count(*) FROM (SELECT unnest(json_extract(json, '$.Records[*]')) AS record FROM {docs}) "
        "WHERE record IS NOT NULL"
    ),
)

_BARE = """
import json, resource, sys, tempfile, time
from pathlib import Path
arguments = json.loads(open(sys.argv[1]).read())
from sigma_lambda_layer.hunt import compile_rules
from sigma_lambda_layer.hunt.inputs import LogFile
from sigma_lambda_layer.hunt.scan import Scanner
compiled, errors = compile_rules(arguments["rules"])
files = [LogFile(f, Path(f), 1, True) for f in arguments["files"]]
with tempfile.TemporaryDirectory() as spool:
    scanner = Scanner(compiled, Path(spool))
    sql = (f"SELECT count(*) FROM ({scanner.records_sql(files)}) "
           f"WHERE en_type IS NOT NULL AND ({scanner.any_rule_sql()})")
    start = time.perf_counter()
    count = scanner.db.execute(sql).fetchone()[0]
    seconds = time.perf_counter() - start
    scanner.close()
print(json.dumps({"seconds": seconds, "matching": count, "rules": len(compiled),
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


#: ``--source``: the children run the checkout's sources (PYTHONPATH), not the installed package
_SOURCE = False
#: the children's working directory: not the checkout, whose sources would shadow the installed package
_CWD = tempfile.gettempdir()


def _env() -> dict[str, str]:
    if not _SOURCE:
        return dict(os.environ)
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _compiled(module_file: str) -> bool:
    """Whether a module was imported from a compiled extension (the mypyc build), not from its source."""
    return module_file.endswith((".so", ".pyd"))


def build_kind() -> str:
    """Which sigma-lambda the children run: the mypyc-compiled build or plain Python, and from where."""
    code = "import sigma_lambda_layer.hunt.native as n; print(n.__file__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=_CWD)
    kind = "compiled (mypyc)" if _compiled(done.stdout.strip()) else "Python"
    return f"{kind}, {'the checkout' if _SOURCE else 'the installed package'}"


def _child(code: str, argument: object, env: dict[str, str] | None = None) -> dict[str, object]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(argument, handle)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, handle.name],
            capture_output=True,
            text=True,
            env=_env() if env is None else env,
            cwd=_CWD,
        )
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_READER = """
import json, resource, sys, time
from concurrent.futures import ProcessPoolExecutor
import simdjson
from isal import igzip
def count(chunk):
    parser, n = simdjson.Parser(), 0
    for f in chunk:
        n += len(parser.parse(igzip.decompress(open(f, 'rb').read()))['Records'])
    return n
files = json.loads(open(sys.argv[1]).read())
start = time.perf_counter()
with ProcessPoolExecutor(2) as pool:
    records = sum(pool.map(count, [files[0::2], files[1::2]]))
print(json.dumps({"seconds": time.perf_counter() - start, "records": records,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


class _TreeMemory(threading.Thread):
    """The peak of the summed resident memory of a process and its descendants (the hunt's workers),
    sampled from /proc every 50 ms (Linux; elsewhere it stays 0 and the process' own peak is used)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, False

    def run(self) -> None:
        page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        while not self.done:
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = entry.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(entry.parent.name)
                parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * page_kb
            tree = {self.pid}
            for _ in range(4):  # the command, its workers (and anything they start)
                tree |= {p for p, parent in parents.items() if parent in tree}
            self.peak_kb = max(self.peak_kb, sum(rss.get(p, 0) for p in tree))
            time.sleep(0.05)


def run_hunt(rules: list[Path], logs: Path, output: Path | None, engine: str = "native") -> dict[str, object]:
    """``sigma-lambda hunt`` as a user runs it, in its own process: wall time and that process' peak RSS
    (its workers' too: the largest of the process and its children). ``output`` None: no ``--output``
    (the summary only)."""
    command = [sys.executable, "-m", "sigma_lambda_layer", "hunt", "--engine", engine, *map(str, rules)]
    command += ["--logs", str(logs)]
    if output is not None:
        command += ["--output", str(output)]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=_env(), cwd=_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree = _TreeMemory(child.pid)  # sampling from the start: the read below waits for the child's end
    tree.start()
    assert child.stderr is not None
    summary = child.stderr.read().decode()  # read before waiting: a full pipe would block the child
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    tree.done = True
    tree.join()
    peak = max(usage.ru_maxrss, tree.peak_kb)
    return {
        "seconds": seconds,
        "status": os.waitstatus_to_exitcode(status),
        "peak_kb": peak,
        "summary": summary.splitlines()[0] if summary else "",
        "errors": [line for line in summary.splitlines() if line.startswith("error:")][:5],
    }


_EVALUATOR = """
import gzip, json, sys, time
from pathlib import Path
from sigma.collection import SigmaCollection
from sigma_lambda_layer.evaluator import RuleEvaluator
import sigma_lambda_layer.evaluator.rule as where
args = json.loads(open(sys.argv[1]).read())
evaluators = [RuleEvaluator(r) for p in args["rules"] for r in SigmaCollection.from_yaml(Path(p).read_text()).rules]
start, seen = time.perf_counter(), 0
for path in args["files"]:
    for record in json.loads(gzip.decompress(Path(path).read_bytes()))["Records"]:
        for evaluator in evaluators:
            evaluator.matches(record)
        seen += 1
    if seen >= args["sample"]:
        break
print(json.dumps({"rate": seen / (time.perf_counter() - start), "seen": seen, "module": where.__file__}))
"""


def evaluator_rate(
    rules: list[Path], files: list[Path], sample: int, source: Path | None = None
) -> dict[str, object]:
    """Records per second of the reference evaluator (gunzip + json.loads + every rule) on ``sample``, in
    its own process: the one the hunt runs (installed, or the checkout with ``--source``), or the package
    tree in ``source`` (a revision's, see :func:`revision_tree`) as plain Python."""
    argument = {"rules": [str(r) for r in rules], "files": [str(f) for f in files], "sample": sample}
    env = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    return _child(_EVALUATOR, argument, env)


def revision_tree(revision: str, into: Path) -> Path:
    """The package as it was at ``revision`` of this repository (``git archive``), unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "sigma_lambda_layer"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--corpus", type=Path, default=REPO / ".." / "shared" / "corpus")
    parser.add_argument("--sample", type=int, default=5_000, help="records for the evaluator")
    parser.add_argument(
        "--data",
        type=Path,
        help="build the data set in this folder and keep it; reuse it if already built there",
    )
    parser.add_argument("--repeat", type=int, default=3, help="floor + hunt pairs timed (default 3)")
    parser.add_argument(
        "--hit-rate",
        type=float,
        help="draw records so that about this fraction hits (e.g. 0.001); default: the corpus mix (36 %%)",
    )
    parser.add_argument(
        "--baseline-evaluator",
        metavar="REVISION",
        help="also time the reference evaluator as it was at this git revision (plain Python), e.g. the "
        "one issue 14 set its goal against: 7cbe9f0^",
    )
    parser.add_argument(
        "--source",
        action="store_true",
        help="run the checkout's sources instead of the installed package (which may be the compiled build)",
    )
    args = parser.parse_args()
    global _SOURCE
    _SOURCE = args.source
    if _SOURCE:
        sys.path.insert(0, str(REPO))  # build() reads the rules with the checkout's evaluator too
    print(f"sigma-lambda: {build_kind()}")
    rules = rule_paths(args.corpus.resolve())
    with tempfile.TemporaryDirectory(prefix="bench-hunt-") as scratch:
        t = time.perf_counter()
        tmp = str(args.data) if args.data is not None else scratch
        built = sorted(Path(tmp).glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz"))
        if args.data is not None and len(built) == -(-args.records // PER_FILE):
            files = sorted(built, key=lambda f: f.name.rsplit("_", 1)[-1])  # reused: same seed, same bytes
        else:
            files = build(args.corpus.resolve(), Path(tmp), args.records, hit_rate=args.hit_rate)
        size = sum(f.stat().st_size for f in files)
        print(
            f"data set: {args.records} records, {len(files)} files, {size / 1e6:.0f} MB gzip "
            f"(built in {time.perf_counter() - t:.0f} s)"
        )
        listed = [str(f) for f in files]
        loads = [os.getloadavg()[0]]
        _child(_FLOOR, listed)  # a first pass reads the files into the page cache
        # The machine's speed drifts by tens of percent within minutes, and not alike for DuckDB's threads
        # and the hunt's processes: each hunt is timed right after a floor run, and each pair gives a ratio.
        pairs: list[tuple[dict[str, object], dict[str, object]]] = []
        quiet_pairs: list[tuple[dict[str, object], dict[str, object]]] = []
        for _ in range(args.repeat):
            pairs.append(
                (_child(_FLOOR, listed), run_hunt(rules, Path(tmp) / "AWSLogs", Path(scratch) / "h.jsonl"))
            )
            (Path(scratch) / "h.jsonl").unlink()
            quiet_pairs.append((_child(_FLOOR, listed), run_hunt(rules, Path(tmp) / "AWSLogs", None)))
            loads.append(os.getloadavg()[0])
        reader = _child(_READER, listed)
        hunted_duckdb = run_hunt(rules, Path(tmp) / "AWSLogs", Path(scratch) / "hits-duckdb.jsonl", "duckdb")
        loads.append(os.getloadavg()[0])
        unwrap = _child(_UNWRAP, listed)
        bare = _child(_BARE, {"rules": [str(r) for r in rules], "files": listed})
        loads.append(os.getloadavg()[0])
        evaluated = evaluator_rate(rules, files, args.sample)
        loads.append(os.getloadavg()[0])
        baseline = None
        if args.baseline_evaluator:
            old = revision_tree(args.baseline_evaluator, Path(scratch) / "baseline")
            baseline = evaluator_rate(rules, files, args.sample, source=old)
            loads.append(os.getloadavg()[0])
    floor = min((f for f, _ in pairs), key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    hunted = min((h for _, h in pairs), key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    floor_rate = args.records / float(floor["seconds"])  # type: ignore[arg-type]
    hunt_rate = args.records / float(hunted["seconds"])  # type: ignore[arg-type]
    print(
        f"cores: {os.cpu_count()}; rules: {len(rules)}; hunt exit status {hunted['status']}; {hunted['errors']}"
    )
    print(f"hunt summary: {hunted['summary']}")
    for label, runs in (
        ("hunt --output (every hit written)", pairs),
        ("hunt, the summary only", quiet_pairs),
    ):
        ratios = sorted(float(f["seconds"]) / float(h["seconds"]) for f, h in runs)  # type: ignore[arg-type]
        print(f"{label}, each after a floor run:")
        for f, h in runs:
            print(
                f"  floor {f['seconds']:.1f} s, hunt {h['seconds']:.1f} s (peak {int(h['peak_kb']) / 1024:.0f} MB): "  # type: ignore[call-overload]
                f"{float(f['seconds']) / float(h['seconds']):.2f}x"  # type: ignore[arg-type]
            )
        print(
            f"  hunt/floor: median {ratios[len(ratios) // 2]:.2f}x, range {ratios[0]:.2f}x-{ratios[-1]:.2f}x"
        )
    print(
        f"fastest floor (DuckDB count(*) over read_json_objects): {floor['seconds']:.1f} s, {floor_rate:,.0f} rec/s, "
        f"peak {int(floor['peak_kb']) / 1024:.0f} MB"  # type: ignore[call-overload]
    )
    print(
        f"fastest hunt (the whole command, rule compilation included): {hunted['seconds']:.1f} s, "
        f"{hunt_rate:,.0f} rec/s"
    )
    duckdb_rate = args.records / float(hunted_duckdb["seconds"])  # type: ignore[arg-type]
    print(
        f"hunt --engine duckdb: {hunted_duckdb['seconds']:.1f} s, {duckdb_rate:,.0f} rec/s, "
        f"{duckdb_rate / floor_rate:.2f}x the floor, peak {int(hunted_duckdb['peak_kb']) / 1024:.0f} MB; "  # type: ignore[call-overload]
        f"{hunted_duckdb['summary']}"
    )
    rate = float(evaluated["rate"])  # type: ignore[arg-type]
    evaluator_kind = "compiled" if _compiled(str(evaluated["module"])) else "Python"
    print(f"evaluator ({evaluator_kind}): {evaluated['seen']} records, {rate:,.0f} rec/s")
    if baseline is not None:
        print(
            f"evaluator at {args.baseline_evaluator} (plain Python): {baseline['seen']} records, "
            f"{float(baseline['rate']):,.0f} rec/s"  # type: ignore[arg-type]
        )
    for name, step in (
        ("reader (ISA-L gunzip + simdjson parse, 2 processes: the native engine's own floor)", reader),
        ("unwrap (records unnested, counted)", unwrap),
        ("bare scan (load + every rule's WHERE)", bare),
    ):
        step_rate = args.records / float(step["seconds"])  # type: ignore[arg-type]
        detail = f", {step['matching']:,} matching records" if "matching" in step else ""
        print(
            f"{name}: {step['seconds']:.1f} s, {step_rate:,.0f} rec/s, {step_rate / floor_rate:.2f}x the floor, "
            f"peak {int(step['peak_kb']) / 1024:.0f} MB{detail}"  # type: ignore[call-overload]
        )
    print(
        f"ratios of the fastest runs: hunt/floor = {hunt_rate / floor_rate:.2f}x, "
        f"hunt/evaluator = {hunt_rate / rate:.1f}x"
        + (
            ""
            if baseline is None
            else f", hunt/evaluator at {args.baseline_evaluator} = {hunt_rate / float(baseline['rate']):.1f}x"  # type: ignore[arg-type]
        )
    )
    print(f"load average (1 min) before/after each step: {', '.join(f'{x:.1f}' for x in loads)}")


if __name__ == "__main__":
    main()
