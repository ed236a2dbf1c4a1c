"""``hunt --engine athena``: the boto3 flow against moto's Athena, with results the SQL really returns.

moto stores query executions but runs no SQL (``AthenaBackend.get_query_results``: "Queries are not
executed by Moto"). So the harness below computes each query's result the moment the hunt starts it: the very
SQL the runner sent goes through the offline proxy of the ``athena`` target (sqlglot Trino -> DuckDB over the
shared corpus loaded in the CloudTrail table's shape, ``engines/athena.py``), and its rows become that
execution's result set in moto's backend. The end-to-end test then checks that the hunt's hits are exactly the
(rule, record) pairs the reference evaluator decides.

What moto does not model, the harness adds, each from Athena's documented behaviour:

- ``GetQueryResults`` paging: moto returns every row at once and no ``NextToken``; the harness slices the
  rows by ``MaxResults`` (the header is the first row of the first page) and hands out ``NextToken``;
- ``Statistics``: moto reports zeros; the harness reports the bytes of the records in the partitions the
  query's partition predicate keeps (what Athena would read) and DuckDB's time as engine time;
- a ``FAILED`` query with its ``StateChangeReason`` (moto only ever succeeds): the harness fails the queries a
  test chooses.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sigma_lambda_layer.hunt import athena as athena_mod
from sigma_lambda_layer.hunt.athena import AthenaOptions, AthenaRunner, plan, window_sql
from sigma_lambda_layer.hunt.scan import CompiledRule
from tests.support.corpus import requires_corpus

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
sqlglot = pytest.importorskip("sqlglot")

from moto.athena.models import AthenaBackend, QueryResults  # noqa: E402
from moto.athena.responses import AthenaResponse  # noqa: E402

REGION = "us-east-1"

# --------------------------------------------------------------------------------------- the harness


def _partition_conjuncts(sql: str, column: str) -> list[str]:
    """The conjuncts of the inner query's WHERE that test the partition column (Trino text)."""
    tree = sqlglot.parse_one(sql, read="trino")
    out = []
    for select in tree.find_all(sqlglot.exp.Select):
        where = select.args.get("where")
        if where is None:
            continue
        for conjunct in where.this.flatten() if isinstance(where.this, sqlglot.exp.And) else [where.this]:
            if any(c.name == column for c in conjunct.find_all(sqlglot.exp.Column)):
                out.append(conjunct.sql(dialect="trino"))
    return out


@dataclass
class MotoAthena:
    """moto's Athena with each started query's result computed by ``run_sql`` (the proxy)."""

    #: SQL -> (column names, rows of text or None)
    run_sql: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]
    #: partition value -> bytes of its records (for DataScannedInBytes)
    partition_bytes: dict[str, int]
    partition_column: str = "timestamp"
    #: (query number from 0, SQL) -> a StateChangeReason to fail it with, or None
    fail: Callable[[int, str], str | None] = lambda n, sql: None
    #: (execution id, NextToken offset) -> an error message to answer GetQueryResults with, or None
    results_error: Callable[[str, int], str | None] = lambda exec_id, offset: None
    #: called with the number of GetQueryExecution calls so far, before each is answered
    on_poll: Callable[[int], None] = lambda count: None
    started: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    polls: int = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        harness = self
        start_original = AthenaBackend.start_query_execution
        execution_original = AthenaResponse.get_query_execution

        def start(backend: AthenaBackend, *args: Any, **kwargs: Any) -> str:
            exec_id = start_original(backend, *args, **kwargs)
            harness._computed(backend, exec_id, kwargs["query"])
            return exec_id

        def results(response: AthenaResponse) -> str:
            exec_id = response._get_param("QueryExecutionId")
            result = response.athena_backend.get_query_results(exec_id).to_dict()
            rows = result["ResultSet"]["Rows"]
            size = int(response._get_param("MaxResults") or 1000)
            offset = int(response._get_param("NextToken") or 0)
            message = harness.results_error(exec_id, offset)
            if message is not None:
                return response.error(message, 400)  # type: ignore[return-value]
            result["ResultSet"]["Rows"] = rows[offset : offset + size]
            if offset + size < len(rows):
                result["NextToken"] = str(offset + size)
            return json.dumps(result)

        def execution(response: AthenaResponse) -> str:
            harness.polls += 1
            harness.on_poll(harness.polls)
            out = json.loads(execution_original(response))
            query = out["QueryExecution"]
            found = response.athena_backend.executions[query["QueryExecutionId"]]
            query["Statistics"].update(getattr(found, "sigma_statistics", {}))
            if query["Status"]["State"] == "FAILED":
                reason = getattr(found, "sigma_reason", "failed")
                query["Status"]["StateChangeReason"] = reason
                query["Status"]["AthenaError"] = {"ErrorCategory": 2, "ErrorMessage": reason}
            return json.dumps(out)

        monkeypatch.setattr(AthenaBackend, "start_query_execution", start)
        monkeypatch.setattr(AthenaResponse, "get_query_results", results)
        monkeypatch.setattr(AthenaResponse, "get_query_execution", execution)

    def _computed(self, backend: AthenaBackend, exec_id: str, sql: str) -> None:
        number = len(self.started)
        self.started.append(sql)
        self.ids.append(exec_id)
        found = backend.executions[exec_id]
        reason = self.fail(number, sql)
        if reason is not None:
            found.status = "FAILED"
            found.sigma_reason = reason  # type: ignore[attr-defined]
            return
        begin = time.perf_counter()
        names, rows = self.run_sql(sql)
        engine_ms = int((time.perf_counter() - begin) * 1000)
        cells = [{"Data": [{"VarCharValue": n} for n in names]}]
        for row in rows:
            cells.append({"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]})
        info = [{"Name": n, "Label": n, "Type": "varchar"} for n in names]
        backend.query_results[exec_id] = QueryResults(rows=cells, column_info=info)
        found.sigma_statistics = {  # type: ignore[attr-defined]
            "DataScannedInBytes": self.scanned(sql),
            "EngineExecutionTimeInMillis": engine_ms,
        }

    def scanned(self, sql: str) -> int:
        """The bytes of the partitions the query's partition predicate keeps (all of them without one)."""
        import duckdb

        tests = _partition_conjuncts(sql, self.partition_column)
        if not tests:
            return sum(self.partition_bytes.values())
        where = " AND ".join(sqlglot.transpile(t, read="trino", write="duckdb")[0] for t in tests)
        values = ", ".join(f"('{p}')" for p in self.partition_bytes)
        kept = duckdb.execute(
            f'SELECT "{self.partition_column}" FROM (VALUES {values}) t("{self.partition_column}") '
            f"WHERE {where}"
        ).fetchall()
        return sum(self.partition_bytes[p] for (p,) in kept)


class FakeClock:
    """A clock the runner's sleeps advance: the flow runs without waiting, the delays are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with moto.mock_aws():
        yield boto3.client("athena", region_name=REGION)


# --------------------------------------------------------------------------------------- batching


def _rules(count: int, width: int) -> list[CompiledRule]:
    """Rules whose conditions are ``width`` eventName values long (valid Trino, distinct per rule)."""
    rules = []
    for i in range(count):
        values = ", ".join(f"'event{i}x{j}'" for j in range(width))
        rules.append(
            CompiledRule(f"rule {i}", None, f"rules/r{i}.yml", "high", f"lower(eventname) IN ({values})")
        )
    return rules


def test_plan_batches_rules_under_athenas_query_string_limit() -> None:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("athena").shape_for("QueryString")
    assert shape.metadata["max"] == athena_mod.QUERY_STRING_MAX
    rules = _rules(300, 150)  # about 2.7 kB each: about 810 kB in all
    options = AthenaOptions()
    batches, errors = plan(rules, options, datetime(2024, 5, 1, tzinfo=timezone.utc), None)
    assert not errors
    assert len(batches) > 2
    assert [i for b in batches for i in b.rules] == list(range(len(rules)))  # each rule once, in order
    for batch in batches:
        assert len(batch.sql.encode()) <= options.max_query_bytes < athena_mod.QUERY_STRING_MAX
        tree = sqlglot.parse_one(batch.sql, read="trino")  # every query is Trino
        ifs = [f for f in tree.find_all(sqlglot.exp.If)]
        assert [f.args["true"].name for f in ifs] == [f"r{i}" for i in batch.rules]
    # Full batches: the next rule would not have fitted in any batch but the last.
    for batch, following in itertools.pairwise(batches):
        share = len(f"IF(({rules[following.rules[0]].sql}), 'r{following.rules[0]}'), ".encode())
        assert len(batch.sql.encode()) + share > options.max_query_bytes


def test_a_rule_too_long_for_one_query_is_a_located_error() -> None:
    rules = [
        *_rules(2, 5),
        CompiledRule("huge", None, "rules/huge.yml", None, "eventname IN (" + "'x', " * 60_000 + "'y')"),
    ]
    batches, errors = plan(rules, AthenaOptions())
    assert [b.rules for b in batches] == [(0, 1)]
    assert len(errors) == 1 and str(errors[0]).startswith("rules/huge.yml: rule 'huge' is not run")
    assert "262144" in str(errors[0])


def test_options_reach_the_sql_quoted() -> None:
    hostile = AthenaOptions(database='db"; DROP TABLE x; --', table="t'able", partition_column='ts"x')
    since = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    [batch], _ = plan(_rules(1, 1), hostile, since, None)
    tree = sqlglot.parse_one(batch.sql, read="trino")
    tables = [t for t in tree.find_all(sqlglot.exp.Table)]
    assert [(t.db, t.name) for t in tables] == [(hostile.database, hostile.table)]
    assert {c.name for c in tree.find_all(sqlglot.exp.Column)} >= {'ts"x'}
    assert len(list(tree.find_all(sqlglot.exp.Select))) == 2  # no statement smuggled in


def test_window_prunes_partitions_through_the_day_after_until() -> None:
    since = datetime(2024, 4, 30, 22, 0, tzinfo=timezone.utc)
    until = datetime(2024, 5, 2, tzinfo=timezone.utc)
    text = window_sql(since, until, "timestamp")
    assert text is not None
    days = [f"2024/04/{d:02d}" for d in (28, 29, 30)] + [f"2024/05/{d:02d}" for d in (1, 2, 3, 4)]
    import duckdb

    where = sqlglot.transpile(
        " AND ".join(_partition_conjuncts(f"SELECT 1 FROM t WHERE {text}", "timestamp")),
        read="trino",
        write="duckdb",
    )[0]
    kept = duckdb.execute(
        f'SELECT "timestamp" FROM (VALUES {", ".join(f"({chr(39)}{d}{chr(39)})" for d in days)}) '
        f'v("timestamp") WHERE {where} ORDER BY 1'
    ).fetchall()
    # 2024/05/02 holds files CloudTrail delivered just after midnight, with events before --until.
    assert [k for (k,) in kept] == ["2024/04/30", "2024/05/01", "2024/05/02"]
    assert window_sql(None, None, "timestamp") is None
    unpruned = window_sql(since, None, None) or ""
    assert '"timestamp"' not in unpruned and "'2024-04-30T22:00:00.000Z'" in unpruned


# --------------------------------------------------------------------------------------- the runner on moto


#: Where the harness says each row's S3 object is (Athena's ``"$path"`` pseudo-column; not in the proxy table).
TRAIL_PREFIX = "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/"


@functools.cache
def _corpus_proxy() -> tuple[Callable[[str], Any], dict[str, int]]:
    from tests.support.corpus import cloudtrail_records

    return _proxy(tuple(json.dumps(r) for r in cloudtrail_records()))


def _proxy(texts: Sequence[str]) -> tuple[Callable[[str], Any], dict[str, int]]:
    """The offline Athena over some records (JSON texts): the ``athena`` target's proxy table (each record's
    row as the SerDe reads it, in the DDL's types, partitioned by day), with a ``"$path"`` per row. Returns
    (SQL -> column names and rows, partition value -> bytes of its records' JSON)."""
    from sigma_lambda_layer.engines.athena import load_records, to_duckdb

    proxy = load_records([json.loads(t) for t in texts])
    db = proxy.connection
    table = '"default"."cloudtrail_logs"'
    db.execute(f'ALTER TABLE {table} ADD COLUMN "$path" VARCHAR')
    db.execute(
        f"""UPDATE {table} SET "$path" = '{TRAIL_PREFIX}' || coalesce("timestamp", 'none') || '/' || _id || '.json.gz'"""
    )
    sizes: Counter[str] = Counter()
    for index, partition in db.execute(f'SELECT _id, "timestamp" FROM {table}').fetchall():
        sizes[partition or ""] += len(texts[index].encode())
    lock = threading.Lock()

    def run(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with lock:
            cursor = db.execute(to_duckdb(sql))
            return [d[0] for d in cursor.description], cursor.fetchall()

    return run, dict(sizes)


@pytest.fixture
def corpus() -> list[dict[str, Any]]:
    from tests.support.corpus import CLOUDTRAIL, cloudtrail_records

    if not CLOUDTRAIL.is_dir():
        pytest.skip("../shared/corpus (CloudTrail records) is not beside the project; CI provides it")
    return cloudtrail_records()


@pytest.fixture
def moto_athena(aws: Any, corpus: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> MotoAthena:
    run_sql, sizes = _corpus_proxy()
    harness = MotoAthena(run_sql, sizes)
    harness.install(monkeypatch)
    return harness


def _manual_progress(times: int) -> Iterator[None]:
    from moto.moto_api import state_manager

    state_manager.set_transition(
        model_name="athena::execution", transition={"progression": "manual", "times": times}
    )
    try:
        yield
    finally:
        state_manager.unset_transition("athena::execution")


@pytest.fixture
def two_polls_per_state() -> Iterator[None]:
    """Each query is QUEUED for two polls, RUNNING for two, then SUCCEEDED (as a real one moves on)."""
    yield from _manual_progress(2)


@pytest.fixture
def never_ends() -> Iterator[None]:
    yield from _manual_progress(10**6)


EVERY_RECORD = CompiledRule("every record", None, "rules/all.yml", "low", "eventname IS NOT NULL")
CONSOLE = CompiledRule(
    "console login", None, "rules/console.yml", "high", "lower(eventname) = 'consolelogin'"
)


def test_runner_pages_results_polls_with_backoff_and_reports_statistics(
    aws: Any,
    moto_athena: MotoAthena,
    corpus: list[dict[str, Any]],
    two_polls_per_state: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(athena_mod, "PAGE_SIZE", 100)
    clock = FakeClock()
    options = AthenaOptions(output_location="s3://results/hunt/", workgroup="hunters")
    aws.create_work_group(Name="hunters", Configuration={})
    progress: list[tuple[int, ...]] = []
    result = athena_mod.hunt_compiled(
        [EVERY_RECORD, CONSOLE],
        [],
        options=options,
        client=aws,
        sleep=clock.sleep,
        clock=clock,
        progress=lambda *done: progress.append(done),
    )
    assert result.ok, [str(e) for e in result.errors]
    [sql] = moto_athena.started
    names, rows = moto_athena.run_sql(sql)
    [query] = result.athena.queries
    # Every page read: one hit per (row, rule tag) the SQL returns, 100 rows a page with the header first.
    tags = Counter(t for row in rows for t in dict(zip(names, row, strict=True))["sigma_rules"].split(","))
    assert Counter(h.rule_title for h in result.hits) == {
        "every record": tags["r0"],
        "console login": tags["r1"],
    }
    assert tags["r0"] > 2 * athena_mod.PAGE_SIZE
    assert query.rows == len(rows) and query.pages == (len(rows) + 1 + 99) // 100
    assert query.state == "SUCCEEDED" and query.execution_id == moto_athena.ids[0]
    assert query.bytes_scanned == moto_athena.scanned(sql) == sum(moto_athena.partition_bytes.values()) > 0
    assert result.athena.bytes_scanned == query.bytes_scanned
    assert progress == [(1, 1, query.bytes_scanned, 0)]
    # No window: the whole table, and the summary says what that costs.
    assert '"timestamp"' not in sql and "eventtime)) >=" not in sql
    assert any(n.startswith("warning: no --since/--until") and "USD per TB" in n for n in result.notes)
    assert result.athena.headline() in result.summary_lines()
    # Polled four times before SUCCEEDED, each delay 1.5 times the one before.
    assert clock.sleeps == pytest.approx([0.5, 0.75, 1.125, 1.6875])
    # What the runner asked of Athena.
    execution = aws.get_query_execution(QueryExecutionId=query.execution_id)["QueryExecution"]
    assert execution["QueryExecutionContext"] == {"Database": "default", "Catalog": "AwsDataCatalog"}
    assert execution["WorkGroup"] == "hunters"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://results/hunt/")
    # The hits' records are the corpus' console logins (decided here in Python, apart from any SQL).
    expected = Counter(
        (r.get("eventID"), r.get("eventTime"))
        for r in corpus
        if str(r.get("eventName")).lower() == "consolelogin"
    )
    assert (
        Counter((h.event_id, h.event_time) for h in result.hits if h.rule_title == "console login")
        == expected
    )


def test_a_failed_query_is_a_located_error_and_the_other_batches_run(
    aws: Any, moto_athena: MotoAthena, corpus: list[dict[str, Any]]
) -> None:
    reason = "COLUMN_NOT_FOUND: line 1:42: Column 'tlsdetails' cannot be resolved"
    moto_athena.fail = lambda number, sql: reason if number == 1 else None
    rules = [CONSOLE, *(_rules(6, 40)), EVERY_RECORD]
    # Room for two rules a query: several batches, the second fails.
    empty = len(athena_mod.batch_sql([], AthenaOptions(), None).encode())
    widest = max(len(f"IF(({r.sql}), 'r{i}'), ".encode()) for i, r in enumerate(rules))
    options = AthenaOptions(max_query_bytes=empty + 2 * widest)
    clock = FakeClock()
    result = athena_mod.hunt_compiled(rules, [], options=options, client=aws, sleep=clock.sleep, clock=clock)
    queries = result.athena.queries
    assert len(queries) >= 3 and [q.state for q in queries].count("FAILED") == 1
    failed = queries[1]
    assert failed.state == "FAILED" and failed.reason == reason
    [error] = result.rule_errors
    first = rules[failed.rules[0]]
    assert str(error).startswith(
        f"{first.path}: Athena query {failed.execution_id} (batch 2 of {len(queries)}) FAILED"
    )
    assert reason in str(error)
    assert all(repr(rules[i].title) in str(error) for i in failed.rules)
    assert not result.ok
    # The other batches ran: console logins (batch 1) and every record (the last batch) are all there.
    hit_rules = Counter(h.rule_title for h in result.hits)
    assert hit_rules["console login"] == sum(
        1 for r in corpus if str(r.get("eventName")).lower() == "consolelogin"
    )
    assert hit_rules["every record"] == sum(1 for r in corpus if r.get("eventName") is not None)
    assert not any(rules[i].title in hit_rules for i in failed.rules)


def test_an_interrupt_stops_every_running_query(aws: Any, moto_athena: MotoAthena, never_ends: None) -> None:
    rules = _rules(5, 40)
    empty = len(athena_mod.batch_sql([], AthenaOptions(), None).encode())
    widest = max(len(f"IF(({r.sql}), 'r{i}'), ".encode()) for i, r in enumerate(rules))
    options = AthenaOptions(max_running=3, max_query_bytes=empty + widest)
    batches, _ = plan(rules, options)
    assert len(batches) == 5
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:
            raise KeyboardInterrupt

    runner = AthenaRunner(aws, options, sleep=sleep, clock=FakeClock())
    with pytest.raises(KeyboardInterrupt):
        runner.run(batches, lambda stats, rows: None, lambda stats, reason: None)
    assert len(moto_athena.ids) == 3  # at most max_running were started, and no more after the interrupt
    states = [
        aws.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Status"]["State"]
        for i in moto_athena.ids
    ]
    assert states == ["CANCELLED"] * 3
    assert not runner.running


def test_a_refused_start_is_an_error_for_its_batch(aws: Any, moto_athena: MotoAthena) -> None:
    options = AthenaOptions(workgroup="no-such-workgroup")
    clock = FakeClock()
    result = athena_mod.hunt_compiled(
        [CONSOLE], [], options=options, client=aws, sleep=clock.sleep, clock=clock
    )
    [error] = result.rule_errors
    assert "NOT STARTED" in str(error) and "WorkGroup does not exist" in str(error)
    assert str(error).startswith("rules/console.yml: ")


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from sigma_lambda_layer.errors import UsageError

    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(UsageError) as caught:
        athena_mod.athena_client(AthenaOptions(region=REGION))
    assert "pip install" in (caught.value.hint or "") and "[athena]" in (caught.value.hint or "")


# --------------------------------------------------------------------------------------- end to end


def _in_window(record: dict[str, Any], since: datetime, until: datetime) -> bool:
    text = record.get("eventTime")
    if not isinstance(text, str):
        return False
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return since <= moment < until


def _principal(record: dict[str, Any]) -> Any:
    """The DuckDB hunt's principal: ``coalesce(userIdentity.arn, .principalId, .type)``."""
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, dict) else {}
    return next((identity[k] for k in ("arn", "principalId", "type") if identity.get(k) is not None), None)


def _hit_key(title: str, event_id: Any, event_time: Any, event_name: Any) -> tuple[str, ...]:
    return (title, str(event_id), str(event_time), str(event_name))


@requires_corpus
def test_hunt_engine_athena_end_to_end_equals_the_evaluator(
    aws: Any,
    moto_athena: MotoAthena,
    corpus: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner
    from sigma.collection import SigmaCollection

    from sigma_lambda_layer.cli import main
    from sigma_lambda_layer.evaluator import RuleEvaluator
    from tests.support.corpus import AWS_RULES, OUR_RULES

    monkeypatch.setattr(athena_mod, "POLL_FIRST", 0.01)
    aws.create_work_group(Name="hunters", Configuration={})
    since, until = datetime(2023, 7, 1, tzinfo=timezone.utc), datetime(2024, 9, 1, tzinfo=timezone.utc)
    report, output = tmp_path / "hunt.html", tmp_path / "hits.jsonl"
    args = [
        "hunt", str(AWS_RULES), str(OUR_RULES), "--engine", "athena", "--region", REGION,
        "--workgroup", "hunters", "--output-location", "s3://athena-results/hunt/", "--database", "default",
        "--table", "cloudtrail_logs", "--since", "2023-07-01", "--until", "2024-09-01",
        "--report", str(report), "--output", str(output), "--json",
    ]  # fmt: skip
    done = CliRunner().invoke(main, args, catch_exceptions=False)
    summary = json.loads(done.stdout)
    refused = {Path(e["location"].split(":")[0]).resolve() for e in summary["errors"]}
    assert done.exit_code == (1 if refused else 0), done.stderr
    # Every refusal is the athena target's own (located at a rule file), not a query that failed.
    failed = [e["message"] for e in summary["errors"] if e["type"] == "AthenaQueryError"]
    assert not failed, failed

    # The reference: the evaluator, on the records in the window, for every rule that compiled.
    expected: Counter[tuple[str, ...]] = Counter()
    ran = 0
    for path in [*sorted(AWS_RULES.glob("*.yml")), *sorted(OUR_RULES.glob("*.yml"))]:
        if path.name.endswith(".tests.yml") or path.resolve() in refused:
            continue
        for rule in SigmaCollection.from_yaml(path.read_text(encoding="utf-8")).rules:
            ran += 1
            evaluator = RuleEvaluator(rule)  # type: ignore[arg-type]
            for record in corpus:
                if _in_window(record, since, until) and evaluator.matches(record):
                    expected[
                        _hit_key(
                            str(rule.title),
                            record.get("eventID"),
                            record.get("eventTime"),
                            record.get("eventName"),
                        )
                    ] += 1
    assert ran > 50 and sum(expected.values()) > 20
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    found = Counter(_hit_key(h["rule_title"], h["event_id"], h["event_time"], h["event_name"]) for h in lines)
    missed, extra = expected - found, found - expected
    assert not missed and not extra, f"missed: {sorted(missed)[:5]}; extra: {sorted(extra)[:5]}"

    # The batches: fewer queries than rules, each windowed on the partition column, pruning the corpus.
    athena = summary["athena"]
    assert 1 <= len(athena["queries"]) < ran and len(moto_athena.started) == len(athena["queries"])
    assert all(
        "\"timestamp\" >= '2023/07/01'" in sql and "\"timestamp\" <= '2024/09/01'" in sql
        for sql in moto_athena.started
    )
    total = sum(moto_athena.partition_bytes.values())
    assert (
        0
        < athena["bytes_scanned"]
        == sum(moto_athena.scanned(sql) for sql in moto_athena.started)
        < total * len(moto_athena.started)
    )
    assert all(q["state"] == "SUCCEEDED" and q["execution_id"] in moto_athena.ids for q in athena["queries"])
    assert summary["hits"] == len(lines) == sum(r["hits"] for r in summary["rules"])
    # Each hit: its record rebuilt from the row (CloudTrail's names), its S3 object, the hit's fields.
    for hit in lines:
        assert hit["file"].startswith(TRAIL_PREFIX), hit["file"]
        assert any(
            (r.get("eventID"), r.get("eventTime"), r.get("eventName"))
            == (hit["event_id"], hit["event_time"], hit["record"]["eventName"])
            and (r.get("awsRegion"), r.get("sourceIPAddress")) == (hit["aws_region"], hit["source_ip"])
            and r.get("requestParameters") == hit["record"].get("requestParameters")
            and _principal(r) == hit["principal"]
            for r in corpus
        ), hit
    # The terminal summary is not printed with --json; the report names the queries and the bytes scanned.
    page = report.read_text()
    assert "Athena queries" in page and f"{len(athena['queries'])} Athena quer" in page
    assert all(q["execution_id"] in page for q in athena["queries"])


def _cli(*args: str) -> Any:
    from click.testing import CliRunner

    from sigma_lambda_layer.cli import main

    return CliRunner().invoke(main, ["hunt", *args], catch_exceptions=False)


def test_cli_sigterm_stops_every_running_query_and_exits_130(
    aws: Any, moto_athena: MotoAthena, never_ends: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    monkeypatch.setattr(athena_mod, "POLL_FIRST", 0.01)
    rule = tmp_path / "rule.yml"
    rule.write_text(
        "title: console login\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection: {selection: {eventName: ConsoleLogin}, condition: selection}\n",
        encoding="utf-8",
    )

    def terminate(count: int) -> None:
        if count == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    moto_athena.on_poll = terminate
    before = signal.getsignal(signal.SIGTERM)
    done = _cli(str(rule), "--engine", "athena", "--region", REGION, "--since", "2024-01-01")
    assert done.exit_code == 130, done.stderr
    assert "every running Athena query was stopped" in done.stderr
    [execution_id] = moto_athena.ids
    state = aws.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]["State"]
    assert state == "CANCELLED"
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the hunt's only while it runs


def test_cli_exit_codes_of_engine_options(aws: Any, tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(
        "title: t\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection: {selection: {eventName: x}, condition: selection}\n",
        encoding="utf-8",
    )
    log = tmp_path / "l.jsonl"
    log.write_text("{}\n", encoding="utf-8")
    assert _cli(str(rule), "--logs", str(log), "--workgroup", "w").exit_code == 2  # an Athena option, duckdb
    assert _cli(str(rule), "--engine", "athena", "--logs", str(log)).exit_code == 2
    assert _cli(str(rule), "--engine", "athena", "--region", REGION, "--threads", "2").exit_code == 2
    bad = _cli(str(rule), "--engine", "athena", "--region", REGION, "--output-location", "bucket/x")
    assert bad.exit_code == 2 and "not an S3 URI" in bad.stderr
    assert _cli(str(rule)).exit_code == 2  # duckdb needs --logs


def test_cli_a_failed_query_exits_1_with_its_reason(
    aws: Any, moto_athena: MotoAthena, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(athena_mod, "POLL_FIRST", 0.01)
    reason = "HIVE_BAD_DATA: Error parsing field value for field 15"
    moto_athena.fail = lambda number, sql: reason
    rule = tmp_path / "rule.yml"
    rule.write_text(
        "title: console login\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection: {selection: {eventName: ConsoleLogin}, condition: selection}\n",
        encoding="utf-8",
    )
    done = _cli(str(rule), "--engine", "athena", "--region", REGION, "--since", "2024-01-01", "--fail-on-hit")
    assert done.exit_code == 1
    assert f"error: {rule}: Athena query {moto_athena.ids[0]} (batch 1 of 1) FAILED: {reason}" in done.stderr


@requires_corpus
def test_each_result_row_becomes_the_record_the_table_holds(corpus: list[dict[str, Any]]) -> None:
    """Every corpus record, through the proxy's table and the hunt's SELECT list, back to a record: the same
    as the target's own ``as_record`` of the record's row; also when a struct comes back as a JSON array
    (Presto's and Trino's legacy ROW-to-JSON cast)."""
    from sigma_lambda_layer.fields.athena import CLOUDTRAIL, as_record, athena_row

    run_sql, _ = _corpus_proxy()
    sql = athena_mod.batch_sql([(0, CompiledRule("all", None, None, None, "true"))], AthenaOptions(), None)
    names, rows = run_sql(sql)
    assert len(rows) == len(corpus)
    nodes = {c.name: c for c in CLOUDTRAIL.columns}

    def legacy(node: Any, value: Any) -> Any:
        if node.kind == "struct" and isinstance(value, dict):
            return [legacy(m, value.get(m.name)) for m in node.members]
        if node.kind == "array" and isinstance(value, list):
            return [legacy(node.element, v) for v in value]
        return value

    by_path = {row[names.index("sigma_file")]: dict(zip(names, row, strict=True)) for row in rows}
    for index, record in enumerate(corpus):
        [row] = [r for p, r in by_path.items() if p.endswith(f"/{index}.json.gz")]
        expected = as_record(athena_row(record))
        assert athena_mod.record_from_row(row) == expected, index
        old = {
            k: json.dumps(legacy(nodes[k], json.loads(v)))
            if k in nodes and v and nodes[k].kind == "struct"
            else v
            for k, v in row.items()
        }
        assert athena_mod.record_from_row(old) == expected, index


def test_results_that_cannot_be_read_are_an_error_and_the_hits_before_are_kept(
    aws: Any, moto_athena: MotoAthena, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(athena_mod, "PAGE_SIZE", 100)
    moto_athena.results_error = lambda exec_id, offset: "Query has expired" if offset >= 200 else None
    clock = FakeClock()
    result = athena_mod.hunt_compiled(
        [EVERY_RECORD], [], options=AthenaOptions(), client=aws, sleep=clock.sleep, clock=clock
    )
    [query] = result.athena.queries
    assert query.state == "RESULTS UNREAD" and query.pages == 2  # the third page was refused
    assert len(result.hits) == query.rows == 199  # two pages of 100 rows, the header first
    [error] = result.rule_errors
    assert "GetQueryResults after 199 row(s)" in str(error) and "Query has expired" in str(error)
