"""Tests of the genre-detector web service (genrenet.web): API, errors, page, limits."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest
from genre_detector_helpers import (
    HIGH_HZ,
    LOW_HZ,
    SR,
    bombs,
    make_band_bundle,
    make_sklearn_bundle,
    post_chunked,
    serve_app,
    tone,
    wav_bytes,
    write_audio,
)

from genrenet.errors import ParameterError
from genrenet.predict import Predictor
from genrenet.web import PRODUCTION_COMMAND, create_app


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("web-models")
    make_band_bundle(root / "band", metrics={"accuracy": 0.875, "loss": 0.4, "macro_f1": 0.8})
    make_sklearn_bundle(root / "baseline", extra_meta={"dataset": "demo"})
    return root


@pytest.fixture(scope="module")
def predictor(models_root):
    return Predictor(models_dir=models_root, include_default=False, max_duration=30.0)


@pytest.fixture
def client(predictor, tmp_path):
    app = create_app(predictor, book_dir=tmp_path / "no-book")
    return app.test_client()


def post_file(client, data: bytes, filename: str, *, content_type: str | None = None, query: str = ""):
    file = (io.BytesIO(data), filename, content_type) if content_type else (io.BytesIO(data), filename)
    return client.post("/api/predict" + query, data={"file": file}, content_type="multipart/form-data")


def assert_error(resp, status: int, pattern: str):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["success"] is False
    assert re.search(pattern, body["error"], re.I), body["error"]
    assert "Traceback" not in resp.get_data(as_text=True)


def test_predict_wav_returns_the_thesis_structure(client):
    resp = post_file(client, wav_bytes(tone(HIGH_HZ, 3.0)), "song.wav")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    assert list(body)[:2] == ["Band Model", "Tone Baseline"]  # model order kept, not sorted
    for name in ("Band Model", "Tone Baseline"):
        entry = body[name]
        assert set(entry["data"]) == {"low", "high"}
        assert all(isinstance(p, float) for p in entry["data"].values())
        assert sum(entry["data"].values()) == pytest.approx(1.0, abs=1e-6)
        assert entry["genre"] == "high"
        assert isinstance(entry["metrics"]["accuracy"], float)
    assert body["Band Model"]["metrics"] == {"accuracy": 0.875, "loss": 0.4, "macro_f1": 0.8}
    assert body["Band Model"]["dataset"] == "synthetic tones" and body["Band Model"]["synthetic"] is False
    track = body["track"]
    assert track["duration"] == pytest.approx(3.0) and track["sample_rate"] == SR
    assert track["windows_used"] == track["windows_total"] >= 3 and track["truncated"] is False


@pytest.mark.parametrize("ext", [".flac", ".mp3", ".ogg"])
def test_predict_other_formats(client, tmp_path, ext):
    path = write_audio(tmp_path / f"x{ext}", tone(LOW_HZ, 2.5))
    resp = post_file(client, path.read_bytes(), f"My Song{ext.upper()}")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["Band Model"]["genre"] == "low"


def test_predict_m4a_through_ffmpeg(client, tmp_path):
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    wav = write_audio(tmp_path / "in.wav", tone(HIGH_HZ, 2.0))
    m4a = tmp_path / "out.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "96k", str(m4a)], check=True,
                   timeout=60)
    before = set(Path(tempfile.gettempdir()).glob("genrenet-upload-*"))
    resp = post_file(client, m4a.read_bytes(), "phone recording.m4a")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["Band Model"]["genre"] == "high"
    assert set(Path(tempfile.gettempdir()).glob("genrenet-upload-*")) == before  # temporary file removed


def test_type_from_mimetype_when_name_has_no_extension(client):
    resp = post_file(client, wav_bytes(tone(LOW_HZ, 2.0)), "blob", content_type="audio/wav")
    assert resp.status_code == 200
    assert resp.get_json()["Tone Baseline"]["genre"] == "low"


def test_client_file_name_is_never_a_path(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resp = post_file(client, wav_bytes(tone(LOW_HZ, 2.0)), "../../../../tmp/evil/../x.wav")
    assert resp.status_code == 200
    assert list(tmp_path.iterdir()) == []  # nothing written in the working directory
    assert not Path("/tmp/evil").exists()


def test_model_selection_query(client):
    resp = post_file(client, wav_bytes(tone(LOW_HZ, 2.0)), "a.wav", query="?model=Tone+Baseline")
    body = resp.get_json()
    assert resp.status_code == 200
    assert set(body) == {"Tone Baseline", "track", "success"}
    assert_error(post_file(client, wav_bytes(tone(LOW_HZ, 1.0)), "a.wav", query="?model=Missing"), 400, "Missing")


def test_models_and_health(client):
    body = client.get("/api/models").get_json()
    assert body["success"] is True
    names = [m["name"] for m in body["models"]]
    assert names == ["Band Model", "Tone Baseline"]
    band = body["models"][0]
    assert band["metrics"]["accuracy"] == 0.875 and band["genres"] == ["low", "high"]
    assert band["kind"] == "keras" and body["models"][1]["kind"] == "sklearn"
    assert band["synthetic"] is False and body["models"][1]["synthetic"] is True  # dataset "demo"
    assert band["feature"]["kind"] == "logmel"
    assert "/" not in band["bundle"]  # server paths are not disclosed
    assert body["limits"]["max_upload_mb"] == 50 and ".mp3" in body["limits"]["extensions"]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok", "models": 2, "success": True}


def test_no_file_is_400(client):
    assert_error(client.post("/api/predict"), 400, "no file")
    assert_error(client.post("/api/predict", data={"other": "x"}), 400, "field 'file'")
    assert_error(
        client.post("/api/predict", data={"upload": (io.BytesIO(b"abc"), "a.wav")}, content_type="multipart/form-data"),
        400,
        "no file",
    )
    assert_error(post_file(client, b"", "empty.wav"), 400, "empty")


def test_unsupported_type_is_415(client):
    assert_error(post_file(client, b"hello world", "notes.txt"), 415, r"unsupported file type '\.txt'")
    assert_error(post_file(client, b"MZ\x90\x00", "setup.exe"), 415, "unsupported")
    long_ext = post_file(client, b"x", "a." + "z" * 5000)
    assert_error(long_ext, 415, "unsupported")
    assert len(long_ext.get_json()["error"]) < 400
    assert_error(post_file(client, b"data", "noextension", content_type="application/octet-stream"), 415, "unsupported")


def test_undecodable_content_is_422(client, tmp_path):
    assert_error(post_file(client, b"this is not audio at all " * 40, "fake.wav"), 422, r"cannot decode the \.wav")
    mp3 = write_audio(tmp_path / "t.mp3", tone(LOW_HZ, 3.0)).read_bytes()
    assert_error(post_file(client, mp3[: len(mp3) // 3], "cut.mp3"), 422, "mp3")
    assert_error(post_file(client, bytes(range(256)) * 20, "noise.flac"), 422, "decode")


def test_too_long_is_422(predictor, models_root, tmp_path):
    short = Predictor(models_dir=models_root, include_default=False, max_duration=4.0, warmup=False)
    c = create_app(short, book_dir=tmp_path).test_client()
    assert_error(post_file(c, wav_bytes(tone(LOW_HZ, 5.0)), "long.wav"), 422, r"too long.*4 s")
    assert post_file(c, wav_bytes(tone(LOW_HZ, 3.5)), "ok.wav").status_code == 200


def test_too_large_is_413(predictor, tmp_path):
    c = create_app(predictor, max_upload_mb=0.1, book_dir=tmp_path).test_client()
    big = wav_bytes(tone(LOW_HZ, 3.0))  # ~130 kB > 0.1 MB
    assert len(big) > 0.1 * 1024 * 1024
    assert_error(post_file(c, big, "big.wav"), 413, r"too large.*0\.1 MB")
    assert post_file(c, wav_bytes(tone(LOW_HZ, 1.0)), "small.wav").status_code == 200


def test_streamed_upload_without_content_length_is_413(predictor, tmp_path):
    """A chunked request body that never states its length is cut off at the limit."""
    app = create_app(predictor, max_upload_mb=0.25, book_dir=tmp_path)
    with serve_app(app) as url:
        status, body = post_chunked(url, 1 << 20)  # 1 MB, four times the limit
        assert status == 413
        assert b'"success":false' in body.replace(b" ", b"")
        # and the server keeps serving
        import requests

        ok = requests.post(url + "/api/predict", files={"file": ("a.wav", wav_bytes(tone(LOW_HZ, 1.0)))}, timeout=60)
        assert ok.status_code == 200


def test_json_errors_for_unknown_routes_methods_and_crashes(predictor, tmp_path):
    app = create_app(predictor, book_dir=tmp_path)
    c = app.test_client()
    assert_error(c.get("/nope"), 404, "not found: /nope")
    assert_error(c.get("/api/predict"), 405, "GET is not allowed")
    assert_error(c.delete("/api/models"), 405, "not allowed")

    class Exploding:
        models = predictor.models
        max_duration = 60.0
        max_windows = 8

        def predict_bytes(self, data, filename_hint=None, *, models=None):
            raise RuntimeError("secret internal detail /srv/model.keras")

    c2 = create_app(Exploding(), book_dir=tmp_path).test_client()
    resp = post_file(c2, wav_bytes(tone(LOW_HZ, 1.0)), "a.wav")
    assert_error(resp, 500, "internal server error")
    assert "secret" not in resp.get_data(as_text=True)


def test_upload_page(client):
    resp = client.get("/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    for text in (
        "MUSIC GENRE DETECTOR",
        "Find the genre of your track",
        "Upload or drop a file right here",
        'href="#how-it-works"',
        'id="how-it-works"',
        "How does it work?",
        ">Documentation<",
        'href="/docs/"',
        ".mp3",
        ".wav",
        'type="file"',
    ):
        assert text in html, text
    assert "Band Model" in html and "accuracy 88%" in html
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # Nothing is loaded from another host: no CDN scripts, styles or fonts.
    for asset in ("/static/style.css", "/static/app.js", "/static/favicon.svg"):
        r = client.get(asset)
        assert r.status_code == 200, asset
        text = html + r.get_data(as_text=True)
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), asset
        assert "@import" not in text and "fonts.googleapis" not in text


def test_docs_link_is_configurable_and_book_is_served(predictor, tmp_path, monkeypatch):
    c = create_app(predictor, docs_url="https://example.org/book/", book_dir=tmp_path).test_client()
    assert 'href="https://example.org/book/"' in c.get("/").get_data(as_text=True)
    monkeypatch.setenv("GENRENET_DOCS_URL", "/manual/")
    assert 'href="/manual/"' in create_app(predictor).test_client().get("/").get_data(as_text=True)

    missing = create_app(predictor, book_dir=tmp_path / "none").test_client()
    assert_error(missing.get("/docs/"), 404, "book has not been built")
    book = tmp_path / "html"
    (book / "sub").mkdir(parents=True)
    (book / "index.html").write_text("<h1>The book</h1>")
    (book / "sub" / "index.html").write_text("<h1>Chapter</h1>")
    (tmp_path / "secret.txt").write_text("no")
    served = create_app(predictor, book_dir=book).test_client()
    assert b"The book" in served.get("/docs/").data
    assert b"Chapter" in served.get("/docs/sub/").data
    assert served.get("/docs/../secret.txt").status_code == 404
    assert served.get("/docs/%2e%2e/secret.txt").status_code == 404


def test_configuration_errors(predictor, monkeypatch):
    with pytest.raises(ParameterError, match="max_upload_mb"):
        create_app(predictor, max_upload_mb=0)
    monkeypatch.setenv("GENRENET_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ParameterError, match="GENRENET_MAX_UPLOAD_MB"):
        create_app(predictor)


def test_app_factory_loads_models_from_the_environment(models_root, monkeypatch, tmp_path):
    monkeypatch.setenv("GENRENET_MODELS", str(models_root))
    monkeypatch.setenv("GENRENET_MAX_DURATION", "3")
    app = create_app(book_dir=tmp_path)
    p = app.config["GENRENET_PREDICTOR"]
    assert {"Band Model", "Tone Baseline"} <= set(p.model_names)
    assert p.max_duration == 3.0
    assert_error(post_file(app.test_client(), wav_bytes(tone(LOW_HZ, 3.5)), "a.wav"), 422, "too long")


def test_serve_command_help_names_the_production_command(capsys):
    from genrenet.cli import main
    from genrenet.commands import serve

    assert serve.PRODUCTION_COMMAND == PRODUCTION_COMMAND
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert PRODUCTION_COMMAND in capsys.readouterr().out
    assert main(["serve", "--port", "70000"]) == 1
    assert "--port" in capsys.readouterr().err


def test_default_model_through_the_api_on_real_gtzan(gtzan_mini, tmp_path):
    from genrenet.predict import default_bundle_path

    if default_bundle_path() is None:
        pytest.skip("the default model bundle genrenet/pretrained/musicnn_gtzan10 is not installed")
    p = Predictor(bundles=[], include_default=True)
    c = create_app(p, book_dir=tmp_path).test_client()
    name = p.model_names[0]
    for path in (gtzan_mini / "metal" / "metal.00002.wav", gtzan_mini / "classical" / "classical.00010.wav"):
        if not path.exists():
            path = sorted((gtzan_mini / path.parent.name).glob("*.wav"))[0]
        resp = post_file(c, path.read_bytes(), path.name)
        assert resp.status_code == 200
        body = resp.get_json()
        assert body[name]["genre"] == path.parent.name
        assert body["track"]["duration"] > 10



# --------------------------------------------------------------------------- hostile clients (issue 11)


def test_decode_bombs_get_422_without_decoding(client, tmp_path):
    import tracemalloc

    for name, data in bombs().items():
        tracemalloc.start()
        resp = post_file(client, data, name)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        assert_error(resp, 422, "too long|sample rate 1 Hz")
        # the upload itself is held a few times (multipart parsing, bytes); nothing is decoded
        assert peak < 2.0 + 4 * len(data) / 1e6, f"{name}: {peak:.1f} MB"


def test_malformed_chunked_bodies_are_400(predictor, tmp_path):
    """The development server dechunks too: broken framing is a JSON 400, never a 500."""
    import socket

    app = create_app(predictor, book_dir=tmp_path)
    part = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nxxxx\r\n--B--\r\n'
    head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    with serve_app(app) as url:
        port = int(url.rsplit(":", 1)[1])
        for payload in (head + b"zz\r\n" + part + b"\r\n0\r\n\r\n", head + b"%x\r\n" % len(part) + part[:10]):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(payload)
                if not payload.endswith(b"\r\n\r\n"):
                    sock.shutdown(socket.SHUT_WR)  # the body breaks off
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status = int(answer.split(b" ", 2)[1])
            assert status == 400, answer[:300]
            assert b'"success": false' in answer and b"request body" in answer


def test_oversized_body_is_refused_before_it_is_read(predictor, tmp_path):
    c = create_app(predictor, max_upload_mb=0.1, book_dir=tmp_path).test_client()
    resp = c.post("/api/predict", data=b"x" * 200_000, content_type="multipart/form-data; boundary=B")
    assert_error(resp, 413, r"upload too large: the limit is 0\.1 MB")


def test_large_form_field_is_not_called_an_oversized_upload(client):
    resp = client.post("/api/predict", data={"comment": "x" * 600_000, "file": (io.BytesIO(b"RIFF"), "a.wav")},
                       content_type="multipart/form-data")
    assert_error(resp, 413, "form field other than 'file' is larger than 256 KB")
    assert "50 MB" not in resp.get_json()["error"]


def test_m4a_decode_errors_do_not_leak_server_details(client):
    import shutil

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    resp = post_file(client, b"\0\0\0\x20ftypM4A " + bytes(range(256)) * 10, "voice.m4a")
    assert_error(resp, 422, r"cannot decode the \.m4a upload")
    text = resp.get_json()["error"]
    assert tempfile.gettempdir() not in text and "genrenet-upload" not in text and "@ 0x" not in text


def test_workers_remove_stale_temporary_uploads_on_start(predictor, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / "genrenet-upload-4000000-x1y2.m4a"  # pid above pid_max: its process is gone
    stale.write_bytes(b"half an upload")
    fresh = tmp_path / f"genrenet-upload-{__import__('os').getpid()}-live.m4a"
    fresh.write_bytes(b"being decoded")
    create_app(predictor, book_dir=tmp_path / "no-book")
    assert not stale.exists() and fresh.exists()


def test_serve_refuses_non_positive_limits(capsys):
    from genrenet.cli import main

    for flag in ("--max-duration", "--max-upload-mb"):
        assert main(["serve", flag, "0"]) == 1
        assert f"{flag} must be a positive number" in capsys.readouterr().err


def test_bombs_are_refused_while_every_prediction_slot_is_busy(predictor, tmp_path, monkeypatch):
    """The header check runs before an upload waits for a prediction slot."""
    import threading

    monkeypatch.setenv("GENRENET_MAX_CONCURRENT", "1")
    release, entered = threading.Event(), threading.Event()

    class Slow:
        models, max_duration, max_windows = predictor.models, predictor.max_duration, predictor.max_windows

        def predict_bytes(self, data, filename_hint=None, *, models=None):
            entered.set()
            release.wait(30)
            return predictor.predict_bytes(data, filename_hint, models=models)

    app = create_app(Slow(), book_dir=tmp_path)
    busy = threading.Thread(target=lambda: post_file(app.test_client(), wav_bytes(tone(LOW_HZ, 1.0)), "a.wav"))
    busy.start()
    try:
        assert entered.wait(30)
        for name, data in bombs().items():  # answered although the only slot is taken
            assert_error(post_file(app.test_client(), data, name), 422, "too long|sample rate")
        assert busy.is_alive()
    finally:
        release.set()
        busy.join(30)


def test_development_server_errors_are_json(predictor, tmp_path):
    """`genrenet serve` runs werkzeug's server with a handler whose own 414/431/400 answers are JSON."""
    import json
    import socket
    import threading

    from werkzeug.serving import make_server

    from genrenet.web.app import dev_request_handler

    server = make_server("127.0.0.1", 0, create_app(predictor, book_dir=tmp_path), threaded=True,
                         request_handler=dev_request_handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cases = {414: b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                 431: b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n",
                 400: b"GET / x\x01 HTTP/1.1\r\n\r\n"}
        for status, payload in cases.items():
            with socket.create_connection(("127.0.0.1", server.server_port), timeout=30) as sock:
                sock.sendall(payload)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == str(status).encode(), head
            assert b"application/json" in head
            assert json.loads(body)["success"] is False
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
