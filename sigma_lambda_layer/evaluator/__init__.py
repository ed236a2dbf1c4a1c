"""The Sigma reference evaluator: does a rule match one AWS CloudTrail record?

It is the ground truth every target's generated query is tested against, and it runs ``sigma-lambda test``.
It works on pySigma's parsed rule (modifiers already applied, condition already resolved), so it means
exactly what pySigma parsed. The choices the Sigma specification leaves open are listed in
``docs/evaluator.md``.

    >>> from sigma.rule import SigmaRule
    >>> rule = SigmaRule.from_yaml(open("rule.yml").read())  # doctest: +SKIP
    >>> RuleEvaluator(rule).matches(record)  # doctest: +SKIP
"""

from sigma_lambda_layer.evaluator.errors import EvaluationError
from sigma_lambda_layer.evaluator.rule import RuleEvaluator, evaluate

__all__ = ["EvaluationError", "RuleEvaluator", "evaluate"]
