"""Style transfer: cost of one optimization step over the bare feature network, and how far the
style loss falls in the standard number of steps.

Timing (interleaved, medians): one L-BFGS step of :func:`reprlab.models.style.image_optimizer`
(the feature network's forward and backward, the Gram matrices, the losses and the L-BFGS
update) against its floor, the bare forward + backward of the same feature network on the same
image (the layers the step needs; backward of the sum of their outputs). Rows:

- VGG-19 at 256 px — torchvision's architecture with *random-init weights* (no ImageNet weights
  offline; the cost of a step does not depend on the weights' values),
- the random multi-scale net (Ustyuzhaninov et al. 2017: sizes 3..55, 128 filters each) at 256 px
  and 512 px (VGG-19 is too slow on this CPU at 512 px for repeated timing).

Quality: :func:`reprlab.models.style.stylize` with the defaults (random multi-scale net, L-BFGS,
300 steps, α = 1, β = 1e3, start from the content image) on sklearn's china.jpg (content) and
flower.jpg (style) at 64 px (``--size``; the CLI's default 512 px would take hours on this CPU):
the final / initial style loss.

Headline keys: ``step_overhead_vs_feature_net`` (step / floor, the worst row; target <= 1.10) and
``style_loss_reduction`` (final / initial style loss, random net, transfer; target <= 0.01).

    python benchmarks/style_transfer.py            # full run (~9 min on one thread of a busy 2-core machine)
    python benchmarks/style_transfer.py --quick    # smoke run: 64/96 px, few repetitions, 30 steps
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import check_targets, command_line, interleaved, median, print_table, write_result  # noqa: E402

TARGETS = {"step_overhead_vs_feature_net": ("<=", 1.10), "style_loss_reduction": ("<=", 0.01)}


def time_row(net, content, style, size: int, reps: int, warmup: int) -> dict:
    """Interleaved timings of one optimization step and of the bare forward + backward at ``size``."""
    import torch

    from reprlab.models.style import StyleConfig, StyleObjective, image_optimizer, resize_longest

    c, s = resize_longest(content, size), resize_longest(style, size)
    objective = StyleObjective(net, StyleConfig(), c, s)  # targets P^l, A^l computed once, outside the timing
    _, step, _ = image_optimizer(objective, c, StyleConfig())
    x = c.clone().requires_grad_(True)

    def floor() -> None:
        x.grad = None
        out = net(x, objective.layers)
        sum(v.sum() for v in out.values()).backward()

    times = interleaved({"step": step, "floor": floor}, reps=reps, warmup=warmup)
    ms = {k: 1000 * median(v) for k, v in times.items()}
    return {"network": net.description, "size": size, "image": list(c.shape[-2:]), "step_ms": ms["step"],
            "floor_ms": ms["floor"], "overhead": ms["step"] / ms["floor"], "reps": reps,
            "step_times_s": times["step"], "floor_times_s": times["floor"], "threads": torch.get_num_threads()}


def quality_rows(content, style, size: int, steps: int, seed: int) -> list[dict]:
    """The default stylize run (transfer), random multi-scale net."""
    from reprlab.models.style import StyleConfig, stylize
    from reprlab.nets.feature_nets import RandomMultiScaleNet

    net = RandomMultiScaleNet(seed=seed)
    rows = []
    for mode, c, cfg in (("transfer", content, StyleConfig(size=size, steps=steps, seed=seed)),):
        r = stylize(net, c, style, cfg)
        rows.append({"network": r.network, "mode": mode, "size": size, "steps": steps, "seed": seed,
                     "initial_style_loss": r.initial_style_loss, "final_style_loss": r.final_style_loss,
                     "style_loss_reduction": r.style_loss_reduction, "final_content_loss": r.losses[-1]["content"],
                     "seconds": r.seconds, "style_weight": cfg.style_weight, "content_weight": cfg.content_weight})
        print(f"{mode}: style loss {r.initial_style_loss:.4g} -> {r.final_style_loss:.4g} "
              f"({r.style_loss_reduction:.4f}) in {r.seconds:.0f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: small images, 2 repetitions, 30 steps")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: on a shared machine, 2-thread timings are erratic)")
    p.add_argument("--size", type=int, help="image size of the quality run (default 64)")
    p.add_argument("--steps", type=int, default=300, help="steps of the quality run (default 300, the CLI's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print the table only, write no JSON")
    args = p.parse_args(argv)

    import torch

    from reprlab.data.photos import embedded_photo
    from reprlab.models.style import StyleConfig, stylize
    from reprlab.nets.feature_nets import RandomMultiScaleNet, VGG19Features

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    content, style = embedded_photo("china.jpg"), embedded_photo("flower.jpg")
    stylize(RandomMultiScaleNet((3,), 4), content, style, StyleConfig(size=16, steps=2))  # one-time imports, off the clock
    sizes = (64, 96) if args.quick else (256, 512)
    reps = (2, 2) if args.quick else (4, 2)
    vgg, rand = VGG19Features(), RandomMultiScaleNet(seed=args.seed)
    vgg.description = "VGG-19 (torchvision architecture, random-init weights: timing only, avg pooling)"
    rows = []
    for net, size, r, w in ((vgg, sizes[0], reps[0], 1), (rand, sizes[0], reps[0], 1), (rand, sizes[1], reps[1], 0)):
        t0 = time.perf_counter()
        rows.append(time_row(net, content, style, size, r, w))
        print(f"{rows[-1]['network'][:40]} {size} px: step {rows[-1]['step_ms']:.0f} ms, floor {rows[-1]['floor_ms']:.0f} ms, "
              f"x{rows[-1]['overhead']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print_table(rows, [("network", "network", ""), ("size", "px", "d"), ("step_ms", "step ms", ".0f"),
                       ("floor_ms", "fwd+bwd ms", ".0f"), ("overhead", "step / floor", ".3f")])
    quality = quality_rows(content, style, args.size or (32 if args.quick else 64), 30 if args.quick else args.steps, args.seed)
    headline = {
        "step_overhead_vs_feature_net": round(max(r["overhead"] for r in rows), 3),
        "style_loss_reduction": round(quality[0]["style_loss_reduction"], 5),
    }
    print("headline:", headline)
    targets = check_targets(headline, TARGETS)
    if not args.no_write:
        settings = {"threads": args.threads, "timing": "interleaved step / floor, medians; 1 warm-up round at 256 px, "
                    "none at 512 px (a global warm-up run comes first)", "quality_size": quality[0]["size"], "optimizer": "L-BFGS, history 100, 1 evaluation per step",
                    "images": "sklearn china.jpg (content), flower.jpg (style), longest side = size"}
        path = write_result("style_transfer", headline, rows + quality, command_line(), {"targets": targets, "settings": settings})
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
