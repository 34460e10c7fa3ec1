"""`reprlab tour --quick`: completes, the HTML parses, every <img> is an embedded PNG that decodes,
every section is present or reports its error."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from PIL import Image

from reprlab.cli import main
from reprlab.report import tour
from reprlab.report.sections import metric_row, metric_values


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.sections: list[str] = []
        self.errors: list[str] = []
        self._in_error = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "div" and a.get("class") == "error":
            self._in_error = True

    def handle_data(self, data):
        if self._in_error:
            self.errors.append(data)
            self._in_error = False


def _parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """The quick tour of one real section, one broken on purpose and the benchmarks' committed results."""
    out = tmp_path_factory.mktemp("tour")

    def broken(ctx, section):
        raise RuntimeError("this section is broken on purpose")

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REPRLAB_DATA", raising=False)
        mp.delenv("REPRLAB_BENCHMARKS", raising=False)
        mp.setattr(tour, "SECTIONS", {**tour.SECTIONS, "broken": ("A broken section", broken)})
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            # --jobs 1: the patched-in section lives in this process only (workers import the real SECTIONS)
            assert main(["tour", "--quick", "--out", str(out), "--only", "autoencoder,broken,benchmarks", "--jobs", "1"]) == 0
    return out / "report.html", buf.getvalue()


def test_quick_tour_writes_a_self_contained_report(quick_report):
    report, printed = quick_report
    page = _parse(report)
    assert page.sections == ["autoencoder", "broken", "benchmarks"]
    assert len(page.images) >= 4
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        img.verify()
        assert img.format == "PNG"
    assert any("broken on purpose" in e for e in page.errors)
    assert "autoencoder" in printed and "failed" in printed


PROBE = """<script>window.addEventListener("load", () => {
  let broken = 0;
  for (const img of document.images) if (!img.complete || img.naturalWidth === 0) { broken++; console.error("broken image " + img.alt); }
  console.log("reprlab-probe images=" + document.images.length + " broken=" + broken);
});</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it "
                    "when the package registry answers); manual check: README, 'Checking the report in a browser'")
def test_report_renders_in_headless_chromium_without_console_errors(quick_report, tmp_path):
    report, _ = quick_report
    n_images = len(_parse(report).images)
    page = tmp_path / "probe.html"  # the report plus a script that counts the images the browser decoded
    page.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    # the report has no script of its own: the probe's line is the only console message
    assert len(console) == 1 and f"reprlab-probe images={n_images} broken=0" in console[0], console
    assert n_images >= 4
    for key in ("autoencoder", "broken", "benchmarks"):
        assert f'id="{key}"' in run.stdout  # the rendered DOM holds every section


def _numbers(out):
    """The tour's numbers by section, without timings (they differ from run to run)."""
    d = json.loads((out / "tour.json").read_text())
    return d, {k: {i: v for i, v in sec["numbers"].items() if not i.endswith("_per_s")} for k, sec in d["sections"].items()}


def test_parallel_jobs_give_the_numbers_of_one_job_in_the_order_asked(tmp_path):
    import torch

    only = "vae,autoencoder"  # vae starts first and ends last: the page still follows --only
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a worker of 2 jobs on a 2-core machine has one thread
    try:
        assert main(["tour", "--quick", "--out", str(tmp_path / "one"), "--only", only, "--jobs", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert main(["tour", "--quick", "--out", str(tmp_path / "two"), "--only", only, "--jobs", "2"]) == 0
    one, one_numbers = _numbers(tmp_path / "one")
    two, two_numbers = _numbers(tmp_path / "two")
    assert (one["jobs"], two["jobs"]) == (1, 2) and list(two["sections"]) == ["vae", "autoencoder"]
    assert all(sec["status"] == "ok" and sec["seconds"] > 0 for sec in two["sections"].values())
    assert two_numbers["vae"].keys() == one_numbers["vae"].keys() and len(two_numbers["vae"]) >= 3
    for key in one_numbers:  # the same seed gives the same numbers in a worker (threads may change the last digits)
        for i, v in one_numbers[key].items():
            assert two_numbers[key][i] == pytest.approx(v, rel=1e-4), (key, i)
    page = _parse(tmp_path / "two" / "report.html")
    assert page.sections == ["vae", "autoencoder"]


def test_a_worker_that_cannot_write_stops_the_tour_with_one_line(tmp_path, capsys):
    out = tmp_path / "tour"
    out.mkdir()
    (out / "figures").write_text("a file where the figures folder goes")
    assert main(["tour", "--quick", "--out", str(out), "--only", "autoencoder,denoising", "--jobs", "2"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "reprlab: error:" in err[0] and str(out / "figures") in err[0], err
    assert not (out / "report.html").exists()


@pytest.mark.parametrize("jobs", ["0", "-1", "two", "1.5"])
def test_jobs_must_be_a_whole_number_or_auto(jobs, tmp_path, capsys):
    assert main(["tour", "--quick", "--out", str(tmp_path), "--only", "benchmarks", "--jobs", jobs]) == 2
    err = capsys.readouterr().err
    shown = repr(int(jobs)) if jobs.lstrip("-").isdigit() else repr(jobs)
    assert f"--jobs {shown}: give a whole number >= 1" in err and "or auto" in err and len(err.strip().splitlines()) == 1


def test_auto_jobs_is_one_per_core_up_to_the_sections_and_a_cap(monkeypatch):
    monkeypatch.setattr(tour.os, "cpu_count", lambda: 16)
    assert tour.default_jobs(13) == tour.MAX_AUTO_JOBS and tour.default_jobs(2) == 2
    monkeypatch.setattr(tour.os, "cpu_count", lambda: None)
    assert tour.default_jobs(13) == 1


def test_unknown_tour_section_is_a_usage_error(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown tour section 'nope'" in capsys.readouterr().err


def _metric(section, id: str):
    """The value of the section's row with this id (the rows' ids, not their text: see reprlab.report.sections)."""
    return metric_row(section, id)["value"]


def test_denoising_section_shows_pca_agreement_and_denoising(tmp_path):
    from reprlab.viz.html import Section

    ctx = tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None)
    s = Section("denoising", "t")
    tour.SECTIONS["denoising"][1](ctx, s)
    assert _metric(s, "linear_ae_min_cosine") > 0.999
    assert abs(_metric(s, "linear_ae_mse_ratio_to_pca") - 1) < 0.01
    for kind in ("masking", "gaussian"):
        noise = _metric(s, f"{kind}_corrupted_mse")
        dae, plain = _metric(s, f"{kind}_dae_mse"), _metric(s, f"{kind}_plain_ae_mse")
        # after the quick budget (400 steps) each denoising AE repairs its corruption, and better than the plain AE
        assert dae < plain and dae < noise, (kind, dae, plain, noise)
    assert s.figures and s.figures[0][1].stat().st_size > 0


def test_domain_adaptation_section_skips_without_data_and_shows_msda_with_it(tmp_path, data_dir):
    from reprlab.viz.html import Section

    s = Section("domain-adaptation", "t")
    tour.SECTIONS["domain-adaptation"][1](tour.TourContext(tmp_path, True, 0, str(tmp_path)), s)
    assert s.summary.startswith("Skipped") and not s.metrics
    s = Section("domain-adaptation", "t")
    tour.SECTIONS["domain-adaptation"][1](tour.TourContext(tmp_path, True, 0, str(data_dir)), s)
    assert _metric(s, "msda_avg_target_acc") > _metric(s, "raw_avg_target_acc") + 0.02
    # the domain shift: trained on the target's own labels beats trained on another domain's, raw features
    in_domain = [v for k, v in metric_values(s).items() if k.startswith("in_domain_acc_")]
    assert in_domain and min(in_domain) > _metric(s, "raw_avg_target_acc")
    assert s.figures[0][1].stat().st_size > 0


def test_latent_section_maps_codes_with_their_numbers_and_morphs(tmp_path):
    from reprlab.viz.html import Section

    s = Section("latent", "t")
    tour.SECTIONS["latent"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    assert _metric(s, "codes2d_trustworthiness") == 1.0  # a 2-D code is its own map
    # t-SNE keeps neighbourhoods of the 16-D codes better than their first two principal components
    tsne_t = [v for k, v in metric_values(s).items() if k.startswith("tsne_perplexity30_")]
    assert tsne_t and min(tsne_t) > _metric(s, "codes16_pca_trustworthiness")
    assert len(s.figures) == 6 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_siamese_section_beats_pixels_at_one_shot(tmp_path):
    from reprlab.viz.html import Section

    s = Section("siamese", "t")
    no_omniglot = tmp_path / "data"  # a data folder without Omniglot: the section uses the embedded digits
    no_omniglot.mkdir()
    tour.SECTIONS["siamese"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=str(no_omniglot)), s)
    for way in (5, 10):
        assert _metric(s, f"oneshot_{way}way_siamese") > _metric(s, f"oneshot_{way}way_pixels")
        assert metric_row(s, f"oneshot_{way}way_siamese")["chance"] == 1 / way
    assert len(s.figures) == 3 and all(p.stat().st_size > 0 for _, p in s.figures)
    assert any("one-shot tasks" in c and "green" in c for c, _ in s.figures)


def test_siamese_section_uses_lake_runs_when_omniglot_is_present(tmp_path, data_dir):
    """With Omniglot in the data folder the section trains the omniglot recipe and scores Lake's
    runs: the pixel rows are the benchmark's computations, the Siamese net beats both."""
    from reprlab.data import load_dataset
    from reprlab.eval.oneshot import fewshot_accuracy, pixel_cosine_similarity, pixel_similarity
    from reprlab.viz.html import Section

    s = Section("siamese", "t")
    tour.SECTIONS["siamese"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=str(data_dir)), s)
    runs = load_dataset("omniglot-oneshot", data_dir=data_dir)
    assert _metric(s, "lake20_pixels_euclidean") == float(fewshot_accuracy(pixel_similarity, runs).mean())
    assert _metric(s, "lake20_pixels_cosine") == float(fewshot_accuracy(pixel_cosine_similarity, runs).mean())
    assert _metric(s, "lake20_siamese") > max(_metric(s, "lake20_pixels_euclidean"), _metric(s, "lake20_pixels_cosine"))
    assert "omniglot" in (tmp_path / "runs" / "siamese-omniglot" / "config.yaml").read_text()
    assert "arch: conv4" in (tmp_path / "runs" / "siamese-omniglot" / "config.yaml").read_text()  # the recipe
    assert len(s.figures) == 2 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_vae_section_reports_a_likelihood_below_the_elbo(tmp_path):
    from reprlab.viz.html import Section

    s = Section("vae", "t")
    tour.SECTIONS["vae"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    nelbo, iwae = _metric(s, "test_nelbo"), _metric(s, "test_iwae_nll")
    assert 0 < iwae <= nelbo + 0.05 and _metric(s, "test_kl") > 0
    assert len(s.figures) == 3 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_style_section_names_its_network_and_reduces_the_style_loss(tmp_path):
    from reprlab.viz.html import Section

    s = Section("style", "t")
    tour.SECTIONS["style"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    network = _metric(s, "feature_network")
    assert "random multi-scale" in network or "VGG-19" in network
    assert network in s.summary and s.settings["feature network"] == network
    assert _metric(s, "style_loss_reduction") < 0.5 and _metric(s, "texture_style_loss_reduction") < 0.8
    assert len(s.figures) == 2 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_gan_section_separates_converging_from_cycling_dirac_gans_and_scores_samples(tmp_path):
    from reprlab.viz.html import Section

    s = Section("gan", "t")
    tour.SECTIONS["gan"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    r1 = _metric(s, "dirac_r1_distance")
    plain = _metric(s, "dirac_gan_distance")
    assert r1 < 0.1 < 1.0 < plain  # R1 converges, the plain GAN moves away from (0, 0)
    ring = [m for m in s.metrics if m["id"].startswith("ring8_")]
    assert {m["id"] for m in ring} == {"ring8_minimax_none_modes_hq", "ring8_ns_none_modes_hq",
                                       "ring8_wgan_gp_none_modes_hq", "ring8_ns_r1_modes_hq"}
    assert all("VEEGAN" in m["reference"] and 0 <= m["modes"] <= 8 and 0 <= m["hq"] <= 1 for m in ring)
    fid, floor = _metric(s, "digits_fid"), metric_row(s, "digits_fid")["real_vs_real_fid"]
    assert fid > floor >= 0  # samples of a briefly trained GAN are further from the test set than its other half
    pr = metric_row(s, "digits_precision_recall")
    assert pr["value"] == f"{pr['precision']:.3f} / {pr['recall']:.3f}"
    assert len(s.figures) >= 4 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_aae_section_draws_four_code_maps_and_the_lens(tmp_path):
    from reprlab.viz.html import Section

    s = Section("aae", "t")
    tour.SECTIONS["aae"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    sw = {k: v for k, v in metric_values(s).items() if k.endswith("_sliced_wasserstein")}
    assert set(sw) == {f"{m}_{p}_sliced_wasserstein" for m in ("aae", "vae") for p in ("gaussian", "mixture10")}
    assert all(v > 0 for v in sw.values())
    captions = [c for c, _ in s.figures]
    assert any("four panels" in c for c in captions) and any("lens" in c for c in captions)
    assert all(p.stat().st_size > 0 for _, p in s.figures)
    import yaml

    # aae_mnist's recipe: the four models' learning rate decayed by a cosine (the AAE's game settles)
    for m in ("aae", "vae"):
        for prior in ("gaussian", "mixture10"):
            config = yaml.safe_load((tmp_path / "runs" / f"{m}-{prior}-digits" / "config.yaml").read_text())
            assert config["train"]["lr_schedule"] == "cosine"


def test_stacked_section_compares_pretraining_with_none_on_held_out_digits(tmp_path):
    from reprlab.viz.html import Section

    s = Section("stacked", "t")
    tour.SECTIONS["stacked"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    errors = metric_values(s)
    assert set(errors) == {f"{n}_{r}_labels_test_error" for n in ("sda3", "saa3", "no_pretraining") for r in ("all", "100")}
    assert all(0 <= e < 0.9 for e in errors.values())  # better than chance (0.9) even after the quick budget
    assert all("MNIST" in m["reference"] for m in s.metrics if "_all_labels_" in m["id"])  # the papers' numbers
    # the runs are real sdae runs: pre-training left its layer runs, and none without pre-training
    assert (tmp_path / "runs" / "sdae-sda-3-100-digits" / "pretrain" / "layer3").is_dir()
    assert not (tmp_path / "runs" / "sdae-no-all-digits" / "pretrain").exists()
    assert len(s.figures) == 3 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_section_seconds_cover_every_section_and_are_the_measured_medians():
    import json
    import statistics
    from pathlib import Path

    from reprlab.report.tour import SECTION_SECONDS, SECTIONS

    assert set(SECTION_SECONDS) == set(SECTIONS)
    record = json.loads((Path(__file__).resolve().parents[2] / "benchmarks/results/tour_time.json").read_text())
    measured = {name: statistics.median(r["sections"][name]["seconds"] for r in record["rows"]) for name in SECTIONS}
    for name, seconds in measured.items():  # the order parallel jobs start sections in comes from these
        assert abs(SECTION_SECONDS[name] - seconds) <= max(1.0, 0.05 * seconds), name


class _DyingPool:
    """A stand-in for the spawned process pool: the section ``dies`` ends as a crashed worker does
    (its future raises BrokenProcessPool), the others return a finished section at once."""

    dies = "denoising"

    def __init__(self, *args, **kwargs):
        self.shutdowns = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, ctx, key):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        from reprlab.viz.html import Section

        f = Future()
        if key == self.dies:
            f.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
        else:
            section = Section(key, tour.SECTIONS[key][0])
            section.seconds = 1.0
            f.set_result((section, None))
        return f

    def shutdown(self, *args, **kwargs):
        self.shutdowns.append(kwargs)


def test_a_worker_that_dies_fails_its_section_only_and_names_the_rerun(monkeypatch):
    monkeypatch.setattr(tour, "ProcessPoolExecutor", _DyingPool)
    keys = ["autoencoder", "denoising", "vae"]
    sections = tour._run_in_workers(None, keys, 2)
    assert [s.key for s in sections] == keys  # the order asked, whatever order they finished in
    dead = sections[1]
    assert dead.error.startswith("its worker process died (BrokenProcessPool: A process in the process pool")
    assert dead.error.endswith("run it alone with --only denoising --jobs 1")
    assert sections[0].error is None and sections[2].error is None
