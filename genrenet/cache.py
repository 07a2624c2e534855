"""The feature cache: every track is featurised once per feature specification.

:func:`featurize` computes ``genrenet.features.extract_file(spec, path)`` for
each track of a data set and stores the window-level array as one ``.npy`` per
track under ``<cache_dir>/<spec.key()>/<audio sha256>.npy`` (written
atomically, the spec's JSON saved beside it). Because the key is the audio's
content hash, renaming or moving files costs nothing, a second run featurises
nothing, an interrupted run resumes where it stopped, and two data sets that
share files share their features. Work is spread over a process pool with a
tqdm bar; undecodable files are reported in :attr:`FeatureSet.errors` and
skipped.

Every entry is checked when it is read (a ``.npy`` of shape
``(n_windows, *spec.shape)``, ``spec.dtype``, finite values): a truncated, empty,
foreign or non-finite entry is discarded with a warning and computed again, and
features that come out non-finite are refused, never stored. A file that cannot
be featurised is remembered as ``<sha256>.error`` together with the decoding
environment (genrenet version, ffmpeg, libsndfile), so it is not decoded again
on every run; the entry is retried when that environment changes, when it is
older than :data:`ERROR_TTL`, or with ``featurize(..., retry_errors=True)``
(``genrenet features --retry-errors``). Failures of the machine rather than of
the file (missing or unreadable file, out of memory) are never remembered.
Pool workers exit on their own within a second when the parent process dies.

The returned :class:`FeatureSet` hands window-level arrays to training
(:meth:`FeatureSet.load`) or streams track by track with bounded memory
(:meth:`FeatureSet.iter_tracks`).

Used by the book chapters ``book/dev_processing.md`` and ``book/dev_models.md``
(``notebooks/train_model.ipynb``, ``notebooks/tuning.ipynb``,
``notebooks/genre_selection.ipynb``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrenet._validate import positive_int
from genrenet.datasets.base import Dataset, Track
from genrenet.errors import AudioError, DataError, ParameterError
from genrenet.io import atomic_path, atomic_write_json, sha256_file

__all__ = ["FeatureCache", "FeatureSet", "featurize", "check_features", "ERROR_TTL"]

_HASH_INDEX = "hashes.json"
#: Seconds after which a remembered featurisation failure is tried again (7 days).
ERROR_TTL = 7 * 24 * 3600
_ROWS_PER_CHECK = 256  # windows checked for finiteness at a time (bounds memory on memory-mapped entries)


class FeatureCache:
    """On-disk store of per-track feature arrays for one feature spec.

    Parameters
    ----------
    spec : FeatureSpec or str
        Feature specification (or preset name).
    cache_dir : str or Path, keyword-only, optional
        Cache root (default :func:`genrenet.paths.cache_dir`).
    """

    def __init__(self, spec, *, cache_dir: str | Path | None = None):
        from genrenet.features import get_spec
        from genrenet.paths import cache_dir as default_cache_dir

        self.spec = get_spec(spec)
        self.root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.dir = self.root / self.spec.key()
        self.dir.mkdir(parents=True, exist_ok=True)
        spec_file = self.dir / "spec.json"
        if not spec_file.exists():
            atomic_write_json(spec_file, self.spec.to_dict())
        self._hashes: dict[str, list] | None = None
        self._dirty = False

    def __repr__(self) -> str:
        return f"FeatureCache({self.dir})"

    # -- content hashes, memoised by (size, mtime) so audio is read once ----
    def _load_hashes(self) -> dict[str, list]:
        if self._hashes is None:
            p = self.root / _HASH_INDEX
            try:
                self._hashes = json.loads(p.read_text()) if p.exists() else {}
            except (OSError, ValueError):
                self._hashes = {}  # a damaged index only costs re-hashing
        return self._hashes

    def audio_hash(self, path: str | Path) -> str:
        """sha256 of an audio file (memoised by path, size and mtime)."""
        path = Path(path)
        st = os.stat(path)
        hashes = self._load_hashes()
        key = str(path.resolve())
        hit = hashes.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = sha256_file(path)
        hashes[key] = [st.st_size, st.st_mtime_ns, digest]
        self._dirty = True
        return digest

    def save_hashes(self) -> None:
        """Write the hash index (atomically); a no-op when nothing new was hashed."""
        if self._hashes is not None and self._dirty:
            mine, self._hashes = self._hashes, None
            merged = self._load_hashes()  # keep entries another process added meanwhile
            merged.update(mine)
            atomic_write_json(self.root / _HASH_INDEX, merged, indent=0)
            self._dirty = False

    # -- entries -------------------------------------------------------------
    def path_for(self, digest: str) -> Path:
        """Where the features of the audio with sha256 ``digest`` are stored."""
        return self.dir / f"{digest}.npy"

    def error_for(self, digest: str) -> Path:
        """Where a remembered decoding failure of ``digest`` is stored."""
        return self.dir / f"{digest}.error"

    def has(self, digest: str) -> bool:
        """True if features for ``digest`` are cached (not checked: see :meth:`validate`)."""
        return self.path_for(digest).exists()

    def validate(self, digest: str) -> str | None:
        """Check the cached entry of ``digest``; return what is wrong with it, or None if it is usable.

        The entry must be a NumPy file holding at least one window of ``spec.shape``
        in ``spec.dtype`` with finite values (read in slices, so memory stays bounded).
        """
        path = self.path_for(digest)
        try:
            with open(path, "rb") as fh:
                magic = fh.read(6)
            if not magic:
                return "empty file"
            if magic != b"\x93NUMPY":
                return "not a NumPy .npy file"
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # truncated or damaged files fail in many ways inside NumPy
            return f"unreadable .npy file ({type(exc).__name__}: {exc})"
        return check_features(arr, self.spec)

    def discard(self, digest: str) -> None:
        """Remove the cached features of ``digest`` (a damaged entry)."""
        self.path_for(digest).unlink(missing_ok=True)

    def load(self, digest: str, *, mmap: bool = True) -> np.ndarray:
        """Read cached features (memory-mapped by default), checked with :meth:`validate`."""
        problem = self.validate(digest)
        if problem is not None:
            raise DataError(f"feature cache entry {self.path_for(digest)} is damaged: {problem}")
        return np.load(self.path_for(digest), mmap_mode="r" if mmap else None, allow_pickle=False)

    def save(self, digest: str, features: np.ndarray) -> Path:
        """Store ``features`` for ``digest`` atomically and return the file.

        Raises
        ------
        DataError
            ``features`` do not fit the spec (shape, dtype) or are not finite.
        """
        problem = check_features(np.asarray(features), self.spec)
        if problem is not None:
            raise DataError(f"refusing to cache features for {digest[:12]}...: {problem}")
        return _save_npy(self.path_for(digest), features)

    # -- remembered failures -------------------------------------------------
    def read_error(self, digest: str, *, environment: dict | None = None, retry: bool = False) -> str | None:
        """The remembered failure of ``digest``, or None when there is none or it must be retried.

        A failure is retried (and its entry removed) when ``retry`` is true, when it is
        older than :data:`ERROR_TTL`, when it was recorded under another decoding
        ``environment`` (default :func:`decoder_environment`), or when it predates
        this format.
        """
        path = self.error_for(digest)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            record = None  # a plain-text entry of an older genrenet, or damaged: try again
        env = decoder_environment() if environment is None else environment
        fresh = (
            isinstance(record, dict)
            and isinstance(record.get("cause"), str)
            and record.get("environment") == env
            and isinstance(record.get("time"), (int, float))
            and 0 <= time.time() - record["time"] < ERROR_TTL
        )
        if retry or not fresh:
            path.unlink(missing_ok=True)
            return None
        return record["cause"]

    def save_error(self, digest: str, cause: str, *, environment: dict | None = None) -> Path:
        """Remember that ``digest`` cannot be featurised because of ``cause``."""
        env = decoder_environment() if environment is None else environment
        return atomic_write_json(self.error_for(digest), {"cause": cause, "environment": env, "time": time.time()})


def decoder_environment() -> dict[str, str | None]:
    """What decoding depends on besides the file: genrenet, libsndfile and ffmpeg versions.

    A remembered failure recorded under another environment is tried again, so installing
    ffmpeg or upgrading genrenet retries the files that failed before.
    """
    from genrenet import __version__

    try:
        import soundfile

        sndfile = str(soundfile.__libsndfile_version__)
    except Exception:  # soundfile missing or its library unloadable: that is part of the environment too
        sndfile = None
    return {"genrenet": __version__, "libsndfile": sndfile, "ffmpeg": shutil.which("ffmpeg")}


def check_features(arr: np.ndarray, spec) -> str | None:
    """Say what makes ``arr`` unusable as the features of one track for ``spec``, or None.

    Parameters
    ----------
    arr : ndarray
        Window-level features (may be memory-mapped).
    spec : FeatureSpec
        Any spec with ``shape`` and ``dtype``.

    Returns
    -------
    str or None
        ``None`` when ``arr`` has shape ``(n >= 1, *spec.shape)``, dtype ``spec.dtype``
        and only finite values; otherwise a short description of the first problem.
    """
    expected = tuple(spec.shape)
    if arr.ndim != 1 + len(expected) or tuple(arr.shape[1:]) != expected:
        return f"features have shape {tuple(arr.shape)}, expected (n_windows, {', '.join(map(str, expected))})"
    if arr.shape[0] == 0:
        return "no feature windows (audio too short?)"
    if arr.dtype != np.dtype(spec.dtype):
        return f"features have dtype {arr.dtype}, expected {np.dtype(spec.dtype)}"
    if np.issubdtype(arr.dtype, np.inexact):
        for start in range(0, arr.shape[0], _ROWS_PER_CHECK):
            part = np.asarray(arr[start:start + _ROWS_PER_CHECK])
            if not np.isfinite(part).all():
                row = start + int(np.flatnonzero(~np.isfinite(part).reshape(len(part), -1).all(axis=1))[0])
                return f"features are not finite (NaN or inf in window {row})"
    return None


def _save_npy(path: Path, arr: np.ndarray) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return path


_WORKER_SPECS: dict[str, object] = {}


def _compute(spec_dict: dict, path: str, out: str) -> tuple[int | None, str | None, bool]:
    """Featurise one file into ``out``.

    Returns ``(n_windows, None, False)`` on success, otherwise ``(None, cause, remember)``:
    ``remember`` is false for failures of the machine rather than of the file (file gone
    or unreadable, out of memory), which must not be cached.
    """
    from genrenet.features import FeatureSpec, extract_file

    key = json.dumps(spec_dict, sort_keys=True)
    spec = _WORKER_SPECS.get(key)
    if spec is None:
        spec = _WORKER_SPECS[key] = FeatureSpec.from_dict(spec_dict)
    try:
        feats = extract_file(spec, path)
    except (OSError, MemoryError) as exc:  # not the audio's fault: report now, try again next run
        return None, f"{type(exc).__name__}: {exc}", False
    except Exception as exc:  # report any decoder/feature failure for this file, keep going
        cause = (exc.cause if isinstance(exc, AudioError) else None) or f"{type(exc).__name__}: {exc}"
        return None, str(cause), True
    feats = np.asarray(feats)
    problem = check_features(feats, spec)
    if problem is not None:
        return None, problem, True
    _save_npy(Path(out), feats)
    return int(feats.shape[0]), None, False


def _watch_parent(parent: int, interval: float = 0.5) -> None:
    """Pool initializer: end this worker soon after the process that started it dies.

    A pool worker blocks on its task queue, whose write end it inherited, so it would
    otherwise outlive a killed parent until its queued work is done.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="genrenet-parent-watch", daemon=True).start()


def _context():
    # fork is fast but unsafe once TensorFlow's threads exist in this process
    if sys.platform.startswith("linux") and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


@dataclass
class FeatureSet:
    """Features of a data set's tracks, backed by the cache.

    Attributes
    ----------
    spec : FeatureSpec
    dataset : Dataset
    indices : ndarray of int
        Data set indices of the tracks that have features (in data set order).
    files : list of Path
        Cache file of each of those tracks.
    n_windows : ndarray of int
        Windows per featurised track.
    errors : list of (track id, cause)
        Tracks skipped because their audio could not be featurised.
    computed, reused : int
        Tracks featurised by this call / found in the cache.
    """

    spec: object
    dataset: Dataset
    indices: np.ndarray
    files: list[Path]
    n_windows: np.ndarray
    errors: list[tuple[str, str]] = field(default_factory=list)
    computed: int = 0
    reused: int = 0

    def __post_init__(self) -> None:
        self._pos = {int(i): k for k, i in enumerate(self.indices)}
        self._labels = self.dataset.labels()

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return (
            f"FeatureSet({self.dataset.name!r}, {len(self)} tracks, {int(self.n_windows.sum())} windows, "
            f"shape {self.shape}, {len(self.errors)} errors)"
        )

    @property
    def tracks(self) -> list[Track]:
        """Tracks that have features."""
        return [self.dataset[int(i)] for i in self.indices]

    @property
    def genres(self) -> list[str]:
        """Class names; label ``k`` is ``genres[k]``."""
        return self.dataset.genres

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one window's features."""
        return tuple(self.spec.shape)

    @property
    def labels(self) -> np.ndarray:
        """Label of every featurised track (aligned with :attr:`indices`)."""
        return self._labels[self.indices]

    def _select(self, track_indices) -> list[int]:
        if track_indices is None:
            return [int(i) for i in self.indices]
        sel = np.asarray(track_indices, dtype=np.int64).ravel()
        bad = sel[(sel < 0) | (sel >= len(self.dataset))]
        if bad.size:
            raise ParameterError(f"track_indices: {int(bad[0])} is out of range for {len(self.dataset)} tracks")
        # tracks whose audio failed have no features and are left out
        return [int(i) for i in sel if int(i) in self._pos]

    def load(self, track_indices: Sequence[int] | None = None, *, mmap: bool = True):
        """Window-level arrays for training.

        Parameters
        ----------
        track_indices : sequence of int, optional
            Data set indices (e.g. ``split.train``); default all featurised tracks.
            Tracks without features (see :attr:`errors`) are left out.
        mmap : bool, keyword-only
            Read the per-track files memory-mapped (less peak memory).

        Returns
        -------
        X : ndarray, shape (n_windows, *spec.shape)
        y : ndarray of int64, shape (n_windows,)
            Genre label of each window (index into :attr:`genres`).
        track_of_window : ndarray of int64, shape (n_windows,)
            Data set index of the track each window comes from.
        """
        sel = self._select(track_indices)
        counts = [int(self.n_windows[self._pos[i]]) for i in sel]
        total = int(sum(counts))
        X = np.empty((total, *self.shape), dtype=np.dtype(self.spec.dtype))
        y = np.empty(total, dtype=np.int64)
        track_of_window = np.empty(total, dtype=np.int64)
        at = 0
        for i, n in zip(sel, counts, strict=True):
            arr = self._open(i, mmap=mmap)
            if arr.shape[0] != n:
                raise DataError(f"feature cache file {self.files[self._pos[i]]} changed while in use; run again")
            X[at:at + n] = arr
            if np.issubdtype(X.dtype, np.inexact) and not np.isfinite(X[at:at + n]).all():
                raise DataError(f"feature cache file {self.files[self._pos[i]]} holds NaN or inf (it changed after "
                                "featurize checked it); run again to compute it afresh")
            y[at:at + n] = self._labels[i]
            track_of_window[at:at + n] = i
            at += n
        return X, y, track_of_window

    def iter_tracks(self, track_indices: Sequence[int] | None = None, *, mmap: bool = True) -> Iterator[tuple]:
        """Yield ``(index, features, label)`` per track without loading everything.

        ``features`` is memory-mapped (read-only) by default, so memory stays
        bounded by one track however large the data set is.
        """
        for i in self._select(track_indices):
            yield i, self._open(i, mmap=mmap), int(self._labels[i])

    def _open(self, i: int, *, mmap: bool) -> np.ndarray:
        """The cached array of data set track ``i`` (shape and dtype checked)."""
        path = self.files[self._pos[i]]
        try:
            arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except Exception as exc:  # deleted, truncated or replaced since featurize checked it
            raise DataError(f"feature cache file {path} became unreadable ({type(exc).__name__}: {exc}); "
                            "run again to compute it afresh") from exc
        if tuple(arr.shape[1:]) != self.shape or arr.dtype != np.dtype(self.spec.dtype):
            raise DataError(f"feature cache file {path} changed while in use; run again")
        return arr

    def window_counts(self, track_indices: Sequence[int] | None = None) -> dict[int, int]:
        """Map data set index -> number of windows."""
        return {i: int(self.n_windows[self._pos[i]]) for i in self._select(track_indices)}


def featurize(
    dataset: Dataset,
    spec,
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
    on_error: str = "skip",
    retry_errors: bool = False,
) -> FeatureSet:
    """Featurise every track of ``dataset`` (once; later calls read the cache).

    Cached entries are checked first (see :meth:`FeatureCache.validate`); damaged
    ones are recomputed with a warning.

    Parameters
    ----------
    dataset : Dataset
    spec : FeatureSpec or str
        Feature specification or preset name (``"logmel"``, ``"thesis_image"``, ``"mfcc_stats"``).
    cache_dir : str or Path, keyword-only, optional
        Cache root (default :func:`genrenet.paths.cache_dir`, ``$GENRENET_CACHE``).
    n_jobs : int, keyword-only, optional
        Worker processes (default: all CPU cores; 1 = in this process).
    progress : bool, keyword-only
        Show a tqdm bar.
    on_error : {"skip", "raise"}, keyword-only
        ``"skip"`` records undecodable tracks in ``FeatureSet.errors`` and goes on;
        ``"raise"`` stops with DataError at the first one.
    retry_errors : bool, keyword-only
        Try again the files whose failure is remembered (otherwise they are retried only
        when the decoding environment changed or the failure is older than :data:`ERROR_TTL`).

    Returns
    -------
    FeatureSet
    """
    if not isinstance(dataset, Dataset):
        raise ParameterError(f"dataset must be a genrenet Dataset, got {type(dataset).__name__}")
    if on_error not in ("skip", "raise"):
        raise ParameterError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    positive_int("n_jobs", n_jobs, optional=True)
    cache = FeatureCache(spec, cache_dir=cache_dir)
    spec = cache.spec
    if spec.kind == "embedding" and spec.pooling != "none":
        return _featurize_pooled(dataset, cache, cache_dir=cache_dir, progress=progress, on_error=on_error,
                                 retry_errors=retry_errors)
    if spec.kind == "embedding":
        n_jobs = 1  # TensorFlow already uses every core; worker processes would each load the network

    errors: dict[int, str] = {}
    digests = _hash_tracks(dataset, cache, errors, progress=progress)
    env = decoder_environment()
    reused, todo = _triage(cache, digests, errors, environment=env, retry=retry_errors, progress=progress)
    # identical audio (GTZAN has exact repeats) is featurised once
    unique: dict[str, int] = {}
    for i in todo:
        unique.setdefault(digests[i], i)

    if errors and on_error == "raise":
        i = min(errors)
        raise DataError(f"cannot featurise {dataset[i].path}: {errors[i]}")

    computed = _featurize_unique(dataset, cache, digests, unique, errors, environment=env, on_error=on_error,
                                 n_jobs=n_jobs, progress=progress)
    return _feature_set(dataset, cache, digests, errors, computed=computed, reused=reused, progress=progress)


def _featurize_unique(dataset: Dataset, cache: FeatureCache, digests: dict[int, str], unique: dict[str, int],
                      errors: dict[int, str], *, environment: dict, on_error: str, n_jobs, progress: bool) -> int:
    """Featurise the ``unique`` tracks to compute; failures go to ``errors`` (duplicates share their twin's).

    Returns the number of tracks computed.
    """
    from tqdm import tqdm

    computed = 0
    bar = tqdm(total=len(unique), desc=f"features {cache.spec.kind}", unit="track", disable=not progress)

    def _record(i: int, result: tuple[int | None, str | None, bool]) -> None:
        nonlocal computed
        n, cause, remember = result
        if cause is not None:
            if remember:
                cache.save_error(digests[i], cause, environment=environment)
            errors[i] = cause
            if on_error == "raise":
                raise DataError(f"cannot featurise {dataset[i].path}: {cause}")
        else:
            computed += 1
        bar.update(1)

    try:
        _run_jobs(dataset, cache, unique, _record, n_jobs=n_jobs)
    finally:
        bar.close()

    # errors of duplicates follow their twin
    for i, digest in digests.items():
        twin = unique.get(digest)
        if i not in errors and twin is not None and twin in errors:
            errors[i] = errors[twin]
    return computed


def _feature_set(dataset: Dataset, cache: FeatureCache, digests: dict[int, str], errors: dict[int, str], *,
                 computed: int, reused: int, progress: bool) -> FeatureSet:
    """The FeatureSet of every cached track; DataError when none could be featurised."""
    indices = [i for i in sorted(digests) if i not in errors and cache.has(digests[i])]
    files = [cache.path_for(digests[i]) for i in indices]
    n_windows = np.array([_n_rows(f) for f in files], dtype=np.int64)
    err_list = [(dataset[i].id, errors[i]) for i in sorted(errors)]
    if not indices:
        raise DataError(
            f"no track of data set {dataset.name!r} could be featurised"
            + (f"; first error: {err_list[0][0]}: {err_list[0][1]}" if err_list else "")
        )
    if err_list and progress:
        print(f"featurize: skipped {len(err_list)} track(s) that could not be read, e.g. "
              f"{err_list[0][0]}: {err_list[0][1]}", file=sys.stderr)
    return FeatureSet(cache.spec, dataset, np.asarray(indices, dtype=np.int64), files, n_windows,
                      errors=err_list, computed=computed, reused=reused)


def _hash_tracks(dataset: Dataset, cache: FeatureCache, errors: dict[int, str], *, progress: bool) -> dict[int, str]:
    """Content hash of every readable track (unreadable ones and manifest mismatches go to ``errors``)."""
    from tqdm import tqdm

    digests: dict[int, str] = {}
    hash_bar = tqdm(total=len(dataset), desc="hashing audio", unit="file", disable=not progress, leave=False)
    try:
        for i, t in enumerate(dataset.tracks):
            hash_bar.update(1)
            try:
                digest = cache.audio_hash(t.path)
            except OSError as exc:
                errors[i] = f"cannot read file: {exc.strerror or exc}"
                continue
            if t.sha256 and t.sha256.lower() != digest:
                errors[i] = f"file content differs from the manifest's sha256 {t.sha256[:12]}..."
                continue
            digests[i] = digest
    finally:
        hash_bar.close()
        cache.save_hashes()
    return digests


def _triage(cache: FeatureCache, digests: dict[int, str], errors: dict[int, str], *, environment: dict,
            retry: bool, progress: bool) -> tuple[int, list[int]]:
    """Sort tracks into valid cache hits (counted), remembered failures (into ``errors``) and work to do."""
    from tqdm import tqdm

    verdicts: dict[str, str | None] = {}
    reused = 0
    todo: list[int] = []
    for i, digest in tqdm(digests.items(), desc="checking cache", unit="file", disable=not progress, leave=False):
        if digest not in verdicts:
            verdicts[digest] = cache.validate(digest) if cache.has(digest) else "missing"
            problem = verdicts[digest]
            if problem not in (None, "missing"):
                warnings.warn(f"feature cache entry {cache.path_for(digest)} is damaged ({problem}); "
                              "computing it again", RuntimeWarning, stacklevel=3)
                cache.discard(digest)
        if verdicts[digest] is None:
            reused += 1
            continue
        cause = cache.read_error(digest, environment=environment, retry=retry)
        if cause is not None:
            errors[i] = cause
        else:
            todo.append(i)
    return reused, todo


def _featurize_pooled(dataset: Dataset, cache: FeatureCache, **kw) -> FeatureSet:
    """Track-pooled embeddings, derived from the cached per-patch ones (the network runs once)."""
    from genrenet.features import pool_windows

    patches = featurize(dataset, cache.spec.replace(pooling="none"), **kw)
    files, computed = [], 0
    for f in patches.files:
        out = cache.path_for(f.stem)  # the same audio digest names both entries
        if cache.validate(f.stem) is not None:
            cache.save(f.stem, pool_windows(cache.spec, np.load(f)))
            computed += 1
        files.append(out)
    return FeatureSet(cache.spec, dataset, patches.indices, files, np.ones(len(files), dtype=np.int64),
                      errors=list(patches.errors), computed=computed, reused=len(files) - computed)


def _run_jobs(dataset: Dataset, cache: FeatureCache, unique: dict[str, int], record, *, n_jobs: int | None) -> None:
    """Compute every ``digest -> track index`` of ``unique``, in a process pool when it pays off."""
    jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(unique)))
    spec_dict = cache.spec.to_dict()
    done: set[int] = set()
    if jobs > 1:
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_watch_parent,
                                     initargs=(os.getpid(),)) as pool:
                futures = {
                    pool.submit(_compute, spec_dict, str(dataset[i].path), str(cache.path_for(d))): i
                    for d, i in unique.items()
                }
                try:
                    for fut in as_completed(futures):
                        record(futures[fut], fut.result())
                        done.add(futures[fut])
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
        except BrokenProcessPool as exc:
            # e.g. a script without an `if __name__ == "__main__":` guard under the spawn start method
            warnings.warn(f"feature worker processes failed ({exc}); continuing in this process",
                          RuntimeWarning, stacklevel=3)
    for digest, i in unique.items():
        if i not in done:
            record(i, _compute(spec_dict, str(dataset[i].path), str(cache.path_for(digest))))


def _n_rows(path: Path) -> int:
    """Number of windows in a cached ``.npy`` (reads only its header)."""
    return int(np.load(path, mmap_mode="r").shape[0])
