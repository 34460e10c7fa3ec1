"""The pipelines behind ``reprlab embed`` and ``reprlab interpolate``: codes from anything that
has them, maps and their numbers, pictures, and a folder that says what was done.

A *source* of codes is one of
  * a run folder (``runs/ae-mnist``): the model encodes a data set (the run's, or ``data``);
  * a features file (``.npy``; ``.npz`` with ``x``/``y`` or ``codes``/``labels``, as written by
    ``reprlab encode``; ``.csv`` with a ``label`` column): the rows are the codes;
  * a data set name (``digits``, ``mnist``, ``images:FOLDER``): the raw pixels are the codes.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import UsageError
from ..files import atomic_open, ensure_dir, write_json
from ..viz.embed import METHODS, Map2D, embed_2d, subsample, tsne_sweep

log = logging.getLogger("reprlab")


@dataclass
class Codes:
    """Codes (N, d) with their labels, class names, images (N, C, H, W) when there are any, and
    the ``index`` of each point in the source data set."""

    codes: np.ndarray
    labels: np.ndarray | None = None
    classes: list[str] | None = None
    images: np.ndarray | None = None
    index: np.ndarray | None = None
    source: str = ""
    info: dict = field(default_factory=dict)


def is_run(path: str | os.PathLike) -> bool:
    return Path(path).is_dir() and (Path(path) / "config.yaml").is_file()


def load_codes(
    source: str, *, data: str | None = None, split: str = "test", data_dir: str | None = None,
    max_points: int | None = None, seed: int = 0,
) -> Codes:
    """The codes of ``source`` (see the module docstring), at most ``max_points`` of them (a
    seeded subsample, kept in order)."""
    from ..data import load_dataset

    if is_run(source):
        from ..eval import encode_data
        from .training import load

        model = load(source)
        if not model.can_encode:
            raise UsageError(f"model {model.name!r} of run {source} cannot encode; map a run of an encoder, a features file or a data set")
        rc = model.run_config
        ds = load_dataset(data or rc.data.name, split=split, data_dir=data_dir or rc.data.data_dir, seed=rc.train.seed)
        idx = subsample(len(ds), max_points, seed)
        ds_sub = ds.subset(torch.as_tensor(idx))
        codes = encode_data(model, ds_sub).numpy().reshape(len(idx), -1)
        info = {"kind": "run", "model": model.name, "data": ds.name, "split": split}
    else:
        if Path(source).is_dir():
            raise UsageError(f"{source} is a folder but not a reprlab run (no config.yaml); for images use images:{source}")
        is_file = Path(source).suffix.lower() in (".npy", ".npz", ".csv")
        ds = load_dataset(source if not is_file else f"file:{source}", split="all" if is_file else split,
                          data_dir=data_dir, seed=seed)
        idx = subsample(len(ds), max_points, seed)
        ds_sub = ds.subset(torch.as_tensor(idx))
        codes = ds_sub.x.reshape(len(idx), -1).double().numpy()
        info = {"kind": "features" if is_file else "pixels", "data": ds.name, "split": "all" if is_file else split}
    return Codes(
        codes=codes,
        labels=None if ds_sub.y is None else ds_sub.y.cpu().numpy(),
        classes=list(ds.classes) if getattr(ds, "classes", None) else None,
        images=ds_sub.x.cpu().float().numpy() if ds_sub.is_image else None,
        index=idx, source=str(source), info={**info, "n_points": len(idx), "latent_dim": int(codes.shape[1])},
    )


def _write_coords(path: Path, the_map: Map2D, c: Codes) -> None:
    """``<name>.npy`` (N, 2) float64 and ``<name>.csv`` (index, x, y[, label])."""
    with atomic_open(path.with_suffix(".npy"), "wb") as f:  # a file object: np.save adds no second suffix
        np.save(f, the_map.coords)
    with atomic_open(path.with_suffix(".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "x", "y"] + (["label"] if c.labels is not None else []))
        for i, (x, y) in enumerate(the_map.coords):
            w.writerow([int(c.index[i]), f"{x:.6g}", f"{y:.6g}"] + ([int(c.labels[i])] if c.labels is not None else []))


def _map_name(m: Map2D, many: bool) -> str:
    if m.method == "tsne" and many:
        return f"tsne-p{m.params['perplexity']:g}-s{m.params['seed']}"
    return m.method


def embed(
    c: Codes, out: str | os.PathLike, *, methods: Sequence[str] = ("tsne",), perplexities: Sequence[float] = (30,),
    seeds: Sequence[int] = (0,), k: int = 10, thumbnails: int = 0, tsne_options: dict | None = None,
) -> dict:
    """Maps of ``c`` by each method (``auto``: the codes themselves when 2-D, else t-SNE; t-SNE:
    every perplexity x seed), their numbers
    (:func:`reprlab.eval.neighbors.map_quality`) and pictures, written into ``out``:
    ``<map>.npy``/``.csv`` coordinates, ``<map>.png``, ``tsne-sweep.png`` for several t-SNE
    maps, ``embed.json`` (the resolved settings and every number) and ``index.html``."""
    from ..eval.neighbors import knn_accuracy, map_quality
    from ..viz.html import Section, render_report
    from ..viz.maps import plot_map, plot_map_grid

    methods = [("codes" if c.codes.shape[1] == 2 else "tsne") if m == "auto" else m for m in methods]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UsageError(f"unknown map method {unknown[0]!r}; choose among {', '.join(METHODS)}")
    if thumbnails and c.images is None:
        raise UsageError("thumbnails need images; this source has feature vectors (drop --thumbnails)")
    if not 1 <= k < len(c.codes) / 2:
        raise UsageError(f"k = {k} neighbours needs more than {2 * k} points, got {len(c.codes)}; use a smaller --k")
    out = Path(out)
    ensure_dir(out)
    maps: list[Map2D] = []
    for method in methods:
        if method == "tsne":
            maps += tsne_sweep(c.codes, perplexities, seeds, **(tsne_options or {}))
        else:
            maps.append(embed_2d(c.codes, method, seed=seeds[0]))
    many_tsne = sum(m.method == "tsne" for m in maps) > 1
    records, qualities = [], []
    section = Section("maps", f"2-D maps of {c.source}", summary=_summary(c))
    codes_acc = knn_accuracy(c.codes, c.labels, k) if c.labels is not None else None  # the same for every map
    for m in maps:
        q = map_quality(c.codes, m.coords, c.labels, k, codes_accuracy=codes_acc)
        qualities.append(q)
        name = _map_name(m, many_tsne)
        _write_coords(out / name, m, c)
        png = plot_map(m, out / f"{name}.png", c.labels, classes=c.classes, quality=q, images=c.images,
                       thumbnails=thumbnails, seed=seeds[0])
        records.append({"name": name, "method": m.method, "params": m.params, "seconds": m.seconds, **q,
                        "files": [f"{name}.npy", f"{name}.csv", png.name]})
        section.figures.append((m.title, png))
        section.metrics += [{"metric": f"{name}: {key}", "value": v} for key, v in q.items() if "codes" not in key]
    if c.labels is not None and records:
        section.metrics.append({"metric": f"{k}-NN accuracy in the {c.codes.shape[1]}-D codes", "value": qualities[0]["knn_accuracy_codes"]})
    if many_tsne:
        tsne = [(m, q) for m, q in zip(maps, qualities) if m.method == "tsne"]
        sweep = plot_map_grid([m for m, _ in tsne], out / "tsne-sweep.png", c.labels, classes=c.classes,
                              qualities=[q for _, q in tsne], ncols=len(perplexities),
                              title=f"t-SNE of {len(c.codes)} codes: rows = seeds {list(seeds)}, columns = perplexities {list(perplexities)}")
        section.figures.insert(0, ("t-SNE, several perplexities and seeds: read only what every panel shows", sweep))
    result = {"source": c.source, **c.info, "k": k, "methods": list(methods), "perplexities": list(perplexities),
              "seeds": list(seeds), "thumbnails": thumbnails, "maps": records}
    write_json(out / "embed.json", result)
    render_report([section], out / "index.html", title="reprlab embed", subtitle=c.source)
    return result


def _summary(c: Codes) -> str:
    what = {"run": f"codes of model {c.info.get('model')} on {c.info.get('data')} ({c.info.get('split')})",
            "features": "rows of a features file", "pixels": f"raw pixels of {c.info.get('data')} ({c.info.get('split')})"}
    return (f"{len(c.codes)} points, {c.codes.shape[1]}-D: {what.get(c.info.get('kind'), c.source)}. "
            "T(k) is the trustworthiness (1 = no false neighbours in the map); k-NN accuracy is the leave-one-out "
            "label accuracy of the k nearest points, in the map and in the codes: a map cannot create class structure "
            "that the codes lack. t-SNE cluster sizes and gaps carry little meaning.")
