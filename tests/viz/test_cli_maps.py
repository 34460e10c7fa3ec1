"""``reprlab embed`` and ``reprlab interpolate`` end to end on digits, and their error lines."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from helpers import error_line, run_cli
from reprlab import load
from reprlab.cli import main
from reprlab.data import load_dataset
from reprlab.eval import encode_data
from reprlab.eval.neighbors import trustworthiness


@pytest.fixture(scope="module")
def run2d(tmp_path_factory):
    """A short AE run with 2-D codes on digits."""
    run = tmp_path_factory.mktemp("maps") / "ae2"
    assert main(["-q", "train", "ae", "latent_dim=2", "hidden=[32]", "--steps", "150", "--run-dir", str(run)]) == 0
    return run


def test_embed_a_run_writes_coordinates_maps_numbers_and_a_report(run2d, tmp_path, capsys):
    out = tmp_path / "emb"
    code, _, err = run_cli(capsys, "embed", str(run2d), "--method", "codes,pca,tsne", "--perplexity", "5,20",
                           "--seeds", "0,1", "--thumbnails", "10", "--n-iter", "300", "--out", str(out))
    assert code == 0, err
    result = json.loads((out / "embed.json").read_text())
    names = [m["name"] for m in result["maps"]]
    assert names == ["codes", "pca", "tsne-p5-s0", "tsne-p20-s0", "tsne-p5-s1", "tsne-p20-s1"]
    test = load_dataset("digits", split="test")
    codes = encode_data(load(run2d), test).numpy()
    # the `codes` map is the model's codes, unchanged, in the data's order
    np.testing.assert_allclose(np.load(out / "codes.npy"), codes, rtol=1e-6)
    for m in result["maps"]:
        xy = np.load(out / f"{m['name']}.npy")
        assert xy.shape == (len(test), 2) and np.isfinite(xy).all()
        assert m["trustworthiness_k10"] == pytest.approx(trustworthiness(codes, xy, 10), abs=1e-9)
        with Image.open(out / f"{m['name']}.png") as im:
            im.verify()
    assert run_cli(capsys, "embed", str(run2d), "--out", str(tmp_path / "auto"))[0] == 0
    assert [m["method"] for m in json.loads((tmp_path / "auto" / "embed.json").read_text())["maps"]] == ["codes"]
    with open(out / "pca.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(test) and int(rows[3]["label"]) == int(test.y[3])
    assert (out / "tsne-sweep.png").is_file()
    page = (out / "index.html").read_text()
    assert page.count("<img") == 7 and "trustworthiness" in page


def test_embed_features_file_and_raw_pixels(run2d, tmp_path, capsys):
    assert run_cli(capsys, "encode", str(run2d), "-o", str(tmp_path / "c.npz"), "--split", "all")[0] == 0
    code, _, err = run_cli(capsys, "embed", str(tmp_path / "c.npz"), "--method", "pca", "--max-points", "300",
                           "--out", str(tmp_path / "f"))
    assert code == 0, err
    result = json.loads((tmp_path / "f" / "embed.json").read_text())
    assert result["kind"] == "features" and result["n_points"] == 300 and "knn_accuracy_map" in result["maps"][0]
    code, _, err = run_cli(capsys, "embed", "digits", "--method", "pca", "--out", str(tmp_path / "p"))
    assert code == 0, err
    result = json.loads((tmp_path / "p" / "embed.json").read_text())
    assert result["kind"] == "pixels" and result["latent_dim"] == 64


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "codes"], "these have 64 dimensions"),
        (["--method", "tsne", "--perplexity", "200"], "perplexity 200 is too large for 359 points"),
        (["--method", "umap"], "unknown map method 'umap'"),
        (["--perplexity", "thirty"], "--perplexity must be a comma-separated list of floats"),
        (["--max-points", "1"], "--max-points must be at least 2"),
    ],
)
def test_embed_bad_arguments_are_one_line_errors(args, message, tmp_path, capsys):
    code, _, err = run_cli(capsys, "embed", "digits", *args, "--out", str(tmp_path / "x"))
    assert code == 2 and message in error_line(err)


def test_embed_thumbnails_of_features_and_a_folder_that_is_no_run(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.random.default_rng(0).normal(size=(40, 5)))
    code, _, err = run_cli(capsys, "embed", str(tmp_path / "f.npy"), "--method", "pca", "--thumbnails", "5")
    assert code == 2 and "thumbnails need images" in error_line(err)
    code, _, err = run_cli(capsys, "embed", str(tmp_path), "--method", "pca")
    assert code == 2 and "not a reprlab run" in error_line(err)


def test_interpolate_writes_both_paths_and_its_settings(run2d, tmp_path, capsys):
    out = tmp_path / "morph.png"
    code, _, err = run_cli(capsys, "interpolate", str(run2d), "-o", str(out), "--from", "3", "--to", "7",
                           "--steps", "8", "--path", "both")
    assert code == 0, err
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["paths"] == ["linear", "slerp"] and settings["from"] == 3
    # 2 rows of 8 images of 8x8 enlarged to 32x32, 2 px padding
    with Image.open(out) as im:
        assert im.size == (8 * 34 + 2, 2 * 34 + 2)


def test_interpolate_traverse_grid_and_errors(run2d, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert run_cli(capsys, "interpolate", str(run2d), "-o", str(out), "--traverse", "6")[0] == 0
    with Image.open(out) as im:
        assert im.size == (6 * 34 + 2, 6 * 34 + 2)
    code, _, err = run_cli(capsys, "interpolate", str(run2d), "-o", str(out), "--from", "0", "--to", "5000")
    assert code == 2 and "--to 5000 is out of range" in error_line(err)
    code, _, err = run_cli(capsys, "interpolate", str(run2d), "-o", str(tmp_path / "x.jpg"))
    assert code == 2 and "must end in .png" in error_line(err)
