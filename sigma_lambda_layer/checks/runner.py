"""One check run: read and parse each file once, run every check family, filter, sort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from sigma_lambda_layer.checks import source, validators
from sigma_lambda_layer.checks.aws import default_catalog
from sigma_lambda_layer.checks.cloudtrail import CloudTrailChecker, applies
from sigma_lambda_layer.checks.model import CheckConfig, Finding, Severity
from sigma_lambda_layer.errors import RuleLoadError
from sigma_lambda_layer.loading import LoadedFile, locate, read_file


def _error_finding(
    check: str,
    message: str,
    path: str,
    line: int | None = None,
    column: int | None = None,
    hint: str | None = None,
    rule: Any = None,
) -> Finding:
    return Finding(
        check,
        Severity.ERROR,
        message,
        hint,
        path,
        line,
        column,
        str(rule.id) if rule is not None and getattr(rule, "id", None) else None,
        (getattr(rule, "title", None) or None) if rule is not None else None,
    )


def _sigma_error_finding(
    check: str, error: SigmaError, loaded: LoadedFile, rule: Any = None, index: int = 0
) -> Finding:
    """pySigma's error as a finding, located by the machinery ``convert`` uses (the node the message names,
    the character a condition stops parsing at), so both commands give the same line:col; pySigma's own
    location (a line, seldom set) only when that finds nothing."""
    from sigma_lambda_layer.conversion import located_load_error

    located = located_load_error(error, loaded, index)
    loc = getattr(error, "source", None)
    line = located.location.line or (
        getattr(loc, "line", None) if isinstance(loc, SigmaRuleLocation) else None
    )
    column = located.location.column if located.location.line else None
    message = getattr(error, "message", None) or str(error).split(" in ")[0] or type(error).__name__
    return _error_finding(
        check, f"{type(error).__name__}: {message}", loaded.path, line or 1, column or 1, located.hint, rule
    )


def _crash(check: str, error: Exception, path: str, rule: Any = None) -> Finding:
    f = _error_finding(check, f"validator failed: {type(error).__name__}: {error}", path, 1, 1, rule=rule)
    return Finding(
        f.check,
        Severity.WARNING,
        f.message,
        "a bug in the validator, not in the rule; exclude the check to silence it",
        f.path,
        f.line,
        f.column,
        f.rule_id,
        f.rule_title,
    )


#: Load errors about the file itself rather than its YAML or Sigma content.
_INPUT_PROBLEMS = ("cannot read", "not valid UTF-8", "is binary", "byte limit")
#: Load errors about the YAML text (syntax, constructors, size after alias expansion, nesting).
_YAML_PROBLEMS = ("invalid YAML", "nested deeper", "expands to more than")


def _load_error_finding(error: RuleLoadError, path: str) -> Finding:
    """A file :func:`~sigma_lambda_layer.loading.read_file` refuses, under the check family it belongs to.

    Loading refuses, located, the shapes pySigma accepts and then crashes on (a null or non-string
    condition, an ``id`` that is not a string, a null selection, an impossible date, a list as a key), so
    ``check`` reports exactly what ``convert`` reports for the same file.
    """
    message = error.message
    if any(p in message for p in _INPUT_PROBLEMS):
        check = "input"
    elif any(p in message for p in _YAML_PROBLEMS):
        check = "yaml_syntax"
    elif "condition" in message:
        check = "sigma_condition"
    else:
        check = "sigma_parse"
    loc = error.location
    return _error_finding(check, message, path, loc.line, loc.column, error.hint)


def _unexpected_finding(check: str, error: Exception, loaded: LoadedFile, rule: Any = None) -> Finding:
    """A non-Sigma exception from pySigma on a rule that loaded: an error finding, located as well as the
    message allows, instead of a traceback that would hide every other file's findings."""
    message = f"pySigma cannot read the rule: {type(error).__name__}: {error}"
    line, column = locate(loaded.text, str(error))
    return _error_finding(check, message, loaded.path, line or 1, column, rule=rule)


def run(files: list[Path], config: CheckConfig, problems: list[Finding] | None = None) -> list[Finding]:
    findings: list[Finding] = list(problems or [])
    checks = validators.instantiate(config.exclude)
    sources: dict[str, source.RuleSource] = {}
    rules: list[tuple[SigmaRule | SigmaCorrelationRule, source.RuleSource]] = []
    cloudtrail = CloudTrailChecker(default_catalog())

    for file in files:
        path = str(file)
        try:
            loaded = read_file(file)
        except RuleLoadError as e:
            findings.append(_load_error_finding(e, path))
            continue
        src = source.load(path, loaded.text)
        sources[path] = src
        if src.yaml_error is not None:  # libyaml accepted what the checks' position pass did not
            problem, pos = src.yaml_error
            findings.append(
                _error_finding(
                    "yaml_syntax",
                    f"invalid YAML: {problem}",
                    path,
                    pos.line if pos else None,
                    pos.column if pos else None,
                )
            )
            continue
        docs = [d for d in loaded.documents if d is not None]
        try:
            collection = SigmaCollection.from_dicts(
                docs, collect_errors=True, source=SigmaRuleLocation(Path(path))
            )
        except Exception as e:  # a shape pySigma crashes on that loading does not refuse yet
            findings.append(_unexpected_finding("sigma_parse", e, loaded))
            continue
        rule_errors = {id(e) for rule in collection.rules for e in rule.errors}
        parsed: dict[int, SigmaRule] = {}  # rules whose condition parsed: the parameter check expands it
        findings.extend(
            _sigma_error_finding("sigma_parse", e, loaded)
            for e in collection.errors
            if id(e) not in rule_errors
        )
        for index, rule in enumerate(collection.rules):
            if rule.errors:
                findings.extend(
                    _sigma_error_finding("sigma_parse", e, loaded, rule, index) for e in rule.errors
                )
                continue
            if isinstance(rule, SigmaRule):
                try:
                    for condition in rule.detection.parsed_condition:
                        condition.parse()
                except SigmaError as e:
                    findings.append(_sigma_error_finding("sigma_condition", e, loaded, rule, index))
                    continue
                except Exception as e:  # pySigma's parser crashing on a shape it should refuse
                    findings.append(_unexpected_finding("sigma_condition", e, loaded, rule))
                    continue
                findings.extend(validators.d3fend_findings(rule, src))
                parsed[id(rule)] = rule
            rules.append((rule, src))
        if not src.multi_document and applies(src.data):
            first = collection.rules[0] if collection.rules else None
            try:
                findings.extend(
                    cloudtrail.check(
                        src,
                        str(first.id) if first is not None and first.id else None,
                        (first.title or None) if first is not None else None,
                        parsed.get(id(first)),
                    )
                )
            except Exception as e:  # a rule shape the CloudTrail checks did not foresee
                findings.append(_crash("cloudtrail", e, path, first))

    for name, validator in checks:
        for rule, src in rules:
            try:
                issues = validator.validate(rule)
            except Exception as e:  # a third-party validator bug must not hide every other finding
                findings.append(_crash(name, e, src.path, rule))
                continue
            findings.extend(validators.issue_findings(name, issues, sources))
        try:
            findings.extend(validators.issue_findings(name, validator.finalize(), sources))
        except Exception as e:
            findings.append(_crash(name, e, "<run>"))

    kept = [
        f
        for f in findings
        if f.check not in config.exclude
        and not config.is_suppressed(f)
        and not (f.path in sources and sources[f.path].suppressed(f.check, f.line))
    ]
    return sorted(set(kept), key=Finding.sort_key)
