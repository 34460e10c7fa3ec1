"""Figures (image grids, curves) and whole-data-set evaluation against direct computations."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import make_grid

from reprlab.data import TensorData
from reprlab.errors import UsageError
from reprlab.eval import encode_data, reconstruction_metrics
from reprlab.models.autoencoder import AutoEncoder, AutoEncoderConfig
from reprlab.viz import image_grid, plot_curves, save_image_grid


def test_image_grid_equals_torchvision_and_scales():
    x = torch.rand(6, 1, 5, 4)
    grid = image_grid(x, nrow=3, padding=2)
    ref = make_grid(x, nrow=3, padding=2, pad_value=1.0)
    assert grid.shape == (2 * 7 + 2, 3 * 6 + 2, 3) and grid.dtype == np.uint8
    assert np.array_equal(grid, (ref.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    big = image_grid(x, nrow=3, padding=0, scale=3)
    assert big.shape == (2 * 15, 3 * 12, 3)
    assert np.array_equal(big[::3, ::3], image_grid(x, nrow=3, padding=0))  # nearest neighbour
    # values outside [0, 1] are clipped, not wrapped around
    assert image_grid(torch.full((1, 1, 2, 2), 7.0), padding=0).min() == 255
    for bad in (torch.rand(3, 8, 8), torch.rand(0, 1, 8, 8)):
        with pytest.raises(UsageError):
            image_grid(bad)


def test_save_image_grid_writes_a_valid_png(tmp_path):
    x = torch.rand(16, 3, 8, 8)
    path = save_image_grid(x, tmp_path / "sub" / "g.png", nrow=8)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == (8 * 34 + 2, 2 * 34 + 2)  # 8 px enlarged 4x to reach 28 px or more


def test_plot_curves(tmp_path):
    path = tmp_path / "metrics.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss", "val/loss", "lr"])
        for s in range(1, 30):
            w.writerow([s, 1 / s, 1.1 / s if s % 10 == 0 else "", 1e-3])
    out = plot_curves(path, tmp_path / "loss.png", title="t")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 300
    empty = tmp_path / "empty.csv"
    empty.write_text("step,loss\n")
    with pytest.raises(UsageError, match="no rows"):
        plot_curves(empty, tmp_path / "x.png")


@pytest.fixture
def model_and_data():
    torch.manual_seed(0)
    model = AutoEncoder(AutoEncoderConfig(hidden=(8,), latent_dim=3, loss="bce"), (1, 4, 4)).eval()
    data = TensorData(torch.rand(1030, 1, 4, 4), torch.randint(0, 3, (1030,)), name="rand")
    return model, data


def test_encode_data_keeps_order_over_batches(model_and_data):
    model, data = model_and_data
    codes = encode_data(model, data, batch_size=100)  # 11 batches, the last one partial
    with torch.no_grad():
        assert torch.allclose(codes, model.encode(data.x), atol=1e-6)


def test_reconstruction_metrics_equal_direct_computation(model_and_data):
    model, data = model_and_data
    m = reconstruction_metrics(model, data, batch_size=128)
    with torch.no_grad():
        x = data.x.double()
        x_hat = model.reconstruct(data.x).double()
    se = ((x_hat - x) ** 2).flatten(1)
    assert m["mse"] == pytest.approx(se.mean().item(), rel=1e-5)
    assert m["sse"] == pytest.approx(se.sum(1).mean().item(), rel=1e-5)
    bce = -(x * x_hat.log() + (1 - x) * (1 - x_hat).log()).flatten(1).sum(1).mean()
    assert m["bce"] == pytest.approx(bce.item(), rel=1e-4)
    # data outside [0, 1]: no cross-entropy
    shifted = TensorData(data.x * 4 - 2, None, name="shifted")
    assert set(reconstruction_metrics(model, shifted)) == {"mse", "sse"}
