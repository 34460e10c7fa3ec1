r"""Marginalized (stacked) denoising auto-encoders, in closed form (Chen, Xu, Weinberger, Sha 2012,
"Marginalized Denoising Autoencoders for Domain Adaptation", ICML).

Lecture notation: the columns of :math:`X \in \mathbb{R}^{d \times n}` are the samples,
:math:`\bar X = [X; \mathbf 1^\top]` appends a constant bias row, :math:`\tilde X` holds ``m`` copies
of :math:`\bar X` whose coordinates are independently zeroed with probability ``p``. One linear
layer reconstructs the clean inputs from the corrupted ones,

.. math::  W = \arg\min_W \| \bar X - W \tilde X \|^2 = P Q^{-1},
           \qquad P = \bar X \tilde X^\top, \quad Q = \tilde X \tilde X^\top,

and letting ``m -> ∞`` marginalizes the corruption: :math:`W = \mathbb E[P]\, \mathbb E[Q]^{-1}` with
:math:`q = (1-p, \dots, 1-p, 1)` (last entry for the bias) and :math:`S = \bar X \bar X^\top`,

.. math::  \mathbb E[Q]_{\alpha\beta} = \begin{cases} S_{\alpha\beta}\, q_\alpha q_\beta & \alpha \ne \beta \\
                                                    S_{\alpha\alpha}\, q_\alpha & \alpha = \beta \end{cases},
           \qquad \mathbb E[P]_{\alpha\beta} = S_{\alpha\beta}\, q_\beta .

Only the ``d`` features are reconstructed (``W`` is ``d × (d+1)``), a ridge ``λ`` (``reg``) is
added to the non-bias diagonal of :math:`\mathbb E[Q]`, and the hidden representation is
:math:`h = \sigma(W \bar X)` with :math:`\sigma = \tanh` (the paper's choice). mSDA stacks layers,
:math:`h_t = \sigma(W_t \bar h_{t-1})`, and outputs :math:`[x; h_1; \dots; h_L]`.

How it is computed: ``S`` is accumulated over chunks of samples (dense BLAS ``syrk`` or sparse
products; a sparse ``X`` is never densified), so memory is ``O(d²)`` whatever ``n``. Rows
``α ≤ d`` of :math:`\mathbb E[P]` are those of :math:`\mathbb E[Q]+Λ` divided by :math:`q_\alpha`,
except on the diagonal, hence

.. math::  W = [D_q^{-1} \mid 0] + G\, (\mathbb E[Q] + Λ)^{-1}_{1:d,\,:},
           \qquad G = \mathrm{diag}\big(-p\, S_{\alpha\alpha} - λ / (1-p)\big),

one Cholesky factorization and inverse of a symmetric positive-definite matrix (``≈ d³`` flops,
against ``≈ 7/3 d³`` for a Cholesky solve with ``d`` right-hand sides).

Implementation note: code works with rows = samples (``X`` is ``n × d``); ``W_`` is stored as
in the paper, ``d × (d+1)``, and ``transform`` returns :math:`\sigma(\bar X^\top W^\top)`, ``n × d``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.linalg.blas import get_blas_funcs
from scipy.linalg.lapack import get_lapack_funcs
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MDA", "MSDA", "marginalized_moments"]

_ACTIVATIONS = ("tanh", "sigmoid", "linear")
_BACKENDS = ("auto", "numpy", "torch")
_CHUNK_VALUES = 1 << 22  # default chunk: about 4M stored values (32 MB in float64)


# ---------------------------------------------------------------------------------- the math
def marginalized_moments(S, p: float, reg: float = 0.0):
    r"""``(E[Q] + Λ, E[P])`` of the slide, from :math:`S = \bar X \bar X^\top` (bias last).

    :math:`\mathbb E[Q]_{\alpha\beta} = S_{\alpha\beta} q_\alpha q_\beta` (:math:`\alpha \ne \beta`),
    :math:`S_{\alpha\alpha} q_\alpha` on the diagonal, plus ``reg`` on the non-bias diagonal;
    :math:`\mathbb E[P]_{\alpha\beta} = S_{\alpha\beta} q_\beta` for the ``d`` non-bias rows.
    ``S`` is ``(k+1) × (k+1)`` (full, symmetric); returns shapes ``(k+1, k+1)`` and ``(k, k+1)``.
    """
    S = np.asarray(S)
    k = S.shape[0] - 1
    q = np.full(k + 1, 1.0 - p)
    q[k] = 1.0
    EQ = S * np.outer(q, q)
    EQ[np.diag_indices(k + 1)] = q * np.diagonal(S)
    EQ[np.arange(k), np.arange(k)] += reg
    return EQ, S[:k] * q


def _bias_q(k: int, p: float, dtype) -> np.ndarray:
    q = np.full(k + 1, 1.0 - p, dtype=dtype)
    q[k] = 1.0
    return q


def _fill_upper(A) -> None:
    """Copy the lower triangle of the square ``A`` onto its upper one, in place, by blocks."""
    n, B = A.shape[0], 512
    for i in range(0, n, B):
        j = min(i + B, n)
        block = A[i:j, i:j]
        block[np.triu_indices(j - i, 1)] = block.T[np.triu_indices(j - i, 1)]
        A[i:j, j:] = A[j:, i:j].T


def _gram_numpy(X, chunk_size: int, dtype) -> np.ndarray:
    r"""Lower triangle of :math:`S = \bar X \bar X^\top` (``(d+1) × (d+1)``, Fortran order, bias last),
    accumulated over chunks of ``chunk_size`` samples; ``X`` is ``n × d``, dense or CSR."""
    n, d = X.shape
    S = np.zeros((d + 1, d + 1), dtype=dtype, order="F")
    if sp.issparse(X):
        X = X.tocsr()  # row chunks
        for start in range(0, n, chunk_size):
            C = X[start : start + chunk_size]
            S[:d, :d] += (C.T @ C).toarray().T  # (d, d), symmetric: .T matches S's Fortran order
        S[d, :d] = np.asarray(X.sum(axis=0)).ravel()
    else:
        syrk = get_blas_funcs("syrk", dtype=dtype)
        buf = np.empty((min(chunk_size, n), d + 1), dtype=dtype)  # [x_i, 1] rows; buf.T is F-contiguous
        buf[:, d] = 1.0
        for start in range(0, n, chunk_size):
            c = X[start : start + chunk_size]
            b = buf[: len(c)]
            b[:, :d] = c
            S = syrk(1.0, b.T, beta=1.0, c=S, trans=0, lower=1, overwrite_c=1)  # S += X̄_c X̄_cᵀ
    S[d, d] = n
    return S


def _weights_numpy(S, p: float, reg: float):
    """``W`` (``d × (d+1)``) from the lower triangle of ``S``, overwritten; None if E[Q]+Λ is singular."""
    d = S.shape[0] - 1
    q = 1.0 - p
    diag_S = S.diagonal()[:d].copy()
    S[:d, :d] *= q * q  # E[Q]: S_ab q_a q_b off the diagonal
    S[d, :d] *= q
    idx = np.arange(d)
    S[idx, idx] = q * diag_S + reg  # q_a S_aa + λ
    potrf, potri = get_lapack_funcs(("potrf", "potri"), (S,))
    S, info = potrf(S, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        return None
    S, info = potri(S, lower=1, overwrite_c=1)  # (E[Q] + Λ)^{-1}, lower triangle
    _fill_upper(S)
    W = S[:d]  # (d, d+1) view
    W *= (-(p * diag_S) - reg / q)[:, None]  # G (E[Q] + Λ)^{-1}
    W[idx, idx] += 1.0 / q  # + [D_q^{-1} | 0]
    return W


def _solve_numpy(S_in, C, p: float, reg: float):
    """General ``W = E[P] (E[Q] + Λ)^{-1}``: ``S_in`` full gram of the inputs (bias last),
    ``C`` the ``r × (k+1)`` cross moments of the clean targets with them (min-norm if singular)."""
    q = _bias_q(S_in.shape[0] - 1, p, S_in.dtype)
    EQ, _ = marginalized_moments(S_in, p, reg)
    EP = C * q
    try:
        return scipy.linalg.solve(EQ, EP.T, assume_a="pos").T
    except np.linalg.LinAlgError:
        return scipy.linalg.lstsq(EQ, EP.T)[0].T


def _torch_dtype(dtype):
    import torch

    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def _gram_torch(X, chunk_size: int, dtype, device):
    """Full ``S`` on ``device``; a sparse ``X`` goes through scipy on the CPU, is chunk-densified for a GPU."""
    import torch

    n, d = X.shape
    if sp.issparse(X) and torch.device(device).type == "cpu":
        S = _gram_numpy(X, chunk_size, dtype)
        _fill_upper(S)
        return torch.from_numpy(np.ascontiguousarray(S))
    S = torch.zeros(d + 1, d + 1, dtype=_torch_dtype(dtype), device=device)
    for start in range(0, n, chunk_size):
        c = _chunk_to_torch(X[start : start + chunk_size], dtype, device)  # (c, d)
        cb = torch.cat([c, torch.ones(len(c), 1, dtype=c.dtype, device=device)], dim=1)  # (c, d+1)
        S.addmm_(cb.T, cb)
    return S


def _chunk_to_torch(c, dtype, device):
    """A chunk of rows as a dense tensor on ``device`` (sparse chunks are densified on the CPU)."""
    import torch

    c = c.toarray() if sp.issparse(c) else c
    c = np.ascontiguousarray(c, dtype=dtype)
    return torch.from_numpy(c if c.flags.writeable else c.copy()).to(device)  # (read-only memmaps)


def _weights_torch(S, p: float, reg: float):
    """As :func:`_weights_numpy`, in torch on ``S.device``; None if E[Q]+Λ is singular."""
    import torch

    d = S.shape[0] - 1
    q = 1.0 - p
    diag_S = S.diagonal()[:d].clone()
    S[:d, :d] *= q * q
    S[d, :d] *= q
    S[:d, d] *= q
    idx = torch.arange(d, device=S.device)
    S[idx, idx] = q * diag_S + reg
    L, info = torch.linalg.cholesky_ex(S)
    if int(info) != 0:
        return None
    # (E[Q] + Λ)^{-1}_{1:d,:} = (E[Q] + Λ)^{-1} [I_d; 0], transposed (symmetric); torch.cholesky_inverse
    # is many times slower on CPU (measured: 30 s against 3 s at d = 3000)
    eye = torch.eye(d + 1, d, dtype=S.dtype, device=S.device)
    W = torch.cholesky_solve(eye, L).T  # (d, d+1)
    W *= (-(p * diag_S) - reg / q)[:, None]
    W[idx, idx] += 1.0 / q
    return W


def _solve_torch(S_in, C, p: float, reg: float):
    """As :func:`_solve_numpy`, in torch on ``S_in.device``."""
    import torch

    k = S_in.shape[0] - 1
    q = torch.full((k + 1,), 1.0 - p, dtype=S_in.dtype, device=S_in.device)
    q[k] = 1.0
    EQ = S_in * torch.outer(q, q)
    EQ.diagonal().copy_(q * S_in.diagonal())
    EQ.diagonal()[:k] += reg
    EP = C * q
    L, info = torch.linalg.cholesky_ex(EQ)
    if int(info) != 0:
        return EP @ torch.linalg.pinv(EQ, hermitian=True)
    return torch.cholesky_solve(EP.T, L).T


# ---------------------------------------------------------------------------------- one layer
def _activate(H, activation: str) -> None:
    """``H = σ(H)`` in place (numpy array or torch tensor)."""
    if activation == "linear":
        return
    if isinstance(H, np.ndarray):
        (np.tanh if activation == "tanh" else expit)(H, out=H)
    else:
        H.tanh_() if activation == "tanh" else H.sigmoid_()


def _hidden(X, Ws, blocks, activation: str):
    r""":math:`h = \frac1s \sum_t \sigma(W_t \bar X_{I_t})` for samples in rows: ``X`` ``(n, d)`` dense,
    CSC or a torch tensor; block ``t`` reads columns ``blocks[t]`` (None: all); returns ``(n, r)``."""
    H = None
    for W, cols in zip(Ws, blocks):
        Xb = X if cols is None else X[:, cols]
        Z = Xb @ W[:, :-1].T  # (n, r)
        Z += W[:, -1]  # bias column
        _activate(Z, activation)
        if H is None:
            H = Z
        else:
            H += Z
    if len(Ws) > 1:
        H /= len(Ws)
    return H


def _fit_weights(X, p: float, reg: float, chunk_size: int, dtype, backend: str, device):
    """``W`` (``d × (d+1)``, numpy) of one mDA layer on the ``n × d`` input ``X``."""
    d = X.shape[1]
    if backend == "numpy":
        W = _weights_numpy(_gram_numpy(X, chunk_size, dtype), p, reg)
        if W is None:  # E[Q] + Λ singular (p = 0 and reg = 0 on collinear data): min-norm solution
            S = _gram_numpy(X, chunk_size, dtype)
            _fill_upper(S)
            W = _solve_numpy(S, S[:d], p, reg)
        return W
    W = _weights_torch(_gram_torch(X, chunk_size, dtype, device), p, reg)
    if W is None:
        S = _gram_torch(X, chunk_size, dtype, device)
        W = _solve_torch(S, S[:d], p, reg)
    return W.cpu().numpy()


def _fit_block_weights(X, targets, cols, p, reg, chunk_size, dtype, backend, device):
    """``W_t`` (``r × (|I_t|+1)``) mapping input columns ``cols`` (+ bias) to the clean ``targets``."""
    Z = X[:, np.concatenate([cols, targets])]  # (n, b + r): inputs then targets
    b, r = len(cols), len(targets)
    inputs, outs = np.r_[0:b, b + r], np.arange(b, b + r)  # bias is the last row of S
    if sp.issparse(Z):
        Z = Z.tocsr()
    if backend == "numpy":
        S = _gram_numpy(Z, chunk_size, dtype)
        _fill_upper(S)
        return _solve_numpy(S[np.ix_(inputs, inputs)], S[np.ix_(outs, inputs)], p, reg)
    import torch

    S = _gram_torch(Z, chunk_size, dtype, device)
    inputs, outs = (torch.as_tensor(i, device=S.device) for i in (inputs, outs))
    return _solve_torch(S[inputs][:, inputs], S[outs][:, inputs], p, reg).cpu().numpy()


def _resolve_backend(backend: str, device):
    """``("numpy", None)`` or ``("torch", device)``. ``auto``: torch on CUDA when available or when a
    device is given, else numpy: on a CPU the gram of sparse data goes through scipy's sparse
    products either way, and scipy's ``potrf`` + ``potri`` (the inverse identity, ``≈ d³`` flops)
    beat torch's Cholesky + ``cholesky_solve`` (``≈ 7/3 d³``; ``cholesky_inverse`` is slower still)
    at d = 5,000 in ``benchmarks/msda_speed.py`` (see ``results/msda_speed.json``)."""
    if backend == "numpy":
        if device is not None:
            raise ValueError(f"device={device!r} needs backend='torch' or 'auto', got backend='numpy'")
        return "numpy", None
    import torch

    if device is None and backend == "auto" and not torch.cuda.is_available():
        return "numpy", None
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return "torch", str(dev)


def _check_common(est) -> None:
    """One-line ValueErrors for the hyper-parameters shared by MDA and MSDA."""
    p, reg = est.p, est.reg
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"p (corruption probability) must be in [0, 1), got {p!r}")
    if isinstance(reg, bool) or not isinstance(reg, numbers.Real) or not reg >= 0:
        raise ValueError(f"reg (ridge on E[Q]'s diagonal) must be a number >= 0, got {reg!r}")
    if est.activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {est.activation!r}")
    if est.backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {est.backend!r}")
    for name in ("chunk_size", "n_reconstruct"):
        v = getattr(est, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1):
            raise ValueError(f"{name} must be None or an integer >= 1, got {v!r}")
    if np.dtype(est.dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {est.dtype!r}")


def _validate(est, X, reset: bool):
    return validate_data(est, X, accept_sparse=("csr", "csc"), dtype=np.dtype(est.dtype), reset=reset)


class MDA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""One marginalized denoising auto-encoder layer: :math:`h = \sigma(W \bar X)`,
    :math:`W = \mathbb E[P]\,(\mathbb E[Q] + Λ)^{-1}` (Chen et al. 2012; equations in the module docstring).

    Parameters
    ----------
    p : float in [0, 1), default 0.5
        Probability that masking noise zeroes a coordinate (``p = 0``: ridge least-squares
        reconstruction of ``X`` from ``X̄``).
    reg : float >= 0, default 1e-5
        Ridge ``λ`` added to the non-bias diagonal of ``E[Q]`` (the paper's value).
    activation : {'tanh', 'sigmoid', 'linear'}, default 'tanh'
        ``σ`` of :math:`h = \sigma(W \bar X)`.
    backend : {'auto', 'numpy', 'torch'}, default 'auto'
        ``torch`` runs the same math in torch on ``device``; ``auto`` picks torch on CUDA when
        available (or when ``device`` is given), numpy otherwise.
    device : str or None
        Torch device (default: CUDA when available, else CPU).
    chunk_size : int or None
        Samples per chunk when accumulating :math:`S = \bar X \bar X^\top` (default: about 4M stored
        values per chunk), so memory is ``O(d²)`` whatever ``n``.
    n_reconstruct : int or None
        High-dimensional variant (paper, "Extension for high-dimensional data"): reconstruct only
        the ``r`` features with the most nonzeros. The ``d`` input features are split at random
        (``random_state``) into ``s = ⌈d/r⌉`` blocks :math:`I_t` of size ≤ r; each block plus bias
        is mapped to the ``r`` clean targets by its own mDA, :math:`W_t \in \mathbb R^{r \times (|I_t|+1)}`,
        and :math:`h = \frac1s \sum_t \sigma(W_t \bar X_{I_t})` is ``r``-dimensional. Costs
        ``O(d r²)`` instead of ``O(d³)``. With ``r >= d``: one block, the plain mDA with its outputs
        ordered by frequency.
    random_state : int, RandomState or None
        Seeds the random blocks of ``n_reconstruct`` (unused otherwise).
    dtype : float64 or float32, default float64
        Precision of the computation and of the output.

    Attributes
    ----------
    W_ : ndarray (d, d+1), or list of ndarrays ``(r, |I_t|+1)`` with ``n_reconstruct``
        Reconstruction weights, last column for the bias.
    blocks_ : list of index arrays, or None
        Input columns :math:`I_t` of each block (``n_reconstruct`` only).
    targets_ : ndarray (r,) or None
        Reconstructed features, most frequent first (``n_reconstruct`` only).
    backend_, device_ : str
        Backend and torch device used (device None for numpy).
    n_features_in_ : int
    """

    def __init__(self, p=0.5, reg=1e-5, activation="tanh", backend="auto", device=None, chunk_size=None,
                 n_reconstruct=None, random_state=None, dtype=np.float64):
        self.p = p
        self.reg = reg
        self.activation = activation
        self.backend = backend
        self.device = device
        self.chunk_size = chunk_size
        self.n_reconstruct = n_reconstruct
        self.random_state = random_state
        self.dtype = dtype

    def _chunk(self, X) -> int:
        if self.chunk_size is not None:
            return self.chunk_size
        per_row = X.nnz / max(X.shape[0], 1) if sp.issparse(X) else X.shape[1] + 1
        return max(1, int(_CHUNK_VALUES / max(per_row, 1.0)))

    def fit(self, X, y=None):
        """Learn ``W_`` in closed form from ``X`` (``n × d``, dense or scipy-sparse); returns self."""
        _check_common(self)
        X = _validate(self, X, reset=True)
        self.backend_, self.device_ = _resolve_backend(self.backend, self.device)
        args = (float(self.p), float(self.reg), self._chunk(X), np.dtype(self.dtype), self.backend_, self.device_)
        if self.n_reconstruct is None:
            self.W_ = _fit_weights(X, *args)
            self.blocks_ = self.targets_ = None
            return self
        n, d = X.shape
        r = min(self.n_reconstruct, d)
        counts = np.asarray((X != 0).sum(axis=0)).ravel()
        self.targets_ = np.argsort(-counts, kind="stable")[:r]
        perm = check_random_state(self.random_state).permutation(d)
        self.blocks_ = [np.sort(b) for b in np.array_split(perm, -(-d // r))]
        Xc = X.tocsc() if sp.issparse(X) else X
        self.W_ = [_fit_block_weights(Xc, self.targets_, cols, *args) for cols in self.blocks_]
        return self

    @property
    def _n_features_out(self) -> int:
        return len(self.targets_) if self.blocks_ is not None else self.n_features_in_

    def transform(self, X):
        r""":math:`h = \sigma(W \bar X)` for each sample: ``(n, d)`` (``(n, r)`` with ``n_reconstruct``)."""
        check_is_fitted(self)
        return self._transform(_validate(self, X, reset=False))

    def _transform(self, X):
        Ws = [self.W_] if self.blocks_ is None else self.W_
        blocks = [None] if self.blocks_ is None else self.blocks_
        if self.backend_ == "numpy":
            if sp.issparse(X) and self.blocks_ is not None:
                X = X.tocsc()
            return _hidden(X, Ws, blocks, self.activation)
        import torch

        dtype, dev = np.dtype(self.dtype), self.device_
        Wt = [torch.from_numpy(W).to(dev) for W in Ws]
        bt = [None if c is None else torch.from_numpy(c).to(dev) for c in blocks]
        Xr = X.tocsr() if sp.issparse(X) else X
        out = np.empty((X.shape[0], self._n_features_out), dtype=dtype)
        step = self._chunk(X)
        for start in range(0, X.shape[0], step):
            c = _chunk_to_torch(Xr[start : start + step], dtype, dev)
            out[start : start + step] = _hidden(c, Wt, bt, self.activation).cpu().numpy()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# ---------------------------------------------------------------------------------- the stack
class MSDA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Marginalized stacked denoising auto-encoder: ``n_layers`` mDA layers, each fitted in closed
    form on the previous layer's output, :math:`h_t = \sigma(W_t \bar h_{t-1})`, :math:`h_0 = x`
    (Chen et al. 2012). ``transform`` returns :math:`[x; h_1; \dots; h_L]` (``concat=True``, the
    paper's representation, ``n × (d + L d')``) or :math:`h_L` only (``n × d'``), with ``d' = d``,
    or ``r`` when ``n_reconstruct`` makes the first layer the high-dimensional variant.

    Parameters are those of :class:`MDA`, plus ``n_layers`` (int >= 1, default 5) and ``concat``
    (bool, default True). Attributes: ``layers_`` (the fitted :class:`MDA` layers), ``n_features_in_``.
    """

    def __init__(self, p=0.5, n_layers=5, reg=1e-5, activation="tanh", backend="auto", device=None,
                 chunk_size=None, n_reconstruct=None, random_state=None, dtype=np.float64, concat=True):
        self.p = p
        self.n_layers = n_layers
        self.reg = reg
        self.activation = activation
        self.backend = backend
        self.device = device
        self.chunk_size = chunk_size
        self.n_reconstruct = n_reconstruct
        self.random_state = random_state
        self.dtype = dtype
        self.concat = concat

    def _layer(self, t: int) -> MDA:
        return MDA(p=self.p, reg=self.reg, activation=self.activation, backend=self.backend, device=self.device,
                   chunk_size=self.chunk_size, n_reconstruct=self.n_reconstruct if t == 0 else None,
                   random_state=self.random_state, dtype=self.dtype)

    def _run(self, X, fit: bool, output: bool = True):
        """Fit (if ``fit``) and apply the layers; returns the representation (None if not ``output``)."""
        n, d = X.shape
        width = d if self.n_reconstruct is None else min(self.n_reconstruct, d)
        out = None
        if output and self.concat:
            out = np.empty((n, d + self.n_layers * width), dtype=np.dtype(self.dtype))
            if sp.issparse(X):  # densify x by chunks of rows: the output is dense anyway
                Xr, step = X.tocsr(), max(1, _CHUNK_VALUES // max(d, 1))
                for start in range(0, n, step):
                    out[start : start + step, :d] = Xr[start : start + step].toarray()
            else:
                out[:, :d] = X
        h = X
        for t in range(self.n_layers):
            if fit:
                self.layers_.append(self._layer(t).fit(h))
            if not output and t == self.n_layers - 1:
                return None
            h = self.layers_[t]._transform(h)  # (n, width)
            if out is not None:
                out[:, d + t * width : d + (t + 1) * width] = h
        return h if out is None else out

    def fit(self, X, y=None):
        """Fit the ``n_layers`` layers one after the other; returns self."""
        self._fit_transform(X, output=False)
        return self

    def fit_transform(self, X, y=None):
        """``fit(X).transform(X)``, computing each layer's output once."""
        return self._fit_transform(X)

    def _fit_transform(self, X, output: bool = True):
        n_layers = self.n_layers
        if isinstance(n_layers, bool) or not isinstance(n_layers, numbers.Integral) or n_layers < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {n_layers!r}")
        _check_common(self)
        X = _validate(self, X, reset=True)
        self.layers_ = []
        return self._run(X, fit=True, output=output)

    @property
    def _n_features_out(self) -> int:
        width = self.layers_[-1]._n_features_out
        return self.n_features_in_ + self.n_layers * width if self.concat else width

    def transform(self, X):
        """``[x; h_1; ...; h_L]`` (``concat=True``) or ``h_L``, one row per sample."""
        check_is_fitted(self)
        return self._run(_validate(self, X, reset=False), fit=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
