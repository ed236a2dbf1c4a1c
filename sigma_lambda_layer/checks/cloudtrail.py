"""CloudTrail-aware checks: does each ``eventSource`` / ``eventName`` value name something CloudTrail can log?

They read the rule as written (``RuleSource``), so every finding points at the value's own line and column.
Only rules with ``logsource: {product: aws, service: cloudtrail}`` are checked.

Scope of an ``eventName``: the exact ``eventSource`` values of the same AND-ed map; else every exact
``eventSource`` value in the rule; else every AWS operation (parsing every botocore model, about 5 s, once).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from sigma.rule import SigmaRule

from sigma_lambda_layer import casing
from sigma_lambda_layer.checks import cloudtrail_events as ct
from sigma_lambda_layer.checks.aws import AwsCatalog
from sigma_lambda_layer.checks.model import Finding, Severity
from sigma_lambda_layer.checks.parameters import ParameterChecker
from sigma_lambda_layer.checks.source import DetectionItem, RuleSource, ValueAt
from sigma_lambda_layer.fields import domains
from sigma_lambda_layer.fields.cloudtrail import OBJECT_FIELDS, is_known_field
from sigma_lambda_layer.regexsafety import MATCH_TIMEOUT, bounded, catastrophic

#: Modifiers whose meaning the checks model; an item with any other modifier (base64, windash, cidr, ...) is
#: not checked for values, since its values are not literal event names.
_MODELLED: Final = frozenset({"contains", "startswith", "endswith", "re", "cased", "all", "i", "m", "s"})
_RE_FLAGS: Final = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}

Matcher = Callable[[str], bool]


def applies(data: Any) -> bool:
    logsource = data.get("logsource") if isinstance(data, dict) else None
    if not isinstance(logsource, dict):
        return False
    return str(logsource.get("product", "")).lower() == "aws" and str(
        logsource.get("service", "")
    ).lower() == ("cloudtrail")


def sigma_to_regex(value: str) -> str:
    """A Sigma string as a Python regex body.

    ``*`` is any run of characters, ``?`` one character; ``\\*``, ``\\?`` and ``\\\\`` are literal.
    """
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return "".join(out)


def is_plain(value: str, modifiers: frozenset[str]) -> bool:
    """An exact value: no wildcard and no matching modifier other than ``cased``."""
    return not (modifiers - {"cased", "all"}) and sigma_to_regex(value) == re.escape(
        value.replace("\\\\", "\\")
    )


def matcher(value: str, modifiers: frozenset[str]) -> Matcher | None:
    """How the Sigma value tests one string; None when the item is not modelled (or the regex is invalid)."""
    if modifiers - _MODELLED:
        return None
    if "re" in modifiers:
        flags = 0
        for m in modifiers:
            flags |= _RE_FLAGS.get(m, 0)
        try:  # the casing rule; time-bounded (regexsafety.bounded): it is tried on every operation name
            rx = casing.compile_regex(value, flags)
        except (re.error, ValueError):
            return None  # pySigma reports invalid regular expressions
        return lambda s: bounded(rx, s, shown=value)
    body = sigma_to_regex(value)
    if "contains" in modifiers:
        body = f".*{body}.*"
    elif "startswith" in modifiers:
        body = f"{body}.*"
    elif "endswith" in modifiers:
        body = f".*{body}"
    # case-insensitive as sigma-lambda defines it (lower() on both sides), not re.IGNORECASE's folding
    full = casing.compile_regex(body, re.DOTALL | (0 if "cased" in modifiers else re.IGNORECASE))
    return lambda s: bounded(full, s, full=True, shown=value)  # many '*' backtrack polynomially


def _describe(item: DetectionItem, value: str) -> str:
    mods = "".join(f"|{m}" for m in item.modifiers)
    return f"{item.field}{mods}: {value!r}"


class CloudTrailChecker:
    """Runs the CloudTrail checks on one rule source against one AWS catalogue."""

    def __init__(self, catalog: AwsCatalog) -> None:
        self.catalog = catalog

    # -- names CloudTrail can log -------------------------------------------------------------------------

    def known_source(self, source: str) -> bool:
        s = source.lower()
        return s in self.catalog.event_sources() or s in ct.EXTRA_EVENT_SOURCES

    def names_of(self, source: str) -> frozenset[str] | None:
        """Event names CloudTrail logs for ``source`` (versioned forms excluded); None when unknown."""
        s = source.lower()
        ops = self.catalog.operations(s)
        extra = frozenset(ct.EXTRA_EVENT_NAMES.get(s, {}))
        if ops is None:
            return extra if s in ct.EXTRA_EVENT_SOURCES else None
        return ops | extra

    def candidates(self, sources: list[str] | None) -> tuple[frozenset[str], str] | None:
        """All strings an eventName can take under ``sources`` (with version suffixes), and a description."""
        if not sources:
            everything = self.catalog.all_operations() | frozenset(
                n for extra in ct.EXTRA_EVENT_NAMES.values() for n in extra
            )
            return everything, f"any AWS service (botocore {self.catalog.botocore_version})"
        out: set[str] = set()
        for source in sources:
            names = self.names_of(source)
            if names is None:
                return None
            suffixes = ct.VERSION_SUFFIXES.get(source.lower(), ())
            out.update(names)
            out.update(n + s for n in names for s in suffixes)
        return frozenset(out), ", ".join(sorted(set(sources)))

    def _elsewhere(self, name: str, sources: list[str]) -> str | None:
        """Where ``name`` is an operation among services named like ``sources`` (route53: route53domains)."""
        stems = {s.lower().removesuffix(".amazonaws.com") for s in sources}
        related = sorted(
            n for n in self.catalog.by_source_name if n not in stems and any(n.startswith(st) for st in stems)
        )[:12]
        hits = [f"{n}.amazonaws.com" for n in related if name in (self.catalog.operations(n) or frozenset())]
        if not hits:
            return None
        return f"it is an operation of {' and '.join(hits)}: is that the eventSource the rule meant?"

    # -- the checks ---------------------------------------------------------------------------------------

    def check(
        self, src: RuleSource, rule_id: str | None, rule_title: str | None, rule: SigmaRule | None = None
    ) -> Iterator[Finding]:
        """Every CloudTrail finding of one rule; the request-parameter check needs the parsed ``rule`` (its
        condition), the others read the source alone."""

        def finding(
            check: str, severity: Severity, message: str, hint: str | None, at: ValueAt | DetectionItem
        ):
            return Finding(
                check, severity, message, hint, src.path, at.pos.line, at.pos.column, rule_id, rule_title
            )

        rule_sources = [
            v.value
            for item in src.items
            if item.field == "eventSource"
            for v in item.values
            if isinstance(v.value, str) and is_plain(v.value, frozenset(item.modifiers))
        ]
        for item in src.items:
            if "re" in item.modifiers:
                for v in item.values:
                    why = catastrophic(v.value) if isinstance(v.value, str) else None
                    if why is not None:
                        yield finding(
                            "regex_backtracking",
                            Severity.WARNING,
                            f"{_describe(item, v.value)} has {why}: matching can take exponential time "
                            "(catastrophic backtracking) on PCRE, Java and Python engines",
                            "drop the inner repetition ('^a+$' for '^(a+)+$') or make the branches "
                            "distinct; the reference evaluator gives up after "
                            f"{MATCH_TIMEOUT:g} s per value",
                            v,
                        )
            if item.field is not None and not is_known_field(item.field) and item.field not in OBJECT_FIELDS:
                yield finding(
                    "cloudtrail_field_name",
                    Severity.WARNING,
                    f"field '{item.field}' is not in the CloudTrail record schema",
                    _field_hint(item.field),
                    item,
                )
            if item.field in OBJECT_FIELDS and "exists" not in item.modifiers:
                strings = [v for v in item.values if isinstance(v.value, str)]
                if strings:
                    yield finding(
                        "cloudtrail_object_field",
                        Severity.WARNING,
                        f"field '{item.field}' holds a JSON object in CloudTrail records; a string value "
                        "never matches it",
                        f"name the sub-field that holds the text, e.g. '{item.field}.<key>'",
                        strings[0],
                    )
            dom = domains.domain(item.field) if item.field is not None else None
            if dom is not None and dom.kind in ("enum", "lowercase"):
                yield from _check_domain(item, item.field or "", dom, finding)
            if item.field == "eventSource":
                yield from self._check_sources(item, finding)
            elif item.field == "eventName":
                group_sources = [
                    v.value
                    for other in src.items
                    if other.field == "eventSource"
                    and (other.detection, other.group) == (item.detection, item.group)
                    for v in other.values
                    if isinstance(v.value, str) and is_plain(v.value, frozenset(other.modifiers))
                ]
                yield from self._check_names(item, group_sources or rule_sources, finding)
        if rule is not None:
            yield from ParameterChecker(self.catalog, matcher, is_plain).check(rule, src, finding)

    def _check_sources(self, item: DetectionItem, finding: Callable[..., Finding]) -> Iterator[Finding]:
        mods = frozenset(item.modifiers)
        for v in item.values:
            if not isinstance(v.value, str):
                continue
            if is_plain(v.value, mods):
                if not self.known_source(v.value):
                    yield finding(
                        "cloudtrail_event_source",
                        Severity.ERROR,
                        f"eventSource '{v.value}' is not an AWS service endpoint",
                        _close(
                            "eventSource", v.value, self.catalog.event_sources() | set(ct.EXTRA_EVENT_SOURCES)
                        ),
                        v,
                    )
                continue
            test = matcher(v.value, mods)
            if test is None:
                continue
            sources = self.catalog.event_sources() | set(ct.EXTRA_EVENT_SOURCES)
            if not any(test(s) for s in sources):
                yield finding(
                    "cloudtrail_event_source_pattern",
                    Severity.ERROR,
                    f"{_describe(item, v.value)} matches no AWS service endpoint",
                    "eventSource values look like '<service>.amazonaws.com'",
                    v,
                )

    def _check_names(
        self, item: DetectionItem, sources: list[str], finding: Callable[..., Finding]
    ) -> Iterator[Finding]:
        mods = frozenset(item.modifiers)
        known = [s for s in sources if self.known_source(s)]
        if len(known) != len(sources):
            return  # an unknown eventSource is already reported; its names cannot be checked
        scope = self.candidates(known)
        if scope is None:
            return
        names, where = scope
        lowered = {n.lower() for n in names}
        for v in item.values:
            if not isinstance(v.value, str):
                continue
            if is_plain(v.value, mods):
                name = v.value
                base = ct.VERSION_SUFFIX_RE.sub("", name)
                present = (
                    name in names or base in names
                    if "cased" in mods
                    else (name.lower() in lowered or base.lower() in lowered)
                )
                if not present:
                    yield finding(
                        "cloudtrail_event_name",
                        Severity.ERROR,
                        f"eventName '{name}' is not an operation of {where}",
                        _close(
                            "eventName", name, names, extra=_name_hint(name) or self._elsewhere(base, known)
                        ),
                        v,
                    )
                elif (
                    "lambda.amazonaws.com" in {s.lower() for s in known} and name in ct.LAMBDA_VERSIONED_ONLY
                ):
                    yield finding(
                        "cloudtrail_event_name_unversioned",
                        Severity.WARNING,
                        f"eventName '{name}' never matches: CloudTrail logs Lambda's {name} with its API "
                        f"version appended (e.g. '{name}20150331')",
                        f"use 'eventName|startswith: {name}' to match every version",
                        v,
                    )
                continue
            test = matcher(v.value, mods)
            if test is None:
                continue
            if not any(test(n) for n in names):
                yield finding(
                    "cloudtrail_event_name_pattern",
                    Severity.ERROR,
                    f"{_describe(item, v.value)} matches no operation of {where}",
                    "check the spelling against the service's API reference; the pattern is applied to "
                    "CloudTrail event names such as 'UpdateFunctionConfiguration20150331v2'",
                    v,
                )


def _check_domain(
    item: DetectionItem, field: str, dom: domains.Domain, finding: Callable[..., Finding]
) -> Iterator[Finding]:
    """``cloudtrail_value_domain``: a value on a field AWS writes from a fixed list (or always in lowercase)
    that no value it writes can match (fields/domains.py)."""
    mods = frozenset(item.modifiers)
    for v in item.values:
        if not isinstance(v.value, str):
            continue
        test = matcher(v.value, mods)
        if test is None:
            continue
        if dom.kind == "enum" and not any(test(s) for s in dom.spellings):
            yield finding(
                "cloudtrail_value_domain",
                Severity.WARNING,
                f"{_describe(item, v.value)} matches none of the values CloudTrail writes in {field}: "
                + ", ".join(sorted(dom.spellings)),
                _close(
                    field,
                    v.value,
                    dom.spellings,
                    None
                    if difflib.get_close_matches(v.value, sorted(dom.spellings), n=1, cutoff=0.75)
                    else "if CloudTrail writes it, add it with its source to sigma_lambda_layer/fields/domains.py",
                ),
                v,
            )
        elif dom.kind == "lowercase" and "cased" in mods and "re" not in mods and v.value != v.value.lower():
            yield finding(
                "cloudtrail_value_domain",
                Severity.WARNING,
                f"{_describe(item, v.value)} never matches: CloudTrail writes {field} in lowercase",
                f"write '{v.value.lower()}'",
                v,
            )


def _close(what: str, value: str, choices: frozenset[str] | set[str], extra: str | None = None) -> str:
    if extra:
        return extra
    best = difflib.get_close_matches(value, sorted(choices), n=3, cutoff=0.75)
    parts = []
    if best:
        parts.append("did you mean " + " or ".join(repr(b) for b in best) + "?")
    if not parts:
        parts.append(
            f"if this {what} is real but missing from botocore's models, add it to "
            "sigma_lambda_layer/checks/cloudtrail_events.py with its source, or suppress the finding for "
            "this rule"
        )
    return " ".join(parts)


#: IAM permission names that rules mistake for event names: permission -> the API call CloudTrail logs instead
#: (None when the permission is checked inside other calls and never logged on its own). Source: Service
#: Authorization Reference (IAM actions for IAM and Amazon S3) and the S3 User Guide, "Required permissions
#: for Amazon S3 API operations".
IAM_PERMISSIONS: Final[dict[str, str | None]] = {
    "PassRole": None,
    "PutEncryptionConfiguration": "PutBucketEncryption",
    "GetEncryptionConfiguration": "GetBucketEncryption",
    "PutLifecycleConfiguration": "PutBucketLifecycleConfiguration (logged as PutBucketLifecycle)",
    "GetLifecycleConfiguration": "GetBucketLifecycleConfiguration (logged as GetBucketLifecycle)",
    "PutReplicationConfiguration": "PutBucketReplication",
    "GetReplicationConfiguration": "GetBucketReplication",
    "ReplicateObject": None,
    "ListAllMyBuckets": "ListBuckets",
}


def _name_hint(name: str) -> str | None:
    if name not in IAM_PERMISSIONS:
        return None
    call = IAM_PERMISSIONS[name]
    if call is None:
        return (
            f"{name} is an IAM permission checked inside other API calls; "
            "CloudTrail never logs it as an event"
        )
    return f"{name} is an IAM permission name; the API call CloudTrail logs is {call}"


def _field_hint(field: str) -> str:
    roots = ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails")
    return (
        "fields are case-sensitive dotted paths of the CloudTrail record (e.g. 'userIdentity.arn'); "
        f"API-specific keys live under {', '.join(roots)}"
    )
