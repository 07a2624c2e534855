"""The batch job of :mod:`genrenet.batch` on a Dask distributed cluster.

``genrenet predict SOURCE... --out FILE --cluster tcp://scheduler:8786`` sends the tracks
to the workers of a running Dask cluster in chunks of ``batch_tracks``; each worker loads
the models once (the same bundles, by path), decodes and featurises its chunk
(:func:`genrenet.batch.track_features`) and classifies it with
:meth:`genrenet.predict.Predictor.predict_features`, which answers every track bit for
bit as a local run does (fixed-size model batches). The client collects the rows into the
same resumable result file (:class:`genrenet.batch.ResultStore`), so a cluster run and a
local run can resume each other. Used by the README ("Classify a collection" -> "On a
cluster") and the book chapter "The genre-detector website" (``book/dev_website.md``).

Why Dask distributed and not Ray: it is pure Python and pip-installable without a native
runtime of its own (Ray ships a raylet, a GCS server and a shared-memory object store per
node); a cluster is one ``dask scheduler`` plus one ``dask worker`` command per machine, or
the same through SLURM/PBS (dask-jobqueue) or Kubernetes (dask-kubernetes); its futures
carry the plain Python objects our job passes (paths in, rows out); and a scheduler with
two workers starts on a 2-core machine in seconds, which lets the tests run a real cluster.

Where the data must live: every worker opens the tracks by the paths the client lists, so
the collection must be visible at the same path on every machine (a shared filesystem:
NFS, CephFS, Lustre, or an object store mounted with s3fs/gcsfuse/rclone); so must the
model bundles (the shipped default model comes with genrenet itself). Only the result
file is written by the client, on its own disk.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genrenet._validate import positive_int
from genrenet.errors import GenrenetError, ParameterError

__all__ = ["predictor_recipe", "classify_chunk", "predict_collection_dask"]

_PREDICTORS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def predictor_recipe(predictor) -> dict[str, Any]:
    """What a worker needs to load the same models: bundle paths (``"default"`` for the shipped one) and limits."""
    bundles = ["default" if m.default else str(Path(m.path).resolve()) for m in predictor.models]
    return {"bundles": bundles, "max_windows": predictor.max_windows, "max_duration": predictor.max_duration,
            "names": predictor.model_names}


def _worker_predictor(recipe: dict[str, Any]):
    """The recipe's Predictor, loaded once per worker process."""
    from genrenet.predict import Predictor

    key = (tuple(recipe["bundles"]), recipe["max_windows"], recipe["max_duration"])
    with _LOCK:
        if key not in _PREDICTORS:
            paths = [b for b in recipe["bundles"] if b != "default"]
            p = Predictor(paths, include_default="default" in recipe["bundles"], max_windows=recipe["max_windows"],
                          max_duration=recipe["max_duration"], warmup=False)
            if p.model_names != recipe["names"]:
                raise GenrenetError(f"this worker loads the models {p.model_names}, the client {recipe['names']}: "
                                    "the bundles differ between the machines")
            _PREDICTORS[key] = p
        return _PREDICTORS[key]


def classify_chunk(paths: Sequence[str], recipe: dict[str, Any], models: Sequence[str] | None = None) -> list[dict]:
    """Worker task: the result rows (:func:`genrenet.batch.result_row`) of some tracks.

    Parameters
    ----------
    paths : sequence of str
        Tracks, as the workers see them.
    recipe : dict
        :func:`predictor_recipe` of the client's predictor.
    models : sequence of str, optional
        Names of the models to use.
    """
    from genrenet import batch

    predictor = _worker_predictor(recipe)
    specs = {k: s.to_dict() for k, s in predictor.feature_specs(models=models).items()}
    decoded = [batch._features_or_error(p, specs, predictor.max_windows, predictor.max_duration) for p in paths]
    good = [(p, f) for p, f, e in decoded if e is None]
    results = dict(zip([p for p, _ in good], predictor.predict_features([f for _, f in good], models=models),
                       strict=True)) if good else {}
    return [batch.result_row(p, result=results.get(p), error=e) for p, _, e in decoded]


def predict_collection_dask(
    sources,
    output: str | os.PathLike,
    cluster,
    *,
    predictor=None,
    models: Sequence[str] | None = None,
    batch_tracks: int = 32,
    checkpoint: float = 60.0,
    retry_errors: bool = False,
    progress: bool = True,
):
    """:func:`genrenet.batch.predict_collection` with the work done by a Dask cluster's workers.

    Parameters
    ----------
    sources, output, models, batch_tracks, checkpoint, retry_errors, progress
        As for :func:`genrenet.batch.predict_collection` (``batch_tracks``: tracks per task).
    cluster : str or distributed.Client
        Scheduler address (``"tcp://host:8786"``) or a connected client.
    predictor : Predictor or callable, keyword-only, optional
        The models the workers load (by bundle path); default ``Predictor()``.

    Returns
    -------
    genrenet.batch.BatchSummary
    """
    from tqdm import tqdm

    from genrenet import batch

    positive_int("batch_tracks", batch_tracks)
    paths = batch.collect_tracks(sources)
    predictor = batch._resolve(predictor)
    store = batch.ResultStore(output, batch.model_columns(predictor, models))
    done = store.done(retry_errors=retry_errors)
    todo = [p for p in paths if p not in done]
    summary = batch.BatchSummary(output=store.output, total=len(paths), skipped=len(paths) - len(todo))
    client, own = _client(cluster)
    bar = tqdm(total=len(paths), initial=summary.skipped, desc="classifying (dask)", unit="track",
               disable=not progress)
    try:
        _run(client, predictor_recipe(predictor), models, todo, store, summary, batch_tracks=batch_tracks,
             checkpoint=checkpoint, bar=bar)
    finally:
        bar.close()
        store.write()
        if own:
            client.close()
    return summary


def _client(cluster):
    from distributed import Client

    if isinstance(cluster, Client):
        return cluster, False
    try:
        return Client(cluster, timeout="30s"), True
    except OSError as exc:
        raise ParameterError(f"--cluster {cluster}: no Dask scheduler answers there ({exc})") from None


def _run(client, recipe, models, todo, store, summary, *, batch_tracks, checkpoint, bar) -> None:
    from distributed import as_completed

    start = last_write = time.monotonic()
    chunks = [todo[i: i + batch_tracks] for i in range(0, len(todo), batch_tracks)]
    futures = [client.submit(classify_chunk, chunk, recipe, models, pure=False) for chunk in chunks]
    try:
        for fut in as_completed(futures):
            rows = fut.result()
            store.add(rows)
            for row in rows:
                if row["error"] is None:
                    summary.classified += 1
                else:
                    summary.failed += 1
                    summary.errors.append((row["path"], row["error"]))
            bar.update(len(rows))
            if time.monotonic() - last_write > checkpoint:
                store.write()
                last_write = time.monotonic()
    finally:
        client.cancel(futures)
    summary.seconds = time.monotonic() - start
