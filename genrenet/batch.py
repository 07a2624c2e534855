"""Batch prediction over a collection: a directory, a glob or a manifest, one row per track.

The thesis starts from about 60,000 tracks uploaded to one streaming service every day.
:func:`predict_collection` classifies such a collection with every model a
:class:`genrenet.predict.Predictor` loads and writes one row per track to CSV or Parquet:
the path, the duration, each model's top genre and probabilities, and the error if the
track could not be read. Used by ``genrenet predict SOURCE --out FILE`` (README
"Classify a collection"), by its distributed twin :mod:`genrenet.distributed`, by
``benchmarks/bench_batch.py`` and by the book chapter "The genre-detector website"
(``book/dev_website.md``).

How it runs
    Worker processes decode each track and compute its features for every feature spec
    the models need (:func:`track_features`), while the main process runs the models on
    many tracks at once (:meth:`genrenet.predict.Predictor.predict_features`: fixed-size
    batches, so a track's numbers do not depend on its batch-mates). One unreadable,
    truncated or too long file becomes a row with an ``error`` and the run goes on; a
    worker process that dies is replaced and its tracks are tried once more.
Resuming
    Rows are appended to a journal (``<output>.journal.jsonl``, flushed per batch) and
    the output file is rewritten atomically every ``checkpoint`` seconds and at the end.
    A rerun with the same output reads both and skips every track that already has a
    row (``retry_errors=True`` redoes the rows with an error).
"""

from __future__ import annotations

import glob
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrenet._validate import non_negative_int, positive_int
from genrenet.errors import DataError, GenrenetError, ParameterError

__all__ = [
    "OUTPUT_FORMATS",
    "MANIFEST_EXTENSIONS",
    "BatchSummary",
    "ResultStore",
    "collect_tracks",
    "track_features",
    "result_row",
    "predict_collection",
]

#: Output file extensions and their formats.
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
#: A source file with one of these extensions is a manifest (one path per line, or a CSV/TSV
#: with a ``path`` column); relative paths are relative to the manifest's folder.
MANIFEST_EXTENSIONS = (".txt", ".lst", ".m3u", ".csv", ".tsv")
#: Tracks classified per model call in the main process.
DEFAULT_BATCH_TRACKS = 32

_FIXED = ("path", "duration", "error")


# --------------------------------------------------------------------------- inputs


def _manifest_paths(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if path.suffix.lower() in (".csv", ".tsv") and lines:
        import csv

        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        rows = list(csv.DictReader(lines, delimiter=delimiter))
        if not rows or "path" not in rows[0]:
            raise DataError(f"manifest {path}: a CSV/TSV manifest needs a 'path' column")
        names = [r["path"].strip() for r in rows if (r.get("path") or "").strip()]
    else:
        names = [ln.strip() for ln in lines]
    return [n if os.path.isabs(n) else str(path.parent / n) for n in names]


def collect_tracks(sources: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The audio tracks named by one or more sources, in a stable order, without duplicates.

    Parameters
    ----------
    sources : path-like or sequence of path-like
        Each is a directory (searched recursively for :data:`genrenet.audio.SUPPORTED_EXTENSIONS`),
        a glob pattern (``"uploads/**/*.mp3"``), a manifest (:data:`MANIFEST_EXTENSIONS`) or an
        audio file.

    Returns
    -------
    list of str
        Paths as they will appear in the output (a directory's files sorted).

    Raises
    ------
    ParameterError
        A source that does not exist or names no track.
    """
    from genrenet.audio import SUPPORTED_EXTENSIONS

    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    out: list[str] = []
    for source in sources:
        text = os.fspath(source)
        path = Path(text)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*")
                           if p.suffix.lower() in SUPPORTED_EXTENSIONS and p.is_file() and not p.name.startswith("."))
        elif path.is_file() and path.suffix.lower() in MANIFEST_EXTENSIONS:
            found = _manifest_paths(path)
        elif path.is_file():
            found = [text]
        elif glob.has_magic(text):
            found = sorted(p for p in glob.glob(text, recursive=True)
                           if Path(p).suffix.lower() in SUPPORTED_EXTENSIONS and Path(p).is_file())
        else:
            raise ParameterError(f"source {text!r} is not a directory, a glob pattern, a manifest or a file")
        if not found:
            raise ParameterError(f"source {text!r} names no audio track (extensions: "
                                 + ", ".join(SUPPORTED_EXTENSIONS) + ")")
        out.extend(found)
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- one track


def track_features(path: str, specs: dict[str, Any], *, max_windows: int, max_duration: float):
    """Decode ``path`` once and compute its features for every spec, as the Predictor would.

    Parameters
    ----------
    path : str
        Audio file.
    specs : dict
        ``spec.key()`` -> ``FeatureSpec`` or its ``to_dict()`` (:meth:`Predictor.feature_specs`).
    max_windows, max_duration : keyword-only
        The predictor's limits: at most ``max_windows`` evenly spaced windows per spec;
        longer tracks than ``max_duration`` seconds raise :class:`genrenet.audio.TrackTooLongError`.

    Returns
    -------
    genrenet.predict.TrackFeatures
    """
    from genrenet import audio, features
    from genrenet.predict import TrackFeatures

    specs = {k: features.get_spec(v) for k, v in specs.items()}
    rates = {s.sr for s in specs.values()}
    y, sr = audio.load(path, sr=rates.pop() if len(rates) == 1 else None, max_duration=max_duration)
    resampled: dict[int, np.ndarray] = {}
    feats, totals = {}, {}
    for key, spec in specs.items():
        if spec.sr not in resampled:
            resampled[spec.sr] = y if spec.sr == sr else audio.resample(y, sr, spec.sr)
        ys = resampled[spec.sr]
        plan = features.plan_windows(spec, len(ys), max_windows=max_windows)
        feats[key] = features.extract(spec, ys, spec.sr, indices=plan.indices)
        totals[key] = plan.total
    return TrackFeatures(features=feats, totals=totals, duration=len(y) / sr, sample_rate=sr, source=path)


def _features_or_error(path: str, specs: dict[str, dict], max_windows: int, max_duration: float):
    """Worker task: ``(path, TrackFeatures, None)`` or ``(path, None, error message)``."""
    try:
        return path, track_features(path, specs, max_windows=max_windows, max_duration=max_duration), None
    except GenrenetError as exc:
        return path, None, str(exc)
    except (OSError, ValueError, MemoryError) as exc:  # anything a hostile file can provoke
        return path, None, f"{path}: {type(exc).__name__}: {exc}"


def result_row(path: str, result=None, error: str | None = None) -> dict[str, Any]:
    """One output row: path, duration, error, then ``<model>:genre`` and ``<model>:<genre>`` per model."""
    row: dict[str, Any] = {"path": path, "duration": None, "error": error}
    if result is not None:
        row["duration"] = round(float(result.duration), 3)
        for r in result.results:
            row[f"{r.name}:genre"] = r.genre
            for g, p in r.probabilities.items():
                row[f"{r.name}:{g}"] = float(p)
    return row


# --------------------------------------------------------------------------- output


class ResultStore:
    """The rows of a batch run: the output file, a journal of rows since its last write, resumable.

    Parameters
    ----------
    output : path-like
        ``.csv`` or ``.parquet`` file.
    columns : sequence of str
        Model columns (after path, duration and error), in order.
    """

    def __init__(self, output: str | os.PathLike, columns: Sequence[str]):
        self.output = Path(output)
        fmt = OUTPUT_FORMATS.get(self.output.suffix.lower())
        if fmt is None:
            raise ParameterError(f"output {self.output} must end in one of {sorted(OUTPUT_FORMATS)}")
        self.format = fmt
        self.journal = self.output.with_name(self.output.name + ".journal.jsonl")
        self.columns = list(_FIXED) + [c for c in columns if c not in _FIXED]
        self.rows: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if self.output.exists():
            for row in self._read_output():
                self.rows[str(row["path"])] = row
        if self.journal.exists():
            with open(self.journal, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except ValueError:  # a line cut short by a crash: that track is redone
                        continue
                    self.rows[str(row["path"])] = row
        extra = [c for row in self.rows.values() for c in row if c not in self.columns]
        self.columns += list(dict.fromkeys(extra))

    def _read_output(self) -> list[dict[str, Any]]:
        import pandas as pd

        try:
            frame = pd.read_parquet(self.output) if self.format == "parquet" else pd.read_csv(
                self.output, dtype={"path": str, "error": str}, keep_default_na=False, na_values=[""])
        except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not ours
            raise DataError(f"cannot resume: {self.output} exists but is not a readable {self.format} file "
                            f"({exc}); move it away or choose another output") from exc
        if "path" not in frame.columns:
            raise DataError(f"cannot resume: {self.output} has no 'path' column; choose another output")
        frame = frame.astype(object).where(frame.notna(), None)
        return frame.to_dict("records")

    def done(self, *, retry_errors: bool = False) -> set[str]:
        """Paths that already have a row (with ``retry_errors``: a row without an error)."""
        return {p for p, r in self.rows.items() if not (retry_errors and r.get("error"))}

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Record rows, appending them to the journal (flushed to disk) at once."""
        rows = list(rows)
        with open(self.journal, "a", encoding="utf-8") as fh:
            for row in rows:
                self.rows[row["path"]] = row
                fh.write(json.dumps(row, default=_plain) + "\n")
                for c in row:
                    if c not in self.columns:
                        self.columns.append(c)
            fh.flush()
            os.fsync(fh.fileno())

    def write(self) -> Path:
        """Rewrite the output atomically with every row (sorted by path), then empty the journal."""
        import pandas as pd

        from genrenet.io import atomic_path

        frame = pd.DataFrame([self.rows[p] for p in sorted(self.rows)], columns=self.columns)
        with atomic_path(self.output) as tmp:
            if self.format == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)
        self.journal.unlink(missing_ok=True)
        return self.output


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------- the run


@dataclass
class BatchSummary:
    """What a batch run did.

    Attributes
    ----------
    output : Path
    total : int
        Tracks named by the sources.
    skipped : int
        Tracks that already had a row (resumed run).
    classified, failed : int
        Tracks given a prediction / an error row by this run.
    seconds : float
        Wall time of this run (model loading excluded).
    errors : list of (path, message)
    """

    output: Path
    total: int
    skipped: int = 0
    classified: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tracks_per_second(self) -> float:
        """Tracks processed by this run per second of wall time."""
        done = self.classified + self.failed
        return done / self.seconds if self.seconds > 0 else math.nan


def model_columns(predictor, models: Sequence[str] | None = None) -> list[str]:
    """Output columns of the models: ``<model>:genre`` then ``<model>:<genre>`` for each genre."""
    names = set(predictor.model_names if models is None else models)
    cols: list[str] = []
    for info in predictor.models:
        if info.name in names:
            cols.append(f"{info.name}:genre")
            cols += [f"{info.name}:{g}" for g in info.genres]
    return cols


class _Workers:
    """The decoding process pool; replaced when a worker process dies."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool = self._new() if jobs > 0 else None
        if self.pool is not None:
            self.pool.submit(int).result()  # fork every worker now, before TensorFlow loads here

    def _new(self):
        from concurrent.futures import ProcessPoolExecutor

        from genrenet.cache import _context

        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=_context())

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def predict_collection(
    sources,
    output: str | os.PathLike,
    *,
    predictor=None,
    models: Sequence[str] | None = None,
    jobs: int | None = None,
    batch_tracks: int = DEFAULT_BATCH_TRACKS,
    checkpoint: float = 60.0,
    retry_errors: bool = False,
    progress: bool = True,
) -> BatchSummary:
    """Classify every track of a collection and write one row per track (see the module docstring).

    Parameters
    ----------
    sources : path-like or sequence of path-like
        Directories, glob patterns, manifests or files (:func:`collect_tracks`).
    output : path-like
        ``.csv`` or ``.parquet`` result file; an existing one is resumed.
    predictor : genrenet.predict.Predictor or callable, keyword-only, optional
        The models, or a function returning them, called once the decoding processes run
        (they start before TensorFlow loads); default ``Predictor()``: the shipped model
        plus the models directory.
    models : sequence of str, keyword-only, optional
        Names of the models to use (default: all the predictor's).
    jobs : int, keyword-only, optional
        Decoding worker processes (default: CPU cores; 0 decodes in this process).
    batch_tracks : int, keyword-only
        Tracks per model call.
    checkpoint : float, keyword-only
        Seconds between atomic rewrites of the output.
    retry_errors : bool, keyword-only
        Redo tracks whose row holds an error.
    progress : bool, keyword-only
        Show a tqdm bar.

    Returns
    -------
    BatchSummary
    """
    from tqdm import tqdm

    positive_int("batch_tracks", batch_tracks)
    jobs = non_negative_int("jobs", (os.cpu_count() or 1) if jobs is None else jobs)
    paths = collect_tracks(sources)
    workers = _Workers(jobs)
    try:
        predictor = _resolve(predictor)
        store = ResultStore(output, model_columns(predictor, models))
        done = store.done(retry_errors=retry_errors)
        todo = [p for p in paths if p not in done]
        summary = BatchSummary(output=store.output, total=len(paths), skipped=len(paths) - len(todo))
        bar = tqdm(total=len(paths), initial=summary.skipped, desc="classifying", unit="track", disable=not progress)
        try:
            _run(predictor, models, todo, store, summary, workers=workers, batch_tracks=batch_tracks,
                 checkpoint=checkpoint, bar=bar)
        finally:
            bar.close()
            store.write()
    finally:
        workers.close()
    return summary


def _resolve(predictor):
    if predictor is None:
        from genrenet.predict import Predictor

        return Predictor()
    return predictor() if callable(predictor) and not hasattr(predictor, "predict_features") else predictor


def _run(predictor, models, todo, store, summary, *, workers, batch_tracks, checkpoint, bar) -> None:
    specs = {k: s.to_dict() for k, s in predictor.feature_specs(models=models).items()}
    args = (specs, predictor.max_windows, predictor.max_duration)
    start = last_write = time.monotonic()
    ready: list[tuple[str, Any, str | None]] = []

    def flush():
        nonlocal last_write
        good = [(p, f) for p, f, e in ready if e is None]
        results = predictor.predict_features([f for _, f in good], models=models) if good else []
        by_path = dict(zip([p for p, _ in good], results, strict=True))
        rows = [result_row(p, result=by_path.get(p), error=e) for p, _, e in ready]
        store.add(rows)
        for p, _, e in ready:
            if e is None:
                summary.classified += 1
            else:
                summary.failed += 1
                summary.errors.append((p, e))
        bar.update(len(ready))
        ready.clear()
        if time.monotonic() - last_write > checkpoint:
            store.write()
            last_write = time.monotonic()

    for item in _decoded(todo, args, workers):
        ready.append(item)
        if len(ready) >= batch_tracks:
            flush()
    if ready:
        flush()
    summary.seconds = time.monotonic() - start


def _decoded(todo: list[str], args: tuple, workers: _Workers):
    """Yield ``(path, features or None, error or None)`` for every path, decoded by ``workers``.

    When a worker process dies, the tracks it may have been working on become suspects and
    are decoded again one at a time; a suspect that kills a worker on its own gets an error.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    if workers.pool is None:
        for path in todo:
            yield _features_or_error(path, *args)
        return
    queue, suspects = list(reversed(todo)), []
    pending: dict[Any, tuple[str, bool]] = {}
    while queue or suspects or pending:
        if suspects:
            if not pending:
                path = suspects.pop()
                pending[workers.pool.submit(_features_or_error, path, *args)] = (path, True)
        else:
            while queue and len(pending) < 4 * workers.jobs:
                path = queue.pop()
                pending[workers.pool.submit(_features_or_error, path, *args)] = (path, False)
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        crashed = False
        for fut in finished:
            path, alone = pending.pop(fut)
            exc = fut.exception()
            if exc is None:
                yield fut.result()
            elif not isinstance(exc, BrokenProcessPool):
                yield path, None, f"{path}: {type(exc).__name__}: {exc}"
            elif alone:
                crashed = True
                yield path, None, f"{path}: the decoding process died on this file"
            else:
                crashed = True
                suspects.append(path)
        if crashed:
            suspects.extend(path for path, _ in pending.values())
            pending.clear()
            workers.restart()
