"""One CloudTrail record as the Splunk Add-on for AWS presents its fields (sourcetype ``aws:cloudtrail``).

The Add-on extracts the JSON event at search time. The choices below follow Splunk's JSON extraction
(``KV_MODE = json``, the same rules as ``spath``) and are what the SPL reference interpreter (``tests/engines/spl.py``)
evaluates generated queries against:

- **Names**: the key path with ``.`` for nesting and ``{}`` after an array, for every array
  (``resources{}.ARN``, ``requestParameters.layers{}``). Source: the field lists of splunk/security_content
  ``data_sources/aws_cloudtrail_*.yml`` (``resources{}.ARN``, ``requestParameters.alarmNames{}``,
  ``responseElements.dBParameterGroups{}.dBParameterGroupName``).
- **Multi-valued fields**: a name that occurs more than once (array elements) holds all values in document
  order; search ``field=value`` matches if any value matches (Search Manual, "Manipulate and evaluate
  fields with multiple values").
- **Leaves only**: JSON objects and arrays are not fields themselves; empty objects and arrays yield nothing
  (which is why the Splunk target refuses a test on a whole object).
- **Scalars as text**: strings as-is, ``true``/``false`` and numbers as their JSON text, JSON ``null`` as
  the string ``null`` (only ``_raw`` tells it from the text ``"null"``). Splunk keeps the event text and extracts from it; OpenSearch's ``spath``, which
  reproduces Splunk's, documents the same rules (opensearch-project/sql docs/user/ppl/cmd/spath.md: "Null
  values are preserved: a JSON null becomes the string \"null\""; "numbers and booleans are converted to
  their string representation").
- **Added fields**: ``sourcetype`` (``aws:cloudtrail``), ``_raw`` (the event as compact JSON) and, when
  given, ``index``. Not modelled: the Add-on's CIM aliases (``user``, ``src`` ...) and any value the
  Add-on computes; in particular security_content's frequent ``errorCode=success`` suggests the Add-on
  fills a missing errorCode with ``success`` (unverified, see docs/targets/splunk.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sigma_lambda_layer.fields.splunk import SOURCETYPE


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    # json.dumps gives JSON's own text for true/false/null and numbers (1, 1.5, 1e+30 as Python prints it).
    return json.dumps(value)


def _walk(value: Any, name: str, out: dict[str, list[str]]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _walk(sub, f"{name}.{key}" if name else str(key), out)
    elif isinstance(value, list):
        for element in value:
            _walk(element, f"{name}{{}}", out)
    else:
        out.setdefault(name, []).append(_scalar(value))


def raw_text(record: Mapping[str, Any]) -> str:
    """The event text ``_raw``: the record as compact JSON (CloudTrail delivers compact JSON)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def splunk_view(record: Mapping[str, Any], *, index: str | None = None) -> dict[str, list[str]]:
    """The fields Splunk shows for ``record``: name -> values (see the module docstring for the rules)."""
    out: dict[str, list[str]] = {}
    _walk(record, "", out)
    out["sourcetype"] = [SOURCETYPE]
    out["_raw"] = [raw_text(record)]
    if index is not None:
        out["index"] = [index]
    return out
