"""The API reference (docs/) builds offline with warnings as errors, one page per family in the
lecture's order, its equations as MathJax markup and its functions documented from the docstrings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import sphinx  # a test dependency: the docs are built in CI

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

# The lecture's order: auto-encoders (PCA, stacked), denoising, mDA/mSDA, latent maps, style
# transfer, Siamese networks, VAEs, GANs, adversarial auto-encoders, tempered GANs.
FAMILIES = ["autoencoders", "denoising", "mda", "visualization", "style", "siamese", "vae", "gan", "aae", "tempered"]
SHARED = ["data", "training", "evaluation", "cli"]


def _build(out: Path) -> subprocess.CompletedProcess:
    # A child process: Sphinx's logging and autodoc's imports stay out of pytest's process.
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", str(DOCS), str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)


def test_docs_build_without_warnings_one_page_per_family_with_equations_and_api(tmp_path):
    assert int(sphinx.__version__.split(".")[0]) >= 8
    out = tmp_path / "html"
    proc = _build(out)
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stdout}\n{proc.stderr}"

    # one page per family, then the shared machinery, linked from the index in that order
    index = (out / "index.html").read_text()
    for page in FAMILIES + SHARED:
        assert (out / f"{page}.html").is_file(), page
    linked = list(dict.fromkeys(re.findall(r'href="(\w+)\.html"', index)))
    linked = [page for page in linked if page in FAMILIES + SHARED]
    assert linked == FAMILIES + SHARED

    # equations from the docstrings, as MathJax markup (inline and display), and the script
    gan = (out / "gan.html").read_text()
    assert r'<span class="math notranslate nohighlight">\(\mathbb E \log\frac{1 - D(G(z))}{D(G(z))}\)</span>' in gan
    assert '<div class="math notranslate nohighlight">' in gan
    assert re.search(r'<script [^>]*src="[^"]*mathjax[^"]*"', gan)
    for page in ["autoencoders", "denoising", "mda", "siamese", "vae", "gan", "aae", "tempered"]:
        assert 'class="math notranslate nohighlight"' in (out / f"{page}.html").read_text(), page

    # automodule documented the functions and classes, on their family's page
    for page, obj in [
        ("siamese", "reprlab.models.siamese.contrastive_loss"),
        ("gan", "reprlab.models.gan.losses.logratio_generator_loss"),
        ("gan", "reprlab.models.gan.regularizers.r1_penalty"),
        ("mda", "reprlab.models.mda.MSDA"),
        ("vae", "reprlab.models.vae.VAE"),
        ("style", "reprlab.models.style.gram_matrix"),
        ("autoencoders", "reprlab.eval.subspace.subspace_agreement"),
    ]:
        assert f'id="{obj}"' in (out / f"{page}.html").read_text(), (page, obj)

    # every family page shows the README's example commands
    for page in FAMILIES:
        assert 'class="highlight-bash' in (out / f"{page}.html").read_text(), page


def test_docs_example_commands_are_the_readmes():
    """The commands on the index and the family pages are copied from the README, not paraphrased."""
    readme = (REPO / "README.md").read_text()
    for page in ["index"] + FAMILIES:
        text = (DOCS / f"{page}.rst").read_text()
        blocks = re.findall(r"\.\. code-block:: (?:bash|python)\n\n((?:   .*\n|\n)+)", text)
        assert blocks, page
        for block in blocks:
            for line in block.splitlines():
                line = line[3:]
                if line.strip():
                    assert line in readme, (page, line)
