"""N-way k-shot tasks: the one type for Lake et al.'s one-shot runs and random tasks from any
labelled set (:func:`sample_tasks`), graded by any similarity (:meth:`FewShotTasks.accuracy`).

A task shows ``n_way`` classes with ``k_shot`` images each (the support) and asks for the class
of query images; a similarity ``score(query, support) -> (Q, S)`` answers with the class whose
shots score highest on average. Lake et al.'s (2015) runs (``load_dataset("omniglot-oneshot")``)
are 20-way 1-shot tasks within one alphabet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .base import TensorData

#: ``score(query, support) -> (Q, S)``: similarity of each query image to each support image
ScoreFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class FewShotTasks:
    """``T`` tasks over a pool of images ``x`` (M, C, H, W): ``support`` (T, n_way·k_shot) and
    ``query`` (T, Q) index ``x``; ``support_class`` (T, n_way·k_shot) and ``answer`` (T, Q) are
    class positions 0..n_way-1 within each task."""

    x: Tensor
    support: Tensor
    support_class: Tensor
    query: Tensor
    answer: Tensor
    n_way: int
    k_shot: int
    names: list[str] | None = None
    name: str = "tasks"
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.support)

    @torch.no_grad()
    def accuracy(self, score: ScoreFn) -> Tensor:
        r"""Accuracy of each task (T,) under the similarity ``score``: a query gets the class whose
        support images score highest on average (for 1-shot: the most similar support image),

        .. math:: \hat c(q) = \arg\max_c \frac{1}{k} \sum_{s \in S_c} \mathrm{score}(q, s).
        """
        acc = torch.empty(len(self), dtype=torch.float64)
        for t in range(len(self)):
            s = score(self.x[self.query[t]], self.x[self.support[t]]).double().cpu()  # (Q, S)
            per_class = torch.zeros(s.shape[0], self.n_way, dtype=torch.float64)
            per_class.index_add_(1, self.support_class[t], s)
            pred = per_class.argmax(1)  # equal shot counts: the sum ranks classes like the mean
            acc[t] = (pred == self.answer[t]).double().mean()
        return acc

    @torch.no_grad()
    def prototype_accuracy(self, encode: Callable[[Tensor], Tensor], similarity: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        r"""Accuracy of each task (T,) with class prototypes (Snell et al. 2017): the mean code of
        each class's shots, :math:`c_k = \frac{1}{k} \sum_{s \in S_k} f(s)`, and a query gets the
        class of the most similar prototype, :math:`\hat c(q) = \arg\max_k \mathrm{sim}(f(q), c_k)`.
        ``encode``: images -> codes (B, d); ``similarity(za, zb)`` -> (len(za), len(zb)). For 1-shot
        tasks it is :meth:`accuracy` with ``sim(f(q), f(s))``."""
        acc = torch.empty(len(self), dtype=torch.float64)
        for t in range(len(self)):
            zs, zq = encode(self.x[self.support[t]]), encode(self.x[self.query[t]])  # (S, d), (Q, d)
            protos = torch.zeros(self.n_way, zs.shape[1], dtype=zs.dtype, device=zs.device)
            protos.index_add_(0, self.support_class[t].to(zs.device), zs)
            protos /= torch.bincount(self.support_class[t], minlength=self.n_way).to(zs)[:, None]
            pred = similarity(zq, protos).argmax(1).cpu()
            acc[t] = (pred == self.answer[t]).double().mean()
        return acc


def sample_tasks(
    data: TensorData, n_way: int, k_shot: int = 1, n_tasks: int = 100, *, n_query: int = 1, seed: int = 0,
    within: str | None = None, fit: bool = False,
) -> FewShotTasks:
    """``n_tasks`` random ``n_way``-way ``k_shot``-shot tasks from the labelled ``data``, each with
    ``n_query`` queries per class; classes from one group of ``data.extras[within]`` per task (e.g.
    ``within="alphabet"``, as Lake's runs). ``fit=True`` lowers ``n_way`` to what the data allow
    instead of failing (validation on a small split). Deterministic given ``seed``."""
    if data.y is None:
        raise DataError(f"{data.name}: few-shot tasks need labels")
    for what, value, low in (("n_way", n_way, 2), ("k_shot", k_shot, 1), ("n_query", n_query, 1), ("n_tasks", n_tasks, 1)):
        if value < low:
            raise DataError(f"{what} must be at least {low}, got {value}")
    y = data.y.cpu().numpy()
    need = k_shot + n_query
    classes, counts = np.unique(y, return_counts=True)
    ok = classes[counts >= need]
    if within is not None:
        if within not in data.extras:
            raise DataError(f"{data.name} has no per-sample {within!r}; have: {', '.join(data.extras) or 'none'}")
        g = data.extras[within].cpu().numpy()
        group_of = {c: g[np.flatnonzero(y == c)[0]] for c in ok}
        groups = {}
        for c in ok:
            groups.setdefault(group_of[c], []).append(c)
    else:
        groups = {0: list(ok)}
    if len(ok) == 0:  # no class has enough samples for one support set and its queries
        raise DataError(f"{data.name}: {k_shot}-shot tasks with {n_query} quer{'y' if n_query == 1 else 'ies'} per class "
                        f"need {need} samples of a class; its largest class has {int(counts.max())}; lower the shot "
                        f"(at most {int(counts.max()) - n_query})")
    largest = max((len(v) for v in groups.values()), default=0)
    if largest < n_way:
        if not fit or largest < 2:
            where = f" within one {within}" if within else ""
            raise DataError(f"{data.name}: {n_way}-way {k_shot}-shot tasks need {n_way} classes with {need} samples{where}; "
                            f"{'the largest ' + within if within else 'it'} has {largest}; lower the way (at most {largest}) or use more data")
        n_way = largest
    eligible = [sorted(v) for v in groups.values() if len(v) >= n_way]
    rng = np.random.default_rng(seed)
    by_class = {c: np.flatnonzero(y == c) for c in ok}
    sup, sup_cls, qry, ans = [], [], [], []
    for _ in range(n_tasks):
        pool = eligible[rng.integers(len(eligible))]
        chosen = rng.choice(pool, n_way, replace=False)
        s, sc, q, a = [], [], [], []
        for pos, c in enumerate(chosen):
            idx = rng.choice(by_class[c], need, replace=False)
            s += list(idx[:k_shot])
            sc += [pos] * k_shot
            q += list(idx[k_shot:])
            a += [pos] * n_query
        sup.append(s)
        sup_cls.append(sc)
        qry.append(q)
        ans.append(a)
    t = lambda v: torch.as_tensor(np.array(v), dtype=torch.int64)  # noqa: E731
    return FewShotTasks(data.x, t(sup), t(sup_cls), t(qry), t(ans), n_way, k_shot)
