r"""Losses over a whole batch of labelled codes: every pair of the batch is used at once.

The Siamese pair losses (:mod:`reprlab.models.siamese`) see one pair per row; these see a batch
of codes :math:`z_1..z_B` with labels :math:`y_1..y_B` and form all of its pairs — the
successors of the lecture's Siamese losses (many negatives per step, mined hard ones):

- :func:`triplet_loss` — Schroff et al. (2015), FaceNet: :math:`\max(0, d(a, p) - d(a, n) + m)`
  over triplets, with ``batch-hard`` (Hermans et al. 2017: per anchor, its farthest positive and
  nearest negative), ``semi-hard`` (FaceNet: negatives farther than the positive but within the
  margin) or ``all`` triplets;
- :func:`ntxent_loss` — NT-Xent / InfoNCE with labels (Chen et al. 2020; Khosla et al. 2020):
  each positive pair against all of the anchor's negatives, cosine similarities over a
  temperature;
- :func:`protonet_loss` — the episode loss of prototypical networks (Snell et al. 2017): the
  first samples of each class in the batch are its support set, their mean its prototype, and
  every other sample is classified by a softmax over minus its squared distances to the
  prototypes.

Distances are Euclidean between L2-normalized codes (``normalize=True``), so that a margin means
the same whatever the codes' scale; the similarity of :func:`ntxent_loss` is the cosine.
Each function was checked against pytorch-metric-learning on fixed inputs (tests).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError

MINING = ("batch-hard", "semi-hard", "all")


def _pair_masks(y: Tensor) -> tuple[Tensor, Tensor]:
    """(positive, negative) boolean masks (B, B): same label and not the same row; other label."""
    same = y[:, None] == y[None, :]
    eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
    return same & ~eye, ~same


def pairwise_distances(z: Tensor, normalize: bool = True) -> Tensor:
    r""":math:`d(i, j) = \| \hat z_i - \hat z_j \|_2` (B, B), with :math:`\hat z = z / \|z\|` when
    ``normalize``; computed from differences (exact 0 on the diagonal, a finite gradient)."""
    if normalize:
        z = F.normalize(z, dim=1)
    diff = z[:, None, :] - z[None, :, :]
    return diff.pow(2).sum(-1).clamp_min(1e-12).sqrt()


def triplet_loss(z: Tensor, y: Tensor, margin: float = 0.2, mining: str = "batch-hard", normalize: bool = True) -> Tensor:
    r"""The triplet loss over the triplets of a batch, mean over the triplets used:

    .. math::  L = \frac{1}{|T|} \sum_{(a, p, n) \in T} \max\big(0,\; d(a, p) - d(a, n) + m\big)

    with :math:`y_a = y_p`, :math:`a \ne p`, :math:`y_n \ne y_a` and :math:`T` chosen by ``mining``:

    - ``batch-hard``: one triplet per anchor, :math:`p = \arg\max_p d(a, p)`,
      :math:`n = \arg\min_n d(a, n)` (anchors without a positive or a negative are skipped);
    - ``semi-hard``: every triplet with :math:`0 < d(a, n) - d(a, p) \le m`;
    - ``all``: every triplet.

    ``z``: (B, d) codes; ``y``: (B,) labels. Returns 0 (with a gradient) when no triplet qualifies.
    ``semi-hard`` and ``all`` build a (B, B, B) tensor (B = 512: 134M entries): batch-hard needs (B, B).
    """
    if mining not in MINING:
        raise ConfigError(f"triplet mining must be one of {', '.join(MINING)}, got {mining!r}")
    d = pairwise_distances(z, normalize)
    pos, neg = _pair_masks(y)
    if mining == "batch-hard":
        has = pos.any(1) & neg.any(1)
        d_ap = torch.where(pos, d, torch.full_like(d, -1.0)).max(1).values  # (B,) farthest positive
        d_an = torch.where(neg, d, torch.full_like(d, float("inf"))).min(1).values  # (B,) nearest negative
        losses = F.relu(d_ap - d_an + margin)[has]
    else:
        # (B, B, B): triplet (a, p, n) is valid when p is a positive and n a negative of a
        valid = pos[:, :, None] & neg[:, None, :]
        gap = d[:, None, :] - d[:, :, None]  # d(a, n) - d(a, p)
        if mining == "semi-hard":
            valid = valid & (gap > 0) & (gap <= margin)
        losses = F.relu(margin - gap)[valid]
    return losses.mean() if losses.numel() else z.sum() * 0.0


def ntxent_loss(z: Tensor, y: Tensor, temperature: float = 0.1) -> Tensor:
    r"""NT-Xent (InfoNCE) with labels, mean over the positive pairs :math:`(a, p)` of the batch:

    .. math::
        L = -\frac{1}{|P|} \sum_{(a, p) \in P} \log
            \frac{e^{s(a, p) / \tau}}{e^{s(a, p) / \tau} + \sum_{n : y_n \ne y_a} e^{s(a, n) / \tau}},
        \qquad s(i, j) = \cos(z_i, z_j)

    (each positive competes with all of its anchor's negatives in the batch; ``τ`` =
    ``temperature``). ``z``: (B, d); ``y``: (B,). Returns 0 (with a gradient) without positive pairs.
    """
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    zn = F.normalize(z, dim=1)
    s = zn @ zn.T / temperature  # (B, B)
    pos, neg = _pair_masks(y)
    a, p = pos.nonzero(as_tuple=True)
    if len(a) == 0:
        return z.sum() * 0.0
    neg_s = torch.where(neg, s, torch.full_like(s, float("-inf")))[a]  # (P, B): the anchor's negatives
    logits = torch.cat([s[a, p][:, None], neg_s], dim=1)  # (P, 1 + B): the positive first
    return -(logits[:, 0] - torch.logsumexp(logits, dim=1)).mean()


def protonet_loss(z: Tensor, y: Tensor, n_support: int = 1) -> Tensor:
    r"""The prototypical-network episode loss (Snell et al. 2017), mean over the queries:

    .. math::
        c_k = \frac{1}{|S_k|} \sum_{i \in S_k} z_i, \qquad
        L = -\frac{1}{|Q|} \sum_{q \in Q} \log
            \frac{e^{-\|z_q - c_{y_q}\|^2}}{\sum_k e^{-\|z_q - c_k\|^2}}

    The support set :math:`S_k` of class :math:`k` is its first ``n_support`` samples in batch
    order; every later sample of a class is a query (:math:`Q`). Every class with a support set
    has a prototype, so it competes for every query. Squared Euclidean distances between the raw
    (not normalized) codes, as in the paper. ``z``: (B, d); ``y``: (B,). Returns 0 (with a
    gradient) when no class has a query."""
    if n_support < 1:
        raise ConfigError(f"n_support must be >= 1, got {n_support}")
    classes, inverse = torch.unique(y, return_inverse=True)  # inverse (B,) in [0, C)
    onehot = F.one_hot(inverse, len(classes)).to(z.dtype)  # (B, C)
    rank = (onehot.cumsum(0) * onehot).sum(1) - 1  # the sample's position among its class's samples
    support = rank < n_support
    if bool(support.all()):
        return z.sum() * 0.0
    s_hot = onehot[support]  # (S, C)
    protos = (s_hot.T @ z[support]) / s_hot.sum(0)[:, None]  # (C, d)
    q = ~support
    logits = -(z[q][:, None, :] - protos[None]).pow(2).sum(-1)  # (Q, C)
    return F.cross_entropy(logits, inverse[q])
