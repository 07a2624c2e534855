"""Tests for genrenet.download against an HTTP server started on 127.0.0.1 by the test."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genrenet.download import download, download_gtzan, safe_extract
from genrenet.errors import ChecksumError, DataError, ParameterError


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    honor_range = True
    drop_after: int | None = None  # first full response is cut after this many bytes
    log: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        data = self.files.get(self.path)
        rng = self.headers.get("Range")
        self.log.append((self.path, rng))
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng and self.honor_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).drop_after is not None and start == 0:
            self.wfile.write(body[: type(self).drop_after])
            self.wfile.flush()
            type(self).drop_after = None
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    handler = type("H", (_Handler,), {"files": {}, "log": [], "honor_range": True, "drop_after": None})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tarball(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


PAYLOAD = bytes(range(256)) * 400  # 100 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_plain_download_and_skip_when_present(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    out = download(base + "/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert out.read_bytes() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
    n = len(h.log)
    download(base + "/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert len(h.log) == n  # verified file already there: no request


def test_checksum_mismatch_refused_and_file_not_used(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    with pytest.raises(ChecksumError, match="expected sha256") as err:
        download(base + "/f.bin", tmp_path / "f.bin", sha256="ab" * 32, progress=False)
    assert err.value.actual == SHA
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_truncated_part_file_is_resumed_with_range(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:30000])
    download(base + "/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert h.log == [("/f.bin", "bytes=30000-")]


def test_connection_dropped_midway_is_resumed(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    h.drop_after = 70000  # more than one read chunk arrives before the cut
    download(base + "/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert len(h.log) == 2 and h.log[1][1] is not None and h.log[1][1] != "bytes=0-"


def test_server_ignoring_range_restarts(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    h.honor_range = False
    (tmp_path / "f.bin.part").write_bytes(b"garbage" * 100)
    download(base + "/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_complete_part_file_416(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)
    download(base + "/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_http_errors_and_bad_parameters(server, tmp_path):
    _, base = server
    with pytest.raises(DataError, match="404"):
        download(base + "/missing", tmp_path / "x", progress=False)
    with pytest.raises(ParameterError, match="url"):
        download("ftp://example.org/x", tmp_path / "x")
    with pytest.raises(ParameterError, match="sha256"):
        download(base + "/x", tmp_path / "x", sha256="xyz")


def test_download_gtzan_from_local_mirror(server, tmp_path, monkeypatch):
    h, base = server
    tarball = _tarball({
        "genres/blues/blues.00000.au": b"a" * 100,
        "genres/rock/rock.00001.au": b"b" * 100,
    })
    h.files["/mirror/genres.tar.gz"] = tarball
    sha = hashlib.sha256(tarball).hexdigest()
    monkeypatch.setenv("GENRENET_GTZAN_URL", base + "/mirror/genres.tar.gz")
    root = download_gtzan(tmp_path / "gtzan", sha256=sha, progress=False)
    assert (root / "genres" / "blues" / "blues.00000.au").read_bytes() == b"a" * 100
    n = len(h.log)
    download_gtzan(tmp_path / "gtzan", sha256=sha, progress=False)  # already extracted
    assert len(h.log) == n
    # the published checksum is the default, so this small archive is refused before extraction
    with pytest.raises(ChecksumError):
        download_gtzan(tmp_path / "other", progress=False)
    assert not (tmp_path / "other" / "genres").exists()


@pytest.mark.parametrize("evil", ["../escape.txt", "/abs.txt", "genres/../../x.txt"])
def test_safe_extract_refuses_traversal(tmp_path, evil):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tarball({"ok.txt": b"fine", evil: b"bad"}))
    with pytest.raises(DataError, match="escapes"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_safe_extract_refuses_links(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    archive = tmp_path / "l.tar"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="link"):
        safe_extract(archive, tmp_path / "out")
    with pytest.raises(DataError, match="not a readable tar"):
        (tmp_path / "x.tar").write_bytes(b"nope")
        safe_extract(tmp_path / "x.tar", tmp_path / "out")
    assert isinstance(Path(tmp_path), Path)


def test_oversized_part_file_restarts(server, tmp_path):
    h, base = server
    h.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 10))  # from an older, longer file
    download(base + "/f.bin", tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_safe_extract_accepts_a_dot_slash_root_member(tmp_path):
    import shutil
    import subprocess

    src = tmp_path / "src" / "genres" / "blues"
    src.mkdir(parents=True)
    (src / "blues.00000.wav").write_bytes(PAYLOAD)
    archives = []
    if shutil.which("tar"):  # exactly what `tar -C dir -czf x.tgz .` writes: "./", "./genres/", ...
        subprocess.run(["tar", "-C", str(tmp_path / "src"), "-czf", str(tmp_path / "dot.tgz"), "."], check=True)
        with tarfile.open(tmp_path / "dot.tgz") as tar:
            assert tar.getnames()[0] in ("./", ".")
        archives.append(tmp_path / "dot.tgz")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        root = tarfile.TarInfo("./")
        root.type = tarfile.DIRTYPE
        tar.addfile(root)
        info = tarfile.TarInfo("./genres/blues/blues.00000.wav")
        info.size = len(PAYLOAD)
        tar.addfile(info, io.BytesIO(PAYLOAD))
    (tmp_path / "made.tgz").write_bytes(buf.getvalue())
    archives.append(tmp_path / "made.tgz")
    for k, archive in enumerate(archives):
        out = safe_extract(archive, tmp_path / f"out{k}")
        assert (out / "genres" / "blues" / "blues.00000.wav").read_bytes() == PAYLOAD


def test_safe_extract_refuses_an_empty_member_name(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    (tmp_path / "e.tar").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="empty name"):
        safe_extract(tmp_path / "e.tar", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("mode", ["gz", "bz2", "xz"])
def test_safe_extract_truncated_archive_is_a_clear_error(tmp_path, mode):
    import os

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{mode}") as tar:
        for k in range(3):
            data = os.urandom(60_000)  # incompressible, so the cut lands inside member data
            info = tarfile.TarInfo(f"genres/blues/blues.0000{k}.wav")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    whole = buf.getvalue()
    archive = tmp_path / f"cut.tar.{mode}"
    archive.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.tar\.\w+ (is truncated or damaged|is not a readable tar)"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing half-extracted
