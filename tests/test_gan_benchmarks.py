"""The bookkeeping of benchmarks/gan_mnist.py, tempered_mnist.py and gan_toy.py: parts merge rows,
the headline reads the step count with the most seeds, the curves' summaries (checked by hand or
against numpy), and that a reused gan_mnist run is loaded, not trained (two steps of training)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def mods():
    sys.path.insert(0, str(BENCH))
    try:
        import gan_mnist
        import gan_toy
        import tempered_mnist

        yield gan_mnist, tempered_mnist, gan_toy
    finally:
        sys.path.remove(str(BENCH))


def test_fid_auc_is_the_trapezoidal_mean_of_the_curve(mods):
    _, tempered, _ = mods
    steps, fids = [300, 600, 1200, 3000], [200.0, 90.0, 60.0, 20.0]
    curve = [{"g_step": s, "fid": f} for s, f in zip(reversed(steps), reversed(fids))]  # order does not matter
    assert tempered.fid_auc(curve) == pytest.approx(np.trapezoid(fids, steps) / (3000 - 300))
    assert tempered.fid_auc([{"g_step": 5, "fid": 7.0}]) == 7.0


def test_distortion_curve_reads_the_lens_columns_of_metrics_csv(mods, tmp_path):
    _, tempered, _ = mods
    (tmp_path / "metrics.csv").write_text("step,train/lens/distortion,train/lens/lambda,train/generator/loss\n"
                                          "10,2.5,0.99,1\n20,,,1\n30,0.5,0.5,1\n")
    assert tempered.distortion_curve(tmp_path) == [(10, 2.5, 0.99), (30, 0.5, 0.5)]


def test_tempered_headline_rows_never_mix_the_lens_modes_after_k(mods):
    """Rows written before ``lens_after_k`` existed are the paper's mode; a (steps, mode) group with
    more seeds wins, then the longer one, then the paper's mode at equal steps and seeds."""
    _, tempered, _ = mods
    old = [{"lens": True, "g_steps": 3000, "seed": s} for s in (0, 1, 2)]
    assert tempered.after_k(old[0]) == "train" and tempered.after_k({"lens": False, "lens_after_k": None}) is None
    dropped = [{"lens": True, "g_steps": 3000, "seed": s, "lens_after_k": "identity"} for s in (0, 1, 2)]
    assert tempered.headline_rows(old + dropped) == old  # same steps and seeds: the paper's
    long = [{"lens": True, "g_steps": 30000, "seed": s, "lens_after_k": "identity"} for s in (0, 1)]
    assert tempered.headline_rows(old + dropped + long) == old  # two seeds do not beat three
    long.append({"lens": True, "g_steps": 30000, "seed": 2, "lens_after_k": "identity"})
    assert tempered.headline_rows(old + dropped + long) == long
    assert tempered.headline_rows([]) == []


def test_the_headline_group_is_the_step_count_with_most_seeds_then_the_longest(mods):
    gan_mnist = mods[0]
    rows = [{"g_steps": 18000, "seed": s} for s in (0, 1, 2)] + [{"g_steps": 36000, "seed": 0}]
    assert {r["seed"] for r in gan_mnist.headline_group(rows)} == {0, 1, 2}  # a one-seed probe does not win
    rows += [{"g_steps": 36000, "seed": s} for s in (1, 2)]
    assert {r["g_steps"] for r in gan_mnist.headline_group(rows)} == {36000}  # a tie: the longer runs


def test_a_part_replaces_its_own_rows_and_keeps_the_others(mods, tmp_path):
    gan_mnist = mods[0]
    key = lambda r: (r["method"], r["seed"])  # noqa: E731
    path = tmp_path / "gan_mnist.json"
    path.write_text(json.dumps({"rows": [{"method": "A", "seed": 0, "fid": 1, "curve": []},
                                         {"method": "B", "seed": 0, "fid": 2, "curve": []},
                                         {"method": "old protocol", "seed": 0, "fid": 3}]}))
    rows, _ = gan_mnist.merge_rows(path, [{"method": "A", "seed": 0, "fid": 9, "curve": []}], key)
    assert sorted((r["method"], r["fid"]) for r in rows) == [("A", 9), ("B", 2)]  # rows without curves are dropped
    rows, _ = gan_mnist.merge_rows(tmp_path / "none.json", [{"method": "A", "seed": 1, "curve": []}], key)
    assert len(rows) == 1


def test_method_names_are_matched_loosely_and_an_unknown_one_names_the_choices(mods):
    gan_mnist = mods[0]
    assert gan_mnist.method_name("ns-gan+r1") == "NS-GAN + R1" and gan_mnist.method_name("WGAN-GP") == "WGAN-GP"
    with pytest.raises(SystemExit, match="NS-GAN, NS-GAN \\+ R1, WGAN-GP"):
        gan_mnist.method_name("dcgan")


def test_the_table_part_keeps_the_packing_rows_their_keys_and_settings(mods, tmp_path):
    gan_toy = mods[2]
    assert gan_toy.packing_part_of(tmp_path / "missing.json") == ([], {}, {})
    path = tmp_path / "gan_toy.json"
    path.write_text(json.dumps({"headline": {"grid25_modes": 13, "grid25_modes_pack4": 16, "pacgan_grid25_hq_pack1": 0.1},
                                "rows": [{"data": "grid25", "seed": 0}, {"part": "pacgan", "pack": 4, "seed": 0}],
                                "pacgan_setup": {"lr": 1}, "protocol": "x"}))
    rows, headline, extra = gan_toy.packing_part_of(path)
    assert rows == [{"part": "pacgan", "pack": 4, "seed": 0}]
    assert headline == {"grid25_modes_pack4": 16, "pacgan_grid25_hq_pack1": 0.1} and extra == {"pacgan_setup": {"lr": 1}}


def test_wgan_gp_toy_jobs_count_generator_steps(mods):
    gan_toy = mods[2]
    jobs = gan_toy.pacgan_jobs([1], [0, 1], 1000, "wgan-gp", "ring8")
    assert [j["steps"] for j in jobs] == [5000, 5000] and all(j["g_steps"] == 1000 for j in jobs)
    assert jobs[0]["settings"]["gp_weight"] == 0.1 and gan_toy.pack_key("wgan-gp", "ring8", "modes", 1) == "ring8_wgan_gp_modes_pack1"


def test_a_reused_run_is_loaded_not_trained_and_says_so(mods, data_dir, tmp_path, monkeypatch):
    gan_mnist = mods[0]
    monkeypatch.setenv("REPRLAB_DATA", str(data_dir))
    model, _, run_dir, reused = gan_mnist.train_gan("NS-GAN", 2, 0, tmp_path, points=1)
    assert not reused and (run_dir / "model.safetensors").is_file()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    again, _, same_dir, reused = gan_mnist.train_gan("NS-GAN", 2, 0, tmp_path, reuse=True, points=1)
    assert reused and same_dir == run_dir  # so run_job records no CPU time for it
    assert all(torch.equal(weights[k], v) for k, v in again.state_dict().items())
    with pytest.raises(SystemExit, match="drop --reuse-runs"):  # other settings: never silently reused
        gan_mnist.train_gan("NS-GAN", 3, 0, tmp_path, reuse=True, points=1)


def test_validation_rows_merge_by_label_and_leave_the_headline_alone(mods, tmp_path):
    gan_mnist, _, gan_toy = mods
    path = tmp_path / "gan_toy.json"
    path.write_text(json.dumps({"headline": {"grid25_modes": 13}, "rows": [{"data": "grid25", "seed": 0}]}))
    row = lambda label, modes: {"data": "grid25", "pack": 1, "seed": 100, "steps": 50, "modes": modes}  # noqa: E731
    gan_toy.validation_part([row("a", 20)], "a", {"reg": "r1"}, tmp_path)
    gan_toy.validation_part([row("b", 21)], "b", {}, tmp_path)
    gan_toy.validation_part([row("a", 22)], "a", {"reg": "r1"}, tmp_path)  # the same label, seed and steps: replaced
    record = json.loads(path.read_text())
    assert record["headline"] == {"grid25_modes": 13} and record["rows"] == [{"data": "grid25", "seed": 0}]
    assert sorted((r["label"], r["modes"]) for r in record["validation_rows"]) == [("a", 22), ("b", 21)]
    assert record["validation_rows"][-1]["extra"] == {"reg": "r1"}
    # a table run keeps them with the packing rows
    assert len(gan_toy.packing_part_of(path)[2]["validation_rows"]) == 2
    # gan_mnist's rows record the full settings they ran with
    mrow = {"method": "NS-GAN + R1", "seed": 100, "g_steps": 10, "variant": "ema", "fid": 5.0}
    gan_mnist.validation_part([mrow], "lazy", {"reg_every": 16}, "cmd", tmp_path)
    (saved,) = json.loads((tmp_path / "gan_mnist.json").read_text())["validation_rows"]
    assert saved["settings"]["reg_every"] == 16 and saved["settings"]["gamma"] == 10.0 and saved["label"] == "lazy"


def test_perturbed_reals_keep_the_shape_and_range_and_change_what_they_say(mods):
    gan_mnist = mods[0]
    x = torch.zeros(2, 1, 5, 5)
    x[:, :, 2, 2] = 1.0
    out = gan_mnist.perturbed_reals(x)
    assert all(v.shape == x.shape and float(v.min()) >= 0 and float(v.max()) <= 1 for v in out.values())
    assert out["shifted one pixel right"][0, 0, 2, 3] == 1 and out["shifted one pixel right"][0, 0, 2, 2] == 0
    assert out["3x3 binomial blur"][0, 0, 2, 2] == pytest.approx(0.25) and out["3x3 binomial blur"][0, 0, 1, 1] == pytest.approx(1 / 16)
    assert torch.equal(out["binarized at 0.5"], x)


def test_a_named_setup_variant_adds_its_settings_and_gets_its_own_headline_keys(mods):
    gan_toy = mods[2]
    (job,) = gan_toy.pacgan_jobs([1], [0], 100, "recommended-pacgan-g-r1", "grid25")
    assert job["settings"]["reg"] == "r1" and job["settings"]["gamma"] == 0.1 and job["settings"]["latent_dim"] == 2
    (base,) = gan_toy.pacgan_jobs([1], [0], 100, "recommended-pacgan-g", "grid25")
    assert base["settings"]["reg"] == "none"
    assert gan_toy.pack_key("recommended-pacgan-g-r1", "grid25", "hq", 1) == "grid25_pacgan_g_r1_hq_pack1"
    assert gan_toy.pack_key("recommended-pacgan-g", "grid25", "hq", 1) == "grid25_pacgan_g_hq_pack1"


def test_the_wgan_gp_ema_variant_is_the_papers_toy_setup_sampled_from_the_average(mods):
    gan_toy = mods[2]
    (plain,) = gan_toy.pacgan_jobs([1], [0], 1000, "wgan-gp", "ring8")
    (ema,) = gan_toy.pacgan_jobs([1], [0], 1000, "wgan-gp-ema", "ring8")
    assert ema["settings"] == {**plain["settings"], "ema": 0.999} and ema["steps"] == plain["steps"] == 5000
    assert gan_toy.pack_key("wgan-gp-ema", "ring8", "hq", 1) == "ring8_wgan_gp_ema_hq_pack1"


def test_a_pacgan_part_names_its_figure_by_its_own_mixture_whatever_rows_the_file_holds(mods, tmp_path, monkeypatch):
    import argparse

    gan_toy = mods[2]
    monkeypatch.setattr(gan_toy, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(gan_toy, "write_result", lambda name, headline, rows, cmd, extra: (tmp_path / "out.json").write_text(
        json.dumps({"headline": headline, "rows": rows})))
    old_ring_row = {"part": "pacgan", "setup": "wgan-gp", "data": "ring8", "pack": 1, "seed": 0, "steps": 5000, "modes": 8, "hq": 0.5}
    (tmp_path / "gan_toy.json").write_text(json.dumps({"headline": {}, "rows": [old_ring_row]}))

    def fake_run_jobs(jobs, workers):
        results = [{**{k: v for k, v in j.items() if k != "settings"}, **j["settings"], "modes": 25, "hq": 0.9,
                    "samples": np.zeros((10, 2)), "stages": []} for j in jobs]
        return results, [{k: v for k, v in r.items() if k not in ("samples", "stages")} for r in results]

    monkeypatch.setattr(gan_toy, "run_jobs", fake_run_jobs)
    args = argparse.Namespace(packs="1", seeds="0,1,2", data=None, setup="recommended-pacgan-g-r1", set=[], label="",
                              validation=False, quick=False, steps=100, workers=1)
    gan_toy.pacgan_part(args)
    assert (tmp_path / "gan_toy_packing_recommended-pacgan-g-r1_grid25_100.png").is_file()
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["headline"]["grid25_pacgan_g_r1_modes_pack1"] == 25 and out["headline"]["ring8_wgan_gp_hq_pack1"] == 0.5


def test_set_values_are_read_as_json_when_they_parse_and_merge_keys_keeps_the_rest(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import _common
    finally:
        sys.path.remove(str(BENCH))
    assert _common.parse_sets(["reg=r1", "gamma=0.1", "channels=[64,128]", "flag=true"]) == {
        "reg": "r1", "gamma": 0.1, "channels": [64, 128], "flag": True}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        _common.parse_sets(["reg"])
    (tmp_path / "x.json").write_text(json.dumps({"headline": {"a": 1}, "rows": [1]}))
    _common.merge_keys("x", {"calibration": [2]}, tmp_path)
    assert json.loads((tmp_path / "x.json").read_text()) == {"headline": {"a": 1}, "rows": [1], "calibration": [2]}


def test_recipe_settings_keep_a_recipe_off_the_headline_seeds(mods):
    import argparse

    import _common

    p = argparse.ArgumentParser()
    p.add_argument("--validation", action="store_true")
    _common.add_recipe_args(p, "method", "reg_every=16")
    a = p.parse_args(["--validation", "--label", "r1", "--set", "gamma=0.1"])
    assert _common.recipe_settings(a, [100, 101]) == {"gamma": 0.1}
    with pytest.raises(SystemExit, match="seeds >= 100"):
        _common.recipe_settings(a, [0, 100])
    with pytest.raises(SystemExit, match="--label NAME"):
        _common.recipe_settings(p.parse_args(["--validation"]), [100])
    with pytest.raises(SystemExit, match="for --validation runs; the headline runs use METHODS"):
        _common.recipe_settings(p.parse_args(["--set", "gamma=1"]), [0], "; the headline runs use METHODS")
    assert _common.recipe_settings(p.parse_args([]), [0, 1, 2]) == {}


def test_pack_targets_check_the_issues_bounds_for_the_keys_present_and_keep_the_tables(mods):
    gan_toy = mods[2]
    table = {"ring8_hq": {"target": ">= 0.9", "value": 0.97, "met": True}}
    out = gan_toy.pack_targets({"grid25_pacgan_g_r1_modes_pack1": 24.4, "grid25_pacgan_g_r1_hq_pack1": 0.9,
                                "ring8_hq": 0.97}, table)
    assert out["ring8_hq"] == table["ring8_hq"]
    assert out["grid25_pacgan_g_r1_modes_pack1"]["met"] is False and out["grid25_pacgan_g_r1_hq_pack1"]["met"] is True
    assert "ring8_wgan_gp_hq_pack1" not in out  # no row, no check


class _PixelFeatures:
    """A cheap stand-in for the MNIST classifier: a fixed random projection of the pixels to 16-d."""

    test_accuracy = 0.5

    def __init__(self, seed=0):
        self.w = torch.randn(28 * 28, 16, generator=torch.Generator().manual_seed(seed))

    def features(self, x):
        return x.flatten(1) @ self.w


def test_gan_mnist_headline_parts_write_and_merge_the_issues_keys(mods, data_dir, tmp_path, monkeypatch):
    """The headline path of gan_mnist.main end to end (2 generator steps, 300 samples, pixel features, the
    runs in-process): each part writes the JSON with the issue's keys, the best method is the lowest
    mean FID of the EMA rows, the figures are drawn, and a second part keeps the first part's rows."""
    import _common
    import reprlab.eval.features as feats

    gan_mnist = mods[0]
    monkeypatch.setenv("REPRLAB_DATA", str(data_dir))
    for mod in (_common, gan_mnist):
        monkeypatch.setattr(mod, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(gan_mnist, "SAMPLES", 300)
    monkeypatch.setattr(gan_mnist, "run_jobs", lambda jobs, workers: [gan_mnist.run_job(j) for j in jobs])
    monkeypatch.setattr(feats, "classifier_features", lambda *a, **k: _PixelFeatures())
    for methods in ("NS-GAN,NS-GAN+R1", "WGAN-GP,NS-GAN+R1+FC-D,NS-GAN+R1+FC-D+3blocks,NS-GAN+R1+2FC-D+3blocks,NS-GAN+R1+2FC-D+3blocks+MeschederAdam"):
        monkeypatch.setattr(sys, "argv", ["gan_mnist.py", "--methods", methods, "--seeds", "0", "--g-steps", "2",
                                          "--points", "1", "--workers", "1", "--keep-runs", str(tmp_path / "runs")])
        gan_mnist.main()
    out = json.loads((tmp_path / "gan_mnist.json").read_text())
    head = out["headline"]
    assert {"fid_classifier_best", "precision_best", "recall_best", "best_method", "seeds"} <= set(head)
    ema = {r["method"]: r for r in out["rows"] if r["variant"] == "ema"}
    assert set(ema) == set(gan_mnist.METHODS) and {r["variant"] for r in out["rows"]} == {"ema", "raw"}
    best = min(ema, key=lambda m: ema[m]["fid"])
    assert head["best_method"] == best and head["fid_classifier_best"] == ema[best]["fid"] and head["seeds"] == 1
    assert out["targets"]["fid_classifier_best"]["met"] == (ema[best]["fid"] <= 10.0)
    assert out["per_method"]["WGAN-GP"]["g_steps"] == 2 and len(out["calibration"]) == 5
    assert all(len(r["curve"]) == 1 and r["curve"][0]["g_step"] == 2 for r in out["rows"])
    for name in ("gan_mnist_curves.png", "gan_mnist_NS-GAN.png", "gan_mnist_NS-GAN-R1.png", "gan_mnist_WGAN-GP.png",
                 "gan_mnist_NS-GAN-R1-FC-D.png"):
        assert (tmp_path / name).stat().st_size > 0
    import yaml

    fc_run = yaml.safe_load((tmp_path / "runs" / "gan-NS-GAN-R1-FC-D-seed0" / "config.yaml").read_text())
    assert fc_run["model"]["d_fc"] == [1024] and fc_run["model"]["reg"] == "r1"
    deep = yaml.safe_load((tmp_path / "runs" / "gan-NS-GAN-R1-FC-D-3blocks-seed0" / "config.yaml").read_text())
    assert deep["model"]["channels"] == [32, 64, 128] and deep["model"]["d_fc"] == [1024]
    deeper = yaml.safe_load((tmp_path / "runs" / "gan-NS-GAN-R1-2FC-D-3blocks-seed0" / "config.yaml").read_text())
    assert deeper["model"]["channels"] == [32, 64, 128] and deeper["model"]["d_fc"] == [1024, 1024]
    # rows scored by another feature network (an older cache) are kept and shown, never compared: even a
    # FID of 0 there does not make that method the best
    assert {r["feature_network"] for r in out["rows"]} == {out["feature_network"]}
    for r in out["rows"]:
        if r["method"] == "WGAN-GP":
            r.update(feature_network="cnn-v1 old", fid=0.0)
    # a method re-run on fewer seeds: seed 0 by this network, seed 1 left from an older one
    out["rows"] += [{**r, "seed": 1, "feature_network": "cnn-v1 old"} for r in out["rows"] if r["method"] == "NS-GAN + R1"]
    (tmp_path / "gan_mnist.json").write_text(json.dumps(out))
    monkeypatch.setattr(sys, "argv", ["gan_mnist.py", "--methods", "NS-GAN", "--seeds", "0", "--g-steps", "2",
                                      "--points", "1", "--workers", "1", "--keep-runs", str(tmp_path / "runs")])
    gan_mnist.main()
    again = json.loads((tmp_path / "gan_mnist.json").read_text())
    assert again["best_method"] != "WGAN-GP" and "WGAN-GP" not in again["per_method"]
    assert again["per_method_other_networks"]["WGAN-GP"]["feature_network"] == ["cnn-v1 old"]
    assert len([r for r in again["rows"] if r["method"] == "WGAN-GP"]) == 2
    assert again["per_method"]["NS-GAN + R1"]["seeds"] == [0]
    assert again["per_method_other_networks"]["NS-GAN + R1"]["seeds"] == [1]


def test_the_curves_name_the_step_count_only_of_a_method_run_at_two(mods):
    label = mods[0].curve_label([{"method": "A", "g_steps": 8000}, {"method": "A", "g_steps": 10000},
                                 {"method": "B", "g_steps": 10000}])
    assert label({"method": "A", "g_steps": 8000}) == "A (8,000 steps)" and label({"method": "A", "g_steps": 10000}) == "A (10,000 steps)"
    assert label({"method": "B", "g_steps": 10000}) == "B"
    scored = mods[0].curve_label([{"method": "B", "g_steps": 1}], scorer="cnn-v2 abc")
    assert scored({"method": "B", "g_steps": 1, "feature_network": "cnn-v2 abc"}) == "B"
    assert scored({"method": "B", "g_steps": 1}) == "B [cnn-v1]"


def test_the_curves_figure_draws_each_methods_headline_step_count_of_each_network(mods, tmp_path, monkeypatch):
    """A shorter run of the same seeds is left out of the figure (it repeats the longer run's start);
    rows of an earlier network keep their own headline group; both variants are drawn."""
    gan_mnist = mods[0]
    monkeypatch.setattr(gan_mnist, "RESULTS_DIR", tmp_path)
    curve = [{"g_step": 100, "fid": 50.0, "precision": 0.5, "recall": 0.5}, {"g_step": 200, "fid": 20.0, "precision": 0.6, "recall": 0.7}]
    row = lambda m, steps, seed, variant, net="cnn-v2 x": {"method": m, "g_steps": steps, "seed": seed, "variant": variant,  # noqa: E731
                                                             "feature_network": net, "curve": curve}
    rows = [row("NS-GAN", st, s, v) for st in (18000, 44000) for s in (0, 1, 2) for v in ("ema", "raw")]
    rows += [row("WGAN-GP", 4500, s, v, "cnn-v1 old") for s in (0, 1) for v in ("ema", "raw")]
    shown = gan_mnist.draw_curves(rows, "cnn-v2 x")
    assert {(r["method"], r["g_steps"]) for r in shown} == {("NS-GAN", 44000), ("WGAN-GP", 4500)}
    assert len(shown) == 6 + 4 and (tmp_path / "gan_mnist_curves.png").stat().st_size > 10_000


def test_gan_mnist_truncation_part_chooses_psi_on_validation_and_keeps_the_headline(mods, data_dir, tmp_path, monkeypatch):
    """``--truncation`` on kept headline runs (2 generator steps, 300 samples, pixel features): ψ is
    the grid's value (or none) with the highest mean min(precision, recall) on the *validation* rows
    (recomputed here), the test half scores that ψ and none, the untruncated test rows equal the
    headline's, the keys merge into the headline, and a later headline part keeps them. A run that
    is not kept names the command that trains it."""
    import _common
    import reprlab.eval.features as feats

    gan_mnist = mods[0]
    monkeypatch.setenv("REPRLAB_DATA", str(data_dir))
    for mod in (_common, gan_mnist):
        monkeypatch.setattr(mod, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(gan_mnist, "SAMPLES", 300)
    monkeypatch.setattr(gan_mnist, "TRUNCATION_GRID", (0.5, 1.0))
    monkeypatch.setitem(gan_mnist.G_STEPS, "NS-GAN", 2)
    monkeypatch.setattr(gan_mnist, "run_jobs", lambda jobs, workers: [gan_mnist.run_job(j) for j in jobs])
    monkeypatch.setattr(feats, "classifier_features", lambda *a, **k: _PixelFeatures())
    runs = str(tmp_path / "runs")

    def main(*argv):
        monkeypatch.setattr(sys, "argv", ["gan_mnist.py", "--methods", "NS-GAN", "--workers", "1", "--keep-runs", runs, *argv])
        gan_mnist.main()

    with pytest.raises(SystemExit, match="--methods 'NS-GAN' --seeds 0 --keep-runs"):
        main("--seeds", "0", "--truncation")
    main("--seeds", "0,1", "--points", "1")
    main("--seeds", "0,1", "--truncation")
    out = json.loads((tmp_path / "gan_mnist.json").read_text())
    t = out["truncation"]
    val = t["validation_rows"]
    assert {(r["seed"], r["truncation"]) for r in val} == {(s, p) for s in (0, 1) for p in (None, 0.5, 1.0)}
    balance = {p: np.mean([min(r["precision"], r["recall"]) for r in val if r["truncation"] == p]) for p in (None, 0.5, 1.0)}
    psi = max(balance, key=balance.get)
    assert t["chosen"] == {"NS-GAN": psi} and out["headline"]["truncation_psi"] == psi
    test = [r for r in t["test_rows"] if r["truncation"] == psi]
    assert len(test) == 2 and out["headline"]["fid_truncated"] == pytest.approx(np.mean([r["fid"] for r in test]))
    ema = {r["seed"]: r for r in out["rows"] if r["variant"] == "ema"}
    plain = {r["seed"]: r for r in t["test_rows"] if r["truncation"] is None}
    assert t["untruncated_equals_headline"] and all(plain[s]["fid"] == pytest.approx(ema[s]["fid"]) for s in (0, 1))
    assert out["headline"]["best_method"] == "NS-GAN" and "precision_best" in out["headline"]
    assert set(t["targets"]) == {"fid_truncated", "precision_truncated", "recall_truncated"}
    assert (tmp_path / "gan_mnist_NS-GAN_truncated.png").stat().st_size > 0
    seen = []
    monkeypatch.setattr(feats, "classifier_features", lambda *a, seed=0, **k: seen.append(seed) or _PixelFeatures(seed))
    main("--seeds", "0,1", "--network-spread")
    spread = json.loads((tmp_path / "gan_mnist.json").read_text())["feature_network_spread"]
    assert seen[-5:] == [0, 1, 2, 3, 4] and len(spread["rows"]) == 10 and spread["method"] == "NS-GAN"
    fids = [r["fid"] for r in spread["rows"] if r["seed"] == 1]
    assert spread["range_per_run"]["1"]["fid"] == [min(fids), max(fids)] and min(fids) < max(fids)
    cpu = {r["seed"]: r["train_cpu_minutes"] for r in out["rows"] if r["variant"] == "ema"}
    # a later headline part (the same run scored again from its folder) keeps the truncation and spread
    # records, whose generators it did not change, and the CPU time the run recorded when it trained
    main("--seeds", "1", "--points", "1", "--reuse-runs")
    again = json.loads((tmp_path / "gan_mnist.json").read_text())
    assert again["truncation"]["chosen"] == t["chosen"] and again["headline"]["fid_truncated"] == out["headline"]["fid_truncated"]
    assert again["feature_network_spread"] == spread
    assert {r["seed"]: r["train_cpu_minutes"] for r in again["rows"] if r["variant"] == "ema"} == cpu and cpu[1] > 0


def test_a_truncation_record_is_current_only_while_its_untruncated_rows_are_the_headlines(mods):
    gan_mnist = mods[0]
    steps = gan_mnist.G_STEPS["NS-GAN"]
    rows = [{"method": "NS-GAN", "seed": s, "g_steps": steps, "variant": v, "fid": 10.0 + s} for s in (0, 1) for v in ("ema", "raw")]
    record = {"test_rows": [{"method": "NS-GAN", "seed": s, "truncation": p, "fid": (10.0 + s) if p is None else 99.0}
                            for s in (0, 1) for p in (None, 1.0)]}
    assert gan_mnist.truncation_is_current(record, rows)
    rows[2]["fid"] = 11.5  # seed 1's EMA row scored again from other weights
    assert not gan_mnist.truncation_is_current(record, rows)
    assert not gan_mnist.truncation_is_current(record, [r for r in rows if r["seed"] == 0])  # a run gone
    assert not gan_mnist.truncation_is_current({"test_rows": []}, rows)


def test_a_table_run_writes_its_settings_beside_the_kept_packing_keys(mods):
    gan_toy = mods[2]
    extra = gan_toy.table_extra({"pacgan_setup": {"lr": 1}}, {"ring8_hq": 0.97, "ring8_wgan_gp_ema_hq_pack1": 0.93},
                                {"ring8_hq": {"target": ">= 0.9", "value": 0.97, "met": True}}, {"table": [0]}, {"table": 60})
    assert extra["pacgan_setup"] == {"lr": 1}
    assert (extra["recommended"], extra["common"], extra["gamma"]) == (gan_toy.RECOMMENDED, gan_toy.COMMON, gan_toy.GAMMA)
    assert extra["targets"]["ring8_wgan_gp_ema_hq_pack1"]["met"] is True and extra["targets"]["ring8_hq"]["met"] is True
    assert extra["seeds"] == {"table": [0]} and extra["steps"] == {"table": 60} and extra["published_veegan_table1"]


def test_figures_only_without_a_results_file_says_which_file_in_one_line(mods, tmp_path, monkeypatch):
    gan_mnist = mods[0]
    monkeypatch.setattr(gan_mnist, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(sys, "argv", ["gan_mnist.py", "--figures-only"])
    with pytest.raises(SystemExit) as e:
        gan_mnist.main()
    assert "gan_mnist.json" in str(e.value) and "run a part first" in str(e.value) and "\n" not in str(e.value)


def test_tempered_main_writes_the_issues_keys_and_a_probe_part_leaves_the_headline(mods, data_dir, tmp_path, monkeypatch):
    """tempered_mnist.main end to end (3-4 generator steps, 300 samples, pixel features, runs in-process):
    the first part writes the issue's keys from its rows and draws the figures; a one-seed probe of other
    steps and mode takes neither the headline nor the lens figure (its only snapshot is after K) nor the
    settings' K; rows scored by another network are kept in the file but never compared, so the probe's
    group then leads."""
    import _common
    import reprlab.eval.features as feats

    gan_mnist, tempered = mods[0], mods[1]
    monkeypatch.setenv("REPRLAB_DATA", str(data_dir))
    for mod in (_common, gan_mnist, tempered):
        monkeypatch.setattr(mod, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(tempered, "SAMPLES", 300)
    monkeypatch.setattr(tempered, "run_jobs", lambda jobs, workers: [gan_mnist.run_job(j) for j in jobs])
    monkeypatch.setattr(feats, "classifier_features", lambda *a, **k: _PixelFeatures())

    def part(*args, points="1"):
        monkeypatch.setattr(sys, "argv", ["tempered_mnist.py", "--points", points, "--workers", "1",
                                          "--keep-runs", str(tmp_path / "runs"), *args])
        tempered.main()
        return json.loads((tmp_path / "tempered_mnist.json").read_text())

    out = part("--steps", "3", "--lens-steps", "2", "--seeds", "0,1", points="3")  # snapshots at steps 1, 2, 3
    head, raw = out["headline"], [r for r in out["rows"] if r["variant"] == "raw"]
    assert set(head) == {"fid_with_lens", "fid_without_lens", "fid_auc_with_lens", "fid_auc_without_lens",
                         "lens_distortion_start", "g_steps", "lens_after_k", "seeds"}
    assert head["fid_with_lens"] == pytest.approx(np.median([r["fid"] for r in raw if r["lens"]]))
    assert head["fid_auc_without_lens"] == pytest.approx(np.median([r["fid_auc"] for r in raw if not r["lens"]]))
    assert (head["g_steps"], head["lens_after_k"], head["seeds"]) == (3, "train", 2)
    assert out["settings"]["lens_steps_K"] == 2 and out["feature_network"] == gan_mnist.feature_network(_PixelFeatures())
    figure_from = {"seed": 0, "g_steps": 3, "lens_after_k": "train", "lens_steps_K": 2, "snapshot_steps": [1, 2, 3]}
    assert out["settings"]["lens_figure"] == figure_from
    lens_rows = [r for r in raw if r["lens"]]
    assert all(r["distortion"] and r["lens_distortion_start"] is not None for r in lens_rows)
    lens_png = (tmp_path / "tempered_mnist_lens.png").read_bytes()
    assert all((tmp_path / f"tempered_mnist_{n}.png").stat().st_size > 0 for n in ("curves", "distortion"))

    out = part("--steps", "4", "--lens-steps", "2", "--lens-after-k", "identity", "--seeds", "0", "--lens", "with")
    assert out["headline"] == head and out["settings"]["lens_steps_K"] == 2 and out["settings"]["lens_figure"] == figure_from
    assert (tmp_path / "tempered_mnist_lens.png").read_bytes() == lens_png
    assert {(r["g_steps"], r["lens_after_k"]) for r in out["rows"] if r["lens"]} == {(3, "train"), (4, "identity")}

    for r in out["rows"]:  # seed 1 as if an earlier classifier had scored it
        if r["seed"] == 1:
            r["feature_network"] = "cnn-v1 old"
    (tmp_path / "tempered_mnist.json").write_text(json.dumps(out))
    out = part("--steps", "4", "--lens-steps", "2", "--lens-after-k", "identity", "--seeds", "0", "--lens", "without")
    head = out["headline"]
    assert (head["g_steps"], head["lens_after_k"], head["seeds"]) == (4, "identity", 1)  # 1 seed each, the longer
    four = {r["lens"]: r for r in out["rows"] if r["variant"] == "raw" and r["g_steps"] == 4}
    assert head["fid_with_lens"] == four[True]["fid"] and head["fid_without_lens"] == four[False]["fid"]
    assert out["settings"]["lens_steps_K"] == 2 and len([r for r in out["rows"] if r["seed"] == 1]) == 4
    assert out["settings"]["lens_figure"] == figure_from and (tmp_path / "tempered_mnist_lens.png").read_bytes() == lens_png


@pytest.mark.parametrize("data", ["ring8", "grid25"])
def test_the_gans_recipe_on_a_toy_is_the_setting_gan_toy_reports(mods, data):
    """``reprlab train gan --data ring8|grid25`` trains the model of the rows that met issue 18's
    targets: ring8 the recommended setting (15,000 steps), grid25 the recommended setting with
    PacGAN's generator and R1 (30,000 steps)."""
    from reprlab.config import to_dict
    from reprlab.pipelines.training import build_run_config

    gan_toy = mods[2]
    if data == "ring8":
        job = {"steps": 15000, "settings": dict(gan_toy.RECOMMENDED)}
    else:
        job = gan_toy.pacgan_jobs([1], [0], 30000, "recommended-pacgan-g-r1", "grid25")[0]
    bench = build_run_config("gan", None, [("data.name", data), ("train.max_steps", job["steps"]),
                                           *{**gan_toy.COMMON, **job["settings"]}.items()], recipe=False)
    user = build_run_config("gan", None, [("data.name", data)])
    assert to_dict(user.model) == to_dict(bench.model)
    assert to_dict(user.train) == to_dict(bench.train)
    plain = build_run_config("gan", None, [("data.name", data)], recipe=False)
    assert to_dict(plain.model) != to_dict(bench.model)  # the check above can fail
    assert build_run_config("gan", None, [("data.name", data), ("train.max_steps", 7)]).train.max_steps == 7
