"""``reprlab compare`` / ``reprlab.compare``: the table's structure and files, a family registered
after the fact appearing with no edit to the compare code, and bad inputs that fail one cell or
one method (one line each, exit code 2) while the others still run."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import yaml
from helpers import error_line, run_cli
from torch import nn

import reprlab
from reprlab.config import option
from reprlab.errors import UsageError
from reprlab.models import MODELS, ReprModel, register_model
from reprlab.models.base import code_size_key

pytestmark = pytest.mark.usefixtures("one_thread")

#: a quick setting: two label budgets, small maps, a 20-step AE
QUICK = dict(labels=(100, "all"), map_points=120, tsne_iter=260, steps=20)
TINY_AE = {"ae": {"hidden": [32]}}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "digits"
    return reprlab.compare("digits", ["raw", "pca", "ae"], out=out, code_size=8, seeds=(0, 1), options=TINY_AE, **QUICK)


def test_compare_scores_every_method_with_every_probe_over_the_seeds(result):
    assert result.exit_code == 0 and result.failures == []
    names = [p.name for p in result.probes]
    assert names == ["linear_100", "linear_all", "knn5", "knn5_loo", "fewshot_20w1s", "fewshot_20w5s",
                     "robust_masking0.25", "robust_gaussian0.2", "tsne_T10", "train_seconds", "encode_per_s", "code_size"]
    assert list(result.cells) == ["raw", "pca", "ae"]
    for method, cells in result.cells.items():
        assert set(cells) == set(names)
        for name in names:
            c = cells[name]
            if name.startswith("fewshot"):  # digits has 10 classes: 20-way tasks do not apply
                assert "20-way" in c["na"]
                continue
            assert c["n"] == 2 and len(c["values"]) == 2
            assert c["mean"] == pytest.approx(np.mean(c["values"]))
            assert c["std"] == pytest.approx(np.std(c["values"], ddof=1))
            if name.startswith(("linear", "knn", "robust", "tsne")):
                assert 0 <= c["mean"] <= 1
    assert result.cells["raw"]["code_size"]["mean"] == 64  # raw keeps the inputs' size
    assert result.cells["pca"]["code_size"]["mean"] == result.cells["ae"]["code_size"]["mean"] == 8
    assert result.cells["raw"]["linear_all"]["mean"] > 0.9  # digits' pixels are nearly linearly separable
    assert result.cells["ae"]["train_seconds"]["mean"] > 0 and result.cells["raw"]["train_seconds"]["mean"] == 0


def test_compare_writes_json_csv_config_figures_and_a_page(result):
    out = result.out
    for name in ("compare.json", "compare.csv", "config.json", "table.png", "maps.png", "index.html"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "compare.json").read_text())
    assert saved["table"] == json.loads(json.dumps(result.cells))
    assert saved["seeds"] == [0, 1] and saved["code_size"] == 8 and saved["data"] == "digits"
    assert [p["name"] for p in saved["probes"]] == [p.name for p in result.probes]
    config = json.loads((out / "config.json").read_text())
    ae = config["methods"]["ae"]
    assert ae["family"] == "ae" and ae["code_size_option"] == "latent_dim"
    assert ae["run_config"]["model"]["latent_dim"] == 8 and ae["run_config"]["model"]["hidden"] == [32]
    assert ae["run_config"]["train"]["max_steps"] == 20 and ae["run_config"]["data"]["val_fraction"] == 0
    with open(out / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(result.probes)
    row = next(r for r in rows if r["method"] == "pca" and r["probe"] == "knn5")
    cell = result.cells["pca"]["knn5"]
    assert row["status"] == "ok" and float(row["mean"]) == pytest.approx(cell["mean"], rel=1e-5)
    assert float(row["std"]) == pytest.approx(cell["std"], rel=1e-4, abs=1e-6) and row["n_seeds"] == "2"
    assert next(r for r in rows if r["probe"] == "fewshot_20w1s")["status"] == "n/a"
    page = (out / "index.html").read_text()
    assert "reprlab compare" in page and "linear_all" in page and page.count("data:image/png;base64") == 2


@dataclass
class ToyConfig:
    latent_dim: int = option(4, "size of the codes", ge=1)


class ToyLinear(ReprModel):
    """A linear auto-encoder defined here, outside the library: only the shared model interface."""

    name = "toy-linear"
    Config = ToyConfig

    def __init__(self, config, input_shape):
        super().__init__(config, input_shape)
        d = math.prod(input_shape)
        self.enc, self.dec = nn.Linear(d, config.latent_dim), nn.Linear(config.latent_dim, d)

    def encode(self, x):
        return self.enc(self.check_input(x).flatten(1))

    def forward(self, batch, update="model"):
        x = batch.x.flatten(1)
        return {"loss": (self.dec(self.enc(x)) - x).pow(2).sum(1).mean()}


class ToyNoCodes(ToyLinear):
    """A family without ``encode`` (like a style run: nothing to compare)."""

    name = "toy-nocodes"
    encode = ReprModel.encode


@pytest.fixture
def toy_families():
    register_model("toy-linear", "a linear auto-encoder registered by a test")(ToyLinear)
    register_model("toy-nocodes", "a family without codes, registered by a test")(ToyNoCodes)
    yield
    MODELS.pop("toy-linear", None)
    MODELS.pop("toy-nocodes", None)


def test_a_family_registered_later_appears_in_the_table_and_one_without_codes_fails_alone(toy_families, tmp_path, capsys):
    code, out, err = run_cli(capsys, "-q", "compare", "--data", "digits", "--methods", "raw,toy-linear,toy-nocodes",
                             "--code-size", "5", "--seeds", "0", "--steps", "20", "--probes", "knn,cost",
                             "--out", str(tmp_path / "cmp"))
    assert code == 2
    line = error_line(err)
    assert line == "reprlab: error: compare: toy-nocodes: model 'toy-nocodes' cannot encode: it has no codes to compare"
    assert out.splitlines()[0].split()[:3] == ["method", "knn5", "knn5_loo"]
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    toy = saved["table"]["toy-linear"]
    assert toy["code_size"]["mean"] == 5 and 0.5 < toy["knn5"]["mean"] <= 1
    assert saved["methods"]["toy-linear"]["code_size_option"] == "latent_dim"
    assert all("cannot encode" in c["error"] for c in saved["table"]["toy-nocodes"].values())
    assert "error" not in saved["table"]["raw"]["knn5"]


def test_bad_inputs_fail_their_cells_in_one_line_each_and_the_rest_still_runs(tmp_path, capsys):
    code, out, err = run_cli(capsys, "-q", "compare", "--data", "digits", "--methods", "raw,pca,nope", "--code-size", "100",
                             "--labels", "5,all", "--probes", "linear,cost", "--seeds", "0", "--out", str(tmp_path / "bad"))
    assert code == 2
    lines = err.strip().splitlines()
    assert all(line.startswith("reprlab: error: compare: ") for line in lines) and len(lines) == 3
    assert lines[0].endswith("raw (linear_5): 5 labels are fewer than the 10 classes: a probe needs an example of "
                             "each class; use at least 10 labels")
    assert "pca: pca cannot give 100-dimensional codes" in lines[1] and "at most 64" in lines[1]
    assert "nope: unknown method 'nope'; choose among raw, pca, gan-d" in lines[2]
    table = json.loads((tmp_path / "bad" / "compare.json").read_text())["table"]
    assert table["raw"]["linear_all"]["mean"] > 0.9 and table["raw"]["code_size"]["mean"] == 64  # raw still ran
    assert "fewer than the 10 classes" in table["raw"]["linear_5"]["error"]
    assert all("error" in c for c in table["pca"].values()) and all("error" in c for c in table["nope"].values())
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["raw"][0] == "failed" and rows["pca"] == ["failed"] * 5


def test_probes_that_need_labels_fail_on_unlabelled_data_and_the_map_and_cost_still_run(tmp_path, capsys):
    x = np.random.default_rng(0).random((200, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, _, err = run_cli(capsys, "-q", "compare", "--data", str(tmp_path / "x.npy"), "--methods", "pca", "--code-size", "4",
                           "--seeds", "0", "--map-points", "60", "--out", str(tmp_path / "unl"))
    assert code == 2
    assert error_line(err).endswith(f"needs labels, and {tmp_path / 'x.npy'} has none")
    table = json.loads((tmp_path / "unl" / "compare.json").read_text())["table"]["pca"]
    assert "needs labels" in table["linear_100"]["error"] and "needs labels" in table["fewshot_20w1s"]["error"]
    assert 0 < table["tsne_T10"]["mean"] <= 1 and table["code_size"]["mean"] == 4


def test_kept_runs_are_reused_as_they_are_and_a_style_run_has_no_codes(tmp_path):
    first = reprlab.compare("digits", ["ae"], out=tmp_path / "a", code_size=6, seeds=(0,), options=TINY_AE,
                            probes=("knn", "cost"), keep_runs=True, steps=20)
    run = tmp_path / "a" / "runs" / "ae-seed0"
    assert first.exit_code == 0 and (run / "model.safetensors").is_file()
    style = tmp_path / "stylize-run"
    style.mkdir()
    (style / "config.yaml").write_text(yaml.safe_dump({"mode": "texture", "style": "sklearn:flower.jpg", "config": {}}))
    again = reprlab.compare("digits", [], runs=[run, style], out=tmp_path / "b", code_size=6, seeds=(0, 1), probes=("knn", "cost"))
    assert list(again.cells) == ["ae-seed0", "stylize-run"]
    reused = again.cells["ae-seed0"]
    assert reused["knn5"]["values"][0] == pytest.approx(first.cells["ae"]["knn5"]["mean"])  # the same codes, split
    assert reused["code_size"]["mean"] == 6 and reused["train_seconds"]["mean"] > 0  # from the run's summary.json
    assert again.exit_code == 2 and len(again.failure_lines()) == 1
    assert "style-transfer run (reprlab stylize): it has no model and no codes" in again.failure_lines()[0]


def test_every_family_names_the_option_of_its_code_size_and_gan_d_gives_discriminator_features(tmp_path):
    keys = {name: code_size_key(spec.cls) for name, spec in MODELS.items()}
    assert keys["ae"] == keys["dae"] == keys["vae"] == keys["aae"] == keys["siamese"] == "latent_dim"
    assert keys["sdae"] == "hidden" and keys["gan"] == keys["tempered-gan"] == "d_hidden"
    r = reprlab.compare("digits", ["gan-d", "gan"], out=tmp_path / "g", code_size=8, seeds=(0,), probes=("cost",), steps=5)
    assert r.cells["gan-d"]["code_size"]["mean"] == 8
    assert r.methods["gan-d"]["run_config"]["model"]["d_hidden"] == [256, 8]
    # the conv discriminator's features are its flattened last block: d_hidden does not size them
    assert "gan gives 512-dimensional codes with these options, not the 8 asked" in r.cells["gan"]["code_size"]["error"]
    from reprlab.models.gan.model import GAN, GANConfig

    with pytest.raises(UsageError, match="packs of model.pack=2"):
        GAN(GANConfig(arch="mlp", pack=2), (1, 8, 8)).encode(torch.rand(4, 1, 8, 8))


@pytest.mark.parametrize("argv, message", [
    (["--probes", "linear,nope"], "unknown probe group 'nope'"),
    (["--code-size", "0"], "code size must be at least 1"),
    (["--seeds", "0,0"], "distinct seeds"),
    (["--labels", "0,all"], "positive number of labels"),
    (["--corruptions", "blur:2"], "corruption"),
    (["--set", "ae-steps"], "METHOD:KEY=VALUE"),
    (["--set", "ae:train.max_steps=5"], "options are given for 'ae', which is not among the methods compared (raw)"),
    (["--data", "nope"], "unknown data set 'nope'"),
])
def test_bad_arguments_stop_the_command_in_one_line(argv, message, tmp_path, capsys):
    code, _, err = run_cli(capsys, "-q", "compare", "--methods", "raw", "--out", str(tmp_path / "x"), *argv)
    assert code == 2 and message in error_line(err)


def test_the_fewshot_probe_runs_where_there_are_enough_classes_and_holds_out_seen_ones(tmp_path):
    r = reprlab.compare("digits", ["pca"], out=tmp_path / "f", code_size=8, seeds=(0,), probes=("fewshot",), fewshot_way=5)
    assert 0.5 < r.cells["pca"]["fewshot_5w1s"]["mean"] < r.cells["pca"]["fewshot_5w5s"]["mean"] <= 1
    from reprlab.data.base import TensorData
    from reprlab.pipelines.compare_probes import held_out

    data = TensorData(torch.rand(6, 3), torch.tensor([0, 1, 2, 0, 1, 2]), classes=["greek/a", "latin/b", "tibetan/c"])
    kept = held_out(data, ["latin/b", "greek/z"])
    assert kept.y.tolist() == [0, 2, 0, 2] and torch.equal(kept.x, data.x[[0, 2, 3, 5]])
    with pytest.raises(UsageError, match="no held-out classes"):
        reprlab.compare("digits", ["raw"], out=tmp_path / "g", seeds=(0,), probes=("fewshot",), fewshot_data="digits")


def test_table_cells_are_coloured_by_their_rank_within_the_probe():
    from reprlab.viz.compare import rank_scores

    assert rank_scores([0.9, 0.5, 0.7], "higher").tolist() == [1.0, 0.0, 0.5]
    lower = rank_scores([3.0, 1.0, np.nan], "lower")
    assert lower[:2].tolist() == [0.0, 1.0] and np.isnan(lower[2])
    assert rank_scores([1.0, 1.0, 0.0], "higher").tolist() == [0.75, 0.75, 0.0]  # ties share their mean rank
    assert rank_scores([5.0], "higher").tolist() == [1.0] and np.isnan(rank_scores([1.0, 2.0], None)).all()
