"""subspace_agreement: principal angles and MSE ratio against hand-built decoders and sklearn's PCA."""

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from reprlab.data import TensorData
from reprlab.errors import UsageError
from reprlab.eval import decoder_columns, subspace_agreement
from reprlab.models import AutoEncoder, AutoEncoderConfig
from reprlab.train import Trainer, TrainConfig


def linear_ae(dim: int, k: int) -> AutoEncoder:
    return AutoEncoder(AutoEncoderConfig(hidden=(), latent_dim=k, activation="linear"), (dim,)).double()


def set_weights(model, enc_w, enc_b, dec_w, dec_b):
    with torch.no_grad():
        enc, dec = model.encoder.linears[0], model.decoder.linears[0]
        enc.weight.copy_(torch.as_tensor(enc_w)), enc.bias.copy_(torch.as_tensor(enc_b))
        dec.weight.copy_(torch.as_tensor(dec_w)), dec.bias.copy_(torch.as_tensor(dec_b))


@pytest.fixture
def axis_data():
    """Data whose sample covariance is exactly diag(25, 16, 9, 4, 1): PCA(k) spans the first k axes."""
    g = np.random.default_rng(0)
    z = g.normal(size=(4000, 5))
    q, _ = np.linalg.qr(z - z.mean(0))  # orthonormal columns, each with zero mean
    return q * np.sqrt(len(z)) * np.array([5.0, 4.0, 3.0, 2.0, 1.0]) + 1.5


def test_pca_weights_agree_exactly_with_pca(axis_data):
    x, k = axis_data, 2
    pca = PCA(k).fit(x)
    U, mu = pca.components_.T, pca.mean_  # (5, k), (5,)
    model = linear_ae(5, k)
    set_weights(model, U.T, -U.T @ mu, U, mu)
    r = subspace_agreement(model, x)
    assert r["k"] == k
    assert r["min_cosine_principal_angle"] == pytest.approx(1.0, abs=1e-9)
    assert r["mse_ratio_to_pca"] == pytest.approx(1.0, abs=1e-9)
    assert r["mse_pca"] == pytest.approx(((pca.inverse_transform(pca.transform(x)) - x) ** 2).mean())


def test_agreement_depends_on_the_subspace_not_the_basis(axis_data):
    x, k = axis_data, 2
    pca = PCA(k).fit(x)
    U, mu = pca.components_.T, pca.mean_
    R = np.array([[2.0, 1.0], [0.5, -3.0]])  # any invertible change of basis of the codes
    model = linear_ae(5, k)
    set_weights(model, np.linalg.inv(R) @ U.T, -np.linalg.inv(R) @ U.T @ mu, U @ R, mu)
    r = subspace_agreement(model, x)
    assert r["min_cosine_principal_angle"] == pytest.approx(1.0, abs=1e-9)
    assert r["mse_ratio_to_pca"] == pytest.approx(1.0, abs=1e-9)


def test_principal_angle_of_a_tilted_decoder_is_the_tilt(axis_data):
    """Decoder columns e1 and cos(t) e2 + sin(t) e3 against PCA's span(e1, e2): angles 0 and t."""
    x, t = axis_data, 0.3
    V = np.zeros((5, 2))
    V[0, 0] = 1.0
    V[1, 1], V[2, 1] = math.cos(t), math.sin(t)
    model = linear_ae(5, 2)
    set_weights(model, V.T, np.zeros(2), V, np.zeros(5))
    r = subspace_agreement(model, x)
    assert sorted(r["cosines"]) == pytest.approx([math.cos(t), 1.0], abs=1e-9)
    assert r["min_cosine_principal_angle"] == pytest.approx(math.cos(t), abs=1e-9)
    assert r["mse_ratio_to_pca"] > 1.05  # a worse subspace, without the mean: a larger error


def test_decoder_columns_reads_the_affine_decoder():
    model = linear_ae(4, 3)
    v, b = decoder_columns(model)
    dec = model.decoder.linears[0]
    np.testing.assert_allclose(v, dec.weight.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(b, dec.bias.detach().numpy(), atol=1e-12)
    assert next(model.parameters()).dtype == torch.float64  # restored after the float64 probe


def test_nonlinear_decoder_is_refused():
    model = AutoEncoder(AutoEncoderConfig(hidden=(8,), latent_dim=2, activation="tanh"), (5,))
    with pytest.raises(UsageError, match="non-linear decoder"):
        subspace_agreement(model, np.random.default_rng(0).normal(size=(50, 5)))


def test_trained_linear_ae_reaches_pca_with_the_trainers_lbfgs(axis_data):
    """Baldi & Hornik through the library's own path: Trainer + full-batch L-BFGS, float64."""
    x = torch.as_tensor(axis_data, dtype=torch.float32)
    data = TensorData(x, name="axes")
    torch.manual_seed(0)
    model = AutoEncoder(AutoEncoderConfig(hidden=(), latent_dim=3, activation="linear"), (5,))
    cfg = TrainConfig(optimizer="lbfgs", lr=1.0, batch_size=len(data), max_steps=5, precision="64-true",
                      progress=False, accelerator="cpu", tensorboard=False)
    Trainer(cfg).fit(model, data)
    r = subspace_agreement(model, x)
    assert r["min_cosine_principal_angle"] > 0.9999
    assert 1 - 1e-6 < r["mse_ratio_to_pca"] < 1.0001
