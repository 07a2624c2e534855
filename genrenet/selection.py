"""The genre-selection experiment: which genres are easiest to tell apart?

The thesis trained many networks on subsets of its ten genres and kept the four
genres that appeared most often among the models scoring above 0.65, 0.70 and
0.75 accuracy (its figures 27-29): metal, country, pop and classical. This
module makes that experiment systematic and repeatable:

1. every ``k``-genre subset of a data set's genres is evaluated (for GTZAN and
   ``k = 4``: C(10, 4) = 210 subsets);
2. each subset is scored by cross-validation under the **same grouped folds**
   (computed once for the whole data set with :func:`genrenet.splits.grouped_kfold`,
   so no track is ever in two folds and every subset sees the same partition),
   with a fast model: the classical baseline of :mod:`genrenet.baseline` on
   cached ``mfcc_stats`` features;
3. each genre is counted among the subsets whose accuracy exceeds each
   threshold, and :func:`plot_selection` draws the bar charts.

Results are appended to ``selection.json`` atomically after every subset; a
rerun with the same configuration skips finished subsets, and a rerun with a
different configuration is refused rather than mixed in.

The default score is the **balanced** track-level accuracy (mean per-genre
recall, track = mean of its window probabilities), because unequal genre sizes
(GTZAN-mini's classical has ten times more clips) would otherwise reward any
subset that contains the largest genre; plain accuracy is available.

Used in the book chapter ``book/dev_data.md`` (section "Choosing four genres") and the notebook
``notebooks/genre_selection.ipynb``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrenet._validate import choice, int_at_least, integer, non_negative_int
from genrenet.errors import DataError, ParameterError
from genrenet.io import atomic_path, atomic_write_json
from genrenet.repro import DEFAULT_SEED

__all__ = [
    "THESIS_PICK",
    "THRESHOLDS",
    "SelectionResult",
    "genre_subsets",
    "run_selection",
    "load_selection",
    "genre_counts",
    "genre_mean_scores",
    "plot_selection",
    "describe",
    "rank_text",
]

#: The four genres the thesis kept after its selection experiment.
THESIS_PICK = ("classical", "country", "metal", "pop")
#: Accuracy thresholds of the thesis's figures 27, 28 and 29.
THRESHOLDS = (0.65, 0.70, 0.75)

RESULTS_FILE = "selection.json"
#: Scores a subset can be ranked by (``metric=``, ``genrenet select --metric``).
METRICS = ("balanced_accuracy", "accuracy")
#: Levels a subset is scored at (``level=``, ``genrenet select --level``).
LEVELS = ("track", "window")
_METRICS, _LEVELS = METRICS, LEVELS


def genre_subsets(genres: Sequence[str], k: int) -> list[tuple[str, ...]]:
    """Every ``k``-genre subset of ``genres``, each sorted, in lexicographic order.

    Parameters
    ----------
    genres : sequence of str
        Distinct genre names.
    k : int
        Subset size, ``2 <= k <= len(genres)``.

    Returns
    -------
    list of tuple of str
        ``math.comb(len(genres), k)`` subsets.
    """
    names = sorted(str(g) for g in genres)
    if len(set(names)) != len(names):
        raise ParameterError(f"genres must be distinct, got {list(genres)}")
    integer("k", k, low=2, what="an integer >= 2 (a classifier needs two genres)")
    if k > len(names):
        raise ParameterError(f"k={k} is larger than the number of genres ({len(names)}: {', '.join(names)})")
    return list(itertools.combinations(names, int(k)))


def _key(subset: Sequence[str]) -> str:
    return "+".join(subset)


@dataclass
class SelectionResult:
    """Scores of every evaluated genre subset.

    Attributes
    ----------
    config : dict
        Everything that determines the scores (data set hash, feature, folds, model, metric...).
    results : dict
        Subset key (``"classical+country+metal+pop"``) → record with ``genres``,
        ``score``, ``accuracy``, ``balanced_accuracy``, ``n_tracks``, ``n_test_windows``.
    path : Path or None
        The ``selection.json`` file.
    computed : int
        Subsets evaluated by this call (the others were already in the file).
    """

    config: dict
    results: dict
    path: Path | None = None
    computed: int = 0
    genres: list = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every subset of the configuration has a score."""
        return len(self.results) == math.comb(len(self.config["genres"]), self.config["k"])

    def table(self) -> list[dict]:
        """Records sorted from the best to the worst score (ties by subset name)."""
        return sorted(self.results.values(), key=lambda r: (-r["score"], _key(r["genres"])))

    def counts(self, thresholds: Sequence[float] = THRESHOLDS) -> dict[float, dict[str, int]]:
        """See :func:`genre_counts`."""
        return genre_counts(self, thresholds=thresholds)

    def rank_of(self, genres: Sequence[str]) -> int | None:
        """1-based rank of a subset: one more than the number of subsets scoring strictly higher.

        Subsets with the same score share this rank (see :meth:`rank_range`); None when
        the subset was not evaluated.
        """
        ranks = self.rank_range(genres)
        return None if ranks is None else ranks[0]

    def rank_range(self, genres: Sequence[str]) -> tuple[int, int, int] | None:
        """Ranks a subset shares with every subset of the same score.

        Returns
        -------
        tuple of int or None
            ``(best, worst, tied)``: the subset and ``tied - 1`` others have the same
            score and occupy ranks ``best`` to ``worst`` (``worst - best + 1 == tied``);
            None when the subset was not evaluated.
        """
        rec = self.results.get(_key(sorted(genres)))
        if rec is None:
            return None
        score = float(rec["score"])
        same = [math.isclose(float(r["score"]), score, rel_tol=1e-9, abs_tol=1e-12) for r in self.results.values()]
        higher = sum(1 for r, s in zip(self.results.values(), same, strict=True) if not s and r["score"] > score)
        tied = sum(same)
        return higher + 1, higher + tied, tied


def rank_text(ranks: tuple[int, int, int] | Sequence[int], n: int) -> str:
    """``"rank 3 of 15"``, or with ties ``"ranks 34-55 of 210 (22 subsets tie at this score)"``."""
    best, worst, tied = (int(v) for v in ranks)
    if tied <= 1:
        return f"rank {best} of {n}"
    return f"ranks {best}\u2013{worst} of {n} ({tied} subsets tie at this score)"


def _records(results) -> list[dict]:
    if isinstance(results, SelectionResult):
        return list(results.results.values())
    if isinstance(results, Mapping):
        return list(results.values())
    return list(results)


def genre_counts(results, *, thresholds: Sequence[float] = THRESHOLDS,
                 genres: Sequence[str] | None = None) -> dict[float, dict[str, int]]:
    """Count how often each genre appears among subsets scoring above each threshold.

    Parameters
    ----------
    results : SelectionResult or iterable of records
        Records with ``genres`` and ``score``.
    thresholds : sequence of float, keyword-only
        A subset counts for a threshold when its score is strictly greater.
    genres : sequence of str, keyword-only, optional
        Genres to report (default: all genres seen in ``results``), each with a
        count even when zero.

    Returns
    -------
    dict
        Threshold → {genre: count}, genres in the order of ``genres``.
    """
    records = _records(results)
    for t in thresholds:
        if not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
            raise ParameterError(f"thresholds must be numbers in [0, 1], got {t!r}")
    names = sorted({g for r in records for g in r["genres"]}) if genres is None else list(genres)
    out: dict[float, dict[str, int]] = {}
    for t in thresholds:
        counts = dict.fromkeys(names, 0)
        for r in records:
            if r["score"] > t:
                for g in r["genres"]:
                    if g in counts:
                        counts[g] += 1
        out[float(t)] = counts
    return out


def genre_mean_scores(results) -> dict[str, float]:
    """Mean score of the subsets that contain each genre (a threshold-free ranking)."""
    sums: dict[str, list[float]] = {}
    for r in _records(results):
        for g in r["genres"]:
            sums.setdefault(g, []).append(float(r["score"]))
    return {g: float(np.mean(v)) for g, v in sorted(sums.items())}


def _score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[float, float]:
    acc = float(np.mean(y_true == y_pred))
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in range(n_classes) if np.any(y_true == c)]
    return acc, float(np.mean(recalls))


def _evaluate_subset(X, y, track_of_window, label_ids: Sequence[int],
                     folds: list[tuple[np.ndarray, np.ndarray]], *, level: str, model: str, seed: int) -> dict:
    """Cross-validated predictions of one subset, pooled over folds (every track tested once)."""
    from genrenet.baseline import fit_baseline
    from genrenet.evaluate import track_probabilities

    remap = np.full(int(y.max()) + 1, -1, dtype=np.int64)
    remap[np.asarray(label_ids)] = np.arange(len(label_ids))
    in_subset = remap[y] >= 0
    truths, preds = [], []
    n_test_windows = 0
    for train_tracks, test_tracks in folds:
        tr = in_subset & np.isin(track_of_window, train_tracks)
        te = in_subset & np.isin(track_of_window, test_tracks)
        if not te.any():
            continue
        ytr = remap[y[tr]]
        if len(np.unique(ytr)) < len(label_ids):
            raise DataError(
                "a fold has no training tracks for some genre of the subset; use fewer folds or more data"
            )
        clf = fit_baseline(X[tr], ytr, n_classes=len(label_ids), kind=model, seed=seed)
        yte = remap[y[te]]
        n_test_windows += int(te.sum())
        if level == "window":
            truths.append(yte)
            preds.append(clf.predict(X[te]))
        else:
            tracks, probs = track_probabilities(clf.predict_proba(X[te]), track_of_window[te])
            first = {int(t): yte[np.flatnonzero(track_of_window[te] == t)[0]] for t in tracks}
            truths.append(np.array([first[int(t)] for t in tracks]))
            preds.append(probs.argmax(axis=1))
    if not truths:
        raise DataError("no test windows for this subset in any fold")
    truth = np.concatenate(truths)
    pred = np.concatenate(preds)
    acc, bal = _score(truth, pred, len(label_ids))
    return {"accuracy": acc, "balanced_accuracy": bal, "n_test": int(len(truth)),
            "n_test_windows": n_test_windows}


def _estimator_signature(model: str, seed: int) -> str:
    import sklearn

    from genrenet.baseline import build_baseline

    return f"scikit-learn {sklearn.__version__}: {build_baseline(kind=model, seed=seed)!r}"


def _config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def load_selection(path: str | Path) -> SelectionResult:
    """Read a ``selection.json`` (or the directory holding it).

    Parameters
    ----------
    path : str or Path
        The file or its directory.

    Returns
    -------
    SelectionResult
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise DataError(f"no genre-selection results at {path}")
    try:
        state = json.loads(path.read_text())
        return SelectionResult(config=state["config"], results=state["results"], path=path,
                               genres=state["config"]["genres"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a genre-selection result file: {exc}") from exc


def _featureset(data, feature: str, *, cache_dir, n_jobs, progress: bool):
    """``data`` itself when it is a FeatureSet; a Dataset checked by :mod:`genrenet.inputs` and featurised."""
    from genrenet.cache import FeatureSet, featurize
    from genrenet.datasets import Dataset
    from genrenet.features import get_spec
    from genrenet.inputs import resolve_dataset

    if isinstance(data, FeatureSet):
        return data
    if not isinstance(data, Dataset):
        raise ParameterError(f"data must be a Dataset or a FeatureSet, got {type(data).__name__}")
    dataset = resolve_dataset(data)  # k is checked against its genres by genre_subsets
    return featurize(dataset, get_spec(feature), cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)


def run_selection(
    data,
    *,
    out_dir: str | Path,
    k: int = 4,
    folds: int = 4,
    by: str = "block",
    feature: str = "mfcc_stats",
    model: str = "svm",
    metric: str = "balanced_accuracy",
    level: str = "track",
    seed: int = DEFAULT_SEED,
    max_subsets: int | None = None,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
) -> SelectionResult:
    """Score every ``k``-genre subset of a data set under shared grouped folds.

    Parameters
    ----------
    data : Dataset or FeatureSet
        The data set (featurised with ``feature`` through the cache) or its
        features. It needs at least ``k`` genres.
    out_dir : str or Path, keyword-only
        Where ``selection.json`` is kept (and resumed from).
    k : int, keyword-only
        Genres per subset (the thesis used 4).
    folds : int, keyword-only
        Folds of :func:`genrenet.splits.grouped_kfold`; every genre needs at least
        this many tracks.
    by : {"block", "track", "artist"}, keyword-only
        Grouping of the folds (``"block"``: contiguous id blocks per genre).
    feature : str, keyword-only
        Feature preset when ``data`` is a Dataset; must give one vector per window
        (``"mfcc_stats"``).
    model : {"svm", "logreg"}, keyword-only
        The baseline classifier (:func:`genrenet.baseline.build_baseline`).
    metric : {"balanced_accuracy", "accuracy"}, keyword-only
        The score compared with the thresholds.
    level : {"track", "window"}, keyword-only
        Score tracks (mean of window probabilities) or single windows.
    seed : int, keyword-only
        Seeds the folds and the classifier.
    max_subsets : int, keyword-only, optional
        Stop after this many subsets in total (the run can be resumed later).
    cache_dir : str or Path, keyword-only, optional
        Feature cache location.
    n_jobs : int, keyword-only, optional
        Processes used to featurise missing tracks (default: all cores).
    progress : bool, keyword-only
        Show tqdm progress bars.

    Returns
    -------
    SelectionResult
    """
    from genrenet.splits import grouped_kfold

    _check_options(metric=metric, level=level, model=model, folds=folds, max_subsets=max_subsets)
    fs = _featureset(data, feature, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    if len(fs.shape) != 1:
        raise ParameterError(
            f"feature {fs.spec.kind!r} gives windows of shape {fs.shape}; the selection experiment's baseline "
            "needs one vector per window (feature='mfcc_stats')"
        )
    genres = list(fs.genres)
    subsets = genre_subsets(genres, k)  # raises when there are fewer than k genres
    # One set of grouped folds for the whole data set: every subset sees the same partition.
    splits = grouped_kfold(fs.dataset, folds=int(folds), by=by, seed=int(seed))
    fold_tracks = [
        (np.asarray(sorted(set(s.train) | set(s.val)), dtype=np.int64), np.asarray(s.test, dtype=np.int64))
        for s in splits
    ]
    config = _selection_config(fs, k=k, folds=folds, by=by, model=model, metric=metric, level=level, seed=seed)
    path = Path(out_dir) / RESULTS_FILE
    results = _previous_results(path, config)
    todo = [s for s in subsets if _key(s) not in results]
    if max_subsets is not None:
        todo = todo[: max(0, int(max_subsets) - len(results))]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(subsets), initial=len(results), desc=f"genre subsets (k={k})", unit="subset")
    try:
        computed = _score_subsets(fs, todo, fold_tracks, config, results, path, bar=bar)
    finally:
        if bar is not None:
            bar.close()
    if not path.exists():
        _save(path, config, results)
    return SelectionResult(config=config, results=results, path=path, computed=computed, genres=genres)


def _check_options(*, metric: str, level: str, model: str, folds, max_subsets) -> None:
    from genrenet.baseline import KINDS

    choice("metric", metric, METRICS)
    choice("level", level, LEVELS)
    choice("model", model, KINDS)
    int_at_least("folds", folds, 2)
    non_negative_int("max_subsets", max_subsets, optional=True)


def _selection_config(fs, *, k, folds, by, model, metric, level, seed) -> dict:
    """Everything that determines the scores; its hash keeps results of other configurations apart."""
    dataset = fs.dataset
    config = {
        "dataset": dataset.name,
        "dataset_hash": dataset.content_hash(),
        "synthetic": bool(dataset.synthetic),
        "genres": list(fs.genres),
        "k": int(k),
        "feature": fs.spec.to_dict(),
        "feature_key": fs.spec.key(),
        "folds": int(folds),
        "by": by,
        "protocol": f"grouped {folds}-fold cross-validation by {by} (no track in two folds), "
        f"same folds for every subset; {level}-level {metric.replace('_', ' ')}",
        "model": f"baseline-{model}",
        # the estimator itself, so results of a changed baseline are never mixed with older ones
        "estimator": _estimator_signature(model, int(seed)),
        "metric": metric,
        "level": level,
        "seed": int(seed),
        "skipped_tracks": [t for t, _ in fs.errors],
    }
    config["hash"] = _config_hash(config)
    return config


def _previous_results(path: Path, config: dict) -> dict[str, dict]:
    """The subsets already scored in ``path`` under the same configuration (none when the file is new)."""
    if not path.exists():
        return {}
    old = load_selection(path)
    if old.config.get("hash") != config["hash"]:
        raise ParameterError(
            f"out_dir {path.parent} already holds genre-selection results made with another configuration or "
            "other data; choose a new out_dir (results are never mixed)"
        )
    return dict(old.results)


def _save(path: Path, config: dict, results: dict) -> None:
    atomic_write_json(path, {"config": config, "results": results,
                             "updated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")})


def _score_subsets(fs, todo, fold_tracks, config: dict, results: dict, path: Path, *, bar) -> int:
    """Score each subset of ``todo``, saving ``results`` after every one (resumable); returns how many."""
    X, y, track_of_window = fs.load()
    X = np.asarray(X, dtype=np.float64)
    index = {g: i for i, g in enumerate(fs.genres)}
    tracks_per_genre = {g: int(np.sum(fs.labels == i)) for g, i in index.items()}
    model = config["model"].removeprefix("baseline-")
    for subset in todo:
        scores = _evaluate_subset(X, y, track_of_window, [index[g] for g in subset], fold_tracks,
                                  level=config["level"], model=model, seed=config["seed"])
        results[_key(subset)] = {
            "genres": list(subset),
            "score": scores[config["metric"]],
            **scores,
            "n_tracks": int(sum(tracks_per_genre[g] for g in subset)),
        }
        _save(path, config, results)
        if bar is not None:
            bar.update(1)
    return len(todo)


def plot_selection(
    counts: Mapping[float, Mapping[str, int]],
    *,
    path: str | Path | None = None,
    title: str | None = None,
    highlight: Sequence[str] = THESIS_PICK,
):
    """Bar charts of genre counts per threshold, one panel per threshold (thesis figures 27-29).

    Parameters
    ----------
    counts : mapping
        Output of :func:`genre_counts`.
    path : str or Path, keyword-only, optional
        Save the figure there as PNG (atomically).
    title : str, keyword-only, optional
        Figure title; should name the data set, split and protocol.
    highlight : sequence of str, keyword-only
        Genres drawn in a second colour (default: the thesis's pick).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not counts:
        raise ParameterError("counts is empty: nothing to plot")
    from matplotlib.figure import Figure  # no pyplot: works headless and in threads

    thresholds = list(counts)
    fig = Figure(figsize=(4.2 * len(thresholds), 3.8), constrained_layout=True)
    axes = fig.subplots(1, len(thresholds), squeeze=False)[0]
    for ax, t in zip(axes, thresholds, strict=True):
        items = sorted(counts[t].items(), key=lambda kv: (-kv[1], kv[0]))
        names = [g for g, _ in items]
        values = [v for _, v in items]
        colors = ["tab:orange" if g in set(highlight) else "tab:blue" for g in names]
        ax.bar(range(len(names)), values, color=colors)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=60, ha="right")
        ax.set_title(f"subsets with score > {t:.2f}")
        ax.set_ylabel("number of subsets")
    present = {g for c in counts.values() for g in c} & set(highlight)
    if present:
        from matplotlib.patches import Patch

        axes[0].legend(handles=[Patch(color="tab:orange", label="the thesis's pick"),
                                Patch(color="tab:blue", label="other genres")], fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    return fig


def describe(result: SelectionResult, *, thresholds: Sequence[float] = THRESHOLDS, top: int | None = None) -> dict[str, Any]:
    """A JSON-able summary: counts per threshold, top genres, the thesis pick's rank.

    Subsets with equal scores share their ranks: ``thesis_pick_rank`` is the best
    rank the thesis's pick shares, ``thesis_pick_ranks`` is ``[best, worst, tied]``
    (see :meth:`SelectionResult.rank_range`) and ``thesis_pick_rank_text`` says it in
    words (:func:`rank_text`).

    Parameters
    ----------
    result : SelectionResult
    thresholds : sequence of float, keyword-only
    top : int, keyword-only, optional
        How many genres to name as the pick (default ``k``).

    Returns
    -------
    dict
    """
    k = int(result.config["k"])
    top = k if top is None else int(top)
    counts = genre_counts(result, thresholds=thresholds, genres=result.config["genres"])
    means = genre_mean_scores(result)
    # the pick: most frequent above the highest threshold with any hits, ties broken by mean score
    pick_t = next((t for t in sorted(counts, reverse=True) if any(counts[t].values())), None)
    ranking = sorted(means, key=lambda g: (-(counts[pick_t][g] if pick_t is not None else 0), -means[g], g))
    thesis = [g for g in THESIS_PICK if g in result.config["genres"]]
    table = result.table()
    ranks = result.rank_range(thesis) if len(thesis) == k else None
    return {
        "counts": {f"{t:.2f}": c for t, c in counts.items()},
        "subsets_above": {f"{t:.2f}": sum(1 for r in table if r["score"] > t) for t in counts},
        "mean_score_with_genre": means,
        "pick": ranking[:top],
        "pick_threshold": pick_t,
        "best_subset": table[0] if table else None,
        "thesis_pick": thesis,
        "thesis_pick_rank": result.rank_of(thesis) if len(thesis) == k else None,
        "thesis_pick_ranks": list(ranks) if ranks else None,
        "thesis_pick_rank_text": rank_text(ranks, len(table)) if ranks else None,
        "thesis_pick_score": (result.results.get(_key(sorted(thesis))) or {}).get("score") if len(thesis) == k else None,
        "n_subsets": len(table),
        "protocol": result.config["protocol"],
        "dataset": result.config["dataset"],
    }
