"""Where results go on disk: a stable layout under ``--output-dir``.

``<output-dir>/<target>/<rule-stem>.<ext>``: the rule stem is the rule file's name without extension (or the
rule id, or a slug of the title for rules not read from a file), reduced to safe characters so that no rule
can name a path outside the output folder. Two rules with the same stem get their id appended.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sigma_lambda_layer.api import ConversionResult

#: Formats whose files are NDJSON (one JSON object per line), as Kibana's import reads them.
NDJSON_FORMATS: Final[frozenset[str]] = frozenset({"kibana_ndjson", "siem_rule_ndjson"})
#: Formats whose files are one JSON document (an array when a batch holds several).
JSON_FORMATS: Final[frozenset[str]] = frozenset(
    {"siem_rule", "dsl_lucene", "eqlapi", "query_definition", "start_query", "cloudformation"}
)

#: File extension per output format; formats not listed write ``.txt`` (text) or ``.json`` (objects).
FORMAT_EXTENSIONS: Final[dict[str, str]] = {
    "savedsearches": "conf",
    "kibana_ndjson": "ndjson",
    "siem_rule_ndjson": "ndjson",
    "siem_rule": "json",
    "dsl_lucene": "json",
    "eqlapi": "json",
    "query_definition": "json",
    "start_query": "json",
    "cloudformation": "json",
}

#: Extension of the ``default`` (plain query) format per target id.
QUERY_EXTENSIONS: Final[dict[str, str]] = {
    "splunk": "spl",
    "lucene": "lucene",
    "eql": "eql",
    "esql": "esql",
    "cloudwatch": "logsinsights",
    "duckdb": "sql",
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(text: str) -> str:
    stem = _UNSAFE.sub("_", text).strip("._-") or "rule"
    return stem[:120]


def extension(target: str, fmt: str, output: object) -> str:
    if fmt == "default":
        return QUERY_EXTENSIONS.get(target, "txt")
    return FORMAT_EXTENSIONS.get(fmt, "txt" if isinstance(output, str) else "json")


def output_path(output_dir: Path, result: ConversionResult) -> Path:
    if result.path and not result.path.startswith("<"):
        stem = safe_stem(Path(result.path).stem)
    else:
        stem = safe_stem(result.id or result.title or "rule")
    return (
        output_dir
        / safe_stem(result.target)
        / f"{stem}.{extension(result.target, result.format, result.output)}"
    )


def bundle_path(output_dir: Path, target: str, fmt: str, output: object) -> Path:
    """Where a target's whole-batch output goes (``_savedsearches.conf``, ``_rules.ndjson``, ``_bundle.*``).

    The leading underscore keeps bundles apart from per-rule files, whose stems never start with one.
    """
    ext = extension(target, fmt, output)
    name = {"conf": "savedsearches", "ndjson": "rules"}.get(ext, "bundle")
    return output_dir / safe_stem(target) / f"_{name}.{ext}"
