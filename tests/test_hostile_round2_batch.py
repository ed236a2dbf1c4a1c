"""Hostile input, round two (issue 16), the batch side: the cache, the output folder, lost outputs, workers.

Each test is one reproduction of the issue, run the way a user meets it (the API or the CLI), and proves the
defence docs/hostile-input.md describes: a cache that serves nothing it cannot vouch for and never stops a run,
writes that stay inside the output folder and are atomic, no output silently lost, workers that die with
their parent.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sigma_lambda_layer import cache as cache_module
from sigma_lambda_layer.api import convert
from sigma_lambda_layer.cli import main

REPO = Path(__file__).resolve().parents[1]
FOUNDING = REPO / "rules" / "aws_attached_malicious_lambda_layer.yml"
PLANTED = "NOT * | delete"
SHARED_ID = "aaaaaaaa-1111-4111-8111-111111111111"

RULE = """\
title: Rule {n}
id: {id}
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: lambda.amazonaws.com
        eventName: Event{n}
    condition: selection
"""


def rule(n: int, rule_id: str | None = None) -> str:
    text = RULE.format(n=n, id=rule_id or f"{n:08d}-1111-4111-8111-111111111111")
    return text if rule_id != "" else text.replace("id: \n", "")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("v3/*/*.json"))


def splunk_queries(rules: Path, cache_dir: Path | None) -> list[Any]:
    return [r.output for r in convert(rules, target="splunk", collect_errors=True, cache_dir=cache_dir)]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"r{n}.yml").write_text(rule(n))
    return folder


@pytest.fixture
def fresh(rules: Path) -> list[Any]:
    """The queries without any cache: what every cached run must give."""
    return splunk_queries(rules, None)


def plant(folder: Path, output: str = PLANTED) -> None:
    """Rewrite every stored entry as an attacker would: well formed, filed under its key, another query."""
    for path in entries(folder):
        entry = json.loads(path.read_text())
        for result in entry["outcome"]["results"]:
            result["output"] = output
            result["queries"] = [output]
        path.write_text(json.dumps(entry))


# --- (3) the cache ------------------------------------------------------------------------------------------


def test_cache_serves_a_stored_entry_only_to_the_code_that_wrote_it(
    rules: Path, fresh: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    assert splunk_queries(rules, folder) == fresh
    assert len(entries(folder)) == 2
    plant(folder, "served from the cache")
    # The same code reads its entries (this is what a cache is for) ...
    assert splunk_queries(rules, folder) == ["served from the cache"] * 2
    # ... a patched package (same version string, other code digest) never meets them.
    monkeypatch.setattr(cache_module, "code_digest", lambda: "patched")
    assert splunk_queries(rules, folder) == fresh


def test_code_digest_follows_file_contents_not_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "sigma_lambda_layer"
    shutil.copytree(cache_module._PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache_module, "_PACKAGE", package)
    digests = []
    target = package / "backends" / "splunk.py"
    stamp = target.stat()
    for edit in ("", "a", "b"):  # b: same size and modification time as a
        if edit:
            text = target.read_text()
            target.write_text(text[:-1] + edit if edit == "b" else text + edit)
            os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        cache_module.code_digest.cache_clear()
        digests.append(cache_module.code_digest())
    cache_module.code_digest.cache_clear()
    assert len(set(digests)) == 3


def test_cache_in_a_folder_others_can_write_is_not_used(
    rules: Path, fresh: list[Any], tmp_path: Path
) -> None:
    """A shared CI cache folder (mode 0777): a planted, well-formed entry is never served."""
    folder = tmp_path / "shared"
    assert splunk_queries(rules, folder) == fresh
    plant(folder)
    folder.chmod(0o777)
    with pytest.warns(cache_module.CacheWarning, match="writable by other users"):
        assert splunk_queries(rules, folder) == fresh
    code, out, err = run("convert", str(rules), "-t", "splunk", "--cache-dir", str(folder), "--jobs", "1")
    assert code == 0 and PLANTED not in out and out.split("\n")[:2] == fresh
    assert err.count("warning: cache not used") == 1 and "Traceback" not in err


def test_default_cache_folder_of_an_earlier_version_is_tightened(
    rules: Path, fresh: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default folder, made 0775 by an earlier version under umask 002, is ours: made 0700, not refused;
    what an earlier layout left in it is not read."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = cache_module.default_folder()
    assert folder is not None
    (folder / "v2").mkdir(parents=True)
    folder.chmod(0o775)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache_module.CacheWarning)
        assert splunk_queries(rules, folder) == fresh
    assert folder.stat().st_mode & 0o777 == 0o700 and len(entries(folder)) == 2


def test_cache_folder_created_for_the_user_alone(rules: Path, tmp_path: Path) -> None:
    folder = tmp_path / "new" / "cache"
    splunk_queries(rules, folder)
    for path in (folder, folder / "v3", *{p.parent for p in entries(folder)}):
        assert path.stat().st_mode & 0o077 == 0, path
    assert all(p.stat().st_mode & 0o077 == 0 for p in entries(folder))


def _reshape(entry: dict[str, Any], how: str, other: dict[str, Any]) -> Any:
    result = entry["outcome"]["results"][0]
    if how == "a list":
        return []
    if how == "key of another file":
        return other
    if how == "unknown target":
        result["target"] = "lucene"
    elif how == "output a number and queries absent":
        result["output"] = 7
        del result["queries"]
    elif how == "error of the wrong type":
        result.update(output=None, error={"type": "SigmaLambdaError", "message": 3})
    elif how == "line a boolean":
        entry["outcome"]["errors"] = [{"type": "RuleLoadError", "message": "x", "line": True}]
    elif how == "extra key":
        entry["outcome"]["extra"] = 1
    elif how == "other format version":
        entry["format"] = 2
    return entry


@pytest.mark.parametrize(
    "how",
    [
        "a list",
        "key of another file",
        "unknown target",
        "output a number and queries absent",
        "error of the wrong type",
        "line a boolean",
        "extra key",
        "other format version",
        "truncated",
        "not UTF-8",
        "a link",
    ],
)
def test_cache_entry_of_the_wrong_shape_is_a_miss(
    rules: Path, fresh: list[Any], tmp_path: Path, how: str
) -> None:
    folder = tmp_path / "cache"
    splunk_queries(rules, folder)
    first, second = entries(folder)
    data = first.read_bytes()
    if how == "truncated":
        first.write_bytes(data[: len(data) // 2])
    elif how == "not UTF-8":
        first.write_bytes(b"\xff\xfe" + data)
    elif how == "a link":
        outside = tmp_path / "outside.json"
        outside.write_bytes(second.read_bytes())
        first.unlink()
        first.symlink_to(outside)
    else:
        entry = json.loads(data)
        first.write_text(json.dumps(_reshape(entry, how, json.loads(second.read_text()))))
    assert splunk_queries(rules, folder) == fresh


def test_cache_that_cannot_be_used_never_stops_a_run(
    rules: Path, fresh: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.warns(cache_module.CacheWarning):  # a cache path under a file
        assert splunk_queries(rules, blocker / "cache") == fresh

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))

    monkeypatch.setattr(cache_module.os, "replace", full)  # a full disk when an entry is written
    with pytest.warns(cache_module.CacheWarning, match="No space left"):
        assert splunk_queries(rules, tmp_path / "full") == fresh
    assert not list((tmp_path / "full").rglob("*.tmp"))
    monkeypatch.undo()

    def read_only(self: Path, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)  # a read-only HOME (root ignores modes, so say it)
    with pytest.warns(cache_module.CacheWarning, match="Read-only"):
        assert splunk_queries(rules, tmp_path / "ro") == fresh


def test_cli_cache_folder_that_is_a_file_is_a_warning(rules: Path, fresh: list[Any], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, out, err = run(
        "convert", str(rules), "-t", "splunk", "--jobs", "1", env={"SIGMA_LAMBDA_CACHE_DIR": str(blocker)}
    )
    assert (code, out.split("\n")[:2]) == (0, fresh)
    assert err.count("warning: cache not used") == 1 and "Traceback" not in err


def test_cli_without_a_home_folder_converts_without_the_cache(
    rules: Path, fresh: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("SIGMA_LAMBDA_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    code, out, err = run("convert", str(rules), "-t", "splunk", "--jobs", "1")
    assert (code, out.split("\n")[:2]) == (0, fresh)
    assert "warning: cache not used (no home folder" in err and "Traceback" not in err


def test_cache_size_bound_evicts_the_oldest(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    settings = folder / "v3" / "s"
    settings.mkdir(parents=True)
    for n in range(10):
        entry = settings / f"{n}.json"
        entry.write_bytes(b"x" * 100)
        os.utime(entry, (1_000_000 + n, 1_000_000 + n))
    assert cache_module.prune(folder, 2000) == 0
    assert cache_module.prune(folder, 500) == 7  # down to three quarters of the bound
    assert sorted(p.name for p in settings.iterdir()) == ["7.json", "8.json", "9.json"]


def test_cache_bound_holds_after_a_run(rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cache"
    splunk_queries(rules, folder)
    one = entries(folder)[0].stat().st_size
    monkeypatch.setattr(cache_module, "MAX_BYTES", one)
    (rules / "r3.yml").write_text(rule(3))
    splunk_queries(rules, folder)
    assert sum(p.stat().st_size for p in entries(folder)) <= one


def test_cli_cache_clear_removes_only_the_cache_layout(rules: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    splunk_queries(rules, folder)
    (folder / "v2").mkdir()
    (folder / "notes.txt").write_text("mine")
    code, out, _ = run("cache", "path", "--cache-dir", str(folder))
    assert (code, out.strip()) == (0, str(folder))
    code, _, err = run("cache", "clear", "--cache-dir", str(folder))
    assert code == 0 and "2 cache layout(s) removed" in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_concurrent_runs_share_one_cache(rules: Path, fresh: list[Any], tmp_path: Path) -> None:
    """Two processes filling one cache at once: both convert, every entry whole, no temporary file left."""
    for n in range(3, 12):
        (rules / f"r{n}.yml").write_text(rule(n))
    folder = tmp_path / "cache"
    command = [sys.executable, "-m", "sigma_lambda_layer", "convert", str(rules), "-t", "splunk", "--jobs", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "SIGMA_LAMBDA_CACHE_DIR": str(folder)}
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in runs]
    assert [p.returncode for p in runs] == [0, 0]
    assert outputs[0][0] == outputs[1][0] and b"Traceback" not in outputs[0][1] + outputs[1][1]
    assert len(entries(folder)) == 11 and not list(folder.rglob("*.tmp"))
    assert all(json.loads(p.read_text())["key"] == p.stem for p in entries(folder))


# --- (7) writes stay inside the output folder, atomically ---------------------------------------------------


def test_docs_does_not_write_through_planted_links(rules: Path, tmp_path: Path) -> None:
    out, outside = tmp_path / "site", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious\n")
    for name in ("r1.md", "index.md"):
        (out / name).symlink_to(victim)
    code, _, err = run("docs", str(rules), "-o", str(out))
    assert code == 0, err
    assert victim.read_text() == "precious\n"
    for name in ("r1.md", "r2.md", "index.md"):
        assert not (out / name).is_symlink() and (out / name).read_text().startswith(("# ", "---")), name


def test_docs_pages_written_atomically_on_a_full_disk(rules: Path, tmp_path: Path) -> None:
    from tests.support.limits import limit_in_child

    out = tmp_path / "site"
    assert run("docs", str(rules), "-o", str(out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (rules / "r1.yml").write_text(
        rule(1).replace("logsource:", "description: " + "longer " * 800 + "\nlogsource:")
    )
    command = [sys.executable, "-m", "sigma_lambda_layer", "docs", str(rules), "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, preexec_fn=lambda: limit_in_child(3000)
    )
    assert done.returncode == 1 and "File too large" in done.stderr and "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # every page whole, no temporary file


def test_convert_refuses_a_linked_target_folder_and_still_reports(rules: Path, tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "splunk").symlink_to(outside, target_is_directory=True)
    report = tmp_path / "report.json"
    args = ["convert", str(rules), "-t", "splunk", "-t", "lucene", "--output-dir", str(out), "--jobs", "1"]
    code, _, err = run(*args, "--report", str(report))
    assert code == 1 and "Traceback" not in err
    assert "a link or a file stands where an output folder belongs" in err
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (out / "lucene").iterdir()) == ["_bundle.lucene", "r1.lucene", "r2.lucene"]
    document = json.loads(report.read_text())
    assert {f["file"] for f in document["output_dir"]["failed"]} >= {"splunk/r1.spl", "splunk/r2.spl"}
    assert [e["file"] for e in document["results"] if e["target"] == "splunk"] == [None, None]


def test_every_file_output_goes_through_the_one_writer(rules: Path, tmp_path: Path) -> None:
    """``--output``, ``--report`` and ``check --sarif`` replace a link at their place, never write through it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    links = {name: tmp_path / name for name in ("out.spl", "report.json", "lint.sarif")}
    for link in links.values():
        link.symlink_to(victim)
    convert_args = ["convert", str(rules), "-t", "splunk", "--jobs", "1", "-o", str(links["out.spl"])]
    assert run(*convert_args, "--report", str(links["report.json"]))[0] == 0
    run("check", str(rules), "--sarif", str(links["lint.sarif"]))
    assert victim.read_text() == "precious\n"
    assert all(not p.is_symlink() and p.stat().st_size > 0 for p in links.values())


# --- (8) nothing silently lost ------------------------------------------------------------------------------


@pytest.mark.parametrize("rule_id", [SHARED_ID, ""])
def test_rules_sharing_a_file_name_each_get_a_file(tmp_path: Path, rule_id: str) -> None:
    for n, folder in enumerate(("a", "b", "c"), 1):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.yml").write_text(rule(n, rule_id))
    out, report = tmp_path / "out", tmp_path / "report.json"
    folders = [str(tmp_path / f) for f in "abc"]
    code, _, err = run("convert", *folders, "-t", "splunk", "--output-dir", str(out), "--report", str(report))
    assert code == 0, err
    files = sorted((out / "splunk").glob("same*.spl"))
    assert sorted(f.read_text() for f in files) == sorted(
        r.output + "\n" for r in convert(folders, target="splunk", collect_errors=True)
    )
    document = json.loads(report.read_text())
    assert document["output_dir"]["renamed"] == 2
    assert sorted(e["file"] for e in document["results"]) == sorted(f"splunk/{f.name}" for f in files)
    assert "2 renamed" in err


def test_docs_counts_the_pages_it_wrote(tmp_path: Path) -> None:
    for n, folder in enumerate(("a", "b", "c"), 1):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / ("same.yml" if n < 3 else "other.yml")).write_text(rule(n, SHARED_ID))
    out = tmp_path / "site"
    code, _, err = run("docs", *(str(tmp_path / f) for f in "abc"), "-o", str(out))
    assert code == 0
    pages = [p for p in out.glob("*.md") if p.name != "index.md"]
    assert "wrote 3 rule page(s)" in err and len(pages) == 3
    assert all(sum(f"Event{n}" in p.read_text() for p in pages) == 1 for n in (1, 2, 3))


def test_json_with_output_dir_does_both(rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run("convert", str(rules), "-t", "splunk", "--json", "--output-dir", str(out), "-q")
    assert code == 0
    assert [r["output"] + "\n" for r in json.loads(stdout)] == [
        (out / "splunk" / f"r{n}.spl").read_text() for n in (1, 2)
    ]


def test_stale_outputs_of_a_rule_that_now_fails_are_removed(rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    def names(target: str) -> list[str]:
        return sorted(p.name for p in (out / target).iterdir())

    def convert_to(*targets: str) -> int:
        chosen = [a for t in targets for a in ("-t", t)]
        return run("convert", str(rules), *chosen, "--output-dir", str(out), "-q", "--jobs", "1")[0]

    assert convert_to("splunk", "lucene") == 0
    (out / "splunk" / "mine.txt").write_text("hand-written")
    (rules / "r2.yml").write_text(rule(2).replace("eventName:", "eventName|startswit:"))
    assert convert_to("splunk", "lucene") == 1
    assert names("splunk") == ["_bundle.spl", "mine.txt", "r1.spl"]
    assert "Event2" not in (out / "splunk" / "_bundle.spl").read_text()
    # a target that now converts nothing loses its bundle too; a target not converted this run keeps its files
    (rules / "r1.yml").write_text(rule(1).replace("eventName:", "eventName|startswit:"))
    assert convert_to("splunk") == 1
    assert names("splunk") == ["mine.txt"]
    assert names("lucene") == ["_bundle.lucene", "r1.lucene"]
    # a rule skipped with --skip-unsupported is no output either
    (rules / "r1.yml").write_text(rule(1))
    assert convert_to("lucene") == 1  # r2 still fails
    assert names("lucene") == ["_bundle.lucene", "r1.lucene"]


# --- (10, part) workers die with their parent ---------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_workers_die_with_their_parent(tmp_path: Path, signum: int) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(160):  # enough for two workers (32 files each at least) to work for a while
        (folder / f"r{n}.yml").write_text(rule(n))
    command = [sys.executable, "-m", "sigma_lambda_layer", "convert", str(folder), "-t", "all", "--jobs", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            workers = _children(parent.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the run never started two workers"
        parent.send_signal(signum)
        assert parent.wait(timeout=30) == -signum
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "workers outlived their parent"
    finally:
        parent.kill()
        for w in workers if "workers" in locals() else ():
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_docs_removes_its_own_stale_pages_and_nothing_else(rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert run("docs", str(rules), "-o", str(out))[0] == 0
    (out / "hand-written.md").write_text("# mine\n")
    (rules / "r2.yml").unlink()
    assert run("docs", str(rules), "-o", str(out))[0] == 0
    assert sorted(p.name for p in out.glob("*.md")) == ["hand-written.md", "index.md", "r1.md"]
    assert "Rule 2" not in (out / "index.md").read_text()


def test_planted_manifest_cannot_remove_files_outside_the_folder(tmp_path: Path) -> None:
    from sigma_lambda_layer.writer import MANIFEST, OutputFolder, UnsafeOutputPath

    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / "splunk").mkdir(parents=True)
    (out / "link").symlink_to(tmp_path, target_is_directory=True)
    planted = ["../victim.txt", str(victim), "link/victim.txt", "splunk/../../victim.txt"]
    (out / MANIFEST).write_text(json.dumps({"format": 1, "files": {"splunk": planted}}))
    folder = OutputFolder(out, manifest=True)
    for name in ("../escape.txt", "/abs.txt", "link/x.txt", "a/../../x.txt"):
        with pytest.raises(UnsafeOutputPath):
            folder.write(name, "x", group="splunk")
    assert folder.finish(["splunk"]) == []
    assert victim.read_text() == "precious\n" and not (tmp_path / "escape.txt").exists()
    assert json.loads((out / MANIFEST).read_text())["files"] == {"splunk": []}
