"""The methods of ``reprlab compare``: where each one's codes come from.

A method is one of

- a baseline without learning: ``raw`` (the inputs, flattened: the reference, whatever the code
  size) or ``pca`` (scikit-learn's PCA fit on the training split);
- a registered model family, by its name (``ae``, ``vae``, any family registered later, with no
  edit here) or an alias (:data:`ALIASES`: ``gan-d``, the GAN's discriminator features). It is
  trained by :func:`~reprlab.pipelines.training.train_run` with its code-size option
  (:func:`reprlab.models.base.code_size_key`) set to the asked size and a stated budget
  (:data:`DEFAULT_BUDGET`, :data:`BUDGETS`), then asked for codes through the shared model
  interface, :meth:`ReprModel.encode`;
- a finished run folder (``--runs``), loaded as it is and encoded the same way.

Each method gives, per seed, a :class:`Codes`: an encoder of inputs and the seconds its fit took.
A method that cannot give codes (no ``encode``, no code-size option, codes of another size)
raises a one-line :class:`~reprlab.errors.UsageError`, which the pipeline records in its row.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from ..data.base import TensorData
from ..errors import UsageError
from ..models.base import ReprModel, code_size_key
from ..models.registry import MODELS, get_model_spec
from ..train.trainer import seed_everything
from .training import build_model, build_run_config, load, train_run

log = logging.getLogger("reprlab")

#: the baselines: no training, no model
BASELINES = ("raw", "pca")
#: method names that are not family names: ``name -> (family, overrides)``
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "gan-d": ("gan", {"model.arch": "mlp"}),  # the MLP discriminator's last hidden layer: its width is the code size
}
#: the training budget of every learned method (``key=value`` overrides of its run config) ...
DEFAULT_BUDGET: dict[str, Any] = {"train.max_steps": 1000, "train.batch_size": 128}
#: ... and what a method changes in it (sized for digits on one CPU thread: seconds per method)
BUDGETS: dict[str, dict[str, Any]] = {
    "sdae": {"model.hidden": (256, 128), "model.pretrain_steps": 300, "train.max_steps": 300},
    "gan-d": {"model.d_hidden": (256, 128)},
    # the encoder's adversarial updates at a tenth of the reconstruction's rate: at the same rate the
    # push to N(0, I) shrinks 32-d codes (linear-100 0.50 against 0.76 on MNIST's validation tenth,
    # benchmarks/aae_codes.py)
    "aae": {"model.lr_g": 1e-4},
}
#: what every learned run shares that is not its budget: every training example, no validation, quiet
RUN_SETTINGS: dict[str, Any] = {"data.val_fraction": 0.0, "train.progress": False, "train.tensorboard": False}


@dataclass
class Codes:
    """One method's encoder for one seed: ``encode(x)`` maps inputs ``(N, *shape)`` to codes
    ``(N, d)`` float64; ``train_seconds`` is the wall time of its fit (None: unknown)."""

    encode: Callable[[Tensor], np.ndarray]
    train_seconds: float | None
    info: dict = field(default_factory=dict)


def model_encoder(model, batch_size: int = 512) -> Callable[[Tensor], np.ndarray]:
    """``x -> model.encode(x)`` in eval mode, without gradients, ``batch_size`` rows at a time:
    (N, d) float64 (codes of any shape are flattened)."""
    model.eval()

    @torch.no_grad()
    def encode(x: Tensor) -> np.ndarray:
        out = [model.encode(x[i : i + batch_size]).detach().cpu().flatten(1) for i in range(0, len(x), batch_size)]
        return torch.cat(out).double().numpy()

    return encode


class Method:
    """A method of the comparison: ``name``, ``kind`` (``baseline``, ``family``, ``run``) and
    ``info``, what compare.json states about it (its family, budget, options, run folder)."""

    kind = ""
    #: whether its codes must have the asked size (``raw`` and reused runs have their own)
    sized = True

    def __init__(self, name: str):
        self.name = name
        self.info: dict[str, Any] = {"kind": self.kind}

    def data_seed(self, seed: int) -> int:
        """The seed of the train/test split this method is scored on for ``seed``."""
        return seed

    def fit(self, seed: int, train: TensorData, code_size: int) -> Codes:  # pragma: no cover
        raise NotImplementedError


class Raw(Method):
    """The inputs themselves, flattened: (N, prod(shape))."""

    kind, sized = "baseline", False

    def fit(self, seed, train, code_size):
        return Codes(lambda x: x.flatten(1).double().cpu().numpy(), 0.0)


class PCA(Method):
    """scikit-learn's PCA with ``code_size`` components, fit on the training split (its automatic
    solver: exact on small data, randomized, seeded, on large)."""

    kind = "baseline"

    def fit(self, seed, train, code_size):
        from sklearn.decomposition import PCA as SkPCA

        x = train.x.flatten(1).double().cpu().numpy()
        most = min(x.shape)
        if code_size > most:
            raise UsageError(f"pca cannot give {code_size}-dimensional codes: {train.name} has {x.shape[1]} features "
                             f"and {x.shape[0]} training examples, so at most {most}; use --code-size {most} or less")
        t0 = time.perf_counter()
        pca = SkPCA(code_size, random_state=seed).fit(x)  # exact SVD on small data, randomized on large
        seconds = time.perf_counter() - t0
        return Codes(lambda xs: pca.transform(xs.flatten(1).double().cpu().numpy()), seconds,
                     {"explained_variance": float(pca.explained_variance_ratio_.sum())})


class Family(Method):
    """A registered model family trained here: ``family`` with ``overrides`` (``key=value``),
    then its code-size option set to the asked size (the comparison's size wins over an override
    of that option); ``run_root``: keep each seed's run folder there."""

    kind = "family"

    def __init__(self, name: str, family: str, overrides: dict[str, Any], *, data: str, data_dir: str | None,
                 run_root: Path | None = None):
        super().__init__(name)
        self.spec = get_model_spec(family)
        self.overrides, self.data, self.data_dir, self.run_root = dict(overrides), data, data_dir, run_root
        self.info.update(family=family, options=_plain(self.overrides))
        if getattr(self.spec.cls, "encode", ReprModel.encode) is ReprModel.encode:
            raise UsageError(f"model {family!r} cannot encode: it has no codes to compare")
        self.key = code_size_key(self.spec.cls)
        if self.key is None:
            raise UsageError(f"model {family!r} has no option that sets the size of its codes (latent_dim, or the "
                             "class's code_size_option); it cannot be compared at a code size")
        self.info["code_size_option"] = self.key

    def run_config(self, seed: int, code_size: int):
        """The resolved run config of ``seed``: the overrides, then the data, the seed and the code size."""
        pairs = [*self.overrides.items(), ("data.name", self.data), ("train.seed", seed)]
        if self.data_dir is not None:
            pairs.append(("data.data_dir", self.data_dir))
        rc = build_run_config(self.spec.name, None, pairs)
        current = getattr(rc.model, self.key)
        value = (*tuple(current)[:-1], code_size) if isinstance(current, (tuple, list)) else code_size
        return build_run_config(self.spec.name, None, [*pairs, (f"model.{self.key}", value)])

    def fit(self, seed, train, code_size):
        rc = self.run_config(seed, code_size)
        self.info.setdefault("run_config", rc.to_dict())
        seed_everything(seed)  # a model built only to read the size of its codes: before any training
        probe = build_model(rc, train.sample_shape)
        with torch.no_grad():
            d = int(probe.encode(train.x[:2]).flatten(1).shape[1])
        if d != code_size:
            raise UsageError(f"{self.name} gives {d}-dimensional codes with these options, not the {code_size} asked "
                             f"(model.{self.key}={getattr(rc.model, self.key)} does not set them here); change its "
                             "options or --code-size")
        run_dir = self.run_root / f"{self.name}-seed{seed}" if self.run_root is not None else None
        t0 = time.perf_counter()
        model, result = train_run(rc, run_dir, overwrite=run_dir is not None)
        seconds = time.perf_counter() - t0
        info = {"steps": result.steps, "fit_wall_s": result.wall_s}
        if run_dir is not None:
            info["run_dir"] = str(run_dir)
        return Codes(model_encoder(model), seconds, info)


class Run(Method):
    """A finished run folder, loaded as it is (one model: every seed scores the same codes, on
    the train/test split of the run's own seed, so that its training examples stay out of the
    test split)."""

    kind, sized = "run", False

    def __init__(self, name: str, path: str | Path):
        super().__init__(name)
        self.path = Path(path)
        self.info["run"] = str(self.path)
        _check_run_folder(self.path)
        self.model = load(self.path)
        rc = self.model.run_config
        if not self.model.can_encode:
            raise UsageError(f"model {self.model.name!r} of run {self.path} cannot encode: it has no codes to compare")
        self.seed = rc.train.seed
        self.info.update(family=self.model.name, trained_on=rc.data.name, split_seed=self.seed)

    def data_seed(self, seed: int) -> int:
        return self.seed

    def fit(self, seed, train, code_size):
        if tuple(train.sample_shape) != tuple(self.model.input_shape):
            raise UsageError(f"run {self.path} takes inputs of shape {tuple(self.model.input_shape)}, and {train.name} "
                             f"has {tuple(train.sample_shape)}; compare it on the data it was trained on")
        summary = self.path / "summary.json"
        seconds = None
        if summary.is_file():
            try:
                seconds = float(json.loads(summary.read_text())["wall_s"])
            except (OSError, ValueError, KeyError, TypeError):
                seconds = None
        return Codes(model_encoder(self.model), seconds)


def _check_run_folder(path: Path) -> None:
    """A one-line error for a folder that is no training run: missing, or a style-transfer run
    (``reprlab stylize``: an image, no model, no codes)."""
    import yaml

    if not path.is_dir():
        raise UsageError(f"run folder {path} does not exist")
    config = path / "config.yaml"
    try:
        values = yaml.safe_load(config.read_text()) if config.is_file() else None
    except (OSError, yaml.YAMLError):
        values = None
    if isinstance(values, dict) and "model" not in values and "style" in values:
        raise UsageError(f"{path} is a style-transfer run (reprlab stylize): it has no model and no codes to compare")


def method_names() -> list[str]:
    """Every name ``reprlab compare --methods`` accepts: the baselines, the aliases, the families."""
    return [*BASELINES, *ALIASES, *sorted(MODELS)]


def budget_of(name: str, steps: int | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``key=value`` overrides of learned method ``name``: :data:`RUN_SETTINGS`, its budget
    (:data:`DEFAULT_BUDGET` updated by :data:`BUDGETS`), ``steps`` as ``train.max_steps``, then
    the user's ``options`` (which win)."""
    out = {**RUN_SETTINGS, **DEFAULT_BUDGET, **BUDGETS.get(name, {})}
    if steps is not None:
        out["train.max_steps"] = steps
    out.update(options or {})
    return out


def make_method(name: str, *, data: str, data_dir: str | None = None, steps: int | None = None,
                options: dict[str, Any] | None = None, run_root: Path | None = None) -> Method:
    """The method called ``name`` (see the module docstring), or a one-line error naming the choices."""
    if name == "raw":
        return Raw(name)
    if name == "pca":
        return PCA(name)
    family, extra = ALIASES.get(name, (name, {}))
    if family not in MODELS:
        raise UsageError(f"unknown method {name!r}; choose among {', '.join(method_names())}, or a run folder with --runs")
    return Family(name, family, {**extra, **budget_of(name, steps, options)}, data=data, data_dir=data_dir,
                  run_root=run_root)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
