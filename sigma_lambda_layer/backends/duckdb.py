"""DuckDB SQL backend: Sigma rules as SQL over CloudTrail records held as DuckDB ``JSON``.

The contract: a table or view (default ``cloudtrail``, backend option ``table``) with a column ``record`` of
type ``JSON``, one CloudTrail record per row. The default format is ``SELECT * FROM cloudtrail WHERE ...``
(every column comes back, so a caller's ids travel with the hits); the ``condition`` format is the ``WHERE``
expression alone, which ``sigma-lambda hunt`` combines into one scan. No extension beyond DuckDB's built-in
``json`` is needed (``inet`` is not bundled offline, so ``|cidr`` is plain SQL).

Sources: DuckDB documentation, "JSON Processing Functions" (``json_extract`` with JSON Pointer paths, RFC
6901 ``~0``/``~1`` escapes; ``json_type``; ``$..*`` recursive wildcard), "Pattern Matching" (``LIKE ...
ESCAPE``), "Regular Expressions" (RE2, ``regexp_matches`` is a partial match), "Lambda Functions"
(``lambda x: ...``), and DuckDB 2.0.1 measured here.

Choices that keep the rule's meaning, each where the obvious SQL would not:

* **Field access** goes through JSON Pointer string literals, never identifiers, so a field name cannot leave
  its literal and keys with dots, quotes or slashes are reached exactly; JSON key lookup is case-sensitive,
  so ``principalId`` and ``principalid`` stay apart. A field's values are those the reference evaluator
  walks (:mod:`sigma_lambda_layer.evaluator.paths`): arrays met on the way are searched element by element
  (two levels of nesting), an array at the end counts each element, and a dotted name also tries keys that
  themselves contain dots. A fast path tests the plain object path first; the general list form runs only
  on rows where the fast path did not already decide a match. A prefix the CloudTrail schema proves an
  object reached by plain keys (:func:`sigma_lambda_layer.fields.cloudtrail.object_prefix`:
  ``requestParameters``) is read with one pointer: no array or dotted-key alternative for it.
* **Plain reads**: where the CloudTrail schema proves a field one JSON string at its plain object path
  (:func:`sigma_lambda_layer.fields.cloudtrail.is_scalar_string_field`: ``eventName``, ``userAgent``,
  ``userIdentity.arn``...), the test reads ``record->>'$.f'`` (VARCHAR; NULL when missing or JSON null), as
  a DuckDB user writes it: no array or dotted key can hold other values there. ``NOT`` is
  ``NOT coalesce(x, false)`` since such a read is NULL on a record without the field.
* **Strings** compare with the *text* of a value: a JSON string as it is, a number or boolean as its JSON
  text (``readOnly: 'true'`` matches ``true``), never ``null``, an object or an array.
* **Case-insensitive** (the project's definition, ``a.lower() == b.lower()``): the record side is
  ``lower(...)``, the rule side lowered in Python. DuckDB's ``lower`` maps ``İ`` to ``i`` where Python gives
  ``i̇``; the record side is rewritten first when that can matter. Greek final sigma, whose Python
  lowercase depends on the neighbouring letters, is refused in case-insensitive equality.
* **Wildcards** become ``LIKE`` with ``%``/``_``/``\\`` of the value escaped (``ESCAPE '\\'``).
* ``|re`` becomes ``regexp_matches`` (RE2). Python's Unicode classes are spelled out for RE2 (``\\d`` ->
  ``\\p{Nd}``, ...); what RE2 cannot do (lookaround, back-references, ``\\b``) is refused, and every pattern
  is compiled by DuckDB at conversion time so that no query fails later.
* **Numbers and booleans** as CloudTrail types them: a Sigma number equals a JSON number or a decimal string
  of that value; a Sigma boolean equals a JSON boolean or the string ``true``/``false`` in any case.
* ``|cidr`` parses the value as an IPv4 or IPv6 address in SQL with Python ``ipaddress``' rules (no leading
  zeros in IPv4 octets, one ``::``, an IPv4 tail, a zone id) and compares it with the network's range, so a
  ``sourceIPAddress`` such as ``lambda.amazonaws.com`` or ``AWS Internal`` never matches.
* **Missing fields**: a walked leaf is a non-null boolean (false when the field is absent), a plain read
  NULL; ``NOT coalesce(x, false)`` makes both false, so a missing field never equals a value. ``null`` means absent or JSON ``null``.
* Keywords (field-less values) search every scalar value of the record (``$..*``), not its keys.
"""

from __future__ import annotations

import re
from functools import cache
from ipaddress import IPv4Network, IPv6Network
from itertools import count
from typing import Any, ClassVar, cast

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionValueExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.backends import _sql
from sigma_lambda_layer.backends._sql import DOTTED_I, SQLBackend
from sigma_lambda_layer.backends._sql import (
    required_values as required_values,  # hunt's dispatch, re-exported
)
from sigma_lambda_layer.dialect import BackendOption, FormatFile
from sigma_lambda_layer.errors import unsupported
from sigma_lambda_layer.fields.cloudtrail import is_scalar_string_field, object_prefix

DEFAULT_TABLE = "cloudtrail"
#: The JSON column every query reads.
COLUMN = "record"
_SCALAR_TYPES = "('VARCHAR', 'BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE', 'BOOLEAN')"
_NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE')"
# The evaluator's decimal-number reading of a string (evaluator/values.py, ``_DECIMAL``).
_DECIMAL_RE = r"-?([0-9]+(\.[0-9]+)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
_INTEGER_RE = r"-?[0-9]+"
# Characters of Python's ``\s`` (str.isspace), for RE2, whose ``\s`` is ASCII only.
_PY_SPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
_PY_WORD = r"\p{L}\p{N}_"
_LOOKAROUND = re.compile(r"\(\?<?[=!]|\(\?P=|\(\?>")


def sql_string(text: str) -> str:
    """A DuckDB string literal: quotes doubled; DuckDB literals treat backslashes literally."""
    return _sql.sql_string(text, "a DuckDB")


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier (table names from the ``table`` option), each dotted part quoted."""
    return _sql.sql_identifier(name, f"invalid DuckDB table name {name!r}", dotted=True)


def json_pointer(keys: tuple[str, ...] | list[str]) -> str:
    """RFC 6901 JSON Pointer for a key sequence (``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return "".join("/" + k.replace("~", "~0").replace("/", "~1") for k in keys)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(keys: tuple[str, ...] | list[str]) -> str:
    """A JSONPath for ``->>`` (``$.a.b``); a key that is not a plain name is quoted (``$."a.b"``)."""
    out = "$"
    for key in keys:
        if not _PLAIN_KEY.fullmatch(key):
            if '"' in key or "\\" in key:
                unsupported(f"key {key!r} cannot be quoted in a JSONPath")
            key = f'"{key}"'
        out += "." + key
    return out


def plain_text(field: str) -> str | None:
    """``record->>'$.f'`` (VARCHAR, NULL when missing or JSON null) where the CloudTrail schema proves
    ``field`` a scalar string at its plain object path (:func:`fields.cloudtrail.is_scalar_string_field`);
    None where the field may hold arrays, objects or dotted keys and needs the evaluator's walk."""
    if not is_scalar_string_field(field):
        return None
    return f"{COLUMN}->>{sql_string(json_path(field.split('.')))}"


def _groupings(segments: list[str]) -> list[tuple[str, ...]]:
    """Every way to group dotted segments into keys (``a.b.c`` -> a/b/c, a/b.c, a.b/c, a.b.c)."""
    if len(segments) == 1:
        return [(segments[0],)]
    out: list[tuple[str, ...]] = []
    for cut in range(1, len(segments) + 1):
        head = ".".join(segments[:cut])
        if cut == len(segments):
            out.append((head,))
        else:
            out.extend((head, *rest) for rest in _groupings(segments[cut:]))
    return out


class _Names:
    """Fresh lambda parameter names for one query (nested lambdas must not shadow each other)."""

    def __init__(self) -> None:
        self._n = count()

    def __call__(self, prefix: str) -> str:
        return f"{prefix}{next(self._n)}"


def _elements(x: str, names: _Names) -> str:
    """The elements of JSON array ``x``, an element that is itself an array contributing its elements."""
    e = names("e")
    return (
        f"flatten(list_transform(CAST({x} AS JSON[]), lambda {e}: "
        f"CASE WHEN json_type({e}) = 'ARRAY' THEN CAST({e} AS JSON[]) ELSE [{e}] END))"
    )


def _step(values: str, key: str, names: _Names) -> str:
    """From a list of JSON nodes to the list of their ``key`` children, walking arrays (evaluator._walk)."""
    x, y, o = names("x"), names("y"), names("o")
    ptr = sql_string(json_pointer([key]))
    return (
        f"list_filter(flatten(list_transform({values}, lambda {x}: CASE json_type({x}) "
        f"WHEN 'OBJECT' THEN [json_extract({x}, {ptr})] "
        f"WHEN 'ARRAY' THEN list_transform(list_filter({_elements(x, names)}, "
        f"lambda {o}: json_type({o}) = 'OBJECT'), lambda {o}: json_extract({o}, {ptr})) "
        f"ELSE []::JSON[] END)), lambda {y}: {y} IS NOT NULL)"
    )


def field_values(field: str, names: _Names) -> str:
    """SQL for the list of leaf values (JSON) of ``field`` in ``record``: the evaluator's ``FieldPath``."""
    lists = []
    # The prefix the CloudTrail schema proves a plain object path (fields.cloudtrail.object_prefix) is read
    # with the first key below it in one pointer; only the keys below it are grouped and walked.
    prefix = object_prefix(field)
    for keys in _groupings(field.split(".")[len(prefix) :]):
        # The record itself is an object: its first key is one lookup.
        y = names("y")
        first = sql_string(json_pointer([*prefix, keys[0]]))
        expr = f"list_filter([json_extract({COLUMN}, {first})], lambda {y}: {y} IS NOT NULL)"
        for key in keys[1:]:
            expr = _step(expr, key, names)
        lists.append(expr)
    combined = lists[0] if len(lists) == 1 else "list_concat(" + ", ".join(lists) + ")"
    z = names("z")
    return (
        f"flatten(list_transform({combined}, lambda {z}: "
        f"CASE WHEN json_type({z}) = 'ARRAY' THEN {_elements(z, names)} ELSE [{z}] END))"
    )


def _any(field: str, test: Any, names: _Names) -> str:
    """Some leaf value of ``field`` passes ``test`` (a function from a JSON SQL expression to a boolean)."""
    v = names("v")
    return f"len(list_filter({field_values(field, names)}, lambda {v}: coalesce({test(v)}, false))) > 0"


def _text(v: str) -> str:
    """The text a Sigma string meets: strings, numbers and booleans; NULL for null, objects and arrays."""
    return f"CASE WHEN json_type({v}) IN {_SCALAR_TYPES} THEN json_extract_string({v}, '$') END"


@cache
def _re2_error(pattern: str) -> str | None:
    """DuckDB's (RE2's) complaint about a pattern, or None if it compiles."""
    import duckdb

    try:
        duckdb.connect().execute(f"SELECT regexp_matches('', {sql_string(pattern)})").fetchall()
    except duckdb.Error as error:
        return str(error)
    return None


def python_regex_to_re2(pattern: str, multiline: bool) -> str:
    """Python ``re`` syntax (the evaluator's) as RE2 with the same meaning, or a refusal naming the part."""
    if _LOOKAROUND.search(pattern) or re.search(r"\\[1-9]|\\g<|\\k<", pattern):
        unsupported(
            f"regular expression {pattern!r} uses lookaround, an atomic group or a back-reference, "
            "which RE2 (DuckDB's regex engine) does not support"
        )
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            i += 2
            if n in "bB":
                if in_class and n == "b":
                    out.append(r"\x08")
                    continue
                unsupported(
                    f"regular expression {pattern!r} uses \\{n}: RE2's word boundary is ASCII-only, "
                    "Python's is Unicode"
                )
            if n == "d":
                out.append(r"\p{Nd}")
            elif n == "D":
                out.append(r"\P{Nd}")
            elif n in "wsWS":
                body = _PY_WORD if n in "wW" else _PY_SPACE
                if n.isupper() and in_class:
                    unsupported(
                        f"regular expression {pattern!r} uses \\{n} inside a character class, which RE2 "
                        "cannot say with Python's Unicode meaning"
                    )
                out.append(body if in_class else (f"[^{body}]" if n.isupper() else f"[{body}]"))
            elif n == "Z":
                out.append(r"\z")
            elif n == "u" and re.match(r"[0-9a-fA-F]{4}", pattern[i : i + 4]):
                out.append(r"\x{" + pattern[i : i + 4] + "}")
                i += 4
            elif n == "U" and re.match(r"[0-9a-fA-F]{8}", pattern[i : i + 8]):
                out.append(r"\x{" + pattern[i : i + 8] + "}")
                i += 8
            elif n == "N":
                unsupported(f"regular expression {pattern!r} uses \\N{{...}}, which RE2 does not support")
            else:
                out.append(c + n)
            continue
        if in_class:
            if c == "]" and out and out[-1] not in ("[", "[^"):
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append("[^" if pattern[i + 1 : i + 2] == "^" else "[")
            if pattern[i + 1 : i + 2] == "^":
                i += 1
        elif c == "$" and not multiline:
            # Python's "$" also matches before a newline that ends the text; RE2's only at the end.
            out.append(r"(?:\n?\z)")
        else:
            out.append(c)
        i += 1
    translated = "".join(out)
    if not multiline and re.search(r"\(\?[a-zA-Z]*m", pattern):
        unsupported(
            f"regular expression {pattern!r} sets inline flags; use the |re modifiers (|i, |m, |s) instead"
        )
    return translated


class DuckDBBackend(SQLBackend):
    """CloudTrail records as DuckDB ``JSON`` -> DuckDB SQL (see the module docstring for the contract)."""

    name: ClassVar[str] = "DuckDB SQL over CloudTrail JSON records"
    engine: ClassVar[str] = "DuckDB"
    #: the records are CloudTrail's own JSON: the ``hunt`` format reads eventSource and eventName as they are
    hunt_dispatch_paths: ClassVar[tuple[str, str]] = ("eventSource", "eventName")
    formats: ClassVar[dict[str, str]] = {
        "default": "SELECT * FROM <table> WHERE <condition> (table option, default cloudtrail)",
        "condition": "the WHERE condition alone, over a JSON column named record",
        "hunt": "JSON: the condition, the eventSource/eventName values it requires (dispatch) and the level",
    }
    format_files: ClassVar[dict[str, FormatFile]] = {
        "condition": FormatFile("text", "sql"),
        "hunt": FormatFile("json", "json"),
    }
    requires_pipeline: ClassVar[bool] = True
    options: ClassVar[tuple[BackendOption, ...]] = (
        BackendOption(
            "table", "table or view holding the records (a JSON column named record)", DEFAULT_TABLE
        ),
    )

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any):
        super().__init__(processing_pipeline, collect_errors, **options)
        self.table = sql_identifier(str(options.get("table") or DEFAULT_TABLE))
        self._names = _Names()

    # ------------------------------------------------------------------ field access

    def _gated(self, field: str, fast: Any, general: Any) -> str:
        """``fast(j)`` on the value at the plain object path ``j``, unless the record could hold other values
        for ``field``: then ``general()``, the evaluator's walk.

        Other values exist only if the path meets an array (on the way or at the end) or a key holding a dot
        (``a.b`` for ``a``/``b``). One ``json_extract`` with a list of pointers reads the plain value and
        every such witness in one parse of the record; the walk, which parses far more, runs only on records
        with a witness.
        """
        segments = field.split(".")
        if any(s.isdigit() for s in segments):  # a pointer would index arrays: only the general walk
            return f"({general()})"
        # A prefix the schema proves an object reached by plain keys (fields.cloudtrail.object_prefix) is
        # neither an array nor reachable through a dotted key: no witness on it.
        prefix = object_prefix(field)
        below = segments[len(prefix) :]
        pointers = [
            json_pointer(segments[:i]) for i in range(len(segments), len(prefix), -1)
        ]  # full path first
        witnesses = [f"json_type(_j[{i + 1}]) = 'ARRAY'" for i in range(len(pointers))]
        dotted = sorted(
            {
                json_pointer([*prefix, *g[: next(i for i, k in enumerate(g) if "." in k) + 1]])
                for g in _groupings(below)
                if any("." in k for k in g)
            }
        )
        witnesses += [f"_j[{len(pointers) + i + 1}] IS NOT NULL" for i in range(len(dotted))]
        listed = ", ".join(sql_string(p) for p in [*pointers, *dotted])
        j = self._names("j")
        body = (
            f"CASE WHEN {' OR '.join(witnesses)} THEN {general()} ELSE coalesce({fast('_j[1]')}, false) END"
        ).replace("_j[", f"{j}[")
        return f"({_let(f'json_extract({COLUMN}, [{listed}])', j, body)})"

    def _leaf(self, field: str, test: Any, *, needs_type: bool = True, on_text: Any = None) -> str:
        """``field`` has a value passing ``test`` (see :meth:`_gated`).

        ``needs_type=False`` says ``test`` is already false for null, objects and arrays when handed the
        raw text (an equality with a value that cannot look like JSON text), so the fast path skips
        ``json_type``. ``on_text`` is the same test on a VARCHAR (NULL when there is no value): where the
        schema proves the field a scalar string (:func:`plain_text`) it is all the query needs. It may be
        NULL for a missing field; :meth:`convert_condition_not` makes NOT treat NULL as false.
        """
        text = plain_text(field)
        if on_text is not None and text is not None:
            return str(on_text(text))
        return self._gated(
            field,
            lambda j: test(j) if needs_type else test(j, raw=True),
            lambda: _any(field, test, self._names),
        )

    # ------------------------------------------------------------------ value tests (JSON v -> boolean)

    def _string_test(self, value: SigmaString, cased: bool, anywhere: bool = False) -> tuple[Any, bool]:
        """A test function for a Sigma string, and whether it is safe on the raw text of any JSON value."""
        # The parts' own text: to_plain() would put the escape back before a literal * or ?.
        plain = None if value.contains_special() else "".join(cast(Any, value.s))
        if plain is not None and not anywhere:
            side, wanted = _sql.equality(plain, cased, "DuckDB")
            literal = sql_string(wanted)
            safe = not wanted.startswith(("{", "["))

            def equals(v: str, raw: bool = False, text: str | None = None) -> str:
                t = text if text is not None else f"json_extract_string({v}, '$')" if raw else _text(v)
                return f"{side.format(t=t)} = {literal}"

            return equals, safe
        pattern_value = value
        if anywhere:
            pattern_value = SigmaString("*") + value + SigmaString("*") if plain is not None else value
            if plain is None:
                pattern_value = SigmaString("*") + value + SigmaString("*")
        parts = [p for p in cast(Any, pattern_value.s) if p is not SpecialChars.WILDCARD_MULTI]
        if not parts:  # only "*": any text at all

            def any_text(v: str, raw: bool = False, text: str | None = None) -> str:
                return f"({text if text is not None else _text(v)} IS NOT NULL)"

            return any_text, False
        side, pattern = _sql.like_side(pattern_value, cased)
        first = cast(Any, pattern_value.s)[0]
        safe = isinstance(first, str) and not first.startswith(("{", "[")) and first != ""

        def like(v: str, raw: bool = False, text: str | None = None) -> str:
            t = text if text is not None else f"json_extract_string({v}, '$')" if raw else _text(v)
            return _sql.like(side.format(t=t), pattern, sql_string)

        return like, safe

    def _string_leaf(self, field: str, value: SigmaString, cased: bool) -> str:
        test, safe = self._string_test(value, cased)
        return self._leaf(field, test, needs_type=not safe, on_text=lambda t: test("", text=t))

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_leaf(cond.field, cast(SigmaString, cond.value), cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_leaf(cond.field, cast(SigmaCasedString, cond.value), cased=True)

    @staticmethod
    def _number_test(number: int | float, op: str) -> Any:
        """JSON numbers and decimal strings read as numbers (the evaluator's ``as_number``)."""
        literal = repr(number) if isinstance(number, float) else str(number)
        if isinstance(number, float) and not (number == number and abs(number) != float("inf")):
            unsupported(f"number {number!r} has no SQL literal")
        exact = "HUGEINT" if isinstance(number, int) else "DOUBLE"
        lit = f"CAST({literal} AS {exact})"

        def test(v: str, raw: bool = False) -> str:
            s = f"json_extract_string({v}, '$')"
            integer_json = f"json_type({v}) IN ('BIGINT', 'UBIGINT', 'HUGEINT')"
            return (
                f"CASE WHEN {integer_json} THEN TRY_CAST({s} AS HUGEINT) {op} {lit} "
                f"WHEN json_type({v}) = 'DOUBLE' THEN CAST({v} AS DOUBLE) {op} {lit} "
                f"WHEN json_type({v}) = 'VARCHAR' AND regexp_full_match({s}, {sql_string(_DECIMAL_RE)}) THEN "
                f"CASE WHEN regexp_full_match({s}, {sql_string(_INTEGER_RE)}) "
                f"THEN TRY_CAST({s} AS HUGEINT) {op} {lit} ELSE TRY_CAST({s} AS DOUBLE) {op} {lit} END "
                "ELSE false END"
            )

        return test

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._leaf(cond.field, self._number_test(cast(SigmaNumber, cond.value).number, "="))

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        number, op = self._comparison(cond)
        return self._leaf(cond.field, self._number_test(number, op))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        word = "true" if cast(SigmaBool, cond.value).boolean else "false"

        def test(v: str, raw: bool = False) -> str:
            return (
                f"CASE json_type({v}) WHEN 'BOOLEAN' THEN json_extract_string({v}, '$') = '{word}' "
                f"WHEN 'VARCHAR' THEN lower(json_extract_string({v}, '$')) = '{word}' ELSE false END"
            )

        return self._leaf(cond.field, test)

    def _regex(self, value: SigmaRegularExpression) -> str:
        pattern = value.regexp.to_plain() if isinstance(value.regexp, SigmaString) else str(value.regexp)
        multiline = SigmaRegularExpressionFlag.MULTILINE in value.flags
        body = python_regex_to_re2(pattern, multiline)
        letters = {
            SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s",
        }
        flags = "".join(sorted(letters[f] for f in value.flags))
        full = (f"(?{flags})" if flags else "") + body
        error = _re2_error(full)
        if error is not None:
            unsupported(f"regular expression {pattern!r} is not valid RE2 (DuckDB's regex engine): {error}")
        return full

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        literal = sql_string(self._regex(cast(SigmaRegularExpression, cond.value)))
        return self._leaf(
            cond.field,
            lambda v, raw=False: f"regexp_matches({_text(v)}, {literal})",
            on_text=lambda t: f"regexp_matches({t}, {literal})",
        )

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        network = cast(SigmaCIDRExpression, cond.value).network
        return self._leaf(
            cond.field,
            lambda v, raw=False: _cidr_test(
                f"json_extract_string({v}, '$')", f"json_type({v}) = 'VARCHAR'", network
            ),
            on_text=lambda t: _cidr_test(t, f"{t} IS NOT NULL", network),
        )

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        text = plain_text(cond.field)
        if text is not None:
            return f"{text} IS NULL"
        v = self._names("v")
        values = field_values(cond.field, self._names)
        return self._gated(
            cond.field,
            lambda j: f"({j} IS NULL OR json_type({j}) = 'NULL')",
            lambda: f"len(list_filter({values}, lambda {v}: json_type({v}) <> 'NULL')) = 0",
        )

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        exists = cast(SigmaExists, cond.value).exists
        text = plain_text(cond.field)
        if text is not None:
            return f"{text} IS {'NOT ' if exists else ''}NULL"
        v = self._names("v")
        values = field_values(cond.field, self._names)
        present = "({j} IS NOT NULL AND json_type({j}) <> 'NULL')"
        return self._gated(
            cond.field,
            lambda j: present.format(j=j) if exists else f"NOT {present.format(j=j)}",
            lambda: (
                f"len(list_filter({values}, lambda {v}: json_type({v}) <> 'NULL')) {'>' if exists else '='} 0"
            ),
        )

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        ref = cast(SigmaFieldReference, cond.value)
        a, b = self._names("a"), self._names("b")

        def texts(field: str) -> str:
            v, t = self._names("v"), self._names("t")
            lowered = f"lower(replace({_text(v)}, '{DOTTED_I}', 'i\u0307'))"
            return (
                f"list_filter(list_transform({field_values(field, self._names)}, lambda {v}: {lowered}), "
                f"lambda {t}: {t} IS NOT NULL)"
            )

        if ref.starts_with and ref.ends_with:
            compare = f"contains({a}, {b})"
        elif ref.starts_with:
            compare = f"starts_with({a}, {b})"
        elif ref.ends_with:
            compare = f"ends_with({a}, {b})"
        else:
            compare = f"{a} = {b}"
        return (
            f"(len(list_filter({texts(cond.field)}, lambda {a}: "
            f"len(list_filter({texts(ref.field)}, lambda {b}: {compare})) > 0)) > 0)"
        )

    # ------------------------------------------------------------------ keywords

    def _keyword(self, test: Any) -> str:
        v = self._names("v")
        leaves = f"json_extract({COLUMN}, '$..*')"
        return f"(len(list_filter({leaves}, lambda {v}: coalesce({test(v)}, false))) > 0)"

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        test, _ = self._string_test(cast(SigmaString, cond.value), cased=False, anywhere=True)
        return self._keyword(test)

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        import json

        value = cond.value
        number = value.boolean if isinstance(value, SigmaBool) else cast(SigmaNumber, value).number
        test, _ = self._string_test(SigmaString(json.dumps(number)), cased=False, anywhere=True)
        return self._keyword(test)

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        literal = sql_string(self._regex(cast(SigmaRegularExpression, cond.value)))
        return self._keyword(lambda v: f"regexp_matches({_text(v)}, {literal})")

    # ------------------------------------------------------------------ query assembly

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        return f"SELECT * FROM {self.table} WHERE {query}"


def _cidr_test(s: str, is_string: str, network: IPv4Network | IPv6Network) -> str:
    """Text ``s`` (a string where ``is_string``) holds an IP address of ``network``'s version inside it."""
    if isinstance(network, IPv4Network):
        value = (
            f"list_reduce(list_transform(string_split({s}, '.'), lambda p: CAST(p AS BIGINT)), "
            "lambda acc, p: acc * 256 + p)"
        )
        return (
            f"CASE WHEN {is_string} AND regexp_full_match({s}, {sql_string(_sql.IPV4_RE)}) "
            f"THEN {_sql.in_network(value, network)} ELSE false END"
        )
    return (
        f"CASE WHEN {is_string} THEN coalesce({_sql.in_network(_ipv6_hex(s), network)}, false) ELSE false END"
    )


def _let(value: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``value`` (DuckDB allows no subquery inside a lambda)."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def _ipv6_hex(s: str) -> str:
    """SQL: the 32 lower-case hex digits of IPv6 address text ``s``, NULL unless Python's ``ipaddress``
    accepts it (``IPv6Address``: one ``::`` standing for at least one group, 1-4 hex digits a group, an
    optional IPv4 tail, an optional non-empty zone id after ``%``)."""
    zone_ok = (
        f"(NOT contains({s}, '%') OR (length({s}) - length(replace({s}, '%', '')) = 1 "
        f"AND NOT ends_with({s}, '%')))"
    )
    # The IPv4 tail (a last group with a dot) becomes two hex groups.
    v4 = f"regexp_extract(a6, {sql_string(':(' + _sql.IPV4_RE + ')$')}, 1)"
    v4_hex = _let(
        f"list_transform(string_split({v4}, '.'), lambda p: CAST(p AS INTEGER))",
        "o",
        "printf('%x:%x', o[1] * 256 + o[2], o[3] * 256 + o[4])",
    )
    text = (
        "CASE WHEN NOT contains(a6, '.') THEN a6 "
        f"WHEN {v4} <> '' THEN regexp_replace(a6, '[0-9.]+$', '') || {v4_hex} END"
    )
    head = (
        "CASE WHEN contains(t, '::') THEN (CASE WHEN split_part(t, '::', 1) = '' THEN []::VARCHAR[] "
        "ELSE string_split(split_part(t, '::', 1), ':') END) ELSE string_split(t, ':') END"
    )
    tail = (
        "CASE WHEN contains(t, '::') THEN (CASE WHEN substr(t, strpos(t, '::') + 2) = '' THEN []::VARCHAR[] "
        "ELSE string_split(substr(t, strpos(t, '::') + 2), ':') END) ELSE []::VARCHAR[] END"
    )
    hexed = (
        "CASE WHEN list_bool_and(list_transform(list_concat(h, l), "
        "lambda g: regexp_full_match(g, '[0-9a-f]{1,4}'))) IS NOT false "
        "AND ((NOT contains(t, '::') AND len(h) = 8) OR (contains(t, '::') AND len(h) + len(l) <= 7)) "
        "THEN array_to_string(list_transform(list_concat(h, list_transform(range(8 - len(h) - len(l)), "
        "lambda i: '0'), l), lambda g: lpad(g, 4, '0')), '') END"
    )
    groups = _let(head, "h", _let(tail, "l", hexed))
    checked = (
        "CASE WHEN t IS NOT NULL AND regexp_full_match(t, '[0-9a-f:]+') "
        f"AND length(t) - length(replace(t, '::', '')) <= 2 THEN {groups} END"
    )
    inner = _let(f"split_part(lower({s}), '%', 1)", "a6", _let(text, "t", checked))
    return f"(CASE WHEN {zone_ok} THEN {inner} END)"
