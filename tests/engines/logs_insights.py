from sigma_lambda_layer.engines.logs_insights import *  # noqa: F403  (moved; __all__ names every import the tests use)
