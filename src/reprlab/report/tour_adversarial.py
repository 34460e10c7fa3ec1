"""The tour's adversarial sections: GANs (Dirac-GAN, the 8-Gaussian ring per loss, digits) and
adversarial auto-encoders vs VAEs, with the Tempered GAN's lens. Listed in :data:`reprlab.report.tour.SECTIONS`."""

from __future__ import annotations

from ..viz.html import Section
from .sections import TourContext, add_metric, tour_section, train_for_section

RING_LOSSES = [("minimax", "none"), ("ns", "none"), ("wgan-gp", "none"), ("ns", "r1")]
RING_STEPS = 1500  # default budget; benchmarks/gan_toy.py trains 15,000 steps, 3 seeds


def _dirac(ctx: TourContext, s: Section) -> None:
    from ..models.gan.dirac import PAPER_METHODS, closed_form_eigenvalues
    from ..viz.dirac import plot_dirac

    steps = ctx.steps(500, 150)
    analyses = plot_dirac(list(PAPER_METHODS), ctx.figure("gan", "dirac.png"), steps=steps, lr=0.1)
    s.figures.append((f"Dirac-GAN (Mescheder et al. 2018): P_r = δ_0, P_g = δ_θ, D_ψ(x) = ψx; gradient field and "
                      f"{steps} steps of simultaneous (red) and alternating (blue) gradient descent", ctx.figure("gan", "dirac.png")))
    for name, a in zip(PAPER_METHODS, analyses):
        lam = closed_form_eigenvalues(a.method)
        eig = "undefined" if lam is None else ", ".join(f"{x.real:.2f}{x.imag:+.2f}i" for x in lam)
        add_metric(s, f"dirac_{name.replace('-', '_')}_distance",
                   f"Dirac-GAN {a.title}: distance to (0, 0) after {steps} simultaneous steps",
                   a.final_distance["simultaneous"], f"start {a.start}; eigenvalues at (0, 0): {eig}")


def _ring(ctx: TourContext, s: Section) -> None:
    from ..data.toy import mixture_centers, mixture_std
    from ..eval.modes import VEEGAN_TABLE, mixture_mode_coverage
    from ..viz.gan import plot_point_panels

    import torch

    steps = ctx.steps(RING_STEPS, 100)
    panels = []
    for loss, reg in RING_LOSSES:
        name = f"gan-ring8-{loss}-{reg}"
        _, model, _ = train_for_section(ctx, name, "gan", [
            ("data.name", "ring8"), ("data.val_fraction", 0.0), ("model.loss", loss), ("model.reg", reg), ("model.gamma", 0.1),
            ("model.n_critic", 5 if loss == "wgan-gp" else 1), ("model.latent_dim", 16), ("model.g_hidden", [128, 128]),
            ("model.d_hidden", [128, 128]), ("train.max_steps", steps), ("train.batch_size", 256),
            ("train.checkpoint_every", steps)], recipe=False)  # the tour's short setting, not gan_toy's recipe
        samples = model.sample(2500, torch.Generator().manual_seed(ctx.seed)).cpu()
        cov = mixture_mode_coverage(samples, "ring8")
        label = f"{loss}" + (f" + {reg}" if reg != "none" else "")
        panels.append((f"{label}: {cov['modes']}/8 modes, hq {cov['hq']:.2f}", samples[:1000].numpy()))
        ref = VEEGAN_TABLE["ring8"]
        add_metric(s, f"ring8_{loss.replace('-', '_')}_{reg}_modes_hq",
                   f"ring of 8 Gaussians, {label}: modes captured / high-quality fraction",
                   f"{cov['modes']} / {cov['hq']:.3f}",
                   f"VEEGAN Table 1: GAN {ref['GAN']['modes']:g} / {ref['GAN']['hq_percent'] / 100:.3f}, "
                   f"VEEGAN {ref['VEEGAN']['modes']:g} / {ref['VEEGAN']['hq_percent'] / 100:.3f}",
                   modes=cov["modes"], hq=cov["hq"])
    s.figures.append((f"2,500 samples per loss after {steps} steps over the 8 true modes (3σ circles)",
                      plot_point_panels(panels, ctx.figure("gan", "ring8.png"), centers=mixture_centers("ring8"),
                                        std=mixture_std("ring8"), ncol=4)))


@tour_section("gan", "GANs: the Dirac-GAN's dynamics, mode coverage on a ring of Gaussians, digits")
def gan(ctx: TourContext, s: Section) -> None:
    import torch

    from ..data import load_dataset
    from ..eval.features import classifier_features
    from ..eval.fid import image_quality

    s.summary = (
        "The minimax game min_G max_D E log D(x) + E log(1 − D(G(z))) and its variants. The Dirac-GAN shows why "
        "plain GAN and WGAN training circles around the equilibrium (purely imaginary Jacobian eigenvalues) while "
        "the R1/R2 gradient penalties make it converge. On the ring of 8 Gaussians (σ = 0.02) each loss is scored "
        "with VEEGAN's protocol (modes captured, fraction of samples within 3σ of a mode); "
        "`benchmarks/gan_toy.py` runs every loss x regularizer with seeds. WGAN-GP takes 5 critic steps per generator "
        "step, so it gets a fifth of the generator steps here, and it converges far more slowly anyway (its paper "
        "trains the ring for 100,000 iterations): at this budget its samples are still a diffuse cloud. Last, a DCGAN-style GAN on digits, "
        "scored by the Fréchet distance in the feature space of a small digit classifier (not Inception)."
    )
    steps = ctx.steps(1200, 100)
    s.settings = {"Dirac-GAN": f"h = 0.1, start (1, 1), {ctx.steps(500, 150)} steps", "ring": "MLP 2 x 128, z ~ N(0, I_16), "
                  f"batch 256, {ctx.steps(RING_STEPS, 100)} steps (WGAN-GP: 5 critic steps per generator step)", "digits": f"conv GAN (32, 64 channels), NS loss + R1 γ = 1, {steps} steps",
                  "seed": ctx.seed}
    _dirac(ctx, s)
    _ring(ctx, s)
    _, model, _ = train_for_section(ctx, "gan-digits", "gan", [
        ("model.arch", "conv"), ("model.channels", [32, 64]), ("model.latent_dim", 32), ("model.reg", "r1"),
        ("model.gamma", 1.0), ("model.ema", 0.99), ("data.val_fraction", 0.0), ("train.max_steps", steps),
        ("train.batch_size", 64), ("train.lr", 5e-4), ("train.checkpoint_every", max(1, steps // 4))])
    test = load_dataset("digits", split="test", seed=ctx.seed)
    features = classifier_features("digits", log=lambda m: None)
    half = len(test) // 2  # generated vs real and real vs real at the same sizes (FID depends on them)
    fake = model.sample(half, torch.Generator().manual_seed(ctx.seed)).cpu().clamp(0, 1)
    q = image_quality(test.x[:half], fake, features, kid_subsets=20, kid_subset_size=min(200, half))
    floor = image_quality(test.x[:half], test.x[half:], features, kid_subsets=20, kid_subset_size=min(200, half))
    add_metric(s, "digits_fid", "digits GAN: classifier FID (half the test set vs as many samples)", q["fid"],
               f"real vs real (the other half): {floor['fid']:.2f}; classifier test accuracy {features.test_accuracy:.3f}",
               real_vs_real_fid=floor["fid"], classifier_test_accuracy=features.test_accuracy)
    add_metric(s, "digits_precision_recall", "digits GAN: precision / recall (Kynkäänniemi et al. 2019)",
               f"{q['precision']:.3f} / {q['recall']:.3f}", precision=q["precision"], recall=q["recall"])
    run = ctx.run_dir("gan-digits")
    shots = sorted((run / "samples").glob("step-*.png"))
    for p in shots[:: max(1, len(shots) // 2)]:
        s.figures.append((f"digits GAN, samples from fixed noise at {p.stem.replace('-', ' ')}", p))


@tour_section("aae", "Adversarial auto-encoders vs VAEs: 2-D codes pushed to a Gaussian and to a 10-mixture; the tempered lens")
def aae(ctx: TourContext, s: Section) -> None:
    from ..data import load_dataset
    from ..eval.two_sample import aggregate_posterior_sample, prior_fit
    from ..viz import save_image_grid, traversal_grid
    from ..viz.gan import plot_point_panels

    steps = ctx.steps(1500, 150)
    s.summary = (
        "The lecture's \"GAN vs VAE\" figure (Makhzani et al. 2015): an auto-encoder whose 2-D codes a discriminator "
        "pushes to a prior (AAE), and a VAE whose KL term does, each with N(0, I) and with a mixture of 10 Gaussians. "
        "The fit of held-out codes to the prior is measured by the sliced Wasserstein distance. Last, a Tempered GAN "
        "(Sajjadi et al. 2018): the discriminator sees real digits through a lens L, which first hides what makes "
        "them real and returns to the identity as λ → 0."
    )
    lens_steps = ctx.steps(300, 40)
    s.settings = {"AAE / VAE": f"MLP 64-256-256-2 and back, {steps} steps, batch 128, learning rate decayed by a cosine",
                  "Tempered GAN": f"conv GAN (32, 64 channels), lens for K = {lens_steps} steps, {2 * lens_steps} steps, batch 64",
                  "seed": ctx.seed}
    test = load_dataset("digits", split="test", seed=ctx.seed)
    panels, models = [], {}
    for model_name, prior in (("aae", "gaussian"), ("aae", "mixture10"), ("vae", "gaussian"), ("vae", "mixture10")):
        dim = "model.latent_dim"
        _, model, _ = train_for_section(ctx, f"{model_name}-{prior}-digits", model_name, [
            ("model.prior", prior), (dim, 2), ("model.hidden", [256, 256]), ("data.val_fraction", 0.0),
            ("train.max_steps", steps), ("train.lr_schedule", "cosine")])  # aae_mnist's recipe: the AAE's game settles
        model.eval()
        fit = prior_fit(model, test.x, seed=ctx.seed)
        title = f"{model_name.upper()}, {'N(0, I)' if prior == 'gaussian' else '10-mixture'}"
        panels.append((f"{title}: SW {fit['sliced_wasserstein']:.2f}", aggregate_posterior_sample(model, test.x).cpu().numpy()))
        models[title] = model
        add_metric(s, f"{model_name}_{prior}_sliced_wasserstein", f"{title}: sliced Wasserstein(held-out codes, prior)",
                   fit["sliced_wasserstein"], f"MMD² {fit['mmd2']:.4f}", mmd2=fit["mmd2"])
    s.figures.append(("2-D codes of held-out digits, coloured by label (the four panels of the lecture's figure)",
                      plot_point_panels(panels, ctx.figure("aae", "codes.png"), labels=test.y.numpy(), ncol=4, lim=8.0)))
    s.figures.append(("AAE with N(0, I): images decoded along the Gaussian percentiles of each code dimension",
                      save_image_grid(traversal_grid(models["AAE, N(0, I)"], 15, prior="gaussian"), ctx.figure("aae", "percentiles.png"), nrow=15)))
    train_for_section(ctx, "tempered-digits", "tempered-gan", [
        ("model.arch", "conv"), ("model.channels", [32, 64]), ("model.latent_dim", 32), ("model.lens_steps", lens_steps),
        ("data.val_fraction", 0.0), ("train.max_steps", 2 * lens_steps), ("train.batch_size", 64),
        ("train.checkpoint_every", max(1, lens_steps // 2))])
    for p in sorted((ctx.run_dir("tempered-digits") / "lens").glob("step-*.png")):
        s.figures.append((f"Tempered GAN (K = {lens_steps}): real digits (top) and through the lens L(x) (bottom), "
                          f"{p.stem.replace('-', ' ')}", p))
