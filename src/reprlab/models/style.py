r"""Neural style transfer and texture synthesis (Gatys, Ecker & Bethge 2015, 2016).

Find the image x minimizing

    L(x) = α L_content(x, x₀) + β L_style(x, x₁) + γ TV(x)

where, for a feature network with feature maps F^l (N_l filters x M_l positions) at layer l,

    L_content = 1/(2 N_l M_l) Σ_ij (F^l_ij(x) − P^l_ij)²          P^l = F^l(x₀), one layer
    G^l = F^l (F^l)ᵀ                                             the Gram matrix (correlations)
    E_l = 1/(4 N_l² M_l²) Σ_ij (G^l_ij − A^l_ij)²                A^l = G^l(x₁)
    L_style = Σ_l w_l E_l                                        w_l = 1 / (number of style layers)

Texture synthesis is the style-only case (α = 0, start from noise). Decreasing α/β moves the
result from the photograph towards the painting (the lecture's "decrease α/β" figure); see
:func:`style_sweep`. Options: L-BFGS (default) or Adam; start from the content image or noise;
colour preservation by luminance-only transfer (Gatys et al. 2016, "Preserving colour in neural
artistic style transfer"); a coarse-to-fine image pyramid.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import option
from ..errors import ConfigError, UsageError
from ..nets.feature_nets import RANDOM_SIZES, FeatureNet


# ----------------------------------------------------------------------------- the losses
class _Gram(torch.autograd.Function):
    """G = F Fᵀ with the backward ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F: one product where autograd's
    generic matmul backward takes two (the Gram matrices are most of a step's cost beyond the
    feature network)."""

    @staticmethod
    def forward(ctx, f: Tensor) -> Tensor:  # f: (B, N, M)
        ctx.save_for_backward(f)
        return f @ f.transpose(1, 2)  # (B, N, N)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (f,) = ctx.saved_tensors
        return (grad + grad.transpose(1, 2)) @ f  # (B, N, M)


def gram_matrix(features: Tensor) -> Tensor:
    """G^l = F^l (F^l)ᵀ, i.e. G_ij = Σ_k F_ik F_jk over the M_l positions k.

    (B, N, H, W) -> (B, N, N); not normalized (the 1/(4 N² M²) is in :func:`style_layer_loss`).
    """
    return _Gram.apply(features.flatten(2))  # flatten: (B, N, M)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """L_content = 1/(2 N_l M_l) Σ_ij (F^l_ij − P^l_ij)², averaged over the batch.

    Gatys et al.'s ½ Σ (F − P)², divided by N_l M_l so that α/β does not depend on the image size.
    ``features``, ``target``: (B, N, H, W).
    """
    n, m = features.shape[1], features.shape[2] * features.shape[3]
    return ((features - target) ** 2).sum() / (2 * n * m * features.shape[0])


def style_layer_loss(features: Tensor, target_gram: Tensor) -> Tensor:
    """E_l = 1/(4 N_l² M_l²) Σ_ij (G^l_ij − A^l_ij)², averaged over the batch.

    ``features``: (B, N, H, W); ``target_gram`` A^l: (B, N, N) or (1, N, N).
    """
    n, m = features.shape[1], features.shape[2] * features.shape[3]
    return ((gram_matrix(features) - target_gram) ** 2).sum() / (4 * n * n * m * m * features.shape[0])


def style_loss(features: dict[str, Tensor], target_grams: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    """L_style = Σ_l w_l E_l over the style layers l (the keys of ``target_grams``)."""
    return sum(weights[name] * style_layer_loss(features[name], a) for name, a in target_grams.items())


def total_variation(x: Tensor) -> Tensor:
    """TV(x) = 1/(C H W) Σ_cij (x_c,i+1,j − x_c,i,j)² + (x_c,i,j+1 − x_c,i,j)², averaged over the batch.

    The squared total variation (Mahendran & Vedaldi 2015) that smooths the image; x: (B, C, H, W).
    """
    dh = (x[..., 1:, :] - x[..., :-1, :]) ** 2
    dw = (x[..., :, 1:] - x[..., :, :-1]) ** 2
    return (dh.sum() + dw.sum()) / x.numel()


# ----------------------------------------------------------------------------- colour
_RGB_TO_YUV = torch.tensor([[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]])


def rgb_to_yuv(x: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> YUV (BT.601): Y the luminance, U and V the chroma."""
    return torch.einsum("ij,bjhw->bihw", _RGB_TO_YUV.to(x), x)


def yuv_to_rgb(x: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_yuv`."""
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_YUV.double()).to(x), x)


def match_luminance(style: Tensor, content: Tensor) -> Tensor:
    """Y_s' = (Y_s − μ_s) σ_c / σ_s + μ_c: the style's luminance with the content's mean and spread
    (Gatys et al. 2016, luminance-only transfer), as a grey (B, 3, H, W) image."""
    ys, yc = rgb_to_yuv(style)[:, :1], rgb_to_yuv(content)[:, :1]
    y = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-8)) + yc.mean()
    return y.expand(-1, 3, -1, -1)


# ----------------------------------------------------------------------------- the optimization
@dataclass
class StyleConfig:
    """Settings of one style-transfer (or texture) run; validated once at the edge (CLI, YAML)."""

    network: Literal["auto", "vgg19", "random"] = option("auto", "feature network: vgg19, random (multi-scale, untrained), auto (vgg19 if weights given)")
    weights: str | None = option(None, "VGG-19 weights file in torchvision's format (.pth/.safetensors); none: torchvision's download")
    pooling: Literal["avg", "max"] = option("avg", "VGG-19 pooling (Gatys et al.: avg)")
    content_layer: str | None = option(None, "content layer (default: conv4_2 for VGG-19, the middle scale for random)")
    style_layers: tuple[str, ...] | None = option(None, "style layers (default: conv1_1..conv5_1 for VGG-19, every scale for random)")
    style_layer_weights: tuple[float, ...] | None = option(None, "w_l per style layer (default: equal, summing to 1)", ge=0)
    random_sizes: tuple[int, ...] = option(RANDOM_SIZES, "filter sizes of the random multi-scale net", ge=1)
    random_filters: int = option(128, "random filters per size", ge=1)
    content_weight: float = option(1.0, "α, weight of the content loss (0: texture synthesis)", ge=0)
    style_weight: float = option(1e3, "β, weight of the style loss", ge=0)
    tv_weight: float = option(0.0, "γ, weight of the total-variation smoothing term", ge=0)
    optimizer: Literal["lbfgs", "adam"] = option("lbfgs", "L-BFGS (Gatys et al.) or Adam")
    lr: float | None = option(None, "step size (default: 1 for L-BFGS, 0.02 for Adam)", gt=0)
    steps: int = option(300, "optimization steps (one feature-network evaluation each) per pyramid level", ge=1)
    size: int = option(512, "longest side of the result in pixels", ge=16)
    pyramid: int = option(1, "levels of the coarse-to-fine pyramid (size / 2^k, ..., size)", ge=1)
    recompute: bool = option(False, "VGG-19: recompute activations between the loss layers in backward "
                             "(gradient checkpointing): less memory for >= 1024 px, about one more forward per step")
    init: Literal["content", "noise"] = option("content", "start from the content image or from noise")
    preserve_color: bool = option(False, "luminance-only transfer: keep the content's colours")
    seed: int = option(0, "seed of the noise start and of the random net")
    device: str = option("cpu", "cpu, cuda, cuda:1, mps or auto")


@dataclass
class StyleResult:
    """What :func:`stylize` returns: the image, the loss history and what produced it."""

    image: Tensor  # (1, 3, H, W) in [0, 1]
    network: str  # the feature network's description: say which one was used
    losses: list[dict] = field(default_factory=list)  # {level, step, total, content, style, tv} per step
    initial_style_loss: float = math.nan  # L_style of the start image (finest level)
    final_style_loss: float = math.nan  # L_style of the returned image (finest level)
    seconds: float = 0.0

    @property
    def style_loss_reduction(self) -> float:
        """final / initial style loss (smaller is better; NaN when the start already matches)."""
        return self.final_style_loss / self.initial_style_loss if self.initial_style_loss else math.nan


def resolve_layers(net: FeatureNet, cfg: StyleConfig, with_content: bool = True) -> tuple[str, dict[str, float]]:
    """(content layer, {style layer: w_l}) of ``cfg`` on ``net``; a one-line error for a bad layer or weight list."""
    content = cfg.content_layer or net.default_content
    style = tuple(cfg.style_layers or net.default_style)
    w = cfg.style_layer_weights or (1.0 / len(style),) * len(style)
    if len(w) != len(style):
        raise ConfigError(f"style_layer_weights has {len(w)} values for {len(style)} style layers")
    net.check_layers(style + ((content,) if with_content else ()))
    return content, dict(zip(style, w))


class StyleObjective:
    """L(x) for fixed x₀ and x₁ at one size: the targets P^l and A^l are computed once."""

    def __init__(self, net: FeatureNet, cfg: StyleConfig, content: Tensor | None, style: Tensor) -> None:
        self.net, self.cfg = net, cfg
        net.recompute = cfg.recompute
        self.use_content = content is not None and cfg.content_weight > 0
        self.content_layer, self.layer_weights = resolve_layers(net, cfg, self.use_content)
        self.style_layers = tuple(self.layer_weights)
        self.layers = set(self.style_layers) | ({self.content_layer} if self.use_content else set())
        with torch.no_grad():
            self.grams = {k: gram_matrix(v) for k, v in net(style, self.style_layers).items()}  # A^l: (1, N, N)
            self.target = net(content, [self.content_layer])[self.content_layer] if self.use_content else None

    def __call__(self, x: Tensor) -> dict[str, Tensor]:
        """The loss terms at x (1, 3, H, W): ``{"total", "content", "style", "tv"}``."""
        feats = self.net(x, self.layers)
        terms = {"style": style_loss(feats, self.grams, self.layer_weights)}
        terms["content"] = content_loss(feats[self.content_layer], self.target) if self.use_content else x.new_zeros(())
        terms["tv"] = total_variation(x) if self.cfg.tv_weight > 0 else x.new_zeros(())
        terms["total"] = self.cfg.content_weight * terms["content"] + self.cfg.style_weight * terms["style"] + self.cfg.tv_weight * terms["tv"]
        return terms


def resize_longest(x: Tensor, size: int) -> Tensor:
    """(B, C, H, W) resized (bilinear, antialiased) so that its longest side is ``size``."""
    h, w = x.shape[-2:]
    s = size / max(h, w)
    return F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear", antialias=True, align_corners=False)


def image_optimizer(objective: StyleObjective, x0: Tensor, cfg: StyleConfig, level: int = 0,
                    on_step: Callable[[dict, Tensor], None] | None = None) -> tuple[Tensor, Callable[[], None], list[dict]]:
    """``(x, step, history)``: each ``step()`` evaluates L at x once (forward + backward of the
    feature network) and updates x in place; ``history`` collects one loss row per evaluation.

    L-BFGS (history 100, no line search, one evaluation per step, as Gatys et al.'s code) or
    Adam. The pixels are free during the optimization (clamping at every step, a projected
    method, stalls L-BFGS: its curvature pairs stop being consistent).
    """
    x = x0.detach().clone().requires_grad_(True)
    if cfg.optimizer == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=cfg.lr or 1.0, max_iter=1, history_size=100, tolerance_grad=0, tolerance_change=0)
    else:
        opt = torch.optim.Adam([x], lr=cfg.lr or 0.02)
    history: list[dict] = []

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        terms = objective(x)
        terms["total"].backward()
        row = {"level": level, "step": len(history) + 1, **{k: float(v.detach()) for k, v in terms.items()}}
        history.append(row)
        if on_step is not None:
            on_step(row, x.detach())
        return terms["total"]

    return x, lambda: opt.step(closure), history


def optimize_image(objective: StyleObjective, x0: Tensor, cfg: StyleConfig, level: int = 0,
                   on_step: Callable[[dict, Tensor], None] | None = None) -> tuple[Tensor, list[dict]]:
    """Minimize ``objective`` over the pixels from ``x0`` for ``cfg.steps`` feature-network
    evaluations (:func:`image_optimizer`); returns the image clamped to [0, 1] and the loss rows."""
    x, step, history = image_optimizer(objective, x0, cfg, level, on_step)
    while len(history) < cfg.steps:
        step()
    return x.detach().clamp(0, 1), history


def level_sizes(cfg: StyleConfig) -> list[int]:
    """Longest sides of the pyramid's levels, coarse to fine: size / 2^(pyramid-1), ..., size (≥ 16)."""
    sizes = [max(16, cfg.size // 2 ** k) for k in reversed(range(cfg.pyramid))]
    return sorted(set(sizes))


def check_image_sizes(cfg: StyleConfig, net: FeatureNet, **images: Tensor | None) -> None:
    """Refuse, in one line, an image whose short side falls under the network's ``min_side`` at the
    pyramid's coarsest level (a panorama at a small ``size``), where the network would fail."""
    coarsest, need = level_sizes(cfg)[0], net.min_side
    for name, img in images.items():
        if img is None:
            continue
        h, w = img.shape[-2:]
        short = round(min(h, w) * coarsest / max(h, w))
        if short < need:
            raise UsageError(
                f"the {name} image ({h}x{w}) is only {short} px on its short side at {coarsest} px on the long side "
                f"(the pyramid's coarsest level); {net.description} needs {need}: raise --size, use fewer "
                "--pyramid levels, or crop the image"
            )


def stylize(net: FeatureNet, content: Tensor | None, style: Tensor, cfg: StyleConfig,
            on_step: Callable[[dict, Tensor], None] | None = None) -> StyleResult:
    """Transfer the style of ``style`` onto ``content`` (texture synthesis when ``content`` is None).

    ``content``, ``style``: (1, 3, H, W) in [0, 1], any size (each pyramid level resizes them to
    its longest side). Deterministic given ``cfg.seed``. With ``preserve_color`` the transfer runs
    on luminance only and the result takes the content's chroma (U, V). ``on_step(row, x)`` is
    called after every feature-network evaluation (progress bar, intermediate images).
    """
    check_image_sizes(cfg, net, content=content, style=style)
    t0 = time.perf_counter()
    device = next(net.buffers()).device
    content = None if content is None else content.to(device)
    style = style.to(device)
    colour = content if cfg.preserve_color else None
    if colour is not None:  # luminance-only transfer: both images become grey, Y_s matched to Y_c
        style, content = match_luminance(style, content), rgb_to_yuv(content)[:, :1].expand(-1, 3, -1, -1)
    g = torch.Generator().manual_seed(cfg.seed)
    reference = content if content is not None else style
    x = start = None
    losses: list[dict] = []
    for level, size in enumerate(level_sizes(cfg)):
        c = None if content is None else resize_longest(content, size)
        objective = StyleObjective(net, cfg, c, resize_longest(style, size))
        shape = resize_longest(reference, size).shape  # (1, 3, h, w) of this level
        if x is not None:
            x = F.interpolate(x, size=shape[-2:], mode="bilinear", align_corners=False)
        else:
            x = start = c.clone() if cfg.init == "content" and c is not None else torch.rand(shape, generator=g).to(device)
        x, history = optimize_image(objective, x, cfg, level, on_step)
        losses += history
    with torch.no_grad():  # both measured by the finest level's objective
        initial = float(objective(F.interpolate(start, size=x.shape[-2:], mode="bilinear", align_corners=False))["style"])
        final = float(objective(x)["style"])
    if colour is not None:
        x = combine_luminance(x, resize_longest(colour, max(x.shape[-2:])))
    return StyleResult(x, net.description, losses, initial, final, time.perf_counter() - t0)


def combine_luminance(grey: Tensor, colour: Tensor) -> Tensor:
    """The luminance Y of ``grey`` with the chroma (U, V) of ``colour``, back in RGB, clamped to [0, 1]."""
    yuv = rgb_to_yuv(colour)
    yuv = torch.cat([rgb_to_yuv(grey)[:, :1], yuv[:, 1:]], dim=1)
    return yuv_to_rgb(yuv).clamp(0, 1)


def style_sweep(net: FeatureNet, content: Tensor, style: Tensor, cfg: StyleConfig, style_weights: list[float],
                on_step: Callable[[dict, Tensor], None] | None = None) -> list[StyleResult]:
    """One :func:`stylize` per β in ``style_weights`` (α fixed): the lecture's "decrease α/β" row."""
    return [stylize(net, content, style, dataclasses.replace(cfg, style_weight=float(b)), on_step) for b in style_weights]
