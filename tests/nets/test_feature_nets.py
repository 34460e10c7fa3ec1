"""Feature networks: VGG-19's named layers, torchvision-format weights (accepted or refused), the
random multi-scale net."""

from __future__ import annotations

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models.vgg import cfgs, make_layers

from helpers import error_line, run_cli
from reprlab.errors import CheckpointError, UsageError
from reprlab.nets.feature_nets import (
    IMAGENET_MEAN, IMAGENET_STD, RandomMultiScaleNet, VGG19Features, build_feature_net, load_vgg19_state_dict,
)


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory):
    """A complete torchvision vgg19 state dict (random init), saved as torchvision saves its weights."""
    torch.manual_seed(0)
    model = torchvision.models.vgg19(weights=None)
    path = tmp_path_factory.mktemp("weights") / "vgg19.pth"
    torch.save(model.state_dict(), path)
    return path, model.features.eval()


def test_vgg19_layers_are_named_after_blocks_and_convolutions():
    net = VGG19Features()
    assert net.layer_names[:3] == ["conv1_1", "conv1_2", "conv2_1"] and net.layer_names[-1] == "conv5_4"
    assert len(net.layer_names) == 16
    out = net(torch.rand(1, 3, 32, 32), ["conv1_1", "conv3_1", "conv5_1"])
    assert out["conv1_1"].shape == (1, 64, 32, 32) and out["conv3_1"].shape == (1, 256, 8, 8)
    assert out["conv5_1"].shape == (1, 512, 2, 2)


def test_vgg19_weights_in_torchvision_format_load_and_compute_torchvisions_features(vgg19_file):
    path, features = vgg19_file
    net = build_feature_net("auto", str(path), pooling="max")
    assert isinstance(net, VGG19Features) and "vgg19.pth" in net.description
    x = torch.rand(1, 3, 24, 24)
    norm = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = features[:7](norm)  # conv1_1 relu conv1_2 relu pool conv2_1 relu
        got = net(x, ["conv2_1"])["conv2_1"]
    torch.testing.assert_close(got, expected)


def test_vgg19_weights_as_safetensors_load(vgg19_file, tmp_path):
    path, _ = vgg19_file
    state = {k: v.contiguous() for k, v in torch.load(path, weights_only=True).items() if k.startswith("features.")}
    save_file(state, str(tmp_path / "vgg19.safetensors"))
    assert set(load_vgg19_state_dict(tmp_path / "vgg19.safetensors")) == set(state)


def test_weights_of_another_architecture_are_refused_in_one_line(vgg19_file, tmp_path):
    path, _ = vgg19_file
    vgg16 = make_layers(cfgs["D"]).state_dict(prefix="features.")  # torchvision's vgg16().features
    torch.save(vgg16, tmp_path / "vgg16.pth")
    with pytest.raises(CheckpointError, match="not a VGG-19 state dict in torchvision's format") as e:
        load_vgg19_state_dict(tmp_path / "vgg16.pth")
    assert "\n" not in str(e.value)
    truncated = {k: v for k, v in torch.load(path, weights_only=True).items() if not k.startswith("features.34")}
    torch.save(truncated, tmp_path / "truncated.pth")
    with pytest.raises(CheckpointError, match="missing features.34.weight"):
        load_vgg19_state_dict(tmp_path / "truncated.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable weights file"):
        load_vgg19_state_dict(tmp_path / "junk.pth")


def test_cli_stylize_with_vgg19_weights_and_refusal_of_vgg16(vgg19_file, tmp_path, capsys):
    path, _ = vgg19_file
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, "-q", "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(out),
                           "--size", "32", "--steps", "2", "--weights", str(path), "--run-dir", str(tmp_path / "run"))
    assert code == 0, err
    assert out.is_file() and "network: VGG-19 (weights from vgg19.pth" in (tmp_path / "run" / "config.yaml").read_text()
    torch.save(make_layers(cfgs["A"]).state_dict(prefix="features."), tmp_path / "vgg11.pth")  # vgg11().features
    code, _, err = run_cli(capsys, "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(out),
                           "--size", "32", "--steps", "2", "--weights", str(tmp_path / "vgg11.pth"))
    assert code == 2 and "is not a VGG-19 state dict" in error_line(err)


def test_random_multiscale_net_is_seeded_and_names_its_scales():
    a, b, c = RandomMultiScaleNet((3, 7), 8, seed=1), RandomMultiScaleNet((3, 7), 8, seed=1), RandomMultiScaleNet((3, 7), 8, seed=2)
    x = torch.rand(1, 3, 20, 20)
    fa, fb, fc = a(x, a.layer_names), b(x, b.layer_names), c(x, c.layer_names)
    assert a.layer_names == ["scale3", "scale7"] and fa["scale7"].shape == (1, 8, 20, 20)
    torch.testing.assert_close(fa["scale3"], fb["scale3"])
    assert not torch.allclose(fa["scale3"], fc["scale3"])
    assert (fa["scale7"] >= 0).all() and "random multi-scale" in a.description and "untrained" in a.description


def test_bad_network_choices_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no weights to load"):
        build_feature_net("random", "w.pth")
    with pytest.raises(UsageError, match="does not exist"):
        build_feature_net("vgg19", str(tmp_path / "none.pth"))
    with pytest.raises(UsageError, match="odd"):
        RandomMultiScaleNet((4,))
    with pytest.raises(UsageError, match="layer 'conv9_1' is not in"):
        VGG19Features().check_layers(["conv9_1"])


def test_recompute_gives_the_same_gradients_and_keeps_fewer_activations():
    import torch

    from reprlab.models.style import gram_matrix
    from reprlab.nets.feature_nets import VGG19Features

    torch.manual_seed(0)
    net = VGG19Features()
    layers = ["conv1_1", "conv3_1", "conv4_2"]

    def run(recompute: bool):
        net.recompute = recompute
        x = torch.rand(1, 3, 32, 32, requires_grad=True)
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            torch.manual_seed(1)
            x.data = torch.rand(1, 3, 32, 32)
            loss = sum(gram_matrix(f).sum() for f in net(x, layers).values())
        loss.backward()
        return x.grad, sum(saved)

    g_plain, kept_plain = run(False)
    g_recompute, kept_recompute = run(True)
    torch.testing.assert_close(g_recompute, g_plain, rtol=1e-5, atol=1e-6)
    assert kept_recompute < 0.6 * kept_plain  # only the requested maps (and what the Gram needs) are kept
