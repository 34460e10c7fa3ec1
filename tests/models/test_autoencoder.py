"""The auto-encoder: losses against hand computations, tied weights, conv shapes, linear AE = PCA."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA

from reprlab.data import Batch, load_dataset
from reprlab.errors import ConfigError, UsageError
from reprlab.models.autoencoder import AutoEncoder, AutoEncoderConfig, reconstruction_loss
from reprlab.nets import MLP, ConvDecoder, ConvEncoder, TiedLinear
from reprlab.nets.mlp import TiedMLP


def test_reconstruction_losses_equal_hand_computations():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 7, generator=g)
    logits = torch.randn(5, 7, generator=g)
    mse = reconstruction_loss(logits, x, "mse")
    assert torch.allclose(mse, sum(((logits[i] - x[i]) ** 2).sum() for i in range(5)) / 5)
    p = torch.sigmoid(logits.double())
    xd = x.double()
    bce_by_hand = -(xd * p.log() + (1 - xd) * (1 - p).log()).sum() / 5
    assert torch.allclose(reconstruction_loss(logits, x, "bce").double(), bce_by_hand, rtol=1e-5)
    # stable for saturated logits, where log(sigmoid) in float32 would give inf
    big = torch.tensor([[60.0, -60.0]])
    assert torch.isfinite(reconstruction_loss(big, torch.tensor([[0.0, 1.0]]), "bce"))
    assert reconstruction_loss(big, torch.tensor([[1.0, 0.0]]), "bce").item() < 1e-20


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_forward_loss_and_decode(loss):
    torch.manual_seed(0)
    model = AutoEncoder(AutoEncoderConfig(hidden=(16,), latent_dim=3, loss=loss), (1, 8, 8))
    x = torch.rand(4, 1, 8, 8)
    out = model(Batch(x))
    logits = model.decoder(model.encoder(x)).view(4, 1, 8, 8)
    expected = F.mse_loss(logits, x, reduction="sum") / 4 if loss == "mse" else F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 4
    assert torch.allclose(out["loss"], expected)
    h = model.encode(x)
    assert h.shape == (4, 3)
    x_hat = model.decode(h)
    assert x_hat.shape == x.shape
    if loss == "bce":
        assert torch.allclose(x_hat, torch.sigmoid(logits)) and (x_hat > 0).all() and (x_hat < 1).all()
        assert torch.allclose(out["mse"], F.mse_loss(torch.sigmoid(logits), x))
    else:
        assert torch.allclose(x_hat, logits)
    assert torch.allclose(model.reconstruct(x), x_hat)
    assert model.can_encode and model.can_reconstruct and not model.can_sample


def test_input_checks():
    model = AutoEncoder(AutoEncoderConfig(hidden=(8,), latent_dim=2), (1, 8, 8))
    assert model.encode(torch.rand(1, 8, 8)).shape == (1, 2)  # one unbatched sample
    assert model.encode(np.random.rand(3, 1, 8, 8).astype(np.float32)).shape == (3, 2)
    with pytest.raises(UsageError, match=r"input shape \(3, 64\) does not match the model's \(B, 1, 8, 8\)"):
        model.encode(torch.rand(3, 64))
    with pytest.raises(UsageError, match="must be floating point"):
        model.encode(torch.zeros(3, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(UsageError, match="cannot sample"):
        model.sample(4)


def test_tied_weights_share_storage_and_gradients():
    torch.manual_seed(0)
    tied = AutoEncoder(AutoEncoderConfig(hidden=(20, 10), latent_dim=4, tied=True), (12,))
    free = AutoEncoder(AutoEncoderConfig(hidden=(20, 10), latent_dim=4), (12,))
    enc = tied.encoder.linears
    dec = [m for m in tied.decoder if isinstance(m, TiedLinear)]
    assert [d.tied_to[0] for d in dec] == enc[::-1]
    # parameters: the untied model's count minus the decoder weight matrices
    n_tied = sum(p.numel() for p in tied.parameters())
    n_free = sum(p.numel() for p in free.parameters())
    assert n_free - n_tied == sum(lin.weight.numel() for lin in enc)
    # the decoder computes with W^T: compare with an explicit computation
    h = torch.randn(3, 4)
    y = h
    for i, d in enumerate(dec):
        y = y @ enc[::-1][i].weight + d.bias
        if i < len(dec) - 1:
            y = torch.relu(y)
    assert torch.allclose(tied.decode(h), y, atol=1e-6)
    # the gradient of the shared weight is the sum of its two uses
    x = torch.rand(5, 12)
    tied.zero_grad()
    tied(Batch(x))["loss"].backward()
    g_total = enc[0].weight.grad.clone()
    w = enc[0].weight
    w_enc = w.detach().clone().requires_grad_()
    w_dec = w.detach().clone().requires_grad_()
    hid = F.linear(x, w_enc, enc[0].bias)
    # recompute by hand with the two uses of W1 as separate leaves
    a = torch.relu(hid)
    a = torch.relu(enc[1](a))
    code = enc[2](a)
    b = torch.relu(F.linear(code, enc[2].weight.t(), dec[0].bias))
    b = torch.relu(F.linear(b, enc[1].weight.t(), dec[1].bias))
    out = F.linear(b, w_dec.t(), dec[2].bias)
    ((out - x) ** 2).sum().div(5).backward()
    assert torch.allclose(g_total, w_enc.grad + w_dec.grad, atol=1e-6)
    # a state dict round trip keeps the tie
    copy = AutoEncoder(AutoEncoderConfig(hidden=(20, 10), latent_dim=4, tied=True), (12,))
    copy.load_state_dict(tied.state_dict())
    assert copy.decoder[0].tied_to[0] is copy.encoder.linears[-1]
    assert torch.allclose(copy.reconstruct(x), tied.reconstruct(x))


def test_tied_mlp_mirrors_any_depth():
    enc = MLP(7, (5, 4), 3, "tanh")
    dec = TiedMLP(enc, "tanh")
    assert dec(torch.randn(2, 3)).shape == (2, 7)
    assert isinstance(dec[-1], torch.nn.Identity)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (1, 105, 105), (3, 13, 17), (2, 5, 9)])
@pytest.mark.parametrize("channels", [(4,), (4, 8), (4, 8, 8)])
def test_conv_decoder_mirrors_encoder_sizes_exactly(shape, channels):
    if min(shape[1:]) < 2 ** len(channels):
        with pytest.raises(ConfigError, match="stride-2 blocks"):
            ConvEncoder(shape, channels, 5)
        return
    enc = ConvEncoder(shape, channels, 5)
    dec = ConvDecoder(shape, channels, 5)
    x = torch.rand(2, *shape)
    z = enc(x)
    assert z.shape == (2, 5)
    assert dec(z).shape == (2, *shape)
    model = AutoEncoder(AutoEncoderConfig(arch="conv", channels=channels, latent_dim=5), shape)
    assert model.reconstruct(x).shape == x.shape


def test_conv_needs_images():
    with pytest.raises(ConfigError, match="model.arch=conv needs images"):
        AutoEncoder(AutoEncoderConfig(arch="conv"), (64,))


def test_linear_autoencoder_spans_the_pca_subspace():
    """Baldi & Hornik: the linear AE with squared error learns the top-k principal subspace."""
    data = load_dataset("digits", split="all")
    x = data.x.flatten(1).double()
    k = 5
    torch.manual_seed(0)
    model = AutoEncoder(AutoEncoderConfig(hidden=(), latent_dim=k, activation="linear"), (64,)).double()
    # full-batch L-BFGS: the objective is smooth and the test is about the optimum, not the optimizer
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=500, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = model(Batch(x))["loss"]
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
    pca = PCA(k).fit(x.numpy())
    decoder_cols = model.decoder.linears[0].weight.detach().numpy()  # (64, k): x̂ = W' h + b
    angles = scipy.linalg.subspace_angles(decoder_cols, pca.components_.T)
    assert np.cos(angles).min() > 0.999, np.cos(angles)
    pca_sse = ((pca.inverse_transform(pca.transform(x.numpy())) - x.numpy()) ** 2).sum(1).mean()
    with torch.no_grad():
        ae_sse = float(model(Batch(x))["loss"])
    assert pca_sse * (1 - 1e-9) <= ae_sse <= 1.001 * pca_sse  # PCA is optimal; the AE reaches it
