"""The tour's auto-encoder sections: auto-encoders on digits (vs PCA) and MNIST, the linear AE = PCA
and denoising auto-encoders, stacked (denoising) auto-encoders, mSDA for domain adaptation.
Listed in :data:`reprlab.report.tour.SECTIONS`."""

from __future__ import annotations

from ..viz.html import Section
from .sections import TourContext, add_metric, tour_section, train_for_section


def _skipped(what: str, name: str, data_dir: str | None) -> str:
    """The summary of a section skipped for want of data set ``name``: the folder looked in and
    the exact command that fetches it."""
    from ..data import resolve_data_dir
    from ..data.download import download_command, has_official_source

    source = "" if has_official_source(name) else " from a copy of a data folder (there is no official download)"
    return (f"Skipped: {what} is not in the data folder {resolve_data_dir(data_dir)}; `{download_command(name, data_dir)}` "
            f"fetches it{source} (or run the tour with --download), or set REPRLAB_DATA / --data-dir to a folder that holds it.")


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
        "PCA with the same number of components is the best any linear auto-encoder can do; the "
        "non-linear one should beat it on held-out digits."
    )
    s.settings = {"data": "digits (sklearn, 8x8), stratified 80/20 split", "code size d": k, "steps": steps,
                  "batch": 128, "optimizer": "Adam, lr 1e-3", "seed": ctx.seed}
    pca = _pca_test_mse(train_data.x.flatten(1).numpy(), test.x.flatten(1).numpy(), k)
    add_metric(s, "pca_test_mse", f"PCA({k}) test MSE per pixel", pca, "linear optimum (sklearn)")
    for loss in ("mse", "bce"):
        name = f"ae-{loss}-digits"
        _, model, result = train_for_section(ctx, name, "ae", [("model.latent_dim", k), ("model.loss", loss), ("train.max_steps", steps)])
        m = reconstruction_metrics(model, test)
        add_metric(s, f"ae_{loss}_test_mse", f"AE ({loss}) test MSE per pixel", m["mse"], f"{m['mse'] / pca:.2f}x PCA")
        add_metric(s, f"ae_{loss}_samples_per_s", f"AE ({loss}) training throughput, samples/s", result.samples_per_s)
        run = ctx.run_dir(name)
        s.figures.append((f"{loss}: held-out digits (rows 1, 3) and reconstructions (rows 2, 4)", run / "figures" / "reconstructions.png"))
        s.figures.append((f"{loss}: training and validation loss", run / "figures" / "loss.png"))


@tour_section("autoencoder-mnist", "Convolutional auto-encoder on MNIST (when MNIST is present)")
def autoencoder_mnist(ctx: TourContext, s: Section) -> None:
    from ..data import load_dataset, missing_files
    from ..eval import reconstruction_metrics

    if missing_files("mnist", ctx.data_dir):
        s.summary = _skipped("MNIST", "mnist", ctx.data_dir)
        return
    steps = ctx.steps(800, 40)
    s.summary = "A convolutional auto-encoder (two stride-2 blocks, d = 32) with the cross-entropy loss on MNIST."
    s.settings = {"data": "MNIST train (60k), test (10k)", "code size d": 32, "steps": steps, "batch": 128, "seed": ctx.seed}
    _, model, _ = train_for_section(ctx, "ae-conv-mnist", "ae", [
        ("data.name", "mnist"), ("model.arch", "conv"), ("model.latent_dim", 32), ("model.loss", "bce"),
        ("train.max_steps", steps), ("train.val_every", 500),
    ])
    m = reconstruction_metrics(model, load_dataset("mnist", split="test", data_dir=ctx.data_dir))
    add_metric(s, "test_bce", "test cross-entropy per image (nats)", m["bce"])
    add_metric(s, "test_mse", "test MSE per pixel", m["mse"])
    run = ctx.run_dir("ae-conv-mnist")
    s.figures.append(("held-out digits and their reconstructions", run / "figures" / "reconstructions.png"))
    s.figures.append(("training and validation loss", run / "figures" / "loss.png"))


@tour_section("denoising", "Linear AE = PCA, and denoising auto-encoders on digits (masking and Gaussian noise)")
def denoising_digits(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset, parse_corruption
    from ..eval import subspace_agreement
    from ..viz import save_image_grid

    train_data = load_dataset("digits", split="train", seed=ctx.seed)
    test = load_dataset("digits", split="test", seed=ctx.seed)
    steps, k, noises = ctx.steps(1500, 400), 10, {"masking": "masking:0.25", "gaussian": "gaussian:0.2"}
    s.summary = (
        "A single-layer linear auto-encoder (tied weights, full-batch L-BFGS) spans the top-k principal "
        "subspace: the cosines of the principal angles to sklearn's PCA subspace are 1. Then two denoising "
        "auto-encoders learn to undo a corruption q_D(x̃|x) — masking noise (a quarter of the pixels zeroed) and "
        "additive Gaussian noise (σ = 0.2) — from pairs (x̃, x); the plain auto-encoder of the same size, trained "
        "on clean digits only, does not."
    )
    s.settings = {"linear AE": f"k = {k}, tied, L-BFGS {ctx.steps(30, 10)} steps, float64, all training digits",
                  "DAEs / AE": f"the MLP defaults of `reprlab train dae`, code size 16, {steps} Adam steps, batch 128",
                  "noise": ", ".join(noises.values()), "seed": ctx.seed}
    _, lin, _ = train_for_section(ctx, "linear-ae-digits", "ae", [
        ("model.hidden", []), ("model.activation", "linear"), ("model.latent_dim", k), ("model.tied", True),
        ("train.optimizer", "lbfgs"), ("train.lr", 1.0), ("train.batch_size", len(train_data)),
        ("train.precision", "64-true"), ("train.max_steps", ctx.steps(30, 10)), ("data.val_fraction", 0.0),
    ])
    agree = subspace_agreement(lin, train_data.x)
    add_metric(s, "linear_ae_min_cosine", f"linear AE (k={k}): smallest cosine of the principal angles to PCA",
               agree["min_cosine_principal_angle"], "1 = the same subspace")
    add_metric(s, "linear_ae_mse_ratio_to_pca", f"linear AE (k={k}): MSE / PCA's MSE", agree["mse_ratio_to_pca"],
               "1 = PCA's optimum")
    models = {}
    for name, spec in (("dae", noises["masking"]), ("dae-gaussian", noises["gaussian"]), ("ae", "none")):
        _, models[name], _ = train_for_section(ctx, f"{name}-digits", "dae", [
            ("model.latent_dim", 16), ("model.noise", spec), ("train.max_steps", steps)])
    x, n = test.x, 10
    rows = [x[:n]]
    for kind, dae in (("masking", "dae"), ("gaussian", "dae-gaussian")):
        x_tilde = parse_corruption(noises[kind], "noise")(x, torch.Generator().manual_seed(ctx.seed))
        add_metric(s, f"{kind}_corrupted_mse", f"{kind}: corrupted test digits, MSE to the clean ones",
                   float(((x_tilde - x) ** 2).mean()), "doing nothing")
        for name, who, tag in (("ae", "plain AE", "plain_ae"), (dae, "denoising AE", "dae")):
            with torch.no_grad():
                rec = models[name].eval().reconstruct(x_tilde).clamp(0, 1)
            add_metric(s, f"{kind}_{tag}_mse", f"{kind}: {who}'s reconstruction of the corrupted digits, MSE to the clean ones",
                       float(((rec - x) ** 2).mean()))
            rows.append(rec[:n])
        rows.insert(len(rows) - 2, x_tilde[:n].clamp(0, 1))
    path = save_image_grid(torch.cat(rows), ctx.figure("denoising", "denoising.png"), nrow=n)
    s.figures.append(("rows: clean test digits; masked (25 % of pixels zeroed), the plain AE's and the masking DAE's "
                      "reconstructions; Gaussian noise (σ = 0.2), the plain AE's and the Gaussian DAE's reconstructions", path))


def _first_layer_filters(model, n: int = 64):
    """The first ``n`` rows of W_1 as 8x8 images, each scaled to [0, 1]."""
    import torch

    w = next(m for m in model.layers[0].modules() if isinstance(m, torch.nn.Linear)).weight.detach()[:n].cpu()
    w = (w - w.amin(1, keepdim=True)) / (w.amax(1, keepdim=True) - w.amin(1, keepdim=True)).clamp_min(1e-12)
    return w.view(-1, 1, 8, 8)


@tour_section("stacked", "Stacked (denoising) auto-encoders: greedy layer-wise pre-training, then fine-tuning, vs none")
def stacked_digits(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset
    from ..viz import plot_grouped_bars, save_image_grid

    hidden, pre, steps, few = [256, 256, 256], ctx.steps(400, 30), ctx.steps(1000, 60), 100
    s.summary = (
        "Each layer h_k = σ(W_k h_{k−1} + b_k) is first trained alone as a (denoising) auto-encoder on the codes of the "
        "layers below (SdA: masking noise; SAA: none), then the stack gets a softmax layer and the whole network is "
        "fine-tuned on the labels; the third network is the same MLP from a random initialization. Twice: with all "
        f"1,437 training labels, and semi-supervised, pre-training on all training digits but fine-tuning on {few} "
        "labelled ones (`finetune_labels`). On these small digits with Adam, pre-training makes little difference "
        "in either setting (one seed; the numbers are reported as they came out); the papers' gain is on MNIST: `benchmarks/sdae_mnist.py` "
        "(Vincent et al. 2010, Table 3)."
    )
    s.settings = {"data": "digits, stratified 80/20 split", "network": f"MLP 64-{'-'.join(map(str, hidden))}-10, sigmoid",
                  "pre-training": f"{pre} Adam steps per layer, tied weights, cross-entropy",
                  "fine-tuning": f"{steps} Adam steps, batch 128 (all labels) or 32 ({few} labels)", "seed": ctx.seed}
    test = load_dataset("digits", split="test", seed=ctx.seed)
    errors: dict[str, dict[str, float]] = {}
    filters = {}
    paper = {"SdA-3": "MNIST: 1.28 % (Vincent et al. 2010)", "SAA-3": "MNIST: 1.40 % (Vincent et al. 2010)",
             "no pre-training": "MNIST: 2.40 % (Bengio et al. 2006)"}
    ids = {"SdA-3": "sda3", "SAA-3": "saa3", "no pre-training": "no_pretraining"}
    for labels, regime in ((0, "all labels"), (few, f"{few} labels")):
        for name, noise, pre_steps in (("SdA-3", "masking:0.25", pre), ("SAA-3", "none", pre), ("no pre-training", "none", 0)):
            _, model, _ = train_for_section(ctx, f"sdae-{name.split()[0].lower()}-{labels or 'all'}-digits", "sdae", [
                ("model.hidden", hidden), ("model.noise", noise), ("model.pretrain_steps", pre_steps),
                ("model.finetune_labels", labels), ("train.batch_size", 32 if labels else 128),
                ("train.max_steps", steps), ("data.val_fraction", 0.0)])
            model.eval()
            with torch.no_grad():
                errors.setdefault(name, {})[regime] = float((model.predict(test.x).cpu() != test.y).float().mean())
            if not labels:
                filters[name] = _first_layer_filters(model)
            add_metric(s, f"{ids[name]}_{labels or 'all'}_labels_test_error", f"{name}, {regime}: test error",
                       errors[name][regime], paper[name] if not labels else "")
    s.figures.append(("test error on held-out digits", plot_grouped_bars(
        errors, ctx.figure("stacked", "errors.png"), ylabel="test error", title="digits: pre-trained vs not")))
    for name in ("SdA-3", "no pre-training"):
        s.figures.append((f"{name} (all labels): 64 first-layer filters W_1 (rows as 8x8 images) after fine-tuning",
                          save_image_grid(filters[name], ctx.figure("stacked", f"filters-{name.split()[0].lower()}.png"), nrow=8, scale=4)))


@tour_section("domain-adaptation", "mSDA for domain adaptation on Amazon reviews (when the data is present)")
def domain_adaptation(ctx: TourContext, s: Section) -> None:
    from ..data import missing_files
    from ..eval.domain_adaptation import TASKS, load_domain, source_cv_accuracy
    from ..pipelines.domain_adaptation import run_tasks, summarize
    from ..viz import plot_grouped_bars

    if missing_files("amazon-reviews", ctx.data_dir):
        s.summary = _skipped("amazon_reviews_400/", "amazon-reviews", ctx.data_dir)
        return
    tasks = TASKS[:2] if ctx.quick else TASKS
    params = {"p": 0.5, "n_layers": 3}
    s.summary = (
        "Sentiment of reviews, learnt on one product domain and tested on another. mSDA is fitted in closed form "
        "on the unlabelled reviews of both domains; a linear SVM on [x; h1; h2; h3] trained on the source "
        "transfers better than on the raw bag of words. The third bar shows the domain shift: the accuracy of a "
        "classifier trained on the target domain's own labels, the baseline of the papers' transfer loss. (Fixed p and L here; `benchmarks/msda_amazon.py` "
        "chooses them on source labels and adds the gradient-trained SDA.)"
    )
    s.settings = {"tasks": len(tasks), "mSDA": params, "classifier": "LinearSVC, C by 3-fold CV on source", "seed": ctx.seed}
    rows = run_tasks(tasks, ["raw", "msda"], data_dir=ctx.data_dir, params={"msda": params}, seed=ctx.seed, progress=False)
    for m, v in summarize(rows).items():
        add_metric(s, f"{m}_avg_target_acc", f"{m}: average target accuracy", v["avg_target_acc"],
                   f"{v['tasks']} tasks, representation fit {v['fit_seconds']:.1f} s in all")
    # the domain shift itself: a classifier trained on the target's own labels (3-fold CV, raw features)
    in_domain = {}
    for target in sorted({t for _, t in tasks}):
        xt, yt = load_domain(target, ctx.data_dir)
        in_domain[target] = source_cv_accuracy(None, xt, yt, xt, seed=ctx.seed)
        add_metric(s, f"in_domain_acc_{target}", f"in-domain accuracy on {target} (trained on {target}, 3-fold CV)",
                   in_domain[target], "in-domain baseline (transfer loss = baseline − target accuracy)")
    by_method = {m: {f"{r['source'][0]}→{r['target'][0]}": r["target_acc"] for r in rows if r["method"] == m}
                 for m in ("raw", "msda")}
    by_method["in-domain (target→target)"] = {f"{sr[0]}→{tg[0]}": in_domain[tg] for sr, tg in tasks}
    path = plot_grouped_bars(by_method, ctx.figure("domain-adaptation", "target_accuracy.png"), ylabel="target accuracy",
                             title="Amazon reviews: source → target", baseline=0.5)
    s.figures.append(("target accuracy per task: raw features vs mSDA, trained on the source; in-domain: trained on the target", path))
