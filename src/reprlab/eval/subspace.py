r"""How close a linear auto-encoder is to PCA (Baldi & Hornik 1989; the lecture's "AE ≈ PCA").

A linear auto-encoder with ``k`` codes, trained to minimise :math:`\sum_i \|W'(W x_i) - x_i\|^2`,
has its decoder's column space :math:`\mathrm{span}(W')` equal to the top-``k`` principal
subspace of the data, and its reconstruction error equal to PCA's (the sum of the discarded
eigenvalues). :func:`subspace_agreement` measures both.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from sklearn.decomposition import PCA

from ..errors import UsageError


@torch.no_grad()
def decoder_columns(model, *, atol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    r"""The affine decoder :math:`\hat x = V h + b` of ``model``, as (V (D, k), b (D,)).

    Read off by decoding the origin and the unit codes: :math:`b = \mathrm{dec}(0)`,
    :math:`V_{:,j} = \mathrm{dec}(e_j) - b`. Raises a one-line error when the decoder is not
    affine (checked on random codes), since a non-linear decoder has no column space.
    """
    if not (model.can_encode and model.can_reconstruct):
        raise UsageError(f"model {model.name!r} has no encoder/decoder; subspace agreement needs an auto-encoder")
    p = next(model.parameters())
    k = int(model.encode(torch.zeros(1, *model.input_shape, device=p.device, dtype=p.dtype)).shape[1])
    codes = torch.cat([torch.zeros(1, k), torch.eye(k)]).to(p.device, torch.float64)
    was = model.training
    model.eval()
    try:
        model_dtype = p.dtype
        model.double()
        out = model.decode(codes).flatten(1)  # (k + 1, D)
        b, v = out[0], (out[1:] - out[0]).T  # (D,), (D, k)
        h = torch.randn(8, k, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(p.device)
        err = (model.decode(h).flatten(1) - (h @ v.T + b)).abs().max()
        scale = out.abs().max().clamp_min(1.0)
    finally:
        model.to(model_dtype)
        model.train(was)
    if err > atol * scale:
        raise UsageError(
            f"model {model.name!r} has a non-linear decoder (affine fit error {float(err):.2g}); "
            "subspace agreement needs a linear auto-encoder (hidden=[] activation=linear loss=mse)"
        )
    return v.cpu().numpy(), b.cpu().numpy()


def subspace_agreement(model, X, *, batch_size: int = 1024) -> dict:
    r"""Compare a linear auto-encoder's subspace and error with PCA's on data ``X``.

    Parameters
    ----------
    model : a trained linear auto-encoder (``encode``/``decode``, affine decoder) with ``k`` codes.
    X : array or tensor ``(N, *input_shape)``: the data it was trained on.

    Returns
    -------
    dict
        With the keys:

        - ``cosines`` : cosines of the principal angles :math:`\theta_1 \le \dots \le \theta_k`
          between :math:`\mathrm{span}(V)` (decoder columns) and the top-``k`` PCA subspace
          (sklearn's ``PCA(k).components_``), computed by :func:`scipy.linalg.subspace_angles`;
        - ``min_cosine_principal_angle`` : :math:`\cos\theta_k` (1 = identical subspaces);
        - ``mse`` / ``mse_pca`` : mean over samples and coordinates of :math:`(\hat x - x)^2`
          for the auto-encoder and for PCA's reconstruction :math:`\mu + U_k U_k^\top (x - \mu)`;
        - ``mse_ratio_to_pca`` : ``mse / mse_pca`` (≥ 1 up to rounding: PCA is optimal);
        - ``k`` : number of codes.
    """
    x = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if x.ndim < 2 or x.shape[0] < 2:
        raise UsageError(f"X must hold several samples, shape (N, ...); got {tuple(x.shape)}")
    v, _ = decoder_columns(model)
    k = v.shape[1]
    flat = x.reshape(x.shape[0], -1).double().numpy()
    if k > min(flat.shape):
        raise UsageError(f"the model has {k} codes but X (shape {flat.shape}) has rank at most {min(flat.shape)}")
    pca = PCA(k, svd_solver="full").fit(flat)
    cosines = np.cos(scipy.linalg.subspace_angles(v, pca.components_.T))[::-1]  # ascending angle
    mse_pca = float(((pca.inverse_transform(pca.transform(flat)) - flat) ** 2).mean())
    p = next(model.parameters())
    was = model.training
    model.eval()
    sq = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size].to(p.device, p.dtype)
            sq += float((model.reconstruct(xb).double() - xb.double()).pow(2).sum())
    model.train(was)
    mse = sq / flat.size
    return {
        "k": k,
        "cosines": cosines.tolist(),
        "min_cosine_principal_angle": float(cosines.min()),
        "mse": mse,
        "mse_pca": mse_pca,
        "mse_ratio_to_pca": mse / mse_pca if mse_pca > 0 else float("inf"),
    }
