"""Run an EQL query over Elastic-view documents with Elastic's ``eql`` package, made strict.

The ``eql`` package (Endgame EQL, used by elastic/detection-rules) parses Elasticsearch EQL syntax but
evaluates leniently: every comparison is case-insensitive, ``regex`` is an unanchored-at-the-end Python
``re.match``, and it cannot tell ``:`` from ``==``. Elasticsearch EQL differs (EQL syntax reference,
"Comparison operators", "Pattern comparison keywords": ``==``/``like``/``regex``/``in`` and functions without
``~`` are case-sensitive; ``regex`` takes a Lucene regular expression matching the whole value). So:

* :func:`check_eql` tokenises the query and rejects case-sensitive comparisons with a cased literal unless the
  rule says ``|cased``, invalid Lucene regexps, and fields EQL cannot read (``flattened``);
* :func:`run_eql` rewrites every ``regex`` pattern into an anchored Python regex with Lucene semantics, and
  every case-sensitive comparison into a case-sensitive regex, then lets ``eql`` evaluate the query. Fields
  with several values (``aws.cloudtrail.resources.arn``) follow Elasticsearch EQL's multi-value support
  (elastic/elasticsearch#76610): each comparison holds when it holds for one of the values.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import eql
from eql.engine import Scope
from eql.parser import elasticsearch_syntax, ignore_missing_functions
from sigma.types import SpecialChars

from sigma_lambda_layer import casing
from sigma_lambda_layer.fields import domains
from sigma_lambda_layer.fields.elastic import FIELD_MAP
from sigma_lambda_layer.pipelines.canonical import canonical_parts


class EngineError(AssertionError):
    """The query is outside what the target accepts, or outside what this engine models."""


# --------------------------------------------------------------------------------------- Lucene regexps

_LUCENE_OPTIONAL_OPERATORS = set("#@&~<>")


def lucene_regexp_to_python(pattern: str, *, insensitive: bool = False) -> str:
    """A Python regex (for ``re.fullmatch``) equivalent to a Lucene regexp (Query DSL "Regular expression
    syntax"): ``.``, ``?``, ``+``, ``*``, ``{n}``, ``{n,}``, ``{n,m}``, ``|``, ``( )``, ``[ ]`` with ranges
    and ``^`` negation, ``\\`` escapes. The optional operators (``# @ & ~ < >``) and ``"`` quoting are
    rejected: sigma-lambda always escapes them, so meeting one unescaped means a translation bug.
    ``insensitive`` spells every letter as its class under sigma-lambda's case rule (:mod:`casing`), so the
    result needs no flag.
    """
    literal = casing.literal_regex if insensitive else re.escape
    out: list[str] = []
    i = 0
    depth = 0
    last_atom = False
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise EngineError(f"Lucene regexp {pattern!r}: trailing backslash")
            e = pattern[i + 1]
            if e.isalnum():
                raise EngineError(
                    f"Lucene regexp {pattern!r}: '\\{e}' means a literal {e!r} in older Lucene and a "
                    "character class in newer; ambiguous"
                )
            out.append(literal(e))
            i += 2
            last_atom = True
        elif c == ".":
            out.append("(?s:.)")
            i += 1
            last_atom = True
        elif c in "*+?":
            if not last_atom:
                raise EngineError(f"Lucene regexp {pattern!r}: quantifier {c!r} without operand")
            out.append(c)
            i += 1
        elif c == "{":
            m = re.compile(r"\{(\d+)(,(\d*))?\}").match(pattern, i)
            if m is None or not last_atom:
                raise EngineError(f"Lucene regexp {pattern!r}: malformed repetition at {i}")
            out.append(m.group(0))
            i = m.end()
        elif c == "(":
            out.append("(?:")
            depth += 1
            i += 1
            last_atom = False
        elif c == ")":
            if depth == 0:
                raise EngineError(f"Lucene regexp {pattern!r}: unbalanced ')'")
            depth -= 1
            out.append(")")
            i += 1
            last_atom = True
        elif c == "|":
            out.append("|")
            i += 1
            last_atom = False
        elif c == "[":
            j = i + 1
            negated = j < n and pattern[j] == "^"
            if negated:
                j += 1
            items: list[str] = []
            while True:
                if j >= n:
                    raise EngineError(f"Lucene regexp {pattern!r}: unterminated class")
                ch = pattern[j]
                if ch == "]" and items:
                    j += 1
                    break
                if ch == "\\":
                    if j + 1 >= n:
                        raise EngineError(f"Lucene regexp {pattern!r}: trailing backslash")
                    ch = pattern[j + 1]
                    j += 2
                else:
                    j += 1
                if j < n - 1 and pattern[j] == "-" and pattern[j + 1] != "]":
                    hi = pattern[j + 1]
                    j += 2
                    if hi == "\\":
                        hi = pattern[j]
                        j += 1
                    if ord(hi) < ord(ch):
                        raise EngineError(f"Lucene regexp {pattern!r}: reversed range")
                    items.append(re.escape(ch) + "-" + re.escape(hi))
                    if insensitive:
                        items += map(re.escape, sorted(casing.range_partners(ch, hi)))
                else:
                    items += map(re.escape, sorted(casing.char_class(ch) if insensitive else {ch}))
            out.append("[" + ("^" if negated else "") + "".join(items) + "]")
            i = j
            last_atom = True
        elif c in _LUCENE_OPTIONAL_OPERATORS or c == '"':
            raise EngineError(f"Lucene regexp {pattern!r}: unescaped operator {c!r} (outside the subset)")
        elif c == "]" or c == "}":
            raise EngineError(f"Lucene regexp {pattern!r}: unbalanced {c!r}")
        else:
            out.append(literal(c))
            i += 1
            last_atom = True
    if depth:
        raise EngineError(f"Lucene regexp {pattern!r}: unbalanced '('")
    translated = "".join(out)
    re.compile(translated)
    return translated


def lucene_regexp_matches(pattern: str, value: str, *, case_insensitive: bool = False) -> bool:
    """``case_insensitive`` follows sigma-lambda's one case rule (:mod:`sigma_lambda_layer.casing`), as
    Elasticsearch's ``case_insensitive`` lowercases and uppercases per character (the long s U+017F is not ``s``)."""
    python = lucene_regexp_to_python(pattern, insensitive=case_insensitive)
    return re.fullmatch(python, value) is not None


# --------------------------------------------------------------------------------------- EQL tokens

_TOKEN = re.compile(
    r'(?P<raw>"""(?:.|\n)*?""")|(?P<str>"(?:[^"\\]|\\.)*")|(?P<bt>`(?:[^`]|``)*`)'
    r"|(?P<op>==|!=|<=|>=|<|>|:|\(|\)|,)"
    r"|(?P<word>\??[A-Za-z_@][A-Za-z0-9_@.]*~?)|(?P<num>-?\d+(\.\d+)?)|(?P<ws>\s+)"
)
_STRING_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}


@dataclass(frozen=True)
class Token:
    kind: str  # raw/str (strings), bt/word (names and keywords), op, num
    text: str

    @property
    def value(self) -> str:
        """The string a string token stands for."""
        if self.kind == "raw":
            return self.text[3:-3]
        out, i, body = [], 0, self.text[1:-1]
        while i < len(body):
            if body[i] == "\\":
                e = body[i + 1]
                if e not in _STRING_ESCAPES:
                    raise EngineError(f"EQL string {self.text}: unknown escape \\{e}")
                out.append(_STRING_ESCAPES[e])
                i += 2
            else:
                out.append(body[i])
                i += 1
        return "".join(out)

    @property
    def is_string(self) -> bool:
        return self.kind in ("raw", "str")


def tokenize(query: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None:
            raise EngineError(f"EQL: cannot tokenise at {query[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token("str" if kind in ("str",) else kind, m.group(0)))
        pos = m.end()
    return tokens


def _string(text: str) -> Token:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return Token("str", '"' + escaped + '"')


def _field_name(tok: Token) -> str:
    if tok.kind == "bt":
        return tok.text[1:-1].replace("``", "`")
    return tok.text.lstrip("?")


_CASE_SENSITIVE_OPS = {"==", "!=", "in", "like", "regex"}
_CASE_INSENSITIVE_OPS = {":", "in~", "like~", "regex~"}
_STRING_FUNCTIONS = {"startsWith", "endsWith", "stringContains"}


def _has_case(text: str) -> bool:
    return text.lower() != text.upper()


def _regex_has_bare_case(pattern: str) -> bool:
    """A Lucene regexp matches some letter in one case only: a cased literal outside a class, or a class
    not closed under :func:`casing.char_class`. A case-insensitive regexp spelled with explicit classes
    (``[Kk\u212a]``, ``[A-Za-z]``) passes; ``[A-Z]`` or a bare ``K`` does not."""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 < n and len(casing.char_class(pattern[i + 1])) > 1:
                return True
            i += 2
            continue
        if c != "[":
            if len(casing.char_class(c)) > 1:
                return True
            i += 1
            continue
        j = i + 1 + (pattern[i + 1 : i + 2] == "^")
        singles: set[str] = set()
        ranges: list[tuple[str, str]] = []

        def char(k: int) -> tuple[str, int]:
            return (pattern[k + 1], k + 2) if pattern[k] == "\\" else (pattern[k], k + 1)

        first = True
        while j < n and (pattern[j] != "]" or first):
            first = False
            lo, j = char(j)
            if pattern[j : j + 1] == "-" and pattern[j + 1 : j + 2] not in ("]", ""):
                hi, j = char(j + 1)
                ranges.append((lo, hi))
            else:
                singles.add(lo)

        needed: set[str] = set()
        for m in singles:
            needed |= casing.char_class(m)
        for r in ranges:
            needed |= casing.range_partners(*r)
        if not all(x in singles or any(lo <= x <= hi for lo, hi in ranges) for x in needed):
            return True
        i = j + 1
    return False


def _wildcard_to_python(pattern: str, *, insensitive: bool = False) -> str:
    """Case-insensitive letters become explicit classes (:func:`casing.literal_regex`): the ``eql`` package
    would otherwise fold with Python's ``re.IGNORECASE`` (long s U+017F ~ ``s``), which Elasticsearch does not."""
    literal = casing.literal_regex if insensitive else re.escape
    return "".join(".*" if c == "*" else "." if c == "?" else literal(c) for c in pattern)


#: Fields compared case-sensitively by design: the pipeline's data-set filter (a ``constant_keyword``).
ALWAYS_CASED_FIELDS = frozenset({"data_stream.dataset"})

#: Elastic field -> the CloudTrail field it holds, for the fields whose value domain is canonical.
_CANONICAL_FIELDS = {
    ef.name: ct
    for ct, ef in FIELD_MAP.items()
    if (d := domains.domain(ct)) is not None and d.canonical and d.kind != "boolean"
}


def canonical_literal(field: str, text: str, *, wildcard: bool = False) -> bool:
    """A case-sensitive comparison of ``field`` with ``text`` is exact by the field's value domain
    (:mod:`sigma_lambda_layer.fields.domains`): ``text`` is a canonical spelling, or a pattern the
    canonicalisation step leaves as it is. Then ``==`` in a rule without ``|cased`` is by design."""
    ct = _CANONICAL_FIELDS.get(field)
    if ct is None:
        return False
    dom = domains.domain(ct)
    if not wildcard or not any(c in text for c in "*?"):
        return dom is not None and dom.admits(text)
    parts = tuple(
        SpecialChars.WILDCARD_MULTI if c == "*" else SpecialChars.WILDCARD_SINGLE if c == "?" else c
        for c in re.split(r"([*?])", text)
        if c
    )
    return canonical_parts(ct, parts) == parts


def _rewrite(tokens: list[Token], *, cased: bool) -> list[Token]:
    """Check the comparisons and rewrite them into forms the lenient ``eql`` engine evaluates exactly."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind in ("word", "bt") and _field_name(tok).startswith("aws.cloudtrail.flattened"):
            raise EngineError(f"EQL cannot read flattened field {_field_name(tok)!r}")
        # FUNC ( FIELD , STRING )
        if tok.kind == "word" and tok.text.rstrip("~") in _STRING_FUNCTIONS and tokens[i + 1].text == "(":
            field, arg = tokens[i + 2], tokens[i + 4]
            insensitive = tok.text.endswith("~")
            if not arg.is_string or tokens[i + 5].text != ")":
                raise EngineError(f"EQL: {tok.text} with a non-literal argument is outside the subset")
            shape = {"startsWith": "{}*", "endsWith": "*{}", "stringContains": "*{}*"}[tok.text.rstrip("~")]
            as_pattern = shape.format(arg.value.replace("*", "").replace("?", ""))
            if (
                not insensitive
                and _has_case(arg.value)
                and not cased
                and not (
                    "*" not in arg.value
                    and "?" not in arg.value
                    and canonical_literal(_field_name(field), as_pattern, wildcard=True)
                )
            ):
                raise EngineError(f"EQL: case-sensitive {tok.text}(..., {arg.text}) in a rule without |cased")
            body = casing.literal_regex(arg.value) if insensitive else re.escape(arg.value)
            regex = {
                "startsWith": f"{body}.*",
                "endsWith": f".*{body}",
                "stringContains": f".*{body}.*",
            }[tok.text.rstrip("~")]
            out += [field, Token("word", "regex~"), _string("(?-i:" + regex + ")" + r"\Z")]
            i += 6
            continue
        if tok.kind == "op" or tok.kind == "word":
            op = tok.text
            if op in _CASE_SENSITIVE_OPS | _CASE_INSENSITIVE_OPS and out:
                j = i + 1
                values: list[Token] = []
                if j < len(tokens) and tokens[j].text == "(":
                    j += 1
                    while tokens[j].text != ")":
                        if tokens[j].text != ",":
                            values.append(tokens[j])
                        j += 1
                    j += 1
                else:
                    values.append(tokens[j])
                    j += 1
                strings = [v for v in values if v.is_string]
                if not strings:
                    out.append(tok)
                    i += 1
                    continue
                sensitive = op in _CASE_SENSITIVE_OPS
                subject = _field_name(out[-1]) if out[-1].kind in ("word", "bt") else None
                exempt = subject in ALWAYS_CASED_FIELDS or (
                    subject is not None
                    and all(canonical_literal(subject, v.value, wildcard=op == "like") for v in strings)
                )
                has_case = _regex_has_bare_case if op == "regex" else _has_case
                if sensitive and not (cased or exempt) and any(has_case(s.value) for s in strings):
                    raise EngineError(
                        f"EQL: case-sensitive {op!r} with a cased literal in a rule without |cased: "
                        + ", ".join(s.text for s in strings)
                    )
                if op in ("regex", "regex~"):
                    patterns = [lucene_regexp_to_python(s.value, insensitive=not sensitive) for s in strings]
                elif op in (":", "like", "like~"):
                    patterns = [_wildcard_to_python(s.value, insensitive=not sensitive) for s in strings]
                elif op in ("==", "in", "in~"):
                    lit = re.escape if sensitive else casing.literal_regex
                    patterns = [lit(s.value) for s in strings]
                else:  # != : not equal
                    out.append(tok)
                    i += 1
                    continue
                patterns = [f"(?-i:{p})" for p in patterns]
                joined = "|".join(f"(?:{p})\\Z" for p in patterns)
                out += [Token("word", "regex~"), _string(joined)]
                i = j
                continue
        out.append(tok)
        i += 1
    return out


def check_eql(query: str, *, cased: bool = False) -> str:
    """Validate ``query`` (syntax with the ``eql`` parser in Elasticsearch mode, plus the strict checks);
    return the query rewritten for exact evaluation."""
    with elasticsearch_syntax, ignore_missing_functions:
        eql.parse_query(query)
    return " ".join(t.text for t in _rewrite(tokenize(query), cased=cased))


def _field_values(doc: Any, path: str) -> list[Any]:
    """Every value of a dotted field: nested objects or dotted keys, arrays (of objects) walked."""
    if isinstance(doc, list):
        return [v for item in doc for v in _field_values(item, path)]
    if not isinstance(doc, Mapping):
        return []
    if path in doc:
        value = doc[path]
        items = value if isinstance(value, list) else [value]
        return [v for v in items if v is not None and not isinstance(v, (Mapping, list))]
    parts = path.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in doc:
            return _field_values(doc[head], ".".join(parts[i:]))
    return []


def _nested(values: Mapping[str, Any]) -> dict[str, Any]:
    """A document holding exactly ``values`` (dotted field -> one value), as nested objects."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        target = out
        *parents, last = key.split(".")
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value
    return out


def _fields(query: str) -> set[str]:
    keywords = {"any", "where", "and", "or", "not", "in", "in~", "like", "like~", "regex", "regex~", "null"}
    tokens = tokenize(query)
    return {
        _field_name(t)
        for n, t in enumerate(tokens)
        if t.kind in ("word", "bt")
        and t.text not in keywords
        and t.text not in ("true", "false")
        and not (n + 1 < len(tokens) and tokens[n + 1].text == "(")
    }


def _leaf_fields(node: Any) -> set[str]:
    """Dotted names of the fields an ``eql`` AST node reads."""
    if isinstance(node, eql.ast.Field):
        return {".".join([node.base, *(str(p) for p in node.path)])}
    found: set[str] = set()
    for value in vars(node).values() if hasattr(node, "__dict__") else ():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, eql.ast.BaseNode):
                found |= _leaf_fields(item)
    for slot in getattr(type(node), "__slots__", ()):
        value = getattr(node, slot, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, eql.ast.BaseNode):
                found |= _leaf_fields(item)
    return found


@dataclass
class _AnyValueEvaluator:
    """Elasticsearch EQL on fields with several values (multi-value support, elastic/elasticsearch#76610,
    7.15): a comparison holds when it holds for some value; ``and``/``or``/``not`` combine comparisons."""

    engine: Any

    def __call__(self, node: Any, values: Mapping[str, list[Any]]) -> bool:
        if isinstance(node, eql.ast.And):
            return all(self(t, values) for t in node.terms)
        if isinstance(node, eql.ast.Or):
            return any(self(t, values) for t in node.terms)
        if isinstance(node, eql.ast.Not):
            return not self(node.term, values)
        fields = sorted(_leaf_fields(node))
        choices = [values.get(f) or [None] for f in fields]
        callback = self.engine.convert(node)
        for combination in itertools.product(*choices):
            doc = _nested({f: v for f, v in zip(fields, combination, strict=True) if v is not None})
            if callback(Scope([eql.Event("any", 0, doc)], [])) is True:
                return True
        return False


def run_eql(query: str, docs: Iterable[Mapping[str, Any]], *, cased: bool = False) -> set[int]:
    """Indexes of the documents ``query`` matches, with Elasticsearch's case, regex and multi-value
    semantics (a comparison on a field with several values holds when it holds for one of them)."""
    rewritten = check_eql(query, cased=cased)
    fields = _fields(query)
    with elasticsearch_syntax, ignore_missing_functions:
        parsed = eql.parse_query(rewritten)
    condition = parsed.first.query
    engine = eql.PythonEngine({})
    whole = engine.convert(condition)
    any_value = _AnyValueEvaluator(engine)
    hits: set[int] = set()
    for i, doc in enumerate(docs):
        values = {f: _field_values(doc, f) for f in fields}
        if all(len(v) <= 1 for v in values.values()):
            single = _nested({f: v[0] for f, v in values.items() if v})
            matched = whole(Scope([eql.Event("any", i, single)], [])) is True
        else:
            matched = any_value(condition, values)
        if matched:
            hits.add(i)
    return hits
