"""``omniglot``: handwritten characters of 50 alphabets, and Lake's 20-way one-shot benchmark.

``omniglot[:SET]`` reads one of Lake et al.'s image sets, each laid out as
``<set>/<alphabet>/<character>/<id>_<drawer>.png`` (105x105, 1 bit, 20 drawers per character):

- ``small1``, ``small2``: ``images_background_small1`` / ``_small2`` (5 alphabets each), from
  ``<data_dir>/omniglot/<set>.zip`` or the extracted folder ``<data_dir>/omniglot/<set>/``.
- ``background``, ``evaluation``: the full sets (30 / 20 alphabets) as torchvision stores them,
  ``<data_dir>/omniglot-py/images_background/`` (or ``.zip``); ``--download`` fetches them.
- no ``SET``: small1 and small2 together if present (they share Greek and Latin: the 1,000
  shared drawings are kept once), else ``background``.

PNGs are read straight from the zip (nothing is extracted) in sorted path order and inverted:
strokes are 1.0, background 0.0. ``y`` indexes the class ``"alphabet/character"``; extras
``alphabet`` (index into ``meta["alphabets"]``) and ``drawer`` (1..20, from the file name).
Omniglot has no official train/test split of drawings: ``train``/``test`` are the seeded
80/20 split stratified by character (16/4 drawings per character), see :mod:`.splits`.

``omniglot-oneshot`` reads ``<data_dir>/omniglot/all_runs.zip`` (or ``all_runs/``) into
:class:`~reprlab.data.fewshot.FewShotTasks`.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .base import TensorData
from .fewshot import FewShotTasks
from .registry import register
from .splits import seeded_split

SIZE = (105, 105)
SETS = {
    "small1": "images_background_small1",
    "small2": "images_background_small2",
    "background": "images_background",
    "evaluation": "images_evaluation",
}
_DRAWING = re.compile(r"^(\d+)_(\d+)\.png$", re.IGNORECASE)
_RUN_FILE = re.compile(r"(?:^|/)(run\d+)/(.+)$")
_WHERE = "set REPRLAB_DATA or --data-dir to the folder that holds omniglot/"


class _Source:
    """The files of a zip archive or a folder, by relative POSIX path (no extraction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        if path.is_dir():
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except Exception as e:
            raise DataError(f"{path}: not a readable zip archive ({_reason(e)}); re-download it") from None

    def names(self) -> list[str]:
        """Sorted file names; folders, hidden files and ``__MACOSX/`` entries are skipped."""
        if self.zip is not None:
            names = [i.filename for i in self.zip.infolist() if not i.is_dir()]
        else:
            names = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()]
        return sorted(n for n in names if not any(part.startswith((".", "__MACOSX")) for part in n.split("/")))

    def read(self, name: str) -> bytes:
        try:
            if self.zip is not None:
                return self.zip.read(name)
            return (self.path / name).read_bytes()
        except Exception as e:
            raise DataError(f"{self.label(name)}: cannot read it ({_reason(e)}); re-download {self.path.name}") from None

    def label(self, name: str) -> str:
        return f"{self.path}/{name}" if self.zip is None else f"{name} in {self.path}"


def _reason(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def decode_png(data: bytes, label: str) -> np.ndarray:
    """Strokes of a 105x105 Omniglot PNG: a bool array, True where the pixel is dark."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            if im.size != SIZE:  # checked before decoding: no large allocation
                raise DataError(f"{label}: image is {im.size[0]}x{im.size[1]}, Omniglot images are 105x105; remove it")
            pixels = np.asarray(im.convert("L"))
    except DataError:
        raise
    except Exception as e:  # PIL raises many types for damaged files
        raise DataError(f"{label}: not a decodable PNG image ({_reason(e)}); remove it or re-download the set") from None
    return pixels < 128


def _locate(data_dir: Path, folder: str) -> Path | None:
    for base in ("omniglot", "omniglot-py"):
        for candidate in (data_dir / base / folder, data_dir / base / f"{folder}.zip"):
            if candidate.exists():
                return candidate
    return None


def _download(data_dir: Path, set_name: str) -> None:
    from torchvision.datasets import Omniglot

    try:
        Omniglot(root=str(data_dir), background=set_name == "background", download=True)
    except Exception as e:
        raise DataError(
            f"could not download Omniglot {set_name} into {data_dir / 'omniglot-py'} ({_reason(e)}); "
            "check the connection or put the zip there by hand"
        ) from None


def _missing(data_dir: Path, set_names: list[str]) -> DataError:
    wanted = " or ".join(f"{SETS[s]}.zip (or the extracted {SETS[s]}/ folder)" for s in set_names)
    where = data_dir / ("omniglot" if set_names[0].startswith("small") else "omniglot-py")
    hint = "" if set_names[0].startswith("small") else ", or pass --download when online"
    return DataError(f"Omniglot images not found: put {wanted} in {where}; {_WHERE}{hint}")


def _drawings(source: _Source) -> list[tuple[str, str, str, int, str]]:
    """(alphabet, character, file, drawer, name) of every drawing of one set."""
    out = []
    for name in source.names():
        parts = name.split("/")
        match = _DRAWING.match(parts[-1])
        if len(parts) < 3 or match is None:
            raise DataError(
                f"{source.label(name)}: unexpected file; an Omniglot set holds only "
                "<alphabet>/<character>/<id>_<drawer>.png images, remove it"
            )
        out.append((parts[-3], parts[-2], parts[-1], int(match.group(2)), name))
    if not out:
        raise DataError(f"{source.path}: no <alphabet>/<character>/<id>_<drawer>.png images in it; re-download it")
    return out


@register(
    "omniglot",
    "Omniglot characters, 105x105 binary; SET small1 (2,720), small2 (3,120), background, evaluation",
    files=("omniglot/images_background_small1.zip", "omniglot/images_background_small2.zip"),
    arg_help="small1 | small2 | background | evaluation (default: small1+small2, else background)",
)
def load_omniglot(arg, data_dir: Path, split: str, seed: int, download: bool) -> TensorData:
    """Load an Omniglot image set (see the module docstring) and take ``split`` of it."""
    data_dir = Path(data_dir)
    if arg is None:
        chosen = [s for s in ("small1", "small2") if _locate(data_dir, SETS[s])]
        if not chosen:
            if not _locate(data_dir, SETS["background"]) and not download:
                raise _missing(data_dir, ["small1", "small2"])
            chosen = ["background"]
    elif arg in SETS:
        chosen = [arg]
    else:
        raise DataError(f"unknown Omniglot set {arg!r}; use omniglot:small1, :small2, :background or :evaluation")
    sources = []
    for s in chosen:
        path = _locate(data_dir, SETS[s])
        if path is None and download and s in ("background", "evaluation"):
            _download(data_dir, s)
            path = _locate(data_dir, SETS[s])
        if path is None:
            raise _missing(data_dir, [s])
        sources.append(_Source(path))

    # One record per drawing, keyed by alphabet/character/file: shared drawings are kept once.
    records: dict[str, tuple] = {}
    total = 0
    for source in sources:
        for alphabet, character, fname, drawer, name in _drawings(source):
            total += 1
            records.setdefault(f"{alphabet}/{character}/{fname}", (alphabet, character, drawer, source, name))
    keys = sorted(records)
    n = len(keys)
    x = np.empty((n, 1, *SIZE), dtype=np.float32)
    for i, key in enumerate(keys):
        _, _, _, source, name = records[key]
        x[i, 0] = decode_png(source.read(name), source.label(name))
    rows = [records[k] for k in keys]
    classes, y = np.unique([f"{r[0]}/{r[1]}" for r in rows], return_inverse=True)
    alphabets, alphabet = np.unique([r[0] for r in rows], return_inverse=True)
    drawer = np.array([r[2] for r in rows], dtype=np.int64)
    data = TensorData(
        torch.from_numpy(x),
        torch.from_numpy(y.astype(np.int64)),
        name="omniglot" if arg is None else f"omniglot:{arg}",
        classes=[str(c) for c in classes],
        extras={"alphabet": torch.from_numpy(alphabet.astype(np.int64)), "drawer": torch.from_numpy(drawer)},
        meta={
            "source": [str(s.path) for s in sources],
            "sets": chosen,
            "alphabets": [str(a) for a in alphabets],
            "range": "{0, 1}: PNG inverted, strokes 1.0, background 0.0",
            "duplicates_dropped": total - n,
        },
    )
    return seeded_split(data, split, seed)


def _parse_run(source: _Source, run: str, files: dict[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(support, query, answer) of one run; ``files`` maps ``runNN/...`` keys to source names."""
    training = sorted(k for k in files if re.fullmatch(rf"{run}/training/class\d+\.png", k))
    test = sorted(k for k in files if re.fullmatch(rf"{run}/test/item\d+\.png", k))
    labels_key = f"{run}/class_labels.txt"
    if len(training) != 20 or len(test) != 20 or labels_key not in files:
        raise DataError(
            f"{source.path}: {run} has {len(training)} training and {len(test)} test images"
            f"{'' if labels_key in files else ' and no class_labels.txt'}; expected 20 + 20 and "
            "class_labels.txt, re-download all_runs.zip"
        )
    label = source.label(files[labels_key])
    try:
        lines = source.read(files[labels_key]).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{label}: not a text file; re-download all_runs.zip") from None
    answer = np.full(20, -1, dtype=np.int64)
    expect = f"'{run}/test/itemMM.png {run}/training/classKK.png'"
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 2 or tokens[0] not in test or tokens[1] not in training:
            raise DataError(f"{label}: line {number} {line.strip()[:80]!r} must read {expect} naming files of {run}")
        j = test.index(tokens[0])
        if answer[j] >= 0:
            raise DataError(f"{label}: line {number} answers {tokens[0]} a second time; each test image once")
        answer[j] = training.index(tokens[1])
    if (answer < 0).any():
        raise DataError(f"{label}: no line for {test[int(np.argmax(answer < 0))]}; expected 20 lines {expect}")
    support = np.stack([decode_png(source.read(files[k]), source.label(files[k])) for k in training])
    query = np.stack([decode_png(source.read(files[k]), source.label(files[k])) for k in test])
    return support, query, answer


@register(
    "omniglot-oneshot",
    "Lake et al.'s 20-way one-shot Omniglot benchmark: 20 runs of 20 support + 20 query images",
    files=("omniglot/all_runs.zip",),
    kind="tasks",
)
def load_omniglot_oneshot(arg, data_dir: Path, split: str, seed: int, download: bool) -> FewShotTasks:
    """All runs of ``all_runs.zip`` (or the ``all_runs/`` folder; ``omniglot-oneshot:PATH`` names
    either directly) as 20-way 1-shot
    :class:`~reprlab.data.fewshot.FewShotTasks` (``names``: ``run01``...; ``answer[r, j]`` is the
    support image of query j's class); ``split`` and ``seed`` are unused."""
    data_dir = Path(data_dir)
    if arg is not None:  # omniglot-oneshot:PATH (reprlab oneshot --runs PATH): the zip or the folder itself
        path = Path(arg).expanduser()
        if not path.exists():
            raise DataError(f"Lake's one-shot runs not found at {path}: give all_runs.zip or its extracted all_runs/ folder")
    else:
        path = _locate(data_dir, "all_runs")
    if path is None:
        raise DataError(
            f"Omniglot one-shot runs not found: put all_runs.zip (or the extracted all_runs/ folder) "
            f"in {data_dir / 'omniglot'}; {_WHERE}"
        )
    source = _Source(path)
    files = {}
    for name in source.names():
        match = _RUN_FILE.search(name)
        if match:
            files[f"{match.group(1)}/{match.group(2)}"] = name
    runs = sorted({key.split("/")[0] for key in files})
    if not runs:
        raise DataError(f"{path}: no runNN/ folders in it; expected Lake's all_runs with run01..run20, re-download it")
    parts = [_parse_run(source, run, files) for run in runs]
    support, query, answer = (np.stack([p[i] for p in parts]) for i in range(3))
    r, n = support.shape[:2]  # runs, 20 classes (one support image each) and 20 queries per run
    x = torch.from_numpy(np.concatenate([support.reshape(r * n, *support.shape[2:]),
                                         query.reshape(r * n, *query.shape[2:])])).float().unsqueeze(1)
    return FewShotTasks(
        x=x,
        support=torch.arange(r * n).view(r, n),
        support_class=torch.arange(n).expand(r, n).clone(),
        query=r * n + torch.arange(r * n).view(r, n),
        answer=torch.from_numpy(answer),
        n_way=n,
        k_shot=1,
        names=runs,
        name="omniglot-oneshot",
        meta={"source": str(path), "range": "{0, 1}: PNG inverted, strokes 1.0, background 0.0"},
    )
