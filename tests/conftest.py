from __future__ import annotations

import pytest


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
