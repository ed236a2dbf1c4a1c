"""The one way this tool writes a file: atomically, inside its output folder, never through a link.

Every file the commands write (``convert --output/--output-dir/--report``, ``docs``, ``check --sarif``) goes
through :class:`OutputFolder`. The folder the user names may itself be a link (their choice); below it, every
folder on the way to a file is opened with ``O_NOFOLLOW`` relative to its parent's descriptor, so a link
planted where a subfolder belongs (``out/splunk -> /etc``) is refused instead of followed, and a rename race
cannot redirect the write either. A file is written to a temporary file beside it (``O_EXCL | O_NOFOLLOW``) and
renamed over its place: a reader never sees half a file, a full disk leaves the previous file whole, and a link
standing where the file belongs is replaced by the file (what it pointed to is never touched).

An output folder also keeps a manifest (``.sigma-lambda-manifest.json``) of the files this tool wrote there,
per group (a ``convert`` target subfolder, the ``docs`` pages). :meth:`OutputFolder.finish` removes the files
of a group that the previous run wrote and this one did not (a rule that now fails, is skipped or was
deleted), and nothing else: hand-written files in the folder are never touched.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

MANIFEST = ".sigma-lambda-manifest.json"
_DIR_FDS = (
    os.open in os.supports_dir_fd
    and os.replace in os.supports_dir_fd
    and hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class UnsafeOutputPath(OSError):
    """A link or a file stands where a folder of the output belongs (or a name leaves the folder)."""


def _parts(relative: str | PurePosixPath) -> tuple[str, ...]:
    parts = PurePosixPath(relative).parts
    if (
        not parts
        or PurePosixPath(relative).is_absolute()
        or any(p in ("", ".", "..") or "\\" in p for p in parts)
    ):
        raise UnsafeOutputPath(errno.EINVAL, "not a file name inside the output folder", str(relative))
    return parts


def _data(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


class OutputFolder:
    """Files written under ``root``; see the module docstring for the guarantees."""

    def __init__(self, root: str | Path, *, manifest: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        #: group -> relative paths written this run (in order).
        self.written: dict[str, list[str]] = {}

    # --- folders ----------------------------------------------------------------------------------------

    def _open_folder(self, parts: tuple[str, ...], *, create: bool) -> int:
        """A descriptor of ``root/parts``, every component opened without following links."""
        fd = os.open(self.root, os.O_RDONLY | _DIRECTORY)
        try:
            for number, part in enumerate(parts):
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                try:
                    child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        where = self.root.joinpath(*parts[: number + 1])
                        raise UnsafeOutputPath(
                            exc.errno, "a link or a file stands where an output folder belongs", str(where)
                        ) from None
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_path_folders(self, parts: tuple[str, ...], *, create: bool) -> Path:
        """Without descriptor-relative calls (Windows): the same refusal by ``lstat``, component by component."""
        folder = self.root
        for part in parts:
            folder = folder / part
            if create and not os.path.lexists(folder):
                folder.mkdir()
            info = folder.lstat()
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
                raise UnsafeOutputPath(
                    errno.ELOOP, "a link or a file stands where an output folder belongs", str(folder)
                )
        return folder

    # --- files ------------------------------------------------------------------------------------------

    def write(
        self,
        relative: str | PurePosixPath,
        text: str | bytes,
        *,
        group: str = "",
        only_if_changed: bool = False,
    ) -> Path:
        """Write ``root/relative`` atomically; with ``only_if_changed`` equal bytes leave the file (and its
        modification time) alone. Raises :class:`OSError` (:class:`UnsafeOutputPath` for a planted link)."""
        parts = _parts(relative)
        data = _data(text)
        if _DIR_FDS:
            folder = self._open_folder(parts[:-1], create=True)
            try:
                self._write_at(folder, parts[-1], data, only_if_changed)
            finally:
                os.close(folder)
        else:
            self._write_by_path(
                self._check_path_folders(parts[:-1], create=True) / parts[-1], data, only_if_changed
            )
        self.written.setdefault(group, []).append(PurePosixPath(*parts).as_posix())
        return self.root.joinpath(*parts)

    @staticmethod
    def _write_at(folder: int, name: str, data: bytes, only_if_changed: bool) -> None:
        try:
            info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "a folder stands where an output file belongs", name)
        if only_if_changed and info is not None and stat.S_ISREG(info.st_mode) and info.st_size == len(data):
            with (
                contextlib.suppress(OSError),
                os.fdopen(os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=folder), "rb") as old,
            ):
                if old.read() == data:
                    return
        tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            raise

    @staticmethod
    def _write_by_path(path: Path, data: bytes, only_if_changed: bool) -> None:
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "a folder stands where an output file belongs", str(path))
        if only_if_changed and path.is_file() and not path.is_symlink() and path.read_bytes() == data:
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "xb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _remove(self, relative: str) -> bool:
        """Remove a regular file this tool wrote (never through a link); whether it went."""
        try:
            parts = _parts(relative)
            if _DIR_FDS:
                folder = self._open_folder(parts[:-1], create=False)
                try:
                    if not stat.S_ISREG(os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode):
                        return False
                    os.unlink(parts[-1], dir_fd=folder)
                finally:
                    os.close(folder)
            else:
                path = self._check_path_folders(parts[:-1], create=False) / parts[-1]
                if path.is_symlink() or not path.is_file():
                    return False
                path.unlink()
        except OSError:
            return False
        return True

    # --- the manifest -----------------------------------------------------------------------------------

    def _previous(self) -> dict[str, list[str]]:
        """The last run's manifest, or nothing when it is missing or not what this module writes."""
        try:
            if _DIR_FDS:
                folder = self._open_folder((), create=False)
                try:
                    fd = os.open(MANIFEST, os.O_RDONLY | _NOFOLLOW, dir_fd=folder)
                finally:
                    os.close(folder)
            else:
                fd = os.open(self.root / MANIFEST, os.O_RDONLY)
            with os.fdopen(fd, "rb") as handle:
                data = json.loads(handle.read(64 * 1024 * 1024))
        except (OSError, ValueError, RecursionError):
            return {}
        files = data.get("files") if isinstance(data, dict) and data.get("format") == 1 else None
        if not isinstance(files, dict):
            return {}
        return {
            group: [p for p in paths if isinstance(p, str)]
            for group, paths in files.items()
            if isinstance(group, str) and isinstance(paths, list)
        }

    def finish(self, groups: Iterable[str]) -> list[str]:
        """Remove what the last run wrote in ``groups`` and this run did not; record this run's files.

        Returns the removed files (relative paths). Groups this run did not name keep their files and their
        manifest lines (``convert -t splunk`` then ``-t lucene`` into one folder keeps both targets).
        """
        previous = self._previous()
        owned = set(groups)
        removed: list[str] = []
        for group in owned:
            now = {p.lower() for p in self.written.get(group, [])}
            for relative in previous.get(group, []):
                if relative.lower() not in now and relative != MANIFEST and self._remove(relative):
                    removed.append(relative)
        files = {g: paths for g, paths in previous.items() if g not in owned}
        files.update({g: sorted(set(self.written.get(g, []))) for g in owned})
        document = {"format": 1, "tool": "sigma-lambda", "files": dict(sorted(files.items()))}
        self.write(MANIFEST, json.dumps(document, indent=1) + "\n", group="\0manifest")
        return removed


def write_file(path: str | Path, text: str | bytes) -> Path:
    """One file on its own (``--output``, ``--report``, ``--sarif``): atomic, in its folder (created)."""
    target = Path(path)
    return OutputFolder(target.parent).write(target.name, text)
