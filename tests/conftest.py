"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The read-only folder of real data sets: ``$REPRLAB_DATA`` or ``<repo>/../shared/data``."""
    path = Path(os.environ.get("REPRLAB_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"data folder {path} not found; set REPRLAB_DATA")
    return path
