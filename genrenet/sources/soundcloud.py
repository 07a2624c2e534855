"""SoundCloud collector: search tracks by genre and download those we may fetch.

The thesis chose SoundCloud because the genre of a track is set by its artist
and tracks can be downloadable. This module talks to the public API
(``https://api.soundcloud.com``):

* **Authentication**: OAuth 2.1 client credentials. The client id and secret
  come from ``$SOUNDCLOUD_CLIENT_ID`` / ``$SOUNDCLOUD_CLIENT_SECRET`` (never from
  code); the token endpoint (``$SOUNDCLOUD_TOKEN_URL``) gets a ``POST
  grant_type=client_credentials`` with HTTP Basic credentials, and every call to the
  API host (``$SOUNDCLOUD_API_BASE``) sends ``Authorization: OAuth TOKEN``. The token
  goes to no other host: stream and download URLs on a CDN are fetched without it.
  The token is cached in memory and on disk (atomically, mode 0600), reused until
  shortly before it expires, renewed with its refresh token when there is one,
  and renewed once more when the API answers 401. SoundCloud limits how many
  client-credentials tokens an app may request, so a token is never requested per call.
* **Search**: ``GET /tracks?q=&genres=&tags=&limit=&linked_partitioning=true``
  following ``next_href`` page by page.
* **Limits**: HTTP 429 waits until the ``reset_time`` the API reports (or
  ``Retry-After``), 5xx and connection errors are retried with exponential
  backoff; both bounded. ``sleep`` and ``clock`` are injectable for tests.
* **Downloads**: a body that drops or stalls (``ChunkedEncodingError``, read
  timeout) is resumed with an HTTP ``Range`` request after a backoff; when the
  retries are used up the track is skipped with its reason, the run goes on.
* **Streams**: ``GET /tracks/{urn}/streams`` lists the transcodings; the HLS AAC
  playlists SoundCloud recommends (``hls_aac_160_url``, then ``hls_aac_96_url``) are
  saved with ffmpeg without re-encoding, the progressive ``http_mp3_128_url`` (being
  retired) is still used when offered (see :data:`STREAM_FORMATS`); previews never.
* **Policy**: only tracks the API marks as fetchable are downloaded:
  ``downloadable`` with a ``download_url`` (the artist allows downloads), or,
  when ``allow_stream`` is set, ``streamable`` with ``access == "playable"``
  (full stream, not a 30 s preview); an optional licence filter
  (e.g. ``cc-by*``) narrows this further.
* **Manifest**: each kept track is a row of ``<to>/manifest.tsv`` (rewritten
  atomically) with its unified genre (:mod:`genrenet.genres`), raw genre, tags,
  licence, URL, stream used and sha256; each skipped track is a row with
  ``status`` ``skipped`` and its ``reason``. A rerun skips tracks already downloaded.

Used by book chapter ``book/dev_data.md`` (``notebooks/data_exploration.ipynb``) and by
``genrenet data collect soundcloud``.
"""

from __future__ import annotations

import base64
import csv
import fnmatch
import json
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from genrenet._compat import renamed_kwargs
from genrenet._validate import positive_int
from genrenet.datasets.base import MANIFEST_NAME
from genrenet.errors import DataError, GenrenetError, ParameterError
from genrenet.genres import GROUPS, normalize, unify
from genrenet.io import atomic_path, atomic_write_text, sha256_file

__all__ = [
    "API_BASE",
    "TOKEN_URL",
    "MANIFEST_FIELDS",
    "SoundCloudError",
    "SoundCloudClient",
    "STREAM_FORMATS",
    "fetch_policy",
    "collect",
    "CollectionResult",
]

#: Default API and token endpoints (override with $SOUNDCLOUD_API_BASE / $SOUNDCLOUD_TOKEN_URL).
API_BASE = "https://api.soundcloud.com"
TOKEN_URL = "https://secure.soundcloud.com/oauth/token"

#: Columns of the collector's manifest (the first seven are a genrenet data set manifest).
MANIFEST_FIELDS = (
    "id", "genre", "path", "duration", "artist", "group", "sha256",
    "raw_genre", "tags", "license", "source", "stream", "title", "permalink_url", "soundcloud_id",
    "status", "reason",
)

_EXPIRY_MARGIN = 60.0  # renew a token this many seconds before it expires


class SoundCloudError(DataError):
    """The SoundCloud API refused a request or kept failing."""


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


class SoundCloudClient:
    """Minimal authenticated SoundCloud API client.

    Parameters
    ----------
    client_id, client_secret : str, optional
        Credentials; default ``$SOUNDCLOUD_CLIENT_ID`` and ``$SOUNDCLOUD_CLIENT_SECRET``.
    api_base : str, keyword-only, optional
        API root (default ``$SOUNDCLOUD_API_BASE`` or :data:`API_BASE`).
    token_url : str, keyword-only, optional
        Token endpoint (default ``$SOUNDCLOUD_TOKEN_URL`` or :data:`TOKEN_URL`).
    token_cache : str or Path or None, keyword-only
        File the token is cached in (default ``<genrenet home>/soundcloud-token.json``);
        pass ``False`` to keep it in memory only.
    max_retries : int, keyword-only
        Retries of one request after 429 / 5xx / connection errors.
    backoff : float, keyword-only
        First backoff delay in seconds (doubles each retry) for 5xx and connection errors.
    max_wait : float, keyword-only
        Longest wait for a rate-limit reset; a longer reset raises SoundCloudError.
    sleep, clock : callable, keyword-only
        ``time.sleep`` and ``time.time`` replacements (tests).
    session : requests.Session, keyword-only, optional
    timeout : float, keyword-only
        Socket timeout in seconds.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        api_base: str | None = None,
        token_url: str | None = None,
        token_cache: str | Path | None | bool = None,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        session=None,
        timeout: float = 30.0,
    ):
        import requests

        self.client_id = client_id or _env("SOUNDCLOUD_CLIENT_ID")
        self.client_secret = client_secret or _env("SOUNDCLOUD_CLIENT_SECRET")
        if not self.client_id or not self.client_secret:
            raise ParameterError(
                "SoundCloud credentials missing: set SOUNDCLOUD_CLIENT_ID and SOUNDCLOUD_CLIENT_SECRET "
                "(register an app at https://soundcloud.com/you/apps)"
            )
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ParameterError(f"max_retries must be a non-negative integer, got {max_retries!r}")
        self.api_base = (api_base or _env("SOUNDCLOUD_API_BASE") or API_BASE).rstrip("/")
        self.token_url = token_url or _env("SOUNDCLOUD_TOKEN_URL") or TOKEN_URL
        if token_cache is None:
            from genrenet.paths import home

            token_cache = home() / "soundcloud-token.json"
        self.token_cache = Path(token_cache) if token_cache else None
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_wait = float(max_wait)
        self.sleep = sleep
        self.clock = clock
        self.timeout = timeout
        self.session = session or requests.Session()
        self._token: dict | None = None
        self.token_requests = 0  # how many times the token endpoint was called

    # -- token -----------------------------------------------------------------
    def _read_cached_token(self) -> dict | None:
        if self.token_cache is None or not self.token_cache.is_file():
            return None
        try:
            tok = json.loads(self.token_cache.read_text())
        except (OSError, ValueError):
            return None
        if tok.get("client_id") != self.client_id or "access_token" not in tok:
            return None
        return tok

    def _store_token(self, tok: dict) -> None:
        self._token = tok
        if self.token_cache is None:
            return
        self.token_cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.token_cache) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(tok, fh)
            os.chmod(tmp, 0o600)

    def _valid(self, tok: dict | None) -> bool:
        return bool(tok) and float(tok.get("expires_at", 0)) - _EXPIRY_MARGIN > self.clock()

    def token(self, *, force: bool = False) -> str:
        """Return a valid access token, requesting or refreshing one only when needed."""
        if not force:
            if self._valid(self._token):
                return self._token["access_token"]
            cached = self._read_cached_token()
            if self._valid(cached):
                self._token = cached
                return cached["access_token"]
        old = self._token or self._read_cached_token()
        tok = None
        if old and old.get("refresh_token"):
            tok = self._request_token({"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
                                      fail_ok=True)
        if tok is None:
            tok = self._request_token({"grant_type": "client_credentials"})
        self._store_token(tok)
        return tok["access_token"]

    def _request_token(self, data: dict, *, fail_ok: bool = False) -> dict | None:
        import requests

        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json; charset=utf-8"}
        for attempt in range(self.max_retries + 1):
            self.token_requests += 1
            try:
                resp = self.session.post(self.token_url, data=data, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    raise SoundCloudError(f"token request to {self.token_url} failed: {exc}") from exc
                self.sleep(self.backoff * 2**attempt)
                continue
            if resp.status_code == 429 and attempt < self.max_retries:
                self._wait_rate_limit(resp)
                continue
            if resp.status_code >= 500 and attempt < self.max_retries:
                self.sleep(self.backoff * 2**attempt)
                continue
            if resp.status_code != 200:
                if fail_ok:
                    return None
                raise SoundCloudError(
                    f"token request to {self.token_url} refused: HTTP {resp.status_code} {resp.text[:200]!r} "
                    "(check SOUNDCLOUD_CLIENT_ID / SOUNDCLOUD_CLIENT_SECRET)"
                )
            try:
                body = resp.json()
                tok = {
                    "access_token": body["access_token"],
                    "refresh_token": body.get("refresh_token"),
                    "expires_at": self.clock() + float(body.get("expires_in", 3600)),
                    "client_id": self.client_id,
                }
            except (ValueError, KeyError, TypeError) as exc:
                raise SoundCloudError(f"token endpoint {self.token_url} sent no access_token: {exc}") from exc
            return tok
        raise SoundCloudError(f"token request to {self.token_url} kept failing")  # pragma: no cover

    # -- requests ----------------------------------------------------------------
    def _wait_rate_limit(self, resp) -> None:
        wait = _reset_delay(resp, self.clock())
        if wait is None:
            wait = self.backoff * 60
        if wait > self.max_wait:
            raise SoundCloudError(
                f"SoundCloud rate limit reached for {resp.url}; it resets in {wait / 3600:.1f} h "
                f"(longer than max_wait={self.max_wait:.0f} s): run again later to resume"
            )
        self.sleep(max(0.0, wait) + 1.0)

    def on_api_host(self, url: str) -> bool:
        """Whether ``url`` has the API root's origin (scheme, host and port): only such URLs get the token."""
        return _origin(url) == _origin(self.api_base)

    def request(self, url: str, *, params: dict | None = None, stream: bool = False, auth: bool = True,
                headers: dict | None = None):
        """GET ``url`` (absolute, or a path below the API root) with 401/429/5xx handling.

        The ``Authorization`` header is sent only when ``auth`` is true **and** ``url`` is on
        the API host (:meth:`on_api_host`): stream and download URLs on a CDN never see the
        token, and ``requests`` drops the header when the API redirects to another host.
        ``headers`` are added to the request. Returns the ``requests.Response`` (status 2xx);
        raises SoundCloudError otherwise.
        """
        import requests

        if not url.startswith(("http://", "https://")):
            url = self.api_base + "/" + url.lstrip("/")
        auth = auth and self.on_api_host(url)
        refreshed = False
        attempt = 0
        while True:
            sent = {"Accept": "application/json; charset=utf-8", **(headers or {})}
            if auth:
                sent["Authorization"] = f"OAuth {self.token()}"
            try:
                resp = self.session.get(url, params=params, headers=sent, stream=stream, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    raise SoundCloudError(f"GET {_redact(url)} failed after {attempt + 1} attempts: "
                                          f"{_redact(str(exc))}") from exc
                self.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            if resp.status_code == 401 and auth and not refreshed:
                resp.close()
                refreshed = True
                self.token(force=True)
                continue
            if resp.status_code == 429 and attempt < self.max_retries:
                self._wait_rate_limit(resp)
                resp.close()
                attempt += 1
                continue
            if resp.status_code >= 500 and attempt < self.max_retries:
                resp.close()
                self.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            if resp.status_code >= 400:
                text = resp.text[:200] if not stream else ""
                resp.close()
                raise SoundCloudError(f"GET {_redact(url)} failed: HTTP {resp.status_code} {text!r}")
            return resp

    def get_json(self, url: str, *, params: dict | None = None):
        """GET and decode JSON."""
        resp = self.request(url, params=params)
        try:
            return resp.json()
        except ValueError as exc:
            raise SoundCloudError(f"GET {resp.url} did not return JSON: {exc}") from exc

    def search_tracks(
        self,
        *,
        q: str | None = None,
        genres: str | None = None,
        tags: str | None = None,
        limit: int = 50,
        max_pages: int | None = None,
    ) -> Iterator[dict]:
        """Yield track objects from ``/tracks`` search, following ``next_href``.

        Parameters
        ----------
        q, genres, tags : str, keyword-only, optional
            Search text, comma-separated genres, comma-separated tags.
        limit : int, keyword-only
            Page size (1-200).
        max_pages : int, keyword-only, optional
            Stop after this many pages.
        """
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            raise ParameterError(f"limit must be an integer in 1..200, got {limit!r}")
        params = {"limit": limit, "linked_partitioning": "true", "access": "playable"}
        for k, v in (("q", q), ("genres", genres), ("tags", tags)):
            if v:
                params[k] = v
        url: str | None = "/tracks"
        pages = 0
        while url:
            body = self.get_json(url, params=params if pages == 0 else None)
            pages += 1
            if isinstance(body, list):  # without linked_partitioning the API returns a bare list
                yield from body
                return
            if not isinstance(body, dict):
                raise SoundCloudError(f"unexpected search response type {type(body).__name__}")
            yield from body.get("collection") or []
            url = body.get("next_href")
            if max_pages is not None and pages >= max_pages:
                return


def _reset_delay(resp, now: float) -> float | None:
    """Seconds until a 429's limit resets, from Retry-After, the JSON reset_time or X-RateLimit-Reset."""
    ra = resp.headers.get("Retry-After")
    if ra:
        try:
            return float(ra)
        except ValueError:
            pass
    try:
        body = resp.json()
        for err in body.get("errors", []):
            reset = (err.get("meta") or {}).get("reset_time") or err.get("reset_time")
            if reset:
                for fmt in ("%Y/%m/%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z"):
                    try:
                        return datetime.strptime(reset, fmt).timestamp() - now
                    except ValueError:
                        continue
    except (ValueError, AttributeError, TypeError):
        pass
    xr = resp.headers.get("X-RateLimit-Reset")
    if xr:
        try:
            return float(xr) - now
        except ValueError:
            pass
    return None


def _fetch_decision(track: dict, *, allow_stream: bool, licenses: list[str] | None) -> tuple[str | None, str]:
    """``(policy, why)``: the fetch policy of a track, or None and the reason it may not be fetched."""
    lic = str(track.get("license") or "")
    if licenses and not any(fnmatch.fnmatch(lic, pat) for pat in licenses):
        return None, f"licence {lic or '(none)'!r} not accepted"
    access = track.get("access", "playable")
    if access == "blocked":
        return None, "access blocked"
    if track.get("downloadable") and track.get("download_url"):
        return "download", ""
    if not allow_stream:
        return None, "not downloadable (streams not allowed)"
    if not track.get("streamable"):
        return None, "not downloadable and not streamable"
    if access != "playable":
        return None, f"stream access {access!r} (only a preview)"
    if not (track.get("stream_url") or track.get("id") is not None):
        return None, "no stream"
    return "stream", ""


def fetch_policy(track: dict, *, allow_stream: bool = True, licenses: list[str] | None = None) -> str | None:
    """How a track may be fetched: ``"download"``, ``"stream"`` or None (skip).

    Parameters
    ----------
    track : dict
        A SoundCloud track object.
    allow_stream : bool, keyword-only
        Accept full streams (``streamable`` and ``access == "playable"``) when the
        track is not downloadable.
    licenses : list of str, keyword-only, optional
        Accepted licence patterns (``fnmatch``, e.g. ``["cc-by*", "no-rights-reserved"]``).
    """
    return _fetch_decision(track, allow_stream=allow_stream, licenses=licenses)[0]


@dataclass
class CollectionResult:
    """What :func:`collect` did.

    Attributes
    ----------
    manifest : Path
        The manifest file.
    kept : Counter
        Tracks in the manifest per unified genre (including earlier runs).
    downloaded, reused : int
        Tracks downloaded in this run / already present.
    skipped : Counter
        Skipped tracks per reason ("not fetchable", "other genre", "unknown genre",
        "download failed", "undecodable audio", ...); each skipped track is also a row
        of the manifest with ``status`` ``skipped`` and the detailed ``reason``.
    unknown_tags : Counter
        Raw genre tags that matched no group.
    """

    manifest: Path
    kept: Counter = field(default_factory=Counter)
    downloaded: int = 0
    reused: int = 0
    skipped: Counter = field(default_factory=Counter)
    unknown_tags: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {
            "manifest": str(self.manifest),
            "kept": dict(self.kept),
            "downloaded": self.downloaded,
            "reused": self.reused,
            "skipped": dict(self.skipped),
            "unknown_tags": dict(self.unknown_tags.most_common()),
        }


# -- manifest ------------------------------------------------------------------------


def _read_manifest(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = {row["id"]: row for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}
    except (UnicodeDecodeError, csv.Error, KeyError) as exc:
        raise DataError(f"SoundCloud manifest {path} is unreadable ({exc}); move it away to start afresh") from exc
    for row in rows.values():  # manifests written before skips were recorded have no status column
        row["status"] = row.get("status") or ("kept" if row.get("path") else "skipped")
    return rows


def _write_manifest(path: Path, rows: dict[str, dict]) -> None:
    lines = ["\t".join(MANIFEST_FIELDS)]
    for row in sorted(rows.values(), key=lambda r: (r["status"] != "kept", r["genre"], r["id"])):
        lines.append("\t".join(str(row.get(c, "") or "").replace("\t", " ").replace("\n", " ")
                               for c in MANIFEST_FIELDS))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _track_row(track: dict, key: str, **fields) -> dict:
    user = track.get("user") or {}
    return {
        "id": key,
        "genre": "",
        "path": "",
        "duration": "",
        "artist": user.get("username") or "",
        "group": f"sc-user-{user['id']}" if user.get("id") is not None else "",
        "sha256": "",
        "raw_genre": track.get("genre") or "",
        "tags": track.get("tag_list") or "",
        "license": track.get("license") or "",
        "source": "",
        "stream": "",
        "title": track.get("title") or "",
        "permalink_url": track.get("permalink_url") or "",
        "soundcloud_id": str(track.get("id", "")),
        "status": "kept",
        "reason": "",
        **fields,
    }


def _redact(text: str) -> str:
    """Drop query strings (signatures of CDN URLs) from URLs in ``text``."""
    return re.sub(r"(https?://[^\s?'\"]+)\?[^\s'\"]*", r"\1?...", text)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # a malformed port matches nothing
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


# -- fetching audio ----------------------------------------------------------------------

_EXT_BY_TYPE = {
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
    "audio/wave": ".wav", "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/ogg": ".ogg",
    "audio/aiff": ".aiff", "audio/x-aiff": ".aiff", "audio/mp4": ".m4a", "audio/aac": ".aac",
}

#: Stream transcodings of ``/tracks/{urn}/streams`` in order of preference:
#: ``(field, protocol, extension, ffmpeg output format)``. SoundCloud recommends HLS AAC and
#: announced the end of the progressive and HLS MP3 / Opus transcodings; previews are never used.
STREAM_FORMATS = (
    ("hls_aac_160_url", "hls", ".m4a", "mp4"),
    ("http_mp3_128_url", "progressive", ".mp3", None),
    ("hls_aac_96_url", "hls", ".m4a", "mp4"),
    ("hls_mp3_128_url", "hls", ".mp3", "mp3"),
)

# ffmpeg reports a segment it could not fetch as a warning and carries on; such output has holes
_HLS_TROUBLE = re.compile(r"segment|error|fail|timed? ?out|refused|reset|invalid|denied|not in allowed",
                          re.IGNORECASE)


def _audio_ext(resp, track: dict, source: str) -> str:
    ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype in _EXT_BY_TYPE:
        return _EXT_BY_TYPE[ctype]
    fmt = str(track.get("original_format") or "").lower()
    if source == "download" and fmt in {"mp3", "wav", "flac", "ogg", "aiff", "m4a", "aac"}:
        return "." + fmt
    return ".mp3"


def _stream_candidates(client: SoundCloudClient, track: dict) -> tuple[list[tuple], list[str]]:
    """Stream URLs to try, best first, as ``(field, protocol, url, ext, ffmpeg format)``, and notes on failures."""
    found: list[tuple] = []
    notes: list[str] = []
    ref = track.get("urn") or track.get("id")
    try:
        urls = client.get_json(f"/tracks/{ref}/streams")
    except SoundCloudError as exc:
        if "rate limit" in str(exc):
            raise
        urls = {}
        notes.append(f"streams: {exc}")
    if isinstance(urls, dict):
        for name, protocol, ext, fmt in STREAM_FORMATS:
            url = urls.get(name)
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                found.append((name, protocol, url, ext, fmt))
    if track.get("stream_url"):  # the track object's own (older) progressive stream endpoint
        found.append(("stream_url", "progressive", track["stream_url"], None, None))
    if not found:
        notes.append("no full-length stream offered (previews are not used)")
    return found, notes


class _BodyError(Exception):
    """The body of a response stopped early (dropped or stalled connection)."""


def _read_body(resp, tmp: Path, mode: str) -> None:
    import http.client

    import requests
    import urllib3

    with open(tmp, mode) as fh:
        try:  # small blocks: the bytes of a block being read when the connection fails are lost
            for block in resp.iter_content(1 << 14):
                fh.write(block)
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                ConnectionError, TimeoutError) as exc:
            raise _BodyError(f"{type(exc).__name__}: {exc}") from exc


def _resume_mode(resp, have: int) -> str:
    """``"ab"`` when ``resp`` continues a file of ``have`` bytes, ``"wb"`` when it starts over."""
    if have and resp.status_code == 206:
        m = re.match(r"bytes\s+(\d+)-", resp.headers.get("Content-Range", ""))
        if m and int(m.group(1)) == have:
            return "ab"
    return "wb"


def _expected_size(resp, have: int, mode: str) -> int | None:
    m = re.match(r"bytes\s+\d+-\d+/(\d+)", resp.headers.get("Content-Range", ""))
    if m:
        return int(m.group(1))
    length = resp.headers.get("Content-Length", "")
    return (have if mode == "ab" else 0) + int(length) if length.isdigit() else None


def _fetch_progressive(client: SoundCloudClient, url: str, dest_stem: Path, *, track: dict, source: str,
                       ext: str | None = None) -> Path:
    """Download ``url`` to ``dest_stem`` + extension; a dropped or stalled body is resumed with Range.

    Up to ``client.max_retries`` resumptions, with exponential backoff; HTTP errors are handled
    (and retried) by :meth:`SoundCloudClient.request`. Raises SoundCloudError when it gives up.
    """
    part = dest_stem.with_name(dest_stem.name + ".part")
    with atomic_path(part) as tmp:
        have, validator, problem = 0, None, ""
        for attempt in range(client.max_retries + 1):
            if attempt:
                client.sleep(client.backoff * 2 ** (attempt - 1))
            headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
            if have:
                headers["Range"] = f"bytes={have}-"
                if validator:
                    headers["If-Range"] = validator
            with client.request(url, stream=True, headers=headers) as resp:
                mode = _resume_mode(resp, have)
                if mode == "wb":
                    validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
                ext = ext or _audio_ext(resp, track, source)
                total = _expected_size(resp, have, mode)
                try:
                    _read_body(resp, tmp, mode)
                    problem = ""
                except _BodyError as exc:
                    problem = str(exc)
            have = tmp.stat().st_size
            if not problem and total is not None and have != total:
                problem = f"body ended after {have} of {total} bytes"
            if not problem:
                break
        else:
            raise SoundCloudError(f"download of {_redact(url)} failed {client.max_retries + 1} times, "
                                  f"last: {_redact(problem)}")
    dest = dest_stem.with_suffix(ext or ".mp3")
    os.replace(part, dest)
    return dest


def _fetch_hls(client: SoundCloudClient, url: str, dest: Path, *, fmt: str, max_seconds: float) -> Path:
    """Save the audio of an HLS playlist with ffmpeg (no re-encoding), retrying the whole stream.

    ffmpeg gets no credentials and may only use http(s) (no local files); any segment it
    could not fetch counts as a failure, since it would leave a hole in the audio.
    """
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-y",
           "-protocol_whitelist", "http,https,tcp,tls,crypto",
           "-rw_timeout", str(int(client.timeout * 1e6)), "-i", url,
           "-map", "0:a:0", "-vn", "-sn", "-dn", "-c:a", "copy", "-t", f"{max_seconds:.0f}", "-f", fmt]
    problem = ""
    for attempt in range(client.max_retries + 1):
        if attempt:
            client.sleep(client.backoff * 2 ** (attempt - 1))
        try:
            with atomic_path(dest) as tmp:
                try:
                    proc = subprocess.run([*cmd, str(tmp)], capture_output=True, text=True, errors="replace",
                                          timeout=max_seconds + 60 * client.timeout)
                except FileNotFoundError:
                    raise SoundCloudError("ffmpeg is not installed (it is needed for HLS streams)") from None
                except subprocess.TimeoutExpired:
                    raise _BodyError("ffmpeg took too long") from None
                trouble = [ln.strip() for ln in proc.stderr.splitlines() if _HLS_TROUBLE.search(ln)]
                if proc.returncode != 0 or trouble or tmp.stat().st_size == 0:
                    lines = list(dict.fromkeys(trouble or proc.stderr.strip().splitlines()))
                    raise _BodyError("ffmpeg: " + (" / ".join(lines[:3])[:400] or f"exit status {proc.returncode}"))
            return dest
        except _BodyError as exc:
            problem = str(exc)
    raise SoundCloudError(f"HLS stream {_redact(url)} failed {client.max_retries + 1} times, "
                          f"last: {_redact(problem)}")


def _fetch_stream(client: SoundCloudClient, track: dict, dest_stem: Path) -> tuple[Path, str]:
    """Fetch the best stream that works; returns the file and the stream field used."""
    candidates, notes = _stream_candidates(client, track)
    limit = (track.get("duration") or 0) / 1000 * 1.2 + 60 if track.get("duration") else 4 * 3600
    for name, protocol, url, ext, fmt in candidates:
        try:
            if protocol == "hls":
                return _fetch_hls(client, url, dest_stem.with_suffix(ext), fmt=fmt, max_seconds=limit), name
            return _fetch_progressive(client, url, dest_stem, track=track, source="stream", ext=ext), name
        except SoundCloudError as exc:
            if "rate limit" in str(exc):
                raise
            notes.append(f"{name}: {exc}")
    raise SoundCloudError("; ".join(notes))


def _fetch_audio(client: SoundCloudClient, track: dict, source: str, dest_stem: Path) -> tuple[Path, str]:
    if source == "download":
        return _fetch_progressive(client, track["download_url"], dest_stem, track=track, source=source), ""
    return _fetch_stream(client, track, dest_stem)


# -- collection --------------------------------------------------------------------------


def _classify(track: dict, gid: str, extra: dict, result: CollectionResult) -> tuple[str | None, str]:
    """``(None, "")`` when the track belongs to group ``gid``, else the skip reason (key, detail)."""
    raw = track.get("genre") or ""
    unified = unify(raw, extra=extra) if raw else None
    if unified is None:
        if raw:
            result.unknown_tags[raw] += 1
        unified = unify(str(track.get("tag_list") or ""), extra=extra)
    if unified is None:
        return "unknown genre", f"genre {raw!r} and tags match no group"
    if unified != gid:
        return "other genre", f"{unified}, searched {gid}"
    return None, ""


def _keep(client: SoundCloudClient, track: dict, key: str, gid: str, to: Path, *, source: str,
          check_audio: bool) -> dict:
    """Fetch one track and return its manifest row (``status`` kept or skipped)."""
    try:
        path, stream = _fetch_audio(client, track, source, to / gid / key)
    except SoundCloudError as exc:
        if "rate limit" in str(exc):
            raise
        return _track_row(track, key, source=source, status="skipped",
                          reason=f"download failed: {_redact(str(exc))}")
    duration = (track.get("duration") or 0) / 1000 or None
    if check_audio:
        from genrenet.datasets.folder import probe_audio

        try:
            duration = probe_audio(path)
        except GenrenetError as exc:
            path.unlink(missing_ok=True)
            return _track_row(track, key, source=source, stream=stream, status="skipped",
                              reason=f"undecodable audio: {exc}")
    return _track_row(track, key, genre=gid, path=path.relative_to(to).as_posix(),
                      duration=f"{duration:.3f}" if duration else "", sha256=sha256_file(path),
                      source=source, stream=stream)


def _wanted_groups(genres) -> dict[str, str]:
    if isinstance(genres, str):
        genres = [g.strip() for g in genres.split(",") if g.strip()]
    if not genres:
        raise ParameterError("genres must name at least one genre")
    wanted: dict[str, str] = {}
    for g in genres:
        gid = unify(g) or normalize(g)
        if not gid:
            raise ParameterError(f"genres: {g!r} is not a genre name")
        wanted[gid] = g
    return wanted


@renamed_kwargs(to="out_dir")
def collect(
    genres: list[str],
    *,
    per_genre: int,
    out_dir: str | Path,
    client: SoundCloudClient | None = None,
    allow_stream: bool = True,
    licenses: list[str] | None = None,
    q: str | None = None,
    page_size: int = 50,
    max_pages: int = 20,
    check_audio: bool = True,
    progress: bool = True,
) -> CollectionResult:
    """Collect up to ``per_genre`` fetchable tracks for each genre into ``out_dir``.

    Parameters
    ----------
    genres : list of str
        Genres to search for ("hip hop", "Reggaeton", "metal" ...). Each is unified
        with :func:`genrenet.genres.unify`; a name outside the thesis's 39 groups
        (e.g. "blues") becomes its own group.
    per_genre : int, keyword-only
        Tracks wanted per genre (earlier runs count).
    out_dir : str or Path, keyword-only
        Output directory; audio goes to ``<out_dir>/<group>/sc-<id>.<ext>``, the manifest to
        ``<out_dir>/manifest.tsv``. (Formerly ``to=``, still accepted with a :class:`FutureWarning`.)
    client : SoundCloudClient, keyword-only, optional
        Default: credentials from the environment.
    allow_stream, licenses : keyword-only
        Fetch policy, see :func:`fetch_policy`.
    q : str, keyword-only, optional
        Extra search text sent with every genre search (``/tracks?q=...&genres=<genre>``).
    page_size, max_pages : int, keyword-only
        Search paging per genre.
    check_audio : bool, keyword-only
        Probe each downloaded file and drop those that cannot be decoded.
    progress : bool, keyword-only
        Show a tqdm bar.

    Returns
    -------
    CollectionResult

    Notes
    -----
    A track that cannot be fetched (a body that keeps dropping or stalling after the
    retries and Range resumptions, a failing stream) is skipped, never the run. Every
    skipped track is a manifest row with ``status`` ``skipped``, an empty ``genre`` (data
    set loaders ignore it) and its ``reason``. A rerun fetches tracks whose download
    failed again; a track whose audio could not be decoded is not downloaded again.
    """
    from tqdm import tqdm

    wanted = _wanted_groups(genres)
    positive_int("per_genre", per_genre)
    client = client or SoundCloudClient()
    to = Path(out_dir).expanduser()
    to.mkdir(parents=True, exist_ok=True)
    manifest = to / MANIFEST_NAME
    # rows whose audio vanished are dropped, so they are fetched again
    rows = {k: r for k, r in _read_manifest(manifest).items()
            if r["status"] != "kept" or (to / r["path"]).is_file()}
    result = CollectionResult(manifest)
    extra = {g: gid for gid, g in wanted.items() if gid not in GROUPS}

    bar = tqdm(total=per_genre * len(wanted), desc="soundcloud", unit="track", disable=not progress)
    try:
        for gid, query in wanted.items():
            have = sum(1 for r in rows.values() if r["status"] == "kept" and r["genre"] == gid)
            result.reused += have
            bar.update(min(have, per_genre))
            if have < per_genre:
                got = _collect_group(client, gid, query, per_genre - have, rows, to, manifest, result, bar,
                                     extra=extra, allow_stream=allow_stream, licenses=licenses, q=q,
                                     page_size=page_size, max_pages=max_pages, check_audio=check_audio)
                if have + got < per_genre:
                    result.skipped[f"short of {per_genre} for {gid}"] += per_genre - have - got
    finally:
        bar.close()
        _write_manifest(manifest, rows)  # also when interrupted: nothing decided is lost
    result.kept = Counter(r["genre"] for r in rows.values() if r["status"] == "kept")
    return result


def _collect_group(client, gid, query, need, rows, to, manifest, result, bar, *, extra, allow_stream, licenses,
                   q, page_size, max_pages, check_audio) -> int:
    """Fetch up to ``need`` new tracks of group ``gid``; returns how many were kept."""
    got = 0
    for track in client.search_tracks(q=q, genres=query, limit=page_size, max_pages=max_pages):
        if got >= need:
            break
        sid = str(track.get("id", ""))
        if not sid:
            continue
        key = f"sc-{sid}"
        old = rows.get(key)
        if old is not None and old["status"] == "kept":
            continue
        why, detail = _classify(track, gid, extra, result)
        if why is None:
            source, detail = _fetch_decision(track, allow_stream=allow_stream, licenses=licenses)
            why = None if source else "not fetchable"
        if why is None and old is not None and old["reason"].startswith("undecodable audio"):
            why, detail = "undecodable audio", old["reason"].split(": ", 1)[-1]
        if why is not None:
            result.skipped[why] += 1
            rows[key] = _track_row(track, key, status="skipped", reason=f"{why}: {detail}")
            continue
        row = _keep(client, track, key, gid, to, source=source, check_audio=check_audio)
        rows[key] = row
        _write_manifest(manifest, rows)  # after every fetch: an interrupted run loses nothing
        if row["status"] != "kept":
            result.skipped[row["reason"].split(":", 1)[0]] += 1
            continue
        result.downloaded += 1
        got += 1
        bar.update(1)
    return got
