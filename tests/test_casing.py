"""The one case-insensitive rule (sigma_lambda_layer.casing): lower() on both sides, not re.IGNORECASE."""

from __future__ import annotations

import re

import pytest
from sigma.collection import SigmaCollection

from sigma_lambda_layer import casing
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
