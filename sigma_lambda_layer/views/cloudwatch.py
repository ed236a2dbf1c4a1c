"""A CloudTrail record as CloudWatch Logs Insights sees it.

CloudTrail delivers each record as one log event whose message is the record's JSON text (CloudTrail User
Guide, "Sending events to CloudWatch Logs"). Logs Insights then discovers its fields (CloudWatch Logs User
Guide, "Supported logs and discovered fields", Fields in JSON logs):

- ``@message``: the raw event, here the compact JSON text of the record;
- ``@timestamp``: the log event time in epoch milliseconds (CloudTrail sets it near delivery; ``eventTime`` is
  the closest value a record carries, so the view uses it);
- every JSON leaf under its dot path, array elements under a numeric segment (``resources.0.ARN``).

Values keep their JSON type (``str``, ``int``, ``float``, ``bool``): how Logs Insights renders a JSON boolean
is undocumented, and the reference interpreter tries both renderings. JSON ``null`` leaves and empty objects
or arrays are not discovered as fields. The documented cap on extracted fields per event (100 to 1000
depending on the page) is not modelled: CloudTrail records in the corpus stay well under it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def _flatten(node: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{path}.{key}" if path else str(key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _flatten(value, f"{path}.{index}" if path else str(index), out)
    elif node is not None:
        out[path] = node


def _timestamp(record: dict[str, Any]) -> int:
    text = record.get("eventTime")
    if isinstance(text, str):
        try:
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    return 0


def logs_insights_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The discovered fields of one CloudTrail record (see the module docstring)."""
    record = dict(record)
    view: dict[str, Any] = {}
    _flatten(record, "", view)
    view["@message"] = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    view["@timestamp"] = _timestamp(record)
    return view
