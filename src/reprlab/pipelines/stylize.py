"""``reprlab stylize``: a style-transfer (or texture, or α/β sweep) run with its run folder.

The run folder holds, like any training run, the resolved ``config.yaml`` (with the feature
network named), ``result.png``, ``losses.csv`` and ``losses.json`` (every step, and the style
loss reduction), ``intermediate/step-NNNNN.png`` every ``save_every`` steps, and for a sweep
``sweep.png`` and one ``sweep/beta-<β>.png`` per style weight.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import shutil
from pathlib import Path

import torch
import yaml

from .._version import __version__
from ..config import to_dict
from ..data.photos import read_photo
from ..errors import UsageError
from ..files import atomic_open, atomic_path, ensure_dir, write_json, write_text
from ..models.style import StyleConfig, StyleResult, check_image_sizes, level_sizes, resolve_layers, stylize
from ..nets.feature_nets import FeatureNet, build_feature_net

log = logging.getLogger("reprlab")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda, mps or cpu; a device that is not there is a one-line UsageError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"device {name!r} is not a device; use cpu, cuda, cuda:N, mps or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available() or device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"device {name!r} is not available on this machine; use cpu or auto")
    return device


def build_net(cfg: StyleConfig) -> FeatureNet:
    """The feature network of ``cfg`` on its device, in eval mode."""
    net = build_feature_net(cfg.network, cfg.weights, cfg.pooling, cfg.random_sizes, cfg.random_filters, cfg.seed)
    return net.to(resolve_device(cfg.device))


def save_png(image: torch.Tensor, path: str | os.PathLike, info: dict[str, str]) -> Path:
    """Write a (1, 3, H, W) image in [0, 1] as PNG with ``info`` as text chunks, atomically."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    path = Path(path)
    meta = PngInfo()
    for k, v in info.items():
        meta.add_text(k, v)
    a = (image[0].detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8")  # (H, W, 3)
    with atomic_path(path) as tmp:
        Image.fromarray(a).save(tmp, format="PNG", pnginfo=meta)
    return path


def write_losses(result: StyleResult, run_dir: Path, stem: str = "losses") -> None:
    """``<stem>.csv`` (one row per step) and ``<stem>.json`` (the rows and the summary)."""
    cols = ["level", "step", "total", "content", "style", "tv"]
    with atomic_open(run_dir / f"{stem}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows({k: r[k] for k in cols} for r in result.losses)
    summary = {"network": result.network, "initial_style_loss": result.initial_style_loss,
               "final_style_loss": result.final_style_loss, "style_loss_reduction": result.style_loss_reduction,
               "seconds": result.seconds, "steps": len(result.losses)}
    write_json(run_dir / f"{stem}.json", {"summary": summary, "steps": result.losses}, indent=1)


class _Progress:
    """The ``on_step`` hook: a tqdm bar (loss, rate) and an intermediate image every ``every`` steps."""

    def __init__(self, total: int, run_dir: Path, every: int, show: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="stylize", unit="step", disable=not show, dynamic_ncols=True)
        self.run_dir, self.every, self.count = run_dir, every, 0

    def __call__(self, row: dict, x: torch.Tensor) -> None:
        self.count += 1
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{row['total']:.4g}", style=f"{row['style']:.3g}", refresh=False)
        if self.every and self.count % self.every == 0:
            save_png(x.clamp(0, 1), self.run_dir / "intermediate" / f"step-{self.count:05d}.png", {})


def run_stylize(cfg: StyleConfig, content: str | None, style: str, output: str | os.PathLike, run_dir: str | os.PathLike,
                *, sweep: list[float] | None = None, save_every: int = 0, progress: bool = True) -> list[StyleResult]:
    """Read the images, build the network, run :func:`stylize` (once, or once per β of ``sweep``),
    and write ``output`` (the image, or the sweep figure) and the run folder. Texture synthesis
    when ``content`` is None."""
    if Path(output).suffix.lower() != ".png":
        raise UsageError(f"output {output} must end in .png")
    if sweep is not None and content is None:
        raise UsageError("--sweep varies α/β between a content and a style image; give a CONTENT image")
    if save_every < 0:
        raise UsageError(f"--save-every must be 0 or more, got {save_every}")
    content_x = None if content is None else read_photo(content)
    style_x = read_photo(style)
    if content is None:
        cfg = dataclasses.replace(cfg, init="noise", content_weight=0.0)
    net = build_net(cfg)
    resolve_layers(net, cfg, content is not None and cfg.content_weight > 0)  # bad layers fail before any output
    check_image_sizes(cfg, net, content=content_x, style=style_x)  # so do images too small for the net
    log.info(f"feature network: {net.description}")
    run_dir = ensure_dir(run_dir)
    ensure_dir(Path(output).parent)  # both folders fail before the (long) optimization
    resolved = {"reprlab_version": __version__, "mode": "texture" if content is None else "sweep" if sweep else "transfer",
                "content": content, "style": style, "network": net.description, "sweep": sweep,
                "save_every": save_every, "output": str(output), "config": to_dict(cfg)}
    write_text(run_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    hook = _Progress(cfg.steps * len(level_sizes(cfg)) * len(sweep or [0]), run_dir, save_every, progress)
    info = {"reprlab:network": net.description, "reprlab:config": json.dumps(to_dict(cfg))}
    try:  # the progress bar is closed even when a step fails (e.g. out of memory)
        if sweep is None:
            results = [stylize(net, content_x, style_x, cfg, hook)]
            save_png(results[0].image, run_dir / "result.png", info)
            save_png(results[0].image, output, info)
            write_losses(results[0], run_dir)
        else:
            results = [stylize(net, content_x, style_x, dataclasses.replace(cfg, style_weight=b), hook) for b in sweep]
            for b, r in zip(sweep, results):
                save_png(r.image, run_dir / "sweep" / f"beta-{b:g}.png", {**info, "reprlab:style_weight": f"{b:g}"})
                write_losses(r, run_dir / "sweep", f"losses-beta-{b:g}")
            figure = sweep_figure(content_x, style_x, results, sweep, run_dir / "sweep.png", cfg.content_weight)
            with atomic_path(output) as tmp:
                shutil.copyfile(figure, tmp)
    finally:
        hook.bar.close()
    return results


def sweep_figure(content: torch.Tensor, style: torch.Tensor, results: list[StyleResult], style_weights: list[float],
                 path: str | os.PathLike, content_weight: float = 1.0) -> Path:
    """The lecture's "decrease α/β" row: content, style, then the results as β grows."""
    from ..viz import plot_image_row

    images = [content, style] + [r.image for r in results]
    titles = ["content x₀", "style x₁"] + [f"α/β = {content_weight / b:.0e}" if b else "β = 0" for b in style_weights]
    return plot_image_row(images, titles, path, title=f"α = {content_weight:g}, β growing; {results[0].network}")
