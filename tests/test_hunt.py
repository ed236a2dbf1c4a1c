"""sigma-lambda hunt: the same hits as the reference evaluator, located errors for bad input, exit codes.

The differential test is the contract: over the shared corpus, for every SigmaHQ AWS rule and ours, hunt
reports exactly the (rule, record) pairs the evaluator decides, record for record (a multiset: the corpus
holds some identical records).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.hunt import HitWriter, RuleStats, hunt
from tests.support.corpus import AWS_RULES, CLOUDTRAIL, OUR_RULES, REPO, cloudtrail_records, requires_corpus
from tests.support.rulekit import rule_yaml

#: The two engines that scan log files here: every API test runs on both (the default first).
ENGINES = pytest.mark.parametrize("engine", ["native", "duckdb"])


def _key(record: Any) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def _rule_paths() -> list[Path]:
    ours = sorted(p for p in OUR_RULES.glob("*.yml") if not p.name.endswith(".tests.yml"))
    return [*sorted(AWS_RULES.glob("*.yml")), *ours]


def _expected(paths: list[Path], records: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    expected: Counter[tuple[str, str]] = Counter()
    for path in paths:
        for rule in SigmaCollection.from_yaml(path.read_text(encoding="utf-8")).rules:
            evaluator = RuleEvaluator(rule)  # type: ignore[arg-type]
            for record in records:
                if evaluator.matches(record):
                    expected[(str(rule.title), _key(record))] += 1
    return expected


def _found(result: Any) -> Counter[tuple[str, str]]:
    return Counter((h.rule_title, _key(json.loads(h.record))) for h in result.hits)


def _case_colliding(record: Any) -> bool:
    if isinstance(record, dict):
        lowered = [k.lower() for k in record]
        return len(set(lowered)) < len(lowered) or any(_case_colliding(v) for v in record.values())
    if isinstance(record, list):
        return any(_case_colliding(v) for v in record)
    return False


#: Rules on the corpus' case-colliding keys (``tag``/``Tag``, ``Tagging``/``tagging`` below requestParameters).
COLLIDING_RULES = {
    "colliding_lower": """
        selection:
            requestParameters.CreateNatGatewayRequest.TagSpecification.tag: 1
        condition: selection
        """,
    "colliding_upper": """
        selection:
            requestParameters.CreateNatGatewayRequest.TagSpecification.Tag.Key: StratusRedTeam
        condition: selection
        """,
    "colliding_exists": """
        selection:
            requestParameters.tagging|exists: true
            requestParameters.Tagging.TagSet.Tag.Key|contains: stratus
        condition: selection
        """,
}


@ENGINES
@requires_corpus
def test_hunt_reports_exactly_the_evaluator_hits_on_the_corpus(tmp_path: Path, engine: str) -> None:
    for name, detection in COLLIDING_RULES.items():
        (tmp_path / f"{name}.yml").write_text(rule_yaml(detection, title=name), encoding="utf-8")
    paths = [*_rule_paths(), *sorted(tmp_path.glob("*.yml"))]
    records = cloudtrail_records()
    assert any(_case_colliding(r) for r in records), "the corpus should hold case-colliding keys"
    result = hunt([str(p) for p in paths], sorted(CLOUDTRAIL.glob("*.jsonl")), engine=engine)
    assert not result.rule_errors, [str(e) for e in result.rule_errors]
    assert not result.input_errors, [str(e) for e in result.input_errors]
    assert result.records == len(records)
    expected, found = _expected(paths, records), _found(result)
    missed, extra = expected - found, found - expected
    assert not missed and not extra, (
        f"missed: {sorted({r for r, _ in missed})}; extra: {sorted({r for r, _ in extra})}"
    )
    colliding = {_key(r) for r in records if _case_colliding(r)}
    for name in COLLIDING_RULES:
        assert any(r == name and k in colliding for r, k in found), f"{name} should hit a colliding record"


# --------------------------------------------------------------------------------------- fixtures

RULE = rule_yaml(
    """
    selection:
        eventName: ConsoleLogin
    condition: selection
    """,
    title="Console login <script>alert(1)</script>",
)


def _record(
    n: int, name: str = "ConsoleLogin", time: str = "2024-05-01T10:00:00Z", **extra: Any
) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": time,
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "eventID": f"id-{n}",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/u{n}"},
        **extra,
    }


def _rule_file(tmp_path: Path, text: str = RULE) -> Path:
    path = tmp_path / "rule.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _ids(result: Any) -> list[str]:
    return sorted(h.event_id for h in result.hits)


# --------------------------------------------------------------------------------------- input formats


@ENGINES
def test_hunt_reads_every_cloudtrail_delivery_format(tmp_path: Path, engine: str) -> None:
    logs = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2024" / "05" / "01"
    logs.mkdir(parents=True)
    # CloudTrail's S3 file: {"Records": [...]}, gzipped.
    with gzip.open(logs / "111122223333_CloudTrail_us-east-1_20240501T1000Z_a.json.gz", "wt") as f:
        json.dump({"Records": [_record(1), _record(2, "GetObject")]}, f)
    # JSON lines, plain and gzipped.
    (tmp_path / "lines.jsonl").write_text(json.dumps(_record(3)) + "\n" + json.dumps(_record(4)) + "\n")
    with gzip.open(tmp_path / "lines.jsonl.gz", "wt") as f:
        f.write(json.dumps(_record(5)) + "\n")
    # Firehose: objects back to back, no separator, no extension; EventBridge events of CloudTrail.
    bridge = {"detail-type": "AWS API Call via CloudTrail", "source": "aws.signin", "detail": _record(6)}
    (tmp_path / "firehose-1-2024-05-01").write_text(json.dumps(_record(7)) + json.dumps(bridge))
    # A CloudWatch Logs subscription payload (what Firehose writes from a subscription filter).
    payload = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "aws-cloudtrail",
        "logEvents": [{"id": "1", "timestamp": 0, "message": json.dumps(_record(8))}],
    }
    with gzip.open(tmp_path / "subscription.gz", "wt") as f:
        f.write(json.dumps(payload))
    # A CloudWatch Logs export (create-export-task): "<timestamp> <message>" lines.
    with gzip.open(tmp_path / "000000.gz", "wt") as f:
        f.write("2024-05-01T10:00:00.000Z " + json.dumps(_record(9)) + "\n")
    # A digest folder holds no events and is skipped with a note.
    digest = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail-Digest"
    digest.mkdir()
    (digest / "d.json.gz").write_bytes(gzip.compress(b'{"digestStartTime": "x"}'))

    result = hunt(str(_rule_file(tmp_path)), [str(tmp_path)], engine=engine)
    assert [str(e) for e in result.input_errors] == []
    assert _ids(result) == [f"id-{n}" for n in (1, 3, 4, 5, 6, 7, 8, 9)]
    assert result.records == 9
    assert any("CloudTrail-Digest" in n for n in result.notes)


@ENGINES
def test_hunt_since_until_filter_on_event_time(tmp_path: Path, engine: str) -> None:
    times = ["2024-04-30T23:59:59Z", "2024-05-01T00:00:00Z", "2024-05-01T23:59:59Z", "2024-05-02T00:00:00Z"]
    (tmp_path / "l.jsonl").write_text(
        "".join(json.dumps(_record(i, time=t)) + "\n" for i, t in enumerate(times))
    )
    result = hunt(
        str(_rule_file(tmp_path)),
        [str(tmp_path / "l.jsonl")],
        since="2024-05-01",
        until="2024-05-02",
        engine=engine,
    )
    assert _ids(result) == ["id-1", "id-2"]
    assert result.outside_window == 2


# --------------------------------------------------------------------------------------- hostile input


@ENGINES
def test_hunt_hostile_folder_gives_located_errors_and_every_good_hit(tmp_path: Path, engine: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = gzip.compress(json.dumps({"Records": [_record(1), _record(2)]}).encode())
    (logs / "good.json.gz").write_bytes(good)
    (logs / "good.jsonl").write_text(json.dumps(_record(3)) + "\n")
    (logs / "truncated.json.gz").write_bytes(
        gzip.compress(((json.dumps(_record(4)) + "\n") * 200).encode())[:-30]
    )
    (logs / "corrupt.json.gz").write_bytes(good[:12] + bytes(range(256)) * 4)
    (logs / "truncated.json").write_text(json.dumps({"Records": [_record(5)]})[:-40])
    (logs / "binary.log").write_bytes(bytes(range(256)) * 8)
    (logs / "empty.json").write_bytes(b"")
    lines = [
        json.dumps(_record(6)),
        "this is not json",
        json.dumps({"eventTime": "x"}),
        json.dumps(_record(7)),
    ]
    (logs / "mixed.jsonl").write_text("\n".join(lines) + "\n")

    result = hunt(str(_rule_file(tmp_path)), [str(logs)], engine=engine)
    errors = [str(e) for e in result.input_errors]
    by_file: dict[str, list[str]] = {}
    for error in result.input_errors:
        by_file.setdefault(Path(error.location.path or "").name, []).append(str(error))
    assert set(by_file) == {
        "truncated.json.gz",
        "corrupt.json.gz",
        "truncated.json",
        "binary.log",
        "empty.json",
        "mixed.jsonl",
    }, errors
    assert any("truncated gzip" in e for e in by_file["truncated.json.gz"])
    assert any("corrupt gzip" in e for e in by_file["corrupt.json.gz"])
    assert any("empty file" in e for e in by_file["empty.json"])
    mixed = sorted(by_file["mixed.jsonl"])
    assert any(e.startswith(f"{logs / 'mixed.jsonl'}:2: not JSON") for e in mixed), mixed
    assert any(e.startswith(f"{logs / 'mixed.jsonl'}:3: not a CloudTrail record") for e in mixed), mixed
    # Every good record is scanned, including the good lines of bad files and the intact part of a cut gzip.
    ids = _ids(result)
    assert {"id-1", "id-2", "id-3", "id-6", "id-7"} <= set(ids)
    assert "id-4" in ids  # records before the truncation
    assert not result.ok


# --------------------------------------------------------------------------------------- CLI


def _cli(
    *args: str, stdin: bytes | None = None, engine: str = "native"
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "sigma_lambda_layer", "hunt", "--engine", engine, *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
    )


@ENGINES
def test_hunt_cli_exit_codes_and_outputs(tmp_path: Path, engine: str) -> None:
    rule = str(_rule_file(tmp_path))
    log = tmp_path / "l.jsonl"
    log.write_text(json.dumps(_record(1)) + "\n" + json.dumps(_record(2, "GetObject")) + "\n")
    out = tmp_path / "hits.jsonl"
    done = _cli(rule, "--logs", str(log), "--output", str(out), engine=engine)
    assert done.returncode == 0, done.stderr.decode()
    assert [json.loads(line)["event_id"] for line in out.read_text().splitlines()] == ["id-1"]
    assert b"1 hit(s)" in done.stderr
    assert _cli(rule, "--logs", str(log), "--fail-on-hit", "-q", engine=engine).returncode == 3
    (tmp_path / "quiet.jsonl").write_text(json.dumps(_record(2, "GetObject")) + "\n")
    assert _cli(rule, "--logs", str(tmp_path / "quiet.jsonl"), "--fail-on-hit", engine=engine).returncode == 0
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    bad = _cli(
        rule, "--logs", str(log), "--logs", str(tmp_path / "bad.jsonl"), "--output", str(out), engine=engine
    )
    assert bad.returncode == 1
    assert f"{tmp_path / 'bad.jsonl'}:1: not JSON".encode() in bad.stderr
    assert len(out.read_text().splitlines()) == 1  # the good file's hit is still written
    assert _cli(rule, "--logs", str(log), "--since", "yesterday", engine=engine).returncode == 2
    csv_out = tmp_path / "hits.csv"
    assert _cli(rule, "--logs", str(log), "--output", str(csv_out), "-q", engine=engine).returncode == 0
    assert csv_out.read_text().splitlines()[0].startswith("rule_title,rule_id,rule_level")


@ENGINES
def test_hunt_cli_reads_stdin(tmp_path: Path, engine: str) -> None:
    rule = str(_rule_file(tmp_path))
    data = gzip.compress(json.dumps({"Records": [_record(1), _record(2)]}).encode())
    done = _cli(rule, "--logs", "-", "--output", str(tmp_path / "h.jsonl"), stdin=data, engine=engine)
    assert done.returncode == 0, done.stderr.decode()
    assert len((tmp_path / "h.jsonl").read_text().splitlines()) == 2


@ENGINES
def test_hunt_result_displays_and_converts(tmp_path: Path, engine: str) -> None:
    pd = pytest.importorskip("pandas")
    (tmp_path / "l.jsonl").write_text(json.dumps(_record(1, userAgent="<b>x</b>")) + "\n")
    result = hunt(str(_rule_file(tmp_path)), str(tmp_path / "l.jsonl"), engine=engine)
    frame = result.to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame["event_id"]) == ["id-1"]
    table = result._repr_html_()
    assert "<script>" not in table and "&lt;script&gt;" in table
    report = result.html_report()
    assert "<script>" not in report and "<b>x</b>" not in report and "&lt;b&gt;x&lt;/b&gt;" in report
    assert io.StringIO(result.to_jsonl()).read().count("\n") == 1


@ENGINES
@requires_corpus
def test_hunt_cli_jsonl_output_equals_the_api_hits(tmp_path: Path, engine: str) -> None:
    """``--output x.jsonl`` is written by the engine (DuckDB's COPY, or the native workers' own lines), not
    from the Hit objects: the same hits, every field."""
    paths = [str(p) for p in _rule_paths()]
    logs = sorted(CLOUDTRAIL.glob("*.jsonl"))
    out = tmp_path / "hits.jsonl"
    done = _cli(
        *paths, *(a for log in logs for a in ("--logs", str(log))), "--output", str(out), "-q", engine=engine
    )
    assert done.returncode == 0, done.stderr.decode()
    written = Counter(_key(json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines())
    result = hunt(paths, logs, engine=engine)
    expected = Counter(_key(h.to_dict()) for h in result.hits)
    assert written == expected and sum(expected.values()) > 100


@ENGINES
@requires_corpus
def test_hunt_keep_records_keeps_the_first_records_of_each_rule(engine: str) -> None:
    logs = sorted(CLOUDTRAIL.glob("*.jsonl"))
    paths = [str(p) for p in _rule_paths()]
    full, kept = hunt(paths, logs, engine=engine), hunt(paths, logs, keep_records=2, engine=engine)
    assert Counter((h.rule_title, h.event_id) for h in full.hits) == Counter(
        (h.rule_title, h.event_id) for h in kept.hits
    )
    per_rule: Counter[str] = Counter(h.rule_title for h in full.hits)
    with_record: Counter[str] = Counter(h.rule_title for h in kept.hits if h.record is not None)
    assert with_record == Counter({rule: min(2, n) for rule, n in per_rule.items()})
    assert all(json.loads(h.record) for h in kept.hits if h.record is not None)


@ENGINES
@requires_corpus
def test_hunt_without_hits_keeps_the_same_summaries(tmp_path: Path, engine: str) -> None:
    """``keep_hits=False`` (the CLI without --report) summarises each rule while scanning: the summaries,
    counts and JSON lines are those of the hunt that keeps every hit, and no Hit is held."""
    logs = sorted(CLOUDTRAIL.glob("*.jsonl"))
    paths = [str(p) for p in _rule_paths()]
    full = hunt(paths, logs, engine=engine)
    out = tmp_path / "hits.jsonl"
    with HitWriter(out) as writer:
        lean = hunt(paths, logs, engine=engine, keep_hits=False, on_hit=writer.write, keep_records=0)
    assert lean.hits == [] and lean.stats is not None
    assert lean.hit_count == full.hit_count == len(full.hits) > 300
    assert lean.summaries() == full.summaries()
    assert {k: v for k, v in lean.to_summary().items() if k != "seconds"} == {
        k: v for k, v in full.to_summary().items() if k != "seconds"
    }
    written = Counter(_key(json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines())
    assert written == Counter(_key(h.to_dict()) for h in full.hits)
    assert [s.hits for s in lean.summaries()] == [s.hits for s in full.summaries()]
    busiest = max(full.summaries(), key=lambda s: s.hits)
    principals = Counter(h.principal for h in full.hits if h.rule_title == busiest.title and h.principal)
    ranked = sorted(principals.items(), key=lambda item: (-item[1], item[0]))[:3]
    assert list(busiest.top_principals) == ranked  # ties in value order: the same on every engine


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(), st.sampled_from(["", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", "2023"])
            ),
            st.one_of(st.none(), st.sampled_from(["", "a", "b", "c"])),
            st.one_of(st.none(), st.sampled_from(["1.2.3.4", "", "::1"])),
        ),
        max_size=30,
    ),
    st.lists(st.integers(0, 30), max_size=4),
)
def test_rule_stats_merged_from_parts_equal_the_stats_of_the_whole(
    hits: list[tuple[str | None, str | None, str | None]], cuts: list[int]
) -> None:
    """Workers summarise their files apart; the merged summary is that of every hit at once."""
    whole = RuleStats()
    for hit in hits:
        whole.add(*hit)
    merged, start = RuleStats(), 0
    for cut in [*sorted(cuts), len(hits)]:
        part = RuleStats()
        for hit in hits[start:cut]:
            part.add(*hit)
        merged.merge(part)
        start = max(start, cut)
    assert merged == whole
    times = sorted(t for t, _, _ in hits if t)
    assert (whole.first_seen, whole.last_seen) == ((times[0], times[-1]) if times else (None, None))


@ENGINES
def test_hunt_reads_a_gzip_of_several_members(tmp_path: Path, engine: str) -> None:
    """``cat a.gz b.gz`` is one gzip file to every reader; its head is told past an empty first member."""
    body = "".join(json.dumps(_record(n)) + "\n" for n in range(3)).encode()
    path = tmp_path / "joined.jsonl.gz"
    path.write_bytes(gzip.compress(b"") + gzip.compress(body[:40]) + gzip.compress(body[40:]))
    result = hunt([str(_rule_file(tmp_path))], path, engine=engine)
    assert not result.errors, [str(e) for e in result.errors]
    assert _ids(result) == ["id-0", "id-1", "id-2"]


@requires_corpus
def test_hunt_engines_agree_on_every_hit_column() -> None:
    """The native engine reads a hit's columns off simdjson's lazy record (the principal the first of
    ``userIdentity.arn``/``principalId``/``type``): the same texts DuckDB's ``json_extract_string`` reads."""
    logs = sorted(CLOUDTRAIL.glob("*.jsonl"))
    paths = [str(p) for p in _rule_paths()]

    def columns(engine: str) -> Counter[tuple[Any, ...]]:
        found = hunt(paths, logs, engine=engine, keep_records=0)
        return Counter(
            tuple(v for k, v in h.to_dict().items() if k not in ("file", "record")) for h in found.hits
        )

    native, duckdb = columns("native"), columns("duckdb")
    assert native == duckdb and sum(native.values()) > 300
    assert any(row[9] for row in native)  # some principal is an ARN: the column is read, not all null
