"""Releasing a model: the honest evaluation first, then the bundle that ships.

A model genrenet ships is made in two runs of :func:`genrenet.train.train` on GTZAN
(gtzan-mini and gtzan-extra together) with the fault-filtered artist-conditional split
(Kereliuk et al. 2015):

1. **Evaluation** (``split="fault-filtered"``): fit on the train list, early-stop on the
   valid list, score on the valid and test clips, whose artists training never heard.
   These are the numbers the bundle publishes: the only ones that say how the model does
   on music it has never heard.
2. **Final bundle** (``split="fault-filtered-final"``): fit on the train *and* valid lists
   (a Keras model for the evaluation's best epoch, since nothing is left to early-stop on),
   scored on the test list only. A shipped model never trains on a clip of the test list.
   Its ``meta.json`` publishes the evaluation's metrics and protocol; its own test score
   stays in ``metrics.json``.

:func:`comparison_markdown` prints evaluations of several models side by side (the same
clips for all): the table of the model cards and of the README.

Used in the book page ``book/dev_models.md`` ("Transfer learning"); the bundles in
``genrenet/pretrained/`` were made with it (see their ``MODEL_CARD.md``).

Examples
--------
>>> from genrenet.release import release
>>> r = release("transfer_linear", data_dir="gtzan-mini:gtzan-extra",
...             splits_dir="gtzan-splits", out_dir="models/musicnn_gtzan10",
...             work_dir="runs/release/transfer_linear", augment=True)   # doctest: +SKIP
>>> r.evaluation.record.metrics.track.accuracy   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrenet.errors import ParameterError
from genrenet.repro import DEFAULT_SEED
from genrenet.results import RunRecord, RunResult

__all__ = ["Release", "release", "release_metrics", "comparison_markdown"]

EVALUATION_SPLIT = "fault-filtered"
FINAL_SPLIT = "fault-filtered-final"


@dataclass(frozen=True)
class Release:
    """The two runs of a release.

    Attributes
    ----------
    evaluation : RunResult
        The fault-filtered run whose scores the bundle publishes.
    final : RunResult
        The shipped bundle's run (train and valid lists, scored on the test list).
    """

    evaluation: RunResult
    final: RunResult

    def to_dict(self) -> dict[str, Any]:
        """Both run records as written to their ``metrics.json``."""
        return {"evaluation": self.evaluation.record.to_dict(), "final": self.final.record.to_dict()}


def release_metrics(record: RunRecord) -> dict[str, Any]:
    """What a shipped bundle publishes from its evaluation run: scores, protocol, data set and clip counts.

    Raises
    ------
    ParameterError
        If the run held nothing out (no scores to publish).
    """
    if record.metrics is None:
        raise ParameterError(f"the evaluation run of {record.model!r} has no scores (its split held nothing out)")
    out: dict[str, Any] = record.metrics.published()
    out.update(protocol=record.protocol, dataset=record.dataset, split=record.split.name,
               n_tracks=record.metrics.track.n)
    for part, scores in (record.metrics.parts or {}).items():
        out[f"n_{part}_tracks"] = scores.tracks
    return out


def release(
    model_name: str,
    dataset="gtzan",
    *,
    data_dir=None,
    splits_dir=None,
    out_dir,
    work_dir,
    feature=None,
    genres=None,
    augment=None,
    epochs: int = 40,
    patience: int | None = 8,
    seed: int = DEFAULT_SEED,
    name: str | None = None,
    cache_dir=None,
    progress: bool = True,
    force: bool = False,
    **model_kwargs,
) -> Release:
    """Evaluate a model under the fault-filtered protocol, then train the bundle that ships.

    Parameters
    ----------
    model_name : str
        A name of :func:`genrenet.models.model_names`.
    dataset : str or Dataset
        GTZAN (several folders joined by ``os.pathsep`` in ``data_dir``).
    data_dir, splits_dir : path-like, keyword-only
        The GTZAN folders and the directory of the fault-filtered lists (default: downloaded).
    out_dir : path-like, keyword-only
        The bundle to write (e.g. ``genrenet/pretrained/musicnn_gtzan10``).
    work_dir : path-like, keyword-only
        Where the evaluation run goes (``<work_dir>/evaluation``); kept, so a rerun skips it.
    feature, genres, augment, epochs, patience, seed, name, cache_dir, progress, force, **model_kwargs
        As in :func:`genrenet.train.train`. ``epochs`` and ``patience`` apply to the
        evaluation; the final Keras fit runs for the evaluation's best epoch.

    Returns
    -------
    Release
    """
    from genrenet.models import is_sklearn
    from genrenet.train import train

    common = dict(data_dir=data_dir, splits_dir=splits_dir, feature=feature, genres=genres, augment=augment, seed=seed,
                  name=name, cache_dir=cache_dir, progress=progress, force=force, **model_kwargs)
    evaluation = train(model_name, dataset, split=EVALUATION_SPLIT, out_dir=Path(work_dir) / "evaluation",
                       epochs=epochs, patience=patience, **common)
    final_epochs = epochs if is_sklearn(model_name) else (evaluation.record.best_epoch or evaluation.record.epochs_run
                                                          or epochs)
    final = train(model_name, dataset, split=FINAL_SPLIT, out_dir=out_dir, epochs=int(final_epochs), patience=None,
                  reference_metrics=release_metrics(evaluation.record), **common)
    return Release(evaluation, final)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def comparison_markdown(records: list[RunRecord], *, labels: dict[str, str] | None = None) -> str:
    """A markdown table of fault-filtered evaluations, best track accuracy first.

    Every record must be scored on the same clips (the table says how many); a record of
    another protocol, or scored on other clips, is refused.

    Parameters
    ----------
    records : list of RunRecord
        Evaluation runs (``metrics.json`` of :func:`release`'s first step).
    labels : dict, optional
        Run directory name or model name -> label for the first column.

    Raises
    ------
    ParameterError
        If the records were scored on different clips or have no scores.
    """
    if not records:
        raise ParameterError("records is empty: nothing to compare")
    clips = {r.test_tracks for r in records}
    if any(r.metrics is None for r in records) or len(clips) != 1:
        raise ParameterError("every record must be scored, on the same clips, to be compared")
    labels = labels or {}
    rows = ["| model | trained with degraded copies | track accuracy | valid-list clips | test-list clips "
            "| macro-F1 | window accuracy |", "|---|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: -r.metrics.track.accuracy):
        label = labels.get(r.path.name if r.path else "", labels.get(r.model, r.name))
        parts = r.metrics.parts or {}
        rows.append(f"| {label} | {'yes' if r.augment else 'no'} | {_pct(r.metrics.track.accuracy)} "
                    f"| {_pct(parts['val'].track_accuracy if 'val' in parts else None)} "
                    f"| {_pct(parts['test'].track_accuracy if 'test' in parts else None)} "
                    f"| {_pct(r.metrics.track.macro_f1)} | {_pct(r.metrics.window.accuracy)} |")
    first = records[0]
    n = {p: s.tracks for p, s in (first.metrics.parts or {}).items()}
    protocol = min((r.protocol for r in records), key=len)  # the one without the augmentation clause, if any
    note = (f"\nAll rows: {protocol}; the same {len(first.test_tracks)} clips "
            f"({n.get('val', 0)} of the valid list, {n.get('test', 0)} of the test list) of {first.data_label}, "
            f"seed {first.seed}.\n")
    return "\n".join(rows) + "\n" + note
