r"""The options of the adversarial game, declared and validated once for every model with a
discriminator (GAN, Tempered GAN, AAE): the loss pair, the discriminator's regularizer and its
weight γ, WGAN's weight clipping, the players' learning rates and Adam betas, and packing (PacGAN).

Each family keeps its key for the loss (``model.loss`` for the GAN, ``model.gan_loss`` for the
AAE, whose ``model.loss`` is the reconstruction loss): a config subclass declares that field with
:func:`loss_option` and names it in ``LOSS_KEY``. The allowed names are read from the registries
(:func:`~.losses.loss_names`, :func:`~.regularizers.regularizer_names`), so a registered loss or
regularizer is accepted, and listed by ``--help``, with no other edit.

``wgan-gp`` is an alias (:data:`~.losses.LOSS_ALIASES`), not a loss: it resolves to the ``wgan``
loss with the ``gp`` regularizer of weight γ = ``gp_weight`` and no weight clipping, WGAN-GP as
Gulrajani et al. (2017) train it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from ...config import option
from ...errors import ConfigError
from .losses import LOSS_ALIASES, GANLoss, get_loss, loss_names
from .regularizers import get_regularizer, regularizer_names


def loss_option(default: str, help: str) -> Any:
    """The config field of a GAN loss: any name of :data:`~.losses.LOSSES` or an alias."""
    return option(default, help, choices=loss_names)


def gamma_option(default: float) -> Any:
    """The config field of the regularizer's weight γ (families differ only in the default)."""
    return option(default, "weight γ of the discriminator's regularizer", ge=0)


@dataclass
class AdversaryConfig:
    """The adversarial game's options; a subclass adds its loss field, called ``LOSS_KEY``."""

    LOSS_KEY: ClassVar[str] = "loss"

    reg: str = option("none", "discriminator regularizer (r1/r2: Mescheder 2018; gp: Gulrajani 2017; roth: Roth 2017)",
                      choices=regularizer_names)
    gamma: float = gamma_option(10.0)
    reg_every: int = option(1, "lazy regularization (Karras et al. 2020): the regularizer on every k-th discriminator "
                               "update only, weighted k·γ, so its mean weight stays γ at about 1/k of its cost (1: every update)",
                            ge=1)
    gp_weight: float = option(10.0, "loss wgan-gp: weight λ of its gradient penalty (it becomes reg=gp, gamma=λ)", ge=0)
    clip: float | None = option(0.01, "wgan loss: clip the discriminator's weights to [-clip, clip] after each of its "
                                "updates (null: no clipping, as wgan-gp)", gt=0)
    lr_g: float | None = option(None, "learning rate of the generator's adversarial updates (AAE: the encoder's) "
                                "(null: train.lr)", gt=0)
    lr_d: float | None = option(None, "discriminator learning rate (null: train.lr); TTUR: lr_d > lr_g", gt=0)
    betas: tuple[float, float] = option((0.5, 0.999), "Adam betas of the adversarial updates (DCGAN: 0.5, 0.999; "
                                        "WGAN-GP: 0, 0.9)", ge=0, lt=1)
    pack: int = option(1, "PacGAN (Lin et al. 2018): D judges m samples packed together (images: along the channels); "
                          "train.batch_size must be a multiple of m (PacGAN: m = 4)", ge=1)

    def __post_init__(self):
        self.resolve_adversary()

    @property
    def adversarial_loss(self) -> str:
        """The name of the loss pair (the value of the ``LOSS_KEY`` field)."""
        return getattr(self, self.LOSS_KEY)

    @property
    def weight_clip(self) -> float | None:
        """WGAN's clipping bound, applied after each discriminator update (None: no clipping)."""
        return self.clip if self.adversarial_loss == "wgan" else None

    def resolve_adversary(self) -> None:
        """Resolve a loss alias into its loss and regularizer, then check the names and the pair
        (``roth`` needs a probabilistic loss): the one validation of the game's options, with a
        one-line :class:`ConfigError` (:func:`~reprlab.config.from_dict` has already checked the
        names against the registries for a config read from a file or the command line)."""
        key, name = f"model.{self.LOSS_KEY}", self.adversarial_loss
        if name in LOSS_ALIASES:
            loss, reg = LOSS_ALIASES[name]
            if self.reg != "none":
                raise ConfigError(f"{key}={name} already includes its regularizer (it is {key}={loss} with model.reg={reg}, "
                                  f"γ = model.gp_weight); set model.reg=none")
            setattr(self, self.LOSS_KEY, loss)
            self.reg, self.gamma, self.clip = reg, self.gp_weight, None
        get_regularizer(self.reg, get_loss(self.adversarial_loss).probabilistic)

    def game(self) -> tuple[GANLoss, Callable | None]:
        """The loss pair and the regularizer (None for ``none``) these options name."""
        loss_fns = get_loss(self.adversarial_loss)
        return loss_fns, get_regularizer(self.reg, loss_fns.probabilistic)


def check_packable(batch_size: int, pack: int) -> None:
    """A one-line error when a training batch of ``batch_size`` cannot be cut into packs of ``pack``."""
    if batch_size % pack:
        raise ConfigError(f"a training batch of {batch_size} is not a multiple of model.pack={pack}; "
                          f"set train.batch_size to a multiple of {pack} (e.g. {max(pack, batch_size // pack * pack)})")
