"""VAE: the ELBO's terms against independent computations, the IWAE bound, training, save/load."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm

from reprlab.data.base import Batch
from reprlab.errors import ConfigError
from reprlab.models.vae import (
    VAE, VAEConfig, bernoulli_log_likelihood, gaussian_log_likelihood, iwae_log_likelihood, kl_diagonal_gaussian,
)


def test_kl_closed_form_equals_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 0.0], [2.0, 0.3, -0.7]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 0.7], [-2.0, 0.5, 0.1]], dtype=torch.float64)
    std = (0.5 * logvar).exp()
    z = mu + std * torch.randn(200_000, 2, 3, generator=g, dtype=torch.float64)
    log_q = torch.from_numpy(norm.logpdf(z.numpy(), mu.numpy(), std.numpy())).sum(-1)
    log_p = torch.from_numpy(norm.logpdf(z.numpy())).sum(-1)
    mc = (log_q - log_p).mean(0)
    torch.testing.assert_close(kl_diagonal_gaussian(mu, logvar), mc, atol=0.02, rtol=0.0)


def test_reparameterized_gradient_matches_the_closed_form_and_the_score_function():
    # E_q[f(z)] with f(z) = ||z - a||^2 is ||mu - a||^2 + sum sigma^2: d/dmu = 2(mu - a), d/dlogvar = sigma^2
    g = torch.Generator().manual_seed(1)
    a = torch.tensor([1.0, -2.0], dtype=torch.float64)
    mu = torch.tensor([0.3, 0.5], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([-0.5, 0.4], dtype=torch.float64, requires_grad=True)
    eps = torch.randn(400_000, 2, generator=g, dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * eps  # the reparameterization trick
    (z - a).pow(2).sum(1).mean().backward()
    exact_mu, exact_lv = 2 * (mu.detach() - a), logvar.detach().exp()
    torch.testing.assert_close(mu.grad, exact_mu, atol=0.02, rtol=0)
    torch.testing.assert_close(logvar.grad, exact_lv, atol=0.02, rtol=0)
    # score-function (REINFORCE) estimate: E[f(z) d/dθ log q(z)], an independent estimator
    with torch.no_grad():
        zs = mu + (0.5 * logvar).exp() * torch.randn(400_000, 2, generator=g, dtype=torch.float64)
        f = (zs - a).pow(2).sum(1, keepdim=True)
        var = logvar.exp()
        d_mu = (zs - mu) / var
        d_lv = 0.5 * ((zs - mu) ** 2 / var - 1)
        torch.testing.assert_close((f * d_mu).mean(0), exact_mu, atol=0.1, rtol=0)
        torch.testing.assert_close((f * d_lv).mean(0), exact_lv, atol=0.1, rtol=0)


def test_bernoulli_log_likelihood_is_minus_the_cross_entropy():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64) * 3
    x = torch.rand(4, 1, 5, 5, generator=g, dtype=torch.float64)
    p = torch.sigmoid(logits)
    bce = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), -bce)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x),
                               -F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1))


def test_gaussian_log_likelihood_matches_scipy():
    g = torch.Generator().manual_seed(3)
    mean, x = torch.randn(3, 6, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g, dtype=torch.float64)
    logvar = torch.randn(6, generator=g, dtype=torch.float64)
    ref = norm.logpdf(x.numpy(), mean.numpy(), np.exp(0.5 * logvar.numpy())).sum(1)
    np.testing.assert_allclose(gaussian_log_likelihood(mean, x, logvar).numpy(), ref, rtol=1e-12)


@pytest.fixture(scope="module")
def trained_vae():
    from reprlab.pipelines.training import build_run_config, train_run

    rc = build_run_config("vae", None, [
        ("hidden", [128]), ("latent_dim", 4), ("train.max_steps", 600), ("train.progress", False),
        ("train.val_every", 300), ("train.tensorboard", False), ("train.seed", 0),
    ])
    return train_run(rc, None)


def test_iwae_is_above_the_elbo_and_grows_with_k(trained_vae):
    from reprlab.data import load_dataset

    model, _ = trained_vae
    model.eval()
    x = load_dataset("digits", split="test").x[:64]
    torch.manual_seed(0)
    with torch.no_grad():
        t = [model.elbo_terms(x) for _ in range(200)]
        elbo = torch.stack([d["log_px_z"] - d["kl"] for d in t]).mean(0)  # E_q[log p(x|z)] - KL, (64,)
    means = [float(iwae_log_likelihood(model, x, k, chunk=64).mean()) for k in (1, 10, 100, 1000)]
    assert means[0] == pytest.approx(float(elbo.mean()), abs=0.5)  # k = 1 is the ELBO (one sample)
    assert all(b >= a - 0.05 for a, b in zip(means, means[1:])), means  # non-decreasing on average
    assert means[-1] > float(elbo.mean()) + 0.1
    # drawing the k samples in small chunks (bounded memory) estimates the same quantity
    chunked = float(iwae_log_likelihood(model, x, 1000, chunk=7).mean())
    assert chunked == pytest.approx(means[-1], abs=0.1)


def test_training_improves_the_elbo_and_validation_reports_it(trained_vae):
    model, result = trained_vae
    assert {"val/loss", "val/nelbo", "val/kl"} <= set(result.val_metrics)
    assert result.val_metrics["val/nelbo"] == pytest.approx(result.val_metrics["val/loss"])  # beta = 1
    assert 0 < result.val_metrics["val/kl"] < result.val_metrics["val/nelbo"]
    fresh = VAE(model.config, model.input_shape)
    from reprlab.data import load_dataset

    x = load_dataset("digits", split="test").x
    with torch.no_grad():
        before = -(fresh.elbo_terms(x)["log_px_z"] - fresh.elbo_terms(x)["kl"]).mean()
    assert result.val_metrics["val/nelbo"] < 0.8 * float(before)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_no_nan_on_all_zero_or_all_one_images(value):
    torch.manual_seed(0)
    model = VAE(VAEConfig(hidden=(32,), latent_dim=2, binarize="dynamic"), (1, 8, 8))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.full((16, 1, 8, 8), value)
    for _ in range(200):
        opt.zero_grad()
        out = model(Batch(x))
        out["loss"].backward()
        opt.step()
        assert torch.isfinite(out["loss"])
    assert float(out["loss"].detach()) < 1.0  # a constant image is learnt almost exactly
    assert torch.isfinite(iwae_log_likelihood(model.eval(), x, 100)).all()


def test_sample_and_load_from_a_run(tmp_path):
    from reprlab import load
    from reprlab.cli import main

    run = tmp_path / "vae"
    assert main(["-q", "train", "vae", "hidden=[32]", "latent_dim=2", "--steps", "20", "--run-dir", str(run)]) == 0
    model = load(run)
    x = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 1, 8, 8) and ((x >= 0) & (x <= 1)).all()
    assert main(["-q", "sample", str(run), "-o", str(tmp_path / "s.png"), "-n", "16"]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0


def test_kl_warm_up_weighs_the_kl_by_t_over_w_then_trains_the_elbo():
    torch.manual_seed(0)
    model = VAE(VAEConfig(hidden=(16,), latent_dim=3, kl_warmup_steps=4), (64,)).train()
    x = torch.rand(8, 64)
    weights = []
    for _ in range(6):
        with torch.random.fork_rng():
            torch.manual_seed(1)
            out = model(Batch(x))
        with torch.random.fork_rng():
            torch.manual_seed(1)
            t = model.elbo_terms(x)  # the same draw: the loss is −log p(x|z) + β_t KL
        beta = float(out["beta"])
        torch.testing.assert_close(out["loss"], (-t["log_px_z"] + beta * t["kl"]).mean())
        weights.append(beta)
        model.after_update("model")
    assert weights == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    # the counter is saved with the weights: a resumed run goes on with the schedule, not from 0
    resumed = VAE(VAEConfig(hidden=(16,), latent_dim=3, kl_warmup_steps=4), (64,))
    resumed.load_state_dict(model.state_dict())
    assert resumed.kl_weight() == 1.0 and int(resumed.kl_steps_done) == 6
    # evaluation is the ELBO whatever the step; runs without warm-up keep their state dict
    assert float(model.eval()(Batch(x))["beta"]) == 1.0
    assert "kl_steps_done" not in VAE(VAEConfig(hidden=(16,), latent_dim=3), (64,)).state_dict()


def test_the_trainer_advances_the_warm_up_once_per_step(tmp_path):
    from reprlab import load
    from reprlab.cli import main

    run = tmp_path / "vae"
    assert main(["-q", "train", "vae", "hidden=[32]", "latent_dim=2", "kl_warmup_steps=100", "--steps", "7",
                 "--run-dir", str(run)]) == 0
    model = load(run)
    assert int(model.kl_steps_done) == 7 and model.kl_weight() == pytest.approx(0.07)


def test_bad_configs_are_clear_errors():
    with pytest.raises(ConfigError, match="binarize=dynamic"):
        VAEConfig(decoder="gaussian", binarize="dynamic")
    with pytest.raises(ConfigError, match="needs images"):
        VAE(VAEConfig(arch="conv"), (64,))


def test_eval_reports_elbo_and_a_seeded_iwae_and_the_run_has_vae_figures(tmp_path, capsys):
    import json

    from reprlab.cli import main

    run = tmp_path / "vae2"
    assert main(["-q", "train", "vae", "hidden=[32]", "latent_dim=2", "--steps", "60", "--run-dir", str(run)]) == 0
    assert {"samples.png", "manifold.png", "reconstructions.png"} <= {p.name for p in (run / "figures").iterdir()}
    capsys.readouterr()
    outs = []
    for _ in range(2):
        assert main(["eval", str(run), "--iwae", "50"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    m = outs[0]
    assert m["nll_iwae_k50"] == outs[1]["nll_iwae_k50"]  # seeded: the same number twice
    assert m["nll_iwae_k50"] < m["nelbo"] + 0.5 and m["kl"] > 0


def test_static_binarized_mnist_is_one_fixed_draw(data_dir):
    from reprlab.data import load_dataset

    a = load_dataset("mnist:static-binarized", split="test", data_dir=data_dir, seed=0)
    b = load_dataset("mnist:static-binarized", split="test", data_dir=data_dir, seed=7)
    grey = load_dataset("mnist", split="test", data_dir=data_dir)
    assert a.name == "mnist:static-binarized" and set(a.x.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(a.x, b.x)  # the run's seed does not change the data set
    assert abs(float(a.x.mean()) - float(grey.x.mean())) < 1e-3  # E[Bernoulli(p)] = p
    assert bool((a.x[grey.x == 0] == 0).all()) and bool((a.x[grey.x == 1] == 1).all())
