"""Generative adversarial networks: losses, regularizers, the GAN model and the Dirac-GAN analysis."""

from .dirac import PAPER_METHODS, DiracGAN, analyze
from .losses import LOSSES, GANLoss, get_loss
from .regularizers import REGULARIZERS, get_regularizer, instance_noise

__all__ = ["LOSSES", "PAPER_METHODS", "REGULARIZERS", "DiracGAN", "GANLoss", "analyze", "get_loss", "get_regularizer",
           "instance_noise"]
