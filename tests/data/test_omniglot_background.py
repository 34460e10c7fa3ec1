"""The full Omniglot background set, offline (issue 21): ``reprlab data download omniglot:background``
from a server on 127.0.0.1 serving a small stand-in of ``images_background.zip`` (same layout, its
checksum patched into the table of known files), ``reprlab train siamese --data omniglot:background``
on it with the Omniglot recipe, and ``benchmarks/oneshot_omniglot.py --background full``: its error
without the set and the names its rows are stored under."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import error_line, local_only, run_cli, serve_folder
from PIL import Image

from reprlab.data import download as dl
from reprlab.data import load_dataset
from reprlab.models.siamese import SiameseNet

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "oneshot_omniglot.py"
ZIP = "omniglot-py/images_background.zip"
ALPHABETS = ("Armenian", "Gujarati", "Korean")  # the names of three of the 30 background alphabets


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    local_only(monkeypatch)


def standin_background_zip(path: Path, alphabets=ALPHABETS, characters: int = 4, drawers: int = 4) -> Path:
    """A zip laid out as torchvision's ``images_background.zip``:
    ``images_background/<alphabet>/characterNN/<id>_<drawer>.png``, 105x105 1-bit PNGs (strokes
    black), folder entries included; each character a random blot, each drawer's copy shifted."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    number = 0
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images_background/", b"")
        for alphabet in alphabets:
            z.writestr(f"images_background/{alphabet}/", b"")
            for c in range(1, characters + 1):
                number += 1
                folder = f"images_background/{alphabet}/character{c:02d}"
                z.writestr(f"{folder}/", b"")
                strokes = np.zeros((105, 105), bool)
                strokes[30:75, 30:75] = rng.random((45, 45)) < 0.3
                for d in range(1, drawers + 1):
                    drawn = np.roll(strokes, (d - 2, 2 - d), axis=(0, 1))
                    png = io.BytesIO()
                    Image.fromarray(~drawn).save(png, format="PNG")  # mode "1": True is white
                    z.writestr(f"{folder}/{number:04d}_{d:02d}.png", png.getvalue())
    return path


def test_download_then_train_siamese_on_the_full_background_set(tmp_path, monkeypatch, capsys, caplog):
    mirror_root, dest, run = tmp_path / "mirror", tmp_path / "data", tmp_path / "run"
    standin = standin_background_zip(mirror_root / ZIP)
    with serve_folder(mirror_root) as server:
        argv = ("data", "download", "omniglot:background", "--dir", str(dest), "--mirror", server.url)
        # the published MD5 is checked: the stand-in is refused as it stands
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and "wrong checksum" in error_line(err) and not (dest / ZIP).exists()
        md5 = hashlib.md5(standin.read_bytes()).hexdigest()
        files = tuple(dataclasses.replace(f, md5=md5) if f.path == ZIP else f for f in dl.FILES)
        assert sum(f.path == ZIP for f in files) == 1
        monkeypatch.setattr(dl, "FILES", files)
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, err
        assert server.requests[-1] == (f"/{ZIP}", None)
    assert (dest / ZIP).read_bytes() == standin.read_bytes()
    assert not [p for p in dest.rglob("*") if p.name.endswith(".part")]
    data = load_dataset("omniglot:background", split="all", data_dir=dest)
    assert data.meta["alphabets"] == list(ALPHABETS) and len(data) == 3 * 4 * 4 and data.num_classes == 12

    caplog.set_level(logging.INFO, logger="reprlab")
    code, _, err = run_cli(capsys, "train", "siamese", "--data", "omniglot:background", "--data-dir", str(dest),
                           "--run-dir", str(run), "train.max_steps=3", "train.batch_size=4", "group_rounds=1",
                           "val_way=3", "val_tasks=4", "data.val_by=alphabet", "data.val_fraction=0.34",
                           "train.val_every=3", "train.checkpoint_every=3", "train.warmup_steps=0")
    assert code == 0, err
    # the Omniglot recipe was applied to omniglot:background (the keys set above win)
    assert "siamese on omniglot:background: the model's recipe" in caplog.text
    config = yaml.safe_load((run / "config.yaml").read_text())
    recipe = SiameseNet.recipes["omniglot"]
    assert config["data"]["name"] == "omniglot:background" and config["data"]["data_dir"] == str(dest)
    assert all(config["model"][k] == recipe[k] for k in ("arch", "loss", "rotations", "augment", "tta_shift"))
    assert config["train"]["lr"] == recipe["train.lr"] and config["train"]["max_steps"] == 3
    assert config["input_shape"] == [1, 105, 105]
    # it trained on the stand-in's alphabets: one held out for validation, the others trained on
    (held,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("validation on held-out alphabet")]
    assert held.rsplit(": ", 1)[1] in ALPHABETS
    assert (run / "model.safetensors").is_file()
    assert any(line.startswith("3,") for line in (run / "metrics.csv").read_text().splitlines())


# ------------------------------------------------------------------ benchmarks/oneshot_omniglot.py


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH.parent))
    try:
        import oneshot_omniglot
    finally:
        sys.path.remove(str(BENCH.parent))
    return oneshot_omniglot


def test_benchmark_background_full_without_the_set_is_one_line_exit_2(tmp_path):
    (tmp_path / "omniglot").mkdir()  # the small sets' folder only: no omniglot-py/images_background
    env = {**os.environ, "REPRLAB_DATA": str(tmp_path), "REPRLAB_BENCH_RESULTS": str(tmp_path / "results")}
    out = subprocess.run([sys.executable, str(BENCH), "--rows", "loss-ntxent", "--background", "full", "--quick",
                          "--run-root", str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith("error: --background full needs the full Omniglot background set")
    assert "reprlab data download omniglot:background" in lines[0] and str(tmp_path / "omniglot-py") in lines[0]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_benchmark_full_rows_have_their_own_names_and_data(bench, tmp_path):
    assert bench.full_background_missing(tmp_path) is not None
    standin_background_zip(tmp_path / ZIP)
    assert bench.full_background_missing(tmp_path) is None
    assert bench.row_name("headline-s0") == "headline-s0" and bench.row_name("headline-s0", "small") == "headline-s0"
    assert bench.row_name("headline-s0", "full") == "headline-s0@full"
    assert bench.row_name("loss-ntxent", "full") == "loss-ntxent@full" not in bench.ROWS
    small = dict(bench.row_overrides("loss-ntxent", 100, 0, "/d"))
    full = dict(bench.row_overrides("loss-ntxent", 100, 0, "/d", "full"))
    assert small["data.name"] == "omniglot" and full["data.name"] == "omniglot:background"
    assert {k: v for k, v in full.items() if k != "data.name"} == {k: v for k, v in small.items() if k != "data.name"}
    assert full["data.val_by"] == "alphabet" and full["data.val_fraction"] == 0.2  # 6 of the 30 alphabets held out
    head = dict(bench.row_overrides("headline-s1", 100, 1, "/d", "full"))
    assert head["data.name"] == "omniglot:background" and "data.val_by" not in head
    # rows stored as <row>@full never enter the small sets' headline
    rows = {bench.row_name(f"headline-s{s}", "full"): {"lake20_accuracy": 0.99, "seed": s, "train_minutes": 1.0}
            for s in bench.SEEDS}
    rows[bench.row_name("loss-ntxent", "full")] = {"lake20_accuracy": 0.99}
    h = bench.headline_of(rows, {"cosine": 0.2, "euclidean": 0.19})
    assert h["lake20_accuracy"] is None and h["loss_ntxent_accuracy"] is None
    assert "@full" in bench.PROTOCOL and "omniglot:background" in bench.PROTOCOL
