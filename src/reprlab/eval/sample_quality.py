"""Sample quality of a generative model against a data split: what ``reprlab eval`` prints for GAN,
AAE and Tempered GAN runs.

* **Images of a labelled data set**: classifier FID, KID, precision and recall
  (:func:`reprlab.eval.fid.image_quality`) of ``n_samples`` generated images against the split, in
  the 128-d feature space of that data set's cached classifier
  (:func:`reprlab.eval.features.classifier_features`). The feature network and settings are those
  of ``benchmarks/gan_mnist.py``, which scores its GANs through :func:`generated_image_quality`:
  samples drawn in chunks of 1,000 (chunk i from a generator seeded ``100 · seed + i``) and clamped
  to [0, 1], KID over 50 subsets of min(1,000, N) samples (subsets seeded 0), precision/recall with
  k = 3.
* **2-D points of a registered Gaussian mixture** (``ring8``, ``grid25``, ``grid25-pacgan``, also
  with a ``:N`` size): VEEGAN's mode coverage (:func:`reprlab.eval.modes.mixture_mode_coverage`:
  modes captured, fraction of high-quality samples, KL of the mode histogram from uniform) of 2,500
  samples drawn from one generator seeded ``seed``, the protocol of ``benchmarks/gan_toy.py``.

FID needs at least as many samples (and real images) as feature dimensions: with fewer, the
covariance of the features is singular and the distance says more about the sample size than about
the samples; such a request is a one-line :class:`~reprlab.errors.UsageError`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..errors import UsageError

#: Samples per call of ``model.sample`` (chunk i drawn from a generator seeded 100 · seed + i).
SAMPLE_CHUNK = 1000
#: KID's settings (as in ``benchmarks/gan_mnist.py``): subsets, and the subset size (at most N).
KID_SUBSETS = 50
KID_SUBSET_SIZE = 1000
#: Samples scored for mode coverage (VEEGAN's Table 1 protocol).
TOY_SAMPLES = 2500


def sample_kwargs(model, truncation: float | None) -> dict:
    """``{"truncation": ψ}`` for a model whose noise can be truncated, {} for ψ = None; a one-line
    :class:`UsageError` for any other model, or a ψ that is not > 0."""
    if truncation is None:
        return {}
    if not getattr(model, "supports_truncation", False):
        raise UsageError(f"truncation draws a GAN's noise from a truncated normal; model "
                         f"{getattr(model, 'name', type(model).__name__)!r} has no such noise: drop --truncation")
    from ..models.gan.model import check_truncation

    check_truncation(truncation)  # before any classifier is trained or sample drawn
    return {"truncation": float(truncation)}


def draw_samples(model, n: int, seed: int = 0, chunk: int = SAMPLE_CHUNK, *, truncation: float | None = None) -> Tensor:
    """``n`` samples of ``model.sample(n, generator)`` on the CPU, ``chunk`` at a time: chunk i comes
    from ``torch.Generator().manual_seed(100 * seed + i)`` (the scheme of ``benchmarks/gan_mnist.py``);
    ``truncation`` = ψ is passed on to a GAN's ``sample`` (the truncation trick)."""
    if n < 1:
        raise UsageError(f"the number of samples must be at least 1, got {n}")
    kw = sample_kwargs(model, truncation)
    return torch.cat([model.sample(min(chunk, n - start), torch.Generator().manual_seed(seed * 100 + i), **kw).cpu()
                      for i, start in enumerate(range(0, n, chunk))])


def check_fid_sizes(n_samples: int, n_real: int, dim: int, what: str = "feature dimensions") -> None:
    """A one-line :class:`UsageError` unless both sample sizes are at least the feature dimension ``dim``."""
    if n_samples < dim:
        raise UsageError(f"FID needs at least as many samples as {what}: {n_samples} samples < {dim}; "
                         f"pass --samples >= {dim} (n_samples from Python)")
    if n_real < dim:
        raise UsageError(f"FID needs at least as many real images as {what}: the split holds {n_real} < {dim}; "
                         f"evaluate on a larger split (--split all) or a larger data set")


def _feature_dim(features, real: Tensor) -> int:
    head = getattr(features, "head", None)
    if isinstance(head, torch.nn.Linear):
        return head.in_features
    return int(features.features(real[:2]).shape[1])


def generated_image_quality(model, real, features, n_samples: int, *, seed: int = 0, kid_subsets: int = KID_SUBSETS,
                            kid_subset_size: int = KID_SUBSET_SIZE, k: int = 3, truncation: float | None = None) -> dict:
    """FID, KID (mean, std), precision and recall of ``n_samples`` images of ``model`` (anything
    with ``sample(n, generator)``) against ``real`` images (N, C, H, W) in [0, 1] (or a
    ``TensorData``), in the feature space of ``features`` (see :func:`reprlab.eval.fid.image_quality`).

    Samples come from :func:`draw_samples` (seeded by ``seed``) clamped to [0, 1]; KID's subsets
    are seeded 0 whatever ``seed`` is; ``truncation`` = ψ samples a GAN's truncated noise
    (:func:`draw_samples`). ``benchmarks/gan_mnist.py`` and ``benchmarks/tempered_mnist.py``
    score their runs with it. Raises a one-line :class:`UsageError` when ``n_samples`` or the
    number of real images is below the feature dimension (:func:`check_fid_sizes`).
    """
    from .fid import image_quality

    real = getattr(real, "x", real)
    check_fid_sizes(n_samples, len(real), _feature_dim(features, real))
    fake = draw_samples(model, n_samples, seed, truncation=truncation).clamp(0, 1)
    return image_quality(real, fake, features, kid_subsets=kid_subsets, kid_subset_size=min(kid_subset_size, n_samples), k=k)


def mixture_name(data) -> str | None:
    """The registered Gaussian mixture ``data`` were drawn from (``ring8`` for ``ring8:1000``), or None."""
    from ..data.toy import MIXTURE_STD

    base = str(getattr(data, "name", "")).split(":", 1)[0]
    return base if base in MIXTURE_STD else None


def sample_quality_kind(data) -> tuple[str | None, str]:
    """How :func:`sample_quality` scores samples against ``data``: ``("modes", mixture)`` for a
    Gaussian mixture, ``("images", data name)`` for labelled images, or ``(None, why not)``."""
    mixture = mixture_name(data)
    if mixture is not None:
        return "modes", mixture
    if not data.is_image:
        return None, f"{data.name} holds feature vectors, neither images nor points of a registered Gaussian mixture"
    if data.y is None:
        return None, f"{data.name} has no labels, so there is no classifier to take features from"
    return "images", data.name


def sample_quality(model, data, *, n_samples: int | None = None, seed: int = 0, data_dir=None, cache=None,
                   log: Callable = print, truncation: float | None = None) -> dict:
    """The sample quality of ``model`` (anything with ``sample(n, generator)``) against the split ``data``.

    * a Gaussian mixture: ``n_samples`` (default 2,500) samples from a generator seeded ``seed``,
      and :func:`~reprlab.eval.modes.mixture_mode_coverage`: ``modes`` (captured), ``modes_total``,
      ``hq``, ``kl``, ``per_mode_counts``;
    * labelled images: :func:`generated_image_quality` of ``n_samples`` (default: as many as the
      split holds) samples against the whole split, with the classifier of
      :func:`~reprlab.eval.features.classifier_features` for ``data.name`` (trained once on its
      training split, seed 0, and cached; ``data_dir`` and ``cache`` are passed on, ``log`` gets its
      one line): ``fid``, ``kid``, ``kid_std``, ``precision``, ``recall`` and ``feature_network``.

    Both carry ``n_samples`` and ``seed`` (and ``truncation`` when ψ is given: a GAN's noise drawn
    from the normal truncated to ``|z_i| <= ψ``). Other data, too few samples for FID, or a truncation
    for a model without it raise a one-line :class:`UsageError`.
    """
    from .features import ARCH, CLASSIFIER_DIM, classifier_features

    kw = sample_kwargs(model, truncation)
    kind, what = sample_quality_kind(data)
    if kind is None:
        raise UsageError(f"no sample-quality measure for this data: {what}")
    if kind == "modes":
        from ..data.toy import mixture_centers
        from .modes import mixture_mode_coverage

        n = TOY_SAMPLES if n_samples is None else int(n_samples)
        if n < 1:
            raise UsageError(f"mode coverage needs at least 1 sample, got --samples {n}")
        samples = model.sample(n, torch.Generator().manual_seed(seed), **kw).cpu()
        if samples.ndim != 2 or samples.shape[1] != 2:
            raise UsageError(f"the model makes samples of shape {tuple(samples.shape[1:])}, not 2-D points of {what}")
        cov = mixture_mode_coverage(samples, what)
        return {"n_samples": n, "seed": seed, **kw, "mixture": what, "modes": cov["modes"],
                "modes_total": len(mixture_centers(what)), "hq": cov["hq"], "kl": cov["kl"],
                "per_mode_counts": cov["per_mode_counts"]}
    shape = tuple(getattr(model, "input_shape", data.sample_shape))
    if shape != tuple(data.sample_shape):
        raise UsageError(f"the model makes images of shape {shape}, {data.name} holds {tuple(data.sample_shape)}: "
                         "evaluate on the data set it was trained on")
    n = len(data) if n_samples is None else int(n_samples)
    check_fid_sizes(n, len(data), CLASSIFIER_DIM, f"feature dimensions (the {data.name} classifier's features)")
    features = classifier_features(data.name, data_dir=data_dir, cache=cache, log=log)
    q = generated_image_quality(model, data.x, features, n, seed=seed, truncation=truncation)
    network = {"name": f"classifier {ARCH}", "data": data.name, "seed": features.meta.get("seed", 0),
               "dim": _feature_dim(features, data.x), "test_accuracy": features.test_accuracy}
    return {"n_samples": n, "seed": seed, **kw, "feature_network": network, **q}
