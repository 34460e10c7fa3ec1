"""The probes of ``reprlab compare`` applied to one method's codes for one seed, and the cells
they make over the seeds (the probes themselves are :mod:`reprlab.eval.probes`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.base import TensorData
from ..errors import UsageError

#: the probe groups, in table order
GROUPS = ("linear", "knn", "fewshot", "robust", "map", "cost")


@dataclass(frozen=True)
class Probe:
    """One column: ``name`` (its key in compare.json), ``label`` (what it measures), ``better``
    (``higher``, ``lower`` or None: not ranked), its ``group`` and the group's ``arg`` for it (a
    label budget, a shot count, a corruption, a cost)."""

    name: str
    label: str
    better: str | None
    group: str
    arg: Any = None


@dataclass(frozen=True)
class Missing:
    """A cell without a number: ``status`` ``failed`` (``exit_code`` 2 for bad input, 1 for a run
    that broke) or ``n/a`` (the probe does not apply), with the one-line ``reason``."""

    status: str
    reason: str
    exit_code: int = 2


@dataclass
class Settings:
    """The probes' parameters (see :mod:`reprlab.pipelines.compare`)."""

    groups: tuple[str, ...] = GROUPS
    labels: tuple[int | None, ...] = (100, 1000, None)  # None: all labels
    k: int = 5
    fewshot_way: int = 20
    fewshot_shots: tuple[int, ...] = (1, 5)
    fewshot_tasks: int = 200
    fewshot_data: str | None = None
    corruptions: tuple[str, ...] = ("masking:0.25", "gaussian:0.2")
    map_points: int = 2000
    tsne_iter: int = 750
    cv_labels: int | None = None  # the linear probe's C chosen on at most this many labelled codes (None: all)

    def probes(self) -> list[Probe]:
        """The columns of the table, group by group."""
        way, k = self.fewshot_way, self.k
        columns = {
            "linear": [Probe(f"linear_{n or 'all'}", f"linear probe, {n or 'all'} labels", "higher", "linear", n)
                       for n in self.labels],
            "knn": [Probe(f"knn{k}", f"{k}-NN accuracy (train -> test)", "higher", "knn", "train"),
                    Probe(f"knn{k}_loo", f"leave-one-out {k}-NN accuracy (test codes)", "higher", "knn", "loo")],
            "fewshot": [Probe(f"fewshot_{way}w{s}s", f"{way}-way {s}-shot (cosine prototypes)", "higher", "fewshot", s)
                        for s in self.fewshot_shots],
            "robust": [Probe(f"robust_{c.replace(':', '')}", f"linear probe on codes of {c} inputs", "higher", "robust", c)
                       for c in self.corruptions],
            "map": [Probe("tsne_T10", "t-SNE map: trustworthiness T(10)", "higher", "map")],
            "cost": [Probe("train_seconds", "training seconds", "lower", "cost", "train_seconds"),
                     Probe("encode_per_s", "test inputs encoded per second", "higher", "cost", "encode_per_s"),
                     Probe("code_size", "code size", None, "cost", "code_size")],
        }
        return [p for g in GROUPS if g in self.groups for p in columns[g]]


#: the few-shot data of a data set when none is named: a set of other classes (Lake's small
#: background sets of Omniglot, the full background / evaluation sets); classes the training data
#: share with it (small1 and small2 share Greek and Latin) are dropped (:func:`held_out`)
FEWSHOT_DATA = {"omniglot:small1": "omniglot:small2", "omniglot:small2": "omniglot:small1",
                "omniglot:background": "omniglot:evaluation", "omniglot:evaluation": "omniglot:background"}


def held_out(data: TensorData, seen: list[str] | None) -> TensorData:
    """The samples of ``data`` whose class name is not among ``seen`` (the training data's class
    names): few-shot tasks on classes the methods never saw. All of ``data`` when either side has
    no class names."""
    if seen is None or data.classes is None or data.y is None:
        return data
    known = set(seen)
    keep = torch.tensor([data.classes[int(c)] not in known for c in data.y.tolist()], dtype=torch.bool)
    if bool(keep.all()):
        return data
    if not bool(keep.any()):
        raise UsageError(f"every class of {data.name} is also in the training data: it has no held-out classes for "
                         "the few-shot probe; name other data")
    return data.subset(torch.nonzero(keep).squeeze(1))


class Probing:
    """The probes of one method's ``codes`` (:class:`~.compare_methods.Codes`) for one seed: the
    training and test splits are encoded once (the test split timed: the throughput); each
    group's method computes one cell. ``code_size``: the size the codes must have (None: any)."""

    def __init__(self, codes, train: TensorData, test: TensorData, settings: Settings, seed: int, *,
                 code_size: int | None = None, fewshot_set: TensorData | None = None):
        self.codes, self.train, self.test, self.s, self.seed, self.fewshot_set = codes, train, test, settings, seed, fewshot_set
        t0 = time.perf_counter()
        self.z_test = codes.encode(test.x)  # (N_test, d)
        self.encode_s = time.perf_counter() - t0
        if code_size is not None and self.z_test.shape[1] != code_size:
            raise UsageError(f"codes have {self.z_test.shape[1]} dimensions, not the {code_size} asked")
        self.z_train = codes.encode(train.x)  # (N_train, d)
        self.y_train = None if train.y is None else train.y.numpy()
        self.y_test = None if test.y is None else test.y.numpy()
        self.the_map = None  # (Map2D, index of its points in the test split)
        self._full_probe = None

    def cell(self, probe: Probe):
        """The value of ``probe``, or :class:`Missing` with its one-line reason."""
        labelled = self.y_train is not None and self.y_test is not None
        if probe.group in ("linear", "knn", "robust") and not labelled:
            return Missing("failed", f"needs labels, and {self.train.name} has none")
        try:
            return getattr(self, probe.group)(probe.arg)
        except UsageError as e:
            return Missing("failed", str(e))

    def full_probe(self):
        """The linear probe on every training label, fit once (``linear_all`` and robustness)."""
        from ..eval.probes import fit_linear_probe

        if self._full_probe is None:
            self._full_probe = fit_linear_probe(self.z_train, self.y_train, seed=self.seed, cv_labels=self.s.cv_labels)
        return self._full_probe

    def linear(self, n: int | None):
        from ..eval.probes import fit_linear_probe, label_subset

        if n is None:
            return self.full_probe().accuracy(self.z_test, self.y_test)
        if n >= len(self.z_train):
            return Missing("n/a", f"the training split has only {len(self.z_train)} examples (see linear_all)")
        keep = label_subset(self.y_train, n, self.seed)
        return fit_linear_probe(self.z_train[keep], self.y_train[keep], seed=self.seed,
                                cv_labels=self.s.cv_labels).accuracy(self.z_test, self.y_test)

    def knn(self, which: str):
        from ..eval.neighbors import knn_accuracy
        from ..eval.probes import knn_probe

        if which == "loo":
            return knn_accuracy(self.z_test, self.y_test, self.s.k)
        return knn_probe(self.z_train, self.y_train, self.z_test, self.y_test, self.s.k)

    def fewshot(self, k_shot: int):
        """Tasks from the test split, or from ``fewshot_set`` (classes the methods never saw)."""
        from ..eval.probes import fewshot_probe

        data = self.fewshot_set if self.fewshot_set is not None else self.test
        if data.y is None:
            return Missing("failed", f"needs labels, and {data.name} has none")
        y = data.y.numpy()
        usable = int((np.unique(y, return_counts=True)[1] >= k_shot + 1).sum())
        way = self.s.fewshot_way
        if usable < way:
            return Missing("n/a", f"{data.name} has {usable} classes with {k_shot + 1} examples; {way}-way {k_shot}-shot "
                                  f"tasks need {way} (few-shot is for data of many classes; see --fewshot-data)")
        z = self.z_test if self.fewshot_set is None else self.codes.encode(data.x)
        return fewshot_probe(z, y, n_way=way, k_shot=k_shot, n_tasks=self.s.fewshot_tasks, seed=self.seed)

    def robust(self, spec: str):
        """The all-labels probe, trained on clean codes, on the codes of corrupted test inputs
        (the corruption seeded by the seed)."""
        from ..data.corruptions import parse_corruption

        x_bad = parse_corruption(spec, "corruption")(self.test.x, torch.Generator().manual_seed(self.seed))
        return self.full_probe().accuracy(self.codes.encode(x_bad), self.y_test)

    def map(self, _=None):
        """T(10) of a t-SNE map of at most ``map_points`` test codes (a seeded subsample)."""
        from ..eval.neighbors import trustworthiness
        from ..viz.embed import subsample, tsne_2d

        idx = subsample(len(self.z_test), self.s.map_points, self.seed)
        perplexity = min(30.0, (len(idx) - 2) // 3 - 1)
        if len(idx) <= 21 or perplexity < 2:
            return Missing("n/a", f"a map with T(10) needs more than 21 points, the test split has {len(idx)}")
        jobs = 1 if len(idx) < 5000 else None  # small maps: one thread is quicker than several on a busy machine
        self.the_map = (tsne_2d(self.z_test[idx], perplexity, self.seed, n_iter=self.s.tsne_iter, n_jobs=jobs), idx)
        return trustworthiness(self.z_test[idx], self.the_map[0].coords, 10)

    def cost(self, which: str):
        if which == "train_seconds":
            seconds = self.codes.train_seconds
            return seconds if seconds is not None else Missing("n/a", "unknown (the run folder has no summary.json)")
        if which == "encode_per_s":
            return len(self.z_test) / max(self.encode_s, 1e-9)
        return float(self.z_test.shape[1])


def measure(codes, train: TensorData, test: TensorData, settings: Settings, seed: int, *, code_size: int | None = None,
            fewshot_set: TensorData | None = None):
    """Every probe of ``settings`` on one method's codes for one seed (see :class:`Probing`):
    ``({probe name: value or Missing}, (t-SNE map, its test indices) or None)``."""
    p = Probing(codes, train, test, settings, seed, code_size=code_size, fewshot_set=fewshot_set)
    return {probe.name: p.cell(probe) for probe in settings.probes()}, p.the_map


def aggregate(per_seed: list[dict[str, Any]], probes: list[Probe]) -> dict[str, dict]:
    """Cells over the seeds: a failure if any seed failed (its reason), n/a if any seed was n/a,
    else ``{"mean", "std" (n − 1; None for one seed), "n", "values"}``."""
    cells = {}
    for p in probes:
        got = [r[p.name] for r in per_seed if p.name in r]
        failed = next((v for v in got if isinstance(v, Missing) and v.status == "failed"), None)
        na = next((v for v in got if isinstance(v, Missing)), None)
        if failed is not None:
            cells[p.name] = {"error": failed.reason}
        elif na is not None:
            cells[p.name] = {"na": na.reason}
        elif got:
            v = np.asarray(got, dtype=np.float64)
            cells[p.name] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None,
                             "n": len(v), "values": [float(x) for x in v]}
    return cells
