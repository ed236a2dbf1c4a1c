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
from collections.abc import Iterable, Iterator, Sequence
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
        problem = _modifier_problem(detection[name])
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
        for pattern in _OF_PATTERN.findall(condition):
            if pattern == "them":
                continue
            regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z")
            if not any(isinstance(n, str) and regex.match(n) for n in names):
                return (
                    f"'{pattern}' in the condition names no selection",
                    f"selections are: {', '.join(map(str, names)) or 'none'}",
                )
    return None


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RuleLoadError(
                f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for one rule file",
                location=Location(name),
                hint="split the file into one rule per file",
            )
        return path.read_bytes()
    except OSError as exc:
        raise RuleLoadError(f"cannot read file: {exc.strerror or exc}", location=Location(name)) from None


def read_file(path: Path) -> LoadedFile:
    return parse_text(decode(read_bytes(path), str(path)), str(path))


def _walk(directory: Path, seen: set[tuple[int, int]]) -> Iterator[Path | RuleLoadError]:
    """Rule files below ``directory`` in a stable order, following symlinks once (loops are skipped)."""
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
            yield from _walk(child, seen)
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
    detection = top.get("detection")
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
        if construct in ("query", None) or not fields:
            return at(detection[0])
    return None
