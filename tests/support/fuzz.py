"""Mutation fuzzing of Sigma rules: shared by ``tests/test_fuzz.py`` and runnable by hand.

Seeds are the SigmaHQ corpus rules (AWS CloudTrail first) and ours. Each mutant is made by one to three
mutations drawn from three families:

* **bytes**: flip, insert, delete or duplicate bytes (invalid UTF-8, NUL, control characters included);
* **YAML structure**: drop, duplicate, swap or re-indent lines; replace a value with a list, map, null,
  number, anchor/alias or tag; truncate the document; add a second document;
* **Sigma**: swap, misspell or stack modifiers; rewrite the condition (undefined names, dangling operators,
  ``1 of``/``all of`` patterns); turn selections into lists or empty maps.

Each mutant is converted for every target (``api.convert``, ``collect_errors=True``) and linted (``check``).
A mutant *crashes* when an exception escapes, an error says "internal error", or a check reports that a
validator failed; it *hangs* when one rule takes longer than :data:`PER_RULE_SECONDS`; and an error is
*unlocated* when it lacks the file path, or lacks a line although the file parsed as YAML (pySigma's
errors are located afterwards from the YAML; only whole-file problems like "binary" have no line).

Run a campaign by hand: ``python -m tests.support.fuzz --count 2000 --seed 7`` (prints a summary, exits 1 on any
finding). Everything is seeded: the same ``--seed`` and ``--count`` give the same mutants.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sigma_lambda_layer.registry import TARGETS as REGISTRY

REPO: Final = Path(__file__).resolve().parents[2]
CORPUS: Final = (REPO / ".." / "shared" / "corpus").resolve()
SIGMAHQ_RULES: Final = CORPUS / "sigmahq" / "rules"
AWS_RULES: Final = SIGMAHQ_RULES / "cloud" / "aws" / "cloudtrail"
TARGETS: Final = tuple(REGISTRY)
#: Wall-clock bound for converting one mutant for all targets and linting it.
PER_RULE_SECONDS: Final = 10.0

MODIFIERS: Final = (
    "contains",
    "startswith",
    "endswith",
    "all",
    "re",
    "i",
    "m",
    "s",
    "cased",
    "cidr",
    "base64",
    "base64offset",
    "windash",
    "exists",
    "exists",
    "wide",
    "utf16le",
    "gt",
    "lte",
    "fieldref",
    "expand",
    "contians",
    "",
    "|",
    "re|x",
    "startswith|endswith",
)
CONDITIONS: Final = (
    "selection and not filter",
    "1 of selection*",
    "all of them",
    "1 of them and not 1 of filter*",
    "selection and",
    "not",
    "(selection",
    "selection)",
    "selection | count() > 5",
    "selection or or filter",
    "undefined_name",
    "all of nothing*",
    "",
    "1 of",
    "selection and (filter or not (selection))",
)
VALUES: Final = (
    "[]",
    "{}",
    "null",
    "~",
    "42",
    "-1.5e308",
    "true",
    "'*'",
    "'\\'",
    '"\\x00"',
    "&anchor x",
    "*anchor",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']",
    "!custom x",
    "[[[[[[]]]]]]",
    "{a: {b: {c: [1, {d: e}]}}}",
    "'|'",
    "- a\n  - b",
    "2024-13-45",
    "0x1F",
    "'\u202e\u0000'",
)


@dataclass(frozen=True)
class Mutant:
    """One mutated rule: where it came from, what was done to it, and its bytes."""

    seed_path: str
    mutations: tuple[str, ...]
    data: bytes


@dataclass
class Finding:
    kind: str  # crash | hang | unlocated
    mutant: Mutant
    detail: str


@dataclass
class Campaign:
    """Counts and findings of a run."""

    mutants: int = 0
    failing: int = 0
    errors: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    conversions: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)
    #: check id -> mutants on which a pySigma validator raised (``check`` reports it as a warning finding)
    validator_failures: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)


def seed_rules() -> list[Path]:
    """The seed corpus: SigmaHQ's AWS rules, then ours, then the rest of SigmaHQ (empty if absent)."""
    ours = sorted((REPO / "rules").glob("*.yml"))
    ours = [p for p in ours if not p.name.endswith(".tests.yml")]
    if not SIGMAHQ_RULES.is_dir():
        return ours
    aws = sorted(AWS_RULES.glob("*.yml"))
    rest = sorted(p for p in SIGMAHQ_RULES.rglob("*.yml") if p not in set(aws))
    return aws + ours + rest


# --------------------------------------------------------------------------------------- mutations


def _byte_flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buf = bytearray(data)
    op = rng.randrange(4)
    pos = rng.randrange(len(buf))
    if op == 0:
        buf[pos] ^= 1 << rng.randrange(8)
    elif op == 1:
        buf[pos:pos] = bytes(
            rng.choice([0, 0x0A, 0x09, 0x22, 0x27, 0x5C, 0x7C, 0xFF, 0xC3, rng.randrange(256)])
            for _ in range(rng.randint(1, 3))
        )
    elif op == 2:
        del buf[pos : pos + rng.randint(1, 8)]
    else:
        end = min(len(buf), pos + rng.randint(1, 40))
        buf[pos:pos] = buf[pos:end] * rng.randint(1, 4)
    return bytes(buf)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _yaml_structure(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    i = rng.randrange(len(lines))
    op = rng.randrange(7)
    if op == 0:  # drop a line
        del lines[i]
    elif op == 1:  # duplicate a line (duplicate keys)
        lines.insert(i, lines[i])
    elif op == 2:  # swap two lines
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3:  # re-indent
        stripped = lines[i].lstrip(b" ")
        lines[i] = b" " * rng.choice([0, 1, 2, 3, 4, 6, 8, 12]) + stripped
    elif op == 4:  # replace a value
        match = re.match(rb"^(\s*-?\s*[^:#]+:)\s*(.*)$", lines[i])
        value = rng.choice(VALUES).encode()
        lines[i] = match.group(1) + b" " + value if match else lines[i] + b": " + value
    elif op == 5:  # truncate
        return b"\n".join(lines[:i])
    else:  # a second document, possibly broken
        extra = rng.choice([b"", b"title: x", b"- a", b"detection: {condition: s}", b"!!python/none"])
        lines += [b"---", extra]
    return b"\n".join(lines)


_MODIFIER_KEY = re.compile(rb"^(\s+-?\s*)([A-Za-z0-9_.\-{}]+)((?:\|[A-Za-z0-9_]*)*)(\s*:)", re.M)
_CONDITION = re.compile(rb"^(\s+condition:)(.*)$", re.M)


def _sigma(rng: random.Random, data: bytes) -> bytes:
    op = rng.randrange(4)
    if op <= 1:
        keys = list(_MODIFIER_KEY.finditer(data))
        if keys:
            m = rng.choice(keys)
            mods = [rng.choice(MODIFIERS) for _ in range(rng.randint(0, 3))]
            suffix = b"".join(b"|" + x.encode() for x in mods)
            return data[: m.start(3)] + suffix + data[m.end(3) :]
    if op == 2:
        conditions = list(_CONDITION.finditer(data))
        if conditions:
            m = rng.choice(conditions)
            return data[: m.start(2)] + b" " + rng.choice(CONDITIONS).encode() + data[m.end(2) :]
    # selections as a list, empty, or scalar
    return re.sub(
        rb"^(    [A-Za-z_]+:)\s*$",
        lambda m: m.group(1) + b" " + rng.choice([b"[]", b"{}", b"null", b"- x", b"'*'"]),
        data,
        count=1,
        flags=re.M,
    )


FAMILIES: Final[dict[str, Callable[[random.Random, bytes], bytes]]] = {
    "bytes": _byte_flip,
    "yaml": _yaml_structure,
    "sigma": _sigma,
}


def mutants(seeds: Sequence[Path], count: int, seed: int) -> Iterator[Mutant]:
    """``count`` mutants of ``seeds``, reproducibly from ``seed``."""
    rng = random.Random(seed)
    texts = [(str(p), p.read_bytes()) for p in seeds]
    for _ in range(count):
        path, data = rng.choice(texts)
        applied: list[str] = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            family = rng.choice(list(FAMILIES))
            data = FAMILIES[family](rng, data)
            applied.append(family)
        yield Mutant(path, tuple(applied), data)


# --------------------------------------------------------------------------------------- running


def _parses_as_yaml(data: bytes) -> bool:
    import yaml

    from sigma_lambda_layer.errors import RuleLoadError
    from sigma_lambda_layer.loading import decode, parse_text

    try:
        parse_text(decode(data, "x"), "x")
    except (RuleLoadError, yaml.YAMLError, RecursionError):
        return False
    return True


#: Whole-file problems that have no line to point at.
_LINELESS = re.compile(r"binary|no Sigma rule|byte limit|expands to more than|nested deeper|cannot read")


def run_one(mutant: Mutant, folder: Path, campaign: Campaign) -> None:
    """Convert and check one mutant; record what went wrong in ``campaign``."""
    from sigma_lambda_layer.api import convert
    from sigma_lambda_layer.checks import check_paths

    path = folder / f"mutant_{campaign.mutants}.yml"
    path.write_bytes(mutant.data)
    campaign.mutants += 1
    campaign.families.update(mutant.mutations)
    started = time.monotonic()
    stage = "convert"
    try:
        results = convert([path], target=list(TARGETS), collect_errors=True)
        stage = "check"
        findings = check_paths([path])
    except Exception as exc:  # any escape is a crash
        where = traceback.extract_tb(exc.__traceback__)[-1]
        origin = f"{Path(where.filename).name}:{where.lineno}"
        campaign.findings.append(Finding("crash", mutant, f"{stage}: {type(exc).__name__}: {exc} ({origin})"))
        return
    finally:
        elapsed = time.monotonic() - started
        campaign.seconds += elapsed
        campaign.slowest = max(campaign.slowest, elapsed)
        path.unlink()
    if elapsed > PER_RULE_SECONDS:
        campaign.findings.append(Finding("hang", mutant, f"{elapsed:.1f}s"))
    errors = [r.error for r in results if r.error is not None]
    for r in results:
        campaign.conversions[r.target] += 1
    campaign.errors += len(errors)
    if errors:
        campaign.failing += 1
    parsed = None
    for error in errors:
        if "internal error" in error.message:
            campaign.findings.append(Finding("crash", mutant, str(error)))
            continue
        if error.location.path != str(path):
            campaign.findings.append(Finding("unlocated", mutant, f"path {error.location.path!r}: {error}"))
            continue
        if error.location.line is None and not _LINELESS.search(error.message):
            parsed = _parses_as_yaml(mutant.data) if parsed is None else parsed
            if parsed:
                campaign.findings.append(Finding("unlocated", mutant, f"no line: {error.message}"))
    for f in findings:
        if f.message.startswith("validator failed"):
            # Caught and reported by ``check`` as a warning (a pySigma validator meeting a wrong type).
            campaign.validator_failures[f.check] += 1


def run_campaign(
    count: int, seed: int, seeds: Sequence[Path] | None = None, budget: float | None = None
) -> Campaign:
    """Run ``count`` mutants (stopping early once ``budget`` seconds are spent)."""
    campaign = Campaign()
    chosen = list(seeds) if seeds is not None else seed_rules()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sigma-fuzz-") as tmp:
        for mutant in mutants(chosen, count, seed):
            run_one(mutant, Path(tmp), campaign)
            if budget is not None and time.monotonic() - started > budget:
                break
    return campaign


def summary(campaign: Campaign) -> str:
    kinds = Counter(f.kind for f in campaign.findings)
    lines = [
        f"mutants: {campaign.mutants} ({dict(campaign.families)} mutations)",
        f"rule x target conversions: {sum(campaign.conversions.values())} {dict(campaign.conversions)}",
        f"mutants with errors: {campaign.failing}; errors: {campaign.errors}",
        f"time: {campaign.seconds:.1f}s, slowest mutant {campaign.slowest:.2f}s",
        f"validators that raised (reported by check as warnings): {dict(campaign.validator_failures)}",
        f"findings: crash={kinds['crash']} hang={kinds['hang']} unlocated={kinds['unlocated']}",
    ]
    seen: set[str] = set()
    for f in campaign.findings:
        key = f"{f.kind}: {re.sub(r'mutant_[0-9]+', 'mutant', f.detail)[:200]}"
        if key not in seen:
            seen.add(key)
            lines.append(f"  {key}\n    from {f.mutant.seed_path} via {'+'.join(f.mutant.mutations)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--aws-only", action="store_true", help="seed only from the AWS CloudTrail rules")
    parser.add_argument("--save", type=Path, help="write each finding's mutant into this folder")
    args = parser.parse_args(argv)
    seeds = sorted(AWS_RULES.glob("*.yml")) if args.aws_only else None
    campaign = run_campaign(args.count, args.seed, seeds)
    print(summary(campaign))
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for n, f in enumerate(campaign.findings):
            (args.save / f"{f.kind}_{n}.yml").write_bytes(f.mutant.data)
    return 1 if campaign.findings else 0


if __name__ == "__main__":
    sys.exit(main())
