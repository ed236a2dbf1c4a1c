"""The registry is the dialect table: every per-target fact is there or on the backend class, nowhere else.

These tests enforce the house rule "the registry is the only place that lists targets": no target id as a
string literal in the package outside ``registry.py``; every output format declares its file; the sigma-cli
plugin shims and the docs tables are derived from the same data.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Final

import pytest

from sigma_lambda_layer.registry import TARGETS

REPO: Final = Path(__file__).resolve().parents[1]
PACKAGE: Final = REPO / "sigma_lambda_layer"
CLI_DOC: Final = REPO / "docs" / "cli.md"
#: The ids of the first targets are listed too, so that the test still bites if one left the registry.
TARGET_IDS: Final = frozenset({"splunk", "lucene", "eql", "esql", "cloudwatch", *TARGETS})
#: Literals equal to a target id that mean something else: (file, the name the literal is given to) -> why.
#: Kibana's detection-rule ``type``/``language`` and a saved search's query ``language`` are Kibana's own
#: vocabulary (``eql``, ``esql``, ``lucene``), compared or written as Kibana fields, not as target ids.
FOREIGN_VOCABULARY: Final[dict[tuple[str, str], str]] = {
    ("backends/eql.py", "detection_rule_type"): "Kibana rule type",
    ("backends/eql.py", "detection_rule_language"): "Kibana rule language",
    ("backends/esql.py", "detection_rule_type"): "Kibana rule type",
    ("backends/esql.py", "detection_rule_language"): "Kibana rule language",
    ("backends/lucene.py", "detection_rule_language"): "Kibana rule language",
    ("artifacts/kibana.py", "language"): "Kibana saved-search query language",
    ("artifacts/kibana.py", "rule_type"): "Kibana rule type (ES|QL rules take no filters)",
    ("engines/athena.py", "dialect"): "sqlglot dialect the offline Athena proxy writes",
    ("hunt/athena.py", "_BOTO3_SERVICE"): "boto3 service name of the Athena API",
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _given_to(parents: dict[int, ast.AST], node: ast.Constant) -> str:
    """The name a literal is given to: assignment target, dict key, compared name or keyword, else ``?``."""
    parent = parents.get(id(node))
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        names = [t.id if isinstance(t, ast.Name) else getattr(t, "attr", "?") for t in targets]
        return names[0] if names else "?"
    if isinstance(parent, ast.Dict):
        for key, value in zip(parent.keys, parent.values, strict=True):
            if value is node and isinstance(key, ast.Constant):
                return str(key.value)
    if isinstance(parent, ast.Compare) and isinstance(parent.left, ast.Name):
        return parent.left.id
    if isinstance(parent, ast.keyword) and parent.arg:
        return parent.arg
    return "?"


def target_id_literals(root: Path = PACKAGE) -> list[str]:
    """Every string constant equal to a target id in the package's code, outside registry.py.

    What counts: any ``str`` constant (including f-string pieces) whose whole value is a target id, wherever
    it appears: a comparison, a dict key, a default argument, a class attribute. What does not: docstrings and
    comments (not code), import paths and module names (``backends.splunk`` is not the string ``splunk``),
    longer strings that contain an id, and the listed Kibana vocabulary.
    """
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative == "registry.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in TARGET_IDS
                and id(node) not in docstrings
                and (relative, _given_to(parents, node)) not in FOREIGN_VOCABULARY
            ):
                found.append(f"sigma_lambda_layer/{relative}:{node.lineno}: {node.value!r}")
    return found


def test_no_target_id_literal_outside_the_registry() -> None:
    found = target_id_literals()
    assert not found, "target ids belong in sigma_lambda_layer/registry.py:\n" + "\n".join(found)


def test_the_literal_scan_finds_what_it_must(tmp_path: Path) -> None:
    """The scan is not blind: a comparison, a default and a dict key are found; docstrings and paths are not."""
    (tmp_path / "mod.py").write_text(
        '"""About splunk."""\n'
        "import sigma_lambda_layer.backends.splunk  # splunk\n"
        "def f(target='lucene'):\n"
        '    """cloudwatch"""\n'
        "    if target == 'eql':\n"
        "        return {'esql': 1, 'x': 'splunk is here'}\n"
    )
    assert [line.split(": ", 1)[1] for line in target_id_literals(tmp_path)] == [
        "'lucene'",
        "'eql'",
        "'esql'",
    ]


@pytest.mark.parametrize("target", list(TARGETS))
def test_target_entry_is_complete(target: str) -> None:
    entry = TARGETS[target]
    assert entry.label and entry.description and entry.language and re.fullmatch(r"[a-z]+", entry.extension)
    cls = entry.backend_class()
    assert callable(entry.view())
    assert entry.engine_ref is None or callable(entry.engine())
    declared = getattr(cls, "format_files", {})
    formats = set(entry.formats())
    # Every format but the plain query declares its file kind and extension, and only formats it has.
    assert set(declared) == formats - {"default"}, target
    assert len({o.name for o in entry.options}) == len(entry.options)


def test_plugin_shims_register_what_the_registry_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pySigma's own discovery, over copies of the shims: our backends under their ids, every pipeline."""
    import shutil

    import sigma.backends
    import sigma.pipelines
    from sigma.plugins import InstalledSigmaPlugins

    from sigma_lambda_layer.registry import PIPELINES

    shims = PACKAGE / "_plugins" / "sigma"
    for kind, folder in (("backends", "cloudwatch"), ("pipelines", "sigma_lambda")):
        shutil.copytree(shims / kind / folder, tmp_path / kind / "sigma_lambda_shim_copy")
    # Only the copies: an installed wheel's shims would claim the same ids first.
    monkeypatch.setattr(sigma.backends, "__path__", [str(tmp_path / "backends")])
    monkeypatch.setattr(sigma.pipelines, "__path__", [str(tmp_path / "pipelines")])
    backends = InstalledSigmaPlugins._discover_module_directories(sigma.backends, "backends", True)
    pipelines = InstalledSigmaPlugins._discover_module_directories(sigma.pipelines, "pipelines", True)
    for kind in ("backends", "pipelines"):
        monkeypatch.delitem(sys.modules, f"sigma.{kind}.sigma_lambda_shim_copy")
    ours = {k for k, v in backends.items() if v.__module__.endswith("sigma_lambda_shim_copy")}
    assert ours == {t.id for t in TARGETS.values() if t.sigma_cli_backend}
    for identifier in ours:
        assert issubclass(backends[identifier], TARGETS[identifier].backend_class())
    shimmed = {
        k for k, v in pipelines.items() if getattr(v, "__module__", "").endswith("sigma_lambda_shim_copy")
    }
    assert shimmed == set(PIPELINES)
    assert pipelines["aws_cloudtrail_cloudwatch"]().items  # a real pipeline, built on call


# ----------------------------------------------------------------------------- docs from the same data


def options_table() -> str:
    """docs/cli.md's options table: one row per option declaration (name, default and meaning), with the
    targets that declare it so (two targets' ``table`` options with other defaults are two rows)."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for target in TARGETS.values():
        for option in target.options:
            default = "" if option.default is None else f"`{option.default}`"
            rows.setdefault((option.shown, default, option.doc), []).append(target.id)
    lines = ["| option | targets | default | meaning |", "|---|---|---|---|"]
    for (name, default, doc), targets in rows.items():
        lines.append(f"| `{name}` | {', '.join(targets)} | {default} | {doc.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


def formats_table() -> str:
    """docs/cli.md's formats table: the file each target's formats write."""
    lines = ["| target | format | written as | file | description |", "|---|---|---|---|---|"]
    for target in TARGETS.values():
        for name, description in target.formats().items():
            file = target.format_file(name)
            text = " ".join(description.split()).replace("|", "&#124;")
            lines.append(f"| {target.id} | `{name}` | {file.kind} | `.{file.extension}` | {text} |")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("marker", "table"), [("options", options_table), ("formats", formats_table)])
def test_cli_doc_tables_are_current(request: pytest.FixtureRequest, marker: str, table: object) -> None:
    assert callable(table)
    block = re.compile(rf"(<!-- {marker}:start -->\n)(.*?)(<!-- {marker}:end -->)", re.S)
    text = CLI_DOC.read_text(encoding="utf-8")
    expected = table()
    if request.config.getoption("--update-golden"):
        text = block.sub(lambda m: m.group(1) + expected + m.group(3), text)
        CLI_DOC.write_text(text, encoding="utf-8")
    match = block.search(text)
    assert match, f"docs/cli.md lost its {marker} block"
    assert match.group(2) == expected, "run pytest tests/test_registry.py --update-golden"


@pytest.mark.parametrize("target", list(TARGETS))
def test_declared_defaults_are_the_defaults_in_effect(target: str) -> None:
    """Giving an option its declared default changes no output of any format: the declaration is the truth."""
    from sigma_lambda_layer.api import convert

    founding = REPO / "rules" / "aws_attached_malicious_lambda_layer.yml"
    entry = TARGETS[target]
    defaults = {o.name: o.default for o in entry.options if o.default is not None}
    assert defaults, f"{target} declares no option with a default"
    for fmt in entry.formats():
        plain = [r.output for r in convert(founding, target=target, format=fmt)]
        for name, default in defaults.items():
            given = [r.output for r in convert(founding, target=target, format=fmt, options={name: default})]
            assert given == plain, f"{target} {fmt}: {name}={default!r} is not the default in effect"
