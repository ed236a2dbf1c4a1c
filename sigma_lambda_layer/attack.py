"""MITRE ATT&CK mapping of Sigma tags, from the ATT&CK data shipped in the package (no download).

Elastic detection rules carry a ``threat`` list: one entry per tactic, each with the techniques (and
sub-techniques) filed under it (Kibana's rule schema, "threat" in the detection-engine API). The stock pySigma
backends build it by zipping the rule's tactic tags with its technique tags in order, which files a technique
under an unrelated tactic when the counts differ, and drop rules with fewer than two ATT&CK tags. Here each
technique goes under the tactics ATT&CK itself assigns it (restricted to the rule's own tactic tags when the
rule names any of them), and a tactic tag alone still gives an entry.

Tags accept both SigmaHQ spellings of tactics: ``attack.privilege-escalation`` and the older
``attack.privilege_escalation``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$", re.IGNORECASE)
_SMALL_WORDS = frozenset({"and", "or", "of", "the"})


def _data() -> dict[str, Any]:
    from sigma_lambda_layer.checks.offline import attack_data

    return attack_data()


def tactic_title(short_name: str) -> str:
    """``command-and-control`` -> ``Command and Control`` (ATT&CK's display names)."""
    words = short_name.split("-")
    return " ".join(w if i and w in _SMALL_WORDS else w.capitalize() for i, w in enumerate(words))


def threat_entries(tags: Iterable[Any]) -> list[dict[str, Any]]:
    """Kibana ``threat`` entries for a rule's tags (pySigma ``SigmaRuleTag`` objects or ``ns.name`` strings)."""
    data = _data()
    tactic_ids = {name: tid for tid, name in data["mitre_attack_tactics"].items()}
    techniques: dict[str, str] = data["mitre_attack_techniques"]
    mapping: dict[str, list[str]] = data["mitre_attack_techniques_tactics_mapping"]

    rule_tactics: list[str] = []
    rule_techniques: list[str] = []
    for tag in tags:
        namespace, _, name = (
            (tag.namespace, ".", tag.name) if hasattr(tag, "namespace") else str(tag).partition(".")
        )
        if namespace.lower() != "attack":
            continue
        name = name.strip().lower()
        if _TECHNIQUE.match(name):
            if name.upper() in techniques and name.upper() not in rule_techniques:
                rule_techniques.append(name.upper())
        else:
            short = name.replace("_", "-")
            if short in tactic_ids and short not in rule_tactics:
                rule_tactics.append(short)

    filed: dict[str, list[str]] = {t: [] for t in rule_tactics}
    for technique in rule_techniques:
        own = mapping.get(technique.split(".")[0], [])
        chosen = [t for t in own if t in rule_tactics] or [t for t in own if t in tactic_ids]
        for tactic in chosen:
            filed.setdefault(tactic, []).append(technique)

    entries = []
    for tactic, tactic_techniques in filed.items():
        tid = tactic_ids[tactic]
        grouped: dict[str, list[str]] = {}
        for technique in tactic_techniques:
            parent = technique.split(".")[0]
            grouped.setdefault(parent, [])
            if "." in technique:
                grouped[parent].append(technique)
        entries.append(
            {
                "framework": "MITRE ATT&CK",
                "tactic": {
                    "id": tid,
                    "name": tactic_title(tactic),
                    "reference": f"https://attack.mitre.org/tactics/{tid}/",
                },
                "technique": [
                    {
                        "id": parent,
                        "name": techniques.get(parent, parent),
                        "reference": f"https://attack.mitre.org/techniques/{parent}/",
                        "subtechnique": [
                            {
                                "id": sub,
                                "name": techniques[sub],
                                "reference": f"https://attack.mitre.org/techniques/{sub.replace('.', '/')}/",
                            }
                            for sub in subs
                        ],
                    }
                    for parent, subs in grouped.items()
                ],
            }
        )
    return entries
