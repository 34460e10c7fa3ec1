"""GAN losses, regularizers and the GAN model's training contract."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reprlab.config import from_dict, to_dict
from reprlab.data.base import TensorData
from reprlab.errors import ConfigError, UsageError
from reprlab.models import GAN, AAEConfig, GANConfig, TemperedGANConfig
from reprlab.models.gan import get_loss, get_regularizer
from reprlab.models.gan.losses import (
    gan_discriminator_loss,
    logratio_generator_loss,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    wgan_critic_loss,
)
from reprlab.models.gan.regularizers import r1_penalty, r2_penalty, roth_penalty, wgan_gradient_penalty
from reprlab.train.config import TrainConfig
from reprlab.train.trainer import Trainer, seed_everything


def _sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


# ------------------------------------------------------------------------------------ losses
def test_losses_equal_the_lectures_expressions_in_probabilities():
    t_real, t_fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([-0.7, 0.4, -3.0])
    d_r = [_sigmoid(t) for t in t_real.tolist()]
    d_f = [_sigmoid(t) for t in t_fake.tolist()]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    expected_d = -mean([math.log(d) for d in d_r]) - mean([math.log(1 - d) for d in d_f])
    assert gan_discriminator_loss(t_real, t_fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert minimax_generator_loss(t_fake).item() == pytest.approx(mean([math.log(1 - d) for d in d_f]), rel=1e-6)
    assert nonsaturating_generator_loss(t_fake).item() == pytest.approx(-mean([math.log(d) for d in d_f]), rel=1e-6)
    assert logratio_generator_loss(t_fake).item() == pytest.approx(mean([math.log((1 - d) / d) for d in d_f]), rel=1e-5)
    assert wgan_critic_loss(t_real, t_fake).item() == pytest.approx(t_fake.mean().item() - t_real.mean().item())


def test_logratio_loss_is_the_sum_of_minimax_and_nonsaturating_and_never_saturates():
    t = torch.linspace(-20, 20, 41, requires_grad=True)
    total = minimax_generator_loss(t) + nonsaturating_generator_loss(t)
    assert total.item() == pytest.approx(logratio_generator_loss(t).item(), abs=1e-5)
    (g_mm,) = torch.autograd.grad(minimax_generator_loss(t[:1]), t)
    (g_lr,) = torch.autograd.grad(logratio_generator_loss(t[:1]), t)
    assert abs(g_mm[0]) < 1e-8  # minimax: no gradient when D rejects the fake (t = -20)
    assert g_lr[0].item() == pytest.approx(-1.0)  # logratio: constant gradient


def test_optimal_discriminator_is_pr_over_pr_plus_pg():
    # P_r, P_g on 4 points; D(x) = σ(t_x) free per point; the expected loss is minimized at D* = p_r/(p_r+p_g).
    p_r = torch.tensor([0.1, 0.4, 0.3, 0.2], dtype=torch.float64)
    p_g = torch.tensor([0.25, 0.25, 0.4, 0.1], dtype=torch.float64)
    t = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([t], max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        # expectation as a weighted mean: E_Pr softplus(-t) + E_Pg softplus(t)
        loss = (p_r * nn.functional.softplus(-t)).sum() + (p_g * nn.functional.softplus(t)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(torch.sigmoid(t.detach()), p_r / (p_r + p_g), atol=1e-6, rtol=0)
    # and the batch form used in training agrees with the weighted form at any t
    x_r = torch.tensor([0.5, -1.0])
    assert gan_discriminator_loss(x_r, x_r).item() == pytest.approx(
        (nn.functional.softplus(-x_r).mean() + nn.functional.softplus(x_r).mean()).item()
    )


def test_unknown_loss_and_regularizer_and_undefined_combinations_are_refused():
    with pytest.raises(ConfigError, match="unknown GAN loss"):
        get_loss("hinge2")
    with pytest.raises(ConfigError, match="unknown GAN regularizer"):
        get_regularizer("r3")
    with pytest.raises(ConfigError, match="probability"):
        GANConfig(loss="wgan", reg="roth")
    with pytest.raises(ConfigError, match="already includes"):
        GANConfig(loss="wgan-gp", reg="gp")
    assert get_loss("wgan-gp") is get_loss("wgan")


# ------------------------------------------------------------------------------------ regularizers
def _mlp_d(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def _fd_grad(D, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """∇_x D(x) per sample by central finite differences: (B, 3)."""
    g = torch.zeros_like(x)
    for j in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, j] = eps
        g[:, j] = (D(x + e) - D(x - e)) / (2 * eps)
    return g


def test_gradient_penalties_match_finite_differences():
    net = _mlp_d()
    D = lambda x: net(x).squeeze(1)  # noqa: E731
    x_r, x_f = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        g_r, g_f = _fd_grad(D, x_r), _fd_grad(D, x_f)
        s_r, s_f = torch.sigmoid(D(x_r)), torch.sigmoid(D(x_f))
    gamma = 3.0
    assert r1_penalty(D, x_r, x_f, gamma).item() == pytest.approx(gamma / 2 * g_r.pow(2).sum(1).mean().item(), rel=1e-6)
    assert r2_penalty(D, x_r, x_f, gamma).item() == pytest.approx(gamma / 2 * g_f.pow(2).sum(1).mean().item(), rel=1e-6)
    roth = gamma / 2 * (((1 - s_r) ** 2 * g_r.pow(2).sum(1)).mean() + (s_f**2 * g_f.pow(2).sum(1)).mean())
    assert roth_penalty(D, x_r, x_f, gamma).item() == pytest.approx(roth.item(), rel=1e-6)
    torch.manual_seed(1)
    eps = torch.rand(5, 1, dtype=torch.float64)
    with torch.no_grad():
        g_hat = _fd_grad(D, eps * x_r + (1 - eps) * x_f)
    torch.manual_seed(1)
    gp = wgan_gradient_penalty(D, x_r, x_f, gamma)
    assert gp.item() == pytest.approx(gamma * (g_hat.norm(dim=1) - 1).pow(2).mean().item(), rel=1e-5)


def test_penalty_gradient_reaches_the_discriminators_weights():
    # D_ψ(x) = ψ·x: R1 = γ/2 ‖ψ‖², so ∂R1/∂ψ = γ ψ (needs create_graph through ∇_x D)
    psi = torch.tensor([0.5, -2.0, 1.0], requires_grad=True)
    D = lambda x: x @ psi  # noqa: E731
    r1 = r1_penalty(D, torch.randn(4, 3), torch.randn(4, 3), gamma=2.0)
    r1.backward()
    torch.testing.assert_close(psi.grad, 2.0 * psi.detach())


# ------------------------------------------------------------------------------------ the model
def _ring(n: int = 512) -> TensorData:
    g = torch.Generator().manual_seed(0)
    k = torch.randint(0, 8, (n,), generator=g)
    a = 2 * math.pi * k / 8
    x = torch.stack([2 * torch.cos(a), 2 * torch.sin(a)], 1) + 0.02 * torch.randn(n, 2, generator=g)
    return TensorData(x, k, name="ring")


def _fit(cfg: GANConfig, steps: int, data=None, **train):
    data = data or _ring()
    seed_everything(0)
    model = GAN(cfg, data.sample_shape)
    tc = TrainConfig(max_steps=steps, batch_size=64, progress=False, tensorboard=False, log_every=1, **train)
    return model, Trainer(tc).fit(model, data)


def test_each_update_moves_only_its_own_player():
    seed_everything(0)
    model = GAN(GANConfig(g_hidden=(16,), d_hidden=(16,), latent_dim=4), (2,))
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    batch = _ring().take(torch.arange(32))
    opts = {u.name: torch.optim.SGD(u.parameters(), lr=0.1) for u in model.updates()}
    for name in ("discriminator", "generator"):
        for o in opts.values():
            o.zero_grad(set_to_none=True)
        model(batch, name)["loss"].backward()
        opts[name].step()
        moved_g = any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
        moved_d = any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))
        assert (moved_g, moved_d) == ((False, True) if name == "discriminator" else (True, True))
    # the discriminator update never built a graph through G
    out = model(batch, "discriminator")
    grads = torch.autograd.grad(out["loss"], list(model.generator.parameters()), allow_unused=True)
    assert all(g is None for g in grads)


def test_n_critic_updates_the_generator_every_n_steps_and_wgan_clips():
    calls: list[str] = []
    cfg = GANConfig(loss="wgan", n_critic=3, clip=0.05, g_hidden=(16,), d_hidden=(16,), latent_dim=4)
    seed_everything(0)
    model = GAN(cfg, (2,))
    original = model.after_update
    model.after_update = lambda name: (calls.append(name), original(name))  # type: ignore[method-assign]
    Trainer(TrainConfig(max_steps=7, batch_size=32, progress=False, tensorboard=False, lr=0.5)).fit(model, _ring())
    assert calls.count("discriminator") == 7 and calls.count("generator") == 3  # steps 0, 3, 6
    assert int(model.d_steps) == 7
    w = torch.cat([p.flatten() for p in model.discriminator.parameters()])
    assert w.abs().max().item() == pytest.approx(0.05)  # lr=0.5 pushes weights past the bound: clipped


def test_ema_generator_is_the_exponential_average_of_the_generator():
    seed_everything(0)
    model = GAN(GANConfig(ema=0.9, g_hidden=(8,), d_hidden=(8,), latent_dim=3), (2,))
    before = [p.detach().clone() for p in model.generator_ema.parameters()]
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    model.after_update("generator")
    for e, b, p in zip(model.generator_ema.parameters(), before, model.generator.parameters()):
        torch.testing.assert_close(e, 0.9 * b + 0.1 * p)
    assert all(not p.requires_grad for p in model.generator_ema.parameters())
    z = torch.randn(5, 3)
    torch.testing.assert_close(model.decode(z), model.generator_ema.eval()(z))  # the EMA by default
    torch.testing.assert_close(model.decode(z, ema=False), model.generator.eval()(z))  # G itself on request
    assert not torch.allclose(model.decode(z), model.decode(z, ema=False))


def test_instance_noise_is_annealed_linearly_to_zero():
    model = GAN(GANConfig(instance_noise=0.4, instance_noise_steps=10, g_hidden=(8,), d_hidden=(8,)), (2,))
    seen = []
    for _ in range(12):
        seen.append(model.noise_std())
        model.after_update("discriminator")
    assert seen[0] == pytest.approx(0.4) and seen[5] == pytest.approx(0.2) and seen[10:] == [0.0, 0.0]


@pytest.mark.parametrize("loss,reg", [("ns", "r1"), ("minimax", "roth"), ("logratio", "r2"), ("wgan-gp", "none")])
def test_short_training_moves_samples_towards_the_ring(loss, reg):
    cfg = GANConfig(loss=loss, reg=reg, gamma=1.0, n_critic=5 if loss == "wgan-gp" else 1, g_hidden=(64, 64), d_hidden=(64, 64), latent_dim=8)
    seed_everything(0)
    start = GAN(cfg, (2,)).sample(500, torch.Generator().manual_seed(0)).norm(dim=1)
    model, result = _fit(cfg, 400)
    end = model.sample(500, torch.Generator().manual_seed(0)).norm(dim=1)
    # untrained samples sit near the origin; trained ones approach the ring of radius 2
    assert (end - 2).abs().mean() < 0.6 * (start - 2).abs().mean()
    assert all(math.isfinite(v) for v in result.train_metrics.values())


# ------------------------------------------------------------------------------------ the adversary's options
@pytest.mark.parametrize("cls,key", [(GANConfig, "loss"), (TemperedGANConfig, "loss"), (AAEConfig, "gan_loss")])
def test_wgan_gp_resolves_to_the_wgan_loss_with_the_gp_regularizer(cls, key):
    cfg = from_dict(cls, {key: "wgan-gp", "gp_weight": 3.0, "gamma": 0.1}, "model")
    assert (getattr(cfg, key), cfg.reg, cfg.gamma, cfg.clip, cfg.weight_clip) == ("wgan", "gp", 3.0, None, None)
    assert from_dict(cls, to_dict(cfg), "model") == cfg  # the run's config.yaml reads back the same
    for reg in ("gp", "r1"):
        with pytest.raises(ConfigError, match=f"model.{key}=wgan-gp already includes its regularizer"):
            cls(**{key: "wgan-gp", "reg": reg})
    assert cls(**{key: "wgan", "reg": "gp"}).weight_clip == 0.01  # an explicit wgan + gp still clips, unless clip=null


def test_wgan_gp_trains_exactly_as_wgan_with_gp_and_no_clipping():
    common = dict(g_hidden=(8,), d_hidden=(8,), latent_dim=2, n_critic=2)
    runs = [_fit(cfg, 6) for cfg in (GANConfig(loss="wgan-gp", gp_weight=3.0, **common),
                                     GANConfig(loss="wgan", reg="gp", gamma=3.0, clip=None, **common))]
    (a, ra), (b, rb) = runs
    losses = [{k: v for k, v in r.train_metrics.items() if k.startswith("train/")} for r in (ra, rb)]
    assert losses[0] == losses[1] and "train/discriminator/gp" in losses[0]
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------------ Tempered GAN
def test_lens_weight_follows_the_papers_schedule():
    from reprlab.models.gan.tempered import lens_weight

    assert lens_weight(0, 300) == 1.0
    assert lens_weight(100, 300) == pytest.approx(0.5)  # 1 − sin(π/6)
    assert lens_weight(300, 300) == pytest.approx(0.0, abs=1e-12)
    assert lens_weight(301, 300) == 0.0
    values = [lens_weight(t, 300) for t in range(301)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_lens_starts_as_identity_fools_the_discriminator_then_returns_to_identity():
    from reprlab.models import TemperedGAN, TemperedGANConfig

    data = _ring()
    seed_everything(0)
    model = TemperedGAN(TemperedGANConfig(lens_steps=150, g_hidden=(32,), d_hidden=(32,), latent_dim=4), (2,))
    x = data.x[:256]
    torch.testing.assert_close(model.lens(x), x)  # L = identity at the start
    batch = data.take(torch.arange(256))
    # one lens step with λ = 1 raises the discriminator's loss on (L(x), G(z)) (it is the lens's adversary)
    opt = torch.optim.SGD(model.lens.parameters(), lr=0.05)
    torch.manual_seed(3)
    z = model.noise(256, x)
    d_loss = lambda: model.loss_fns.discriminator(model.D(model.lens(x)), model.D(model.G(z))).item()  # noqa: E731
    before = d_loss()
    out = model(batch, "lens")
    out["loss"].backward()
    opt.step()
    assert d_loss() > before
    # trained past K (λ = 0), the reconstruction term brings the lens back to (nearly) the identity
    Trainer(TrainConfig(max_steps=400, batch_size=64, progress=False, tensorboard=False)).fit(model, data)
    assert model.lam() == 0.0
    assert (model.lens(x) - x).pow(2).sum(1).mean().item() < 1e-3


def test_lens_plays_against_the_discriminator_on_the_same_noisy_inputs(monkeypatch):
    """With instance noise, D is trained on x + σε; the lens's adversarial term must see the same σ."""
    from reprlab.models import TemperedGAN, TemperedGANConfig
    from reprlab.models.gan import tempered

    data = _ring()
    seed_everything(0)
    model = TemperedGAN(TemperedGANConfig(lens_steps=10, g_hidden=(8,), d_hidden=(8,), latent_dim=2,
                                          instance_noise=0.5, instance_noise_steps=100), (2,))
    for _ in range(40):  # σ has decayed to 0.5 * (1 - 40/100) = 0.3
        model.bump("d_steps")
    sigmas = []
    real = tempered.instance_noise
    monkeypatch.setattr(tempered, "instance_noise", lambda x, s, *a, **k: sigmas.append(s) or real(x, s, *a, **k))
    model(data.take(torch.arange(32)), "lens")
    assert sigmas == [pytest.approx(0.3), pytest.approx(0.3)]  # L(x) and G(z) alike
    torch.manual_seed(0)
    noisy = model(data.take(torch.arange(32)), "lens")["adversarial"]
    model.config.instance_noise = 0.0
    torch.manual_seed(0)
    assert model(data.take(torch.arange(32)), "lens")["adversarial"] != noisy  # the noise reaches D


def test_step_counters_are_read_on_the_host_and_follow_a_loaded_state_dict():
    from reprlab.models import TemperedGAN, TemperedGANConfig
    from reprlab.models.gan.tempered import lens_weight

    cfg = TemperedGANConfig(lens_steps=10, g_hidden=(8,), d_hidden=(8,), latent_dim=2, instance_noise=1.0, instance_noise_steps=10)
    seed_everything(0)
    a = TemperedGAN(cfg, (2,))
    Trainer(TrainConfig(max_steps=4, batch_size=32, progress=False, tensorboard=False)).fit(a, _ring())
    assert int(a.lens_steps_done) == a.counter("lens_steps_done") == 4 and int(a.d_steps) == a.counter("d_steps") == 4
    assert a.lam() == lens_weight(4, 10) and a.noise_std() == pytest.approx(0.6)
    b = TemperedGAN(cfg, (2,))
    assert b.lam() == 1.0 and b.noise_std() == 1.0  # read (and mirrored) before loading
    b.load_state_dict(a.state_dict())
    assert b.lam() == a.lam() and b.noise_std() == a.noise_std()  # the mirror follows the loaded buffers


# ------------------------------------------------------------------------------------ lazy regularization
def test_lazy_regularization_adds_k_gamma_times_the_penalty_on_every_kth_update_only():
    # D_ψ(x) = ψ·x: ∇_x D = ψ, so R1 = γ/2 ‖ψ‖² whatever the batch (a hand-worked value)
    from reprlab.models.gan.regularizers import discriminator_objective

    psi = torch.tensor([0.5, -2.0, 1.0])
    D = lambda x: x @ psi  # noqa: E731
    loss_fns, reg = GANConfig(reg="r1").game()
    x_r, x_f = torch.randn(6, 3), torch.randn(6, 3)
    adv = loss_fns.discriminator(D(x_r), D(x_f))
    gamma, k = 2.0, 4
    for step in range(9):
        out = discriminator_objective(loss_fns, D, x_r, x_f, regularizer=reg, reg_name="r1", gamma=gamma, reg_every=k, d_step=step)
        lazy = step % k == 0
        expected = adv + (k * gamma / 2 * psi.pow(2).sum() if lazy else 0.0)
        torch.testing.assert_close(out["loss"], expected)
        assert ("r1" in out) is lazy
    # k = 1 is the penalty of every update, at weight γ
    out = discriminator_objective(loss_fns, D, x_r, x_f, regularizer=reg, reg_name="r1", gamma=gamma, d_step=3)
    torch.testing.assert_close(out["loss"], adv + gamma / 2 * psi.pow(2).sum())


def test_lazy_regularization_follows_the_discriminators_update_count_in_gan_and_aae():
    from reprlab.models.gan.aae import AdversarialAutoEncoder

    calls = []
    model, _ = _fit(GANConfig(g_hidden=(8,), d_hidden=(8,), latent_dim=2, reg="r1", gamma=1.0, reg_every=3), 7)
    assert model.counter("d_steps") == 7
    real = model.regularizer
    model.regularizer = lambda D, xr, xf, g: calls.append(g) or real(D, xr, xf, g)
    batch = _ring().take(torch.arange(32))
    for _ in range(6):  # updates 7..12: the penalty on 9 and 12, at weight 3γ
        model(batch, "discriminator")
        model.after_update("discriminator")
    assert calls == [3.0, 3.0]
    # the AAE counts its discriminator's updates only when it needs to (its state dict is unchanged otherwise)
    assert "d_steps" not in AdversarialAutoEncoder(AAEConfig(latent_dim=2, hidden=(8,), d_hidden=(8,)), (4,)).state_dict()
    aae = AdversarialAutoEncoder(AAEConfig(latent_dim=2, hidden=(8,), d_hidden=(8,), reg="r1", reg_every=2), (4,))
    x = TensorData(torch.rand(16, 4), name="x").take(torch.arange(16))
    logged = []
    for _ in range(4):
        logged.append("r1" in aae(x, "discriminator"))
        aae.after_update("discriminator")
    assert logged == [True, False, True, False] and int(aae.state_dict()["d_steps"]) == 4
    with pytest.raises(ConfigError):
        from_dict(GANConfig, {"reg_every": 0})


@pytest.mark.parametrize("d_fc", [(), (7,), (9, 5)])
def test_conv_gan_codes_are_the_discriminators_input_to_its_output_layer(d_fc):
    """encode(x) is what D's last linear layer reads: D(x) = head(encode(x)), with or without d_fc."""
    torch.manual_seed(0)
    gan = GAN(GANConfig(arch="conv", channels=(4, 8), d_fc=d_fc, g_fc=(6,)), (1, 8, 8)).eval()
    x = torch.rand(5, 1, 8, 8)
    codes = gan.encode(x)
    assert codes.shape == (5, d_fc[-1] if d_fc else 8 * 2 * 2)
    torch.testing.assert_close(gan.D(x), gan.discriminator.head(codes).squeeze(1))
    assert gan.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, 8, 8)


# ------------------------------------------------------------------------------------ InfoGAN's categorical code
def test_info_loss_is_minus_the_mean_log_probability_of_the_true_category():
    from reprlab.models.gan.losses import info_loss

    logits, c = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), torch.tensor([0, 1])
    by_hand = [math.exp(2) / (math.exp(2) + 1 + math.exp(-1)), math.exp(0.5) / (2 * math.exp(0.5) + math.exp(3))]
    assert info_loss(logits, c).item() == pytest.approx(-sum(math.log(p) for p in by_hand) / 2, rel=1e-6)


@pytest.mark.parametrize("arch,shape", [("mlp", (2,)), ("conv", (1, 8, 8))])
def test_infogan_code_is_one_hot_after_the_noise_and_its_loss_reads_ds_features(arch, shape):
    """G's input is (z, one-hot c); the generator update's loss is L_G(D(G)) + λ·CE(Q(features of G), c),
    with D(x) = output(features(x)); without the code nothing changes (same fixed_z, no Q)."""
    cfg = dict(arch=arch, channels=(4, 8), d_fc=(6,) if arch == "conv" else (), g_hidden=(8,), d_hidden=(8,), latent_dim=3)
    plain = GAN(GANConfig(**cfg), shape)
    assert plain.q_head is None and plain.fixed_z.shape == (64, 3)
    torch.testing.assert_close(plain.fixed_z, torch.randn(64, 3, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    gan = GAN(GANConfig(info_categories=4, info_weight=0.5, **cfg), shape)
    assert gan.fixed_z.shape == (64, 7) and gan.q_head.out_features == 4
    torch.testing.assert_close(gan.fixed_z[:, :3], plain.fixed_z)
    assert gan.fixed_z[:, 3:].argmax(1).tolist() == [i % 4 for i in range(64)] and gan.fixed_z[:, 3:].sum().item() == 64
    x = torch.rand(6, *shape)
    torch.testing.assert_close(gan._output(gan._features(x)), gan.D(x))
    batch = TensorData(x, name="t").take(torch.arange(6))
    torch.manual_seed(1)
    out = gan(batch, "generator")
    torch.manual_seed(1)
    z, c = gan.noise_and_code(6, x)
    assert z.shape == (6, 7) and torch.equal(z[:, 3:].argmax(1), c) and torch.equal(z[:, 3:].sum(1), torch.ones(6))
    fake = gan.G(z)
    ce = nn.functional.cross_entropy(gan.q_head(gan.encode(fake)), c)
    torch.testing.assert_close(out["info"], ce.detach())
    torch.testing.assert_close(out["loss"], nonsaturating_generator_loss(gan.D(fake)) + 0.5 * ce)
    owned = {id(p) for p in gan.updates()[1].parameters()}
    assert all(id(p) in owned for p in gan.q_head.parameters()) and not any(id(p) in owned for p in gan.discriminator.parameters())
    cats = gan.category_samples(2, torch.Generator().manual_seed(0))
    noise = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))  # the same noise in every row
    rows = [gan.decode(gan.with_code(noise, torch.full((2,), k))) for k in range(4)]
    torch.testing.assert_close(cats, torch.cat(rows))
    with pytest.raises(UsageError, match="info_categories"):
        plain.category_samples()


def test_tempered_gan_takes_infogans_code_in_all_three_updates():
    from reprlab.models.gan.tempered import TemperedGAN

    torch.manual_seed(0)
    model = TemperedGAN(TemperedGANConfig(arch="mlp", g_hidden=(8,), d_hidden=(8,), latent_dim=3, info_categories=3,
                                          lens_steps=5), (2,))
    batch = _ring(16).take(torch.arange(16))
    outs = {u.name: model(batch, u.name) for u in model.updates()}
    assert set(outs) == {"discriminator", "generator", "lens"}
    assert all(torch.isfinite(o["loss"]) for o in outs.values()) and "info" in outs["generator"]
    assert model.sample(5, torch.Generator().manual_seed(0)).shape == (5, 2)


def test_infogan_training_makes_the_code_readable_from_the_samples():
    """G and Q minimize L_I: after a short run Q names the category of a sample far above chance (1/4)."""
    cfg = GANConfig(info_categories=4, g_hidden=(32, 32), d_hidden=(32, 32), latent_dim=4, reg="r1", gamma=1.0)
    seed_everything(0)
    model, result = _fit(cfg, 300)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(400, 4, generator=g)
    c = torch.randint(4, (400,), generator=g)
    with torch.no_grad():
        x = model.decode(model.with_code(z, c), ema=False)
        acc = (model.q_head(model.encode(x)).argmax(1) == c).float().mean().item()
    assert acc > 0.9, acc
    assert result.train_metrics["train/generator/info"] < 0.5 * math.log(4)


def test_infogan_options_refuse_a_constant_code_and_packing():
    with pytest.raises(ConfigError, match="info_categories=1"):
        GANConfig(info_categories=1)
    with pytest.raises(ConfigError, match="model.pack=1"):
        from_dict(GANConfig, {"info_categories": 10, "pack": 2}, "model")
