"""Typed results and metadata: what training, cross-validation, evaluation and bundles write and read.

Like :class:`genrenet.features.FeatureSpec`, every record is a frozen dataclass with
``to_dict()`` (the JSON genrenet writes) and ``from_dict()`` (which reads it back,
including the shapes older versions wrote), so a result is read by attribute
(``record.metrics.track.accuracy``) and never by string key.

=====================  ===============================================================
class                  JSON it reads and writes
=====================  ===============================================================
:class:`SplitInfo`     the ``split`` of a result: a split's description without its
                       track indices (a run), its name, folds and grouping (a
                       cross-validation), or only its name (``meta.json``)
:class:`Scores`        one level (``window`` or ``track``) of an evaluation: accuracy,
                       macro-F1, balanced accuracy, per-genre scores, confusion matrix
:class:`PartScores`    one scored part of a split (``val`` or ``test``) on its own
:class:`Metrics`       window and track :class:`Scores`, plus the per-part scores of a run
:class:`RunRecord`     ``metrics.json`` of one training run (:func:`genrenet.train.train`)
:class:`CVRecord`      ``cv_metrics.json`` of a cross-validation, with
                       :class:`FoldSummary` per fold and :class:`FinalInfo` for the
                       bundle trained afterwards
:class:`BundleMeta`    ``meta.json`` of a model bundle (:mod:`genrenet.bundle`)
:class:`Evaluation`    a bundle scored on labelled audio (:func:`genrenet.evaluate.evaluate_bundle`)
:class:`RunResult`,    what :func:`~genrenet.train.train` and
:class:`CVResult`      :func:`~genrenet.train.cross_validate` return: the record, its
                       directory, and the learning curves / folds
=====================  ===============================================================

Unknown keys of a file are kept (``extra``) and written back, so a file written by a
newer genrenet survives being read and rewritten by this one.

Used by the book pages ``book/dev_models.md`` and ``book/results.md``, the notebooks
``notebooks/train_model.ipynb``, ``notebooks/results.ipynb`` and ``notebooks/prediction.ipynb``,
the commands ``genrenet train`` / ``evaluate`` / ``predict`` and the web service.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from genrenet.errors import DataError, GenrenetError, ModelError, ParameterError
from genrenet.features import FeatureSpec

__all__ = [
    "SplitInfo",
    "Scores",
    "PartScores",
    "Metrics",
    "RunRecord",
    "FoldSummary",
    "FinalInfo",
    "CVRecord",
    "BundleMeta",
    "Evaluation",
    "RunResult",
    "CVResult",
    "read_record",
    "METRICS_FILE",
    "CV_METRICS_FILE",
    "HISTORY_FILE",
]

#: File of a run directory holding its :class:`RunRecord`.
METRICS_FILE = "metrics.json"
#: File of a cross-validation directory holding its :class:`CVRecord`.
CV_METRICS_FILE = "cv_metrics.json"
#: File of a run directory holding its learning curves.
HISTORY_FILE = "history.json"


# --------------------------------------------------------------------------- the JSON machinery


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: records through their ``to_dict``, tuples as lists."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class _Record:
    """``to_dict`` / ``from_dict`` for the frozen dataclasses of this module.

    Class attributes say how a record differs from "every field, as it is":
    ``_convert`` maps a field to the function that builds it from JSON, ``_required``
    lists the keys a file must have, ``_omit_none`` the fields left out while None,
    ``_error`` the exception for a bad file and ``_what`` what the file is called in
    messages. A field named ``extra`` collects unknown keys.
    """

    _convert: ClassVar[dict[str, Any]] = {}
    _required: ClassVar[tuple[str, ...]] = ()
    _omit_none: ClassVar[frozenset[str]] = frozenset()
    _error: ClassVar[type[GenrenetError]] = DataError
    _what: ClassVar[str] = "record"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary genrenet writes (inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                extra = value
            elif not ((value is None and f.name in self._omit_none) or f.metadata.get("runtime")):
                out[f.name] = _jsonable(value)
        out.update(extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str | Path | None = None):
        """Build the record from the JSON of :meth:`to_dict` (or of an older genrenet).

        Parameters
        ----------
        data : mapping
        where : str or Path, keyword-only, optional
            The file it came from, named in error messages.

        Raises
        ------
        DataError (ModelError for a bundle's meta.json)
            A required key is missing or a value is invalid.
        """
        what = f"{cls._what} {where}" if where is not None else cls._what
        if not isinstance(data, Mapping):
            raise cls._error(f"{what}: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in cls._required if k not in data]
        if missing:
            raise cls._error(f"{what} lacks required key(s): {', '.join(missing)}")
        names = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("runtime")}
        known = {k: v for k, v in data.items() if k in names and k != "extra"}
        try:
            for name, convert in cls._convert.items():
                if known.get(name) is not None:
                    known[name] = convert(known[name])
            if "extra" in names:
                known["extra"] = {k: v for k, v in data.items() if k not in names}
            return cls(**known)
        except (GenrenetError, TypeError, ValueError) as exc:
            raise cls._error(f"{what}: {exc}") from exc


#: Marks a field that is not part of the JSON (where a record was read from).
_RUNTIME = {"runtime": True}

#: Keys under which records store their :class:`Metrics` flat.
_FLAT = ("window", "track", "parts")


def _unflatten(data: Any) -> Any:
    """A record's JSON with its flat ``window``/``track``/``parts`` gathered under ``metrics`` (and no ``kind``)."""
    if not isinstance(data, Mapping):
        return data
    out = {k: v for k, v in data.items() if k not in _FLAT and k != "kind"}
    if "window" in data or "track" in data:
        out["metrics"] = {k: data[k] for k in _FLAT if k in data}
    return out


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _fraction(owner: str, name: str, value: Any, *, optional: bool = True) -> float | None:
    """A score in [0, 1] as float (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise DataError(f"{owner}.{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _count(owner: str, name: str, value: Any, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{owner}.{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _names(owner: str, name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{owner}.{name} must be a list of names, got {value!r}")
    return tuple(value)


# --------------------------------------------------------------------------- splits and scores


@dataclass(frozen=True)
class SplitInfo(_Record):
    """The split a result was measured on, as recorded with it (no track indices).

    Results record a split in one of three shapes, all read by :meth:`from_dict`:
    a training run stores :meth:`genrenet.splits.Split.to_dict` without the indices
    (``name``, ``protocol``, ``dataset``, ``dataset_hash``, ``seed``, ``sizes``,
    ``missing``, ``info``); a cross-validation stores ``name``, ``protocol``, ``folds``
    and ``by``; a bundle's ``meta.json`` stores the name alone, as a string.
    :meth:`to_dict` writes the run shape, or the cross-validation shape when ``folds``
    is set.

    Attributes
    ----------
    name : str
        ``"stratified"``, ``"fault_filtered"``, ``"all"``, ``"block-5fold"``...
    protocol : str or None
        What the split means for the numbers measured on it.
    dataset, dataset_hash : str or None
        The data set it was made for.
    seed : int or None
        The seed that drew it (None for fixed splits).
    sizes : dict or None
        Tracks per part (``train``, ``val``, ``test``).
    missing : tuple of str
        Ids a fixed split lists but the data set lacks.
    info : dict
        Further facts (``val_heldout``, ``augment``...).
    folds : int or None
        Number of folds (cross-validation only).
    by : str or None
        Grouping of the folds (cross-validation only).
    """

    name: str
    protocol: str | None = None
    dataset: str | None = None
    dataset_hash: str | None = None
    seed: int | None = None
    sizes: dict[str, int] | None = None
    missing: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    folds: int | None = None
    by: str | None = None

    _RUN_KEYS: ClassVar[tuple[str, ...]] = ("name", "protocol", "dataset", "dataset_hash", "seed", "sizes",
                                            "missing", "info")
    _CV_KEYS: ClassVar[tuple[str, ...]] = ("name", "protocol", "folds", "by")
    _required: ClassVar[tuple[str, ...]] = ("name",)
    _what: ClassVar[str] = "split"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DataError(f"split name must be a non-empty string, got {self.name!r}")
        _set(self, "missing", tuple(self.missing))
        _set(self, "info", dict(self.info or {}))

    def to_dict(self) -> dict[str, Any]:
        """The run shape (or the cross-validation shape when :attr:`folds` is set)."""
        keys = self._CV_KEYS if self.folds is not None else self._RUN_KEYS
        return {k: _jsonable(getattr(self, k)) for k in keys}

    @classmethod
    def from_dict(cls, data: str | Mapping[str, Any], *, where: str | Path | None = None) -> SplitInfo:
        """Read any of the three shapes (a name string, a run's or a cross-validation's dict)."""
        if isinstance(data, str):
            return cls(name=data)
        return super().from_dict(data, where=where)

    @classmethod
    def from_split(cls, split) -> SplitInfo:
        """The description of a :class:`genrenet.splits.Split`."""
        d = split.to_dict()
        return cls(**{k: d[k] for k in cls._RUN_KEYS})


@dataclass(frozen=True)
class Scores(_Record):
    """The scores of one level of an evaluation (windows, or tracks = mean of their windows).

    Attributes
    ----------
    accuracy : float
    macro_f1, balanced_accuracy : float or None
        Averages over the genres present in the evaluated data.
    n : int or None
        Windows or tracks scored.
    per_genre : dict
        Genre -> ``precision``, ``recall``, ``f1``, ``support``.
    confusion : tuple of tuple of int
        Rows: true genre, columns: predicted genre (counts).
    loss : float or None
        Mean window cross-entropy (window level).
    fold_accuracy_mean, fold_accuracy_std, fold_macro_f1_mean : float or None
        Spread over the folds (pooled cross-validation scores only).
    """

    accuracy: float
    macro_f1: float | None = None
    balanced_accuracy: float | None = None
    n: int | None = None
    per_genre: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: tuple[tuple[int, ...], ...] = ()
    loss: float | None = None
    fold_accuracy_mean: float | None = None
    fold_accuracy_std: float | None = None
    fold_macro_f1_mean: float | None = None

    _required: ClassVar[tuple[str, ...]] = ("accuracy",)
    _omit_none: ClassVar[frozenset[str]] = frozenset(
        {"macro_f1", "balanced_accuracy", "n", "loss", "fold_accuracy_mean", "fold_accuracy_std",
         "fold_macro_f1_mean"})
    _what: ClassVar[str] = "scores"

    def __post_init__(self) -> None:
        for name in ("accuracy", "macro_f1", "balanced_accuracy", "fold_accuracy_mean", "fold_accuracy_std",
                     "fold_macro_f1_mean"):
            _set(self, name, _fraction("Scores", name, getattr(self, name), optional=name != "accuracy"))
        _set(self, "n", _count("Scores", "n", self.n))
        if self.loss is not None:
            _set(self, "loss", float(self.loss))
        _set(self, "confusion", tuple(tuple(int(c) for c in row) for row in self.confusion))
        _set(self, "per_genre", {str(g): dict(v) for g, v in dict(self.per_genre).items()})

    @property
    def genres(self) -> list[str]:
        """The genres scored, in the model's order."""
        return list(self.per_genre)


@dataclass(frozen=True)
class PartScores(_Record):
    """Scores of one scored part of a split (``val`` or ``test``) on its own."""

    tracks: int
    track_accuracy: float
    window_accuracy: float
    track_macro_f1: float

    _required: ClassVar[tuple[str, ...]] = ("tracks", "track_accuracy", "window_accuracy", "track_macro_f1")
    _what: ClassVar[str] = "part scores"

    def __post_init__(self) -> None:
        _set(self, "tracks", _count("PartScores", "tracks", self.tracks, optional=False))
        for name in ("track_accuracy", "window_accuracy", "track_macro_f1"):
            _set(self, name, _fraction("PartScores", name, getattr(self, name), optional=False))


def _parts(data: Mapping[str, Any]) -> dict[str, PartScores]:
    return {str(k): v if isinstance(v, PartScores) else PartScores.from_dict(v) for k, v in data.items()}


@dataclass(frozen=True)
class Metrics(_Record):
    """An evaluation at window and track level (JSON: ``window``, ``track`` and, for a run, ``parts``).

    Attributes
    ----------
    window, track : Scores
    parts : dict or None
        Part name (``"val"``, ``"test"``) -> :class:`PartScores` of each scored part on
        its own (a training run; the fault-filtered split scores its valid list too).
    """

    window: Scores
    track: Scores
    parts: dict[str, PartScores] | None = None

    _convert: ClassVar[dict[str, Any]] = {"window": Scores.from_dict, "track": Scores.from_dict, "parts": _parts}
    _required: ClassVar[tuple[str, ...]] = ("window", "track")
    _omit_none: ClassVar[frozenset[str]] = frozenset({"parts"})
    _what: ClassVar[str] = "metrics"

    def published(self) -> dict[str, float]:
        """The compact numbers a bundle's ``meta.json`` carries (accuracy is the track accuracy).

        ``accuracy``, ``track_accuracy``, ``window_accuracy``, ``macro_f1``,
        ``balanced_accuracy``, ``loss`` and ``<part>_track_accuracy`` for every scored part.
        """
        out = {
            "accuracy": self.track.accuracy,
            "track_accuracy": self.track.accuracy,
            "window_accuracy": self.window.accuracy,
            "macro_f1": self.track.macro_f1,
            "balanced_accuracy": self.track.balanced_accuracy,
            "loss": self.window.loss,
        }
        for part, scores in (self.parts or {}).items():
            out[f"{part}_track_accuracy"] = scores.track_accuracy
        return out


def _data_label(name: str, synthetic: bool | None) -> str:
    from genrenet.datasets.base import data_label

    return data_label(name, synthetic=bool(synthetic))


# --------------------------------------------------------------------------- training records


@dataclass(frozen=True)
class RunRecord(_Record):
    """``metrics.json`` of one training run: what was trained on what, how, and its test scores.

    Attributes
    ----------
    model, name : str
        Registry name and display name.
    dataset : str
    genres : tuple of str
    feature : FeatureSpec
    split : SplitInfo
    protocol : str
        How the scores were measured (data, split, which clips were scored).
    metrics : Metrics or None
        Scores on the split's scored tracks (None when nothing was held out).
    test_tracks : tuple of str or None
        Ids of the scored tracks.
    reference_metrics : dict or None
        Metrics published in the bundle instead of this run's own (e.g. cross-validation).
    synthetic, dataset_hash, seed, epochs, epochs_run, best_epoch, batch_size, patience,
    class_weight, model_kwargs, n_params, train_windows, train_seconds, versions,
    config_hash, feature_key
        The run's settings and facts, as written by :func:`genrenet.train.train`.
    augment : tuple of str or None
        Degradations the training clips were also seen with (None: recorded before
        genrenet had augmentation).
    path : Path or None
        The run directory it was read from (:meth:`load`; not written).
    """

    model: str
    name: str
    dataset: str
    genres: tuple[str, ...]
    feature: FeatureSpec
    split: SplitInfo
    protocol: str
    synthetic: bool = False
    dataset_hash: str | None = None
    feature_key: str = ""
    seed: int | None = None
    epochs: int | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    batch_size: int | None = None
    patience: int | None = None
    class_weight: Any = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    n_params: int | None = None
    train_windows: int | None = None
    train_seconds: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    config_hash: str | None = None
    augment: tuple[str, ...] | None = None
    metrics: Metrics | None = None
    test_tracks: tuple[str, ...] | None = None
    reference_metrics: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, repr=False, compare=False, metadata=_RUNTIME)

    KIND: ClassVar[str] = "run"
    _convert: ClassVar[dict[str, Any]] = {"feature": FeatureSpec.from_dict, "split": SplitInfo.from_dict,
                                          "metrics": Metrics.from_dict}
    _required: ClassVar[tuple[str, ...]] = ("model", "name", "dataset", "genres", "feature", "split", "protocol")
    _omit_none: ClassVar[frozenset[str]] = frozenset({"augment"})
    _what: ClassVar[str] = "run record"

    def __post_init__(self) -> None:
        _set(self, "genres", _names("RunRecord", "genres", self.genres))
        if self.augment is not None:
            _set(self, "augment", tuple(self.augment))
        _set(self, "synthetic", bool(self.synthetic))
        if self.test_tracks is not None:
            _set(self, "test_tracks", tuple(self.test_tracks))
        if not self.feature_key:
            _set(self, "feature_key", self.feature.key())

    def to_dict(self) -> dict[str, Any]:
        """``metrics.json``: every setting, ``kind: "run"``, and the scores flat (``window``, ``track``, ``parts``)."""
        out = super().to_dict()
        for key in ("metrics", "test_tracks", "reference_metrics"):
            out.pop(key)
        if self.metrics is not None:
            out.update(self.metrics.to_dict())
            out["test_tracks"] = list(self.test_tracks or ())
        if self.reference_metrics is not None:
            out["reference_metrics"] = dict(self.reference_metrics)
        return {"kind": self.KIND, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str | Path | None = None) -> RunRecord:
        """Read ``metrics.json`` of a run (``kind`` must be ``"run"`` when present)."""
        return super().from_dict(_unflatten(_check_kind(data, cls, where)), where=where)

    @classmethod
    def load(cls, directory: str | Path) -> RunRecord:
        """Read ``directory/metrics.json``."""
        return _load(cls, Path(directory) / METRICS_FILE)

    @property
    def data_label(self) -> str:
        """The data set's name as results show it (the synthetic corpus marked)."""
        return _data_label(self.dataset, self.synthetic)

    def published(self) -> dict[str, Any]:
        """What the run's bundle publishes in ``meta.json``: its reference metrics, its test metrics, or nothing."""
        if self.reference_metrics is not None:
            return dict(self.reference_metrics)
        return self.metrics.published() if self.metrics is not None else {}


def _check_kind(data: Any, cls: type, where: str | Path | None) -> Any:
    if isinstance(data, Mapping) and data.get("kind", cls.KIND) != cls.KIND:
        what = f"{cls._what} {where}" if where is not None else cls._what
        raise DataError(f"{what}: kind is {data['kind']!r}, not {cls.KIND!r}")
    return data


def _load(cls: type, path: Path):
    """Read and parse one record file; a missing or unreadable file is a DataError naming it."""
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc
    return dataclasses.replace(cls.from_dict(data, where=path), path=path.parent)


@dataclass(frozen=True)
class FoldSummary(_Record):
    """One fold of a cross-validation (an entry of ``per_fold`` in ``cv_metrics.json``)."""

    fold: int
    window_accuracy: float
    track_accuracy: float
    track_macro_f1: float
    epochs_run: int | None = None
    train_seconds: float | None = None
    test_tracks: int = 0

    _required: ClassVar[tuple[str, ...]] = ("fold", "window_accuracy", "track_accuracy", "track_macro_f1")
    _what: ClassVar[str] = "fold summary"

    @classmethod
    def of_run(cls, fold: int, run: RunRecord) -> FoldSummary:
        """The summary of fold number ``fold`` from its run record."""
        if run.metrics is None:
            raise DataError(f"fold {fold} has no test scores")
        return cls(fold=fold, window_accuracy=run.metrics.window.accuracy, track_accuracy=run.metrics.track.accuracy,
                   track_macro_f1=run.metrics.track.macro_f1, epochs_run=run.epochs_run,
                   train_seconds=run.train_seconds, test_tracks=len(run.test_tracks or ()))


@dataclass(frozen=True)
class FinalInfo(_Record):
    """The bundle trained after a cross-validation (``final`` in ``cv_metrics.json``).

    Attributes
    ----------
    path : str
        Its directory, relative to the cross-validation directory.
    epochs : int
    epochs_rule : str
        Why that many epochs (:func:`genrenet.train.cv_epochs`).
    split : str
        ``"all"``: trained on every track.
    train_tracks : int
    """

    path: str
    epochs: int
    epochs_rule: str
    split: str = "all"
    train_tracks: int = 0

    _required: ClassVar[tuple[str, ...]] = ("path", "epochs", "epochs_rule")
    _what: ClassVar[str] = "final model info"


def _folds(data) -> tuple[FoldSummary, ...]:
    return tuple(f if isinstance(f, FoldSummary) else FoldSummary.from_dict(f) for f in data)


@dataclass(frozen=True)
class CVRecord(_Record):
    """``cv_metrics.json``: a cross-validation's pooled scores, its folds and the final bundle.

    Attributes
    ----------
    model, name, dataset, genres, feature, split, protocol
        As in :class:`RunRecord` (``split`` in the cross-validation shape).
    metrics : Metrics
        Scores of the test predictions of all folds pooled (each track tested once); each
        level also has the mean and spread over the folds.
    per_fold : tuple of FoldSummary
    best_epochs : tuple of int or None
        Each fold's best epoch (lowest validation loss), None where it had none.
    final : FinalInfo or None
        The bundle trained on every track afterwards (:func:`genrenet.train.train_after_cv`).
    synthetic, dataset_hash, n_tracks, seed, epochs, batch_size, model_kwargs, n_params,
    train_seconds_total, versions
        Settings and facts shared by the folds.
    path : Path or None
        The directory it was read from (:meth:`load`; not written).
    """

    model: str
    name: str
    dataset: str
    genres: tuple[str, ...]
    feature: FeatureSpec
    split: SplitInfo
    protocol: str
    metrics: Metrics
    per_fold: tuple[FoldSummary, ...] = ()
    best_epochs: tuple[int | None, ...] = ()
    final: FinalInfo | None = None
    synthetic: bool = False
    dataset_hash: str | None = None
    n_tracks: int | None = None
    seed: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    n_params: int | None = None
    train_seconds_total: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, repr=False, compare=False, metadata=_RUNTIME)

    KIND: ClassVar[str] = "cross_validation"
    _convert: ClassVar[dict[str, Any]] = {"feature": FeatureSpec.from_dict, "split": SplitInfo.from_dict,
                                          "metrics": Metrics.from_dict, "per_fold": _folds,
                                          "final": FinalInfo.from_dict}
    _required: ClassVar[tuple[str, ...]] = ("model", "name", "dataset", "genres", "feature", "split", "protocol",
                                            "metrics")
    _omit_none: ClassVar[frozenset[str]] = frozenset({"final"})
    _what: ClassVar[str] = "cross-validation record"

    def __post_init__(self) -> None:
        _set(self, "genres", _names("CVRecord", "genres", self.genres))
        _set(self, "per_fold", tuple(self.per_fold))
        _set(self, "best_epochs", tuple(self.best_epochs))
        _set(self, "synthetic", bool(self.synthetic))

    def to_dict(self) -> dict[str, Any]:
        """``cv_metrics.json``: ``kind: "cross_validation"``, the settings, pooled ``window`` and ``track``."""
        out = super().to_dict()
        out.pop("metrics")
        out.update(self.metrics.to_dict())
        return {"kind": self.KIND, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str | Path | None = None) -> CVRecord:
        """Read ``cv_metrics.json`` (``kind`` must be ``"cross_validation"`` when present)."""
        return super().from_dict(_unflatten(_check_kind(data, cls, where)), where=where)

    @classmethod
    def load(cls, directory: str | Path) -> CVRecord:
        """Read ``directory/cv_metrics.json``."""
        return _load(cls, Path(directory) / CV_METRICS_FILE)

    @property
    def data_label(self) -> str:
        """The data set's name as results show it (the synthetic corpus marked)."""
        return _data_label(self.dataset, self.synthetic)

    def published(self) -> dict[str, Any]:
        """What a bundle trained after this cross-validation publishes: pooled metrics, protocol, data set."""
        out: dict[str, Any] = self.metrics.published()
        out.update(protocol=self.protocol, dataset=self.dataset)
        return out


def read_record(directory: str | Path) -> RunRecord | CVRecord:
    """The record of a result directory: its ``cv_metrics.json`` if present, else its ``metrics.json``."""
    directory = Path(directory)
    if (directory / CV_METRICS_FILE).is_file():
        return CVRecord.load(directory)
    return RunRecord.load(directory)


# --------------------------------------------------------------------------- bundles and evaluations


def _feature_of_bundle(value: Any) -> FeatureSpec:
    try:
        return FeatureSpec.from_dict(value)
    except ParameterError as exc:
        raise ModelError(f"invalid feature specification in meta.json: {exc}") from exc


def _check_input_scale(data: Mapping[str, Any], what: str) -> None:
    """Scaling lives inside saved models: a meta.json asking for a divisor is refused, never ignored."""
    scale = data.get("input_scale", 1.0)
    if scale not in (1, 1.0):
        raise ModelError(f"{what}: meta.json sets input_scale={scale!r}, which genrenet does not apply: put the "
                         "scaling inside the model (a keras Rescaling layer, as genrenet.train.serving_model does)")


@dataclass(frozen=True)
class BundleMeta(_Record):
    """``meta.json`` of a model bundle: what a model expects and answers, and how it was measured.

    Attributes
    ----------
    name : str
        Display name.
    model : str
        Architecture (registry name, e.g. ``"compact_cnn"``).
    genres : tuple of str
        Class names in output order (at least two, distinct).
    feature : FeatureSpec
        The input the model takes, exactly as :func:`genrenet.features.extract` returns it.
    metrics : dict
        The published evaluation (see :meth:`Metrics.published`; numbers, plus
        ``protocol``/``dataset``/``epochs_rule`` texts for a cross-validated bundle).
    dataset : str or None
    synthetic : bool or None
        Whether it was trained on the synthetic demo corpus (see :attr:`is_synthetic`).
    split : SplitInfo or None
        Written as the split's name.
    protocol : str or None
        How ``metrics`` were measured.
    seed : int or None
    versions : dict or None
        Package versions (added by :func:`genrenet.bundle.save_bundle` when missing).
    created : str or None
        ISO-8601 time of writing (added by ``save_bundle`` when missing).
    input : str or None
        A note on the input the model takes.
    augment : tuple of str or None
        Degradations the training clips were also seen with.
    extra : dict
        Any other key of the file.
    """

    name: str
    model: str
    genres: tuple[str, ...]
    feature: FeatureSpec
    metrics: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    synthetic: bool | None = None
    split: SplitInfo | None = None
    protocol: str | None = None
    seed: int | None = None
    versions: dict[str, str] | None = None
    created: str | None = None
    input: str | None = None
    augment: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _convert: ClassVar[dict[str, Any]] = {"feature": _feature_of_bundle, "split": SplitInfo.from_dict}
    _required: ClassVar[tuple[str, ...]] = ("name", "model", "genres", "feature")
    _omit_none: ClassVar[frozenset[str]] = frozenset(
        {"metrics", "dataset", "synthetic", "split", "protocol", "seed", "versions", "created", "input", "augment"})
    _error: ClassVar[type[GenrenetError]] = ModelError
    _what: ClassVar[str] = "bundle"

    def __post_init__(self) -> None:
        genres = self.genres
        if isinstance(genres, str) or not all(isinstance(g, str) and g for g in genres) \
                or len(genres) < 2 or len(set(genres)) != len(genres):
            raise ModelError(f"meta.json genres must be at least two distinct names, got {genres!r}")
        _set(self, "genres", tuple(genres))
        if not isinstance(self.name, str) or not self.name:
            raise ModelError(f"meta.json name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.metrics, Mapping):
            raise ModelError(f"meta.json metrics must be an object, got {self.metrics!r}")
        _set(self, "metrics", dict(self.metrics))
        if self.augment is not None:
            _set(self, "augment", tuple(self.augment))

    def to_dict(self) -> dict[str, Any]:
        """``meta.json`` (``split`` written as its name)."""
        out = super().to_dict()
        if self.split is not None:
            out["split"] = self.split.name
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str | Path | None = None) -> BundleMeta:
        """Read ``meta.json`` (either ``split`` shape); errors name the bundle ``where``."""
        if isinstance(data, Mapping):
            _check_input_scale(data, f"bundle {where}" if where is not None else "bundle")
        return super().from_dict(data, where=where)

    @property
    def is_synthetic(self) -> bool:
        """Trained on the synthetic demo corpus (its answers on music mean nothing)."""
        return bool(self.synthetic) or self.dataset == "demo"

    @property
    def numeric_metrics(self) -> dict[str, float]:
        """The finite numeric evaluation metrics (texts, flags and counts such as ``n_tracks`` are not metrics)."""
        out: dict[str, float] = {}
        for k, v in self.metrics.items():
            if isinstance(v, bool) or str(k).startswith("n_") or not isinstance(v, int | float):
                continue
            if math.isfinite(float(v)):
                out[str(k)] = float(v)
        return out


@dataclass(frozen=True)
class Evaluation(_Record):
    """A saved bundle scored on labelled audio (:func:`genrenet.evaluate.evaluate_bundle`).

    Attributes
    ----------
    metrics : Metrics
        Window and track scores.
    model, name : str
        The bundle's architecture and display name.
    bundle : str
        Its directory.
    dataset : str or None
    genres : tuple of str
        The model's genres.
    n_tracks, n_windows : int
        Tracks and windows scored.
    skipped_genres : dict
        Genre -> tracks left out because the model does not know the genre.
    errors : tuple of (str, str)
        Tracks whose features could not be computed, with the cause.
    feature : FeatureSpec
    """

    metrics: Metrics
    model: str
    name: str
    bundle: str
    dataset: str | None
    genres: tuple[str, ...]
    n_tracks: int
    n_windows: int
    skipped_genres: dict[str, int] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()
    feature: FeatureSpec | None = None

    _convert: ClassVar[dict[str, Any]] = {"metrics": Metrics.from_dict, "feature": FeatureSpec.from_dict}
    _what: ClassVar[str] = "evaluation"

    def __post_init__(self) -> None:
        _set(self, "genres", tuple(self.genres))
        _set(self, "errors", tuple((str(i), str(c)) for i, c in self.errors))

    def to_dict(self) -> dict[str, Any]:
        """The JSON of an evaluation: the scores flat (``window``, ``track``) beside the facts."""
        out = super().to_dict()
        out.update(out.pop("metrics"))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str | Path | None = None) -> Evaluation:
        """Inverse of :meth:`to_dict`."""
        return super().from_dict(_unflatten(data), where=where)


# --------------------------------------------------------------------------- what train() returns


@dataclass(frozen=True)
class RunResult:
    """Outcome of :func:`genrenet.train.train`.

    Attributes
    ----------
    out_dir : Path
        The run directory (a bundle, unless the model file was not kept).
    record : RunRecord
        Its ``metrics.json``.
    history : dict
        Learning curves (``loss``, ``val_loss``... per epoch; empty for scikit-learn models).
    skipped : bool
        True when a finished run with the same configuration was found and nothing was trained.
    """

    out_dir: Path
    record: RunRecord
    history: dict[str, list[float]] = field(default_factory=dict)
    skipped: bool = False

    @property
    def model(self) -> str:
        """The model's registry name."""
        return self.record.model

    @property
    def metrics(self) -> Metrics | None:
        """The run's test scores (None when nothing was held out)."""
        return self.record.metrics

    @classmethod
    def load(cls, out_dir: str | Path, *, skipped: bool = True) -> RunResult:
        """A finished run read back from its directory (``metrics.json`` and ``history.json``)."""
        out_dir = Path(out_dir)
        record = RunRecord.load(out_dir)
        hfile = out_dir / HISTORY_FILE
        try:
            history = json.loads(hfile.read_text(encoding="utf-8")) if hfile.is_file() else {}
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{hfile} is not valid JSON: {exc}") from exc
        return cls(out_dir, record, history, skipped=skipped)


@dataclass(frozen=True)
class CVResult:
    """Outcome of :func:`genrenet.train.cross_validate`: every fold plus the pooled record.

    Attributes
    ----------
    out_dir : Path
        The cross-validation directory (folds in ``fold1..k``).
    record : CVRecord
        Its ``cv_metrics.json``.
    folds : tuple of RunResult
    final : RunResult or None
        The bundle trained on every track afterwards (:func:`genrenet.train.train_after_cv`).
    """

    out_dir: Path
    record: CVRecord
    folds: tuple[RunResult, ...]
    final: RunResult | None = None

    @property
    def model(self) -> str:
        """The model's registry name."""
        return self.record.model

    @property
    def metrics(self) -> Metrics:
        """The pooled scores."""
        return self.record.metrics
