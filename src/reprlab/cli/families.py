"""Family commands outside the trainer: mSDA domain adaptation, the Dirac-GAN, style transfer."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import UsageError
from ..files import ensure_dir, write_json

log = logging.getLogger("reprlab")

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
from .common import _csv_list


def _da_tasks(source: str, target: str) -> list[tuple[str, str]]:
    from ..eval.domain_adaptation import DOMAINS, TASKS

    for role, d in (("source", source), ("target", target)):
        if d != "all" and d not in DOMAINS:
            raise UsageError(f"--{role} {d!r} is not a domain; choose {', '.join(DOMAINS)} or all")
    tasks = [(s, t) for s, t in TASKS if source in ("all", s) and target in ("all", t)]
    if not tasks:
        raise UsageError(f"source and target are both {source!r}: pick two different domains")
    return tasks


def cmd_da(a: argparse.Namespace) -> int:
    from ..pipelines.domain_adaptation import run_da

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
    rows, summary = run_da(tasks, methods, out, data_dir=a.data_dir, params={"msda": fixed}, seed=a.seed,
                           progress=not a.quiet, config=config)
    for r in rows:
        print(f"{r['source']:>8} -> {r['target']:<8} {r['method']:<5} target acc {r['target_acc']:.4f}  "
              f"(fit {r['fit_seconds']:.2f} s{', ' + str(r['params']) if r['params'] else ''})")
    for m, s in summary.items():
        print(f"average {m:<5} {s['avg_target_acc']:.4f} over {s['tasks']} tasks, fit {s['fit_seconds']:.1f} s")
    log.info(f"wrote {out / 'results.json'}, {out / 'config.json'}, {out / 'figures' / 'target_accuracy.png'}")
    return 0


def cmd_dirac(a: argparse.Namespace) -> int:
    from ..models.gan.dirac import MODES, PAPER_METHODS, dirac_method
    from ..viz.dirac import plot_dirac

    if not a.output.endswith(".png"):
        raise UsageError(f"output {a.output} must end in .png")
    ensure_dir(Path(a.output).parent)
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
    from ..config import from_dict, read_config_file
    from ..models.style import StyleConfig
    from ..pipelines.stylize import run_stylize

    if len(a.images) > 2 or (a.texture and len(a.images) != 1):
        raise UsageError(f"give CONTENT STYLE, or one STYLE image for a texture; got {len(a.images)} images")
    content, style = (None, a.images[0]) if len(a.images) == 1 else a.images
    values = dict(read_config_file(a.config)) if a.config else {}
    for flag, _, _ in STYLE_FLAGS + [("--preserve-color", None, None), ("--recompute", None, None)]:
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
