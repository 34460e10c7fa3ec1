"""Siamese losses against independent computations, Koch's network shapes, training on digits."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data import load_dataset
from reprlab.data.base import Batch
from reprlab.errors import ConfigError
from reprlab.models.siamese import (
    KochHead, SiameseConfig, SiameseNet, contrastive_loss, cosine_pair_loss, koch_loss, shift_images,
)


def test_contrastive_loss_matches_a_loop_over_pairs():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(7, 3, generator=g, dtype=torch.float64)
    same = torch.tensor([1, 0, 1, 0, 0, 1, 0], dtype=torch.float64)
    m = 2.0
    total = 0.0
    for a, b, y in zip(z1.tolist(), z2.tolist(), same.tolist()):
        d = math.dist(a, b)
        total += 0.5 * d * d if y else 0.5 * max(0.0, m - d) ** 2
    assert float(contrastive_loss(z1, z2, same, m)) == pytest.approx(total / 7, rel=1e-12)


def test_contrastive_loss_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    same = torch.tensor([1, 0, 1, 0, 0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: contrastive_loss(a, b, same, 3.0), (z1, z2))


def test_cosine_loss_hand_worked():
    z1 = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    z2 = torch.tensor([[0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [1.0, 1.0]])
    same = torch.tensor([1.0, 1.0, 0.0, 0.0])
    c = 1 / math.sqrt(2)
    # similar: cos 0 -> (1/4)(1)^2; cos c -> (1/4)(1-c)^2; dissimilar: cos -1 -> 0 (below margin 0); cos c -> c^2
    expected = (0.25 + 0.25 * (1 - c) ** 2 + 0.0 + c**2) / 4
    assert float(cosine_pair_loss(z1, z2, same, margin=0.0)) == pytest.approx(expected, rel=1e-6)
    # a margin above c switches the last dissimilar term off
    assert float(cosine_pair_loss(z1, z2, same, margin=0.8)) == pytest.approx((0.25 + 0.25 * (1 - c) ** 2) / 4, rel=1e-6)


def test_koch_head_and_loss_by_hand():
    head = KochHead(3)
    with torch.no_grad():
        head.alpha.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        head.alpha.bias.fill_(0.25)
    z1, z2 = torch.tensor([[0.1, 0.2, 0.3], [0.0, 0.0, 1.0]]), torch.tensor([[0.3, 0.1, 0.3], [1.0, 0.0, 0.0]])
    logits = head(z1, z2)
    expected = torch.tensor([0.2 - 0.2 + 0 + 0.25, 1.0 + 0 + 0.5 + 0.25])
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(head.pairwise(z1, z2).diagonal(), logits)
    same = torch.tensor([1.0, 0.0])
    p = torch.sigmoid(expected)
    bce = -(torch.log(p[0]) + torch.log(1 - p[1])) / 2
    w = [torch.ones(2, 2), torch.full((3,), 2.0)]
    torch.testing.assert_close(koch_loss(logits, same, w, 0.1), bce + 0.1 * (4 + 12))


@pytest.mark.parametrize("arch, dim", [("koch", 4096), ("koch-small", 512)])
def test_koch_networks_map_105x105_images_to_their_embedding(arch, dim):
    model = SiameseNet(SiameseConfig(arch=arch, latent_dim=dim), (1, 105, 105))
    z = model.encode(torch.rand(2, 1, 105, 105))
    assert z.shape == (2, dim) and ((z > 0) & (z < 1)).all()  # sigmoid codes
    if arch == "koch":  # the paper's layer sizes
        convs = [m for m in model.twin if isinstance(m, torch.nn.Conv2d)]
        assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(64, 10), (128, 7), (128, 4), (256, 4)]
        assert model.twin[-2].in_features == 9216


def test_koch_network_refuses_small_images():
    with pytest.raises(ConfigError, match="too small"):
        SiameseNet(SiameseConfig(arch="koch"), (1, 28, 28))
    with pytest.raises(ConfigError, match="needs images"):
        SiameseNet(SiameseConfig(arch="koch"), (64,))


def test_similarity_matrix_agrees_with_pairwise_similarity():
    torch.manual_seed(0)
    for loss in ("koch", "contrastive", "cosine"):
        model = SiameseNet(SiameseConfig(loss=loss, hidden=(16,), latent_dim=8), (1, 8, 8)).eval()
        a, b = torch.rand(3, 1, 8, 8), torch.rand(4, 1, 8, 8)
        m = model.similarity_matrix(a, b)
        assert m.shape == (3, 4)
        for i in range(3):
            torch.testing.assert_close(m[i], model.similarity(a[i : i + 1].expand(4, -1, -1, -1), b), atol=1e-5, rtol=0)


def test_shift_images_by_hand():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)  # rows [0..3], [4..7], [8..11]
    down_right = shift_images(x, 1, 1)[0, 0]
    # content moves one row down and one column right; the first row / column repeat the edge
    expected = torch.tensor([[0.0, 0, 1, 2], [0, 0, 1, 2], [4, 4, 5, 6]])
    torch.testing.assert_close(down_right, expected)
    up_left = shift_images(x, -1, -2)[0, 0]
    torch.testing.assert_close(up_left, torch.tensor([[6.0, 7, 7, 7], [10, 11, 11, 11], [10, 11, 11, 11]]))
    assert shift_images(x, 0, 0) is x


@pytest.mark.parametrize("loss", ["cosine", "contrastive"])
def test_test_time_shifts_average_the_codes_of_nine_translates(loss):
    torch.manual_seed(0)
    x = torch.zeros(2, 1, 20, 20)
    x[:, :, 6:14, 5:15] = torch.rand(2, 1, 8, 10)  # a drawing on a blank page: shifts by 2 px lose nothing
    plain = SiameseNet(SiameseConfig(loss=loss, hidden=(16,), latent_dim=8), (1, 20, 20)).eval()
    tta = SiameseNet(SiameseConfig(loss=loss, hidden=(16,), latent_dim=8, tta_shift=0.1), (1, 20, 20)).eval()
    tta.load_state_dict(plain.state_dict())
    torch.testing.assert_close(plain.scoring_code(x), plain.encode(x))  # tta_shift=0: the code itself
    codes = []
    for dy in (-2, 0, 2):  # round(0.1 * 20) = 2 px
        for dx in (-2, 0, 2):
            z = plain.encode(torch.roll(x, (dy, dx), (2, 3)))  # a blank border: rolling = translating
            codes.append(torch.nn.functional.normalize(z, dim=1) if loss == "cosine" else z)
    torch.testing.assert_close(tta.scoring_code(x), torch.stack(codes).mean(0), atol=1e-6, rtol=0)
    # the shift given for one call, config untouched: the same codes both ways
    torch.testing.assert_close(plain.scoring_codes(x, tta_shift=0.1), tta.scoring_code(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(tta.scoring_codes(x, tta_shift=0.0), plain.encode(x))
    assert plain.config.tta_shift == 0 and tta.config.tta_shift == 0.1
    assert not torch.allclose(tta.scoring_code(x), plain.encode(x) / (1 if loss != "cosine" else plain.encode(x).norm(dim=1, keepdim=True)))
    m = tta.similarity_matrix(x, x.flip(0))  # the matrix and the pairwise scores use the same codes
    torch.testing.assert_close(torch.diagonal(m), tta.similarity(x, x.flip(0)), atol=1e-5, rtol=0)


def test_forward_returns_loss_and_pair_accuracy():
    model = SiameseNet(SiameseConfig(hidden=(16,), latent_dim=8, augment=True), (1, 8, 8))
    b = Batch(torch.rand(6, 1, 8, 8), torch.tensor([1.0, 0, 1, 0, 1, 0]), {"x2": torch.rand(6, 1, 8, 8)})
    out = model(b)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"]) and 0 <= float(out["pair_acc"]) <= 1
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("loss", ["koch", "contrastive", "cosine"])
def test_training_on_digit_pairs_learns_one_shot_recognition(loss, tmp_path):
    from reprlab.data.fewshot import sample_tasks
    from reprlab.eval.oneshot import fewshot_accuracy, pixel_similarity
    from reprlab.pipelines.training import build_run_config, train_run

    rc = build_run_config("siamese", None, [
        ("loss", loss), ("hidden", [128]), ("latent_dim", 32), ("margin", 1.0 if loss == "contrastive" else 0.0),
        ("train.max_steps", 1500), ("train.batch_size", 64), ("train.progress", False), ("train.val_every", 200),
        ("val_way", 5), ("val_tasks", 50), ("train.tensorboard", False),
    ])
    model, result = train_run(rc, tmp_path / loss)
    # early stopping's monitor is the one-shot error of validation tasks
    assert result.best_val <= 1 - result.val_metrics["val/oneshot_acc"] + 1e-12
    test = load_dataset("digits", split="test")
    tasks = sample_tasks(test, n_way=5, k_shot=1, n_tasks=300, seed=1)
    acc = float(fewshot_accuracy(model.similarity_matrix, tasks).mean())
    pixel = float(fewshot_accuracy(pixel_similarity, tasks).mean())  # 1-NN on pixels: ~0.73 (chance 0.2)
    assert acc > max(0.85, pixel), (acc, pixel)
    assert result.train_metrics["train/pair_acc"] > 0.9, result.train_metrics
    header = (tmp_path / loss / "metrics.csv").read_text().splitlines()[0]
    assert "val/oneshot_acc" in header and "val/oneshot_error" in header


@pytest.mark.parametrize("loss, extra", [("ntxent", ["temperature=0.2"]), ("triplet", ["mining=semi-hard", "group_size=4"]),
                                         ("protonet", ["group_size=3", "n_support=1"])])
def test_batch_losses_train_on_groups_and_learn_a_similarity(tmp_path, capsys, loss, extra):
    """Batch-wise losses through `reprlab train siamese`: the training data are class groups, the
    loss falls, and 5-way one-shot accuracy on held-out digits beats raw pixels' chance."""
    import json

    from helpers import run_cli

    run = tmp_path / loss
    code, _, err = run_cli(capsys, "-q", "train", "siamese", "--data", "digits", f"loss={loss}", *extra, "hidden=[64]",
                           "latent_dim=16", "train.batch_size=16", "--steps", "150", "val_way=5", "val_tasks=50",
                           "train.val_every=150", "--run-dir", str(run))
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["val_metrics"]["val/oneshot_acc"] > 0.6  # chance: 0.2
    rows = (run / "metrics.csv").read_text().splitlines()
    first, last = float(rows[1].split(",")[1]), float(rows[-1].split(",")[1])
    assert last < first


def test_conv4_twin_resizes_inside_the_net():
    import torch

    from reprlab.nets.twin import conv4_twin

    net = conv4_twin((1, 105, 105), 32, size=28).eval()
    small = torch.nn.functional.adaptive_avg_pool2d(torch.rand(3, 1, 105, 105), 28)
    big = torch.nn.functional.interpolate(small, size=105, mode="nearest")  # any 105-px image
    assert net(big).shape == (3, 32)
    # a 28-px input passes the resizing unchanged: the same code as its 105-px original's area-resized copy
    torch.testing.assert_close(net(torch.nn.functional.adaptive_avg_pool2d(big, 28)), net(big))


def test_protonet_needs_a_query_per_group_and_scores_by_squared_distance():
    import torch

    from reprlab.errors import ConfigError
    from reprlab.models.siamese import SiameseConfig, SiameseNet

    with pytest.raises(ConfigError, match="use model.group_size >= 3"):
        SiameseConfig(loss="protonet", group_size=2, n_support=2)
    net = SiameseNet(SiameseConfig(loss="protonet", hidden=(8,), latent_dim=4), (6,)).eval()
    a, b = torch.rand(3, 6), torch.rand(5, 6)
    za, zb = net.encode(a), net.encode(b)
    torch.testing.assert_close(net.similarity_matrix(a, b), -((za[:, None] - zb[None]) ** 2).sum(-1))


def test_omniglot_recipe_fills_only_what_the_user_left_unset(caplog, tmp_path):
    """`--data omniglot` brings the one-shot recipe; a key set on the command line or in a config
    file wins; other data sets keep the plain defaults; a finished run's config is left alone."""
    import logging

    from reprlab.models.siamese import SiameseNet
    from reprlab.pipelines.training import build_run_config

    recipe = SiameseNet.recipes["omniglot"]
    with caplog.at_level(logging.INFO, logger="reprlab"):
        rc = build_run_config("siamese", None, [("data.name", "omniglot:small1")])
    assert rc.model.arch == recipe["arch"] == "conv4" and rc.model.loss == recipe["loss"]
    assert rc.train.lr == recipe["train.lr"] and rc.train.max_steps == recipe["train.max_steps"]
    assert "the model's recipe" in caplog.text and "model.arch=conv4" in caplog.text
    mine = build_run_config("siamese", {"train": {"lr": 0.5}}, [("data.name", "omniglot"), ("arch", "mlp"), ("loss", "koch")])
    assert (mine.model.arch, mine.model.loss, mine.train.lr) == ("mlp", "koch", 0.5)
    assert mine.model.rotations is True  # the rest of the recipe still applies
    plain = build_run_config("siamese", None, [("data.name", "digits")])
    assert plain.model.arch == "mlp" and plain.model.loss == "koch"
    resolved = build_run_config("siamese", {**plain.to_dict(), "data": {**plain.to_dict()["data"], "name": "omniglot"}})
    assert resolved.model.arch == "mlp"  # every key set: nothing to fill
