"""pySigma's built-in validators and the SigmaHQ conventions validators, turned into located findings.

Each validator runs on its own (not through ``SigmaValidator``) so that every issue is attributed to the
validator's identifier, the same name sigma-cli uses (``sigma check --exclude attacktag``). Data the
validators read is installed from our pinned files first (``offline.install``), so nothing is downloaded.

Deliberate differences from ``sigma check`` with all validators:

* ``tlpv1_tag`` and ``tlpv2_tag`` are left out: each flags the other's tags; ``tlptag`` accepts both.
* ``d3_fendtag`` would download the D3FEND ontology, which no PyPI package ships: it is replaced by
  ``d3fend_tag_unverified`` (info) for rules that carry ``d3fend.*`` tags.
* ``attacktag`` also accepts the ATT&CK v19 tactics ``stealth`` and ``defense-impairment`` (data is v18.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, Final

from sigma.rule import SigmaRule, SigmaRuleTag
from sigma.validators.base import SigmaRuleValidator, SigmaValidationIssue, SigmaValidationIssueSeverity
from sigma.validators.core.tags import ATTACKTagValidator

from sigma_lambda_layer.checks import offline
from sigma_lambda_layer.checks.model import Finding, Severity
from sigma_lambda_layer.checks.source import Pos, RuleSource

LEFT_OUT: Final[frozenset[str]] = frozenset({"tlpv1_tag", "tlpv2_tag", "d3_fendtag"})

_SEVERITY: Final = {
    SigmaValidationIssueSeverity.HIGH: Severity.ERROR,
    SigmaValidationIssueSeverity.MEDIUM: Severity.WARNING,
    SigmaValidationIssueSeverity.LOW: Severity.INFO,
}

#: Top-level rule keys, most specific first: a validator whose id names one is located at that key.
_TOP_KEYS: Final = (
    "falsepositives",
    "references",
    "description",
    "modified",
    "logsource",
    "condition",
    "detection",
    "identifier",
    "status",
    "author",
    "title",
    "level",
    "fields",
    "date",
    "tags",
)


class ATTACKv19TagValidator(ATTACKTagValidator):
    """ATT&CK tag check over the pinned v18.1 data plus the tactics ATT&CK v19 introduced."""

    def _load_allowed_tags(self) -> set[str]:
        return super()._load_allowed_tags() | offline.ATTACK_V19_TACTICS


@cache
def available() -> dict[str, type[SigmaRuleValidator]]:
    """Identifier -> validator class of every validator we run (core + SigmaHQ if installed)."""
    from sigma.validators.core import validators as core

    found: dict[str, type[SigmaRuleValidator]] = dict(core)
    try:
        from sigma.validators.sigmahq import validators as sigmahq

        found.update(sigmahq)
    except ImportError:
        pass
    found["attacktag"] = ATTACKv19TagValidator
    return {name: cls for name, cls in sorted(found.items()) if name not in LEFT_OUT}


def instantiate(exclude: Iterable[str]) -> list[tuple[str, SigmaRuleValidator]]:
    """Fresh validators for one run (some keep state across rules: uniqueness of ids, titles, file names)."""
    offline.install()
    excluded = set(exclude)
    return [(name, cls()) for name, cls in available().items() if name not in excluded]


def issue_findings(
    check: str, issues: Iterable[SigmaValidationIssue], sources: dict[str, RuleSource]
) -> Iterator[Finding]:
    """One finding per rule an issue names (a uniqueness issue names several)."""
    for issue in issues:
        details = {
            f.name: getattr(issue, f.name)
            for f in dataclasses.fields(issue)
            if f.name not in ("rules", "severity", "description")
        }
        shown = ((k, _show(v)) for k, v in details.items() if v is not None)
        detail_text = ", ".join(f"{k}: {text}" for k, text in shown if text)
        message = issue.description + (f" ({detail_text})" if detail_text else "")
        for rule in issue.rules:
            severity, text = _SEVERITY[issue.severity], message
            gap = _attack_version_gap(check, details, rule)
            if gap == "drop":
                continue
            if gap == "newer":
                severity = Severity.INFO
                version = offline.attack_version()
                text += f" - not in the pinned ATT&CK v{version} data; probably a newer technique"
            path = str(rule.source.path) if rule.source is not None else None
            src = sources.get(path) if path is not None else None
            pos = _locate(check, details, src)
            yield Finding(
                check=check,
                severity=severity,
                message=text,
                hint=_hint(check),
                path=path,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
                rule_id=str(rule.id) if rule.id else None,
                rule_title=rule.title or None,
            )


def _attack_version_gap(check: str, details: dict[str, Any], rule: Any) -> str | None:
    """Soften what only reflects that the pinned ATT&CK data (v18.1) predates the rule (v19 names).

    ``"newer"``: a technique id above every id in the data is newer, not a typo. ``"drop"``: v19 moved
    Defense Evasion techniques to Stealth / Defense Impairment, so a rule tagged with either is not missing
    ``defense-evasion``.
    """
    if check == "attacktag":
        tag = details.get("tag")
        name = getattr(tag, "name", "")
        number = name[1:].split(".")[0] if name.startswith("t") else ""
        if number.isdigit() and int(number) > offline.highest_technique_number():
            return "newer"
    elif check == "sigmahq_tags_techniques_without_tactics" and details.get("missing_tactic") == (
        "attack.defense-evasion"
    ):
        names = {t.name for t in getattr(rule, "tags", []) if t.namespace == "attack"}
        if names & offline.ATTACK_V19_TACTICS:
            return "drop"
    return None


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_show(v) for v in value)
    return str(value)


def _locate(check: str, details: dict[str, Any], src: RuleSource | None) -> Pos | None:
    if src is None:
        return None
    for value in details.values():
        if isinstance(value, SigmaRuleTag) and str(value) in src.tags:
            return src.tags[str(value)]
    for key in ("field", "fieldname", "field_name"):
        name = details.get(key)
        if isinstance(name, str):
            for item in src.items:
                if item.field == name:
                    return item.pos
    for key in _TOP_KEYS:
        if key in check:
            top = {"identifier": "id", "condition": "detection"}.get(key, key)
            if top in src.top_keys:
                return src.top_keys[top]
    return Pos(1, 1)


@cache
def _hint(check: str) -> str | None:
    cls = available().get(check)
    doc = (cls.__doc__ or "").strip().splitlines() if cls is not None else []
    text = doc[0].strip() if doc else ""
    return f"{text} (validator {check}; exclude it or suppress it per rule if intended)" if text else None


def d3fend_findings(rule: SigmaRule, src: RuleSource | None) -> Iterator[Finding]:
    """Info finding for D3FEND tags: there is no offline D3FEND data to check them against."""
    for tag in rule.tags:
        if tag.namespace == "d3fend":
            pos = src.tags.get(str(tag)) if src is not None else None
            yield Finding(
                check="d3fend_tag_unverified",
                severity=Severity.INFO,
                message=f"D3FEND tag '{tag}' not verified: no D3FEND data is shipped for offline checking",
                hint="run `sigma check` with network access to verify D3FEND tags",
                path=str(rule.source.path) if rule.source is not None else None,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
                rule_id=str(rule.id) if rule.id else None,
                rule_title=rule.title or None,
            )
