"""``reprlab tour``: the lecture's methods run on embedded data, reported in one HTML page.

The sections are the functions listed in :data:`SECTIONS`, in the lecture's order; each fills in
the :class:`~reprlab.viz.html.Section` it is given, training through the same pipeline as
``reprlab train`` (its runs land in ``<out>/runs/``, reusable with ``reprlab eval``; the machinery
is in :mod:`.sections`). A section that fails is reported in the page with its error and the
others still run. A new section is a function of a section module, added to :data:`ORDER`.

With ``jobs`` > 1 the sections run in that many worker processes at once (longest first, by
:data:`SECTION_SECONDS`), each with its share of the CPU threads: the small nets of the digit
sections gain nothing from a second thread, so two single-threaded sections side by side finish
in about half the time. The page lists them in the order asked all the same (:data:`ORDER` by default).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from ..errors import UsageError
from ..files import OutputError, ensure_dir, write_json
from ..viz.html import Section, render_report, status_word
from . import tour_adversarial as adversarial
from . import tour_autoencoders as autoencoders
from . import tour_representations as representations
from .benchmarks import benchmark_names, benchmarks_dir
from .benchmarks import benchmarks as benchmarks_section
from .sections import SectionFn, TourContext, metric_values

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

#: seconds per section at the default budget: the medians of the 5 runs of ``benchmarks/tour_time.py``
#: (``tour_time.json``, 2 jobs of one thread each); only the order in which parallel jobs start the
#: sections (longest first) depends on them
SECTION_SECONDS: dict[str, float] = {
    "aae": 93, "siamese": 88, "gan": 62, "latent": 48, "autoencoder-mnist": 38, "style": 26, "stacked": 24, "vae": 23,
    "compare": 19, "domain-adaptation": 18, "denoising": 13, "autoencoder": 7, "benchmarks": 1,
}
#: the most worker processes ``jobs="auto"`` starts (each holds its own copy of torch and the data)
MAX_AUTO_JOBS = 4

__all__ = ["ORDER", "SECTIONS", "SECTION_DATA", "SECTION_SECONDS", "TourContext", "default_jobs", "fetch_tour_data",
           "run_tour"]


def default_jobs(n_sections: int) -> int:
    """``--jobs auto``: one worker per CPU core, at most :data:`MAX_AUTO_JOBS` and the number of sections."""
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_JOBS, n_sections))


def run_tour(out: Path, *, quick: bool = False, full: bool = False, only: list[str] | None = None,
             benchmarks: list[str] | None = None, data_dir: str | None = None, seed: int = 0,
             download: bool = False, mirror: str | None = None, jobs: int | str = 1) -> Path:
    """Run the tour's sections and write ``<out>/report.html``; returns its path.

    ``quick`` shrinks every budget to a smoke run; ``full`` also runs the scripts of
    ``benchmarks/`` at their real settings (hours on a CPU) and reports their results.
    ``download`` first fetches the data sets the sections use (:func:`fetch_tour_data`).
    ``jobs``: sections run at once in worker processes ("auto": :func:`default_jobs`; 1: one
    after the other in this process, with this process's threads).
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
    if jobs == "auto":
        jobs = default_jobs(len(keys))
    if isinstance(jobs, str) and jobs.strip().lstrip("-").isdigit():  # the command line's text
        jobs = int(jobs)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UsageError(f"--jobs {jobs!r}: give a whole number >= 1 (1: no worker processes) or auto")
    jobs = min(jobs, len(keys))
    data_dir = data_dir or os.environ.get("REPRLAB_DATA")
    ctx = TourContext(Path(out), quick, seed, data_dir, full, benchmarks)
    ensure_dir(ctx.out)  # before any section runs: a file in the way is one line, at once
    if download:
        fetch_tour_data(keys, data_dir, mirror)
    t0 = time.perf_counter()
    done = _run_in_workers(ctx, keys, jobs) if jobs > 1 else [_run_logged(ctx, key, i, len(keys)) for i, key in enumerate(keys, 1)]
    wall = time.perf_counter() - t0
    report = render_report(
        done, ctx.out / "report.html", "reprlab tour",
        f"{'quick' if quick else 'full' if full else 'default'} budget, seed {seed}, "
        f"{jobs} job{'s' if jobs > 1 else ''}, {wall:.0f} s",
    )
    write_json(ctx.out / "tour.json", tour_numbers(done, wall, jobs, quick=quick, full=full, seed=seed))
    _print_summary(done, wall, jobs)
    return report


def tour_numbers(sections: list[Section], wall: float, jobs: int, **settings) -> dict:
    """What ``<out>/tour.json`` holds: the wall-clock seconds of the whole tour, its settings and,
    per section, its status, seconds and numbers by id (:func:`~.sections.metric_values`)."""

    numbers = {"seconds": round(wall, 2), "jobs": jobs, "cpu_count": os.cpu_count(), **settings,
               "sections": {s.key: {"status": status_word(s), "seconds": round(s.seconds, 2), "error": s.error,
                                    "numbers": metric_values(s)} for s in sections}}
    # numpy and torch scalars as floats, anything else JSON cannot hold as its text
    return json.loads(json.dumps(numbers, default=lambda v: float(v) if hasattr(v, "__float__") else str(v)))


def run_section(ctx: TourContext, key: str) -> Section:
    """Run one section; an exception becomes the section's error (the others still run), except an
    :class:`OutputError` (a full disk or a read-only folder: the next sections would fail the same way)."""
    title, fn = SECTIONS[key]
    section = Section(key, title)
    t0 = time.perf_counter()
    try:
        fn(ctx, section)
    except OutputError:
        raise
    except Exception as e:  # a failed section is reported, the others still run
        section.error = f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}"
        log.info(f"    {key} failed: {type(e).__name__}: {e}")
    section.seconds = time.perf_counter() - t0
    return section


def _run_logged(ctx: TourContext, key: str, i: int, n: int) -> Section:
    log.info(f"[{i}/{n}] {SECTIONS[key][0]} ...")
    section = run_section(ctx, key)
    log.info(f"    {'failed' if section.error else 'done'} in {section.seconds:.1f}s")
    return section


def _worker_init(threads: int, level: int) -> None:
    """A worker process: ``threads`` CPU threads for torch and the BLAS, the parent's log level."""
    import threadpoolctl
    import torch

    logging.basicConfig(format="%(message)s", level=logging.INFO)
    log.setLevel(level)
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)


def _worker_section(ctx: TourContext, key: str) -> tuple[Section | None, str | None]:
    log.info(f"[started] {SECTIONS[key][0]} ...")
    try:
        return run_section(ctx, key), None
    except OutputError as e:  # re-raised in the parent, where it stops the tour
        return None, str(e)


def _run_in_workers(ctx: TourContext, keys: list[str], jobs: int) -> list[Section]:
    """The sections ``keys`` in ``jobs`` worker processes (spawned: no state of this process leaks
    in), the longest first; returned in the order of ``keys``."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    order = sorted(keys, key=lambda k: -SECTION_SECONDS.get(k, 30))
    log.info(f"{len(keys)} sections in {jobs} parallel jobs, {threads} thread{'s' if threads > 1 else ''} each")
    results: dict[str, Section] = {}
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
                             initargs=(threads, log.getEffectiveLevel())) as pool:
        pending = {pool.submit(_worker_section, ctx, key): key for key in order}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                key = pending.pop(f)
                try:
                    section, output_error = f.result()
                except Exception as e:  # the worker died (killed, out of memory): the section failed, not the tour
                    section, output_error = Section(key, SECTIONS[key][0]), None
                    section.error = f"its worker process died ({type(e).__name__}: {e}); run it alone with --only {key} --jobs 1"
                if output_error is not None:
                    pool.shutdown(wait=False, cancel_futures=True)  # the sections not started never start
                    raise OutputError(output_error)
                results[key] = section
                log.info(f"[{len(results)}/{len(keys)}] {'failed' if section.error else 'done'}: {key} in {section.seconds:.1f}s")
    return [results[k] for k in keys]


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


def _print_summary(sections: list[Section], wall: float, jobs: int) -> None:
    lines = ["", f"{'section':<22} {'status':<8} {'time':>7}  key numbers"]
    for s in sections:
        nums = "; ".join(
            f"{m['metric']}: {m['value']:.4g}" if isinstance(m["value"], float) else f"{m['metric']}: {m['value']}"
            for m in s.metrics[:3]
        )
        lines.append(f"{s.key:<22} {status_word(s):<8} {s.seconds:>6.1f}s  {nums}")
    lines.append(f"{'total':<22} {'':<8} {wall:>6.1f}s  wall clock, {jobs} job{'s' if jobs > 1 else ''}")
    print("\n".join(lines))
