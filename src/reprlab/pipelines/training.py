"""A run: model + data + training config, resolved once, written as ``config.yaml``.

``RunConfig`` is what ``reprlab train`` builds from a YAML file and ``key=value`` overrides;
:func:`train_run` turns it into a run folder; :func:`load` turns a run folder back into a model.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from .._version import __version__
from ..config import from_dict, option, read_config_file, to_dict
from ..errors import CheckpointError, ConfigError, UsageError
from ..models.registry import get_model_spec
from ..data.base import TensorBatches
from ..files import ensure_dir, write_text
from ..memory import check_model_fits
from ..runfolder import RunFolder, open_run_folder
from ..train.checkpoint import latest_valid
from ..weights import load_weights
from ..train.config import TrainConfig
from ..train.trainer import FitResult, Trainer, seed_everything

log = logging.getLogger("reprlab")

SECTIONS = ("model", "data", "train")


@dataclass
class DataConfig:
    name: str = option("digits", "data set: a registered name (reprlab data), images:FOLDER, or a .npy/.npz/.csv file")
    data_dir: str | None = option(None, "folder holding the data files (default: $REPRLAB_DATA)")
    download: bool = option(False, "download missing files when online (MNIST, Omniglot)")
    val_fraction: float = option(0.1, "fraction of the training split held out for validation (0: none)", ge=0, lt=1)
    val_by: str | None = option(None, "hold out whole groups instead of samples, e.g. alphabet: val_fraction of "
                                "Omniglot's alphabets, so that validation tasks come from alphabets training never saw")

    def __post_init__(self):
        if self.val_by and self.val_fraction == 0:
            raise ConfigError(f"data.val_by={self.val_by} holds out a fraction of the {self.val_by} values, but "
                              "data.val_fraction is 0; set data.val_fraction (e.g. 0.2) or unset data.val_by")


@dataclass
class RunConfig:
    model_name: str
    model: Any
    data: DataConfig
    train: TrainConfig

    def to_dict(self) -> dict:
        return {"model": {"name": self.model_name, **to_dict(self.model)}, "data": to_dict(self.data), "train": to_dict(self.train)}


def build_run_config(
    model_name: str | None = None, file_values: dict | None = None, overrides: list[tuple[str, Any]] = (),
    *, saved: bool = False, recipe: bool = True,
) -> RunConfig:
    """Merge a config file's sections and ``key=value`` overrides into a validated :class:`RunConfig`.

    An override key is ``section.key`` or a bare ``key`` found in exactly one section. A new run
    gets the model's recipe (``ReprModel.recipes``: its ``"*"`` entry for any data set, then the
    entry for its data set) where nothing sets a key; a
    ``saved`` run's config (its ``config.yaml``) gets no recipe, and the model's
    ``legacy_defaults`` for keys added after it was written. ``recipe=False``: no recipe (a
    benchmark whose rows name their whole setting, so a recipe added later cannot change them).
    """
    values = {s: dict((file_values or {}).get(s) or {}) for s in SECTIONS}
    unknown = sorted(set(file_values or {}) - set(SECTIONS) - {"input_shape", "reprlab_version"})
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r}; allowed: {', '.join(SECTIONS)}")
    name = model_name or values["model"].get("name")
    if not name:
        raise ConfigError("no model given: pass one (e.g. `reprlab train ae`) or set model.name in the config file")
    if values["model"].get("name", name) != name:
        raise ConfigError(f"the config file is for model {values['model']['name']!r}, not {name!r}")
    values["model"].pop("name", None)
    spec = get_model_spec(name)
    classes = {"model": spec.config_cls, "data": DataConfig, "train": TrainConfig}
    from ..config import aliases_of, canonical_key, fields_of

    for section, cls in classes.items():  # former key names in a config file (e.g. latent_dim)
        values[section] = {canonical_key(cls, k, section): v for k, v in values[section].items()}
    for key, value in overrides:
        section, dot, bare = key.rpartition(".")
        if dot:
            if section not in classes:
                raise ConfigError(f"unknown section in {key!r}; allowed: {', '.join(SECTIONS)}")
            bare = canonical_key(classes[section], bare, section)
            if bare not in fields_of(classes[section]):
                raise ConfigError(f"unknown key {key}; allowed: {', '.join(section + '.' + k for k in fields_of(classes[section]))}")
        else:
            owners = [s for s, c in classes.items() if bare in fields_of(c) or bare in aliases_of(c)]
            if not owners:
                raise ConfigError(f"unknown key {bare!r}; see `reprlab train {name} --help` for the allowed keys")
            if len(owners) > 1:
                raise ConfigError(f"key {bare!r} is ambiguous; write {' or '.join(o + '.' + bare for o in owners)}")
            section = owners[0]
            bare = canonical_key(classes[section], bare, section)
        values[section][bare] = value
    data = from_dict(DataConfig, values["data"], "data")
    if saved:
        for key, value in getattr(spec.cls, "legacy_defaults", {}).items():
            values["model"].setdefault(key, value)
    recipes = {} if saved or not recipe else getattr(spec.cls, "recipes", {})  # "*": any data set; its own entry wins
    chosen = {**recipes.get("*", {}), **recipes.get(data.name.split(":", 1)[0], {})}
    applied = []
    for key, value in chosen.items():  # the data set's recipe fills what the user left unset
        section, _, bare = key.rpartition(".")
        section = section or "model"
        if bare not in values[section]:
            values[section][bare] = value
            applied.append(f"{section}.{bare}={value}")
    if applied:
        log.info("%s on %s: the model's recipe %s (a key you set wins)", name, data.name, " ".join(applied))
        data = from_dict(DataConfig, values["data"], "data")
    return RunConfig(
        model_name=name,
        model=from_dict(spec.config_cls, values["model"], "model"),
        data=data,
        train=from_dict(TrainConfig, values["train"], "train"),
    )


def write_run_config(run_dir: Path, resolved: dict) -> None:
    """Write the resolved config (every default filled in) as ``config.yaml``, atomically."""
    write_text(run_dir / "config.yaml", yaml.safe_dump({"reprlab_version": __version__, **resolved}, sort_keys=False))


def read_run_config(run_dir: str | os.PathLike) -> tuple[RunConfig, tuple[int, ...]]:
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a reprlab run: it has no config.yaml")
    values = read_config_file(path)
    shape = values.get("input_shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s > 0 for s in shape):
        raise CheckpointError(f"{path} has no valid input_shape; it is not a complete reprlab run config")
    return build_run_config(None, values, saved=True), tuple(shape)


def is_rank_zero() -> bool:
    return os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> RunFolder:
    """Open (check, create or adopt, and lock) the run folder: see :mod:`reprlab.runfolder`.

    On other ranks of a multi-process run, nothing is checked or locked (rank 0 does it); they
    resume when rank 0 will, that is when a valid checkpoint exists.
    """
    if not is_rank_zero():
        return RunFolder(Path(run_dir), resume=resume and latest_valid(Path(run_dir) / "checkpoints") is not None)
    return open_run_folder(run_dir, resume=resume, overwrite=overwrite, log=log.info)


def load_data(rc: RunConfig, split: str = "train"):
    from ..data import load_dataset

    return load_dataset(rc.data.name, split=split, data_dir=rc.data.data_dir, seed=rc.train.seed, download=rc.data.download)


def validation_split(rc: RunConfig, data):
    """``(train, val)`` of the loaded training split as ``rc`` asks (``data.val_fraction`` of the
    samples, or of the ``data.val_by`` groups, seeded by ``train.seed``); ``val`` is None when the
    fraction is 0. The split :func:`train_run` trains and validates on."""
    if rc.data.val_fraction <= 0:
        return data, None
    if not rc.data.val_by:
        return data.split(rc.data.val_fraction, rc.train.seed)
    data, val = data.split_groups(rc.data.val_by, rc.data.val_fraction, rc.train.seed)
    held, names = val.meta["held_out"][rc.data.val_by], data.meta.get(f"{rc.data.val_by}s")
    shown = [names[i] for i in held] if isinstance(names, list) and all(0 <= i < len(names) for i in held) else held
    log.info(f"validation on held-out {rc.data.val_by} values: {', '.join(map(str, shown))}")
    return data, val


def build_model(rc: RunConfig, input_shape: tuple[int, ...]):
    spec = get_model_spec(rc.model_name)
    return spec.cls(rc.model, tuple(input_shape))


def train_run(
    rc: RunConfig, run_dir: str | os.PathLike | None, *, resume: bool = False, overwrite: bool = False
) -> tuple[Any, FitResult]:
    """Train the model of ``rc`` on its data; returns (model, result). The pipeline of ``reprlab train``.

    A model with pre-training phases (:meth:`ReprModel.pretrain`, e.g. ``sdae``) runs them first,
    through :func:`phase_fitter`, into ``<run_dir>/pretrain/<phase>/``.
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    data = load_data(rc, "train")
    if "row" not in data.extras:  # rows of the split as loaded, kept through the validation split
        data = dataclasses.replace(data, extras={**data.extras, "row": torch.arange(len(data))})
    data, val = validation_split(rc, data)
    seed_everything(rc.train.seed)
    check_model_fits(lambda: build_model(rc, data.sample_shape), rc.train.optimizer, f"model {rc.model_name}")
    model = build_model(rc, data.sample_shape)
    model.check_data(data)
    fit_data = None
    if not model.has_pretraining:  # pairs etc. drawn now (same order of draws), so a bad batch size fails here
        fit_data = model.training_data(data, rc.train.seed)
        TensorBatches(fit_data, rc.train.batch_size)  # raises the one-line error when the data are too few
    if run_dir is None:
        return _train(rc, model, data, val, fit_data, None)
    # after data and model: a bad config leaves no run folder behind, and a folder made here is
    # removed again when the run fails before its first step
    with prepare_run_dir(run_dir, resume=resume, overwrite=overwrite) as folder:
        return _train(rc, model, data, val, fit_data, folder)


def _train(rc: RunConfig, model, data, val, fit_data, folder: RunFolder | None) -> tuple[Any, FitResult]:
    run_dir = folder.path if folder is not None else None
    resume = folder is not None and folder.resume
    resume_main = resume
    if model.has_pretraining:
        model.pretrain(data, val, phase_fitter(rc.train, run_dir, resume=resume, data_config=rc.data))
        seed_everything(rc.train.seed)  # the main fit draws the same noise whether phases ran or were loaded
        # a run stopped during pre-training has no main checkpoint yet: its main fit starts afresh
        resume_main = resume and latest_valid(run_dir / "checkpoints") is not None
    resolved = {**rc.to_dict(), "input_shape": list(data.sample_shape)}
    if run_dir is not None and is_rank_zero():
        write_run_config(run_dir, resolved)
    snapshots = (lambda m, step: write_snapshot(m, run_dir, step)) if run_dir is not None else None
    trainer = Trainer(rc.train, run_dir, on_checkpoint=snapshots)
    if fit_data is None:
        fit_data = model.training_data(data, rc.train.seed)  # e.g. a Siamese network's pairs
    if fit_data is not data:
        log.info(f"training on {len(fit_data)} {fit_data.name}")
    result = trainer.fit(model, fit_data, val, resume=resume_main)
    if run_dir is not None and trainer.is_main:
        write_figures(model, run_dir, val if val is not None else data)
    return model, result


def phase_fitter(
    train_config: TrainConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    data_config: DataConfig | None = None,
):
    """The ``fit_phase`` function given to :meth:`ReprModel.pretrain` (see :data:`reprlab.models.base.PhaseFit`).

    Phase ``name`` is trained with ``train_config`` updated by the phase's overrides, by the one
    :class:`Trainer`, into ``<run_dir>/pretrain/<name>/`` (a loadable run folder: config.yaml,
    metrics.csv, checkpoints, model.safetensors). With ``resume``, a phase whose
    ``model.safetensors`` exists is finished: its weights are loaded, not trained again; a phase
    with a checkpoint continues from it; the others train from the start. ``run_dir=None``
    trains every phase in memory.
    """
    root = Path(run_dir) / "pretrain" if run_dir is not None else None

    def fit_phase(phase: str, model_name: str, model_config, train, val=None, **overrides):
        cfg = dataclasses.replace(train_config, **overrides)
        folder = root / phase if root is not None else None
        seed_everything(cfg.seed)
        model = get_model_spec(model_name).cls(model_config, tuple(train.sample_shape))
        if folder is not None and resume and (folder / "model.safetensors").is_file():
            load_weights(folder / "model.safetensors", model)
            log.info(f"pre-training phase {phase} already finished; loaded {folder / 'model.safetensors'}")
            return model
        started = folder is not None and resume and latest_valid(folder / "checkpoints") is not None
        resolved = {
            "model": {"name": model_name, **to_dict(model_config)},
            "data": to_dict(data_config or DataConfig()),
            "train": to_dict(cfg),
            "input_shape": list(train.sample_shape),
        }
        if folder is not None and is_rank_zero():
            ensure_dir(folder)
            write_run_config(folder, resolved)
        Trainer(cfg, folder).fit(model, train, val, resume=started)
        return model

    return fit_phase


def reconstruction_pairs(model, data, n: int = 16):
    """First ``n`` samples of ``data`` and their reconstructions, interleaved row by row:
    (2n, C, H, W) for a grid with originals above reconstructions."""
    import torch

    x = data.x[:n]
    with torch.no_grad():
        x_hat = model.reconstruct(x).cpu().clamp(0, 1)
    per_row = min(n, 8)
    rows = []
    for i in range(0, x.shape[0], per_row):
        rows += [x[i : i + per_row].cpu(), x_hat[i : i + per_row]]
    return torch.cat(rows), per_row


def write_snapshot(model, run_dir: Path, step: int) -> list[Path]:
    """The model's progress pictures (:meth:`ReprModel.snapshot`) as ``<run>/<name>/step-NNNNNN.png``;
    2-D points also as ``.npy`` (for figures of the stages)."""
    import numpy as np

    from ..files import atomic_open
    from ..viz import save_samples

    out = []
    for name, x in model.snapshot().items():
        path = Path(run_dir) / name / f"step-{step:06d}.png"
        out.append(save_samples(x, path, title=f"step {step}"))
        if x.ndim == 2:
            with atomic_open(path.with_suffix(".npy"), "wb") as f:  # a file object: np.save adds no suffix
                np.save(f, x.numpy())
    return out


def write_figures(model, run_dir: Path, data) -> list[Path]:
    """The run's standard figures: loss curves, reconstructions of held-out images, and for a
    generative model samples from the prior (and the decoded 2-D manifold when d = 2; for 2-D
    data a scatter plot of samples beside the data; under InfoGAN a row of samples per category)."""
    from ..viz import plot_curves, save_image_grid, save_samples

    figures = run_dir / "figures"
    out = []
    if (run_dir / "metrics.csv").exists():
        out.append(plot_curves(run_dir / "metrics.csv", figures / "loss.png", title=f"{model.name} on {data.name}"))
    was = model.training
    model.eval()
    if data.is_image and model.can_reconstruct:
        grid, per_row = reconstruction_pairs(model, data.to("cpu") if data.x.device.type != "cpu" else data)
        out.append(save_image_grid(grid, figures / "reconstructions.png", nrow=per_row))
    if data.sample_shape == (2,) and model.can_sample:  # 2-D points: samples beside the data
        from ..viz.gan import plot_point_panels

        samples = model.sample(2000, generator=torch.Generator().manual_seed(0)).cpu()
        out.append(plot_point_panels([("data", data.x[:2000].cpu()), ("samples", samples)], figures / "samples.png"))
    if data.is_image and model.can_sample:
        out.append(save_samples(model.sample(64, generator=torch.Generator().manual_seed(0)), figures / "samples.png"))
        categories = getattr(model.config, "info_categories", 0)  # InfoGAN: one row of samples per category
        if categories:
            out.append(save_image_grid(model.category_samples(10, torch.Generator().manual_seed(0)), figures / "categories.png",
                                       nrow=10))
        if getattr(model.config, "latent_dim", None) == 2 and model.can_decode and not categories:
            from ..viz.latent import traversal_grid

            out.append(save_image_grid(traversal_grid(model, 15, prior="gaussian"), figures / "manifold.png", nrow=15))
    model.train(was)
    return out


def load(run_dir: str | os.PathLike, *, weights: str = "final", device: str | None = None):
    """The trained model of a run folder, in eval mode: ``reprlab.load("runs/ae-digits").encode(x)``.

    ``weights``: ``final`` (``model.safetensors``; falls back to the newest valid checkpoint of
    an unfinished run), ``best`` (early stopping's best) or ``latest`` (newest checkpoint).
    """
    run_dir = Path(run_dir)
    rc, shape = read_run_config(run_dir)
    model = build_model(rc, shape)
    if weights not in ("final", "best", "latest"):
        raise UsageError(f"weights must be final, best or latest, got {weights!r}")
    path = {"final": run_dir / "model.safetensors", "best": run_dir / "best.safetensors"}.get(weights)
    if path is None or not path.exists():
        def skipped(msg: str) -> None:
            log.info(f"{run_dir}: skipping a checkpoint: {msg.removeprefix('warning: ')}")

        found = latest_valid(run_dir / "checkpoints", log=skipped)
        if found is None:
            raise CheckpointError(f"{run_dir} has no {weights} weights and no valid checkpoint; train it first")
        if weights != "latest":
            why = "the run has not finished" if weights == "final" else "the run did not use early stopping"
            log.info(f"{run_dir} has no {path.name} ({why}): using its newest valid checkpoint, {found.name}")
        path = found / "model.safetensors"
    fix = (f"delete it to use the run's newest checkpoint instead, or train again with --overwrite"
           if path.parent == run_dir else "delete that checkpoint folder to use the previous one")
    verified = load_weights(path, model, fix=fix)
    if not verified:
        log.info(f"note: {path} has no checksum (written by an older reprlab): it cannot be verified")
    model.eval()
    if device is not None:
        model.to(device)
    model.run_config = rc
    return model
