"""A reference evaluator for the ES|QL ``WHERE`` subset sigma-lambda emits, on Elastic's own grammar.

Syntax and function names are checked with Elastic's ``detection-rules-esql-py`` (the ANTLR grammar of
Elasticsearch's ES|QL, as used by elastic/detection-rules). The AST it returns is then evaluated here over
Elastic-view documents with the semantics the ES|QL reference documents
(elastic.co/guide/en/elasticsearch/reference/current/esql-*.html; elastic/elasticsearch
``docs/reference/query-languages/esql``):

* three-valued logic: a missing field is ``null``; comparisons and functions with a ``null`` argument are
  ``null``; ``AND``/``OR``/``NOT`` follow SQL's Kleene logic; ``WHERE`` keeps only rows where the condition
  is ``true`` ("ES|QL NULL values"; elastic/elasticsearch#129125);
* multivalued fields: comparisons and functions return ``null`` ("ES|QL multivalued fields");
* ``==``, ``!=``, ``IN``, ``LIKE``, ``RLIKE``, ``STARTS_WITH``, ``ENDS_WITH`` are case-sensitive;
* ``LIKE``: ``*`` any string, ``?`` one character, ``\\`` escapes; whole value ("LIKE");
* ``RLIKE``: Lucene regular expression, whole value ("RLIKE");
* ``TO_LOWER`` (also over multivalued values, from 9.1: "Support for multivalued parameters is only
  available from 9.1.0"), ``CIDR_MATCH`` (needs an IP value), ``IS NULL``, ``IS NOT NULL``;
* ``flattened`` fields ("ES|QL and flattened fields", 9.5): only the root is a column (its sub-fields are
  not); it is not null when it holds a value, and ``FIELD_EXTRACT(root, "key")`` ("FIELD_EXTRACT") returns
  the keyword values stored for that literal dotted key: nested objects collapse to dotted keys, arrays
  contribute every element (objects in arrays contribute their keys), numbers and booleans come back as
  their text, a missing key, JSON null or a key holding an object give null, several values a multivalued
  keyword (doc values: sorted, duplicates removed). Path matching is case-sensitive;
* ``MV_CONTAINS(superset, subset)`` ("MV_CONTAINS", 9.2): true when every value of ``subset`` is one of
  ``superset``; null reads as the empty set, so the result is never null;
* ``MV_CONCAT(values, delimiter)`` ("MV_CONCAT"): the values joined by the delimiter, null for null.

Queries are also checked with the grammar package's feature gates (``verify_features``: FIELD_EXTRACT needs
9.5) and its schema analysis (``analyze``: FIELD_EXTRACT's first argument must be a ``flattened`` field),
with the mapping types of :data:`sigma_lambda_layer.views.elastic.ELASTIC_FIELD_TYPES`.

Anything else raises :class:`EngineError`. API: :func:`run_esql`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

import esql
from esql import ast

from sigma_lambda_layer.views.elastic import ELASTIC_FIELD_TYPES, java_to_string
from tests.engines.eql_engine import EngineError, lucene_regexp_to_python

#: Roots of ``flattened`` fields: ES|QL columns only as FIELD_EXTRACT's first argument or under IS [NOT] NULL.
FLATTENED_ROOTS = frozenset(f for f, t in ELASTIC_FIELD_TYPES.items() if t == "flattened")
#: The Elastic mapping for the grammar package's schema analysis (unknown fields allowed: custom pipelines).
SCHEMA = esql.Schema(dict(ELASTIC_FIELD_TYPES), allow_missing=True)
#: Oldest stack the grammar package models; FIELD_EXTRACT raises the floor to 9.5.
OLDEST_STACK = "8.19.0"

#: Functions this evaluator models (the AST spells operators ``like``, ``not``, ``is_null`` as functions).
SUPPORTED_FUNCTIONS = frozenset(
    {
        "not",
        "is_null",
        "is_not_null",
        "to_lower",
        "starts_with",
        "ends_with",
        "like",
        "rlike",
        "cidr_match",
        "field_extract",
        "mv_contains",
        "mv_concat",
        "__values__",
    }
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
_MISSING = object()


class Multivalued(tuple[Any, ...]):
    """Several values: not null, but comparisons and single-value functions over it are null."""


class FlattenedRoot(dict[str, Any]):
    """The value of a ``flattened`` root column (only FIELD_EXTRACT and IS [NOT] NULL may read it)."""


def _is_mv(value: Any) -> bool:
    return isinstance(value, Multivalued)


def _values(value: Any) -> list[Any]:
    """A value as the list of its values (null: none)."""
    if value is None:
        return []
    return list(value) if _is_mv(value) else [value]


def _of_values(values: list[Any]) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else Multivalued(values)


def _flattened_leaves(value: Any, prefix: str, out: dict[str, list[str]]) -> None:
    """The keyword values the ``flattened`` mapping stores per dotted leaf key."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flattened_leaves(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for v in value:
            _flattened_leaves(v, prefix, out)
    elif value is not None:
        out.setdefault(prefix, []).append(java_to_string(value))


def field_extract(root: Any, key: str) -> Any:
    """``FIELD_EXTRACT(root, key)`` over a flattened root value."""
    if root is None:
        return None
    leaves: dict[str, list[str]] = {}
    _flattened_leaves(root, "", leaves)
    return _of_values(sorted(set(leaves.get(key, []))))


def unescape(text: str) -> str:
    """The value of an ES|QL string literal body (the grammar hands over the source text)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            e = text[i + 1] if i + 1 < len(text) else ""
            if e not in _ESCAPES:
                raise EngineError(f"ES|QL string: unknown escape \\{e}")
            out.append(_ESCAPES[e])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def like_to_python(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append("(?s:.*)" if c == "*" else "(?s:.)" if c == "?" else re.escape(c))
        i += 1
    return "".join(out)


def lookup(doc: Mapping[str, Any], path: str) -> Any:
    """A field's value: dotted keys or nested objects; arrays of objects contribute each element's value."""
    if path in doc:
        return doc[path]
    head, _, rest = path.partition(".")
    while rest or head:
        if head in doc:
            value = doc[head]
            if not rest:
                return value
            if isinstance(value, Mapping):
                return lookup(value, rest)
            if isinstance(value, list):
                found = [lookup(v, rest) for v in value if isinstance(v, Mapping)]
                flat = [x for f in found if f is not _MISSING for x in (f if isinstance(f, list) else [f])]
                return flat or _MISSING
            return _MISSING
        if not rest:
            break
        nxt, _, rest = rest.partition(".")
        head = head + "." + nxt
    return _MISSING


def _scalar(value: Any) -> Any:
    """ES|QL's view of a field value: missing or empty is null; several values are :class:`Multivalued`."""
    if value is _MISSING or value is None:
        return None
    if isinstance(value, list):
        values = [v for v in value if v is not None]
        if any(isinstance(v, (dict, list)) for v in values):
            raise EngineError("ES|QL: an object field cannot be compared")
        return _of_values(values)
    if isinstance(value, (dict, list)):
        raise EngineError("ES|QL: an object field cannot be compared")
    return value


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None or _is_mv(a) or _is_mv(b):
        return None
    if isinstance(a, bool) != isinstance(b, bool) or isinstance(a, str) != isinstance(b, str):
        raise EngineError(f"ES|QL: comparing {a!r} with {b!r} of another type")
    return {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def evaluate(node: ast.BaseNode, doc: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.ColumnRef):
        if node.name in FLATTENED_ROOTS:
            root = lookup(doc, node.name)
            return FlattenedRoot(root) if isinstance(root, Mapping) and root else None
        return _scalar(lookup(doc, node.name))
    if isinstance(node, ast.Literal):
        if node.kind == "string":
            return unescape(node.value)  # sigma-lambda never emits triple-quoted (raw) strings
        if node.kind == "null":
            return None
        if node.kind in ("long", "double", "boolean"):
            return node.value
        raise EngineError(f"ES|QL literal of kind {node.kind!r} is outside the subset")
    if isinstance(node, ast.BinaryExpr):
        op = node.op
        if op in ("and", "or"):
            left, right = evaluate(node.left, doc), evaluate(node.right, doc)
            return _and(left, right) if op == "and" else _or(left, right)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return _compare(op, evaluate(node.left, doc), evaluate(node.right, doc))
        if op == "in":
            value = evaluate(node.left, doc)
            assert isinstance(node.right, ast.FunctionCall) and node.right.name == "__values__"
            options = [evaluate(a, doc) for a in node.right.args]
            if value is None or _is_mv(value):
                return None
            if any(_compare("==", value, o) for o in options if o is not None):
                return True
            return None if any(o is None for o in options) else False
        raise EngineError(f"ES|QL operator {op!r} is outside the subset")
    if isinstance(node, ast.FunctionCall):
        return _call(node, doc)
    raise EngineError(f"ES|QL node {type(node).__name__} is outside the subset")


def _call(node: ast.FunctionCall, doc: Mapping[str, Any]) -> Any:
    name = node.name.lower()
    if name not in SUPPORTED_FUNCTIONS:
        raise EngineError(f"ES|QL function {node.name!r} is outside the subset")
    args = [evaluate(a, doc) for a in node.args]
    roots = [i for i, a in enumerate(args) if isinstance(a, FlattenedRoot)]
    if roots and (name not in ("field_extract", "is_null", "is_not_null") or roots != [0]):
        raise EngineError(f"ES|QL: a flattened root can only be read by FIELD_EXTRACT or IS NULL, not {name}")
    if name == "not":
        return None if args[0] is None or _is_mv(args[0]) else not args[0]
    if name == "is_null":
        return args[0] is None
    if name == "is_not_null":
        return args[0] is not None
    if name == "field_extract":
        if args[0] is not None and not isinstance(args[0], FlattenedRoot):
            raise EngineError("ES|QL FIELD_EXTRACT needs a flattened root as its first argument")
        if not isinstance(args[1], str):
            raise EngineError("ES|QL FIELD_EXTRACT needs a literal path")
        return field_extract(args[0], args[1])
    if name == "mv_contains":
        superset, subset = _values(args[0]), _values(args[1])
        if not all(isinstance(v, str) for v in superset + subset):
            raise EngineError(f"ES|QL MV_CONTAINS over non-string values {args!r}")
        return all(v in superset for v in subset)
    if name == "to_lower" and _is_mv(args[0]):  # multivalued input: 9.1 and later
        if not all(isinstance(v, str) for v in args[0]):
            raise EngineError(f"ES|QL to_lower over non-string values {args!r}")
        return Multivalued(v.lower() for v in args[0])
    if name == "mv_concat":
        if args[0] is None or args[1] is None:
            return None
        if _is_mv(args[1]) or not all(isinstance(v, str) for v in [*_values(args[0]), args[1]]):
            raise EngineError(f"ES|QL MV_CONCAT over non-string values {args!r}")
        return args[1].join(_values(args[0]))
    if any(a is None or _is_mv(a) for a in args):
        return None
    if not all(isinstance(a, str) for a in args):
        raise EngineError(f"ES|QL {name} over non-string values {args!r}")
    if name == "to_lower":
        return args[0].lower()
    if name == "starts_with":
        return args[0].startswith(args[1])
    if name == "ends_with":
        return args[0].endswith(args[1])
    if name == "like":
        return re.fullmatch(like_to_python(args[1]), args[0]) is not None
    if name == "rlike":
        return re.fullmatch(lucene_regexp_to_python(args[1]), args[0]) is not None
    if name == "cidr_match":
        try:
            ip = ipaddress.ip_address(args[0])
        except ValueError:
            raise EngineError(f"ES|QL CIDR_MATCH needs an ip field, got {args[0]!r}") from None
        return any(ip in ipaddress.ip_network(block, strict=False) for block in args[1:])
    raise EngineError(f"ES|QL function {name!r} is outside the subset")  # pragma: no cover


def parse_where(query: str, *, stack_version: str | None = None) -> tuple[list[str], list[ast.BaseNode]]:
    """Parse and validate ``query``; return its FROM sources and the conditions of its WHERE commands.

    The query must be valid on ``stack_version`` (default: the oldest modelled stack, or 9.5 when it reads
    a flattened field).
    """
    try:
        tree = esql.parse_query(query)
    except esql.EsqlError as e:
        raise EngineError(f"ES|QL syntax: {e}") from e
    commands = tree.commands
    if not commands or not isinstance(commands[0], ast.FromCommand):
        raise EngineError("ES|QL query must start with FROM")
    sources = esql.get_from_sources(tree)
    conditions: list[ast.BaseNode] = []
    for cmd in commands[1:]:
        if not isinstance(cmd, ast.WhereCommand):
            raise EngineError(f"ES|QL command {type(cmd).__name__} is outside the subset")
        if cmd.predicate is not None:
            conditions.append(cmd.predicate)
    needs_flattened = False  # flattened roots are readable from 9.5
    for node in _walk(conditions):
        if isinstance(node, ast.FunctionCall) and node.name not in ("not", "is_null", "is_not_null"):
            if node.name not in ("like", "rlike", "__values__") and not esql.is_known_function(node.name):
                raise EngineError(f"ES|QL: unknown function {node.name!r}")
            if node.name.lower() not in SUPPORTED_FUNCTIONS:
                raise EngineError(f"ES|QL function {node.name!r} is outside the subset")
            needs_flattened |= node.name.lower() == "field_extract"
        needs_flattened |= isinstance(node, ast.ColumnRef) and node.name in FLATTENED_ROOTS
        if (
            isinstance(node, ast.ColumnRef)
            and node.name.startswith("aws.cloudtrail.flattened")
            and node.name not in FLATTENED_ROOTS
        ):
            raise EngineError(f"ES|QL reads only flattened roots, not the sub-field {node.name!r}")
    version = stack_version or ("9.5.0" if needs_flattened else OLDEST_STACK)
    try:
        esql.verify_features(tree, version)
        esql.analyze(tree, SCHEMA)
    except esql.EsqlError as e:
        raise EngineError(f"ES|QL on {version}: {e}") from e
    return list(sources), conditions


def _walk(nodes: list[ast.BaseNode]) -> Iterable[ast.BaseNode]:
    for node in nodes:
        yield node
        for value in vars(node).values():
            if isinstance(value, ast.BaseNode):
                yield from _walk([value])
            elif isinstance(value, list):
                yield from _walk([v for v in value if isinstance(v, ast.BaseNode)])


def run_esql(query: str, docs: Iterable[Mapping[str, Any]]) -> set[int]:
    """Indexes of the documents every WHERE condition of ``query`` holds (is true, not null) for."""
    _, conditions = parse_where(query)
    return {i for i, doc in enumerate(docs) if all(evaluate(c, doc) is True for c in conditions)}
