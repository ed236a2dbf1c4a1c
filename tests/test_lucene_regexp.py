"""The one Lucene-regexp translator (``backends/_lucene_regexp.py``): proven against Python ``re`` as the
reference evaluator runs it, and the same on the lucene, eql and esql targets."""

from __future__ import annotations

import json
import random
import re
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from sigma_lambda_layer.backends._lucene_regexp import RegexTranslationError, translate, translate_sigma
from sigma_lambda_layer.backends._lucene_regexp import _unicode_class as unicode_class
from sigma_lambda_layer.backends.eql import CloudTrailEqlBackend
from sigma_lambda_layer.backends.esql import CloudTrailEsqlBackend
from sigma_lambda_layer.backends.lucene import CloudTrailLuceneBackend
from sigma_lambda_layer.evaluator.values import regex_pattern
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from tests.engines.eql_engine import lucene_regexp_to_python
from tests.support.rulekit import convert_rule, rule_yaml

# Letters with case partners under the project's rule (k ~ KELVIN SIGN), letters Python's IGNORECASE folds
# but the rule does not (long s, dotless i, dotted I), a non-ASCII digit, spaces and a line break.
ALPHABET = ["a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "i", "I", "\u0131", "\u0130", "1", "\u0663", "_",
            " ", "\u00a0", "\n", ".", "-", "\u00e9", "\u00c9"]  # fmt: skip
ATOMS = [re.escape(c) for c in ALPHABET] + [
    ".", "\\d", "\\D", "\\s", "\\S", "[a-k]", "[^s]", "[A-Z_]", "[\\d.]", "[\u00e9-\u00ea]", "\\x41", "\\n",
]  # fmt: skip
QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{1,2}", "{,2}", "*?"]


@st.composite
def patterns(draw: st.DrawFn, depth: int = 0) -> str:
    """A Python pattern of the translatable subset: atoms, groups, alternation, quantifiers, edge anchors."""
    items = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.integers(0, 5)) == 0:
            atom = "(" + draw(patterns(depth + 1)) + "|" + draw(patterns(depth + 1)) + ")"
        else:
            atom = draw(st.sampled_from(ATOMS))
        items.append(atom + draw(st.sampled_from(QUANTIFIERS)))
    body = "".join(items)
    if depth:
        return body
    return draw(st.sampled_from(["", "^", "\\A"])) + body + draw(st.sampled_from(["", "$", "\\Z"]))


FLAGS = st.sets(st.sampled_from([SigmaRegularExpressionFlag.IGNORECASE, SigmaRegularExpressionFlag.DOTALL]))


def sigma_regex(pattern: str, flags: set[SigmaRegularExpressionFlag]) -> SigmaRegularExpression:
    regex = SigmaRegularExpression(pattern)
    for flag in flags:
        regex.add_flag(flag)
    return regex


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patterns(), FLAGS, st.lists(st.text(st.sampled_from(ALPHABET), max_size=6), min_size=1, max_size=8))
def test_translation_matches_what_the_evaluator_matches(
    pattern: str, flags: set[SigmaRegularExpressionFlag], values: list[str]
) -> None:
    """Lucene's whole-term match of the translation (read back by the independent Lucene-syntax reader of
    the EQL engine) agrees with the evaluator's ``re.search`` on generated values, for every flag set."""
    regex = sigma_regex(pattern, flags)
    lucene = lucene_regexp_to_python(translate_sigma(regex))
    evaluator = regex_pattern(regex)
    for value in values:
        assert (re.fullmatch(lucene, value) is not None) == (evaluator.search(value) is not None), (
            pattern,
            flags,
            value,
            translate_sigma(regex),
        )


def test_unicode_classes_are_pythons() -> None:
    """``\\d`` and ``\\s`` are written as the exact code points Python's ``re`` gives them in a str pattern."""
    for name in "ds":
        python = re.compile("\\" + name)
        expected = {cp for cp in range(sys.maxunicode + 1) if python.fullmatch(chr(cp))}
        assert unicode_class(name) == expected, name


def test_ascii_flag_gives_ascii_classes() -> None:
    assert translate("(?a)^\\w\\d\\s$") == "[0-9A-Z_a-z][0-9][\t-\r ](\n)?"
    with pytest.raises(RegexTranslationError, match="every Unicode letter and digit"):
        translate("\\w")


@pytest.mark.parametrize(
    "pattern", ["a(?=b)", "(a)\\1", "\\bword", "a(^b)", "a$b", "(?m)^x", "(?i:x)", "(?x)a", "a*+", "a**",
                "[\\S]", "\\W", "a{2,1}", "[z-a]", "\\0123"],
)  # fmt: skip
def test_refusals_name_the_construct(pattern: str) -> None:
    with pytest.raises(RegexTranslationError, match="regular expression"):
        translate(pattern)


# --- the same translation on every Elastic target ---------------------------------------------------------


def _regexp_on(target: str, detection: str) -> str:
    """The Lucene regexp a target's query hands to Lucene for ``userAgent`` (string literals unquoted)."""
    backend: dict[str, type[Any]] = {
        "lucene": CloudTrailLuceneBackend,
        "eql": CloudTrailEqlBackend,
        "esql": CloudTrailEsqlBackend,
    }
    query = convert_rule(backend[target](aws_cloudtrail_elastic()), rule_yaml(detection))
    if target == "lucene":
        m = re.search(r"user_agent\.original:/(.*)/$", query, re.S)
    else:
        m = re.search(r'user_agent\.original (?:regex|rlike) ("(?:[^"\\]|\\.)*")', query, re.S)
    assert m is not None, query
    return m.group(1) if target == "lucene" else json.loads(m.group(1))


@pytest.mark.parametrize(
    ("value", "meaning"),
    [
        ("'x\\d'", "a Unicode digit class on every target (was [0-9] on eql/esql)"),
        ("'(?i)boto'", "a leading (?i) accepted everywhere (was refused on eql/esql)"),
        ("'(?a)x\\w'", "ASCII \\w under (?a) everywhere"),
    ],
)
def test_lucene_eql_esql_one_translation(value: str, meaning: str) -> None:
    detection = f"  sel:\n    userAgent|re: {value}\n  condition: sel"
    lucene, eql, esql = (_regexp_on(t, detection) for t in ("lucene", "eql", "esql"))
    assert lucene == eql == esql == translate(value.strip("'").replace("\\\\", "\\")), meaning


def test_lucene_eql_esql_refuse_unicode_word_class_alike() -> None:
    """Python's ``\\w`` (Unicode) was refused on lucene and an ASCII class on eql/esql: refused on all three."""
    detection = "  sel:\n    userAgent|re: 'x\\w'\n  condition: sel"
    for target in ("lucene", "eql", "esql"):
        with pytest.raises(RegexTranslationError, match="every Unicode letter"):
            _regexp_on(target, detection)


def test_lucene_eql_esql_case_insensitive_classes_alike() -> None:
    """``|re|i`` is explicit classes from the casing rule on all three (no long s, no dotless i), under a
    case-sensitive operator: EQL ``regex`` (not ``regex~``), ES|QL ``RLIKE`` on the field (no ``TO_LOWER``)."""
    detection = "  sel:\n    userAgent|re|i: 'kiss'\n  condition: sel"
    regexps = {t: _regexp_on(t, detection) for t in ("lucene", "eql", "esql")}
    assert set(regexps.values()) == {".*[Kk\u212a][Ii][Ss][Ss].*"}


# --- on real Apache Lucene -------------------------------------------------------------------------------


def test_translations_on_real_lucene_match_the_evaluator() -> None:
    """The same property on Lucene's own ``RegExp`` (one JVM, one batch): 100 generated patterns, each as a
    ``query_string`` ``/regexp/`` over documents of generated values, hit exactly what the evaluator finds."""
    from tests.engines.lucene_engine import LuceneEngine, LuceneQueryError

    if (why := LuceneEngine.missing()) is not None:
        pytest.skip(why)
    rng = random.Random(11)  # a seeded generator: one batch, so the JVM starts once

    def pattern(depth: int = 0) -> str:
        items = []
        for _ in range(rng.randint(1, 4)):
            if depth < 2 and rng.randint(0, 5) == 0:
                atom = "(" + pattern(depth + 1) + "|" + pattern(depth + 1) + ")"
            else:
                atom = rng.choice(ATOMS)
            items.append(atom + rng.choice(QUANTIFIERS))
        body = "".join(items)
        return body if depth else rng.choice(["", "^", "\\A"]) + body + rng.choice(["", "$", "\\Z"])

    flag_sets = [set(), {SigmaRegularExpressionFlag.IGNORECASE}, {SigmaRegularExpressionFlag.DOTALL}]
    regexes = [sigma_regex(pattern(), rng.choice(flag_sets)) for _ in range(100)]
    batch = [(r, translate_sigma(r)) for r in regexes]
    docs = sorted({"".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(60)} - {""})
    queries = ["v:/" + lucene.replace("/", "\\/") + "/" for _, lucene in batch]
    results = LuceneEngine().search_many(queries, [{"v": d} for d in docs], lambda _: "keyword")
    problems = []
    too_complex = 0
    for (regex, lucene), hits in zip(batch, results, strict=True):
        if isinstance(hits, LuceneQueryError) and "TooComplexToDeterminize" in hits.message:
            too_complex += 1  # Elasticsearch fails such a search loudly (a generated monster, not a rule)
            continue
        evaluator = regex_pattern(regex)
        expected = {i for i, d in enumerate(docs) if evaluator.search(d) is not None}
        if hits != expected:
            problems.append(
                f"{regex.regexp.original!r} {set(regex.flags)} -> {lucene!r}: {hits} != {expected}"
            )
    assert not problems, "\n".join(problems[:10])
    assert too_complex < len(batch) // 5, too_complex
