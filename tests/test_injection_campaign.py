"""The hostile-input campaign: hostile field names and values in every construct, on every target and format.

Issue 16 asks for "a hypothesis campaign per target and format (hostile names and values in every construct)
[that] finds no query whose parse tree differs from the intended one, run in CI at a bounded size". Here:

* **Queries** (:func:`test_campaign_queries`, one test per registry target, so a target added to the registry
  later is attacked without a line here): hypothesis draws batches of probes. A probe is one construct
  (equals, ``|cased``, ``|contains``/``startswith``/``endswith``, wildcards, ``|exists`` true and false,
  ``null``, ``|fieldref`` on either side, keywords, ``|re`` and ``|re|i``, ``|cidr``, numbers, an exemption
  filter) over a hostile field name (``requestParameters.<name>``: quotes of every target, backslashes,
  backticks, pipes, brackets, newlines, U+2028, SQL comment markers, ``$``/``${``, Lucene, EQL, SPL and Logs
  Insights operators) and a hostile value, under one of three condition shapes. Each batch goes through the
  public API; each query is parsed and run by the target's real or reference engine
  (:data:`tests.support.fidelity.ENGINES`: Lucene in Java, the ``eql`` package, DuckDB, the SPL, Logs
  Insights, ES|QL and EventBridge interpreters) over one pool of records: records holding the value under the
  name, near misses of the value, the value under the names a broken-out query would cut the name down to,
  and records without the field. The matches must equal the reference evaluator's over the *whole pool* (a
  parse tree that differs from the intended one matches some other record, or is refused by the engine), and
  Splunk queries may run no command beyond ``search``/``eval``/``where``/``regex``. The only other outcome
  allowed is a located, clear refusal.
* **Artifacts** (:func:`test_campaign_artifacts`, one test per target and output format from the registry):
  a hostile title, description, field name and value go into every format; the artifact is read back with
  its format's parser (JSON, NDJSON split on ``\\n`` only, a savedsearches.conf reader following
  savedsearches.conf.spec's continuation rule, Terraform's template syntax for ``.tf.json``) and must have
  the structure of the same rule's artifact with a benign title, embed exactly the query proven above, and
  (Terraform) no interpolation but the generated references.

Sizes: the ``ci`` profile (the default) is derandomised and small enough for about a minute on one core;
``SIGMA_LAMBDA_CAMPAIGN=local`` draws ten times more, randomised, for a longer hunt on a workstation.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from sigma_lambda_layer import casing
from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import RuleLoadError, UsageError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.exemptions import apply, parse_filters
from sigma_lambda_layer.outputs import render
from sigma_lambda_layer.registry import TARGETS as REGISTRY
from tests.support.fidelity import ENGINES, Query, _cased, engine_unavailable, is_clear_error
from tests.test_injection import SPL_COMMANDS, near_misses, sigma_escape

TARGETS: Final = tuple(REGISTRY)

#: ``ci``: bounded and derandomised (reproducible in CI); ``local``: ten times more, randomised.
PROFILE: Final = os.environ.get("SIGMA_LAMBDA_CAMPAIGN", "ci")
_SCALE: Final = 10 if PROFILE == "local" else 1
#: Batches per target and probes per batch (queries); examples per target and format (artifacts).
QUERY_BATCHES: Final = 5 * _SCALE
BATCH: Final = 18
ARTIFACT_EXAMPLES: Final = 12 * _SCALE


def _campaign(examples: int) -> Any:
    return settings(
        max_examples=examples,
        derandomize=PROFILE != "local",
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing batch is reported as drawn
        suppress_health_check=list(HealthCheck),
    )


# ------------------------------------------------------------------------------------------- strategies

#: Single characters that end a literal or a field reference somewhere: every target's quotes and escape,
#: pipes, brackets, operators, line ends (U+2028 and U+2029 end lines in JavaScript and Python's
#: splitlines), whitespace Lucene splits on (U+3000), case-folding oddities (Kelvin sign), NUL.
HOSTILE_CHARS: Final = (
    *"\"'`\\|[](){}<>=!~:;,/*?&#%$@^+-_. \t\n\r",
    "\u2028",
    "\u2029",
    "\u3000",
    "\u212a",
    "\x00",
    "\x1b",
    "é",
    "\U0001f600",
    "a",
    "Z",
    "0",
)
#: Multi-character attacks: comment markers (SQL ``--``/``/* */``, SPL ``` ``` ```), template openers
#: (Terraform ``${``/``%{``), boolean operators of each language, pipeline commands and subsearches.
HOSTILE_TOKENS: Final = (
    "--",
    "/*",
    "*/",
    "```",
    "${",
    "%{",
    '${file("x")}',
    "$$",
    " OR ",
    " AND ",
    " or ",
    " and ",
    " NOT ",
    "||",
    "&&",
    " | delete",
    "| table a",
    "[| makeresults]",
    "` or ispresent(`",
    "') OR ('",
    '" OR 1=1 OR "',
    "*:*",
    "$.",
    "->>",
    "\\\\",
    "\\",
    '?"',
    "\r\n",
)
#: Characters the EQL harness cannot carry (tests/test_injection.py, ENGINE_ALPHABET): CR and LF.
_ENGINE_DROPS: Final[dict[str, str]] = {"eql": "\r\n"}


def _text(target: str, *, dots: bool) -> st.SearchStrategy[str]:
    # In a name, '.' nests and '|' starts a modifier (Sigma syntax, not a name character).
    drop = _ENGINE_DROPS.get(target, "") + ("" if dots else ".|")
    pieces = [p for p in (*HOSTILE_CHARS, *HOSTILE_TOKENS) if not any(c in p for c in drop)]
    return st.lists(st.sampled_from(pieces), min_size=1, max_size=5).map("".join)


def hostile_values(target: str) -> st.SearchStrategy[str]:
    return _text(target, dots=True)


#: Plain names, so that hostile values meet every construct on targets that refuse most hostile names.
PLAIN_NAMES: Final = ("functionName", "bucketName", "x_1", "Key")


def hostile_names(target: str) -> st.SearchStrategy[str]:
    """A sub-field name of ``requestParameters``: plain, plain with one hostile piece, or hostile throughout
    (no ``.``: a dot nests, as in CloudTrail; no ``|``, which starts a modifier)."""
    hostile = _text(target, dots=False)
    plain = st.sampled_from(PLAIN_NAMES)
    one = st.tuples(plain, hostile).map(lambda t: t[0] + t[1][:2])
    return st.one_of(plain, one, hostile)


# ------------------------------------------------------------------------------------------- probes

PARENT: Final = "requestParameters"
CONDITIONS: Final = ("sel", "not sel", "sel or other")
CONSTRUCTS: Final = (
    "equals",
    "cased",
    "contains",
    "startswith",
    "endswith",
    "wildcard",
    "exists",
    "not_exists",
    "null",
    "fieldref",
    "fieldref_target",
    "keywords",
    "re",
    "re_i",
    "cidr",
    "number",
    "exemption",
)


#: Characters YAML reads as line breaks (folded) or refuses unescaped: written as ``\\uXXXX`` escapes.
_YAML_UNSAFE: Final = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def to_yaml(document: Any) -> str:
    """Rule text that YAML reads back to exactly ``document``: JSON (a YAML subset), every character YAML
    would fold or refuse escaped (PyYAML's own dumper folds a U+2028 inside a quoted key)."""
    text = json.dumps(document, ensure_ascii=False, indent=1)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _record(values: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail record holding ``values`` (``requestParameters.x`` nested, others top-level)."""
    rec: dict[str, Any] = {"eventVersion": "1.08", "eventSource": "lambda.amazonaws.com", "eventName": "X"}
    for path, value in values.items():
        head, _, tail = path.partition(".")
        if tail:
            rec.setdefault(head, {})[tail] = value
        else:
            rec[head] = value
    return rec


def _cuts(name: str) -> list[str]:
    """Names a query that lost the quoting of ``name`` would read instead (split at hostile characters)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9_]+", name) if p]
    return list(dict.fromkeys([*parts, name[:1], name[-1:], name.strip(), name.replace("\\", "")]))


@dataclass(frozen=True)
class Probe:
    """One hostile rule: ``construct`` over ``requestParameters.<name>`` and ``value``, in ``condition``."""

    construct: str
    name: str
    value: str
    condition: str
    #: a top-level CloudTrail field the probe uses instead of ``requestParameters.<name>`` (Elastic stores
    #: requestParameters flattened, where most constructs are refused: values must meet them elsewhere too)
    top: str = ""
    number: int = 0

    @property
    def path(self) -> str:
        return self.top or f"{PARENT}.{self.name}"

    @property
    def partner(self) -> str:
        """The other field of ``|fieldref`` (and where keywords' records hold the value)."""
        return "errorMessage" if self.path == "userAgent" else "userAgent"

    @property
    def rule_id(self) -> str:
        return f"00000000-0000-4000-8000-{self.number:012d}"

    def selection(self) -> dict[str, Any] | list[str]:
        c, path, escaped = self.construct, self.path, sigma_escape(self.value)
        if c in ("equals", "exemption"):
            return {path: escaped}
        if c in ("cased", "contains", "startswith", "endswith"):
            return {f"{path}|{c}": escaped}
        if c == "wildcard":
            return {path: f"*{escaped}?{escaped}*"}
        if c in ("exists", "not_exists"):
            return {f"{path}|exists": c == "exists"}
        if c == "null":
            return {path: None}
        if c == "fieldref":
            return {f"{path}|fieldref": self.partner}
        if c == "fieldref_target":
            return {f"{self.partner}|fieldref": path}
        if c == "keywords":
            return [escaped]
        if c in ("re", "re_i"):
            return {f"{path}|re" + ("|i" if c == "re_i" else ""): re.escape(self.value)}
        if c == "cidr":
            return {f"{path}|cidr": "10.0.0.0/8"}
        if c == "number":
            return {path: 42}
        raise AssertionError(c)

    def rule(self) -> str:
        if self.construct == "exemption":  # the hostile part is in the filter; the rule matches eventName X
            detection: dict[str, Any] = {"sel": {"eventName": "X"}, "condition": "sel"}
        else:
            detection = {"sel": self.selection(), "other": {"eventName": "NeverCalled"}}
            detection["condition"] = self.condition
        return to_yaml(
            {
                "title": f"Hostile {self.construct}",
                "id": self.rule_id,
                "logsource": {"product": "aws", "service": "cloudtrail"},
                "detection": detection,
            }
        )

    def exemption(self) -> str | None:
        """The Sigma filter of an ``exemption`` probe: the hostile selection, negated."""
        if self.construct != "exemption":
            return None
        return to_yaml(
            {
                "title": "Hostile exemption",
                "logsource": {"product": "aws", "service": "cloudtrail"},
                "filter": {
                    "rules": [self.rule_id],
                    "selection": self.selection(),
                    "condition": "not selection",
                },
            }
        )

    def records(self) -> list[dict[str, Any]]:
        """The pool this probe adds: its value and near misses under its name, under the cut-down names,
        under the partner field (keywords, fieldref), the numbers and addresses of cidr and number, nothing."""
        other = self.partner
        samples = near_misses(self.value)
        out = [_record({}), _record({self.path: "v"})]
        out += [_record({self.path: s}) for s in samples]
        out += [_record({f"{PARENT}.{cut}": s}) for cut in _cuts(self.name) for s in samples[:2]]
        out += [_record({other: s}) for s in samples[:3]]
        out += [_record({self.path: s, other: s}) for s in samples[:2]]
        out += [_record({self.path: samples[0], other: samples[-1]})]
        # CloudTrail's top-level text fields hold strings only (Elastic maps them keyword, where a JSON number
        # is a storage question, not this campaign's).
        numbers = ("42", "43") if self.top else (None, 42, "42", 43)
        out += [_record({self.path: v}) for v in (*numbers, "10.1.2.3", "11.1.2.3")]
        return out


def probes(target: str) -> st.SearchStrategy[Probe]:
    return st.builds(
        Probe,
        st.sampled_from(CONSTRUCTS),
        hostile_names(target),
        hostile_values(target),
        st.sampled_from(CONDITIONS),
        st.sampled_from(["", "", "userAgent", "errorMessage"]),
    )


# ------------------------------------------------------------------------------------------- queries


def _texts(output: Any) -> tuple[str, ...]:
    return (output,) if isinstance(output, str) else tuple(output)


def _evaluator(probe: Probe, filter_path: str) -> RuleEvaluator:
    rule = SigmaCollection.from_yaml(probe.rule()).rules[0]
    assert isinstance(rule, SigmaRule)
    text = probe.exemption()
    if text is not None:
        rule = apply(rule, parse_filters([(filter_path, text)]))
    return RuleEvaluator(rule)


#: Fields of a target's record view holding the raw event text, which that target's keywords search
#: (Splunk ``_raw``, Logs Insights ``@message``: the record's JSON text, keys and JSON escapes included).
RAW_TEXT_FIELDS: Final = ("_raw", "@message")


def _raw_text(target: str, record: dict[str, Any]) -> str | None:
    view = ENGINES[target].view(record)
    for name in RAW_TEXT_FIELDS:
        text = view.get(name) if isinstance(view, dict) else None
        if isinstance(text, list) and text:
            text = text[0]
        if isinstance(text, str):
            return text
    return None


def _expected(target: str, probe: Probe, filter_path: str, records: list[dict[str, Any]]) -> set[int]:
    """The records ``probe``'s rule means: the reference evaluator's verdict; for a keyword on a target that
    searches the raw JSON text, the records whose text holds the keyword case-insensitively (the meaning
    that target documents, which differs from the evaluator's scalar values on keys and JSON escapes:
    docs/hostile-input.md)."""
    if probe.construct == "keywords" and _raw_text(target, records[0]) is not None:
        needle = casing.fold(probe.value)
        hits = {i for i, r in enumerate(records) if needle in casing.fold(_raw_text(target, r) or "")}
        return (
            hits
            if probe.condition == "sel"
            else (set(range(len(records))) - hits if probe.condition == "not sel" else hits)
        )
    evaluator = _evaluator(probe, filter_path)
    return {i for i, r in enumerate(records) if evaluator.matches(r)}


def campaign_problems(target: str, batch: Sequence[Probe]) -> list[str]:
    """Convert ``batch`` for ``target`` (exemptions through a filter file), run every query on the target's
    engine over the batch's whole pool, and list what is not the intended meaning."""
    batch = [Probe(p.construct, p.name, p.value, p.condition, p.top, n) for n, p in enumerate(batch)]
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        filter_path = str(Path(folder) / "exemptions.yml")
        filters: list[str] = []
        for probe in list(batch):
            text = probe.exemption()
            if text is None:
                continue
            try:  # a filter pySigma refuses stops every run that names it: a usage error, located
                parse_filters([(filter_path, text)])
                filters.append(text)
            except UsageError as exc:
                batch.remove(probe)
                if exc.location.line is None:
                    problems.append(f"filter refused without line:col: {exc}\n{probe}")
        records = [r for p in batch for r in p.records()]
        Path(filter_path).write_text("\n---\n".join(filters), encoding="utf-8")
        results = list(
            convert(
                [p.rule() for p in batch],
                target=target,
                collect_errors=True,
                filters=[filter_path] if filters else (),
            )
        )
        assert len(results) == len(batch), [r.error for r in results if r.error]
        # By id: a rule that fails to load has no id, and the API lists such errors first.
        by_id = {r.id: r for r in results if r.id is not None}
        unloaded = iter(r for r in results if r.id is None)
        queries: list[Query] = []
        expected: list[set[int]] = []
        kept: list[Probe] = []
        for probe in batch:
            result = by_id.get(probe.rule_id) or next(unloaded)
            if result.error is not None:
                # A refusal: of the target (unsupported) or of pySigma's loader (a located rule error).
                if not (is_clear_error(result.error) or isinstance(result.error, RuleLoadError)):
                    problems.append(f"unclear error {type(result.error).__name__}: {result.error}\n{probe}")
                elif result.error.location.line is None:
                    problems.append(f"refusal without line:col: {result.error}\n{probe}")
                continue
            queries.append(Query(_texts(result.output), _cased(probe.rule())))
            expected.append(_expected(target, probe, filter_path, records))
            kept.append(probe)
    if not queries:
        return problems
    engine = ENGINES[target]
    views = [engine.view(r) for r in records]
    for probe, query, want, got in zip(kept, queries, expected, engine.run(queries, views), strict=True):
        if isinstance(got, Exception):
            problems.append(f"{probe}\n  engine refused {query.texts!r}: {type(got).__name__}: {got}")
        elif got != want:
            extra = [_held(records[i]) for i in sorted(got - want)[:4]]
            missed = [_held(records[i]) for i in sorted(want - got)[:4]]
            problems.append(f"{probe}\n  {query.texts!r}\n  matched besides: {extra}\n  missed: {missed}")
        if target == "splunk":
            from tests.engines.spl import command_names

            for text in query.texts:
                if not set(command_names(text)) <= SPL_COMMANDS:
                    problems.append(f"{probe}\n  command injected: {command_names(text)} in {text!r}")
    return problems


def _held(rec: dict[str, Any]) -> Any:
    return {k: v for k, v in rec.items() if k not in ("eventVersion", "eventSource", "eventName")}


@pytest.mark.parametrize("target", TARGETS)
def test_campaign_queries(target: str) -> None:
    """Hostile names and values in every construct: each query means exactly its rule, or is refused located."""
    reason = engine_unavailable(target)
    if reason:
        pytest.skip(f"{target} engine unavailable: {reason}")

    @_campaign(QUERY_BATCHES)
    @given(batch=st.lists(probes(target), min_size=BATCH, max_size=BATCH))
    def run(batch: list[Probe]) -> None:
        problems = campaign_problems(target, batch)
        assert not problems, "\n\n".join(problems)

    run()


# ------------------------------------------------------------------------------------------- artifacts


def read_conf(text: str) -> list[tuple[str, dict[str, str]]]:
    """savedsearches.conf as Splunk reads it (savedsearches.conf.spec, "Configuration file structure"):
    ``#`` comment lines, ``[stanza]`` headers, ``key = value`` lines, a line ending in ``\\`` continued on the
    next (the line break kept in the value)."""
    stanzas: list[tuple[str, dict[str, str]]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + "\n" + lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            stanzas.append((stripped[1:-1], {}))
            continue
        key, sep, value = line.partition("=")
        assert sep and stanzas, f"not a conf line: {line!r}"
        stanzas[-1][1][key.strip()] = value.strip()
    return stanzas


def terraform_literal(text: str) -> tuple[str, list[str]]:
    """A Terraform JSON string as Terraform reads it (Terraform, "Strings and Templates": the JSON syntax reads
    every string as a template): its literal text, and its ``${ ... }`` / ``%{ ... }`` sequences, which
    ``$${`` and ``%%{`` escape."""
    out: list[str] = []
    sequences: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            out.append(text[i + 1 : i + 3])
            i += 3
        elif text.startswith(("${", "%{"), i):
            end = text.find("}", i)
            sequences.append(text[i : end + 1 if end >= 0 else len(text)])
            i = end + 1 if end >= 0 else len(text)
        else:
            out.append(text[i])
            i += 1
    return "".join(out), sequences


def _parse_artifact(target: str, fmt: str, output: Any) -> Any:
    """The artifact as written to its file (:func:`sigma_lambda_layer.outputs.render`, what the CLI writes),
    read back as its consumer reads it: JSON, NDJSON lines, savedsearches.conf stanzas, or query text."""
    kind = REGISTRY[target].format_file(fmt)
    text = render(output, fmt)
    if kind.extension == "conf":
        return read_conf(text)
    if kind.kind == "ndjson":
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        # One object per line, and no other line end (U+2028, U+2029, CR... end lines for many readers).
        assert text.splitlines() == lines, "a raw line separator inside an NDJSON line"
        return [json.loads(line) for line in lines]
    if kind.kind == "json" or text.lstrip().startswith(("{", "[")):
        return json.loads(text)
    return text


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every value of a parsed artifact with its path, JSON held in a string parsed too (Kibana's
    ``searchSourceJSON``, EventBridge's ``EventPattern``)."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, (list, tuple)):
        for n, v in enumerate(node):
            yield from _leaves(v, (*path, n))
    elif isinstance(node, str) and node[:1] in "{[":
        try:
            inner = json.loads(node)
        except ValueError:
            return
        yield from _leaves(inner, (*path, "<json>"))


def _shape(node: Any, query: Any) -> Any:
    """The structure of a parsed artifact: containers and their sizes, the proven query as one marker, every
    other leaf by type (dict keys are left out: CloudFormation logical ids come from the title)."""
    if node == query or (isinstance(node, str) and _same_query(node, query)):
        return "<query>"
    if isinstance(node, dict):
        return ("dict", tuple(sorted(repr(_shape(v, query)) for v in node.values())))
    if isinstance(node, (list, tuple)):
        return ("list", tuple(_shape(v, query) for v in node))
    if isinstance(node, str) and node[:1] in "{[":
        try:
            return ("json", _shape(json.loads(node), query))
        except ValueError:
            pass
    return type(node).__name__


def _same_query(text: str, query: Any) -> bool:
    if isinstance(query, str):
        return text == query
    try:
        return bool(json.loads(text) == query)
    except ValueError:
        return False


@dataclass
class ArtifactProbe:
    title: str
    description: str
    name: str
    value: str
    problems: list[str] = field(default_factory=list)

    def rule(self, title: str, description: str) -> str:
        return to_yaml(
            {
                "title": title,
                "id": "00000001-1111-4111-8111-111111111111",
                "description": description,
                "status": "test",
                "level": "high",
                "tags": ["attack.t1078"],
                "logsource": {"product": "aws", "service": "cloudtrail"},
                "detection": {
                    "sel": {
                        "eventName": sigma_escape(self.value),
                        "userAgent|cased": sigma_escape(self.name),
                    },
                    "condition": "sel",
                },
            }
        )


def artifact_problems(target: str, fmt: str, probe: ArtifactProbe) -> list[str]:
    """The hostile rule's artifact in ``fmt``, read back, against the default query and a benign twin's."""
    hostile = probe.rule(probe.title, probe.description)
    benign = probe.rule("Benign title", "Benign description")
    (default,) = convert(hostile, target=target, collect_errors=True)
    (artifact,) = convert(hostile, target=target, format=fmt, collect_errors=True)
    (twin,) = convert(benign, target=target, format=fmt, collect_errors=True)
    if default.error is not None or artifact.error is not None:
        error = artifact.error or default.error
        assert error is not None
        located = getattr(getattr(error, "location", None), "line", None) is not None
        return [] if located or "title" in str(error) else [f"{fmt}: refusal without line: {error}"]
    if twin.error is not None:
        return [f"{fmt}: the benign twin failed: {twin.error}"]
    if fmt == "ddl":  # the table's DDL is built from the options alone: no rule text may reach it
        return [] if artifact.output == twin.output else [f"ddl: rule text changed the DDL\n{artifact.output!r}"]
    query: Any = default.output
    if isinstance(query, str) and query.lstrip().startswith("{"):
        query = json.loads(query)  # EventBridge: the pattern, whichever way the artifact holds it
    try:
        parsed = _parse_artifact(target, fmt, artifact.output)
        parsed_twin = _parse_artifact(target, fmt, twin.output)
    except (ValueError, AssertionError) as exc:
        return [f"{fmt}: does not read back: {exc}\n{artifact.output!r}"]
    problems: list[str] = []
    kind = REGISTRY[target].format_file(fmt)
    if kind.extension == "conf":
        problems += _conf_problems(parsed, parsed_twin, str(default.output), probe.title)
    elif isinstance(parsed, str):
        if parsed != query and not (isinstance(query, str) and query.endswith(" WHERE " + parsed)):
            problems.append(f"{fmt}: text artifact is not the proven query: {parsed!r} vs {query!r}")
    else:
        if kind.extension == "tf.json":
            problems += _terraform_problems(parsed, parsed_twin, query)
            parsed, parsed_twin = _terraform_read(parsed), _terraform_read(parsed_twin)
        leaves = [v for _, v in _leaves(parsed)]
        embedded = any(v == query or (isinstance(v, str) and _same_query(v, query)) for v in leaves)
        condition = isinstance(query, str) and any(
            isinstance(v, str) and v and query.endswith(" WHERE " + v) for v in leaves
        )
        if not (embedded or condition):
            problems.append(f"{fmt}: the proven query is not in the artifact\n{query!r}\n{artifact.output!r}")
        if _shape(parsed, query) != _shape(parsed_twin, query):  # the twin embeds the same query
            problems.append(f"{fmt}: structure differs from the benign twin's\n{artifact.output!r}")
    return problems


def _conf_problems(
    stanzas: list[tuple[str, dict[str, str]]], twin: list[tuple[str, dict[str, str]]], query: str, title: str
) -> list[str]:
    problems = []
    if len(stanzas) != 1 or len(twin) != 1:
        problems.append(f"savedsearches: {len(stanzas)} stanzas for one rule: {[s for s, _ in stanzas]}")
        return problems
    name, keys = stanzas[0]
    if name.lower() == "default" or "]" in name or "\n" in name:
        problems.append(f"savedsearches: stanza name {name!r}")
    if set(keys) != set(twin[0][1]):
        problems.append(f"savedsearches: keys {sorted(set(keys) ^ set(twin[0][1]))} differ from the twin's")
    if keys.get("search") != query:
        problems.append(f"savedsearches: search {keys.get('search')!r} is not the proven query {query!r}")
    return problems


#: The template sequences the Terraform artifact generates itself (references to its own variables and
#: resources); any other sequence came from rule text.
_OWN_SEQUENCE: Final = re.compile(r"\$\{(?:var\.[a-z_]+|aws_cloudwatch_event_rule\.[a-z0-9_]+\.name)\}")


def _terraform_problems(parsed: Any, twin: Any, query: Any) -> list[str]:
    problems = []
    for path, value in _leaves(parsed):
        if isinstance(value, str) and "<json>" not in path:
            for sequence in terraform_literal(value)[1]:
                if not _OWN_SEQUENCE.fullmatch(sequence):
                    problems.append(f"terraform: template sequence {sequence!r} from rule text at {path}")
    return problems


def _terraform_read(node: Any) -> Any:
    """Every string of a Terraform JSON configuration as Terraform reads it (templates' literal text)."""
    if isinstance(node, dict):
        return {k: _terraform_read(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_terraform_read(v) for v in node]
    if isinstance(node, str):
        literal, sequences = terraform_literal(node)
        return node if sequences else literal  # a string with a reference stays as written
    return node


def _formats() -> list[tuple[str, str]]:
    return [(t, f) for t in TARGETS for f in REGISTRY[t].formats() if f != "default"]


@pytest.mark.parametrize(("target", "fmt"), _formats(), ids=[f"{t}-{f}" for t, f in _formats()])
def test_campaign_artifacts(target: str, fmt: str) -> None:
    """Hostile titles, descriptions and values in every output format: the artifact reads back with the
    benign twin's structure and embeds exactly the proven query."""

    @_campaign(ARTIFACT_EXAMPLES)
    @given(
        title=hostile_values(target),
        description=hostile_values(target),
        name=hostile_values(target),
        value=hostile_values(target),
    )
    def run(title: str, description: str, name: str, value: str) -> None:
        problems = artifact_problems(target, fmt, ArtifactProbe(title, description, name, value))
        assert not problems, "\n\n".join(problems)

    run()


# ------------------------------------------------------------------------------------------- the readers


def test_campaign_readers_see_breakouts() -> None:
    """The readers the campaign trusts do see the breakouts it hunts (else a pass proves nothing)."""
    assert terraform_literal("a$${b}%%{c}${var.x}") == ("a${b}%{c}", ["${var.x}"])
    assert terraform_literal('p${file("x")}') == ("p", ['${file("x")}'])
    assert read_conf("[a]\nsearch = x \\\ny\nk = v\n") == [("a", {"search": "x \ny", "k": "v"})]
    assert len(read_conf("[a]\nsearch = x\n[default]\nk = v\n")) == 2
    hostile = {"k\u2028|x": "a\x00b\x7f\U0001f600", "t": "\u2029"}
    assert yaml.safe_load(to_yaml(hostile)) == hostile
    assert _shape({"q": "Q", "n": [1, "t"]}, "Q") != _shape({"q": "Q", "n": [1, "t", "u"]}, "Q")
    pattern = {"detail": {"eventName": ["a"]}}
    assert _shape({"EventPattern": json.dumps(pattern)}, pattern) == ("dict", (repr("<query>"),))


# ------------------------------------------------------------------------------------------- CI outputs

#: Rule text that reaches Markdown, HTML and CI annotations: Markdown and attr_list syntax, HTML, workflow
#: command markers, percent escapes, line ends.
PAGE_TOKENS: Final = (
    "{: onclick=alert(1) }",
    "<img src=x onerror=alert(2)>",
    "`",
    "``",
    "*",
    "_",
    "[a](javascript:alert(3))",
    "&lt;",
    "&amp;",
    "#",
    "|",
    "\\",
    "\n",
    "\n\n",
    "\r",
    "::stop-commands::",
    "::error::",
    "%",
    "%0A",
    ",",
    ":",
    "<!--",
    "-->",
    "!!! note",
    "    ",
    "---",
    " ",
    "a",
    "Z",
)


def _page_text() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(PAGE_TOKENS), min_size=1, max_size=6).map("".join)


def _command_unescape(text: str) -> str:
    """actions/toolkit ``command.ts``: the runner reverses ``escapeData``/``escapeProperty``."""
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def read_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    """A GitHub Actions workflow command as the runner reads one line: ``::name props::message``."""
    assert "\n" not in line and "\r" not in line, "the command spans lines"
    match = re.fullmatch(r"::([a-z]+)(?: ([^:]*))?::(.*)", line, re.DOTALL)
    assert match, f"not a workflow command: {line!r}"
    props = {}
    for prop in (match.group(2) or "").split(","):
        if prop:
            key, sep, value = prop.partition("=")
            assert sep, f"property without '=': {prop!r}"
            props[key] = _command_unescape(value)
    return match.group(1), props, _command_unescape(match.group(3))


@_campaign(ARTIFACT_EXAMPLES * 4)
@given(path=_page_text(), message=_page_text(), check=st.sampled_from(["x", "cloudtrail_field_name"]))
def test_campaign_github_annotations_and_sarif_read_back(path: str, message: str, check: str) -> None:
    """A finding on a hostile path with a hostile message: the annotation is one workflow command whose
    properties and message decode to exactly the finding's; SARIF's URI decodes to exactly the path."""
    from urllib.parse import unquote

    from sigma_lambda_layer.checks.model import Finding, Severity
    from sigma_lambda_layer.checks.sarif import findings_to_sarif

    finding = Finding(check, Severity.WARNING, message, None, path, 3, 4, None, None)
    name, props, text = read_workflow_command(finding.github_annotation())
    assert (name, props, text) == ("warning", {"file": path, "line": "3", "col": "4"}, f"[{check}] {message}")
    with tempfile.TemporaryDirectory() as base:
        relative = Finding(
            check, Severity.WARNING, message, None, str(Path(base) / "r" / "x.yml"), 1, 1, None, None
        )
        for f, expected in ((relative, "r/x.yml"), (finding, None)):
            sarif = findings_to_sarif([f], base_dir=Path(base))
            location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            uri = location["artifactLocation"]["uri"]
            assert re.fullmatch(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*", uri), uri  # RFC 3986 characters only
            if expected is not None:
                assert unquote(uri) == expected
            elif not Path(path).is_absolute():
                assert unquote(uri) == Path(path).as_posix()


class _Elements(html.parser.HTMLParser):
    """Every element and attribute name of an HTML page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = tuple(sorted(name for name, _ in attrs))
        # Pygments' token spans inside a code block vary with the code's text, and a description keeps its
        # paragraphs: neither is structure from rule text. 'on*' attributes are checked apart.
        if not (tag == "span" and not any(n.startswith("on") for n in names)) and (tag, names) != ("p", ()):
            self.elements.append((tag, names))


def _page_html(rule: dict[str, Any]) -> tuple[list[tuple[str, tuple[str, ...]]], str]:
    """The rule's page as MkDocs renders its Markdown (the site's own extensions), as elements and text."""
    import markdown

    from sigma_lambda_layer.pages import render_pages

    config = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:")[0]
    )
    extensions, configs = [], {}
    for entry in config["markdown_extensions"]:
        name, options = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        extensions.append(name)
        configs[name] = options or {}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "rules").mkdir()
        (Path(folder) / "rules" / "rule.yml").write_text(to_yaml(rule), encoding="utf-8")
        render_pages([str(Path(folder) / "rules")], Path(folder) / "docs")
        page = (Path(folder) / "docs" / "rule.md").read_text(encoding="utf-8")
    rendered = markdown.markdown(page, extensions=extensions, extension_configs=configs)
    parser = _Elements()
    parser.feed(rendered)
    return parser.elements, rendered


@_campaign(max(3, ARTIFACT_EXAMPLES // 2))
@given(title=_page_text(), description=_page_text(), author=_page_text(), tag=_page_text(), fp=_page_text())
def test_campaign_rule_pages_have_the_benign_pages_elements(
    title: str, description: str, author: str, tag: str, fp: str
) -> None:
    """A rule page built from hostile title, description, author, tag and false positive has exactly the
    elements and attributes of the same page built from plain words (no element, attribute, link or code
    span came from rule text), and shows the title as written."""

    def rule(t: str, d: str, a: str, g: str, f: str) -> dict[str, Any]:
        return {
            "title": t,
            "id": "00000001-1111-4111-8111-111111111111",
            "status": "test",
            "description": d,
            "author": a,
            "tags": ["attack.t1078", f"x.{g}"],
            "falsepositives": [f],
            "level": "high",
            "logsource": {"product": "aws", "service": "cloudtrail"},
            "detection": {"sel": {"eventName": "ConsoleLogin"}, "condition": "sel"},
        }

    hostile, text = _page_html(rule(title, description, author, tag, fp))
    benign, _ = _page_html(rule("Plain", "Plain", "Plain", "plain", "Plain"))
    assert hostile == benign, text
    assert not [a for _, attrs in hostile for a in attrs if a.startswith("on")]
