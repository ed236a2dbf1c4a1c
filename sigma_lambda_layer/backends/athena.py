"""Amazon Athena backend: Sigma rules as Trino SQL (Athena engine version 3) over a typed table.

The table is described by a schema (:mod:`sigma_lambda_layer.fields.athena`): the pipeline names it in its
state (``athena_schema``) and renames each field to its path in it; the backend reads each node's kind and
chooses the syntax from it alone, so the same backend serves the CloudTrail table of the Athena User Guide and
any other table described the same way (Amazon Security Lake's OCSF table):

* a ``string`` leaf (a column or a struct member, ``useridentity.sessioncontext.sessionissuer.arn``) is read
  as it is: one VARCHAR, NULL when the record had no value (the SerDe gives numbers and booleans as their
  JSON text, so ``readonly = 'true'`` is the rule's ``readOnly: true``);
* an ``array`` of structs (``resources``) is searched element by element: ``any_match(resources, r -> ...)``;
* a ``map`` member is ``element_at(m, 'key')``;
* below a ``json`` text column (``requestparameters``) the CloudTrail keys are JSON keys read with
  ``json_extract_scalar`` (keys quoted ``$["..."]`` where they are not plain names; JSON keys are
  case-sensitive, so ``principalId`` and ``principalid`` stay apart); a record whose path meets an array, or
  a key that itself holds a dot, is walked as the reference evaluator walks it
  (:mod:`sigma_lambda_layer.evaluator.paths`: arrays on the way searched element by element, two levels,
  every grouping of dotted segments into keys), through ``transform``/``filter``/``flatten`` over
  ``ARRAY(JSON)``. A plain ``json_extract_scalar`` decides every other record. A column the schema marks
  ``json_object`` (CloudTrail's ``requestParameters`` ...: an object in every record) is not tried as an
  array itself.

Meaning, as on every target (the duckdb backend's module docstring says each choice at length):

* **case-insensitive** is ``a.lower() == b.lower()`` (:mod:`sigma_lambda_layer.casing`): the record side
  ``lower(...)``, the rule side lowered in Python. Trino's ``lower`` lowercases per code point, as DuckDB's
  does (``İ`` -> ``i``), so the same rewrite of ``İ`` is made first where it matters, and a Greek sigma in a
  case-insensitive equality is refused. No ``lower()`` where the value has no cased character, and none on a
  value the canonical-values step made exact (``eventname = 'CreateUser'``);
* **wildcards** are ``LIKE`` with ``%``, ``_`` and ``\\`` of the value escaped (``ESCAPE '\\'``);
* ``|re`` is ``regexp_like`` (partial match) with a pattern that Python (the evaluator), RE2 (DuckDB, the
  offline proof) and Trino's regex library read alike; what they may read differently is refused
  (:func:`trino_regex`);
* **numbers and booleans** as CloudTrail types them: a Sigma number equals a value whose text is a decimal of
  that value, a Sigma boolean a value whose text is ``true``/``false`` in any case;
* ``|cidr`` parses IPv4 and IPv6 text with Python ``ipaddress``' rules in plain SQL, as the duckdb backend
  does (``sourceipaddress`` values such as ``lambda.amazonaws.com`` never match);
* **missing fields**: a leaf is NULL (or an ``any_match`` over nothing); ``NOT coalesce(x, false)`` makes a
  missing field never equal a value. ``null`` means no value (absent or JSON ``null``).
* **keywords** (field-less values) are refused: the table has no "every value" column, and a ``LIKE`` over
  the JSON-text columns would match keys too.
"""

from __future__ import annotations

import re
from datetime import date
from ipaddress import IPv4Network, IPv6Network
from itertools import pairwise
from typing import Any, ClassVar, cast

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionOR, ConditionValueExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer import casing
from sigma_lambda_layer.backends import _sql
from sigma_lambda_layer.backends._sql import CASELESS, DOTTED_I, SQLBackend
from sigma_lambda_layer.backends.duckdb import (
    _DECIMAL_RE,
    _INTEGER_RE,
    _groupings,
    _Names,
    _re2_error,
    python_regex_to_re2,
)
from sigma_lambda_layer.dialect import BackendOption, FormatFile, matching
from sigma_lambda_layer.errors import unsupported
from sigma_lambda_layer.fields import athena as schema_module
from sigma_lambda_layer.fields.athena import Location, Node, Resolved, TableSchema, resolve

DEFAULT_TABLE = "cloudtrail_logs"
DEFAULT_DATABASE = "default"
#: The placeholders of the Athena User Guide's statement (a DDL written without options shows where to edit).
PLACEHOLDER_BUCKET = "amzn-s3-demo-bucket"
PLACEHOLDER_ACCOUNT = "111122223333"
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
#: Trino reserved words that may name a column (they must be quoted).
_RESERVED = frozenset({"timestamp", "table", "values", "user", "current_user", "order", "group", "from"})
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sql_string(text: str) -> str:
    """A Trino string literal: quotes doubled (backslashes are literal in Trino string literals)."""
    return _sql.sql_string(text, "an Athena")


def sql_identifier(name: str) -> str:
    """A double-quoted identifier, a double quote doubled (database and table names from options)."""
    return _sql.sql_identifier(name, f"invalid Athena identifier {name!r}")


def column_name(name: str) -> str:
    """A DDL column or member name as a Trino identifier: plain lowercase names as they are, others quoted."""
    return name if _PLAIN_NAME.fullmatch(name) and name not in _RESERVED else sql_identifier(name)


def json_path(keys: tuple[str, ...] | list[str]) -> str:
    """A Trino JSON path for ``json_extract``: ``$.a`` for plain keys, ``$["a.b"]`` otherwise."""
    out = "$"
    for key in keys:
        if _PLAIN_KEY.fullmatch(key):
            out += "." + key
        else:
            if '"' in key or "\\" in key or not key:
                unsupported(f"JSON key {key!r} cannot be quoted in an Athena (Trino) JSON path")
            out += f'["{key}"]'
    return out


# --------------------------------------------------------------------------------------- regular expressions

_INLINE_FLAGS = re.compile(r"\(\?[a-zA-Z-]+[:)]")


_CASE_UNSAFE_ESCAPE = re.compile(r"\\[xuUN0-7]")


def case_classes(pattern: str) -> str:
    """Python ``re`` source matching case-insensitively by the project's rule without any flag: each literal
    character becomes its :func:`~sigma_lambda_layer.casing.char_class` (``k`` -> ``[kK\u212a]``), each class
    gains its members' partners (ranges through :func:`~sigma_lambda_layer.casing.range_partners`), as
    :func:`~sigma_lambda_layer.casing.compile_regex` reads ``|i`` for the evaluator. Trino's ``(?i)`` (Java,
    Unicode-aware), RE2's and Python's ``re.IGNORECASE`` each fold other characters together (the long s,
    the Kelvin sign, ``ß``), so no flag is left for an engine to read its own way.
    """
    if _CASE_UNSAFE_ESCAPE.search(pattern):
        unsupported(
            f"regular expression {pattern!r} with |i uses a code escape (\\x, \\u, \\N, octal): its "
            "character's case partners cannot be added without reading it; write the character itself"
        )
    out: list[str] = []
    i = 0
    in_class = False
    extra: set[str] = set()
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                out.append("".join(re.escape(p) for p in sorted(extra)) + "]")
                in_class = False
                i += 1
                continue
            if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] not in "]\\":
                out.append(pattern[i : i + 3])
                extra |= casing.range_partners(c, pattern[i + 2])
                i += 3
                continue
            extra |= casing.char_class(c) - {c}
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class, extra = True, set()
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if pattern[i : i + 1] == "]":
                out.append("\\]")
                i += 1
            continue
        group = casing.char_class(c) if c.isalpha() else frozenset({c})
        out.append("[" + "".join(re.escape(m) for m in sorted(group)) + "]" if len(group) > 1 else c)
        i += 1
    return "".join(out)


def trino_regex(pattern: str, flags: set[SigmaRegularExpressionFlag]) -> str:
    """Python ``re`` syntax (the evaluator's) as a pattern Trino's regex library (Java syntax, Athena engine
    v3) and RE2 (DuckDB, the offline proof) read with Python's meaning, or a refusal.

    Starts from the duckdb backend's RE2 translation (Unicode ``\\d``/``\\w``/``\\s`` spelled as ``\\p{..}``
    classes, ``$`` as ``(?:\\n?\\z)``, lookaround, back-references and ``\\b`` refused), then: ``.`` becomes
    ``[^\\n]`` (Java's ``.`` also stops at ``\\r``, ``\\u0085``, ``\\u2028``...), or ``[\\s\\S]`` under ``|s``;
    refused are ``|i`` (Java's, RE2's and the project's case folding differ: long s U+017F, Kelvin sign U+212A, ``ß``), named
    groups ``(?P<..>)`` (Java spells them ``(?<..>)``), and ``[`` or ``&&`` inside a class (Java's nested
    classes and intersections).
    """
    if "(?P" in pattern or _INLINE_FLAGS.search(pattern):
        unsupported(
            f"regular expression {pattern!r} uses a named group or an inline flag, which Trino's Java syntax "
            "reads differently from Python's; use the |re modifiers (|i, |m, |s) instead",
        )
    if SigmaRegularExpressionFlag.IGNORECASE in flags:
        pattern = case_classes(pattern)
    multiline = SigmaRegularExpressionFlag.MULTILINE in flags
    dotall = SigmaRegularExpressionFlag.DOTALL in flags
    body = python_regex_to_re2(pattern, multiline)
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(body[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "[" or body.startswith("&&", i):
                unsupported(
                    f"regular expression {pattern!r} has '[' or '&&' inside a character class: Java syntax "
                    "reads a nested class or an intersection there, Python a literal character",
                    hint="escape it (\\[, \\&)",
                )
            if c == "]" and out and out[-1] not in ("[", "[^"):
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            if body[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 1
            else:
                out.append("[")
            if body[i + 1 : i + 2] == "]":  # a leading "]" is a literal member
                out.append("\\]")
                i += 1
        elif c == ".":
            out.append(r"[\s\S]" if dotall else r"[^\n]")
        else:
            out.append(c)
        i += 1
    full = ("(?m)" if multiline else "") + "".join(out)
    error = _re2_error(full)
    if error is not None:
        unsupported(f"regular expression {pattern!r} is not valid RE2 (the offline proof's engine): {error}")
    return full


# --------------------------------------------------------------------------------------- field access


class _Access:
    """How a field's values are read: one text (``text``), or a list of texts (``texts``), or both gated
    (``gate`` true: the list decides, else the plain text), with how to say "has a non-null value"."""

    def __init__(
        self,
        text: str | None = None,
        texts: str | None = None,
        present: str | None = None,
        gate: str | None = None,
        fast_present: str | None = None,
        over: tuple[str, str, str] | None = None,
    ) -> None:
        #: an array of structs searched in place: (array, lambda variable, the element's text)
        self.over = over
        self.text, self.texts, self.present, self.gate, self.fast_present = (
            text,
            texts,
            present,
            gate,
            fast_present,
        )


class AthenaBackend(SQLBackend):
    """Trino SQL over an Athena table described by a schema (see the module docstring)."""

    name: ClassVar[str] = "Amazon Athena (Trino SQL) over the CloudTrail table"
    engine: ClassVar[str] = "Athena"
    #: the columns the pipeline renames eventSource and eventName to: the ``hunt`` format names the values a
    #: rule requires there (hunt's dispatch)
    hunt_dispatch_paths: ClassVar[tuple[str, str]] = ("eventsource", "eventname")
    formats: ClassVar[dict[str, str]] = {
        "default": 'SELECT * FROM "<database>"."<table>" WHERE <condition> (options database, table)',
        "condition": "the WHERE condition alone, over the table's columns",
        "ddl": "the CREATE EXTERNAL TABLE statement (partition projection) for options bucket, prefix, "
        "accounts, regions, org_id, start",
        "hunt": "JSON: the condition, the eventSource/eventName values it requires and the level",
    }
    format_files: ClassVar[dict[str, FormatFile]] = {
        "condition": FormatFile("text", "sql"),
        "ddl": FormatFile("text", "sql"),
        "hunt": FormatFile("json", "json"),
    }
    requires_pipeline: ClassVar[bool] = True
    options: ClassVar[tuple[BackendOption, ...]] = (
        BackendOption("table", "the Athena table holding the records", DEFAULT_TABLE),
        BackendOption("database", "the Glue database of the table", DEFAULT_DATABASE),
        BackendOption(
            "partitions",
            "partition columns of the table: timestamp (one trail, one Region) or account,region,timestamp "
            "(organisation trail); the ddl format writes them",
            "timestamp",
            matching(r"timestamp|account,region,timestamp"),
            "timestamp or account,region,timestamp",
        ),
        BackendOption(
            "bucket",
            "ddl: the S3 bucket the trail delivers to (default: the AWS documentation's placeholder)",
            PLACEHOLDER_BUCKET,
            matching(r"[a-z0-9.-]{3,63}"),
            "an S3 bucket name",
        ),
        BackendOption(
            "prefix", "ddl: the trail's S3 key prefix (empty if none)", "", matching(r"[A-Za-z0-9!_.*'()/-]*")
        ),
        BackendOption(
            "accounts",
            "ddl: account id(s), comma-separated (default: the documentation's placeholder)",
            PLACEHOLDER_ACCOUNT,
            matching(r"[0-9]{12}(,[0-9]{12})*"),
            "12-digit account ids, comma-separated",
        ),
        BackendOption(
            "regions",
            "ddl: Region code(s), comma-separated",
            "us-east-1",
            matching(r"[a-z0-9-]+(,[a-z0-9-]+)*"),
            "Region codes, comma-separated",
        ),
        BackendOption(
            "org_id",
            "ddl: organisation id of an organisation trail (o-...)",
            None,
            matching(r"o-[a-z0-9]+"),
            "an AWS Organizations id, o-...",
        ),
        BackendOption("start", "ddl: first day of the timestamp projection (yyyy/MM/dd)", "2020/01/01"),
    )

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any):
        super().__init__(processing_pipeline, collect_errors, **options)
        self.table = str(options.get("table") or DEFAULT_TABLE)
        self.database = str(options.get("database") or DEFAULT_DATABASE)
        self.ddl_options = {
            k: options.get(k) for k in ("bucket", "prefix", "accounts", "regions", "org_id", "start")
        }
        self.partitions = str(options.get("partitions") or "timestamp")
        self._names = _Names()

    # ------------------------------------------------------------------ schema

    @staticmethod
    def _schema(state: ConversionState) -> TableSchema:
        schema_id = state.processing_state.get(schema_module.STATE_SCHEMA, schema_module.CLOUDTRAIL.id)
        return schema_module.schema(str(schema_id))

    def _resolve(self, field: str, state: ConversionState) -> Resolved:
        found = resolve(self._schema(state), field)
        if found is None:
            unsupported(
                f"field {field!r} is not a column of the Athena table; convert with the target's pipeline",
                field=field,
            )
        return found

    # ------------------------------------------------------------------ field access

    def _access(self, field: str, state: ConversionState) -> _Access:
        found = self._resolve(field, state)
        steps = found.steps
        if found.json_rest is not None:
            return self._json_access(self._sql_path(steps), found.json_rest, found.leaf.json_object)
        leaf = found.leaf
        if leaf.kind in ("struct", "array", "map"):
            unsupported(f"field {field!r} is a {leaf.kind} in the Athena table, not a value", field=field)
        if leaf.kind == "json":  # the JSON-text column itself: its value's text, if a scalar
            return self._json_access(self._sql_path(steps), None)
        if any(s.node.kind == "array" for s in steps):
            return self._array_access(steps)
        expr = self._sql_path(steps)
        return _Access(text=self._text_of(leaf, expr))

    @staticmethod
    def _text_of(leaf: Node, expr: str) -> str:
        """The VARCHAR text a Sigma string meets (numbers and booleans as their text)."""
        return expr if leaf.kind == "string" else f"CAST({expr} AS VARCHAR)"

    @staticmethod
    def _sql_path(steps: Any) -> str:
        """``a.b.c`` for the struct path ``steps`` (no array inside); a map member is ``element_at(m, 'k')``."""
        steps = list(steps)
        out = column_name(steps[0].name)
        for previous, step in pairwise(steps):
            if previous.node.kind == "map":
                out = f"element_at({out}, {sql_string(step.name)})"
            else:
                out = f"{out}.{column_name(step.name)}"
        return out

    def _array_access(self, steps: Any) -> _Access:
        """A leaf below an array of structs: the list of its texts over the elements."""
        steps = list(steps)
        index = next(i for i, s in enumerate(steps) if s.node.kind == "array")
        array = self._sql_path(steps[: index + 1])
        e = self._names("r")
        rest = steps[index + 2 :]
        inner = e + "".join(f".{column_name(s.name)}" for s in rest)
        if any(s.node.kind == "array" for s in rest):
            unsupported("nested arrays in an Athena table are not supported")
        leaf = steps[-1].node
        if leaf.kind in ("struct", "array"):
            unsupported("an array element's struct is not a value")
        text = self._text_of(leaf, inner)
        return _Access(
            texts=f"transform({array}, {e} -> {text})",
            present=f"any_match({array}, {e} -> {text} IS NOT NULL)",
            over=(array, e, text),
        )

    def _json_access(self, column: str, rest: str | None, is_object: bool = False) -> _Access:
        """A field inside a JSON-text column: the plain read gated by a walk (module docstring).

        ``is_object``: the schema proves the column's JSON an object in every record (``Node.json_object``),
        so its first key is one ``json_extract`` and the column itself is never tried as an array.
        """
        if rest is None:
            j = f"json_extract({column}, '$')"
            return _Access(
                text=f"json_extract_scalar({column}, '$')",
                present=f"coalesce(json_format({j}) <> 'null', false)",
            )
        segments = rest.split(".")
        groupings = _groupings(segments)
        lists = []
        for keys in groupings:
            if is_object:
                y = self._names("y")
                first = sql_string(json_path([keys[0]]))
                expr = f"filter(ARRAY[json_extract({column}, {first})], {y} -> {y} IS NOT NULL)"
                keys = keys[1:]
            else:
                expr = f"ARRAY[json_extract({column}, '$')]"
            for key in keys:
                expr = self._step(expr, key)
            lists.append(expr)
        combined = lists[0] if len(lists) == 1 else "concat(" + ", ".join(lists) + ")"
        z = self._names("z")
        leaves = f"flatten(transform({combined}, {z} -> {self._elements_or_self(z)}))"
        v, t = self._names("v"), self._names("t")
        texts = f"transform({leaves}, {v} -> json_extract_scalar({v}, '$'))"
        present = f"any_match({leaves}, {t} -> coalesce(json_format({t}) <> 'null', false))"
        # The plain read is exact unless the column or a prefix of the path (the full path too) holds an array, or a
        # dotted key could hold the value.
        witnesses = [
            f"TRY_CAST(json_extract({column}, {sql_string(json_path(segments[:i]))}) AS ARRAY(JSON)) IS NOT NULL"
            # the full path first; the column itself last, unless the schema proves it an object
            for i in range(len(segments), 0 if is_object else -1, -1)
        ]
        dotted = sorted(
            {
                json_path(list(g[: next(i for i, k in enumerate(g) if "." in k) + 1]))
                for g in groupings
                if any("." in k for k in g)
            }
        )
        witnesses += [f"json_extract({column}, {sql_string(p)}) IS NOT NULL" for p in dotted]
        path = sql_string(json_path(segments))
        return _Access(
            text=f"json_extract_scalar({column}, {path})",
            texts=texts,
            present=present,
            gate=" OR ".join(witnesses),
            fast_present=f"coalesce(json_format(json_extract({column}, {path})) <> 'null', false)",
        )

    def _elements(self, x: str) -> str:
        """The elements of JSON array ``x``, an element that is itself an array contributing its elements."""
        e = self._names("e")
        return (
            f"flatten(transform(CAST({x} AS ARRAY(JSON)), {e} -> "
            f"coalesce(TRY_CAST({e} AS ARRAY(JSON)), ARRAY[{e}])))"
        )

    def _elements_or_self(self, x: str) -> str:
        return (
            f"CASE WHEN TRY_CAST({x} AS ARRAY(JSON)) IS NOT NULL THEN {self._elements(x)} ELSE ARRAY[{x}] END"
        )

    def _step(self, values: str, key: str) -> str:
        """From a list of JSON nodes to their ``key`` children, walking arrays (the evaluator's ``_walk``)."""
        x, o, y = self._names("x"), self._names("o"), self._names("y")
        path = sql_string(json_path([key]))
        return (
            f"filter(flatten(transform({values}, {x} -> CASE WHEN TRY_CAST({x} AS ARRAY(JSON)) IS NOT NULL "
            f"THEN transform({self._elements(x)}, {o} -> json_extract({o}, {path})) "
            f"ELSE ARRAY[json_extract({x}, {path})] END)), {y} -> {y} IS NOT NULL)"
        )

    def _leaf(self, field: str, test: Any, state: ConversionState) -> str:
        """``field`` has a value whose text passes ``test`` (a function from a VARCHAR expression to a
        boolean; NULL text means no value to compare)."""
        access = self._access(field, state)
        if access.texts is None:
            return str(test(access.text))
        if access.over is not None:
            array, e, text = access.over
            return f"any_match({array}, {e} -> coalesce({test(text)}, false))"
        t = self._names("t")
        listed = f"any_match({access.texts}, {t} -> coalesce({test(t)}, false))"
        if access.gate is None or access.text is None:
            return listed
        return f"(CASE WHEN {access.gate} THEN {listed} ELSE coalesce({test(access.text)}, false) END)"

    # ------------------------------------------------------------------ value tests

    @staticmethod
    def _equality(value: SigmaString, cased: bool) -> tuple[str, str] | None:
        """For a value without wildcards: the record side (a template over ``{t}``) and the literal it must
        equal; None for a pattern."""
        if value.contains_special():
            return None
        side, wanted = _sql.equality("".join(cast(Any, value.s)), cased, "Trino")
        return side, sql_string(wanted)

    def _string_test(self, value: SigmaString, cased: bool) -> Any:
        equality = self._equality(value, cased)
        if equality is not None:
            side, literal = equality
            return lambda t: f"{side.format(t=t)} = {literal}"
        parts = [p for p in cast(Any, value.s) if p is not SpecialChars.WILDCARD_MULTI]
        if not parts:
            return lambda t: f"{t} IS NOT NULL"
        side, pattern = _sql.like_side(value, cased)
        return lambda t: _sql.like(side.format(t=t), pattern, sql_string)

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._leaf(cond.field, self._string_test(cast(SigmaString, cond.value), cased=False), state)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._leaf(
            cond.field, self._string_test(cast(SigmaCasedString, cond.value), cased=True), state
        )

    @staticmethod
    def _number_test(number: int | float, op: str) -> Any:
        """A text that is a decimal number compared with ``number`` (the evaluator's ``as_number``)."""
        if isinstance(number, float) and not (number == number and abs(number) != float("inf")):
            unsupported(f"number {number!r} has no SQL literal")
        literal = repr(number) if isinstance(number, float) else str(number)
        lit = (
            f"CAST({literal} AS DOUBLE)"
            if isinstance(number, float)
            else f"CAST({literal} AS DECIMAL(38, 0))"
        )
        decimal = sql_string(rf"\A{_DECIMAL_RE}\z")
        integer = sql_string(rf"\A{_INTEGER_RE}\z")

        def test(t: str) -> str:
            return (
                f"CASE WHEN regexp_like({t}, {integer}) THEN TRY_CAST({t} AS DECIMAL(38, 0)) {op} {lit} "
                f"WHEN regexp_like({t}, {decimal}) THEN TRY_CAST({t} AS DOUBLE) {op} {lit} ELSE false END"
            )

        return test

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._leaf(cond.field, self._number_test(cast(SigmaNumber, cond.value).number, "="), state)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        number, op = self._comparison(cond)
        return self._leaf(cond.field, self._number_test(number, op), state)

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        word = "true" if cast(SigmaBool, cond.value).boolean else "false"
        return self._leaf(cond.field, lambda t: f"lower({t}) = '{word}'", state)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cast(SigmaRegularExpression, cond.value)
        pattern = value.regexp.to_plain() if isinstance(value.regexp, SigmaString) else str(value.regexp)
        literal = sql_string(trino_regex(pattern, set(value.flags)))
        return self._leaf(cond.field, lambda t: f"regexp_like({t}, {literal})", state)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        network = cast(SigmaCIDRExpression, cond.value).network
        return self._leaf(cond.field, lambda t: _cidr_test(t, network), state)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"NOT {self._present(cond.field, state)}"

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        present = self._present(cond.field, state)
        return present if cast(Any, cond.value).exists else f"NOT {present}"

    def _present(self, field: str, state: ConversionState) -> str:
        """A non-NULL boolean: the field has a value that is not null."""
        access = self._access(field, state)
        if access.texts is None and access.present is None:
            return f"({access.text} IS NOT NULL)"
        if access.gate is None:
            return f"coalesce({access.present}, false)"
        return (
            f"(CASE WHEN {access.gate} THEN coalesce({access.present}, false) ELSE {access.fast_present} END)"
        )

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        ref = cast(SigmaFieldReference, cond.value)

        def texts(field: str) -> str:
            access = self._access(field, state)
            listed = access.texts
            if listed is None:
                listed = f"ARRAY[{access.text}]"
            elif access.gate is not None:
                listed = f"(CASE WHEN {access.gate} THEN {listed} ELSE ARRAY[{access.text}] END)"
            v = self._names("v")
            return f"transform({listed}, {v} -> lower(replace({v}, '{DOTTED_I}', 'i\u0307')))"

        a, b = self._names("a"), self._names("b")
        if ref.starts_with and ref.ends_with:
            compare = f"strpos({a}, {b}) > 0"
        elif ref.starts_with:
            compare = f"starts_with({a}, {b})"
        elif ref.ends_with:
            compare = f"substr({a}, -length({b})) = {b}"
        else:
            compare = f"{a} = {b}"
        return (
            f"coalesce(any_match({texts(cond.field)}, {a} -> "
            f"coalesce(any_match({texts(ref.field)}, {b} -> coalesce({compare}, false)), false)), false)"
        )

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Any:
        """``x IN ('a', 'b')`` where every branch is an equality of the same plain column read the same way
        (``eventname IN ('StopLogging', 'DeleteTrail')``), as a SQL user writes a list; a plain OR otherwise."""
        listed = self._in_list(cond, state)
        return listed if listed is not None else super().convert_condition_or(cond, state)

    def _in_list(self, cond: ConditionOR, state: ConversionState) -> str | None:
        if len(cond.args) < 2 or not all(
            isinstance(a, ConditionFieldEqualsValueExpression) for a in cond.args
        ):
            return None
        args = cast(list[ConditionFieldEqualsValueExpression], cond.args)
        if len({a.field for a in args}) != 1 or not all(isinstance(a.value, SigmaString) for a in args):
            return None
        parts = [
            self._equality(cast(SigmaString, a.value), isinstance(a.value, SigmaCasedString)) for a in args
        ]
        if any(p is None for p in parts):
            return None
        pairs = cast(list[tuple[str, str]], parts)
        # A literal of caseless characters compares the same on any side; lower() with the İ rewrite is exact
        # wherever plain lower() is (module docstring): the list takes the most general side its values need.
        needed = {side for side, literal in pairs if not set(literal[1:-1]) <= CASELESS}
        if len(needed) > 1:
            if "{t}" in needed:
                return None
            needed = {next(side for side in needed if "replace" in side)}
        access = self._access(args[0].field, state)
        if access.texts is not None or access.text is None:
            return None
        side = next(iter(needed), "{t}")
        literals = list(dict.fromkeys(literal for _, literal in pairs))
        return f"{side.format(t=access.text)} IN ({', '.join(literals)})"

    # ------------------------------------------------------------------ keywords

    def _no_keywords(self) -> str:
        unsupported(
            "keywords (values without a field) cannot be searched exactly in the Athena table: it has no "
            "column holding every value, and a LIKE over the JSON-text columns would match keys too",
            hint="name the field the value is in",
        )

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        return self._no_keywords()

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        return self._no_keywords()

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        return self._no_keywords()

    # ------------------------------------------------------------------ query assembly

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        return f"SELECT * FROM {sql_identifier(self.database)}.{sql_identifier(self.table)} WHERE {query}"

    def finalize_query_ddl(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        """The table the queries run on (the same statement for every rule of a run)."""
        return self.ddl(self._schema(state))

    def finalize_output_ddl(self, queries: list[str]) -> list[str]:
        return queries[:1]

    def ddl(self, table: TableSchema = schema_module.CLOUDTRAIL) -> str:
        opts = self.ddl_options
        accounts = [a for a in str(opts.get("accounts") or PLACEHOLDER_ACCOUNT).split(",") if a]
        regions = [r for r in str(opts.get("regions") or "us-east-1").split(",") if r]
        org = opts.get("org_id")
        if self.partitions != "timestamp" and not org:
            unsupported("partitions=account,region,timestamp is an organisation trail: give org_id=o-...")
        location = Location(
            bucket=str(opts.get("bucket") or PLACEHOLDER_BUCKET),
            prefix=str(opts.get("prefix") or ""),
            org_id=str(org) if org else None,
            accounts=accounts,
            regions=regions,
            start=str(opts.get("start") or "2020/01/01"),
        )
        try:
            return schema_module.ddl(location, self.table, self.database, table)
        except ValueError as error:
            unsupported(f"cannot write the Athena DDL: {error}", construct="format ddl")


def _cidr_test(t: str, network: IPv4Network | IPv6Network) -> str:
    """Text ``t`` is an IP address of ``network``'s version (Python ``ipaddress`` syntax) inside it."""
    if isinstance(network, IPv4Network):
        return (
            f"CASE WHEN regexp_like({t}, {_V4}) THEN {_sql.in_network(_v4_number(t), network)} ELSE false END"
        )
    return f"coalesce({_sql.in_network(_ipv6_hex(t), network)}, false)"


_V4 = sql_string(rf"\A{_sql.IPV4_RE}\z")
_V4_TAIL = sql_string(rf":{_sql.IPV4_RE}\z")
_HEX_DIGITS = "'0123456789abcdef'"


def _v4_number(t: str) -> str:
    return " + ".join(f"CAST(split_part({t}, '.', {i + 1}) AS BIGINT) * {256 ** (3 - i)}" for i in range(4))


def _let(value: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``value`` (a one-element ``transform``; Trino and DuckDB alike)."""
    return f"transform(ARRAY[{value}], {name} -> {body})[1]"


def _hex4(n: str) -> str:
    """The four lowercase hex digits of ``n`` (0..65535), by lookup (no base conversion DuckDB shares)."""
    return " || ".join(
        f"substr({_HEX_DIGITS}, CAST(floor({n} / {16**k}) AS BIGINT) % 16 + 1, 1)" for k in (3, 2, 1, 0)
    )


def _ipv6_hex(s: str) -> str:
    """SQL: the 32 lowercase hex digits of IPv6 address text ``s``, NULL unless Python's ``ipaddress``
    accepts it (one ``::`` standing for at least one group, 1-4 hex digits a group, an optional IPv4 tail,
    an optional non-empty zone id after one ``%``): the duckdb backend's reading, in functions Trino has."""
    zone_ok = (
        f"(strpos({s}, '%') = 0 OR (length({s}) - length(replace({s}, '%', '')) = 1 "
        f"AND substr({s}, length({s})) <> '%'))"
    )
    v4 = "regexp_extract(ip_a, '[0-9.]+\\z')"
    o = [f"CAST(split_part({v4}, '.', {i}) AS BIGINT)" for i in range(1, 5)]
    v4_hex = f"{_hex4(f'({o[0]} * 256 + {o[1]})')} || ':' || {_hex4(f'({o[2]} * 256 + {o[3]})')}"
    text = (
        "CASE WHEN strpos(ip_a, '.') = 0 THEN ip_a "
        f"WHEN regexp_like(ip_a, {_V4_TAIL}) THEN regexp_replace(ip_a, '[0-9.]+\\z', '') || {v4_hex} END"
    )
    empty = "CAST(ARRAY[] AS ARRAY(VARCHAR))"
    head = (
        f"CASE WHEN strpos(ip_t, '::') > 0 THEN (CASE WHEN split_part(ip_t, '::', 1) = '' THEN {empty} "
        "ELSE split(split_part(ip_t, '::', 1), ':') END) ELSE split(ip_t, ':') END"
    )
    tail = (
        f"CASE WHEN strpos(ip_t, '::') > 0 THEN (CASE WHEN substr(ip_t, strpos(ip_t, '::') + 2) = '' "
        f"THEN {empty} ELSE split(substr(ip_t, strpos(ip_t, '::') + 2), ':') END) ELSE {empty} END"
    )
    hexed = (
        "CASE WHEN NOT any_match(concat(ip_h, ip_l), ip_g -> NOT regexp_like(ip_g, '\\A[0-9a-f]{1,4}\\z')) "
        "AND ((strpos(ip_t, '::') = 0 AND cardinality(ip_h) = 8) "
        "OR (strpos(ip_t, '::') > 0 AND cardinality(ip_h) + cardinality(ip_l) <= 7)) "
        "THEN array_join(transform(ip_h, ip_g -> lpad(ip_g, 4, '0')), '') "
        "|| lpad('', CAST(4 * (8 - cardinality(ip_h) - cardinality(ip_l)) AS INTEGER), '0') "
        "|| array_join(transform(ip_l, ip_g -> lpad(ip_g, 4, '0')), '') END"
    )
    groups = _let(head, "ip_h", _let(tail, "ip_l", hexed))
    checked = (
        "CASE WHEN ip_t IS NOT NULL AND regexp_like(ip_t, '\\A[0-9a-f:]+\\z') "
        "AND length(ip_t) - length(replace(ip_t, '::', '')) <= 2 AND strpos(ip_t, ':::') = 0 "
        f"THEN {groups} END"
    )
    inner = _let(f"lower(split_part({s}, '%', 1))", "ip_a", _let(text, "ip_t", checked))
    return f"(CASE WHEN {zone_ok} THEN {inner} END)"


def partition_window(since: date | None = None, until: date | None = None, column: str = "timestamp") -> str:
    """A ``WHERE`` term keeping only the days from ``since`` to ``until`` (inclusive) of the ``timestamp``
    partition (``yyyy/MM/dd`` text, whose order is the days' order), so partition projection reads only those
    days' S3 prefixes; ``TRUE`` when neither is given. ``sigma-lambda hunt --engine athena`` ANDs it with the
    rules' conditions (the record-level window on ``eventtime`` is the caller's). CloudTrail files an object
    under the day it delivers it, minutes after its events: a caller whose window ends on a day passes the
    day after as ``until`` (hunt does)."""
    terms = []
    if since is not None:
        terms.append(f"{sql_identifier(column)} >= {sql_string(since.strftime('%Y/%m/%d'))}")
    if until is not None:
        terms.append(f"{sql_identifier(column)} <= {sql_string(until.strftime('%Y/%m/%d'))}")
    return " AND ".join(terms) or "TRUE"
