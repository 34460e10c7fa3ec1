"""Priors, the adversarial auto-encoder, the VAE's mixture prior and the two-sample statistics."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data.base import TensorData
from reprlab.errors import ConfigError, UsageError
from reprlab.eval.two_sample import mmd_rbf, sliced_wasserstein
from reprlab.models import VAE, AAEConfig, AdversarialAutoEncoder, VAEConfig
from reprlab.models.priors import GaussianPrior, RadialMixturePrior, make_prior
from reprlab.models.vae import diagonal_normal_log_density, kl_diagonal_gaussian
from reprlab.train.config import TrainConfig
from reprlab.train.trainer import Trainer, seed_everything


def ring_sampler(n, generator):
    """A user prior for the tests: the unit circle."""
    a = 2 * math.pi * torch.rand(n, generator=generator)
    return torch.stack([a.cos(), a.sin()], 1)


# ------------------------------------------------------------------------------------ priors
def test_mixture_log_prob_equals_the_explicit_mixture_of_rotated_gaussians():
    prior = RadialMixturePrior()
    z = torch.randn(50, 2, dtype=torch.float64) * 4
    comps = []
    for k in range(10):
        a = 2 * math.pi * k / 10
        rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
        cov = rot @ torch.diag(torch.tensor([1.0, 0.25], dtype=torch.float64) ** 2) @ rot.T
        mvn = torch.distributions.MultivariateNormal(rot @ torch.tensor([4.0, 0.0], dtype=torch.float64), cov)
        comps.append(mvn.log_prob(z))
    expected = torch.logsumexp(torch.stack(comps), 0) - math.log(10)
    torch.testing.assert_close(prior.log_prob(z), expected)


def test_mixture_samples_follow_their_labels_and_the_density():
    prior = RadialMixturePrior()
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(200)
    z = prior.sample(2000, g, labels=labels)
    angle = torch.atan2(z[:, 1], z[:, 0]) % (2 * math.pi)
    centre = 2 * math.pi * labels / 10
    diff = torch.remainder(angle - centre + math.pi, 2 * math.pi) - math.pi
    assert diff.abs().median() < 0.1  # each sample on its component's ray
    # mean log-density of its own samples ≈ minus the entropy, far above that of N(0, I) samples
    assert prior.log_prob(z).mean() > prior.log_prob(torch.randn(2000, 2, generator=g)).mean() + 1


def test_gaussian_prior_and_user_sampler():
    z = torch.randn(7, 3)
    torch.testing.assert_close(GaussianPrior(3).log_prob(z), torch.distributions.Normal(0, 1).log_prob(z).sum(1))
    p = make_prior(f"{__name__}:ring_sampler", 2)
    assert torch.allclose(p.sample(5, torch.Generator().manual_seed(0)).norm(dim=1), torch.ones(5))
    with pytest.raises(ConfigError, match="cannot import"):
        make_prior("no_such_module:f", 2)
    with pytest.raises(ConfigError, match="code dimension"):
        make_prior("mixture10", 3)
    with pytest.raises(ConfigError, match="no density"):
        p.log_prob(z)


# ------------------------------------------------------------------------------------ two-sample statistics
def test_mmd_equals_explicit_sums_and_separates_distributions():
    a, b = torch.randn(6, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64) + 0.5
    k = lambda x, y: math.exp(-float((x - y).pow(2).sum()) / 2)  # noqa: E731  (one bandwidth s = 1)
    aa = sum(k(a[i], a[j]) for i in range(6) for j in range(6) if i != j) / 30
    bb = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
    ab = sum(k(a[i], b[j]) for i in range(6) for j in range(5)) / 30
    assert mmd_rbf(a, b, bandwidths=(1.0,)) == pytest.approx(aa + bb - 2 * ab, rel=1e-10)
    g = torch.Generator().manual_seed(0)
    same = mmd_rbf(torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g))
    shifted = mmd_rbf(torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g) + 0.5)
    assert abs(same) < 0.2 * shifted


def test_sliced_wasserstein_of_a_translation_is_the_projected_shift():
    a = torch.randn(300, 3, dtype=torch.float64)
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w = torch.randn(3, 64, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    w = w / w.norm(dim=0)
    assert sliced_wasserstein(a, a + c, projections=64, seed=4) == pytest.approx(float((c @ w).pow(2).mean().sqrt()), rel=1e-9)
    assert sliced_wasserstein(a, a) == 0.0
    with pytest.raises(UsageError, match="samples"):
        sliced_wasserstein(a, torch.randn(10, 2))


# ------------------------------------------------------------------------------------ VAE with the mixture prior
def test_one_sample_kl_estimate_is_unbiased_for_the_gaussian_prior():
    mu, logvar = torch.tensor([[0.5, -1.0]], dtype=torch.float64), torch.tensor([[-0.5, 0.3]], dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mc = (diagonal_normal_log_density(z, mu, logvar) - GaussianPrior(2).log_prob(z)).mean()
    assert float(mc) == pytest.approx(float(kl_diagonal_gaussian(mu, logvar)), abs=0.01)


def test_vae_with_mixture_prior_trains_and_samples_from_it():
    with pytest.raises(ConfigError, match="latent_dim=2"):
        VAEConfig(prior="mixture10", latent_dim=3)
    data = _digits()
    seed_everything(0)
    vae = VAE(VAEConfig(prior="mixture10", latent_dim=2, hidden=(64,)), data.sample_shape)
    Trainer(TrainConfig(max_steps=60, batch_size=64, progress=False, tensorboard=False)).fit(vae, data)
    assert vae.sample(5, torch.Generator().manual_seed(0)).shape == (5, *data.sample_shape)
    assert torch.isfinite(vae.elbo_terms(data.x[:32])["kl"]).all()


# ------------------------------------------------------------------------------------ the AAE
def _digits() -> TensorData:
    from reprlab.data import load_dataset

    return load_dataset("digits", split="train", seed=0)


def test_each_aae_update_moves_only_its_own_parameters():
    data = _digits()
    seed_everything(0)
    model = AdversarialAutoEncoder(AAEConfig(hidden=(32,), d_hidden=(16,)), data.sample_shape)
    groups = {"encoder": model.encoder, "decoder": model.decoder, "discriminator": model.discriminator}
    moves = {"reconstruction": {"encoder", "decoder"}, "discriminator": {"discriminator"}, "generator": {"encoder"}}
    batch = data.take(torch.arange(32))
    for u in model.updates():
        before = {k: [p.detach().clone() for p in m.parameters()] for k, m in groups.items()}
        opt = torch.optim.SGD(u.parameters(), lr=0.1)
        model.zero_grad(set_to_none=True)
        model(batch, u.name)["loss"].backward()
        opt.step()
        moved = {k for k, m in groups.items() if any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))}
        assert moved == moves[u.name], u.name


@pytest.mark.parametrize("prior,conditional,steps", [("gaussian", False, 600), ("mixture10", False, 600), ("mixture10", True, 1500)])
def test_aae_training_pulls_codes_to_the_prior(prior, conditional, steps):
    data = _digits()
    seed_everything(0)
    model = AdversarialAutoEncoder(AAEConfig(hidden=(128,), prior=prior, conditional=conditional), data.sample_shape)
    g = torch.Generator().manual_seed(1)
    target = model.prior.sample(1000, g)
    with torch.no_grad():
        before = sliced_wasserstein(model.encode(data.x[:1000]), target)
    Trainer(TrainConfig(max_steps=steps, batch_size=64, progress=False, tensorboard=False, lr=1e-3)).fit(model, data)
    with torch.no_grad():
        z = model.encode(data.x[:1000])
        after = sliced_wasserstein(z, target)
        rec = model.reconstruct(data.x[:200])
    assert after < 0.6 * before
    if conditional:  # class k's codes sit on component k (chance: 10 %)
        angle = torch.atan2(z[:, 1], z[:, 0]) % (2 * math.pi)
        component = torch.round(angle / (2 * math.pi / 10)).long() % 10
        assert (component == data.y[:1000]).float().mean() > 0.5
    assert float((rec - data.x[:200]).pow(2).mean()) < float((data.x[:200] - data.x.mean(0)).pow(2).mean())


def test_conditional_aae_needs_labels():
    data = _digits()
    model = AdversarialAutoEncoder(AAEConfig(conditional=True, prior="mixture10"), data.sample_shape)
    with pytest.raises(UsageError, match="labelled"):
        model.check_data(TensorData(data.x))


def test_aae_wgan_clips_its_code_discriminator_to_the_configured_bound():
    model = AdversarialAutoEncoder(AAEConfig(gan_loss="wgan", clip=0.05, hidden=(16,), d_hidden=(8,)), (64,))
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.mul_(100.0)
    model.after_update("discriminator")
    w = torch.cat([p.flatten() for p in model.discriminator.parameters()])
    assert w.abs().max().item() == pytest.approx(0.05)


def test_aae_recipe_decays_the_rate_on_any_data_set_unless_set(caplog):
    """A new AAE run gets the cosine schedule (the ``"*"`` recipe) on every data set; a schedule the
    user sets, on the command line or in a config file, wins; a saved run's config keeps its own;
    models without the recipe keep the constant default."""
    import logging

    from reprlab.pipelines.training import build_run_config

    with caplog.at_level(logging.INFO, logger="reprlab"):
        for name in ("digits", "mnist", "toy:ring8"):
            assert build_run_config("aae", None, [("data.name", name)]).train.lr_schedule == "cosine"
    assert "the model's recipe train.lr_schedule=cosine" in caplog.text
    assert build_run_config("aae", None, [("train.lr_schedule", "constant")]).train.lr_schedule == "constant"
    assert build_run_config("aae", {"train": {"lr_schedule": "step"}}).train.lr_schedule == "step"
    saved = build_run_config("aae", {"data": {"name": "digits"}}, saved=True)
    assert saved.train.lr_schedule == "constant"  # a run saved before the recipe was trained at the default
    assert build_run_config("ae", None, [("data.name", "digits")]).train.lr_schedule == "constant"
    assert build_run_config("vae", None, [("data.name", "mnist")]).train.lr_schedule == "constant"


def test_a_data_sets_recipe_entry_wins_over_the_any_data_set_entry(monkeypatch):
    """``recipes["*"]`` fills every data set; a data set's own entry overrides it key by key."""
    from reprlab.pipelines.training import build_run_config

    monkeypatch.setattr(AdversarialAutoEncoder, "recipes", {
        "*": {"train.lr_schedule": "cosine", "train.lr": 1e-4}, "mnist": {"train.lr_schedule": "step", "latent_dim": 8}})
    on_mnist = build_run_config("aae", None, [("data.name", "mnist:static-binarized")])
    assert (on_mnist.train.lr_schedule, on_mnist.train.lr, on_mnist.model.latent_dim) == ("step", 1e-4, 8)
    on_digits = build_run_config("aae", None, [("data.name", "digits")])
    assert (on_digits.train.lr_schedule, on_digits.train.lr, on_digits.model.latent_dim) == ("cosine", 1e-4, 2)
