"""Load and abuse tests of the production deployment: nginx in front of gunicorn, on 127.0.0.1.

The deployment under test is the documented one: gunicorn started with the documented
command (``genrenet.web.PRODUCTION_COMMAND``, free ports instead of 8000) behind nginx
running ``deploy/nginx-genrenet.conf`` (the listen and upstream ports substituted, temp
paths in a private directory). A models directory holds a test bundle with known answers.

* 8 concurrent clients x 25 requests of good uploads mixed with undecodable files and
  decode bombs, while slow clients trickle their bodies at 5 bytes/s and a probe polls
  ``/healthz``: zero 5xx, every answer right, ``/healthz`` within 1 s every time, and the
  peak memory of gunicorn's processes below twice their idle memory.
* Malformed requests and bodies (bad chunking, overlong request lines and headers) get
  JSON 4xx answers from every layer, never a 5xx or a traceback.

Servers and clients are stopped whatever happens; every wait is bounded.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from genre_detector_helpers import HIGH_HZ, LOW_HZ, bombs, make_band_bundle, post_chunked, tone, wav_bytes

from genrenet.web import PRODUCTION_COMMAND

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NGINX_SITE = ROOT / "deploy" / "nginx-genrenet.conf"
CLIENTS = 8
REQUESTS_PER_CLIENT = 25
SLOW_CLIENTS = 16
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


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def nginx_config(workdir: Path, listen: int, upstream: int) -> Path:
    """A main nginx.conf around the documented site file (ports and temp paths changed only)."""
    site = NGINX_SITE.read_text()
    assert "listen 80;" in site and "server 127.0.0.1:8000;" in site
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    (workdir / "site.conf").write_text(site)
    temp = workdir / "temp"
    temp.mkdir()
    temp.chmod(0o777)  # nginx's workers drop root privileges and must write request bodies here
    paths = "\n".join(f"  {kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                         "scgi"))
    main = workdir / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\ndaemon off;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n  access_log off;\n{paths}\n  include {workdir / 'site.conf'};\n}}\n"
    )
    return main


def wait_healthy(url: str, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                pytest.fail(f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no answer within {STARTUP_TIMEOUT:.0f} s:\n" + "\n".join(p.read_text()[-2000:] for p in logs))
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip(f"gunicorn is not installed next to {sys.executable}")
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)")
    root = tmp_path_factory.mktemp("load-models")
    make_band_bundle(root / "band", name="Band Model")
    work = Path(tempfile.mkdtemp(prefix="genrenet-nginx-"))
    work.chmod(0o755)
    app_port, web_port = free_port(), free_port()
    env = dict(os.environ, GENRENET_MODELS=str(root), GENRENET_MAX_DURATION="30", GENRENET_MAX_UPLOAD_MB="2")
    g_log, n_log = root.parent / "gunicorn.log", work / "nginx.out"
    procs = []
    try:
        with open(g_log, "wb") as log:
            procs.append(subprocess.Popen(production_argv(app_port), env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        conf = nginx_config(work, web_port, app_port)
        with open(n_log, "wb") as log:
            procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)], stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        app_url, web_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{web_port}"
        wait_healthy(app_url, procs, [g_log, n_log])
        wait_healthy(web_url, procs, [g_log, n_log])
        yield {"web": web_url, "app": app_url, "gunicorn": procs[0], "log": g_log}
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- helpers


class SlowClients:
    """``n`` clients that announce a 100 kB upload and send it at 5 bytes/s until stopped."""

    def __init__(self, port: int, n: int, *, sources: int = 1):
        self.port, self.n, self.sources = port, n, sources
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]
        self.connected = 0
        self.lock = threading.Lock()

    def _run(self, i: int) -> None:
        head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                b"Content-Length: 100000\r\n\r\n--B\r\n")
        # With several sources the clients come from 127.0.0.2, 127.0.0.3, ... (all loopback).
        source = ("127.0.0.1" if self.sources == 1 else f"127.0.0.{2 + i % self.sources}", 0)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10, source_address=source) as sock:
                sock.sendall(head)
                with self.lock:
                    self.connected += 1
                while not self.stop.wait(1.0):
                    sock.sendall(b"xxxxx")
        except OSError:
            pass  # the server may close a slow client: that is allowed

    def __enter__(self):
        for t in self.threads:
            t.start()
        deadline = time.monotonic() + 10
        while self.connected < self.n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


class HealthProbe:
    """Polls ``/healthz`` every 0.2 s and records each answer's status and latency."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[int, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                status = requests.get(self.url + "/healthz", timeout=10).status_code
            except requests.RequestException:
                status = 0
            self.samples.append((status, time.perf_counter() - t0))
            self.stop.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=15)


class MemorySampler:
    """Resident memory (MB) of a process and its children, sampled every 0.1 s."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> float:
        import psutil

        proc = psutil.Process(self.pid)
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 1e6

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            self.stop.wait(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=15)


def raw_request(port: int, payload: bytes, timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            data += piece
            head, sep, body = data.partition(b"\r\n\r\n")
            match = re.search(rb"content-length:\s*(\d+)", head, re.I)
            if sep and match and len(body) >= int(match.group(1)):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


# --------------------------------------------------------------------------- tests


def test_production_command_is_the_documented_one():
    assert PRODUCTION_COMMAND == (
        "gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'"
    )
    argv = production_argv(8123)
    assert argv[1:] == ["-c", "python:genrenet.web.gunicorn_conf", "-b", "127.0.0.1:8123", "genrenet.web:create_app()"]
    from genrenet.web import gunicorn_conf

    assert gunicorn_conf.worker_class == "genrenet.web.gunicorn_conf.JSONErrorWorker"
    assert gunicorn_conf.threads > 2 * 2  # more threads than concurrent predictions (2 per worker)
    # one worker by default (each holds TensorFlow and every shipped model), its heap arenas capped
    assert gunicorn_conf.workers == int(os.environ.get("GENRENET_WORKERS", "1"))
    assert gunicorn_conf.limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")
    readme = (ROOT / "README.md").read_text()
    assert PRODUCTION_COMMAND in readme and "deploy/nginx-genrenet.conf" in readme


def test_mixed_load_with_bombs_and_slow_clients(deployment):
    """8 x 25 requests (good uploads, undecodable files, decode bombs) while 16 clients trickle bodies."""
    web, log_path = deployment["web"], deployment["log"]
    port = int(web.rsplit(":", 1)[1])
    # 20 s clips (880 kB each), classified by the test model and by the shipped default model
    low, high = wav_bytes(tone(LOW_HZ, 20.0)), wav_bytes(tone(HIGH_HZ, 20.0, seed=1))
    bad = b"this is not audio " * 50
    bomb_files = list(bombs().items())
    memory = MemorySampler(deployment["gunicorn"].pid)
    idle = memory.rss()

    def client(cid: int) -> list[tuple[int, str, str, float]]:
        out = []
        with requests.Session() as session:
            for i in range(REQUESTS_PER_CLIENT):
                if i % 10 == 9:
                    name, data, expect = "broken.wav", bad, "422"
                elif i % 10 == 4:
                    name, data = bomb_files[(cid + i) % len(bomb_files)]
                    expect = "422"
                elif (cid + i) % 2:
                    name, data, expect = "low.wav", low, "low"
                else:
                    name, data, expect = "high.wav", high, "high"
                t0 = time.perf_counter()
                r = session.post(web + "/api/predict", files={"file": (name, data)}, timeout=REQUEST_TIMEOUT)
                elapsed = time.perf_counter() - t0
                body = r.json()
                if expect == "422":
                    got = str(r.status_code) if body.get("success") is False and "error" in body else "bad-json"
                else:
                    got = body["Band Model"]["genre"] if r.status_code == 200 and body.get("success") else str(r.status_code)
                out.append((r.status_code, name, f"{expect}->{got}", elapsed))
        return out

    with memory, HealthProbe(web) as probe, SlowClients(port, SLOW_CLIENTS) as slow:
        assert slow.connected == SLOW_CLIENTS
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = [row for rows in pool.map(client, range(CLIENTS)) for row in rows]
        wall = time.perf_counter() - t0

    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT
    server_errors = [r for r in results if r[0] >= 500]
    assert not server_errors, f"{len(server_errors)} 5xx answers; log:\n{log_path.read_text()[-3000:]}"
    wrong = [r for r in results if r[2].split("->")[0] != r[2].split("->")[1]]
    assert not wrong, f"wrong answers: {wrong[:5]}"
    health = [lat for status, lat in probe.samples if status == 200]
    assert probe.samples and len(health) == len(probe.samples), probe.samples
    bomb_times = sorted(r[3] for r in results if r[1] in dict(bomb_files))
    latencies = sorted(r[3] for r in results)
    print(f"\n{len(results)} requests in {wall:.1f} s ({len(results) / wall:.1f}/s), median "
          f"{1000 * latencies[len(latencies) // 2]:.0f} ms, max {1000 * latencies[-1]:.0f} ms; bombs: "
          f"max {1000 * bomb_times[-1]:.0f} ms; /healthz: {len(health)} probes, max {1000 * max(health):.0f} ms; "
          f"memory idle {idle:.0f} MB, peak {memory.peak:.0f} MB")
    assert max(health) < 1.0, f"/healthz took {max(health):.2f} s"
    assert memory.peak < 2 * idle, f"peak {memory.peak:.0f} MB vs idle {idle:.0f} MB"
    assert "Traceback" not in log_path.read_text()
    assert requests.get(web + "/healthz", timeout=10).json()["status"] == "ok"


def test_slow_clients_cannot_starve_healthz(deployment):
    """The issue's reproduction (16 clients at 5 bytes/s), six times over from several addresses.

    gunicorn alone stops answering with 40 such clients; through nginx the service keeps answering.
    """
    web = deployment["web"]
    port = int(web.rsplit(":", 1)[1])
    with SlowClients(port, 6 * SLOW_CLIENTS, sources=4) as slow, HealthProbe(web) as probe:
        assert slow.connected == 6 * SLOW_CLIENTS
        time.sleep(6.0)  # longer than the first-byte wait of gunicorn's threads (5 s)
        ok = requests.post(web + "/api/predict", files={"file": ("a.wav", wav_bytes(tone(HIGH_HZ, 1.5)))}, timeout=30)
    assert ok.status_code == 200 and ok.json()["Band Model"]["genre"] == "high"
    assert len(probe.samples) >= 10 and all(status == 200 and lat < 1.0 for status, lat in probe.samples), probe.samples


@pytest.mark.parametrize("layer", ["web", "app"])
def test_malformed_requests_get_json_4xx(deployment, layer):
    """Bad chunk sizes, extensions, trailers, terminators, overlong request lines and headers:
    JSON 4xx from nginx and from gunicorn alike (the app's port is also reachable locally)."""
    url, log_path = deployment[layer], deployment["log"]
    port = int(url.rsplit(":", 1)[1])
    part = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nxxxx\r\n--B--\r\n'
    head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    size = b"%x" % len(part)
    cases = {
        "chunk size": head + b"zz\r\n" + part + b"\r\n0\r\n\r\n",
        "chunk extension": head + size + b";a\x01b\r\n" + part + b"\r\n0\r\n\r\n",
        "trailer": head + size + b"\r\n" + part + b"\r\n0\r\nBad Trailer\r\n\r\n",
        "terminator": head + size + b"\r\n" + part + b"XX0\r\n\r\n",
        "request line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    }
    for name, payload in cases.items():
        status, headers, body = raw_request(port, payload)
        # nginx accepts odd chunk extensions and trailers and passes a well-formed body on: the app then
        # finds no audio in it (422); gunicorn refuses them (400). Neither may answer 5xx or HTML.
        assert 400 <= status < 500, (layer, name, status, body[:200])
        assert headers.get("content-type", "").startswith("application/json"), (layer, name, headers)
        assert b'"success": false' in body.replace(b'"success":false', b'"success": false'), (layer, name, body)
    assert "Traceback" not in log_path.read_text()


def test_limits_hold_behind_nginx(deployment):
    """Chunked bodies reach the app complete: the upload limit still cuts them off, with JSON."""
    web = deployment["web"]
    status, body = post_chunked(web, 8 << 20)  # 8 MB against the 2 MB limit set above
    assert status == 413 and b"upload too large" in body
    big = requests.post(web + "/api/predict", files={"file": ("big.wav", b"\0" * (3 << 20))}, timeout=60)
    assert big.status_code == 413 and big.json()["success"] is False
    field = requests.post(web + "/api/predict", data={"comment": "x" * 400_000},
                          files={"file": ("a.wav", wav_bytes(tone(LOW_HZ, 1.0)))}, timeout=60)
    assert field.status_code == 413 and "form field other than 'file'" in field.json()["error"]
    missing = requests.get(web + "/no/such/page", timeout=10)
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert requests.get(web + "/healthz", timeout=10).status_code == 200


def test_page_and_static_files_behind_nginx(deployment):
    web = deployment["web"]
    page = requests.get(web + "/", timeout=30)
    assert page.status_code == 200 and "Find the genre of your track" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert requests.get(web + asset, timeout=30).status_code == 200
    models = requests.get(web + "/api/models", timeout=30).json()
    assert "Band Model" in [m["name"] for m in models["models"]]
    assert models["limits"]["max_upload_mb"] == 2 and models["limits"]["max_duration"] == 30
