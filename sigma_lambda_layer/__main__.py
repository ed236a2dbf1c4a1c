"""``python -m sigma_lambda_layer`` runs the CLI."""

from sigma_lambda_layer.cli import main

main()
