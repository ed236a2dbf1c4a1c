"""Rule pages (``sigma_lambda_layer.pages``) and the MkDocs site they are part of."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sigma_lambda_layer.pages import (
    ANY_SERVICE,
    event_sources,
    md,
    render_pages,
    resolve_attack_tag,
    tactic_name,
)
from sigma_lambda_layer.writer import MANIFEST

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
FILTERS = RULES / "filters"
SITE_PAGES = REPO / "docs" / "rules"
SIGMAHQ_AWS = REPO / ".." / "shared" / "corpus" / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"
FOUNDING = "aws_attached_malicious_lambda_layer"
COMPANION = "aws_lambda_layer_attached_to_function"


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, as `sigma-lambda docs rules/` is run, so paths show as rules/..."""
    monkeypatch.chdir(REPO)
    return REPO


def _section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section (up to the next ``## `` heading)."""
    start = text.index(f"\n## {heading}\n") + len(heading) + 5
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def test_pages_rules_folder_writes_one_page_per_rule_and_an_index(in_repo: Path, tmp_path: Path) -> None:
    written = render_pages(["rules"], tmp_path, filters=["rules/filters"])
    assert [p.name for p in written] == [f"{FOUNDING}.md", f"{COMPANION}.md", "index.md"]
    # besides the pages, only the manifest of the files this tool wrote (a dot file MkDocs skips)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MANIFEST, *(p.name for p in written)])


def test_pages_founding_rule_page(in_repo: Path, tmp_path: Path) -> None:
    render_pages(["rules"], tmp_path, filters=["rules/filters"])
    page = (tmp_path / f"{FOUNDING}.md").read_text(encoding="utf-8")
    assert page.startswith(
        "# AWS Attached Malicious Lambda Layer\n\nDetects when an user attached a Lambda layer"
    )
    assert "- **ID:** `97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d`\n" in page
    assert "- **Status:** experimental\n- **Level:** medium\n- **Author:** Austin Songer\n" in page
    assert "- **AWS services:** `lambda.amazonaws.com`\n" in page
    assert f"- **Rule file:** `rules/{FOUNDING}.yml`\n" in page
    assert (
        "| `attack.privilege_escalation` | tactic "
        "| [TA0004 Privilege Escalation](https://attack.mitre.org/tactics/TA0004/) |"
    ) in page
    assert _section(page, "Known false positives").strip().splitlines() == [
        "- Lambda Layer being attached may be performed by a system administrator. Verify whether the user "
        "identity, user agent, and/or hostname should be making changes in your environment.",
        "- Lambda Layer being attached from unfamiliar users should be investigated. If known behavior is "
        "causing false positives, it can be exempted from the rule.",
    ]
    assert _section(page, "References").strip() == (
        "- <https://docs.aws.amazon.com/lambda/latest/dg/API_UpdateFunctionConfiguration.html>"
    )
    queries = _section(page, "Queries")
    headings = [line for line in queries.splitlines() if line.startswith("### ")]
    from sigma_lambda_layer.markdown import md
    from sigma_lambda_layer.registry import TARGETS

    assert headings == [f"### {md(t.label)}" for t in TARGETS.values()]  # one per target, in registry order
    assert headings[:5] == [
        "### Splunk SPL",
        "### Elastic Lucene",
        "### Elastic EQL",
        "### Elastic ES\\|QL",
        "### CloudWatch Logs Insights",
    ]
    assert '```spl\nsourcetype=aws:cloudtrail eventSource="lambda.amazonaws.com"' in queries
    assert "```eql\nany where " in queries
    assert "```sql\nfrom logs-aws.cloudtrail-* " in queries
    # The queries include the exemption, as `convert --filter` emits them.
    assert (
        'NOT (userIdentity.sessionContext.sessionIssuer.arn="arn:aws:iam::123456789012:role/lambda-deployer"'
        in (queries)
    )
    exemptions = _section(page, "Exemptions")
    assert exemptions.startswith("\n### Exempt the Lambda deployment role from Lambda layer alerts\n\n")
    assert (
        "From `rules/filters/lambda_layer_deployment_role.yml`, id `4c1f5f0e-6f5a-4b8e-9a55-2f6d8f0e7a11`."
        in (exemptions)
    )
    assert "condition: not (deployment_role or release_tooling)\n```" in exemptions
    raw = (RULES / f"{FOUNDING}.yml").read_text(encoding="utf-8")
    assert page.endswith("## Rule\n\n```yaml\n" + raw.rstrip() + "\n```\n")


def test_pages_unsupported_target_note_with_location(in_repo: Path, tmp_path: Path) -> None:
    render_pages(["rules"], tmp_path, filters=["rules/filters"])
    page = (tmp_path / f"{COMPANION}.md").read_text(encoding="utf-8")
    eql = _section(page, "Queries").split("### Elastic EQL\n\n", 1)[1].split("\n### ", 1)[0]
    lines = eql.strip().splitlines()
    assert lines[0] == '!!! warning "Not supported on this target"'
    assert lines[2].startswith("    field ") and "flattened" in lines[2]
    rule_lines = (RULES / f"{COMPANION}.yml").read_text(encoding="utf-8").splitlines()
    layers_line = next(n for n, text in enumerate(rule_lines, 1) if "requestParameters.layers" in text)
    assert lines[4] == f"    Rule location: `rules/{COMPANION}.yml:{layers_line}:9`"
    assert lines[6].startswith("    Hint: use the ") and "lucene target" in lines[6]
    assert "```" not in eql


def test_pages_without_filters_say_no_exemption(in_repo: Path, tmp_path: Path) -> None:
    render_pages([f"rules/{FOUNDING}.yml"], tmp_path)
    page = (tmp_path / f"{FOUNDING}.md").read_text(encoding="utf-8")
    assert _section(page, "Exemptions").strip() == "No exemption applies to this rule."
    assert "lambda-deployer" not in _section(page, "Queries")


def test_pages_index_groups_by_tactic_and_service(in_repo: Path, tmp_path: Path) -> None:
    render_pages(["rules"], tmp_path, filters=["rules/filters"])
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    founding = f"[AWS Attached Malicious Lambda Layer]({FOUNDING}.md)"
    companion = f"[AWS Lambda Layer Attached To Existing Function]({COMPANION}.md)"
    assert index.startswith("# Rules\n\n2 rules. ")
    assert f"| {founding} | yes | yes | yes | yes | yes |" in index
    assert f"| {companion} | yes | yes | unsupported | unsupported | yes |" in index
    tactics = _section(index, "By ATT&CK tactic")
    assert [line for line in tactics.splitlines() if line.startswith("### ")] == [
        "### Persistence (TA0003)",
        "### Privilege Escalation (TA0004)",
    ]
    persistence = tactics.split("### Persistence (TA0003)", 1)[1].split("###", 1)[0]
    assert companion in persistence and founding not in persistence
    services = _section(index, "By AWS service")
    assert services.splitlines()[1] == "### lambda.amazonaws.com"
    assert f"| {companion} | medium | experimental | Persistence, Privilege Escalation |" in services


def test_pages_deterministic(in_repo: Path, tmp_path: Path) -> None:
    first = render_pages(["rules"], tmp_path / "a", filters=["rules/filters"])
    second = render_pages(["rules"], tmp_path / "b", filters=["rules/filters"])
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_pages_site_pages_are_current(in_repo: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """docs/rules/ is `sigma-lambda docs rules/ --filter rules/filters --output-dir docs/rules`, committed."""
    if request.config.getoption("--update-golden"):
        render_pages(["rules"], SITE_PAGES, filters=["rules/filters"])
    written = render_pages(["rules"], tmp_path, filters=["rules/filters"])
    stale = [
        p.name
        for p in written
        if not (SITE_PAGES / p.name).is_file() or (SITE_PAGES / p.name).read_bytes() != p.read_bytes()
    ]
    assert not stale, (
        f"docs/rules/ is out of date for {stale}: run `pytest tests/test_pages.py --update-golden` "
        "and review the diff"
    )


def test_pages_sigmahq_aws_rules(in_repo: Path, tmp_path: Path) -> None:
    if not SIGMAHQ_AWS.is_dir():
        pytest.skip(f"SigmaHQ corpus not found at {SIGMAHQ_AWS} (expected <repo>/../shared/corpus)")
    names = [
        "aws_cloudtrail_disable_logging.yml",
        "aws_enum_buckets.yml",
        "aws_root_account_usage.yml",
        "aws_susp_saml_activity.yml",
    ]
    written = render_pages([SIGMAHQ_AWS / n for n in names], tmp_path)
    assert [p.name for p in written] == [n.replace(".yml", ".md") for n in names] + ["index.md"]
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    tactics = [line for line in _section(index, "By ATT&CK tactic").splitlines() if line.startswith("### ")]
    assert tactics == [
        "### Initial Access (TA0001)",
        "### Persistence (TA0003)",
        "### Privilege Escalation (TA0004)",
        "### Stealth",
        "### Defense Impairment",
        "### Discovery (TA0007)",
        "### Lateral Movement (TA0008)",
    ]
    services = [line for line in _section(index, "By AWS service").splitlines() if line.startswith("### ")]
    assert services == [
        "### cloudtrail.amazonaws.com",
        "### iam.amazonaws.com",
        "### s3.amazonaws.com",
        "### sts.amazonaws.com",
        f"### {md(ANY_SERVICE)}",
    ]
    any_service = _section(index, "By AWS service").split(f"### {md(ANY_SERVICE)}", 1)[1]
    assert "[AWS Root Credentials](aws_root_account_usage.md)" in any_service
    logging = (tmp_path / "aws_cloudtrail_disable_logging.md").read_text(encoding="utf-8")
    assert "| `attack.defense-impairment` | tactic | Defense Impairment |" in logging
    assert (
        "| `attack.t1685.002` | technique | [T1685.002](https://attack.mitre.org/techniques/T1685/002/)"
        in (logging)
    )
    assert "(not in the bundled ATT&CK v18.1 data)" in logging


def test_pages_attack_tags_resolve_offline() -> None:
    tactic = resolve_attack_tag("attack.privilege_escalation")
    assert tactic is not None and (tactic.kind, tactic.id, tactic.name) == (
        "tactic",
        "TA0004",
        "Privilege Escalation",
    )
    assert tactic.url == "https://attack.mitre.org/tactics/TA0004/"
    technique = resolve_attack_tag("attack.t1078.004")
    assert technique is not None and (technique.id, technique.name) == ("T1078.004", "Cloud Accounts")
    assert technique.tactics == ("initial-access", "persistence", "privilege-escalation", "defense-evasion")
    assert technique.url == "https://attack.mitre.org/techniques/T1078/004/"
    group = resolve_attack_tag("attack.g0016")
    assert group is not None and (group.kind, group.name) == ("group", "APT29")
    assert resolve_attack_tag("cve.2021-44228") is None
    assert tactic_name("command-and-control") == "Command and Control"


def test_pages_event_sources_from_any_selection_and_modifier() -> None:
    detection = {
        "a": {"eventSource": ["s3.amazonaws.com", "iam.amazonaws.com"]},
        "b": [{"eventSource|endswith": "sts.amazonaws.com"}, {"eventName": "x"}],
        "condition": "a or b",
    }
    assert event_sources(detection) == ["iam.amazonaws.com", "s3.amazonaws.com", "sts.amazonaws.com"]
    assert event_sources({"sel": {"userIdentity.type": "Root"}, "condition": "sel"}) == []


def test_pages_safe_names_collisions_and_escaping(tmp_path: Path) -> None:
    rule = (RULES / f"{FOUNDING}.yml").read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "same.yml").write_text(rule, encoding="utf-8")
    (tmp_path / "b" / "same.yml").write_text(
        rule.replace("97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d", "0f0f0f0f-0000-4000-8000-000000000001").replace(
            "title: AWS Attached Malicious Lambda Layer", "title: 'Layer *attached* <script>x</script>'"
        ),
        encoding="utf-8",
    )
    (tmp_path / "index.yml").write_text(rule, encoding="utf-8")
    (tmp_path / "broken.yml").write_text("title: broken\ndetection: [\n", encoding="utf-8")
    out = tmp_path / "out"
    written = render_pages(
        [tmp_path / "a", tmp_path / "b", tmp_path / "index.yml", tmp_path / "broken.yml"], out
    )
    assert [p.name for p in written] == [
        "same_97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d.md",
        "same_0f0f0f0f-0000-4000-8000-000000000001.md",
        "index_97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d.md",
        "index.md",
    ]
    escaped = written[1].read_text(encoding="utf-8")
    assert escaped.startswith("# Layer \\*attached\\* \\<script\\>x\\</script\\>\n")
    index = (out / "index.md").read_text(encoding="utf-8")
    assert "## Not loaded" in index and "broken.yml" in index


def test_pages_skip_filters_and_rule_tests(in_repo: Path, tmp_path: Path) -> None:
    written = render_pages(["rules/filters", f"rules/{FOUNDING}.tests.yml"], tmp_path)
    assert [p.name for p in written] == ["index.md"]
    assert (tmp_path / "index.md").read_text(encoding="utf-8").startswith("# Rules\n\n0 rules. ")


def test_pages_mkdocs_site_builds_strict(tmp_path: Path) -> None:
    """The documentation site, rule pages included, builds with every link resolved."""
    if shutil.which("mkdocs") is None and not (Path(sys.executable).parent / "mkdocs").exists():
        pytest.skip("mkdocs is not installed (it is in the 'test' extra)")
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = tmp_path / "site"
    assert (built / "rules" / FOUNDING / "index.html").is_file()
    assert (built / "notebooks" / "sigma-lambda.ipynb").is_file()
    # The notebook is also a page (docs/_hooks/notebooks.py): its code and committed outputs, not raw JSON.
    page = (built / "notebooks" / "sigma-lambda" / "index.html").read_text(encoding="utf-8")
    from sigma_lambda_layer.registry import TARGETS

    count = len(TARGETS)  # the committed outputs show the founding rule on every target
    assert f"{count} converted, 0 unsupported, 0 failed" in page and "<table" in page
    assert '"cell_type"' not in page
