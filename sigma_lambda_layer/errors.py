"""Typed errors.

Every error sigma-lambda raises derives from pySigma's :class:`~sigma.exceptions.SigmaError`, so a caller that
already catches pySigma errors catches ours too. Each carries the rule file, line and column where they are
known, and renders like a compiler diagnostic: ``path:line:col: message`` followed by a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma.exceptions import SigmaError


@dataclass(frozen=True)
class Location:
    """Where in a rule file a problem sits. ``line`` and ``column`` are 1-based, ``None`` when unknown."""

    path: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class SigmaLambdaError(SigmaError):
    """Base class of sigma-lambda's own errors."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        source: Any | None = None,
    ) -> None:
        super().__init__(message, source=source)
        self.message = message
        self.location = location or Location()
        self.hint = hint

    def __str__(self) -> str:
        where = self.location
        text = self.message if where.path is None and where.line is None else f"{where}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the ``--json`` contract."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "line": self.location.line,
            "column": self.location.column,
            **({"hint": self.hint} if self.hint else {}),
        }


class UsageError(SigmaLambdaError):
    """The caller asked for something that does not exist (unknown target, format, pipeline or option)."""


class RuleLoadError(SigmaLambdaError):
    """A rule file could not be read or parsed as a Sigma rule."""


class ConversionError(SigmaLambdaError):
    """A rule was parsed but could not be converted for a target."""


class UnsupportedFieldError(ConversionError):
    """A rule uses a field that the target's CloudTrail mapping cannot express."""


class UnsupportedConstructError(ConversionError):
    """A rule uses a Sigma construct the target cannot express without changing the rule's meaning."""


def is_unsupported(exc: BaseException | None) -> bool:
    """Does ``exc`` (or an exception it was raised from) say the target cannot express a construct or field,
    rather than report a defect? Accepts our errors and pySigma's ``SigmaFeatureNotSupportedByBackendError``."""
    from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(
            exc, (SigmaFeatureNotSupportedByBackendError, UnsupportedConstructError, UnsupportedFieldError)
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def path_str(path: Path | str | None) -> str | None:
    return None if path is None else str(path)
