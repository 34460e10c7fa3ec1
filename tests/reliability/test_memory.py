"""Memory (issue 19, B7): a data set or a model that cannot fit is refused before allocation, in
one line with the size it needed. Nothing big is allocated here: the available memory is
patched down to a few MB, and models are sized on the meta device."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import error_line, run_cli
from reprlab import memory
from reprlab.data import load_dataset
from reprlab.errors import ResourceError, UsageError
from reprlab.memory import TRAINING_FACTOR, check_fits, check_model_fits, human_bytes, model_memory_bytes
from reprlab.pipelines.training import build_model, build_run_config

pytestmark = pytest.mark.usefixtures("one_thread")

MB = 1_000_000


@pytest.fixture
def little_memory(monkeypatch):
    """Pretend 1 MB is available; returns a setter for another amount."""

    def set_to(n):
        monkeypatch.setattr(memory, "available_bytes", lambda: n)

    set_to(MB)
    return set_to


# ------------------------------------------------------------------------------- the helpers
def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1500, 80 * MB, 40e9, 3.2e12)] == [
        "0 B", "999 B", "1.5 kB", "80.0 MB", "40.0 GB", "3.2 TB"]


def test_available_bytes_reads_the_system():
    n = memory.available_bytes()
    if sys.platform.startswith("linux"):
        assert isinstance(n, int) and 0 < n
    assert n is None or n > 0


def test_cgroup_limit_lowers_what_is_available(tmp_path):
    (tmp_path / "cgroup").write_text("0::/job\n")
    job = tmp_path / "fs" / "job"
    job.mkdir(parents=True)
    (job / "memory.max").write_text(f"{1000 * MB}\n")
    (job / "memory.current").write_text(f"{700 * MB}\n")
    (job / "memory.stat").write_text(f"anon 1\ninactive_file {100 * MB}\n")
    assert memory._cgroup_available(tmp_path / "cgroup", tmp_path / "fs") == 400 * MB  # cache is reclaimable
    (job / "memory.max").write_text("max\n")
    assert memory._cgroup_available(tmp_path / "cgroup", tmp_path / "fs") is None
    # cgroup v1
    (tmp_path / "cgroup").write_text("4:memory:/job\n")
    v1 = tmp_path / "fs" / "memory" / "job"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(f"{500 * MB}\n")
    (v1 / "memory.usage_in_bytes").write_text(f"{200 * MB}\n")
    assert memory._cgroup_available(tmp_path / "cgroup", tmp_path / "fs") == 300 * MB
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert memory._cgroup_available(tmp_path / "cgroup", tmp_path / "fs") is None


def test_check_fits(monkeypatch, little_memory):
    check_fits(MB, "x", "fix it")  # exactly what is available
    with pytest.raises(ResourceError) as e:
        check_fits(40_000 * MB, "the thing", "use less")
    assert str(e.value) == "the thing needs 40.0 GB of memory, 1.0 MB are available; use less"
    assert isinstance(e.value, UsageError) and e.value.exit_code == 2
    monkeypatch.setattr(memory, "available_bytes", lambda: None)  # unknown: every check passes
    check_fits(10**18, "x", "fix it")


# ------------------------------------------------------------------------------- models
def _independent_bytes(model: torch.nn.Module, factor: int) -> int:
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    other = sum(p.numel() * p.element_size() for p in model.parameters() if not p.requires_grad)
    return factor * trainable + other + sum(b.numel() * b.element_size() for b in model.buffers())


@pytest.mark.parametrize("optimizer,factor", [("adam", 4), ("adamw", 4), ("sgd", 3), ("lbfgs", 46)])
def test_model_memory_matches_a_model_really_built(optimizer, factor):
    assert TRAINING_FACTOR[optimizer] == factor
    for name, shape, overrides in [("ae", (1, 8, 8), []), ("ae", (64,), [("model.tied", True)]),
                                   ("vae", (64,), []), ("gan", (1, 8, 8), [])]:
        rc = build_run_config(name, None, overrides)
        real = build_model(rc, shape)
        assert model_memory_bytes(lambda: build_model(rc, shape), optimizer) == _independent_bytes(real, factor)


def test_frozen_parameters_and_buffers_count_once():
    def build():
        net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.BatchNorm1d(20), torch.nn.Linear(20, 3))
        net[2].requires_grad_(False)
        return net

    real = build()
    assert model_memory_bytes(build, "adam") == _independent_bytes(real, 4)
    assert model_memory_bytes(build, "adam") == 4 * (10 * 20 + 20 + 2 * 20) * 4 + (20 * 3 + 3) * 4 + (2 * 20 * 4 + 8)


def test_the_reported_case_is_sized_on_meta_without_allocating(little_memory):
    """The issue's case: ``ae`` on 2 x 10,000,000 data: two 10M x 256 layers, ~20 GB of weights."""
    rc = build_run_config("ae", None, [("train.batch_size", 1)])

    def build():  # a build outside the meta device would allocate 20 GB: refuse it instead
        assert torch.empty(0).device.type == "meta", "built outside the meta device"
        return build_model(rc, (10_000_000,))

    need = model_memory_bytes(build, rc.train.optimizer)
    weights = 2 * 10_000_000 * 256 * 4
    assert need is not None and 4 * weights < need < 4.1 * weights  # tens of GB
    little_memory(16_000 * MB)
    with pytest.raises(ResourceError) as e:
        check_model_fits(build, rc.train.optimizer, f"model {rc.model_name}")
    line = str(e.value)
    assert "\n" not in line and line.startswith("training model ae (")
    assert f"needs {human_bytes(need)} of memory, 16.0 GB are available" in line and "model.hidden" in line


def test_check_model_fits_passes_what_fits_or_cannot_be_sized(little_memory):
    small = lambda: torch.nn.Linear(10, 10)  # noqa: E731
    assert check_model_fits(small, "sgd", "tiny") == 3 * 110 * 4

    def needs_values():  # reads a value while being built: not possible on meta
        w = torch.ones(3)
        if w.sum().item() != 3:
            raise AssertionError
        return torch.nn.Linear(10, 10)  # small: a build outside meta would size it, not hang

    assert model_memory_bytes(needs_values) is None and check_model_fits(needs_values, "adam", "m") is None
    with pytest.raises(ResourceError, match=r"^training big \(4\.0 MB of weights, x4 for gradients and adam state\) needs 16\.0 MB"):
        check_model_fits(lambda: torch.nn.Linear(1000, 1000, bias=False), "adam", "big")


# ------------------------------------------------------------------------------- data files
def _must_not_load(monkeypatch):
    """Make the actual read of array bytes fail: the refusal must come before it."""
    import reprlab.data.user as user

    def refuse(*a, **k):
        raise AssertionError("the array was read before the memory check")

    monkeypatch.setattr(user, "npy_from_bytes", refuse)


def test_npy_too_big_is_refused_before_loading(tmp_path, monkeypatch, capsys, little_memory):
    monkeypatch.chdir(tmp_path)
    np.save("big.npy", np.zeros((2, 200_000), dtype=np.float64))  # 3.2 MB; "available": 1 MB
    _must_not_load(monkeypatch)
    code, _, err = run_cli(capsys, "-q", "train", "ae", "--data", "big.npy", "train.batch_size=1", "data.val_fraction=0")
    line = error_line(err)
    # the bytes read (3.2 MB) and two float32 copies (2 x 1.6 MB)
    assert code == 2 and "loading big.npy (2 x 200000 float64) needs 6.4 MB of memory, 1.0 MB are available" in line
    assert not (tmp_path / "runs").exists()


def test_npz_too_big_is_refused_before_loading(tmp_path, monkeypatch, little_memory):
    np.savez_compressed(tmp_path / "big.npz", x=np.zeros((4, 100_000), dtype=np.float32), y=np.arange(4))
    _must_not_load(monkeypatch)
    with pytest.raises(ResourceError, match=r"big\.npz:x\.npy \(4 x 100000 float32\) needs 4\.8 MB of memory"):
        load_dataset(str(tmp_path / "big.npz"), split="all")


def test_csv_too_big_is_refused_before_parsing(tmp_path, little_memory):
    (tmp_path / "big.csv").write_text("0.5,0.25,1\n" * 60_000)  # 660 kB of text
    with pytest.raises(ResourceError, match=r"reading .*big\.csv \(660\.0 kB of text\) needs 1\.3 MB of memory"):
        load_dataset(str(tmp_path / "big.csv"), split="all")


def test_image_folder_too_big_is_refused_before_decoding(tmp_path, monkeypatch, little_memory):
    for i in range(3):
        Image.fromarray(np.zeros((100, 200), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    import reprlab.data.user as user

    monkeypatch.setattr(user, "_pixels", lambda *a: pytest.fail("decoded before the memory check"))
    little_memory(100_000)
    with pytest.raises(ResourceError, match=r"3 images of 200x100\) needs 480\.0 kB of memory, 100\.0 kB are available"):
        load_dataset(f"images:{tmp_path}", split="all")


def test_data_that_fits_still_loads(tmp_path, little_memory):
    np.save(tmp_path / "ok.npy", np.ones((5, 4), dtype=np.float32))
    little_memory(5 * 4 * 4 * 2 + (tmp_path / "ok.npy").stat().st_size)  # exactly the bytes needed
    assert load_dataset(str(tmp_path / "ok.npy"), split="all").x.shape == (5, 4)


def test_sizing_a_model_leaves_the_random_state_alone():
    """The check runs before the real build: the model then gets the same initial weights."""
    rc = build_run_config("ae")
    torch.manual_seed(0)
    check_model_fits(lambda: build_model(rc, (1, 8, 8)), rc.train.optimizer, "model ae")
    checked = build_model(rc, (1, 8, 8)).state_dict()
    torch.manual_seed(0)
    plain = build_model(rc, (1, 8, 8)).state_dict()
    assert all(torch.equal(checked[k], plain[k]) for k in plain)
