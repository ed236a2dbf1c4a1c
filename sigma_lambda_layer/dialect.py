"""What a backend class declares about itself, beside its syntax: its options and its output files.

sqlglot's habit: a dialect is one class that holds its tables. A backend lists its ``--option key=value``
options as ``options: ClassVar[tuple[BackendOption, ...]]`` (name, default, the check a value must pass, a
one-line doc) and the files of its output formats as ``format_files: ClassVar[dict[str, FormatFile]]`` (kind
and extension; the descriptions stay in pySigma's ``formats``). The registry (which options a target
accepts), ``--option`` checking in the API, rendering and the ``--output-dir`` layout, ``sigma-lambda list``
and the tables of docs/cli.md all read those declarations, so nothing can be known to one and not another.
This module imports nothing heavy: the registry and the CLI use it before pySigma is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sigma_lambda_layer.errors import UsageError

#: How a format's output is written: query text as it is, one JSON document, or one JSON object per line.
FormatKind = Literal["text", "json", "ndjson"]


@dataclass(frozen=True)
class FormatFile:
    """How one output format is written to a file: its kind (for rendering) and the file extension."""

    kind: FormatKind
    extension: str


#: What a format without a declaration writes: text in ``.txt``.
TEXT_FILE = FormatFile("text", "txt")


@dataclass(frozen=True)
class BackendOption:
    """One backend option. A ``name`` ending in ``.`` is a prefix (``action.`` accepts ``action.email.to``)."""

    name: str
    #: one line for ``list targets`` and the docs table
    doc: str
    #: the value used when the option is not given (``None``: no default, the option is off)
    default: str | None = None
    #: ``check(value)`` is true for a value the target accepts (each element of a repeated option)
    check: Callable[[str], bool] | None = None
    #: what a valid value looks like: the hint of the error for a refused one
    expected: str = ""
    #: the error's words before "option" (``invalid Splunk savedsearches option cron_schedule='x'``)
    subject: str = ""

    @property
    def is_prefix(self) -> bool:
        return self.name.endswith(".")

    @property
    def shown(self) -> str:
        """The name as the docs write it (``action.<...>`` for a prefix)."""
        return f"{self.name}<...>" if self.is_prefix else self.name

    def matches(self, key: str) -> bool:
        return key == self.name or (self.is_prefix and key.startswith(self.name))

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused (the hint), or ``None`` when every element passes the check."""
        if value is None:
            return None
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if self.check is not None and not self.check(str(item)):
                return self.expected or "see docs/cli.md"
        return None


def find(options: Iterable[BackendOption], key: str) -> BackendOption | None:
    """The declaration that accepts ``key``, if any."""
    return next((o for o in options if o.matches(key)), None)


def validate(options: Sequence[BackendOption], given: Mapping[str, Any], subject: str = "backend") -> None:
    """Refuse each given value its declaration's check refuses (a :class:`UsageError` naming it).

    Names no declaration accepts are left alone here: pySigma hands a backend every option of the command
    line, and the API refuses unknown names with the list of all targets' options.
    """
    for key, value in given.items():
        option = find(options, key)
        if option is not None and (hint := option.problem(value)) is not None:
            raise UsageError(f"invalid {option.subject or subject} option {key}={value!r}", hint=hint)


def truthy(value: Any) -> bool:
    """An on/off option value: ``1``, ``true``, ``yes``, ``on`` (any case) are on, anything else off."""
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def one_line(check: Callable[[str], bool] | None = None) -> Callable[[str], bool]:
    """A check: no line break in the value (a .conf value ends at the line end), and ``check`` if given."""
    return lambda value: "\n" not in value and "\r" not in value and (check is None or check(value))


def matching(pattern: str) -> Callable[[str], bool]:
    """A check: the whole value matches the regular expression ``pattern``."""
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def one_of(*choices: str) -> Callable[[str], bool]:
    """A check: the value is one of ``choices`` (exactly)."""
    return lambda value: value in choices


def whole_number(low: int = 0, high: int | None = None) -> Callable[[str], bool]:
    """A check: a decimal whole number in ``[low, high]``."""
    return lambda value: value.isdigit() and int(value) >= low and (high is None or int(value) <= high)
