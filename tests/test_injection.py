"""No injection: a hostile rule value or field name never breaks out of its literal, on any target.

Hypothesis draws batches of hostile literals (quotes of every kind, backslashes including a trailing one,
``|``, backtick, ``/``, newlines and control characters, ``*``/``?`` with and without Sigma escapes,
Unicode that case-folds oddly) and puts each in a one-selection rule under several modifiers and condition
shapes. Every rule goes through the public API; each query is run on the target's engine (``tests/engines``,
via :data:`tests.support.fidelity.ENGINES`) over one shared pool of records: for every literal, records holding it,
near misses (case swapped, one character more or less) and a record without the field. The engine's match set
must equal the reference evaluator's over the *whole pool*: a query that matches anything besides the events
whose field holds its literal, or that the engine refuses as invalid, is an injection. The only other
acceptable outcome is a clear "unsupported" error naming the construct or field.

Lucene runs in one JVM call per batch. Everything is seeded (``derandomize=True``), so runs repeat. The
campaign over hostile field names in every construct and every output format is
``tests/test_injection_campaign.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import RuleLoadError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.registry import TARGETS as REGISTRY
from tests.support.fidelity import ENGINES, Query, _cased, engine_unavailable, is_clear_error

TARGETS: Final = tuple(REGISTRY)

#: Characters that break quoting, escaping, pipelines, macros, regexes, case folding and lines. ``\u3000``
#: is whitespace to Lucene's query parser; ``\u212a`` (Kelvin) lower-cases to ASCII ``k``. (``\u0130``, whose
#: lower case is two code points, is left out: targets differ on it by design, which is not an injection.)
HOSTILE: Final = [
    *"aZ09 \"\\|`*?\n\t\r'é中ß[](){}=!<>:/.-_%$#@,;&+~^",
    "\u212a",
    "\u2028",
    "\u3000",
    "\x1b",
    "\x7f",
    "\U0001f600",
]
#: The EQL engine's case-sensitivity rewrite (tests/engines/eql_engine.py ``_rewrite``) puts CR and LF
#: back into its regex literal unescaped, which the ``eql`` parser then refuses; the generated EQL itself
#: parses (see ``test_eql_control_characters_parse``). Reported to the harness owner; until fixed, EQL
#: semantics are checked without CR and LF.
ENGINE_ALPHABET: Final[dict[str, list[str]]] = {
    "eql": [c for c in HOSTILE if c not in "\r\n"],
}
#: A keyword field, a text-ish field and a flattened sub-field (Elastic stores requestParameters flattened).
FIELDS: Final = ("userAgent", "errorMessage", "requestParameters.functionName")
MODIFIERS: Final = ("", "|contains", "|startswith", "|endswith", "|cased")
CONDITIONS: Final = ("sel", "not sel", "sel or other")
#: Batches per target and literals per batch: 4 x 25 = 100 hostile values per target and run.
BATCHES: Final = 4
BATCH: Final = 25
#: Commands a Splunk query may run. Anything else (delete, outputlookup, sendemail, script, collect, ...) is
#: an injection; the SPL engine refuses unknown commands too.
SPL_COMMANDS: Final = frozenset({"search", "eval", "where", "regex"})


@dataclass(frozen=True)
class Case:
    """One hostile rule: ``value`` (Sigma syntax) under ``field`` + ``modifier``, in ``condition``."""

    field: str
    modifier: str
    value: str
    condition: str
    #: strings the records hold: the literal and its near misses
    samples: tuple[str, ...]

    def rule(self) -> str:
        return rule_yaml({f"{self.field}{self.modifier}": self.value}, self.condition)


def rule_yaml(selection: dict[str, Any], condition: str) -> str:
    return yaml.safe_dump(
        {
            "title": "Hostile value",
            "logsource": {"product": "aws", "service": "cloudtrail"},
            "detection": {"sel": selection, "other": {"eventName": "NeverCalled"}, "condition": condition},
        },
        allow_unicode=True,
    )


def sigma_escape(literal: str) -> str:
    """The Sigma string that matches ``literal`` itself: ``\\``, ``*`` and ``?`` escaped."""
    return literal.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def near_misses(literal: str) -> tuple[str, ...]:
    """The literal and strings a broken-out query would confuse with it (never empty: Elastic drops "")."""
    out = [literal, literal.swapcase(), literal.upper(), literal.lower(), "x" + literal, literal + "x"]
    out += [literal[:-1], literal[1:], literal.replace("\\", ""), literal + "\\"]
    return tuple(dict.fromkeys(s for s in out if s))


def record(field: str, value: str | None) -> dict[str, Any]:
    """A CloudTrail record holding ``value`` at ``field`` (or lacking the field for ``None``)."""
    rec: dict[str, Any] = {"eventVersion": "1.08", "eventSource": "lambda.amazonaws.com", "eventName": "X"}
    if value is not None:
        head, _, tail = field.partition(".")
        rec[head] = {tail: value} if tail else value
    return rec


def _literal(alphabet: list[str]) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(alphabet), min_size=1, max_size=10)


def _escaped_case(alphabet: list[str]) -> st.SearchStrategy[Case]:
    """An escaped literal: must match exactly the values holding it (modulo case and the modifier)."""
    return st.builds(
        lambda lit, f, m, c: Case(f, m, sigma_escape(lit), c, near_misses(lit)),
        _literal(alphabet),
        st.sampled_from(FIELDS),
        st.sampled_from(MODIFIERS),
        st.sampled_from(CONDITIONS),
    )


def _wildcard_case(alphabet: list[str]) -> st.SearchStrategy[Case]:
    """Sigma wildcards and escapes as written (``*``, ``?``, ``\\*``, ``\\?``, ``\\\\``, stray ``\\``)."""
    tokens = st.sampled_from([*alphabet, "*", "?", "\\*", "\\?", "\\\\"])

    def build(parts: list[str], fill: str, f: str, c: str) -> Case:
        pattern = "".join(parts)
        literal = pattern.replace("*", fill).replace("?", fill[:1] or "z")
        samples = (*near_misses(literal), pattern, pattern.replace("\\", ""))
        return Case(f, "", pattern, c, tuple(dict.fromkeys(s for s in samples if s)))

    return st.builds(
        build,
        st.lists(tokens, min_size=1, max_size=8),
        st.text(alphabet=st.sampled_from(alphabet), max_size=3),
        st.sampled_from(FIELDS),
        st.sampled_from(CONDITIONS),
    )


#: Cases a target is known to get wrong (reported), each tracked by a strict-xfail test below.
KNOWN_BUGS: Final[dict[str, Callable[[Case], bool]]] = {}


def batches(target: str) -> st.SearchStrategy[list[Case]]:
    alphabet = ENGINE_ALPHABET.get(target, HOSTILE)
    case = st.one_of(_escaped_case(alphabet), _wildcard_case(alphabet))
    known = KNOWN_BUGS.get(target)
    if known is not None:
        case = case.filter(lambda c: not known(c))
    return st.lists(case, min_size=BATCH, max_size=BATCH)


def _texts(output: Any) -> tuple[str, ...]:
    return (output,) if isinstance(output, str) else tuple(output)


def run_batch(target: str, rules: Sequence[str], records: list[dict[str, Any]]) -> list[str]:
    """Convert ``rules`` for ``target`` and run them on one pool of records; the problems found.

    Each rule must either be refused with a clear unsupported error, or give queries whose matches over
    the whole pool equal the evaluator's.
    """
    engine = ENGINES[target]
    results = list(convert(list(rules), target=target, collect_errors=True))
    assert len(results) == len(rules), [r.error for r in results if r.error]
    problems: list[str] = []
    queries: list[Query] = []
    expected: list[set[int]] = []
    for text, result in zip(rules, results, strict=True):
        if result.error is not None:
            if not is_clear_error(result.error):
                problems.append(f"unclear error {type(result.error).__name__}: {result.error}\n{text}")
            continue
        queries.append(Query(_texts(result.output), _cased(text)))
        rule = SigmaCollection.from_yaml(text).rules[0]
        assert isinstance(rule, SigmaRule)
        evaluator = RuleEvaluator(rule)
        expected.append({i for i, r in enumerate(records) if evaluator.matches(r)})
    if not queries:
        return problems
    views = [engine.view(r) for r in records]
    for query, want, got in zip(queries, expected, engine.run(queries, views), strict=True):
        if isinstance(got, Exception):
            problems.append(f"engine refused {query.texts!r}: {type(got).__name__}: {got}")
        elif got != want:
            extra = sorted(got - want)[:5]
            missed = sorted(want - got)[:5]
            problems.append(
                f"{query.texts!r}\n  matched besides: {[_held(records[i]) for i in extra]}"
                f"\n  missed: {[_held(records[i]) for i in missed]}"
            )
    if target == "splunk":
        from tests.engines.spl import command_names

        for query in queries:
            for text in query.texts:
                if not set(command_names(text)) <= SPL_COMMANDS:
                    problems.append(f"pipeline command injected: {command_names(text)} in {text!r}")
    return problems


def _held(rec: dict[str, Any]) -> Any:
    return {k: v for k, v in rec.items() if k not in ("eventVersion", "eventSource", "eventName")}


def check_cases(target: str, cases: Sequence[Case]) -> None:
    records = [record(f, None) for f in FIELDS]
    records += [record(case.field, s) for case in cases for s in case.samples]
    problems = run_batch(target, [c.rule() for c in cases], records)
    assert not problems, "\n\n".join(problems)


def _skip_without_engine(target: str) -> None:
    reason = engine_unavailable(target)
    if reason:
        pytest.skip(f"{target} engine unavailable: {reason}")


def _hostile_values_test(target: str) -> Any:
    @settings(
        max_examples=BATCHES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing batch is reported as drawn
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(cases=batches(target))
    def run(cases: list[Case]) -> None:
        check_cases(target, cases)

    return run


@pytest.mark.parametrize("target", TARGETS)
def test_all_targets_hostile_values_match_only_their_literal(target: str) -> None:
    """Every registry target (one added later is attacked without a line here); the wider campaign over
    names, constructs and formats is tests/test_injection_campaign.py."""
    _skip_without_engine(target)
    _hostile_values_test(target)()


# --------------------------------------------------------------------------------------- fixed attacks

#: Values written to break out of a literal in one target or another.
ATTACKS: Final = (
    'x" | delete | search "',
    'x\\" | delete',
    "x\\",
    "` | delete `",
    "`delete`",
    "x\n| delete",
    "x\r\n| outputlookup evil.csv",
    '" | sendemail to=a@b.c "',
    "x' | script python evil '",
    '") | collect index=main ("',
    "a|b",
    "x OR *",
    "x) OR (eventName:*",
    '" or true or "',
    "x/ | parse @message /(?<a>.*)",
    '\\"; DROP',
    'x" or eventName like "%',
)


@pytest.mark.parametrize("target", TARGETS)
def test_all_targets_fixed_attacks_stay_literal(target: str) -> None:
    """Known break-out strings, in every condition shape and modifier, match only their own events."""
    _skip_without_engine(target)
    alphabet = ENGINE_ALPHABET.get(target)
    attacks = [a for a in ATTACKS if alphabet is None or all(ch in alphabet or ch.isalnum() for ch in a)]
    cases = [
        Case(FIELDS[n % len(FIELDS)], modifier, sigma_escape(value), condition, near_misses(value))
        for n, value in enumerate(attacks)
        for modifier, condition in zip(("", "|contains", "|cased"), CONDITIONS, strict=True)
    ]
    check_cases(target, cases)


def test_splunk_no_pipeline_command_from_a_value() -> None:
    """A value cannot add ``| delete``, ``| outputlookup``, ``| sendemail``, ``| script`` or ``| collect``."""
    from tests.engines.spl import command_names

    for value in ATTACKS:
        for modifier in ("", "|contains", "|re"):
            escaped = value if modifier == "|re" else sigma_escape(value)
            text = rule_yaml({f"userAgent{modifier}": escaped}, "sel")
            (result,) = convert(text, target="splunk", collect_errors=True)
            if result.error is not None:  # an invalid regular expression is a rule error, not a query
                assert is_clear_error(result.error) or isinstance(result.error, RuleLoadError), result.error
                continue
            names = command_names(result.output)
            assert set(names) <= SPL_COMMANDS, (value, result.output)


def test_eql_control_characters_parse() -> None:
    """Generated EQL with CR, LF and other control characters is valid EQL (Elasticsearch syntax)."""
    import eql
    from eql.parser import elasticsearch_syntax, ignore_missing_functions

    for value in ("a\nb", "a\rb", "a\r\nb", "x\n| delete", "\x1b[0m", "tab\there"):
        for modifier in ("", "|contains", "|cased"):
            text = rule_yaml({f"userAgent{modifier}": sigma_escape(value)}, "sel or other")
            (result,) = convert(text, target="eql", collect_errors=True)
            assert result.error is None or is_clear_error(result.error), result.error
            if result.error is None:
                with elasticsearch_syntax, ignore_missing_functions:
                    eql.parse_query(result.output)


# --------------------------------------------------------------------------------------- field names

#: Field names with characters that end a field reference in one target or another.
HOSTILE_FIELDS: Final = (
    'requestParameters.x" OR 1=1',
    "requestParameters.x y",
    "requestParameters.x\\",
    "requestParameters.a`b",
    "requestParameters.a:b",
    "requestParameters.a\nb",
    "requestParameters.a'b",
    "requestParameters.a(b)",
    "requestParameters.a/b",
    "requestParameters.a=b",
    "requestParameters.a]b",
    "requestParameters.é",
)


def _field_name_problems(target: str, names: Sequence[str]) -> list[str]:
    rules: list[str] = []
    records = [record("userAgent", "v")]
    for name in names:
        rules.append(rule_yaml({name: "v"}, "sel"))
        records.append(record(name, "v"))
        records.append(record(name, "w"))
        head = name.split(".", 1)[1]
        for cut in ("x", "a", "b", head[:1], head[-1:]):
            records.append(record(f"requestParameters.{cut}", "v"))
    return run_batch(target, rules, records)


@pytest.mark.parametrize("target", TARGETS)
def test_all_targets_hostile_field_names_rejected_or_exact(target: str) -> None:
    """A field name is either refused with a clear error or read exactly: the query matches only events
    holding the value under that very name (not under a name it was cut down to)."""
    _skip_without_engine(target)
    problems = _field_name_problems(target, HOSTILE_FIELDS)
    assert not problems, "\n\n".join(problems)


def test_lucene_whitespace_in_values_stays_literal() -> None:
    _skip_without_engine("lucene")
    cases = [
        Case(field, modifier, sigma_escape(value), "sel", near_misses(value))
        for value in ("a\tb", "a\nb", "a\rb", "a\u3000b", "\t!")
        for field in FIELDS[:2]
        for modifier in ("", "|cased", "|contains")
    ]
    check_cases("lucene", cases)


def test_lucene_value_starting_with_angle_bracket() -> None:
    _skip_without_engine("lucene")
    cases = [
        Case(field, modifier, value, condition, near_misses(value))
        for value in ("<&", ">a", "<=b", ">=")
        for field in FIELDS[:2]
        for modifier in ("", "|cased", "|startswith")
        for condition in ("sel", "not sel")
    ]
    check_cases("lucene", cases)


def test_lucene_field_name_with_star_is_refused() -> None:
    _skip_without_engine("lucene")
    problems = _field_name_problems("lucene", ["requestParameters.a*", "requestParameters.a?"])
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("target", [t for t in TARGETS if t != "lucene"])
def test_all_targets_field_name_with_wildcards(target: str) -> None:
    _skip_without_engine(target)
    problems = _field_name_problems(target, ["requestParameters.a*", "requestParameters.a?"])
    assert not problems, "\n\n".join(problems)
