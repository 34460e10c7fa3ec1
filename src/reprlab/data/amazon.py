"""``amazon-reviews:DOMAIN``: Amazon product reviews as 400 bag-of-words features.

The four domains (books, dvd, elec, kitchen; about 2,000 reviews each, binary sentiment) of
the domain-adaptation benchmark of marginalized denoising auto-encoders (Chen et al., 2012).
Each is a MATLAB file ``<data_dir>/amazon_reviews_400/<domain>_400.mat`` with ``fts``
(n x 400, float64, dense or sparse) and ``labels`` (n x 1, 0 = negative, 1 = positive).
``amazon-reviews:all`` stacks the four domains (extras ``domain``: index into
:data:`DOMAINS`). There is no official split: ``train``/``test`` are the seeded 80/20 split
stratified by label, see :mod:`.splits`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import TensorData
from .registry import register
from .splits import seeded_split

DOMAINS = ("books", "dvd", "elec", "kitchen")
SUBDIR = "amazon_reviews_400"
NUM_FEATURES = 400


def _reason(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def read_reviews_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one domain file: features float32 (n, 400) and labels int64 (n,) in {0, 1}.

    Labels stored as -1/+1 are mapped to 0/1.

    Raises
    ------
    DataError : the file is missing, not a MATLAB v5 file, lacks ``fts``/``labels``, or holds
        arrays of the wrong shape or non-finite / non-binary values.
    """
    import scipy.io
    import scipy.sparse

    fix = f"re-download {path.name} (MATLAB v5 with keys fts: n x {NUM_FEATURES}, labels: n x 1)"
    try:
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; put {path.name} in {path.parent}") from None
    except Exception as e:  # scipy raises many types for damaged files
        raise DataError(f"{path}: not a readable .mat file ({_reason(e)}); {fix}") from None
    missing = [k for k in ("fts", "labels") if k not in mat]
    if missing:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise DataError(f"{path}: no {' or '.join(missing)} in it (found: {found}); {fix}")
    fts, labels = mat["fts"], mat["labels"]
    if scipy.sparse.issparse(fts):
        fts = fts.toarray()
    if scipy.sparse.issparse(labels):
        labels = labels.toarray()
    if not isinstance(fts, np.ndarray) or fts.ndim != 2 or fts.shape[1] != NUM_FEATURES or fts.shape[0] == 0:
        raise DataError(f"{path}: fts has shape {getattr(fts, 'shape', '?')}, expected (n, {NUM_FEATURES}); {fix}")
    if fts.dtype.kind not in "biuf":
        raise DataError(f"{path}: fts holds {fts.dtype} values, expected numbers; {fix}")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biuf" or labels.size != fts.shape[0] or labels.ndim != 2 or 1 not in labels.shape:
        raise DataError(
            f"{path}: labels has shape {labels.shape} {labels.dtype}, expected ({fts.shape[0]}, 1) numbers; {fix}"
        )
    x = fts.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: fts holds NaN or Inf values; {fix}")
    labels = labels.reshape(-1)
    values = set(np.unique(labels).tolist())
    if values <= {-1, 1} and -1 in values:
        labels = labels > 0
    elif not values <= {0, 1}:
        raise DataError(f"{path}: labels hold {sorted(values)[:5]}, expected 0/1 sentiment; {fix}")
    return x, labels.astype(np.int64)


def _path(data_dir: Path, domain: str, download: bool) -> Path:
    path = data_dir / SUBDIR / f"{domain}_400.mat"
    if not path.is_file():
        raise DataError(
            f"Amazon reviews file missing: put {', '.join(f'{d}_400.mat' for d in DOMAINS)} in "
            f"{data_dir / SUBDIR} (missing: {path.name}); set REPRLAB_DATA or --data-dir to the folder "
            f"that holds {SUBDIR}/{' (there is no download for it)' if download else ''}"
        )
    return path


@register(
    "amazon-reviews",
    "Amazon reviews, 400 bag-of-words features, binary sentiment, ~2,000 per domain",
    files=tuple(f"{SUBDIR}/{d}_400.mat" for d in DOMAINS),
    arg_help="books | dvd | elec | kitchen | all",
)
def load_amazon_reviews(arg, data_dir: Path, split: str, seed: int, download: bool) -> TensorData:
    """Load one domain (or ``all``) as x float32 (N, 400), y int64 sentiment, then take ``split``."""
    if arg not in (*DOMAINS, "all"):
        given = "no domain" if arg is None else f"domain {arg!r}"
        raise DataError(f"amazon-reviews needs a domain, got {given}; use amazon-reviews:{'|'.join(DOMAINS)}|all")
    domains = DOMAINS if arg == "all" else (arg,)
    paths = [_path(Path(data_dir), d, download) for d in domains]
    parts = [read_reviews_mat(p) for p in paths]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    extras = {}
    if arg == "all":
        domain = np.repeat(np.arange(len(domains), dtype=np.int64), [len(p[1]) for p in parts])
        extras["domain"] = torch.from_numpy(domain)
    data = TensorData(
        torch.from_numpy(x),
        torch.from_numpy(y),
        name=f"amazon-reviews:{arg}",
        classes=["negative", "positive"],
        extras=extras,
        meta={
            "source": [str(p) for p in paths],
            "domains": list(domains),
            "features": f"{NUM_FEATURES} bag-of-words features as stored (float32)",
        },
    )
    return seeded_split(data, split, seed)
