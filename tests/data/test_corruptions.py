"""Corruptions of denoising auto-encoders: the statistics of each noise, determinism, order, the parser."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data import (
    Compose,
    GaussianNoise,
    MaskingNoise,
    SaltAndPepper,
    gaussian_noise,
    masking_noise,
    parse_corruption,
    salt_and_pepper,
)
from reprlab.errors import ConfigError

N = 200_000


def binomial_tolerance(p: float, n: int, z: float = 5.0) -> float:
    """z standard deviations of a fraction of n Bernoulli(p) draws."""
    return z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_masking_zeroes_a_fraction_p_and_does_not_rescale_the_rest(p):
    x = torch.rand(N, generator=torch.Generator().manual_seed(1)) + 0.5  # no zeros to begin with
    x_tilde = masking_noise(x, p, torch.Generator().manual_seed(2))
    zeroed = x_tilde == 0
    assert abs(zeroed.float().mean().item() - p) < binomial_tolerance(p, N)
    assert torch.equal(x_tilde[~zeroed], x[~zeroed])  # kept values unchanged: no 1/(1-p) factor


def test_masking_with_p_0_is_the_identity_and_with_p_1_zeroes_everything():
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(masking_noise(x, 0.0), x)
    assert torch.equal(masking_noise(x, 1.0), torch.zeros_like(x))


def test_gaussian_noise_has_mean_zero_and_std_sigma():
    x = torch.full((N,), 0.3)
    sigma = 0.2
    eps = gaussian_noise(x, sigma, torch.Generator().manual_seed(0)) - x
    assert abs(eps.mean().item()) < 5 * sigma / math.sqrt(N)
    assert abs(eps.std().item() - sigma) < 5 * sigma / math.sqrt(2 * N)
    assert torch.equal(gaussian_noise(x, 0.0), x)


@pytest.mark.parametrize("p,low,high", [(0.3, 0.0, 1.0), (0.1, -1.0, 2.0)])
def test_salt_and_pepper_sets_a_fraction_p_to_low_or_high_half_each(p, low, high):
    x = torch.full((N,), 0.5)  # a value neither low nor high, so every hit is visible
    x_tilde = salt_and_pepper(x, p, low, high, torch.Generator().manual_seed(3))
    hit = x_tilde != 0.5
    assert set(x_tilde[hit].unique().tolist()) == {low, high}
    assert abs(hit.float().mean().item() - p) < binomial_tolerance(p, N)
    n_hit = int(hit.sum())
    assert abs((x_tilde[hit] == high).float().mean().item() - 0.5) < binomial_tolerance(0.5, n_hit)


@pytest.mark.parametrize("corruption", [GaussianNoise(0.3), MaskingNoise(0.25), SaltAndPepper(0.2)])
def test_a_generator_makes_the_draw_reproducible_without_touching_the_global_stream(corruption):
    x = torch.rand(3, 1, 8, 8)
    state = torch.get_rng_state()
    a = corruption(x, torch.Generator().manual_seed(7))
    b = corruption(x, torch.Generator().manual_seed(7))
    c = corruption(x, torch.Generator().manual_seed(8))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype
    torch.manual_seed(0)
    d = corruption(x)
    torch.manual_seed(0)
    assert torch.equal(d, corruption(x))  # without a generator: the global stream, seeded by the trainer


def test_compose_applies_left_to_right():
    x = torch.rand(1000)
    noise_then_mask = Compose([GaussianNoise(0.5), MaskingNoise(1.0)])
    mask_then_noise = Compose([MaskingNoise(1.0), GaussianNoise(0.5)])
    assert torch.equal(noise_then_mask(x), torch.zeros_like(x))
    assert (mask_then_noise(x) != 0).all()  # pure noise on zeros
    # with one generator, the draws are those of the parts in order
    a, b = MaskingNoise(0.3), GaussianNoise(0.1)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(Compose([a, b])(x, g1), b(a(x, g2), g2))


def test_parser_reads_specs_and_writes_them_back():
    c = parse_corruption("masking:0.25+gaussian:0.1")
    assert [type(p) for p in c.corruptions] == [MaskingNoise, GaussianNoise]
    assert c.corruptions[0].p == 0.25 and c.corruptions[1].sigma == 0.1
    assert str(c) == "masking:0.25+gaussian:0.1" and str(parse_corruption(str(c))) == str(c)
    assert str(parse_corruption(" salt-and-pepper : 0.2 ")) == "salt_and_pepper:0.2"
    for none in ("none", "None", ""):
        identity = parse_corruption(none)
        assert identity.is_identity and str(identity) == "none"
        x = torch.rand(3, 5)
        assert torch.equal(identity(x), x)


@pytest.mark.parametrize(
    "spec,message",
    [
        ("blur:0.1", "unknown corruption 'blur'"),
        ("masking", "masking needs a value"),
        ("masking:", "masking needs a value"),
        ("masking:abc", "is not a number"),
        ("masking:1.5", "must be in [0, 1]"),
        ("salt_and_pepper:-0.1", "must be in [0, 1]"),
        ("gaussian:-1", "must be >= 0"),
        ("gaussian:nan", "must be finite"),
        ("masking:0.2+", "empty term"),
        (0.25, "is not a corruption"),
    ],
)
def test_parser_errors_are_one_line_and_name_the_key(spec, message):
    with pytest.raises(ConfigError) as e:
        parse_corruption(spec, "model.noise")
    text = str(e.value)
    assert message in text and text.startswith("model.noise: ") and "\n" not in text
