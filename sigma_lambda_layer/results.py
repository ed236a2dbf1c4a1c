"""What a conversion gives back: one frozen :class:`ConversionResult` per rule and target, and the batch.

This module holds data, not machinery: it imports neither pySigma nor the conversion code, so the conversion
core (:mod:`sigma_lambda_layer.conversion`), the batch engine (:mod:`sigma_lambda_layer.batch`), the API and
the CLI all build on it without importing each other. A :class:`ConversionResult` is the one shape of an
outcome: the driver makes it, the cache stores and restores it, and :func:`sigma_lambda_layer.convert` returns
it. The summaries and the ``--report`` document are methods here, so a notebook gets what the CLI prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sigma_lambda_layer._version import __version__
from sigma_lambda_layer.display import ResultDisplay, ResultsDisplay
from sigma_lambda_layer.errors import SigmaLambdaError, is_out_of_scope, is_unsupported
from sigma_lambda_layer.outputs import WrittenFiles, render

#: A result's status in the ``--report`` document and the summaries.
Status = Literal["ok", "out_of_scope", "unsupported", "error"]


@dataclass(frozen=True)
class ConversionResult(ResultDisplay):
    """One rule converted (or not) for one target and format."""

    path: str | None
    id: str | None
    title: str | None
    target: str
    format: str
    #: The query string, or the structured object for structured formats (``None`` when ``error`` is set).
    output: Any = None
    error: SigmaLambdaError | None = None
    #: The backend's per-query values before batch finalisation (used to build batch outputs).
    queries: list[Any] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> Status:
        """``ok``, ``out_of_scope`` (a log source other than CloudTrail), ``unsupported`` (the target cannot
        express the rule) or ``error``."""
        if self.error is None:
            return "ok"
        if is_out_of_scope(self.error):
            return "out_of_scope"
        return "unsupported" if is_unsupported(self.error) else "error"

    def to_dict(self) -> dict[str, Any]:
        """The element of the ``--json`` array (a documented, stable contract)."""
        outcome = {"error": self.error.to_dict()} if self.error is not None else {"output": self.output}
        return {
            "path": self.path,
            "id": self.id,
            "title": self.title,
            "target": self.target,
            "format": self.format,
            **outcome,
        }

    def report_entry(self) -> dict[str, Any]:
        """The element of the ``--report`` document's ``results`` (stable keys, documented in docs/cli.md)."""
        return {
            "path": self.path,
            "id": self.id,
            "title": self.title,
            "target": self.target,
            "format": self.format,
            "status": self.status,
            **({"error": self.error.to_dict()} if self.error is not None else {}),
        }

    def __str__(self) -> str:
        if self.error is not None:
            return str(self.error)
        return self.output if isinstance(self.output, str) else json.dumps(self.output, indent=2)


class ConversionResults(ResultsDisplay, list[ConversionResult]):
    """The results of one :func:`convert` call, in rule order then target order."""

    def __init__(
        self, items: Sequence[ConversionResult] = (), batch_outputs: Mapping[str, Any] | None = None
    ):
        super().__init__(items)
        #: target id -> the whole batch finalised by that target's format (e.g. one savedsearches.conf).
        self.batch_outputs: dict[str, Any] = dict(batch_outputs or {})

    @property
    def errors(self) -> list[SigmaLambdaError]:
        return [r.error for r in self if r.error is not None]

    @property
    def ok(self) -> bool:
        return not self.errors

    def batch_text(self, target: str) -> str:
        """The batch output of ``target`` as text, ready to write to a file."""
        formats = {r.format for r in self if r.target == target}
        return render(self.batch_outputs.get(target), formats.pop() if len(formats) == 1 else "default")

    def text(self) -> str:
        """Every target's batch output as text (what ``sigma-lambda convert`` prints): with several targets,
        each under a ``# <target>`` line."""
        target_ids = list(dict.fromkeys(r.target for r in self))
        present = [t for t in target_ids if self.batch_outputs.get(t) is not None]
        if len(target_ids) > 1:
            parts = [f"# {t}\n{self.batch_text(t)}" for t in present]
        else:
            parts = [self.batch_text(t) for t in present]
        return "\n".join(p for p in parts if p)

    def summary(self) -> dict[str, int]:
        """Counts of rules, targets and results by status (the ``--report`` document's ``summary``)."""
        statuses = [r.status for r in self]
        return {
            "rules": len({(r.path, r.id, r.title) for r in self}),
            "targets": len({r.target for r in self}),
            "ok": statuses.count("ok"),
            "out_of_scope": statuses.count("out_of_scope"),
            "unsupported": statuses.count("unsupported"),
            "error": statuses.count("error"),
        }

    def summary_line(self) -> str:
        """The one-line summary ``sigma-lambda convert`` prints on standard error."""
        s = self.summary()
        scope = f", {s['out_of_scope']} out of scope" if s["out_of_scope"] else ""
        return (
            f"{s['rules']} rule(s) x {s['targets']} target(s): {s['ok']} converted{scope}, "
            f"{s['unsupported']} unsupported, {s['error']} failed"
        )

    def report(self, written: WrittenFiles | None = None) -> dict[str, Any]:
        """The ``--report`` document (stable keys, documented in docs/cli.md); with ``--output-dir``, each
        entry's ``file`` and the folder's ``output_dir`` section (written, renamed, removed, failed)."""
        entries = [r.report_entry() for r in self]
        if written is not None:
            for index, entry in enumerate(entries):
                entry["file"] = written.files.get(index)
        return {
            "tool": {"name": "sigma-lambda", "version": __version__},
            "summary": self.summary(),
            **({"output_dir": written.to_dict()} if written is not None else {}),
            "results": entries,
        }
