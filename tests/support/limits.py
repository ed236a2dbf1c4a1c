"""A real "disk full" for tests: the process's file size limit (RLIMIT_FSIZE), which even root obeys.

A write past the limit fails with ``EFBIG`` (SIGXFSZ, which would kill the process, is ignored meanwhile), the
way a write fails on a full disk: in the middle of a file, after the file was opened and partly written.
"""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def limit_in_child(limit: int) -> None:
    """``preexec_fn`` of a subprocess that runs with a file size limit (SIGXFSZ ignored, inherited by exec)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
