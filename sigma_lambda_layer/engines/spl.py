"""Reference interpreter for the subset of Splunk SPL that sigma-lambda emits.

Splunk cannot run here, so generated SPL runs on this interpreter, written from Splunk's documentation
only. Every rule below cites the page it comes from; docs/engines/spl.md lists them with the subset.
Anything outside the subset raises ``SplError`` so that a new construct cannot slip through untested,
and a value that breaks out of its literal (``" | delete``) is caught as ``command not allowed``.

Where the documentation is silent (multivalue fields in ``where``/``regex``, ``!=`` on a multivalue
field, ``NOT`` over a null in ``where``, ``regex field!=`` on an event without the field), the verdict for an
event is computed under every plausible reading. If the readings disagree, ``strict`` (the
default) raises, because a query whose meaning rests on a guess is not proven; otherwise the first
reading listed in ``_GUESSES`` is used.

Pages cited (Splunk Enterprise 9.x unless said otherwise):
  [BOOL]  Search Manual, "Boolean expressions with logical operators"
  [NOT]   Search Manual, "Difference between != and NOT"
  [CASE]  Search Manual, "Use CASE() and TERM() to match phrases"
  [WILD]  Search Manual, "Wildcards"
  [BACK]  Search Manual, "Backslashes"
  [SEG]   Admin Manual, "segmenters.conf" (default major/minor breakers)
  [SRCH]  Search Reference, "search" (syntax, IN, CIDR, quotes and escaping characters)
  [REGX]  Search Reference, "regex"
  [WHER]  Search Reference, "where"
  [EVAL]  Search Reference, "Comparison and Conditional functions", "Informational functions",
          "Text functions"
  [MV]    Search Reference, "Multivalue eval functions" (mvfind)
  [EVCM]  Search Reference, "eval" (an existing field is overwritten) and "Comparison and Conditional
          functions" (if: the true value when the predicate is TRUE, "otherwise" the false value)
  [PCRE]  Search Manual, "About Splunk regular expressions" (Splunk regular expressions are PCRE); the PCRE
          pattern documentation (pcrepattern / pcre2pattern), "Recursion" and "Defining subpatterns for
          use by reference only" ((?(DEFINE)...), (?&name))
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Protocol

from sigma_lambda_layer import casing

Event = dict[str, list[str]]


class SplError(Exception):
    """The query is outside the supported subset, malformed, or its verdict rests on a guess."""


# [SEG] default breakers. Minor breakers split a major segment further; both bound an indexed term.
_MAJOR = " \t\n\r[]<>(){}|!;,'\"*&?+"
_MINOR = "/:=@.-$#%\\_"
_MAJOR_CLASS = "[" + re.escape(_MAJOR) + "]"
_ANY_CLASS = "[" + re.escape(_MAJOR + _MINOR) + "]"
# [SRCH] "\\", "\"" and "\|" are the known escape sequences; any other backslash stays as it is.
_ESCAPES = {"\\": "\\", '"': '"', "|": "|"}
# Search modifiers that are not field-value pairs: outside the subset.
_MODIFIERS = {"earliest", "latest", "_index_earliest", "_index_latest", "eventtype", "tag", "savedsearch"}
_WHERE_FUNCS = {"match": 2, "like": 2, "mvfind": 2, "lower": 1, "upper": 1, "isnull": 1, "isnotnull": 1}
_VALUE_FUNCS = {"lower", "upper", "mvfind"}  # the others are conditions
_RESERVED = {"AND", "OR", "NOT", "XOR", "IN", "LIKE", "IF"}


@dataclass(frozen=True)
class Guesses:
    """One reading of the behaviour the documentation leaves open (first option of each = default)."""

    where_mv: str = "any"  # a multivalue field in where: any value satisfies, or the first value only
    where_null: str = "null"  # comparison with a missing field: null (NOT null is null), or plain false
    regex_mv: str = "any"  # regex command on a multivalue field: any value, or the first value only
    regex_ne_missing: str = "keep"  # regex field!="re" on an event lacking the field: kept or dropped
    search_ne_mv: str = "some"  # field!=v on a multivalue field: some value differs, or none matches


_GUESSES: dict[str, tuple[str, ...]] = {
    "where_mv": ("any", "first"),
    "where_null": ("null", "false"),
    "regex_mv": ("any", "first"),
    "regex_ne_missing": ("keep", "drop"),
    "search_ne_mv": ("some", "none"),
}


class Pattern(Protocol):
    """A compiled regular expression (``re`` or ``regex``): only searching is used."""

    def search(self, string: str) -> object: ...


#: PCRE features Python's re lacks: subroutine calls and recursion, subpatterns defined for reference only.
_RECURSION = re.compile(r"\(\?(?:&|R\)|\d+\)|P>|\(DEFINE\))")


@cache
def pcre(pattern: str) -> Pattern:
    """Python's ``re`` stands in for PCRE [PCRE] (``(?i)`` included: PCRE's caseless mode folds Unicode case,
    the long s with ``s``, as ``re`` does; sigma-lambda's own rule is :mod:`sigma_lambda_layer.casing`,
    which search terms and ``lower()`` follow); a pattern with recursion or ``(?(DEFINE)...)``, which ``re``
    lacks, compiles with the ``regex`` module (VERSION0, re-compatible), whose recursion follows PCRE's.

    Raises ``SplError`` for a pattern neither compiles.
    """
    if not _RECURSION.search(pattern):
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise SplError(f"invalid regex {pattern!r}: {exc}") from None
    try:  # imported here: only recursive patterns need it, and it is not a runtime dependency
        import regex
    except ImportError:
        raise SplError(
            f"regex {pattern!r} uses PCRE recursion, which needs the 'regex' package (pip install regex)"
        ) from None
    try:
        return regex.compile(pattern, regex.VERSION0)  # type: ignore[no-any-return]
    except regex.error as exc:
        raise SplError(f"invalid regex {pattern!r}: {exc}") from None


def _unescape(text: str, i: int, out: list[str]) -> int:
    """Apply one [SRCH] backslash sequence starting at text[i] == '\\'; return the next index."""
    nxt = text[i + 1 : i + 2]
    if nxt in _ESCAPES:
        out.append(_ESCAPES[nxt])
        return i + 2
    out.append("\\")
    return i + 1


# ----------------------------------------------------------------------------------------------- lexing


@dataclass(frozen=True)
class Tok:
    kind: str  # WORD, STR, OP, LP, RP, COMMA
    text: str
    pos: int
    spaced: bool  # whitespace precedes the token


def _read_quoted(text: str, i: int, quote: str) -> tuple[str, int]:
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote == '"':
            j = _unescape(text, j, out)
        elif c == quote:
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    raise SplError(f"unterminated {quote} string at {i}")


def _split_pipeline(query: str) -> list[str]:
    """Split at top-level pipes; quotes and '\\|' protect a pipe [SRCH]. Macros and subsearches raise."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(query):
        c = query[i]
        if c == '"':
            _, j = _read_quoted(query, i, '"')
            cur.append(query[i:j])
            i = j
            continue
        if c == "\\" and i + 1 < len(query):
            cur.append(query[i : i + 2])
            i += 2
            continue
        if c == "`":
            raise SplError(f"macro (backtick) at {i} is outside the subset")
        if c in "[]":
            raise SplError(f"subsearch bracket at {i} is outside the subset")
        if c == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _lex(text: str) -> list[Tok]:
    """Tokens of a search or regex command: words, quoted strings, operators, parentheses, commas."""
    toks: list[Tok] = []
    i, spaced = 0, True
    while i < len(text):
        c = text[i]
        if c.isspace():
            i, spaced = i + 1, True
            continue
        if c in "(),":
            toks.append(Tok({"(": "LP", ")": "RP", ",": "COMMA"}[c], c, i, spaced))
            i += 1
        elif c == '"':
            s, j = _read_quoted(text, i, '"')
            if j < len(text) and not text[j].isspace() and text[j] not in "()|,":
                raise SplError(f"quoted string at {i} runs into {text[j]!r}: ambiguous")
            toks.append(Tok("STR", s, i, spaced))
            i = j
        elif text.startswith(("!=", "<=", ">=", "=="), i) or c in "=<>":
            op = text[i : i + 2] if text.startswith(("!=", "<=", ">=", "=="), i) else c
            toks.append(Tok("OP", op, i, spaced))
            i += len(op)
        else:
            out: list[str] = []
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in '()",=<>':
                if text.startswith("!=", j):
                    break
                if text[j] == "\\":
                    j = _unescape(text, j, out)
                else:
                    out.append(text[j])
                    j += 1
            toks.append(Tok("WORD", "".join(out), i, spaced))
            i = j
        spaced = False
    return toks


# ------------------------------------------------------------------------------------- search: values


@dataclass(frozen=True)
class Value:
    """A search value: '*' is always a wildcard [WILD]; case-insensitive unless CASE() [CASE]."""

    text: str
    cased: bool = False
    term: bool = False

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """[SRCH] 'supports IPv4 and IPv6 addresses and subnets that use CIDR notation'."""
        if "/" not in self.text or "*" in self.text:
            return None
        try:
            return ipaddress.ip_network(self.text, strict=False)
        except ValueError:
            return None

    def glob(self, star: str) -> str:
        return "".join(star if ch == "*" else re.escape(ch) for ch in self.text)

    def matches(self, value: str) -> bool:
        """Field-value match: the whole value, with wildcards, or IP membership for CIDR."""
        net = self.network()
        if net is not None:
            try:
                return ipaddress.ip_address(value) in net
            except ValueError:
                return value.lower() == self.text.lower()
        if self.cased:
            return re.fullmatch(self.glob(".*"), value, re.DOTALL) is not None
        # [CASE] says only "case-insensitive"; the folding is sigma-lambda's one rule (lower() both sides,
        # as eval's lower() does), see sigma_lambda_layer.casing.
        folded = replace(self, text=casing.fold(self.text))
        return re.fullmatch(folded.glob(".*"), casing.fold(value), re.DOTALL) is not None


def _check_value(v: Value, strict: bool) -> Value:
    if strict and "\\*" in v.text:
        raise SplError(f"{v.text!r}: a backslash cannot escape '*' in a search [BACK]")
    inner = v.text.strip("*")
    if strict and "*" in inner and any(ch in _MAJOR + _MINOR for ch in inner.replace("*", "")):
        raise SplError(
            f"{v.text!r}: a wildcard inside a value with punctuation gives inconsistent results [WILD]"
        )
    return v


# ------------------------------------------------------------------------------------ search: syntax


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class FieldCmp:
    field: str
    op: str
    values: tuple[Value, ...]  # several for IN, which is an OR of field=value [SRCH]


@dataclass(frozen=True)
class Keyword:
    value: Value


Node = And | Or | Not | FieldCmp | Keyword


class _SearchParser:
    """[BOOL] order for the search command: parentheses, NOT, OR, then AND (implied between terms)."""

    def __init__(self, text: str, strict: bool) -> None:
        self.toks = _lex(text)
        self.i = 0
        self.strict = strict

    def peek(self, k: int = 0) -> Tok | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise SplError("unexpected end of search")
        self.i += 1
        return tok

    def is_word(self, tok: Tok | None, *words: str) -> bool:
        return tok is not None and tok.kind == "WORD" and tok.text in words

    def parse(self) -> Node:
        if not self.toks:
            raise SplError("empty search")
        node = self.and_expr()
        if (tok := self.peek()) is not None:
            raise SplError(f"unexpected {tok.text!r} at {tok.pos}")
        return node

    def and_expr(self) -> Node:
        items = [self.or_expr()]
        while (tok := self.peek()) is not None and tok.kind != "RP":
            if self.is_word(tok, "AND"):
                self.take()
            items.append(self.or_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def or_expr(self) -> Node:
        items = [self.not_expr()]
        while self.is_word(self.peek(), "OR"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def not_expr(self) -> Node:
        if self.is_word(self.peek(), "NOT"):
            self.take()
            return Not(self.not_expr())
        tok = self.peek()
        if tok is not None and tok.kind == "LP":
            self.take()
            node = self.and_expr()
            if self.take().kind != "RP":
                raise SplError(f"missing ')' for '(' at {tok.pos}")
            return node
        return self.term()

    def directive(self) -> Value | None:
        """CASE(x) / TERM(x) [CASE], with the parenthesis right after the name."""
        tok, nxt = self.peek(), self.peek(1)
        if tok is None or nxt is None or not self.is_word(tok, "CASE", "TERM"):
            return None
        if nxt.kind != "LP" or nxt.spaced:
            return None
        self.i += 2
        inner = self.take()
        if inner.kind not in ("WORD", "STR") or self.take().kind != "RP":
            raise SplError(f"malformed {tok.text}() at {tok.pos}")
        return Value(inner.text, cased=tok.text == "CASE", term=tok.text == "TERM")

    def value(self) -> Value:
        v = self.directive()
        if v is None:
            tok = self.take()
            if tok.kind not in ("WORD", "STR") or (tok.kind == "WORD" and tok.text in ("AND", "OR", "NOT")):
                raise SplError(f"expected a value at {tok.pos}, got {tok.text!r}")
            v = Value(tok.text)
        return _check_value(v, self.strict)

    def term(self) -> Node:
        kw = self.directive()
        if kw is not None:
            return Keyword(_check_value(kw, self.strict))
        tok = self.take()
        if tok.kind == "STR":
            return Keyword(_check_value(Value(tok.text), self.strict))
        if tok.kind != "WORD" or tok.text in ("AND", "OR"):
            raise SplError(f"unexpected {tok.text!r} at {tok.pos}")
        nxt = self.peek()
        if nxt is not None and nxt.kind == "OP":
            return self.comparison(tok, self.take())
        if self.is_word(nxt, "IN") and (after := self.peek(1)) is not None and after.kind == "LP":
            self.i += 2
            values = [self.value()]
            while (sep := self.take()).kind == "COMMA":
                values.append(self.value())
            if sep.kind != "RP":
                raise SplError(f"expected ',' or ')' in IN list at {sep.pos}")
            return FieldCmp(self.field_name(tok), "=", tuple(values))
        return Keyword(_check_value(Value(tok.text), self.strict))

    def field_name(self, tok: Tok) -> str:
        if "*" in tok.text or not tok.text or tok.text in _MODIFIERS:
            raise SplError(f"field {tok.text!r} at {tok.pos} is outside the subset")
        return tok.text

    def comparison(self, name: Tok, op: Tok) -> Node:
        if op.text == "==":
            raise SplError(f"'==' at {op.pos} is not a search operator")
        value = self.value()
        if op.text in ("<", ">", "<=", ">=") and _number(value.text) is None:
            raise SplError(f"{op.text} needs a number, got {value.text!r}")
        return FieldCmp(self.field_name(name), op.text, (value,))


# ---------------------------------------------------------------------------------- search: evaluation

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _number(text: str) -> float | None:
    """Plain decimal numbers only: Python's float() would also accept 'nan' and 'infinity'."""
    return float(text) if _NUMBER.fullmatch(text.strip()) else None


def _keyword(v: Value, event: Event) -> bool:
    """Bare terms match _raw [SRCH]: at segment boundaries [SEG], TERM() at major breakers only [CASE]."""
    bound = _MAJOR_CLASS if v.term else _ANY_CLASS
    fold = (lambda t: t) if v.cased else casing.fold  # lower() both sides, as in Value.matches
    term = replace(v, text=fold(v.text))
    pattern = f"(?:^|(?<={bound})){term.glob('[^' + re.escape(_MAJOR) + ']*')}(?={bound}|$)"
    return any(re.search(pattern, fold(raw), re.DOTALL) for raw in event.get("_raw", []))


def _eval_search(node: Node, event: Event, g: Guesses, touched: set[str]) -> bool:
    if isinstance(node, And):
        return all(_eval_search(n, event, g, touched) for n in node.items)
    if isinstance(node, Or):
        return any(_eval_search(n, event, g, touched) for n in node.items)
    if isinstance(node, Not):
        return not _eval_search(node.item, event, g, touched)
    if isinstance(node, Keyword):
        return _keyword(node.value, event)
    values = event.get(node.field, [])
    if node.op == "=":  # a field the event lacks never matches; multivalue: any value [NOT]
        return any(v.matches(x) for v in node.values for x in values)
    if node.op == "!=":  # [NOT] "Events that do not have a value in the field are not included"
        if len(values) > 1:
            touched.add("search_ne_mv")
            if g.search_ne_mv == "none":
                return not any(node.values[0].matches(x) for x in values)
        return any(not node.values[0].matches(x) for x in values)
    limit = _number(node.values[0].text)
    return any((n := _number(x)) is not None and _COMPARE[node.op](n, limit) for x in values)


# ---------------------------------------------------------------------------------------- regex command


@dataclass(frozen=True)
class RegexCmd:
    """[REGX] keeps results that match (field=) or do not match (field!=); default field _raw."""

    field: str
    negate: bool
    pattern: Pattern


def _parse_regex(args: str) -> RegexCmd:
    toks = _lex(args)
    shapes = [t.kind for t in toks]
    if shapes == ["STR"]:
        field, op, rx = "_raw", "=", toks[0].text
    elif shapes == ["WORD", "OP", "STR"] and toks[1].text in ("=", "!="):
        field, op, rx = toks[0].text, toks[1].text, toks[2].text
    else:
        raise SplError(f"regex arguments outside the subset: {args.strip()!r}")
    return RegexCmd(field, op == "!=", pcre(rx))  # [PCRE] unanchored, case-sensitive


def _eval_regex(cmd: RegexCmd, event: Event, g: Guesses, touched: set[str]) -> bool:
    values = event.get(cmd.field, [])
    if not values and cmd.negate:
        touched.add("regex_ne_missing")
        return g.regex_ne_missing == "keep"
    if len(values) > 1:
        touched.add("regex_mv")
        if g.regex_mv == "first":
            values = values[:1]
    hit = any(cmd.pattern.search(x) for x in values)
    return hit != cmd.negate


# ---------------------------------------------------------------------------------------- where command


@dataclass(frozen=True)
class WLit:
    value: str  # a string or number literal; comparisons decide how to read it


@dataclass(frozen=True)
class WField:
    name: str


@dataclass(frozen=True)
class WCall:
    name: str
    arg: WNode
    pattern: str = ""  # the string-literal second argument of match() and like()


@dataclass(frozen=True)
class WOp:
    op: str  # AND, OR, NOT, or a comparison operator
    args: tuple[WNode, ...]


WNode = WLit | WField | WCall | WOp
_WHERE_TOKEN = re.compile(
    r"\s*(?:(?P<str>\")|(?P<field>')|(?P<num>\d+(?:\.\d+)?)(?![\w.])|(?P<ident>[A-Za-z_]\w*)"
    r"|(?P<op>==|!=|<=|>=|[=<>(),]))"
)


def _lex_where(text: str) -> list[tuple[str, str, int]]:
    toks: list[tuple[str, str, int]] = []
    i = 0
    while text[i:].strip():
        m = _WHERE_TOKEN.match(text, i)
        if m is None:
            j = len(text) - len(text[i:].lstrip())
            raise SplError(f"where: {text[j]!r} at {j} is outside the subset")
        kind = m.lastgroup or ""
        if kind in ("str", "field"):
            quote = '"' if kind == "str" else "'"
            s, i = _read_quoted(text, m.end() - 1, quote)
            toks.append((kind, s, m.start(kind)))
            continue
        toks.append((kind, m.group(kind), m.start(kind)))
        i = m.end()
    return toks


class _WhereParser:
    """[BOOL] order for eval and where: parentheses, NOT, AND, then OR. XOR is outside the subset."""

    def __init__(self, text: str) -> None:
        self.toks = _lex_where(text)
        self.i = 0

    def peek(self, kind: str, *texts: str) -> bool:
        if self.i >= len(self.toks):
            return False
        k, t, _ = self.toks[self.i]
        return k == kind and (not texts or t in texts)

    def take(self) -> tuple[str, str, int]:
        if self.i >= len(self.toks):
            raise SplError("where: unexpected end of expression")
        self.i += 1
        return self.toks[self.i - 1]

    def parse(self) -> WNode:
        node = self.boolean(self.or_expr())
        if self.i < len(self.toks):
            raise SplError(f"where: unexpected {self.toks[self.i][1]!r} at {self.toks[self.i][2]}")
        return node

    @staticmethod
    def boolean(node: WNode) -> WNode:
        """where keeps results whose expression is true [WHER]: conditions must be Boolean."""
        if isinstance(node, WOp) or (isinstance(node, WCall) and node.name not in _VALUE_FUNCS):
            return node
        raise SplError("where: a value used as a condition")

    @staticmethod
    def value(node: WNode) -> WNode:
        if isinstance(node, WLit | WField) or (isinstance(node, WCall) and node.name in _VALUE_FUNCS):
            return node
        raise SplError("where: a condition used as a value")

    def or_expr(self) -> WNode:
        node = self.and_expr()
        while self.peek("ident", "OR"):
            self.take()
            node = WOp("OR", (self.boolean(node), self.boolean(self.and_expr())))
        return node

    def and_expr(self) -> WNode:
        node = self.not_expr()
        while self.peek("ident", "AND"):
            self.take()
            node = WOp("AND", (self.boolean(node), self.boolean(self.not_expr())))
        return node

    def not_expr(self) -> WNode:
        if self.peek("ident", "NOT"):
            self.take()
            return WOp("NOT", (self.boolean(self.not_expr()),))
        left = self.operand()
        if self.peek("op", "=", "==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
            return WOp("==" if op == "=" else op, (self.value(left), self.value(self.operand())))
        return left

    def operand(self) -> WNode:
        kind, text, pos = self.take()
        if kind == "op" and text == "(":
            node = self.or_expr()
            if self.take()[1] != ")":
                raise SplError(f"where: missing ')' for '(' at {pos}")
            return node
        if kind == "str" or kind == "num":
            return WLit(text)
        if kind == "field":
            return WField(text)
        call = self.peek("op", "(")
        if kind != "ident" or (not call and text.upper() in ("AND", "OR", "NOT", "XOR", "IN", "LIKE")):
            raise SplError(f"where: unexpected {text!r} at {pos}")
        if not call:
            return WField(text)  # a bare name is a field [WHER]
        name = text
        if name not in _WHERE_FUNCS:
            raise SplError(f"where: function not allowed: {name}")
        self.take()
        args = [self.or_expr()]
        while self.peek("op", ","):
            self.take()
            args.append(self.or_expr())
        if self.take()[1] != ")" or len(args) != _WHERE_FUNCS[name]:
            raise SplError(f"where: {name}() takes {_WHERE_FUNCS[name]} argument(s)")
        self.value(args[0])
        if len(args) == 1:
            return WCall(name, args[0])
        if not isinstance(args[1], WLit):
            raise SplError(f"where: the pattern of {name}() must be a string literal")
        if name == "mvfind" and not isinstance(args[0], WField):
            raise SplError("where: mvfind() takes a field")
        if name != "like":
            pcre(args[1].value)
        return WCall(name, args[0], args[1].value)


EvalValue = None | bool | str | tuple[str, ...]


def _like(text: str, pattern: str) -> bool:
    """[EVAL] like(): '%' matches any characters and '_' one character; no escape is documented."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.DOTALL) is not None


def _compare(op: str, a: str, b: str) -> bool:
    """Numbers compare as numbers; otherwise as strings, case-sensitively [WHER]."""
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return _COMPARE[op](x, y)
    return _COMPARE[op](a, b)


class _WhereEval:
    def __init__(self, event: Event, g: Guesses, touched: set[str]) -> None:
        self.event, self.g, self.touched = event, g, touched

    def null(self) -> EvalValue:
        self.touched.add("where_null")
        return None if self.g.where_null == "null" else False

    def scalar(self, node: WNode) -> str | tuple[str, ...] | None:
        value = self.eval(node)
        assert not isinstance(value, bool), "the parser types values and conditions"
        return value

    def each(self, value: EvalValue, test: Callable[[str], bool]) -> EvalValue:
        """Apply a test to a value; a multivalue field passes if any value passes (default guess)."""
        if value is None:
            return self.null()
        return any(test(v) for v in value) if isinstance(value, tuple) else test(str(value))

    def eval(self, node: WNode) -> EvalValue:
        if isinstance(node, WLit):
            return node.value
        if isinstance(node, WField):
            values = self.event.get(node.name, [])
            if len(values) > 1:
                self.touched.add("where_mv")
                return tuple(values) if self.g.where_mv == "any" else values[0]
            return values[0] if values else None
        if isinstance(node, WCall):
            return self.call(node)
        if node.op == "NOT":
            arg = self.boolean(node.args[0])
            return None if arg is None else not arg
        if node.op in ("AND", "OR"):
            stop = node.op == "OR"  # Kleene logic: a decisive operand wins over a null
            seen_null = False
            for a in node.args:  # left to right, stopping at a decisive operand (same result, less work)
                value = self.boolean(a)
                if value is stop:
                    return stop
                seen_null = seen_null or value is None
            return None if seen_null else not stop
        left, right = self.scalar(node.args[0]), self.scalar(node.args[1])
        if left is None or right is None:
            return self.null()
        rights = right if isinstance(right, tuple) else (right,)
        return self.each(left, lambda a: any(_compare(node.op, a, b) for b in rights))

    def boolean(self, node: WNode) -> bool | None:
        value = self.eval(node)
        assert value is None or isinstance(value, bool), "the parser types values and conditions"
        return value

    def call(self, node: WCall) -> EvalValue:
        if node.name in ("isnull", "isnotnull"):  # [EVAL] informational functions
            return (self.scalar(node.arg) is None) == (node.name == "isnull")
        if node.name == "mvfind" and isinstance(node.arg, WField):
            # [MV] mvfind(): index of the first value matching the regex, NULL when none does
            values = self.event.get(node.arg.name, [])
            rx = pcre(node.pattern)
            return next((str(i) for i, v in enumerate(values) if rx.search(v)), None)
        value = self.scalar(node.arg)
        if node.name in ("lower", "upper"):
            conv = str.lower if node.name == "lower" else str.upper
            if isinstance(value, tuple):
                return tuple(conv(v) for v in value)
            return None if value is None else conv(str(value))
        if node.name == "match":  # [EVAL] match(): PCRE, true if the regex matches any part
            rx = pcre(node.pattern)
            return self.each(value, lambda v: rx.search(v) is not None)
        return self.each(value, lambda v: _like(v, node.pattern))


# ----------------------------------------------------------------------------------------- eval command


@dataclass(frozen=True)
class EvalCmd:
    """[EVCM] ``eval f=if(<condition>, <v1>, <v2>), ...``: v1 when the condition is TRUE, otherwise (false
    or null) v2; an existing field is overwritten. No other eval expression is in the subset."""

    assignments: tuple[tuple[str, WNode, str, str], ...]


def _parse_eval(args: str) -> EvalCmd:
    parser = _WhereParser(args)
    out: list[tuple[str, WNode, str, str]] = []
    while True:
        kind, name, pos = parser.take()
        if kind not in ("ident", "field") or not parser.peek("op", "=") or name.upper() in _RESERVED:
            raise SplError(f"eval: expected <field>=if(...) at {pos}")
        parser.take()
        kind, func, pos = parser.take()
        if kind != "ident" or func != "if" or not parser.peek("op", "("):
            raise SplError(
                f"eval: only <field>=if(<condition>, <value>, <value>) is in the subset (at {pos})"
            )
        parser.take()
        cond = parser.boolean(parser.or_expr())
        values: list[str] = []
        for closer in (",", ","):
            if parser.take()[1] != closer:
                raise SplError("eval: if() takes three arguments")
            kind, text, pos = parser.take()
            if kind not in ("num", "str"):
                raise SplError(f"eval: if() values must be literals (at {pos})")
            values.append(text)
        if parser.take()[1] != ")":
            raise SplError("eval: if() takes three arguments")
        out.append((name, cond, values[0], values[1]))
        if parser.i == len(parser.toks):
            return EvalCmd(tuple(out))
        if parser.take()[1] != ",":
            raise SplError("eval: assignments are separated by ','")


def _run_eval(cmd: EvalCmd, event: Event, g: Guesses, touched: set[str]) -> None:
    for name, cond, when_true, otherwise in cmd.assignments:
        event[name] = [when_true if _WhereEval(event, g, touched).boolean(cond) is True else otherwise]


# -------------------------------------------------------------------------------------------- pipeline

Command = Node | RegexCmd | WNode | EvalCmd
_COMMANDS: dict[str, Callable[[str], Command]] = {
    "regex": _parse_regex,
    "where": lambda rest: _WhereParser(rest).parse(),
    "eval": _parse_eval,
}


def command_names(query: str) -> list[str]:
    """The command of each pipeline segment (``search`` for the first): what a query runs, at a glance."""
    names = [(segment.split(None, 1) or [""])[0] for segment in _split_pipeline(query)]
    return ["search", *names[1:]]


def _parse(query: str, strict: bool) -> list[Command]:
    if strict and "`" in query:
        # [SRCH] documents macros in backticks, not whether a backtick inside a quoted value expands one.
        raise SplError("a backtick, even quoted, may start a macro: outside the subset in strict mode")
    segments = _split_pipeline(query)
    commands: list[Command] = []
    for n, segment in enumerate(segments):
        name, rest = ([*segment.split(None, 1), "", ""])[:2]
        if n == 0:
            if not segment.strip():
                raise SplError("a query must start with a search (generating commands are not allowed)")
            commands.append(_SearchParser(rest if name == "search" else segment, strict).parse())
        elif name == "search":
            commands.append(_SearchParser(rest, strict).parse())
        elif name in _COMMANDS:
            commands.append(_COMMANDS[name](rest))
        else:
            raise SplError(f"command not allowed: {name or '(empty)'}")
    return commands


def _verdict(commands: Sequence[Command], event: Event, g: Guesses, touched: set[str]) -> bool:
    event = dict(event)  # eval writes fields: work on this run's copy
    for body in commands:
        if isinstance(body, EvalCmd):
            _run_eval(body, event, g, touched)
            continue
        if isinstance(body, RegexCmd):
            keep = _eval_regex(body, event, g, touched)
        elif isinstance(body, WLit | WField | WCall | WOp):
            keep = _WhereEval(event, g, touched).boolean(body) is True
        else:
            keep = _eval_search(body, event, g, touched)
        if not keep:
            return False
    return True


def _decide(commands: Sequence[Command], event: Event, index: int, strict: bool) -> bool:
    """The verdict under the default reading, after checking every reading the event touches."""
    touched: set[str] = set()
    default = _verdict(commands, event, Guesses(), touched)
    dims: set[str] = set()
    while touched - dims:
        dims |= touched
        names = sorted(dims)
        for combo in itertools.product(*(_GUESSES[d] for d in names)):
            if _verdict(commands, event, Guesses(**dict(zip(names, combo, strict=True))), touched) != default:
                if strict:
                    raise SplError(
                        f"event {index}: the verdict depends on behaviour Splunk does not document "
                        f"({', '.join(names)}); see docs/engines/spl.md"
                    )
                return default
    return default


def run_spl(query: str, events: Sequence[Event], *, strict: bool = True) -> set[int]:
    """Indexes of the events the query keeps. Raises SplError outside the subset (see module doc)."""
    commands = _parse(query, strict)
    for event in events:
        for key, values in event.items():
            if not isinstance(values, list):
                raise TypeError(f"event field {key!r} must be a list of strings")
    return {i for i, event in enumerate(events) if _decide(commands, event, i, strict)}
