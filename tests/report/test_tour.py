"""`reprlab tour --quick`: completes, the HTML parses, every <img> is an embedded PNG that decodes,
every section is present or reports its error."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

from PIL import Image

from reprlab.cli import main
from reprlab.report import tour


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


def test_quick_tour_writes_a_self_contained_report(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REPRLAB_DATA", raising=False)
    monkeypatch.setattr(tour, "SECTIONS", {k: v for k, v in tour.SECTIONS.items()})

    def broken(ctx, section):
        raise RuntimeError("this section is broken on purpose")

    tour.SECTIONS["broken"] = ("A broken section", broken)
    assert main(["tour", "--quick", "--out", str(tmp_path), "--only", "autoencoder,broken"]) == 0
    page = _parse(tmp_path / "report.html")
    assert page.sections == ["autoencoder", "broken"]
    assert len(page.images) >= 4
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        img.verify()
        assert img.format == "PNG"
    assert any("broken on purpose" in e for e in page.errors)
    out = capsys.readouterr().out
    assert "autoencoder" in out and "failed" in out


def test_unknown_tour_section_is_a_usage_error(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown tour section 'nope'" in capsys.readouterr().err


def _metric(section, start: str) -> float:
    (value,) = [m["value"] for m in section.metrics if m["metric"].startswith(start)]
    return value


def test_denoising_section_shows_pca_agreement_and_denoising(tmp_path):
    from reprlab.report.html import Section

    ctx = tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None)
    s = Section("denoising", "t")
    tour.SECTIONS["denoising"][1](ctx, s)
    assert _metric(s, "linear AE (k=10): smallest cosine") > 0.999
    assert abs(_metric(s, "linear AE (k=10): MSE / PCA") - 1) < 0.01
    noise = _metric(s, "corrupted test digits")
    # after the quick budget (400 steps) the denoising AE repairs masked digits, and better than the plain AE
    assert _metric(s, "denoising AE") < _metric(s, "plain AE") and _metric(s, "denoising AE") < noise
    assert s.figures and s.figures[0][1].stat().st_size > 0


def test_domain_adaptation_section_skips_without_data_and_shows_msda_with_it(tmp_path, data_dir):
    from reprlab.report.html import Section

    s = Section("domain-adaptation", "t")
    tour.SECTIONS["domain-adaptation"][1](tour.TourContext(tmp_path, True, 0, str(tmp_path)), s)
    assert s.summary.startswith("Skipped") and not s.metrics
    s = Section("domain-adaptation", "t")
    tour.SECTIONS["domain-adaptation"][1](tour.TourContext(tmp_path, True, 0, str(data_dir)), s)
    assert _metric(s, "msda: average target accuracy") > _metric(s, "raw: average target accuracy") + 0.02
    assert s.figures[0][1].stat().st_size > 0


def test_latent_section_maps_codes_with_their_numbers_and_morphs(tmp_path):
    from reprlab.report.html import Section

    s = Section("latent", "t")
    tour.SECTIONS["latent"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    assert _metric(s, "2-D codes: trustworthiness") == 1.0  # a 2-D code is its own map
    # t-SNE keeps neighbourhoods of the 16-D codes better than their first two principal components
    tsne_t = [m["value"] for m in s.metrics if "t-SNE perplexity 30" in m["metric"]]
    assert tsne_t and min(tsne_t) > _metric(s, "16-D codes, PCA: trustworthiness")
    assert len(s.figures) == 5 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_siamese_section_beats_pixels_at_one_shot(tmp_path):
    from reprlab.report.html import Section

    s = Section("siamese", "t")
    tour.SECTIONS["siamese"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    for way in (5, 10):
        assert _metric(s, f"{way}-way one-shot accuracy, Siamese") > _metric(s, f"{way}-way one-shot accuracy, pixels")
    assert len(s.figures) == 3 and all(p.stat().st_size > 0 for _, p in s.figures)
    assert any("one-shot tasks" in c and "green" in c for c, _ in s.figures)


def test_vae_section_reports_a_likelihood_below_the_elbo(tmp_path):
    from reprlab.report.html import Section

    s = Section("vae", "t")
    tour.SECTIONS["vae"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    nelbo, iwae = _metric(s, "test negative ELBO"), _metric(s, "test −log p(x), IWAE")
    assert 0 < iwae <= nelbo + 0.05 and _metric(s, "test KL") > 0
    assert len(s.figures) == 3 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_style_section_names_its_network_and_reduces_the_style_loss(tmp_path):
    from reprlab.report.html import Section

    s = Section("style", "t")
    tour.SECTIONS["style"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    network = _metric(s, "feature network")
    assert "random multi-scale" in network or "VGG-19" in network
    assert network in s.summary and s.settings["feature network"] == network
    assert _metric(s, "style loss reduction") < 0.5 and _metric(s, "texture: style loss reduction") < 0.8
    assert len(s.figures) == 2 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_gan_section_separates_converging_from_cycling_dirac_gans_and_scores_samples(tmp_path):
    from reprlab.report.html import Section

    s = Section("gan", "t")
    tour.SECTIONS["gan"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    r1 = _metric(s, "Dirac-GAN GAN + R1")
    plain = _metric(s, "Dirac-GAN standard GAN")
    assert r1 < 0.1 < 1.0 < plain  # R1 converges, the plain GAN moves away from (0, 0)
    ring = [m for m in s.metrics if m["metric"].startswith("ring of 8 Gaussians")]
    assert len(ring) == 4 and all("VEEGAN" in m["reference"] for m in ring)
    fid = _metric(s, "digits GAN: classifier FID")
    floor = float(next(m["reference"] for m in s.metrics if m["metric"].startswith("digits GAN: classifier FID")).split(": ")[1].split(";")[0])
    assert fid > floor >= 0  # samples of a briefly trained GAN are further from the test set than its other half
    assert len(s.figures) >= 4 and all(p.stat().st_size > 0 for _, p in s.figures)


def test_aae_section_draws_four_code_maps_and_the_lens(tmp_path):
    from reprlab.report.html import Section

    s = Section("aae", "t")
    tour.SECTIONS["aae"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    sw = {m["metric"].split(":")[0]: m["value"] for m in s.metrics if "sliced Wasserstein" in m["metric"]}
    assert set(sw) == {"AAE, N(0, I)", "AAE, 10-mixture", "VAE, N(0, I)", "VAE, 10-mixture"}
    assert all(v > 0 for v in sw.values())
    captions = [c for c, _ in s.figures]
    assert any("four panels" in c for c in captions) and any("lens" in c for c in captions)
    assert all(p.stat().st_size > 0 for _, p in s.figures)
