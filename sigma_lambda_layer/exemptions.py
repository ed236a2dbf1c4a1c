"""Exemptions for known false positives, written as Sigma filters.

A Sigma filter (pySigma's ``SigmaFilter``, the "meta filter" format of the Sigma specification) names the
rules it applies to (by id or title, or ``any`` for every rule of its log source) and adds a condition that
every matching event must also satisfy, typically ``not selection``::

    title: Exempt the deployment role from Lambda layer alerts
    logsource: {product: aws, service: cloudtrail}
    filter:
      rules:
        - 97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d
      selection:
        userIdentity.sessionContext.sessionIssuer.arn: arn:aws:iam::123456789012:role/deployer
      condition: not selection

The filter is merged into the rule before the target's pipeline runs, so every target expresses the exemption
with its own field names and syntax, and the reference evaluator sees the same merged rule.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sigma_lambda_layer.errors import Location, RuleLoadError, UsageError
from sigma_lambda_layer.loading import decode, expand_inputs, locate, read_bytes

FilterSource = tuple[str, str]  # (path, YAML text)


def read_filter_sources(paths: Sequence[str | Path]) -> list[FilterSource]:
    """Filter files (folders searched recursively for ``*.yml``), as (path, text) pairs in a stable order."""
    sources: list[FilterSource] = []
    for entry in expand_inputs(list(paths)):
        if not isinstance(entry, Path):
            message = entry.message if hasattr(entry, "message") else "standard input cannot hold filters"
            where = entry.location if hasattr(entry, "location") else Location("-")
            raise UsageError(f"filter: {message}", location=where)
        try:  # regular files within the size limit only (a FIFO would hang, /dev/zero grow)
            sources.append((str(entry), decode(read_bytes(entry), str(entry))))
        except RuleLoadError as exc:
            raise UsageError(f"filter: {exc.message}", location=exc.location, hint=exc.hint) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read filter file: {exc}", location=Location(str(entry))) from None
    return sources


def parse_filters(sources: Iterable[FilterSource]) -> list[Any]:
    """pySigma ``SigmaFilter`` objects; a file that is not a valid filter is a located usage error."""
    import yaml
    from sigma.exceptions import SigmaError, SigmaRuleLocation
    from sigma.filters import SigmaFilter

    filters: list[Any] = []
    for path, text in sources:
        try:
            documents = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise UsageError(
                f"invalid YAML in filter: {getattr(exc, 'problem', exc)}",
                location=Location(path, mark.line + 1 if mark else None, mark.column + 1 if mark else None),
            ) from None
        for document in documents:
            if not isinstance(document, dict) or "filter" not in document:
                raise UsageError(
                    "not a Sigma filter (no 'filter' section)",
                    location=Location(path, 1),
                    hint="a filter has title, logsource and filter: {rules, <selections>, condition}",
                )
            try:
                parsed = SigmaFilter.from_dict(document, source=SigmaRuleLocation(Path(path)))
                for condition in parsed.filter.parsed_condition:
                    condition.parsed  # noqa: B018 - parse now so a bad condition is reported here
            except SigmaError as exc:
                message = exc.args[0] if exc.args else str(exc)
                line, column = locate(text, str(message))
                raise UsageError(
                    f"invalid filter: {message}", location=Location(path, line, column)
                ) from None
            filters.append(parsed)
    return filters


def applicable(rule: Any, filters: Iterable[Any]) -> list[Any]:
    """The filters that name ``rule`` (by id or title, or ``any``) and share its log source."""
    return [f for f in filters if f._should_apply_on_rule(rule)]


def apply(rule: Any, filters: Iterable[Any]) -> Any:
    """Merge every applicable filter into ``rule`` (in place, as pySigma does) and return it.

    pySigma moves the filter's own detection objects into the rule, and a target's pipeline then renames
    their fields in place; each rule therefore gets a copy, so no target sees another's field names.
    """
    for sigma_filter in filters:
        if sigma_filter._should_apply_on_rule(rule):
            rule = copy.deepcopy(sigma_filter).apply_on_rule(rule)
    return rule
