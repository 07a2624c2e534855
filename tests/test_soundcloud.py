"""End-to-end tests of the SoundCloud collector against a fake API served on 127.0.0.1.

The fake server speaks real HTTP and real JSON shapes: an OAuth token endpoint
(client credentials with HTTP Basic, refresh tokens), ``/tracks`` search pages
with ``collection``/``next_href``, track objects with the API's fields, the
``/tracks/{urn}/streams`` transcodings, and download/stream URLs that redirect to
a second server on another port, the "CDN". The CDN serves small real WAV/MP3
files with ``Range`` support, HLS playlists and segments made with ffmpeg from
synthesised audio, can drop or stall a body on demand, and records every
``Authorization`` header it is sent.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import stat
import subprocess
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import soundfile as sf

from genrenet.datasets import load_dataset
from genrenet.errors import ParameterError
from genrenet.sources.soundcloud import SoundCloudClient, SoundCloudError, collect, fetch_policy

CLIENT_ID, CLIENT_SECRET = "test-id", "test-secret"
START = 1_800_000_000.0
SIGNATURE = "Policy=s3cr3t-signature"  # query string of the CDN's signed URLs


def _audio(fmt: str, freq: float, seconds: float = 1.0) -> bytes:
    t = np.arange(int(22050 * seconds)) / 22050
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 22050, format=fmt)
    return buf.getvalue()


WAV, MP3 = _audio("WAV", 440.0), _audio("MP3", 330.0)
LONG_WAV = _audio("WAV", 550.0, seconds=3.0)  # big enough (130 kB) to be cut in the middle


class FakeClock:
    def __init__(self):
        self.now = START
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSoundCloud:
    """State of the fake API and CDN (tracks, issued tokens, injected failures, request logs)."""

    def __init__(self):
        self.base = ""  # the API host
        self.cdn = ""  # the CDN: same address, another port
        self.valid_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.token_grants: list[str] = []
        self.n = 0
        self.expires_in = 3600
        self.fail_429 = 0  # next N /tracks searches answer 429
        self.fail_503 = 0  # next N audio requests answer 503
        self.log: list[str] = []
        self.cdn_log: list[tuple[str, dict]] = []  # (path, request headers) of every CDN request
        self.tracks: dict[str, list[list[dict]]] = {}
        self.audio: dict[str, tuple[bytes, str]] = {}
        self.streams: dict[str, dict] = {}  # track id -> the /streams answer
        self.faults: dict[str, list[str]] = {}  # CDN path -> faults for its next requests ("drop", "stall", "404")
        self.hls_dir: Path | None = None
        self.stall = 1.0  # seconds a stalled body hangs

    def track(self, tid, genre, *, downloadable=False, streamable=True, access="playable",
              license="cc-by", tags="", audio=("wav", WAV), user="artist", streams=None):
        base = self.base
        t = {
            "kind": "track", "id": tid, "urn": f"soundcloud:tracks:{tid}", "title": f"Track {tid}",
            "genre": genre, "tag_list": tags, "license": license, "downloadable": downloadable,
            "streamable": streamable, "access": access, "duration": 1000,
            "permalink_url": f"https://soundcloud.com/{user}/track-{tid}",
            "user": {"id": abs(hash(user)) % 10_000, "username": user, "kind": "user"},
            "original_format": audio[0],
            "stream_url": f"{base}/tracks/{tid}/stream",
            "download_url": f"{base}/tracks/{tid}/download" if downloadable else None,
        }
        kind, data = audio
        self.audio[str(tid)] = (data, "audio/mpeg" if kind == "mp3" else "audio/wav")
        self.streams[str(tid)] = streams if streams is not None else {
            "http_mp3_128_url": f"{self.cdn}/cdn/{tid}?{SIGNATURE}",
            "preview_mp3_128_url": f"{self.cdn}/preview/{tid}?{SIGNATURE}",
        }
        return t


def _send(handler, code, body: bytes, ctype: str, headers=None):
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)


def _api_handler(state: FakeSoundCloud):
    class API(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, code, obj, headers=None):
            _send(self, code, json.dumps(obj).encode(), "application/json", headers)

        def do_POST(self):
            state.log.append(f"POST {self.path}")
            if self.path != "/oauth/token":
                return self._json(404, {"error": "not found"})
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {basic}":
                return self._json(401, {"error": "invalid_client"})
            grant = form.get("grant_type", [""])[0]
            if grant == "refresh_token":
                if form.get("refresh_token", [""])[0] not in state.refresh_tokens:
                    return self._json(400, {"error": "invalid_grant"})
                state.refresh_tokens.discard(form["refresh_token"][0])  # single use
            elif grant != "client_credentials":
                return self._json(400, {"error": "unsupported_grant_type"})
            state.token_grants.append(grant)
            state.n += 1
            tok, ref = f"tok-{state.n}", f"ref-{state.n}"
            state.valid_tokens.add(tok)
            state.refresh_tokens.add(ref)
            return self._json(200, {"access_token": tok, "expires_in": state.expires_in,
                                    "refresh_token": ref, "scope": "", "token_type": "bearer"})

        def do_GET(self):
            url = urlparse(self.path)
            state.log.append(f"GET {url.path}")
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("OAuth ") or auth[6:] not in state.valid_tokens:
                return self._json(401, {"code": 401, "message": "invalid token"})
            parts = url.path.strip("/").split("/")
            if parts == ["tracks"]:
                return self._search(url)
            if len(parts) == 3 and parts[0] == "tracks" and parts[2] == "streams":
                tid = parts[1].rsplit(":", 1)[-1]  # the URN or the bare id
                return self._json(200, state.streams.get(tid, {}))
            if len(parts) == 3 and parts[0] == "tracks" and parts[2] in ("download", "stream"):
                if state.fail_503:
                    state.fail_503 -= 1
                    return self._json(503, {"error": "unavailable"})
                # the real API answers with a redirect to a signed CDN URL
                self.send_response(302)
                self.send_header("Location", f"{state.cdn}/cdn/{parts[1]}?{SIGNATURE}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self._json(404, {"error": "not found"})

        def _search(self, url):
            if state.fail_429:
                state.fail_429 -= 1
                reset = datetime.fromtimestamp(START + 120, tz=UTC).strftime("%Y/%m/%d %H:%M:%S %z")
                return self._json(429, {"errors": [{"meta": {
                    "rate_limit": {"group": "plays", "max_nr_of_requests": 15000, "time_window": "PT24H"},
                    "remaining_requests": 0, "reset_time": reset}}]})
            q = parse_qs(url.query)
            assert q.get("linked_partitioning") == ["true"], q
            pages = state.tracks.get(q.get("genres", [""])[0].lower(), [[]])
            page = int(q.get("cursor", ["0"])[0])
            body = {"collection": pages[page] if page < len(pages) else []}
            if page + 1 < len(pages):
                body["next_href"] = f"{state.base}/tracks?genres={q['genres'][0]}&cursor={page + 1}" \
                                    "&linked_partitioning=true"
            return self._json(200, body)

    return API


def _cdn_handler(state: FakeSoundCloud):
    class CDN(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            state.cdn_log.append((url.path, dict(self.headers)))
            faults = state.faults.get(url.path)
            fault = faults.pop(0) if faults else None
            if fault == "404":
                return _send(self, 404, b"gone", "text/plain")
            if url.path.startswith("/cdn/"):
                data, ctype = state.audio[url.path.split("/")[-1]]
            elif url.path.startswith("/hls/") and state.hls_dir is not None:
                f = state.hls_dir / url.path.split("/")[-1]
                if not f.is_file():
                    return _send(self, 404, b"no such segment", "text/plain")
                data = f.read_bytes()
                ctype = "application/vnd.apple.mpegurl" if f.suffix == ".m3u8" else "video/mp2t"
            else:
                return _send(self, 404, b"not found", "text/plain")
            self._body(data, ctype, fault)

        def _body(self, data: bytes, ctype: str, fault: str | None):
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", ctype)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if fault in ("drop", "stall"):
                cut = start + (len(data) - start) // 2
                self.wfile.write(data[start:cut])
                self.wfile.flush()
                if fault == "stall":
                    time.sleep(state.stall)
                self.close_connection = True
                return
            self.wfile.write(data[start:])

    return CDN


def _serve(handler):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return httpd


@pytest.fixture
def fake_sc():
    state = FakeSoundCloud()
    api, cdn = _serve(_api_handler(state)), _serve(_cdn_handler(state))
    state.base = f"http://127.0.0.1:{api.server_address[1]}"
    state.cdn = f"http://127.0.0.1:{cdn.server_address[1]}"
    try:
        yield state
    finally:
        for httpd in (api, cdn):
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture(scope="module")
def hls_playlist(tmp_path_factory) -> Path:
    """An HLS AAC playlist of 3 s of synthesised audio in 1 s MPEG-TS segments, made with ffmpeg."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    d = tmp_path_factory.mktemp("hls")
    (d / "source.wav").write_bytes(LONG_WAV)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(d / "source.wav"), "-c:a", "aac",
                    "-b:a", "64k", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                    "-hls_segment_filename", str(d / "seg%03d.ts"), str(d / "playlist.m3u8")], check=True)
    return d / "playlist.m3u8"


def _cdn_tokens(state) -> list[str]:
    """Authorization headers the CDN was sent (there must be none)."""
    return [h["Authorization"] for _, h in state.cdn_log if "Authorization" in h]


def _manifest(out: Path) -> list[dict]:
    rows = (out / "manifest.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    return [dict(zip(header, r.split("\t"), strict=True)) for r in rows[1:]]


def _client(state, clock, tmp_path, **kw):
    return SoundCloudClient(
        CLIENT_ID, CLIENT_SECRET, api_base=state.base, token_url=state.base + "/oauth/token",
        token_cache=tmp_path / "token.json", sleep=clock.sleep, clock=clock.time, backoff=0.5, **kw,
    )


def _hiphop_catalogue(state):
    state.tracks["hip hop"] = [
        [
            state.track(1, "Hip-Hop", downloadable=True, license="cc-by", user="ann"),
            state.track(3, "hip hop", access="preview", streamable=True),  # preview only
            state.track(4, "Podcast", tags="talk radio"),  # unknown genre
        ],
        [
            state.track(5, "Jazz"),  # other genre
            state.track(2, "Rap", audio=("mp3", MP3), license="all-rights-reserved", user="bob"),
            state.track(6, "hiphop", downloadable=True, audio=("wav", b"not really audio")),
        ],
    ]
    state.tracks["reggaeton"] = [[]]  # an empty search page


def test_collect_end_to_end(fake_sc, tmp_path):
    _hiphop_catalogue(fake_sc)
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path)
    out = tmp_path / "sc"
    res = collect(["hip hop", "Reguetón"], per_genre=2, out_dir=out, client=client, progress=False)
    assert res.downloaded == 2 and res.kept == {"hiphop": 2}
    assert res.skipped["not fetchable"] == 1
    assert res.skipped["unknown genre"] == 1 and res.unknown_tags == {"Podcast": 1}
    assert res.skipped["other genre"] == 1
    assert res.skipped["short of 2 for reggaeton"] == 2  # the empty page did not crash
    assert fake_sc.token_grants == ["client_credentials"]  # one token for the whole run
    assert "GET /tracks/6/download" not in fake_sc.log  # stopped once 2 were kept

    recs = _manifest(out)
    kept = [r for r in recs if r["status"] == "kept"]
    assert [r["id"] for r in kept] == ["sc-1", "sc-2"]
    r1, r2 = kept
    # every skipped track is in the manifest with its reason, and no data set loader sees it
    why = {r["id"]: r["reason"] for r in recs if r["status"] == "skipped"}
    assert set(why) == {"sc-3", "sc-4", "sc-5"}
    assert why["sc-3"].startswith("not fetchable: stream access 'preview'")
    assert why["sc-4"].startswith("unknown genre") and why["sc-5"] == "other genre: jazz, searched hiphop"
    assert all(r["genre"] == "" and r["path"] == "" for r in recs if r["status"] == "skipped")
    assert r2["stream"] == "http_mp3_128_url" and r1["stream"] == ""
    assert _cdn_tokens(fake_sc) == [] and any(p.startswith("/cdn/") for p, _ in fake_sc.cdn_log)
    assert r1["raw_genre"] == "Hip-Hop" and r1["genre"] == "hiphop" and r1["license"] == "cc-by"
    assert r1["source"] == "download" and r1["path"].endswith(".wav") and r1["artist"] == "ann"
    assert r2["raw_genre"] == "Rap" and r2["source"] == "stream" and r2["path"].endswith(".mp3")
    assert r1["permalink_url"].startswith("https://soundcloud.com/ann/")
    assert (out / r1["path"]).read_bytes() == WAV
    assert float(r2["duration"]) == pytest.approx(1.0, abs=0.1)

    ds = load_dataset("soundcloud", out)
    assert ds.ids == ["sc-1", "sc-2"] and ds.genres == ["hiphop"] and ds[0].group

    # resumable: a second run downloads nothing and requests no token
    n_log = len(fake_sc.log)
    client2 = _client(fake_sc, clock, tmp_path)
    res2 = collect(["hip hop"], per_genre=2, out_dir=out, client=client2, progress=False)
    assert res2.downloaded == 0 and res2.reused == 2
    assert fake_sc.log[n_log:] == []
    # asking for more continues; the corrupt download is dropped, not kept
    res3 = collect(["hip hop"], per_genre=3, out_dir=out, client=client2, progress=False)
    assert res3.downloaded == 0 and res3.skipped["undecodable audio"] == 1
    assert not list((out / "hiphop").glob("sc-6*"))
    assert {r["id"]: r["reason"] for r in _manifest(out)}["sc-6"].startswith("undecodable audio")
    assert fake_sc.token_grants == ["client_credentials"]
    # the undecodable track is not downloaded again by later runs
    n_dl = fake_sc.log.count("GET /tracks/6/download")
    res4 = collect(["hip hop"], per_genre=3, out_dir=out, client=client2, progress=False)
    assert res4.skipped["undecodable audio"] == 1 and fake_sc.log.count("GET /tracks/6/download") == n_dl
    assert load_dataset("soundcloud", out).ids == ["sc-1", "sc-2"]


def test_dropped_and_stalled_bodies_resume_with_range_then_skip(fake_sc, tmp_path):
    """A body cut off or stalled mid-transfer is resumed with Range; one that keeps failing is skipped."""
    fake_sc.stall = 1.0
    fake_sc.tracks["jazz"] = [[
        fake_sc.track(31, "Jazz", downloadable=True, audio=("wav", LONG_WAV)),
        fake_sc.track(32, "Jazz", downloadable=True, audio=("wav", LONG_WAV)),
        fake_sc.track(33, "Jazz", audio=("mp3", MP3)),
    ]]
    fake_sc.faults["/cdn/31"] = ["drop", "stall"]  # ChunkedEncodingError, then a read timeout
    fake_sc.faults["/cdn/32"] = ["drop"] * 10  # never completes
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path, max_retries=2, timeout=0.3)
    out = tmp_path / "sc"
    res = collect(["jazz"], per_genre=2, out_dir=out, client=client, progress=False)
    assert res.kept == {"jazz": 2} and res.downloaded == 2 and res.skipped["download failed"] == 1

    rows = {r["id"]: r for r in _manifest(out)}
    assert (out / rows["sc-31"]["path"]).read_bytes() == LONG_WAV  # the pieces fit together
    ranges = [h.get("Range") for path, h in fake_sc.cdn_log if path == "/cdn/31"]
    assert len(ranges) == 3 and ranges[0] is None
    offsets = [int(r.removeprefix("bytes=").removesuffix("-")) for r in ranges[1:]]
    assert 0 < offsets[0] < offsets[1] < len(LONG_WAV)  # each attempt continued where the last stopped
    assert clock.sleeps[:2] == [0.5, 1.0]  # exponential backoff between the attempts

    failed = rows["sc-32"]
    assert failed["status"] == "skipped" and failed["genre"] == "" and failed["source"] == "download"
    assert failed["reason"].startswith("download failed: ") and "failed 3 times" in failed["reason"]
    assert SIGNATURE not in failed["reason"]  # signed CDN URLs are not written to the manifest
    assert not list((out / "jazz").glob("sc-32*"))  # no partial file left behind
    assert rows["sc-33"]["status"] == "kept"  # the run went on after the failure

    # a rerun tries the failed track again (the failure was transient)
    fake_sc.faults["/cdn/32"] = []
    res2 = collect(["jazz"], per_genre=3, out_dir=out, client=client, progress=False)
    assert res2.downloaded == 1 and res2.kept == {"jazz": 3}
    assert {r["id"]: r["status"] for r in _manifest(out)}["sc-32"] == "kept"


def test_token_sent_only_to_the_api_host(fake_sc, tmp_path):
    fake_sc.track(1, "Jazz", downloadable=True)
    client = _client(fake_sc, FakeClock(), tmp_path)
    with client.request(f"{fake_sc.cdn}/cdn/1?{SIGNATURE}", stream=True) as resp:  # a CDN URL: no token
        assert resp.content == WAV
    with client.request(f"{fake_sc.base}/tracks/1/download", stream=True) as resp:  # API redirects to the CDN
        assert resp.content == WAV and resp.history and resp.history[0].status_code == 302
    assert len(fake_sc.cdn_log) == 2 and _cdn_tokens(fake_sc) == []
    assert "GET /tracks/1/download" in fake_sc.log  # ...while the API itself was authenticated
    assert client.on_api_host(f"{fake_sc.base}/tracks") and not client.on_api_host(f"{fake_sc.cdn}/cdn/1")
    real = SoundCloudClient(CLIENT_ID, CLIENT_SECRET, token_cache=False)
    assert real.on_api_host("https://api.soundcloud.com/tracks/1/download")
    assert real.on_api_host("https://API.soundcloud.com:443/tracks")
    for url in ("https://api.soundcloud.com.evil.example/x", "https://api.soundcloud.com@evil.example/x",
                "http://api.soundcloud.com/tracks", "https://cf-media.sndcdn.com/a.mp3",
                "https://api.soundcloud.com:8443/tracks"):
        assert not real.on_api_host(url), url


def test_hls_streams_saved_with_ffmpeg(fake_sc, tmp_path, hls_playlist):
    """Stream-only tracks come through HLS AAC; failures fall back or are skipped with a reason."""
    hls = tmp_path / "hls"
    shutil.copytree(hls_playlist.parent, hls)
    fake_sc.hls_dir = hls
    playlist = (hls / "playlist.m3u8").read_text()
    (hls / "broken.m3u8").write_text(playlist.replace("seg001.ts", "missing.ts"))  # a segment that is gone
    (hls / "evil.m3u8").write_text(playlist.replace("seg001.ts", "file:///etc/passwd"))  # a local file
    cdn = fake_sc.cdn

    def streams(**urls):
        return {**{k: f"{cdn}/hls/{v}?{SIGNATURE}" for k, v in urls.items()},
                "preview_mp3_128_url": f"{cdn}/preview/0?{SIGNATURE}"}

    only_preview = fake_sc.track(43, "Jazz", streams={"preview_mp3_128_url": f"{cdn}/preview/43"})
    evil = fake_sc.track(44, "Jazz", streams=streams(hls_aac_160_url="evil.m3u8"))
    only_preview["stream_url"] = evil["stream_url"] = None  # no older progressive endpoint to fall back on
    fake_sc.tracks["jazz"] = [[
        only_preview,
        evil,
        fake_sc.track(41, "Jazz", streams=streams(hls_aac_160_url="playlist.m3u8")),
        fake_sc.track(42, "Jazz", audio=("mp3", MP3), streams={
            **streams(hls_aac_160_url="broken.m3u8"), "http_mp3_128_url": f"{cdn}/cdn/42?{SIGNATURE}"}),
    ]]
    fake_sc.faults["/hls/seg002.ts"] = ["404"]  # fails once: ffmpeg runs again
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path, max_retries=1, timeout=5)
    out = tmp_path / "sc"
    res = collect(["jazz"], per_genre=2, out_dir=out, client=client, progress=False)
    assert res.kept == {"jazz": 2} and res.skipped["download failed"] == 2

    rows = {r["id"]: r for r in _manifest(out)}
    aac = rows["sc-41"]
    assert aac["status"] == "kept" and aac["stream"] == "hls_aac_160_url" and aac["path"].endswith(".m4a")
    assert float(aac["duration"]) == pytest.approx(3.0, abs=0.15)
    assert [path for path, _ in fake_sc.cdn_log].count("/hls/playlist.m3u8") == 2  # a second ffmpeg run
    fallback = rows["sc-42"]
    assert fallback["status"] == "kept" and fallback["stream"] == "http_mp3_128_url"
    assert "no full-length stream" in rows["sc-43"]["reason"]
    assert rows["sc-43"]["reason"].startswith("download failed")
    evil = rows["sc-44"]
    assert evil["status"] == "skipped" and "hls_aac_160_url" in evil["reason"] and "ffmpeg" in evil["reason"]
    assert SIGNATURE not in evil["reason"]
    assert not any("/preview/" in path for path, _ in fake_sc.cdn_log)  # previews are never fetched
    assert _cdn_tokens(fake_sc) == []  # neither ffmpeg nor requests sent the token to the CDN

    ds = load_dataset("soundcloud", out)
    assert sorted(ds.ids) == ["sc-41", "sc-42"]
    from genrenet.audio import load

    y, sr = load(out / aac["path"], sr=22050)
    assert abs(len(y) / sr - 3.0) < 0.15 and np.abs(y).max() > 0.1  # real audio, no hole


def test_token_cached_on_disk_0600(fake_sc, tmp_path):
    clock = FakeClock()
    c1 = _client(fake_sc, clock, tmp_path)
    tok = c1.token()
    mode = stat.S_IMODE((tmp_path / "token.json").stat().st_mode)
    assert mode == 0o600
    assert CLIENT_SECRET not in (tmp_path / "token.json").read_text()
    c2 = _client(fake_sc, clock, tmp_path)
    assert c2.token() == tok and c2.token_requests == 0


def test_expired_token_refreshed_before_use(fake_sc, tmp_path):
    fake_sc.expires_in = 300
    fake_sc.tracks["jazz"] = [[fake_sc.track(9, "Jazz")]]
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path)
    list(client.search_tracks(genres="jazz"))
    assert fake_sc.token_grants == ["client_credentials"]
    clock.now += 250  # within the 60 s margin of expiry: renewed with the refresh token
    list(client.search_tracks(genres="jazz"))
    assert fake_sc.token_grants == ["client_credentials", "refresh_token"]
    list(client.search_tracks(genres="jazz"))
    assert len(fake_sc.token_grants) == 2  # not re-requested per call


def test_401_triggers_one_refresh(fake_sc, tmp_path):
    fake_sc.tracks["jazz"] = [[fake_sc.track(9, "Jazz")]]
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path)
    client.token()
    fake_sc.valid_tokens.clear()  # server revoked every token
    tracks = list(client.search_tracks(genres="jazz"))
    assert [t["id"] for t in tracks] == [9]
    assert len(fake_sc.token_grants) == 2


def test_429_waits_until_reset(fake_sc, tmp_path):
    fake_sc.tracks["jazz"] = [[fake_sc.track(9, "Jazz")], [fake_sc.track(10, "Jazz")]]
    fake_sc.fail_429 = 1
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path)
    ids = [t["id"] for t in client.search_tracks(genres="jazz")]
    assert ids == [9, 10]  # followed next_href to the second page
    assert clock.sleeps and 120 <= clock.sleeps[0] <= 125
    # a reset too far away is refused with a clear message instead of hanging
    fake_sc.fail_429 = 1
    clock.now = START - 10 * 3600
    impatient = _client(fake_sc, clock, tmp_path, max_wait=60)
    with pytest.raises(SoundCloudError, match="rate limit"):
        list(impatient.search_tracks(genres="jazz"))


def test_5xx_retried_with_backoff_then_gives_up(fake_sc, tmp_path):
    _hiphop_catalogue(fake_sc)
    clock = FakeClock()
    client = _client(fake_sc, clock, tmp_path, max_retries=2)
    fake_sc.fail_503 = 2
    resp = client.request(f"{fake_sc.base}/tracks/1/stream")
    assert resp.content == WAV and clock.sleeps == [0.5, 1.0]
    fake_sc.fail_503 = 5
    with pytest.raises(SoundCloudError, match="503"):
        client.request(f"{fake_sc.base}/tracks/1/stream")


def test_credentials_and_parameters(monkeypatch, tmp_path):
    monkeypatch.delenv("SOUNDCLOUD_CLIENT_ID", raising=False)
    monkeypatch.delenv("SOUNDCLOUD_CLIENT_SECRET", raising=False)
    with pytest.raises(ParameterError, match="SOUNDCLOUD_CLIENT_ID"):
        SoundCloudClient()
    monkeypatch.setenv("SOUNDCLOUD_CLIENT_ID", "x")
    monkeypatch.setenv("SOUNDCLOUD_CLIENT_SECRET", "y")
    client = SoundCloudClient(token_cache=False)
    assert client.client_id == "x" and client.token_cache is None
    with pytest.raises(ParameterError, match="per_genre"):
        collect(["jazz"], per_genre=0, out_dir=tmp_path, client=client)
    with pytest.raises(ParameterError, match="limit"):
        next(client.search_tracks(genres="jazz", limit=500))


def test_wrong_secret_is_a_clear_error(fake_sc, tmp_path):
    clock = FakeClock()
    bad = SoundCloudClient(CLIENT_ID, "wrong", api_base=fake_sc.base, token_url=fake_sc.base + "/oauth/token",
                           token_cache=False, sleep=clock.sleep, clock=clock.time)
    with pytest.raises(SoundCloudError, match="SOUNDCLOUD_CLIENT_SECRET"):
        bad.token()


def test_fetch_policy():
    base = {"id": 1, "streamable": True, "access": "playable", "license": "cc-by-nc"}
    assert fetch_policy(base) == "stream"
    assert fetch_policy(base, allow_stream=False) is None
    assert fetch_policy({**base, "downloadable": True, "download_url": "u"}) == "download"
    assert fetch_policy({**base, "access": "preview"}) is None
    assert fetch_policy({**base, "access": "blocked", "downloadable": True, "download_url": "u"}) is None
    assert fetch_policy(base, licenses=["cc-by*"]) == "stream"
    assert fetch_policy(base, licenses=["no-rights-reserved"]) is None


def test_cli_collect_with_env_configuration(fake_sc, tmp_path, monkeypatch, capsys):
    """`genrenet data collect soundcloud` reads credentials and endpoints from the environment."""
    from genrenet.cli import main

    fake_sc.tracks["blues"] = [[fake_sc.track(20, "Delta Blues", downloadable=True, user="cy"),
                                fake_sc.track(21, "Blues", audio=("mp3", MP3), user="di")]]
    monkeypatch.setenv("SOUNDCLOUD_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SOUNDCLOUD_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SOUNDCLOUD_API_BASE", fake_sc.base)
    monkeypatch.setenv("SOUNDCLOUD_TOKEN_URL", fake_sc.base + "/oauth/token")
    out = tmp_path / "sc"
    # "blues" is not one of the thesis's 39 groups: it becomes a group of its own
    rc = main(["data", "collect", "soundcloud", "--genres", "blues", "--per-genre", "2", "--to", str(out),
               "--no-progress"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kept"] == {"blues": 2} and summary["downloaded"] == 2
    ds = load_dataset("soundcloud", out)
    assert ds.genres == ["blues"] and len(ds) == 2
    # --no-stream keeps only the track its artist made downloadable
    rc = main(["data", "collect", "soundcloud", "--genres", "blues", "--per-genre", "2", "--to",
               str(tmp_path / "dl"), "--no-stream", "--no-progress"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["kept"] == {"blues": 1}


def test_endpoints_documented_in_help_and_data_readme(capsys):
    from genrenet.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "collect", "--help"])
    assert exc.value.code == 0
    helptext = capsys.readouterr().out
    readme = (Path(__file__).resolve().parents[1] / "data" / "README.md").read_text()
    for var in ("SOUNDCLOUD_CLIENT_ID", "SOUNDCLOUD_CLIENT_SECRET", "SOUNDCLOUD_API_BASE", "SOUNDCLOUD_TOKEN_URL"):
        assert var in helptext and var in readme, var
    assert "https://api.soundcloud.com" in helptext and "https://secure.soundcloud.com/oauth/token" in helptext
