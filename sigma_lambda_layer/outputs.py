"""Where results go on disk: a stable layout under ``--output-dir``.

``<output-dir>/<target>/<rule-stem>.<ext>``: the rule stem is the rule file's name without extension (or the
rule id, or a slug of the title for rules not read from a file), reduced to safe characters so that no rule
can name a path outside the output folder. Two rules with the same stem get their id (or a number) appended,
and every write goes through :mod:`sigma_lambda_layer.writer` (atomic, no links followed, stale files removed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sigma_lambda_layer.results import ConversionResult, ConversionResults

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


def relative_output_path(result: ConversionResult) -> PurePosixPath:
    """``<target>/<rule-stem>.<ext>``, before collisions are made unique (:func:`unique_output_paths`)."""
    if result.path and not result.path.startswith("<"):
        stem = safe_stem(Path(result.path).stem)
    else:
        stem = safe_stem(result.id or result.title or "rule")
    return PurePosixPath(
        safe_stem(result.target), f"{stem}.{extension(result.target, result.format, result.output)}"
    )


def output_path(output_dir: Path, result: ConversionResult) -> Path:
    return output_dir / relative_output_path(result)


def unique_output_paths(results: Sequence[ConversionResult]) -> tuple[dict[int, PurePosixPath], int]:
    """Each converted result's file (by index in ``results``), no two alike, and how many were renamed.

    Two rules with one file stem (one file with several rules, or equal names in two folders) must not write
    one file: the later one gets ``-<id>`` appended, or ``-2``, ``-3``... when the id is missing or taken too.
    Names are compared case-insensitively, as the file systems of macOS and Windows compare them.
    """
    used: set[str] = set()
    paths: dict[int, PurePosixPath] = {}
    renamed = 0
    for index, result in enumerate(results):
        if not result.ok:
            continue
        path = base = relative_output_path(result)
        if str(path).lower() in used:
            renamed += 1
            stem = f"{base.stem}-{safe_stem(result.id)}" if result.id else base.stem
            path = base.with_name(f"{stem}{base.suffix}")
            number = 2
            while str(path).lower() in used:
                path = base.with_name(f"{stem}-{number}{base.suffix}")
                number += 1
        used.add(str(path).lower())
        paths[index] = path
    return paths, renamed


def bundle_path(output_dir: Path, target: str, fmt: str, output: object) -> Path:
    return output_dir / relative_bundle_path(target, fmt, output)


def relative_bundle_path(target: str, fmt: str, output: object) -> PurePosixPath:
    """Where a target's whole-batch output goes (``_savedsearches.conf``, ``_rules.ndjson``, ``_bundle.*``).

    The leading underscore keeps bundles apart from per-rule files, whose stems never start with one.
    """
    ext = extension(target, fmt, output)
    name = {"conf": "savedsearches", "ndjson": "rules"}.get(ext, "bundle")
    return PurePosixPath(safe_stem(target), f"_{name}.{ext}")


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
            # U+2028/U+2029 end a line for JavaScript and many line readers: escaped (valid JSON either way).
            return "".join(_line_safe(json.dumps(o, ensure_ascii=False)) + "\n" for o in parsed)
        return json.dumps(parsed[0] if len(parsed) == 1 else parsed, indent=2, ensure_ascii=False)
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(o, str) for o in output):
        return "\n".join(output)
    return json.dumps(output, indent=2, sort_keys=False, ensure_ascii=False)


def _line_safe(text: str) -> str:
    """JSON text without raw U+2028/U+2029 (they only occur inside strings, where the escape means the same)."""
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@dataclass
class WrittenFiles:
    """What writing the ``--output-dir`` layout did: the ``--report`` document's ``output_dir`` section."""

    folder: str
    #: index of a result in the batch -> its file (relative to the folder, ``/`` separators).
    files: dict[int, str] = field(default_factory=dict)
    bundles: list[str] = field(default_factory=list)
    #: how many files got a suffix because another rule had their name.
    renamed: int = 0
    #: the last run's files this run did not write again (their rule now fails, is skipped, or is gone).
    removed: list[str] = field(default_factory=list)
    #: files that could not be written, with the reason.
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "written": len(self.files) + len(self.bundles),
            "renamed": self.renamed,
            "removed": self.removed,
            "failed": self.failed,
        }

    def summary_line(self) -> str:
        parts = [f"wrote {len(self.files)} file(s) and {len(self.bundles)} bundle(s) under {self.folder}"]
        if self.renamed:
            parts.append(f"{self.renamed} renamed (rules sharing a file name)")
        if self.removed:
            parts.append(f"{len(self.removed)} stale file(s) removed")
        if self.failed:
            parts.append(f"{len(self.failed)} could not be written")
        return ", ".join(parts)


def write_output_dir(folder: Path, results: ConversionResults) -> WrittenFiles:
    """One file per converted rule and target, plus each target's bundle, through the one safe writer.

    A file that cannot be written (a planted link, a full disk) is recorded and the others are still written;
    files the previous run wrote for these targets and this run did not are removed (see
    :mod:`sigma_lambda_layer.writer`). Raises :class:`OSError` only when the folder itself cannot be made.
    """
    from sigma_lambda_layer.writer import OutputFolder

    out = OutputFolder(folder, manifest=True)
    written = WrittenFiles(str(folder))
    paths, written.renamed = unique_output_paths(results)

    def put(relative: PurePosixPath, text: str) -> bool:
        try:
            out.write(
                relative, text if text.endswith("\n") or not text else text + "\n", group=relative.parts[0]
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            written.failed.append(
                {"file": relative.as_posix(), "error": f"{reason}: {exc.filename or relative}"}
            )
            return False
        return True

    for index, relative in paths.items():
        result = results[index]
        if put(relative, render(result.output, result.format)):
            written.files[index] = relative.as_posix()
    for target, batch_output in results.batch_outputs.items():
        if batch_output is not None:
            fmt = next(r.format for r in results if r.target == target)
            relative = relative_bundle_path(target, fmt, batch_output)
            if put(relative, render(batch_output, fmt)):
                written.bundles.append(relative.as_posix())
    groups = {safe_stem(r.target) for r in results}
    try:
        written.removed = out.finish(groups)
    except OSError as exc:
        written.failed.append({"file": ".sigma-lambda-manifest.json", "error": exc.strerror or str(exc)})
    return written
