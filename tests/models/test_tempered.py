"""The Tempered GAN (Sajjadi et al. 2018): the paper's lens, the λ schedule, the lens's objective and
its distortion metric, and a short training in which the lens leaves the identity and comes back."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch import nn

from reprlab.data.base import TensorData
from reprlab.models import TemperedGAN, TemperedGANConfig
from reprlab.models.gan.tempered import Lens, ResidualBlock, lens_weight
from reprlab.train.config import TrainConfig
from reprlab.train.trainer import Trainer, seed_everything

TINY = dict(arch="mlp", g_hidden=(32,), d_hidden=(32,), latent_dim=4)


def _squares(n: int = 256, size: int = 8) -> TensorData:
    """n 1x8x8 images in [0, 1]: a bright 3x3 square at a random place on a faintly noisy dark background."""
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.rand(n, 1, size, size, generator=g)
    rows, cols = torch.randint(0, size - 2, (n,), generator=g), torch.randint(0, size - 2, (n,), generator=g)
    for i in range(n):
        x[i, 0, rows[i]:rows[i] + 3, cols[i]:cols[i] + 3] = 0.9
    return TensorData(x, torch.zeros(n, dtype=torch.long), name="squares")


def _randomize(module: nn.Module, std: float = 0.1) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std)


# ------------------------------------------------------------------------------------ the lens
def test_the_default_lens_is_the_papers_fig4():
    cfg = TemperedGANConfig()
    assert cfg.lens_arch == "paper" and cfg.lens_steps == 10_000 and cfg.lens_reconstruction == "mean"
    lens = TemperedGAN(TemperedGANConfig(**TINY), (3, 12, 10)).lens
    convs = [m for m in lens.modules() if isinstance(m, nn.Conv2d)]
    blocks = [m for m in lens.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 8 and len(convs) == 1 + 2 * 8 + 1
    for conv in convs:  # all 3x3, stride 1, padding 1
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
    assert (convs[0].in_channels, convs[0].out_channels) == (3, 32) and (convs[-1].in_channels, convs[-1].out_channels) == (32, 3)
    assert all((c.in_channels, c.out_channels) == (32, 32) for c in convs[1:-1])
    for block in blocks:  # conv 32 -> leaky ReLU -> conv 32
        assert [type(m) for m in block.body] == [nn.Conv2d, nn.LeakyReLU, nn.Conv2d]
    assert isinstance(lens.residual[1], nn.LeakyReLU)
    assert not [m for m in lens.modules() if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
                                                              nn.modules.instancenorm._InstanceNorm))]
    x = torch.rand(5, 3, 12, 10)
    assert lens(x).shape == x.shape
    assert torch.equal(lens(x), x)  # starts as the identity (zero last conv)


def test_the_lens_has_a_global_skip_and_residual_blocks_have_theirs():
    torch.manual_seed(0)
    lens = Lens((1, 8, 8), "paper")
    _randomize(lens)
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(lens(x), x, atol=1e-3)  # a random lens is not the identity
        torch.testing.assert_close(lens(x), x + lens.residual(x))
        nn.init.zeros_(lens.residual[-1].weight)
        nn.init.zeros_(lens.residual[-1].bias)
        assert torch.equal(lens(x), x)  # with the last conv zeroed, L(x) == x exactly: the global skip
        block = lens.residual[2]
        h = torch.randn(2, 32, 8, 8)
        assert not torch.allclose(block(h), h)
        nn.init.zeros_(block.body[-1].weight)
        nn.init.zeros_(block.body[-1].bias)
        assert torch.equal(block(h), h)  # the block's own skip


def test_the_small_and_mlp_lenses_stay_reachable():
    small = TemperedGAN(TemperedGANConfig(lens_arch="small", lens_depth=3, **TINY), (1, 8, 8)).lens
    assert not [m for m in small.modules() if isinstance(m, ResidualBlock)]
    assert len([m for m in small.modules() if isinstance(m, nn.Conv2d)]) == 3
    mlp = TemperedGAN(TemperedGANConfig(lens_depth=2, **TINY), (2,)).lens  # vectors: an MLP, whatever lens_arch
    assert [type(m) for m in mlp.residual] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
    for lens, x in ((small, torch.rand(3, 1, 8, 8)), (mlp, torch.randn(3, 2))):
        assert torch.equal(lens(x), x)


def test_the_zero_initialized_lens_still_learns():
    """The last conv starts at zero, yet the adversarial gradient reaches it at once, and the first
    conv as soon as the last one has moved: the lens can leave the identity."""
    seed_everything(0)
    model = TemperedGAN(TemperedGANConfig(**TINY), (1, 8, 8))
    first, last = model.lens.residual[0], model.lens.residual[-1]
    batch = _squares().take(torch.arange(32))
    opt = torch.optim.SGD(model.lens.parameters(), lr=0.1)
    model(batch, "lens")["loss"].backward()
    assert last.weight.grad.abs().sum() > 0
    assert first.weight.grad.abs().sum() == 0  # nothing passes a zero layer yet
    opt.step()
    opt.zero_grad()
    model(batch, "lens")["loss"].backward()
    assert first.weight.grad.abs().sum() > 0
    with torch.no_grad():
        assert not torch.equal(model.lens(batch.x), batch.x)


# ------------------------------------------------------------------------------------ λ and the objective
def test_lens_weight_by_hand_and_the_models_lambda_follows_the_lens_steps():
    k = 3000
    assert lens_weight(0, k) == 1.0
    assert lens_weight(k // 3, k) == pytest.approx(0.5)  # 1 − sin(π/6)
    assert lens_weight(k, k) == pytest.approx(0.0, abs=1e-12)  # 1 − sin(π/2)
    assert lens_weight(2 * k, k) == 0.0
    assert lens_weight(k // 2, k) == pytest.approx(1 - math.sqrt(0.5))  # 1 − sin(π/4)
    model = TemperedGAN(TemperedGANConfig(lens_steps=30, **TINY), (1, 8, 8))
    expected = {0: 1.0, 10: 0.5, 30: 0.0, 60: 0.0}
    for t in range(61):
        if t in expected:
            assert model.lam() == pytest.approx(expected[t], abs=1e-12)
            assert model(_squares().take(torch.arange(8)), "lens")["lambda"].item() == pytest.approx(expected[t], abs=1e-7)
        model.bump("lens_steps_done")


@pytest.mark.parametrize("normalization", ["mean", "sum"])
def test_lens_objective_and_distortion_match_an_independent_computation(normalization):
    seed_everything(0)
    model = TemperedGAN(TemperedGANConfig(lens_steps=30, lens_reconstruction=normalization, **TINY), (1, 8, 8))
    _randomize(model.lens.residual[-1], 0.01)  # a lens away from the identity
    for _ in range(10):
        model.bump("lens_steps_done")
    batch = _squares().take(torch.arange(32))
    torch.manual_seed(1)
    out = model(batch, "lens")
    with torch.no_grad():  # image by image, in float64
        per_image = [(model.lens(x[None]).double() - x.double()).pow(2).sum().item() for x in batch.x]
        torch.manual_seed(1)
        z = model.noise(32, batch.x)
        adversarial = -model.loss_fns.discriminator(model.D(model.lens(batch.x)), model.D(model.G(z)))
    dist = sum(per_image) / len(per_image)
    assert dist > 1e-3
    assert out["distortion"].item() == pytest.approx(dist, rel=1e-5)
    assert out["reconstruction"].item() == pytest.approx(dist / 64 if normalization == "mean" else dist, rel=1e-5)
    assert out["adversarial"].item() == pytest.approx(adversarial.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(0.5 * out["adversarial"].item() + out["reconstruction"].item(), rel=1e-5)


def test_with_lambda_zero_the_reconstruction_term_pulls_the_lens_back_to_the_identity():
    seed_everything(0)
    model = TemperedGAN(TemperedGANConfig(lens_steps=5, **TINY), (1, 8, 8))
    _randomize(model.lens.residual[-1], 0.01)
    for _ in range(5):
        model.bump("lens_steps_done")
    assert model.lam() == 0.0
    batch = _squares().take(torch.arange(64))
    opt = torch.optim.Adam(model.lens.parameters(), lr=1e-3)
    dists = []
    for _ in range(30):
        opt.zero_grad()
        out = model(batch, "lens")
        assert out["loss"].item() == out["reconstruction"].item()  # λ = 0: D plays no part
        out["loss"].backward()
        opt.step()
        dists.append(out["distortion"].item())
    windows = [sum(dists[i:i + 10]) / 10 for i in (0, 10, 20)]  # Adam oscillates a little from step to step
    assert dists[0] > 0.1 and windows[0] > windows[1] > windows[2] and dists[-1] < 0.05 * dists[0]


# ------------------------------------------------------------------------------------ training
def _train(tmp_path, normalization: str, k: int = 40, steps: int = 80) -> list[dict[str, float]]:
    """Train a tiny Tempered GAN on 8x8 squares, one metrics.csv row per step; return the rows.
    ``normalization="default"``: the config's default lens objective."""
    seed_everything(0)
    options = {} if normalization == "default" else {"lens_reconstruction": normalization}
    model = TemperedGAN(TemperedGANConfig(lens_steps=k, **options, **TINY), (1, 8, 8))
    run = tmp_path / normalization
    Trainer(TrainConfig(max_steps=steps, batch_size=32, log_every=1, checkpoint_every=10 ** 6, progress=False,
                        tensorboard=False), run_dir=run).fit(model, _squares())
    assert model.lam() == 0.0
    with open(run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tempered")
    return {n: _train(tmp, n) for n in ("default", "sum")}


def test_training_moves_the_lens_away_from_the_identity_while_lambda_is_large(runs):
    rows = runs["default"]
    assert len(rows) == 80 and [r["step"] for r in rows] == list(range(1, 81))
    assert {"train/lens/distortion", "train/lens/lambda", "train/lens/adversarial", "train/lens/reconstruction"} <= rows[0].keys()
    early = [r["train/lens/distortion"] for r in rows if r["train/lens/lambda"] >= 0.5]
    assert len(early) >= 10 and max(early) > 0.5  # the bug: it stayed ≈ 0
    for r in rows:
        assert r["train/lens/reconstruction"] == pytest.approx(r["train/lens/distortion"] / 64, rel=1e-4, abs=1e-9)


def test_after_k_steps_lambda_is_zero_and_the_lens_returns_toward_the_identity(runs):
    rows = runs["default"]
    peak = max(r["train/lens/distortion"] for r in rows)
    after = [r["train/lens/distortion"] for r in rows if r["train/lens/lambda"] == 0.0]
    assert len(after) >= 35
    assert sum(after[-5:]) / 5 < 0.5 * sum(after[:5]) / 5  # still decreasing with λ = 0
    assert after[-1] < 0.01 * peak


def test_a_reconstruction_summed_over_pixels_keeps_the_lens_at_the_identity(runs):
    """The diagnosis: with ``sum`` the pull back to x is d = 64 times stronger and the lens barely moves."""
    peak = {n: max(r["train/lens/distortion"] for r in rows) for n, rows in runs.items()}
    assert peak["sum"] < 0.1 * peak["default"]


def test_a_run_saved_before_the_paper_lens_loads_with_the_lens_it_was_trained_with(tmp_path):
    """A config.yaml without lens_arch / lens_reconstruction (written before they existed) reads back
    as the small lens with the summed term: its saved weights fit; a new run gets the paper lens."""
    import yaml

    from reprlab.pipelines.training import build_run_config, read_run_config

    rc = build_run_config("tempered-gan", None, [("data.name", "digits")])
    assert (rc.model.lens_arch, rc.model.lens_reconstruction) == ("paper", "mean")
    old = rc.to_dict()
    del old["model"]["lens_arch"], old["model"]["lens_reconstruction"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**old, "input_shape": [1, 8, 8]}))
    saved, shape = read_run_config(tmp_path)
    assert (saved.model.lens_arch, saved.model.lens_reconstruction) == ("small", "sum") and shape == (1, 8, 8)


# ------------------------------------------------------------------------------------ after K
def _fit(tmp_path, name: str, steps: int, k: int = 20, after: str = "identity", resume: bool = False) -> TemperedGAN:
    seed_everything(0)
    model = TemperedGAN(TemperedGANConfig(lens_steps=k, lens_after_k=after, **TINY), (1, 8, 8))
    Trainer(TrainConfig(max_steps=steps, batch_size=32, log_every=1, checkpoint_every=10, progress=False,
                        tensorboard=False), run_dir=tmp_path / name).fit(model, _squares(), resume=resume)
    return model


def _metrics(run) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_dropped_lens_trains_as_the_papers_until_k_then_stops_and_d_sees_x(tmp_path):
    """``lens_after_k=identity``: steps 1..K are the paper's to the bit; after K the lens takes no
    step (its weights stay those of step K), D's real input is x itself, and G and D keep training."""
    paper_k = _fit(tmp_path, "train-k", 20, after="train")
    dropped_k = _fit(tmp_path, "identity-k", 20)
    for a, b in zip(paper_k.state_dict().values(), dropped_k.state_dict().values()):
        assert torch.equal(a, b)
    dropped = _fit(tmp_path, "identity", 45)
    paper = _fit(tmp_path, "train", 45, after="train")
    assert dropped.lens_dropped() and not paper.lens_dropped() and dropped.counter("lens_steps_done") == 20
    for a, b in zip(dropped.lens.state_dict().values(), dropped_k.lens.state_dict().values()):
        assert torch.equal(a, b)  # no lens step after K
    assert any(not torch.equal(a, b) for a, b in zip(paper.lens.state_dict().values(), paper_k.lens.state_dict().values()))
    assert any(not torch.equal(a, b) for a, b in zip(dropped.generator.state_dict().values(), dropped_k.generator.state_dict().values()))
    x = _squares(8).x
    assert dropped.real_view(x) is x and not torch.equal(paper.real_view(x), x)
    rows = _metrics(tmp_path / "identity")
    assert [bool(r["train/lens/loss"]) for r in rows] == [r_step <= 20 for r_step in range(1, 46)]
    assert all(r["train/discriminator/loss"] and r["train/generator/loss"] for r in rows)


def test_a_run_with_a_dropped_lens_resumes_across_k_bit_for_bit(tmp_path):
    """Checkpoint at step 10 (before K = 20), crash, resume to 45: the same weights as one run."""
    whole = _fit(tmp_path, "whole", 45)
    _fit(tmp_path, "parts", 10)
    resumed = _fit(tmp_path, "parts", 45, resume=True)
    assert resumed.lens_dropped()
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
