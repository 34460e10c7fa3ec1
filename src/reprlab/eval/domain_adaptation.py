r"""Unsupervised domain adaptation by representation learning (Glorot, Bordes & Bengio 2011; Chen et al. 2012).

The protocol of the lecture's sentiment-analysis experiments, for a source domain :math:`S`
(labelled) and a target domain :math:`T` (labels unseen):

1. learn the representation :math:`x \mapsto r(x)` on the *unlabelled* instances of both domains,
   :math:`X_S \cup X_T` (e.g. mSDA: :math:`r(x) = [x; h_1; \dots; h_L]`);
2. train a linear classifier on :math:`\{(r(x_i), y_i) : x_i \in S\}`;
3. report its accuracy on :math:`\{(r(x_j), y_j) : x_j \in T\}`.

Hyper-parameters of the representation (mSDA's corruption ``p`` and depth ``L``) are chosen by
cross-validation on the **source** labels only (:func:`select_on_source`); the target labels are
used for the final accuracy and nothing else.
"""

from __future__ import annotations

import itertools
import time
from typing import Callable, Iterable

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

from ..errors import UsageError

DOMAINS = ("books", "dvd", "elec", "kitchen")
#: the 12 source -> target tasks of the Amazon benchmark
TASKS = tuple((s, t) for s in DOMAINS for t in DOMAINS if s != t)


def linear_classifier(seed: int = 0, cv: int = 3):
    r"""The linear classifier on top of every representation, as in Chen et al. (2012): a linear SVM,
    :math:`\min_w \frac12\|w\|^2 + C \sum_i \max(0, 1 - y_i w^\top r(x_i))^2` (scikit-learn's
    ``LinearSVC``), on the representation as it is, with ``C`` chosen by ``cv``-fold cross-validation
    on the (source) training set."""
    search = GridSearchCV(
        LinearSVC(max_iter=5000), {"C": [1e-3, 1e-2, 1e-1, 1.0]}, cv=StratifiedKFold(cv, shuffle=True, random_state=seed),
        n_jobs=1,
    )
    return search


def _check_task(Xs, ys, Xt, yt) -> None:
    if Xs.ndim != 2 or Xt.ndim != 2 or Xs.shape[1] != Xt.shape[1]:
        raise UsageError(
            f"source and target need 2-D features of the same width, got {Xs.shape} and {Xt.shape}"
        )
    if len(ys) != len(Xs) or (yt is not None and len(yt) != len(Xt)):
        raise UsageError("each domain needs one label per row")


def transfer_accuracy(representation, Xs, ys, Xt, yt, *, classifier=None, seed: int = 0) -> dict:
    """Steps 1-3 of the protocol for one source -> target task.

    Parameters
    ----------
    representation : a scikit-learn transformer (``MSDA()``, ``"passthrough"`` or None for raw features),
        fitted here on the stacked unlabelled rows of both domains.
    Xs, ys : source features (n_s, d) and labels (n_s,).
    Xt, yt : target features (n_t, d) and labels (n_t,), the labels used only to score.
    classifier : a scikit-learn classifier (default :func:`linear_classifier`), cloned.

    Returns
    -------
    dict: ``target_acc``, ``source_train_acc``, ``fit_seconds`` (the representation's fit),
    ``n_features`` (width of the representation).
    """
    Xs, Xt = np.asarray(Xs), np.asarray(Xt)
    _check_task(Xs, ys, Xt, yt)
    t0 = time.perf_counter()
    if representation is None or representation == "passthrough":
        Rs, Rt = Xs, Xt
    else:
        rep = clone(representation).fit(np.vstack([Xs, Xt]))
        Rs, Rt = rep.transform(Xs), rep.transform(Xt)
    fit_s = time.perf_counter() - t0
    clf = clone(classifier) if classifier is not None else linear_classifier(seed)
    clf.fit(Rs, ys)
    return {
        "target_acc": float((clf.predict(Rt) == np.asarray(yt)).mean()),
        "source_train_acc": float((clf.predict(Rs) == np.asarray(ys)).mean()),
        "fit_seconds": fit_s,
        "n_features": int(Rs.shape[1]),
    }


def source_cv_accuracy(representation, Xs, ys, Xt, *, folds: int = 3, seed: int = 0) -> float:
    """Mean ``folds``-fold cross-validated accuracy on the **source** labels of :func:`linear_classifier`
    (its ``C`` chosen inside each training fold) on the representation learnt from the unlabelled rows of both domains (no target label used)."""
    Xs, Xt = np.asarray(Xs), np.asarray(Xt)
    if representation is None or representation == "passthrough":
        Rs = Xs
    else:
        Rs = clone(representation).fit(np.vstack([Xs, Xt])).transform(Xs)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed + 1)  # outer folds differ from C's inner folds
    return float(cross_val_score(linear_classifier(seed), Rs, ys, cv=cv).mean())


def select_on_source(
    make: Callable[..., object], grid: dict[str, Iterable], Xs, ys, Xt, *, folds: int = 3, seed: int = 0
) -> tuple[dict, list[dict]]:
    """The grid point of ``make(**params)`` with the best :func:`source_cv_accuracy`.

    Returns ``(best_params, rows)``, one row per grid point with its source CV accuracy. Ties go
    to the first point in grid order.
    """
    keys = list(grid)
    rows = []
    for values in itertools.product(*(list(grid[k]) for k in keys)):
        params = dict(zip(keys, values))
        acc = source_cv_accuracy(make(**params), Xs, ys, Xt, folds=folds, seed=seed)
        rows.append({**params, "source_cv_acc": acc})
    best = max(rows, key=lambda r: r["source_cv_acc"])
    return {k: best[k] for k in keys}, rows


def load_domain(name: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """All reviews of one Amazon domain as (features (n, 400) float64, labels (n,))."""
    from ..data import load_dataset

    if name not in DOMAINS:
        raise UsageError(f"unknown domain {name!r}; choose one of {', '.join(DOMAINS)}")
    d = load_dataset(f"amazon-reviews:{name}", split="all", data_dir=data_dir)
    return d.x.double().numpy(), d.y.numpy()
