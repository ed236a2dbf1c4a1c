"""sigma-cli plugin shim: pySigma discovers backends in the namespace package ``sigma.backends``.

The wheel maps this file to ``sigma/backends/cloudwatch/__init__.py`` (hatch ``force-include``), so that
``sigma list targets`` shows ``cloudwatch`` once sigma-lambda is installed.
"""

from sigma_lambda_layer.backends.cloudwatch import LogsInsightsBackend

backends = {"cloudwatch": LogsInsightsBackend}

__all__ = ["LogsInsightsBackend", "backends"]
