"""Generative adversarial networks: losses, regularizers, the GAN model and the Dirac-GAN analysis."""

from .losses import LOSSES, GANLoss, get_loss
from .regularizers import REGULARIZERS, get_regularizer, instance_noise

__all__ = ["LOSSES", "REGULARIZERS", "GANLoss", "get_loss", "get_regularizer", "instance_noise"]
