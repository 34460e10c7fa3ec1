"""Pairs and triplets of a labelled data set, for Siamese networks (Bromley et al. 1993; Koch et al. 2015).

A Siamese network learns from pairs ``(x1, x2, same)``. :func:`make_pairs` builds them from any
labelled :class:`TensorData`: similar pairs (two samples of one class; all of them, or at most
``per_class`` per class) and dissimilar pairs sub-sampled at ``ratio`` dissimilar per similar
pair (the lecture: 2:1 to 10:1). Dissimilar partners are drawn uniformly from the other classes,
from the same ``group`` (e.g. Omniglot's alphabet: harder negatives, ``negatives="same:alphabet"``)
or by a user hook. :func:`read_pairs` reads explicit pairs from a file. Everything is
deterministic given the seed.

:class:`PairData` holds the images once and the pairs as indices; the trainer batches it like
any data set: ``batch.x`` is x1, ``batch.extras["x2"]`` is x2, ``batch.y`` is ``same`` (1.0 / 0.0).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .base import Batch, TensorData

#: ``negative_fn(anchor_index, candidates, rng) -> chosen candidate`` picks the dissimilar partner
#: of ``anchor_index`` among ``candidates`` (indices of samples of other classes).
NegativeFn = Callable[[int, np.ndarray, np.random.Generator], int]


class _OverImages:
    """What the trainer asks of a data set, answered by the images that pairs or groups index."""

    images: TensorData

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.images.sample_shape

    @property
    def is_image(self) -> bool:
        return self.images.is_image

    @property
    def device(self) -> torch.device:
        return self.images.x.device


@dataclass
class PairData(_OverImages):
    """Pairs ``(x[i], x[j], same)`` over the samples of ``images``; ``pairs`` is (P, 2) int64,
    ``same`` (P,) float32 in {0, 1}. Batches: ``x`` = x1, ``extras["x2"]`` = x2, ``y`` = same."""

    images: TensorData
    pairs: Tensor
    same: Tensor
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pairs.ndim != 2 or self.pairs.shape[1] != 2 or self.pairs.dtype != torch.int64:
            raise DataError(f"pairs must be an int64 tensor of shape (P, 2), got {self.pairs.dtype} {tuple(self.pairs.shape)}")
        if self.same.shape != (len(self.pairs),):
            raise DataError(f"same must have shape ({len(self.pairs)},), got {tuple(self.same.shape)}")
        if len(self.pairs) == 0:
            raise DataError(f"{self.name or 'pairs'}: no pairs; check the labels (a class needs 2 samples for a similar pair)")
        n = len(self.images)
        if int(self.pairs.min()) < 0 or int(self.pairs.max()) >= n:
            raise DataError(f"{self.name or 'pairs'}: a pair index is outside 0..{n - 1}")
        self.name = self.name or f"pairs of {self.images.name}"

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def num_similar(self) -> int:
        return int(self.same.sum())

    def take(self, idx: Tensor) -> Batch:
        """Pairs ``idx`` as one batch: x1 (B, ...), extras x2 (B, ...), y = same (B,)."""
        p = self.pairs.index_select(0, idx)
        x = self.images.x
        return Batch(x=x.index_select(0, p[:, 0]), y=self.same.index_select(0, idx), extras={"x2": x.index_select(0, p[:, 1])})

    def to(self, device) -> "PairData":
        return replace(self, images=self.images.to(device), pairs=self.pairs.to(device), same=self.same.to(device))

    def subset(self, index) -> "PairData":
        return replace(self, pairs=self.pairs[index], same=self.same[index])


def _labels(data: TensorData) -> np.ndarray:
    if data.y is None:
        raise DataError(f"{data.name}: pairs need labels (which samples are the same); give a labelled data set or a pairs file")
    return data.y.cpu().numpy()


def make_pairs(
    data: TensorData, *, ratio: float = 2.0, per_class: int | None = None, negatives: str = "random",
    negative_fn: NegativeFn | None = None, seed: int = 0,
) -> PairData:
    """Similar and dissimilar pairs of ``data`` (see the module docstring).

    - per_class : similar pairs per class: all ``C(n_c, 2)`` when None, else that many drawn
      without replacement.
    - ratio : dissimilar pairs per similar pair (each similar pair's first sample is the anchor of
      ``ratio`` dissimilar ones, rounded stochastically).
    - negatives : ``random`` (any other class) or ``same:<extra>`` (another class with the same
      value of ``data.extras[<extra>]``, e.g. ``same:alphabet``; falls back to any class when the
      group has only one).
    - negative_fn : overrides ``negatives``: ``fn(anchor, candidates, rng) -> index``.
    """
    y = _labels(data)
    if ratio < 0:
        raise DataError(f"ratio (dissimilar per similar pair) must be >= 0, got {ratio}")
    rng = np.random.default_rng(seed)
    similar = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < 2:
            continue
        iu, ju = np.triu_indices(len(members), k=1)
        pairs_c = np.stack([members[iu], members[ju]], axis=1)
        if per_class is not None and per_class < len(pairs_c):
            pairs_c = pairs_c[np.sort(rng.choice(len(pairs_c), per_class, replace=False))]
        similar.append(pairs_c)
    if not similar:
        raise DataError(f"{data.name}: no class has 2 samples, so there is no similar pair")
    similar = np.concatenate(similar)
    rng.shuffle(similar, axis=0)  # orient pairs at random: x1 and x2 play symmetric roles
    flip = rng.random(len(similar)) < 0.5
    similar[flip] = similar[flip][:, ::-1]

    group = None
    if negative_fn is None and negatives != "random":
        key = negatives.removeprefix("same:")
        if not negatives.startswith("same:") or key not in data.extras:
            have = ", ".join(f"same:{k}" for k in data.extras) or "none"
            raise DataError(f"negatives must be 'random' or 'same:<extra>' (this data set has: {have}), got {negatives!r}")
        group = data.extras[key].cpu().numpy()
    whole, frac = int(ratio), ratio - int(ratio)
    counts = whole + (rng.random(len(similar)) < frac).astype(int)  # ratio per similar pair, on average
    anchors = np.repeat(similar[:, 0], counts)
    partners = np.empty(len(anchors), dtype=np.int64)
    for k, a in enumerate(anchors):
        if negative_fn is not None:
            candidates = np.flatnonzero(y != y[a])
            partners[k] = int(negative_fn(int(a), candidates, rng))
            if y[partners[k]] == y[a]:
                raise DataError(f"negative_fn returned sample {partners[k]} of the anchor's own class for anchor {a}")
            continue
        if group is not None:
            candidates = np.flatnonzero((group == group[a]) & (y != y[a]))
            if len(candidates) == 0:
                candidates = np.flatnonzero(y != y[a])
        else:
            candidates = None
        if candidates is None:  # rejection sampling: fast when no class dominates
            while True:
                j = int(rng.integers(len(y)))
                if y[j] != y[a]:
                    break
            partners[k] = j
        else:
            partners[k] = int(candidates[rng.integers(len(candidates))])
    dissimilar = np.stack([anchors, partners], axis=1)
    pairs = np.concatenate([similar, dissimilar])
    same = np.concatenate([np.ones(len(similar), np.float32), np.zeros(len(dissimilar), np.float32)])
    order = rng.permutation(len(pairs))
    return PairData(
        data, torch.from_numpy(pairs[order].astype(np.int64)), torch.from_numpy(same[order]),
        meta={"similar": len(similar), "dissimilar": len(dissimilar), "ratio": ratio, "per_class": per_class,
              "negatives": "hook" if negative_fn is not None else negatives, "seed": seed},
    )


def read_pairs(path: str | Path, data: TensorData) -> PairData:
    """Explicit pairs from a CSV file with header ``i,j,same`` (same is 1/0 or true/false), e.g.
    pairs a person marked as duplicates. ``i`` and ``j`` are rows of the whole data set; when
    ``data`` is a split of it (it carries ``extras["row"]``), pairs with a row outside the split
    are left out (their number is in ``meta["pairs_outside_split"]``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pairs file not found; write a CSV with header i,j,same (row indices into the data)")
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"i", "j", "same"} <= set(reader.fieldnames):
            raise DataError(f"{path}: needs the header i,j,same, got {reader.fieldnames}")
        for line, r in enumerate(reader, start=2):
            try:
                same = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0}[r["same"].strip().lower()]
                rows.append((int(r["i"]), int(r["j"]), same))
            except (KeyError, ValueError, AttributeError):
                raise DataError(f"{path}:{line}: expected integers i, j and same in 1/0/true/false, got {r}") from None
    if not rows:
        raise DataError(f"{path}: no pairs below the header")
    arr = np.array(rows)
    ij, same = arr[:, :2].astype(np.int64), arr[:, 2].astype(np.float32)
    total = data.meta.get("rows") if "row" in data.extras else len(data)  # rows of the whole file / set
    if total and (ij.min() < 0 or ij.max() >= total):
        bad = int(np.flatnonzero((ij < 0).any(1) | (ij >= total).any(1))[0])
        raise DataError(f"{path}:{bad + 2}: row {int(ij[bad][(ij[bad] < 0) | (ij[bad] >= total)][0])} does not exist: "
                        f"{data.name} has {total} rows (0..{total - 1}); fix the pair or remove it")
    dropped = 0
    if "row" in data.extras:  # a split of the data: map file rows to positions, keep pairs inside it
        rows_here = data.extras["row"].cpu().numpy()
        n_rows = int(rows_here.max()) + 1
        if ij.min() < 0:
            raise DataError(f"{path}: a pair index is negative")
        position = np.full(max(n_rows, int(ij.max()) + 1), -1, dtype=np.int64)
        position[rows_here] = np.arange(len(rows_here))
        mapped = position[ij]
        keep = (mapped >= 0).all(axis=1)
        dropped = int((~keep).sum())
        ij, same = mapped[keep], same[keep]
        if len(ij) == 0:
            raise DataError(f"{path}: none of its pairs has both rows in this split of {data.name}; "
                            "check the indices (rows of the whole file) or set data.val_fraction=0")
    return PairData(data, torch.from_numpy(ij), torch.from_numpy(same), name=f"pairs {path.name} of {data.name}",
                    meta={"file": str(path), "pairs_outside_split": dropped})


def make_triplets(data: TensorData, n: int, *, seed: int = 0) -> Tensor:
    """``n`` triplets (anchor, positive, negative) as an int64 (n, 3) tensor of row indices:
    anchor and positive share a class, the negative does not; drawn uniformly, seeded."""
    y = _labels(data)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    usable = classes[counts >= 2]
    if len(usable) == 0 or len(classes) < 2:
        raise DataError(f"{data.name}: triplets need a class with 2 samples and at least 2 classes")
    by_class = {c: np.flatnonzero(y == c) for c in usable}
    out = np.empty((n, 3), dtype=np.int64)
    for k in range(n):
        c = usable[rng.integers(len(usable))]
        out[k, :2] = rng.choice(by_class[c], 2, replace=False)
        while True:
            j = int(rng.integers(len(y)))
            if y[j] != c:
                break
        out[k, 2] = j
    return torch.from_numpy(out)


@dataclass
class GroupData(_OverImages):
    """Groups of ``k`` samples of one class, for losses over all pairs of a batch
    (:mod:`reprlab.models.metric_losses`): a batch of ``P`` groups holds ``P·k`` images of ``P``
    classes, so every image has ``k − 1`` positives and ``(P − 1)·k`` negatives in the batch.

    ``groups`` (G, k) int64 indexes ``images``; ``labels`` (G,) is each group's class, and
    ``rotations`` (G,) in {0, 1, 2, 3} turns the group's images by that many quarter turns: a
    rotated character is a class of its own (label ``4·y + r``), as in Vinyals et al. (2016).
    Batches: ``x`` (P·k, C, H, W), ``y`` (P·k,) the class of each image.

    ``families`` (G,), when given, is a coarser grouping of the classes (e.g. each character's
    alphabet): :meth:`epoch_order` then fills each batch from one family, so that the negatives
    of a batch are the look-alikes a within-family task asks to tell apart."""

    images: TensorData
    groups: Tensor
    labels: Tensor
    rotations: Tensor
    name: str = ""
    meta: dict = field(default_factory=dict)
    families: Tensor | None = None

    def __post_init__(self) -> None:
        if self.groups.ndim != 2 or self.groups.dtype != torch.int64 or len(self.groups) == 0:
            raise DataError(f"groups must be a non-empty int64 tensor of shape (G, k), got {self.groups.dtype} {tuple(self.groups.shape)}")
        if self.labels.shape != (len(self.groups),) or self.rotations.shape != (len(self.groups),):
            raise DataError(f"labels and rotations must have shape ({len(self.groups)},)")
        if self.families is not None and self.families.shape != (len(self.groups),):
            raise DataError(f"families must have shape ({len(self.groups)},), got {tuple(self.families.shape)}")
        self.name = self.name or f"groups of {self.groups.shape[1]} of {self.images.name}"

    def __len__(self) -> int:
        return len(self.groups)

    def take(self, idx: Tensor) -> Batch:
        """Groups ``idx`` as one batch of ``len(idx)·k`` images and their (rotation) classes."""
        g = self.groups.index_select(0, idx)  # (P, k)
        x = self.images.x.index_select(0, g.reshape(-1)).view(*g.shape, *self.images.sample_shape)  # (P, k, C, H, W)
        r = self.rotations.index_select(0, idx)
        if self.images.is_image and bool((r > 0).any()):
            x = x.clone()
            for turns in (1, 2, 3):
                sel = r == turns
                if bool(sel.any()):
                    x[sel] = torch.rot90(x[sel], turns, dims=(-2, -1))
        y = (self.labels.index_select(0, idx) * 4 + r).repeat_interleave(g.shape[1])
        return Batch(x=x.flatten(0, 1), y=y, extras={})

    def epoch_order(self, batch_size: int, generator: torch.Generator) -> Tensor | None:
        """With ``families``: a permutation of the groups whose consecutive blocks of ``batch_size``
        each come from one family (the families' blocks in random order; what is left of each
        family after its full blocks is shuffled together into the last blocks). ``None`` without
        families (the caller shuffles uniformly)."""
        if self.families is None:
            return None
        fam = self.families.cpu()
        blocks, rest = [], []
        for f in torch.unique(fam):
            idx = torch.nonzero(fam == f).flatten()
            idx = idx[torch.randperm(len(idx), generator=generator)]
            n = len(idx) // batch_size * batch_size
            blocks += list(idx[:n].split(batch_size))
            rest.append(idx[n:])
        order = [blocks[i] for i in torch.randperm(len(blocks), generator=generator).tolist()]
        rest_t = torch.cat(rest)
        order.append(rest_t[torch.randperm(len(rest_t), generator=generator)])
        return torch.cat(order)

    def to(self, device) -> "GroupData":
        return replace(self, images=self.images.to(device), groups=self.groups.to(device),
                       labels=self.labels.to(device), rotations=self.rotations.to(device),
                       families=None if self.families is None else self.families.to(device))

    def subset(self, index) -> "GroupData":
        return replace(self, groups=self.groups[index], labels=self.labels[index], rotations=self.rotations[index],
                       families=None if self.families is None else self.families[index])


def make_groups(data: TensorData, k: int, *, rounds: int = 4, rotations: bool = False, seed: int = 0,
                family: str | None = None) -> GroupData:
    """Groups of ``k`` samples of one class: each round splits every class's samples, shuffled,
    into ``⌊n_c / k⌋`` groups (``rounds`` rounds, each with a new shuffle, so a sample meets
    different partners). With ``rotations``, every group appears once per quarter turn (0, 90,
    180, 270 degrees), each a class of its own. With ``family`` (a key of ``data.extras``, e.g.
    ``alphabet``), each batch is filled from one value of it (:meth:`GroupData.epoch_order`).
    Deterministic given ``seed``."""
    if family is not None and family not in data.extras:
        have = ", ".join(f"same:{k}" for k in data.extras) or "none"
        raise DataError(f"{data.name} has no {family!r} of each sample for same:{family} batches; "
                        f"available: {have}; use model.negatives=random")
    if k < 2:
        raise DataError(f"a group needs at least 2 samples of a class (k >= 2), got k={k}")
    if rounds < 1:
        raise DataError(f"rounds must be at least 1, got {rounds}")
    y = _labels(data)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(y == c) for c in np.unique(y)]
    usable = [m for m in members if len(m) >= k]
    if len(usable) < 2:
        raise DataError(f"{data.name}: groups of {k} need at least 2 classes with {k} samples each; "
                        f"{len(usable)} have; lower the group size (model.group_size)")
    fam_of = None if family is None else np.asarray(data.extras[family].cpu())
    groups, labels, fams = [], [], []
    for _ in range(rounds):
        for m in usable:
            shuffled = rng.permutation(m)
            n = len(m) // k
            groups.append(shuffled[: n * k].reshape(n, k))
            labels += [int(y[m[0]])] * n
            fams += [int(fam_of[m[0]]) if fam_of is not None else 0] * n
    groups = np.concatenate(groups)
    labels = np.asarray(labels, dtype=np.int64)
    fams = np.asarray(fams, dtype=np.int64)
    turns = np.zeros(len(groups), dtype=np.int64)
    if rotations:
        groups, labels, fams = np.tile(groups, (4, 1)), np.tile(labels, 4), np.tile(fams, 4)
        turns = np.repeat(np.arange(4), len(turns))
    return GroupData(data, torch.from_numpy(groups.astype(np.int64)), torch.from_numpy(labels), torch.from_numpy(turns),
                     meta={"k": k, "rounds": rounds, "rotations": rotations, "classes": len(usable) * (4 if rotations else 1),
                           "seed": seed, "family": family},
                     families=torch.from_numpy(fams) if family is not None else None)
