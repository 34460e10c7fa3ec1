"""In-memory data sets and the one batching path every model uses.

Small data sets (digits, MNIST, Omniglot, Amazon reviews) fit in memory, so a data set is a
pair of tensors and a batch is a slice of them: no per-sample ``__getitem__`` and no collate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, NamedTuple

import torch
from torch import Tensor

from ..errors import DataError


@dataclass
class TensorData:
    """A data set held as tensors.

    Attributes
    ----------
    x : Tensor, float32, shape (N, C, H, W) for images or (N, D) for feature vectors.
        Images are scaled to [0, 1].
    y : Tensor of int64, shape (N,), or None when the data are unlabelled.
    name : the registry name (or path) it was loaded from.
    classes : optional class names, ``classes[y[i]]`` is the label of sample i.
    extras : optional per-sample tensors of shape (N, ...) (e.g. Omniglot's ``alphabet``
        and ``drawer``); they are sliced along with x and y.
    meta : free-form description (source files, split, value range). After a split,
        ``rows`` (the samples before any split), ``taken`` (the splits made, in order) and
        ``part`` (which side this is) let an error say where the samples went.
    """

    x: Tensor
    y: Tensor | None = None
    name: str = ""
    classes: list[str] | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor):
            raise DataError(f"{self.name or 'data'}: x must be a torch.Tensor, got {type(self.x).__name__}")
        if self.x.ndim not in (2, 4):
            raise DataError(
                f"{self.name or 'data'}: x must have shape (N, D) or (N, C, H, W), got {tuple(self.x.shape)}"
            )
        if not self.x.is_floating_point():
            raise DataError(f"{self.name or 'data'}: x must be floating point, got {self.x.dtype}")
        n = self.x.shape[0]
        if n == 0:
            raise DataError(f"{self.name or 'data'}: the data set is empty")
        if self.y is not None:
            if self.y.shape != (n,):
                raise DataError(f"{self.name or 'data'}: y must have shape ({n},), got {tuple(self.y.shape)}")
            if self.y.dtype != torch.int64:
                raise DataError(f"{self.name or 'data'}: y must be int64 labels, got {self.y.dtype}")
        for key, value in self.extras.items():
            if value.shape[0] != n:
                raise DataError(f"{self.name or 'data'}: extras[{key!r}] has {value.shape[0]} rows, expected {n}")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) or (D,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4

    @property
    def device(self) -> torch.device:
        return self.x.device

    def take(self, idx: Tensor) -> "Batch":
        """The samples at the index tensor ``idx`` as one :class:`Batch` (what the trainer feeds a model)."""
        return Batch(
            x=self.x.index_select(0, idx),
            y=None if self.y is None else self.y.index_select(0, idx),
            extras={k: v.index_select(0, idx) for k, v in self.extras.items()},
        )

    @property
    def num_classes(self) -> int | None:
        if self.y is None:
            return None
        return len(self.classes) if self.classes is not None else int(self.y.max()) + 1

    def subset(self, index: Tensor | slice) -> "TensorData":
        """The samples at ``index`` (an index tensor or a slice), extras included."""
        return replace(
            self,
            x=self.x[index],
            y=None if self.y is None else self.y[index],
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def to(self, device: torch.device | str) -> "TensorData":
        return replace(
            self,
            x=self.x.to(device),
            y=None if self.y is None else self.y.to(device),
            extras={k: v.to(device) for k, v in self.extras.items()},
        )

    def split(
        self,
        fraction: float,
        seed: int,
        *,
        label: str | None = None,
        parts: tuple[str, str] = ("training", "validation"),
        fix: str = "add rows, or set data.val_fraction=0 to train without validation",
    ) -> tuple["TensorData", "TensorData"]:
        """Split into (first, second) with ``round(fraction * N)`` samples in the second part.

        Deterministic given ``seed``; stratified by label when labels exist, so each class
        keeps its proportion. ``label`` (default: "the 10% validation split"), ``parts`` (the
        two sides) and ``fix`` word the one-line :class:`DataError` raised when a side would be
        empty; they are recorded in the parts' ``meta`` for later messages.
        """
        if not 0.0 < fraction < 1.0:
            raise DataError(f"split fraction must be in (0, 1), got {fraction}")
        label = label or f"the {fraction:.0%} {parts[1]} split"
        n = len(self)
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(n, generator=g)
        if self.y is None:
            k = max(1, min(n - 1, round(fraction * n))) if n > 1 else 0
            take = torch.zeros(n, dtype=torch.bool)
            take[:k] = True
        else:
            # Stratified: shuffle, then take the first round(fraction * n_c) of each class.
            y = self.y[perm].cpu()
            take = torch.zeros(n, dtype=torch.bool)
            for c in torch.unique(y):
                where = torch.nonzero(y == c).flatten()
                take[where[: round(fraction * len(where))]] = True
        k = int(take.sum())
        if k == 0 or k == n:
            raise DataError(
                f"{describe_size(self)}, too few for {label} ({parts[0]} would get {n - k}, {parts[1]} {k}); {fix}"
            )
        second, first = perm[take], perm[~take]
        meta = {**self.meta, "rows": self.meta.get("rows", n), "taken": [*self.meta.get("taken", ()), label]}
        out = self.subset(torch.sort(first).values), self.subset(torch.sort(second).values)
        for part, name in zip(out, parts):
            part.meta = {**meta, "part": name}
        return out

    def split_groups(self, key: str, fraction: float, seed: int) -> tuple["TensorData", "TensorData"]:
        """Split into (first, second) by whole groups of ``extras[key]`` (e.g. Omniglot's
        alphabets): ``round(fraction · G)`` of the G groups (at least 1, at most G − 1), drawn with
        ``seed``, go to the second part, so its samples come from groups the first never saw."""
        if not 0.0 < fraction < 1.0:
            raise DataError(f"split fraction must be in (0, 1), got {fraction}")
        if key not in self.extras:
            have = ", ".join(self.extras) or "none"
            raise DataError(f"{self.name}: no per-sample {key!r} to hold out by (it has: {have}); unset data.val_by")
        groups = torch.unique(self.extras[key].cpu())
        if len(groups) < 2:
            raise DataError(f"{self.name}: one {key} only, none left to hold out; unset data.val_by")
        k = max(1, min(len(groups) - 1, round(fraction * len(groups))))
        g = torch.Generator().manual_seed(seed)
        held = groups[torch.randperm(len(groups), generator=g)[:k]]
        take = torch.isin(self.extras[key].cpu(), held)
        first, second = self.subset(torch.nonzero(~take).flatten()), self.subset(torch.nonzero(take).flatten())
        label = f"{k} of {len(groups)} {key} values held out"
        for part, name in zip((first, second), ("training", "validation")):
            part.meta = {**self.meta, "part": name, "held_out": {key: held.tolist()}, "taken": [*self.meta.get("taken", ()), label]}
        return first, second


def describe_size(data) -> str:
    """How many samples ``data`` has, and where the others of its file went, e.g.
    ``two.npy has 2 rows; after the 80/20 train/test split 1 is left for training`` or
    ``data has 5 samples`` (anything with ``len``, ``name`` and optionally ``meta``)."""
    n, name = len(data), getattr(data, "name", "") or "data"
    meta = getattr(data, "meta", None) or {}
    rows, taken = meta.get("rows"), meta.get("taken") or ()
    if not isinstance(rows, int):
        return f"{name} has {n} sample{'s' if n != 1 else ''}"
    counted = f"{name} has {rows} row{'s' if rows != 1 else ''}"
    if not taken or rows == n:
        return counted
    left = f"{n} is" if n == 1 else f"{n} are"
    return f"{counted}; after {' and '.join(taken)} {left} left for {meta.get('part') or 'this part'}"


class Batch(NamedTuple):
    """One mini-batch: ``x`` (B, ...), ``y`` (B,) or None, ``extras`` sliced alike.

    A NamedTuple (not a dataclass) so that Fabric's precision plugins can cast its tensors
    without deep-copying the batch.
    """

    x: Tensor
    y: Tensor | None = None
    extras: dict[str, Tensor] = {}

    @property
    def size(self) -> int:
        """Number of samples B."""
        return self.x.shape[0]


class TensorBatches:
    """Mini-batches of a :class:`TensorData` (or any data with ``len``, ``device`` and ``take(idx)``,
    e.g. :class:`~reprlab.data.pairs.PairData`), deterministic given (seed, epoch).

    The order of epoch ``e`` is ``randperm(N)`` from a generator seeded with ``seed + e``, so a
    run resumed at step ``s`` sees exactly the batches of an uninterrupted run, and every
    data-parallel rank agrees on the permutation without communication.

    With ``world_size > 1`` the *global* batch ``perm[i*B:(i+1)*B]`` is cut into ``world_size``
    equal contiguous parts and rank ``r`` gets part ``r``: the union over ranks is exactly the
    batch a single process would see, so averaged gradients match a 1-process run.
    """

    def __init__(
        self,
        data: TensorData,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size % world_size:
            raise DataError(
                f"batch_size {batch_size} is not divisible by the {world_size} processes; "
                f"use a multiple of {world_size}"
            )
        if drop_last and len(data) < batch_size:
            raise DataError(
                f"{describe_size(data)}, fewer than batch_size={batch_size}; "
                f"lower train.batch_size to at most {len(data)}, or add rows"
            )
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self._epoch_cached: int | None = None
        self._perm: Tensor | None = None

    def __len__(self) -> int:
        n, b = len(self.data), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> Tensor:
        """Sample order of ``epoch`` (cached for the current epoch)."""
        if self._epoch_cached != epoch:
            n = len(self.data)
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed + epoch)
                own = getattr(self.data, "epoch_order", None)  # data that compose their own batches
                perm = own(self.batch_size, g) if own is not None else None
                if perm is None:
                    perm = torch.randperm(n, generator=g)
            else:
                perm = torch.arange(n)
            self._perm = perm.to(self.data.device)
            self._epoch_cached = epoch
        return self._perm

    def batch(self, epoch: int, i: int) -> Batch:
        """Batch ``i`` of ``epoch`` (this rank's share of it)."""
        idx = self.order(epoch)[i * self.batch_size : (i + 1) * self.batch_size]
        if self.world_size > 1:
            # Equal contiguous parts of the global batch; a short last batch (drop_last=False)
            # is cut as evenly as torch.tensor_split does.
            idx = torch.tensor_split(idx, self.world_size)[self.rank]
        return self.data.take(idx)

    def at_step(self, step: int) -> Batch:
        """The batch of global training step ``step`` (0-based), across epochs."""
        epoch, i = divmod(step, len(self))
        return self.batch(epoch, i)

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        for i in range(len(self)):
            yield self.batch(epoch, i)
