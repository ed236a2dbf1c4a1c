"""Elasticsearch Lucene (``query_string``) over Elastic's AWS integration, CloudTrail data stream.

The stock :class:`sigma.backends.elasticsearch.LuceneBackend` writes ``field:value`` and ``field:*value*``
for every field. On the integration's mappings that is wrong in three ways, which this subclass fixes:

- **Case.** The CloudTrail fields are ``keyword`` fields without a normalizer, so term and wildcard queries
  are case-sensitive, while Sigma matching is case-insensitive unless ``|cased``. A value with cased letters
  becomes a Lucene regexp with character classes (``event.action:/[uU][pP][dD].*/``); a value without cased
  letters, or a ``|cased`` one, stays an exact term or wildcard.
- **Regular expressions.** Lucene regexps match the whole term and have their own syntax; Sigma's ``|re`` is
  an unanchored, Python-flavoured search. :mod:`~sigma_lambda_layer.backends._lucene_regexp` (shared with
  EQL and ES|QL) rewrites one into the other, or refuses.
- **Flattened fields.** ``requestParameters.X`` lives in a keyed sub-field of a ``flattened`` field, which
  refuses wildcard and regexp queries (Elasticsearch ``FlattenedFieldMapper.KeyedFlattenedFieldType``) and
  compares case-sensitively. Exact and prefix matches work there: a case-insensitive one is spelled out as
  the OR of the value's case variants, up to :attr:`CloudTrailLuceneBackend.max_case_variants`; anything
  else (contains, endswith, inner wildcards, regexps) raises, naming the field.

Everything the target cannot express with the rule's meaning raises
:class:`~sigma_lambda_layer.errors.UnsupportedConstructError`. The field types come from
:mod:`sigma_lambda_layer.fields.elastic`; this module never renames a field.

Query syntax: Elasticsearch reference, "Query string query" (query_string syntax: reserved characters,
``_exists_``, ``/regexp/``) and "Regular expression syntax" (Lucene ``RegExp`` with ``ALL`` flags:
``#``, ``@``, ``&``, ``~``, ``<>`` are operators, ``^``/``$`` are literals, the whole term must match).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from typing import Any, ClassVar

from sigma.backends.elasticsearch import LuceneBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer import casing
from sigma_lambda_layer.artifacts.kibana import saved_objects, saved_search
from sigma_lambda_layer.backends._elastic import DetectionRuleFormats, refuse_whole_object
from sigma_lambda_layer.backends._lucene_regexp import literal_regexp, translate_sigma
from sigma_lambda_layer.dialect import FormatFile
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError, refusal, unsupported
from sigma_lambda_layer.fields.elastic import (
    INDEX_PATTERN,
    IP_TEXT_FIELDS,
    field_type,
    subtree_of_flattened,
)

#: Characters with a meaning in query_string syntax, escaped with ``\`` in field names and values. Source:
#: Elasticsearch reference, query_string "Reserved characters". Whitespace is escaped too (:func:`_qs_escape`):
#: the classic QueryParser ends a term at space, tab, CR, LF and U+3000 (its ``_WHITESPACE`` token).
_QS_RESERVED = '+-=&|!(){}[]^"~*?:\\/<>'
_FIELD_ESCAPE = re.compile(r"[\s+\-=&|!(){}\[\]^\"~*?:\\/<>]")
#: Bare words the classic QueryParser reads as operators wherever a term could stand (``field:AND`` does not
#: parse); ``&&``, ``||`` and ``!`` are escaped character by character.
_QS_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT"})


#: CloudTrail's timestamp format (``eventTime``, ``creationDate``): a term on a date field matches the instant.
_CLOUDTRAIL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
#: Where Elasticsearch's ip fields keep IPv4 addresses.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _number_regexp(number: int | float) -> str:
    """Lucene regexp of the decimal texts the evaluator reads as ``number``: optional leading zeros, and for
    an integer an optional ``.0...`` (``50``, ``050``, ``50.00``). Exponent notation is not covered."""
    text = repr(number)
    if any(c in text for c in "eEnN"):
        raise ValueError(f"{text} needs exponent notation, which a decimal-text regexp does not cover")
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    fraction = fraction.rstrip("0")
    whole = whole.lstrip("0")
    if not whole and not fraction:
        return "\\-?(0+(\\.0+)?|0*\\.0+)"
    sign = "\\-" if negative else ""
    if not fraction:
        return f"{sign}0*{whole}(\\.0+)?"
    return f"{sign}0*{whole}\\.{fraction}0*"


def _qs_regexp(regexp: str) -> str:
    """A Lucene regexp as a query_string ``/regexp/`` term: an inner ``/`` would end it, so it is escaped
    (the classic grammar's ``REGEXPTERM`` takes ``\\/``, and Lucene's ``RegExp`` reads ``\\/`` as ``/``)."""
    return "/" + regexp.replace("/", "\\/") + "/"


def _qs_escape(text: str) -> str:
    """``text`` as one query_string token: reserved characters and every whitespace character escaped.

    Escaping more than the parser splits on is harmless: an escaped character is taken literally in terms,
    prefixes and wildcard patterns alike (Lucene ``QueryParserBase.discardEscapeChar``, ``WildcardQuery``).
    """
    return "".join("\\" + c if c in _QS_RESERVED or c.isspace() else c for c in text)


def _qs_term(text: str) -> str:
    """``text`` as one exact term (no wildcards) that Elasticsearch reads as a term query and nothing else.

    Escaping is not enough for two kinds of value, which are quoted instead (a quoted single token on a
    keyword or keyed flattened field is the same term query): a leading ``<`` or ``>``, which
    ``QueryStringQueryParser.getFieldQuery`` reads as a one-sided range *after* unescaping (``field:\\<x`` is
    ``field < "x"``), and the operator words ``AND``, ``OR``, ``NOT``.
    """
    if text.startswith(("<", ">")) or text in _QS_OPERATOR_WORDS:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _qs_escape(text)


def _expanded_values(value: Any) -> list[Any]:
    """The leaf values of a (possibly nested) :class:`SigmaExpansion`: an OR of ORs is one OR."""
    if isinstance(value, SigmaExpansion):
        return [leaf for v in value.values for leaf in _expanded_values(v)]
    return [value]


# --- the backend ---------------------------------------------------------------------------------------


class CloudTrailLuceneBackend(DetectionRuleFormats, LuceneBackend):
    """Lucene ``query_string`` queries that mean what the Sigma rule means on the CloudTrail data stream."""

    name: ClassVar[str] = "Elasticsearch Lucene for Elastic's AWS CloudTrail data stream"
    detection_rule_type: ClassVar[str] = "query"
    detection_rule_language: ClassVar[str] = "lucene"
    format_files: ClassVar[dict[str, FormatFile]] = {
        **DetectionRuleFormats.format_files,
        "kibana_ndjson": FormatFile("ndjson", "ndjson"),
        "dsl_lucene": FormatFile("json", "json"),
    }
    field_escape_pattern: ClassVar[re.Pattern[str]] = _FIELD_ESCAPE

    #: Upper bound on the case variants spelled out for a case-insensitive match on a flattened sub-field
    #: (2 per letter, 3 for k: ``Success`` has 128, ``true`` 16). Beyond a handful of variants the OR is no
    #: query an analyst would read or paste (issue 11): a canonical value (``|cased``, or the pipeline's
    #: canonicalisation step) is one plain term instead, and anything else is refused with the count.
    max_case_variants: ClassVar[int] = 16

    # A negation is always its own group: in Lucene ``a OR NOT b`` makes ``NOT b`` a MUST_NOT clause of the
    # same boolean query, i.e. "a and not b" (docs/engines/lucene.md). pySigma groups a ConditionNOT and a
    # null test itself; ``exists: false`` is a plain leaf to it, so it carries its own parentheses.
    field_not_exists_expression: ClassVar[str] = "(NOT _exists_:{field})"

    def compare_precedence(self, outer: Any, inner: Any) -> bool:
        """An AND inside an AND, or an OR inside an OR, needs no group: the classic QueryParser reads a chain
        of one operator as one boolean query (all MUST, or all SHOULD), as an analyst writes
        ``a AND b AND c``. Mixed operators and negations keep their groups (stock ``parenthesize``): the
        parser has no precedence between AND and OR, and reads ``a OR NOT b`` as "a and not b". A value list
        (``field:(a OR b)``) is one term group already."""
        if isinstance(inner, (ConditionAND, ConditionOR)) and type(inner) is type(outer):
            return True
        if isinstance(inner, ConditionOR) and self.decide_convert_condition_as_in_expression(
            inner, ConversionState()
        ):
            return True
        return bool(super().compare_precedence(outer, inner))

    # --- helpers -------------------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        """The field name escaped, or refused when query_string would read it as a pattern of field names.

        Elasticsearch unescapes the field name and then treats a ``*`` in it as a wildcard over the mapped
        field names (``QueryStringQueryParser.extractMultiFields``, ``Regex.isSimpleMatchPattern``), so
        ``requestParameters.a\\*`` also searches ``requestParameters.ab``; no escape keeps it literal. A ``?``
        is refused alike: the query would be one rewrite away from the same mistake.
        """
        self._refuse_field_pattern(field_name)
        name: str = super().escape_and_quote_field(field_name)
        return name

    def _refuse_field_pattern(self, field: str) -> None:
        if "*" in field or "?" in field:
            unsupported(
                f"field {field!r}: Lucene query_string reads '*' and '?' in a field name as a pattern "
                "over field names, even when escaped, so the query would search other fields too",
                hint="name the field without '*' or '?', or use the esql or eql target",
                field=field,
                kind=UnsupportedFieldError,
            )

    def _type(self, field: str) -> str:
        try:
            return field_type(field)
        except KeyError:
            return "keyword"  # a field from a custom pipeline: assume the common case, a plain keyword

    def _unsupported(
        self, what: str, field: str, why: str, hint: str | None = None
    ) -> UnsupportedConstructError:
        return refusal(f"{what} on {field!r}: {why}", hint=hint, construct=what, field=field)

    def _string_value(self, field: str, value: SigmaString, cased: bool) -> str:
        """The value part of ``field:<value>`` for a Sigma string on ``field``, with Sigma's meaning."""
        kind = self._type(field)
        refuse_whole_object(field, f"a string match ({str(value)!r})")
        parts = tuple(value.s)
        literal = "".join(p for p in parts if isinstance(p, str))
        specials = [p for p in parts if not isinstance(p, str)]
        if any(p not in (SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE) for p in specials):
            raise self._unsupported("a placeholder", field, "unresolved placeholder in value", None)
        if not parts:
            raise self._unsupported(
                "an empty-string match",
                field,
                "Elastic's ingest pipeline drops empty values, so no document holds an empty string",
            )
        if parts == (SpecialChars.WILDCARD_MULTI,):
            return "*"  # query_string turns field:* into an exists query, valid on every field type
        ci = not cased and casing.is_cased(literal)
        if kind in ("keyword", "constant_keyword"):
            if ci:
                return _qs_regexp("".join(self._re_piece(p) for p in parts))
            return self._wildcard_term(value)
        if kind == "flattened":
            return self._flattened_value(field, parts, literal, ci)
        if kind == "boolean":
            if specials or literal.lower() not in ("true", "false"):
                raise self._unsupported(
                    f"the value {str(value)!r}", field, "a boolean field holds true or false"
                )
            return literal.lower()
        if kind == "date" and (specials or not _CLOUDTRAIL_TIME.fullmatch(literal)):
            raise self._unsupported(
                f"the string {str(value)!r}",
                field,
                "a date field keeps the instant, not the text: only a whole CloudTrail timestamp "
                "(YYYY-MM-DDTHH:MM:SSZ) can be matched; a wildcard or shorter date would match differently",
                hint="write the full timestamp, e.g. 2024-05-01T12:34:56Z",
            )
        if kind in ("date", "ip"):
            if specials:
                raise self._unsupported("a wildcard", field, f"{kind} fields take no wildcard queries")
            return '"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"'
        raise self._unsupported("a string match", field, f"{kind} fields are analysed; matching would differ")

    def _re_piece(self, p: object) -> str:
        if p == SpecialChars.WILDCARD_MULTI:
            return ".*"
        if p == SpecialChars.WILDCARD_SINGLE:
            return "."
        assert isinstance(p, str)
        return literal_regexp(p, ignorecase=True)

    def _wildcard_term(self, value: SigmaString) -> str:
        """Exact term or wildcard pattern: reserved characters escaped, ``*``/``?`` kept as wildcards."""
        if all(isinstance(p, str) for p in value.s):
            return _qs_term("".join(p for p in value.s if isinstance(p, str)))
        return "".join(
            _qs_escape(p) if isinstance(p, str) else "*" if p == SpecialChars.WILDCARD_MULTI else "?"
            for p in value.s
        )

    def _flattened_value(self, field: str, parts: tuple[Any, ...], literal: str, ci: bool) -> str:
        prefix = parts[-1] == SpecialChars.WILDCARD_MULTI
        body = parts[:-1] if prefix else parts
        if any(not isinstance(p, str) for p in body):
            raise self._unsupported(
                "a wildcard match other than a prefix",
                field,
                "keyed flattened sub-fields refuse wildcard queries (Elasticsearch FlattenedFieldMapper)",
                hint=f"match the whole value or a prefix, or use the {field.split('.')[2]} string field "
                "(the object's Map.toString) if an approximate match is acceptable",
            )
        if not ci:
            return _qs_escape(literal) + "*" if prefix else _qs_term(literal)
        choices = [(c, *sorted(casing.char_class(c) - {c})) for c in literal]
        count = 1
        for ch in choices:
            count *= len(ch)
        if count > self.max_case_variants:
            raise self._unsupported(
                "a case-insensitive match",
                field,
                f"keyed flattened sub-fields are case-sensitive and {literal!r} has {count} case variants "
                f"(limit {self.max_case_variants})",
                hint="use |cased with the exact spelling CloudTrail stores (one plain term), or the esql "
                "target (TO_LOWER of the key's value)",
            )
        variants = ["".join(v) for v in itertools.product(*choices)]
        return "(" + " OR ".join(_qs_escape(v) + "*" if prefix else _qs_term(v) for v in variants) + ")"

    def _refuse_presence_on_flattened_key(self, field: str, what: str) -> None:
        """``null``/``exists`` on ``requestParameters.X``: Sigma counts an object value as present, but a keyed
        flattened exists query only sees a leaf at exactly that key, so ``X: {...}`` would read as absent."""
        self._refuse_field_pattern(field)  # the clearer of the two refusals
        if self._type(field) == "flattened" and subtree_of_flattened(field) is not None:
            raise self._unsupported(
                what,
                field,
                "a keyed flattened sub-field only exists where that key holds a scalar, so an object value "
                "would read as missing",
                hint="to test for a scalar value write `field: '*'` (and `not` it for absence)",
            )

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        arg = cond.args[0]
        if isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(arg.value, SigmaNull):
            self._refuse_presence_on_flattened_key(arg.field, "a null test")  # the stock NOT null shortcut
        return super().convert_condition_not(cond, state)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        self._refuse_presence_on_flattened_key(cond.field, "a null test")
        return super().convert_condition_field_eq_val_null(cond, state)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        self._refuse_presence_on_flattened_key(cond.field, "an exists test (|exists)")
        return super().convert_condition_field_exists(cond, state)

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        self._refuse_presence_on_flattened_key(cond.field, "an exists test (|exists)")
        return super().convert_condition_field_not_exists(cond, state)

    # --- strings ---------------------------------------------------------------------------------------

    def _string_expr(self, cond: ConditionFieldEqualsValueExpression, cased: bool) -> str:
        assert isinstance(cond.value, SigmaString)
        value = self._string_value(cond.field, cond.value, cased)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_expr(cond, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_expr(cond, cased=True)

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        args = [a for a in cond.args if isinstance(a, ConditionFieldEqualsValueExpression)]
        field = args[0].field
        values = [self._list_value(field, a.value) for a in args]
        return (
            f"{self.escape_and_quote_field(field)}{self.or_in_operator}({self.list_separator.join(values)})"
        )

    def _list_value(self, field: str, value: Any) -> str:
        if isinstance(value, SigmaString):
            return self._string_value(field, value, isinstance(value, SigmaCasedString))
        if isinstance(value, SigmaBool):
            return self._bool_value(field, value)
        return self._number_value(field, value)

    # --- other value types -------------------------------------------------------------------------------

    def _number_value(self, field: str, value: SigmaNumber) -> str:
        """A Sigma number equals every decimal text of the same value (``50``, ``050``, ``50.0``)."""
        kind = self._type(field)
        refuse_whole_object(field, f"the number {value}")
        if kind in ("keyword", "constant_keyword"):
            try:
                return "/" + _number_regexp(value.number) + "/"
            except ValueError as e:
                raise self._unsupported(f"the number {value}", field, str(e)) from None
        if kind == "flattened":
            raise self._unsupported(
                f"the number {value}",
                field,
                "a number also equals texts such as '050' and '50.0', which keyed flattened sub-fields "
                "(exact terms and prefixes only) cannot match",
                hint=f"quote the value ('{value}') to match exactly that text",
            )
        raise self._unsupported(f"the number {value}", field, f"{kind} fields do not hold numbers")

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        value = self._number_value(cond.field, cond.value)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def _bool_value(self, field: str, value: SigmaBool) -> str:
        """A Sigma boolean equals JSON ``true``/``false`` and those strings in any case."""
        kind = self._type(field)
        refuse_whole_object(field, f"the boolean {value}")
        text = "true" if value.boolean else "false"
        if kind == "boolean":
            return text
        if kind in ("date", "ip"):
            raise self._unsupported("a boolean", field, f"{kind} fields do not hold booleans")
        return self._string_value(field, SigmaString(text), cased=False)

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaBool)
        value = self._bool_value(cond.field, cond.value)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        kind = self._type(cond.field)
        refuse_whole_object(cond.field, "a regular expression (|re)")
        if kind not in ("keyword", "constant_keyword"):
            why = (
                "keyed flattened sub-fields refuse regexp queries (Elasticsearch FlattenedFieldMapper)"
                if kind == "flattened"
                else f"{kind} fields take no regexp queries"
            )
            raise self._unsupported("a regular expression (|re)", cond.field, why)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{_qs_regexp(translate_sigma(cond.value))}"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """``field:"net/len"``: an ip term query with a ``/`` is a CIDR query (quoted: ``/`` starts a regexp).

        Elasticsearch stores IPv4 addresses as IPv4-mapped IPv6 (``::ffff:a.b.c.d``), so an IPv6 network that
        overlaps ``::ffff:0:0/96`` would also take in every IPv4 address, which Sigma's ``|cidr`` never does:
        the raw address text (``source.address``, :data:`~sigma_lambda_layer.fields.elastic.IP_TEXT_FIELDS`)
        must hold a colon for an IPv6 network and none for an IPv4 one, as Python's ``ipaddress`` decides.
        """
        assert isinstance(cond.value, SigmaCIDRExpression)
        kind = self._type(cond.field)
        if kind != "ip":
            raise self._unsupported(
                "a CIDR match (|cidr)", cond.field, f"only ip fields take CIDR queries, not {kind}"
            )
        field = self.escape_and_quote_field(cond.field)
        network = cond.value.network
        query = f'{field}:"{network}"'
        raw = IP_TEXT_FIELDS.get(cond.field)
        if raw is None:
            if network.version == 6 and network.overlaps(_IPV4_MAPPED):
                raise self._unsupported(
                    "an IPv6 CIDR match (|cidr) overlapping ::ffff:0:0/96",
                    cond.field,
                    "ip fields store IPv4 addresses there, and no raw-text field tells them apart",
                )
            return query
        # IPv4 and IPv4-mapped IPv6 addresses share one ip value; the raw text tells them apart (a colon).
        colon = f"{self.escape_and_quote_field(raw)}:*\\:*"
        guard = colon if network.version == 6 else f"(NOT {colon})"
        return f"({query} AND {guard})"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise self._unsupported(
            "a numeric comparison (|lt, |lte, |gt, |gte)",
            cond.field,
            f"the field is a {self._type(cond.field)}; its ranges compare text, not numbers",
        )

    def convert_condition_field_eq_expansion(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """The values of a ``|base64offset`` or ``|windash`` expansion, ORed.

        The stock backend fails inside pySigma (AttributeError) when the values cannot form an ``(a OR b)``
        list, and on nested expansions (``|windash|base64offset``: every offset of every dash variant), which
        are flattened here into one OR. Field references (``|base64offset|fieldref``: each encoded variant
        taken as a field *name*) are refused by name instead.
        """
        values = _expanded_values(cond.value)
        if any(isinstance(v, SigmaFieldReference) for v in values):
            unsupported(
                f"a field reference (|fieldref) after a value-expanding modifier (|base64offset, |windash) on "
                f"{cond.field!r}: the expanded variants would be read as field names, and Lucene query_string "
                "cannot compare two fields",
                hint="drop |fieldref, or use |fieldref alone on the esql target",
                construct="|fieldref",
                field=cond.field,
            )
        or_cond = ConditionOR(
            [ConditionFieldEqualsValueExpression(cond.field, v) for v in values],
            getattr(cond, "source", None),
        )
        if self.decide_convert_condition_as_in_expression(or_cond, state):
            return self.convert_condition_as_in_expression(or_cond, state)
        return self.convert_condition_or(or_cond, state)

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Any:
        unsupported(
            f"a field reference (|fieldref) on {cond.field!r}: Lucene query_string cannot compare two fields",
            hint="use the esql or eql target, or a script query",
            construct="|fieldref",
            field=cond.field,
        )

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        unsupported(
            f"a keyword search (value {str(cond.value)!r} without a field): on keyword fields it would be "
            "case-sensitive and search every field",
            hint="name the CloudTrail field the value belongs to",
            construct="keyword",
            value=str(cond.value),
        )

    convert_condition_val_num = convert_condition_val_str
    convert_condition_val_re = convert_condition_val_str

    # --- output formats: the index comes from the pipeline state -----------------------------------------

    def target_indices(self, state: ConversionState) -> list[str]:
        """The pipeline's index (default: the integration's data stream), for rules and saved searches."""
        index = state.processing_state.get("index", INDEX_PATTERN)
        return list(index) if isinstance(index, (list, tuple)) else [str(index)]

    def finalize_query_kibana_ndjson(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        """One Kibana saved search (Discover), as saved-object import reads it: see :func:`saved_search`."""
        return saved_search(
            rule, self.finalize_query_default(rule, query, index, state), self.target_indices(state)
        )

    def finalize_output_kibana_ndjson(  # type: ignore[override]
        self, queries: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return saved_objects(queries)

    def finalize_query_siem_rule(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict:
        """The stock alerting-API rule (as the EQL and ES|QL targets write it), reading our index."""
        out: dict = super().finalize_query_siem_rule(rule, query, index, state)
        out["params"]["index"] = self.target_indices(state)
        return out
