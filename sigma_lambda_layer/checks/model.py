"""Findings (``Finding``), their severity (``Severity``) and what the caller wants (``CheckConfig``)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma_lambda_layer.errors import Location


@enum.unique
class Severity(enum.Enum):
    """Ordered: ``INFO < WARNING < ERROR``, so ``--fail-on warning`` means "warning or worse"."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``"warning"`` -> ``Severity.WARNING``; raises ``ValueError`` naming the valid levels."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown severity {text!r}; expected one of: info, warning, error") from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def _command_data(value: object) -> str:
    """A GitHub workflow command's message: ``%``, CR and LF escaped, so no text ends the command
    (actions/toolkit, ``command.ts`` ``escapeData``)."""
    return str(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _command_property(value: object) -> str:
    """A workflow command's property value (``file=``): also ``:`` and ``,`` (``escapeProperty``), which
    would end the properties or start another; a newline in a file name printed ``::stop-commands::``."""
    return _command_data(value).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Finding:
    """One problem in one rule, located like a compiler diagnostic (1-based line and column)."""

    check: str
    severity: Severity
    message: str
    hint: str | None = None
    path: str | None = None
    line: int | None = None
    column: int | None = None
    rule_id: str | None = None
    rule_title: str | None = None

    def __post_init__(self) -> None:
        # pySigma keeps a malformed rule's title or id as written (``title: [a, b]``): a finding carries them
        # only as text, so that it stays hashable and JSON-ready whatever the rule held.
        for name in ("rule_id", "rule_title"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, None)

    def location(self) -> str:
        return str(Location(self.path, self.line, self.column))

    def __str__(self) -> str:
        text = f"{self.location()}: {self.severity.value}: {self.message} [{self.check}]"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path or "", self.line or 0, self.column or 0, self.check, self.message)

    def github_annotation(self) -> str:
        """The finding as a GitHub Actions workflow command, shown inline on the pull request (an ``info``
        finding is a ``notice``)."""
        level = {"error": "error", "warning": "warning"}.get(self.severity.value, "notice")
        where = (("file", self.path), ("line", self.line), ("col", self.column))
        props = ",".join(f"{k}={_command_property(v)}" for k, v in where if v is not None)
        text = _command_data(f"[{self.check}] {self.message}")
        return f"::{level} {props}::{text}" if props else f"::{level}::{text}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every field (``severity`` as its lower-case name)."""
        return {
            "check": self.check,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
        }


def summary_line(findings: Iterable[Finding]) -> str:
    """``checked: 2 error, 1 warning`` (counts by severity, by name), as ``sigma-lambda check`` ends."""
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no findings"
    return f"checked: {summary}"


@dataclass(frozen=True)
class CheckConfig:
    """What to run and what fails the run.

    * ``exclude``: check ids never run (e.g. ``"sigmahq_title_case"``, ``"cloudtrail_field_name"``).
    * ``suppress``: rule id (the rule's ``id:`` UUID, or its path as given) -> check ids silenced for that
      rule; ``"all"`` silences every check. Rules can also carry their own ``# sigma-lambda: ignore[...]``
      comments (see ``docs/check.md``).
    * ``fail_on``: the lowest severity that makes :meth:`failed` true; ``None`` never fails.
    """

    exclude: frozenset[str] = frozenset()
    suppress: Mapping[str, frozenset[str]] = field(default_factory=dict)
    fail_on: Severity | None = Severity.ERROR

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckConfig:
        """From a parsed config file: ``{exclude: [...], suppress: {rule: [...]}, fail_on: "warning"}``."""
        unknown = set(data) - {"exclude", "suppress", "fail_on"}
        if unknown:
            raise ValueError(f"unknown check configuration keys: {', '.join(sorted(unknown))}")
        fail_on = data.get("fail_on", "error")
        suppress = data.get("suppress") or {}
        return cls(
            exclude=frozenset(_as_list(data.get("exclude"))),
            suppress={str(rule): frozenset(_as_list(checks)) for rule, checks in suppress.items()},
            fail_on=None if fail_on in (None, "never", "none") else Severity.parse(str(fail_on)),
        )

    def is_suppressed(self, finding: Finding) -> bool:
        for key in (finding.rule_id, finding.path):
            if key is not None and key in self.suppress:
                checks = self.suppress[key]
                if "all" in checks or finding.check in checks:
                    return True
        return False

    def failed(self, findings: Iterable[Finding]) -> bool:
        """True when any finding is at least ``fail_on`` severe: the CLI's non-zero exit."""
        return self.fail_on is not None and any(f.severity >= self.fail_on for f in findings)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
