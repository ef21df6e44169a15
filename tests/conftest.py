"""Shared fixtures. Real public test data lives in ../shared/data, found through one fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA_CANDIDATES = (
    os.environ.get("FORENSICS_SHARED_DATA", ""),
    str(REPO.parent / "shared" / "data"),
)


def _find_shared() -> Path | None:
    for c in SHARED_DATA_CANDIDATES:
        if c and Path(c).is_dir():
            return Path(c)
    return None


@pytest.fixture(autouse=True, scope="session")
def _machine_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the per-user Sigma rule cache into the test run's temporary folder."""
    os.environ["FORENSICS_CACHE_DIR"] = str(tmp_path_factory.mktemp("machine-cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only public test corpus (../shared/data). Skips when absent, but never in CI."""
    path = _find_shared()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ../shared/data (or $FORENSICS_SHARED_DATA) is missing")
        pytest.skip("../shared/data is not here; set FORENSICS_SHARED_DATA to run corpus tests")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (for sample_data/, queries/, iocs/)."""
    return REPO
