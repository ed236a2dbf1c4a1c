from __future__ import annotations

from pathlib import Path

import pytest

_PACKAGE = Path(__file__).resolve().parents[1] / "sigma_lambda_layer"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run on a compiled module older than its source (a mypyc build left beside the sources,
    then the source edited): Python would import the stale compiled one."""
    stale = [
        str(so.relative_to(_PACKAGE.parent))
        for so in _PACKAGE.rglob("*.so")
        if (source := so.with_name(so.name.split(".", 1)[0] + ".py")).exists()
        and source.stat().st_mtime > so.stat().st_mtime
    ]
    if stale:
        raise pytest.UsageError(
            f"compiled modules older than their sources: {', '.join(stale)}; rebuild "
            "(bash tests/setup-and-run.sh) or delete them to run the sources as plain Python"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files (tests/golden/matrix.yml, README block, docs tables) from the current code "
        "(review the diff!)",
    )


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI runs in tests use a throwaway cache, never the user's ~/.cache/sigma-lambda."""
    monkeypatch.setenv("SIGMA_LAMBDA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
