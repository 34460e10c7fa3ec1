"""N-way k-shot classification: Lake et al.'s 20 one-shot runs, and random tasks from any labelled set.

A task shows ``n_way`` classes with ``k_shot`` images each (the support) and asks for the class
of query images; a similarity ``score(query, support) -> (Q, S)`` answers with the class whose
shots score highest on average. Lake et al.'s (2015) runs are 20-way 1-shot tasks within one
alphabet (humans: 95.5 %; Koch et al.'s convolutional Siamese net: 92.0 %; 1-NN on pixels 21.7 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..data.base import TensorData
from ..errors import DataError

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

    def __len__(self) -> int:
        return len(self.support)


def from_lake_runs(runs) -> FewShotTasks:
    """Lake's runs (:class:`reprlab.data.omniglot.OneShotTasks`) as 20-way 1-shot :class:`FewShotTasks`."""
    r, n = runs.support.shape[:2]
    q = runs.query.shape[1]
    x = torch.cat([runs.support.flatten(0, 1), runs.query.flatten(0, 1)])
    support = torch.arange(r * n).view(r, n)
    query = r * n + torch.arange(r * q).view(r, q)
    return FewShotTasks(x, support, torch.arange(n).expand(r, n).clone(), query, runs.answer.clone(), n, 1, list(runs.run_names))


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
    largest = max((len(v) for v in groups.values()), default=0)
    if largest < n_way:
        if not fit or largest < 2:
            where = f" within one {within}" if within else ""
            raise DataError(f"{data.name}: {n_way}-way {k_shot}-shot tasks need {n_way} classes with {need} samples{where}; "
                            f"the largest has {largest}; lower n_way or use more data")
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


@torch.no_grad()
def fewshot_accuracy(score: ScoreFn, tasks: FewShotTasks) -> Tensor:
    """Accuracy of each task (T,): a query gets the class whose support images score highest on
    average (for 1-shot: the most similar support image)."""
    acc = torch.empty(len(tasks), dtype=torch.float64)
    for t in range(len(tasks)):
        s = score(tasks.x[tasks.query[t]], tasks.x[tasks.support[t]]).double().cpu()  # (Q, S)
        per_class = torch.zeros(s.shape[0], tasks.n_way, dtype=torch.float64)
        per_class.index_add_(1, tasks.support_class[t], s)
        pred = per_class.argmax(1)  # equal shot counts: the sum ranks classes like the mean
        acc[t] = (pred == tasks.answer[t]).double().mean()
    return acc


def pixel_similarity(query: Tensor, support: Tensor) -> Tensor:
    """Minus the Euclidean distance between raw pixels: (Q, S). The 1-nearest-neighbour baseline."""
    return -torch.cdist(query.flatten(1).double(), support.flatten(1).double())
