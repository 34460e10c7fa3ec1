"""The one builder of encoders/decoders by arch: shapes, the conv-on-vectors error, and the same
weights (same seed) as the blocks it assembles, so that every family's initialization is unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reprlab.errors import ConfigError
from reprlab.nets import MLP, ConvDecoder, ConvEncoder, decoder, encoder, encoder_decoder, feature_encoder, resolve_arch
from reprlab.nets.mlp import TiedMLP

IMAGE, VECTOR = (1, 8, 8), (6,)


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("arch,shape", [("mlp", VECTOR), ("mlp", IMAGE), ("conv", IMAGE), ("auto", IMAGE), ("auto", VECTOR)])
def test_encoder_decoder_shapes(arch, shape):
    enc, dec = encoder_decoder(arch, shape, 3, hidden=(16, 8), channels=(4, 8))
    x = torch.rand(5, *shape)
    z = enc(x)
    assert z.shape == (5, 3)
    assert dec(z).reshape(5, *shape).shape == (5, *shape)
    assert isinstance(enc, ConvEncoder if resolve_arch(arch, shape) == "conv" else MLP)


def test_auto_is_conv_for_images_and_mlp_for_vectors():
    assert resolve_arch("auto", IMAGE) == "conv" and resolve_arch("auto", VECTOR) == "mlp"
    assert resolve_arch("mlp", IMAGE) == "mlp"


@pytest.mark.parametrize("build", [
    lambda: encoder("conv", VECTOR, 2, channels=(4,)),
    lambda: decoder("conv", VECTOR, 2, channels=(4,)),
    lambda: encoder_decoder("conv", VECTOR, 2, channels=(4,)),
    lambda: feature_encoder("conv", VECTOR, channels=(4,)),
])
def test_conv_on_vectors_is_one_line_config_error(build):
    with pytest.raises(ConfigError) as e:
        build()
    assert str(e.value) == "model.arch=conv needs images (C, H, W), got samples of shape (6,); use arch=mlp"


def test_the_builder_draws_the_same_weights_as_the_blocks_it_assembles():
    torch.manual_seed(0)
    enc, dec = encoder_decoder("mlp", IMAGE, 4, hidden=(16, 8), activation="tanh", code_activation="sigmoid")
    torch.manual_seed(0)
    assert _same_state(enc, MLP(64, (16, 8), 4, "tanh", "sigmoid")) and _same_state(dec, MLP(4, (8, 16), 64, "tanh", "linear"))
    torch.manual_seed(0)
    enc, dec = encoder_decoder("conv", IMAGE, 4, channels=(4, 8), code_activation="linear")
    torch.manual_seed(0)
    ref_enc = nn.Sequential(ConvEncoder(IMAGE, (4, 8), 4, "relu"), nn.Identity())  # state-dict keys 0.features..., as before
    assert _same_state(enc, ref_enc) and _same_state(dec, ConvDecoder(IMAGE, (4, 8), 4, "relu", "linear"))
    torch.manual_seed(0)
    g = decoder("conv", IMAGE, 5, channels=(4, 8), out_act="sigmoid", batch_norm=True)
    d = encoder("conv", IMAGE, 1, channels=(4, 8), act="leaky_relu")
    torch.manual_seed(0)
    assert _same_state(g, ConvDecoder(IMAGE, (4, 8), 5, "relu", "sigmoid", batch_norm=True))
    assert _same_state(d, ConvEncoder(IMAGE, (4, 8), 1, "leaky_relu"))


def test_tied_decoder_uses_the_encoders_transposed_weights():
    enc, dec = encoder_decoder("mlp", VECTOR, 2, hidden=(4,), tied=True)
    assert isinstance(dec, TiedMLP) and dec[0].tied_to[0] is enc.linears[-1]
    with pytest.raises(ConfigError, match="tying needs model.arch=mlp"):
        encoder_decoder("conv", IMAGE, 2, channels=(4,), tied=True)


def test_feature_encoder_sizes():
    net, f = feature_encoder("mlp", IMAGE, hidden=(16, 8))
    assert f == 8 and net(torch.rand(3, *IMAGE)).shape == (3, 8)
    net, f = feature_encoder("mlp", IMAGE)
    assert isinstance(net, nn.Flatten) and f == 64
    net, f = feature_encoder("conv", IMAGE, channels=(4,), conv_features=10)
    assert f == 10 and (net(torch.rand(3, *IMAGE)) >= 0).all()  # ReLU features


def test_conv_nets_fully_connected_layers_compute_by_hand():
    """fc: conv stack -> Linear -> act -> ... -> head (encoder); z -> Linear -> BatchNorm -> act -> head -> convs
    (decoder): checked against the same weights applied with torch.nn.functional."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    enc = encoder("conv", IMAGE, 3, channels=(4, 8), act="leaky_relu", fc=(7, 5))
    x = torch.rand(6, *IMAGE)
    h = enc.features(x).flatten(1)
    l1, l2 = enc.fc[0], enc.fc[2]
    want = F.linear(F.leaky_relu(F.linear(F.leaky_relu(F.linear(h, l1.weight, l1.bias), 0.2), l2.weight, l2.bias), 0.2),
                    enc.head.weight, enc.head.bias)
    torch.testing.assert_close(enc(x), want)
    dec = decoder("conv", IMAGE, 4, channels=(4, 8), batch_norm=True, fc=(9,))
    z = torch.randn(6, 4)
    a = F.linear(z, dec.fc[0].weight, dec.fc[0].bias)
    a = (a - a.mean(0)) / torch.sqrt(a.var(0, unbiased=False) + 1e-5)  # BatchNorm1d in training mode, affine (1, 0)
    start = F.linear(torch.relu(a), dec.head.weight, dec.head.bias).view(6, *dec.start)
    torch.testing.assert_close(dec(z), dec.features(start))
    assert dec(z).shape == (6, *IMAGE)


def test_no_fully_connected_layers_keeps_the_state_dict_and_weights_of_before():
    torch.manual_seed(0)
    enc = ConvEncoder(IMAGE, (4, 8), 3)
    torch.manual_seed(0)
    with_empty = encoder("conv", IMAGE, 3, channels=(4, 8), fc=())
    assert _same_state(enc, with_empty)
    assert [k for k in enc.state_dict()] == ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias",
                                             "head.weight", "head.bias"]


@pytest.mark.parametrize("build", [lambda: encoder("mlp", VECTOR, 2, hidden=(4,), fc=(8,)),
                                   lambda: decoder("mlp", VECTOR, 2, hidden=(4,), fc=(8,))])
def test_fully_connected_layers_on_an_mlp_are_a_one_line_config_error(build):
    with pytest.raises(ConfigError, match="for model.arch=conv"):
        build()
