"""PacGAN packing (Lin et al. 2018): D judges m samples at once, in every adversarial family."""

from __future__ import annotations

import pytest
import torch

from reprlab.data.base import Batch
from reprlab.errors import ConfigError
from reprlab.models import GAN, AAEConfig, AdversarialAutoEncoder, GANConfig
from reprlab.models.gan.regularizers import discriminator_objective, pack_samples, r1_penalty
from reprlab.models.gan import get_loss


def test_packing_puts_m_consecutive_samples_side_by_side():
    x = torch.arange(5 * 2 * 3 * 3, dtype=torch.float32).view(5, 2, 3, 3)  # 5 images of 2 channels
    p = pack_samples(x, 2)
    assert p.shape == (2, 4, 3, 3)  # the fifth image is left out
    assert torch.equal(p[0], torch.cat([x[0], x[1]])) and torch.equal(p[1], torch.cat([x[2], x[3]]))
    v = torch.arange(8.0).view(4, 2)
    assert pack_samples(v, 4).tolist() == [[0, 1, 2, 3, 4, 5, 6, 7]]
    assert pack_samples(v, 1) is v


def test_a_packed_gan_discriminator_sees_m_samples_and_judges_each_pack():
    torch.manual_seed(0)
    gan = GAN(GANConfig(pack=4, g_hidden=(16,), d_hidden=(16,), latent_dim=3), (2,))
    first = next(m for m in gan.discriminator.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 8  # 4 samples of 2 coordinates
    x = torch.randn(8, 2)
    t = gan.D(x)
    assert t.shape == (2,)
    torch.testing.assert_close(t[1], gan.discriminator(x[4:].reshape(1, 8)).squeeze())
    out = gan(Batch(x=x, y=None, extras={}), "discriminator")
    assert torch.isfinite(out["loss"])
    with pytest.raises(ConfigError, match="set train.batch_size to a multiple of 4"):
        gan(Batch(x=torch.randn(6, 2), y=None, extras={}), "discriminator")


def test_penalties_are_taken_per_pack():
    """R1 on packed inputs: γ/2 times the mean over packs of the squared gradient norm of D(pack)
    with respect to the whole pack, computed here from the unpacked samples' gradients."""
    torch.manual_seed(1)
    gan = GAN(GANConfig(pack=2, d_hidden=(8,), g_hidden=(8,), reg="r1", gamma=3.0), (2,))
    x_real, x_fake = torch.randn(6, 2), torch.randn(6, 2)
    out = discriminator_objective(get_loss("ns"), gan.D_packed, x_real, x_fake, regularizer=r1_penalty,
                                  reg_name="r1", gamma=3.0, pack=2)
    x = x_real.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(gan.D(x).sum(), x)  # (6, 2): each sample's part of its pack's gradient
    expected = 0.5 * 3.0 * g.pow(2).sum() / 3  # 3 packs
    torch.testing.assert_close(out["r1"], expected)
    unpacked = GAN(GANConfig(pack=1, d_hidden=(8,), g_hidden=(8,)), (2,))
    assert next(m for m in unpacked.discriminator.modules() if isinstance(m, torch.nn.Linear)).in_features == 2


def test_packed_conv_discriminator_and_conditional_aae():
    gan = GAN(GANConfig(pack=2, channels=(8,), latent_dim=4), (1, 8, 8))
    assert gan.D(torch.rand(4, 1, 8, 8)).shape == (2,)
    assert next(m for m in gan.discriminator.modules() if isinstance(m, torch.nn.Conv2d)).in_channels == 2
    aae = AdversarialAutoEncoder(AAEConfig(pack=2, hidden=(16,), d_hidden=(8,), conditional=True, prior="mixture10"), (6,))
    x, y = torch.rand(4, 6), torch.tensor([0, 3, -1, 2])
    b = Batch(x=x, y=y, extras={})
    for update in ("discriminator", "generator"):
        assert torch.isfinite(aae(b, update)["loss"])
    assert aae.D(torch.randn(4, 2), y).shape == (2,)


def test_pack_from_the_command_line(tmp_path, capsys):
    from helpers import error_line, run_cli

    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", "ring8", "model.pack=4", "train.batch_size=64",
                           "--steps", "20", "--run-dir", str(tmp_path / "pac"))
    assert code == 0, err
    assert "pack: 4" in (tmp_path / "pac" / "config.yaml").read_text()
    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", "ring8", "model.pack=3", "train.batch_size=64",
                           "--steps", "5", "--run-dir", str(tmp_path / "bad"))
    assert code == 2 and "multiple of model.pack=3" in error_line(err)


def test_maxout_takes_the_largest_of_k_affine_pieces_by_hand():
    from reprlab.nets import Maxout

    layer = Maxout(2, 2, pieces=3)
    with torch.no_grad():  # unit 0: pieces x1, x2, -x1 - 1; unit 1: pieces 0, 2 x1 + x2, -x2
        layer.linear.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [-1, 0], [0, 0], [2, 1], [0, -1]]))
        layer.linear.bias.copy_(torch.tensor([0.0, 0, -1, 0, 0, 0]))
    x = torch.tensor([[1.0, -2.0], [-3.0, 0.5]])
    expected = torch.tensor([[max(1, -2, -2), max(0, 0, 2)], [max(-3, 0.5, 2), max(0, -5.5, -0.5)]], dtype=torch.float32)
    torch.testing.assert_close(layer(x), expected)
    with pytest.raises(ConfigError, match="at least 2 pieces"):
        Maxout(2, 2, pieces=1)


def test_pacgan_grid_networks_batch_norm_generator_maxout_discriminator_and_normal_init():
    from reprlab.nets import Maxout

    torch.manual_seed(0)
    c = GANConfig(latent_dim=2, g_hidden=(400,) * 4, d_hidden=(200,) * 3, g_mlp_batch_norm=True, d_maxout=5,
                  init_std=0.02, pack=4)
    gan = GAN(c, (2,))
    g_layers = list(gan.generator)
    bns = [m for m in g_layers if isinstance(m, torch.nn.BatchNorm1d)]
    linears = [m for m in g_layers if isinstance(m, torch.nn.Linear)]
    assert len(bns) == 4 and all(b.num_features == 400 for b in bns)
    assert [lin.bias is None for lin in linears] == [True] * 4 + [False]  # hidden layers: BN's shift replaces the bias
    maxouts = [m for m in gan.discriminator if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.linear.out_features) for m in maxouts] == [(8, 1000), (200, 1000), (200, 1000)]
    w = torch.cat([m.linear.weight.detach().flatten() for m in maxouts])
    assert abs(float(w.std()) - 0.02) < 0.001 and abs(float(w.mean())) < 0.001  # N(0, 0.02²)
    assert all(float(m.linear.bias.detach().abs().max()) == 0 for m in maxouts)
    x = torch.randn(100, 2)
    assert gan.D(x).shape == (25,)
    assert torch.isfinite(gan(Batch(x=x, y=None, extras={}), "generator")["loss"])
    with pytest.raises(ConfigError, match="maxout layers are for MLPs"):
        GAN(GANConfig(arch="conv", d_maxout=5, channels=(8,)), (1, 8, 8))


def test_pacgan_grid_data_has_sigma_005_and_is_scored_at_3_sigma():
    from reprlab.data import load_dataset
    from reprlab.eval.modes import mixture_mode_coverage

    d = load_dataset("grid25-pacgan:5000", split="train")
    centers = torch.tensor([[i, j] for i in (-4.0, -2, 0, 2, 4) for j in (-4.0, -2, 0, 2, 4)])
    resid = d.x - centers[d.y]
    assert abs(float(resid.std()) - 0.05) < 0.003
    near = centers[:3] + 0.12  # 0.12·√2 = 0.17 > 3σ = 0.15: not high quality; 0.1·√2 = 0.141 is
    assert mixture_mode_coverage(near, "grid25-pacgan")["hq"] == 0
    assert mixture_mode_coverage(centers[:3] + 0.1, "grid25-pacgan")["modes"] == 3
