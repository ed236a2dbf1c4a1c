"""A CloudTrail record as the ``duckdb`` target holds it: CloudTrail's own JSON, unchanged.

The backend's contract is a ``JSON`` column holding the record as delivered (``read_json_objects`` keeps the
text; nothing is flattened, renamed or dropped), so the view is the record itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def duckdb_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record)
