"""Building blocks shared by every family: MLP and convolutional encoders/decoders, built by ``arch``."""

from .builders import decoder, encoder, encoder_decoder, feature_encoder, normal_init, resolve_arch
from .conv import ConvDecoder, ConvEncoder
from .mlp import MLP, Maxout, TiedLinear, activation

__all__ = ["MLP", "ConvDecoder", "ConvEncoder", "Maxout", "TiedLinear", "activation", "decoder", "encoder",
           "encoder_decoder", "feature_encoder", "normal_init", "resolve_arch"]
