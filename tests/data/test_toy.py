"""ring8 / grid25: the VEEGAN / Unrolled GAN mixtures, registered like any data set."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data import DATASETS, load_dataset
from reprlab.data.toy import MIXTURE_STD, mixture_centers, mixture_std, sample_mixture
from reprlab.errors import DataError


def test_toy_mixtures_are_registered_and_embedded():
    assert {"ring8", "grid25"} <= set(DATASETS)
    assert DATASETS["ring8"].embedded and DATASETS["grid25"].embedded


def test_ring8_centers_on_circle_of_radius_2_evenly_spaced():
    c = mixture_centers("ring8")
    assert c.shape == (8, 2)
    assert torch.allclose(c.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    angles = torch.atan2(c[:, 1], c[:, 0]) % (2 * math.pi)
    assert torch.allclose(angles, torch.arange(8, dtype=torch.float64) * math.pi / 4)
    assert mixture_std("ring8") == MIXTURE_STD["ring8"] == 0.02


def test_grid25_centers_are_the_5x5_lattice_of_spacing_2():
    c = mixture_centers("grid25")
    assert c.shape == (25, 2)
    assert {tuple(p) for p in c.tolist()} == {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert mixture_std("grid25") == 0.02


def test_default_sizes_labels_and_determinism():
    train = load_dataset("ring8", split="train", seed=3)
    assert train.x.shape == (50_000, 2) and train.x.dtype == torch.float32
    assert train.y.dtype == torch.int64 and set(train.y.unique().tolist()) == set(range(8))
    again = load_dataset("ring8", split="train", seed=3)
    assert torch.equal(train.x, again.x) and torch.equal(train.y, again.y)
    other = load_dataset("ring8", split="train", seed=4)
    assert not torch.equal(train.x, other.x)
    test = load_dataset("ring8", split="test", seed=3)
    assert len(test) == 10_000 and not torch.equal(test.x[:100], train.x[:100])


def test_samples_sit_at_their_mode_with_the_stated_std():
    x, y = sample_mixture("grid25", 20_000, seed=0)
    resid = x.double() - mixture_centers("grid25")[y]  # (N, 2)
    assert resid.mean(0).abs().max() < 0.001
    assert abs(float(resid.std()) - 0.02) < 0.0005
    counts = torch.bincount(y, minlength=25).double()
    assert (counts / 20_000 - 1 / 25).abs().max() < 0.01  # equally likely modes


def test_size_argument_and_all_split():
    d = load_dataset("grid25:1000", split="all", seed=0)
    assert len(d) == 1200 and d.name == "grid25:1000"
    assert torch.equal(d.x[:1000], load_dataset("grid25:1000", split="train", seed=0).x)
    with pytest.raises(DataError, match="number of training samples"):
        load_dataset("ring8:many")
    with pytest.raises(DataError, match="unknown mixture"):
        mixture_centers("ring9")
