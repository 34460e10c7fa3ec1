"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """One share of the cores per test process: ``pytest -n 2`` on 2 cores runs each worker with
    one torch thread (two workers of two threads each oversubscribe the machine, and small nets
    then run up to 20x slower). Subprocesses the tests start inherit the setting."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        import torch

        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny models (one intra-op thread is faster for them, much
    faster on a shared machine, and float64 convolutions are pathologically slow on several);
    a module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The read-only folder of real data sets: ``$REPRLAB_DATA`` or ``<repo>/../shared/data``."""
    path = Path(os.environ.get("REPRLAB_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"data folder {path} not found; set REPRLAB_DATA")
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Cached feature classifiers go to a per-session folder, never the user's ~/.cache."""
    old = os.environ.get("REPRLAB_CACHE")
    os.environ["REPRLAB_CACHE"] = str(tmp_path_factory.mktemp("reprlab-cache"))
    yield
    if old is None:
        os.environ.pop("REPRLAB_CACHE", None)
    else:
        os.environ["REPRLAB_CACHE"] = old
