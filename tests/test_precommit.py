"""docs/ci.md's pre-commit set-up, run with pre-commit itself, offline, in a scratch rules repository.

pre-commit clones the hook repository at a commit and ``pip install``s it into its own virtualenv
(``language: python``), exactly as it does for ``repo: https://github.com/...`` with a commit SHA as ``rev``.
The clone here is of a snapshot commit of this checkout (its tracked files, with uncommitted edits), so the
test checks the hooks as they are in the working tree. The install needs the package's dependencies from a
package index or pip's cache; the test is skipped when pip cannot reach one (it then proves nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULE = ROOT / "rules" / "aws_attached_malicious_lambda_layer.yml"
#: A rule whose condition names a selection that does not exist (line 9 of the file below).
BROKEN = """title: Broken condition
id: 5f0e4c2a-1d1e-4a43-9c1f-0d7b3e0c9a11
status: test
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: DeleteTrail
  condition: selection and missing
level: high
"""

pre_commit = pytest.importorskip("pre_commit")
#: One worker under pytest-xdist (--dist loadgroup): the hook environment is built once.
pytestmark = pytest.mark.xdist_group("pre-commit")


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this checkout's tracked files as one commit: (path, commit SHA)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of sigma-lambda")
    snapshot = tmp_path_factory.mktemp("hook-repo")
    for name in _git(ROOT, "ls-files", "-z").split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", "-A")
    _git(snapshot, "commit", "-qm", "snapshot")
    return snapshot, _git(snapshot, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache, shared by the module's tests so the hook environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def _rules_repo(root: Path, hook_repo: tuple[Path, str], rules: dict[str, str]) -> Path:
    """A scratch rules repository configured as docs/ci.md says (the URL replaced by the local clone)."""
    path, sha = hook_repo
    root.mkdir()
    _git(root, "init", "-q")
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {path.as_uri()}\n    rev: {sha}\n    hooks:\n"
        "      - id: sigma-lambda-check\n      - id: sigma-lambda-test\n",
        encoding="utf-8",
    )
    (root / "mkdocs.yml").write_text("site_name: detections\nnav: [index.md]\n", encoding="utf-8")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "rules.yml").write_text("on: [push]\njobs: {}\n", encoding="utf-8")
    for name, text in rules.items():
        (root / "rules" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "rules" / name).write_text(text, encoding="utf-8")
    _git(root, "add", "-A")
    return root


def _run(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PRE_COMMIT_HOME"] = str(home)
    env["SIGMA_LAMBDA_CACHE_DIR"] = str(home / "sigma-lambda-cache")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _installed(done: subprocess.CompletedProcess[str]) -> None:
    if "An unexpected error has occurred" in done.stdout + done.stderr and "pip" in done.stdout + done.stderr:
        pytest.skip(f"pre-commit could not pip install the hook repository here:\n{done.stdout[-2000:]}")


def test_good_rules_pass_and_other_yaml_is_not_linted(
    tmp_path: Path, hook_repo: tuple[Path, str], home: Path
) -> None:
    rules = {
        RULE.name: RULE.read_text(encoding="utf-8"),
        RULE.with_name(RULE.stem + ".tests.yml").name: RULE.with_name(RULE.stem + ".tests.yml").read_text(
            encoding="utf-8"
        ),
    }
    done = _run(_rules_repo(tmp_path / "rules-repo", hook_repo, rules), home)
    _installed(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sigma-lambda check" in done.stdout and "sigma-lambda test" in done.stdout
    assert ".pre-commit-config.yaml" not in done.stdout and "mkdocs.yml" not in done.stdout


def test_a_broken_rule_fails_with_its_location(
    tmp_path: Path, hook_repo: tuple[Path, str], home: Path
) -> None:
    rules = {RULE.name: RULE.read_text(encoding="utf-8"), "broken.yml": BROKEN}
    done = _run(_rules_repo(tmp_path / "rules-repo", hook_repo, rules), home)
    _installed(done)
    assert done.returncode == 1, done.stdout + done.stderr
    located = [line for line in done.stdout.splitlines() if line.startswith("rules/broken.yml:10:")]
    assert located, done.stdout
    assert "missing" in located[0]
    assert ".pre-commit-config.yaml" not in done.stdout
