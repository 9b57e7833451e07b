"""Shared fixtures: the committed sample case, and writable copies of it for breaking."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "dongguanxi"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_case():
    from gis.case import load_case

    return load_case(SAMPLE)


@pytest.fixture()
def case_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample case, for tests that break it."""
    dst = tmp_path / "case"
    shutil.copytree(SAMPLE, dst)
    return dst
