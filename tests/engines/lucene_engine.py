"""Run Elasticsearch ``query_string`` queries (Lucene syntax) on real Apache Lucene.

Why: a generated Lucene query is only right if it matches the events the Sigma rule means. This module
feeds Elasticsearch-shaped documents and the queries to ``lucene/LuceneHarness.java``, which parses them with
Lucene's classic ``QueryParser`` and builds each leaf the way Elasticsearch's ``QueryStringQueryParser`` does
for the field's mapping type (see ``docs/engines/lucene.md``). One JVM runs a whole batch over an in-memory
index.

The harness is compiled with ``javac`` against Debian's Lucene 8 jars (``tests/engines/install-lucene.sh``)
into ``tests/engines/lucene/build/<hash>/`` and recompiled when its source or the jars change.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FieldTypes", "LuceneEngine", "LuceneQueryError", "LuceneUnavailableError"]

FieldTypes = Callable[[str], str]
"""The mapping type of a dotted path: ``keyword`` (default), ``ip``, ``text``, ``boolean``, ``date``,
``long``, or ``flattened`` for the root of a flattened field."""

HARNESS_DIR = Path(__file__).resolve().parent / "lucene"
HARNESS_SOURCE = HARNESS_DIR / "LuceneHarness.java"
JAR_DIR = Path("/usr/share/java")
JARS = ("lucene-core", "lucene-queryparser", "lucene-misc")
# Kibana Fleet's DEFAULT_IGNORE_ABOVE for the keyword fields of integration templates
# (elastic/kibana x-pack/plugins/fleet/server/services/epm/elasticsearch/template/template.ts).
FLEET_KEYWORD_IGNORE_ABOVE = 1024
# Bumped when the build directory's layout changes, so an older build is never reused.
_BUILD_LAYOUT = b"harness.jar+harness.jsa v1\n"

# A field name before a colon in Lucene query syntax (escapes allowed), and the field an _exists_ names.
_FIELD_BEFORE_COLON = re.compile(r'((?:\\.|[^\s\\:()"\[\]{}^~*?/])+):')
_EXISTS_FIELD = re.compile(r'_exists_:((?:\\.|[^\s\\:()"\[\]{}^~])+)')
_ESCAPE = re.compile(r"\\(.)")
# Multi-fields: a sub-field the mapping declares under a leaf, indexing the leaf's value another way.
_MULTI_FIELD_SUFFIXES = ("text",)
_TEXT_TYPES = ("text", "match_only_text")


class LuceneQueryError(Exception):
    """A query Elasticsearch would reject: a syntax error, or a query its field type cannot run."""

    def __init__(self, query: str, message: str) -> None:
        super().__init__(f"{message} (query: {query})")
        self.query = query
        self.message = message


class LuceneUnavailableError(RuntimeError):
    """java, javac or the Lucene jars are missing; ``tests/engines/install-lucene.sh`` installs them."""


class LuceneEngine:
    """Elasticsearch ``query_string`` semantics on an in-memory Lucene index, one JVM per batch."""

    def __init__(
        self,
        jar_dir: Path = JAR_DIR,
        build_root: Path = HARNESS_DIR / "build",
        *,
        keyword_ignore_above: int | None = FLEET_KEYWORD_IGNORE_ABOVE,
    ) -> None:
        """``keyword_ignore_above``: keyword values longer than this many characters are not indexed (None:
        no limit). Fleet gives every keyword field of an integration ``ignore_above: 1024``."""
        self._keyword_ignore_above = keyword_ignore_above
        self._jar_dir = jar_dir
        self._build_root = build_root
        self._build: _Build | None = None

    @staticmethod
    def missing(jar_dir: Path = JAR_DIR) -> str | None:
        """Why the engine cannot run here (for ``pytest.skip``), or None when it can."""
        for tool in ("java", "javac"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (run tests/engines/install-lucene.sh)"
        for jar in JARS:
            if not _find_jar(jar_dir, jar):
                return f"{jar} jar not found in {jar_dir} (run tests/engines/install-lucene.sh)"
        return None

    def search(self, query: str, docs: Sequence[Mapping[str, Any]], field_types: FieldTypes) -> set[int]:
        """The indexes of the documents ``query`` matches; raises LuceneQueryError when ES would fail."""
        (result,) = self.search_many([query], docs, field_types)
        if isinstance(result, LuceneQueryError):
            raise result
        return result

    def search_many(
        self,
        queries: Sequence[str],
        docs: Sequence[Mapping[str, Any]],
        field_types: FieldTypes,
        *,
        lenient: bool = False,
    ) -> list[set[int] | LuceneQueryError]:
        """Run every query on one index of ``docs`` (Elasticsearch ``_source`` documents).

        Returns, per query, the set of matching document indexes or the error Elasticsearch would report.
        ``lenient`` is query_string's option of that name: with it a value the field type cannot parse (a
        non-IP on an ``ip`` field) or a query type it refuses matches nothing instead of failing the search.
        """
        types = _TypeTable(field_types)
        encoded_docs = [_doc_entries(doc, types) for doc in docs]
        for query in queries:
            for name in _query_field_names(query):
                types.add_with_prefixes(name)
        request = {
            "types": types.table,
            "objects": sorted(types.objects),
            "docs": encoded_docs,
            "queries": list(queries),
            "lenient": lenient,
            "keyword_ignore_above": self._keyword_ignore_above,
        }
        response = self._run(json.dumps(request, ensure_ascii=False))
        results: list[set[int] | LuceneQueryError] = []
        for query, result in zip(queries, response["results"], strict=True):
            if "error" in result:
                results.append(LuceneQueryError(query, result["error"]))
            else:
                results.append(set(result["ids"]))
        return results

    def _run(self, request: str) -> dict[str, Any]:
        proc = self._java(request)
        if proc.returncode != 0:
            raise RuntimeError(
                f"LuceneHarness failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
            )
        response: dict[str, Any] = json.loads(proc.stdout.decode("utf-8"))
        return response

    def _java(self, request: str, *, dump_archive: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        """One JVM over one request. JVM logging goes to stderr only: stdout carries the JSON answer."""
        build = self._compile()
        options = [
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Xss4m",
            "-Xlog:disable",
            "-Xlog:all=error:stderr",
        ]
        if dump_archive is not None:
            options.append(f"-XX:ArchiveClassesAtExit={dump_archive}")
        elif build.archive.exists():
            options.append(f"-XX:SharedArchiveFile={build.archive}")
        return subprocess.run(
            ["java", *options, "-cp", build.classpath, "LuceneHarness"],
            input=request.encode("utf-8"),
            capture_output=True,
            timeout=600,
            check=False,
        )

    def _compile(self) -> _Build:
        """Compile the harness once per source and jar set, into a jar with a class-data-sharing archive.

        The archive (JDK 13+ dynamic AppCDS) halves the JVM's start-up work, which dominates small batches.
        Everything is built in a fresh directory and renamed into place, so concurrent runs never see half a
        build; the archive is made afterwards because it records the jar's final path.
        """
        if self._build is not None:
            return self._build
        reason = self.missing(self._jar_dir)
        if reason is not None:
            raise LuceneUnavailableError(reason)
        jars = [str(_find_jar(self._jar_dir, name)) for name in JARS]
        digest = hashlib.sha256(_BUILD_LAYOUT + HARNESS_SOURCE.read_bytes())
        for jar in jars:
            digest.update(jar.encode())
        out = self._build_root / digest.hexdigest()[:16]
        harness_jar = out / "harness.jar"
        if not harness_jar.exists():
            self._build_root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self._build_root, prefix="tmp-"))
            classes = tmp / "classes"
            javac = ["javac", "-encoding", "UTF-8", "-d", str(classes), "-cp", os.pathsep.join(jars)]
            proc = subprocess.run([*javac, str(HARNESS_SOURCE)], capture_output=True, check=False)
            if proc.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise RuntimeError(f"javac failed: {proc.stderr.decode(errors='replace')}")
            with zipfile.ZipFile(tmp / "harness.jar", "w") as jar_file:
                for class_file in sorted(classes.glob("*.class")):
                    jar_file.write(class_file, class_file.name)
            shutil.rmtree(classes)
            try:
                tmp.rename(out)
            except OSError:  # another process won the race
                shutil.rmtree(tmp, ignore_errors=True)
            if not harness_jar.exists():
                raise RuntimeError(f"{out} exists without harness.jar: delete it and retry")
        self._build = _Build(os.pathsep.join([str(harness_jar), *jars]), out / "harness.jsa")
        if not self._build.archive.exists():
            self._dump_archive()
        return self._build

    def _dump_archive(self) -> None:
        """Record the classes a typical batch loads; without an archive the harness only starts slower."""
        assert self._build is not None
        partial = self._build.archive.with_name(f"harness-{os.getpid()}.jsa")
        docs = [{"a": "x", "ip": "10.0.0.1", "t": "some words", "f": {"k": ["v"]}, "n": 1, "d": "2020-01-01"}]
        types = {"ip": "ip", "t": "text", "f": "flattened", "n": "long", "d": "date"}
        warm_up = [
            'a:x AND NOT a:y* OR a:/x.*/ OR a:*x* OR a:[a TO z] OR _exists_:a OR ip:"10.0.0.0/8"',
            "t:word OR f.k:v OR f.k:*v OR n:>0 OR d:2020-01-01",
        ]
        table = _TypeTable(lambda path: types.get(path, "keyword"))
        encoded = [_doc_entries(doc, table) for doc in docs]
        request = {
            "types": table.table,
            "objects": sorted(table.objects),
            "docs": encoded,
            "queries": warm_up,
        }
        proc = self._java(json.dumps(request), dump_archive=partial)
        if proc.returncode == 0 and partial.exists():
            partial.replace(self._build.archive)
        else:
            partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Build:
    """A compiled harness: its java classpath and its class-data-sharing archive (which may be missing)."""

    classpath: str
    archive: Path


def _find_jar(jar_dir: Path, name: str) -> Path | None:
    """Debian installs versioned names (lucene-core-8.7.0.jar); take the newest."""
    candidates = sorted(jar_dir.glob(f"{name}-[0-9]*.jar")) or sorted(jar_dir.glob(f"{name}.jar"))
    return candidates[-1] if candidates else None


class _TypeTable:
    """The mapping the harness sees: every path a document or query names, typed once by ``field_types``.

    ``field_types`` may raise ``LookupError`` for a path the mapping does not have: such a path is left out
    (a query on it matches nothing, as on an unmapped field), unless a document has a value there, which
    dynamic mapping then indexes as a keyword.
    """

    def __init__(self, field_types: FieldTypes) -> None:
        self._field_types = field_types
        self._cache: dict[str, str | None] = {}
        self.table: dict[str, str] = {}
        self.objects: set[str] = set()

    def type_of(self, path: str) -> str | None:
        if path not in self._cache:
            try:
                kind: str | None = self._field_types(path)
            except LookupError:
                kind = None
            self._cache[path] = kind
            if kind is not None:
                self.table[path] = kind
        return self._cache[path]

    def leaf(self, path: str) -> None:
        if self.type_of(path) is None:
            self.table[path] = "keyword"

    def add_with_prefixes(self, name: str) -> None:
        """A query field and each parent path, so that a flattened root above it is known."""
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            self.type_of(".".join(parts[:i]))


def _query_field_names(query: str) -> Iterable[str]:
    """Field names a query may use (over-approximated: extra names only add unused mapping entries)."""
    for regex in (_FIELD_BEFORE_COLON, _EXISTS_FIELD):
        for match in regex.finditer(query):
            name = _ESCAPE.sub(r"\1", match.group(1))
            if name and "*" not in name and name != "_exists_":
                yield name


def _scalar(value: object) -> str | None:
    """A JSON leaf as Elasticsearch reads it into a keyword: the JSON text of numbers and booleans."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        return json.dumps(value)
    return str(value)


def _doc_entries(doc: Mapping[str, Any], types: _TypeTable) -> list[list[str]]:
    """One document as harness entries: ["f", path, value] and, in flattened fields, ["k", root, key, value].

    Objects and arrays flatten as Elasticsearch's object mapping does (an array of objects contributes every
    element's values to the same dotted paths); null values are not indexed.
    """
    entries: list[list[str]] = []

    def visit(path: str, value: object) -> None:
        if types.type_of(path) == "flattened":
            flattened(path, "", value)
        elif isinstance(value, Mapping):
            types.objects.add(path)
            for key, child in value.items():
                visit(f"{path}.{key}", child)
        elif isinstance(value, list | tuple):
            for element in value:
                visit(path, element)
        else:
            text = _scalar(value)
            if text is not None:
                types.leaf(path)
                entries.append(["f", path, text])
                # A text multi-field (ECS's "<field>.text") indexes the same value, analysed.
                for suffix in _MULTI_FIELD_SUFFIXES:
                    if types.type_of(f"{path}.{suffix}") in _TEXT_TYPES:
                        entries.append(["f", f"{path}.{suffix}", text])

    def flattened(root: str, key: str, value: object) -> None:
        if isinstance(value, Mapping):
            for child_key, child in value.items():
                flattened(root, f"{key}.{child_key}" if key else str(child_key), child)
        elif isinstance(value, list | tuple):
            for element in value:
                flattened(root, key, element)
        else:
            text = _scalar(value)
            if text is not None and key:
                entries.append(["k", root, key, text])

    for key, value in doc.items():
        visit(str(key), value)
    return entries
