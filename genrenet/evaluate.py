"""Evaluation: window- and track-level accuracy, macro-F1, per-genre precision and
recall, confusion matrices, learning curves, and evaluation of a saved bundle on
any labelled audio.

A model sees fixed-length windows of a track; a *track* prediction is the mean
of its windows' probabilities (the same rule :mod:`genrenet.predict` applies to
uploads), so every result here is given at both levels.

Used in the book chapter ``book/results.md`` and the notebooks
``notebooks/train_model.ipynb`` and ``notebooks/results.ipynb``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrenet.errors import DataError, ParameterError
from genrenet.results import CV_METRICS_FILE, METRICS_FILE, CVRecord, Evaluation, Metrics, RunRecord, Scores

__all__ = [
    "track_probabilities",
    "classification_metrics",
    "metrics_from_confusion",
    "evaluate_predictions",
    "evaluate_bundle",
    "plot_confusion",
    "plot_history",
    "format_metrics",
    "metrics_table",
    "per_genre_rows",
    "per_genre_table",
    "NO_CLIPS",
    "NONE_PREDICTED",
    "figure_png",
    "THESIS_RESULT",
    "THESIS_OBJECTIVE",
    "ARTIST_DISJOINT_SPLITS",
    "collect_results",
    "results_table",
    "results_summary",
    "plot_results",
]


def track_probabilities(probs, track_of_window) -> tuple[np.ndarray, np.ndarray]:
    """Average window probabilities per track.

    Parameters
    ----------
    probs : array, shape (n_windows, n_classes)
    track_of_window : array of int, shape (n_windows,)
        Track index of each window.

    Returns
    -------
    tracks : ndarray of int
        Sorted unique track indices.
    track_probs : ndarray, shape (len(tracks), n_classes)
        Mean probability of each track's windows.
    """
    probs = np.asarray(probs, dtype=np.float64)
    track_of_window = np.asarray(track_of_window)
    if probs.ndim != 2 or track_of_window.ndim != 1 or len(track_of_window) != len(probs):
        raise ParameterError(
            "probs must be (n_windows, n_classes) and track_of_window (n_windows,), "
            f"got {probs.shape} and {track_of_window.shape}"
        )
    tracks, inverse = np.unique(track_of_window, return_inverse=True)
    sums = np.zeros((len(tracks), probs.shape[1]))
    np.add.at(sums, inverse, probs)
    counts = np.bincount(inverse, minlength=len(tracks))[:, None]
    return tracks, sums / counts


def classification_metrics(y_true, y_pred, genres: Sequence[str]) -> Scores:
    """Accuracy, macro-F1, per-genre precision/recall/F1/support and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array of int
        Class indices into ``genres``.
    genres : sequence of str
        Class names, index order.

    Returns
    -------
    Scores
        ``accuracy``, ``macro_f1``, ``balanced_accuracy``, ``n``, ``per_genre``
        (genre → precision, recall, f1, support) and ``confusion`` (rows: true
        genre, columns: predicted genre, counts).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    genres = list(genres)
    k = len(genres)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ParameterError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise ParameterError("y_true is empty: nothing to evaluate")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.min() < 0 or arr.max() >= k:
            raise ParameterError(f"{name} holds a class index outside 0..{k - 1} ({k} genres)")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return metrics_from_confusion(cm, genres)


def metrics_from_confusion(cm, genres: Sequence[str], **extra) -> Scores:
    """The metrics of :func:`classification_metrics` from a confusion matrix of counts.

    Pooling cross-validation folds sums their confusion matrices (each track is
    tested exactly once) and calls this; ``extra`` sets further :class:`~genrenet.results.Scores`
    fields (``loss``, the fold statistics).
    """
    cm = np.asarray(cm, dtype=np.int64)
    genres = list(genres)
    if cm.shape != (len(genres), len(genres)):
        raise ParameterError(f"cm must be {len(genres)}×{len(genres)}, got shape {cm.shape}")
    n = int(cm.sum())
    if n == 0:
        raise ParameterError("the confusion matrix is empty: nothing to evaluate")
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0
    return Scores(
        n=n,
        accuracy=float(tp.sum() / n),
        # macro averages over the genres present in y_true (sklearn's labels=present)
        macro_f1=float(f1[present].mean()),
        balanced_accuracy=float(recall[present].mean()),
        per_genre={
            g: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                "support": int(support[i])}
            for i, g in enumerate(genres)
        },
        confusion=cm.tolist(),
        **extra,
    )


def evaluate_predictions(probs, y, track_of_window, genres: Sequence[str]) -> Metrics:
    """Metrics at window and track level from window probabilities.

    Parameters
    ----------
    probs : array, shape (n_windows, n_classes)
    y : array of int, shape (n_windows,)
        True class of each window (constant within a track).
    track_of_window : array of int, shape (n_windows,)
    genres : sequence of str

    Returns
    -------
    Metrics
        ``window`` (with ``loss``, the mean window cross-entropy) and ``track`` scores.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    track_of_window = np.asarray(track_of_window)
    if len(y) != len(probs):
        raise ParameterError(f"y has {len(y)} labels for {len(probs)} windows")
    if probs.shape[1] != len(genres):
        raise ParameterError(f"probs has {probs.shape[1]} columns for {len(genres)} genres")
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))
    window = dataclasses.replace(classification_metrics(y, probs.argmax(axis=1), genres), loss=loss)
    tracks, tprobs = track_probabilities(probs, track_of_window)
    first = {t: i for i, t in reversed(list(enumerate(track_of_window)))}
    ty = y[[first[t] for t in tracks]]
    if any(len(set(y[track_of_window == t])) != 1 for t in tracks[:50]):
        raise DataError("windows of one track carry different labels")
    return Metrics(window=window, track=classification_metrics(ty, tprobs.argmax(axis=1), genres))


def evaluate_bundle(
    bundle_path,
    dataset,
    *,
    split=None,
    part: str = "test",
    batch_size: int = 64,
    cache_dir=None,
    progress: bool = True,
) -> Evaluation:
    """Evaluate a saved model bundle on a labelled data set.

    Tracks whose genre the model does not know are left out and listed in
    the result; the features are the bundle's own (its ``meta.json`` feature
    specification), computed through the feature cache, and the model runs
    through :mod:`genrenet.inference`, the path prediction uses.

    Parameters
    ----------
    bundle_path : path-like
        A bundle written by :mod:`genrenet.train` (Keras or scikit-learn).
    dataset : genrenet.datasets.Dataset
        Labelled tracks (genre = folder name for a ``folder`` data set).
    split : genrenet.splits.Split, keyword-only, optional
        Evaluate only the ``part`` tracks of this split; default: every track.
    part : {"test", "val", "train"}, keyword-only
    batch_size : int, keyword-only
    cache_dir : path-like, keyword-only, optional
        Feature cache location (default :func:`genrenet.paths.cache_dir`).
    progress : bool, keyword-only
        Show the featurisation progress bar.

    Returns
    -------
    Evaluation
        ``metrics`` (window and track, see :func:`evaluate_predictions`), ``model``, ``name``,
        ``bundle``, ``dataset``, ``genres``, ``n_tracks``, ``n_windows``, ``skipped_genres``
        (genre → number of tracks left out), ``errors`` (unreadable files), ``feature``.
    """
    from genrenet.bundle import load_bundle
    from genrenet.cache import featurize
    from genrenet.inference import bundle_runner

    bundle = load_bundle(bundle_path)
    genres = bundle.genres
    sub, skipped = _known_tracks(dataset, genres, split, part)
    fs = featurize(sub, bundle.meta.feature, cache_dir=cache_dir, progress=progress)
    X, _, track_of_window = fs.load()
    if len(X) == 0:
        raise DataError(f"no features could be computed for data set {dataset.name!r}")
    index = {g: i for i, g in enumerate(genres)}
    y = np.array([index[sub[int(t)].genre] for t in track_of_window], dtype=np.int64)
    probs = bundle_runner(bundle, batch_size=batch_size)(X)
    return Evaluation(
        metrics=evaluate_predictions(probs, y, track_of_window, genres), model=bundle.meta.model,
        name=bundle.name, bundle=str(Path(bundle_path)), dataset=dataset.name, genres=tuple(genres),
        n_tracks=len(fs.tracks), n_windows=int(len(X)), skipped_genres=skipped,
        errors=tuple((str(i), str(c)) for i, c in fs.errors), feature=bundle.meta.feature,
    )


def _known_tracks(dataset, genres: Sequence[str], split, part: str):
    """The tracks (of ``split``'s ``part``, or all) whose genre the model knows, and counts of the others."""
    indices = list(range(len(dataset))) if split is None else [int(i) for i in split.indices(part)]
    known = [i for i in indices if dataset[i].genre in genres]
    skipped: dict[str, int] = {}
    for i in indices:
        if dataset[i].genre not in genres:
            skipped[dataset[i].genre] = skipped.get(dataset[i].genre, 0) + 1
    if not known:
        raise DataError(
            f"no track of data set {dataset.name!r} has a genre the model knows "
            f"(model genres: {', '.join(genres)}; data genres: {', '.join(sorted(skipped))})"
        )
    return dataset.subset(ids=[dataset[i].id for i in known]), skipped


def plot_confusion(cm, genres: Sequence[str], *, title: str = "", normalize: bool = True, ax=None):
    """Draw a confusion matrix as a seaborn heatmap.

    Parameters
    ----------
    cm : array, shape (k, k)
        Counts; rows are true genres, columns predicted genres.
    genres : sequence of str
    title : str, keyword-only
        Should name the data set, split and protocol.
    normalize : bool, keyword-only
        Colour by row fraction (recall) and annotate ``fraction (count)``.
    ax : matplotlib Axes, keyword-only, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(cm)
    k = len(genres)
    if cm.shape != (k, k):
        raise ParameterError(f"cm must be {k}×{k} for {k} genres, got shape {cm.shape}")
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    if normalize:
        annot = np.array([[f"{frac[i, j]:.2f}\n({cm[i, j]})" for j in range(k)] for i in range(k)])
        data, fmt = frac, ""
    else:
        annot, data, fmt = True, cm, "d"
    # the figure grows with the number of genres and the longest name, so that no tick label
    # overlaps its neighbour: x labels are rotated 45 degrees, anchored at their right end
    longest = max((len(str(g)) for g in genres), default=1)
    label_room = 0.09 * longest  # inches taken by the longest (rotated or horizontal) label
    if ax is None:
        cell = 0.75 if k <= 12 else 0.55
        fig, ax = plt.subplots(figsize=(1.0 + label_room + cell * k, 0.8 + 0.7 * label_room + 0.9 * cell * k))
    else:
        fig = ax.figure
    sns.heatmap(
        data, annot=annot, fmt=fmt, cmap="Blues", vmin=0, vmax=1 if normalize else None, cbar=False,
        xticklabels=list(genres), yticklabels=list(genres), ax=ax, annot_kws={"fontsize": 7 if k > 6 else 9},
    )
    ticks = 9 if k <= 8 else 8 if k <= 12 else 7
    ax.set_xticklabels(list(genres), rotation=45, ha="right", rotation_mode="anchor", fontsize=ticks)
    ax.set_yticklabels(list(genres), rotation=0, fontsize=ticks)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    if title:
        import textwrap

        width = max(30, int(12 * fig.get_figwidth()))  # about 12 characters of 9 pt text per inch
        ax.set_title(textwrap.fill(title, width), fontsize=9)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, list[float]], *, title: str = ""):
    """Learning curves (loss and accuracy per epoch, training and validation).

    Parameters
    ----------
    history : dict
        ``keras.callbacks.History.history``-style mapping (``loss``, ``val_loss``,
        ``accuracy``, ``val_accuracy``...).
    title : str, keyword-only

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not history or "loss" not in history:
        raise ParameterError("history must contain at least a 'loss' curve")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history and len(history[key]):
                epochs = np.arange(1, len(history[key]) + 1)
                ax.plot(epochs, history[key], style, marker="o", ms=3, label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def figure_png(fig, *, dpi: int = 120) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


#: What per-genre tables show instead of scores for a genre with no clip in the evaluated data.
NO_CLIPS = "no clips"
#: What per-genre tables show instead of a precision for a genre that no clip was predicted as.
NONE_PREDICTED = "none predicted"


def per_genre_rows(scores: Scores, *, absent: str = "mark", digits: int | None = 3) -> list[dict[str, Any]]:
    """Per-genre precision, recall and F1 as table rows, without inventing scores for absent genres.

    A genre the model knows but the evaluated data does not contain (support 0)
    has no recall or F1 at all; :func:`metrics_from_confusion` stores 0.0 there
    to keep its JSON numeric, and macro averages skip such genres. These rows
    either leave the genre out or say :data:`NO_CLIPS` instead of a number. Likewise
    a present genre that no clip was predicted as has no precision (0 of 0): it
    reads :data:`NONE_PREDICTED` (its recall and F1 are 0).

    Parameters
    ----------
    scores : Scores
        One level of a result (``metrics.track`` or ``metrics.window``).
    absent : {"mark", "drop"}, keyword-only
        ``"mark"``: absent genres get a row whose scores read ``"no clips"``;
        ``"drop"``: only genres present in the data are listed.
    digits : int or None, keyword-only
        Round the scores to this many decimals (None: no rounding).

    Returns
    -------
    list of dict
        ``genre``, ``precision``, ``recall``, ``f1``, ``clips`` (true clips of the genre)
        and ``predicted`` (clips predicted as the genre), in the model's genre order.
    """
    if absent not in ("mark", "drop"):
        raise ParameterError(f"absent must be 'mark' or 'drop', got {absent!r}")
    per_genre = scores.per_genre
    confusion = np.asarray(scores.confusion, dtype=np.int64)
    predicted = confusion.sum(axis=0) if confusion.size else np.zeros(len(per_genre), dtype=np.int64)
    rows = []
    for i, (genre, r) in enumerate(per_genre.items()):
        row: dict[str, Any] = {"genre": genre}
        n_predicted = int(predicted[i]) if i < len(predicted) else 0
        if int(r["support"]) > 0:
            row.update({k: r[k] if digits is None else round(float(r[k]), digits) for k in ("precision", "recall", "f1")})
            if n_predicted == 0:
                row["precision"] = NONE_PREDICTED
        elif absent == "drop":
            continue
        else:
            row.update(dict.fromkeys(("precision", "recall", "f1"), NO_CLIPS))
        row["clips"] = int(r["support"])
        row["predicted"] = n_predicted
        rows.append(row)
    return rows


def per_genre_table(scores: Scores, *, absent: str = "mark", digits: int = 3):
    """:func:`per_genre_rows` as a pandas DataFrame indexed by genre (the notebooks' per-genre table).

    Scores are written with ``digits`` decimals (text, so that a column holding
    ``"no clips"`` still shows ``1.000`` rather than ``1.0``).
    """
    import pandas as pd

    rows = per_genre_rows(scores, absent=absent, digits=None)
    for row in rows:
        for key in ("precision", "recall", "f1"):
            if not isinstance(row[key], str):
                row[key] = f"{row[key]:.{int(digits)}f}"
    return pd.DataFrame(rows, columns=["genre", "precision", "recall", "f1", "clips", "predicted"]).set_index("genre")


def metrics_table(metrics: Metrics, *, digits: int = 4):
    """Window- and track-level scores as a pandas DataFrame (a notebook shows it as a table, not text).

    One row per level (``window``, ``track``) with accuracy, macro-F1, balanced accuracy, the
    number of items scored and the loss (empty when there is none); the per-genre scores are
    :func:`per_genre_table`. :func:`format_metrics` is the same in plain text, for terminals.
    """
    import pandas as pd

    rows = [{"level": level, "accuracy": round(m.accuracy, digits), "macro-F1": round(m.macro_f1, digits),
             "balanced accuracy": round(m.balanced_accuracy, digits), "n": m.n,
             "loss": None if m.loss is None else round(m.loss, digits)}
            for level, m in (("window", metrics.window), ("track", metrics.track))]
    return pd.DataFrame(rows).set_index("level")


def format_metrics(metrics: Metrics) -> str:
    """A plain-text table of window- and track-level scores (:func:`evaluate_predictions`, a record's ``metrics``).

    Genres without a clip in the evaluated data read ``no clips`` (with how many
    clips were predicted as them), never a score of 0.
    """
    lines = []
    for level, m in (("window", metrics.window), ("track", metrics.track)):
        extra = f"  loss {m.loss:.4f}" if m.loss is not None else ""
        lines.append(f"{level:>6}-level: accuracy {m.accuracy:.4f}  macro-F1 {m.macro_f1:.4f}  "
                     f"balanced accuracy {m.balanced_accuracy:.4f}  (n={m.n}){extra}")
    lines += ["", f"{'genre':<14}{'precision':>15}{'recall':>10}{'f1':>8}{'tracks':>9}"]
    for r in per_genre_rows(metrics.track, digits=None):
        if r["clips"]:
            precision = r["precision"] if isinstance(r["precision"], str) else f"{r['precision']:.3f}"
            lines.append(f"{r['genre']:<14}{precision:>15}{r['recall']:>10.3f}{r['f1']:>8.3f}{r['clips']:>9d}")
        else:
            lines.append(f"{r['genre']:<14}{NO_CLIPS:>33}{0:>9d}   ({r['predicted']} predicted as {r['genre']})")
    absent = [r["genre"] for r in per_genre_rows(metrics.track) if not r["clips"]]
    if absent:
        lines.append(f"macro averages cover the {len(metrics.track.per_genre) - len(absent)} genres with clips; "
                     f"no clips of: {', '.join(absent)}")
    return "\n".join(lines)


#: The thesis's published result, shown beside ours (its own SoundCloud data, 4 genres).
#: The thesis scored spectrogram *images*, one per window of a track, so its accuracy is a
#: window-level accuracy: compare it with our ``window accuracy`` column, not the track one.
THESIS_RESULT = {
    "model": "cnn",
    "name": "CNN Model (thesis)",
    "dataset": "thesis SoundCloud data (not public)",
    "genres": ["classical", "country", "metal", "pop"],
    "protocol": "the thesis's own held-out data (split not published)",
    "accuracy": 0.7704485654830933,
    "loss": 0.7446410059928894,
    "level": "window",
    "metric": "window accuracy",
}

#: The thesis's general objective: an accuracy of at least 75 %.
THESIS_OBJECTIVE = 0.75

#: Split names whose scored clips come from artists that training never heard.
ARTIST_DISJOINT_SPLITS = frozenset({"fault_filtered", "fault_filtered_final"})

#: The thesis's four models (their ids), and which models are convolutional.
_THESIS_MODELS = ("feed_forward", "lenet", "cnn", "lstm")
_CONVOLUTIONAL = frozenset({"lenet", "cnn", "compact_cnn"})


def collect_results(results_dir) -> list[RunRecord | CVRecord]:
    """Every result under ``results_dir``: cross-validation records and stand-alone runs with test scores.

    Reads each ``cv_metrics.json`` and each ``metrics.json`` that is not a fold of a
    cross-validation (a fold's parent holds ``cv_metrics.json``) and has test scores
    (a run on split ``"all"`` has none). Each record's ``path`` is its directory.

    Returns
    -------
    list of RunRecord and CVRecord
        Sorted by path.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise DataError(f"results_dir {root} is not a directory")
    out: list[RunRecord | CVRecord] = [CVRecord.load(f.parent) for f in root.rglob(CV_METRICS_FILE)]
    for f in root.rglob(METRICS_FILE):
        if (f.parent.parent / CV_METRICS_FILE).is_file() or _kind(f) != RunRecord.KIND:
            continue
        record = RunRecord.load(f.parent)
        if record.metrics is not None:
            out.append(record)
    return sorted(out, key=lambda r: str(r.path))


def _kind(path: Path) -> str | None:
    """The ``kind`` of a JSON results file (other tools may leave a ``metrics.json`` of their own)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def results_table(records, *, include_thesis: bool = True):
    """A pandas DataFrame comparing results (one row per record), the thesis's CNN first.

    Parameters
    ----------
    records : iterable of RunRecord or CVRecord
        E.g. :func:`collect_results`; each needs test scores.
    include_thesis : bool, keyword-only

    Returns
    -------
    pandas.DataFrame
        Columns: model, data set (synthetic marked, see :func:`genrenet.datasets.data_label`), genres,
        split, protocol, window accuracy, track accuracy, track macro-F1, track balanced accuracy,
        most frequent genre only (:func:`majority_share` of the scored tracks), seed, path.
    """
    import pandas as pd

    rows = []
    if include_thesis:
        t = THESIS_RESULT
        rows.append({
            "model": t["name"], "dataset": t["dataset"], "genres": len(t["genres"]), "split": "thesis",
            "protocol": t["protocol"], "window accuracy": t["accuracy"], "track accuracy": float("nan"),
            "track macro-F1": float("nan"), "track balanced accuracy": float("nan"),
            "most frequent genre only": float("nan"), "seed": None, "path": "",
        })
    for r in records:
        rows.append({
            "model": r.name, "dataset": r.data_label, "genres": len(r.genres), "split": r.split.name,
            "protocol": r.protocol, "window accuracy": r.metrics.window.accuracy,
            "track accuracy": r.metrics.track.accuracy, "track macro-F1": r.metrics.track.macro_f1,
            "track balanced accuracy": r.metrics.track.balanced_accuracy,
            "most frequent genre only": majority_share(r.metrics.track), "seed": r.seed, "path": "" if r.path is None else str(r.path),
        })
    return pd.DataFrame(rows)


def _pct(value: float) -> str:
    return f"{100 * float(value):.1f} %"


def _row_keys(records) -> list[str]:
    """One glue prefix per record: ``<model>_<n genres>g``, with ``_<split>`` when that is not unique."""
    import re

    base = [f"{r.model}_{len(r.genres)}g" for r in records]
    keys = [b if base.count(b) == 1 else f"{b}_{r.split.name}" for b, r in zip(base, records, strict=True)]
    keys = [re.sub(r"[^A-Za-z0-9_]", "_", k) for k in keys]
    return [k if keys.count(k) == 1 else f"{k}_{i}" for i, k in enumerate(keys)]


def _describe(r, key: str = "track") -> str:
    return f"{r.name} ({len(r.genres)} genres) with {_pct(_LEVELS[key](r))} {key} accuracy"


def _balanced_accuracy(r) -> float:
    value = r.metrics.track.balanced_accuracy
    return -1.0 if value is None else value


#: The accuracies the objective is judged on, by the word the sentences use.
_LEVELS = {"track": lambda r: r.metrics.track.accuracy, "window": lambda r: r.metrics.window.accuracy,
           "track balanced": _balanced_accuracy}


def results_summary(records, *, objective: float = THESIS_OBJECTIVE) -> dict[str, str]:
    """Every figure and sentence fragment the book's prose takes from the results, as text.

    The prose pages paste these with ``{glued-text}`` (see ``notebooks/results.ipynb``), so
    no number in them is typed by hand and each sentence stays true whatever the numbers are.
    Percentages are written "88.5 %"; the thesis's figure keeps its two decimals.

    Parameters
    ----------
    records : sequence of RunRecord or CVRecord
        E.g. :func:`collect_results`; each needs test scores.
    objective : float, keyword-only
        The accuracy to reach (the thesis's :data:`THESIS_OBJECTIVE`).

    Returns
    -------
    dict of str to str
        For each record, under the prefix ``<model>_<n>g`` (``<model>_<n>g_<split>`` when one model
        and genre count appear under several splits): ``_name``, ``_genres``, ``_split``, ``_protocol``,
        ``_track``, ``_window`` (accuracies), ``_clips`` (tracks scored). Then, over the records
        whose split is artist-disjoint (:data:`ARTIST_DISJOINT_SPLITS`), for 10 and 4 genres:
        ``best_<n>g_name``, ``best_<n>g_track``, ``best_<n>g_window`` and ``best_<n>g`` (a phrase),
        by track accuracy ("none" when no record qualifies). ``objective`` ("75 %"),
        ``objective_met`` ("yes"/"no"), ``objective_sentence`` (e.g. "is met by X with Y under
        the artist-disjoint protocol" or "is not met ...; the best is ..."),
        ``objective_window_sentence`` (the same on window accuracy), ``objective_balanced_sentence``
        (the same on track balanced accuracy, the fair measure when the clips lean to one genre), ``thesis_accuracy``,
        ``thesis_metric``, ``thesis_beside_ours`` (the thesis's figure beside our best on 4 genres
        on that metric), ``clips_scored`` (most clips scored by one record), ``clips_<n>g``,
        ``chance_<n>g`` (1 / n genres), ``protocol`` (the artist-disjoint protocol's description),
        ``claim_cnn_best`` (is the CNN the best of the thesis's four models?),
        ``claim_convolutional`` (does a convolutional model reach the objective?) and
        ``claim_network_vs_baseline`` (does a network beat the MFCC baseline on the same genres?).
        Per record also ``_balanced`` (track balanced accuracy) and ``_majority`` (the score of always
        answering the most frequent genre, :func:`majority_share`); ``skew_<n>g`` says how the scored
        clips lean to one genre and which model has the best balanced accuracy.
    """
    records = list(records)
    honest = [r for r in records if r.split.name in ARTIST_DISJOINT_SPLITS]
    four = [r for r in honest if len(r.genres) == len(THESIS_RESULT["genres"])]
    cnn4 = next((r for r in four if r.model == THESIS_RESULT["model"]), None)
    out = _record_entries(records)
    out.update(_best_per_genre_count(records, honest))
    out.update(_objective_verdicts(honest, objective))
    out.update(_skew_sentences(honest))
    out.update(_thesis_beside_ours(four, cnn4))
    clips = [r.metrics.track.n for r in records if r.metrics.track.n]
    out["clips_scored"] = str(max(clips)) if clips else "0"
    out["protocol"] = honest[0].protocol if honest else "none"
    out["claim_cnn_best"] = _claim_cnn_best(four, cnn4)
    out["claim_convolutional"] = _claim_convolutional(honest, objective, out["objective"])
    out["claim_network_vs_baseline"] = _claim_network_vs_baseline(honest)
    return out


#: How the summary's sentences name the artist-disjoint protocol.
_WHERE = "under the artist-disjoint protocol"


def _track_accuracy(r) -> float:
    return r.metrics.track.accuracy


def _window_accuracy(r) -> float:
    return r.metrics.window.accuracy


def majority_share(scores) -> float | None:
    """Accuracy of always answering the most frequent genre of the scored items.

    On a skewed test set this, not ``1 / genres``, is the score to beat: with 26 classical
    clips of 28, answering "classical" every time is right 93 % of the time.

    Parameters
    ----------
    scores : Scores
        One level of an evaluation (its ``per_genre`` supports are used).

    Returns
    -------
    float or None
        ``None`` when the supports are unknown.

    Examples
    --------
    >>> from genrenet.results import Scores
    >>> majority_share(Scores(accuracy=0.5, per_genre={"a": {"support": 3}, "b": {"support": 1}}))
    0.75
    """
    supports = [float(g.get("support") or 0) for g in (scores.per_genre or {}).values()]
    total = sum(supports)
    return max(supports) / total if total else None


def _majority_genre(scores) -> str | None:
    per_genre = scores.per_genre or {}
    return max(per_genre, key=lambda g: per_genre[g].get("support") or 0) if per_genre else None


def _record_entries(records) -> dict[str, str]:
    """Each record's name, genre count, split, protocol, accuracies and clips, under its :func:`_row_keys` key."""
    out: dict[str, str] = {}
    for key, r in zip(_row_keys(records), records, strict=True):
        out[f"{key}_name"] = r.name
        out[f"{key}_genres"] = str(len(r.genres))
        out[f"{key}_split"] = r.split.name
        out[f"{key}_protocol"] = r.protocol
        out[f"{key}_track"] = _pct(r.metrics.track.accuracy)
        out[f"{key}_window"] = _pct(r.metrics.window.accuracy)
        out[f"{key}_clips"] = str(r.metrics.track.n) if r.metrics.track.n is not None else "unknown"
        balanced, majority = r.metrics.track.balanced_accuracy, majority_share(r.metrics.track)
        out[f"{key}_balanced"] = "unknown" if balanced is None else _pct(balanced)
        out[f"{key}_majority"] = "unknown" if majority is None else _pct(majority)
    return out


def _skew_sentences(honest) -> dict[str, str]:
    """``skew_<n>g``: how far the scored clips of the best artist-disjoint record lean to one genre,
    and the best balanced accuracy (the mean of the per-genre recalls), for 10 and 4 genres."""
    out: dict[str, str] = {}
    for n in (10, 4):
        group = [r for r in honest if len(r.genres) == n and r.metrics.track.balanced_accuracy is not None]
        best = max(group, key=lambda r: r.metrics.track.balanced_accuracy, default=None)
        if best is None:
            out[f"skew_{n}g"] = f"no model was scored on {n} genres {_WHERE} with per-genre scores"
            continue
        track = best.metrics.track
        genre, share = _majority_genre(track), majority_share(track)
        count = int((track.per_genre.get(genre) or {}).get("support") or 0)
        out[f"skew_{n}g"] = (
            f"{count} of the {track.n} clips scored on {n} genres are {genre}, so answering {genre} every time "
            f"would score {_pct(share)}; the fairer figure is balanced accuracy (the mean of the per-genre "
            f"recalls, {_pct(1 / n)} by chance), where the best is {best.name} with {_pct(track.balanced_accuracy)}")
    return out


def _best_per_genre_count(records, honest) -> dict[str, str]:
    """For 10 and 4 genres: the best artist-disjoint record by track accuracy, the most clips and chance."""
    out: dict[str, str] = {}
    for n in (10, 4):
        group = [r for r in honest if len(r.genres) == n]
        best = max(group, key=_track_accuracy, default=None)
        out[f"best_{n}g_name"] = best.name if best else "none"
        out[f"best_{n}g_track"] = _pct(best.metrics.track.accuracy) if best else "none"
        out[f"best_{n}g_window"] = _pct(best.metrics.window.accuracy) if best else "none"
        out[f"best_{n}g"] = _describe(best) if best else f"no model was scored on {n} genres {_WHERE}"
        clips = [r.metrics.track.n for r in records if len(r.genres) == n and r.metrics.track.n]
        out[f"clips_{n}g"] = str(max(clips)) if clips else "0"
        out[f"chance_{n}g"] = _pct(1 / n)
    return out


def _objective_verdicts(honest, objective: float) -> dict[str, str]:
    """``objective``, and whether the best artist-disjoint record reaches it on track, window and
    track balanced accuracy (the last one fair on skewed lists of clips)."""
    out = {"objective": f"{100 * objective:.0f} %"}
    for level, name in (("track", "objective_sentence"), ("window", "objective_window_sentence"),
                        ("track balanced", "objective_balanced_sentence")):
        acc = _LEVELS[level]
        candidates = [r for r in honest if level != "track balanced" or r.metrics.track.balanced_accuracy is not None]
        best = max(candidates, key=acc, default=None)
        if best is None:
            out[name] = f"cannot be judged: no model was scored {_WHERE}" + (
                " with per-genre scores" if level == "track balanced" else "")
            met = False
        else:
            met = acc(best) >= objective
            verdict = "is met" if met else "is not met"
            out[name] = (f"{verdict} by {_describe(best, level)} {_WHERE}" if met else
                         f"{verdict} {_WHERE}: the best is {_describe(best, level)}")
        if level == "track":
            out["objective_met"] = "yes" if met else "no"
    return out


def _thesis_beside_ours(four, cnn4) -> dict[str, str]:
    """The thesis's window accuracy beside our CNN and our best model on its four genres (``four``)."""
    thesis = THESIS_RESULT
    accuracy = f"{100 * thesis['accuracy']:.2f} %"
    best4 = max(four, key=_window_accuracy, default=None)
    parts = [f"the thesis's CNN reached {accuracy} {thesis['metric']} on "
             f"{len(thesis['genres'])} genres of its own SoundCloud data"]
    if cnn4 is not None:
        parts.append(f"the same CNN on GTZAN's {len(cnn4.genres)} genres {_WHERE} reaches "
                     f"{_pct(cnn4.metrics.window.accuracy)}")
    if best4 is not None and best4 is not cnn4:
        parts.append(f"the best of ours on GTZAN's {len(best4.genres)} genres {_WHERE}, {best4.name}, "
                     f"reaches {_pct(best4.metrics.window.accuracy)}")
    if best4 is None:
        parts.append(f"no model of ours was scored on {len(thesis['genres'])} genres {_WHERE}")
    return {"thesis_accuracy": accuracy, "thesis_metric": thesis["metric"], "thesis_beside_ours": "; ".join(parts)}


def _claim_cnn_best(four, cnn4) -> str:
    """Is the CNN (``cnn4``) the best of the thesis's models on its four genres (``four``)?"""
    thesis_four = [r for r in four if r.model in _THESIS_MODELS]
    if cnn4 is None or len(thesis_four) < 2:
        return "cannot be checked: the thesis's models were not all scored on its four genres"
    top = max(thesis_four, key=_track_accuracy)
    if top.metrics.track.accuracy <= cnn4.metrics.track.accuracy:
        return (f"is supported: the CNN, with {_pct(cnn4.metrics.track.accuracy)} track "
                f"accuracy, is the best of the thesis's {len(thesis_four)} models")
    return f"is not supported: {_describe(top)} beats the CNN ({_pct(cnn4.metrics.track.accuracy)})"


def _claim_convolutional(honest, objective: float, objective_text: str) -> str:
    """Does a convolutional artist-disjoint record reach ``objective`` in track accuracy?"""
    conv = [r for r in honest if r.model in _CONVOLUTIONAL]
    top_conv = max(conv, key=_track_accuracy, default=None)
    if top_conv is None:
        return f"cannot be checked: no convolutional model was scored {_WHERE}"
    if top_conv.metrics.track.accuracy >= objective:
        return f"is supported: {_describe(top_conv)} {_WHERE} reaches {objective_text}"
    return f"is not supported: the best convolutional model is {_describe(top_conv)}, {_WHERE}, below {objective_text}"


def _claim_network_vs_baseline(honest) -> str:
    """Does the best network beat each artist-disjoint MFCC baseline on the same genre count?"""
    pairs = []
    for base in (r for r in honest if r.model == "baseline"):
        nets = [r for r in honest if r.model not in ("baseline", "transfer_linear") and len(r.genres) == len(base.genres)]
        top = max(nets, key=_track_accuracy, default=None)
        if top is not None:
            pairs.append((base, top))
    if not pairs:
        return "cannot be checked: no network and baseline share their genres"
    said = []
    for base, top in pairs:
        beats = top.metrics.track.accuracy > base.metrics.track.accuracy
        said.append(f"on {len(base.genres)} genres the best network, {top.name}, "
                    f"{'beats' if beats else 'does not beat'} the baseline "
                    f"({_pct(top.metrics.track.accuracy)} against {_pct(base.metrics.track.accuracy)})")
    return "; ".join(said)


def plot_results(table, *, title: str = ""):
    """Horizontal bars of track accuracy per model, window accuracy markers, chance and the thesis.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`results_table` (its thesis row, split ``"thesis"``, is drawn as a line, not a bar).
    title : str, keyword-only
        The figure title (name the data set and the protocol).

    Returns
    -------
    matplotlib.figure.Figure
        One bar per model (label: model, genres, split), a dotted chance line per genre count
        (1 / genres, drawn across that count's bars), the thesis's result as a dashed line on the
        metric it was measured with (window accuracy, so against the markers), and the legend
        below the axes.
    """
    import matplotlib.pyplot as plt

    ours = table[table["split"] != "thesis"].reset_index(drop=True)
    n = max(len(ours), 1)
    legend_h = 0.75  # inches below the axes for the legend
    height = 1.3 + 0.45 * n + legend_h
    fig, ax = plt.subplots(figsize=(9, height))
    y = np.arange(len(ours))[::-1]
    labels = [f"{r.model}, {r.genres} genres, {r.split}" for r in ours.itertuples()]
    ax.barh(y, ours["track accuracy"], color="tab:blue", height=0.6, label="track accuracy")
    ax.plot(ours["window accuracy"], y, "D", color="tab:orange", markersize=6,
            label="window accuracy")
    if "most frequent genre only" in ours:
        ax.plot(ours["most frequent genre only"], y, "|", color="tab:red", markersize=16, markeredgewidth=2,
                label="always the most frequent genre of the scored clips")
    for genres in sorted(set(ours["genres"])):
        rows = y[(ours["genres"] == genres).to_numpy()]
        ax.vlines(1 / genres, rows.min() - 0.4, rows.max() + 0.4, colors="0.3", linestyles=":",
                  label=f"chance on {genres} genres: {100 / genres:.0f} %")
    t = THESIS_RESULT
    ax.axvline(t["accuracy"], ls="--", color="k",
               label=f"thesis CNN, {t['metric']} on its own data ({len(t['genres'])} genres): "
                     f"{100 * t['accuracy']:.2f} %")
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy on the scored clips")
    ax.set_title(title, fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, legend_h / height, 1, 1))
    return fig
