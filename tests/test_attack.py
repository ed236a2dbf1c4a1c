"""ATT&CK threat entries for Elastic rule formats, from the shipped data."""

from __future__ import annotations

from sigma_lambda_layer.attack import tactic_title, threat_entries
from sigma_lambda_layer.checks.offline import attack_data


def _shape(entries: list[dict]) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    return [
        (e["tactic"]["id"], [(t["id"], [s["id"] for s in t["subtechnique"]]) for t in e["technique"]])
        for e in entries
    ]


def test_attack_tactic_only_tag_gives_an_entry() -> None:
    # The stock backends need two ATT&CK tags; the founding rule has one (old underscore spelling).
    assert _shape(threat_entries(["attack.privilege_escalation"])) == [("TA0004", [])]


def test_attack_technique_filed_under_its_own_tactic_not_by_order() -> None:
    # Stock zips tactics and techniques in order: T1078 would land under Credential Access.
    entries = threat_entries(
        ["attack.credential-access", "attack.defense-evasion", "attack.t1552.005", "attack.t1078"]
    )
    assert ("TA0006", [("T1552", ["T1552.005"])]) in _shape(entries)
    assert ("TA0005", [("T1078", [])]) in _shape(entries)
    assert all(
        "T1078" not in [t for t, _ in techniques] for tid, techniques in _shape(entries) if tid == "TA0006"
    )


def test_attack_technique_without_a_tactic_tag_uses_attack_mapping() -> None:
    mapping = attack_data()["mitre_attack_techniques_tactics_mapping"]["T1098"]
    entries = threat_entries(["attack.t1098"])
    assert sorted(e["tactic"]["name"].lower().replace(" ", "-") for e in entries) == sorted(mapping)


def test_attack_unknown_and_foreign_tags_are_ignored() -> None:
    assert (
        threat_entries(["attack.t9999", "attack.no-such-tactic", "cve.2021-1234", "detection.threat-hunting"])
        == []
    )


def test_attack_tactic_display_names() -> None:
    assert tactic_title("command-and-control") == "Command and Control"
    assert tactic_title("privilege-escalation") == "Privilege Escalation"


def test_attack_lucene_siem_rule_carries_threat() -> None:
    from pathlib import Path

    from sigma_lambda_layer import convert

    rule = Path(__file__).resolve().parents[1] / "rules" / "aws_attached_malicious_lambda_layer.yml"
    [result] = convert(rule, target="lucene", format="siem_rule")
    assert result.output["params"]["threat"][0]["tactic"]["id"] == "TA0004"
    assert result.output["params"]["index"] == ["logs-aws.cloudtrail-*"]
