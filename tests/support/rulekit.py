"""Small CloudTrail Sigma rules for tests, written one way, and the conversion loops tests share.

A test that needs a rule states only what it is about (the ``detection:`` block, sometimes a title);
:func:`rule_yaml` adds the CloudTrail log source. :func:`sigmahq_aws_refusals` is the corpus loop of the
EQL and ES|QL spelling tests: every SigmaHQ AWS rule converted and checked, refusals returned, anything
else collected into one failure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any, Final

from sigma.collection import SigmaCollection
from sigma.conversion.base import Backend
from sigma.exceptions import SigmaError

from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError
from tests.support.corpus import aws_rule_paths

#: The smallest useful detection: one CloudTrail event name.
CONSOLE_LOGIN: Final = """\
selection:
    eventName: ConsoleLogin
condition: selection
"""

#: SigmaHQ AWS rules no Elastic query language can express as written, with the reason.
REFUSED_EVERYWHERE: Final = {
    "aws_delete_saml_provider.yml": "field 'status' has no counterpart",
    "aws_disable_bucket_versioning.yml": "JSON object",
    "aws_ec2_vm_export_failure.yml": "JSON object",
    "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml": "JSON object",
}


def rule_yaml(detection: str, title: str = "test", name: str | None = None) -> str:
    """A CloudTrail rule whose ``detection:`` block is ``detection`` (YAML, any indentation).

    ``name`` is the Sigma rule name a correlation rule refers to.
    """
    body = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    header = f"title: {title}\n" + (f"name: {name}\n" if name is not None else "")
    return header + "logsource:\n    product: aws\n    service: cloudtrail\ndetection:\n" + body + "\n"


def convert_rule(backend: Backend, text: str, output_format: str = "default") -> Any:
    """The one query (or rule object, for structured formats) ``backend`` makes of the rule ``text``."""
    return backend.convert(SigmaCollection.from_yaml(text), output_format)[0]


def sigmahq_aws_refusals(
    make_backend: Callable[[], Backend], check: Callable[[str], object]
) -> dict[str, str]:
    """Convert every SigmaHQ AWS rule with a fresh backend and ``check`` every query.

    Returns the rules refused with a typed error (file name -> message); any other error or failed check is
    collected and fails once, listing every rule.
    """
    refused: dict[str, str] = {}
    wrong: list[str] = []
    for path in aws_rule_paths():
        backend = make_backend()
        try:
            for query in backend.convert(SigmaCollection.from_yaml(path.read_text())):
                check(query)
        except (UnsupportedFieldError, UnsupportedConstructError) as e:
            refused[path.name] = str(e)
        except (SigmaError, AssertionError) as e:
            wrong.append(f"{path.name}: {type(e).__name__}: {e}")
    assert not wrong, "\n".join(wrong)
    assert len(aws_rule_paths()) == 57
    return refused
