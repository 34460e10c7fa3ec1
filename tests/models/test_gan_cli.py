"""``reprlab train gan / aae / tempered-gan`` from the command line: flags, run folders, pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import reprlab
from helpers import error_line, run_cli


def _png_ok(path) -> None:
    with Image.open(path) as im:
        im.verify()


def test_train_gan_with_option_flags_writes_snapshots_and_samples(tmp_path, capsys):
    run = tmp_path / "gan"
    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", "digits", "--loss", "ns", "--reg", "r1", "--gamma", "10",
                           "--g-hidden=[32]", "--d-hidden", "[32]", "--steps", "20", "train.checkpoint_every=10", "--run-dir", str(run))
    assert code == 0, err
    cfg = (run / "config.yaml").read_text()
    assert "loss: ns" in cfg and "reg: r1" in cfg and "gamma: 10" in cfg and "g_hidden:\n  - 32" in cfg
    shots = sorted((run / "samples").glob("step-*.png"))
    assert [p.name for p in shots] == ["step-000010.png", "step-000020.png"]
    for p in (*shots, run / "figures" / "samples.png"):
        _png_ok(p)
    model = reprlab.load(run)  # same weights, same fixed-noise samples
    g = torch.Generator().manual_seed(0)
    assert model.sample(4, g).shape == (4, 1, 8, 8)


def test_gan_flag_errors_are_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "gan", "--loss", "hinge", "--steps", "2", "--run-dir", str(tmp_path / "a"))
    assert code == 2 and "loss" in error_line(err) and "hinge" in err
    code, _, err = run_cli(capsys, "train", "gan", "--loss", "wgan", "--reg", "roth", "--run-dir", str(tmp_path / "b"))
    assert code == 2 and "probability" in error_line(err)
    code, _, err = run_cli(capsys, "train", "gan", "--gamma", "--steps", "2")
    assert code == 2 and "needs a value" in error_line(err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_train_on_2d_points_writes_scatter_snapshots(tmp_path, capsys):
    pts = np.random.default_rng(0).normal(size=(300, 2)).astype("float32")
    np.save(tmp_path / "pts.npy", pts)
    run = tmp_path / "gan2d"
    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", str(tmp_path / "pts.npy"), "--g-hidden", "[16]",
                           "--d-hidden", "[16]", "--steps", "10", "train.checkpoint_every=5", "--run-dir", str(run))
    assert code == 0, err
    assert np.load(run / "samples" / "step-000010.npy").shape == (2000, 2)
    _png_ok(run / "samples" / "step-000010.png")
    _png_ok(run / "figures" / "samples.png")
    code, _, err = run_cli(capsys, "-q", "sample", str(run), "-n", "500", "-o", str(tmp_path / "points.png"))
    assert code == 0, err
    _png_ok(tmp_path / "points.png")


@pytest.mark.parametrize("model,flags", [
    ("aae", ["--prior", "mixture10", "--conditional", "true", "--hidden", "[32]"]),
    ("tempered-gan", ["--lens-steps", "5", "--g-hidden", "[16]", "--d-hidden", "[16]", "--arch", "mlp"]),
])
def test_aae_and_tempered_gan_train_from_the_cli(tmp_path, capsys, model, flags):
    run = tmp_path / model
    code, _, err = run_cli(capsys, "-q", "train", model, "--data", "digits", *flags, "--steps", "10",
                           "train.checkpoint_every=10", "--run-dir", str(run))
    assert code == 0, err
    _png_ok(run / "figures" / "samples.png")
    if model == "tempered-gan":  # real images above L(x)
        _png_ok(run / "lens" / "step-000010.png")
    loaded = reprlab.load(run)
    assert loaded.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, 8, 8)


def test_infogan_run_draws_a_row_per_category_and_reloads_with_its_code(tmp_path, capsys):
    run = tmp_path / "info"
    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", "digits", "--info-categories", "10", "--g-hidden", "[16]",
                           "--d-hidden", "[16]", "--arch", "mlp", "--steps", "6", "train.checkpoint_every=6", "--run-dir", str(run))
    assert code == 0, err
    with Image.open(run / "figures" / "categories.png") as im:  # 10 rows of 10 samples of 8x8 pixels (with padding)
        assert im.size[0] == im.size[1] and im.size[0] >= 100
    loaded = reprlab.load(run)
    assert loaded.fixed_z.shape == (64, loaded.config.latent_dim + 10)
    g = torch.Generator().manual_seed(0)
    assert loaded.sample(3, g).shape == (3, 1, 8, 8)
    code, _, err = run_cli(capsys, "train", "gan", "--info-categories", "4", "--pack", "2", "--run-dir", str(tmp_path / "bad"))
    assert code == 2 and "model.pack=1" in error_line(err) and not (tmp_path / "bad").exists()
