"""Splunk SPL for CloudTrail: the stock pySigma Splunk backend, corrected where its SPL means something else.

Splunk search terms ``field="value"`` already match as Sigma does: case-insensitive, ``*`` a wildcard,
``NOT field="x"`` true for events without the field, multi-valued fields matching when any value does. What
search cannot say is done in eval, where a regular expression (PCRE) gives exact control:

- Sigma ``?`` (search has no one-character wildcard), a literal ``*`` (search cannot escape an asterisk:
  Splunk Search Manual, "Backslashes"), a ``*`` inside a value with punctuation (inconsistent results:
  Search Manual, "Wildcards"), a backslash before a wildcard, control characters and backticks (spelled
  ``\\xHH`` in the PCRE, so that no query ever holds one); such a leaf keeps a trailing-wildcard prefix
  term in the search, so Splunk can still use its index,
- ``|re`` (PCRE, case-sensitive, unanchored, as Sigma's), ``|fieldref`` (two fields), keywords (the raw
  event text).

Such a leaf becomes a post-filter after the search (``| regex field="..."`` or ``| where ...``) when only
ANDs lead to it from the root, so that dropping events is right. Under OR or NOT it becomes a 0/1 flag
computed by ``| eval sigma_matchN=if(<predicate>, 1, 0)`` before a ``| search`` that holds the whole
condition, with ``sigma_matchN=1`` in the leaf's place: ``if`` turns a predicate on a missing field into 0,
so ``NOT`` stays two-valued, as Sigma's ``not`` is.

Splunk extracts a JSON ``null`` as the text ``null`` (views/splunk.py), so a field holding the string
``"null"`` reads the same; only ``_raw`` tells them apart (``"errorCode":null`` vs ``"errorCode":"null"``).
Sigma's ``exists`` means "holds a value other than JSON null", and a JSON null never equals a string. On a
field whose value domain rules out a JSON null (the pipeline's ``splunk_null_readings`` state, from
fields/domains.py), ``field=*`` and ``NOT field=*`` are ``exists`` and ``null`` exactly and every value is a
plain term. Elsewhere ``exists``, ``exists: false``, ``null``, and every value test whose pattern matches the
text ``null`` (``'*'``, ``n*``, ``|contains: u`` ...) are decided in eval (only the first part below where the
domain rules out the string ``"null"``): some value of the field other than exactly
``null`` (``mvfind``), or the string ``"null"`` standing at the field's own JSON path in ``_raw``
(:func:`text_null_regex`, a PCRE that walks the JSON structure from the root, so a ``"null"`` under another
key of the same name does not count).

Fixes over the stock backend: ``?`` was turned into ``*`` (matched more), a literal ``*`` stayed a wildcard,
regular expressions kept single backslashes (SPL's quoted strings unescape ``\\\\`` to ``\\``), field
references failed under OR and were compared case-sensitively, CIDR skipped field-name checks, and
``|cased`` was unsupported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final, cast

from sigma.backends.splunk import SplunkBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaFieldReference,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.artifacts.splunk import (
    SAVEDSEARCH_OPTIONS,
    savedsearch,
    savedsearch_options,
    savedsearches_conf,
)
from sigma_lambda_layer.dialect import BackendOption, FormatFile, validate
from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported
from sigma_lambda_layer.pipelines.canonical import CanonicalString

# the state keys the pipeline writes
from sigma_lambda_layer.pipelines.splunk import STATE_NULL_READINGS, STATE_SOURCETYPE

#: Conversion state key of this backend: eval predicates of the flag fields ``sigma_match1`` ...
_STATE_FLAGS: Final[str] = "splunk_eval_flags"
#: Conversion state key: the root AND's operands that read a flag, searched after the ``| eval``.
_STATE_AFTER_EVAL: Final[str] = "splunk_after_eval"

_FIELD_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.{}]*$")
#: Splunk index names: letters, digits, ``_``, ``-`` (indexes.conf); ``*`` as a search wildcard.
_INDEX_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9_\-*]*$")
#: Characters never written into a query: control characters and the macro backtick.
_UNQUOTABLE: Final[re.Pattern[str]] = re.compile(r"[\x00-\x1f\x7f`]")
#: One Splunk field name segment: a JSON key, then ``{}`` for each array level (views/splunk.py).
_SEGMENT: Final[re.Pattern[str]] = re.compile(r"^([A-Za-z0-9_]+)((?:\{\})*)$")
#: PCRE lookahead at the start of a value: the value is not exactly the text ``null`` (case-sensitively,
#: since a JSON null is always extracted as lower-case ``null``; ``(?s)`` so that ``(?!.)`` is the very end).
#: A search value that needs no quotes: letters, digits and the minor breakers ``: . _ -`` only.
_BARE_VALUE: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]*")
_NOT_NULL_TEXT: Final[str] = "(?s-i:(?!null(?!.)))"
#: PCRE subroutines for one JSON value (``jval``), string (``jstr``) and object member (``jmem``), defined
#: for reference only (PCRE ``(?(DEFINE)...)``, called as ``(?&name)``: pcrepattern, "Defining subpatterns
#: for use by reference only" and "Recursion"). The grammar has one parse per value, so it matches the
#: same whether recursion is atomic (PCRE1) or not (PCRE2 10.30+).
_JSON_DEFINE: Final[str] = (
    "(?(DEFINE)"
    r'(?<jstr>"(?:[^"\\]++|\\.)*+")'
    r"(?<jval>(?&jstr)"
    r"|\{\s*+(?:(?&jmem)\s*+(?:,\s*+(?&jmem)\s*+)*+)?+\}"
    r"|\[\s*+(?:(?&jval)\s*+(?:,\s*+(?&jval)\s*+)*+)?+\]"
    r"|[-+.0-9A-Za-z]++)"
    r"(?<jmem>(?&jstr)\s*+:\s*+(?&jval))"
    ")"
)
_RE_FLAGS: Final[dict[SigmaRegularExpressionFlag, str]] = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def spl_quote(text: str) -> str:
    """``text`` as a double-quoted SPL string (search or eval): ``\\`` and ``"`` escaped with ``\\``.

    Inside quotes a ``|`` is literal and cannot start a command. Control characters are refused: a
    newline would end the line of a savedsearches.conf stanza.
    """
    if _UNQUOTABLE.search(text):
        unsupported(
            f"value {text!r} contains a control character (newline, tab ...) or a backtick, which a Splunk "
            "SPL string cannot carry safely",
            construct="value",
            value=text,
        )
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _needs_eval(value: SigmaString) -> bool:
    """True if a search term cannot say exactly what ``value`` means, so a PCRE in eval must.

    - a ``?`` wildcard (search has none) or a literal ``*`` (a backslash cannot escape it: Search Manual,
      "Backslashes");
    - a ``*`` inside a value with punctuation, ``arn:aws:iam::*:root``: "Wildcard characters in the middle
      of a word or string might cause inconsistent results ... especially true if the string contains
      punctuation" (Search Manual, "Wildcards"); leading and trailing wildcards are fine;
    - a literal backslash just before a wildcard (``C:\\*``): ``\\*`` in a search string is not documented;
    - a control character (a newline ends a savedsearches.conf line) or a backtick (macro syntax; whether
      one expands inside quotes is not documented): the PCRE spells them ``\\xHH``.
    """
    parts = value.s
    for i, part in enumerate(parts):
        if part is SpecialChars.WILDCARD_SINGLE:
            return True
        if isinstance(part, str):
            if "*" in part or _UNQUOTABLE.search(part):
                return True
            if part.endswith("\\") and i + 1 < len(parts) and not isinstance(parts[i + 1], str):
                return True
    inner = list(parts)
    while inner and inner[0] is SpecialChars.WILDCARD_MULTI:
        inner.pop(0)
    while inner and inner[-1] is SpecialChars.WILDCARD_MULTI:
        inner.pop()
    return SpecialChars.WILDCARD_MULTI in inner and any(
        not ch.isalnum() for part in inner if isinstance(part, str) for ch in part
    )


def _search_prefix(value: SigmaString) -> str:
    """A search value every match of ``value`` also matches: its text up to the first part that needs eval,
    then ``*`` (a leading ``*`` kept). Put in the search, it lets Splunk use its index before the eval test.
    """
    parts = list(value.s)
    head = ""
    if parts and parts[0] is SpecialChars.WILDCARD_MULTI:
        head, parts = "*", parts[1:]
    literal = ""
    for part in parts:
        if not isinstance(part, str):
            break
        cut = re.search(r"[*`\x00-\x1f\x7f]", part)
        literal += part[: cut.start()] if cut else part
        if cut:
            break
    literal = literal.rstrip("\\")  # a trailing backslash would stand before the closing '*'
    return head + literal + "*" if literal else "*"


def _pcre_literal(text: str) -> str:
    """``text`` as a PCRE literal, with control characters and backticks as ``\\xHH`` (see _needs_eval)."""
    # re.escape escapes each non-alphanumeric ASCII character; PCRE reads such escapes as literals.
    return "".join(f"\\x{ord(ch):02x}" if _UNQUOTABLE.match(ch) else re.escape(ch) for ch in text)


def sigma_string_regex(value: SigmaString, *, anchored: bool = True) -> str:
    """A PCRE body matching what ``value`` matches (``*`` -> ``.*``, ``?`` -> ``.``, the rest literal).

    ``.`` does not match a newline; the callers' ``(?s)`` makes wildcards span newlines as Sigma's do.
    """
    pieces: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            pieces.append(_pcre_literal(part))
        elif part is SpecialChars.WILDCARD_MULTI:
            pieces.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pieces.append(".")
        else:
            unsupported(
                f"value {value!s}: {part!r} has no regular-expression form",
                construct="value",
                value=str(value),
            )
    body = "".join(pieces)
    # (?!.) under (?s) is the absolute end: '$' would also match before a final newline.
    return f"^{body}(?!.)" if anchored else body


def _regex_unquotable(regex: str) -> str:
    """A user's ``|re`` with each control character or backtick (escaped or not) written ``\\xHH``."""

    def hexed(m: re.Match[str]) -> str:
        slashes = m.group(1)
        # An odd run of backslashes escapes the character: that backslash goes, the character stays literal.
        return slashes[: len(slashes) - len(slashes) % 2] + f"\\x{ord(m.group(2)):02x}"

    return re.sub(r"(\\*)([\x00-\x1f\x7f`])", hexed, regex)


def text_null_regex(field: str) -> str:
    """A PCRE over ``_raw`` that matches when the JSON string ``"null"`` stands at Splunk field ``field``'s path.

    ``field`` is read as the Add-on names it (views/splunk.py): ``.`` between keys, ``{}`` after an array,
    any element of which may lead on. The walk starts at the root object and steps over whole members and
    elements (``jmem``, ``jval`` in :data:`_JSON_DEFINE`), so a ``"null"`` under the same key elsewhere in
    the record does not count. Since the Add-on joins keys with ``.``, a key that itself holds a dot
    (``{"tag.Name": ...}``) gives the same field name as nested keys: every such grouping is tried.
    Whitespace between tokens is allowed; keys must be written plainly in ``_raw`` (no ``\\u`` escapes), as
    CloudTrail writes them.
    """
    segments: list[tuple[str, int]] = []
    for segment in field.split("."):
        m = _SEGMENT.match(segment)
        if m is None:
            unsupported(
                f"field {field!r}: its JSON path cannot be located in the raw event, which a test that "
                "must tell a JSON null from the text 'null' needs",
                construct="null",
                field=field,
            )
        segments.append((m.group(1), len(m.group(2)) // 2))

    def value_at(i: int) -> str:
        """A JSON value (at the current position) holding the path ``segments[i:]`` to a ``"null"``."""
        if i == len(segments):
            return '"null"'
        members = []
        for j in range(i, len(segments)):
            key = ".".join(k for k, _ in segments[i : j + 1])
            inner = value_at(j + 1)
            for _ in range(segments[j][1]):  # any element of each array level
                inner = r"\[\s*+(?:(?&jval)\s*+,\s*+)*?" + inner
            members.append(f'"{re.escape(key)}"' + r"\s*+:\s*+" + inner)
            if segments[j][1]:  # an array ends the key: no grouping reaches past it
                break
        alternatives = members[0] if len(members) == 1 else "(?:" + "|".join(members) + ")"
        return r"\{\s*+(?:(?&jmem)\s*+,\s*+)*?" + alternatives

    return r"^\s*+" + value_at(0) + _JSON_DEFINE


def _could_be_null_text(value: SigmaString | SigmaRegularExpression, cased: bool = False) -> bool:
    """True if ``value`` matches the text ``null``, which is also how Splunk shows a JSON null.

    A Sigma string is decided exactly (its PCRE is built here); a ``|re`` with Python's ``re`` at conversion,
    and as "could" when Python cannot compile it.
    """
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[_RE_FLAGS[flag]]
        try:
            return re.search(str(value.regexp), "null", flags) is not None
        except re.error:
            return True
    # Fast path: more than four literal characters can never match the four of "null" (the regex below
    # costs a compile per distinct value, most of a large batch's time).
    if sum(len(part) for part in value.s if isinstance(part, str)) > len("null"):
        return False
    body = sigma_string_regex(value, anchored=False)
    return re.fullmatch(body, "null", re.DOTALL | (0 if cased else re.IGNORECASE)) is not None


@dataclass
class SplunkPostFilter(DeferredQueryExpression):
    """A pipe command after the search that drops non-matching events (``regex`` or ``where``)."""

    command: str = ""

    def negate(self) -> SplunkPostFilter:
        # Post-filters are only made for leaves with no NOT above them (see _eval_leaf).
        unsupported("negated Splunk post-filter", construct="not")

    def finalize_expression(self) -> str:
        return self.command


class CloudTrailSplunkBackend(SplunkBackend):
    """Splunk SPL over the Splunk Add-on for AWS (sourcetype ``aws:cloudtrail``).

    Backend option ``index`` (``--option index=aws``) opens each query with ``index=aws``.
    """

    name: ClassVar[str] = "Splunk SPL for AWS CloudTrail (Splunk Add-on for AWS)"
    # data_model (tstats) is dropped: CloudTrail rules match raw Add-on fields (requestParameters.*,
    # userIdentity.*) that the CIM Change/Authentication data models do not carry, and the Add-on maps only
    # some eventNames into them, so a tstats query would miss events the rule matches.
    formats: ClassVar[dict[str, str]] = {
        "default": "Plain SPL queries",
        "savedsearches": "A savedsearches.conf with one scheduled alert per rule (schedule, time range, "
        "alert settings as backend options)",
    }
    format_files: ClassVar[dict[str, FormatFile]] = {"savedsearches": FormatFile("text", "conf")}

    wildcard_single: ClassVar[str] = "?"  # never emitted: a ? wildcard is routed to eval (_needs_eval)
    case_sensitive_match_expression: ClassVar[str | None] = "{field}=CASE({value})"
    # exists, exists: false and null are methods (eval, see the module docstring); a not-exists template
    # must still be set so that pySigma calls convert_condition_field_not_exists for exists: false.
    field_not_exists_expression: ClassVar[str] = "{field}"
    cidr_expression: ClassVar[str] = "{field}={value}"

    #: ``--option`` names, defaults and checks; the savedsearches ones follow savedsearches.conf.spec, so that
    #: a bad value is a usage error rather than a file Splunk reads differently.
    options: ClassVar[tuple[BackendOption, ...]] = (
        BackendOption(
            "index",
            "Splunk index (an index=... term in front of the search)",
            check=lambda v: _INDEX_NAME.match(v) is not None,
            expected="index names use letters, digits, '_' and '-' ('*' as a wildcard)",
            subject="Splunk index",
        ),
        *SAVEDSEARCH_OPTIONS,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        validate(self.options, self.backend_options)
        self.savedsearch_options: dict[str, str] = savedsearch_options(self.backend_options)

    def compare_precedence(self, outer: Any, inner: Any) -> bool:
        """Bracket every OR inside an AND and every AND inside an OR.

        Splunk search binds OR tighter than AND (``a b OR c`` is ``a (b OR c)``), the reverse of most
        languages; explicit brackets keep the query correct and let it read as the rule does.
        """
        if isinstance(inner, ConditionAND | ConditionOR):
            return type(inner) is type(outer)
        return bool(super().compare_precedence(outer, inner))

    def _is_in_list(self, cond: Any, state: ConversionState) -> bool:
        """An OR written as one ``field IN (...)`` term, which needs no brackets anywhere: a single term."""
        return isinstance(cond, ConditionOR) and bool(
            self.decide_convert_condition_as_in_expression(cond, state)
        )

    def convert_condition(self, cond: Any, state: ConversionState) -> Any:
        """Bracket a top-level OR, which follows the sourcetype term in the base search (unless it is one
        ``IN`` term)."""
        converted = super().convert_condition(cond, state)
        if (
            cond.parent is None
            and isinstance(cond, ConditionOR)
            and isinstance(converted, str)
            and not self._is_in_list(cond, state)
        ):
            return f"({converted})"
        return converted

    def convert_condition_group(self, cond: Any, state: ConversionState) -> Any:
        """An ``IN`` term is one term: brackets around it say nothing (the stock backend omits them too)."""
        if self._is_in_list(cond, state):
            return self.convert_condition(cond, state)
        return super().convert_condition_group(cond, state)

    # -- names and values ------------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        """Field names are written bare in search and single-quoted in eval, so only safe names pass."""
        if not _FIELD_NAME.match(field_name):
            unsupported(
                f"field name {field_name!r} has characters Splunk SPL cannot express safely",
                hint="letters, digits, '_', '.' and '{}' only",
                field=field_name,
                kind=UnsupportedFieldError,
            )
        return field_name

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        if _needs_eval(s):  # callers route these to eval first; this guards the IN-list path
            unsupported(
                f"value {s!s} cannot be written as a Splunk search term", construct="value", value=str(s)
            )
        text: list[str] = []
        for part in s.s:
            if isinstance(part, str):
                text.append(part)
            elif part is SpecialChars.WILDCARD_MULTI:
                text.append("*")
            else:
                unsupported(
                    f"value {s!s}: {part!r} has no Splunk search form", construct="value", value=str(s)
                )
        return spl_quote("".join(text))

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        return super().decide_convert_condition_as_in_expression(cond, state) and all(
            isinstance(arg, ConditionFieldEqualsValueExpression)
            and isinstance(arg.value, SigmaString)
            # |cased needs CASE() per value; a CanonicalString is the plain term (either comparison is exact)
            and (isinstance(arg.value, CanonicalString) or not isinstance(arg.value, SigmaCasedString))
            and not _needs_eval(arg.value)
            and not (self._readings(arg.field, state)[0] and _could_be_null_text(arg.value))
            for arg in cond.args
        )

    def convert_condition_and(
        self, cond: ConditionAND, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        """The root AND: operands that search can say stay in the base search; those that read an eval flag
        are kept aside (state) and searched after the ``| eval`` (:meth:`finish_query`).

        An AND is commutative and an event the base search drops fails the whole AND, so splitting it this
        way changes nothing but lets Splunk narrow by the rule's own terms before any eval runs.
        """
        if cond.parent is not None:
            return super().convert_condition_and(cond, state)
        processing_state = cast(dict[str, Any], state.processing_state)
        base: list[str] = []
        after: list[str] = []
        for arg in cond.args:
            flags_before = len(processing_state.get(_STATE_FLAGS, ()))
            converted = (
                self.convert_condition(arg, state)
                if self.compare_precedence(cond, arg)
                else self.convert_condition_group(arg, state)
            )
            if converted is None or isinstance(converted, DeferredQueryExpression):
                continue  # a post-filter registered itself in the state
            reads_flag = len(processing_state.get(_STATE_FLAGS, ())) > flags_before
            (after if reads_flag else base).append(str(converted))
        if after:
            processing_state[_STATE_AFTER_EVAL] = self.and_token.join(after)
        return self.and_token.join(base)

    # -- leaves that need eval -------------------------------------------------------------------------

    def _eval_leaf(
        self,
        cond: ConditionFieldEqualsValueExpression | ConditionValueExpression,
        state: ConversionState,
        predicate: str,
        post_filter: str | None = None,
        term: str | None = None,
    ) -> str | DeferredQueryExpression:
        """A leaf decided in eval: a post-filter when only ANDs lie above it, else a flag (module doc).

        ``term``, a search term every matching event satisfies, stands in the search beside a post-filter.
        """
        if not (
            cond.parent_condition_chain_contains(ConditionOR)
            or cond.parent_condition_chain_contains(ConditionNOT)
        ):
            deferred = SplunkPostFilter(state, command=post_filter or f"where {predicate}")
            return deferred if term is None else term  # the post-filter registered itself in the state
        processing_state = cast(dict[str, Any], state.processing_state)
        flags: list[str] = processing_state.setdefault(_STATE_FLAGS, [])
        flags.append(predicate)
        return f"sigma_match{len(flags)}=1"

    @staticmethod
    def _mv_regex(field: str, regex: str) -> str:
        """Eval predicate: some value of (possibly multi-valued) ``field`` matches PCRE ``regex``.

        ``mvfind`` returns the index of the first matching value or NULL (Search Reference, mvfind).
        """
        return f"isnotnull(mvfind('{field}', {spl_quote(regex)}))"

    @staticmethod
    def _readings(field: str, state: ConversionState) -> tuple[bool, bool]:
        """``(json_null, string_null)``: whether ``field`` can hold a JSON null (which Splunk shows as the
        text ``null``) and the string ``"null"``, as the pipeline recorded from the field's value domain.
        Unknown (another pipeline, a field the domains do not cover): both, the exact but costly reading."""
        table = cast(dict[str, Any], state.processing_state).get(STATE_NULL_READINGS) or {}
        json_null, string_null = table.get(field, (True, True))
        return bool(json_null), bool(string_null)

    def _or_text_null(self, field: str, state: ConversionState) -> str:
        """`` OR <text null>`` when ``field`` can hold both readings of ``null``, so that only ``_raw`` can
        tell a string ``"null"`` (a value) from a JSON null (none); else nothing: a ``null`` is a JSON null."""
        return f" OR {self._text_null(field)}" if self._readings(field, state)[1] else ""

    @classmethod
    def _text_null(cls, field: str) -> str:
        """Eval predicate: the JSON string ``"null"`` (not a JSON null) stands at ``field``'s path.

        The field holding the value ``null`` is implied by it; tested first, it spares the walk over ``_raw``
        on nearly every event.
        """
        has_null = cls._mv_regex(field, "(?s)^null(?!.)")
        return f"({has_null} AND match(_raw, {spl_quote(text_null_regex(field))}))"

    def _string_leaf(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState, cased: bool
    ) -> str | DeferredQueryExpression:
        """A Sigma string on a field: a search term, or eval when search cannot say it exactly.

        Eval decides when the value needs a regex (:func:`_needs_eval`), and when it matches the text
        ``null``: then some value other than exactly ``null`` must match, or the string ``"null"`` must stand
        at the field's path in ``_raw``, so that a JSON null (extracted as ``null``) does not match.
        """
        value = cond.value
        assert isinstance(value, SigmaString)
        field = self.escape_and_quote_field(cond.field)
        flags = "(?s)" if cased else "(?is)"
        wrap = "CASE({})" if cased else "{}"
        # Only a field that can hold a JSON null (extracted as the text null) needs more than a search term.
        null_text = self._readings(field, state)[0] and _could_be_null_text(value, cased)
        if not (null_text or _needs_eval(value)):
            return f"{field}={wrap.format(self.convert_value_str(value, state))}"
        term_value = (
            _search_prefix(value) if _needs_eval(value) else self.convert_value_str(value, state)[1:-1]
        )
        term = f"{field}={wrap.format(spl_quote(term_value))}"
        if not null_text:
            return self._eval_leaf(
                cond, state, self._mv_regex(field, flags + sigma_string_regex(value)), term=term
            )
        body = sigma_string_regex(value, anchored=False)
        predicate = self._mv_regex(field, f"{flags}^{_NOT_NULL_TEXT}{body}(?!.)")
        predicate += self._or_text_null(field, state)
        return self._eval_leaf(cond, state, predicate, term=term)

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        return self._string_leaf(cond, state, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``|cased``: ``field=CASE("Value")`` (Search Manual, "Use CASE() and TERM() to match phrases").

        A value the canonicalisation step respelled (:class:`CanonicalString`) compares the same either way
        on its field, so it stays the plain search term an analyst writes."""
        return self._string_leaf(cond, state, cased=not isinstance(cond.value, CanonicalString))

    def _exists(self, field: str, state: ConversionState) -> str | None:
        """Eval predicate for Sigma's ``exists``, a value other than JSON null (see the module docstring);
        None when the field cannot hold a JSON null, so that ``field=*`` says it exactly."""
        if not self._readings(field, state)[0]:
            return None
        return self._mv_regex(field, "(?s)^" + _NOT_NULL_TEXT) + self._or_text_null(field, state)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        field = self.escape_and_quote_field(cond.field)
        if (predicate := self._exists(field, state)) is None:
            return f"{field}=*"
        return self._eval_leaf(cond, state, predicate, term=f"{field}=*")

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``exists: false`` and ``null``: no value but JSON nulls. ``NOT field=*`` (as Splunk's own ESCU
        searches write ``NOT errorCode=*``) where the field cannot hold a JSON null; else searched first as no
        field or ``null``, and decided in eval."""
        field = self.escape_and_quote_field(cond.field)
        if (predicate := self._exists(field, state)) is None:
            return f"NOT {field}=*"
        term = f'(NOT {field}=* OR {field}="null")'
        return self._eval_leaf(cond, state, f"NOT ({predicate})", term=term)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        return self.convert_condition_field_not_exists(cond, state)

    def convert_condition_field_eq_val_re(  # type: ignore[override]
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``|re``: PCRE with Sigma's flags as an inline ``(?ims)`` group; ``regex`` for single values."""
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        flags = "".join(sorted(_RE_FLAGS[f] for f in value.flags))
        prefix = f"(?{flags})" if flags else ""
        regex = prefix + _regex_unquotable(str(value.regexp))
        field = self.escape_and_quote_field(cond.field)
        if self._readings(field, state)[0] and _could_be_null_text(value):
            # Some value other than exactly "null" matches: the lookahead at the start, then the regex
            # searched from any position, as an unanchored regex is (its ^ still means the start); or the
            # string "null", which the regex matches too, stands at the path.
            inner = _regex_unquotable(str(value.regexp))
            pattern = f"{prefix}\\A{_NOT_NULL_TEXT}(?s:.*?)(?:{inner})"
            predicate = self._mv_regex(field, pattern) + self._or_text_null(field, state)
            return self._eval_leaf(cond, state, predicate)
        # The regex command on a multi-valued ({}) field is not documented; mvfind is.
        post = None if "{}" in field else f"regex {field}={spl_quote(regex)}"
        return self._eval_leaf(cond, state, self._mv_regex(field, regex), post)

    def convert_condition_field_eq_field(  # type: ignore[override]
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``|fieldref``: ``lower('a')=lower('b')``, since eval's ``=`` is case-sensitive and Sigma is not;
        both fields must hold a value other than JSON null (see the module docstring)."""
        ref = cond.value
        assert isinstance(ref, SigmaFieldReference)
        if ref.starts_with or ref.ends_with:
            unsupported(
                "field reference with startswith/endswith/contains is not supported by the Splunk target",
                construct="|fieldref",
                field=cond.field,
            )
        a, b = self.escape_and_quote_field(cond.field), self.escape_and_quote_field(ref.field)
        if "{}" in a or "{}" in b:
            unsupported(
                f"field reference between {a!r} and {b!r}: comparing multi-valued Splunk fields in eval "
                "is not a per-value comparison",
                construct="|fieldref",
                field=cond.field,
            )
        # Both must hold a value, not a JSON null: Splunk shows null as "null", equal to null or "NULL".
        # The comparison is null (so false in if()/where) when either field is missing. A side needs its own
        # exists test only if it can hold a JSON null and the other side's text can read as "null".
        predicate = f"lower('{a}')=lower('{b}')"
        for side, other in ((a, b), (b, a)):
            if any(self._readings(other, state)) and (exists := self._exists(side, state)) is not None:
                predicate += f" AND ({exists})"
        return self._eval_leaf(cond, state, predicate)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``|cidr``: search matches ``field="10.0.0.0/8"`` as a CIDR block (Search Reference, search)."""
        cidr = cond.value
        assert isinstance(cidr, SigmaCIDRExpression)
        return f"{self.escape_and_quote_field(cond.field)}={spl_quote(str(cidr.network))}"

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """Keywords: a case-insensitive substring of the raw event (the JSON text), as Sigma keywords are."""
        value = cond.value
        assert isinstance(value, SigmaString)
        regex = "(?is)" + sigma_string_regex(value, anchored=False)
        return self._eval_leaf(
            cond, state, f"match(_raw, {spl_quote(regex)})", f"regex _raw={spl_quote(regex)}"
        )

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        regex = re.escape(str(cond.value))
        return self._eval_leaf(
            cond, state, f"match(_raw, {spl_quote(regex)})", f"regex _raw={spl_quote(regex)}"
        )

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        flags = "".join(sorted(_RE_FLAGS[f] for f in value.flags))
        regex = (f"(?{flags})" if flags else "") + _regex_unquotable(str(value.regexp))
        return self._eval_leaf(
            cond, state, f"match(_raw, {spl_quote(regex)})", f"regex _raw={spl_quote(regex)}"
        )

    # -- assembling the query --------------------------------------------------------------------------

    def finish_query(self, rule: SigmaRule, query: Any, state: ConversionState) -> Any:  # type: ignore[override]
        """``[index=...] sourcetype=... <terms>``, or with flags: ``<base> | eval ... | search <terms>``.

        A correlation rule's query is built from its rules' finished searches, which already open with the
        index and sourcetype.
        """
        if isinstance(rule, SigmaCorrelationRule):
            return query
        ps = state.processing_state
        base: list[str] = []
        if (index := self.backend_options.get("index")) is not None:
            base.append(f"index={index}")
        if (sourcetype := ps.get(STATE_SOURCETYPE)) is not None:
            # Bare when it has no breaker that would split the term ([SRCH]): how ESCU writes aws:cloudtrail.
            text = str(sourcetype)
            base.append(f"sourcetype={text if _BARE_VALUE.fullmatch(text) else spl_quote(text)}")
        main = query if isinstance(query, str) else ""
        # Each of a rule's conditions is its own query: its flags and split are its own.
        after_eval = cast(dict[str, Any], ps).pop(_STATE_AFTER_EVAL, None)
        if flags := cast(dict[str, Any], ps).pop(_STATE_FLAGS, None):
            # A root AND kept the operands without flags for the base search (convert_condition_and);
            # any other condition reads a flag as a whole and is searched after the eval.
            head, tail = (main, after_eval) if after_eval is not None else ("", main)
            out = " ".join([*base, head]).strip() or "*"
            out += " | eval " + ", ".join(
                f"sigma_match{i}=if({p}, 1, 0)" for i, p in enumerate(flags, start=1)
            )
            if tail:
                out += f" | search {tail}"
        else:
            out = " ".join([*base, main]).strip() or "*"
        out += "".join(f" | {d.finalize_expression()}" for d in state.deferred)
        return out

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        """The rule's ``fields`` become ``| table a,b`` (pySigma's Splunk backend pastes them as written), so
        each passes :meth:`escape_and_quote_field` first: a name such as ``x | delete`` or ``[| makeresults]``
        would otherwise run as a command or a subsearch (savedsearches.conf reuses this query)."""
        if isinstance(rule, SigmaRule):
            for name in rule.fields or []:
                self.escape_and_quote_field(name)
        return super().finalize_query_default(rule, query, index, state)

    # -- savedsearches.conf (sigma_lambda_layer.artifacts.splunk) -------------------------------------

    def finalize_query_savedsearches(  # type: ignore[override]
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        return savedsearch(
            rule, self.finalize_query_default(rule, query, index, state), self.savedsearch_options
        )

    def finalize_output_savedsearches(self, queries: list[dict[str, Any]]) -> str:  # type: ignore[override]
        return savedsearches_conf(queries)
