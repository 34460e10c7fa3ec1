"""``reprlab tour``: the lecture's methods run on embedded data, reported in one HTML page.

The sections are the functions listed in :data:`SECTIONS`, in the lecture's order; each fills in
the :class:`~reprlab.viz.html.Section` it is given, training through the same pipeline as
``reprlab train`` (its runs land in ``<out>/runs/``, reusable with ``reprlab eval``; the machinery
is in :mod:`.sections`). A section that fails is reported in the page with its error and the
others still run. A new section is a function of a section module, added to :data:`ORDER`.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from pathlib import Path

from ..errors import UsageError
from ..files import OutputError, ensure_dir
from ..viz.html import Section, render_report, status_word
from . import tour_adversarial as adversarial
from . import tour_autoencoders as autoencoders
from . import tour_representations as representations
from .benchmarks import benchmark_names, benchmarks_dir
from .benchmarks import benchmarks as benchmarks_section
from .sections import SectionFn, TourContext

log = logging.getLogger("reprlab")

#: The tour's sections in the lecture's order: the auto-encoder family, learnt representations,
#: the adversarial family, the benchmarks' results, and last the comparison of every
#: representation under the same probes (which one serves which task).
ORDER: list[SectionFn] = [
    autoencoders.autoencoder_digits,
    autoencoders.autoencoder_mnist,
    autoencoders.denoising_digits,
    autoencoders.stacked_digits,
    autoencoders.domain_adaptation,
    representations.latent_maps,
    representations.siamese,
    representations.vae_digits,
    representations.style_transfer,
    adversarial.gan,
    adversarial.aae,
    benchmarks_section,
    representations.compare_digits,
]

#: ``{key: (title, fn)}`` in :data:`ORDER`'s order (``--only`` takes the keys)
SECTIONS: dict[str, tuple[str, SectionFn]] = {fn.tour_key: (fn.tour_title, fn) for fn in ORDER}

#: the data sets (``reprlab data download`` names) each section reads; ``--download`` fetches them
SECTION_DATA: dict[str, list[str]] = {
    "autoencoder-mnist": ["mnist"],
    "domain-adaptation": ["amazon-reviews"],
    "siamese": ["omniglot:small1", "omniglot:small2", "omniglot-oneshot"],
}

__all__ = ["ORDER", "SECTIONS", "SECTION_DATA", "TourContext", "fetch_tour_data", "run_tour"]


def run_tour(out: Path, *, quick: bool = False, full: bool = False, only: list[str] | None = None,
             benchmarks: list[str] | None = None, data_dir: str | None = None, seed: int = 0,
             download: bool = False, mirror: str | None = None) -> Path:
    """Run the tour's sections and write ``<out>/report.html``; returns its path.

    ``quick`` shrinks every budget to a smoke run; ``full`` also runs the scripts of
    ``benchmarks/`` at their real settings (hours on a CPU) and reports their results.
    ``download`` first fetches the data sets the sections use (:func:`fetch_tour_data`).
    """
    if quick and full:
        raise UsageError("--quick and --full contradict each other; choose one")
    if mirror is not None and not download:
        raise UsageError("--mirror says where --download fetches from; add --download")
    if only:
        unknown = [k for k in only if k not in SECTIONS]
        if unknown:
            raise UsageError(f"unknown tour section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    if benchmarks:
        if not full:
            raise UsageError("--benchmarks chooses what --full runs; add --full (or run benchmarks/<name>.py yourself)")
        if benchmarks_dir() is None:
            raise UsageError("--benchmarks: no benchmarks/ folder here; run from a checkout or set REPRLAB_BENCHMARKS")
        benchmark_names(benchmarks_dir(), benchmarks)  # unknown names are a usage error before anything runs
    keys = only or list(SECTIONS)
    data_dir = data_dir or os.environ.get("REPRLAB_DATA")
    ctx = TourContext(Path(out), quick, seed, data_dir, full, benchmarks)
    ensure_dir(ctx.out)  # before any section runs: a file in the way is one line, at once
    if download:
        fetch_tour_data(keys, data_dir, mirror)
    done: list[Section] = []
    for i, key in enumerate(keys, 1):
        title, fn = SECTIONS[key]
        log.info(f"[{i}/{len(keys)}] {title} ...")
        section = Section(key, title)
        t0 = time.perf_counter()
        try:
            fn(ctx, section)
        except OutputError:  # a full disk or a read-only folder: the next sections would fail the same way
            raise
        except Exception as e:  # a failed section is reported, the others still run
            section.error = f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}"
            log.info(f"    failed: {type(e).__name__}: {e}")
        section.seconds = time.perf_counter() - t0
        done.append(section)
        log.info(f"    {'failed' if section.error else 'done'} in {section.seconds:.1f}s")
    report = render_report(
        done, ctx.out / "report.html", "reprlab tour",
        f"{'quick' if quick else 'full' if full else 'default'} budget, seed {seed}",
    )
    _print_summary(done)
    return report


def fetch_tour_data(keys: list[str], data_dir: str | None, mirror: str | None = None) -> None:
    """Fetch the data sets of the sections ``keys`` (``reprlab tour --download``). A data set that
    cannot be fetched (offline, no official source without a mirror) is logged and its section
    is skipped; bad input (the mirror, an unwritable folder) stops the tour at once."""
    from ..data.download import MIRROR_ENV, DownloadError, check_mirror, download, has_official_source

    mirror = check_mirror(mirror if mirror is not None else os.environ.get(MIRROR_ENV))
    for key in keys:
        names = SECTION_DATA.get(key, [])
        if not names:
            continue
        if not mirror and not all(has_official_source(n) for n in names):
            log.info(f"--download: {', '.join(names)} has no official download; pass --mirror URL to fetch it")
            continue
        try:
            download(names, data_dir, mirror=mirror)
        except DownloadError as e:
            log.warning(f"--download: {e} (section {key} will be skipped)")


def _print_summary(sections: list[Section]) -> None:
    lines = ["", f"{'section':<22} {'status':<8} {'time':>7}  key numbers"]
    for s in sections:
        nums = "; ".join(
            f"{m['metric']}: {m['value']:.4g}" if isinstance(m["value"], float) else f"{m['metric']}: {m['value']}"
            for m in s.metrics[:3]
        )
        lines.append(f"{s.key:<22} {status_word(s):<8} {s.seconds:>6.1f}s  {nums}")
    print("\n".join(lines))
