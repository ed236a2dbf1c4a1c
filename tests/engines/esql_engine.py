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
* ``TO_LOWER``, ``CIDR_MATCH`` (needs an IP value), ``IS NULL``, ``IS NOT NULL``.

Anything else raises :class:`EngineError`. API: :func:`run_esql`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

import esql
from esql import ast

from tests.engines.eql_engine import EngineError, lucene_regexp_to_python

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
        "__values__",
    }
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
_MISSING = object()


class _Multivalued:
    """A field with several values: not null, but comparisons and functions over it are null."""


MULTIVALUED = _Multivalued()


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
    """ES|QL's view of a field value: missing or empty is null; several values are :data:`MULTIVALUED`."""
    if value is _MISSING or value is None:
        return None
    if isinstance(value, list):
        values = [v for v in value if v is not None]
        if not values:
            return None
        if len(values) > 1:
            return MULTIVALUED
        value = values[0]
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
    if a is None or b is None or a is MULTIVALUED or b is MULTIVALUED:
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
            if value is None or value is MULTIVALUED:
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
    if name == "not":
        return None if args[0] is None or args[0] is MULTIVALUED else not args[0]
    if name == "is_null":
        return args[0] is None
    if name == "is_not_null":
        return args[0] is not None
    if any(a is None or a is MULTIVALUED for a in args):
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


def parse_where(query: str) -> tuple[list[str], list[ast.BaseNode]]:
    """Parse and validate ``query``; return its FROM sources and the conditions of its WHERE commands."""
    try:
        tree = esql.parse_query(query)
    except esql.EsqlError as e:
        raise EngineError(f"ES|QL syntax: {e}") from e
    commands = tree.commands
    if not commands or not isinstance(commands[0], ast.FromCommand):
        raise EngineError("ES|QL query must start with FROM")
    sources = esql.get_from_sources(tree)
    conditions = []
    for cmd in commands[1:]:
        if not isinstance(cmd, ast.WhereCommand):
            raise EngineError(f"ES|QL command {type(cmd).__name__} is outside the subset")
        conditions.append(cmd.predicate)
    for node in _walk(conditions):
        if isinstance(node, ast.FunctionCall) and node.name not in ("not", "is_null", "is_not_null"):
            if node.name not in ("like", "rlike", "__values__") and not esql.is_known_function(node.name):
                raise EngineError(f"ES|QL: unknown function {node.name!r}")
            if node.name.lower() not in SUPPORTED_FUNCTIONS:
                raise EngineError(f"ES|QL function {node.name!r} is outside the subset")
        if isinstance(node, ast.ColumnRef) and node.name.startswith("aws.cloudtrail.flattened"):
            raise EngineError(f"ES|QL cannot read flattened field {node.name!r} (unsupported type)")
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
