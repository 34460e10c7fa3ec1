"""The tour's sections on learnt representations: maps of codes and morphing, style transfer,
Siamese similarity, VAEs. Listed in :data:`reprlab.report.tour.SECTIONS`."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..viz.html import Section
from .sections import TourContext, add_metric, tour_section, train_for_section


@tour_section("latent", "Looking at codes: 2-D codes, PCA, metric MDS, t-SNE at several perplexities and seeds, morphing")
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
        "An auto-encoder with a 2-D code is its own map; a 16-D code needs PCA, metric MDS (SMACOF: keep all "
        "pairwise distances) or t-SNE (keep the neighbours). Every map comes with "
        "its trustworthiness T(10) (1 = no false neighbours) and the 10-NN label accuracy in the map and in the "
        "codes. t-SNE is drawn at several perplexities and random starts side by side: what changes between "
        "panels (cluster sizes, gaps, positions) is not in the data. Morphing decodes the straight line between "
        "two codes, and the grid of decoded 2-D codes shows the manifold the decoder learnt."
    )
    s.settings = {"data": "all 1,797 digits", "AEs": f"MLP 64-256-64-d, d = 2 and 16, cross-entropy, {steps} Adam steps",
                  "MDS": f"scikit-learn SMACOF from classical MDS, {ctx.steps(100, 30)} iterations",
                  "t-SNE": f"openTSNE, perplexities {list(perplexities)}, random init, seeds {list(seeds)}", "seed": ctx.seed}
    runs = {}
    for d in (2, 16):
        _, runs[d], _ = train_for_section(ctx, f"ae{d}-digits", "ae", [("model.latent_dim", d), ("model.loss", "bce"), ("train.max_steps", steps)])
    images, labels = data.x.numpy(), data.y.numpy()
    z2, z16 = encode_data(runs[2], data).numpy(), encode_data(runs[16], data).numpy()
    for tag, title, z, m in (("codes2d", "2-D codes", z2, embed_2d(z2, "codes")),
                             ("codes16_pca", "16-D codes, PCA", z16, embed_2d(z16, "pca")),
                             ("codes16_mds", "16-D codes, metric MDS", z16,
                              embed_2d(z16, "mds", seed=ctx.seed, max_iter=ctx.steps(100, 30)))):
        q = map_quality(z, m.coords, labels)
        add_metric(s, f"{tag}_trustworthiness", f"{title}: trustworthiness T(10)", q["trustworthiness_k10"])
        add_metric(s, f"{tag}_knn_acc_map", f"{title}: 10-NN accuracy in the map", q["knn_accuracy_map"],
                   f"{q['knn_accuracy_codes']:.3f} in the codes", knn_acc_codes=q["knn_accuracy_codes"])
        path = plot_map(m, ctx.figure("latent", f"{m.method}-{z.shape[1]}d.png"), labels, quality=q, images=images,
                        thumbnails=40, title=f"{m.title}: AE with {z.shape[1]}-D codes")
        s.figures.append((f"{title}, coloured by digit, with thumbnails", path))
    maps = tsne_sweep(z16, perplexities, seeds, init="random", n_jobs=1)
    acc16 = knn_accuracy(z16, labels, 10)
    qs = [map_quality(z16, m.coords, labels, codes_accuracy=acc16) for m in maps]
    for m, q in zip(maps, qs):
        add_metric(s, f"tsne_perplexity{m.params['perplexity']:g}_seed{m.params['seed']}_trustworthiness",
                   f"16-D codes, t-SNE perplexity {m.params['perplexity']:g} seed {m.params['seed']}: T(10)",
                   q["trustworthiness_k10"], f"10-NN acc {q['knn_accuracy_map']:.3f}", knn_acc_map=q["knn_accuracy_map"])
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


@tour_section("siamese", "Siamese networks: one-shot recognition on Lake's Omniglot runs (digits when Omniglot is absent)")
def siamese(ctx: TourContext, s: Section) -> None:
    """Omniglot when its small background sets and Lake's runs are in the data folder, digits otherwise."""
    from ..data import missing_files

    if missing_files("omniglot", ctx.data_dir) or missing_files("omniglot-oneshot", ctx.data_dir):
        siamese_digits(ctx, s)
    else:
        siamese_omniglot(ctx, s)


def siamese_omniglot(ctx: TourContext, s: Section) -> None:
    from ..data import load_dataset
    from ..eval.oneshot import fewshot_accuracy, pixel_cosine_similarity, pixel_similarity
    from ..viz import plot_grouped_bars, save_image_grid
    from ..viz.oneshot import oneshot_answer_rows

    steps = ctx.steps(300, 100)
    s.summary = (
        "`reprlab train siamese --data omniglot` with its recipe: twin 4-block convnets (28 px) trained with "
        "NT-Xent over all pairs of a batch of 64 characters x 2 drawings of the small background sets "
        "(10 alphabets), rotated characters as new classes, affine distortions. It is scored on Lake et al.'s "
        "20 one-shot runs: 20-way, within alphabets never seen in training. The tour trains for 300 steps; "
        "`benchmarks/oneshot_omniglot.py` trains the same recipe for 5,000 steps (its numbers are in the README)."
    )
    _, model, result = train_for_section(ctx, "siamese-omniglot", "siamese", [
        ("data.name", "omniglot"), ("model.val_tasks", 20), ("train.max_steps", steps), ("train.warmup_steps", min(100, steps // 5)),
        ("train.val_every", steps), ("train.checkpoint_every", steps),
    ])
    s.settings = {"data": "Omniglot images_background_small1 + small2", "recipe": "SiameseNet.recipes['omniglot']",
                  "steps": result.steps, "batch": "64 characters x 2 drawings", "test": "Lake et al.'s 20 runs", "seed": ctx.seed}
    runs = load_dataset("omniglot-oneshot", data_dir=ctx.data_dir)
    model.eval()
    bars: dict[str, dict[str, float]] = {"20-way one-shot": {}}
    for tag, name, score, ref in (
            ("pixels_euclidean", "pixels\nEuclidean 1-NN", pixel_similarity, None),
            ("pixels_cosine", "pixels\ncosine 1-NN", pixel_cosine_similarity, "lecture: 1-NN 21.7 %"),
            ("siamese", f"Siamese\n{result.steps} steps", model.similarity_matrix, "lecture: convolutional Siamese net 92.0 %")):
        acc = float(fewshot_accuracy(score, runs).mean())
        bars["20-way one-shot"][name] = acc
        add_metric(s, f"lake20_{tag}", f"Lake's 20 runs, {name.replace(chr(10), ', ')}", acc, ref)
    s.figures.append(("accuracy on Lake's 20 runs (chance 0.05)", plot_grouped_bars(
        bars, ctx.figure("siamese", "lake20.png"), ylabel="accuracy", title="20-way one-shot, Lake's runs", baseline=0.05)))
    rows, per_row = oneshot_answer_rows(model.similarity_matrix, runs, n=6, width=5)  # frames visible on 105 px
    s.figures.append(("the first test drawing of six of Lake's runs (grey), then one drawing of each of the run's 20 "
                      "characters; the Siamese net's choice is framed green when right, red when wrong (the right one "
                      "then blue)", save_image_grid(rows, ctx.figure("siamese", "lake-runs.png"), nrow=per_row)))


def siamese_digits(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset
    from ..data.fewshot import sample_tasks
    from ..eval.oneshot import fewshot_accuracy, pixel_similarity
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
    _, model, _ = train_for_section(ctx, "siamese-digits", "siamese", [
        ("model.loss", "contrastive"), ("model.hidden", [128]), ("model.latent_dim", 32), ("model.margin", 1.0),
        ("model.val_way", 5), ("model.val_tasks", 100), ("train.max_steps", steps), ("train.batch_size", 64),
        ("train.val_every", max(100, steps // 3)),
    ])
    test = load_dataset("digits", split="test", seed=ctx.seed)
    bars: dict[str, dict[str, float]] = {"pixels, 1-NN": {}, "Siamese": {}}
    for way in (5, 10):
        tasks = sample_tasks(test, n_way=way, k_shot=1, n_tasks=300, seed=ctx.seed)
        for name, tag, score in (("pixels, 1-NN", "pixels", pixel_similarity), ("Siamese", "siamese", model.similarity_matrix)):
            acc = float(fewshot_accuracy(score, tasks).mean())
            bars[name][f"{way}-way"] = acc
            add_metric(s, f"oneshot_{way}way_{tag}", f"{way}-way one-shot accuracy, {name}", acc, f"chance {1 / way:.2f}",
                       chance=1 / way)
    s.figures.append(("one-shot accuracy on held-out digits (300 tasks each)", plot_grouped_bars(
        bars, ctx.figure("siamese", "oneshot.png"), ylabel="accuracy", title="N-way one-shot, digits test split")))
    from ..viz.oneshot import oneshot_answer_rows

    shown = sample_tasks(test, n_way=5, k_shot=1, n_tasks=6, seed=ctx.seed + 1)
    rows, per_row = oneshot_answer_rows(model.similarity_matrix, shown)
    s.figures.append(("six 5-way one-shot tasks: the held-out query (grey), then one example of each of 5 classes; "
                      "the Siamese net's choice is framed green when right, red when wrong (the right one then blue)",
                      save_image_grid(rows, ctx.figure("siamese", "tasks.png"), nrow=per_row, scale=4)))
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

    steps, k = ctx.steps(2000, 300), ctx.steps(1000, 50)
    s.summary = (
        "A VAE with a 2-D latent code (Kingma & Welling 2014): q(z|x) = N(μ, diag σ²), z = μ + σ ⊙ ε, "
        "Bernoulli decoder, loss = cross-entropy + KL(q ‖ N(0, I)). The ELBO bounds log p(x) from below; the "
        f"importance-weighted estimate with k = {k} samples is tighter. Samples come from the prior; the manifold "
        "decodes a grid of Φ⁻¹ quantiles, as in the paper's Fig. 4. (The pixel values of digits are grey "
        "levels, so these are cross-entropies, not likelihoods of binary images; `benchmarks/vae_mnist.py` has MNIST.)"
    )
    s.settings = {"data": "digits (8x8, [0, 1])", "VAE": "MLP 64-512-512-2 and back, Bernoulli decoder", "steps": steps,
                  "batch": 128, "IWAE k": k, "seed": ctx.seed}
    _, model, result = train_for_section(ctx, "vae2-digits", "vae", [
        ("model.latent_dim", 2), ("train.max_steps", steps), ("train.val_every", max(100, steps // 3))])
    test = load_dataset("digits", split="test", seed=ctx.seed)
    with torch.no_grad():
        v = model.validate(test)
    add_metric(s, "test_nelbo", "test negative ELBO, nats per image", v["nelbo"], "upper bound on −log p(x)")
    add_metric(s, "test_kl", "test KL(q(z|x) ‖ p(z)), nats", v["kl"])
    add_metric(s, "test_iwae_nll", f"test −log p(x), IWAE k={k}, nats", iwae_nll(model, test, k, seed=ctx.seed),
               "≤ the negative ELBO")
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

    from ..nets.feature_nets import RandomMultiScaleNet, build_feature_net

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_Weights.IMAGENET1K_V1.url).name
    if cached.is_file():
        return build_feature_net("vgg19", str(cached))
    # the library's default net (8 sizes up to 55 px, 128 filters each) takes minutes here: the tour
    # drops the two largest filters and halves the count (`reprlab stylize` keeps the default)
    return RandomMultiScaleNet((3, 5, 7, 11), 16) if quick else RandomMultiScaleNet((3, 5, 7, 11, 15, 23, 37), 64)


@tour_section("style", "Style transfer (Gatys et al.): content of one photograph, style (Gram matrices) of another")
def style_transfer(ctx: TourContext, s: Section) -> None:
    import dataclasses

    from ..data.photos import embedded_photo
    from ..models.style import StyleConfig

    content, style = embedded_photo("china.jpg"), embedded_photo("flower.jpg")
    net = _style_network(ctx.quick)
    cfg = StyleConfig(size=ctx.steps(80, 48), steps=ctx.steps(80, 60), seed=ctx.seed)
    betas = [1e1, 1e2, 1e3]
    sweep_cfg = dataclasses.replace(cfg, size=ctx.steps(56, 40), steps=ctx.steps(50, 30))
    with _torch_threads(1 if ctx.quick else None):  # 40-48 px: one thread is faster (far faster on a busy machine)
        _style_transfer_figures(ctx, s, net, content, style, cfg, sweep_cfg, betas)


def _style_transfer_figures(ctx: TourContext, s: Section, net, content, style, cfg, sweep_cfg, betas) -> None:
    import dataclasses

    from ..models.style import stylize, style_sweep
    from ..pipelines.stylize import sweep_figure
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
    add_metric(s, "style_loss_reduction", "style loss reduction (final / initial L_style)", result.style_loss_reduction,
               f"{result.initial_style_loss:.4g} → {result.final_style_loss:.4g}",
               initial_style_loss=result.initial_style_loss, final_style_loss=result.final_style_loss)
    add_metric(s, "texture_style_loss_reduction", "texture: style loss reduction from noise", texture.style_loss_reduction)
    add_metric(s, "final_content_loss", "final content loss L_content", result.losses[-1]["content"])
    add_metric(s, "feature_network", "feature network", net.description)
    path = plot_image_row([content, style, result.image, texture.image], ["content x₀", "style x₁", "result", "texture (style only)"],
                          ctx.figure("style", "transfer.png"), title=net.description)
    s.figures.append(("content, style, their transfer, and a texture synthesized from the style alone", path))
    results = style_sweep(net, content, style, sweep_cfg, betas)
    s.figures.append(("decrease α/β: results as the style weight β grows",
                      sweep_figure(content, style, results, betas, ctx.figure("style", "sweep.png"), cfg.content_weight)))


#: the methods of the tour's comparison (each trains in seconds on digits)
COMPARE_METHODS = ("raw", "pca", "ae", "dae", "vae")
#: what each probe asks, in the words of the section's text
COMPARE_TASKS = {
    "linear_100": "a linear classifier from 100 labels", "linear_all": "a linear classifier from every label",
    "knn5": "nearest neighbours (5-NN, train -> test)", "knn5_loo": "neighbourhoods among the test codes (leave-one-out 5-NN)",
    "fewshot_5w1s": "5-way one-shot recognition", "fewshot_5w5s": "5-way five-shot recognition",
    "robust_masking0.25": "inputs with a quarter of their pixels masked", "robust_gaussian0.2": "inputs with Gaussian noise",
    "tsne_T10": "a faithful 2-D map (t-SNE trustworthiness)", "train_seconds": "training time", "encode_per_s": "encoding speed",
}


@tour_section("compare", "Which representation serves which task: every method's codes under the same probes (reprlab compare)")
def compare_digits(ctx: TourContext, s: Section) -> None:
    """``reprlab compare`` on digits: raw pixels, PCA and three learnt codes under the same probes,
    one seed, seconds per method; the text is generated from the numbers (the best method of
    each probe). Numbers: ``<probe>_best`` (the best mean, its method in ``method``, every
    method's mean in ``by_method``) and ``<method>.<probe>`` for every cell with a number."""
    from ..pipelines.compare import compare
    from ..pipelines.compare_output import cell_text

    steps, code_size = ctx.steps(1000, 40), 16
    map_points, tsne_iter = ctx.steps(2000, 120), ctx.steps(500, 300)  # 2000: every test digit
    import threadpoolctl

    # small nets and 1,437 digits: one thread is faster than several (far faster on a busy machine)
    with _torch_threads(1), threadpoolctl.threadpool_limits(1):
        result = compare("digits", list(COMPARE_METHODS), out=ctx.run_dir("compare-digits"), code_size=code_size,
                         seeds=(ctx.seed,), steps=steps, labels=(100, "all"), fewshot_way=5, map_points=map_points,
                         tsne_iter=tsne_iter, data_dir=ctx.data_dir)
    s.settings = {"data": "digits, stratified 80/20 split (1,437 / 360)", "methods": ", ".join(COMPARE_METHODS),
                  "code size": f"{code_size} (raw: the 64 pixels)",
                  "training": f"{steps} Adam steps of 128 digits per learned method (compare's budget)",
                  "probes": "linear (100 labels, all; C by cross-validation on the training labels only), 5-NN, "
                            "5-way 1/5-shot (cosine prototypes, test split), robustness (masking 0.25, Gaussian 0.2), "
                            "t-SNE T(10), cost", "seed": ctx.seed}
    ranked = [p for p in result.probes if p.better is not None]
    lines, wins = [], {}
    for p in result.probes:
        for m, cells in result.cells.items():
            if "mean" in cells.get(p.name, {}):
                add_metric(s, f"{m}.{p.name}", f"{m}: {p.label}", cells[p.name]["mean"])
    for p in ranked:
        means = {m: c[p.name]["mean"] for m, c in result.cells.items() if "mean" in c.get(p.name, {})}
        if not means:
            continue
        order = sorted(means, key=means.get, reverse=p.better == "higher")
        best = order[0]
        text = cell_text(result.cells[best][p.name], p)
        others = ", ".join(f"{m} {cell_text(result.cells[m][p.name], p)}" for m in order[1:])
        add_metric(s, f"{p.name}_best", f"{p.label}: best", means[best], f"{best}; then {others}" if others else best,
                   method=best, by_method=means)
        if p.group != "cost":
            lines.append(f"{COMPARE_TASKS.get(p.name, p.label)}: {best} ({text})")
            wins[best] = wins.get(best, 0) + 1
    s.metrics[:] = [r for r in s.metrics if r["id"].endswith("_best")] + [r for r in s.metrics if not r["id"].endswith("_best")]
    baselines = sum(wins.get(m, 0) for m in ("raw", "pca"))
    learnt = ", ".join(f"{m} {n}" for m, n in wins.items() if m not in ("raw", "pca"))
    seconds = ", ".join(f"{m} {c['train_seconds']['mean']:.1f} s" for m, c in result.cells.items()
                        if m not in ("raw", "pca") and "mean" in c.get("train_seconds", {}))
    s.summary = (
        "The page closes where the lecture does: which representation serves which task. Each method gives codes of "
        f"the same digits (size {code_size}), read by the same probes (`reprlab compare`, one seed, seconds of training "
        "each: a smoke-sized budget, so the learnt codes are far from their best; `benchmarks/representations.py` runs "
        "the MNIST and Omniglot tables with seeds). Best per task, from the numbers below — "
        + "; ".join(lines) + f". The pixels or PCA lead on {baselines} of {sum(wins.values())} tasks"
        + (f", the learnt codes on the others ({learnt})" if learnt else "")
        + (f"; training took {seconds}." if seconds else ".")
    )
    if result.failures:
        s.summary += " Failed: " + "; ".join(result.failure_lines()) + "."
    header = ["method"] + [p.name for p in result.probes]
    s.tables.append(("methods x probes (one seed; n/a: the probe does not apply)", header,
                     [[m] + [cell_text(c.get(p.name, {"na": "not measured"}), p, short=True) for p in result.probes]
                      for m, c in result.cells.items()]))
    for f in result.files:
        if f.name == "table.png":
            s.figures.append(("the table, each probe's column coloured by rank (green: best)", f))
        elif f.name == "maps.png":
            s.figures.append(("t-SNE maps of each method's test codes, coloured by digit, with T(10)", f))
