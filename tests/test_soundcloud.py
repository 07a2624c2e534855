"""End-to-end tests of the SoundCloud collector against a fake API served on 127.0.0.1.

The fake server speaks real HTTP and real JSON shapes: an OAuth token endpoint
(client credentials with HTTP Basic, refresh tokens), ``/tracks`` search pages
with ``collection``/``next_href``, track objects with the API's fields, and
download/stream URLs that serve small real WAV/MP3 files.
"""

from __future__ import annotations

import base64
import io
import json
import stat
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import soundfile as sf

from genrenet.datasets import load_dataset
from genrenet.errors import ParameterError
from genrenet.sources.soundcloud import SoundCloudClient, SoundCloudError, collect, fetch_policy

CLIENT_ID, CLIENT_SECRET = "test-id", "test-secret"
START = 1_800_000_000.0


def _audio(fmt: str, freq: float) -> bytes:
    t = np.arange(22050) / 22050
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 22050, format=fmt)
    return buf.getvalue()


WAV, MP3 = _audio("WAV", 440.0), _audio("MP3", 330.0)


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
    """State of the fake API (tracks, issued tokens, injected failures, request log)."""

    def __init__(self):
        self.base = ""
        self.valid_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.token_grants: list[str] = []
        self.n = 0
        self.expires_in = 3600
        self.fail_429 = 0  # next N /tracks searches answer 429
        self.fail_503 = 0  # next N audio requests answer 503
        self.log: list[str] = []
        self.tracks: dict[str, list[list[dict]]] = {}
        self.audio: dict[str, tuple[bytes, str]] = {}

    def track(self, tid, genre, *, downloadable=False, streamable=True, access="playable",
              license="cc-by", tags="", audio=("wav", WAV), user="artist"):
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
        return t


def _handler(state: FakeSoundCloud):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, code, obj, headers=None):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

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
            if len(parts) == 3 and parts[0] == "tracks" and parts[2] in ("download", "stream"):
                if state.fail_503:
                    state.fail_503 -= 1
                    return self._json(503, {"error": "unavailable"})
                data, ctype = state.audio[parts[1]]
                if parts[2] == "download":  # real API redirects to a signed CDN URL
                    self.send_response(302)
                    self.send_header("Location", f"{state.base}/cdn/{parts[1]}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            return self._json(404, {"error": "not found"})

    class CDN(H):
        def do_GET(self):
            url = urlparse(self.path)
            if url.path.startswith("/cdn/"):
                state.log.append(f"GET {url.path}")
                data, ctype = state.audio[url.path.split("/")[-1]]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            return H.do_GET(self)

    return CDN


@pytest.fixture
def fake_sc():
    state = FakeSoundCloud()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


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
    res = collect(["hip hop", "Reguetón"], per_genre=2, to=out, client=client, progress=False)
    assert res.downloaded == 2 and res.kept == {"hiphop": 2}
    assert res.skipped["not fetchable"] == 1
    assert res.skipped["unknown genre"] == 1 and res.unknown_tags == {"Podcast": 1}
    assert res.skipped["other genre"] == 1
    assert res.skipped["short of 2 for reggaeton"] == 2  # the empty page did not crash
    assert fake_sc.token_grants == ["client_credentials"]  # one token for the whole run
    assert "GET /tracks/6/download" not in fake_sc.log  # stopped once 2 were kept

    rows = (out / "manifest.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    recs = [dict(zip(header, r.split("\t"), strict=True)) for r in rows[1:]]
    assert [r["id"] for r in recs] == ["sc-1", "sc-2"]
    r1, r2 = recs
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
    res2 = collect(["hip hop"], per_genre=2, to=out, client=client2, progress=False)
    assert res2.downloaded == 0 and res2.reused == 2
    assert fake_sc.log[n_log:] == []
    # asking for more continues; the corrupt download is dropped, not kept
    res3 = collect(["hip hop"], per_genre=3, to=out, client=client2, progress=False)
    assert res3.downloaded == 0 and res3.skipped["undecodable audio"] == 1
    assert not list((out / "hiphop").glob("sc-6*"))
    assert fake_sc.token_grants == ["client_credentials"]


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
        collect(["jazz"], per_genre=0, to=tmp_path, client=client)
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
