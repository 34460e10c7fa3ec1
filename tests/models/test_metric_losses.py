"""Batch-wise metric losses against pytorch-metric-learning on fixed inputs (a test-only
dependency), and hand-worked cases."""

from __future__ import annotations

import math

import pytest
import torch
from pytorch_metric_learning import distances, losses, miners, reducers  # the test extra: pip install -e '.[test]'

from reprlab.errors import ConfigError
from reprlab.models.metric_losses import ntxent_loss, pairwise_distances, protonet_loss, triplet_loss


def batch(seed: int = 0, n: int = 24, d: int = 8, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return z, y


def lp():
    return distances.LpDistance(normalize_embeddings=True, p=2, power=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("margin", [0.1, 0.5])
def test_batch_hard_triplet_matches_pml(seed, margin):
    z, y = batch(seed)
    ref = losses.TripletMarginLoss(margin=margin, distance=lp(), reducer=reducers.MeanReducer())
    expected = ref(z, y, indices_tuple=miners.BatchHardMiner(distance=lp())(z, y))
    torch.testing.assert_close(triplet_loss(z, y, margin, "batch-hard"), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semi_hard_triplet_matches_pml(seed):
    z, y = batch(seed)
    margin = 0.3
    mined = miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=lp())(z, y)
    assert len(mined[0]) > 0
    ref = losses.TripletMarginLoss(margin=margin, distance=lp(), reducer=reducers.MeanReducer())
    torch.testing.assert_close(triplet_loss(z, y, margin, "semi-hard"), ref(z, y, indices_tuple=mined))


@pytest.mark.parametrize("seed", [0, 1])
def test_all_triplets_matches_pml(seed):
    z, y = batch(seed)
    ref = losses.TripletMarginLoss(margin=0.2, distance=lp(), reducer=reducers.MeanReducer())
    torch.testing.assert_close(triplet_loss(z, y, 0.2, "all"), ref(z, y))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_ntxent_matches_pml(seed, tau):
    z, y = batch(seed)
    ref = losses.NTXentLoss(temperature=tau, reducer=reducers.MeanReducer())
    torch.testing.assert_close(ntxent_loss(z, y, tau), ref(z, y), rtol=1e-6, atol=1e-6)


def test_batch_hard_by_hand():
    """Four codes on the unit circle: class 0 at 0° and 90°, class 1 at 180° and 100°.
    Anchor 0°: farthest positive 90° (d = √2), nearest negative 100° (d = 2 sin 50°)."""
    angles = torch.tensor([0.0, 90.0, 180.0, 100.0]).deg2rad()
    z = torch.stack([angles.cos(), angles.sin()], 1).double()
    y = torch.tensor([0, 0, 1, 1])
    chord = lambda deg: 2 * torch.sin(torch.tensor(deg).deg2rad() / 2).double()  # noqa: E731
    m = 0.5
    per_anchor = [  # (farthest positive, nearest negative) per anchor
        (chord(90.0), chord(100.0)),  # 0°: negatives at 180° and 100°
        (chord(90.0), chord(10.0)),   # 90°: negatives at 90° and 10° away
        (chord(80.0), chord(90.0)),   # 180°: positive 100° is 80° away; negatives 180° and 90°
        (chord(80.0), chord(10.0)),   # 100°: negatives 100° and 10° away
    ]
    expected = torch.stack([torch.relu(p - n + m) for p, n in per_anchor]).mean()
    torch.testing.assert_close(triplet_loss(z, y, m, "batch-hard"), expected)


def test_losses_have_gradients_and_zero_without_pairs():
    z, y = batch(0)
    z.requires_grad_(True)
    for loss in (triplet_loss(z, y, 0.2, "batch-hard"), triplet_loss(z, y, 0.2, "semi-hard"), ntxent_loss(z, y, 0.1)):
        (g,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    distinct = torch.arange(6)  # no positive pair
    for loss in (triplet_loss(z[:6], distinct), ntxent_loss(z[:6], distinct)):
        assert float(loss.detach()) == 0.0 and loss.requires_grad
    assert torch.allclose(pairwise_distances(z).diagonal(), torch.full((24,), 1e-6, dtype=z.dtype), atol=1e-6)


def test_bad_options_are_one_line_errors():
    z, y = batch(0)
    with pytest.raises(ConfigError, match="mining must be one of"):
        triplet_loss(z, y, mining="hardest")
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        ntxent_loss(z, y, 0.0)


def _protonet_by_hand(z, y, n_support):
    """The episode loss written as a loop over classes and queries (independent of the vectorized one)."""
    protos, labels = [], []
    for c in sorted(set(y.tolist())):
        rows = [i for i in range(len(y)) if int(y[i]) == c]
        protos.append(z[rows[:n_support]].mean(0))
        labels.append(c)
    protos = torch.stack(protos)
    terms = []
    for c in labels:
        rows = [i for i in range(len(y)) if int(y[i]) == c][n_support:]
        for q in rows:
            d2 = ((z[q] - protos) ** 2).sum(1)
            terms.append(d2[labels.index(c)] + torch.logsumexp(-d2, 0))
    return torch.stack(terms).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_support", [1, 2])
def test_protonet_matches_a_loop_over_classes_and_queries(seed, n_support):
    z, y = batch(seed)
    assert torch.allclose(protonet_loss(z, y, n_support), _protonet_by_hand(z, y, n_support), rtol=1e-10)


def test_protonet_by_hand_on_two_points_per_class():
    # two classes on a line: supports at 0 and 2, queries at 0.5 (class 0) and 2 (class 1)
    z = torch.tensor([[0.0], [2.0], [0.5], [2.0]], dtype=torch.float64)
    y = torch.tensor([0, 1, 0, 1])
    q0 = -math.log(math.exp(-0.25) / (math.exp(-0.25) + math.exp(-2.25)))
    q1 = -math.log(math.exp(0.0) / (math.exp(-4.0) + math.exp(0.0)))
    assert float(protonet_loss(z, y, 1)) == pytest.approx((q0 + q1) / 2, rel=1e-12)
    only_support = protonet_loss(z[:2], y[:2], 1)  # no query: 0 with a gradient
    assert float(only_support) == 0.0
    with pytest.raises(ConfigError, match="n_support must be >= 1"):
        protonet_loss(z, y, 0)
