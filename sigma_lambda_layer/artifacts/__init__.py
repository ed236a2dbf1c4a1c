"""Deployable artifacts around a finished query: what a SIEM imports, as opposed to the query itself.

One module per family: :mod:`.splunk` (savedsearches.conf), :mod:`.kibana` (detection rules and saved objects
of the three Elastic targets), :mod:`.cloudwatch` (query definitions, StartQuery parameters, CloudFormation),
:mod:`.eventbridge` (PutRule parameters, CloudFormation, Terraform).
Backends keep their ``finalize_query_<format>``/``finalize_output_<format>`` methods (pySigma dispatches
formats by those names, and sigma-cli calls them), each one line handing the finished query to this package:
backends own the query's syntax, artifacts own the file around it.
"""
