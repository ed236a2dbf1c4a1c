"""The AWS API catalogue CloudTrail checks need, read from the service models that ship inside botocore.

Every ``<service>/<api-version>/service-2.json(.gz)`` in botocore's data path names its ``endpointPrefix`` and
``signingName`` in its ``metadata`` block, near the top of the file, and lists its ``operations``.
CloudTrail's ``eventSource`` is ``<name>.amazonaws.com`` where ``<name>`` is one of those two (SES: endpoint
``email``, signing name and event source ``ses``; ECR: endpoint ``api.ecr``, event source ``ecr``), and
``eventName`` is an operation name (AWS CloudTrail User Guide, "CloudTrail record contents": eventSource is
"the service that the request was made to", eventName is "the requested action, which is one of the actions in
the API for that service").

Parsing all ~450 models takes about 5 s, so the index of names is built from the first few kilobytes of each
file (about 0.1 s) and operations are loaded only for the services a rule names, then cached.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Final

_HEAD_BYTES: Final = 8192
_META_RE: Final = {
    key: re.compile(rf'"{key}"\s*:\s*"([^"]+)"') for key in ("endpointPrefix", "signingName", "serviceId")
}


@dataclass(frozen=True)
class OperationShape:
    """The top-level members of one operation's input, output and error shapes in one model.

    Names are as botocore spells them, plus each member's ``locationName`` where it has one (the wire name of
    a URI, query-string or header member); CloudTrail's ``requestParameters`` / ``responseElements`` keys are
    these names, often with the first letter lower-cased, so callers compare them case-insensitively.
    """

    protocols: frozenset[str]
    inputs: frozenset[str]
    outputs: frozenset[str]
    errors: frozenset[str]


@dataclass(frozen=True)
class ServiceModel:
    """One API version of one botocore service model file (operations are read on demand)."""

    service: str
    api_version: str
    path: Path
    endpoint_prefix: str
    signing_name: str | None


def _open(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        head: bytes = fh.read(_HEAD_BYTES)
    return head


def _model_files(search_paths: list[str]) -> Iterator[tuple[str, str, Path]]:
    """(service, api_version, file) for every service-2 model under botocore's search paths."""
    seen: set[tuple[str, str]] = set()
    for base in search_paths:
        if not os.path.isdir(base):
            continue
        for service in sorted(os.listdir(base)):
            service_dir = os.path.join(base, service)
            if not os.path.isdir(service_dir):
                continue
            for version in sorted(os.listdir(service_dir)):
                for name in ("service-2.json", "service-2.json.gz"):
                    path = Path(service_dir, version, name)
                    if (service, version) not in seen and path.is_file():
                        seen.add((service, version))
                        yield service, version, path


class AwsCatalog:
    """Event sources and operation names of every AWS service botocore knows, loaded lazily."""

    def __init__(self, search_paths: list[str] | None = None) -> None:
        if search_paths is None:
            import botocore.loaders

            search_paths = list(botocore.loaders.create_loader().search_paths)
        self._search_paths = search_paths

    @cached_property
    def botocore_version(self) -> str:
        import botocore

        return str(botocore.__version__)

    @cached_property
    def models(self) -> tuple[ServiceModel, ...]:
        found = []
        for service, version, path in _model_files(self._search_paths):
            head = _open(path).decode("utf-8", "replace")
            meta = {key: (m.group(1) if (m := rx.search(head)) else None) for key, rx in _META_RE.items()}
            if meta["endpointPrefix"] is None:  # metadata not in the head: parse the whole file
                full = json.loads(_read_all(path))["metadata"]
                meta = {key: full.get(key) for key in _META_RE}
            found.append(
                ServiceModel(service, version, path, str(meta["endpointPrefix"]), meta["signingName"])
            )
        return tuple(found)

    @cached_property
    def by_source_name(self) -> dict[str, tuple[ServiceModel, ...]]:
        """``"lambda"`` -> the models whose endpoint prefix or signing name is ``lambda``."""
        index: dict[str, list[ServiceModel]] = {}
        for model in self.models:
            for name in {model.endpoint_prefix, model.signing_name} - {None}:
                index.setdefault(str(name), []).append(model)
        return {name: tuple(models) for name, models in index.items()}

    @cached_property
    def _event_sources(self) -> frozenset[str]:
        return frozenset(f"{name}.amazonaws.com" for name in self.by_source_name)

    def event_sources(self) -> frozenset[str]:
        """``<endpoint prefix or signing name>.amazonaws.com`` for every model."""
        return self._event_sources

    def operations(self, event_source: str) -> frozenset[str] | None:
        """Operation names of every API version of the services behind ``event_source``; None if unknown."""
        name = event_source.lower().removesuffix(".amazonaws.com")
        models = self.by_source_name.get(name)
        if models is None:
            return None
        return frozenset().union(*(_operations(model.path) for model in models))

    def operation_shapes(self, event_source: str, operation: str) -> tuple[OperationShape, ...]:
        """The shapes of ``operation`` in every model behind ``event_source`` that has it (every API version:
        Lambda 2014-11-11 and 2015-03-31 differ, and ``rds.amazonaws.com`` is RDS, DocumentDB and Neptune)."""
        name = event_source.lower().removesuffix(".amazonaws.com")
        return tuple(
            shape
            for model in self.by_source_name.get(name, ())
            if (shape := _shapes(model.path).get(operation)) is not None
        )

    @cached_property
    def _all_operations(self) -> frozenset[str]:
        cache_file = _cache_file(self.botocore_version, self.models)
        if cache_file is not None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                return frozenset(json.loads(cache_file.read_text("utf-8")))
        found = frozenset().union(*(_operation_names(model.path) for model in self.models))
        if cache_file is not None:
            with contextlib.suppress(OSError):  # a read-only or missing cache folder only costs time
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(sorted(found)), "utf-8")
                os.replace(tmp, cache_file)
        return found

    def all_operations(self) -> frozenset[str]:
        """Every operation of every service: parsing every model takes ~3 s, so the union is cached on disk
        (``$SIGMA_LAMBDA_CACHE_DIR``, else ``$XDG_CACHE_HOME/sigma-lambda``, else ``~/.cache/sigma-lambda``),
        keyed by botocore's version and its model files. ``SIGMA_LAMBDA_CACHE_DIR=""`` turns the cache off."""
        return self._all_operations


def _cache_file(botocore_version: str, models: tuple[ServiceModel, ...]) -> Path | None:
    configured = os.environ.get("SIGMA_LAMBDA_CACHE_DIR")
    if configured == "":
        return None
    if configured:
        base = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "sigma-lambda"
    digest = hashlib.sha256(botocore_version.encode())
    for model in models:
        digest.update(str(model.path).encode())
        with contextlib.suppress(OSError):
            digest.update(str(model.path.stat().st_mtime_ns).encode())
    return base / f"aws-operations-{digest.hexdigest()[:16]}.json"


def _read_all(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data: bytes = fh.read()
    return data


def _operation_names(path: Path) -> frozenset[str]:
    """One model's operation names, not kept: building the all-operations index reads every model once."""
    return frozenset(json.loads(_read_all(path)).get("operations", {}))


@cache
def _operations(path: Path) -> frozenset[str]:
    """A model a rule names: parsed once for both its operation names and their shapes."""
    return _shapes(path).names


class _ModelShapes:
    """One parsed model reduced to what the checks read: its operation names, the member names of the
    structures its operations take, return and raise, and each operation's OperationShape on demand."""

    def __init__(self, model: dict[str, Any]) -> None:
        metadata = model.get("metadata", {})
        self.protocols = frozenset(metadata.get("protocols") or [metadata.get("protocol", "")])
        shapes: dict[str, Any] = model.get("shapes", {})
        self._refs: dict[str, tuple[str | None, str | None, tuple[str | None, ...]]] = {
            name: (_ref(op.get("input")), _ref(op.get("output")), tuple(map(_ref, op.get("errors", []))))
            for name, op in model.get("operations", {}).items()
        }
        used = {r for i, o, e in self._refs.values() for r in (i, o, *e) if r is not None}
        self._members = {name: _member_names(shapes.get(name, {})) for name in used}
        self.names = frozenset(self._refs)
        self._done: dict[str, OperationShape] = {}

    def get(self, operation: str) -> OperationShape | None:
        if operation not in self._done:
            if operation not in self._refs:
                return None
            inp, out, errors = self._refs[operation]
            none: frozenset[str] = frozenset()
            self._done[operation] = OperationShape(
                self.protocols,
                self._members.get(inp, none) if inp else none,
                self._members.get(out, none) if out else none,
                none.union(*(self._members.get(e, none) for e in errors if e)),
            )
        return self._done[operation]


def _ref(ref: Any) -> str | None:
    name = ref.get("shape") if isinstance(ref, dict) else None
    return name if isinstance(name, str) else None


def _member_names(shape: Any) -> frozenset[str]:
    members = shape.get("members", {}) if isinstance(shape, dict) else {}
    located = (m.get("locationName") for m in members.values() if isinstance(m, dict))
    return frozenset(members).union(n for n in located if isinstance(n, str))


@cache
def _shapes(path: Path) -> _ModelShapes:
    """One model a rule's eventSource names, parsed once per process for both the operation names the
    event-name checks need and the shapes the parameter check needs (about 10 ms a model, EC2's 70 ms): no
    second parse, and no disk cache needed, since only the pinned services are read."""
    return _ModelShapes(json.loads(_read_all(path)))


@cache
def default_catalog() -> AwsCatalog:
    """The process-wide catalogue over botocore's own search paths."""
    return AwsCatalog()
