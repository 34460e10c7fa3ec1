r"""Siamese networks: two copies of one network ``f`` (shared weights) and a similarity of their codes.

Trained on pairs ``(x1, x2, same)`` (:mod:`reprlab.data.pairs`) with one of the lecture's losses,
each a function below that states its equation:

- ``cosine`` -- Bromley et al. (1993), as in the lecture:
  :math:`L^+ = \tfrac14 (1 - \cos(z_1, z_2))^2` for similar pairs,
  :math:`L^- = \cos(z_1, z_2)^2` if :math:`\cos(z_1, z_2) > m` else 0 for dissimilar ones;
- ``contrastive`` -- Hadsell, Chopra & LeCun (2006), Euclidean :math:`D = \|z_1 - z_2\|_2`:
  :math:`L = y \tfrac12 D^2 + (1 - y) \tfrac12 \max(0, m - D)^2`;
- ``koch`` -- Koch, Zemel & Salakhutdinov (2015): the head
  :math:`p(x_1, x_2) = \sigma(\sum_k \alpha_k |z_k(x_1) - z_k(x_2)| + b)` trained with binary
  cross-entropy plus :math:`\lambda \|w\|^2` over the weights.

Or trained on batches of class groups with a loss over all pairs of the batch
(:mod:`reprlab.models.metric_losses`: ``triplet`` with batch-hard / semi-hard mining, ``ntxent``);
their similarity is the cosine of the codes. ``protonet`` (Snell et al. 2017), the non-Siamese
reference, trains the same twin with the prototypical-network episode loss on the same batches;
its similarity is minus the squared Euclidean distance.

The twin is Koch's convolutional network for 105x105 images, a smaller variant for CPUs, the
four-block batch-norm convnet of matching / prototypical networks, or an MLP (:mod:`reprlab.nets.twin`). Validation is what the model is for: N-way one-shot accuracy on
tasks drawn from the validation images (:mod:`reprlab.data.fewshot`); early stopping monitors
its error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import option
from ..data.base import Batch, TensorData
from ..errors import ConfigError, UsageError
from ..nets.twin import ARCHS, conv4_twin, conv_twin, mlp_twin
from .metric_losses import ntxent_loss, protonet_loss, triplet_loss
from .base import ReprModel
from .registry import register_model


# ----------------------------------------------------------------------------- losses
def cosine_pair_loss(z1: Tensor, z2: Tensor, same: Tensor, margin: float = 0.0) -> Tensor:
    r"""Bromley et al.'s cosine loss (the lecture's): mean over pairs of

    .. math::
        L^+ = \tfrac14 \big(1 - \cos(z_1, z_2)\big)^2 \;\text{(similar)}, \qquad
        L^- = \begin{cases} \cos(z_1, z_2)^2 & \cos(z_1, z_2) > m \\ 0 & \text{otherwise} \end{cases} \;\text{(dissimilar)}

    ``z1``, ``z2``: (B, d); ``same``: (B,) in {0, 1}."""
    cos = F.cosine_similarity(z1, z2, dim=1, eps=1e-8)
    pos = 0.25 * (1 - cos) ** 2
    neg = torch.where(cos > margin, cos**2, torch.zeros_like(cos))
    return (same * pos + (1 - same) * neg).mean()


def contrastive_loss(z1: Tensor, z2: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    r"""Hadsell, Chopra & LeCun's (2006) contrastive loss, mean over pairs:

    .. math::  L = y \tfrac12 D^2 + (1 - y) \tfrac12 \max(0, m - D)^2, \qquad D = \|z_1 - z_2\|_2

    with ``y = same`` (1 for similar pairs)."""
    d = (z1 - z2).pow(2).sum(1).clamp_min(1e-12).sqrt()
    return (same * 0.5 * d**2 + (1 - same) * 0.5 * F.relu(margin - d) ** 2).mean()


class KochHead(nn.Module):
    r"""Koch et al.'s similarity head: :math:`p = \sigma(\sum_k \alpha_k |z_{1,k} - z_{2,k}| + b)`;
    :meth:`forward` returns the logit :math:`\sum_k \alpha_k |z_{1,k} - z_{2,k}| + b`."""

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Linear(dim, 1)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return self.alpha((z1 - z2).abs()).squeeze(-1)

    def pairwise(self, a: Tensor, b: Tensor) -> Tensor:
        """Logits of every pair (a_i, b_j): (len(a), len(b)), without a ``(|a|·|b|, d)`` copy per row block."""
        out = torch.empty(len(a), len(b), dtype=a.dtype, device=a.device)
        for i in range(0, len(a), 64):
            out[i : i + 64] = self.alpha((a[i : i + 64, None, :] - b[None]).abs()).squeeze(-1)
        return out


def koch_loss(logits: Tensor, same: Tensor, weights: list[Tensor], l2: float) -> Tensor:
    r"""Koch et al.'s objective: binary cross-entropy of :math:`p = \sigma(\text{logit})` against
    ``same``, mean over pairs, plus :math:`\lambda \sum_w \|w\|^2` over ``weights``."""
    bce = F.binary_cross_entropy_with_logits(logits, same)
    return bce + l2 * sum(w.pow(2).sum() for w in weights) if l2 > 0 else bce


#: losses over all pairs of a batch of class groups (:mod:`reprlab.models.metric_losses`)
BATCH_LOSSES = ("triplet", "ntxent", "protonet")


def shift_images(x: Tensor, dy: int, dx: int) -> Tensor:
    """Images (B, C, H, W) translated by ``dy`` rows down and ``dx`` columns right, the edge
    rows/columns replicated into the space left behind: (B, C, H, W)."""
    p = max(abs(dy), abs(dx))
    if p == 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    return padded[..., p - dy : p - dy + h, p - dx : p - dx + w]


# ----------------------------------------------------------------------------- model
@dataclass
class SiameseConfig:
    arch: Literal["koch", "koch-small", "conv4", "mlp"] = option(
        "mlp", "twin network: Koch's 105x105 convnet, its CPU-sized variant, the 4-block batch-norm convnet, or an MLP")
    input_size: int = option(28, "conv4: images are area-resized to this size inside the net (0: as given)", ge=0)
    channels: int = option(64, "conv4: channels of each of the four blocks", ge=1)
    hidden: tuple[int, ...] = option((256,), "MLP hidden widths (arch=mlp)", ge=1)
    latent_dim: int = option(64, "size of the twin's code z (Koch: 4096; formerly embedding_dim)", ge=1, aliases=("embedding_dim",))
    activation: Literal["relu", "tanh", "elu", "gelu", "leaky_relu"] = option("relu", "MLP hidden activation")
    loss: Literal["koch", "contrastive", "cosine", "triplet", "ntxent", "protonet"] = option(
        "koch", "pair loss (koch, contrastive, cosine), loss over all pairs of a batch of groups (triplet, ntxent), "
        "or the prototypical-network episode loss (protonet)")
    margin: float = option(1.0, "contrastive: margin m on the distance; cosine: margin m on the cosine (e.g. 0)")
    l2: float = option(1e-4, "koch: λ of the λ‖w‖² penalty over the weights", ge=0)
    triplet_margin: float = option(0.2, "triplet: margin m on distances between L2-normalized codes", gt=0)
    mining: Literal["batch-hard", "semi-hard", "all"] = option("batch-hard", "triplet: which triplets of the batch")
    temperature: float = option(0.1, "ntxent: temperature τ of the cosine similarities", gt=0)
    n_support: int = option(1, "protonet: support images per class of a batch (the rest are queries); < group_size", ge=1)
    group_size: int = option(2, "triplet/ntxent/protonet: images per class in a batch (train.batch_size counts classes)", ge=2)
    group_rounds: int = option(4, "triplet/ntxent/protonet: times each class is split into groups (new partners each time)", ge=1)
    rotations: bool = option(False, "triplet/ntxent/protonet: each character turned by 90/180/270 degrees is a class of its own")
    ratio: float = option(2.0, "dissimilar pairs per similar pair (the lecture: 2 to 10)", ge=0)
    per_class: int = option(0, "similar pairs per class (0: all pairs of each class)", ge=0)
    negatives: str = option("random", "dissimilar partners: random, or same:<extra> (e.g. same:alphabet: harder); "
                                      "batch losses: each batch from one <extra>")
    pairs_file: str | None = option(None, "CSV with header i,j,same of explicit training pairs (row indices), instead")
    augment: bool = option(False, "Koch's random affine distortions of both images of each training pair")
    tta_shift: float = option(0.0, "scoring: the code of an image is the mean (unit) code of its 9 copies shifted by "
                                   "0 and +-tta_shift of its width, rows and columns (test-time augmentation; 0: off)",
                              ge=0, lt=0.5)
    val_way: int = option(20, "validation: N of the N-way one-shot tasks", ge=2)
    val_tasks: int = option(200, "validation: number of one-shot tasks", ge=1)

    def __post_init__(self):
        if self.negatives != "random" and not self.negatives.startswith("same:"):
            raise ConfigError(f"model.negatives must be random or same:<extra>, got {self.negatives!r}")
        if self.loss == "protonet" and self.n_support >= self.group_size:
            raise ConfigError(f"model.n_support={self.n_support} leaves no query in groups of {self.group_size}; "
                              f"use model.group_size >= {self.n_support + 1}")


@register_model("siamese", "Siamese network: Koch / conv4 / MLP twins; koch, contrastive, cosine pair losses; triplet, ntxent batch losses; protonet episodes")
class SiameseNet(ReprModel):
    """Twin network ``f`` with shared weights; ``encode(x) = f(x)``, ``similarity(x1, x2)`` the
    learnt similarity (Koch head probability, minus the Euclidean distance, or the cosine)."""

    name = "siamese"
    Config = SiameseConfig
    monitor = "val/oneshot_error"
    #: ``--data omniglot``: the one-shot recipe chosen on alphabets held out of the background
    #: sets (``benchmarks/oneshot_omniglot.py``): the 4-block convnet at 28 px, NT-Xent over
    #: all pairs of a batch of 64 characters x 2 drawings, rotated characters as new classes, affine
    #: distortions, a cosine learning-rate schedule; scored on codes averaged over 9 shifted copies
    #: of each image (``tta_shift``, chosen on the held-out alphabets). Koch et
    #: al.'s recipe stays one command away: ``arch=koch-small loss=koch latent_dim=512 l2=1e-5
    #: ratio=2 train.batch_size=128 train.lr=3e-4 train.max_steps=4000`` (or ``arch=koch`` on a GPU).
    recipes = {"omniglot": {
        "arch": "conv4", "input_size": 28, "channels": 64, "latent_dim": 64, "loss": "ntxent", "temperature": 0.1,
        "group_size": 2, "group_rounds": 4, "rotations": True, "augment": True, "negatives": "random",
        "tta_shift": 0.06, "val_way": 20, "val_tasks": 200,
        "train.batch_size": 64, "train.lr": 1e-3, "train.lr_schedule": "cosine", "train.warmup_steps": 100,
        "train.max_steps": 5000, "train.val_every": 1000, "train.checkpoint_every": 1000,
    }}

    def __init__(self, config: SiameseConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        out_act = "sigmoid" if config.loss == "koch" else "linear"
        if config.arch == "conv4":
            self.twin = conv4_twin(self.input_shape, config.latent_dim, config.input_size, config.channels)
        elif config.arch in ARCHS:
            self.twin = conv_twin(config.arch, self.input_shape, config.latent_dim, out_act)
        else:
            self.twin = mlp_twin(self.input_shape, config.hidden, config.latent_dim, config.activation, out_act)
        self.head = KochHead(config.latent_dim) if config.loss == "koch" else None

    # -------------------------------------------------------------- data
    def check_data(self, data: TensorData) -> None:
        if data.y is None and self.config.pairs_file is None:
            raise UsageError(f"siamese: {data.name} has no labels; give a labelled data set or model.pairs_file=PAIRS.csv")

    def training_data(self, data: TensorData, seed: int = 0):
        from ..data.pairs import make_groups, make_pairs, read_pairs

        c = self.config
        if c.loss in BATCH_LOSSES:
            family = c.negatives.split(":", 1)[1] if c.negatives.startswith("same:") else None
            return make_groups(data, c.group_size, rounds=c.group_rounds, rotations=c.rotations, seed=seed, family=family)
        if c.pairs_file:
            return read_pairs(c.pairs_file, data)
        return make_pairs(data, ratio=c.ratio, per_class=c.per_class or None, negatives=c.negatives, seed=seed)

    # -------------------------------------------------------------- forward
    def encode(self, x: Tensor) -> Tensor:
        """The twin's code z = f(x): (B, latent_dim)."""
        return self.twin(self.check_input(x))

    def _pair_score(self, z1: Tensor, z2: Tensor) -> Tensor:
        if self.config.loss == "koch":
            return torch.sigmoid(self.head(z1, z2))
        if self.config.loss == "contrastive":
            return -(z1 - z2).norm(dim=1)
        if self.config.loss == "protonet":
            return -(z1 - z2).pow(2).sum(1)
        return F.cosine_similarity(z1, z2, dim=1)

    @property
    def _cosine(self) -> bool:
        return self.config.loss not in ("koch", "contrastive", "protonet")

    @torch.no_grad()
    def scoring_code(self, x: Tensor, tta_shift: float | None = None) -> Tensor:
        r"""The code one-shot scoring compares: :math:`f(x)`, or with ``tta_shift = s > 0`` the mean
        over the 9 translates :math:`T_\delta x` of the image by
        :math:`\delta \in \{-d, 0, d\}^2` pixels, :math:`d = \mathrm{round}(s \cdot W)`
        (edges replicated),

        .. math:: \bar z(x) = \frac{1}{9} \sum_\delta \frac{f(T_\delta x)}{\|f(T_\delta x)\|}

        for the cosine similarities (unit codes averaged; raw codes for Koch's head and the
        Euclidean scores): (B, latent_dim). ``tta_shift`` overrides the config's ``s`` for this call."""
        s = self.config.tta_shift if tta_shift is None else tta_shift
        d = round(s * x.shape[-1]) if x.dim() == 4 else 0
        if d == 0:
            return self.encode(x)
        codes = [self.encode(shift_images(x, dy, dx)) for dy in (-d, 0, d) for dx in (-d, 0, d)]
        if self._cosine:
            codes = [F.normalize(z, dim=1) for z in codes]
        return torch.stack(codes).mean(0)

    @torch.no_grad()
    def similarity(self, x1: Tensor, x2: Tensor) -> Tensor:
        """Similarity of each pair (x1[i], x2[i]), higher = more alike: (B,)."""
        return self._pair_score(self.scoring_code(x1), self.scoring_code(x2))

    @torch.no_grad()
    def similarity_matrix(self, a: Tensor, b: Tensor, batch_size: int = 256) -> Tensor:
        """Similarity of every (a[i], b[j]): (len(a), len(b)); each image is encoded once
        (:meth:`scoring_code`)."""
        return self.code_similarity(self.scoring_codes(a, batch_size), self.scoring_codes(b, batch_size))

    @torch.no_grad()
    def encode_batched(self, x: Tensor, batch_size: int = 256) -> Tensor:
        """:meth:`encode` in chunks of ``batch_size``: (len(x), latent_dim)."""
        return torch.cat([self.encode(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def scoring_codes(self, x: Tensor, batch_size: int = 256, tta_shift: float | None = None) -> Tensor:
        """:meth:`scoring_code` in chunks of ``batch_size``: (len(x), latent_dim)."""
        return torch.cat([self.scoring_code(x[i : i + batch_size], tta_shift) for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def code_similarity(self, za: Tensor, zb: Tensor) -> Tensor:
        """The learnt similarity of every pair of codes (za[i], zb[j]): (len(za), len(zb)) — the Koch
        head's probability, minus the Euclidean distance (contrastive), minus its square (protonet)
        or the cosine."""
        if self.config.loss == "koch":
            return torch.sigmoid(self.head.pairwise(za, zb))
        if self.config.loss == "contrastive":
            return -torch.cdist(za, zb)
        if self.config.loss == "protonet":
            return -torch.cdist(za, zb).pow(2)
        return F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:
        c = self.config
        if c.loss in BATCH_LOSSES:  # a batch of class groups: every pair of it at once
            x = batch.x
            if self.training and c.augment:
                from ..data.augment import random_affine

                x = random_affine(x)
            z = self.twin(x)  # (P·k, d)
            if c.loss == "triplet":
                return {"loss": triplet_loss(z, batch.y, c.triplet_margin, c.mining)}
            if c.loss == "protonet":
                return {"loss": protonet_loss(z, batch.y, c.n_support)}
            return {"loss": ntxent_loss(z, batch.y, c.temperature)}
        x1, x2, same = batch.x, batch.extras["x2"], batch.y.to(batch.x.dtype)
        if self.training and self.config.augment:
            from ..data.augment import random_affine

            x1, x2 = random_affine(x1), random_affine(x2)
        z = self.twin(torch.cat([x1, x2]))  # (2B, d): one pass through the shared weights
        z1, z2 = z[: len(x1)], z[len(x1) :]
        if c.loss == "koch":
            logits = self.head(z1, z2)
            weights = [m.weight for m in self.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
            loss = koch_loss(logits, same, weights, c.l2)
            correct = (logits > 0).to(same.dtype) == same
        elif c.loss == "contrastive":
            loss = contrastive_loss(z1, z2, same, c.margin)
            correct = ((z1 - z2).norm(dim=1) < c.margin / 2).to(same.dtype) == same
        else:
            loss = cosine_pair_loss(z1, z2, same, c.margin)
            correct = (F.cosine_similarity(z1, z2, dim=1) > 0.5).to(same.dtype) == same
        return {"loss": loss, "pair_acc": correct.float().mean()}

    # -------------------------------------------------------------- validation
    def validate(self, data: TensorData) -> dict[str, float]:
        """N-way one-shot accuracy over ``val_tasks`` tasks drawn (seed 0) from ``data``, within
        one alphabet when the data know alphabets (as Lake's runs)."""
        from ..data.fewshot import sample_tasks

        within = "alphabet" if "alphabet" in data.extras else None
        tasks = sample_tasks(data, n_way=self.config.val_way, k_shot=1, n_tasks=self.config.val_tasks, seed=0,
                             within=within, fit=True)
        acc = float(tasks.accuracy(self.similarity_matrix).mean())
        return {"oneshot_acc": acc, "oneshot_error": 1.0 - acc}
