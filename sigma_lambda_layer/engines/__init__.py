"""Reference interpreters for target query languages, written from the vendors' documentation.

They run a compiled query over the target's view of CloudTrail records (:mod:`sigma_lambda_layer.views`) so
that ``sigma-lambda test --target`` can check a rule's sample events on the query a SIEM would run, not only
on the Sigma meaning. Only the pure-Python engines ship here; the Elastic ones need Java or extra packages
and stay in ``tests/engines``.
"""
