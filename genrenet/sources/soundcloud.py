"""SoundCloud collector: search tracks by genre and download those we may fetch.

The thesis chose SoundCloud because the genre of a track is set by its artist
and tracks can be downloadable. This module talks to the public API
(``https://api.soundcloud.com``):

* **Authentication**: OAuth 2.1 client credentials. The client id and secret
  come from ``$SOUNDCLOUD_CLIENT_ID`` / ``$SOUNDCLOUD_CLIENT_SECRET`` (never from
  code); the token endpoint gets a ``POST grant_type=client_credentials`` with
  HTTP Basic credentials, and every API call sends ``Authorization: OAuth TOKEN``.
  The token is cached in memory and on disk (atomically, mode 0600), reused until
  shortly before it expires, renewed with its refresh token when there is one,
  and renewed once more when the API answers 401. SoundCloud limits how many
  client-credentials tokens an app may request, so a token is never requested per call.
* **Search**: ``GET /tracks?q=&genres=&tags=&limit=&linked_partitioning=true``
  following ``next_href`` page by page.
* **Limits**: HTTP 429 waits until the ``reset_time`` the API reports (or
  ``Retry-After``), 5xx and connection errors are retried with exponential
  backoff; both bounded. ``sleep`` and ``clock`` are injectable for tests.
* **Policy**: only tracks the API marks as fetchable are downloaded:
  ``downloadable`` with a ``download_url`` (the artist allows downloads), or,
  when ``allow_stream`` is set, ``streamable`` with ``access == "playable"``
  (full stream, not a 30 s preview); an optional licence filter
  (e.g. ``cc-by*``) narrows this further.
* **Manifest**: each kept track is appended to ``<to>/manifest.tsv`` (rewritten
  atomically) with its unified genre (:mod:`genrenet.genres`), raw genre, tags,
  licence, URL and sha256; a rerun skips tracks already downloaded.

Used by book chapter 04 "Data" (``notebooks/data_exploration.ipynb``) and by
``genrenet data collect soundcloud``.
"""

from __future__ import annotations

import base64
import csv
import fnmatch
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from genrenet.errors import DataError, GenrenetError, ParameterError
from genrenet.genres import GROUPS, normalize, unify
from genrenet.io import atomic_path, atomic_write_text, sha256_file

__all__ = [
    "API_BASE",
    "TOKEN_URL",
    "MANIFEST_FIELDS",
    "SoundCloudError",
    "SoundCloudClient",
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
    "raw_genre", "tags", "license", "source", "title", "permalink_url", "soundcloud_id",
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

    def request(self, url: str, *, params: dict | None = None, stream: bool = False, auth: bool = True):
        """GET ``url`` (absolute, or a path below the API root) with auth, 401/429/5xx handling.

        Returns the ``requests.Response`` (status 2xx). Raises SoundCloudError otherwise.
        """
        import requests

        if not url.startswith(("http://", "https://")):
            url = self.api_base + "/" + url.lstrip("/")
        refreshed = False
        attempt = 0
        while True:
            headers = {"Accept": "application/json; charset=utf-8"}
            if auth:
                headers["Authorization"] = f"OAuth {self.token()}"
            try:
                resp = self.session.get(url, params=params, headers=headers, stream=stream, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    raise SoundCloudError(f"GET {url} failed after {attempt + 1} attempts: {exc}") from exc
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
                raise SoundCloudError(f"GET {url} failed: HTTP {resp.status_code} {text!r}")
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
    lic = str(track.get("license") or "")
    if licenses and not any(fnmatch.fnmatch(lic, pat) for pat in licenses):
        return None
    access = track.get("access", "playable")
    if access == "blocked":
        return None
    if track.get("downloadable") and track.get("download_url"):
        return "download"
    if allow_stream and track.get("streamable") and access == "playable" and (
        track.get("stream_url") or track.get("id") is not None
    ):
        return "stream"
    return None


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
        Reasons for skipped tracks ("not fetchable", "other genre", "unknown genre", ...).
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


def _read_manifest(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}


def _write_manifest(path: Path, rows: dict[str, dict]) -> None:
    lines = ["\t".join(MANIFEST_FIELDS)]
    for row in sorted(rows.values(), key=lambda r: (r["genre"], r["id"])):
        lines.append("\t".join(str(row.get(c, "") or "").replace("\t", " ").replace("\n", " ")
                               for c in MANIFEST_FIELDS))
    atomic_write_text(path, "\n".join(lines) + "\n")


_EXT_BY_TYPE = {
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
    "audio/wave": ".wav", "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/ogg": ".ogg",
    "audio/aiff": ".aiff", "audio/x-aiff": ".aiff", "audio/mp4": ".m4a", "audio/aac": ".aac",
}


def _audio_ext(resp, track: dict, source: str) -> str:
    ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype in _EXT_BY_TYPE:
        return _EXT_BY_TYPE[ctype]
    fmt = str(track.get("original_format") or "").lower()
    if source == "download" and fmt in {"mp3", "wav", "flac", "ogg", "aiff", "m4a", "aac"}:
        return "." + fmt
    return ".mp3"


def _stream_url(client: SoundCloudClient, track: dict) -> str:
    if track.get("stream_url"):
        return track["stream_url"]
    urls = client.get_json(f"/tracks/{track['id']}/streams")
    if isinstance(urls, dict) and urls.get("http_mp3_128_url"):
        return urls["http_mp3_128_url"]
    raise SoundCloudError(f"track {track.get('id')} offers no progressive mp3 stream")


def _download_audio(client: SoundCloudClient, track: dict, source: str, dest_stem: Path) -> Path:
    url = track["download_url"] if source == "download" else _stream_url(client, track)
    resp = client.request(url, stream=True)
    with resp:
        dest = dest_stem.with_suffix(_audio_ext(resp, track, source))
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as fh:
                for block in resp.iter_content(1 << 16):
                    fh.write(block)
    return dest


def collect(
    genres: list[str],
    *,
    per_genre: int,
    to: str | Path,
    client: SoundCloudClient | None = None,
    allow_stream: bool = True,
    licenses: list[str] | None = None,
    q: str | None = None,
    page_size: int = 50,
    max_pages: int = 20,
    check_audio: bool = True,
    progress: bool = True,
) -> CollectionResult:
    """Collect up to ``per_genre`` fetchable tracks for each genre into ``to``.

    Parameters
    ----------
    genres : list of str
        Genres to search for ("hip hop", "Reggaeton", "metal" ...). Each is unified
        with :func:`genrenet.genres.unify`; a name outside the thesis's 39 groups
        (e.g. "blues") becomes its own group.
    per_genre : int, keyword-only
        Tracks wanted per genre (earlier runs count).
    to : str or Path, keyword-only
        Output directory; audio goes to ``<to>/<group>/sc-<id>.<ext>``, the manifest to
        ``<to>/manifest.tsv``.
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
    """
    from tqdm import tqdm

    if isinstance(genres, str):
        genres = [g.strip() for g in genres.split(",") if g.strip()]
    if not genres:
        raise ParameterError("genres must name at least one genre")
    if not isinstance(per_genre, int) or per_genre < 1:
        raise ParameterError(f"per_genre must be a positive integer, got {per_genre!r}")
    client = client or SoundCloudClient()
    to = Path(to).expanduser()
    to.mkdir(parents=True, exist_ok=True)
    manifest = to / "manifest.tsv"
    rows = _read_manifest(manifest)
    # drop rows whose audio vanished, so they are fetched again
    rows = {k: r for k, r in rows.items() if (to / r["path"]).is_file()}
    result = CollectionResult(manifest)

    wanted: dict[str, str] = {}
    for g in genres:
        gid = unify(g) or normalize(g)
        if not gid:
            raise ParameterError(f"genres: {g!r} is not a genre name")
        wanted[gid] = g
    extra = {g: gid for gid, g in wanted.items() if gid not in GROUPS}

    bar = tqdm(total=per_genre * len(wanted), desc="soundcloud", unit="track", disable=not progress)
    try:
        for gid, query in wanted.items():
            have = sum(1 for r in rows.values() if r["genre"] == gid)
            result.reused += have
            bar.update(min(have, per_genre))
            if have >= per_genre:
                continue
            for track in client.search_tracks(q=q, genres=query, limit=page_size, max_pages=max_pages):
                if have >= per_genre:
                    break
                sid = str(track.get("id", ""))
                if not sid:
                    continue
                key = f"sc-{sid}"
                if key in rows:
                    continue
                raw = track.get("genre") or ""
                unified = unify(raw, extra=extra) if raw else None
                if unified is None:
                    tag_group = unify(str(track.get("tag_list") or ""), extra=extra)
                    if raw:
                        result.unknown_tags[raw] += 1
                    unified = tag_group
                if unified is None:
                    result.skipped["unknown genre"] += 1
                    continue
                if unified != gid:
                    result.skipped["other genre"] += 1
                    continue
                source = fetch_policy(track, allow_stream=allow_stream, licenses=licenses)
                if source is None:
                    result.skipped["not fetchable"] += 1
                    continue
                try:
                    path = _download_audio(client, track, source, to / gid / key)
                except SoundCloudError as exc:
                    if "rate limit" in str(exc):
                        raise
                    result.skipped["download failed"] += 1
                    continue
                duration = (track.get("duration") or 0) / 1000 or None
                if check_audio:
                    try:
                        from genrenet.datasets.folder import probe_audio

                        duration = probe_audio(path)
                    except GenrenetError:
                        path.unlink(missing_ok=True)
                        result.skipped["undecodable audio"] += 1
                        continue
                user = track.get("user") or {}
                rows[key] = {
                    "id": key,
                    "genre": gid,
                    "path": path.relative_to(to).as_posix(),
                    "duration": f"{duration:.3f}" if duration else "",
                    "artist": user.get("username") or "",
                    "group": f"sc-user-{user['id']}" if user.get("id") is not None else "",
                    "sha256": sha256_file(path),
                    "raw_genre": raw,
                    "tags": track.get("tag_list") or "",
                    "license": track.get("license") or "",
                    "source": source,
                    "title": track.get("title") or "",
                    "permalink_url": track.get("permalink_url") or "",
                    "soundcloud_id": sid,
                }
                _write_manifest(manifest, rows)  # after every track: an interrupted run loses nothing
                result.downloaded += 1
                have += 1
                bar.update(1)
            if have < per_genre:
                result.skipped[f"short of {per_genre} for {gid}"] += per_genre - have
    finally:
        bar.close()
    _write_manifest(manifest, rows)
    result.kept = Counter(r["genre"] for r in rows.values())
    return result
