"""Commands that look at what a run learnt: maps, morphing, one-shot recognition, similarity search."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import UsageError
from ..files import ensure_dir, write_json

log = logging.getLogger("reprlab")
from .common import _run_data, _csv_list, _similarity_model


def cmd_embed(a: argparse.Namespace) -> int:
    from ..pipelines.embed import embed, load_codes

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

    from .. import load
    from ..eval import encode_data
    from ..viz import save_image_grid
    from ..viz.latent import interpolate, traversal_grid

    if Path(a.output).suffix.lower() != ".png":
        raise UsageError(f"output {a.output} must end in .png")
    ensure_dir(Path(a.output).parent)  # a file in the way fails before the model is loaded
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
    write_json(Path(a.output).with_suffix(".json"), settings)
    log.info(f"wrote {path}")
    return 0


def cmd_oneshot(a: argparse.Namespace) -> int:
    from ..data import load_dataset
    from ..data.fewshot import sample_tasks

    model = _similarity_model(a.run)
    if a.data:
        data = load_dataset(a.data, split=a.split, data_dir=a.data_dir, seed=model.run_config.train.seed)
        tasks = sample_tasks(data, a.way, a.shot, a.tasks, seed=a.seed, within=a.within)
        what = f"{a.tasks} random {tasks.n_way}-way {a.shot}-shot tasks from {data.name} ({a.split})"
    else:
        arg = f"omniglot-oneshot:{a.runs}" if a.runs else "omniglot-oneshot"
        tasks = load_dataset(arg, data_dir=a.data_dir)
        what = "Lake et al.'s 20-way one-shot runs"
    if tasks.k_shot > 1:  # k-shot: the similarity of a query to each class's prototype (mean code)
        acc = tasks.prototype_accuracy(model.scoring_codes, model.code_similarity)
        rule = "prototypes: the class of the most similar mean code of its shots"
    else:
        acc = tasks.accuracy(model.similarity_matrix)
        rule = "the class of the most similar shot"
    result = {"run": a.run, "tasks": what, "rule": rule, "mean_accuracy": float(acc.mean())}
    if tasks.names:
        result["per_run"] = {n: float(v) for n, v in zip(tasks.names, acc)}
    print(json.dumps(result, indent=2))
    return 0


def cmd_similar(a: argparse.Namespace) -> int:
    import torch

    from ..data.user import load_image_folder, read_image

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
        from ..viz import save_image_grid

        save_image_grid(torch.cat([query[None], x[order]]), a.output, nrow=len(order) + 1)
        log.info(f"wrote {a.output}: the query, then the matches best first")
    return 0
