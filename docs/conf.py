"""Sphinx configuration of reprlab's API reference.

Build (offline, warnings as errors): ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
The pages follow the lecture's order; each family's page documents its modules with autodoc, from
the docstrings (reST, with numpy-style sections read by napoleon), and the equations in them are
rendered by MathJax in the browser (the build only writes the script's URL: no network needed).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the checkout's package, installed or not

from reprlab import __version__  # noqa: E402

project = "reprlab"
author = "reprlab's authors"
copyright = "reprlab's authors, MIT licence"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
templates_path: list[str] = []
html_static_path: list[str] = []
html_theme = "alabaster"
html_title = f"reprlab {release}"

nitpicky = False
default_role = "code"          # `x` in a docstring is inline code, as in the README
highlight_language = "none"    # code blocks say their language (bash, python) themselves

autodoc_member_order = "bysource"  # the order of the source: a module reads top to bottom
autodoc_typehints = "signature"
autodoc_preserve_defaults = True   # function defaults as written in the source (constants by name), not their repr
autodoc_inherit_docstrings = False  # not torch.nn.Module.forward's "Define the computation performed at every call"

napoleon_google_docstring = False  # numpy-style sections only; "Note:" in prose stays prose
napoleon_numpy_docstring = True
napoleon_use_rtype = False
