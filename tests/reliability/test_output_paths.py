"""Every file the command line writes goes through :mod:`reprlab.files`: written to a temporary
file beside it and renamed into place. A file where an output folder should be, a full disk or a
read-only folder is one line ``reprlab: error: ...`` naming the path and the cause (exit 2): no
traceback, no temporary file left, and an older file of the same name keeps its bytes.

We run as root in CI, so chmod cannot make a folder read-only: the ``fail_writes`` fixture makes
the OS refuse writes of temporary files instead (``EROFS`` on open, ``ENOSPC`` after a few bytes)."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from pathlib import Path

import pytest
import torch

from helpers import error_line, run_cli
from reprlab import files
from reprlab.cli import main
from reprlab.files import OutputError, atomic_open, atomic_path, ensure_dir, write_json, write_text

pytestmark = pytest.mark.usefixtures("one_thread")

OLD = b"old bytes, must survive"
STYLE_TINY = ["--size", "32", "--steps", "2", "--random-sizes", "3", "--random-filters", "4"]
CAUSE = {errno.ENOSPC: "No space left on device", errno.EROFS: "Read-only file system"}


# ------------------------------------------------------------------------------------ fixtures


class _FullFile:
    """A file open for writing on a disk that fills up after ``left`` more bytes (or characters)."""

    def __init__(self, f, left: int) -> None:
        self._f, self._left = f, left

    def write(self, data):
        n = min(len(data), self._left)
        if n:
            self._f.write(data[:n])
            self._left -= n
        if n < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return n

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def fileno(self):  # writers that use the descriptor directly (PIL, shutil) fall back to write()
        raise io.UnsupportedOperation("fileno")

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def fail_writes(monkeypatch):
    """``fail_writes(code, only=None)``: from now on, opening a temporary file of reprlab.files
    for writing (``only``: whose final name is ``only``) fails like the OS would: ``EROFS`` at the
    open (a read-only folder), ``ENOSPC`` after 64 bytes were written (a full disk)."""
    real_open = builtins.open

    def install(code: int, only: str | None = None) -> None:
        def fake_open(file, mode="r", *args, **kwargs):
            name = Path(os.fsdecode(file)).name if isinstance(file, (str, bytes, os.PathLike)) else ""
            writing = any(c in mode for c in "wax+")
            if writing and files.is_temporary(name) and (only is None or _final_name(name) == only):
                if code == errno.ENOSPC:
                    return _FullFile(real_open(file, mode, *args, **kwargs), 64)
                raise OSError(code, os.strerror(code), os.fsdecode(file))
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)

    return install


def _final_name(tmp_name: str) -> str:
    """``.stem.tmp-PID-XXXXXX.suffix`` -> ``stem.suffix``."""
    stem, _, rest = tmp_name[1:].partition(files.TMP_TAG)
    return stem + "".join(Path(rest).suffixes[-1:])


def leftovers(folder: Path) -> list[Path]:
    """Temporary files (of reprlab.files, or any ``.NAME.tmp`` one) under ``folder``."""
    return [p for p in Path(folder).rglob(".*") if ".tmp" in p.name]


def one_line(err: str, *parts) -> str:
    """The one error line of ``err``; it contains every one of ``parts``; no traceback."""
    assert "Traceback" not in err, err
    line = error_line(err)
    for part in parts:
        assert str(part) in line, (part, line)
    return line


@pytest.fixture
def a_file(tmp_path) -> Path:
    """A plain file, given where an output folder (or a parent of an output file) should be."""
    p = tmp_path / "in-the-way"
    p.write_bytes(OLD)
    return p


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("out-ae") / "r"
    assert main(["-q", "train", "ae", "--data", "digits", "hidden=[16]", "train.max_steps=20", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("out-vae") / "r"
    assert main(["-q", "train", "vae", "--data", "digits", "train.max_steps=20", "--run-dir", str(run)]) == 0
    return run


# ------------------------------------------------------------------------------ reprlab.files


def test_an_exception_in_the_block_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "figure.png"
    path.write_bytes(OLD)
    with pytest.raises(ValueError, match="drawing failed"):
        with atomic_path(path) as tmp:
            assert tmp.parent == path.parent and tmp.suffix == ".png" and files.is_temporary(tmp.name)
            tmp.write_bytes(b"half a figure")
            raise ValueError("drawing failed")  # not an OS error: re-raised as it is
    assert path.read_bytes() == OLD and leftovers(tmp_path) == []
    with atomic_open(path, "wb") as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and leftovers(tmp_path) == []


def test_an_os_error_in_the_block_is_one_output_error_naming_path_and_cause(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_bytes(OLD)
    with pytest.raises(OutputError) as e:
        with atomic_open(path, "w") as f:
            f.write("index,x,y\n")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    message = str(e.value)
    assert str(path) in message and "No space left on device" in message and "\n" not in message
    assert path.read_bytes() == OLD and leftovers(tmp_path) == []


def test_write_helpers_and_a_block_that_writes_nothing(tmp_path):
    assert json.loads(write_json(tmp_path / "a" / "b.json", {"x": 1}).read_text()) == {"x": 1}
    assert write_text(tmp_path / "t.txt", "é\n").read_text(encoding="utf-8") == "é\n"
    with pytest.raises(OutputError, match="nothing was written"):
        with atomic_path(tmp_path / "never.png"):
            pass
    assert not (tmp_path / "never.png").exists() and leftovers(tmp_path) == []
    with pytest.raises(OutputError, match="it is a folder"):
        with atomic_path(tmp_path / "a"):
            pass


def test_ensure_dir_with_a_file_in_the_way(a_file):
    with pytest.raises(OutputError) as e:
        ensure_dir(a_file)
    assert str(a_file) in str(e.value) and "in the way" in str(e.value)
    with pytest.raises(OutputError) as e:
        ensure_dir(a_file / "sub" / "deeper")
    assert str(a_file) in str(e.value) and "Not a directory" in str(e.value)
    assert a_file.read_bytes() == OLD


def test_gan_snapshot_of_points_writes_png_and_npy_through_the_helper(tmp_path, fail_writes):
    import numpy as np

    from reprlab.models import GAN, GANConfig
    from reprlab.pipelines.training import write_snapshot

    model = GAN(GANConfig(g_hidden=(8,), d_hidden=(8,), latent_dim=2), (2,))
    assert set(model.snapshot()) == {"samples"} and model.snapshot()["samples"].shape == (2000, 2)  # data, no file
    assert not any(tmp_path.iterdir())
    write_snapshot(model, tmp_path, 5)
    points = np.load(tmp_path / "samples" / "step-000005.npy")
    assert points.shape == (2000, 2) and (tmp_path / "samples" / "step-000005.png").is_file()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step-000005.npy", "step-000005.png"]
    (tmp_path / "samples" / "step-000007.npy").write_bytes(OLD)
    fail_writes(errno.ENOSPC, only="step-000007.npy")
    with pytest.raises(OutputError, match="step-000007.npy: No space left on device"):
        write_snapshot(model, tmp_path, 7)
    assert (tmp_path / "samples" / "step-000007.npy").read_bytes() == OLD and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------- the commands


def test_tour_out_is_a_file(a_file, capsys):
    code, _, err = run_cli(capsys, "tour", "--quick", "--only", "benchmarks", "--out", str(a_file))
    assert code == 2
    one_line(err, "cannot create folder", a_file)
    assert a_file.read_bytes() == OLD


def test_tour_report_on_a_full_disk_keeps_the_old_report(tmp_path, capsys, fail_writes):
    out = tmp_path / "tour"
    out.mkdir()
    (out / "report.html").write_bytes(OLD)
    fail_writes(errno.ENOSPC)
    code, _, err = run_cli(capsys, "tour", "--quick", "--only", "benchmarks", "--out", str(out))
    assert code == 2
    one_line(err, out / "report.html", "No space left on device")
    assert (out / "report.html").read_bytes() == OLD and leftovers(out) == []


def test_tour_section_that_cannot_write_its_figure_stops_the_tour(tmp_path, capsys, fail_writes, monkeypatch):
    from reprlab.report import tour
    from reprlab.viz import save_image_grid

    def section(ctx, s):
        s.figures.append(("noise", save_image_grid(torch.rand(4, 1, 8, 8), ctx.figure("noise", "grid.png"))))

    monkeypatch.setattr(tour, "SECTIONS", {"noise": ("a figure", section)})
    out = tmp_path / "tour"
    fail_writes(errno.EROFS)
    code, _, err = run_cli(capsys, "tour", "--quick", "--only", "noise", "--out", str(out))
    assert code == 2
    one_line(err, out / "figures" / "noise" / "grid.png", "Read-only file system")
    assert leftovers(out) == []


def test_da_out_is_a_file_fails_before_any_computation(a_file, capsys, monkeypatch):
    import reprlab.pipelines.domain_adaptation as da

    def never(*a, **k):
        raise AssertionError("the output folder is checked before the tasks run")

    monkeypatch.setattr(da, "run_tasks", never)
    code, _, err = run_cli(capsys, "da", "--source", "books", "--target", "kitchen", "--out", str(a_file / "sub"))
    assert code == 2
    one_line(err, "cannot create folder", a_file)


def test_da_results_on_a_full_disk(data_dir, tmp_path, capsys, fail_writes):
    if not (data_dir / "amazon_reviews_400").is_dir():
        pytest.skip("no Amazon reviews in the data folder")
    out = tmp_path / "da"
    out.mkdir()
    (out / "results.json").write_bytes(OLD)
    fail_writes(errno.ENOSPC, only="results.json")
    code, _, err = run_cli(capsys, "-q", "da", "--source", "books", "--target", "kitchen", "--method", "raw",
                           "--data-dir", str(data_dir), "--out", str(out))
    assert code == 2
    one_line(err, out / "results.json", "No space left on device")
    assert (out / "results.json").read_bytes() == OLD and leftovers(out) == []


def test_embed_out_is_a_file(a_file, capsys):
    code, _, err = run_cli(capsys, "embed", "digits", "--method", "pca", "--max-points", "60", "--out", str(a_file))
    assert code == 2
    one_line(err, "cannot create folder", a_file)


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("victim", ["pca.npy", "pca.csv", "pca.png", "embed.json", "index.html"])
def test_embed_outputs_that_cannot_be_written(victim, code_, tmp_path, capsys, fail_writes):
    out = tmp_path / "emb"
    out.mkdir()
    (out / victim).write_bytes(OLD)
    fail_writes(code_, only=victim)
    code, _, err = run_cli(capsys, "embed", "digits", "--method", "pca", "--max-points", "60", "--out", str(out))
    assert code == 2
    one_line(err, out / victim, CAUSE[code_])
    assert (out / victim).read_bytes() == OLD and leftovers(out) == []


def test_reconstruct_output_under_a_file(ae_run, a_file, capsys):
    code, _, err = run_cli(capsys, "reconstruct", str(ae_run), "-o", str(a_file / "x.png"), "-n", "4")
    assert code == 2
    one_line(err, "cannot create folder", a_file)


def test_reconstruct_on_a_read_only_folder_keeps_the_old_picture(ae_run, tmp_path, capsys, fail_writes):
    out = tmp_path / "rec.png"
    out.write_bytes(OLD)
    fail_writes(errno.EROFS)
    code, _, err = run_cli(capsys, "reconstruct", str(ae_run), "-o", str(out), "-n", "4")
    assert code == 2
    one_line(err, out, "Read-only file system")
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


def test_interpolate_output_under_a_file(ae_run, a_file, capsys):
    code, _, err = run_cli(capsys, "interpolate", str(ae_run), "-o", str(a_file / "i.png"), "--steps", "3")
    assert code == 2
    one_line(err, "cannot create folder", a_file)


@pytest.mark.parametrize("victim", ["i.png", "i.json"])
def test_interpolate_on_a_full_disk(victim, ae_run, tmp_path, capsys, fail_writes):
    (tmp_path / victim).write_bytes(OLD)
    fail_writes(errno.ENOSPC, only=victim)
    code, _, err = run_cli(capsys, "interpolate", str(ae_run), "-o", str(tmp_path / "i.png"), "--steps", "3")
    assert code == 2
    one_line(err, tmp_path / victim, "No space left on device")
    assert (tmp_path / victim).read_bytes() == OLD and leftovers(tmp_path) == []


def test_dirac_output_under_a_file(a_file, capsys):
    code, _, err = run_cli(capsys, "dirac", "--steps", "10", "-o", str(a_file / "d.png"))
    assert code == 2
    one_line(err, "cannot create folder", a_file)


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EROFS])
def test_dirac_on_a_full_disk_or_read_only_folder(code_, tmp_path, capsys, fail_writes):
    out = tmp_path / "d.png"
    out.write_bytes(OLD)
    fail_writes(code_)
    code, _, err = run_cli(capsys, "dirac", "--steps", "10", "-o", str(out))
    assert code == 2
    one_line(err, out, CAUSE[code_])
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["run-dir", "output"])
def test_stylize_folders_that_are_files(where, a_file, tmp_path, capsys):
    run_dir = a_file if where == "run-dir" else tmp_path / "run"
    output = a_file / "o.png" if where == "output" else tmp_path / "o.png"
    code, _, err = run_cli(capsys, "-q", "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(output),
                           *STYLE_TINY, "--run-dir", str(run_dir))
    assert code == 2
    one_line(err, "cannot create folder", a_file)
    assert a_file.read_bytes() == OLD


@pytest.mark.parametrize("victim", ["o.png", "result.png", "losses.csv", "losses.json", "config.yaml"])
def test_stylize_on_a_full_disk(victim, tmp_path, capsys, fail_writes):
    run_dir, output = tmp_path / "run", tmp_path / "o.png"
    target = output if victim == "o.png" else run_dir / victim
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(OLD)
    fail_writes(errno.ENOSPC, only=victim)
    code, _, err = run_cli(capsys, "-q", "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(output),
                           *STYLE_TINY, "--run-dir", str(run_dir))
    assert code == 2
    one_line(err, target, "No space left on device")
    assert target.read_bytes() == OLD and leftovers(tmp_path) == []


def test_sample_output_under_a_file(vae_run, a_file, capsys):
    code, _, err = run_cli(capsys, "sample", str(vae_run), "-o", str(a_file / "s.png"), "-n", "4")
    assert code == 2
    one_line(err, "cannot create folder", a_file)


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EROFS])
def test_sample_on_a_full_disk_or_read_only_folder(code_, vae_run, tmp_path, capsys, fail_writes):
    out = tmp_path / "s.png"
    out.write_bytes(OLD)
    fail_writes(code_)
    code, _, err = run_cli(capsys, "sample", str(vae_run), "-o", str(out), "-n", "4")
    assert code == 2
    one_line(err, out, CAUSE[code_])
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []
