"""Finding CloudTrail log files and reading the ones DuckDB cannot, with located errors.

The fast path is DuckDB's ``read_json_objects`` (see :mod:`.scan`): it reads gzip and plain JSON, CloudTrail's
``{"Records": [...]}`` files, JSON lines and concatenated objects (Kinesis Data Firehose writes objects back to
back). What it cannot read, this module reads in Python, record by record, so that a corrupt gzip, a truncated
object or a non-JSON line becomes an error naming the file and line while every good record of the file is still
scanned: the good records are written to a clean JSON-lines file in a temporary folder, which the fast path
then reads in place of the original. CloudWatch Logs export files (``aws logs create-export-task``: one
``<timestamp> <message>`` line per event) always take this path.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from sigma_lambda_layer.errors import Location, SigmaLambdaError

#: Folders of an S3 CloudTrail bucket that hold no events (signed digests of the log files).
SKIPPED_FOLDERS = frozenset({"CloudTrail-Digest"})
_GZIP_MAGIC = b"\x1f\x8b"
#: A CloudWatch Logs export line: an ISO 8601 timestamp, a space, the message.
_EXPORT_PREFIX = re.compile(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z? ")
#: In folders, files with these endings are read; so are files without an extension (Kinesis Data Firehose
#: names its objects without one). Other files (a README, a manifest) are counted in a note, not read.
LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz", ".log", ".log.gz")
#: After this many errors in one file the rest of it is not reported line by line.
MAX_ERRORS_PER_FILE = 10
#: Records of stdin are spooled to files of this many lines, so that stdin streams in bounded batches.
STDIN_CHUNK_LINES = 50_000


def iso_moment(value: Any) -> datetime | None:
    """An ISO 8601 time (a date, or a date and time; ``Z`` or ``z`` for UTC, UTC unless an offset is given),
    or None if ``value`` is not one: ``--since``/``--until`` and the native engine's window on ``eventTime``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


class LogInputError(SigmaLambdaError):
    """A log file, or a line or record of one, could not be read as CloudTrail records."""


@dataclass(frozen=True)
class LogFile:
    """One input file: ``name`` as the user gave it (reports), ``path`` the file DuckDB reads."""

    name: str
    path: Path
    size: int
    gzip: bool
    #: the file must go through the Python reader (CloudWatch export lines, or a file DuckDB refused)
    slow: bool = False


@dataclass
class Inputs:
    files: list[LogFile] = field(default_factory=list)
    errors: list[LogInputError] = field(default_factory=list)
    #: what was left out on purpose (digest folders), for the summary
    notes: list[str] = field(default_factory=list)


def _head(path: Path, start: bytes, gz: bool) -> bytes:
    """The first non-blank bytes of the (decompressed) file; empty if it has none, ``?`` if it cannot be
    read (the Python reader will say why, with the position). ``start``: its first bytes on disk."""
    try:
        text = start
        if gz:  # the start inflated: enough for 4 KiB in all but odd files, which are read as a stream
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            text = inflate.decompress(start, 4096)
            if len(text) < 4096 and not inflate.eof and len(start) < _HEAD_BYTES:
                return b"?"  # truncated
            if len(text) < 4096 and (inflate.unused_data or not inflate.eof):
                with gzip.open(path, "rb") as handle:
                    text = handle.read(4096)
        return text[:4096].lstrip()[:64]
    except (OSError, EOFError, zlib.error):
        return b"?"


#: How much of a file :func:`_log_file` reads to tell its kind.
_HEAD_BYTES = 1 << 16


def _log_file(name: str, path: Path) -> LogFile | LogInputError:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = handle.read(_HEAD_BYTES)
    except OSError as error:
        return LogInputError(f"cannot read the file: {error.strerror or error}", location=Location(name))
    if size == 0:
        return LogInputError("empty file: no CloudTrail records", location=Location(name))
    gz = start[:2] == _GZIP_MAGIC
    head = _head(path, start, gz)
    if not head:
        return LogInputError(
            "the file holds only white space: no CloudTrail records", location=Location(name)
        )
    return LogFile(name, path, size, gz, slow=not head.startswith((b"{", b"[")))


def discover(paths: Sequence[str | Path], spool: Path) -> Inputs:
    """Every log file under ``paths`` (files, folders searched recursively, ``-`` for stdin)."""
    found = Inputs()
    skipped = others = 0
    for given in paths:
        if str(given) == "-":
            found.files.extend(_spool_stdin(sys.stdin.buffer, spool))
            continue
        root = Path(given)
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                kept = sorted(d for d in dirnames if not d.startswith("."))
                skipped += sum(1 for d in kept if d in SKIPPED_FOLDERS)
                dirnames[:] = [d for d in kept if d not in SKIPPED_FOLDERS]
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    if name.lower().endswith(LOG_SUFFIXES) or "." not in name:
                        _add(found, Path(dirpath) / name)
                    else:
                        others += 1
        elif root.exists():
            _add(found, root)
        else:
            found.errors.append(LogInputError("no such file or folder", location=Location(str(given))))
    if others:
        found.notes.append(
            f"{others} file(s) in the folders not read: not named like a log file ({', '.join(LOG_SUFFIXES)} "
            "or no extension); name them on the command line to read them"
        )
    if skipped:
        found.notes.append(f"{skipped} CloudTrail-Digest folder(s) skipped (digest files hold no events)")
    return found


def _add(found: Inputs, path: Path) -> None:
    entry = _log_file(str(path), path)
    if isinstance(entry, LogInputError):
        found.errors.append(entry)
    else:
        found.files.append(entry)


def _spool_stdin(stream: BinaryIO, spool: Path) -> Iterator[LogFile]:
    """Stdin as files of at most :data:`STDIN_CHUNK_LINES` lines (JSON lines, or one Records document)."""
    data = stream.read(1 << 16)
    if data.startswith(_GZIP_MAGIC):  # a gzip piped in: decompress as a stream
        stream = gzip.GzipFile(fileobj=_Prefixed(data, stream), mode="rb")  # type: ignore[call-overload]
        data = b""
    part = 0
    buffer = [data] if data else []
    lines = data.count(b"\n")
    while True:
        chunk = stream.read(1 << 20)
        if chunk:
            buffer.append(chunk)
            lines += chunk.count(b"\n")
        if (lines >= STDIN_CHUNK_LINES or not chunk) and buffer:
            blob = b"".join(buffer)
            cut = blob.rfind(b"\n") + 1 if chunk else len(blob)
            if cut == 0:
                cut = len(blob)
            part += 1
            target = spool / f"stdin-{part:05d}.json"
            target.write_bytes(blob[:cut])
            entry = _log_file("<stdin>" if part == 1 and not chunk else f"<stdin part {part}>", target)
            if isinstance(entry, LogFile):
                yield entry
            buffer = [blob[cut:]] if blob[cut:] else []
            lines = buffer[0].count(b"\n") if buffer else 0
        if not chunk:
            return


class _Prefixed:
    """A read-only stream: some bytes already read, then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self.prefix, self.stream = prefix, stream

    def read(self, n: int = -1) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix[:n] if n >= 0 else self.prefix, self.prefix[n:] if n >= 0 else b""
            return out
        return self.stream.read(n)


# --------------------------------------------------------------------------------------- the Python reader


def unwrap(document: Any) -> list[Any] | None:
    """The CloudTrail records a JSON document holds, or None if it is itself a record (or not a container).

    The same cases as the SQL in :mod:`.scan`: a JSON array, CloudTrail's ``Records``, a CloudWatch Logs
    subscription payload (``logEvents[].message``, ``DATA_MESSAGE`` only), ``aws logs filter-log-events``
    output (``events[].message``), an EventBridge event of CloudTrail (``detail``).
    """
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("Records"), list):
        return list(document["Records"])
    if isinstance(document.get("logEvents"), list):
        if document.get("messageType") != "DATA_MESSAGE":
            return []
        return [_message(e) for e in document["logEvents"]]
    if isinstance(document.get("events"), list) and "eventName" not in document:
        return [_message(e) for e in document["events"]]
    if document.get("detail-type") == "AWS API Call via CloudTrail" and isinstance(
        document.get("detail"), dict
    ):
        return [document["detail"]]
    return None


def _message(event: Any) -> Any:
    message = event.get("message") if isinstance(event, dict) else None
    return json.loads(message) if isinstance(message, str) else message


def _read_bytes(file: LogFile, errors: list[LogInputError]) -> bytes:
    """The file's bytes, decompressed; a corrupt or truncated gzip keeps what came before the damage."""
    if not file.gzip:
        return file.path.read_bytes()
    out: list[bytes] = []
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with file.path.open("rb") as handle:
        raw = handle.read()
    position = 0
    try:
        while position < len(raw):
            out.append(decompressor.decompress(raw[position:]))
            position = len(raw) - len(decompressor.unused_data)
            if not decompressor.eof:
                errors.append(
                    LogInputError(
                        "truncated gzip: the file ends before the compressed stream does "
                        "(records before the cut are scanned)",
                        location=Location(file.name),
                    )
                )
                break
            if decompressor.unused_data.strip(b"\x00"):  # a further gzip member
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                break
    except zlib.error as error:
        errors.append(
            LogInputError(
                f"corrupt gzip data ({error}) after {sum(map(len, out))} decompressed bytes "
                "(records before the damage are scanned)",
                location=Location(file.name),
            )
        )
    return b"".join(out)


def read_records(file: LogFile) -> tuple[list[tuple[int, Any]], list[LogInputError]]:
    """Every record of ``file`` with its line, and a located error for everything that is not one."""
    errors: list[LogInputError] = []
    data = _read_bytes(file, errors)
    records: list[tuple[int, Any]] = []
    decoder = json.JSONDecoder()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        errors.append(
            LogInputError(
                f"not UTF-8 text (byte {error.start}): not a JSON log file",
                location=Location(file.name, line),
            )
        )
        text = data[: data.rfind(b"\n", 0, error.start) + 1].decode("utf-8", "replace")
    position, length = 0, len(text)
    while position < length:
        if len(errors) >= MAX_ERRORS_PER_FILE:
            errors.append(
                LogInputError(
                    f"more than {MAX_ERRORS_PER_FILE} errors: the rest of the file is not read",
                    location=Location(file.name, text.count("\n", 0, position) + 1),
                )
            )
            break
        while position < length and text[position] in " \t\r\n":
            position += 1
        if position >= length:
            break
        line = text.count("\n", 0, position) + 1
        prefix = _EXPORT_PREFIX.match(text[position : position + 40].encode("utf-8", "replace"))
        if prefix:
            position += len(prefix.group(0).decode("ascii"))
        try:
            document, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            errors.append(
                LogInputError(
                    f"not JSON: {error.msg} (column {error.colno})",
                    location=Location(file.name, error.lineno),
                )
            )
            nxt = text.find("\n", error.pos if error.pos > position else position)
            position = length if nxt < 0 else nxt + 1
            continue
        position = end
        try:
            inner = unwrap(document)
        except (json.JSONDecodeError, TypeError) as error:
            errors.append(
                LogInputError(f"a log event message is not JSON: {error}", location=Location(file.name, line))
            )
            continue
        for index, record in enumerate([document] if inner is None else inner, 1):
            if not isinstance(record, dict) or "eventName" not in record:
                where = "" if inner is None else f" (record {index} of the document)"
                errors.append(
                    LogInputError(
                        f"not a CloudTrail record: no eventName{where}", location=Location(file.name, line)
                    )
                )
                continue
            records.append((line, record))
    return records, errors


def repair(file: LogFile, spool: Path) -> tuple[LogFile | None, list[LogInputError]]:
    """Read ``file`` in Python; its good records become a clean JSON-lines file for the fast path."""
    records, errors = read_records(file)
    if not records:
        if not errors:
            errors.append(LogInputError("no CloudTrail records in the file", location=Location(file.name)))
        return None, errors
    handle, name = tempfile.mkstemp(suffix=".jsonl", dir=spool)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        for _, record in records:
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    path = Path(name)
    return LogFile(file.name, path, path.stat().st_size, gzip=False), errors


def locate_without_event_name(file: LogFile) -> list[LogInputError]:
    """The located errors for the records of ``file`` that lack ``eventName`` (found by the fast path)."""
    _, errors = read_records(file)
    return [e for e in errors if "eventName" in e.message] or [
        LogInputError("a record has no eventName: not a CloudTrail record", location=Location(file.name))
    ]
