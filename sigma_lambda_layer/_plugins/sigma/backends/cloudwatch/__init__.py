"""sigma-cli plugin shim: pySigma discovers backends in the namespace package ``sigma.backends``.

The wheel maps this file to ``sigma/backends/cloudwatch/__init__.py`` (hatch ``force-include``; the folder
name is where the first such target was published, and stays for installed users). pySigma registers each
backend class exported at module level under its ``identifier`` attribute. Here that is every registry
target marked ``sigma_cli_backend`` (the ones no upstream pySigma backend plugin already provides under that
id), as a subclass that only adds the identifier: the target id is registry knowledge, not the backend's.
"""

from typing import Any

from sigma_lambda_layer.registry import TARGETS


def _plugin_class(target_id: str, cls: type[Any]) -> type[Any]:
    return type(
        cls.__name__, (cls,), {"identifier": target_id, "__module__": __name__, "__doc__": cls.__doc__}
    )


backends: dict[str, type[Any]] = {
    t.id: _plugin_class(t.id, t.backend_class()) for t in TARGETS.values() if t.sigma_cli_backend
}
globals().update({cls.__name__: cls for cls in backends.values()})

__all__ = [cls.__name__ for cls in backends.values()]  # the classes made above
