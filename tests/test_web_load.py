"""Load test of the production start: gunicorn, 2 workers x 4 threads, on 127.0.0.1.

Runs the documented command (``genrenet.web.PRODUCTION_COMMAND``, with a free port
instead of 8000) against a models directory holding a test bundle, then sends
8 concurrent clients x 25 requests. Every answer must be correct (the right genre
for good uploads, a JSON 422 for the bad ones mixed in) and none may be a 5xx.
The server is stopped whatever happens; every request and the start-up are bounded.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from genre_detector_helpers import HIGH_HZ, LOW_HZ, make_band_bundle, post_chunked, tone, wav_bytes

from genrenet.web import PRODUCTION_COMMAND

pytestmark = pytest.mark.slow

CLIENTS = 8
REQUESTS_PER_CLIENT = 25
STARTUP_TIMEOUT = 180.0
REQUEST_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_argv(port: int) -> list[str]:
    """The documented gunicorn command, with this venv's gunicorn and the given port."""
    argv = shlex.split(PRODUCTION_COMMAND)
    assert argv[0] == "gunicorn" and "-b" in argv
    argv[0] = str(Path(sys.executable).with_name("gunicorn"))
    argv[argv.index("-b") + 1] = f"127.0.0.1:{port}"
    return argv


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip(f"gunicorn is not installed next to {sys.executable}")
    root = tmp_path_factory.mktemp("load-models")
    make_band_bundle(root / "band", name="Band Model")
    port = free_port()
    env = dict(os.environ, GENRENET_MODELS=str(root), GENRENET_MAX_DURATION="30", GENRENET_MAX_UPLOAD_MB="2")
    log_path = root.parent / "gunicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            production_argv(port), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_production_command_is_the_documented_one():
    assert PRODUCTION_COMMAND == "gunicorn 'genrenet.web:create_app()' -w 2 --threads 4 -b 127.0.0.1:8000"
    argv = production_argv(8123)
    assert argv[1:] == ["genrenet.web:create_app()", "-w", "2", "--threads", "4", "-b", "127.0.0.1:8123"]


def test_concurrent_clients_against_gunicorn(server):
    url, log_path = server
    low, high = wav_bytes(tone(LOW_HZ, 2.0)), wav_bytes(tone(HIGH_HZ, 2.5))
    bad = b"this is not audio " * 50

    def client(cid: int) -> list[tuple[int, int, str, float]]:
        out = []
        with requests.Session() as session:
            for i in range(REQUESTS_PER_CLIENT):
                if i % 10 == 9:
                    name, data, expect = "broken.wav", bad, "422"
                elif (cid + i) % 2:
                    name, data, expect = "low.wav", low, "low"
                else:
                    name, data, expect = "high.wav", high, "high"
                t0 = time.perf_counter()
                r = session.post(url + "/api/predict", files={"file": (name, data, "audio/wav")}, timeout=REQUEST_TIMEOUT)
                elapsed = time.perf_counter() - t0
                body = r.json()
                if expect == "422":
                    got = str(r.status_code) if body.get("success") is False and "error" in body else "bad-json"
                else:
                    got = body["Band Model"]["genre"] if r.status_code == 200 and body.get("success") else str(r.status_code)
                out.append((r.status_code, cid, f"{expect}->{got}", elapsed))
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [row for rows in pool.map(client, range(CLIENTS)) for row in rows]
    wall = time.perf_counter() - t0

    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT
    server_errors = [r for r in results if r[0] >= 500]
    assert not server_errors, f"{len(server_errors)} 5xx answers; log:\n{log_path.read_text()[-3000:]}"
    wrong = [r for r in results if r[2].split("->")[0] != r[2].split("->")[1]]
    assert not wrong, f"wrong answers: {wrong[:5]}"
    latencies = sorted(r[3] for r in results)
    median = latencies[len(latencies) // 2]
    print(f"\n{len(results)} requests in {wall:.1f} s ({len(results) / wall:.1f}/s), median {1000 * median:.0f} ms, "
          f"max {1000 * latencies[-1]:.0f} ms")
    # still healthy afterwards
    assert requests.get(url + "/healthz", timeout=10).json()["status"] == "ok"


def test_limits_hold_under_gunicorn(server):
    """gunicorn passes chunked bodies through: the upload limit still cuts them off."""
    url, _ = server
    status, body = post_chunked(url, 8 << 20)  # 8 MB against the 2 MB limit set above
    assert status == 413 and b"upload too large" in body
    big = requests.post(url + "/api/predict", files={"file": ("big.wav", b"\0" * (3 << 20))}, timeout=60)
    assert big.status_code == 413 and big.json()["success"] is False
    assert requests.get(url + "/healthz", timeout=10).status_code == 200


def test_page_and_static_files_under_gunicorn(server):
    url, _ = server
    page = requests.get(url + "/", timeout=30)
    assert page.status_code == 200 and "Find the genre of your track" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert requests.get(url + asset, timeout=30).status_code == 200
    models = requests.get(url + "/api/models", timeout=30).json()
    assert "Band Model" in [m["name"] for m in models["models"]]
    assert models["limits"]["max_upload_mb"] == 2 and models["limits"]["max_duration"] == 30
