r"""Variational auto-encoder (Kingma & Welling 2014), as in the lecture.

The encoder outputs the mean and the log-variance of a diagonal Gaussian
:math:`q_\phi(z|x) = \mathcal N(\mu(x), \operatorname{diag}\sigma^2(x))`; a code is drawn with the
reparameterization trick :math:`z = \mu + \sigma \odot \varepsilon,\ \varepsilon \sim \mathcal N(0, I)`,
and the loss is the negative evidence lower bound, per example, in nats:

.. math::
    -\mathrm{ELBO}(x) = -\mathbb E_{q(z|x)}[\log p_\theta(x|z)] + \beta\, KL\big(q(z|x) \,\|\, p(z)\big)

(β = 1: the ELBO; β ≠ 1: β-VAE). With ``kl_warmup_steps`` = W > 0 the KL weight is warmed up
(Sønderby et al. 2016, "deterministic warm-up"): β_t = β · min(1, t / W) at training step t, so
the first steps train an auto-encoder and the ELBO is the objective from step W on. The prior p(z) is N(0, I) (analytic KL) or, for the lecture's
"GAN vs VAE" figure, the 2-D 10-component mixture of :mod:`reprlab.models.priors` (KL estimated
at the reparameterized draw). Decoders: ``bernoulli`` (the cross-entropy of the lecture's
binary case), ``gaussian`` with fixed variance (σ_x² = ``gaussian_var``: the L2 case up to
constants) or ``gaussian-learned`` (one learned log-variance per pixel). :func:`iwae_log_likelihood`
estimates log p(x) with k importance samples (Burda et al. 2016) for honest evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..config import option
from ..data.base import Batch, TensorData
from ..errors import ConfigError, UsageError
from ..nets import decoder, feature_encoder
from .base import ReprModel
from .functional import bernoulli_log_prob
from .priors import make_prior
from .registry import register_model

LOG_2PI = math.log(2 * math.pi)


# ----------------------------------------------------------------------------- the terms of the ELBO
def kl_diagonal_gaussian(mu: Tensor, logvar: Tensor) -> Tensor:
    r"""KL(N(μ, diag σ²) ‖ N(0, I)) per example, in closed form: (B,)

    .. math::  KL = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1\big)
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    r"""log p(x|z) of independent Bernoulli pixels with means σ(logits), per example: (B,)

    .. math::  \log p(x|z) = \sum_j x_j \log \hat x_j + (1 - x_j) \log(1 - \hat x_j) = -\mathrm{BCE}(\hat x, x)

    (computed from the logits, stably, by :func:`~reprlab.models.functional.bernoulli_log_prob`; for
    x in [0, 1] it is the cross-entropy of the lecture)."""
    return bernoulli_log_prob(logits, x).flatten(1).sum(1)


def gaussian_log_likelihood(mean: Tensor, x: Tensor, logvar: Tensor) -> Tensor:
    r"""log N(x; mean, diag exp(logvar)) per example: (B,)

    .. math::  \log p(x|z) = -\tfrac12 \sum_j \Big(\log 2\pi + \log \sigma_j^2 + \frac{(x_j - \hat x_j)^2}{\sigma_j^2}\Big)
    """
    logvar = logvar.expand_as(mean)
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) / logvar.exp()).flatten(1).sum(1)


def diagonal_normal_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; μ, diag exp(logvar)) per row: (..., d) -> (...)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


# ----------------------------------------------------------------------------- model
@dataclass
class VAEConfig:
    arch: Literal["mlp", "conv"] = option("mlp", "encoder/decoder family")
    hidden: tuple[int, ...] = option((512, 512), "MLP hidden widths of the encoder (the decoder mirrors them)", ge=1)
    channels: tuple[int, ...] = option((32, 64), "conv channels per stride-2 block (conv arch)", ge=1)
    latent_dim: int = option(16, "size d of the latent code z", ge=1)
    activation: Literal["relu", "elu", "tanh", "gelu", "leaky_relu"] = option("relu", "hidden-layer activation")
    decoder: Literal["bernoulli", "gaussian", "gaussian-learned"] = option(
        "bernoulli", "p(x|z): Bernoulli (cross-entropy), Gaussian with fixed variance (L2), or learned per-pixel variance"
    )
    gaussian_var: float = option(0.01, "gaussian decoder: the fixed variance σ_x²", gt=0)
    beta: float = option(1.0, "weight β of the KL term (1: the ELBO)", ge=0)
    kl_warmup_steps: int = option(0, "W: the KL weight grows linearly from 0 to β over the first W training steps "
                                     "(Sønderby et al. 2016; 0: no warm-up)", ge=0)
    binarize: Literal["none", "dynamic"] = option(
        "none", "dynamic: draw x ~ Bernoulli(pixel intensities) afresh each time a training image is used"
    )
    prior: Literal["gaussian", "mixture10"] = option(
        "gaussian", "p(z): N(0, I) (analytic KL) or the 2-D 10-component mixture of Makhzani et al. (one-sample KL estimate)"
    )
    iwae_k: int = option(0, "validation: also estimate log p(x) with this many importance samples (0: off)", ge=0)

    def __post_init__(self):
        if self.prior == "mixture10" and self.latent_dim != 2:
            raise ConfigError("model.prior=mixture10 is 2-D: set model.latent_dim=2")
        if self.binarize == "dynamic" and self.decoder != "bernoulli":
            raise ConfigError("model.binarize=dynamic draws binary images: use it with model.decoder=bernoulli")


@register_model("vae", "variational auto-encoder: Gaussian q(z|x), Bernoulli or Gaussian p(x|z), β-weighted KL")
class VAE(ReprModel):
    """``encode(x)`` is the posterior mean μ(x); ``sample(n)`` decodes draws from the prior."""

    name = "vae"
    Config = VAEConfig

    def __init__(self, config: VAEConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        c = config
        # x -> features h (B, feat) -> (μ, log σ²) by two linear heads; z (B, d) -> the decoder's output
        self.encoder, feat = feature_encoder(c.arch, self.input_shape, hidden=c.hidden, channels=c.channels, activation=c.activation)
        self.decoder = decoder(c.arch, self.input_shape, c.latent_dim, hidden=c.hidden[::-1], channels=c.channels, act=c.activation)
        self.to_mu = nn.Linear(feat, c.latent_dim)
        self.to_logvar = nn.Linear(feat, c.latent_dim)
        if c.decoder == "gaussian-learned":
            self.x_logvar = nn.Parameter(torch.zeros(self.input_shape))
        self.prior = make_prior(c.prior, c.latent_dim)
        if c.kl_warmup_steps:  # only then: runs without warm-up keep their state dict
            self.register_buffer("kl_steps_done", torch.zeros((), dtype=torch.long))

    def check_data(self, data: TensorData) -> None:
        if self.config.decoder == "bernoulli" and (float(data.x.min()) < 0 or float(data.x.max()) > 1):
            raise UsageError(f"vae: a Bernoulli decoder needs data in [0, 1]; {data.name} spans "
                             f"[{float(data.x.min()):g}, {float(data.x.max()):g}]: rescale it or use model.decoder=gaussian")

    # -------------------------------------------------------------- pieces
    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of q(z|x), each (B, d)."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h).clamp(-30.0, 20.0)

    def decode_params(self, z: Tensor) -> Tensor:
        """The decoder's output for codes z (..., d): Bernoulli logits or Gaussian means, ``(..., *input_shape)``."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.view(*lead, *self.input_shape)

    def log_likelihood(self, out: Tensor, x: Tensor) -> Tensor:
        """log p(x|z) per example for decoder outputs ``out`` (B, ...)."""
        c = self.config
        if c.decoder == "bernoulli":
            return bernoulli_log_likelihood(out, x)
        logvar = self.x_logvar if c.decoder == "gaussian-learned" else torch.tensor(math.log(c.gaussian_var), device=x.device, dtype=x.dtype)
        return gaussian_log_likelihood(out, x, logvar)

    def _binarize(self, x: Tensor) -> Tensor:
        return torch.bernoulli(x) if self.config.binarize == "dynamic" else x

    # -------------------------------------------------------------- training
    def elbo_terms(self, x: Tensor) -> dict[str, Tensor]:
        """Per-example (B,) log p(x|z) at one reparameterized draw and the KL: analytic for the
        Gaussian prior, else the one-sample estimate log q(z|x) − log p(z) at the same draw."""
        mu, logvar = self.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # z = μ + σ ⊙ ε
        if self.config.prior == "gaussian":
            kl = kl_diagonal_gaussian(mu, logvar)
        else:
            kl = diagonal_normal_log_density(z, mu, logvar) - self.prior.log_prob(z)
        return {"log_px_z": self.log_likelihood(self.decode_params(z), x), "kl": kl}

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:
        x = self._binarize(batch.x) if self.training else batch.x
        t = self.elbo_terms(x)
        beta = self.kl_weight() if self.training else self.config.beta
        loss = (beta * t["kl"] - t["log_px_z"]).mean()
        with torch.no_grad():  # the logged means, outside the graph (no backward nodes for them)
            kl, reconstruction = t["kl"].mean(), -t["log_px_z"].mean()
        return {"loss": loss, "elbo": -(reconstruction + kl), "kl": kl, "reconstruction": reconstruction,
                "beta": torch.tensor(beta, device=x.device)}

    def kl_weight(self) -> float:
        r"""The KL weight of the current training step: β_t = β · min(1, t / W) (β without warm-up)."""
        c = self.config
        if not c.kl_warmup_steps:
            return c.beta
        return c.beta * min(1.0, self.counter("kl_steps_done") / c.kl_warmup_steps)

    def after_update(self, update: str) -> None:
        if self.config.kl_warmup_steps:
            self.bump("kl_steps_done")

    def validate(self, data: TensorData) -> dict[str, float]:
        """Mean negative ELBO (``loss`` when β = 1), KL and, with ``iwae_k``, the IWAE estimate of
        −log p(x), in nats per example; β-weighted loss as ``loss``."""
        sums = {"loss": 0.0, "nelbo": 0.0, "kl": 0.0}
        if self.config.iwae_k:
            sums["nll_iwae"] = 0.0
        gen = torch.Generator(device="cpu").manual_seed(0)
        for i in range(0, len(data), 256):
            x = data.x[i : i + 256]
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
                t = self.elbo_terms(x)
                if self.config.iwae_k:
                    sums["nll_iwae"] -= float(iwae_log_likelihood(self, x, self.config.iwae_k).sum())
            sums["loss"] += float((-t["log_px_z"] + self.config.beta * t["kl"]).sum())
            sums["nelbo"] += float((t["kl"] - t["log_px_z"]).sum())
            sums["kl"] += float(t["kl"].sum())
        return {k: v / len(data) for k, v in sums.items()}

    # -------------------------------------------------------------- use
    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean μ(x): (B, d)."""
        return self.posterior(self.check_input(x))[0]

    def decode(self, z: Tensor) -> Tensor:
        """The decoder's mean for codes z (B, d): σ(logits) for Bernoulli, the mean for Gaussian."""
        out = self.decode_params(z)
        return torch.sigmoid(out) if self.config.decoder == "bernoulli" else out

    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder mean at the posterior mean: decode(μ(x))."""
        return self.decode(self.encode(x))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decoder means of n draws z ~ p(z): ``(n, *input_shape)``."""
        p = next(self.parameters())
        z = self.prior.sample(n, generator).to(p.device, p.dtype)
        return self.decode(z)


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: Tensor, k: int, chunk: int = 500) -> Tensor:
    r"""Importance-weighted estimate of log p(x) per example (Burda et al. 2016): (B,)

    .. math::
        \log p(x) \approx \log \frac1k \sum_{i=1}^k \frac{p(x|z_i)\, p(z_i)}{q(z_i|x)},
        \qquad z_i \sim q(z|x)

    a lower bound that tightens as k grows (k = 1: the ELBO in expectation). The k samples are
    drawn ``chunk`` at a time and combined with a running log-sum-exp, so memory stays bounded
    for k up to thousands."""
    if k < 1:
        raise UsageError(f"the IWAE estimate needs k >= 1 samples, got {k}")
    x = model.check_input(x)
    mu, logvar = model.posterior(x)  # (B, d)
    std = torch.exp(0.5 * logvar)
    total = torch.full((x.shape[0],), -math.inf, dtype=torch.float64, device=x.device)
    done = 0
    while done < k:
        m = min(chunk, k - done)
        z = mu + std * torch.randn(m, *mu.shape, device=mu.device, dtype=mu.dtype)  # (m, B, d)
        out = model.decode_params(z)  # (m, B, *shape)
        log_px = model.log_likelihood(out.flatten(0, 1), x.repeat(m, *[1] * (x.ndim - 1))).view(m, -1)
        log_w = log_px + model.prior.log_prob(z) - diagonal_normal_log_density(z, mu, logvar)  # (m, B)
        total = torch.logaddexp(total, torch.logsumexp(log_w.double(), dim=0))
        done += m
    return (total - math.log(k)).to(x.dtype)
