"""Style transfer (Gatys et al.): the losses against their written-out equations and finite
differences, the optimization (style loss falls, texture, pyramid, colour), and `reprlab stylize`."""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import error_line, run_cli
from reprlab.data.photos import embedded_photo
from reprlab.models.style import (
    StyleConfig, content_loss, gram_matrix, resize_longest, rgb_to_yuv, style_layer_loss, style_loss, stylize,
    total_variation,
)
from reprlab.nets.feature_nets import RandomMultiScaleNet

TINY = ["--size", "32", "--steps", "5", "--random-sizes", "3,5", "--random-filters", "8"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def photos():
    """The two embedded photographs at 48 px: (content, style)."""
    return resize_longest(embedded_photo("china.jpg"), 48), resize_longest(embedded_photo("flower.jpg"), 48)


@pytest.fixture(scope="module")
def net():
    return RandomMultiScaleNet((3, 5, 7), 16, seed=0)


def test_gram_matrix_equals_the_explicit_double_sum():
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    g = gram_matrix(f)
    flat = f.reshape(2, 3, 20).numpy()
    for b in range(2):
        for i in range(3):
            for j in range(3):
                assert g[b, i, j].item() == pytest.approx(sum(flat[b, i, k] * flat[b, j, k] for k in range(20)), rel=1e-12)


def test_losses_match_their_equations_written_out():
    torch.manual_seed(0)
    f, p = torch.randn(1, 4, 3, 5, dtype=torch.float64), torch.randn(1, 4, 3, 5, dtype=torch.float64)
    n, m = 4, 15
    F, P = f.reshape(n, m).numpy(), p.reshape(n, m).numpy()
    assert content_loss(f, p).item() == pytest.approx(((F - P) ** 2).sum() / (2 * n * m))
    G, A = F @ F.T, P @ P.T
    e = ((G - A) ** 2).sum() / (4 * n**2 * m**2)
    assert style_layer_loss(f, torch.from_numpy(A)[None]).item() == pytest.approx(e)
    total = style_loss({"a": f, "b": 2 * f}, {"a": torch.from_numpy(A)[None], "b": torch.from_numpy(A)[None]}, {"a": 0.3, "b": 0.7})
    e2 = ((4 * G - A) ** 2).sum() / (4 * n**2 * m**2)
    assert total.item() == pytest.approx(0.3 * e + 0.7 * e2)
    x = np.random.default_rng(0).random((1, 2, 3, 4))
    tv = (((x[..., 1:, :] - x[..., :-1, :]) ** 2).sum() + ((x[..., :, 1:] - x[..., :, :-1]) ** 2).sum()) / x.size
    assert total_variation(torch.from_numpy(x)).item() == pytest.approx(tv)


def test_content_style_and_tv_gradients_pass_finite_differences_in_float64():
    net = RandomMultiScaleNet((3, 5), 3, seed=0).double()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 4, 5, dtype=torch.float64, generator=g).requires_grad_(True)
    x0, x1 = torch.rand(1, 3, 4, 5, dtype=torch.float64, generator=g), torch.rand(1, 3, 4, 5, dtype=torch.float64, generator=g)
    layers = net.layer_names
    with torch.no_grad():
        target = net(x0, ["scale3"])["scale3"]
        grams = {k: gram_matrix(v) for k, v in net(x1, layers).items()}
    weights = {"scale3": 0.5, "scale5": 0.5}
    assert torch.autograd.gradcheck(lambda z: content_loss(net(z, ["scale3"])["scale3"], target), (x,))
    assert torch.autograd.gradcheck(lambda z: style_loss(net(z, layers), grams, weights), (x,))
    assert torch.autograd.gradcheck(total_variation, (x,))


def test_short_run_decreases_the_style_loss_substantially(net, photos):
    content, style = photos
    r = stylize(net, content, style, StyleConfig(size=32, steps=40, style_weight=1e3))
    assert r.image.shape == (1, 3, 21, 32) and 0 <= r.image.min() and r.image.max() <= 1
    assert r.final_style_loss < 0.1 * r.initial_style_loss
    assert len(r.losses) == 40 and r.losses[-1]["content"] > 0 and "random multi-scale" in r.network


def test_adam_decreases_the_style_loss_too(net, photos):
    r = stylize(net, *photos, StyleConfig(size=32, steps=40, optimizer="adam", lr=0.05))
    assert r.final_style_loss < 0.5 * r.initial_style_loss


def test_texture_mode_starts_from_noise_matches_the_style_and_is_seeded(net, photos):
    cfg = StyleConfig(size=32, steps=30, init="noise", content_weight=0.0)
    a, b = stylize(net, None, photos[1], cfg), stylize(net, None, photos[1], cfg)
    assert a.final_style_loss < 0.05 * a.initial_style_loss
    assert all(row["content"] == 0 for row in a.losses)
    torch.testing.assert_close(a.image, b.image)  # same seed, same texture
    c = stylize(net, None, photos[1], dataclasses.replace(cfg, seed=1))
    assert not torch.allclose(a.image, c.image)


def test_pyramid_runs_coarse_to_fine_and_ends_at_full_size(net, photos):
    r = stylize(net, *photos, StyleConfig(size=40, steps=10, pyramid=2))
    assert [row["level"] for row in r.losses] == [0] * 10 + [1] * 10
    assert max(r.image.shape[-2:]) == 40 and r.final_style_loss < r.initial_style_loss


def test_images_too_small_for_vgg19_are_refused_in_one_line_before_any_step(photos):
    from reprlab.errors import UsageError
    from reprlab.nets.feature_nets import VGG19Features

    vgg = VGG19Features(None)  # random weights: only its shape rules matter here
    panorama = torch.rand(1, 3, 20, 200)
    with pytest.raises(UsageError, match=r"only 3 px on its short side at 32 px") as e:  # 200 x 20 at 32 px: 3 px high
        stylize(vgg, panorama, photos[1], StyleConfig(size=32, steps=1))
    assert "\n" not in str(e.value) and "VGG-19" in str(e.value)
    with pytest.raises(UsageError, match="the pyramid's coarsest level"):  # 48 x 32 at 64 / 4 = 16 px: 11 px high
        stylize(vgg, *photos, StyleConfig(size=64, steps=1, pyramid=3))
    # the random net has no pooling: the same sizes are fine for it (see the pyramid test at 20 px)
    stylize(RandomMultiScaleNet((3,), 4, seed=0), panorama, photos[1], StyleConfig(size=32, steps=1))


def test_colour_preservation_keeps_the_contents_chroma_in_yuv(net, photos):
    content, style = photos
    r = stylize(net, content, style, StyleConfig(size=48, steps=20, preserve_color=True, style_weight=1e4))
    got, want = rgb_to_yuv(r.image)[:, 1:], rgb_to_yuv(resize_longest(content, 48))[:, 1:]
    assert (got - want).abs().mean() < 0.01  # chroma kept (up to clamping to [0, 1])
    plain = stylize(net, content, style, StyleConfig(size=48, steps=20, style_weight=1e4))
    assert (rgb_to_yuv(plain.image)[:, 1:] - want).abs().mean() > 5 * (got - want).abs().mean()
    luma_change = (rgb_to_yuv(r.image)[:, 0] - rgb_to_yuv(resize_longest(content, 48))[:, 0]).abs().mean()
    assert luma_change > 0.02  # while the luminance was restyled


def test_cli_stylize_writes_the_image_and_a_run_folder(tmp_path, capsys, caplog):
    out, run = tmp_path / "out.png", tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="reprlab"):
        code, _, err = run_cli(capsys, "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(out), *TINY,
                               "--save-every", "2", "--run-dir", str(run))
    assert code == 0, err
    assert "feature network: random multi-scale net" in caplog.text and "step/s" in err  # log line, progress bar
    with Image.open(out) as im:
        assert im.size == (32, 21) and "random multi-scale" in im.text["reprlab:network"]
    for name in ("config.yaml", "result.png", "losses.csv", "losses.json", "intermediate/step-00004.png"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "losses.json").read_text())["summary"]
    assert summary["steps"] == 5 and summary["final_style_loss"] < summary["initial_style_loss"]
    assert "mode: transfer" in (run / "config.yaml").read_text() and len((run / "losses.csv").read_text().splitlines()) == 6
    assert "recompute: false" in (run / "config.yaml").read_text()
    code, _, err = run_cli(capsys, "-q", "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(tmp_path / "r.png"),
                           *TINY, "--recompute", "--run-dir", str(tmp_path / "rec"))
    assert code == 0, err
    assert "recompute: true" in (tmp_path / "rec" / "config.yaml").read_text()


def test_cli_texture_and_sweep(tmp_path, capsys):
    code, _, err = run_cli(capsys, "-q", "stylize", "sklearn:flower.jpg", "-o", str(tmp_path / "t.png"), *TINY,
                           "--run-dir", str(tmp_path / "tex"))
    assert code == 0, err
    assert "mode: texture" in (tmp_path / "tex" / "config.yaml").read_text() and (tmp_path / "t.png").is_file()
    code, _, err = run_cli(capsys, "-q", "stylize", "sklearn:china.jpg", "sklearn:flower.jpg", "-o", str(tmp_path / "s.png"),
                           *TINY, "--sweep", "1e1,1e3", "--run-dir", str(tmp_path / "sw"))
    assert code == 0, err
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "sw" / "sweep" / "beta-1000.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["missing.png", "sklearn:flower.jpg"], "image not found"),
    (["BAD", "sklearn:flower.jpg"], "not a readable image"),
    (["TINY", "sklearn:flower.jpg"], "needs at least 16"),
    (["sklearn:china.jpg", "sklearn:flower.jpg", "--optimizer", "sgd"], "stylize.optimizer: 'sgd' is not allowed"),
    (["sklearn:china.jpg", "sklearn:flower.jpg", "--steps", "0"], "stylize.steps"),
    (["sklearn:china.jpg", "sklearn:flower.jpg", "--content-layer", "conv4_2"], "layer 'conv4_2' is not in"),
    (["sklearn:flower.jpg", "--sweep", "1,2"], "give a CONTENT image"),
    (["a.png", "b.png", "c.png"], "give CONTENT STYLE"),
    (["sklearn:china.jpg", "sklearn:flower.jpg", "--device", "cuda:7"], "device"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "bad.png").write_bytes(b"this is not a png")
    Image.new("RGB", (8, 12)).save(tmp_path / "tiny.png")
    files = {"BAD": "bad.png", "TINY": "tiny.png"}
    args = [str(tmp_path / files[a]) if a in files else a for a in args]
    code, _, err = run_cli(capsys, "stylize", "-o", str(tmp_path / "o.png"), "--size", "32", "--steps", "1",
                           "--random-sizes", "3", "--random-filters", "4", "--run-dir", str(tmp_path / "r"), *args)
    assert code == 2 and message in error_line(err)


def test_gram_matrix_backward_equals_autograds_matmul_backward():
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 3, dtype=torch.float64)
    (g1,) = torch.autograd.grad((gram_matrix(f) * w).sum(), f)
    flat = f.flatten(2)
    (g2,) = torch.autograd.grad(((flat @ flat.transpose(1, 2)) * w).sum(), f)
    torch.testing.assert_close(g1, g2)
    assert torch.autograd.gradcheck(gram_matrix, (f,), fast_mode=True)
