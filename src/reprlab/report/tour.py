"""``reprlab tour``: the lecture's methods run on embedded data, reported in one HTML page.

Each section is a function registered with :func:`tour_section`; it trains through the same
pipeline as ``reprlab train`` (its runs land in ``<out>/runs/``, reusable with ``reprlab eval``)
and returns a :class:`~reprlab.report.html.Section`. A section that fails is reported in the page
with its error and the others still run. Later families add their own sections here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UsageError
from .html import Section, render_report

log = logging.getLogger("reprlab")


@dataclass
class TourContext:
    out: Path
    quick: bool
    seed: int
    data_dir: str | None

    def steps(self, full: int, quick: int = 60) -> int:
        return quick if self.quick else full

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name

    def figure(self, section: str, name: str) -> Path:
        p = self.out / "figures" / section / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


SECTIONS: dict[str, tuple[str, Callable[[TourContext, Section], None]]] = {}


def tour_section(key: str, title: str):
    """Register ``fn(ctx, section)`` as a tour section; it fills in the section it is given."""

    def deco(fn):
        SECTIONS[key] = (title, fn)
        return fn

    return deco


def _train(ctx: TourContext, name: str, model: str, overrides: list[tuple[str, object]]):
    from ..run import build_run_config, train

    base = [("train.seed", ctx.seed), ("train.progress", False), ("train.tensorboard", False)]
    if ctx.data_dir:
        base.append(("data.data_dir", ctx.data_dir))
    steps = dict(overrides).get("train.max_steps", 2000)
    base.append(("train.log_every", max(1, min(50, steps // 20))))
    rc = build_run_config(model, None, base + overrides)
    model_obj, result = train(rc, ctx.run_dir(name), overwrite=True)
    return rc, model_obj, result


def _pca_test_mse(train_x, test_x, k: int) -> float:
    """Per-coordinate test MSE of PCA with k components (the linear auto-encoder's optimum)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, svd_solver="full").fit(train_x)
    rec = pca.inverse_transform(pca.transform(test_x))
    return float(((rec - test_x) ** 2).mean())


@tour_section("autoencoder", "Auto-encoders on digits: x → h → x̂, squared error and cross-entropy, vs PCA")
def autoencoder_digits(ctx: TourContext, s: Section) -> None:
    from ..data import load_dataset
    from ..eval import reconstruction_metrics

    steps = ctx.steps(1500)
    test = load_dataset("digits", split="test", seed=ctx.seed)
    train_data = load_dataset("digits", split="train", seed=ctx.seed)
    k = 16
    s.summary = (
        "An MLP auto-encoder (64-256-64-16 and back) trained with the lecture's two reconstruction losses. "
        "PCA with the same number of components is the best any *linear* auto-encoder can do; the "
        "non-linear one should beat it on held-out digits."
    )
    s.settings = {"data": "digits (sklearn, 8x8), stratified 80/20 split", "code size d": k, "steps": steps,
                  "batch": 128, "optimizer": "Adam, lr 1e-3", "seed": ctx.seed}
    pca = _pca_test_mse(train_data.x.flatten(1).numpy(), test.x.flatten(1).numpy(), k)
    s.metrics.append({"metric": f"PCA({k}) test MSE per pixel", "value": pca, "reference": "linear optimum (sklearn)"})
    for loss in ("mse", "bce"):
        name = f"ae-{loss}-digits"
        _, model, result = _train(ctx, name, "ae", [("model.code_dim", k), ("model.loss", loss), ("train.max_steps", steps)])
        m = reconstruction_metrics(model, test)
        s.metrics.append({"metric": f"AE ({loss}) test MSE per pixel", "value": m["mse"],
                          "reference": f"{m['mse'] / pca:.2f}x PCA"})
        s.metrics.append({"metric": f"AE ({loss}) training throughput, samples/s", "value": result.samples_per_s})
        run = ctx.run_dir(name)
        s.figures.append((f"{loss}: held-out digits (rows 1, 3) and reconstructions (rows 2, 4)", run / "figures" / "reconstructions.png"))
        s.figures.append((f"{loss}: training and validation loss", run / "figures" / "loss.png"))


@tour_section("autoencoder-mnist", "Convolutional auto-encoder on MNIST (when MNIST is present)")
def autoencoder_mnist(ctx: TourContext, s: Section) -> None:
    from ..data import load_dataset, missing_files
    from ..eval import reconstruction_metrics

    if missing_files("mnist", ctx.data_dir):
        s.summary = "Skipped: MNIST is not in the data folder (set REPRLAB_DATA or --data-dir; `reprlab data` shows what is present)."
        return
    steps = ctx.steps(1500, 40)
    s.summary = "A convolutional auto-encoder (two stride-2 blocks, d = 32) with the cross-entropy loss on MNIST."
    s.settings = {"data": "MNIST train (60k), test (10k)", "code size d": 32, "steps": steps, "batch": 128, "seed": ctx.seed}
    _, model, _ = _train(ctx, "ae-conv-mnist", "ae", [
        ("data.name", "mnist"), ("model.arch", "conv"), ("model.code_dim", 32), ("model.loss", "bce"),
        ("train.max_steps", steps), ("train.val_every", 500),
    ])
    m = reconstruction_metrics(model, load_dataset("mnist", split="test", data_dir=ctx.data_dir))
    s.metrics.append({"metric": "test cross-entropy per image (nats)", "value": m["bce"]})
    s.metrics.append({"metric": "test MSE per pixel", "value": m["mse"]})
    run = ctx.run_dir("ae-conv-mnist")
    s.figures.append(("held-out digits and their reconstructions", run / "figures" / "reconstructions.png"))
    s.figures.append(("training and validation loss", run / "figures" / "loss.png"))


@tour_section("denoising", "Linear AE = PCA, and denoising auto-encoders on digits (masking noise)")
def denoising_digits(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset, parse_corruption
    from ..eval import subspace_agreement
    from ..viz import save_image_grid

    train_data = load_dataset("digits", split="train", seed=ctx.seed)
    test = load_dataset("digits", split="test", seed=ctx.seed)
    steps, k, noise = ctx.steps(1500, 400), 10, "masking:0.25"
    s.summary = (
        "A single-layer linear auto-encoder (tied weights, full-batch L-BFGS) spans the top-k principal "
        "subspace: the cosines of the principal angles to sklearn's PCA subspace are 1. Then a denoising "
        f"auto-encoder (q_D = {noise}: a quarter of the pixels zeroed) learns to fill in destroyed pixels; "
        "the plain auto-encoder of the same size, trained on clean digits only, does not."
    )
    s.settings = {"linear AE": f"k = {k}, tied, L-BFGS {ctx.steps(30, 10)} steps, float64, all training digits",
                  "DAE / AE": f"the MLP defaults of `reprlab train dae`, code size 16, {steps} Adam steps, batch 128",
                  "noise": noise, "seed": ctx.seed}
    _, lin, _ = _train(ctx, "linear-ae-digits", "ae", [
        ("model.hidden", []), ("model.activation", "linear"), ("model.code_dim", k), ("model.tied", True),
        ("train.optimizer", "lbfgs"), ("train.lr", 1.0), ("train.batch_size", len(train_data)),
        ("train.precision", "64-true"), ("train.max_steps", ctx.steps(30, 10)), ("data.val_fraction", 0.0),
    ])
    agree = subspace_agreement(lin, train_data.x)
    s.metrics.append({"metric": f"linear AE (k={k}): smallest cosine of the principal angles to PCA",
                      "value": agree["min_cosine_principal_angle"], "reference": "1 = the same subspace"})
    s.metrics.append({"metric": f"linear AE (k={k}): MSE / PCA's MSE", "value": agree["mse_ratio_to_pca"],
                      "reference": "1 = PCA's optimum"})
    models = {}
    for name, spec in (("dae", noise), ("ae", "none")):
        _, models[name], _ = _train(ctx, f"{name}-digits", "dae", [
            ("model.code_dim", 16), ("model.noise", spec), ("train.max_steps", steps)])
    x = test.x
    x_tilde = parse_corruption(noise, "noise")(x, torch.Generator().manual_seed(ctx.seed))
    s.metrics.append({"metric": "corrupted test digits: MSE to the clean ones", "value": float(((x_tilde - x) ** 2).mean()),
                      "reference": "doing nothing"})
    recs = {}
    for name, label in (("ae", "plain AE"), ("dae", "denoising AE")):
        with torch.no_grad():
            recs[name] = models[name].eval().reconstruct(x_tilde).clamp(0, 1)
        s.metrics.append({"metric": f"{label}: MSE of its reconstruction of the corrupted digits to the clean ones",
                          "value": float(((recs[name] - x) ** 2).mean())})
    n = 10
    grid = torch.cat([x[:n], x_tilde[:n], recs["ae"][:n], recs["dae"][:n]])
    path = save_image_grid(grid, ctx.figure("denoising", "denoising.png"), nrow=n)
    s.figures.append(("rows: clean test digits; masked (25 % of pixels zeroed); plain AE's reconstruction; "
                      "denoising AE's reconstruction", path))


@tour_section("latent", "Looking at codes: 2-D codes, PCA, t-SNE at several perplexities and seeds, morphing")
def latent_maps(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset
    from ..eval import encode_data, knn_accuracy, map_quality
    from ..viz import embed_2d, plot_map, plot_map_grid, save_image_grid, tsne_sweep
    from ..viz.latent import interpolate, traversal_grid

    data = load_dataset("digits", split="all", seed=ctx.seed)
    steps = ctx.steps(2000, 300)
    perplexities, seeds = ((5, 30), (0,)) if ctx.quick else ((5, 30, 100), (0, 1))
    s.summary = (
        "An auto-encoder with a 2-D code is its own map; a 16-D code needs PCA or t-SNE. Every map comes with "
        "its trustworthiness T(10) (1 = no false neighbours) and the 10-NN label accuracy in the map and in the "
        "codes. t-SNE is drawn at several perplexities and random starts side by side: what changes between "
        "panels (cluster sizes, gaps, positions) is not in the data. Morphing decodes the straight line between "
        "two codes, and the grid of decoded 2-D codes shows the manifold the decoder learnt."
    )
    s.settings = {"data": "all 1,797 digits", "AEs": f"MLP 64-256-64-d, d = 2 and 16, cross-entropy, {steps} Adam steps",
                  "t-SNE": f"openTSNE, perplexities {list(perplexities)}, random init, seeds {list(seeds)}", "seed": ctx.seed}
    runs = {}
    for d in (2, 16):
        _, runs[d], _ = _train(ctx, f"ae{d}-digits", "ae", [("model.code_dim", d), ("model.loss", "bce"), ("train.max_steps", steps)])
    images, labels = data.x.numpy(), data.y.numpy()
    z2, z16 = encode_data(runs[2], data).numpy(), encode_data(runs[16], data).numpy()
    for title, z, m in (("2-D codes", z2, embed_2d(z2, "codes")), ("16-D codes, PCA", z16, embed_2d(z16, "pca"))):
        q = map_quality(z, m.coords, labels)
        s.metrics.append({"metric": f"{title}: trustworthiness T(10)", "value": q["trustworthiness_k10"]})
        s.metrics.append({"metric": f"{title}: 10-NN accuracy in the map", "value": q["knn_accuracy_map"],
                          "reference": f"{q['knn_accuracy_codes']:.3f} in the codes"})
        path = plot_map(m, ctx.figure("latent", f"{m.method}-{z.shape[1]}d.png"), labels, quality=q, images=images,
                        thumbnails=40, title=f"{m.title}: AE with {z.shape[1]}-D codes")
        s.figures.append((f"{title}, coloured by digit, with thumbnails", path))
    maps = tsne_sweep(z16, perplexities, seeds, init="random", n_jobs=1)
    acc16 = knn_accuracy(z16, labels, 10)
    qs = [map_quality(z16, m.coords, labels, codes_accuracy=acc16) for m in maps]
    for m, q in zip(maps, qs):
        s.metrics.append({"metric": f"16-D codes, t-SNE perplexity {m.params['perplexity']:g} seed {m.params['seed']}: T(10)",
                          "value": q["trustworthiness_k10"], "reference": f"10-NN acc {q['knn_accuracy_map']:.3f}"})
    path = plot_map_grid(maps, ctx.figure("latent", "tsne-sweep.png"), labels, qualities=qs, ncols=len(perplexities),
                         title="t-SNE of the 16-D codes: rows = seeds, columns = perplexities")
    s.figures.append(("t-SNE do and don't: the same codes at several perplexities and random starts", path))
    pairs = [(int((labels == a).nonzero()[0][0]), int((labels == b).nonzero()[0][0])) for a, b in ((0, 6), (1, 7), (3, 8))]
    strip = torch.cat([interpolate(runs[16], data.x[i], data.x[j], 10) for i, j in pairs])
    s.figures.append(("morphing: decoded straight lines between the 16-D codes of 0→6, 1→7, 3→8",
                      save_image_grid(strip, ctx.figure("latent", "interpolation.png"), nrow=10)))
    grid = traversal_grid(runs[2], 15, torch.as_tensor(z2))
    s.figures.append(("decoded 2-D codes on a 15 x 15 grid over the codes' 1-99 % range (compare the 2-D map)",
                      save_image_grid(grid, ctx.figure("latent", "manifold.png"), nrow=15)))


@tour_section("siamese", "Siamese networks on digits: pairs, the contrastive loss, one-shot recognition")
def siamese_digits(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset
    from ..eval.oneshot import fewshot_accuracy, pixel_similarity, sample_tasks
    from ..viz import plot_grouped_bars, save_image_grid

    steps = ctx.steps(1500, 300)
    s.summary = (
        "Twin MLPs with shared weights learn a similarity from pairs of digits (same class or not, 2 dissimilar "
        "pairs per similar one) with Hadsell et al.'s contrastive loss. The learnt similarity then recognizes "
        "held-out digits from a single example per class (N-way one-shot), far better than nearest neighbours "
        "on pixels; Koch et al.'s convolutional version on Omniglot is `benchmarks/oneshot_omniglot.py`."
    )
    s.settings = {"twin": "MLP 64-128-32", "loss": "contrastive, margin 1", "pairs": "all similar pairs of the "
                  "training split, 2 dissimilar per similar", "steps": steps, "batch": "64 pairs", "seed": ctx.seed}
    _, model, _ = _train(ctx, "siamese-digits", "siamese", [
        ("model.loss", "contrastive"), ("model.hidden", [128]), ("model.embedding_dim", 32), ("model.margin", 1.0),
        ("model.val_way", 5), ("model.val_tasks", 100), ("train.max_steps", steps), ("train.batch_size", 64),
        ("train.val_every", max(100, steps // 3)),
    ])
    test = load_dataset("digits", split="test", seed=ctx.seed)
    bars: dict[str, dict[str, float]] = {"pixels, 1-NN": {}, "Siamese": {}}
    for way in (5, 10):
        tasks = sample_tasks(test, n_way=way, k_shot=1, n_tasks=300, seed=ctx.seed)
        for name, score in (("pixels, 1-NN", pixel_similarity), ("Siamese", model.similarity_matrix)):
            acc = float(fewshot_accuracy(score, tasks).mean())
            bars[name][f"{way}-way"] = acc
            s.metrics.append({"metric": f"{way}-way one-shot accuracy, {name}", "value": acc, "reference": f"chance {1 / way:.2f}"})
    s.figures.append(("one-shot accuracy on held-out digits (300 tasks each)", plot_grouped_bars(
        bars, ctx.figure("siamese", "oneshot.png"), ylabel="accuracy", title="N-way one-shot, digits test split")))
    gallery = load_dataset("digits", split="train", seed=ctx.seed)
    queries = test.x[:8]
    best = model.similarity_matrix(queries, gallery.x).topk(7, dim=1).indices  # (8, 7)
    grid = torch.cat([torch.cat([queries[i : i + 1], gallery.x[best[i]]]) for i in range(8)])
    s.figures.append(("search: each row is a held-out digit, then its 7 most similar training digits",
                      save_image_grid(grid, ctx.figure("siamese", "search.png"), nrow=8)))


@tour_section("vae", "Variational auto-encoder on digits: ELBO, importance-weighted likelihood, samples, 2-D manifold")
def vae_digits(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset
    from ..eval.likelihood import iwae_nll
    from ..viz import save_image_grid

    steps, k = ctx.steps(3000, 300), ctx.steps(1000, 50)
    s.summary = (
        "A VAE with a 2-D latent code (Kingma & Welling 2014): q(z|x) = N(μ, diag σ²), z = μ + σ ⊙ ε, "
        "Bernoulli decoder, loss = cross-entropy + KL(q ‖ N(0, I)). The ELBO bounds log p(x) from below; the "
        f"importance-weighted estimate with k = {k} samples is tighter. Samples come from the prior; the manifold "
        "decodes a grid of Φ⁻¹ quantiles, as in the paper's Fig. 4. (The pixel values of digits are grey "
        "levels, so these are cross-entropies, not likelihoods of binary images; `benchmarks/vae_mnist.py` has MNIST.)"
    )
    s.settings = {"data": "digits (8x8, [0, 1])", "VAE": "MLP 64-512-512-2 and back, Bernoulli decoder", "steps": steps,
                  "batch": 128, "IWAE k": k, "seed": ctx.seed}
    _, model, result = _train(ctx, "vae2-digits", "vae", [
        ("model.latent_dim", 2), ("train.max_steps", steps), ("train.val_every", max(100, steps // 3))])
    test = load_dataset("digits", split="test", seed=ctx.seed)
    with torch.no_grad():
        v = model.validate(test)
    s.metrics.append({"metric": "test negative ELBO, nats per image", "value": v["nelbo"], "reference": "upper bound on −log p(x)"})
    s.metrics.append({"metric": "test KL(q(z|x) ‖ p(z)), nats", "value": v["kl"]})
    s.metrics.append({"metric": f"test −log p(x), IWAE k={k}, nats", "value": iwae_nll(model, test, k, seed=ctx.seed),
                      "reference": "≤ the negative ELBO"})
    run = ctx.run_dir("vae2-digits")
    s.figures.append(("samples from the prior, decoded", run / "figures" / "samples.png"))
    s.figures.append(("decoded 2-D manifold (15 x 15 grid of Φ⁻¹ quantiles)", run / "figures" / "manifold.png"))
    s.figures.append(("held-out digits (rows 1, 3) and reconstructions at the posterior mean (rows 2, 4)",
                      run / "figures" / "reconstructions.png"))


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run the block with ``n`` torch threads (None: unchanged), restoring the number after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _style_network(quick: bool):
    """VGG-19 when torchvision's ImageNet weights are already on disk (never downloaded here), else
    the untrained random multi-scale net (smaller in quick mode)."""
    import torch
    from torchvision.models import VGG19_Weights

    from ..nets.features import RandomMultiScaleNet, build_feature_net

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_Weights.IMAGENET1K_V1.url).name
    if cached.is_file():
        return build_feature_net("vgg19", str(cached))
    return RandomMultiScaleNet((3, 5, 7, 11), 16) if quick else RandomMultiScaleNet()


@tour_section("style", "Style transfer (Gatys et al.): content of one photograph, style (Gram matrices) of another")
def style_transfer(ctx: TourContext, s: Section) -> None:
    import dataclasses

    from ..data.photos import embedded_photo
    from ..models.style import StyleConfig

    content, style = embedded_photo("china.jpg"), embedded_photo("flower.jpg")
    net = _style_network(ctx.quick)
    cfg = StyleConfig(size=ctx.steps(96, 48), steps=ctx.steps(100, 60), seed=ctx.seed)
    betas = [1e1, 1e2, 1e3]
    sweep_cfg = dataclasses.replace(cfg, size=ctx.steps(64, 40), steps=ctx.steps(60, 30))
    with _torch_threads(1 if ctx.quick else None):  # 40-48 px: one thread is faster (far faster on a busy machine)
        _style_transfer_figures(ctx, s, net, content, style, cfg, sweep_cfg, betas)


def _style_transfer_figures(ctx: TourContext, s: Section, net, content, style, cfg, sweep_cfg, betas) -> None:
    import dataclasses

    from ..models.style import stylize, style_sweep
    from ..style_run import sweep_figure
    from ..viz import plot_image_row

    s.summary = (
        "Find the image x minimizing α·L_content(x, x₀) + β·L_style(x, x₁): the content is one layer's features, the "
        "style the Gram matrices G^l = F^l (F^l)ᵀ of several layers, E_l = Σ (G^l − A^l)² / (4 N_l² M_l²). "
        f"Feature network: {net.description}. Without VGG-19's ImageNet weights on disk the tour uses one layer of "
        "untrained random filters at several scales, which Ustyuzhaninov et al. (2017) showed is enough for textures; "
        "texture synthesis is the style-only case (α = 0, start from noise). The sweep grows β (decreasing α/β)."
    )
    s.settings = {"feature network": net.description, "content x₀": "sklearn china.jpg", "style x₁": "sklearn flower.jpg",
                  "size (longest side)": cfg.size, "optimizer": f"L-BFGS, {cfg.steps} steps from the content image",
                  "α, β": f"{cfg.content_weight:g}, {cfg.style_weight:g}",
                  "sweep": f"β = {', '.join(f'{b:g}' for b in betas)} at {sweep_cfg.size} px, {sweep_cfg.steps} steps",
                  "seed": ctx.seed}
    result = stylize(net, content, style, cfg)
    texture = stylize(net, None, style, dataclasses.replace(cfg, init="noise", content_weight=0.0))
    s.metrics.append({"metric": "style loss reduction (final / initial L_style)", "value": result.style_loss_reduction,
                      "reference": f"{result.initial_style_loss:.4g} → {result.final_style_loss:.4g}"})
    s.metrics.append({"metric": "texture: style loss reduction from noise", "value": texture.style_loss_reduction})
    s.metrics.append({"metric": "final content loss L_content", "value": result.losses[-1]["content"]})
    s.metrics.append({"metric": "feature network", "value": net.description})
    path = plot_image_row([content, style, result.image, texture.image], ["content x₀", "style x₁", "result", "texture (style only)"],
                          ctx.figure("style", "transfer.png"), title=net.description)
    s.figures.append(("content, style, their transfer, and a texture synthesized from the style alone", path))
    results = style_sweep(net, content, style, sweep_cfg, betas)
    s.figures.append(("decrease α/β: results as the style weight β grows",
                      sweep_figure(content, style, results, betas, ctx.figure("style", "sweep.png"), cfg.content_weight)))


@tour_section("domain-adaptation", "mSDA for domain adaptation on Amazon reviews (when the data is present)")
def domain_adaptation(ctx: TourContext, s: Section) -> None:
    from ..data import missing_files
    from ..eval.domain_adaptation import TASKS, run_tasks, summarize
    from ..viz import plot_grouped_bars

    if missing_files("amazon-reviews", ctx.data_dir):
        s.summary = "Skipped: amazon_reviews_400/ is not in the data folder (set REPRLAB_DATA or --data-dir)."
        return
    tasks = TASKS[:2] if ctx.quick else TASKS
    params = {"p": 0.5, "n_layers": 3}
    s.summary = (
        "Sentiment of reviews, learnt on one product domain and tested on another. mSDA is fitted in closed form "
        "on the unlabelled reviews of both domains; a linear SVM on [x; h1; h2; h3] trained on the source "
        "transfers better than on the raw bag of words. (Fixed p and L here; `benchmarks/msda_amazon.py` "
        "chooses them on source labels and adds the gradient-trained SDA.)"
    )
    s.settings = {"tasks": len(tasks), "mSDA": params, "classifier": "LinearSVC, C by 3-fold CV on source", "seed": ctx.seed}
    rows = run_tasks(tasks, ["raw", "msda"], data_dir=ctx.data_dir, params={"msda": params}, seed=ctx.seed, progress=False)
    for m, v in summarize(rows).items():
        s.metrics.append({"metric": f"{m}: average target accuracy", "value": v["avg_target_acc"],
                          "reference": f"{v['tasks']} tasks, representation fit {v['fit_seconds']:.1f} s in all"})
    by_method = {m: {f"{r['source'][0]}→{r['target'][0]}": r["target_acc"] for r in rows if r["method"] == m}
                 for m in ("raw", "msda")}
    path = plot_grouped_bars(by_method, ctx.figure("domain-adaptation", "target_accuracy.png"), ylabel="target accuracy",
                             title="Amazon reviews: source → target", baseline=0.5)
    s.figures.append(("target accuracy per task, raw features vs mSDA", path))


def run_tour(out: Path, *, quick: bool = False, only: list[str] | None = None, data_dir: str | None = None, seed: int = 0) -> Path:
    """Run the tour's sections and write ``<out>/report.html``; returns its path."""
    if only:
        unknown = [k for k in only if k not in SECTIONS]
        if unknown:
            raise UsageError(f"unknown tour section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    keys = only or list(SECTIONS)
    data_dir = data_dir or os.environ.get("REPRLAB_DATA")
    ctx = TourContext(Path(out), quick, seed, data_dir)
    ctx.out.mkdir(parents=True, exist_ok=True)
    done: list[Section] = []
    for i, key in enumerate(keys, 1):
        title, fn = SECTIONS[key]
        log.info(f"[{i}/{len(keys)}] {title} ...")
        section = Section(key, title)
        t0 = time.perf_counter()
        try:
            fn(ctx, section)
        except Exception as e:  # a failed section is reported, the others still run
            section.error = f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}"
            log.info(f"    failed: {type(e).__name__}: {e}")
        section.seconds = time.perf_counter() - t0
        done.append(section)
        log.info(f"    {'failed' if section.error else 'done'} in {section.seconds:.1f}s")
    report = render_report(
        done, ctx.out / "report.html", "reprlab tour",
        f"{'quick' if quick else 'default'} budget, seed {seed}",
    )
    _print_summary(done)
    return report


def _print_summary(sections: list[Section]) -> None:
    lines = ["", f"{'section':<22} {'status':<8} {'time':>7}  key numbers"]
    for s in sections:
        nums = "; ".join(
            f"{m['metric']}: {m['value']:.4g}" if isinstance(m["value"], float) else f"{m['metric']}: {m['value']}"
            for m in s.metrics[:3]
        )
        status = "failed" if s.error else ("skipped" if s.summary.startswith("Skipped") else "ok")
        lines.append(f"{s.key:<22} {status:<8} {s.seconds:>6.1f}s  {nums}")
    print("\n".join(lines))

from . import tour_adversarial  # noqa: E402,F401  (registers the gan and aae sections)
