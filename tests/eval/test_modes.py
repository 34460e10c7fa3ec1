"""Mode coverage (VEEGAN Sec. 5.1): hand-worked cases, the true mixture, a collapsed sampler."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data.toy import mixture_centers, sample_mixture
from reprlab.errors import UsageError
from reprlab.eval.modes import VEEGAN_TABLE, kl_from_uniform, mixture_mode_coverage, mode_coverage

CENTERS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def test_mode_coverage_hand_worked_example():
    # std 1, 3-sigma radius 3: two samples at mode 0, one 2.9 from mode 1 (hq), one 3.1 from mode 1
    # (not hq), one far from everything; mode 2 has nothing.
    samples = torch.tensor([[0.0, 0.0], [1.0, 1.0], [10.0, 2.9], [13.1, 0.0], [5.0, 5.0]])
    out = mode_coverage(samples, CENTERS, std=1.0)
    assert out["per_mode_counts"] == [2, 1, 0]
    assert out["modes"] == 2
    assert out["hq"] == pytest.approx(3 / 5)
    p = torch.tensor([2 / 3, 1 / 3])
    assert out["kl"] == pytest.approx(float((p * torch.log(3 * p)).sum()))


def test_min_count_and_n_std_are_parameters():
    samples = torch.tensor([[0.0, 0.0], [0.5, 0.0], [10.0, 0.5], [0.0, 14.0]])
    assert mode_coverage(samples, CENTERS, std=1.0)["modes"] == 2
    assert mode_coverage(samples, CENTERS, std=1.0, min_count=2)["modes"] == 1  # PacGAN-style threshold
    assert mode_coverage(samples.numpy(), CENTERS.numpy(), std=1.0)["modes"] == 2  # NumPy arrays too
    wide = mode_coverage(samples, CENTERS, std=1.0, n_std=4.5)
    assert wide["modes"] == 3 and wide["hq"] == 1.0


def test_true_mixture_captures_every_mode_with_the_chi2_fraction_of_hq_samples():
    # ‖x − μ‖/σ ~ chi with 2 degrees of freedom: P(‖x − μ‖ ≤ 3σ) = 1 − exp(−9/2) ≈ 0.98889.
    expected = 1 - math.exp(-4.5)
    for name, k in (("ring8", 8), ("grid25", 25)):
        x, _ = sample_mixture(name, 20_000, seed=1)
        out = mixture_mode_coverage(x, name)
        assert out["modes"] == k
        se = math.sqrt(expected * (1 - expected) / 20_000)
        assert abs(out["hq"] - expected) < 4 * se
        assert 0 <= out["kl"] < 0.01  # balanced histogram


def test_collapsed_sampler_captures_one_mode():
    centers = mixture_centers("ring8")
    x = (centers[3] + 0.02 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).float()
    out = mixture_mode_coverage(x, "ring8")
    assert out["modes"] == 1 and out["per_mode_counts"][3] == sum(out["per_mode_counts"])
    assert out["kl"] == pytest.approx(math.log(8))


def test_samples_between_modes_are_low_quality():
    x = torch.zeros(100, 2)  # the ring's centre, 2 away from every mode
    out = mixture_mode_coverage(x, "ring8")
    assert out["modes"] == 0 and out["hq"] == 0.0 and math.isnan(out["kl"])


def test_kl_from_uniform_bounds():
    assert kl_from_uniform(torch.tensor([5, 5, 5, 5])) == pytest.approx(0.0)
    assert kl_from_uniform(torch.tensor([0, 9, 0, 0])) == pytest.approx(math.log(4))


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(UsageError, match="same D"):
        mode_coverage(torch.zeros(4, 3), CENTERS, 1.0)
    with pytest.raises(UsageError, match="std > 0"):
        mode_coverage(torch.zeros(4, 2), CENTERS, 0.0)


def test_veegan_table_has_both_mixtures_and_four_methods():
    for name, k in (("ring8", 8), ("grid25", 25)):
        rows = VEEGAN_TABLE[name]
        assert set(rows) == {"GAN", "ALI", "Unrolled GAN", "VEEGAN"}
        assert all(0 <= r["modes"] <= k and 0 <= r["hq_percent"] <= 100 for r in rows.values())
