"""A rule file parsed once into both its data and the YAML positions of what checks talk about.

pySigma keeps the file path but not lines, so checks look the line up here: the position of each detection
item's key and of each of its values, of each tag, and of each top-level key. One libyaml pass (C loader when
available) builds the node tree; the Python data is constructed from the same nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: ``# sigma-lambda: ignore[check_a, check_b]`` silences those checks on its own line (or, on a line of its
#: own, on the next line); ``# sigma-lambda: ignore-file[check_a]`` anywhere silences them for the whole
#: file. ``all`` stands for every check.
_DIRECTIVE: Final = re.compile(r"#\s*sigma-lambda:\s*(ignore|ignore-file)\[([^\]]*)\]")


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


def _pos(node: yaml.Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass(frozen=True)
class ValueAt:
    value: Any
    pos: Pos


@dataclass(frozen=True)
class DetectionItem:
    """``field|mod1|mod2: value(s)`` inside one AND-ed map of a detection (``field`` None for keywords)."""

    detection: str
    group: int  # index of the AND-ed map within the detection
    field: str | None
    modifiers: tuple[str, ...]
    pos: Pos
    values: tuple[ValueAt, ...]


@dataclass
class RuleSource:
    path: str
    text: str
    data: Any = None
    yaml_error: tuple[str, Pos | None] | None = None
    top_keys: dict[str, Pos] = field(default_factory=dict)
    tags: dict[str, Pos] = field(default_factory=dict)
    items: list[DetectionItem] = field(default_factory=list)
    ignore_lines: dict[int, frozenset[str]] = field(default_factory=dict)
    ignore_file: frozenset[str] = frozenset()
    multi_document: bool = False

    def suppressed(self, check: str, line: int | None) -> bool:
        if "all" in self.ignore_file or check in self.ignore_file:
            return True
        ids = self.ignore_lines.get(line or 0, frozenset())
        return "all" in ids or check in ids


def load(path: str, text: str) -> RuleSource:
    """Parse ``text``; a YAML error is recorded (with its position), never raised."""
    src = RuleSource(path=path, text=text)
    _scan_directives(src)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        src.data = loader.construct_document(node) if node is not None else None
    except yaml.composer.ComposerError:  # several documents: positions of the first only
        src.multi_document = True
        try:
            src.data = list(yaml.load_all(text, Loader=_Loader))
        except yaml.YAMLError as e:
            src.yaml_error = _yaml_error(e)
        return src
    except yaml.YAMLError as e:
        src.yaml_error = _yaml_error(e)
        return src
    finally:
        loader.dispose()
    if isinstance(node, yaml.MappingNode):
        _index(src, node)
    return src


def _yaml_error(e: yaml.YAMLError) -> tuple[str, Pos | None]:
    mark = getattr(e, "problem_mark", None)
    pos = Pos(mark.line + 1, mark.column + 1) if mark is not None else None
    return (str(getattr(e, "problem", None) or e), pos)


def _scan_directives(src: RuleSource) -> None:
    ignore_file: set[str] = set()
    for number, line in enumerate(src.text.splitlines(), start=1):
        for m in _DIRECTIVE.finditer(line):
            ids = frozenset(x.strip() for x in m.group(2).split(",") if x.strip())
            if m.group(1) == "ignore-file":
                ignore_file |= ids
            else:
                target = number + 1 if line.lstrip().startswith("#") else number
                src.ignore_lines[target] = src.ignore_lines.get(target, frozenset()) | ids
    src.ignore_file = frozenset(ignore_file)


def _scalar(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _index(src: RuleSource, root: yaml.MappingNode) -> None:
    for key_node, value_node in root.value:
        key = _scalar(key_node)
        if key is None:
            continue
        src.top_keys.setdefault(key, _pos(key_node))
        if key == "tags" and isinstance(value_node, yaml.SequenceNode):
            for tag in value_node.value:
                if (name := _scalar(tag)) is not None:
                    src.tags.setdefault(name, _pos(tag))
        elif key == "detection" and isinstance(value_node, yaml.MappingNode):
            src.items = list(_detection_items(value_node))


def _detection_items(detection: yaml.MappingNode) -> Iterator[DetectionItem]:
    for key_node, value_node in detection.value:
        name = _scalar(key_node)
        if name is None or name == "condition":
            continue
        if isinstance(value_node, yaml.MappingNode):
            yield from _map_items(name, 0, value_node)
        elif isinstance(value_node, yaml.SequenceNode):
            keywords = [v for v in value_node.value if isinstance(v, yaml.ScalarNode)]
            if keywords:
                yield DetectionItem(name, 0, None, (), _pos(value_node), tuple(_values(value_node)))
            for group, element in enumerate(value_node.value):
                if isinstance(element, yaml.MappingNode):
                    yield from _map_items(name, group, element)


def _map_items(detection: str, group: int, node: yaml.MappingNode) -> Iterator[DetectionItem]:
    for key_node, value_node in node.value:
        key = _scalar(key_node)
        if key is None:
            continue
        field_name, *modifiers = key.split("|")
        yield DetectionItem(
            detection,
            group,
            field_name or None,
            tuple(m.lower() for m in modifiers),
            _pos(key_node),
            tuple(_values(value_node)),
        )


def _values(node: yaml.Node) -> Iterator[ValueAt]:
    nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for n in nodes:
        if isinstance(n, yaml.ScalarNode):
            yield ValueAt(_construct_scalar(n), _pos(n))


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    """The scalar as YAML typed it: only strings matter to the checks; ``null`` is None, others stay text."""
    if node.tag.endswith(":null"):
        return None
    return node.value
