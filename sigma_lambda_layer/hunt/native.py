"""The native hunt engine: the reference evaluator itself, behind a dispatch table, on every core.

``hunt()``'s default engine. Where the ``duckdb`` engine (:mod:`.scan`) runs the ``duckdb`` target's SQL,
this one runs the rules as written with the reference evaluator (:mod:`sigma_lambda_layer.evaluator`, the
meaning every target is proven against), so its hits are the evaluator's by construction. What makes it fast:

* **Reading.** A gzip file is inflated with ISA-L (``isal``, about twice zlib's speed), and a CloudTrail
  ``{"Records": [...]}`` document, a JSON array or JSON lines are parsed with simdjson (``pysimdjson``), whose
  records stay lazy proxies over the parsed document: reading ``eventName`` and ``eventSource`` costs a
  lookup, not a Python dict.
* **Dispatch.** Every rule's condition says which ``eventSource``/``eventName`` (and ``userIdentity.type``)
  values it can match at all (:func:`required_text`, read off the evaluator's tree). A record
  meets only the rules its (case-folded) pair allows, looked up once per distinct pair; a record no rule
  can match is never turned into a dict. The test is a superset of the evaluator's (a string equal to the
  rule's value case-insensitively is in the set), an array-valued field is never skipped. A rule without
  such values is guarded by another top-level key it requires (:func:`field_guard`), or skipped for a
  document whose raw text lacks what it requires (:func:`required_texts`), or meets every record.
* **Every core.** Files are spread over worker processes (one per core, :mod:`.parallel`), each with the
  compiled rules; hits come back as small tuples (or only each rule's :class:`.stats.RuleStats`), and
  for ``--output`` in JSON lines each worker writes its own lines.

Anything the fast reader does not take (CloudWatch Logs exports and subscription payloads, EventBridge
events, concatenated or pretty-printed objects, a corrupt gzip, invalid UTF-8, a record without
``eventName``, a number simdjson cannot hold) is read by the Python reader of :mod:`.inputs`, with its
located errors, and evaluated the same way.

One difference from ``json.loads`` is left as it is: where a record has the same key twice, simdjson's
lookup (the dispatch) sees the first and the dict the evaluator gets holds the last, as in the ``duckdb``
engine; CloudTrail never writes such a record.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from isal import igzip
from simdjson import Array as _SimdArray
from simdjson import Object as _SimdObject
from simdjson import Parser

from sigma_lambda_layer import casing
from sigma_lambda_layer.errors import SigmaLambdaError
from sigma_lambda_layer.evaluator.frozen import rebuild_args
from sigma_lambda_layer.evaluator.paths import FieldPath
from sigma_lambda_layer.evaluator.rule import Node
from sigma_lambda_layer.evaluator.values import as_text
from sigma_lambda_layer.hunt.inputs import LogFile, iso_moment, read_records
from sigma_lambda_layer.hunt.results import HIT_FIELDS
from sigma_lambda_layer.hunt.stats import RuleStats

#: Distinct (eventSource, eventName) pairs remembered by the dispatch table before it starts afresh.
DISPATCH_CACHE: Final = 1 << 16
# Final: the compiled build (mypyc) reads a Final module name from a C static, any other from the module's
# dict, once per use (these are read for every record).
_ARRAY: Final = object()  # the dispatch key of an array-valued field: never skipped
_MISSING: Final = object()
#: simdjson's lazy views of a JSON array and object
_Array: Final[Any] = _SimdArray
_Object: Final[Any] = _SimdObject


@dataclass(frozen=True)
class NativeRule:
    """A rule ready for the native engine: the evaluator's tree and the values its dispatch needs."""

    title: str
    id: str | None
    path: str | None
    level: str | None
    root: Node  # typed: the compiled build calls its ``matches`` directly
    #: case-folded values ``eventSource``/``eventName`` must hold for the rule to match (None: any)
    event_source: frozenset[str] | None
    event_name: frozenset[str] | None
    #: the record's top-level keys the rule can read (None: the whole record, e.g. a keyword)
    top_keys: frozenset[str] | None = None
    #: case-folded values ``userIdentity.type`` must hold (None: any), read off the evaluator's tree
    identity_type: frozenset[str] | None = None
    #: texts the raw JSON of a document must hold for the rule to match one of its records: every group
    #: needs one of its (literal, folded) texts (:func:`required_texts`); used for rules without dispatch
    needs: tuple[tuple[tuple[bytes, bool], ...], ...] = ()
    #: for a rule without eventSource/eventName/userIdentity.type values: a top-level key (no dot) and the
    #: case-folded values it must hold (:func:`field_guard`), tested on each record before the rule meets it
    guard: tuple[str, frozenset[str]] | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # pickled to the hunt workers
        return rebuild_args(self)

    def admits(self, source: Any, name: Any, identity: Any = _ARRAY) -> bool:
        """Whether a record with these dispatch keys can match (a superset of the rule's meaning)."""
        return (
            (self.event_source is None or source is _ARRAY or source in self.event_source)
            and (self.event_name is None or name is _ARRAY or name in self.event_name)
            and (self.identity_type is None or identity is _ARRAY or identity in self.identity_type)
        )


def compile_rules(rules: Any) -> tuple[list[NativeRule], list[SigmaLambdaError]]:
    """Every CloudTrail rule of ``rules`` as the reference evaluator reads it (before any pipeline), with
    its dispatch values read off the evaluator's own tree (:func:`required_text`).

    The rules are loaded and gated as ``convert --target duckdb`` loads them (the same located load errors
    and log source refusals); a rule that target's SQL cannot express (an ``unsupported`` refusal) still
    runs here, since the evaluator decides it.
    """
    from sigma_lambda_layer.batch import convert_keeping_rules
    from sigma_lambda_layer.conversion import configure
    from sigma_lambda_layer.errors import is_out_of_scope, is_unsupported
    from sigma_lambda_layer.evaluator import RuleEvaluator
    from sigma_lambda_layer.evaluator.errors import EvaluationError
    from sigma_lambda_layer.registry import HUNT_TARGET

    _, config = configure(HUNT_TARGET, "hunt")
    outcomes, kept = convert_keeping_rules(rules, config)
    errors: list[SigmaLambdaError] = [e for o in outcomes for e in o.errors]
    compiled: list[NativeRule] = []
    by_result = {id(result): rule for result, rule in kept}
    for outcome in outcomes:
        for result in outcome.results:
            rule = by_result.get(id(result))
            if rule is None or (
                result.error is not None
                and (is_out_of_scope(result.error) or not is_unsupported(result.error))
            ):
                if result.error is not None:
                    errors.append(result.error)
                continue
            try:
                evaluator = RuleEvaluator(rule)
            except EvaluationError as error:
                errors.append(error if result.error is None else result.error)
                continue
            root = evaluator.root
            level = getattr(getattr(rule, "level", None), "name", None)
            compiled.append(
                NativeRule(
                    result.title or result.id or "untitled",
                    result.id,
                    result.path,
                    None if level is None else str(level).lower(),
                    root,
                    required_text(root, "eventSource"),
                    required_text(root, "eventName"),
                    top_keys(root),
                    required_text(root, IDENTITY_TYPE.name),
                    tuple(required_texts(root)),
                    field_guard(root),
                )
            )
    return compiled, errors


def top_keys(node: Any) -> frozenset[str] | None:
    """The top-level record keys an evaluator tree can read, or None if it reads the whole record.

    A field path ``a.b.c`` is looked up at the top as ``a``, ``a.b`` and ``a.b.c`` (keys may hold dots,
    :mod:`sigma_lambda_layer.evaluator.paths`); a keyword reads every value.
    """
    from sigma_lambda_layer.evaluator import rule as nodes

    if isinstance(node, (nodes.AllOf, nodes.AnyOf)):
        found = [top_keys(child) for child in node.children]
        return None if any(f is None for f in found) else frozenset().union(*found)  # type: ignore[arg-type]
    if isinstance(node, nodes.Not):
        return top_keys(node.child)
    paths = [
        getattr(node, name) for name in ("path", "other") if isinstance(getattr(node, name, None), FieldPath)
    ]
    if not paths or isinstance(node, nodes.Keyword):
        return None
    return frozenset(key for path in paths for key, _ in path.keys[0])


def field_guard(node: Any) -> tuple[str, frozenset[str]] | None:
    """For a tree with no dispatch values: the first one-segment field (a top-level key the evaluator looks
    up alone) whose value :func:`required_text` can tell, with those values, e.g. ``userAgent: TruffleHog``;
    None if there is none (or the tree has dispatch values)."""
    from sigma_lambda_layer.evaluator import rule as nodes

    if any(
        required_text(node, name) is not None for name in ("eventSource", "eventName", IDENTITY_TYPE.name)
    ):
        return None

    def fields(n: Any) -> Iterator[str]:
        if isinstance(n, (nodes.AllOf, nodes.AnyOf)):
            for child in n.children:
                yield from fields(child)
        elif isinstance(n, nodes.FieldTest) and n.path.single is not None:
            yield n.path.single

    for name in fields(node):
        values = required_text(node, name)
        if values is not None:
            return name, values
    return None


#: The third dispatch key, read only for records whose eventSource/eventName admit a rule that tests it:
#: SigmaHQ's rules on every event (root use, assumed roles) start with it.
IDENTITY_TYPE = FieldPath("userIdentity.type")


def required_text(node: Any, name: str) -> frozenset[str] | None:
    """Case-folded strings field ``name`` must equal (one of them) for the evaluator tree to match, or None.

    :func:`sigma_lambda_layer.backends.duckdb.required_values` on the evaluator's own tree: a whole-value
    string test of the field gives its text (a ``|cased`` one its folded text, a superset), ``or`` the
    union of its branches if each gives some, ``and`` the intersection of those that give some.
    """
    from sigma_lambda_layer.evaluator import rule as nodes
    from sigma_lambda_layer.evaluator import values

    if isinstance(node, nodes.FieldTest) and node.path.name == name:
        tests = node.test.tests if isinstance(node.test, values.AnyOf) else (node.test,)
        if all(
            isinstance(t, values.StringMatch) and t.literal is not None and t.shape == "==" for t in tests
        ):
            return frozenset(casing.fold(t.literal) for t in tests)  # type: ignore[attr-defined]
        return None
    if isinstance(node, nodes.AnyOf):
        branches = [required_text(child, name) for child in node.children]
        if any(b is None for b in branches):
            return None
        return frozenset().union(*branches)  # type: ignore[arg-type]
    if isinstance(node, nodes.AllOf):
        known = [b for b in (required_text(child, name) for child in node.children) if b is not None]
        return frozenset.intersection(*known) if known else None
    return None


#: Characters of JSON number text: a text made only of these could match a number's text, which the raw
#: JSON may spell differently (``1E2`` for 100.0).
_NUMBER_CHARS: Final = frozenset("0123456789.eE+-")
#: The only characters above U+007F whose lowercase holds an ASCII character (İ, the Kelvin sign): checked
#: over every code point by tests/test_hunt_native.py.
FOLDS_TO_ASCII = ("\u0130", "\u212a")
_FOLDS_TO_ASCII_UTF8: Final = tuple(c.encode("utf-8") for c in FOLDS_TO_ASCII)
_U_ESCAPE: Final = re.compile(rb"\\u")
_SLASH_ESCAPE: Final = re.compile(rb"\\/")
_ANY_ESCAPE: Final = re.compile(rb"\\[u/]")
#: the top-level key the evaluator also tries for ``userIdentity.type``, as JSON text
_DOTTED_IDENTITY: Final = b'"userIdentity.type"'
_FIRST_BYTE: Final = re.compile(rb"[ \t\r\n]*(.)", re.DOTALL)


def _usable(text: str, folded: bool) -> tuple[bytes, bool] | None:
    """``text`` as a raw-JSON needle, if its presence in a decoded value implies its bytes in the document.

    A value's text is in the document as JSON wrote it: unescaped unless a character of it was escaped
    (``\\uXXXX`` for any, ``\\/``, ``\\"``, ``\\\\``, and control characters): :meth:`FileScanner._text_facts` only
    trusts a document without ``\\u`` (and without ``\\/`` for a text with a slash), and a text holding
    a quote, a backslash or a control character is not used. A folded text is looked up in the document's
    ASCII-lowercased bytes, so it must be ASCII (and the document free of :data:`FOLDS_TO_ASCII`).
    """
    if not text or all(c in _NUMBER_CHARS for c in text):
        return None
    if any(c in '"\\' or ord(c) < 0x20 for c in text) or (folded and not text.isascii()):
        return None
    return text.encode("utf-8"), folded


def required_texts(node: Any) -> list[tuple[tuple[bytes, bool], ...]]:
    """Groups of raw texts a document must hold (one of each group) for ``node`` to match a record of it.

    A string test's plain text (``==``, ``contains``, ``startswith``, ``endswith``), a ``|re``'s longest
    run of literal characters outside any group or alternative; ``and`` needs all its children's groups,
    ``or`` one group made of a group of each child (if each has one); ``not`` and the rest need nothing.
    """
    from sigma_lambda_layer.evaluator import rule as nodes
    from sigma_lambda_layer.evaluator import values

    if isinstance(node, nodes.FieldTest):
        tests = node.test.tests if isinstance(node.test, values.AnyOf) else (node.test,)
        group = []
        for test in tests:
            needle = None
            if isinstance(test, values.StringMatch) and test.literal is not None:
                needle = _usable(test.literal, test.fold)
            elif isinstance(test, values.RegexMatch):
                run = _regex_literal(test.pattern)
                needle = None if run is None else _usable(run, False)
            if needle is None:
                return []
            group.append(needle)
        return [tuple(group)]
    if isinstance(node, nodes.AllOf):
        return [group for child in node.children for group in required_texts(child)]
    if isinstance(node, nodes.AnyOf):
        firsts = [required_texts(child)[:1] for child in node.children]
        if not firsts or any(not f for f in firsts):
            return []
        return [tuple(needle for f in firsts for needle in f[0])]
    return []


def _regex_literal(pattern: Any) -> str | None:
    """The longest run of literal characters at the top level of a case-sensitive pattern, or None."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]
    except ImportError:  # Python 3.10
        import sre_parse  # type: ignore[no-redef]
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # no prefilter for a pattern this parser reads differently
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    best = run = ""
    for op, av in parsed:
        if op is sre_parse.LITERAL:
            run += chr(av)
            best = max(best, run, key=len)
        else:
            run = ""
    return best or None


def doc_needs_met(rule: NativeRule, data: bytes, lowered: bytes | None, slashed: bool) -> bool:
    """Whether the document ``data`` can hold a record ``rule`` matches, by its needles alone (the caller
    checks ``\\u``): ``lowered`` is its ASCII lowercase (None: a folded needle proves nothing, the document
    holds a character whose lowercase is ASCII), ``slashed`` whether it holds ``\\/``."""
    for group in rule.needs:
        for needle, folded in group:
            if (folded and lowered is None) or (slashed and b"/" in needle):
                break  # this needle cannot be trusted on this document: the group may be met
            if needle in (lowered if folded else data):  # type: ignore[operator]
                break
        else:
            return False
    return True


# ------------------------------------------------------------------------------------------ one file


#: the hit columns' keys but the principal, in column order
_SCALAR_HIT_KEYS: Final = ("eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "eventID")
_COLUMN_NAMES: Final = HIT_FIELDS[5:12]  # event_time .. event_id, in the order of _hit_columns
#: what precedes each hit column's JSON text in a hit's JSON line (``json.dumps``' separators)
_TAIL_KEYS: Final = tuple(f'{", " if i else ""}"{name}": '.encode() for i, name in enumerate(_COLUMN_NAMES))
_TAIL_END: Final = b', "record": '
#: a str as JSON text, as ``json.dumps(value, ensure_ascii=False)`` writes it (the C encoder it uses)
_json_string: Final[Callable[[str], str]] = (
    getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
)


def _json_text(value: str | None) -> bytes:
    """A hit column as JSON text, UTF-8 (``null`` for None)."""
    return b"null" if value is None else _json_string(value).encode("utf-8")


def _text(value: Any) -> str | None:
    """A hit column as ``json_extract_string`` reads it: a string as is, another value as its JSON text."""
    if value is None or type(value) is str:
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _hit_columns(record: dict[str, Any]) -> tuple[str | None, ...]:
    """The seven hit columns of a record dict, as the duckdb engine reads them (``principal``: the first of
    ``userIdentity.arn``, ``.principalId``, ``.type``); spelled out, since this runs for every hit."""
    get = record.get
    return (
        _text(get("eventTime")),
        _text(get("eventSource")),
        _text(get("eventName")),
        _text(get("awsRegion")),
        _principal(get("userIdentity")),
        _text(get("sourceIPAddress")),
        _text(get("eventID")),
    )


def _principal(identity: Any) -> str | None:
    """The ``principal`` hit column: the first of ``arn``, ``principalId``, ``type`` that is not null, of a
    ``userIdentity`` dict or simdjson object (its keys listed once: a missing key costs an exception)."""
    if type(identity) is dict:
        for key in ("arn", "principalId", "type"):
            value = identity.get(key)
            if value is not None:
                return _text(value)
    elif type(identity) is _Object:
        inner = list(identity.keys())
        for key in ("arn", "principalId", "type"):
            if key in inner:
                value = identity[key]
                if value is not None:
                    return _text(_plain(value))
    return None


def _lazy_hit_columns(record: dict[str, Any], lazy: Any, present: list[str] | None) -> tuple[str | None, ...]:
    """:func:`_hit_columns` of a simdjson record, of which ``record`` holds the keys the rules read: the
    others are read from ``lazy`` (a missing key is looked up in ``present``, its keys: no exception)."""
    if present is None:
        present = list(lazy.keys())
    texts: list[str | None] = []
    for key in _SCALAR_HIT_KEYS:
        if key in record:
            texts.append(_text(record[key]))
        elif key in present:
            texts.append(_text(_plain(lazy[key])))
        else:
            texts.append(None)
    identity: Any = None
    if "userIdentity" in record:
        identity = record["userIdentity"]
    elif "userIdentity" in present:
        identity = lazy["userIdentity"]
    principal = _principal(identity)
    moment, source, name, region, address, event_id = texts
    return moment, source, name, region, principal, address, event_id


def _plain(value: Any) -> Any:
    """A simdjson value as ``json.loads`` gives it."""
    kind = type(value)
    return value.as_dict() if kind is _Object else value.as_list() if kind is _Array else value


def identity_key(record: dict[str, Any]) -> Any:
    """The ``userIdentity.type`` dispatch key of a record dict (every value the evaluator would see)."""
    found = IDENTITY_TYPE.values(record)
    return _ARRAY if len(found) > 1 else _key(found[0]) if found else None


def _lazy_identity_key(record: Any, present: list[str]) -> Any:
    """:func:`identity_key` of a simdjson record (``present``: its top-level keys)."""
    if "userIdentity.type" in present or "userIdentity" not in present:
        return _ARRAY if "userIdentity.type" in present else None
    identity = record["userIdentity"]
    if type(identity) is _Object:
        value = identity.get("type")
        return _ARRAY if type(value) is _Array else _key(value)
    return _ARRAY if type(identity) is _Array else None


def _plain_identity_key(record: Any) -> Any:
    """:func:`_lazy_identity_key` of a simdjson record known to have no top-level ``"userIdentity.type"``
    key: two lookups, no list of its keys (a missing key costs pysimdjson an exception: rare here)."""
    identity = record.get("userIdentity")
    if type(identity) is _Object:
        value = identity.get("type")
        return _ARRAY if type(value) is _Array else _key(value)
    return _ARRAY if type(identity) is _Array else None


def _materialize(
    record: Any, keys: frozenset[str] | None, present: list[str] | None = None
) -> dict[str, Any]:
    """The part of a simdjson record the rules read, as the dict ``json.loads`` gives (the whole record
    when ``keys`` is None): every rule test on it decides as on the whole record, since a field path only
    ever starts at one of these keys (:func:`top_keys`). simdjson's nested lookups cost more than building
    these few values."""
    if keys is None:
        return record.as_dict()
    out: dict[str, Any] = {}
    # Only keys the record has are asked for: a missing key costs simdjson an exception internally.
    for key in keys.intersection(record.keys() if present is None else present):
        value = record[key]
        kind = type(value)
        out[key] = value.as_dict() if kind is _Object else value.as_list() if kind is _Array else value
    return out


@dataclass
class _Job:
    """What a worker needs, sent once (pickled) to each."""

    rules: list[NativeRule]
    since: datetime | None
    until: datetime | None
    #: per rule, how many hits of each file keep their record text (None: every hit)
    keep_records: int | None
    #: the JSON-lines file the hits are appended to (``--output``), or None
    jsonl_path: str | None
    #: whether each hit goes back to the command (else only each rule's :class:`RuleStats`)
    send_hits: bool = True


@dataclass
class FileOutcome:
    """One file scanned (plain data: crosses the process boundary)."""

    index: int
    records: int = 0
    outside_window: int = 0
    #: (message, line, hint) of each located error in this file
    errors: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    #: (rule index, the seven hit columns..., record JSON text or None)
    hits: list[tuple[Any, ...]] = field(default_factory=list)
    #: per rule index, the summary of this file's hits when they are not sent (``_Job.send_hits``)
    stats: dict[int, RuleStats] = field(default_factory=dict)


class _Fallback(Exception):
    """The fast reader does not take this file: the Python reader does."""


class FileScanner:
    """The rules over one file at a time (one per process)."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.rules = job.rules
        self._dispatch: dict[tuple[Any, Any, Any, frozenset[int]], tuple[tuple[int, ...], Any, bool]] = {}
        #: the rules that meet every record (no dispatch values) and say what their documents must hold
        self._prefiltered = [
            i
            for i, r in enumerate(self.rules)
            if r.needs
            and r.guard is None
            and r.event_source is None
            and r.event_name is None
            and r.identity_type is None
        ]
        #: (key, values, rule) of each guarded rule (:func:`field_guard`)
        self._guards = [(r.guard[0], r.guard[1], i) for i, r in enumerate(self.rules) if r.guard is not None]
        #: (excluded, rule) -> excluded with that rule too: a record failing a guard
        self._failed: dict[tuple[frozenset[int], int], frozenset[int]] = {}
        self._slash_needles = any(
            b"/" in n for i in self._prefiltered for g in self.rules[i].needs for n, _ in g
        )
        self._typed = any(r.identity_type is not None for r in self.rules)
        self._folded_needles = any(f for i in self._prefiltered for g in self.rules[i].needs for _, f in g)
        self._parser: Any = None
        self._raw_dispatch: dict[tuple[Any, Any, Any, frozenset[int]], tuple[tuple[int, ...], Any, bool]] = {}
        #: hit column values already encoded as JSON text
        self._encoded: dict[str | None, bytes] = {}
        #: per rule, the start of its hits' JSON lines up to the file's name
        self._rule_parts: dict[int, str] = {}
        #: per rule, the hits of the current file that kept their record text
        self._kept: dict[int, int] = {}
        #: the workers' lock around appending to ``--output`` (one write per file, never interleaved)
        self.lock: Any = None

    # ---- dispatch and evaluation

    def candidates(
        self, source: Any, name: Any, identity: Any = _ARRAY, excluded: frozenset[int] = frozenset()
    ) -> tuple[tuple[int, ...], Any, bool]:
        """The rules a record with these dispatch keys can match, the top-level keys they read (None: the
        whole record), and whether narrowing by ``userIdentity.type`` would drop some (then ask again with
        ``identity``, the record's :func:`identity_key`). ``excluded``: rules its document cannot match."""
        key = (_key(source), _key(name), identity, excluded)
        found = self._dispatch.get(key)
        if found is None:
            if len(self._dispatch) >= DISPATCH_CACHE:
                self._dispatch.clear()
            chosen = tuple(
                i for i, rule in enumerate(self.rules) if i not in excluded and rule.admits(*key[:3])
            )
            reads = [self.rules[i].top_keys for i in chosen]
            keys = None if any(r is None for r in reads) else frozenset().union(*reads)  # type: ignore[arg-type]
            typed = identity is _ARRAY and any(self.rules[i].identity_type is not None for i in chosen)
            found = self._dispatch[key] = (chosen, keys, typed)
        return found

    def _entry(
        self, source: Any, name: Any, identity: Any, excluded: frozenset[int]
    ) -> tuple[tuple[int, ...], Any, bool]:
        """:meth:`candidates`, remembered by the raw eventSource/eventName strings (no fold per record:
        the same strings always give the same entry)."""
        plain = type(source) is str and type(name) is str
        key = (source, name, identity, excluded)
        found = self._raw_dispatch.get(key) if plain else None
        if found is None:
            found = self.candidates(source, name, identity, excluded)
            if plain and len(self._raw_dispatch) < DISPATCH_CACHE:
                self._raw_dispatch[key] = found
        return found

    def inside(self, time: Any) -> bool:
        """``--since``/``--until`` on ``eventTime`` (a record without a readable time is outside any window)."""
        since, until = self.job.since, self.job.until
        if since is None and until is None:
            return True
        moment = iso_moment(time)
        if moment is None:
            return False
        return (since is None or moment >= since) and (until is None or moment < until)

    # ---- files

    def scan(self, index: int, file: LogFile) -> FileOutcome:
        outcome = FileOutcome(index)
        self._kept = {}
        self._start_file(file)
        try:
            self._fast(file, outcome)
        except _Fallback:
            self._parser = None  # a fresh parser: no proxy of the abandoned document may outlive it
            outcome = FileOutcome(index)
            self._kept = {}
            self._start_file(file)
            self._slow(file, outcome)
        self._flush_lines()
        return outcome

    def _start_file(self, file: LogFile) -> None:
        self._file = file.name
        self._prefixes: dict[int, bytes] = {}
        self._file_part: str | None = None
        self._lines: list[bytes] | None = [] if self.job.jsonl_path is not None else None

    def _fast(self, file: LogFile, outcome: FileOutcome) -> None:
        if file.slow:
            raise _Fallback
        try:
            raw = file.path.read_bytes()
            data = igzip.decompress(raw) if file.gzip else raw  # ISA-L: about twice zlib's speed
        except (OSError, EOFError, ValueError) as error:  # corrupt or truncated: the Python reader locates it
            raise _Fallback from error
        try:
            self._documents(data, outcome)
        except (ValueError, RuntimeError, TypeError, KeyError, IndexError, OverflowError) as error:
            raise _Fallback from error

    def _documents(self, data: bytes, outcome: FileOutcome) -> None:
        parser = self._parser or Parser()
        self._parser = parser
        start = _FIRST_BYTE.match(data)
        if start is not None and start.group(1) in b"{[":
            try:  # one document (CloudTrail's own files, an array): parsed without copying the text
                document = parser.parse(data)
            except ValueError:  # more than one: JSON lines (a real syntax error falls back per line)
                if start.group(1) == b"[":
                    raise
            else:
                self._document(document, outcome, *self._text_facts(data))
                return
        for line in data.split(b"\n"):
            if line.strip():
                self._document(parser.parse(line), outcome, *self._text_facts(line))

    def _text_facts(self, data: bytes) -> tuple[frozenset[int], bool]:
        """What the raw JSON document ``data`` tells before it is read: the rules without dispatch values
        none of its records can match (:func:`doc_needs_met`), and whether a record of it may have a
        top-level key ``"userIdentity.type"`` (the evaluator looks that up too: :func:`identity_key`)."""
        excluded: frozenset[int] = frozenset()
        u_escaped: bool | None = None
        if self._prefiltered:
            # A \u escape may spell any character of a needle: then nothing is excluded. One pass finds
            # out for both escapes in the common case of neither (re finds a two-byte text faster than ``in``).
            escaped = _ANY_ESCAPE.search(data) is not None
            u_escaped = escaped and _U_ESCAPE.search(data) is not None
            if not u_escaped:
                slashed = escaped and self._slash_needles and _SLASH_ESCAPE.search(data) is not None
                lowered = None  # asked for only if a needle is folded
                if self._folded_needles and (
                    data.isascii() or not any(c in data for c in _FOLDS_TO_ASCII_UTF8)
                ):
                    lowered = data.lower()
                excluded = frozenset(
                    i for i in self._prefiltered if not doc_needs_met(self.rules[i], data, lowered, slashed)
                )
        dotted = False
        if self._typed:  # a key is in the text as written unless an escape spells it
            if u_escaped is None:
                u_escaped = _U_ESCAPE.search(data) is not None
            dotted = u_escaped or _DOTTED_IDENTITY in data
        return excluded, dotted

    def _document(
        self,
        document: Any,
        outcome: FileOutcome,
        excluded: frozenset[int] = frozenset(),
        dotted: bool = True,
    ) -> None:
        """The records of a parsed document; ``dotted``: whether one may have a top-level
        ``"userIdentity.type"`` key (else its identity is read without listing the record's keys)."""
        records: Any
        if isinstance(document, _Array):
            records = document
        elif isinstance(document, _Object):
            inner = document.get("Records")
            if isinstance(inner, _Array):
                records = inner
            elif inner is not None or any(k in document for k in ("logEvents", "events", "detail-type")):
                raise _Fallback  # the other wrappers of inputs.unwrap, and a Records that is not a list
            else:
                records = (document,)
        else:
            raise _Fallback
        windowed = self.job.since is not None or self.job.until is not None
        entry_of = self._entry
        guards = self._guards
        for record in records:
            if type(record) is not _Object:
                raise _Fallback  # the Python reader locates it, with its line
            name = record.get("eventName", _MISSING)
            if name is _MISSING:
                raise _Fallback
            if windowed and not self.inside(record.get("eventTime")):
                outcome.outside_window += 1
                continue
            outcome.records += 1
            source = record.get("eventSource")
            ruled_out = excluded
            for key, values, index in guards:
                value = record.get(key, _MISSING)
                if type(value) is str:
                    if casing.fold(value) in values:
                        continue
                elif value is not _MISSING:
                    folded = _key(value)
                    if folded is _ARRAY or folded in values:
                        continue
                ruled_out = self._failing(ruled_out, index)
            chosen, keys, typed = entry_of(source, name, _ARRAY, ruled_out)
            if not chosen:
                continue
            present = None
            if typed:
                if dotted:
                    present = list(record.keys())
                    identity = _lazy_identity_key(record, present)
                else:
                    identity = _plain_identity_key(record)
                chosen, keys, _ = entry_of(source, name, identity, ruled_out)
                if not chosen:
                    continue
            if present is None:
                present = list(record.keys())
            self._evaluate(chosen, _materialize(record, keys, present), outcome, record, present)

    def _failing(self, excluded: frozenset[int], rule: int) -> frozenset[int]:
        """``excluded`` and ``rule`` (a record failed its guard), one frozenset per pair."""
        found = self._failed.get((excluded, rule))
        if found is None:
            if len(self._failed) > DISPATCH_CACHE:
                self._failed.clear()
            found = self._failed[(excluded, rule)] = excluded | {rule}
        return found

    def _slow(self, file: LogFile, outcome: FileOutcome) -> None:
        records, errors = read_records(file)
        outcome.errors = [(e.message, e.location.line, e.hint) for e in errors]
        for _, record in records:
            if not self.inside(record.get("eventTime")):
                outcome.outside_window += 1
                continue
            outcome.records += 1
            source, name = record.get("eventSource"), record.get("eventName")
            chosen, _, typed = self._entry(source, name, _ARRAY, frozenset())
            if chosen and typed:
                chosen, _, _ = self._entry(source, name, identity_key(record), frozenset())
            if chosen:
                self._evaluate(chosen, record, outcome, None)

    def _evaluate(
        self,
        chosen: tuple[int, ...],
        record: dict[str, Any],
        outcome: FileOutcome,
        lazy: Any,
        present: list[str] | None = None,
    ) -> None:
        rules = self.rules
        matched = [i for i in chosen if rules[i].root.matches(record)]
        if not matched:
            return
        columns = _hit_columns(record) if lazy is None else _lazy_hit_columns(record, lazy, present)
        raw: bytes | None = None
        if self._lines is not None:
            raw = _record_bytes(record, lazy)
            tail = self._tail(columns)
            for i in matched:
                self._lines += [self._prefix(i), tail, raw, b"}\n"]
        if not self.job.send_hits:  # the rule's summary is all the command needs of a hit
            stats = outcome.stats
            moment, principal, address = columns[0], columns[4], columns[5]
            for i in matched:
                found = stats.get(i)
                if found is None:
                    found = stats[i] = RuleStats()
                found.add(moment, principal, address)
            return
        keep = self.job.keep_records
        record_text: str | None = None
        for i in matched:
            wanted = keep is None or self._kept.get(i, 0) < keep
            if wanted:
                self._kept[i] = self._kept.get(i, 0) + 1
                if record_text is None:
                    record_text = (raw or _record_bytes(record, lazy)).decode("utf-8")
            outcome.hits.append((i, *columns, record_text if wanted else None))

    def _tail(self, columns: tuple[str | None, ...]) -> bytes:
        """The hit columns of a JSON line (:func:`.results.jsonl_line`), up to the record's text."""
        encoded = self._encoded
        if len(encoded) > DISPATCH_CACHE:
            encoded.clear()
        parts: list[bytes] = []
        last = len(columns) - 1
        for i, value in enumerate(columns):
            parts.append(_TAIL_KEYS[i])
            if i == 0 or i == last:  # eventTime and eventID: new in (almost) every record
                parts.append(_json_text(value))
                continue
            text = encoded.get(value)
            if text is None:  # the same source, name, region or principal recurs: encoded once
                text = encoded[value] = _json_text(value)
            parts.append(text)
        parts.append(_TAIL_END)
        return b"".join(parts)

    def _prefix(self, rule: int) -> bytes:
        """The start of a hit's JSON line for ``rule`` in the current file (:func:`.results.jsonl_line`)."""
        found = self._prefixes.get(rule)
        if found is None:
            start = self._rule_parts.get(rule)
            if start is None:
                r = self.rules[rule]
                fields = {"rule_title": r.title, "rule_id": r.id, "rule_level": r.level, "rule_path": r.path}
                start = self._rule_parts[rule] = json.dumps(fields, ensure_ascii=False)[:-1]
            if self._file_part is None:
                self._file_part = f', "file": {json.dumps(self._file, ensure_ascii=False)}, '
            found = self._prefixes[rule] = (start + self._file_part).encode("utf-8")
        return found

    def _flush_lines(self) -> None:
        """This file's JSON lines, appended to ``--output`` in one write (under the workers' lock)."""
        if not self._lines or self.job.jsonl_path is None:
            return
        block = b"".join(self._lines)
        with (
            self.lock if self.lock is not None else contextlib.nullcontext(),
            open(self.job.jsonl_path, "ab") as out,
        ):
            out.write(block)


def _record_bytes(record: Any, lazy: Any) -> bytes:
    """The record's JSON text: simdjson's minified text of the parsed record, or ``json.dumps`` of it."""
    if lazy is not None:
        return lazy.mini  # type: ignore[no-any-return]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _key(value: Any) -> Any:
    """A dispatch key: the folded text of a scalar (numbers and booleans as their JSON text)."""
    if isinstance(value, str):
        return casing.fold(value)
    if value is None:
        return None
    if isinstance(value, (list, tuple, _Array)):
        return _ARRAY
    text = as_text(value)
    return None if text is None else casing.fold(text)
