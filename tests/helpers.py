"""Helpers shared by test modules (importable: ``pythonpath = ["tests"]`` in pyproject.toml)."""

from __future__ import annotations

import contextlib
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from reprlab.cli import main


def run_cli(capsys, *argv):
    """Run ``reprlab`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    """The one ``reprlab: error: ...`` line of ``err`` (fails when there are more lines)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith("reprlab: error: ")
    return lines[0]


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with ``Range: bytes=N-`` support; the server's attributes make it misbehave:
    ``ignore_range`` (always 200), ``cut_after`` (close the connection after that many bytes)."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, "File not found")
            return
        data = path.read_bytes()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not server.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if server.cut_after is None else body[: server.cut_after])
        self.close_connection = True

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_folder(root: Path):
    """An HTTP server on 127.0.0.1 serving ``root`` with :class:`RangeHandler`; yields the server
    (``url``, ``root``, the ``requests`` it answered, ``ignore_range`` and ``cut_after`` to set)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    server.requests, server.ignore_range, server.cut_after = [], False, None
    server.root, server.url = root, f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def local_only(monkeypatch) -> None:
    """Make any connection beyond 127.0.0.1 fail the test, and drop the machine's proxy and mirror
    settings (for tests of downloads, with :func:`serve_folder`)."""
    import socket

    from reprlab.data.download import MIRROR_ENV

    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"a test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", MIRROR_ENV):
        monkeypatch.delenv(var, raising=False)


def write_fake_amazon_reviews(data_dir: Path, n: int = 150, seed: int = 0) -> Path:
    """Four small Amazon-reviews domain files in ``data_dir/amazon_reviews_400/`` (the real files'
    format: ``fts`` n x 400 in [0, 1], ``labels`` n x 1 in {0, 1}, half of each): 20 "positive"
    and 20 "negative" words shared by every domain carry the sentiment, 20 words per domain mark
    the domain, the rest is sparse noise. Returns ``data_dir``."""
    import numpy as np
    import scipy.io

    g = np.random.default_rng(seed)
    folder = Path(data_dir) / "amazon_reviews_400"
    folder.mkdir(parents=True, exist_ok=True)
    for i, domain in enumerate(("books", "dvd", "elec", "kitchen")):
        y = np.repeat([0, 1], n // 2)
        x = (g.random((n, 400)) < 0.05) * g.random((n, 400))
        x[:, :20] += (y[:, None] == 1) * (g.random((n, 20)) < 0.3)
        x[:, 20:40] += (y[:, None] == 0) * (g.random((n, 20)) < 0.3)
        x[:, 40 + 20 * i : 60 + 20 * i] += g.random((n, 20)) < 0.3
        scipy.io.savemat(folder / f"{domain}_400.mat", {"fts": np.minimum(x, 1.0), "labels": y[:, None].astype(np.uint8)})
    return Path(data_dir)
