r"""Probes of codes: how easily simple readers recover the labels from a representation.

Every probe takes code arrays ``(N, d)`` (and labels) and returns numbers, so that
``reprlab compare`` (:mod:`reprlab.pipelines.compare`) asks the same questions of every method:

- :func:`linear_probe`: multinomial logistic regression on standardized codes, its inverse
  regularization ``C`` chosen by stratified cross-validation on the labelled training codes only,
  trained on a stratified, seeded sample of ``n_labels`` of them (:func:`label_subset`);
- :func:`knn_probe`: k-nearest-neighbour accuracy (Euclidean, majority vote) of test codes
  against the training codes; the leave-one-out variant inside one set of codes is
  :func:`reprlab.eval.neighbors.knn_accuracy`;
- :func:`fewshot_probe`: N-way k-shot accuracy with cosine prototypes (Snell et al. 2017) on the
  codes, tasks drawn by :func:`reprlab.data.fewshot.sample_tasks`.

The linear probe minimizes, over :math:`W, b` with :math:`z` the standardized code,

.. math::  \frac{1}{2}\|W\|^2 + C \sum_i -\log \operatorname{softmax}(W z_i + b)_{y_i} ,

so a large ``C`` is a weak penalty.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..data.base import TensorData
from ..data.fewshot import sample_tasks
from ..errors import UsageError
from .neighbors import check_points

#: the grid of the linear probe's ``C`` (inverse L2 weight), searched by cross-validation
LINEAR_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def labelled(codes, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` as finite float64 ``(N, d)`` and ``labels`` as ``(N,)``, or a one-line error
    saying that ``what`` needs labels."""
    if labels is None:
        raise UsageError(f"{what} needs labels, and these data have none; use a labelled data set")
    x = check_points(codes, "codes")
    y = np.asarray(labels)
    if y.shape != (len(x),):
        raise UsageError(f"{what}: labels must have shape ({len(x)},), got {y.shape}")
    return x, y


def label_subset(labels, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a stratified sample of ``n`` of ``labels`` (each class keeps its share,
    every class at least one), the same for a given ``seed``; all indices when ``n`` is None or
    at least ``len(labels)``. Fewer labels than classes is a one-line error."""
    y = np.asarray(labels)
    if n is None or n >= len(y):
        return np.arange(len(y))
    classes = np.unique(y)
    if n < len(classes):
        raise UsageError(f"{n} labels are fewer than the {len(classes)} classes: a probe needs an example of each "
                         f"class; use at least {len(classes)} labels")
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    except ValueError as e:  # a class with a single example cannot be stratified
        raise UsageError(f"cannot draw {n} labels stratified by class: {str(e).splitlines()[0]}") from None
    return np.sort(keep)


@dataclass
class LinearProbe:
    """A fitted linear probe: ``model`` (scaler + logistic regression), the chosen ``C``, its mean
    cross-validated accuracy ``cv_accuracy`` and the ``n_labels`` it was trained on."""

    model: object
    C: float
    cv_accuracy: float
    n_labels: int

    def accuracy(self, codes, labels) -> float:
        """Share of ``codes`` whose predicted class is their label."""
        x, y = labelled(codes, labels, "the linear probe")
        return float((self.model.predict(x) == y).mean())


def fit_linear_probe(codes, labels, *, seed: int = 0, Cs: Sequence[float] = LINEAR_CS, folds: int = 3,
                     cv_labels: int | None = None) -> LinearProbe:
    """Standardize the codes and fit a multinomial logistic regression (see the module docstring),
    ``C`` chosen among ``Cs`` by ``folds``-fold stratified cross-validation (shuffled with
    ``seed``; fewer folds when the smallest class has fewer examples, at least 2) on these
    labelled codes only, then refit on all of them with the best ``C`` (ties: the smallest).

    ``cv_labels``: choose ``C`` on a stratified, seeded sample of at most this many of the codes
    (:func:`label_subset`; None: all of them), then refit on all: the cross-validation of 60,000
    MNIST pixel vectors costs minutes per ``C``, that of 10,000 of them seconds."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = labelled(codes, labels, "the linear probe")
    if cv_labels is not None and cv_labels < len(y):
        keep = label_subset(y, cv_labels, seed)
        chosen = fit_linear_probe(x[keep], y[keep], seed=seed, Cs=Cs, folds=folds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = make_pipeline(StandardScaler(), LogisticRegression(C=chosen.C, max_iter=1000)).fit(x, y)
        return LinearProbe(model, chosen.C, chosen.cv_accuracy, len(y))
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise UsageError("the linear probe needs at least 2 classes among the labelled examples")
    folds = min(folds, int(counts.min()))
    if folds < 2:
        raise UsageError(f"choosing C by cross-validation needs 2 labelled examples of each class; one class has "
                         f"{int(counts.min())}: use more labels")
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": list(Cs)},
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed), n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    return LinearProbe(search.best_estimator_, float(search.best_params_["logisticregression__C"]),
                       float(search.best_score_), len(y))


def linear_probe(train_codes, train_labels, test_codes, test_labels, *, n_labels: int | None = None, seed: int = 0,
                 Cs: Sequence[float] = LINEAR_CS, folds: int = 3) -> dict[str, float]:
    """Test accuracy of :func:`fit_linear_probe` trained on a stratified, seeded sample of
    ``n_labels`` training codes (:func:`label_subset`; None: all): ``{"accuracy", "C",
    "cv_accuracy", "n_labels"}``."""
    x, y = labelled(train_codes, train_labels, "the linear probe")
    keep = label_subset(y, n_labels, seed)
    probe = fit_linear_probe(x[keep], y[keep], seed=seed, Cs=Cs, folds=folds)
    return {"accuracy": probe.accuracy(test_codes, test_labels), "C": probe.C, "cv_accuracy": probe.cv_accuracy,
            "n_labels": probe.n_labels}


def knn_probe(train_codes, train_labels, test_codes, test_labels, k: int = 5) -> float:
    """k-NN accuracy: the share of test codes whose label is the majority label of their ``k``
    nearest training codes (Euclidean; a tied vote goes to the smallest label)."""
    from sklearn.neighbors import KNeighborsClassifier

    x, y = labelled(train_codes, train_labels, "the k-NN probe")
    xt, yt = labelled(test_codes, test_labels, "the k-NN probe")
    if x.shape[1] != xt.shape[1]:
        raise UsageError(f"training codes have {x.shape[1]} dimensions, test codes {xt.shape[1]}")
    if not 1 <= k <= len(x):
        raise UsageError(f"k-NN needs 1 <= k <= {len(x)} training codes, got k={k}")
    return float((KNeighborsClassifier(k).fit(x, y).predict(xt) == yt).mean())


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r""":math:`\cos(a_i, b_j) = a_i^\top b_j / (\|a_i\| \|b_j\|)`: (len(a), len(b))."""
    return torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T


def fewshot_probe(codes, labels, *, n_way: int = 20, k_shot: int = 1, n_tasks: int = 200, n_query: int = 1,
                  seed: int = 0) -> float:
    r"""Mean accuracy over ``n_tasks`` random ``n_way``-way ``k_shot``-shot tasks drawn from the
    labelled ``codes`` (:func:`~reprlab.data.fewshot.sample_tasks`, seeded, ``n_query`` queries per
    class): a query gets the class of the prototype :math:`c_k = \frac1k \sum_{s \in S_k} z_s` of
    highest cosine similarity to its code (for 1-shot: the cosine nearest shot). A one-line error
    when the codes have fewer than ``n_way`` classes with ``k_shot + n_query`` examples."""
    x, y = labelled(codes, labels, "the few-shot probe")
    _, y = np.unique(y, return_inverse=True)
    data = TensorData(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)), name="codes")
    tasks = sample_tasks(data, n_way, k_shot, n_tasks, n_query=n_query, seed=seed)
    return float(tasks.prototype_accuracy(lambda z: z, cosine_similarity).mean())
