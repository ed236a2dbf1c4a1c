"""The Athena backend over Amazon Security Lake's CloudTrail table: the same Trino syntax, Security Lake's names.

Nothing here spells SQL: :class:`~sigma_lambda_layer.backends.athena.AthenaBackend` chooses every expression
from the column tree the pipeline names (schema ``ocsf``, :data:`sigma_lambda_layer.fields.ocsf.SECURITY_LAKE`).
This class only declares what differs for Security Lake's table:

- the ``table`` and ``database`` options default to Security Lake's names for AWS's example Region
  (``amazon_security_lake_table_us_east_1_cloud_trail_mgmt_2_0`` in ``amazon_security_lake_glue_db_us_east_1``);
  another Region is ``--option table=... --option database=...``;
- no ``ddl`` format: Security Lake creates and owns its tables (Apache Iceberg, registered in Lake Formation);
- the ``hunt`` format reads the services and operations a rule requires from ``api.service.name`` and
  ``api.operation``, the OCSF homes of ``eventSource`` and ``eventName``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from sigma_lambda_layer.backends.athena import AthenaBackend
from sigma_lambda_layer.dialect import BackendOption, FormatFile
from sigma_lambda_layer.fields.ocsf import DATABASE_TEMPLATE, DEFAULT_REGION, FIELD_MAP, TABLE_TEMPLATE

DEFAULT_TABLE = TABLE_TEMPLATE.format(region=DEFAULT_REGION)
DEFAULT_DATABASE = DATABASE_TEMPLATE.format(region=DEFAULT_REGION)


class SecurityLakeBackend(AthenaBackend):
    """Trino SQL over Security Lake's CloudTrail management-event table (OCSF 1.1, source version 2)."""

    name: ClassVar[str] = "Amazon Athena (Trino SQL) over Amazon Security Lake's CloudTrail table (OCSF 1.1)"
    formats: ClassVar[dict[str, str]] = {
        "default": 'SELECT * FROM "<database>"."<table>" WHERE <condition> (options database, table)',
        "condition": "the WHERE condition alone, over the table's OCSF columns",
        "hunt": "JSON: the condition, the eventSource/eventName values it requires and the level",
    }
    format_files: ClassVar[dict[str, FormatFile]] = {
        "condition": FormatFile("text", "sql"),
        "hunt": FormatFile("json", "json"),
    }
    hunt_dispatch_paths: ClassVar[tuple[str, str]] = (
        FIELD_MAP["eventSource"].path,
        FIELD_MAP["eventName"].path,
    )
    options: ClassVar[tuple[BackendOption, ...]] = (
        BackendOption(
            "table",
            "the Security Lake table (amazon_security_lake_table_REGION_cloud_trail_mgmt_2_0, REGION as us_east_1)",
            DEFAULT_TABLE,
        ),
        BackendOption(
            "database",
            "the Security Lake Glue database (amazon_security_lake_glue_db_REGION)",
            DEFAULT_DATABASE,
        ),
    )

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any):
        super().__init__(processing_pipeline, collect_errors, **options)
        self.table = str(options.get("table") or DEFAULT_TABLE)
        self.database = str(options.get("database") or DEFAULT_DATABASE)


def time_window(since: datetime | None = None, until: datetime | None = None) -> str:
    """A ``WHERE`` term keeping the events from ``since`` (inclusive) to ``until`` (exclusive) by ``time_dt``,
    the bound AWS's source version 2 examples put on every query: Security Lake's Iceberg tables prune their
    data files by it, so the scan (and the bill) covers only the window. ``TRUE`` when neither is given.
    Naive datetimes are UTC; aware ones are converted to UTC (``time_dt`` holds UTC)."""
    terms = []
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            utc = bound.astimezone(timezone.utc).replace(tzinfo=None) if bound.tzinfo else bound
            terms.append(f"time_dt {op} TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}'")
    return " AND ".join(terms) or "TRUE"
