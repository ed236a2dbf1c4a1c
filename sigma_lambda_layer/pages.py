"""Rule pages: one Markdown page per rule, with its query for every target, and an index.

A detection engineer reviewing a rule wants what the SigmaHQ and Elastic rule sites show (title, description,
ATT&CK mapping, status, level, known false positives, references, the rule itself) and, because this is a
compiler, the query every target gets and the exemptions folded into it. ``sigma-lambda docs`` and the MkDocs
site (``docs/rules/``) both call :func:`render_pages`.

The output is byte-identical from run to run: no timestamps, rules and groups in a stable order, and paths
shown as given (relative to the working directory when they lie under it), so the pages can be committed
and reviewed in a diff.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sigma_lambda_layer.errors import Location, RuleLoadError, SigmaLambdaError, UnsupportedConstructError
from sigma_lambda_layer.markdown import fence, md

#: Name of the index page written next to the rule pages.
INDEX_NAME: Final = "index.md"

#: ATT&CK Enterprise tactics in the order of the matrix (attack.mitre.org/tactics/enterprise/), with the
#: ATT&CK v19 tactics that replace Defense Evasion next to it (see ``checks.offline.ATTACK_V19_TACTICS``).
TACTIC_ORDER: Final[tuple[str, ...]] = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)

#: Heading of the index group for rules without an ATT&CK tactic or without an ``eventSource``.
NO_TACTIC: Final = "No ATT&CK tactic"
ANY_SERVICE: Final = "Any service (no eventSource)"

_TECHNIQUE: Final = re.compile(r"^t\d{4}(\.\d{3})?$", re.IGNORECASE)
_SMALL_WORDS: Final = frozenset({"and", "or", "of", "the"})


@dataclass(frozen=True)
class AttackTag:
    """One ``attack.*`` tag resolved against the pinned ATT&CK data."""

    tag: str
    kind: str  # "tactic", "technique", "group", "software" or "other"
    id: str | None
    name: str | None
    #: Tactic slugs a technique belongs to (empty for other kinds).
    tactics: tuple[str, ...] = ()

    @property
    def url(self) -> str | None:
        if self.id is None:
            return None
        folder = {"tactic": "tactics", "technique": "techniques", "group": "groups", "software": "software"}
        return f"https://attack.mitre.org/{folder[self.kind]}/{self.id.replace('.', '/')}/"


@dataclass
class RulePage:
    """What one page shows about one rule (everything already resolved, ready to render)."""

    path: str
    stem: str
    document: Mapping[str, Any]
    raw: str
    rule: Any  # pySigma SigmaRule, for filter matching
    attack: list[AttackTag] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    #: target id -> (query text, error), in registry order.
    queries: dict[str, tuple[str | None, SigmaLambdaError | None]] = field(default_factory=dict)
    exemptions: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.document.get("title") or self.stem)

    @property
    def tactics(self) -> list[str]:
        """Tactics named by tag; failing that, the tactics of the techniques named."""
        named = [t.tactics[0] for t in self.attack if t.kind == "tactic"]
        if not named:
            named = [tactic for t in self.attack if t.kind == "technique" for tactic in t.tactics]
        return sorted(set(named), key=_tactic_key)


def tactic_name(slug: str) -> str:
    """ATT&CK's display name for a tactic slug: ``command-and-control`` -> ``Command and Control``."""
    words = slug.split("-")
    return " ".join(w if i and w in _SMALL_WORDS else w.capitalize() for i, w in enumerate(words))


def _tactic_key(slug: str) -> tuple[int, str]:
    return (TACTIC_ORDER.index(slug) if slug in TACTIC_ORDER else len(TACTIC_ORDER), slug)


def resolve_attack_tag(tag: str) -> AttackTag | None:
    """Resolve ``attack.<name>`` with the ATT&CK data we ship (no download); ``None`` for other namespaces."""
    from sigma_lambda_layer.checks.offline import ATTACK_V19_TACTICS, attack_data

    namespace, _, name = tag.partition(".")
    if namespace.lower() != "attack" or not name:
        return None
    data = attack_data()
    slug = name.lower().replace("_", "-")
    tactic_ids = {v: k for k, v in data["mitre_attack_tactics"].items()}
    if slug in tactic_ids or slug in ATTACK_V19_TACTICS:
        return AttackTag(tag, "tactic", tactic_ids.get(slug), tactic_name(slug), (slug,))
    upper = name.upper()
    if _TECHNIQUE.match(name):
        tactics = data["mitre_attack_techniques_tactics_mapping"].get(upper, [])
        return AttackTag(
            tag,
            "technique",
            upper,
            data["mitre_attack_techniques"].get(upper),
            tuple(sorted(tactics, key=_tactic_key)),
        )
    if upper in data["mitre_attack_intrusion_sets"]:
        return AttackTag(tag, "group", upper, data["mitre_attack_intrusion_sets"][upper])
    if upper in data["mitre_attack_software"]:
        return AttackTag(tag, "software", upper, data["mitre_attack_software"][upper])
    return AttackTag(tag, "other", None, None)


def event_sources(detection: Any) -> list[str]:
    """The ``eventSource`` values a rule's detection names (any modifier), sorted: the AWS services it covers."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if str(key).split("|")[0] == "eventSource":
                    values = value if isinstance(value, list) else [value]
                    found.update(str(v) for v in values if isinstance(v, (str, int)))
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    if isinstance(detection, Mapping):
        visit({k: v for k, v in detection.items() if k != "condition"})
    return sorted(found)


def _display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, with ``/`` separators."""
    candidate = Path(path)
    if candidate.is_absolute():
        with contextlib.suppress(ValueError):  # outside the working directory: shown as given
            candidate = candidate.relative_to(Path.cwd())
    return candidate.as_posix()


def _collect(inputs: Sequence[str | Path]) -> tuple[list[RulePage], list[SigmaLambdaError]]:
    """Parse every rule document of ``inputs`` (Sigma filters and correlation-free documents are skipped)."""
    import yaml
    from sigma.exceptions import SigmaError
    from sigma.rule import SigmaRule

    from sigma_lambda_layer.loading import expand_inputs
    from sigma_lambda_layer.outputs import safe_stem

    pages: list[RulePage] = []
    errors: list[SigmaLambdaError] = []
    for entry in expand_inputs(list(inputs)):
        if isinstance(entry, SigmaLambdaError):
            errors.append(entry)
            continue
        if not isinstance(entry, Path):
            errors.append(RuleLoadError("rule pages need files, not standard input", location=Location("-")))
            continue
        path = _display_path(str(entry))
        try:
            raw = entry.read_text(encoding="utf-8")
            documents = [d for d in yaml.safe_load_all(raw) if isinstance(d, dict)]
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append(RuleLoadError(f"cannot read rule: {exc}", location=Location(path)))
            continue
        rules = [d for d in documents if "detection" in d]  # filters and correlations have no page
        for number, document in enumerate(rules):
            try:
                rule = SigmaRule.from_dict(document)
            except SigmaError as exc:
                errors.append(RuleLoadError(str(exc.args[0] if exc.args else exc), location=Location(path)))
                continue
            stem = safe_stem(entry.stem if len(rules) == 1 else f"{entry.stem}_{number + 1}")
            tags = [resolve_attack_tag(str(t)) for t in document.get("tags") or []]
            pages.append(
                RulePage(
                    path=path,
                    stem=stem,
                    document=document,
                    raw=raw if len(rules) == 1 else yaml.safe_dump(document, sort_keys=False),
                    rule=rule,
                    attack=[t for t in tags if t is not None],
                    services=event_sources(document.get("detection")),
                )
            )
    _unique_stems(pages)
    return pages, errors


def _unique_stems(pages: list[RulePage]) -> None:
    """Two rules with the same file stem (from different folders) get their id appended."""
    from sigma_lambda_layer.outputs import safe_stem

    counts: dict[str, int] = {}
    for page in pages:
        counts[page.stem] = counts.get(page.stem, 0) + 1
    for number, page in enumerate(pages):
        if counts[page.stem] > 1 or page.stem == INDEX_NAME.removesuffix(".md"):
            page.stem = safe_stem(f"{page.stem}_{page.document.get('id') or number + 1}")


def _attach_queries(pages: list[RulePage], filters: Sequence[str | Path]) -> None:
    """Convert every rule for every target (with the exemptions) in one batch; attach queries and errors."""
    from sigma_lambda_layer.api import convert, render

    paths = list(dict.fromkeys(page.path for page in pages))
    if not paths:
        return
    results = convert(paths, target="all", collect_errors=True, filters=filters)
    by_rule: dict[tuple[str, str], dict[str, tuple[str | None, SigmaLambdaError | None]]] = {}
    for result in results:
        key = (_display_path(str(result.path)), str(result.id or result.title))
        query = None if result.error is not None else render(result.output)
        by_rule.setdefault(key, {}).setdefault(result.target, (query, result.error))
    for page in pages:
        key = (page.path, str(page.document.get("id") or page.title))
        # A rule pySigma could not load for conversion reports under its path alone.
        page.queries = by_rule.get(key) or by_rule.get((page.path, "None"), {})


def _attach_exemptions(pages: list[RulePage], filters: Sequence[str | Path]) -> None:
    """The exemptions (Sigma filters) that name each rule, with the file and document they came from."""
    import yaml

    from sigma_lambda_layer.exemptions import applicable, parse_filters, read_filter_sources

    named: list[tuple[Any, str, Mapping[str, Any]]] = []
    for path, text in read_filter_sources(filters) if filters else []:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
        for parsed, document in zip(parse_filters([(path, text)]), documents, strict=True):
            named.append((parsed, _display_path(path), document))
    for page in pages:
        chosen = {id(f) for f in applicable(page.rule, [n[0] for n in named])}
        page.exemptions = [(path, document) for parsed, path, document in named if id(parsed) in chosen]


def render_pages(
    inputs: Sequence[str | Path], output_dir: str | Path, filters: Sequence[str | Path] = ()
) -> list[Path]:
    """Write ``<stem>.md`` for every rule of ``inputs`` and ``index.md`` into ``output_dir``.

    ``filters`` are Sigma filter files or folders (exemptions): the queries shown include them, and each page
    lists the ones that name its rule. Returns the written paths, the index last. Files already in
    ``output_dir`` are left alone, so the folder may hold hand-written pages too.
    """
    from sigma_lambda_layer.exemptions import parse_filters, read_filter_sources

    parse_filters(read_filter_sources(filters) if filters else [])  # a bad filter fails before any output
    pages, errors = _collect(inputs)
    _attach_queries(pages, filters)
    _attach_exemptions(pages, filters)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for page in pages:
        target = out / f"{page.stem}.md"
        _write(target, render_page(page))
        written.append(target)
    index = out / INDEX_NAME
    _write(index, render_index(pages, errors))
    written.append(index)
    return written


def _write(path: Path, text: str) -> None:
    """Write only when the bytes differ, so that an unchanged page keeps its timestamp (and mkdocs serve)."""
    data = text.encode("utf-8")
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


# --- Markdown ---------------------------------------------------------------------------------------------


def _link(url: object) -> str:
    text = str(url).strip()
    if re.fullmatch(r"https?://[^\s<>]+", text):
        return f"<{text}>"
    return md(text)


def _attack_row(tag: AttackTag) -> str:
    from sigma_lambda_layer.checks.offline import attack_version

    label = " ".join(part for part in (tag.id, tag.name) if part)
    shown = f"[{md(label)}]({tag.url})" if tag.url and label else md(label)
    if tag.name is None:
        shown = (shown + " " if shown else "") + f"(not in the bundled ATT&CK v{attack_version()} data)"
    if tag.kind == "technique" and tag.tactics:
        shown += " (" + ", ".join(tactic_name(t) for t in tag.tactics) + ")"
    return f"| `{tag.tag}` | {tag.kind} | {shown} |"


def _error_note(error: SigmaLambdaError) -> list[str]:
    from sigma_lambda_layer.errors import UnsupportedFieldError

    unsupported = isinstance(error, (UnsupportedConstructError, UnsupportedFieldError))
    label = "Not supported on this target" if unsupported else "Conversion failed"
    # An admonition (MkDocs' admonition extension): the page must not look as if a query were missing.
    lines = [f'!!! warning "{label}"', "", f"    {md(error.message)}", ""]
    lines.append(f"    Rule location: `{_display_location(error)}`")
    if error.hint:
        lines += ["", f"    Hint: {md(error.hint)}"]
    return lines


def _display_location(error: SigmaLambdaError) -> str:
    location = error.location
    path = _display_path(location.path) if location.path else None
    return str(Location(path, location.line, location.column))


def render_page(page: RulePage) -> str:
    """One rule's page as Markdown."""
    from sigma_lambda_layer.display import language_of, target_label

    doc = page.document
    out: list[str] = [f"# {md(page.title)}", ""]
    if doc.get("description"):
        out += [md(str(doc["description"]).strip()), ""]
    logsource = doc.get("logsource") or {}
    facts: list[tuple[str, str]] = [
        ("ID", f"`{doc['id']}`" if doc.get("id") else ""),
        ("Status", md(doc.get("status") or "")),
        ("Level", md(doc.get("level") or "")),
        ("Author", md(doc.get("author") or "")),
        ("Date", md(doc.get("date") or "")),
        ("Modified", md(doc.get("modified") or "")),
        ("Log source", ", ".join(f"{md(k)}: {md(v)}" for k, v in logsource.items())),
        ("AWS services", ", ".join(f"`{s}`" for s in page.services)),
        ("Rule file", f"`{page.path}`"),
    ]
    out += [f"- **{name}:** {value}" for name, value in facts if value]
    out.append("")
    if page.attack:
        out += ["## MITRE ATT&CK", "", "| Tag | Kind | ATT&CK |", "| --- | --- | --- |"]
        out += [_attack_row(tag) for tag in page.attack]
        out.append("")
    other_tags = [str(t) for t in doc.get("tags") or [] if not str(t).lower().startswith("attack.")]
    if other_tags:
        out += ["**Other tags:** " + ", ".join(f"`{t}`" for t in other_tags), ""]
    out += ["## Known false positives", ""]
    out += [f"- {md(fp)}" for fp in doc.get("falsepositives") or []] or ["None documented."]
    out.append("")
    if doc.get("references"):
        out += ["## References", ""] + [f"- {_link(ref)}" for ref in doc["references"]] + [""]
    out += ["## Queries", ""]
    if page.exemptions:
        out += ["Each query includes the exemptions listed below.", ""]
    for target_id, (query, error) in page.queries.items():
        out += [f"### {md(target_label(target_id))}", ""]
        if error is not None:
            out += _error_note(error)
        else:
            out.append(fence(query or "", language_of(target_id)))
        out.append("")
    out += ["## Exemptions", ""]
    if not page.exemptions:
        out += ["No exemption applies to this rule.", ""]
    for path, document in page.exemptions:
        import yaml

        out += [f"### {md(document.get('title') or path)}", ""]
        out += [f"From `{path}`" + (f", id `{document['id']}`." if document.get("id") else "."), ""]
        if document.get("description"):
            out += [md(str(document["description"]).strip()), ""]
        body = {k: v for k, v in (document.get("filter") or {}).items() if k != "rules"}
        out += [fence(yaml.safe_dump(body, sort_keys=False, allow_unicode=True), "yaml"), ""]
    out += ["## Rule", "", fence(page.raw, "yaml"), ""]
    return "\n".join(out)


def _row(page: RulePage, extra: str) -> str:
    return (
        f"| [{md(page.title)}]({page.stem}.md) | {md(page.document.get('level') or '')} "
        f"| {md(page.document.get('status') or '')} | {extra} |"
    )


def _sorted(pages: Iterable[RulePage]) -> list[RulePage]:
    return sorted(pages, key=lambda p: (p.title.casefold(), p.stem))


def render_index(pages: Sequence[RulePage], errors: Sequence[SigmaLambdaError] = ()) -> str:
    """The index: every rule with its support per target, then rules grouped by tactic and by AWS service."""
    from sigma_lambda_layer.display import target_label

    targets = list(dict.fromkeys(t for page in pages for t in page.queries))
    count = f"{len(pages)} rule{'s' if len(pages) != 1 else ''}"
    out = [
        "# Rules",
        "",
        f"{count}. Each page shows the rule, its query for every target and the exemptions that apply.",
        "",
        "## Targets",
        "",
        "| Rule | " + " | ".join(md(target_label(t)) for t in targets) + " |",
        "| --- |" + " :---: |" * len(targets),
    ]
    for page in _sorted(pages):
        marks = [_support(page.queries.get(t, (None, None))[1]) for t in targets]
        out.append(f"| [{md(page.title)}]({page.stem}.md) | " + " | ".join(marks) + " |")
    out += ["", "## By ATT&CK tactic", ""]
    by_tactic: dict[str, list[RulePage]] = {}
    for page in pages:
        for tactic in page.tactics or [NO_TACTIC]:
            by_tactic.setdefault(tactic, []).append(page)
    for tactic in sorted(by_tactic, key=lambda t: (t == NO_TACTIC, _tactic_key(t))):
        heading = NO_TACTIC if tactic == NO_TACTIC else tactic_name(tactic)
        tactic_id = _tactic_id(tactic)
        out += [f"### {heading}" + (f" ({tactic_id})" if tactic_id else ""), ""]
        out += ["| Rule | Level | Status | AWS services |", "| --- | --- | --- | --- |"]
        out += [_row(p, ", ".join(md(s) for s in p.services)) for p in _sorted(by_tactic[tactic])]
        out.append("")
    out += ["## By AWS service", ""]
    by_service: dict[str, list[RulePage]] = {}
    for page in pages:
        for service in page.services or [ANY_SERVICE]:
            by_service.setdefault(service, []).append(page)
    for service in sorted(by_service, key=lambda s: (s == ANY_SERVICE, s.casefold())):
        out += [f"### {md(service)}", ""]
        out += ["| Rule | Level | Status | ATT&CK tactics |", "| --- | --- | --- | --- |"]
        out += [_row(p, ", ".join(tactic_name(t) for t in p.tactics)) for p in _sorted(by_service[service])]
        out.append("")
    if errors:
        out += ["## Not loaded", ""]
        out += [f"- `{_display_location(e)}`: {md(e.message)}" for e in errors]
        out.append("")
    return "\n".join(out)


def _support(error: SigmaLambdaError | None) -> str:
    """One index cell: can this target run the rule?"""
    from sigma_lambda_layer.errors import UnsupportedFieldError

    if error is None:
        return "yes"
    return "unsupported" if isinstance(error, (UnsupportedConstructError, UnsupportedFieldError)) else "error"


def _tactic_id(slug: str) -> str | None:
    from sigma_lambda_layer.checks.offline import attack_data

    ids = {v: k for k, v in attack_data()["mitre_attack_tactics"].items()}
    return ids.get(slug)
