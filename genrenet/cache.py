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

The returned :class:`FeatureSet` hands window-level arrays to training
(:meth:`FeatureSet.load`) or streams track by track with bounded memory
(:meth:`FeatureSet.iter_tracks`).

Used by book chapter 05 "Processing" and chapter 06 "Models"
(``notebooks/train_model.ipynb``, ``notebooks/tuning.ipynb``,
``notebooks/genre_selection.ipynb``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrenet.datasets.base import Dataset, Track
from genrenet.errors import DataError, ParameterError
from genrenet.io import atomic_path, atomic_write_json, atomic_write_text, sha256_file

__all__ = ["FeatureCache", "FeatureSet", "featurize"]

_HASH_INDEX = "hashes.json"


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
        """True if features for ``digest`` are cached."""
        return self.path_for(digest).exists()

    def load(self, digest: str, *, mmap: bool = True) -> np.ndarray:
        """Read cached features (memory-mapped by default)."""
        try:
            return np.load(self.path_for(digest), mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"feature cache entry {self.path_for(digest)} is unreadable: {exc}") from exc

    def save(self, digest: str, features: np.ndarray) -> Path:
        """Store ``features`` for ``digest`` atomically and return the file."""
        return _save_npy(self.path_for(digest), features)


def _save_npy(path: Path, arr: np.ndarray) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return path


_WORKER_SPECS: dict[str, object] = {}


def _compute(spec_dict: dict, path: str, out: str) -> tuple[int | None, str | None]:
    """Worker: featurise one file into ``out``; return (n_windows, None) or (None, cause)."""
    from genrenet.features import FeatureSpec, extract_file

    key = json.dumps(spec_dict, sort_keys=True)
    spec = _WORKER_SPECS.get(key)
    if spec is None:
        spec = _WORKER_SPECS[key] = FeatureSpec.from_dict(spec_dict)
    try:
        feats = extract_file(spec, path)
    except Exception as exc:  # report any decoder/feature failure for this file, keep going
        cause = getattr(exc, "cause", None) or f"{type(exc).__name__}: {exc}"
        return None, str(cause)
    feats = np.asarray(feats)
    if feats.ndim < 1 or feats.shape[0] == 0:
        return None, "no feature windows (audio too short?)"
    expected = tuple(spec.shape)
    if tuple(feats.shape[1:]) != expected:
        return None, f"features have shape {feats.shape[1:]}, spec says {expected}"
    _save_npy(Path(out), feats)
    return int(feats.shape[0]), None


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
        first = np.load(self.files[self._pos[sel[0]]], mmap_mode="r") if sel else None
        dtype = first.dtype if first is not None else np.float32
        X = np.empty((total, *self.shape), dtype=dtype)
        y = np.empty(total, dtype=np.int64)
        tow = np.empty(total, dtype=np.int64)
        at = 0
        for i, n in zip(sel, counts, strict=True):
            arr = np.load(self.files[self._pos[i]], mmap_mode="r" if mmap else None)
            if arr.shape[0] != n:
                raise DataError(f"feature cache file {self.files[self._pos[i]]} changed while in use")
            X[at:at + n] = arr
            y[at:at + n] = self._labels[i]
            tow[at:at + n] = i
            at += n
        return X, y, tow

    def iter_tracks(self, track_indices: Sequence[int] | None = None, *, mmap: bool = True) -> Iterator[tuple]:
        """Yield ``(index, features, label)`` per track without loading everything.

        ``features`` is memory-mapped (read-only) by default, so memory stays
        bounded by one track however large the data set is.
        """
        for i in self._select(track_indices):
            arr = np.load(self.files[self._pos[i]], mmap_mode="r" if mmap else None)
            yield i, arr, int(self._labels[i])

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
) -> FeatureSet:
    """Featurise every track of ``dataset`` (once; later calls read the cache).

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

    Returns
    -------
    FeatureSet
    """
    from tqdm import tqdm

    if not isinstance(dataset, Dataset):
        raise ParameterError(f"dataset must be a genrenet Dataset, got {type(dataset).__name__}")
    if on_error not in ("skip", "raise"):
        raise ParameterError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise ParameterError(f"n_jobs must be a positive integer or None, got {n_jobs!r}")
    cache = FeatureCache(spec, cache_dir=cache_dir)
    spec = cache.spec

    digests: dict[int, str] = {}
    errors: dict[int, str] = {}
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

    todo = []
    reused = 0
    for i, digest in digests.items():
        if cache.has(digest):
            reused += 1
        elif cache.error_for(digest).exists():
            errors[i] = cache.error_for(digest).read_text(encoding="utf-8").strip()
        else:
            todo.append(i)
    # identical audio (GTZAN has exact repeats) is featurised once
    unique: dict[str, int] = {}
    for i in todo:
        unique.setdefault(digests[i], i)

    if errors and on_error == "raise":
        i = min(errors)
        raise DataError(f"cannot featurise {dataset[i].path}: {errors[i]}")

    jobs = n_jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, len(unique)))
    spec_dict = spec.to_dict()
    computed = 0
    bar = tqdm(total=len(unique), desc=f"features {spec.kind}", unit="track", disable=not progress)

    def _record(i: int, result: tuple[int | None, str | None]) -> None:
        nonlocal computed
        n, cause = result
        digest = digests[i]
        if cause is not None:
            atomic_write_text(cache.error_for(digest), cause + "\n")
            errors[i] = cause
            if on_error == "raise":
                raise DataError(f"cannot featurise {dataset[i].path}: {cause}")
        else:
            computed += 1
        bar.update(1)

    try:
        done: set[int] = set()
        if jobs > 1:
            try:
                with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
                    futures = {
                        pool.submit(_compute, spec_dict, str(dataset[i].path), str(cache.path_for(d))): i
                        for d, i in unique.items()
                    }
                    try:
                        for fut in as_completed(futures):
                            _record(futures[fut], fut.result())
                            done.add(futures[fut])
                    except BaseException:
                        for fut in futures:
                            fut.cancel()
                        raise
            except BrokenProcessPool as exc:
                # e.g. a script without an `if __name__ == "__main__":` guard under the spawn start method
                warnings.warn(f"feature worker processes failed ({exc}); continuing in this process",
                              RuntimeWarning, stacklevel=2)
        for digest, i in unique.items():
            if i not in done:
                _record(i, _compute(spec_dict, str(dataset[i].path), str(cache.path_for(digest))))
    finally:
        bar.close()

    # errors of duplicates follow their twin
    for i, digest in digests.items():
        if i not in errors and not cache.has(digest) and cache.error_for(digest).exists():
            errors[i] = cache.error_for(digest).read_text(encoding="utf-8").strip()

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
    return FeatureSet(spec, dataset, np.asarray(indices, dtype=np.int64), files, n_windows,
                      errors=err_list, computed=computed, reused=reused)


def _n_rows(path: Path) -> int:
    """Number of windows in a cached ``.npy`` (reads only its header)."""
    return int(np.load(path, mmap_mode="r").shape[0])
