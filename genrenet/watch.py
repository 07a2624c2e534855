"""A&R notifications: follow new uploads, classify each once, notify the people who asked.

The thesis ends with a recommendation: tell A&R people automatically when a new upload
fits what they look for. ``genrenet watch SOURCE --subscriptions subs.yml`` does it:

Sources
    A folder (new audio files appearing anywhere under it; a file counts once its size
    and modification time have stayed the same for ``settle`` seconds, so half-copied
    uploads are not read), or ``soundcloud:QUERY``: the SoundCloud collector
    (:func:`genrenet.sources.soundcloud.collect`) fetches new fetchable tracks matching
    the query into a download folder every ``soundcloud_interval`` seconds, and that folder
    is followed like any other.
Subscriptions (:func:`load_subscriptions`)
    A small YAML file: each subscription has a ``name``, the wanted ``genres``, a
    ``min_probability`` and a ``webhook`` URL or an output ``file`` (JSON lines), and
    optionally the ``model`` whose verdict counts (default: every loaded model).
Matches
    A track matches a subscription for a model when that model gives one of the wanted
    genres at least ``min_probability``. Each match is delivered as one JSON object:
    ``{"id", "subscription", "track", "genres", "probabilities", "model", "time"}``
    (``genres``: the wanted genres that passed, with their probabilities; ``id``: the
    delivery's stable identifier, also sent as the ``X-Genrenet-Delivery`` header).
State (SQLite, ``state``)
    Tables ``tracks`` (every track seen: pending, classified or error, with the result),
    ``deliveries`` (one row per match: pending, delivered or failed, attempts, next try)
    and ``attempts`` (every delivery attempt with its outcome). A track's classification
    and its deliveries are committed in one transaction; a delivery is marked delivered
    right after the receiver accepted it. A restart therefore classifies nothing twice,
    loses no match and delivers nothing twice; the only window is a crash between a
    webhook's ``2xx`` and that commit, which the delivery ``id`` lets a receiver recognise
    (file deliveries close it: the file is checked for the ``id`` before writing).
Retries
    A failing webhook (connection error, timeout, non-2xx answer) is retried with
    exponential backoff (``retry_base`` seconds, doubling, at most ``retry_max``) up to
    ``max_attempts`` times, then marked failed; every attempt is recorded.

Used by the README ("A&R notifications") and the book chapter "The genre-detector website"
(``book/dev_website.md``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genrenet._validate import positive_int
from genrenet.datasets.base import MANIFEST_NAME
from genrenet.errors import GenrenetError, ParameterError

__all__ = ["Subscription", "load_subscriptions", "WatchState", "Watcher", "matches"]

SOUNDCLOUD_PREFIX = "soundcloud:"
_IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, first_seen REAL,
    status TEXT NOT NULL, result TEXT, error TEXT, classified_at TEXT);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, track TEXT NOT NULL, subscription TEXT NOT NULL, model TEXT NOT NULL,
    target TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL, last_error TEXT, delivered_at TEXT,
    UNIQUE (track, subscription, model));
CREATE TABLE IF NOT EXISTS attempts (
    delivery TEXT NOT NULL, at TEXT NOT NULL, ok INTEGER NOT NULL, detail TEXT);
"""


# --------------------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class Subscription:
    """Who wants to hear about which tracks (see the module docstring)."""

    name: str
    genres: tuple[str, ...]
    min_probability: float
    webhook: str | None = None
    file: Path | None = None
    model: str | None = None

    @property
    def target(self) -> str:
        """Where deliveries go: the webhook URL or ``file:<path>``."""
        return self.webhook if self.webhook else f"file:{self.file}"


def _subscription(i: int, item: Any, base: Path, where: Path) -> Subscription:
    if not isinstance(item, dict):
        raise ParameterError(f"{where}: subscription #{i + 1} must be a mapping, got {item!r}")
    unknown = set(item) - {"name", "genres", "min_probability", "webhook", "file", "model"}
    if unknown:
        raise ParameterError(f"{where}: subscription #{i + 1} has unknown keys {sorted(unknown)}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"{where}: subscription #{i + 1} needs a name")
    genres = item.get("genres")
    if isinstance(genres, str):
        genres = [genres]
    if not isinstance(genres, list) or not genres or not all(isinstance(g, str) and g for g in genres):
        raise ParameterError(f"{where}: subscription {name!r}: genres must be a non-empty list of names")
    p = item.get("min_probability", 0.5)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ParameterError(f"{where}: subscription {name!r}: min_probability must lie in [0, 1], got {p!r}")
    webhook, file = item.get("webhook"), item.get("file")
    if (webhook is None) == (file is None):
        raise ParameterError(f"{where}: subscription {name!r} needs exactly one of webhook (URL) or file (path)")
    if webhook is not None and not (isinstance(webhook, str) and webhook.startswith(("http://", "https://"))):
        raise ParameterError(f"{where}: subscription {name!r}: webhook must be an http(s) URL, got {webhook!r}")
    path = None
    if file is not None:
        if not isinstance(file, str) or not file:
            raise ParameterError(f"{where}: subscription {name!r}: file must be a path")
        path = Path(file).expanduser()
        path = path if path.is_absolute() else base / path
    model = item.get("model")
    if model is not None and not isinstance(model, str):
        raise ParameterError(f"{where}: subscription {name!r}: model must be a model name")
    return Subscription(name.strip(), tuple(g.strip().lower() for g in genres), float(p), webhook, path, model)


def load_subscriptions(path: str | os.PathLike) -> list[Subscription]:
    """Read a subscriptions YAML file.

    Format::

        subscriptions:
          - name: jazz-scout
            genres: [jazz, blues]
            min_probability: 0.6
            webhook: https://hooks.example.com/genrenet
          - name: metal-desk
            genres: [metal]
            min_probability: 0.5
            file: matches/metal.jsonl   # relative to the YAML file
            model: Compact CNN (GTZAN-mini)   # optional

    Raises
    ------
    ParameterError
        The file is missing, not YAML, or a subscription is invalid (the message names it).
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(f"subscriptions file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"subscriptions file {path} is not valid YAML: {exc}") from None
    items = data.get("subscriptions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ParameterError(f"subscriptions file {path} needs a non-empty 'subscriptions:' list")
    subs = [_subscription(i, item, path.parent, path) for i, item in enumerate(items)]
    names = [s.name for s in subs]
    if len(set(names)) != len(names):
        raise ParameterError(f"subscriptions file {path}: names must be unique, got {names}")
    return subs


def matches(result, subscriptions: Sequence[Subscription]) -> list[tuple[Subscription, str, dict[str, float]]]:
    """``(subscription, model, {genre: probability})`` for every match of a :class:`PredictionResult`."""
    out = []
    for sub in subscriptions:
        for r in result.results:
            if sub.model is not None and r.name != sub.model:
                continue
            probs = {g.lower(): p for g, p in r.probabilities.items()}
            hit = {g: probs[g] for g in sub.genres if probs.get(g, -1.0) >= sub.min_probability}
            if hit:
                out.append((sub, r.name, hit))
    return out


# --------------------------------------------------------------------------- state


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class WatchState:
    """The watcher's SQLite state (tables ``tracks``, ``deliveries``, ``attempts``).

    Parameters
    ----------
    path : path-like
        Database file (created with its folder).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ParameterError(f"state file {self.path} is not a genrenet watch database ({exc})") from None
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    def known(self) -> dict[str, sqlite3.Row]:
        return {r["path"]: r for r in self.db.execute("SELECT path, size, mtime_ns, status FROM tracks")}

    def see(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new file (or its changed size while it is being written)."""
        self.db.execute("INSERT INTO tracks (path, size, mtime_ns, first_seen, status) VALUES (?, ?, ?, ?, 'new') "
                        "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns "
                        "WHERE tracks.status = 'new'", (path, size, mtime_ns, time.time()))

    def settled(self, path: str) -> None:
        self.db.execute("UPDATE tracks SET status='pending' WHERE path=? AND status='new'", (path,))

    def pending(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM tracks WHERE status='pending' ORDER BY first_seen")]

    def classified(self, path: str, result: dict | None, error: str | None,
                   deliveries: list[tuple[str, Subscription, str, dict]]) -> None:
        """Store a track's verdict and its deliveries in one transaction."""
        with _transaction(self.db):
            self.db.execute("UPDATE tracks SET status=?, result=?, error=?, classified_at=? WHERE path=?",
                            ("error" if error else "classified", json.dumps(result) if result else None, error,
                             _now_iso(), path))
            for did, sub, model, payload in deliveries:
                self.db.execute(
                    "INSERT OR IGNORE INTO deliveries (id, track, subscription, model, target, payload, status, "
                    "next_attempt) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0)",
                    (did, path, sub.name, model, sub.target, json.dumps(payload)))

    def due(self, now: float) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM deliveries WHERE status='pending' AND next_attempt <= ? "
                                    "ORDER BY rowid", (now,)))

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT MIN(next_attempt) FROM deliveries WHERE status='pending'").fetchone()
        return row[0]

    def attempt(self, delivery: str, ok: bool, detail: str, *, status: str, next_attempt: float) -> None:
        with _transaction(self.db):
            self.db.execute("INSERT INTO attempts (delivery, at, ok, detail) VALUES (?, ?, ?, ?)",
                            (delivery, _now_iso(), int(ok), detail))
            self.db.execute("UPDATE deliveries SET status=?, attempts=attempts+1, next_attempt=?, last_error=?, "
                            "delivered_at=? WHERE id=?",
                            (status, next_attempt, None if ok else detail, _now_iso() if ok else None, delivery))

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("tracks", "deliveries"):
            for status, n in self.db.execute(f"SELECT status, COUNT(*) FROM {table} GROUP BY status"):
                out[f"{table}.{status}"] = n
        return out


class _transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


# --------------------------------------------------------------------------- delivery


def _post(url: str, payload: dict, *, timeout: float) -> tuple[bool, str]:
    import requests

    try:
        resp = requests.post(url, json=payload, timeout=timeout, headers={"X-Genrenet-Delivery": payload["id"]})
    except requests.RequestException as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if 200 <= resp.status_code < 300:
        return True, f"HTTP {resp.status_code}"
    return False, f"HTTP {resp.status_code}: {resp.text[:200]}"


def _append(path: Path, payload: dict) -> tuple[bool, str]:
    """Append one JSON line, unless an earlier run already wrote this delivery id."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                if any(f'"id": "{payload["id"]}"' in line for line in fh):
                    return True, "already in the file"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return False, f"cannot write {path}: {exc.strerror or exc}"
    return True, f"appended to {path}"


# --------------------------------------------------------------------------- the watcher


class Watcher:
    """Follow a source, classify new tracks once, deliver matches (see the module docstring).

    Parameters
    ----------
    source : str or path-like
        A folder, or ``"soundcloud:QUERY"``.
    subscriptions : list of Subscription
    state : path-like
        SQLite file.
    predictor : Predictor or callable
        The models (a callable is called once, on first use).
    settle : float, keyword-only
        Seconds a file's size and time must stay unchanged before it is read.
    retry_base, retry_max : float, keyword-only
        First delay and cap of the exponential webhook backoff, in seconds.
    max_attempts : int, keyword-only
        Attempts before a delivery is marked failed.
    timeout : float, keyword-only
        Webhook request timeout in seconds.
    soundcloud_dir, soundcloud_genres, soundcloud_interval, soundcloud_per_poll : keyword-only
        SoundCloud source: download folder, genres searched (default: the subscriptions'),
        seconds between collector runs, new tracks wanted per genre and run.
    log : callable, keyword-only
        Receives one line of text per event (default: stderr).
    """

    def __init__(self, source, subscriptions: Sequence[Subscription], state, predictor, *, settle: float = 2.0,
                 retry_base: float = 5.0, retry_max: float = 3600.0, max_attempts: int = 10, timeout: float = 10.0,
                 soundcloud_dir=None, soundcloud_genres: Sequence[str] | None = None,
                 soundcloud_interval: float = 300.0, soundcloud_per_poll: int = 5,
                 log: Callable[[str], None] | None = None):
        if not subscriptions:
            raise ParameterError("watch needs at least one subscription")
        positive_int("max_attempts", max_attempts)
        for name, value in (("settle", settle), ("retry_base", retry_base), ("retry_max", retry_max),
                            ("timeout", timeout)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ParameterError(f"{name} must be a number of seconds >= 0, got {value!r}")
        self.subscriptions = list(subscriptions)
        self.state = WatchState(state)
        self._predictor = predictor
        self.settle, self.retry_base, self.retry_max = float(settle), float(retry_base), float(retry_max)
        self.max_attempts, self.timeout = max_attempts, float(timeout)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.stop_event = threading.Event()
        source = os.fspath(source)
        self.query = source[len(SOUNDCLOUD_PREFIX):] if source.startswith(SOUNDCLOUD_PREFIX) else None
        if self.query is not None:
            from genrenet.paths import downloads_dir

            self.folder = Path(soundcloud_dir) if soundcloud_dir else downloads_dir() / "watch-soundcloud"
            self.folder.mkdir(parents=True, exist_ok=True)
            self.sc_genres = list(soundcloud_genres or dict.fromkeys(g for s in subscriptions for g in s.genres))
            self.sc_interval, self.sc_per_poll, self._sc_last = float(soundcloud_interval), soundcloud_per_poll, None
        else:
            self.folder = Path(source)
            if not self.folder.is_dir():
                raise ParameterError(f"watch source {source!r} is neither a folder nor soundcloud:QUERY")
        models = {s.model for s in subscriptions if s.model}
        self._check_models = models

    @property
    def predictor(self):
        if callable(self._predictor) and not hasattr(self._predictor, "predict_file"):
            self._predictor = self._predictor()
            unknown = self._check_models - set(self._predictor.model_names)
            if unknown:
                raise ParameterError(f"subscriptions name unknown models {sorted(unknown)}; loaded: "
                                     f"{self._predictor.model_names}")
        return self._predictor

    # -- one pass

    def scan(self) -> int:
        """Record new files; mark settled ones pending. Returns how many became pending."""
        from genrenet.audio import SUPPORTED_EXTENSIONS

        known = self.state.known()
        now, ready = time.time(), 0
        for p in sorted(self.folder.rglob("*")):
            if p.name.startswith(".") or p.suffix.lower() in _IGNORED_SUFFIXES \
                    or p.suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            if not p.is_file():
                continue
            key, row = str(p), known.get(str(p))
            if row is None or (row["status"] == "new" and (row["size"], row["mtime_ns"]) != (st.st_size, st.st_mtime_ns)):
                self.state.see(key, st.st_size, st.st_mtime_ns)
                row = None
            if row is not None and row["status"] == "new" and now - st.st_mtime >= self.settle:
                self.state.settled(key)
                ready += 1
            elif row is None and self.settle == 0:
                self.state.settled(key)
                ready += 1
        return ready

    def classify_pending(self) -> int:
        """Classify every pending track once; store its verdict and its matches together."""
        n = 0
        for path in self.state.pending():
            if self.stop_event.is_set():
                break
            try:
                result = self.predictor.predict_file(path)
            except GenrenetError as exc:
                self.state.classified(path, None, str(exc), [])
                self.log(f"watch: {path}: cannot classify: {exc}")
                continue
            when = _now_iso()
            deliveries = []
            for sub, model, hit in matches(result, self.subscriptions):
                r = result[model]
                payload = {"id": str(uuid.uuid4()), "subscription": sub.name, "track": path,
                           "genres": hit, "probabilities": dict(r.probabilities), "model": model, "time": when}
                deliveries.append((payload["id"], sub, model, payload))
            self.state.classified(path, result.to_dict(), None, deliveries)
            n += 1
            top = ", ".join(f"{r.name}: {r.genre} {r.probabilities[r.genre]:.2f}" for r in result.results)
            self.log(f"watch: {path}: {top}; {len(deliveries)} match(es)")
        return n

    def deliver_due(self) -> int:
        """Attempt every delivery that is due; returns how many succeeded."""
        ok_count = 0
        for row in self.state.due(time.time()):
            if self.stop_event.is_set():
                break
            payload = json.loads(row["payload"])
            target = row["target"]
            ok, detail = (_append(Path(target[5:]), payload) if target.startswith("file:")
                          else _post(target, payload, timeout=self.timeout))
            attempts = row["attempts"] + 1
            if ok:
                self.state.attempt(row["id"], True, detail, status="delivered", next_attempt=0)
                ok_count += 1
                continue
            failed = attempts >= self.max_attempts
            delay = min(self.retry_max, self.retry_base * 2 ** (attempts - 1))
            self.state.attempt(row["id"], False, detail, status="failed" if failed else "pending",
                               next_attempt=time.time() + delay)
            self.log(f"watch: delivery {row['id']} to {row['subscription']} failed ({detail}); "
                     + ("giving up" if failed else f"retry {attempts + 1} in {delay:g} s"))
        return ok_count

    def _collect_soundcloud(self) -> None:
        if self.query is None or (self._sc_last is not None and time.monotonic() - self._sc_last < self.sc_interval):
            return
        from genrenet.sources import soundcloud

        self._sc_last = time.monotonic()
        manifest = self.folder / MANIFEST_NAME
        have = 0
        if manifest.exists():
            rows = soundcloud._read_manifest(manifest).values()
            counts: dict[str, int] = {}
            for r in rows:
                if r.get("status") == "kept":
                    counts[r["genre"]] = counts.get(r["genre"], 0) + 1
            have = max(counts.values(), default=0)
        try:
            soundcloud.collect(self.sc_genres, per_genre=have + self.sc_per_poll, out_dir=self.folder,
                               q=self.query or None, progress=False)
        except GenrenetError as exc:  # the API is down or refuses: try again next time
            self.log(f"watch: SoundCloud collection failed ({exc}); next try in {self.sc_interval:g} s")

    def run_once(self) -> dict[str, int]:
        """One pass: collect (SoundCloud), scan, classify, deliver."""
        self._collect_soundcloud()
        self.scan()
        self.classify_pending()
        self.deliver_due()
        return self.state.counts()

    def run(self, *, interval: float = 2.0, once: bool = False) -> dict[str, int]:
        """Pass after pass until :attr:`stop_event` is set (SIGTERM/SIGINT set it from the CLI)."""
        counts = self.run_once()
        while not once and not self.stop_event.is_set():
            self.stop_event.wait(interval)
            if not self.stop_event.is_set():
                counts = self.run_once()
        return counts

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT finish the current step, then stop."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())

    def close(self) -> None:
        self.state.close()
