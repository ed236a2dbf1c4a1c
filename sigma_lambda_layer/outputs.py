"""Where results go on disk: a stable layout under ``--output-dir``.

``<output-dir>/<target>/<rule-stem>.<ext>``: the rule stem is the rule file's name without extension (or the
rule id, or a slug of the title for rules not read from a file), reduced to safe characters so that no rule
can name a path outside the output folder. Two rules with the same stem get their id appended.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sigma_lambda_layer.results import ConversionResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(text: str) -> str:
    stem = _UNSAFE.sub("_", text).strip("._-") or "rule"
    return stem[:120]


def extension(target: str, fmt: str, output: object) -> str:
    """The file extension the registry gives ``target``'s ``fmt`` (``.json`` for structured output of a
    format that declares no file)."""
    from sigma_lambda_layer.dialect import TEXT_FILE
    from sigma_lambda_layer.registry import TARGETS

    known = TARGETS.get(target)
    file = known.format_file(fmt) if known is not None else TEXT_FILE
    if file == TEXT_FILE and not isinstance(output, str):
        return "json"
    return file.extension


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


def render(output: Any, format: str = "default") -> str:
    """Text form of a backend's output, as the format's consumer reads it.

    NDJSON formats (Kibana's rule and saved-object import) get one compact JSON object per line; other JSON
    formats get one JSON document (a list of several becomes an array); query text stays as it is, one query
    per line.
    """
    from sigma_lambda_layer.registry import format_kind

    if output is None:
        return ""
    kind = format_kind(format)
    if kind != "text":
        items = output if isinstance(output, list) else [output]
        parsed = [json.loads(o) if isinstance(o, str) else o for o in items]
        if kind == "ndjson":
            return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in parsed)
        return json.dumps(parsed[0] if len(parsed) == 1 else parsed, indent=2, ensure_ascii=False)
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(o, str) for o in output):
        return "\n".join(output)
    return json.dumps(output, indent=2, sort_keys=False, ensure_ascii=False)
