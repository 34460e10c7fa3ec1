"""Generative adversarial networks: losses, regularizers, the game's options, the GAN model and the Dirac-GAN analysis."""

from .adversary import AdversaryConfig
from .dirac import PAPER_METHODS, DiracMethod, analyze
from .losses import LOSS_ALIASES, LOSSES, GANLoss, get_loss, loss_names
from .regularizers import REGULARIZERS, get_regularizer, instance_noise, regularizer_names

__all__ = ["LOSSES", "LOSS_ALIASES", "PAPER_METHODS", "REGULARIZERS", "AdversaryConfig", "DiracMethod", "GANLoss", "analyze",
           "get_loss", "get_regularizer", "instance_noise", "loss_names", "regularizer_names"]
