"""The scan: batches of log files through one embedded DuckDB, every rule's condition over each batch.

Per batch (files up to :data:`BATCH_BYTES` of estimated JSON text), ``read_json_objects`` parses the files on
all threads into a temporary table of one row per CloudTrail record (``record JSON``, the ``duckdb`` target's
contract), with the lower-cased ``eventSource``/``eventName`` beside it. Each rule then runs as one query on
that table, led by its dispatch test (the eventName/eventSource values its condition requires, see
:func:`sigma_lambda_layer.backends.duckdb.required_values`) so its full condition meets only the records
that can match. The table is dropped before the next batch, so memory stays flat whatever the input size.

``read_json`` (schema detection) is not used: real CloudTrail has keys that differ only by case
(``principalId``/``principalid``), which DuckDB's struct inference rejects; ``read_json_objects`` keeps each
record as JSON text, and JSON key lookup is case-sensitive.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        # One table for every batch, and every rule's query prepared once against it: planning a rule's
        # SQL costs more than running it on a batch.
        # A batch of a few tens of thousands of records is one DuckDB row group, which one thread scans; so
        # the rules are shared among ``workers`` cursors (connections to the same in-memory database, each
        # with its own prepared statements) run from as many Python threads.
        self.columns = plain_columns([rule.sql for rule in self.rules])
        extra = "".join(f", {name} VARCHAR" for name in self.columns.values())
        self.db.execute(
            "CREATE TABLE batch (filename VARCHAR, record JSON, es VARCHAR, es_type VARCHAR, "
            f"en VARCHAR, en_type VARCHAR{extra})"
        )
        self.workers = max(1, min(threads or os.cpu_count() or 1, len(self.rules)))
        self.cursors = [self.db.cursor() for _ in range(self.workers)]
        columns = ", ".join(f"{sql} AS {name}" for name, sql in HIT_COLUMNS.items())
        pointers = ", ".join(sql_string(p) for p in HIT_POINTERS)
        for index, rule in enumerate(self.rules):
            self.cursors[index % self.workers].execute(
                f"PREPARE rule_{index} AS SELECT filename, record, {columns} FROM (SELECT filename, "
                f"CAST(record AS VARCHAR) AS record, json_extract_string(record, [{pointers}]) AS h "
                f"FROM batch WHERE {on_columns(rule.sql, self.columns)})"
            )
        self.totals = ScanTotals()
        self.errors: list[LogInputError] = []
        #: called with (rule index, file, hit columns and ``record``) for every hit, in batch order
        self.on_hit: Callable[[int, LogFile, dict[str, Any]], None] = lambda *hit: None

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

    def _load(self, files: list[LogFile]) -> None:
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
        # One parse of each record for the dispatch columns and every plain field the rules read (JSON
        # functions parse the text on every call; the small values they return are cheap to read again).
        lowered = "lower(replace(json_extract_string(k[{i}], '$'), '" + _DOTTED_I + "', 'i\u0307'))"
        pointers = ["/eventSource", "/eventName", *("/" + p[2:].replace(".", "/") for p in self.columns)]
        plain = "".join(
            f", json_extract_string(k[{i + 3}], '$') AS {name}"
            for i, name in enumerate(self.columns.values())
        )
        self.db.execute("DELETE FROM batch")
        self.db.execute(
            "INSERT INTO batch SELECT filename, record, "
            f"{lowered.format(i=1)} AS es, json_type(k[1]) AS es_type, "
            f"{lowered.format(i=2)} AS en, json_type(k[2]) AS en_type{plain} "
            f"FROM (SELECT filename, record, json_extract(record, [{', '.join(map(sql_string, pointers))}]) AS k "
            f"FROM (SELECT filename, unnest({_UNWRAP}) AS record FROM ({' UNION ALL '.join(parts)})))"
        )

    def _match(self, files: list[LogFile]) -> None:
        by_path = {str(f.path): f for f in files}
        bad = self.db.execute("SELECT DISTINCT filename FROM batch WHERE en_type IS NULL").fetchall()
        for (name,) in bad:
            self.errors.extend(locate_without_event_name(by_path[name]))
        self.db.execute("DELETE FROM batch WHERE en_type IS NULL")  # also every record that is no object
        window = self._window()
        if window:
            outside = self.db.execute(f"SELECT count(*) FROM batch WHERE NOT coalesce({window}, false)")
            self.totals.outside_window += outside.fetchone()[0]  # type: ignore[index]
            self.db.execute(f"DELETE FROM batch WHERE NOT coalesce({window}, false)")
        self.totals.records += self.db.execute("SELECT count(*) FROM batch").fetchone()[0]  # type: ignore[index]
        self.totals.files += len(files)

        def run(worker: int) -> list[tuple[int, list[Any]]]:
            cursor = self.cursors[worker]
            return [
                (index, cursor.execute(f"EXECUTE rule_{index}").fetchall())
                for index in range(worker, len(self.rules), self.workers)
            ]

        with ThreadPoolExecutor(self.workers) as pool:
            found = [item for part in pool.map(run, range(self.workers)) for item in part]
        for index, rows in sorted(found, key=lambda item: item[0]):
            for row in rows:
                values = dict(zip(["file", "record", *HIT_COLUMNS], row, strict=True))
                self.on_hit(index, by_path[values.pop("file")], values)

    def _window(self) -> str | None:
        """The ``--since``/``--until`` test on ``eventTime`` (an unreadable time is outside any window)."""
        time = "TRY_CAST(json_extract_string(record, '/eventTime') AS TIMESTAMPTZ)"
        tests = []
        if self.since is not None:
            tests.append(f"{time} >= CAST({sql_string(self.since.isoformat())} AS TIMESTAMPTZ)")
        if self.until is not None:
            tests.append(f"{time} < CAST({sql_string(self.until.isoformat())} AS TIMESTAMPTZ)")
        return " AND ".join(tests) or None

    def close(self) -> None:
        for cursor in self.cursors:
            cursor.close()
        self.db.close()
