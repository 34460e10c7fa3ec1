r"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually
Converge?", ICML, Sec. 2-4): the smallest GAN whose training does not converge.

Data :math:`P_r = \delta_0`, generator :math:`P_\theta = \delta_\theta`, linear discriminator
:math:`D_\psi(x) = \psi x` (:math:`\theta, \psi \in \mathbb R`). Both players do gradient *descent* on
their own loss, so training follows the gradient vector field

.. math::  v(\theta, \psi) = \big(-\partial_\theta L_G(\theta, \psi),\ -\partial_\psi L_D(\theta, \psi)\big),
           \qquad (\theta, \psi) \leftarrow (\theta, \psi) + h\, v(\theta, \psi).

Its unique equilibrium is :math:`(0, 0)`: the generator sits on the data and D is flat.

**Signs.** The library's D outputs t with :math:`\sigma(t)` the probability that x is *real*
(:mod:`.losses`); the paper's D is large on fakes. With :math:`\tilde\psi = -\psi` the formulas below
are the paper's verbatim, and the phase portraits are the paper's mirrored in ψ.

**Closed forms**, with the paper's :math:`f(t) = -\log(1 + e^{-t})` (:math:`f'(t) = \sigma(-t)`,
:math:`f'(0) = \tfrac12`) for the GAN losses and :math:`f(t) = t` for the WGAN; :math:`t_{fake} = \theta\psi`,
:math:`t_{real} = 0`::

    loss       v_θ = −∂_θ L_G     v_ψ = −∂_ψ L_D (before the regularizer)
    minimax    ψ f'(−θψ)          −θ f'(−θψ)
    ns         ψ f'(θψ)           −θ f'(−θψ)
    logratio   ψ                  −θ f'(−θψ)
    wgan       ψ                  −θ

A regularizer R(θ, ψ) joins L_D, so :math:`v_\psi \mathrel{-}= \partial_\psi R`. Since
:math:`\nabla_x D_\psi = \psi` everywhere (also at WGAN-GP's interpolates)::

    r1, r2   R = γ/2 ψ²                        ∂_ψR = γψ
    gp       R = γ (|ψ| − 1)²                  ∂_ψR = 2γ (|ψ| − 1) sign ψ
    roth     R = γ/2 [(1−σ(0))² + σ(θψ)²] ψ²    ∂_ψR = γ [ψ/4 + σ(θψ)² ψ + σ(θψ)² (1−σ(θψ)) θψ²]
    noise    D sees x + σε, ε ~ N(0, 1) (instance noise, σ = ``gamma``): each term above becomes its
             expectation over ε (Gauss-Hermite quadrature: it has no elementary closed form).

**Jacobian at (0, 0).** With :math:`a = \partial_\psi v_\theta` (½ for minimax and ns, 1 for
logratio and wgan), :math:`b = f'(0)` (½ for the GAN losses, 1 for wgan) and the regularizer's
curvature :math:`c = \partial^2_\psi R` (0 for none, γ for r1 and r2, γ/2 for roth, σ²/2 =
−2f''(0)σ² for instance noise with a GAN loss, 0 with wgan):

.. math::  J = \begin{pmatrix} 0 & a \\ -b & -c \end{pmatrix}, \qquad
           \lambda = -\tfrac c2 \pm \sqrt{\tfrac{c^2}{4} - ab}.

Unregularized, :math:`\lambda = \pm i\sqrt{ab}` (:math:`\pm i f'(0)` for the minimax GAN, Sec. 2.2):
simultaneous steps multiply the distance to (0, 0) by :math:`|1 + h\lambda| = \sqrt{1 + h^2 ab} > 1`
(an outward spiral); alternating steps (critic first) have determinant 1 and trace
:math:`2 - h^2 ab`, so for :math:`h^2 ab < 4` they circle the equilibrium for ever. With c > 0 the
real parts are −c/2 < 0 and small steps converge (Sec. 4).

What is *not* defined: WGAN-GP's penalty is not differentiable at ψ = 0, where v_ψ jumps by 4γ
(:math:`v_\psi(\theta, 0^\pm) = -\theta \pm 2\gamma`), so (0, 0) is not a zero of v and has no Jacobian
(:func:`closed_form_jacobian` returns None). The library computes ‖∇D‖ as
:math:`\sqrt{\|\nabla D\|^2 + 10^{-12}}`, so autograd does return one, with
:math:`\partial_\psi v_\psi \approx 2\gamma \cdot 10^6`: an unstable node. The one-sided zeros of v are
instead :math:`(\theta, \psi) = (\pm 2\gamma, 0^\pm)`, where the critic's gradient :math:`\theta` balances the
penalty's :math:`-2\gamma`: gradient descent can stall there, the generator 2γ away from the data
(from (1, 1) with γ = 1, h = 0.1, n_d = 5 it does). WGAN's
weight clipping is a projection applied after each critic step (inactive near (0, 0) for c > 0)
and ``n_critic`` > 1 critic steps make the training map differ from the flow of v: the Jacobian
reported for WGAN is the one of v itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ...errors import ConfigError
from .losses import LOSS_ALIASES, LOSSES, get_loss
from .regularizers import REGULARIZERS, get_regularizer, regularizer_names

#: (a, b) of the Jacobian at (0, 0) for each loss with a closed form (see the module's docstring);
#: a loss registered later has the numeric field only
CLOSED_FORM_LOSSES = {"minimax": (0.5, 0.5), "ns": (0.5, 0.5), "logratio": (1.0, 0.5), "wgan": (1.0, 1.0)}
#: the regularizers with a closed form (``noise``: instance noise, by Gauss-Hermite quadrature)
CLOSED_FORM_REGS = ("none", "r1", "r2", "gp", "roth", "noise")
MODES = ("simultaneous", "alternating")
#: standard-normal quantiles that stand for ε ~ N(0, 1) in the numeric instance-noise field
NOISE_NODES = 512
#: Gauss-Hermite nodes of the closed-form instance-noise field
HERMITE_NODES = 64
_DT = torch.float64


@dataclass(frozen=True)
class DiracMethod:
    """One training method on the Dirac-GAN: the specification of how G and D are trained
    (loss, regularizer, weights), not a GAN itself.

    - loss: a name of :data:`~.losses.LOSSES` (``minimax``, ``ns``, ``logratio``, ``wgan``, ...) or an
      alias (``wgan-gp``, stored as wgan + gp).
    - reg: ``none``, a name of :data:`~.regularizers.REGULARIZERS` or ``noise`` (instance noise).
    - gamma: the regularizer's weight γ; for ``noise``, the noise's standard deviation σ.
    - clip: WGAN weight clipping, ψ ← clip(ψ, −c, c) after every critic step (None: none).
    - n_critic: critic (discriminator) steps per generator step, the paper's :math:`n_d`.
    """

    loss: str = "minimax"
    reg: str = "none"
    gamma: float = 1.0
    clip: float | None = None
    n_critic: int = 1

    def __post_init__(self):
        if self.loss in LOSS_ALIASES:
            loss, reg = LOSS_ALIASES[self.loss]
            if self.reg not in ("none", reg):
                raise ConfigError(f"loss {self.loss} already has the {reg} penalty; use --loss {loss} --reg {self.reg}")
            object.__setattr__(self, "loss", loss)
            object.__setattr__(self, "reg", reg)
        spec = get_loss(self.loss)
        if self.reg not in dirac_regularizers():
            raise ConfigError(f"unknown Dirac-GAN regularizer {self.reg!r}; choose one of {', '.join(dirac_regularizers())}")
        if self.reg != "noise":
            get_regularizer(self.reg, spec.probabilistic)
        if not (math.isfinite(self.gamma) and self.gamma >= 0):
            raise ConfigError(f"gamma must be a finite number ≥ 0, got {self.gamma}")
        if self.clip is not None and not (math.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"clip must be > 0 (or None for no clipping), got {self.clip}")
        if int(self.n_critic) != self.n_critic or self.n_critic < 1:
            raise ConfigError(f"n_critic must be an integer ≥ 1, got {self.n_critic}")

    @property
    def label(self) -> str:
        """A short name, e.g. ``wgan + gp (γ=1), n_d=5``."""
        s = self.loss
        if self.reg != "none":
            s += f" + {self.reg} ({'σ' if self.reg == 'noise' else 'γ'}={self.gamma:g})"
        if self.clip is not None:
            s += f", |ψ|≤{self.clip:g}"
        return s + (f", n_d={self.n_critic}" if self.n_critic > 1 else "")


#: the former name (kept as an alias): a method specification, not a GAN
DiracGAN = DiracMethod


def dirac_regularizers() -> list[str]:
    """The regularizers a :class:`DiracMethod` takes: the registry's (read now), then ``noise``."""
    return [*regularizer_names(), "noise"]


def has_closed_form(method: DiracMethod) -> bool:
    """Whether the module's closed forms cover ``method``'s loss and regularizer."""
    return method.loss in CLOSED_FORM_LOSSES and method.reg in CLOSED_FORM_REGS


def dirac_method(loss: str = "minimax", reg: str = "none", gamma: float = 1.0, clip: float | None = None,
                 n_critic: int | None = None) -> DiracMethod:
    """A :class:`DiracMethod` with the paper's defaults where an option is left out: ``n_critic`` 5 for
    the WGANs and 1 otherwise; ``clip`` 1 for the WGAN without penalty (``clip=0``: no clipping)."""
    wgan = (LOSS_ALIASES[loss][0] if loss in LOSS_ALIASES else loss) == "wgan"
    if n_critic is None:
        n_critic = 5 if wgan else 1
    if clip is None:
        clip = 1.0 if loss == "wgan" and reg == "none" else 0.0
    return DiracMethod(loss, reg, gamma, clip if clip != 0 else None, n_critic)


#: The paper's Fig. 2-4 (and the lecture's slide): name -> (panel title, method).
PAPER_METHODS: dict[str, tuple[str, DiracMethod]] = {
    "gan": ("standard GAN", DiracMethod("minimax")),
    "ns": ("non-saturating GAN", DiracMethod("ns")),
    "logratio": ("GAN, G minimizes log((1−D)/D)", DiracMethod("logratio")),
    "wgan": ("WGAN (n_d = 5, |ψ| ≤ 1)", DiracMethod("wgan", clip=1.0, n_critic=5)),
    "wgan-gp": ("WGAN-GP (n_d = 5, γ = 1)", DiracMethod("wgan", "gp", 1.0, n_critic=5)),
    "r1": ("GAN + R1 (γ = 1)", DiracMethod("minimax", "r1", 1.0)),
    "r2": ("GAN + R2 (γ = 1)", DiracMethod("minimax", "r2", 1.0)),
    "roth": ("GAN + Roth et al. (γ = 1)", DiracMethod("minimax", "roth", 1.0)),
    "noise": ("GAN + instance noise (σ = 1)", DiracMethod("minimax", "noise", 1.0)),
}


def _pair(theta, psi) -> tuple[Tensor, Tensor]:
    theta, psi = torch.as_tensor(theta, dtype=_DT), torch.as_tensor(psi, dtype=_DT)
    return torch.broadcast_tensors(theta, psi)


def _noise_nodes(n: int) -> Tensor:
    """(n,) standard-normal quantiles Φ⁻¹((i + ½)/n), rescaled to mean square exactly 1: an
    equal-weight stand-in for ε ~ N(0, 1) (mean 0 and variance 1 exactly, so J at (0, 0) is exact)."""
    e = torch.special.ndtri((torch.arange(n, dtype=_DT) + 0.5) / n)
    return e / e.pow(2).mean().sqrt()


def numeric_field(method: DiracMethod, theta, psi, create_graph: bool = False) -> tuple[Tensor, Tensor]:
    r"""v(θ, ψ) by autograd through the library's own losses and regularizers.

    θ and ψ (any broadcastable shapes, float64) are B independent games played as one batch:
    :math:`x_{real} = 0`, :math:`x_{fake} = \theta`, :math:`D(x) = \psi x`; since each loss is a batch
    mean, each game's gradient is the batch gradient times B. Instance noise adds σε to both inputs
    with ε on :data:`NOISE_NODES` fixed quantiles (the expected field; :func:`.regularizers.instance_noise`
    draws the same ε at random). ``create_graph``: keep the graph (for :func:`numeric_jacobian`;
    the regularizers detach their inputs, so the θ-dependence *inside* a penalty is not seen there).
    """
    theta, psi = _pair(theta, psi)
    shape = theta.shape
    th, ps = theta.reshape(-1), psi.reshape(-1)  # (B,)
    th = th if th.requires_grad else th.detach().requires_grad_(True)
    ps = ps if ps.requires_grad else ps.detach().requires_grad_(True)
    B = th.numel()
    eps = _noise_nodes(NOISE_NODES) * method.gamma if method.reg == "noise" else torch.zeros(1, dtype=_DT)
    x_real = eps.repeat(B).unsqueeze(1)  # (B·n, 1): 0 + σε
    x_fake = (th.unsqueeze(1) + eps).reshape(-1, 1)  # (B·n, 1): θ + σε
    psi_n = ps.repeat_interleave(eps.numel())  # (B·n,)

    def D(x: Tensor) -> Tensor:  # (B·n, 1) -> (B·n,)
        return psi_n * x[:, 0]

    loss = get_loss(method.loss)
    L_G = loss.generator(D(x_fake))
    L_D = loss.discriminator(D(x_real), D(x_fake))
    if method.reg in REGULARIZERS:
        with torch.random.fork_rng(devices=[]):  # gp draws interpolates; keep the caller's RNG untouched
            L_D = L_D + REGULARIZERS[method.reg](D, x_real, x_fake, method.gamma)
    (g_theta,) = torch.autograd.grad(L_G, th, create_graph=create_graph)
    (g_psi,) = torch.autograd.grad(L_D, ps, create_graph=create_graph)
    return (-B * g_theta).reshape(shape), (-B * g_psi).reshape(shape)


def closed_form_field(method: DiracMethod, theta, psi) -> tuple[Tensor, Tensor]:
    """v(θ, ψ) from the formulas of the module's docstring (float64, broadcast shapes); a ConfigError
    for a loss or regularizer they do not cover (:func:`has_closed_form`)."""
    if not has_closed_form(method):
        raise ConfigError(f"the Dirac-GAN field of {method.label} has no closed form here (losses "
                          f"{', '.join(CLOSED_FORM_LOSSES)}; regularizers {', '.join(CLOSED_FORM_REGS)}); use the numeric field")
    th, ps = _pair(theta, psi)
    if method.reg == "noise":
        x, w = np.polynomial.hermite.hermgauss(HERMITE_NODES)
        eps = torch.as_tensor(math.sqrt(2) * method.gamma * x, dtype=_DT)  # ε ~ N(0, σ²)
        w = torch.as_tensor(w / math.sqrt(math.pi), dtype=_DT)
    else:
        eps, w = torch.zeros(1, dtype=_DT), torch.ones(1, dtype=_DT)

    def E(g: Tensor) -> Tensor:  # expectation over the noise, the last axis
        return (g * w).sum(-1)

    def fp(t: Tensor) -> Tensor:  # the paper's f'(t) = σ(−t)
        return torch.sigmoid(-t)

    t_, p_ = th.unsqueeze(-1), ps.unsqueeze(-1)
    u = t_ + eps  # the fake sample D sees, θ + σε
    if method.loss == "minimax":
        v_theta = ps * E(fp(-p_ * u))
    elif method.loss == "ns":
        v_theta = ps * E(fp(p_ * u))
    else:  # logratio and wgan: L_G = −E t
        v_theta = ps
    if method.loss == "wgan":
        v_psi = -th
    else:  # −∂_ψ [E softplus(−ψσε) + E softplus(ψu)]
        v_psi = E(eps * fp(p_ * eps)) - E(u * fp(-p_ * u))
    if method.reg in ("r1", "r2"):
        v_psi = v_psi - method.gamma * ps
    elif method.reg == "gp":
        v_psi = v_psi - 2 * method.gamma * (ps.abs() - 1) * torch.sign(ps)
    elif method.reg == "roth":
        s = torch.sigmoid(th * ps)
        v_psi = v_psi - method.gamma * (ps / 4 + s**2 * ps + s**2 * (1 - s) * th * ps**2)
    return v_theta, v_psi


def numeric_jacobian(method: DiracMethod, point=(0.0, 0.0)) -> np.ndarray:
    """(2, 2) Jacobian ∂v/∂(θ, ψ) of :func:`numeric_field` at ``point``, by autograd in float64."""

    def v(z: Tensor) -> Tensor:
        return torch.stack(numeric_field(method, z[0], z[1], create_graph=True))

    return torch.autograd.functional.jacobian(v, torch.tensor(point, dtype=_DT)).numpy()


def _jacobian_coefficients(method: DiracMethod) -> tuple[float, float, float]:
    """(a, b, c) of J = [[0, a], [−b, −c]] at (0, 0) for a method with a closed form; see the module's docstring."""
    a, b = CLOSED_FORM_LOSSES[method.loss]
    probabilistic = LOSSES[method.loss].probabilistic
    c = {"none": 0.0, "r1": method.gamma, "r2": method.gamma, "roth": method.gamma / 2,
         "noise": method.gamma**2 / 2 if probabilistic else 0.0}[method.reg]
    return a, b, c


def closed_form_jacobian(method: DiracMethod) -> np.ndarray | None:
    """J at (0, 0) in closed form (2, 2); None for the gp penalty, where it does not exist, and for a
    method without closed forms."""
    if method.reg == "gp" or not has_closed_form(method):
        return None
    a, b, c = _jacobian_coefficients(method)
    return np.array([[0.0, a], [-b, -c]])


def closed_form_eigenvalues(method: DiracMethod) -> np.ndarray | None:
    """λ = −c/2 ± sqrt(c²/4 − ab), (2,) complex, sorted; None where J is not defined or has no closed form."""
    if method.reg == "gp" or not has_closed_form(method):
        return None
    a, b, c = _jacobian_coefficients(method)
    root = np.sqrt(complex(c * c / 4 - a * b))
    return sort_eigenvalues(np.array([-c / 2 - root, -c / 2 + root]))


def sort_eigenvalues(lam) -> np.ndarray:
    """Eigenvalues in a canonical order (by real, then imaginary part) for comparison."""
    lam = np.asarray(lam, dtype=complex)
    return lam[np.lexsort((lam.imag.round(12), lam.real.round(12)))]


def jacobian_note(method: DiracMethod) -> str:
    """What the Jacobian at (0, 0) means for ``method``, in one line ('' when nothing to add)."""
    if not has_closed_form(method):
        return f"no closed form for {method.label}: the numeric field and Jacobian only (autograd through the library's loss)"
    if method.reg == "gp":
        return ("no closed form: γ(|ψ|−1)² is not differentiable at ψ=0, where v_ψ(θ, 0±) = −θ ± 2γ jumps by 4γ; "
                "the numeric Jacobian is that of the library's smoothed norm sqrt(ψ²+1e-12); "
                f"v has one-sided zeros at (±{2 * method.gamma:g}, 0±) instead, where descent can stall")
    if method.clip is not None or method.n_critic > 1:
        return ("Jacobian of the field v; clipping |ψ| ≤ c (inactive near (0,0)) and n_critic > 1 critic steps "
                "make the training map differ from the flow of v")
    if method.reg == "noise":
        return (f"expected field over ε ~ N(0,1): numeric on {NOISE_NODES} normal quantiles, "
                f"closed form by {HERMITE_NODES}-point Gauss-Hermite quadrature")
    return ""


# ---------------------------------------------------------------------------- training dynamics
def _check_dynamics(lr: float, steps: int, mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose simultaneous or alternating")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"the learning rate must be > 0, got {lr}")
    if int(steps) != steps or steps < 1:
        raise ConfigError(f"steps must be an integer ≥ 1, got {steps}")


def gd_step(method: DiracMethod, theta: Tensor, psi: Tensor, lr: float, mode: str = "simultaneous",
            field_fn=numeric_field) -> tuple[Tensor, Tensor]:
    r"""One generator step of gradient descent with step size h = ``lr``.

    ``alternating``: ``n_critic`` critic steps :math:`\psi \leftarrow \psi + h v_\psi(\theta, \psi)`, then
    :math:`\theta \leftarrow \theta + h v_\theta(\theta, \psi)` at the new ψ. ``simultaneous``:
    ``n_critic`` − 1 critic steps, then both players step from the same point. ψ is clipped to
    [−c, c] after every critic step when ``method.clip`` is set.
    """

    def clip(p: Tensor) -> Tensor:
        return p if method.clip is None else p.clamp(-method.clip, method.clip)

    for _ in range(method.n_critic - (mode == "simultaneous")):
        psi = clip(psi + lr * field_fn(method, theta, psi)[1])
    v_theta, v_psi = field_fn(method, theta, psi)
    if mode == "simultaneous":
        psi = clip(psi + lr * v_psi)
    return theta + lr * v_theta, psi


def trajectory(method: DiracMethod, start=(1.0, 1.0), lr: float = 0.1, steps: int = 500, mode: str = "simultaneous",
               field: str = "numeric") -> np.ndarray:
    """Points (θ_k, ψ_k) after each generator step k = 0..steps: (steps + 1, 2) for a start (2,),
    (steps + 1, K, 2) for K starts (K, 2). ``field``: ``numeric`` (the library's losses, default)
    or ``closed`` (:func:`closed_form_field`)."""
    _check_dynamics(lr, steps, mode)
    if field not in ("numeric", "closed"):
        raise ConfigError(f"field must be numeric or closed, got {field!r}")
    fn = numeric_field if field == "numeric" else closed_form_field
    z = torch.as_tensor(np.asarray(start, dtype=float), dtype=_DT)
    if z.shape[-1] != 2 or z.ndim > 2:
        raise ConfigError(f"start must be a point (θ, ψ) or K points (K, 2), got shape {tuple(z.shape)}")
    theta, psi = z.reshape(-1, 2).unbind(-1)  # (K,), (K,)
    points = [torch.stack([theta, psi], -1)]
    for _ in range(steps):
        theta, psi = gd_step(method, theta, psi, lr, mode, fn)
        points.append(torch.stack([theta, psi], -1))
    out = torch.stack(points).numpy()  # (steps + 1, K, 2)
    return out[:, 0] if z.ndim == 1 else out


@dataclass
class DiracAnalysis:
    """Trajectories of one method and its Jacobian at the equilibrium (0, 0).

    trajectories: mode -> (steps + 1, 2) points; numeric_jacobian (2, 2); closed_form_jacobian
    (2, 2) or None where it is not defined (see ``note``).
    """

    method: DiracMethod
    title: str
    start: tuple[float, float]
    lr: float
    steps: int
    trajectories: dict[str, np.ndarray] = field(repr=False)
    numeric_jacobian: np.ndarray
    closed_form_jacobian: np.ndarray | None
    note: str

    @property
    def final_distance(self) -> dict[str, float]:
        """mode -> ‖(θ_N, ψ_N)‖, the distance to the equilibrium after the last step."""
        return {m: float(np.hypot(*t[-1])) for m, t in self.trajectories.items()}

    def summary(self) -> dict:
        """A JSON-able record: settings, final distances, eigenvalues as [re, im] pairs."""

        def pairs(lam):
            return None if lam is None else [[float(x.real), float(x.imag)] for x in lam]

        m = self.method
        return {"method": self.title, "loss": m.loss, "reg": m.reg, "gamma": m.gamma, "clip": m.clip,
                "n_critic": m.n_critic, "start": list(self.start), "lr": self.lr, "steps": self.steps,
                "initial_distance": float(np.hypot(*self.start)), "final_distance": self.final_distance,
                "numeric_eigenvalues": pairs(sort_eigenvalues(np.linalg.eigvals(self.numeric_jacobian))),
                "closed_form_eigenvalues": pairs(closed_form_eigenvalues(m)), "note": self.note}


def analyze(method: DiracMethod, start=(1.0, 1.0), lr: float = 0.1, steps: int = 500, modes=MODES,
            title: str | None = None) -> DiracAnalysis:
    """Run every mode of ``modes`` from ``start`` and linearize the field at (0, 0)."""
    start = tuple(float(s) for s in start)
    if len(start) != 2:
        raise ConfigError(f"start must be two numbers θ,ψ, got {start}")
    trajs = {mode: trajectory(method, start, lr, steps, mode) for mode in modes}
    return DiracAnalysis(method, title or method.label, start, lr, steps, trajs, numeric_jacobian(method),
                         closed_form_jacobian(method), jacobian_note(method))
