"""A&R notifications (genrenet.watch): subscriptions, matching, and end to end across a restart."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from genre_detector_helpers import HIGH_HZ, LOW_HZ, make_band_bundle, tone, write_audio

from genrenet.errors import ParameterError
from genrenet.watch import Subscription, load_subscriptions, matches


def _yaml(path, text):
    path.write_text(text)
    return path


def test_subscriptions_are_validated(tmp_path):
    subs = load_subscriptions(_yaml(tmp_path / "s.yml", """
subscriptions:
  - name: scout
    genres: [Jazz, blues]
    min_probability: 0.6
    webhook: http://127.0.0.1:9/hook
  - name: desk
    genres: metal
    file: out/metal.jsonl
    model: Band Model
"""))
    assert subs[0] == Subscription("scout", ("jazz", "blues"), 0.6, "http://127.0.0.1:9/hook")
    assert subs[1].file == tmp_path / "out" / "metal.jsonl" and subs[1].min_probability == 0.5
    assert subs[1].target == f"file:{tmp_path / 'out' / 'metal.jsonl'}"
    bad = {
        "needs exactly one of webhook": "- {name: a, genres: [x], webhook: 'http://h/', file: f}",
        "min_probability": "- {name: a, genres: [x], min_probability: 2, file: f}",
        "http\\(s\\) URL": "- {name: a, genres: [x], webhook: 'ftp://h/'}",
        "genres": "- {name: a, genres: [], file: f}",
        "unknown keys": "- {name: a, genres: [x], file: f, colour: red}",
        "unique": "- {name: a, genres: [x], file: f}\n  - {name: a, genres: [y], file: g}",
    }
    for message, item in bad.items():
        with pytest.raises(ParameterError, match=message):
            load_subscriptions(_yaml(tmp_path / "bad.yml", "subscriptions:\n  " + item + "\n"))
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_subscriptions(_yaml(tmp_path / "bad.yml", "subscriptions: [\n"))
    with pytest.raises(ParameterError, match="missing.yml"):
        load_subscriptions(tmp_path / "missing.yml")


def test_matching_by_genre_threshold_and_model():
    from genrenet.predict import ModelResult, PredictionResult

    res = PredictionResult(results=(ModelResult("A", {"jazz": 0.7, "rock": 0.3}, {}, 1, 1),
                                    ModelResult("B", {"jazz": 0.4, "rock": 0.6}, {}, 1, 1)),
                           duration=3.0, sample_rate=22050, max_windows=48)
    subs = [Subscription("j", ("jazz",), 0.6, file="x"), Subscription("r", ("rock", "pop"), 0.5, file="y"),
            Subscription("rb", ("rock",), 0.5, file="z", model="A")]
    got = [(s.name, m, hit) for s, m, hit in matches(res, subs)]
    assert got == [("j", "A", {"jazz": 0.7}), ("r", "B", {"rock": 0.6})]


class _Receiver(BaseHTTPRequestHandler):
    """Records JSON POSTs; the path /flaky answers 500 to its first two requests."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.lock:
            srv.requests.append((self.path, self.headers.get("X-Genrenet-Delivery"), body))
            fail = self.path == "/flaky" and srv.flaky_failures < 2
            if fail:
                srv.flaky_failures += 1
            else:
                srv.accepted.append((self.path, body))
        self.send_response(500 if fail else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    srv.lock, srv.requests, srv.accepted, srv.flaky_failures = threading.Lock(), [], [], 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _upload(folder, name, freq, seed):
    """Write an upload the way a server receiving it would: to a temporary name, then rename."""
    tmp = write_audio(folder / f".{name}.part.wav", tone(freq, 2.0, seed=seed))
    os.replace(tmp, folder / name)
    return str(folder / name)


def _start(args, log):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, "-m", "genrenet", "watch", *args], stdout=log, stderr=subprocess.STDOUT,
                            env=env)


def _wait(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_watch_delivers_every_match_exactly_once_across_a_restart(tmp_path, receiver):
    models = tmp_path / "models"
    make_band_bundle(models / "band")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    subs = _yaml(tmp_path / "subs.yml", f"""
subscriptions:
  - {{name: lows, genres: [low], min_probability: 0.6, webhook: "{base}/lows"}}
  - {{name: highs, genres: [high], min_probability: 0.6, webhook: "{base}/flaky"}}
  - {{name: high-file, genres: [high], min_probability: 0.6, file: matches/high.jsonl}}
""")
    state = tmp_path / "state.sqlite"
    args = [str(uploads), "--subscriptions", str(subs), "--state", str(state), "--models-dir", str(models),
            "--no-default", "--interval", "0.3", "--settle", "0.3", "--retry-base", "0.3"]
    expected = {}  # track -> subscriptions it must reach
    log = open(tmp_path / "watch.log", "wb")
    procs = []
    try:
        first = _start(args, log)
        procs.append(first)
        for i in range(4):  # the folder fills while watch runs
            freq = LOW_HZ if i % 2 == 0 else HIGH_HZ
            expected[_upload(uploads, f"a{i}.wav", freq, i)] = {"lows"} if freq == LOW_HZ else {"highs", "high-file"}
            time.sleep(0.5)
        _wait(lambda: len(receiver.accepted) >= 2, "the first deliveries")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
        for i in range(3):  # uploads arriving while watch is down are not lost
            expected[_upload(uploads, f"b{i}.wav", HIGH_HZ, 10 + i)] = {"highs", "high-file"}
        second = _start(args, log)
        procs.append(second)
        expected[_upload(uploads, "c0.wav", LOW_HZ, 20)] = {"lows"}
        webhook_total = sum(len(s - {"high-file"}) for s in expected.values())
        _wait(lambda: len(receiver.accepted) >= webhook_total, "every webhook delivery")
        time.sleep(1.5)  # a duplicate, if any, would arrive now
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.close()

    got = {}
    for path, body in receiver.accepted:
        sub = {"/lows": "lows", "/flaky": "highs"}[path]
        assert body["subscription"] == sub and body["model"] == "Band Model"
        assert set(body) == {"id", "subscription", "track", "genres", "probabilities", "model", "time"}
        got.setdefault(body["track"], []).append(sub)
    lines = [json.loads(x) for x in (tmp_path / "matches" / "high.jsonl").read_text().splitlines()]
    for body in lines:
        got.setdefault(body["track"], []).append(body["subscription"])
        assert body["genres"]["high"] >= 0.6
    assert {t: sorted(s) for t, s in got.items()} == {t: sorted(s) for t, s in expected.items()}  # once each
    ids = [b["id"] for _, b in receiver.accepted] + [b["id"] for b in lines]
    assert len(ids) == len(set(ids))

    db = sqlite3.connect(state)
    assert db.execute("SELECT COUNT(*), SUM(status='classified') FROM tracks").fetchone() == (8, 8)
    total = sum(len(s) for s in expected.values())
    assert db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall() == [("delivered", total)]
    # the first two /flaky answers were 500s: whichever deliveries met them were retried (with backoff)
    # until delivered, so the highs deliveries took exactly two attempts more than there are of them
    highs = [a for (a,) in db.execute("SELECT attempts FROM deliveries WHERE subscription='highs'")]
    assert receiver.flaky_failures == 2 and sum(highs) == len(highs) + 2
    failures = db.execute("SELECT COUNT(*) FROM attempts WHERE ok=0 AND detail LIKE 'HTTP 500%'").fetchone()[0]
    assert failures == 2
    assert len(receiver.requests) == webhook_total + 2


def test_watch_once_records_unreadable_uploads(tmp_path):
    models = tmp_path / "models"
    make_band_bundle(models / "band")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "junk.mp3").write_bytes(b"not audio" * 100)
    _upload(uploads, "ok.wav", LOW_HZ, 1)
    subs = _yaml(tmp_path / "subs.yml", "subscriptions:\n  - {name: l, genres: [low], file: out.jsonl}\n")
    from genrenet.cli import main

    argv = ["watch", str(uploads), "--subscriptions", str(subs), "--models-dir", str(models), "--no-default",
            "--once", "--settle", "0"]
    assert main(argv) == 0
    assert main(argv) == 0  # a second pass classifies and delivers nothing again
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
    db = sqlite3.connect(tmp_path / "subs.state.sqlite")
    rows = dict(db.execute("SELECT path, status FROM tracks").fetchall())
    assert rows == {str(uploads / "junk.mp3"): "error", str(uploads / "ok.wav"): "classified"}


def test_soundcloud_source_follows_the_collectors_download_folder(tmp_path, monkeypatch):
    from genrenet.predict import Predictor
    from genrenet.sources import soundcloud
    from genrenet.watch import Watcher

    calls = []

    def fake_collect(genres, *, per_genre, out_dir, q=None, progress=True, **kw):
        """What the collector does on a run: new tracks appear under <out_dir>/<group>/ with a manifest."""
        calls.append((list(genres), per_genre, q))
        (out_dir / "low").mkdir(exist_ok=True)
        _upload(out_dir / "low", f"sc-{len(calls)}.wav", LOW_HZ, len(calls))

    monkeypatch.setattr(soundcloud, "collect", fake_collect)
    make_band_bundle(tmp_path / "band")
    out = tmp_path / "low.jsonl"
    watcher = Watcher("soundcloud:lofi beats", [Subscription("l", ("low",), 0.6, file=out)], tmp_path / "s.sqlite",
                      lambda: Predictor([tmp_path / "band"], include_default=False, warmup=False), settle=0,
                      soundcloud_dir=tmp_path / "sc", soundcloud_interval=0)
    watcher.run_once()
    watcher.run_once()
    watcher.close()
    assert calls == [(["low"], 5, "lofi beats"), (["low"], 5, "lofi beats")]
    assert [json.loads(x)["track"] for x in out.read_text().splitlines()] == [
        str(tmp_path / "sc" / "low" / "sc-1.wav"), str(tmp_path / "sc" / "low" / "sc-2.wav")]
