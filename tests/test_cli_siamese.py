"""``reprlab train siamese``, ``reprlab oneshot`` and ``reprlab similar`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from helpers import error_line, run_cli
from reprlab.cli import main
from reprlab.data import load_dataset


@pytest.fixture(scope="module")
def siamese_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("siamese") / "run"
    argv = ["-q", "train", "siamese", "loss=contrastive", "hidden=[64]", "latent_dim=16", "val_way=5",
            "val_tasks=20", "--steps", "600", "train.val_every=300", "--run-dir", str(run)]
    assert main(argv) == 0
    return run


def test_oneshot_on_random_tasks_prints_json(siamese_run, capsys):
    code, out, err = run_cli(capsys, "oneshot", str(siamese_run), "--data", "digits", "--way", "5", "--tasks", "100")
    assert code == 0, err
    result = json.loads(out)
    assert result["tasks"].startswith("100 random 5-way 1-shot tasks from digits") and result["mean_accuracy"] > 0.8


def test_oneshot_on_lake_runs_of_a_model_for_other_images_is_a_clear_error(siamese_run, data_dir, capsys):
    code, _, err = run_cli(capsys, "oneshot", str(siamese_run), "--data-dir", str(data_dir))
    assert code == 2 and "does not match the model's (B, 1, 8, 8)" in error_line(err)


def test_similar_ranks_a_gallery_folder_and_writes_a_strip(siamese_run, tmp_path, capsys):
    digits = load_dataset("digits", split="test")
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for i in range(30):
        Image.fromarray((digits.x[i, 0].numpy() * 255).astype(np.uint8)).save(gallery / f"{i:02d}_{int(digits.y[i])}.png")
    query = tmp_path / "query.png"
    target = int(np.bincount(digits.y[:30].numpy()).argmax())  # the gallery's most frequent digit
    k = 30 + int(np.flatnonzero(digits.y[30:].numpy() == target)[0])  # a query image of it, not in the gallery
    Image.fromarray((digits.x[k, 0].numpy() * 255).astype(np.uint8)).save(query)
    code, out, err = run_cli(capsys, "similar", str(siamese_run), str(query), "--gallery", str(gallery), "--top", "5",
                             "-o", str(tmp_path / "top.png"))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 5
    labels = [int(line.rsplit("_", 1)[1].removesuffix(".png")) for line in lines]
    assert labels.count(target) >= 4  # the best matches show the query's digit
    scores = [float(line.split()[1]) for line in lines]
    assert scores == sorted(scores, reverse=True)
    with Image.open(tmp_path / "top.png") as im:
        assert im.size[0] > im.size[1]
    Image.new("L", (9, 9)).save(tmp_path / "big.png")
    code, _, err = run_cli(capsys, "similar", str(siamese_run), str(tmp_path / "big.png"), "--gallery", str(gallery))
    assert code == 2 and "the model takes 8x8; resize it" in error_line(err)
    code, _, err = run_cli(capsys, "similar", str(siamese_run), str(query), "--gallery", str(gallery), "--top", "0")
    assert code == 2 and "--top must be at least 1" in error_line(err)


def test_oneshot_needs_a_model_with_a_similarity(tmp_path, capsys):
    run = tmp_path / "ae"
    assert main(["-q", "train", "ae", "--steps", "5", "--run-dir", str(run)]) == 0
    code, _, err = run_cli(capsys, "oneshot", str(run), "--data", "digits")
    assert code == 2 and "has no learnt similarity" in error_line(err)


def test_siamese_on_unlabelled_data_is_a_clear_error(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    code, _, err = run_cli(capsys, "train", "siamese", "--data", str(tmp_path / "x.npy"), "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "has no labels" in error_line(err)
    assert not (tmp_path / "r").exists()


def test_train_on_explicit_pairs_from_a_file(tmp_path, capsys, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="reprlab")
    y = load_dataset("digits", split="all").y.numpy()
    lines = ["i,j,same"] + [f"{i},{i + k},{int(y[i] == y[i + k])}" for i in range(0, 1700, 3) for k in (1, 10)]
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "siamese", "loss=cosine", f"pairs_file={tmp_path / 'pairs.csv'}",
                           "val_way=5", "val_tasks=10", "--steps", "30", "--run-dir", str(run))
    assert code == 0, err
    # the pairs of the file whose two rows fell into the training split
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("training on")]
    n = int(line.split()[2])
    # both rows in the 72 % (80 % train split, less 10 % validation): about 0.72² of the pairs
    assert "pairs pairs.csv of digits" in line and 0.45 < n / (len(lines) - 1) < 0.6
    assert (run / "model.safetensors").is_file()


def test_oneshot_k_shot_uses_prototypes_and_is_no_worse_than_one_shot(siamese_run, capsys):
    results = {}
    for shot in (1, 5):
        code, out, _ = run_cli(capsys, "oneshot", str(siamese_run), "--data", "digits", "--split", "all", "--way", "5",
                               "--shot", str(shot), "--tasks", "100")
        assert code == 0
        results[shot] = json.loads(out)
    assert results[5]["rule"].startswith("prototypes") and not results[1]["rule"].startswith("prototypes")
    assert results[5]["mean_accuracy"] >= results[1]["mean_accuracy"] > 0.2  # more shots help; chance is 0.2
