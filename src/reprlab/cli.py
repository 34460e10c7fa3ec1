"""The ``reprlab`` command: parses, builds a config, calls the library. Nothing else lives here.

Exit codes: 0 success, 1 a run that failed (e.g. a NaN loss), 2 bad input (unknown key, bad
value, missing file), 130 interrupted. Errors are one line: ``reprlab: error: <what and fix>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import ReprlabError, UsageError

log = logging.getLogger("reprlab")


def _models_epilog() -> str:
    from .models import MODELS

    lines = ["models:"] + [f"  {n:<10} {s.description}" for n, s in sorted(MODELS.items())]
    lines.append("\n`reprlab train MODEL --help` lists the model's options; set any as key=value (e.g. code_dim=2 train.lr=3e-4).")
    return "\n".join(lines)


def _options_help(model_name: str) -> str:
    from .config import describe
    from .models import get_model_spec
    from .run import DataConfig
    from .train import TrainConfig

    spec = get_model_spec(model_name)
    out = [f"options of `reprlab train {model_name}` ({spec.description}), as key=value:"]
    for title, cls, prefix in (("model", spec.config_cls, "model."), ("data", DataConfig, "data."), ("train", TrainConfig, "train.")):
        out.append(f"\n{title}:")
        for key, typ, text in describe(cls, prefix):
            out.append(f"  {key:<32} {text}\n  {'':<32}   [{typ}]")
    return "\n".join(out)


def _add_data_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--data", required=required, help="data set name, images:FOLDER, or a .npy/.npz/.csv file")
    p.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")
    p.add_argument("--split", default="test", choices=["train", "test", "all"], help="which split (default: test)")


# (flag, type, help) of the StyleConfig options `reprlab stylize` exposes as flags.
STYLE_FLAGS = [
    ("--size", int, "longest side of the result in pixels (default 512)"),
    ("--steps", int, "optimization steps per pyramid level (default 300)"),
    ("--style-weight", float, "β (default 1e3); α is --content-weight (default 1)"),
    ("--content-weight", float, "α (default 1)"),
    ("--tv-weight", float, "total-variation weight (default 0)"),
    ("--optimizer", str, "lbfgs (default) or adam"),
    ("--lr", float, "step size (default 1 for L-BFGS, 0.02 for Adam)"),
    ("--init", str, "content (default) or noise"),
    ("--pyramid", int, "coarse-to-fine levels (default 1)"),
    ("--network", str, "auto (default: vgg19 with --weights, else random), vgg19, random"),
    ("--weights", str, "VGG-19 weights in torchvision's format (.pth or .safetensors)"),
    ("--pooling", str, "VGG-19 pooling: avg (default) or max"),
    ("--content-layer", str, "content layer (default conv4_2; random net: its middle scale)"),
    ("--style-layers", str, "comma-separated style layers (default conv1_1,...,conv5_1; random net: all scales)"),
    ("--random-sizes", str, "random net: comma-separated filter sizes (default 3,5,7,11,15,23,37,55)"),
    ("--random-filters", int, "random net: filters per size (default 128)"),
    ("--device", str, "cpu (default), cuda, mps or auto"),
    ("--seed", int, "seed of the noise start and of the random net (default 0)"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprlab",
        description="Representation learning: auto-encoders, denoising AEs, mSDA, Siamese nets, VAEs, GANs.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train", help="train a model", epilog=_models_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.add_argument("model", help="model name (see below)")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. code_dim=2 train.lr=3e-4")
    t.add_argument("--data", help="data set (default: digits); same as data.name=...")
    t.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")
    t.add_argument("--download", action="store_true", help="download missing files when online")
    t.add_argument("--config", help="YAML/JSON file with model:, data:, train: sections")
    t.add_argument("--run-dir", help="run folder (default: runs/<name>)")
    t.add_argument("--name", help="run name under runs/ (default: MODEL-DATA)")
    t.add_argument("--resume", action="store_true", help="continue the run in the run folder from its last checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in the run folder")
    t.add_argument("--devices", type=int, help="processes/devices (>1: data parallel)")
    t.add_argument("--accelerator", help="cpu, cuda, mps or auto")
    t.add_argument("--precision", help="32-true, bf16-mixed, 16-mixed, ...")
    t.add_argument("--seed", type=int, help="random seed")
    t.add_argument("--steps", type=int, help="training steps (train.max_steps)")

    e = sub.add_parser("eval", help="evaluate a trained run on a data split (prints JSON)")
    e.add_argument("run", help="run folder")
    e.add_argument("--iwae", type=int, metavar="K", help="VAE: also −log p(x) by importance sampling with K samples")
    e.add_argument("--binarize", action="store_true", help="with --iwae: binarize each image once (dynamic-binarization MNIST)")
    _add_data_args(e)

    enc = sub.add_parser("encode", help="write the codes of a data set as .npy (or .npz with labels)")
    enc.add_argument("run", help="run folder")
    enc.add_argument("-o", "--output", required=True, help="output file: codes.npy, or codes.npz with codes and labels")
    _add_data_args(enc)

    r = sub.add_parser("reconstruct", help="write a PNG grid: originals above reconstructions")
    r.add_argument("run", help="run folder")
    r.add_argument("-o", "--output", required=True, help="output PNG")
    r.add_argument("-n", type=int, default=16, help="number of images")
    _add_data_args(r)

    s = sub.add_parser("sample", help="write a PNG grid of samples from a generative model")
    s.add_argument("run", help="run folder")
    s.add_argument("-o", "--output", required=True, help="output PNG")
    s.add_argument("-n", type=int, default=64, help="number of samples")
    s.add_argument("--seed", type=int, default=0)

    em = sub.add_parser(
        "embed", help="2-D maps of codes (codes, PCA, MDS, t-SNE) with trustworthiness and k-NN accuracy",
        description="2-D maps of the codes of a run (the model encodes a data set), of a features file "
        "(.npy/.npz/.csv) or of a data set's raw pixels; writes coordinates (.npy, .csv), PNG maps, "
        "embed.json and index.html into --out.",
    )
    em.add_argument("source", help="run folder, features file (.npy/.npz/.csv) or data set name (raw pixels)")
    em.add_argument("--method", default="auto",
                    help="comma-separated: codes (2-D codes as they are), pca, mds, tsne; default auto: codes when 2-D, else tsne")
    em.add_argument("--perplexity", default="30", help="t-SNE perplexities, comma-separated, e.g. 5,30,50 (default 30)")
    em.add_argument("--seeds", default="0", help="seeds, comma-separated: several draw t-SNE side by side (default 0)")
    em.add_argument("--max-points", type=int, help="map a seeded subsample of at most this many points")
    em.add_argument("--thumbnails", type=int, default=0, help="draw this many images at spread-out points (image data)")
    em.add_argument("--k", type=int, default=10, help="neighbours for trustworthiness and k-NN accuracy (default 10)")
    em.add_argument("--n-iter", type=int, default=750, help="t-SNE iterations, 250 early-exaggeration ones included (default 750)")
    em.add_argument("--init", default="pca", choices=["pca", "random"], help="t-SNE start: pca (stable) or random (seeded)")
    em.add_argument("--backend", default="auto", choices=["auto", "opentsne", "sklearn"], help="t-SNE implementation (default: openTSNE)")
    em.add_argument("--out", help="output folder (default: embed/<source name>)")
    _add_data_args(em)

    ip = sub.add_parser(
        "interpolate", help="decode the path between two codes, or the grid of decoded 2-D codes",
        description="Morphing: decode the straight line (and/or the spherical path) between the codes of "
        "samples --from and --to of a data split; with --traverse N, the N x N grid of decoded 2-D codes.",
    )
    ip.add_argument("run", help="run folder of a model that encodes and decodes")
    ip.add_argument("-o", "--output", required=True, help="output PNG (the settings go beside it as .json)")
    ip.add_argument("--from", dest="i", type=int, default=0, help="index of the first sample (default 0)")
    ip.add_argument("--to", dest="j", type=int, default=1, help="index of the last sample (default 1)")
    ip.add_argument("--steps", type=int, default=10, help="images along the path, both ends included (default 10)")
    ip.add_argument("--path", default="linear", choices=["linear", "slerp", "both"], help="straight line, spherical, or both rows")
    ip.add_argument("--traverse", type=int, metavar="N", help="instead: an N x N grid of decoded 2-D codes")
    ip.add_argument("--prior", choices=["gaussian"], help="traverse Φ⁻¹ of a uniform grid (standard normal prior) instead of the codes' range")
    _add_data_args(ip)

    os_ = sub.add_parser("oneshot", help="one-shot accuracy of a Siamese run: Lake's 20 runs, or N-way k-shot tasks")
    os_.add_argument("run", help="run folder of a model with a similarity (siamese)")
    os_.add_argument("--runs", help="Lake's runs: all_runs.zip or its folder (default: <data dir>/omniglot/all_runs.zip)")
    os_.add_argument("--data", help="instead: random tasks from this labelled data set (e.g. omniglot:small2)")
    os_.add_argument("--split", default="test", choices=["train", "test", "all"], help="split of --data (default test)")
    os_.add_argument("--way", type=int, default=20, help="N of N-way tasks from --data (default 20)")
    os_.add_argument("--shot", type=int, default=1, help="k of k-shot tasks from --data (default 1)")
    os_.add_argument("--tasks", type=int, default=400, help="tasks drawn from --data (default 400)")
    os_.add_argument("--within", help="draw each task's classes from one group, e.g. alphabet")
    os_.add_argument("--seed", type=int, default=0)
    os_.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")

    sm = sub.add_parser("similar", help="rank a folder of images by similarity to a query image (Siamese run)")
    sm.add_argument("run", help="run folder of a model with a similarity (siamese)")
    sm.add_argument("query", help="query image file")
    sm.add_argument("--gallery", required=True, help="folder of images to rank (searched recursively)")
    sm.add_argument("--top", type=int, default=10, help="how many to print (default 10)")
    sm.add_argument("-o", "--output", help="also write the query and the top matches as a PNG strip")
    sm.add_argument("--invert", default="auto", choices=["auto", "yes", "no"],
                    help="invert image values (auto: yes for a model trained on Omniglot, whose strokes are 1.0)")

    st = sub.add_parser(
        "stylize", help="neural style transfer (Gatys et al.): CONTENT in the style of STYLE; texture with STYLE only",
        description="Find the image x minimizing α·content distance to CONTENT + β·style (Gram matrix) distance to "
        "STYLE. With one image (or --texture): texture synthesis. Images: files, or sklearn:china.jpg / "
        "sklearn:flower.jpg. Without --weights the untrained random multi-scale net is used (and named).",
    )
    st.add_argument("images", nargs="+", metavar="CONTENT STYLE", help="content and style images, or only a style image")
    st.add_argument("-o", "--output", required=True, help="output PNG (with --sweep: the sweep figure)")
    st.add_argument("--texture", action="store_true", help="texture synthesis from the one STYLE image (style only)")
    st.add_argument("--sweep", metavar="B1,B2,...", help="one result per style weight β, side by side (e.g. 1e1,1e2,1e3)")
    st.add_argument("--run-dir", help="run folder (default: runs/stylize-CONTENT-STYLE or runs/texture-STYLE)")
    st.add_argument("--save-every", type=int, default=0, metavar="N", help="write an intermediate image every N steps")
    st.add_argument("--config", help="YAML/JSON file of style options (the keys below, with underscores)")
    for flag, kind, text in STYLE_FLAGS:
        st.add_argument(flag, type=kind, help=text)
    st.add_argument("--preserve-color", action="store_true", default=None, help="luminance-only transfer: keep the content's colours")

    d = sub.add_parser("data", help="list data sets and whether their files are present")
    d.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")

    da = sub.add_parser(
        "da", help="domain adaptation on Amazon reviews: representation on source+target, linear classifier on source"
    )
    da.add_argument("--source", default="all", help="source domain: books, dvd, elec, kitchen or all (default)")
    da.add_argument("--target", default="all", help="target domain (default: every other domain)")
    da.add_argument("--method", default="raw,msda", help="comma-separated: raw, msda, sda (default raw,msda)")
    da.add_argument("--p", type=float, help="mSDA corruption probability (default: chosen on source labels)")
    da.add_argument("--layers", type=int, help="mSDA depth L (default: chosen on source labels)")
    da.add_argument("--data-dir", help="folder holding amazon_reviews_400/ (default: $REPRLAB_DATA)")
    da.add_argument("--out", default="runs/da", help="output folder (default: runs/da)")
    da.add_argument("--seed", type=int, default=0)

    dr = sub.add_parser("dirac", help="the Dirac-GAN (Mescheder et al. 2018): vector field, GD trajectories, "
                        "eigenvalues at (0, 0); writes a PNG, prints JSON")
    dr.add_argument("--loss", default="minimax", help="minimax, ns, logratio, wgan or wgan-gp (default minimax)")
    dr.add_argument("--reg", default="none", help="none, r1, r2, gp, roth or noise (instance noise) (default none)")
    dr.add_argument("--gamma", type=float, default=1.0, help="regularizer weight γ; the noise's σ for --reg noise (default 1)")
    dr.add_argument("--clip", type=float, help="WGAN weight clipping |ψ| ≤ c (default 1 for wgan, 0: none)")
    dr.add_argument("--n-critic", type=int, help="critic steps per generator step (default 5 for wgan, wgan-gp; else 1)")
    dr.add_argument("--steps", type=int, default=500, help="generator steps (default 500)")
    dr.add_argument("--lr", type=float, default=0.1, help="step size h (default 0.1)")
    dr.add_argument("--mode", default="both", help="simultaneous, alternating or both (default both)")
    dr.add_argument("--start", default="1,1", help="starting point θ,ψ (default 1,1)")
    dr.add_argument("--all", action="store_true", help="the paper's grid of methods instead of --loss/--reg/...")
    dr.add_argument("-o", "--output", default="dirac.png", help="PNG to write (default dirac.png)")

    tour = sub.add_parser("tour", help="run the lecture's methods on embedded data and write an HTML report")
    tour.add_argument("--out", default="tour", help="output folder (default: ./tour)")
    tour.add_argument("--quick", action="store_true", help="a reduced budget (seconds): a smoke run")
    tour.add_argument("--only", help="comma-separated sections to run")
    tour.add_argument("--data-dir", help="folder with MNIST etc. (default: $REPRLAB_DATA); optional")
    tour.add_argument("--seed", type=int, default=0)
    return parser


# ---------------------------------------------------------------------------- commands
def cmd_train(a: argparse.Namespace) -> int:
    from .config import parse_overrides, read_config_file
    from .run import build_run_config, train

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
    run_dir = Path(a.run_dir) if a.run_dir else Path("runs") / (a.name or f"{rc.model_name}-{data_tag}")
    model, result = train(rc, run_dir, resume=a.resume, overwrite=a.overwrite)
    if result.world_size == 1 or _rank() == 0:
        metrics = {**result.train_metrics, **result.val_metrics}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if "loss" in k)
        log.info(f"done: {result.steps} steps in {result.wall_s:.1f}s ({result.samples_per_s:.0f} samples/s); {shown}")
        log.info(f"run folder: {run_dir}  (config.yaml, metrics.csv, model.safetensors, figures/)")
    return 0


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def _run_data(a: argparse.Namespace, model):
    from .data import load_dataset

    rc = model.run_config
    name = a.data or rc.data.name
    data_dir = a.data_dir or rc.data.data_dir
    return load_dataset(name, split=a.split, data_dir=data_dir, seed=rc.train.seed)


def cmd_eval(a: argparse.Namespace) -> int:
    from . import load
    from .eval import reconstruction_metrics

    model = load(a.run)
    data = _run_data(a, model)
    metrics = {"run": a.run, "data": data.name, "split": a.split, "n": len(data)}
    if model.can_reconstruct:
        metrics.update(reconstruction_metrics(model, data))
    if model.has_own_validation:  # the model's own measures: ELBO (VAE), one-shot accuracy (Siamese)
        import torch

        with torch.no_grad():
            metrics.update(model.validate(data))
    if a.iwae:
        from .eval.likelihood import iwae_nll

        metrics[f"nll_iwae_k{a.iwae}"] = iwae_nll(model, data, a.iwae, binarize=a.binarize, progress=_rank() == 0)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_encode(a: argparse.Namespace) -> int:
    import numpy as np

    from . import load
    from .eval import encode_data

    out = Path(a.output)
    if out.suffix not in (".npy", ".npz"):
        raise UsageError(f"output {out} must end in .npy or .npz")
    model = load(a.run)
    if not model.can_encode:
        raise UsageError(f"model {model.name!r} cannot encode")
    data = _run_data(a, model)
    codes = encode_data(model, data).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"codes": codes}
        if data.y is not None:
            arrays["labels"] = data.y.cpu().numpy()
        np.savez(out, **arrays)
    else:
        np.save(out, codes)
    log.info(f"wrote {codes.shape[0]} codes of size {codes.shape[1]} to {out}")
    return 0


def _check_png_args(a: argparse.Namespace) -> None:
    if a.n < 1:
        raise UsageError(f"-n must be at least 1, got {a.n}")
    if Path(a.output).suffix.lower() != ".png":
        raise UsageError(f"output {a.output} must end in .png")


def cmd_reconstruct(a: argparse.Namespace) -> int:
    from . import load
    from .run import reconstruction_pairs
    from .viz import save_image_grid

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

    from . import load
    from .viz import save_image_grid

    _check_png_args(a)
    model = load(a.run)
    if not model.can_sample:
        model.sample(a.n)  # raises the model's one-line explanation
    x = model.sample(a.n, generator=torch.Generator().manual_seed(a.seed))
    path = save_image_grid(x, a.output)
    log.info(f"wrote {path}")
    return 0


def _csv_list(text: str, kind, what: str) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what} must be a comma-separated list of {kind.__name__}s, got {text!r}") from None
    if not values:
        raise UsageError(f"{what} is empty")
    return values


def cmd_embed(a: argparse.Namespace) -> int:
    from .viz.explore import embed, load_codes

    methods = _csv_list(a.method, str, "--method")
    perplexities = _csv_list(a.perplexity, float, "--perplexity")
    seeds = _csv_list(a.seeds, int, "--seeds")
    if a.max_points is not None and a.max_points < 2:
        raise UsageError(f"--max-points must be at least 2, got {a.max_points}")
    if a.thumbnails < 0:
        raise UsageError(f"--thumbnails must be 0 or more, got {a.thumbnails}")
    codes = load_codes(a.source, data=a.data, split=a.split, data_dir=a.data_dir, max_points=a.max_points, seed=seeds[0])
    out = Path(a.out or Path("embed") / Path(a.source.rstrip("/")).stem.replace(":", "-"))
    result = embed(codes, out, methods=methods, perplexities=perplexities, seeds=seeds, k=a.k,
                   thumbnails=a.thumbnails, tsne_options={"n_iter": a.n_iter, "backend": a.backend, "init": a.init})
    for m in result["maps"]:
        numbers = ", ".join(f"{k} {v:.3f}" for k, v in m.items() if k.startswith(("trust", "knn")))
        log.info(f"{m['name']}: {numbers} ({m['seconds']:.1f} s)")
    log.info(f"wrote {out}/ (index.html, embed.json, coordinates and PNG maps)")
    return 0


def cmd_interpolate(a: argparse.Namespace) -> int:
    import torch

    from . import load
    from .eval import encode_data
    from .viz import save_image_grid
    from .viz.latent import interpolate, traversal_grid

    if Path(a.output).suffix.lower() != ".png":
        raise UsageError(f"output {a.output} must end in .png")
    model = load(a.run)
    settings = {"run": a.run, "model": model.name}
    if a.traverse is not None:
        codes = None
        if a.prior is None:
            data = _run_data(a, model)
            codes = encode_data(model, data)
            settings.update(data=data.name, split=a.split, range="1 % to 99 % quantiles of the codes")
        images = traversal_grid(model, a.traverse, codes, a.prior)
        settings.update(traverse=a.traverse, prior=a.prior)
        nrow = a.traverse
    else:
        data = _run_data(a, model)
        for name, i in (("--from", a.i), ("--to", a.j)):
            if not 0 <= i < len(data):
                raise UsageError(f"{name} {i} is out of range: {data.name} ({a.split}) has {len(data)} samples")
        paths = ["linear", "slerp"] if a.path == "both" else [a.path]
        images = torch.cat([interpolate(model, data.x[a.i], data.x[a.j], a.steps, p) for p in paths])
        settings.update(data=data.name, split=a.split, **{"from": a.i, "to": a.j}, steps=a.steps, paths=paths)
        nrow = a.steps
    path = save_image_grid(images, a.output, nrow=nrow)
    Path(a.output).with_suffix(".json").write_text(json.dumps(settings, indent=2))
    log.info(f"wrote {path}")
    return 0


def _similarity_model(run: str):
    from . import load

    model = load(run)
    if not hasattr(model, "similarity_matrix"):
        raise UsageError(f"model {model.name!r} of {run} has no learnt similarity; train one with `reprlab train siamese`")
    return model


def cmd_oneshot(a: argparse.Namespace) -> int:
    from .data import load_dataset
    from .eval.oneshot import fewshot_accuracy, from_lake_runs, sample_tasks

    model = _similarity_model(a.run)
    if a.data:
        data = load_dataset(a.data, split=a.split, data_dir=a.data_dir, seed=model.run_config.train.seed)
        tasks = sample_tasks(data, a.way, a.shot, a.tasks, seed=a.seed, within=a.within)
        what = f"{a.tasks} random {tasks.n_way}-way {a.shot}-shot tasks from {data.name} ({a.split})"
    else:
        arg = f"omniglot-oneshot:{a.runs}" if a.runs else "omniglot-oneshot"
        tasks = from_lake_runs(load_dataset(arg, data_dir=a.data_dir))
        what = "Lake et al.'s 20-way one-shot runs"
    acc = fewshot_accuracy(model.similarity_matrix, tasks)
    result = {"run": a.run, "tasks": what, "mean_accuracy": float(acc.mean())}
    if tasks.names:
        result["per_run"] = {n: float(v) for n, v in zip(tasks.names, acc)}
    print(json.dumps(result, indent=2))
    return 0


def cmd_similar(a: argparse.Namespace) -> int:
    import torch

    from .data.user import load_image_folder, read_image

    if a.top < 1:
        raise UsageError(f"--top must be at least 1, got {a.top}")
    model = _similarity_model(a.run)
    gallery_dir = Path(a.gallery)
    if not gallery_dir.is_dir():
        raise UsageError(f"gallery {a.gallery} is not a folder; give a folder of images (or of class sub-folders)")
    gallery = load_image_folder(gallery_dir)
    files = gallery.meta["files"]
    query = read_image(Path(a.query), tuple(model.input_shape))
    if tuple(gallery.sample_shape) != tuple(model.input_shape):
        raise UsageError(f"gallery images have shape {gallery.sample_shape}, the model takes {model.input_shape}; resize them")
    invert = a.invert == "yes" or (a.invert == "auto" and model.run_config.data.name.startswith("omniglot"))
    x = 1 - gallery.x if invert else gallery.x  # Omniglot runs saw strokes as 1.0 on a 0.0 background
    query = 1 - query if invert else query
    scores = model.similarity_matrix(query[None], x)[0]
    order = torch.argsort(scores, descending=True)[: a.top]
    for rank, i in enumerate(order.tolist(), 1):
        print(f"{rank:3d}  {float(scores[i]):+.4f}  {files[i]}")
    if a.output:
        from .viz import save_image_grid

        save_image_grid(torch.cat([query[None], x[order]]), a.output, nrow=len(order) + 1)
        log.info(f"wrote {a.output}: the query, then the matches best first")
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    from .data import DATASETS, missing_files, resolve_data_dir

    root = resolve_data_dir(a.data_dir)
    print(f"data folder: {root.resolve()}  (set REPRLAB_DATA or --data-dir to change)")
    for name, spec in sorted(DATASETS.items()):
        if spec.embedded or not spec.files:
            status = "embedded" if spec.embedded else "user files"
        else:
            missing = missing_files(name, root)
            status = "present" if not missing else f"missing {len(missing)}/{len(spec.files)} files (e.g. {missing[0]})"
        print(f"  {name:<18} {status:<22} {spec.description}")
    print("  images:FOLDER      user files             a folder of images (class sub-folders give labels)")
    print("  PATH.npy|npz|csv   user files             an array file or a CSV of features (label column: label or y)")
    return 0


def _da_tasks(source: str, target: str) -> list[tuple[str, str]]:
    from .eval.domain_adaptation import DOMAINS, TASKS

    for role, d in (("source", source), ("target", target)):
        if d != "all" and d not in DOMAINS:
            raise UsageError(f"--{role} {d!r} is not a domain; choose {', '.join(DOMAINS)} or all")
    tasks = [(s, t) for s, t in TASKS if source in ("all", s) and target in ("all", t)]
    if not tasks:
        raise UsageError(f"source and target are both {source!r}: pick two different domains")
    return tasks


def cmd_da(a: argparse.Namespace) -> int:
    from .eval.domain_adaptation import run_tasks, summarize
    from .viz import plot_grouped_bars

    tasks = _da_tasks(a.source, a.target)
    methods = [m.strip() for m in a.method.split(",") if m.strip()]
    bad = [m for m in methods if m not in ("raw", "msda", "sda")]
    if bad or not methods:
        raise UsageError(f"--method {a.method!r}: use a comma-separated list of raw, msda, sda")
    if a.p is not None and not 0 <= a.p < 1:
        raise UsageError(f"--p must be in [0, 1), got {a.p}")
    if a.layers is not None and a.layers < 1:
        raise UsageError(f"--layers must be at least 1, got {a.layers}")
    fixed = {k: v for k, v in (("p", a.p), ("n_layers", a.layers)) if v is not None}
    out = Path(a.out)
    config = {"tasks": [list(t) for t in tasks], "methods": methods, "msda": fixed or "chosen on source labels",
              "data_dir": a.data_dir, "seed": a.seed}
    rows = run_tasks(tasks, methods, data_dir=a.data_dir, params={"msda": fixed}, seed=a.seed, progress=not a.quiet)
    summary = summarize(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "results.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    by_method = {m: {f"{r['source'][0]}→{r['target'][0]}": r["target_acc"] for r in rows if r["method"] == m} for m in methods}
    plot_grouped_bars(by_method, out / "figures" / "target_accuracy.png", ylabel="target accuracy",
                      title="Amazon reviews: source → target", baseline=0.5)
    for r in rows:
        print(f"{r['source']:>8} -> {r['target']:<8} {r['method']:<5} target acc {r['target_acc']:.4f}  "
              f"(fit {r['fit_seconds']:.2f} s{', ' + str(r['params']) if r['params'] else ''})")
    for m, s in summary.items():
        print(f"average {m:<5} {s['avg_target_acc']:.4f} over {s['tasks']} tasks, fit {s['fit_seconds']:.1f} s")
    log.info(f"wrote {out / 'results.json'}, {out / 'config.json'}, {out / 'figures' / 'target_accuracy.png'}")
    return 0


def cmd_dirac(a: argparse.Namespace) -> int:
    from .models.gan.dirac import MODES, PAPER_METHODS, dirac_method
    from .viz.dirac import plot_dirac

    if not a.output.endswith(".png"):
        raise UsageError(f"output {a.output} must end in .png")
    if a.mode not in (*MODES, "both"):
        raise UsageError(f"--mode {a.mode!r}: choose simultaneous, alternating or both")
    start = _csv_list(a.start, float, "--start")
    if len(start) != 2:
        raise UsageError(f"--start takes two numbers θ,ψ, got {a.start!r}")
    methods = list(PAPER_METHODS) if a.all else [dirac_method(a.loss, a.reg, a.gamma, a.clip, a.n_critic)]
    modes = MODES if a.mode == "both" else (a.mode,)
    analyses = plot_dirac(methods, a.output, steps=a.steps, lr=a.lr, start=start, modes=modes)
    summaries = [x.summary() for x in analyses]
    print(json.dumps(summaries if a.all else summaries[0], indent=2, ensure_ascii=False))
    log.info(f"wrote {a.output}")
    return 0


def cmd_stylize(a: argparse.Namespace) -> int:
    from .config import from_dict, read_config_file
    from .models.style import StyleConfig
    from .style_run import run_stylize

    if len(a.images) > 2 or (a.texture and len(a.images) != 1):
        raise UsageError(f"give CONTENT STYLE, or one STYLE image for a texture; got {len(a.images)} images")
    content, style = (None, a.images[0]) if len(a.images) == 1 else a.images
    values = dict(read_config_file(a.config)) if a.config else {}
    for flag, _, _ in STYLE_FLAGS + [("--preserve-color", None, None)]:
        key = flag[2:].replace("-", "_")
        if getattr(a, key) is not None:
            values[key] = getattr(a, key)
    for key, kind in (("style_layers", str), ("random_sizes", int)):
        if isinstance(values.get(key), str):
            values[key] = _csv_list(values[key], kind, "--" + key.replace("_", "-"))
    cfg = from_dict(StyleConfig, values, "stylize")
    sweep = _csv_list(a.sweep, float, "--sweep") if a.sweep else None
    name = "-".join(Path(p.split(":", 1)[-1]).stem for p in (content, style) if p)  # sklearn:china.jpg -> china
    run_dir = Path(a.run_dir or Path("runs") / (f"stylize-{name}" if content else f"texture-{name}"))
    results = run_stylize(cfg, content, style, a.output, run_dir, sweep=sweep, save_every=a.save_every, progress=not a.quiet)
    for r in results:
        log.info(f"style loss {r.initial_style_loss:.4g} -> {r.final_style_loss:.4g} ({r.style_loss_reduction:.3g}x) in {r.seconds:.1f}s")
    log.info(f"wrote {a.output}; run folder: {run_dir} (config.yaml, result.png, losses.csv, losses.json)")
    return 0


def cmd_tour(a: argparse.Namespace) -> int:
    from .report.tour import run_tour

    sections = [s.strip() for s in a.only.split(",")] if a.only else None
    report = run_tour(Path(a.out), quick=a.quick, only=sections, data_dir=a.data_dir, seed=a.seed)
    log.info(f"report: {report}")
    return 0


COMMANDS = {
    "train": cmd_train, "eval": cmd_eval, "encode": cmd_encode, "reconstruct": cmd_reconstruct,
    "sample": cmd_sample, "data": cmd_data, "da": cmd_da, "tour": cmd_tour, "embed": cmd_embed,
    "interpolate": cmd_interpolate, "oneshot": cmd_oneshot, "similar": cmd_similar, "dirac": cmd_dirac,
    "stylize": cmd_stylize,
}


def _option_flags(items: list[str]) -> list[str]:
    """Model/train options given as flags: ``--loss ns --gamma 10 --train.lr=1e-4`` ->
    ``["loss=ns", "gamma=10", "train.lr=1e-4"]`` (dashes in names become underscores); the config
    then checks every key and value."""
    out, i = [], 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or item == "--":
            raise UsageError(f"unrecognized argument {item!r}; options look like --key value or key=value")
        key, sep, value = item[2:].partition("=")
        if not sep:
            if i + 1 >= len(items) or items[i + 1].startswith("--"):
                raise UsageError(f"option --{key} needs a value (e.g. --{key} VALUE)")
            value, i = items[i + 1], i + 1
        out.append(f"{key.replace('-', '_')}={value}")
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(message)s", level=logging.INFO, stream=sys.stderr)
    # `reprlab train MODEL --help`: the model's options (argparse would only show the generic help).
    if len(argv) >= 3 and argv[0] == "train" and not argv[1].startswith("-") and ("-h" in argv or "--help" in argv):
        try:
            print(_options_help(argv[1]))
            return 0
        except ReprlabError as e:
            print(f"reprlab: error: {e}", file=sys.stderr)
            return e.exit_code
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come before or after options (argparse stops collecting them at
    # the first option).
    if args.command == "train":
        args.overrides += [x for x in extra if "=" in x and not x.startswith("-")]
        extra = [x for x in extra if not ("=" in x and not x.startswith("-"))]
        args.option_flags, extra = extra, []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.quiet:
        log.setLevel(logging.WARNING)
    try:
        if args.command == "train":
            args.overrides += _option_flags(args.option_flags)
        return COMMANDS[args.command](args)
    except ReprlabError as e:
        print(f"reprlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("reprlab: interrupted; `reprlab train ... --resume` continues from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
