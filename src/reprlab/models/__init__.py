"""Models, one module per lecture family; each registers itself by name."""

from .base import ReprModel, Update
from .registry import MODELS, get_model_spec, register_model
from .autoencoder import AutoEncoder, AutoEncoderConfig, reconstruction_loss  # noqa: E402
from .dae import DenoisingAutoEncoder, DenoisingAutoEncoderConfig  # noqa: E402
from .stacked import StackedAutoEncoder, StackedAutoEncoderConfig  # noqa: E402
from .siamese import SiameseConfig, SiameseNet  # noqa: E402
from .vae import VAE, VAEConfig, iwae_log_likelihood  # noqa: E402
from .gan.model import GAN, GANConfig  # noqa: E402
from .gan.aae import AAEConfig, AdversarialAutoEncoder  # noqa: E402
from .gan.tempered import TemperedGAN, TemperedGANConfig  # noqa: E402

__all__ = [
    "AAEConfig",
    "AdversarialAutoEncoder",
    "MODELS",
    "AutoEncoder",
    "AutoEncoderConfig",
    "DenoisingAutoEncoder",
    "DenoisingAutoEncoderConfig",
    "GAN",
    "GANConfig",
    "ReprModel",
    "SiameseConfig",
    "SiameseNet",
    "StackedAutoEncoder",
    "StackedAutoEncoderConfig",
    "TemperedGAN",
    "TemperedGANConfig",
    "Update",
    "VAE",
    "VAEConfig",
    "get_model_spec",
    "iwae_log_likelihood",
    "reconstruction_loss",
    "register_model",
]
