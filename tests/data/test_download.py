"""``reprlab data download`` against a real HTTP server on 127.0.0.1 (nothing touches the internet):
files land where the loaders read them, resume with a Range request, checksums, a server that
stops mid-file, 404, bad input (one line, exit 2, no partial file), ``reprlab data`` and the tour."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from helpers import error_line, local_only, run_cli, serve_folder

from reprlab.data import download as dl
from reprlab.data import load_dataset, resolve_data_dir
from reprlab.data.registry import default_data_dir

SMALL = (
    "omniglot/images_background_small1.zip",
    "omniglot/all_runs.zip",
    *(f"amazon_reviews_400/{d}_400.mat" for d in ("books", "dvd", "elec", "kitchen")),
)
BOOKS = "amazon_reviews_400/books_400.mat"


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    """No test reaches beyond 127.0.0.1, and no proxy or mirror setting of the machine applies."""
    local_only(monkeypatch)


@pytest.fixture
def mirror(tmp_path, data_dir):
    """A mirror on 127.0.0.1 holding copies of the small files of the shared data folder."""
    root = tmp_path / "mirror"
    for rel in SMALL:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / rel, root / rel)
    with serve_folder(root) as server:
        yield server


#: the one-line error for a mirror that is not http(s) (it names the schemes, not a URL)
NOT_HTTP = "is not an " + " or ".join(f"{scheme}://" for scheme in ("http", "https")) + " URL"


def leftovers(folder: Path) -> list[Path]:
    """Partial or temporary files under ``folder``."""
    return [p for p in folder.rglob("*") if p.name.endswith(".part") or ".tmp-" in p.name]


def test_download_lands_where_the_loaders_read(mirror, tmp_path, data_dir, capsys):
    dest = tmp_path / "data"
    code, _, err = run_cli(capsys, "data", "download", "omniglot:small1", "omniglot-oneshot", "amazon-reviews",
                           "--dir", str(dest), "--mirror", mirror.url + "/")
    assert code == 0, err
    for rel in SMALL:
        assert (dest / rel).read_bytes() == (data_dir / rel).read_bytes(), rel
    assert not leftovers(dest)
    assert len(load_dataset("omniglot:small1", split="all", data_dir=dest)) == 2720
    assert load_dataset("amazon-reviews:books", split="all", data_dir=dest).x.shape[1] == 400
    assert len(load_dataset("omniglot-oneshot", data_dir=dest).names) == 20
    # a second run checks the checksums and fetches nothing
    mirror.requests.clear()
    assert run_cli(capsys, "data", "download", "amazon-reviews", "--dir", str(dest), "--mirror", mirror.url)[0] == 0
    assert mirror.requests == []


def test_the_default_folder_is_the_loaders_and_reprlab_mirror_is_read(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REPRLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir() == default_data_dir() == tmp_path / "xdg" / "reprlab"
    monkeypatch.setenv(dl.MIRROR_ENV, mirror.url)
    assert run_cli(capsys, "data", "download", "amazon-reviews:kitchen")[0] == 0
    assert load_dataset("amazon-reviews:kitchen").name == "amazon-reviews:kitchen"
    assert dl.download_command("mnist") == "reprlab data download mnist"
    assert dl.download_command("mnist", tmp_path / "d") == f"reprlab data download mnist --dir {tmp_path / 'd'}"


def test_a_partial_file_is_resumed_with_a_range_request(mirror, tmp_path, data_dir, capsys):
    dest = tmp_path / "data"
    whole = (data_dir / BOOKS).read_bytes()
    part = dest / (BOOKS + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(whole[:100_000])
    code, _, err = run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)
    assert code == 0, err
    assert mirror.requests == [(f"/{BOOKS}", "bytes=100000-")]
    assert (dest / BOOKS).read_bytes() == whole and not part.exists()


def test_a_server_that_ignores_range_makes_the_download_start_over(mirror, tmp_path, data_dir, capsys):
    dest = tmp_path / "data"
    part = dest / (BOOKS + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"bytes that are not the file's" * 1000)
    mirror.ignore_range = True
    assert run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)[0] == 0
    assert mirror.requests[0][1] is not None  # it asked for a range, got the whole file
    assert (dest / BOOKS).read_bytes() == (data_dir / BOOKS).read_bytes() and not part.exists()


def test_a_wrong_checksum_keeps_nothing(mirror, tmp_path, capsys):
    damaged = bytearray((mirror.root / BOOKS).read_bytes())
    damaged[5000] ^= 0xFF
    (mirror.root / BOOKS).write_bytes(bytes(damaged))
    dest = tmp_path / "data"
    code, _, err = run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)
    line = error_line(err)
    assert code == 2 and f"{mirror.url}/{BOOKS}" in line and "wrong checksum" in line and "replace it with a good copy" in line
    assert not (dest / BOOKS).exists() and not leftovers(tmp_path)


def test_a_server_that_stops_mid_file_leaves_a_part_to_resume(mirror, tmp_path, data_dir, capsys):
    dest = tmp_path / "data"
    mirror.cut_after = 50_000
    code, _, err = run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)
    line = error_line(err)
    size = (data_dir / BOOKS).stat().st_size
    assert code == 2 and f"{mirror.url}/{BOOKS}" in line and f"after 50,000 of {size:,} bytes" in line and "resume" in line
    part = dest / (BOOKS + ".part")
    assert part.stat().st_size == 50_000 and not (dest / BOOKS).exists()
    mirror.cut_after = None
    assert run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)[0] == 0
    assert mirror.requests[-1] == (f"/{BOOKS}", "bytes=50000-")
    assert (dest / BOOKS).read_bytes() == (data_dir / BOOKS).read_bytes() and not part.exists()


def test_a_disk_that_fills_during_a_download_is_one_line_and_keeps_nothing(mirror, tmp_path, capsys, monkeypatch):
    import builtins
    import errno

    class FillingDisk:
        """A file whose writes fail with ENOSPC once 30,000 bytes are in it."""

        def __init__(self, f):
            self.f, self.written = f, 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

        def write(self, b):
            if self.written + len(b) > 30_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(b)
            return self.f.write(b)

    def filling_open(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        return FillingDisk(f) if str(path).endswith(".part") and "b" in mode and mode != "rb" else f

    monkeypatch.setattr(dl, "open", filling_open, raising=False)  # the module's open, not the builtin
    dest = tmp_path / "data"
    code, _, err = run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)
    line = error_line(err)
    assert code == 2 and "No space left on device" in line and "books_400.mat" in line
    assert not leftovers(tmp_path) and not (dest / BOOKS).exists()


def test_a_missing_file_is_a_404_naming_the_url(mirror, tmp_path, capsys):
    dest = tmp_path / "data"
    code, _, err = run_cli(capsys, "data", "download", "omniglot:background", "--dir", str(dest), "--mirror", mirror.url)
    line = error_line(err)
    assert code == 2 and f"{mirror.url}/omniglot-py/images_background.zip: HTTP 404" in line
    assert not leftovers(tmp_path) and not (dest / "omniglot-py" / "images_background.zip").exists()


def test_amazon_without_a_mirror_says_there_is_no_official_source(tmp_path, capsys):
    code, _, err = run_cli(capsys, "data", "download", "amazon-reviews", "--dir", str(tmp_path / "data"))
    line = error_line(err)
    assert code == 2 and "no official download" in line and "--mirror URL" in line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("args, expected", [
    (["no-such-set"], "unknown data set 'no-such-set' to download"),
    (["omniglot:nope"], "unknown data set 'omniglot:nope'"),
    (["amazon-reviews", "--mirror", "ftp://127.0.0.1/data"], NOT_HTTP),
    (["amazon-reviews", "--mirror", "file://127.0.0.1/tmp"], NOT_HTTP),
    (["amazon-reviews", "--mirror", "127.0.0.1:8000"], NOT_HTTP),
])
def test_bad_input_is_one_line_and_fetches_nothing(args, expected, mirror, tmp_path, capsys):
    dest = tmp_path / "data"
    code, _, err = run_cli(capsys, "data", "download", *args, "--dir", str(dest))
    assert code == 2 and expected in error_line(err)
    assert mirror.requests == [] and not dest.exists()


def test_a_folder_that_cannot_be_written_is_one_line(mirror, tmp_path, capsys):
    blocker = tmp_path / "data" / "amazon_reviews_400"  # a file where the folder should be
    blocker.parent.mkdir()
    blocker.write_text("in the way")
    code, _, err = run_cli(capsys, "data", "download", "amazon-reviews", "--dir", str(tmp_path / "data"), "--mirror", mirror.url)
    assert code == 2 and "a file of that name is in the way" in error_line(err)
    assert mirror.requests == [] and not leftovers(tmp_path)


def test_a_read_only_folder_is_one_line(mirror, tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    dest = tmp_path / "data"
    dest.mkdir()
    dest.chmod(0o500)
    try:
        code, _, err = run_cli(capsys, "data", "download", "amazon-reviews", "--dir", str(dest), "--mirror", mirror.url)
    finally:
        dest.chmod(0o700)
    assert code == 2 and str(dest) in error_line(err) and mirror.requests == []


def test_official_gzip_sources_are_decompressed_and_the_next_url_is_tried(mirror, tmp_path, data_dir, monkeypatch):
    """The MNIST path: the official source serves ``NAME.gz`` (checked by MD5), decompressed into
    the IDX file the loader reads (checked by SHA-256); a source that fails is followed by the next."""
    raw = (data_dir / "MNIST/raw/t10k-labels-idx1-ubyte").read_bytes()
    packed = gzip.compress(raw)
    (mirror.root / "t10k-labels-idx1-ubyte.gz").write_bytes(packed)
    good = dl.RemoteFile("mnist", "test", "MNIST/raw/t10k-labels-idx1-ubyte", sha256=hashlib.sha256(raw).hexdigest(),
                         urls=(f"{mirror.url}/gone/t10k-labels-idx1-ubyte.gz", f"{mirror.url}/t10k-labels-idx1-ubyte.gz"),
                         gz_md5=hashlib.md5(packed).hexdigest())
    monkeypatch.setattr(dl, "FILES", (good,))
    dest = tmp_path / "data"
    dl.download(["mnist"], dest, progress=False)
    assert (dest / good.path).read_bytes() == raw and not leftovers(dest)
    assert [r[0] for r in mirror.requests] == ["/gone/t10k-labels-idx1-ubyte.gz", "/t10k-labels-idx1-ubyte.gz"]
    # a .gz whose MD5 is not the published one is removed, and no IDX file appears
    (dest / good.path).unlink()
    monkeypatch.setattr(dl, "FILES", (dl.RemoteFile(**{**good.__dict__, "gz_md5": "0" * 32}),))
    with pytest.raises(dl.DownloadError, match="wrong checksum"):
        dl.download(["mnist"], dest, progress=False)
    assert not (dest / good.path).exists() and not leftovers(dest)


def test_the_published_checksums_are_those_of_the_reference_files(data_dir):
    for f in dl.FILES:
        if f.sha256 and (data_dir / f.path).is_file():
            assert dl.file_digest(data_dir / f.path, "sha256") == f.sha256, f.path
    assert {f.dataset for f in dl.FILES} == {"mnist", "omniglot", "amazon-reviews"}
    assert all(f.urls or f.dataset == "amazon-reviews" for f in dl.FILES)


def test_data_lists_folder_size_and_completeness(mirror, tmp_path, capsys):
    dest = tmp_path / "data"
    run_cli(capsys, "data", "download", "amazon-reviews:books", "--dir", str(dest), "--mirror", mirror.url)
    code, out, _ = run_cli(capsys, "data", "--data-dir", str(dest))
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert code == 0
    assert "missing 3/4 files" in lines["amazon-reviews"] and "356.7 kB" in lines["amazon-reviews"]
    assert str(dest / "amazon_reviews_400") in lines["amazon-reviews"]
    assert "missing 4/4" in lines["mnist"] and f"reprlab data download mnist --dir {dest}" in out
    run_cli(capsys, "data", "download", "amazon-reviews", "--dir", str(dest), "--mirror", mirror.url)
    out = run_cli(capsys, "data", "--data-dir", str(dest))[1]
    assert re.search(r"amazon-reviews +complete +1\.3 MB", out)


def test_tour_skip_messages_name_the_command(tmp_path):
    from reprlab.report.sections import TourContext
    from reprlab.report.tour_autoencoders import autoencoder_mnist, domain_adaptation
    from reprlab.viz.html import Section

    ctx = TourContext(tmp_path / "tour", True, 0, str(tmp_path / "empty"))
    s = Section("autoencoder-mnist", "t")
    autoencoder_mnist(ctx, s)
    assert s.summary.startswith("Skipped") and f"`reprlab data download mnist --dir {tmp_path / 'empty'}`" in s.summary
    s = Section("domain-adaptation", "t")
    domain_adaptation(ctx, s)
    assert f"`reprlab data download amazon-reviews --dir {tmp_path / 'empty'} --mirror URL`" in s.summary


def test_tour_download_fetches_the_sections_data_first(mirror, tmp_path, data_dir):
    from reprlab.report.tour import fetch_tour_data

    dest = tmp_path / "data"
    (mirror.root / "omniglot/images_background_small2.zip").write_bytes((data_dir / "omniglot/images_background_small2.zip").read_bytes())
    fetch_tour_data(["autoencoder", "domain-adaptation", "siamese", "autoencoder-mnist"], str(dest), mirror.url)
    for rel in (*SMALL, "omniglot/images_background_small2.zip"):
        assert (dest / rel).is_file(), rel
    assert not (dest / "MNIST").exists() or not any((dest / "MNIST").rglob("*-ubyte"))  # 404 on the mirror: skipped


def test_tour_download_checks_its_mirror(tmp_path, capsys):
    code, _, err = run_cli(capsys, "tour", "--only", "autoencoder-mnist", "--out", str(tmp_path / "t"),
                           "--download", "--mirror", "ftp://127.0.0.1/mirror")
    assert code == 2 and NOT_HTTP in error_line(err)
    code, _, err = run_cli(capsys, "tour", "--only", "autoencoder-mnist", "--out", str(tmp_path / "t"), "--mirror", "http://127.0.0.1:9")
    assert code == 2 and "add --download" in error_line(err)
