"""Reference interpreter for the Logs Insights QL subset the cloudwatch backend emits.

Written from the AWS CloudWatch Logs User Guide only:

- CWL_QuerySyntax (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html): commands
  separated by ``|``; ``fields``, ``filter``, ``sort``, ``limit``; field names with characters other than
  letters, digits, ``@`` and ``.`` in backticks; ``like``/``=~`` with ``/regex/`` (search semantics:
  "contains"), case-sensitive unless ``(?i)``. ``(?i)`` is evaluated with Python's ``re`` folding, which
  (like PCRE's and the other regex engines' caseless modes) also equates the long s with ``s``: that is the
  engine's own reading, not sigma-lambda's case rule (:mod:`sigma_lambda_layer.casing`), so a ``(?i)``
  query is exact only where those characters cannot occur.
- CWL_QuerySyntax-Filter (…/CWL_QuerySyntax-Filter.html): comparison operators ``= != < <= > >=``, Boolean
  ``and``, ``or``, ``not``, parentheses; set membership ``f in ["a", "b"]`` ("Indexed fields and the filter
  command": ``filter requestId IN [value, value, ...]`` uses a field index, as ``=`` does), true when the
  field's value equals one of the strings, as ``=`` compares (a complete, case-sensitive match;
  CWL_QuerySyntax-FilterIndex: "Use the IN operator to expand the results ... to any of multiple values").
- CWL_QuerySyntax-operations-functions (…/CWL_QuerySyntax-operations-functions.html): ``ispresent`` (true if
  the field exists), ``tolower``, ``isValidIp`` (true if the field is a valid IPv4 or IPv6 address),
  ``isIpInSubnet(field, cidr)`` (true if the field is a valid IP address within the subnet).
- CWL_AnalyzeLogData-discoverable-fields (…/CWL_AnalyzeLogData-discoverable-fields.html): the fields of a JSON
  event (see ``sigma_lambda_layer.views.cloudwatch``).
- CWL_QuerySyntax-operations-functions, "JSON functions" and "Structure types": ``jsonParse(@message)`` turns
  the event text into a MAP (or LIST); ``m.attr`` reads a map member. Here only as ``fields jsonParse(f) as n``.
- CWL_QuerySyntax-Unnest (…/CWL_QuerySyntax-Unnest.html): ``unnest f into n`` "discards the current record
  and generates new records", one per item of the LIST ``f``, each with ``n`` the item and "all other fields
  from the original record"; "any other types, such as MAP, String and numbers, are treated as a list with
  one item". An empty list gives no record. What a missing field (or JSON null) gives is not documented: both
  readings (no record; one record without ``n``) are run, and they must agree.
- CWL_QuerySyntax-Dedup (…/CWL_QuerySyntax-Dedup.html): ``dedup f`` keeps the first record, in sort order, per
  value of ``f``; "the only query command that you can use in a query after the dedup command is limit".
  Here only ``dedup @ptr``: ``@ptr`` identifies the log event a record came from (one value per event,
  CWL_AnalyzeLogData-discoverable-fields), so ``dedup @ptr`` turns the records ``unnest`` made back into the
  events that had at least one of them.
- Regex engine: Hyperscan (PCRE syntax without lookaround or back-references); patterns are run with Python
  ``re`` after rejecting what Hyperscan lacks.

Anything the docs leave open is not guessed. Undocumented behaviour is evaluated under *every* plausible
reading and the interpreter raises :class:`UndocumentedBehaviour` when the readings disagree on whether an
event is returned:

- a comparison on a missing field is either false, or unknown (three-valued, so ``not`` keeps it unknown);
- a JSON boolean is rendered either as ``true``/``false`` or as ``1``/``0``.

So a query accepted here means the same under all of them. Escapes inside string literals, the relative
precedence of ``and``/``or`` without parentheses, and ``not`` directly before a comparison are undocumented
too: the interpreter raises :class:`UnsupportedSyntax` on them, as on anything else outside the subset.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any

from sigma_lambda_layer.regexsafety import BoundedPattern

__all__ = ["UndocumentedBehaviour", "UnsupportedSyntax", "run_logs_insights"]


class UnsupportedSyntax(Exception):
    """The query uses syntax outside the documented subset this interpreter implements."""


class UndocumentedBehaviour(Exception):
    """The query's result on an event depends on behaviour the documentation does not define."""


# ---------------------------------------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<bfield>`[^`]*`)
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z@_]))
  | (?P<op>=~|!=|<=|>=|=|<|>|\(|\)|\[|\]|,|\|)
  | (?P<name>[A-Za-z0-9@.]+)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "like", "in"}  # "into" and "as" stay names: the commands read them


@dataclass(frozen=True)
class Tok:
    kind: str  # field, string, number, regex, op, kw
    text: str


def _regex_literal(query: str, pos: int) -> tuple[str, int]:
    """The body of ``/.../`` starting at ``query[pos] == '/'``; ``\\`` escapes the next character."""
    i = pos + 1
    while i < len(query):
        c = query[i]
        if c == "\\":
            i += 2
            continue
        if c == "/":
            return query[pos + 1 : i], i + 1
        if c == "\n":
            raise UnsupportedSyntax("raw newline inside a regex literal")
        i += 1
    raise UnsupportedSyntax("unterminated regex literal")


def tokenize(query: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    while pos < len(query):
        if query[pos] == "/":
            if not toks or toks[-1].text not in ("=~", "like"):
                raise UnsupportedSyntax(f"'/' outside a regex literal at {pos}")
            body, pos = _regex_literal(query, pos)
            toks.append(Tok("regex", body))
            continue
        if query[pos] == "#":
            raise UnsupportedSyntax("comments are outside the subset")
        m = _TOKEN.match(query, pos)
        if m is None:
            raise UnsupportedSyntax(f"unexpected character {query[pos]!r} at {pos}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            continue
        if kind == "string":
            if "\\" in text:
                raise UnsupportedSyntax("escapes in string literals are undocumented")
            toks.append(Tok("string", text[1:-1]))
        elif kind == "bfield":
            toks.append(Tok("field", text[1:-1]))
        elif kind == "name":
            toks.append(Tok("kw" if text in _KEYWORDS else "field", text))
        else:
            toks.append(Tok(kind or "", text))
    return toks


# ---------------------------------------------------------------------------------------------- parser

Node = tuple[Any, ...]
_MISSING = object()
_FUNCTIONS = {"ispresent": 1, "isValidIp": 1, "isIpInSubnet": 2, "tolower": 1, "jsonParse": 1}
_COMPARE = {"=", "!=", "<", "<=", ">", ">=", "=~"}
# Hyperscan rejects these (no lookaround, no back-references).
_HYPERSCAN_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\(\?P[=<]|\\[1-9]|\\k<|\\g")


class _Parser:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, text: str | None = None) -> Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            raise UnsupportedSyntax(f"expected {text or 'a token'}, found {tok.text if tok else 'end'}")
        self.i += 1
        return tok

    def expr(self) -> Node:
        items = [self.unary()]
        ops: set[str] = set()
        while (tok := self.peek()) is not None and tok.text in ("and", "or"):
            ops.add(self.take().text)
            items.append(self.unary())
        if len(ops) > 1:
            raise UnsupportedSyntax("'and' and 'or' mixed without parentheses: precedence is undocumented")
        return (ops.pop(), items) if ops else items[0]

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.text == "not":
            self.take()
            nxt = self.peek()
            is_call = nxt is not None and nxt.text in _FUNCTIONS and self._next_is("(", 1)
            if nxt is None or (nxt.text != "(" and not is_call):
                raise UnsupportedSyntax("'not' before a bare comparison: precedence is undocumented")
            operand = self.unary()
            if is_call and (t := self.peek()) is not None and t.text in _COMPARE:
                raise UnsupportedSyntax("'not' before a function comparison: precedence is undocumented")
            return ("not", operand)
        if tok is not None and tok.text == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        left = self.operand()
        tok = self.peek()
        if tok is not None and tok.kind == "kw" and tok.text == "in":
            self.take()
            self.take("[")
            values = [self.take()]
            while (t := self.peek()) is not None and t.text == ",":
                self.take()
                values.append(self.take())
            self.take("]")
            if left[0] != "field" or any(v.kind != "string" for v in values):
                raise UnsupportedSyntax("'in' is implemented here for a field and a list of strings")
            return ("in", left, frozenset(v.text for v in values))
        if tok is not None and tok.text in _COMPARE:
            op = self.take().text
            if op == "=~":
                rtok = self.take()
                if rtok.kind != "regex":
                    raise UnsupportedSyntax("=~ needs a /regex/")
                return ("=~", left, _compile_regex(rtok.text))
            return (op, left, self.operand())
        if left[0] != "call":
            raise UnsupportedSyntax("a bare operand is not a condition")
        return left

    def _next_is(self, text: str, offset: int) -> bool:
        j = self.i + offset
        return j < len(self.toks) and self.toks[j].text == text

    def operand(self) -> Node:
        tok = self.take()
        if tok.kind == "field" and tok.text in _FUNCTIONS and self._next_is("(", 0):
            self.take("(")
            args = [self.operand()]
            while (t := self.peek()) is not None and t.text == ",":
                self.take()
                args.append(self.operand())
            self.take(")")
            if len(args) != _FUNCTIONS[tok.text]:
                raise UnsupportedSyntax(f"{tok.text} takes {_FUNCTIONS[tok.text]} argument(s)")
            return ("call", tok.text, args)
        if tok.kind == "field":
            return ("field", tok.text)
        if tok.kind == "string":
            return ("str", tok.text)
        if tok.kind == "number":
            return ("num", float(tok.text))
        raise UnsupportedSyntax(f"unexpected {tok.text!r}")


def _compile_regex(body: str) -> BoundedPattern:
    if _HYPERSCAN_UNSUPPORTED.search(body):
        raise UnsupportedSyntax(f"regex {body!r} uses lookaround or back-references (not in Hyperscan)")
    flags = re.match(r"\(\?([ims]+)\)", body)
    if re.search(r"\(\?[a-z]+\)", body[flags.end() if flags else 0 :]):
        raise UnsupportedSyntax("inline flags are only allowed at the start of the pattern")
    return BoundedPattern(body)  # time-bounded: a rule's regex may backtrack catastrophically


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Model:
    missing_unknown: bool  # a comparison on a missing field is unknown (else false)
    bool_as_number: bool  # a JSON boolean reads as 1/0 (else true/false)


def _structure(value: Any) -> None:
    if isinstance(value, (dict, list)):  # a MAP or LIST from jsonParse/unnest
        raise UndocumentedBehaviour("how a MAP or LIST compares with a value is not documented")


def _text(value: Any, model: _Model) -> str:
    _structure(value)
    if isinstance(value, bool):
        return ("1" if value else "0") if model.bool_as_number else ("true" if value else "false")
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _number(value: Any, model: _Model) -> float | None:
    _structure(value)
    if isinstance(value, bool):
        return (1.0 if value else 0.0) if model.bool_as_number else None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    return None


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    _structure(value)
    try:
        return ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        return None


_NUM_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class _Evaluator:
    def __init__(self, event: dict[str, Any], model: _Model, bound: dict[str, Any] | None = None) -> None:
        self.event = event
        self.model = model
        self.bound = bound or {}

    def lookup(self, name: str) -> Any:
        """A discovered field of the event, or a member path into a name bound by ``jsonParse``/``unnest``
        (``m.attr``, "Structure types"); a member that is absent is missing."""
        head, _, rest = name.partition(".")
        if head not in self.bound:
            return self.event.get(name, _MISSING)
        node = self.bound[head]
        for key in rest.split(".") if rest else ():
            if not isinstance(node, dict) or key not in node:
                return _MISSING
            node = node[key]
        return _MISSING if node is None else node

    def missing(self) -> bool | None:
        return None if self.model.missing_unknown else False

    def value(self, node: Node) -> Any:
        kind = node[0]
        if kind == "field":
            return self.lookup(node[1])
        if kind in ("str", "num"):
            return node[1]
        if kind == "call" and node[1] == "tolower":
            v = self.value(node[2][0])
            return v if v is _MISSING else _text(v, self.model).lower()
        raise UnsupportedSyntax(f"{node!r} is not a value")

    def cond(self, node: Node) -> bool | None:
        kind = node[0]
        if kind == "and":
            vals = [self.cond(n) for n in node[1]]
            return False if False in vals else (None if None in vals else True)
        if kind == "or":
            vals = [self.cond(n) for n in node[1]]
            return True if True in vals else (None if None in vals else False)
        if kind == "not":
            v = self.cond(node[1])
            return None if v is None else not v
        if kind == "call":
            return self.call(node[1], node[2])
        if kind == "in":  # set membership: equal, as "=" compares, to one of the strings
            v = self.value(node[1])
            if v is _MISSING:
                return self.missing()
            return _text(v, self.model) in node[2]
        if kind == "=~":
            v = self.value(node[1])
            if v is _MISSING:
                return self.missing()
            return node[2].search(_text(v, self.model)) is not None
        return self.compare(node[0], self.value(node[1]), self.value(node[2]))

    def call(self, name: str, args: list[Node]) -> bool | None:
        if args[0][0] != "field":
            raise UnsupportedSyntax(f"{name} needs a field argument")
        v = self.value(args[0])
        if name == "ispresent":
            return v is not _MISSING
        if v is _MISSING:
            return self.missing()
        if name == "isValidIp":
            return _ip(v) is not None
        if name == "isIpInSubnet":
            if args[1][0] != "str":
                raise UnsupportedSyntax("isIpInSubnet needs a CIDR string")
            ip = _ip(v)
            net = ipaddress.ip_network(args[1][1], strict=False)
            return ip is not None and ip.version == net.version and ip in net
        raise UnsupportedSyntax(f"{name} is not a condition")

    def compare(self, op: str, left: Any, right: Any) -> bool | None:
        if left is _MISSING or right is _MISSING:
            return self.missing()
        if isinstance(right, float):  # number literal: numeric comparison
            n = _number(left, self.model)
            return False if n is None else _NUM_OPS[op](n, right)
        if op not in ("=", "!="):
            raise UnsupportedSyntax("ordering comparisons are only defined here for numbers")
        equal = _text(left, self.model) == _text(right, self.model)
        return equal if op == "=" else not equal


_MODELS = [_Model(m, b) for m, b in product((False, True), (False, True))]


# ---------------------------------------------------------------------------------------------- commands


def _split_commands(toks: list[Tok]) -> list[list[Tok]]:
    commands: list[list[Tok]] = [[]]
    for tok in toks:
        if tok.kind == "op" and tok.text == "|":
            commands.append([])
        else:
            commands[-1].append(tok)
    return commands


_Row = tuple[int, dict[str, Any]]  # the event's index (its @ptr) and the names bound by jsonParse/unnest


def _parse_fields(rest: list[Tok]) -> list[tuple[str, str]]:
    """``fields`` items: field names, or ``jsonParse(field) as name`` -> ``[(name, field)]`` bindings."""
    bindings: list[tuple[str, str]] = []
    items: list[list[Tok]] = [[]]
    for tok in rest:
        if tok.text == "," and tok.kind == "op":
            items.append([])
        else:
            items[-1].append(tok)
    for item in items:
        texts = [t.text for t in item]
        if len(item) == 1 and item[0].kind == "field":
            continue
        if (
            len(item) == 6
            and texts[0] == "jsonParse"
            and texts[1] == "("
            and texts[3] == ")"
            and texts[4] == "as"
        ):
            bindings.append((texts[5], texts[2]))
            continue
        raise UnsupportedSyntax("fields takes field names and jsonParse(field) as name only in this subset")
    return bindings


def _unnest(rows: list[_Row], declared: set[str], source: str, into: str, keep_missing: bool) -> list[_Row]:
    head, _, rest = source.partition(".")
    if head not in declared:
        raise UnsupportedSyntax(f"unnest {source}: only names bound by jsonParse or unnest are implemented")
    out: list[_Row] = []
    for index, bound in rows:
        node: Any = bound.get(head)  # a record kept without an item (the missing-field reading) has none
        for key in rest.split(".") if rest else ():
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:  # missing or JSON null: undocumented, both readings are run
            if keep_missing:
                out.append((index, bound))
            continue
        for item in node if isinstance(node, list) else [node]:
            out.append((index, {**bound, into: item}))
    return out


def _run(commands: list[list[Tok]], events: list[dict[str, Any]], keep_missing: bool) -> list[int]:
    rows: list[_Row] = [(i, {}) for i in range(len(events))]
    declared: set[str] = set()
    sort: tuple[str, bool] | None = None
    dedup = False
    limit: int | None = None
    for command in commands:
        if not command:
            raise UnsupportedSyntax("empty command")
        name, rest = command[0].text, command[1:]
        if dedup and name != "limit":
            raise UnsupportedSyntax("only limit may follow dedup (CWL_QuerySyntax-Dedup)")
        if name == "fields":
            if not rest or any(t.kind not in ("field", "op") for t in rest):
                raise UnsupportedSyntax("fields takes field names only in this subset")
            for bind, source in _parse_fields(rest):
                if source != "@message":
                    raise UnsupportedSyntax("jsonParse is implemented for @message only")
                rows = [(i, {**bound, bind: json.loads(events[i]["@message"])}) for i, bound in rows]
                declared.add(bind)
        elif name == "unnest":
            if len(rest) != 3 or rest[1].text != "into" or rest[0].kind != "field" or rest[2].kind != "field":
                raise UnsupportedSyntax("unnest FIELD into NAME")
            rows = _unnest(rows, declared, rest[0].text, rest[2].text, keep_missing)
            declared.add(rest[2].text)
        elif name == "filter":
            parser = _Parser(rest)
            node = parser.expr()
            if parser.peek() is not None:
                raise UnsupportedSyntax(f"trailing tokens after filter: {parser.peek()}")
            kept: list[_Row] = []
            for index, bound in rows:
                decisions = {_Evaluator(events[index], m, bound).cond(node) is True for m in _MODELS}
                if len(decisions) > 1:
                    raise UndocumentedBehaviour(
                        f"event {index}: whether it is returned depends on undocumented semantics "
                        "(missing-field comparisons or JSON boolean rendering)"
                    )
                if decisions.pop():
                    kept.append((index, bound))
            rows = kept
        elif name == "sort":
            if len(rest) != 2 or rest[1].text not in ("asc", "desc"):
                raise UnsupportedSyntax("sort FIELD asc|desc")
            sort = (rest[0].text, rest[1].text == "desc")
        elif name == "dedup":
            if [t.text for t in rest] != ["@ptr"]:
                raise UnsupportedSyntax("dedup is implemented for @ptr only")
            dedup = True
        elif name == "limit":
            if len(rest) != 1 or rest[0].kind != "number":
                raise UnsupportedSyntax("limit N")
            limit = int(float(rest[0].text))
        else:
            raise UnsupportedSyntax(f"command {name!r} is outside the subset")
    selected = [index for index, _ in rows]
    if sort is not None:
        field, desc = sort
        selected.sort(key=lambda i: _sort_key(events[i].get(field)), reverse=desc)
    if dedup:
        selected = list(dict.fromkeys(selected))  # first per @ptr, in sort order
    elif len(set(selected)) != len(selected):
        raise UnsupportedSyntax("one event returned several times: unnest without dedup @ptr")
    return selected[:limit] if limit is not None else selected


def run_logs_insights(query: str, events: list[dict[str, Any]]) -> list[int]:
    """Indexes of ``events`` (Logs Insights views) the query returns, in result order."""
    if len(query) > 10_000:
        raise UnsupportedSyntax("queryString longer than 10,000 characters (StartQuery limit)")
    commands = _split_commands(tokenize(query))
    results = {tuple(_run(commands, events, keep)) for keep in (False, True)}
    if len(results) > 1:
        raise UndocumentedBehaviour("the result depends on what unnest makes of a missing field")
    return list(results.pop())


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (0, "" if value is None else str(value))
