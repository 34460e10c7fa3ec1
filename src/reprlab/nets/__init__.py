"""Building blocks shared by every family: MLP and convolutional encoders/decoders."""

from .conv import ConvDecoder, ConvEncoder
from .mlp import MLP, TiedLinear, activation

__all__ = ["MLP", "ConvDecoder", "ConvEncoder", "TiedLinear", "activation"]
