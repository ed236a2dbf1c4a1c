"""The AWS API catalogue CloudTrail checks need, read from the service models that ship inside botocore.

Every ``<service>/<api-version>/service-2.json(.gz)`` in botocore's data path names its ``endpointPrefix`` and
``signingName`` in its ``metadata`` block, near the top of the file, and lists its ``operations``.
CloudTrail's
``eventSource`` is ``<name>.amazonaws.com`` where ``<name>`` is one of those two (SES: endpoint ``email``,
signing name and event source ``ses``; ECR: endpoint ``api.ecr``, event source ``ecr``), and ``eventName`` is
an
operation name (AWS CloudTrail User Guide, "CloudTrail record contents": eventSource is "the service that the
request was made to", eventName is "the requested action, which is one of the actions in the API for that
service").

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
        found = frozenset().union(*(_operations(model.path) for model in self.models))
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


@cache
def _operations(path: Path) -> frozenset[str]:
    return frozenset(json.loads(_read_all(path)).get("operations", {}))


def _members(shapes: dict[str, Any], ref: Any) -> frozenset[str]:
    if not isinstance(ref, dict) or "shape" not in ref:
        return frozenset()
    members = shapes.get(ref["shape"], {}).get("members", {})
    names = set(members)
    names.update(m["locationName"] for m in members.values() if isinstance(m.get("locationName"), str))
    return frozenset(names)


@cache
def _shapes(path: Path) -> dict[str, OperationShape]:
    """Operation -> its top-level members, for one model file. Only the models a rule names are read (about
    10 ms each; EC2's 70 ms), once per process: a rule's eventSource bounds the work, so no disk cache."""
    model = json.loads(_read_all(path))
    metadata = model.get("metadata", {})
    protocols = frozenset(metadata.get("protocols") or [metadata.get("protocol", "")])
    shapes = model.get("shapes", {})
    return {
        name: OperationShape(
            protocols,
            _members(shapes, op.get("input")),
            _members(shapes, op.get("output")),
            frozenset().union(*(_members(shapes, error) for error in op.get("errors", []))),
        )
        for name, op in model.get("operations", {}).items()
    }


@cache
def default_catalog() -> AwsCatalog:
    """The process-wide catalogue over botocore's own search paths."""
    return AwsCatalog()
