"""Typed errors.

Every error sigma-lambda raises derives from pySigma's :class:`~sigma.exceptions.SigmaError`, so a caller that
already catches pySigma errors catches ours too. Each carries the rule file, line and column where they are
known, and renders like a compiler diagnostic: ``path:line:col: message`` followed by a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError


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

    def __repr__(self) -> str:
        """``UnsupportedFieldError('rules/x.yml:25:9', "field ...")``: where, then what (a list of errors in a
        notebook reads like the CLI's output)."""
        return f"{type(self).__name__}({str(self.location)!r}, {self.message!r})"

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


class _Refusal(ConversionError):
    """A target's refusal, with what it refuses as attributes, so that the API locates the YAML node from them
    (:func:`sigma_lambda_layer.loading.locate_refusal`) instead of reading words out of the message."""

    def __init__(
        self,
        message: str,
        *,
        construct: str | None = None,
        field: str | None = None,
        value: Any = None,
        location: Location | None = None,
        hint: str | None = None,
        source: Any | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint, source=source)
        #: the Sigma construct refused (``logsource``, ``|re``, ``|fieldref``, ``correlation``, ``query``, ...)
        self.construct = construct
        #: the field it is refused on: the rule's name, or the target's (the API maps it back through the
        #: pipeline's field mappings)
        self.field = field
        #: the value refused, as the rule writes it where known (a string, number or list of them)
        self.value = value


class UnsupportedFieldError(_Refusal):
    """A rule uses a field that the target's CloudTrail mapping cannot express."""


class UnsupportedConstructError(_Refusal, SigmaFeatureNotSupportedByBackendError):
    """A rule uses a Sigma construct the target cannot express without changing the rule's meaning.

    Also a pySigma ``SigmaFeatureNotSupportedByBackendError``: code that catches pySigma's "not supported"
    (sigma-cli, a notebook) catches ours.
    """


class OutOfScopeError(UnsupportedConstructError):
    """A rule whose log source is outside sigma-lambda's scope (not ``product: aws, service: cloudtrail``).

    Neither a defect of the rule nor a limit of the target: a mixed rules tree (SigmaHQ's) holds thousands. Its
    status is ``out_of_scope`` and it does not make ``convert``'s exit code 1 (docs/cli.md). Still an
    :class:`UnsupportedConstructError` for code that catches "not supported".
    """


_R = TypeVar("_R", bound=_Refusal)


def refusal(
    message: str,
    *,
    construct: str | None = None,
    field: str | None = None,
    value: Any = None,
    hint: str | None = None,
    kind: type[_R] = UnsupportedConstructError,  # type: ignore[assignment]
    source: Any | None = None,
) -> _R:
    """The error :func:`unsupported` raises, for helpers that build one for their caller to raise."""
    return kind(message, construct=construct, field=field, value=value, hint=hint, source=source)


def unsupported(
    message: str,
    *,
    construct: str | None = None,
    field: str | None = None,
    value: Any = None,
    hint: str | None = None,
    kind: type[_Refusal] = UnsupportedConstructError,
    source: Any | None = None,
) -> NoReturn:
    """Refuse what a target cannot express with the rule's meaning: the one path every refusal in backends/
    and pipelines/ takes (sqlglot's ``unsupported()``).

    Raises ``kind`` (:class:`UnsupportedConstructError`, or :class:`UnsupportedFieldError` or a subclass of
    either) carrying the construct, field and value, from which the API finds the rule's line and column.
    """
    raise refusal(message, construct=construct, field=field, value=value, hint=hint, kind=kind, source=source)


def is_out_of_scope(exc: BaseException | None) -> bool:
    """Is ``exc`` the refusal of a rule for its log source (:class:`OutOfScopeError`)?"""
    return isinstance(exc, OutOfScopeError)


def is_unsupported(exc: BaseException | None) -> bool:
    """Does ``exc`` (or an exception it was raised from) say the target cannot express a construct or field,
    rather than report a defect? Accepts our errors and pySigma's ``SigmaFeatureNotSupportedByBackendError``."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (SigmaFeatureNotSupportedByBackendError, UnsupportedFieldError)):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
