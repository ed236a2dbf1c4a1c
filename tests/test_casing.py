"""The one case-insensitive rule (sigma_lambda_layer.casing): lower() on both sides, not re.IGNORECASE."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from sigma_lambda_layer import casing, regexsafety
from sigma_lambda_layer.evaluator import RuleEvaluator


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("ConsoleLogin", "consolelogin", True),
        ("s", "\u017f", False),  # long s: re.IGNORECASE says equal, lower() does not
        ("i", "\u0131", False),  # dotless i
        ("I", "İ", False),  # dotted capital I lowercases to two characters
        ("k", "\u212a", True),  # the Kelvin sign lowercases to k
        ("straße", "STRASSE", False),  # casefold would say equal
        ("ÉTÉ", "été", True),
    ],
)
def test_casing_equal_is_lower_on_both_sides(a: str, b: str, equal: bool) -> None:
    assert casing.equal(a, b) is equal
    assert casing.equal(a, b) is (a.lower() == b.lower())


def test_casing_char_class_agrees_with_lower_per_character() -> None:
    for c in "aksiIİ\u0131\u017f\u212aéΣ\u03c3ς":
        members = casing.char_class(c)
        assert c in members
        for d in map(chr, range(0x3000)):
            single = len(c.lower()) == 1 and len(d.lower()) == 1
            assert (d in members) is (d == c or (single and d.lower() == c.lower())), (c, d)


def test_casing_regex_ignorecase_follows_the_rule() -> None:
    rx = casing.compile_regex(r"^s[a-c]+k$", re.IGNORECASE)
    assert rx.search("SABK") and rx.search("sab\u212a")
    assert not rx.search("\u017fab")  # Python's re.IGNORECASE matches this one
    assert re.search(r"^s[a-c]+k$", "\u017fab".replace("ab", "abk"), re.IGNORECASE)
    scoped = casing.compile_regex(r"(?i:a)a")
    assert scoped.fullmatch("Aa") and not scoped.fullmatch("AA")
    negated = casing.compile_regex(r"[^s]", re.IGNORECASE)
    assert not negated.fullmatch("S") and negated.fullmatch("\u017f")
    with pytest.raises(ValueError, match="backreference"):
        casing.compile_regex(r"(a)\1", re.IGNORECASE)


def _matches(detection: str, record: dict[str, object]) -> bool:
    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n" + detection
    ).rules[0]
    return RuleEvaluator(rule).matches(record)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("detection", "value", "expected"),
    [
        ("  sel: {userAgent: 'Boto3*'}\n  condition: sel", "BOTO3/1.0", True),
        ("  sel: {userAgent: 'boto3*'}\n  condition: sel", "boto3/1.0".replace("o", "O"), True),
        ("  sel: {userAgent: 'sdk'}\n  condition: sel", "\u017fdk", False),
        ("  sel: {userAgent|contains: 'ki'}\n  condition: sel", "xk\u0131x", False),
        ("  sel: {userAgent|re|i: '^sdk$'}\n  condition: sel", "\u017fdk", False),
        ("  sel: {userAgent|re|i: '^sdk$'}\n  condition: sel", "SDK", True),
        ("  sel: {userAgent|re: '(?i)^k$'}\n  condition: sel", "\u212a", True),
        ("  keywords: ['\u017fdk']\n  condition: keywords", "SDK", False),
    ],
)
def test_evaluator_case_insensitive_follows_the_rule(detection: str, value: str, expected: bool) -> None:
    assert _matches(detection, {"userAgent": value}) is expected


# -- |re|i written back as text: the pattern regexsafety.bounded runs, identical in meaning ------------------

_ALPHABET = "aAkK\u212asS\u017fiI\u0131İß\u03c3ςΣµ\u03bc0-_ \n"


def _atoms() -> st.SearchStrategy[str]:
    letters = st.sampled_from([*_ALPHABET.replace("\n", ""), r"\n", r"\.", r"\-", r"\x4b", r"\u212a"])
    classes = st.sampled_from(
        [".", r"\d", r"\w", r"\W", r"\s", "[a-z]", "[^k]", "[A-K]", r"[\w-]", "[^a-cS]", "[\u017f\u0131]", "[^\\D]"]
    )
    anchors = st.sampled_from(["^", "$", r"\b", r"\B", r"\A", r"\Z"])
    return st.one_of(letters, letters, classes, anchors)


def _patterns() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        seq = st.lists(inner, min_size=1, max_size=3).map("".join)
        repeat = st.tuples(seq, st.sampled_from(["*", "+", "?", "{1,2}", "{2,}", "*?", "+?", "*+", "??"]))
        return st.one_of(
            seq,
            repeat.map(lambda t: f"(?:{t[0]}){t[1]}"),
            seq.map(lambda s: f"({s})"),
            seq.map(lambda s: f"(?P<g>{s})"),
            seq.map(lambda s: f"(?i:{s})"),
            seq.map(lambda s: f"(?-i:{s})"),
            seq.map(lambda s: f"(?s:{s})"),
            seq.map(lambda s: f"(?>{s})"),
            seq.map(lambda s: f"(?={s})"),
            seq.map(lambda s: f"(?!{s})"),
            st.lists(seq, min_size=2, max_size=3).map(lambda b: "(?:" + "|".join(b) + ")"),
        )

    body = st.recursive(_atoms(), extend, max_leaves=8)
    head = st.sampled_from(["", "", "(?i)", "(?im)", "(?is)", "(?ai)", "(?ix) "])
    return st.tuples(head, st.lists(body, min_size=1, max_size=3).map("".join)).map("".join)


def _tree_compiled(pattern: str, flags: int) -> re.Pattern[str]:
    """The casing rule applied the way compile_regex did before it wrote text: the rewritten parse tree
    handed to re's compiler (the reference the text form must equal)."""
    tree = casing._PARSER.parse(pattern, flags)
    casing._rewrite(tree, bool(tree.state.flags & re.IGNORECASE))
    tree.state.flags &= ~re.IGNORECASE
    compiled: re.Pattern[str] = casing._COMPILER.compile(tree, flags & ~re.IGNORECASE)
    return compiled


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    pattern=_patterns(),
    ignorecase=st.booleans(),
    texts=st.lists(st.text(alphabet=_ALPHABET, max_size=7), min_size=1, max_size=6),
)
def test_casing_regex_text_form_means_what_the_rewritten_tree_means(
    pattern: str, ignorecase: bool, texts: list[str]
) -> None:
    flags = re.IGNORECASE if ignorecase else 0
    try:
        reference = _tree_compiled(pattern, flags)
    except (re.error, ValueError):
        with pytest.raises((re.error, ValueError)):
            casing.compile_regex(pattern, flags)
        return
    compiled = casing.compile_regex(pattern, flags)
    assert compiled.flags & re.IGNORECASE == 0 or compiled.pattern == pattern
    on_regex = regexsafety._compile(compiled.pattern, compiled.flags)  # what bounded() runs
    for text in texts:
        expected = reference.search(text)
        # re's \B never matches in an empty string, regex's (and PCRE's) does: an engine difference that
        # holds for every pattern bounded() runs, not one of the text form (CPython changed it in 3.14).
        engines = (compiled,) if not text and r"\B" in pattern else (compiled, on_regex)
        for rx in engines:
            got = rx.search(text)
            assert (got and (got.span(), got.groups())) == (
                expected and (expected.span(), expected.groups())
            ), (
                pattern,
                compiled.pattern,
                text,
                rx,
            )
            assert bool(rx.fullmatch(text)) is bool(reference.fullmatch(text)), (
                pattern,
                compiled.pattern,
                text,
            )


def test_casing_regex_ignorecase_runs_under_the_time_bound() -> None:
    """Under |re|i, '^(a+)+$' (which the regex package decides at once) and '^(a|aa)+$' (exponential there
    too) on 40 characters: a verdict or a timeout naming the rule's pattern, within the bound, not minutes
    on re."""
    fast = casing.compile_regex("^(a+)+$", re.IGNORECASE)
    assert fast.pattern != "^(a+)+$" and not fast.flags & re.IGNORECASE
    start = time.perf_counter()
    assert not regexsafety.bounded(fast, "A" * 39 + "!")
    slow = casing.compile_regex("^(a|aa)+$", re.IGNORECASE)
    with pytest.raises(regexsafety.RegexTimeout, match=r"'\^\(a\|aa\)\+\$' took over .*catastrophic"):
        regexsafety.bounded(slow, "A" * 39 + "!", shown="^(a|aa)+$")
    assert time.perf_counter() - start < regexsafety.MATCH_TIMEOUT + 2
