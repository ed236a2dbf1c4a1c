"""What the two SQL backends spell alike: :mod:`~sigma_lambda_layer.backends.duckdb` (DuckDB SQL) and
:mod:`~sigma_lambda_layer.backends.athena` (Trino SQL for Amazon Athena, and Security Lake through it).

Syntax only, as every backend: string literals and quoted identifiers, ``LIKE`` with its escape, the two sides
of a case-insensitive comparison (``lower()`` with the ``İ`` rewrite, the rule side lowered in Python), a
network's range test for ``|cidr`` and the IPv4 pattern both dialects' regex engines read alike, and the
:class:`SQLBackend` settings, refusals and output steps both backend classes share. Where the dialects differ
only in a word of a message, the word is a parameter (``engine``); what each spells its own way (lambdas,
arrays, JSON access, the IPv6 parse) stays in its module.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network
from typing import Any, ClassVar, cast

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import CompareOperators, SigmaCompareExpression, SigmaNumber, SigmaString, SpecialChars

from sigma_lambda_layer.errors import unsupported

# Python's ``ipaddress`` IPv4 octet: decimal, no leading zero, at most 255.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: An IPv4 address as Python's ``ipaddress`` reads it, in syntax RE2 and Java's regex library share.
IPV4_RE = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
# Python lowercases İ (U+0130) to two characters; DuckDB and Trino to one. A private-use stand-in keeps the
# per-character wildcard form exact (it matches only itself and the ``?``/``*`` wildcards).
DOTTED_I = "\u0130"
DOTTED_I_STANDIN = "\ue000"
SIGMAS = frozenset("σςΣ")
#: Characters no other character lowercases to, in Python or DuckDB (checked over every code point): a
#: case-insensitive comparison with a value made of them alone is an exact one, and needs no lower().
CASELESS = frozenset("0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def sql_string(text: str, engine: str) -> str:
    """A SQL string literal: quotes doubled (DuckDB and Trino literals both treat backslashes literally).
    ``engine`` names the dialect, with its article, in the refusal of a NUL (``"a DuckDB"``)."""
    if "\x00" in text:
        unsupported(f"a NUL character cannot appear in {engine} string literal")
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str, refusal: str, *, dotted: bool = False) -> str:
    """A double-quoted identifier, a double quote doubled; with ``dotted`` each ``.``-separated part is
    quoted on its own (``main.cloudtrail``). ``refusal`` is the message for an empty name or a NUL in it."""
    if not name or "\x00" in name:
        unsupported(refusal)
    parts = name.split(".") if dotted else [name]
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def like(side: str, pattern: str, literal: Callable[[str], str]) -> str:
    """``side LIKE pattern`` (the pattern quoted by the dialect's ``literal``), with ``ESCAPE '\\'`` only
    where the pattern escapes something."""
    escape = " ESCAPE '\\'" if "\\" in pattern else ""
    return f"{side} LIKE {literal(pattern)}{escape}"


def like_pattern(value: SigmaString, transform: Any) -> str:
    """A ``LIKE`` pattern for ``value``: ``*`` -> ``%``, ``?`` -> ``_``, ``\\``/``%``/``_`` of the text
    escaped with ``\\``; ``transform`` applied to each plain part."""
    out: list[str] = []
    for part in cast(Any, value.s):
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        elif isinstance(part, str):
            text = transform(part)
            out.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            unsupported(f"placeholder {part!r} left in a value; resolve it with a pipeline before converting")
    return "".join(out)


def per_char_lower(text: str) -> str:
    """The rule side of a case-insensitive wildcard, per character (``İ`` -> its stand-in)."""
    return "".join(DOTTED_I_STANDIN if c == DOTTED_I else c.lower() for c in text)


def equality(plain: str, cased: bool, engine: str) -> tuple[str, str]:
    """For a value without wildcards: the record side (a template over ``{t}``) and the text it must equal
    (lowered unless ``cased``). A Greek sigma in a case-insensitive equality is refused (``engine``'s
    ``lower()`` does not lowercase by context as Python does)."""
    wanted = plain if cased else plain.lower()
    if not cased and SIGMAS & set(wanted):
        unsupported(
            f"case-insensitive equality with {plain!r}: Python lowercases Greek sigma by context "
            f"(final form), which {engine}'s lower() does not; use |cased or a wildcard"
        )
    if cased or set(wanted) <= CASELESS:
        side = "{t}"
    elif "i" in wanted or "\u0307" in wanted:
        side = f"lower(replace({{t}}, '{DOTTED_I}', 'i\u0307'))"
    else:
        side = "lower({t})"
    return side, wanted


def like_side(value: SigmaString, cased: bool) -> tuple[str, str]:
    """For a value with wildcards: the record side (a template over ``{t}``) and the ``LIKE`` pattern."""
    literal_text = "".join(p for p in cast(Any, value.s) if isinstance(p, str))
    if cased or set(literal_text) <= CASELESS:
        return "{t}", like_pattern(value, lambda s: s)
    pattern = like_pattern(value, per_char_lower)
    needs_standin = "i" in literal_text.lower() or DOTTED_I in literal_text
    side = f"lower(replace({{t}}, '{DOTTED_I}', '{DOTTED_I_STANDIN}'))" if needs_standin else "lower({t})"
    return side, pattern


def in_network(value: str, network: IPv4Network | IPv6Network) -> str:
    """``value BETWEEN`` the first and last address of ``network``: as numbers for IPv4 (``value`` the
    address as a number), as 32 lowercase hex digits for IPv6 (``value`` the address as that text)."""
    lo, hi = int(network.network_address), int(network.broadcast_address)
    if isinstance(network, IPv4Network):
        return f"{value} BETWEEN {lo} AND {hi}"
    return f"{value} BETWEEN '{lo:032x}' AND '{hi:032x}'"


def required_values(node: Any, field: str) -> list[str] | None:
    """Lower-cased values ``field`` must hold as a string (one of them) for ``node`` to match, or None.

    Read off the condition tree: an equality with a plain string gives its value, ``or`` the union of its
    branches (if each gives some), ``and`` the intersection of those that give some; anything else says
    nothing. The hunt uses it to skip records a rule cannot match; an array-valued field is never skipped.
    """
    if isinstance(node, ConditionFieldEqualsValueExpression):
        value = node.value
        if node.field == field and isinstance(value, SigmaString) and not value.contains_special():
            return ["".join(cast(Any, value.s)).lower()]
        return None
    if isinstance(node, ConditionOR):
        branches = [required_values(a, field) for a in node.args]
        if any(b is None for b in branches):
            return None
        return sorted({v for b in branches for v in cast(list[str], b)})
    if isinstance(node, ConditionAND):
        known = [set(b) for b in (required_values(a, field) for a in node.args) if b is not None]
        return sorted(set.intersection(*known)) if known else None
    return None


class SQLBackend(TextQueryBackend):
    """What the DuckDB and Athena backend classes share: SQL's boolean tokens and grouping, ``NOT`` of a
    NULL leaf, the refusals, the ``condition`` and ``hunt`` formats. A subclass names its ``engine`` (in
    refusals) and the ``hunt_dispatch_paths`` its pipeline gives eventSource and eventName."""

    #: the engine's name in refusals ("not supported for DuckDB")
    engine: ClassVar[str]
    #: the fields the ``hunt`` format names the values a rule requires of (hunt's dispatch): eventSource and
    #: eventName as the backend's pipeline names them
    hunt_dispatch_paths: ClassVar[tuple[str, str]]

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    parenthesize: bool = True
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "'"

    _COMPARE: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
        CompareOperators.NEQ: "<>",
    }

    def _comparison(self, cond: ConditionFieldEqualsValueExpression) -> tuple[int | float, str]:
        """The number and the SQL operator of a ``|lt``/``|lte``/``|gt``/``|gte``/``|neq`` comparison."""
        value = cast(SigmaCompareExpression, cond.value)
        if not isinstance(value.number, SigmaNumber) or type(value.number) is not SigmaNumber:
            unsupported(f"timestamp-part comparisons are not supported for {self.engine}")
        return value.number.number, self._COMPARE[value.op]

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        unsupported(
            f"timestamp-part modifiers (minute, hour, ...) are not supported by the {self.engine} backend"
        )

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        unsupported(f"query expressions are not supported for {self.engine}")

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        """``NOT coalesce(x, false)``: a plain leaf (``record->>'$.f' = 'v'``, ``eventname = 'v'``) is NULL
        on a record without the field, and Sigma's ``not`` is true there. AND/OR need nothing: without NOT,
        a NULL leaf decides a WHERE exactly as false would (Kleene AND/OR are monotone)."""
        arg = cond.args[0]
        inner = (
            self.convert_condition_group(arg, state)
            if arg.__class__ in self.precedence
            else self.convert_condition(arg, state)
        )
        return f"NOT coalesce({inner}, false)"

    def finalize_query_condition(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        return query

    def finalize_output_condition(self, queries: list[str]) -> list[str]:
        return queries

    def finalize_query_hunt(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        """The condition with what ``sigma-lambda hunt`` needs to dispatch records to it."""
        tree: Any = None
        if isinstance(rule, SigmaRule):
            conditions = rule.detection.parsed_condition
            tree = conditions[index].parse() if index < len(conditions) else None
        return {
            "condition": query,
            "eventSource": required_values(tree, self.hunt_dispatch_paths[0]),
            "eventName": required_values(tree, self.hunt_dispatch_paths[1]),
            "level": level.name.lower() if (level := getattr(rule, "level", None)) is not None else None,
        }

    def finalize_output_hunt(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return queries
