"""sigma-cli plugin shim: our AWS CloudTrail pipelines in the namespace package ``sigma.pipelines``.

pySigma registers module attribute ``pipelines`` (name -> zero-argument function), here one per registry
pipeline. Each function imports its pipeline module only when called, so listing pipelines stays cheap and
one pipeline's import problem does not hide the others.
"""

from __future__ import annotations

from collections.abc import Callable

# Imported at run time: pySigma's discovery resolves the return annotation with typing.get_type_hints.
from sigma.processing.pipeline import ProcessingPipeline

from sigma_lambda_layer.registry import PIPELINES, PipelineEntry


def _factory(entry: PipelineEntry) -> Callable[[], ProcessingPipeline]:
    def pipeline() -> ProcessingPipeline:
        return entry.build()

    pipeline.__name__ = pipeline.__qualname__ = entry.id
    pipeline.__doc__ = entry.description
    return pipeline


pipelines: dict[str, Callable[[], ProcessingPipeline]] = {p.id: _factory(p) for p in PIPELINES.values()}

# pySigma also registers every public module-level function when a module has no __all__.
__all__ = ["pipelines"]
