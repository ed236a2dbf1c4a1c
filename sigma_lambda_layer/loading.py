"""Reading Sigma rules from files, folders, stdin, strings and pySigma objects.

pySigma parses YAML with PyYAML's pure-Python loader and keeps no positions. We parse with the libyaml C
loader where available (about ten times faster on large rule sets), refuse duplicate keys, bound the size of
what a file may expand to, and keep each file's text so that errors can be located afterwards
(:func:`locate`). Each file is parsed once; :class:`LoadedFile` can hand out fresh pySigma rule objects as
often as needed, because pySigma's pipelines modify the rule they are applied to.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from sigma_lambda_layer.errors import Location, RuleLoadError

#: Largest rule file read, in bytes. SigmaHQ's largest rule is under 40 KB; 1 MiB leaves room for big
#: generated rules while keeping a hostile file from exhausting memory.
MAX_FILE_BYTES: Final = 1024 * 1024
#: Largest number of YAML nodes a file may expand to once aliases are followed ("billion laughs" guard).
MAX_EXPANDED_NODES: Final = 200_000
#: Deepest nesting accepted in a rule document.
MAX_DEPTH: Final = 64
#: Deepest nesting accepted in a condition (brackets plus chained ``not``). pySigma's condition parser
#: (pyparsing's ``infix_notation``) and the backends recurse per level, and 200 ``not`` in a row exhausted
#: Python's recursion limit; SigmaHQ's deepest condition nests 4 levels.
MAX_CONDITION_DEPTH: Final = 32

STDIN: Final = "-"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _RuleLoader(_Loader):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate mapping keys (YAML 1.2 forbids them; PyYAML keeps the last)."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: SafeConstructor reports it
            break
        if duplicate:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})", mark
            )
        seen[key] = key_node
    result: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return result


_RuleLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class LoadedFile:
    """One rule file (or string, or stdin) parsed into YAML documents."""

    path: str
    text: str
    documents: list[Any]

    def fresh_documents(self) -> list[Any]:
        """Deep copies of the parsed documents, for a new pySigma parse."""
        return copy.deepcopy(self.documents)


@dataclass
class LoadResult:
    files: list[LoadedFile] = field(default_factory=list)
    errors: list[RuleLoadError] = field(default_factory=list)
    #: pySigma objects passed in directly (no text to locate errors in).
    objects: list[Any] = field(default_factory=list)


def _expanded_size(obj: Any, budget: int, depth: int = 0) -> int:
    """Count nodes with aliases expanded, stopping as soon as the budget or depth limit is passed."""
    if depth > MAX_DEPTH:
        raise RuleLoadError(f"rule is nested deeper than {MAX_DEPTH} levels", hint="flatten the rule")
    count = 1
    if isinstance(obj, dict):
        items: Iterable[Any] = (v for kv in obj.items() for v in kv)
    elif isinstance(obj, list):
        items = obj
    else:
        return 1
    for item in items:
        count += _expanded_size(item, budget - count, depth + 1)
        if count > budget:
            raise RuleLoadError(
                f"rule expands to more than {MAX_EXPANDED_NODES} YAML nodes (YAML alias expansion?)",
                hint="Sigma rules do not need YAML anchors and aliases; remove them",
            )
    return count


def parse_text(text: str, path: str) -> LoadedFile:
    """Parse YAML text into documents, raising :class:`RuleLoadError` with a location."""
    try:
        documents = list(yaml.load_all(text, Loader=_RuleLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleLoadError(
            f"invalid YAML: {problem}",
            location=Location(path, line, column),
            hint=_yaml_hint(problem),
        ) from None
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"invalid YAML: {exc}", location=Location(path)) from None
    except RecursionError:
        raise RuleLoadError(
            f"rule is nested deeper than {MAX_DEPTH} levels", location=Location(path)
        ) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # A scalar the safe constructor resolves but cannot build, e.g. the timestamp 2024-13-45.
        line, column = _unbuildable_scalar(text)
        raise RuleLoadError(
            f"invalid YAML value: {exc}",
            location=Location(path, line, column),
            hint="quote the value to keep it a string (dates are written YYYY-MM-DD)",
        ) from None
    try:
        _expanded_size(documents, MAX_EXPANDED_NODES)
    except RuleLoadError as exc:
        raise RuleLoadError(exc.message, location=Location(path, 1), hint=exc.hint) from None
    for index, doc in enumerate(documents):
        if doc is not None and not isinstance(doc, dict):
            raise RuleLoadError(
                f"YAML document {index + 1} is a {type(doc).__name__}, not a mapping of rule fields",
                location=Location(path, _document_line(text, index)),
                hint="a Sigma rule is a YAML mapping with title, logsource, detection, ...",
            )
    if not any(doc is not None for doc in documents):
        raise RuleLoadError("file holds no Sigma rule (empty YAML)", location=Location(path))
    for index, doc in enumerate(documents):
        shape = _shape_problem(doc)
        if shape is not None:
            message, hint = shape
            line, column = locate(text, message, index)
            raise RuleLoadError(message, location=Location(path, line, column), hint=hint)
        _defuse_selectors(doc)
    return LoadedFile(path=path, text=text, documents=documents)


_OF_PATTERN = re.compile(r"\b(?:1|any|all)\s+of\s+([^\s()]+)")


def _shape_problem(doc: Any) -> tuple[str, str] | None:
    """Shapes pySigma accepts but then crashes on, or turns into a query that matches too much.

    A non-string condition makes pySigma's condition parser raise ``TypeError``; a null selection reaches
    the backends as a bare null; and ``1 of pattern`` whose pattern names no selection parses to nothing, so
    the backends silently drop it (a query matching every event). Each is refused here, located.
    """
    if not isinstance(doc, dict):
        return None
    rule_id = doc.get("id")
    if rule_id is not None and not isinstance(rule_id, str):
        return f"rule 'id' is a {type(rule_id).__name__}, not a UUID string", "rule ids are UUID strings"
    detection = doc.get("detection")
    if not isinstance(detection, dict):
        return None
    names = [k for k in detection if k != "condition"]
    for name in names:
        if detection[name] is None:
            return (
                f"selection '{name}' is empty (null)",
                "give the selection at least one field: value, or remove it",
            )
    for name in names:
        problem = _modifier_problem(detection[name]) or _inexact_number(detection[name])
        if problem is not None:
            return problem
    conditions = detection.get("condition")
    items = conditions if isinstance(conditions, list) else [conditions]
    for condition in items:
        if condition is None and "condition" not in detection:
            return None  # pySigma reports the missing condition itself
        if not isinstance(condition, str):
            kind = "null" if condition is None else type(condition).__name__
            return (
                f"condition must be a string or a list of strings, not {kind}",
                "write the condition as text, e.g. 'condition: selection and not filter'",
            )
        depth = condition_depth(condition)
        if depth > MAX_CONDITION_DEPTH:
            return (
                f"condition nests {depth} levels (brackets and 'not'), over the limit of {MAX_CONDITION_DEPTH}",
                "simplify the condition: 'not not x' is x, and brackets around a single name can go",
            )
        for pattern in _OF_PATTERN.findall(condition):
            if pattern == "them":
                continue
            if not any(isinstance(n, str) and glob_match(pattern, n) for n in names):
                return (
                    f"'{pattern}' in the condition names no selection",
                    f"selections are: {', '.join(map(str, names)) or 'none'}",
                )
            if pattern.count("*") > 1:
                odd = [
                    n
                    for n in names
                    if isinstance(n, str) and glob_match(pattern, n) and not _IDENTIFIER.match(n)
                ]
                if odd:
                    return (
                        f"'{pattern}' matches selection '{odd[0]}', whose name cannot be written in a condition",
                        "patterns with several '*' are spelled out as names (see docs/hostile-input.md); "
                        "rename the selection to letters, digits, '_' and '-'",
                    )
    return None


_CONDITION_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def condition_depth(condition: str) -> int:
    """How deep a condition nests: brackets, plus ``not`` applied to ``not`` or to a bracket.

    Linear in the text and without recursion, so it can run before pySigma's recursive parser. Each bracket
    level and each pending ``not`` counts one; a name or ``1 of x`` ends the ``not`` chain before it.
    """
    pending = [0]  # pending ``not`` per open bracket level
    deepest = 0
    for token in _CONDITION_TOKEN.findall(condition):
        lowered = token.lower()
        if token == "(":
            pending.append(0)
        elif token == ")":
            if len(pending) > 1:
                pending.pop()
            pending[-1] = 0
        elif lowered == "not":
            pending[-1] += 1
        elif lowered not in ("and", "or", "of", "1", "any", "all"):
            deepest = max(deepest, len(pending) - 1 + sum(pending))
            pending[-1] = 0
        deepest = max(deepest, len(pending) - 1 + sum(pending))
    return deepest


def glob_match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches a ``1 of`` pattern, where ``*`` is any run of characters.

    The classic greedy two-pointer walk (backtrack only to the last ``*``): O(len(pattern) * len(name)) in the
    worst case, never exponential. A regular expression built from the pattern (``.*`` per star, as pySigma
    does) backtracks polynomially in the number of stars: ``*a*a*a*a*a*a*a*a*b`` against a 60-character name
    took over a minute.
    """
    p = n = 0
    star = -1
    resume = 0
    while n < len(name):
        if p < len(pattern) and pattern[p] != "*" and pattern[p] == name[n]:
            p += 1
            n += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, n
            p += 1
        elif star >= 0:
            p = star + 1
            resume += 1
            n = resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


#: A ``1 of`` pattern as pySigma's condition grammar reads it (``Word(alphanums + "*_")``), and the names it
#: can refer to by ``identifier`` (``Word(alphanums + "_-")``).
_SELECTOR = re.compile(r"\b(1|any|all)(\s+of\s+)([A-Za-z0-9_*]+)")
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+\Z")


def _expand_selectors(condition: str, names: Sequence[str]) -> str | None:
    """``condition`` with each ``1 of``/``all of`` pattern of two or more stars spelled out, or None.

    pySigma resolves a pattern with ``re.compile(pattern.replace("*", ".*")).fullmatch(name)`` for every
    selection (``sigma.conditions.ConditionSelector``), which backtracks polynomially in the number of stars
    (see :func:`glob_match`). A single star is linear and left alone (``1 of selection_*`` is the common
    form); two or more are replaced, before pySigma sees the condition, by the bracketed ``or``/``and`` of the
    selections they match (found linearly), which is what pySigma would have built. As pySigma does, names
    starting with ``_`` match only a pattern starting with ``_``. None when nothing needed replacing.
    """
    changed = False

    def spell(match: re.Match[str]) -> str:
        nonlocal changed
        quantifier, pattern = match.group(1), match.group(3)
        if pattern.count("*") < 2:
            return match.group(0)
        matched = [
            n for n in names if glob_match(pattern, n) and (pattern.startswith("_") or not n.startswith("_"))
        ]
        if not matched or not all(_IDENTIFIER.match(n) for n in matched):
            return match.group(0)  # refused by the shape check, or not expressible: leave it to pySigma
        changed = True
        joiner = " and " if quantifier == "all" else " or "
        return "(" + joiner.join(matched) + ")"

    expanded = _SELECTOR.sub(spell, condition)
    return expanded if changed else None


def _defuse_selectors(doc: Any) -> None:
    """Spell out costly ``1 of`` patterns in ``doc``'s condition(s), in place (see :func:`_expand_selectors`)."""
    detection = doc.get("detection") if isinstance(doc, dict) else None
    if not isinstance(detection, dict):
        return
    names = [k for k in detection if k != "condition" and isinstance(k, str)]
    conditions = detection.get("condition")
    if isinstance(conditions, str):
        expanded = _expand_selectors(conditions, names)
        if expanded is not None:
            detection["condition"] = expanded
    elif isinstance(conditions, list):
        for index, condition in enumerate(conditions):
            if isinstance(condition, str):
                expanded = _expand_selectors(condition, names)
                if expanded is not None:
                    conditions[index] = expanded


#: Modifiers that turn one value into several, and those that re-encode a value.
_EXPANDING = frozenset({"windash", "base64offset"})
_ENCODING = frozenset({"base64", "base64offset", "windash", "wide", "utf16", "utf16le", "utf16be"})


def _modifier_problem(selection: Any) -> tuple[str, str] | None:
    """Modifier chains pySigma accepts but no backend can convert (every target crashed on them).

    ``fieldref`` after an encoding modifier would compare a field with an encoded field *name*, and two
    expanding modifiers in one chain (``windash|base64offset``) nest expansions that pySigma's backends cannot
    walk.
    """
    maps = selection if isinstance(selection, list) else [selection]
    for mapping in maps:
        if not isinstance(mapping, dict):
            continue
        for key in mapping:
            if not isinstance(key, str) or "|" not in key:
                continue
            modifiers = [m.lower() for m in key.split("|")[1:]]
            if "fieldref" in modifiers and _ENCODING & set(modifiers[: modifiers.index("fieldref")]):
                return (
                    f"modifier chain '{key}' encodes a field reference",
                    "fieldref compares with another field's value; drop the encoding modifiers",
                )
            if len(_EXPANDING & set(modifiers)) > 1:
                return (
                    f"modifier chain '{key}' nests two expanding modifiers (windash and base64offset)",
                    "split the selection: one item with |windash, one with |base64offset",
                )
    return None


def _inexact_number(selection: Any) -> tuple[str, str] | None:
    """An integer pySigma would silently turn into a different number.

    ``sigma.types.SigmaNumber`` keeps an int only when ``int(v) == float(v)``; past 2**53 most integers are
    not, so ``123456789012345678901234567890`` became ``1.2345678901234568e+29`` and ``|gt: 9007199254740993``
    became ``> 9007199254740992.0`` in every query (a silently different rule). Refused, located.
    """
    stack = [selection]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(reversed(list(node.values())))  # reversed: the first in the file is found first
        elif isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, int) and not isinstance(node, bool):
            try:
                exact = int(float(node)) == node
            except OverflowError:
                exact = False
            if not exact:
                return (
                    f"the number '{node}' cannot be kept exactly: pySigma reads integers past 2**53 as "
                    "floating point",
                    f"quote it ('{node}') to match its text, or use a number within +-9007199254740992",
                )
    return None


def _unbuildable_scalar(text: str) -> tuple[int | None, int | None]:
    """Line and column of the first scalar that the safe constructor fails to build."""
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError):
        return None, None
    builder = _RuleLoader("")
    stack: list[yaml.Node] = [d for d in documents if d is not None]
    while stack:
        node = stack.pop(0)
        if isinstance(node, yaml.ScalarNode):
            try:
                builder.construct_object(node, deep=True)
            except (ValueError, TypeError, OverflowError, yaml.YAMLError):
                return node.start_mark.line + 1, node.start_mark.column + 1
        elif isinstance(node, yaml.MappingNode):
            stack[:0] = [n for kv in node.value for n in kv]
        elif isinstance(node, yaml.SequenceNode):
            stack[:0] = list(node.value)
    return None, None


def _yaml_hint(problem: str) -> str:
    if "constructor for the tag" in problem:
        return (
            "YAML tags (!!python/..., !custom) are refused: rules are read with a safe loader that builds "
            "only plain maps, lists, strings and numbers"
        )
    if "nesting depth" in problem:
        return f"flatten the rule; Sigma rules need only a few levels (limit {MAX_DEPTH})"
    return "check indentation, quoting and that every key appears once"


def decode(data: bytes, path: str) -> str:
    """Decode rule bytes as UTF-8, locating the first bad byte."""
    if b"\x00" in data:
        raise RuleLoadError("file is binary (contains NUL bytes), not a YAML rule", location=Location(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise RuleLoadError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            location=Location(path, line, column),
            hint="Sigma rules are UTF-8 text",
        ) from None


def read_bytes(path: Path) -> bytes:
    """A rule file's bytes, within :data:`MAX_FILE_BYTES`; :class:`RuleLoadError` when it cannot be read."""
    name = str(path)
    try:
        size = regular_file(path).st_size
        if size > MAX_FILE_BYTES:
            raise RuleLoadError(
                f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for one rule file",
                location=Location(name),
                hint="split the file into one rule per file",
            )
        with path.open("rb") as handle:  # read at most one byte past the limit: the file may grow
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise RuleLoadError(
                f"file grew past the {MAX_FILE_BYTES}-byte limit for one rule file while being read",
                location=Location(name),
            )
        return data
    except OSError as exc:
        raise RuleLoadError(f"cannot read file: {exc.strerror or exc}", location=Location(name)) from None


def regular_file(path: Path) -> os.stat_result:
    """``path``'s status, raising a located :class:`RuleLoadError` unless it is a regular file.

    Called before any input file is opened: a FIFO blocks the batch for ever and ``/dev/zero`` grows without
    end. ``OSError`` (missing, unreadable) is left to the caller, which words it for what it reads.
    """
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise RuleLoadError(
            f"not a regular file ({_kind(st.st_mode)}), refused",
            location=Location(str(path)),
            hint="inputs are plain files; remove the device, pipe or socket from the folder",
        )
    return st


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


def read_stdin(stream: Any = None) -> str:
    """Standard input as text, within :data:`MAX_FILE_BYTES` like a file (68 MB once took 1.9 GB)."""
    stream = sys.stdin if stream is None else stream
    source = getattr(stream, "buffer", None)
    data: bytes | str = (source if source is not None else stream).read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise RuleLoadError(
            f"standard input is over the {MAX_FILE_BYTES}-byte limit for one rule file",
            location=Location("<stdin>"),
            hint="pass the rules as files or a folder instead",
        )
    return decode(data, "<stdin>") if isinstance(data, bytes) else data


def read_file(path: Path) -> LoadedFile:
    return parse_text(decode(read_bytes(path), str(path)), str(path))


def _walk(
    directory: Path, seen: set[tuple[int, int]], root: Path | None = None
) -> Iterator[Path | RuleLoadError]:
    """Rule files below ``directory`` in a stable order, following symlinks once (loops are skipped).

    A symlinked folder is followed only when it resolves inside the folder given (``root``): a link to ``/``
    would otherwise walk the whole file system. Such links are reported, located, and skipped.
    """
    if root is None:
        root = directory.resolve()
    elif directory.is_symlink():
        target = directory.resolve()
        if target != root and root not in target.parents:
            yield RuleLoadError(
                f"folder symlink points outside the rules folder ({target}), not followed",
                location=Location(str(directory)),
                hint="copy the rules into the folder, or pass the link's target as an input of its own",
            )
            return
    try:
        st = directory.stat()
    except OSError as exc:
        yield RuleLoadError(f"cannot read folder: {exc.strerror or exc}", location=Location(str(directory)))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return
    seen.add(key)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        yield RuleLoadError(f"cannot read folder: {exc.strerror or exc}", location=Location(str(directory)))
        return
    for entry in entries:
        child = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir and not entry.name.endswith(".tests"):
            yield from _walk(child, seen, root)
        elif (
            entry.name.endswith((".yml", ".yaml"))
            and not entry.name.startswith(".")
            and not entry.name.endswith(".tests.yml")  # rule tests (sigma_lambda_layer.testing)
        ):
            yield child


def expand_inputs(inputs: Sequence[str | Path]) -> Iterator[Path | str | RuleLoadError]:
    """Files and folders to rule files; ``-`` passes through for stdin."""
    for item in inputs:
        if isinstance(item, str) and item == STDIN:
            yield STDIN
            continue
        path = Path(item)
        if path.is_dir():
            yield from _walk(path, set())
        elif path.exists() or path.is_symlink():
            yield path
        else:
            yield RuleLoadError("no such file or folder", location=Location(str(path)))


def _looks_like_yaml_text(value: str) -> bool:
    return "\n" in value and ":" in value


# --- locating problems after the fact -------------------------------------------------------------------

_QUOTED = re.compile(r"""['"]([^'"\n]{1,200})['"]""")
#: pyparsing's position suffix in pySigma condition errors: ``(at char 18), (line:1, col:19)``.
_CONDITION_POSITION = re.compile(r"\(at char (\d+)\)")
#: Top-level rule keys that pySigma names in plain words ("Sigma rule title must be a string").
_RULE_KEYS: Final = (
    "title",
    "id",
    "related",
    "status",
    "description",
    "references",
    "author",
    "date",
    "modified",
    "tags",
    "logsource",
    "detection",
    "fields",
    "falsepositives",
    "level",
    "scope",
    "taxonomy",
    "correlation",
    "filter",
)

#: Hints for pySigma's messages (pySigma gives none), by a word or phrase the message contains.
_HINTS: Final = (
    (
        "unknown modifier",
        "check the spelling; modifiers are listed at https://sigmahq.io/docs/basics/modifiers",
    ),
    ("not defined in detections", "define the selection under detection, or fix its name in the condition"),
    ("not defined", "define the selection under detection, or fix its name in the condition"),
    ("at least one condition", "add 'condition:' under detection, e.g. 'condition: selection'"),
    ("expected", "check the condition syntax: selection names joined by and/or/not, brackets balanced"),
    ("must be a valid yaml map", "this section is a mapping of keys to values, not a list or a scalar"),
    ("must be a string", "quote the value, or give text instead of a number, list or null"),
    ("must have a title", "add a 'title:' line with a short description of what the rule detects"),
    ("logsource", "the rule needs 'logsource:' with product: aws and service: cloudtrail"),
    ("identifier", "rule ids are UUIDs, e.g. from python -c 'import uuid; print(uuid.uuid4())'"),
    ("date", "dates are written YYYY-MM-DD"),
    ("status", "status is one of stable, test, experimental, deprecated, unsupported"),
    ("level", "level is one of informational, low, medium, high, critical"),
)


def hint_for(message: str) -> str | None:
    """A hint for a pySigma error message (pySigma errors carry none), or None."""
    lowered = message.lower()
    for phrase, hint in _HINTS:
        if phrase in lowered:
            return hint
    return None


def _document_line(text: str, index: int) -> int:
    """1-based line where YAML document ``index`` starts."""
    if index == 0:
        return 1
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---"):
            seen += 1
            if seen == index:
                return number
    return 1


def _segment(name: str) -> str:
    return name.replace("_", "").replace("{}", "").lower()


def locate(text: str, message: str, document: int = 0) -> tuple[int | None, int | None]:
    """Best-effort line and column for a pySigma message about a rule.

    pySigma errors name the offending field, modifier, identifier or value in quotes but keep no position.
    Look each quoted token up among the document's YAML keys (a detection key ``field|mod`` counts when the
    token is its field or one of its modifiers), then among its scalar values.
    """
    try:  # the loader that parsed the rule: libyaml accepts some text the pure-Python scanner refuses
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError):
        return None, None
    if document >= len(nodes) or nodes[document] is None:
        return None, None
    root = nodes[document]
    keys: list[tuple[str, yaml.Node]] = []
    values: list[tuple[str, yaml.Node]] = []

    def visit(node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    keys.append((str(k.value), k))
                visit(v)
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                visit(v)
        elif isinstance(node, yaml.ScalarNode):
            values.append((str(node.value), node))

    visit(root)
    tokens = _QUOTED.findall(message)
    lowered = message.lower()
    top: dict[str, yaml.Node] = {}
    if isinstance(root, yaml.MappingNode):
        top = {str(k.value): v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    conditions = _condition_nodes(top.get("detection"))
    position = _CONDITION_POSITION.search(message)
    if position and conditions:
        # A condition that does not parse: point at the character pyparsing stopped at.
        first = conditions[0]
        offset = int(position.group(1)) + (1 if first.style in ("'", '"') else 0)
        return first.start_mark.line + 1, first.start_mark.column + 1 + offset
    if "modifier ''" in lowered:  # an empty modifier: ``field||contains`` or ``field|``
        tokens = ["", *tokens]
    for token in tokens:
        for key, node in keys:
            if key == token or token in key.split("|")[bool(token == "") :]:
                return node.start_mark.line + 1, node.start_mark.column + 1
    for token in tokens:
        for value, node in values:
            if value == token:
                return node.start_mark.line + 1, node.start_mark.column + 1
    # A selection name used inside a longer condition ("selection and filter").
    for token in tokens:
        word = re.compile(rf"(?<![\w*]){re.escape(token)}(?![\w*])")
        for condition in conditions:
            match = word.search(str(condition.value))
            if match and "\n" not in str(condition.value)[: match.start()]:
                quote = 1 if condition.style in ("'", '"') else 0
                return condition.start_mark.line + 1, condition.start_mark.column + 1 + quote + match.start()
    # A target's own field name (``aws.cloudtrail.flattened.request_parameters.layers``) still ends with the
    # rule's last path segment (``requestParameters.layers``), modulo case and underscores.
    for token in tokens:
        tail = _segment(token.rsplit(".", 1)[-1])
        if "." in token and tail:
            for key, node in keys:
                if _segment(key.split("|")[0].rsplit(".", 1)[-1]) == tail:
                    return node.start_mark.line + 1, node.start_mark.column + 1
    if "condition" in lowered and conditions:
        return conditions[0].start_mark.line + 1, conditions[0].start_mark.column + 1
    # A top-level section named in words ("Sigma rule title must be a string", "... at least one condition"
    # when the rule has no condition: the detection it belongs in).
    words = set(re.findall(r"[a-z]+", lowered))
    if "condition" in words:
        words.add("detection")
    for key in top:
        if key.lower() in words and key in _RULE_KEYS:
            for name, node in keys:
                if name == key and node.start_mark.line == _key_line(root, key):
                    return node.start_mark.line + 1, node.start_mark.column + 1
    return root.start_mark.line + 1, None


def _key_line(root: yaml.Node, key: str) -> int | None:
    """0-based line of top-level ``key`` in ``root`` (the same key may also appear deeper)."""
    if isinstance(root, yaml.MappingNode):
        for k, _ in root.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                line: int = k.start_mark.line
                return line
    return None


def _condition_nodes(detection: yaml.Node | None) -> list[yaml.ScalarNode]:
    """The scalar node(s) of ``detection.condition`` (a string, or a list of strings)."""
    if not isinstance(detection, yaml.MappingNode):
        return []
    for k, v in detection.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "condition":
            if isinstance(v, yaml.ScalarNode):
                return [v]
            if isinstance(v, yaml.SequenceNode):
                return [n for n in v.value if isinstance(n, yaml.ScalarNode)]
    return []


def _field_of(key: str) -> tuple[str, list[str]]:
    """``field|mod1|mod2`` -> (``field``, [``mod1``, ``mod2``])."""
    field, *modifiers = key.split("|")
    return field, modifiers


def _scalars(node: yaml.Node) -> Iterator[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item)
    elif isinstance(node, yaml.MappingNode):
        for _, item in node.value:
            yield from _scalars(item)


def _detection_items(node: yaml.Node) -> Iterator[tuple[yaml.ScalarNode, yaml.Node]]:
    """Every ``key: value`` pair under ``detection`` (in selections, lists of maps, nested maps)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield key, value
            yield from _detection_items(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _detection_items(item)


def _same_value(written: str, refused: str) -> bool:
    """A YAML scalar is the refused value, the way Sigma modifiers turn one into the other (``contains``
    adds ``*`` on both sides, ``startswith``/``endswith`` on one)."""
    return written == refused or written.strip("*") == refused.strip("*") != ""


def locate_refusal(
    text: str,
    document: int,
    *,
    construct: str | None,
    fields: Sequence[str] = (),
    value: Any = None,
) -> tuple[int, int] | None:
    """Line and column of the YAML node a target refused, from what the refusal names (1-based).

    ``fields`` are the rule's names for the refused field (the API maps a target field back through the
    pipeline's field mappings). In the detection: the key of that field whose value is the refused value,
    then the value itself, then any key of the field (one with the refused modifier first); a field named
    only as a value (``|fieldref``) is found as a value. A refusal of the log source or a correlation points
    at that section; a refusal of the whole query at the detection. ``None`` when nothing matches.
    """
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError):
        return None
    if document >= len(nodes) or not isinstance(nodes[document], yaml.MappingNode):
        return None
    root = nodes[document]
    top = {str(k.value): (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}

    def at(node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    section = {"logsource": "logsource", "correlation": "correlation"}.get((construct or "").split(" ")[0])
    if section is not None and section in top:
        return at(top[section][0])
    values = (
        [str(v) for v in value] if isinstance(value, (list, tuple)) else [] if value is None else [str(value)]
    )
    modifier = (construct or "").lstrip("|") if (construct or "").startswith("|") else None
    detection = top.get("detection") or _filter_detection(top)
    if detection is not None:
        items = [(k, v) for k, v in _detection_items(detection[1]) if str(k.value) != "condition"]
        keyed = [(k, v) for k, v in items if _field_of(str(k.value))[0] in fields]
        for key, node in keyed:
            for scalar in _scalars(node):
                if any(_same_value(str(scalar.value), v) for v in values):
                    return at(scalar) if isinstance(node, yaml.SequenceNode) else at(key)
        if modifier:
            for key, _ in keyed:
                if modifier in _field_of(str(key.value))[1]:
                    return at(key)
        if keyed:
            return at(keyed[0][0])
        for _, node in items:  # a field named as a value (|fieldref), or a value without a field (keywords)
            for scalar in _scalars(node):
                if str(scalar.value) in fields or any(_same_value(str(scalar.value), v) for v in values):
                    return at(scalar)
        if modifier:
            for key, _ in items:
                if modifier in _field_of(str(key.value))[1]:
                    return at(key)
        # A target field the pipeline's tracking does not cover (a |fieldref value) still ends with the rule's
        # last path segment, modulo case and underscores (``...request_parameters.userName``).
        tails = {_segment(f.rsplit(".", 1)[-1]) for f in fields if "." in f}
        for key, node in items:
            if _segment(_field_of(str(key.value))[0].rsplit(".", 1)[-1]) in tails:
                return at(key)
            for scalar in _scalars(node):
                if "." in str(scalar.value) and _segment(str(scalar.value).rsplit(".", 1)[-1]) in tails:
                    return at(scalar)
        if (named := _named_outside_detection(top, fields)) is not None:
            return at(named)
        if construct in ("query", None) or not fields:
            return at(detection[0])
    named = _named_outside_detection(top, fields)
    return at(named) if named is not None else None


def _filter_detection(top: Mapping[str, tuple[yaml.Node, yaml.Node]]) -> tuple[yaml.Node, yaml.Node] | None:
    """A Sigma filter's ``filter`` section as a detection (its selections and condition, without the
    ``rules`` it names): a refusal of a construct an exemption brought in is located there."""
    if "filter" not in top or not isinstance(top["filter"][1], yaml.MappingNode):
        return None
    key, node = top["filter"]
    kept = [(k, v) for k, v in node.value if not (isinstance(k, yaml.ScalarNode) and k.value == "rules")]
    return key, yaml.MappingNode(node.tag, kept, node.start_mark, node.end_mark)


def _named_outside_detection(
    top: Mapping[str, tuple[yaml.Node, yaml.Node]], fields: Sequence[str]
) -> yaml.Node | None:
    """The entry naming one of ``fields`` in the rule's ``fields`` list or its correlation (``group-by``,
    ``field``): a field name refused there is located at that entry, not at the detection."""
    for section in ("fields", "correlation"):
        if section in top:
            for scalar in _scalars(top[section][1]):
                if str(scalar.value) in fields:
                    return scalar
    return None
