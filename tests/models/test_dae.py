"""The denoising auto-encoder: the loss compares the reconstruction of x̃ with the clean x."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reprlab.pipelines import training as run
from reprlab.cli import main
from reprlab.data import Batch, load_dataset, masking_noise
from reprlab.errors import ConfigError
from reprlab.models import AutoEncoder, AutoEncoderConfig, DenoisingAutoEncoder, DenoisingAutoEncoderConfig


pytestmark = pytest.mark.usefixtures("one_thread")


def small_dae(noise="masking:0.5", loss="mse", **kw) -> DenoisingAutoEncoder:
    torch.manual_seed(0)
    return DenoisingAutoEncoder(DenoisingAutoEncoderConfig(hidden=(16,), latent_dim=4, noise=noise, loss=loss, **kw), (1, 8, 8))


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_loss_reconstructs_the_corrupted_input_against_the_clean_one(loss):
    model = small_dae(loss=loss)
    x = torch.rand(6, 1, 8, 8)
    out = model.denoising_loss(x, torch.Generator().manual_seed(3))
    x_tilde = masking_noise(x, 0.5, torch.Generator().manual_seed(3))  # the same draw, by hand
    logits = model.decoder(model.encoder(x_tilde)).view(6, 1, 8, 8)
    if loss == "mse":
        expected = ((logits - x) ** 2).sum() / 6
        against_noisy = ((logits - x_tilde) ** 2).sum() / 6
    else:
        expected = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 6
        against_noisy = F.binary_cross_entropy_with_logits(logits, x_tilde, reduction="sum") / 6
    assert torch.allclose(out["loss"], expected)
    assert not torch.allclose(out["loss"], against_noisy)  # the target is the clean x, not x̃
    assert not torch.allclose(out["loss"], AutoEncoder.forward(model, Batch(x))["loss"])  # the input is x̃, not x


def test_training_forward_corrupts_with_the_global_stream_and_eval_forward_does_not():
    model = small_dae()
    x = torch.rand(6, 1, 8, 8)
    model.train()
    torch.manual_seed(11)
    out = model(Batch(x))
    torch.manual_seed(11)
    x_tilde = masking_noise(x, 0.5)
    logits = model.decoder(model.encoder(x_tilde)).view_as(x)
    assert torch.allclose(out["loss"], ((logits - x) ** 2).sum() / 6)
    model.eval()
    clean = model.decoder(model.encoder(x)).view_as(x)
    assert torch.allclose(model(Batch(x))["loss"], ((clean - x) ** 2).sum() / 6)


@pytest.mark.parametrize("noise", ["masking:0", "gaussian:0", "none"])
def test_without_noise_the_loss_equals_the_plain_autoencoder_loss(noise):
    dae = small_dae(noise=noise, loss="bce")
    ae = AutoEncoder(AutoEncoderConfig(hidden=(16,), latent_dim=4, loss="bce"), (1, 8, 8))
    ae.load_state_dict(dae.state_dict())
    x = torch.rand(5, 1, 8, 8)
    dae.train()
    ae.train()
    a, b = dae(Batch(x)), ae(Batch(x))
    assert torch.equal(a["loss"], b["loss"]) and torch.equal(a["mse"], b["mse"])


def test_evaluate_reports_clean_and_denoising_errors_with_a_fixed_draw():
    model = small_dae(eval_seed=5)
    x = torch.rand(8, 1, 8, 8)
    m = model.evaluate(Batch(x))
    assert set(m) == {"loss", "mse", "denoise_loss", "denoise_mse", "noise_mse"}
    x_tilde = masking_noise(x, 0.5, torch.Generator().manual_seed(5))
    assert torch.allclose(m["noise_mse"], F.mse_loss(x_tilde, x))
    assert torch.allclose(m["denoise_mse"], F.mse_loss(model.reconstruct(x_tilde), x))
    assert torch.allclose(m["mse"], F.mse_loss(model.reconstruct(x), x))
    assert torch.equal(model.evaluate(Batch(x))["denoise_loss"], m["denoise_loss"])  # same noise every validation


def test_bad_noise_spec_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"^model.noise: unknown corruption 'blur'") as e:
        run.build_run_config("dae", None, [("noise", "blur:0.1")])
    assert "\n" not in str(e.value)


def test_reprlab_train_dae_end_to_end(tmp_path):
    out = tmp_path / "dae"
    argv = ["-q", "train", "dae", "hidden=[32]", "latent_dim=8", "noise=masking:0.3+gaussian:0.05", "--steps", "30",
            "train.val_every=15", "train.log_every=15", "train.checkpoint_every=15", "--run-dir", str(out)]
    assert main(argv) == 0
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "val/denoise_mse" in header and "val/noise_mse" in header
    model = run.load(out)
    assert isinstance(model, DenoisingAutoEncoder) and str(model.corruption) == "masking:0.3+gaussian:0.05"
    assert model.reconstruct(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)


def test_a_trained_dae_denoises_held_out_digits_better_than_the_identity():
    rc = run.build_run_config("dae", None, [
        ("hidden", [128]), ("latent_dim", 64), ("loss", "bce"), ("noise", "masking:0.25"),
        ("train.max_steps", 300), ("train.lr", 3e-3), ("train.progress", False), ("val_fraction", 0.0),
    ])
    model, _ = run.train_run(rc, None)
    model.eval()
    test = load_dataset("digits", split="test", seed=0)
    x_tilde = masking_noise(test.x, 0.25, torch.Generator().manual_seed(123))
    with torch.no_grad():
        denoised = F.mse_loss(model.reconstruct(x_tilde), test.x).item()
    identity = F.mse_loss(x_tilde, test.x).item()
    assert denoised < 0.8 * identity, (denoised, identity)
