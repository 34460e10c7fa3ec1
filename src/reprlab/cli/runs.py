"""Commands on training runs: train, eval, encode, reconstruct, sample; data; tour."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import UsageError

log = logging.getLogger("reprlab")
from .common import _rank, _run_data, _check_png_args


def cmd_train(a: argparse.Namespace) -> int:
    from ..config import parse_overrides, read_config_file
    from ..pipelines.training import build_run_config, train_run
    from ..runfolder import check_run_name

    file_values = read_config_file(a.config) if a.config else None
    overrides = parse_overrides(a.overrides)
    for flag, key in (
        ("data", "data.name"), ("data_dir", "data.data_dir"), ("devices", "train.devices"),
        ("accelerator", "train.accelerator"), ("precision", "train.precision"), ("seed", "train.seed"),
        ("steps", "train.max_steps"),
    ):
        value = getattr(a, flag)
        if value is not None:
            overrides.append((key, value))
    if a.download:
        overrides.append(("data.download", True))
    if a.quiet:
        overrides.append(("train.progress", False))
    rc = build_run_config(a.model, file_values, overrides)
    if a.run_dir and a.name:
        raise UsageError("pass either --run-dir or --name, not both")
    data_tag = Path(rc.data.name.split(":", 1)[-1]).stem if ":" in rc.data.name or "." in rc.data.name else rc.data.name
    if a.name is not None:
        check_run_name(a.name)
    run_dir = Path(a.run_dir) if a.run_dir else Path("runs") / (a.name or f"{rc.model_name}-{data_tag}")
    model, result = train_run(rc, run_dir, resume=a.resume, overwrite=a.overwrite)
    if result.world_size == 1 or _rank() == 0:
        metrics = {**result.train_metrics, **result.val_metrics}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if "loss" in k)
        log.info(f"done: {result.steps} steps in {result.wall_s:.1f}s ({result.samples_per_s:.0f} samples/s); {shown}")
        log.info(f"run folder: {run_dir}  (config.yaml, metrics.csv, model.safetensors, figures/)")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from .. import load
    from ..eval import reconstruction_metrics

    model = load(a.run)
    data = _run_data(a, model)
    metrics = {"run": a.run, "data": data.name, "split": a.split, "n": len(data)}
    quality = _sample_quality(a, model, data)  # first: a bad --samples fails before the other measures
    if model.can_reconstruct:
        metrics.update(reconstruction_metrics(model, data))
    if model.has_own_validation:  # the model's own measures: ELBO (VAE), one-shot accuracy (Siamese)
        import torch

        with torch.no_grad():
            metrics.update(model.validate(data))
    if a.iwae:
        from ..eval.likelihood import iwae_nll

        metrics[f"nll_iwae_k{a.iwae}"] = iwae_nll(model, data, a.iwae, binarize=a.binarize, progress=_rank() == 0)
    metrics.update(quality)
    print(json.dumps(metrics, indent=2))
    return 0


def _sample_quality(a: argparse.Namespace, model, data) -> dict:
    """GAN, AAE, Tempered GAN: the sample quality of the run against ``data`` (FID/KID/precision/
    recall, or mode coverage), {} where it has no measure; --samples / --seed only for these runs."""
    asked = a.samples is not None or a.seed is not None or a.truncation is not None
    if not model.eval_sample_quality:
        if asked:
            raise UsageError(f"--samples, --seed and --truncation choose the samples `reprlab eval` scores for gan, aae and tempered-gan "
                             f"runs; {a.run} is a run of model {model.name!r}: drop them")
        return {}
    from ..eval.sample_quality import sample_quality, sample_quality_kind

    kind, why = sample_quality_kind(data)
    if kind is None:
        if asked:
            raise UsageError(f"--samples/--seed/--truncation: no sample-quality measure for {a.run} on this data: {why}")
        log.info(f"sample quality not measured: {why}")
        return {}
    data_dir = a.data_dir or model.run_config.data.data_dir
    return sample_quality(model, data, n_samples=a.samples, seed=0 if a.seed is None else a.seed, data_dir=data_dir,
                          log=log.info, truncation=a.truncation)


def cmd_encode(a: argparse.Namespace) -> int:
    import numpy as np

    from .. import load
    from ..eval import encode_data
    from ..files import atomic_open

    out = Path(a.output)
    if out.suffix not in (".npy", ".npz"):
        raise UsageError(f"output {out} must end in .npy or .npz")
    model = load(a.run)
    if not model.can_encode:
        raise UsageError(f"model {model.name!r} cannot encode")
    data = _run_data(a, model)
    codes = encode_data(model, data).numpy()
    arrays = {"codes": codes}
    if data.y is not None:
        arrays["labels"] = data.y.cpu().numpy()
    with atomic_open(out, "wb") as f:  # the old file survives a failure (a full disk, Ctrl-C)
        if out.suffix == ".npz":
            np.savez(f, **arrays)
        else:
            np.save(f, codes)
    log.info(f"wrote {codes.shape[0]} codes of size {codes.shape[1]} to {out}")
    return 0


def cmd_reconstruct(a: argparse.Namespace) -> int:
    from .. import load
    from ..pipelines.training import reconstruction_pairs
    from ..viz import save_image_grid

    _check_png_args(a)
    model = load(a.run)
    if not model.can_reconstruct:
        raise UsageError(f"model {model.name!r} cannot reconstruct")
    data = _run_data(a, model)
    if not data.is_image:
        raise UsageError(f"{data.name} holds feature vectors, not images: there is no picture to draw; use `reprlab eval`")
    grid, per_row = reconstruction_pairs(model, data, a.n)
    path = save_image_grid(grid, a.output, nrow=per_row)
    log.info(f"wrote {path}")
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    import torch

    from .. import load
    from ..viz import save_samples

    _check_png_args(a)
    model = load(a.run)
    if not model.can_sample:
        model.sample(a.n)  # raises the model's one-line explanation
    from ..eval.sample_quality import sample_kwargs

    kw = sample_kwargs(model, a.truncation)
    x = model.sample(a.n, generator=torch.Generator().manual_seed(a.seed), **kw).cpu()
    if x.ndim == 2 and x.shape[1] != 2:
        raise UsageError(f"{a.run} generates vectors of size {x.shape[1]}, not images or 2-D points: "
                         "use model.sample() from Python (reprlab.load) to get them")
    path = save_samples(x, a.output, title=f"{a.n} samples of {a.run}")
    log.info(f"wrote {path}")
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    """``reprlab data``: list the data sets; ``reprlab data download NAME...``: fetch them."""
    if getattr(a, "data_command", None) == "download":
        return cmd_data_download(a)
    from ..data import DATASETS, resolve_data_dir
    from ..data.download import holdings, human_size
    from ..data.registry import data_dir_source

    root = resolve_data_dir(a.data_dir)
    where = {"argument": "--data-dir", "default": "the default"}.get(data_dir_source(a.data_dir), "$REPRLAB_DATA")
    print(f"data folder: {root.resolve()}  (from {where}; set REPRLAB_DATA or --data-dir to change)")
    for h in holdings(root):
        status = "complete" if h.complete else f"missing {h.total - h.present}/{h.total} files"
        if h.optional and not h.complete:
            status = "optional, absent" if not h.present else status
        text = "" if h.optional else DATASETS[h.name].description
        print(f"  {h.name:<20} {status:<20} {human_size(h.size):>9}  {h.folder}  {text}".rstrip())
        if h.fetch and not h.optional:
            print(f"  {'':<20} fetch: {h.fetch}")
    for name, spec in sorted(DATASETS.items()):
        if spec.embedded or not spec.files:
            status = "embedded" if spec.embedded else "user files"
            print(f"  {name:<20} {status:<20} {'':>9}  {spec.description}")
    print(f"  {'images:FOLDER':<20} {'user files':<20} {'':>9}  a folder of images (class sub-folders give labels)")
    print(f"  {'PATH.npy|npz|csv':<20} {'user files':<20} {'':>9}  an array file or a CSV of features (label column: label or y)")
    return 0


def cmd_data_download(a: argparse.Namespace) -> int:
    """``reprlab data download NAME... [--dir DIR] [--mirror URL]``."""
    import sys

    from ..data import resolve_data_dir
    from ..data.download import download

    folder = a.dir if a.dir is not None else a.data_dir
    try:
        paths = download(a.names, folder, mirror=a.mirror, progress=not a.quiet)
    except KeyboardInterrupt:
        print("reprlab: interrupted; run the same command again to resume the download", file=sys.stderr)
        return 130
    log.info(f"{len(paths)} file(s) checked in {resolve_data_dir(folder).resolve()}")
    return 0


def cmd_tour(a: argparse.Namespace) -> int:
    from ..report.tour import run_tour

    def names(text):
        return [n.strip() for n in text.split(",") if n.strip()] if text else None

    report = run_tour(Path(a.out), quick=a.quick, full=a.full, only=names(a.only), benchmarks=names(a.benchmarks),
                      data_dir=a.data_dir, seed=a.seed, download=a.download, mirror=a.mirror, jobs=a.jobs)
    log.info(f"report: {report}")
    return 0
