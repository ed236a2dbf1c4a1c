"""The conversion cache: a best-effort layer that trusts nothing it reads and can never stop a run.

A unit's outcome (a rule file's results for every target) depends on three things: the unit's bytes, the
conversion settings, and the code that converts. The cache key holds all three: the settings hash covers the
targets, format, options, pipelines (a pipeline file by its content) and filters; the code digest covers every
file of this package (code and data, by content, hashed once per process) and the versions of pySigma and the
upstream backends. A patched package, even one that keeps its version string, never meets its old entries.

Each entry is one JSON file ``<folder>/v3/<settings-hash>/<unit-hash>.json`` written by temporary file and
rename, so concurrent runs never see half an entry and the last writer wins harmlessly (both wrote the same
outcome). On read an entry must be exactly the shape a run writes and must name the key it is filed under;
anything else (bad JSON, wrong shape or types, another key, an oversized file) is a miss. The folder must be
ours: created ``0700``, owned by the current user and writable by nobody else, or it is not used at all
(docs/hostile-input.md explains why and where this stops). Every failure (no ``HOME``, a read-only or full
disk, a path under a file, a foreign folder) disables the cache for the rest of the run with one
:class:`CacheWarning`; the conversion goes on without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import stat
import warnings
from dataclasses import asdict
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sigma_lambda_layer.conversion import Config

#: Version of the entries' layout (3: one file per unit, bound to its key, under a code digest).
CACHE_FORMAT = 3
#: The cache's size bound: past it, the oldest entries are removed until it holds three quarters of it.
MAX_BYTES = 256 * 1024 * 1024
#: An entry larger than this is not read (no rule file's outcome comes near it).
MAX_ENTRY_BYTES = 16 * 1024 * 1024
#: The distributions whose code decides an outcome besides this package's own files.
_DISTRIBUTIONS = ("pysigma", "pysigma-backend-splunk", "pysigma-backend-elasticsearch")
_PACKAGE = Path(__file__).resolve().parent
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_ENTRY_KEYS = {"format", "key", "settings", "outcome"}


class CacheWarning(UserWarning):
    """The cache could not be used (and the run went on without it)."""


def default_folder() -> Path | None:
    """``$XDG_CACHE_HOME/sigma-lambda`` or ``~/.cache/sigma-lambda``; ``None`` when there is no home folder."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "sigma-lambda"
    try:
        return Path.home() / ".cache" / "sigma-lambda"
    except (RuntimeError, KeyError):  # no HOME and no password entry
        return None


@cache
def code_digest() -> str:
    """A digest of every file of this package (path and content) and of the upstream versions.

    Content, not modification times: a checkout, a copy or a reinstall changes times but not meaning, and a
    patch that keeps the size must still count. Hashing the package (0.75 MB, 74 files) takes 10 to 30 ms,
    once per process.
    """
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(_PACKAGE):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder, name)
            digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"\1unreadable")
            digest.update(b"\0")
    for name in _DISTRIBUTIONS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name}={version}\0".encode())
    return digest.hexdigest()


def settings_key(config: Config) -> str:
    """The hash of everything besides a unit's bytes that decides its outcome (settings and code)."""
    pipelines = []
    for ref in config.pipelines:
        path = Path(ref)
        try:
            content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        except OSError:
            content = "unreadable"
        pipelines.append([ref, content])
    blob = json.dumps(
        {"cache": CACHE_FORMAT, "config": asdict(config), "pipelines": pipelines, "code": code_digest()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def unit_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the shape of an entry ----------------------------------------------------------------------------------

_OPTIONAL_STR = (str, type(None))
_OPTIONAL_INT = (int, type(None))
_ERROR_FIELDS: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "message": (str,),
    "path": _OPTIONAL_STR,
    "line": _OPTIONAL_INT,
    "column": _OPTIONAL_INT,
    "hint": _OPTIONAL_STR,
}
_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "id": _OPTIONAL_STR,
    "title": _OPTIONAL_STR,
    "target": (str,),
    "format": (str,),
}


def _valid_error(error: Any) -> bool:
    if not isinstance(error, dict) or not {"type", "message"} <= set(error) <= set(_ERROR_FIELDS):
        return False
    return all(
        isinstance(error.get(name), kinds) and not isinstance(error.get(name), bool)
        for name, kinds in _ERROR_FIELDS.items()
    )


def _plain(value: Any, depth: int = 0) -> bool:
    """JSON data without surprises: what ``json.loads`` gives, nested no deeper than a query's output is."""
    if depth > 32:
        return False
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _valid_result(result: Any, config: Config) -> bool:
    if not isinstance(result, dict) or set(result) != {*_RESULT_FIELDS, "output", "queries", "error"}:
        return False
    if not all(isinstance(result[name], kinds) for name, kinds in _RESULT_FIELDS.items()):
        return False
    if result["target"] not in config.targets or result["format"] != config.format:
        return False
    if result["error"] is not None:
        return _valid_error(result["error"]) and result["output"] is None
    queries = result["queries"]
    return (
        result["output"] is not None
        and _plain(result["output"])
        and isinstance(queries, list)
        and _plain(queries)
    )


def valid_outcome(data: Any, config: Config) -> bool:
    """Whether ``data`` is exactly what a run stores for one unit under ``config`` (see batch._to_data)."""
    return (
        isinstance(data, dict)
        and set(data) == {"path", "errors", "results"}
        and isinstance(data["path"], _OPTIONAL_STR)
        and isinstance(data["errors"], list)
        and all(_valid_error(e) for e in data["errors"])
        and isinstance(data["results"], list)
        and all(_valid_result(r, config) for r in data["results"])
    )


# --- the folder ---------------------------------------------------------------------------------------------


def _refuse_foreign(path: Path, *, follow: bool) -> None:
    """Raise when ``path`` is not a folder of ours that nobody else can write (ownership checked on POSIX).

    ``follow``: the folder the user named may be a link (what it names must be ours); the folders below it,
    which this module creates, must be real folders.
    """
    info = os.stat(path) if follow else os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{path} is not a folder")
    if os.name == "posix":
        if info.st_uid != os.getuid():
            raise PermissionError(f"{path} belongs to another user")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(f"{path} is writable by other users (chmod go-w to use it)")


def _own_folder(path: Path, *, follow: bool = False, tighten: bool = False) -> None:
    """Create ``path`` (mode 0700) if missing, then check it is ours alone.

    ``tighten``: the default folder, which earlier versions created with the umask's mode (``0775`` where the
    umask is ``002``), is made ``0700`` when it is ours, rather than refused on every run. Nothing it held
    before is trusted: this layout's entries live in a ``v3`` folder that must be ours as well.
    """
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    if tighten and os.name == "posix":
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o022:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
    _refuse_foreign(path, follow=follow)


class Cache:
    """Read and write one settings hash's entries under ``folder``; every failure is a miss or a warning."""

    def __init__(self, folder: Path, config: Config, max_bytes: int | None = None) -> None:
        self.folder = folder
        self.config = config
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self.enabled = True
        self.written = 0
        self.entries: Path | None = None
        self.settings = ""
        try:
            _own_folder(folder, follow=True, tighten=folder == default_folder())
            version = folder / f"v{CACHE_FORMAT}"
            _own_folder(version)
            self.settings = settings_key(config)
            self.entries = version / self.settings
            _own_folder(self.entries)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            self.disable(exc if isinstance(exc, OSError) else str(exc))

    def disable(self, reason: OSError | str) -> None:
        """Stop using the cache for this run, with one warning saying why."""
        if not self.enabled:
            return
        self.enabled = False
        text = reason if isinstance(reason, str) else _describe(reason)
        warnings.warn(f"cache not used ({text}); converting without it", CacheWarning, stacklevel=2)

    def _entry(self, key: str) -> str | None:
        # Plain strings: a re-run over thousands of files spends its time here (pathlib costs a third more).
        return (
            os.path.join(self.entries, f"{key}.json") if self.enabled and self.entries is not None else None
        )

    def get(self, data: bytes) -> dict[str, Any] | None:
        """The stored outcome of a unit with these bytes, or ``None`` (a miss) when anything is off."""
        key = unit_key(data)
        path = self._entry(key)
        if path is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        except OSError:
            return None  # missing, a link, or unreadable: a miss
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
                return None
            raw = os.read(fd, info.st_size + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        if len(raw) != info.st_size:  # changed while read (another run replacing it): a miss
            return None
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if (
            not isinstance(entry, dict)
            or entry.keys() != _ENTRY_KEYS
            or entry["format"] != CACHE_FORMAT
            or entry["key"] != key
            or entry["settings"] != self.settings
            or not valid_outcome(entry["outcome"], self.config)
        ):
            return None
        outcome: dict[str, Any] = entry["outcome"]
        return outcome

    def put(self, data: bytes | None, outcome: dict[str, Any]) -> None:
        """Store the outcome of a unit with these bytes (none for objects), atomically; a failure disables
        the cache."""
        if data is None:
            return
        key = unit_key(data)
        path = self._entry(key)
        if path is None or not valid_outcome(outcome, self.config):
            return
        entry = {"format": CACHE_FORMAT, "key": key, "settings": self.settings, "outcome": outcome}
        try:
            text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            return
        tmp = os.path.join(os.path.dirname(path), f".{key}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
            with os.fdopen(os.open(tmp, flags, 0o600), "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
            self.written += 1
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self.disable(exc)

    def finish(self) -> None:
        """After a run that stored entries: keep the whole cache under its size bound."""
        if self.enabled and self.written:
            try:
                prune(self.folder, self.max_bytes)
            except OSError as exc:
                self.disable(exc)


def _describe(error: OSError) -> str:
    if error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def _entry_files(folder: Path) -> list[tuple[float, int, Path]]:
    found = []
    for version in folder.glob("v*"):
        if not version.is_dir() or version.is_symlink():
            continue
        for settings in version.iterdir():
            if settings.is_symlink() or not settings.is_dir():
                continue
            for entry in settings.iterdir():
                with contextlib.suppress(OSError):
                    info = entry.lstat()
                    if stat.S_ISREG(info.st_mode):
                        found.append((info.st_mtime, info.st_size, entry))
    return found


def prune(folder: Path, max_bytes: int) -> int:
    """Remove the oldest entries while the cache holds more than ``max_bytes``; returns how many went."""
    files = _entry_files(folder)
    total = sum(size for _, size, _ in files)
    if total <= max_bytes:
        return 0
    removed = 0
    for _, size, path in sorted(files):
        if total <= max_bytes * 3 // 4:
            break
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
        total -= size
    return removed


def clear(folder: Path) -> int:
    """Remove every cache layout this tool wrote under ``folder`` (``v<N>`` folders); returns how many.

    Only the tool's own layout goes: a ``--cache-dir`` pointed at a folder that holds other files keeps them.
    """
    removed = 0
    if not folder.is_dir():
        return 0
    for version in folder.iterdir():
        if version.name.startswith("v") and version.name[1:].isdigit():
            if version.is_symlink() or not version.is_dir():
                version.unlink()
            else:
                shutil.rmtree(version)  # does not follow links inside (fd-based on POSIX)
            removed += 1
    return removed
