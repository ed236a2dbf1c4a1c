"""The scan: batches of log files through one embedded DuckDB, every rule in one query over each batch.

Per batch (files up to :data:`BATCH_BYTES` of estimated JSON text) two queries do the work:

1. the **load**: ``read_json_objects`` parses the files on all threads, each document is unwrapped into its
   CloudTrail records (``record JSON``, the ``duckdb`` target's contract), and one ``json_extract`` per record
   reads the dispatch columns (lower-cased ``eventSource``/``eventName``) and every plain field the rules
   compare, into the table ``batch``;
2. the **match**: every rule's condition, each led by its dispatch test (the eventName/eventSource values its
   condition requires, see :func:`sigma_lambda_layer.backends.duckdb.required_values`), is one ``CASE`` setting
   the rule's bit of a mask, all in one pass over ``batch``; the records with a bit set become one row per
   (rule, record) in the table ``hits``, with the hit columns read from the record there.

The hits leave DuckDB as small rows (no record, unless the caller keeps records) and, for ``--output`` in
JSON lines, as a file DuckDB writes itself (``COPY ... (FORMAT json)``): no record is parsed or serialised
by Python. The tables are replaced by the next batch, so memory stays flat whatever the input size.

``read_json`` (schema detection) is not used: real CloudTrail has keys that differ only by case
(``principalId``/``principalid``), which DuckDB's struct inference rejects; ``read_json_objects`` keeps each
record as JSON text, and JSON key lookup is case-sensitive.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sigma_lambda_layer.backends.duckdb import sql_string
from sigma_lambda_layer.hunt.inputs import LogFile, LogInputError, locate_without_event_name, repair

#: Estimated JSON bytes per batch (a gzip file counts seven times its size, CloudTrail's usual ratio).
BATCH_BYTES = 96 << 20
GZIP_RATIO = 7
#: A CloudTrail file is one JSON object; DuckDB's default cap (16 MiB) is below the largest ones. A larger
#: file goes through the Python reader (DuckDB sizes its read buffers by this cap).
MAX_OBJECT_BYTES = 64 << 20
_DOTTED_I = "\u0130"

#: One JSON document -> its CloudTrail records (the cases of :func:`.inputs.unwrap`).
_UNWRAP = """CASE
  WHEN starts_with(json, '{"Records":[') THEN json_extract(json, '$.Records[*]')
  WHEN json_type(json, '/Records') = 'ARRAY' THEN json_extract(json, '$.Records[*]')
  WHEN json_type(json) = 'ARRAY' THEN json_extract(json, '$[*]')
  WHEN json_type(json, '/logEvents') = 'ARRAY' THEN CASE WHEN json_extract_string(json, '/messageType') = 'DATA_MESSAGE'
    THEN list_transform(CAST(json_extract(json, '/logEvents') AS JSON[]),
      lambda e: CAST(json_extract_string(e, '/message') AS JSON)) ELSE []::JSON[] END
  WHEN json_type(json, '/events') = 'ARRAY' AND json_extract(json, '/eventName') IS NULL
    THEN list_transform(CAST(json_extract(json, '/events') AS JSON[]),
      lambda e: CAST(json_extract_string(e, '/message') AS JSON))
  WHEN json_extract_string(json, '/detail-type') = 'AWS API Call via CloudTrail'
    AND json_type(json, '/detail') = 'OBJECT' THEN [json_extract(json, '/detail')]
  ELSE [json] END"""

#: The columns of a hit, read from the record in one parse (``h`` is the list of these pointers' values).
HIT_POINTERS = (
    "/eventTime",
    "/eventSource",
    "/eventName",
    "/awsRegion",
    "/userIdentity/arn",
    "/userIdentity/principalId",
    "/userIdentity/type",
    "/sourceIPAddress",
    "/eventID",
)
HIT_COLUMNS = {
    "event_time": "h[1]",
    "event_source": "h[2]",
    "event_name": "h[3]",
    "aws_region": "h[4]",
    "principal": "coalesce(h[5], h[6], h[7])",
    "source_ip": "h[8]",
    "event_id": "h[9]",
}


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to scan: its SQL (the OR of its conditions, each behind its dispatch test)."""

    title: str
    id: str | None
    path: str | None
    level: str | None
    sql: str


def dispatch_sql(condition: str, event_source: list[str] | None, event_name: list[str] | None) -> str:
    """``condition`` behind the cheap column tests its required values allow (arrays are never skipped)."""
    tests = []
    for column, values in (("es", event_source), ("en", event_name)):
        if values:
            listed = ", ".join(sql_string(v) for v in values)
            tests.append(f"({column} IN ({listed}) OR {column}_type = 'ARRAY')")
    return " AND ".join([*tests, f"({condition})"])


#: A plain field read in a rule's SQL (:func:`sigma_lambda_layer.backends.duckdb.plain_text`).
_PLAIN_READ = re.compile(r"record->>'(\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)'")


def plain_columns(sqls: Sequence[str]) -> dict[str, str]:
    """The plain field reads (``record->>'$.eventName'``) of the rules' SQL, each to a batch column name.

    The load reads all of them with one ``json_extract_string(record, [...])`` (one parse of the record),
    and the rules compare columns: a rule without ``eventName`` no longer parses every record once per
    field it tests.
    """
    paths = sorted({m.group(1) for sql in sqls for m in _PLAIN_READ.finditer(sql)})
    return {path: f"f{i}" for i, path in enumerate(paths)}


def on_columns(sql: str, columns: dict[str, str]) -> str:
    """``sql`` with its plain field reads replaced by the batch columns holding them (same VARCHAR)."""
    return _PLAIN_READ.sub(lambda m: columns[m.group(1)], sql)


@dataclass
class ScanTotals:
    records: int = 0
    files: int = 0
    outside_window: int = 0


Progress = Callable[[int, int, int, int], None]

#: Rules per mask word: bits 0..61 of a BIGINT (bit 63 is the sign).
WORD_BITS = 62
#: One hit row handed to :attr:`Scanner.on_hits`: (rule index, file name as given, the :data:`HIT_COLUMNS`
#: values in order, the record's JSON text or None).
HitRow = tuple[Any, ...]


class Scanner:
    """One DuckDB connection scanning batches of files with a fixed set of rules."""

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        spool: Path,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        threads: int | None = None,
        memory_limit: str = "768MB",
    ) -> None:
        import duckdb

        self.rules = list(rules)
        self.spool = spool
        self.since, self.until = since, until
        self.db = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "preserve_insertion_order": False,
            }
        )
        # Our progress goes to stderr, not DuckDB's. In Jupyter without ipywidgets DuckDB refuses to change
        # the setting at all (and draws no bar there).
        with contextlib.suppress(duckdb.Error):
            self.db.execute("SET enable_progress_bar = false")
        if threads:
            self.db.execute(f"SET threads = {int(threads)}")
        self.db.execute(f"SET temp_directory = {sql_string(str(spool / 'duckdb-tmp'))}")
        self.columns = plain_columns([rule.sql for rule in self.rules])
        self.words = max(1, -(-len(self.rules) // WORD_BITS))
        self.db.execute(
            "CREATE TEMP TABLE rules (rule INTEGER, rule_title VARCHAR, rule_id VARCHAR, "
            "rule_level VARCHAR, rule_path VARCHAR)"
        )
        if self.rules:
            self.db.executemany(
                "INSERT INTO rules VALUES (?, ?, ?, ?, ?)",
                [(i, r.title, r.id, r.level, r.path) for i, r in enumerate(self.rules)],
            )
        self._load_sql, self._match_sql = self._queries()
        self.totals = ScanTotals()
        self.errors: list[LogInputError] = []
        #: called once per batch with its hit rows (:data:`HitRow`), rules in the order given
        self.on_hits: Callable[[list[HitRow]], None] = lambda rows: None
        #: per rule, how many more hits get their record in :attr:`on_hits` (None: every hit)
        self.record_quota: list[int] | None = None
        #: if set, called once per batch with a JSON-lines file of that batch's hits (written by DuckDB,
        #: fields as :data:`sigma_lambda_layer.hunt.results.HIT_FIELDS`); the file is deleted afterwards
        self.jsonl_sink: Callable[[Path], None] | None = None
        self._parts = 0

    # ------------------------------------------------------------------ the queries

    def _pointers(self) -> list[str]:
        """The JSON Pointers every record is read at by the load, in one parse: dispatch, plain fields, time."""
        return [
            "/eventSource",
            "/eventName",
            *("/" + p[2:].replace(".", "/") for p in self.columns),
            "/eventTime",
        ]

    def _queries(self) -> tuple[str, str]:
        """The per-batch SQL: the load of ``docs`` (filename, json) into ``batch``, and the rules over it.

        The load reads every record once (one ``json_extract_string`` with every pointer) into columns; the
        rules then run in one query over the stored batch. Evaluating them in the load's own streaming
        query, with no table, was measured slower (the same 59 ``CASE`` tests cost about three times as
        much CPU there as over the stored table, more than storing the batch costs).
        """
        pointers = self._pointers()
        # One json_extract_string with every pointer: one parse of the record, the values as the rules' plain
        # reads see them. The JSON type of eventSource/eventName is only asked (a second parse) for a value
        # that could be an array or is missing or null: none of them are on real CloudTrail.
        kind = (
            "(CASE WHEN s[{i}] IS NULL OR starts_with(s[{i}], '[') THEN json_type(record, {pointer}) "
            "ELSE 'VARCHAR' END)"
        )
        lowered = "lower(replace(s[{i}], '" + _DOTTED_I + "', 'i\u0307'))"
        plain = "".join(f", s[{i + 3}] AS {name}" for i, name in enumerate(self.columns.values()))
        window = self._window(f"s[{len(pointers)}]")
        hit_columns = "".join(f", {sql} AS {name}" for name, sql in HIT_COLUMNS.items())
        load = (
            "WITH docs AS ({docs}) "
            f"SELECT filename, record, {lowered.format(i=1)} AS es, "
            f"{kind.format(i=1, pointer=sql_string('/eventSource'))} AS es_type, "
            f"{lowered.format(i=2)} AS en, {kind.format(i=2, pointer=sql_string('/eventName'))} AS en_type{plain}, "
            f"coalesce({window or 'true'}, false) AS inside FROM (SELECT filename, record, "
            f"json_extract_string(record, [{', '.join(map(sql_string, pointers))}]) AS s "
            f"FROM (SELECT filename, unnest({_UNWRAP}) AS record FROM docs))"
        )
        masks = []
        for word in range(self.words):
            bits = [
                f"CASE WHEN {on_columns(rule.sql, self.columns)} THEN {1 << (index - word * WORD_BITS)} ELSE 0 END"
                for index, rule in enumerate(self.rules)
                if index // WORD_BITS == word
            ]
            masks.append(f"({' | '.join(bits) if bits else '0'})::BIGINT AS m{word}")
        any_hit = " OR ".join(f"m{w} <> 0" for w in range(self.words))
        rules = " || ".join(
            f"list_transform(list_filter(range({WORD_BITS}), lambda b: ((m{w} >> b) & 1) = 1), "
            f"lambda b: b + {w * WORD_BITS})"
            for w in range(self.words)
        )
        # The masks are computed once in a materialized CTE: a filter on them over a plain subquery is pushed
        # down by the optimizer as a copy of the whole expression, which evaluates every rule twice.
        match = (
            f"CREATE OR REPLACE TEMP TABLE hits AS WITH marked AS MATERIALIZED (SELECT rowid AS row, "
            f"{', '.join(masks)} FROM batch WHERE en_type IS NOT NULL AND inside) "
            f"SELECT rule, file{hit_columns}, record FROM (SELECT unnest({rules}) AS rule, names.name AS file, "
            f"record, json_extract_string(record, [{', '.join(map(sql_string, HIT_POINTERS))}]) AS h "
            "FROM (SELECT * FROM marked WHERE " + any_hit + ") AS m JOIN batch ON batch.rowid = m.row "
            "JOIN names ON batch.filename = names.path)"
        )
        return load, match

    # ------------------------------------------------------------------ batches

    def scan(self, files: Sequence[LogFile], progress: Progress | None = None) -> None:
        fast = [f for f in files if not f.slow]
        slow = [f for f in files if f.slow]
        total_files, total_bytes = len(files), sum(f.size for f in files)
        done_files = done_bytes = 0
        for batch in [*self._batches(fast), *([f] for f in slow)]:
            self._scan_batch(batch)
            done_files += len(batch)
            done_bytes += sum(f.size for f in batch)
            if progress is not None:
                progress(done_files, total_files, done_bytes, total_bytes)

    @staticmethod
    def _batches(files: Sequence[LogFile]) -> list[list[LogFile]]:
        batches: list[list[LogFile]] = [[]]
        weight = 0
        for file in files:
            size = file.size * (GZIP_RATIO if file.gzip else 1)
            if batches[-1] and weight + size > BATCH_BYTES:
                batches.append([])
                weight = 0
            batches[-1].append(file)
            weight += size
        return [b for b in batches if b]

    def _scan_batch(self, batch: list[LogFile]) -> None:
        import duckdb

        readable: list[LogFile] = []
        for file in batch:
            if file.slow:
                fixed, errors = repair(file, self.spool)
                self.errors.extend(errors)
                if fixed is not None:
                    readable.append(fixed)
            else:
                readable.append(file)
        if not readable:
            return
        try:
            self._load(readable)
        except duckdb.Error:
            if len(readable) > 1:  # find the files DuckDB refuses; the others are scanned as usual
                for file in readable:
                    self._scan_batch([file])
                return
            fixed, errors = repair(readable[0], self.spool)
            self.errors.extend(errors)
            if fixed is None:
                return
            readable = [fixed]
            self._load(readable)
        self._match(readable)

    def records_sql(self, files: Sequence[LogFile]) -> str:
        """The load's SELECT over ``files``: one row per record with the columns the rules compare.

        Public for ``benchmarks/bench_hunt.py``, which times it with every rule's condition as one ``WHERE``
        (the bare scan) to show how close any scan of these rules can get to DuckDB's parse-only floor.
        """
        parts = []
        for gz in (True, False):
            chosen = [f for f in files if f.gzip is gz]
            if chosen:
                listed = ", ".join(sql_string(str(f.path)) for f in chosen)
                parts.append(
                    f"SELECT filename, json FROM read_json_objects([{listed}], format = 'auto', "
                    f"compression = '{'gzip' if gz else 'none'}', filename = true, "
                    f"maximum_object_size = {MAX_OBJECT_BYTES})"
                )
        return self._load_sql.replace("{docs}", " UNION ALL ".join(parts), 1)

    def any_rule_sql(self) -> str:
        """The OR of every rule's condition over the load's columns (for the benchmark's bare scan)."""
        return " OR ".join(f"({on_columns(rule.sql, self.columns)})" for rule in self.rules) or "false"

    def _load(self, files: list[LogFile]) -> None:
        """``files`` read into the table ``batch`` (one row per record; raises what DuckDB cannot read)."""
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {self.records_sql(files)}")

    def _match(self, files: list[LogFile]) -> None:
        by_path = {str(f.path): f for f in files}
        counts = self.db.execute(
            "SELECT filename, count(*) FILTER (WHERE en_type IS NOT NULL AND inside), "
            "count(*) FILTER (WHERE en_type IS NOT NULL AND NOT inside), count(*) FILTER (WHERE en_type IS NULL) "
            "FROM batch GROUP BY filename"
        ).fetchall()
        for name, records, outside, bad in counts:
            if bad:
                self.errors.extend(locate_without_event_name(by_path[name]))
            self.totals.records += records
            self.totals.outside_window += outside
        self.totals.files += len(files)
        self.db.execute("CREATE OR REPLACE TEMP TABLE names (path VARCHAR, name VARCHAR)")
        self.db.executemany("INSERT INTO names VALUES (?, ?)", [(str(f.path), f.name) for f in files])
        self.db.execute(self._match_sql)
        if self.jsonl_sink is not None:
            self._parts += 1
            part = self.spool / f"hits-{self._parts:06d}.jsonl"
            fields = ", ".join(f"h.{name}" for name in HIT_COLUMNS)
            self.db.execute(
                "COPY (SELECT r.rule_title, r.rule_id, r.rule_level, r.rule_path, h.file, "
                f"{fields}, h.record FROM hits h JOIN rules r USING (rule)) "
                f"TO {sql_string(str(part))} (FORMAT json)"
            )
            try:
                self.jsonl_sink(part)
            finally:
                part.unlink(missing_ok=True)
        record = "record"
        if self.record_quota is not None and not any(self.record_quota):
            record = "NULL"
        elif self.record_quota is not None:
            quota = "[" + ", ".join(map(str, self.record_quota)) + "]"
            record = f"CASE WHEN row_number() OVER (PARTITION BY rule) <= {quota}[rule + 1] THEN record END"
        rows = self.db.execute(
            f"SELECT rule, file, {', '.join(HIT_COLUMNS)}, CAST({record} AS VARCHAR) FROM hits ORDER BY rule"
        ).fetchall()
        if self.record_quota is not None:
            for row in rows:
                if row[-1] is not None:
                    self.record_quota[row[0]] -= 1
        self.on_hits(rows)

    def _window(self, time_text: str) -> str | None:
        """The ``--since``/``--until`` test on ``eventTime`` (an unreadable time is outside any window)."""
        time = f"TRY_CAST({time_text} AS TIMESTAMPTZ)"
        tests = []
        if self.since is not None:
            tests.append(f"{time} >= CAST({sql_string(self.since.isoformat())} AS TIMESTAMPTZ)")
        if self.until is not None:
            tests.append(f"{time} < CAST({sql_string(self.until.isoformat())} AS TIMESTAMPTZ)")
        return " AND ".join(tests) or None

    def close(self) -> None:
        self.db.close()
