from sigma_lambda_layer.engines.spl import *  # noqa: F403
from sigma_lambda_layer.engines.spl import SplError, command_names, pcre, run_spl  # noqa: F401
