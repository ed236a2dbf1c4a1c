"""The evaluator's one error type."""

from __future__ import annotations

from sigma_lambda_layer.errors import SigmaLambdaError


class EvaluationError(SigmaLambdaError):
    """A rule uses something the reference evaluator cannot decide on a single record.

    Correlation rules (they need many records), unresolved ``%placeholders%`` (the specification says a tool
    that cannot resolve them must reject the rule), pipeline-made query expressions and values whose type
    makes no sense where they stand (a ``cidr`` keyword, a field reference without a field). The evaluator
    is the ground truth for every target, so it refuses rather than guesses.
    """
