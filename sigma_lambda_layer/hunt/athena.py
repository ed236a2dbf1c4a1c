"""``hunt --engine athena``: the hunt's rules run as Amazon Athena (Trino) queries over the CloudTrail table.

The rules are compiled by the ``athena`` target (format ``condition``: one Trino boolean expression per rule,
over the columns of the CloudTrail table that AWS documents). Many rules share one query, so a hunt over an
organisation trail scans the data once per batch rather than once per rule::

    SELECT * FROM (
      SELECT "$path" AS sigma_file, <record columns>,
             filter(ARRAY[IF((<rule 0>), 'r0'), IF((<rule 1>), 'r1')], x -> x IS NOT NULL) AS sigma_rules
      FROM "db"."table" WHERE <window on the partition column and on eventtime>)
    WHERE cardinality(sigma_rules) > 0

Each rule's condition appears once (in its ``IF``), so a batch holds twice as many rules as ``WHERE c1 OR c2``
would under Athena's query length limit; the window stays in the inner ``WHERE``, where Athena prunes the
partitions (partition projection on ``timestamp``, ``yyyy/MM/dd``). A row comes back with the tags of the rules
it matched, and becomes one :class:`~sigma_lambda_layer.hunt.Hit` per tag, the same records as the DuckDB hunt
gives (its CloudTrail record rebuilt from the row: the DDL's columns under CloudTrail's names, the JSON-string
columns parsed).

The runner (:class:`AthenaRunner`) is plain boto3: ``StartQueryExecution`` with the workgroup, the
database/catalog context and the output location; ``GetQueryExecution`` polled with a growing delay until the
query ends; ``GetQueryResults`` paged by ``NextToken`` (the first row of the first page is the header); and
``StopQueryExecution`` for every query still running when the hunt is interrupted (Ctrl-C, or SIGTERM through
the CLI). A ``FAILED`` query is a located error naming its rules; the other batches still run. Every query's
bytes scanned (what Athena bills) and engine time are reported.

Nothing from the command line reaches the SQL unquoted: identifiers are double-quoted (quotes doubled), the
window's values are formatted from parsed datetimes, and rule text reaches the SQL only through the backend.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sigma_lambda_layer.errors import Location, SigmaLambdaError, UsageError
from sigma_lambda_layer.hunt.results import Hit, HuntResult
from sigma_lambda_layer.hunt.scan import CompiledRule
from sigma_lambda_layer.registry import HUNT_ATHENA_TARGET

#: boto3's name of the Athena API (not a target id).
_BOTO3_SERVICE = "athena"

#: ``StartQueryExecution``'s ``QueryString`` maximum length, from botocore's Athena service model
#: (``botocore/data/athena/2017-05-18/service-2.json``, shape ``QueryString``: min 1, max 262144); Athena's
#: quotas page gives the same number in bytes. A batch is kept under it with a margin, counted in UTF-8 bytes.
QUERY_STRING_MAX = 262_144
QUERY_MARGIN = 16_384
#: ``GetQueryResults``' ``MaxResults`` maximum (botocore model, shape ``MaxQueryResults``).
PAGE_SIZE = 1000
#: Athena's on-demand price in most regions (aws.amazon.com/athena/pricing: USD 5 per TB scanned, at least
#: 10 MB per query), for the cost line of the summary only.
USD_PER_TB = 5.0
MIN_BILLED_BYTES = 10 * 1000**2
#: Poll delays: the first poll after this, each next one 1.5 times later, never more than the cap.
POLL_FIRST, POLL_FACTOR, POLL_MAX = 0.5, 1.5, 5.0
_ENDED = ("SUCCEEDED", "FAILED", "CANCELLED")


class AthenaQueryError(SigmaLambdaError):
    """An Athena query of the hunt did not succeed (FAILED, CANCELLED, or refused when started); it names
    the rules of its batch, which were not run; the other batches were."""


# --------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Column:
    """A column of the table as the hunt selects it: ``complex`` ones (structs, arrays, maps) as their JSON
    text (``json_format(CAST(c AS JSON))``), the others as they are."""

    name: str
    complex: bool = False


@functools.cache
def table_columns(schema_id: str = "cloudtrail") -> tuple[Column, ...]:
    """The record columns of a table schema (:mod:`sigma_lambda_layer.fields.athena`, the ``athena`` target's
    own table: what ``convert --format ddl`` creates)."""
    from sigma_lambda_layer.fields.athena import schema

    return tuple(Column(n.name, n.kind in ("struct", "array", "map")) for n in schema(schema_id).columns)


def quote_identifier(name: str) -> str:
    """A Trino quoted identifier: double quotes, a quote inside doubled (a table name is user input)."""
    if not name or "\x00" in name:
        raise UsageError(f"{name!r} is not a usable Athena identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_string(text: str) -> str:
    """A Trino string literal: single quotes, a quote inside doubled (backslashes are literal in Trino)."""
    if "\x00" in text:
        raise UsageError("a NUL character cannot appear in an Athena string literal")
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class AthenaOptions:
    """Where and how the hunt's queries run. Credentials and, unless given, the region come from boto3's
    usual chain (environment, ``~/.aws/config`` and ``credentials``, the instance or task role)."""

    database: str = "default"
    table: str = "cloudtrail_logs"
    catalog: str = "AwsDataCatalog"
    workgroup: str | None = None
    #: ``s3://bucket/prefix/`` for the results; None uses the workgroup's
    output_location: str | None = None
    region: str | None = None
    profile: str | None = None
    #: the partition column the window prunes (partition projection, ``yyyy/MM/dd``); None: no pruning
    partition_column: str | None = "timestamp"
    #: queries running at once (Athena's quota of active DML queries, queued ones included, varies by Region)
    max_running: int = 4
    #: a batch's SQL stays under this many UTF-8 bytes
    max_query_bytes: int = QUERY_STRING_MAX - QUERY_MARGIN

    def __post_init__(self) -> None:
        if self.output_location is not None and not self.output_location.startswith("s3://"):
            raise UsageError(
                f"--output-location {self.output_location!r} is not an S3 URI",
                hint="e.g. s3://my-athena-results/sigma-lambda/",
            )
        if self.max_running < 1:
            raise UsageError("at least one Athena query must be allowed to run")

    @property
    def qualified_table(self) -> str:
        return f"{quote_identifier(self.database)}.{quote_identifier(self.table)}"


# --------------------------------------------------------------------------------------- rules and batches


#: A rule ready for Athena: ``sql`` is its Trino condition (the ``athena`` target's ``condition`` format).
AthenaRule = CompiledRule


def compile_athena_rules(rules: Any) -> tuple[list[AthenaRule], list[SigmaLambdaError]]:
    """The rules through the ``athena`` target (format ``hunt``: each condition, over the table's columns, and
    the rule's level); failures are returned, located."""
    from sigma_lambda_layer.api import convert

    compiled: list[AthenaRule] = []
    errors: list[SigmaLambdaError] = []
    for result in convert(rules, target=HUNT_ATHENA_TARGET, format="hunt", collect_errors=True):
        if result.error is not None:
            errors.append(result.error)
            continue
        parts = result.output if isinstance(result.output, list) else [result.output]
        sql = " OR ".join(f"({_condition_text(p)})" for p in parts)
        level = parts[0].get("level") if isinstance(parts[0], dict) else None
        compiled.append(
            AthenaRule(result.title or result.id or "untitled", result.id, result.path, level, sql)
        )
    return compiled, errors


def _condition_text(part: Any) -> str:
    return str(part["condition"]) if isinstance(part, dict) else str(part)


def window_sql(since: datetime | None, until: datetime | None, partition_column: str | None) -> str | None:
    """The ``[since, until)`` test: on the partition column (so Athena reads only those days' objects) AND on
    ``eventtime`` (the exact bound). CloudTrail files an object under the day it delivers it, minutes after
    its events, so the partition range runs to the day after ``until``'s. None without a window."""
    tests = []
    if partition_column and (since is not None or until is not None):
        from sigma_lambda_layer.backends.athena import partition_window

        quote_identifier(partition_column)  # a bad name is a usage error, before the backend sees it
        first = since.astimezone(timezone.utc).date() if since is not None else None
        last = None
        if until is not None:  # the day of the last instant before until, and the day after it
            last = (until.astimezone(timezone.utc) - timedelta(microseconds=1)).date() + timedelta(days=1)
        tests.append(partition_window(first, last, partition_column))
    # try(): an eventtime that is not ISO 8601 is outside any window, it does not fail the query.
    moment = "try(from_iso8601_timestamp(eventtime))"
    if since is not None:
        tests.append(f"{moment} >= from_iso8601_timestamp({quote_string(_iso(since))})")
    if until is not None:
        tests.append(f"{moment} < from_iso8601_timestamp({quote_string(_iso(until, up=True))})")
    return " AND ".join(tests) or None


def _iso(moment: datetime, *, up: bool = False) -> str:
    """UTC ISO 8601 with milliseconds (``from_iso8601_timestamp`` reads them; CloudTrail's times are whole
    seconds). ``up`` rounds a sub-millisecond part up, so an exclusive ``until`` keeps what it must."""
    moment = moment.astimezone(timezone.utc)
    if up and moment.microsecond % 1000:
        moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _select_list(columns: Sequence[Column]) -> str:
    """The inner query's columns: the S3 object (``"$path"``, Athena's pseudo-column for the source file),
    each record column as text (a struct or an array as its JSON)."""
    parts = ['"$path" AS sigma_file']
    for column in columns:
        name = quote_identifier(column.name)
        parts.append(f"json_format(CAST({name} AS JSON)) AS {name}" if column.complex else name)
    return ", ".join(parts)


@dataclass(frozen=True)
class Batch:
    """One query: the rules it runs (indexes into the hunt's rules) and its SQL."""

    number: int
    rules: tuple[int, ...]
    sql: str


def tag(index: int) -> str:
    """The tag a query returns for the hunt's rule ``index`` (short: it is repeated in every hit row)."""
    return f"r{index}"


def batch_sql(
    rules: Sequence[tuple[int, AthenaRule]],
    options: AthenaOptions,
    window: str | None,
    columns: Sequence[Column] | None = None,
) -> str:
    """One query for ``rules`` (each with its index in the hunt). The outer query returns every column as
    text: the matched tags joined by commas (``array_join``), not Athena's display form of an array."""
    tags = ", ".join(f"IF(({rule.sql}), {quote_string(tag(index))})" for index, rule in rules)
    where = f" WHERE {window}" if window else ""
    columns = table_columns() if columns is None else columns
    outer = ", ".join(["sigma_file", *(quote_identifier(c.name) for c in columns)])
    return (
        f"SELECT {outer}, array_join(sigma_matched, ',') AS sigma_rules FROM (SELECT {_select_list(columns)}, "
        f"filter(ARRAY[{tags}], x -> x IS NOT NULL) AS sigma_matched "
        f"FROM {options.qualified_table}{where}) WHERE cardinality(sigma_matched) > 0"
    )


def plan(
    rules: Sequence[AthenaRule],
    options: AthenaOptions,
    since: datetime | None = None,
    until: datetime | None = None,
    columns: Sequence[Column] | None = None,
) -> tuple[list[Batch], list[AthenaQueryError]]:
    """The hunt's queries: the rules in order, as many to a query as fit under ``options.max_query_bytes``.
    A rule too long for a query of its own is returned as an error (it cannot run on Athena)."""
    window = window_sql(since, until, options.partition_column)
    empty = len(batch_sql([], options, window, columns).encode())
    batches: list[Batch] = []
    errors: list[AthenaQueryError] = []
    current: list[tuple[int, AthenaRule]] = []
    size = empty

    def close() -> None:
        nonlocal current, size
        if current:
            sql = batch_sql(current, options, window, columns)
            batches.append(Batch(len(batches) + 1, tuple(i for i, _ in current), sql))
        current, size = [], empty

    for index, rule in enumerate(rules):
        # The rule's share of the query: its IF(...) and the ", " before it.
        share = len(f"IF(({rule.sql}), {quote_string(tag(index))}), ".encode())
        if empty + share > options.max_query_bytes:
            errors.append(
                AthenaQueryError(
                    f"rule {rule.title!r} is not run: its query would be {empty + share} bytes, over Athena's "
                    f"{QUERY_STRING_MAX}-byte query string limit (less a {QUERY_MARGIN}-byte margin)",
                    location=Location(rule.path),
                    hint="split the rule's selections into several rules",
                )
            )
            continue
        if current and size + share > options.max_query_bytes:
            close()
        current.append((index, rule))
        size += share
    close()
    return batches, errors


# --------------------------------------------------------------------------------------- rows to hits


def record_from_row(row: dict[str, str | None], schema_id: str = "cloudtrail") -> dict[str, Any]:
    """The CloudTrail record a result row holds: the row's values as the table types them, then
    :func:`sigma_lambda_layer.fields.athena.as_record` (every column and struct member under CloudTrail's
    spelling, the JSON-text columns parsed, NULLs left out). A JSON-text column that does not parse is kept
    as its text."""
    from sigma_lambda_layer.fields.athena import as_record, schema

    table = schema(schema_id)
    values: dict[str, Any] = {}
    for node in table.columns:
        text = row.get(node.name)
        if text is None:
            continue
        if node.kind == "json":
            values[node.name] = text if _parses(text) else json.dumps(text)
        elif node.kind in ("struct", "array", "map"):
            try:
                values[node.name] = _named(node, json.loads(text))
            except ValueError:
                continue  # not Athena's JSON of the value: nothing to rebuild it from
        else:
            values[node.name] = text
    return as_record(values, table)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _named(node: Any, value: Any) -> Any:
    """A struct's JSON as an object. Trino casts a ROW to a JSON object of its field names; older Presto (and
    Trino's ``deprecated.legacy-row-to-json-cast``) to an array in field order, named here by the schema."""
    if value is None:
        return None
    if node.kind == "struct":
        if isinstance(value, list):
            value = dict(zip((m.name for m in node.members), value, strict=False))
        if not isinstance(value, dict):
            return None
        return {m.name: _named(m, value.get(m.name)) for m in node.members}
    if node.kind == "array" and isinstance(value, list):
        return [_named(node.element, v) for v in value]
    if node.kind == "map" and isinstance(value, dict):
        return {k: _named(node.element, v) for k, v in value.items()}
    return value


def hit_values(record: dict[str, Any]) -> dict[str, Any]:
    """The hit's columns (as :data:`sigma_lambda_layer.hunt.scan.HIT_COLUMNS` reads them from a record)."""
    found = record.get("userIdentity")
    identity: dict[str, Any] = found if isinstance(found, dict) else {}

    def text(value: Any) -> str | None:
        return None if value is None else value if isinstance(value, str) else json.dumps(value)

    # coalesce(arn, principalId, type), as the DuckDB hunt reads it (the struct's keys are lower case)
    principal = next(
        (identity[k] for k in ("arn", "principalid", "principalId", "type") if identity.get(k) is not None),
        None,
    )
    return {
        "event_time": text(record.get("eventTime")),
        "event_source": text(record.get("eventSource")),
        "event_name": text(record.get("eventName")),
        "aws_region": text(record.get("awsRegion")),
        "principal": text(principal),
        "source_ip": text(record.get("sourceIPAddress")),
        "event_id": text(record.get("eventID")),
        "record": json.dumps(record, ensure_ascii=False),
    }


# --------------------------------------------------------------------------------------- the runner


@dataclass
class QueryStats:
    """One query of the hunt: what it ran and what Athena reported."""

    batch: int
    rules: tuple[int, ...]
    execution_id: str | None = None
    state: str = "PENDING"
    reason: str | None = None
    bytes_scanned: int = 0
    engine_ms: int = 0
    rows: int = 0
    pages: int = 0
    query_bytes: int = 0

    def to_dict(self, rules: Sequence[AthenaRule] = ()) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "execution_id": self.execution_id,
            "state": self.state,
            "reason": self.reason,
            "rules": [rules[i].title if i < len(rules) else i for i in self.rules],
            "bytes_scanned": self.bytes_scanned,
            "engine_ms": self.engine_ms,
            "rows": self.rows,
            "pages": self.pages,
            "query_bytes": self.query_bytes,
        }


@dataclass
class AthenaRun:
    """The Athena side of a hunt result: where it ran, each query, the totals."""

    options: AthenaOptions
    queries: list[QueryStats] = field(default_factory=list)
    windowed: bool = True

    @property
    def bytes_scanned(self) -> int:
        return sum(q.bytes_scanned for q in self.queries)

    @property
    def engine_ms(self) -> int:
        return sum(q.engine_ms for q in self.queries)

    @property
    def cost_usd(self) -> float:
        """The on-demand cost estimate: 5 USD per TB, each query billed at least 10 MB (pricing page)."""
        billed = sum(max(q.bytes_scanned, MIN_BILLED_BYTES) for q in self.queries if q.bytes_scanned)
        return billed / 1e12 * USD_PER_TB

    def headline(self) -> str:
        return (
            f"{len(self.queries)} Athena quer{'y' if len(self.queries) == 1 else 'ies'} on "
            f"{self.options.database}.{self.options.table}: {_size(self.bytes_scanned)} scanned, "
            f"engine time {self.engine_ms / 1000:.1f} s (about {self.cost_usd:.4f} USD on demand)"
        )

    def lines(self) -> list[str]:
        out = []
        for q in self.queries:
            out.append(
                f"  query {q.batch} ({len(q.rules)} rule(s)) {q.execution_id or '-'}: {q.state}, "
                f"{_size(q.bytes_scanned)} scanned, {q.engine_ms / 1000:.1f} s, {q.rows} row(s)"
            )
        return out

    def to_dict(self, rules: Sequence[AthenaRule] = ()) -> dict[str, Any]:
        return {
            "database": self.options.database,
            "table": self.options.table,
            "catalog": self.options.catalog,
            "workgroup": self.options.workgroup,
            "windowed": self.windowed,
            "bytes_scanned": self.bytes_scanned,
            "engine_ms": self.engine_ms,
            "cost_usd_estimate": round(self.cost_usd, 6),
            "queries": [q.to_dict(rules) for q in self.queries],
        }


def _size(count: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return f"{count} B"


def athena_client(options: AthenaOptions) -> Any:
    """A boto3 Athena client by boto3's normal chain; a missing boto3, profile or region is a usage error."""
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
    except ImportError:
        raise UsageError(
            "--engine athena needs boto3, which is not installed",
            hint="pip install 'sigma-lambda-layer[athena]'  (or: pip install boto3)",
        ) from None
    try:
        session = boto3.session.Session(profile_name=options.profile, region_name=options.region)
        # Standard retries: StartQueryExecution throttles (TooManyRequestsException) under load.
        config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 8})
        return session.client(_BOTO3_SERVICE, config=config)
    except botocore.exceptions.ProfileNotFound as exc:
        raise UsageError(str(exc), hint="see aws configure list-profiles") from None
    except botocore.exceptions.NoRegionError:
        raise UsageError(
            "no AWS region for Athena", hint="give --region, or set AWS_REGION / a profile's region"
        ) from None


class AthenaRunner:
    """Runs batches on Athena: at most ``options.max_running`` at once, each polled with a growing delay.

    ``sleep`` and ``clock`` are injectable so tests can run the flow without waiting (and interrupt it).
    """

    def __init__(
        self,
        client: Any,
        options: AthenaOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.options = options
        self.sleep = sleep
        self.clock = clock
        #: execution ids of the queries started and not yet ended
        self.running: dict[str, QueryStats] = {}

    def start(self, batch: Batch) -> QueryStats:
        stats = QueryStats(batch.number, batch.rules, query_bytes=len(batch.sql.encode()))
        request: dict[str, Any] = {
            "QueryString": batch.sql,
            "QueryExecutionContext": {"Database": self.options.database, "Catalog": self.options.catalog},
            # The same token for a retried call: Athena starts the query once.
            "ClientRequestToken": str(uuid.uuid4()),
        }
        if self.options.workgroup:
            request["WorkGroup"] = self.options.workgroup
        if self.options.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.options.output_location}
        response = self.client.start_query_execution(**request)
        stats.execution_id = response["QueryExecutionId"]
        stats.state = "QUEUED"
        self.running[stats.execution_id] = stats
        return stats

    def run(
        self,
        batches: Sequence[Batch],
        on_rows: Callable[[QueryStats, Iterator[dict[str, str | None]]], None],
        on_error: Callable[[QueryStats, str], None],
    ) -> list[QueryStats]:
        """Every batch to its end. ``on_rows`` gets each succeeded query's rows (a lazy iterator over its
        result pages); ``on_error`` a failed, cancelled or refused one's reason. On any exception (Ctrl-C,
        SIGTERM turned into KeyboardInterrupt) every running query is stopped, then the exception goes on."""
        import botocore.exceptions

        pending = list(batches)
        done: list[QueryStats] = []
        due: dict[str, tuple[float, float]] = {}  # execution id -> (next poll time, delay)
        try:
            while pending or self.running:
                while pending and len(self.running) < self.options.max_running:
                    batch = pending.pop(0)
                    try:
                        stats = self.start(batch)
                    except botocore.exceptions.ClientError as exc:
                        stats = QueryStats(batch.number, batch.rules, query_bytes=len(batch.sql.encode()))
                        stats.state = "NOT STARTED"
                        stats.reason = _client_error(exc)
                        done.append(stats)
                        on_error(stats, stats.reason)
                        continue
                    done.append(stats)
                    due[stats.execution_id or ""] = (self.clock() + POLL_FIRST, POLL_FIRST)
                if not self.running:
                    continue
                now = self.clock()
                wake = min(due[qid][0] for qid in self.running)
                if wake > now:
                    self.sleep(wake - now)
                for qid in [q for q in list(self.running) if due[q][0] <= self.clock()]:
                    stats = self.running[qid]
                    try:
                        ended = self._poll(stats)
                    except botocore.exceptions.ClientError as exc:  # retries are botocore's: give up
                        ended, stats.state, stats.reason = (
                            True,
                            "UNKNOWN",
                            f"GetQueryExecution: {_client_error(exc)}",
                        )
                        with contextlib.suppress(Exception):
                            self.client.stop_query_execution(QueryExecutionId=qid)
                    if ended:
                        del self.running[qid]
                        if stats.state == "SUCCEEDED":
                            try:
                                on_rows(stats, self.rows(stats))
                            except botocore.exceptions.ClientError as exc:
                                stats.state = "RESULTS UNREAD"
                                stats.reason = (
                                    f"GetQueryResults after {stats.rows} row(s) (the hits before are kept): "
                                    f"{_client_error(exc)}"
                                )
                                on_error(stats, stats.reason)
                        else:
                            on_error(stats, stats.reason or stats.state)
                    else:
                        delay = min(due[qid][1] * POLL_FACTOR, POLL_MAX)
                        due[qid] = (self.clock() + delay, delay)
        except BaseException:
            self.stop_all()
            raise
        return done

    def _poll(self, stats: QueryStats) -> bool:
        execution = self.client.get_query_execution(QueryExecutionId=stats.execution_id)["QueryExecution"]
        status = execution.get("Status", {})
        stats.state = status.get("State", stats.state)
        numbers = execution.get("Statistics", {})
        stats.bytes_scanned = int(numbers.get("DataScannedInBytes") or 0)
        stats.engine_ms = int(numbers.get("EngineExecutionTimeInMillis") or 0)
        if stats.state in ("FAILED", "CANCELLED"):
            error = status.get("AthenaError") or {}
            stats.reason = status.get("StateChangeReason") or error.get("ErrorMessage") or stats.state
        return stats.state in _ENDED

    def rows(self, stats: QueryStats) -> Iterator[dict[str, str | None]]:
        """The query's rows as {column: text or None}, page by page (``NextToken``); the first row of the
        first page is the header (Athena's result set for a SELECT), the column names."""
        header: list[str] | None = None
        token: str | None = None
        while True:
            request: dict[str, Any] = {"QueryExecutionId": stats.execution_id, "MaxResults": PAGE_SIZE}
            if token:
                request["NextToken"] = token
            page = self.client.get_query_results(**request)
            stats.pages += 1
            rows = page.get("ResultSet", {}).get("Rows", [])
            if header is None:
                if not rows:
                    return
                header = [cell.get("VarCharValue", "") for cell in rows[0]["Data"]]
                rows = rows[1:]
            for row in rows:
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                stats.rows += 1
                yield dict(zip(header, values, strict=False))
            token = page.get("NextToken")
            if not token:
                return

    def stop_all(self) -> None:
        """StopQueryExecution for every query still running (best effort: the hunt is ending anyway)."""
        for qid, stats in list(self.running.items()):
            with contextlib.suppress(Exception):
                self.client.stop_query_execution(QueryExecutionId=qid)
                stats.state = "CANCELLED"
                stats.reason = "stopped by sigma-lambda (interrupted)"
            del self.running[qid]


def _client_error(exc: Any) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', exc)}"


def parse_tags(text: str | None) -> list[str]:
    """The ``sigma_rules`` column: the matched rules' tags, joined by commas."""
    return [t for t in (text or "").split(",") if t]


# --------------------------------------------------------------------------------------- the hunt


def hunt_athena(
    rules: Any,
    *,
    options: AthenaOptions,
    since: datetime | None = None,
    until: datetime | None = None,
    on_hit: Callable[[Hit], None] | None = None,
    keep_records: int | None = None,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[int, int, int, int], None] | None = None,
) -> HuntResult:
    """The hunt on Athena (see :func:`sigma_lambda_layer.hunt.hunt` with ``engine="athena"``)."""
    start = time.perf_counter()
    compiled, rule_errors = compile_athena_rules(rules)
    return hunt_compiled(
        compiled,
        rule_errors,
        options=options,
        since=since,
        until=until,
        on_hit=on_hit,
        keep_records=keep_records,
        client=client,
        sleep=sleep,
        clock=clock,
        progress=progress,
        started=start,
    )


def hunt_compiled(
    compiled: list[AthenaRule],
    rule_errors: Sequence[SigmaLambdaError],
    *,
    options: AthenaOptions,
    since: datetime | None = None,
    until: datetime | None = None,
    on_hit: Callable[[Hit], None] | None = None,
    keep_records: int | None = None,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[int, int, int, int], None] | None = None,
    started: float | None = None,
) -> HuntResult:
    """The hunt of rules already compiled (their ``sql`` a Trino condition): plan, run, hits."""
    start = time.perf_counter() if started is None else started
    batches, too_long = plan(compiled, options, since, until)
    errors: list[SigmaLambdaError] = [*rule_errors, *too_long]
    run = AthenaRun(options, windowed=since is not None or until is not None)
    notes = []
    if not run.windowed:
        notes.append(
            f"warning: no --since/--until: every query scans the whole table {options.database}.{options.table} "
            f"(Athena bills {USD_PER_TB:g} USD per TB scanned)"
        )
    elif not options.partition_column:
        notes.append("warning: no partition column: the window does not prune, every query scans the table")
    hits: list[Hit] = []
    kept = [0] * len(compiled)
    by_tag = {tag(i): i for i in range(len(compiled))}

    def on_rows(stats: QueryStats, rows: Iterator[dict[str, str | None]]) -> None:
        for row in rows:
            record = record_from_row(row)
            values = hit_values(record)
            for name in parse_tags(row.get("sigma_rules")):
                index = by_tag.get(name)
                if index is None or index not in stats.rules:
                    continue
                rule = compiled[index]
                hit = Hit(rule.title, rule.id, rule.level, rule.path, row.get("sigma_file") or "", **values)
                if on_hit is not None:
                    on_hit(hit)
                if keep_records is not None:
                    kept[index] += 1
                    if kept[index] > keep_records:
                        object.__setattr__(hit, "record", None)
                hits.append(hit)

    def on_error(stats: QueryStats, reason: str) -> None:
        first = compiled[stats.rules[0]]
        titles = ", ".join(repr(compiled[i].title) for i in stats.rules)
        errors.append(
            AthenaQueryError(
                f"Athena query {stats.execution_id or '(not started)'} (batch {stats.batch} of {len(batches)}) "
                f"{stats.state}: {reason}; its {len(stats.rules)} rule(s) were not run: {titles}",
                location=Location(first.path),
            )
        )

    ended: list[QueryStats] = []

    def on_end(stats: QueryStats) -> None:
        ended.append(stats)
        if progress is not None:
            progress(len(ended), len(batches), sum(q.bytes_scanned for q in ended), 0)

    if batches:
        runner = AthenaRunner(
            client if client is not None else athena_client(options), options, sleep=sleep, clock=clock
        )

        def rows_then_progress(stats: QueryStats, rows: Iterator[dict[str, str | None]]) -> None:
            on_rows(stats, rows)
            on_end(stats)

        def error_then_progress(stats: QueryStats, reason: str) -> None:
            on_error(stats, reason)
            on_end(stats)

        try:
            run.queries = runner.run(batches, rows_then_progress, error_then_progress)
        except Exception as exc:
            import botocore.exceptions

            if isinstance(exc, botocore.exceptions.NoCredentialsError):
                raise UsageError(
                    "no AWS credentials for Athena", hint="configure a profile (--profile) or AWS_* variables"
                ) from None
            raise
    hits.sort(key=lambda h: (h.event_time or "", h.rule_title))
    return HuntResult(
        hits=hits,
        rules=compiled,
        rule_errors=errors,
        input_errors=[],
        records=0,
        files=0,
        notes=notes,
        seconds=time.perf_counter() - start,
        athena=run,
    )
