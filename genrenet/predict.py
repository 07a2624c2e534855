"""Prediction on new tracks with one or more trained model bundles.

A :class:`Predictor` loads model bundles once (the shipped default model, the
bundles trained by the book's experiments in a models directory, and any bundle
passed explicitly) and returns, for a whole track, the probability of every genre
according to every model: the track is cut into windows with each bundle's own
feature specification, every window is classified, and the window probabilities
are averaged. Tracks with more windows than ``max_windows`` are analysed on
evenly spaced windows, and the result says so.

Inference goes through :mod:`genrenet.inference` (the path evaluation and training
use too): each Keras model is wrapped once in a ``tf.function`` with a fixed input
signature (any batch size), traced at load time, and called once per request with
all the windows of the track. Window planning is :func:`genrenet.features.plan_windows`. The
predictor is immutable after construction, so one instance can serve many threads.

Used by the book chapter "The genre-detector website" (``book/dev_website.md``) and the notebook
``notebooks/prediction.ipynb``; the web service (:mod:`genrenet.web`) and the
``genrenet predict`` command are thin layers over it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrenet._compat import renamed_attributes
from genrenet.audio import TrackTooLongError
from genrenet.bundle import find_bundles
from genrenet.errors import AudioError, ModelError, ParameterError
from genrenet.inference import DEFAULT_BATCH as _PRED_BATCH  # predict_features pads to whole batches

__all__ = [
    "DEFAULT_MAX_DURATION",
    "DEFAULT_MAX_WINDOWS",
    "RESERVED_KEYS",
    "TrackTooLongError",
    "LoadedModelInfo",
    "ModelResult",
    "PredictionResult",
    "Predictor",
    "TrackFeatures",
    "default_bundle_path",
    "shipped_bundle_paths",
]

#: Longest track (seconds) that is analysed at all.
DEFAULT_MAX_DURATION = 600.0
#: Most windows classified per track and model; longer tracks use evenly spaced windows.
#: 3 s windows with a 1.5 s hop give 19 windows for a 30 s clip, so 48 windows cover
#: 73 s of audio exhaustively and a 10 minute track at one window every 12.5 s.
DEFAULT_MAX_WINDOWS = 48
#: Top-level keys of :meth:`PredictionResult.to_dict` that are not model names.
RESERVED_KEYS = ("success", "track", "error")



def default_bundle_path() -> Path | None:
    """Return the directory of the shipped default model bundle, or ``None`` if absent.

    :func:`genrenet.models.default_model_path` owns that location.
    """
    paths = shipped_bundle_paths()
    return paths[0] if paths else None


def shipped_bundle_paths() -> list[Path]:
    """Every bundle shipped with genrenet, the default one first (empty when the default is missing)."""
    from genrenet.models import shipped_model_paths

    try:
        return shipped_model_paths()
    except ModelError:
        return []


@dataclass(frozen=True)
class LoadedModelInfo:
    """Description of one loaded model (what ``GET /api/models`` lists).

    Formerly ``ModelInfo``; that name still imports, with a :class:`FutureWarning`
    (:class:`genrenet.models.ArchitectureInfo` is the registry entry of an architecture).

    Attributes
    ----------
    name : str
        Display name (unique within a predictor); the key of the model in results.
    path : Path
        The bundle directory.
    model : str
        Architecture name from the bundle (``"compact_cnn"``, ``"cnn"``, ...).
    kind : str
        ``"keras"`` or ``"sklearn"``.
    genres : tuple of str
        Class names in output order.
    feature : dict
        The bundle's feature specification (``FeatureSpec.to_dict()``).
    metrics : dict
        Numeric evaluation metrics stored in the bundle.
    dataset, split, protocol : str or None
        Where the metrics come from.
    default : bool
        Whether this is the shipped default model.
    synthetic : bool
        Whether it was trained on the synthetic demo corpus (its answers on music mean nothing).
    """

    name: str
    path: Path
    model: str
    kind: str
    genres: tuple[str, ...]
    feature: dict[str, Any]
    metrics: dict[str, float]
    dataset: str | None = None
    split: str | None = None
    protocol: str | None = None
    default: bool = False
    synthetic: bool = False

    @classmethod
    def from_meta(cls, meta, path: Path, *, name: str, kind: str, default: bool) -> LoadedModelInfo:
        """The description of a bundle from its :class:`genrenet.results.BundleMeta`."""
        return cls(
            name=name, path=path, model=meta.model, kind=kind, genres=tuple(meta.genres),
            feature=meta.feature.to_dict(), metrics=meta.numeric_metrics, dataset=meta.dataset,
            split=None if meta.split is None else meta.split.name, protocol=meta.protocol, default=default,
            synthetic=meta.is_synthetic,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the bundle path is given by its directory name only)."""
        return {
            "name": self.name,
            "bundle": self.path.name,
            "model": self.model,
            "kind": self.kind,
            "genres": list(self.genres),
            "feature": dict(self.feature),
            "metrics": dict(self.metrics),
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol,
            "default": self.default,
            "synthetic": self.synthetic,
        }


@dataclass(frozen=True)
class ModelResult:
    """One model's verdict on one track.

    Attributes
    ----------
    name : str
        Model display name.
    probabilities : dict
        Genre → mean window probability, in the model's genre order (sums to 1).
    metrics : dict
        The model's stored evaluation metrics.
    windows_used, windows_total : int
        Windows classified, and windows the whole track has under this model's spec.
    dataset : str or None
        The data set the model was trained on.
    synthetic : bool
        Whether that is the synthetic demo corpus.
    protocol : str or None
        How the metrics were measured (data, split, which clips were scored).
    """

    name: str
    probabilities: dict[str, float]
    metrics: dict[str, float]
    windows_used: int
    windows_total: int
    dataset: str | None = None
    synthetic: bool = False
    protocol: str | None = None

    @property
    def genre(self) -> str:
        """The most probable genre."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def truncated(self) -> bool:
        """True when only a subset of the track's windows was classified."""
        return self.windows_used < self.windows_total

    def to_dict(self) -> dict[str, Any]:
        """This model's entry of the web service's answer (``data``, ``metrics`` and the ``protocol`` that
        measured them, ``genre``, ``windows``)."""
        return {
            "data": {g: float(p) for g, p in self.probabilities.items()},
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "protocol": self.protocol,
            "genre": self.genre,
            "windows": {"used": self.windows_used, "total": self.windows_total},
            "dataset": self.dataset,
            "synthetic": self.synthetic,
        }


@dataclass(frozen=True)
class PredictionResult:
    """Every model's verdict on one track, plus facts about the track.

    :meth:`to_dict` gives the web service's response structure, that of the
    thesis (one key per model holding ``data`` and ``metrics``) with numbers as
    JSON numbers and a ``track`` key added::

        {"Compact CNN": {"data": {"blues": 0.01, ...},
                         "metrics": {"accuracy": 0.83, "loss": 0.52},
                         "genre": "metal",
                         "windows": {"used": 19, "total": 19},
                         "dataset": "gtzan", "synthetic": false},
         "track": {"duration": 30.0, "sample_rate": 22050, "windows_used": 19,
                   "windows_total": 19, "truncated": false, "max_windows": 48},
         "success": true}
    """

    results: tuple[ModelResult, ...]
    duration: float
    sample_rate: int
    max_windows: int
    source: str | None = field(default=None)

    def __getitem__(self, name: str) -> ModelResult:
        """The result of the model called ``name`` (``KeyError`` if it did not run)."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def windows_used(self) -> int:
        """Most windows any model classified."""
        return max(r.windows_used for r in self.results)

    @property
    def windows_total(self) -> int:
        """Most windows the track has under any model's feature spec."""
        return max(r.windows_total for r in self.results)

    @property
    def truncated(self) -> bool:
        """True when some model classified only evenly spaced windows of the track."""
        return any(r.truncated for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """The web service's answer: one key per model, ``track`` and ``success`` (see the class docstring)."""
        out: dict[str, Any] = {r.name: r.to_dict() for r in self.results}
        out["track"] = {
            "duration": round(float(self.duration), 3),
            "sample_rate": int(self.sample_rate),
            "windows_used": self.windows_used,
            "windows_total": self.windows_total,
            "truncated": self.truncated,
            "max_windows": self.max_windows,
        }
        out["success"] = True
        return out


@dataclass(frozen=True)
class TrackFeatures:
    """A track's features for every feature spec of a predictor, computed outside it.

    Batch jobs (:mod:`genrenet.batch`) decode and featurise tracks in worker processes and
    hand these to :meth:`Predictor.predict_features`.

    Attributes
    ----------
    features : dict
        ``spec.key()`` -> ``(windows, *spec.shape)`` array (the windows the predictor would use).
    totals : dict
        ``spec.key()`` -> windows the whole track has under that spec.
    duration : float
        Track length in seconds.
    sample_rate : int
        Rate the track was decoded at.
    source : str or None
        Name of the track.
    """

    features: dict[str, np.ndarray]
    totals: dict[str, int]
    duration: float
    sample_rate: int
    source: str | None = None


# --------------------------------------------------------------------------- loaded models


@dataclass(frozen=True)
class _Loaded:
    """A bundle ready to answer: its description, features and runner (:mod:`genrenet.inference`)."""

    info: LoadedModelInfo
    spec: Any  # genrenet.features.FeatureSpec
    runner: Any
    key: str = ""  # spec.key(): models with equal keys share one feature computation


@dataclass(frozen=True)
class _PendingFeatures:
    """The features of one spec being computed: the window plan and its parts (futures or arrays)."""

    plan: Any  # genrenet.features.WindowPlan
    parts: tuple[Any, ...]

    def result(self) -> np.ndarray:
        """Wait for every part; the track's features ``(plan.used, *spec.shape)``."""
        arrays = [p.result() if isinstance(p, Future) else p for p in self.parts]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)


# --------------------------------------------------------------------------- predictor


class Predictor:
    """Genre prediction for whole tracks with every loaded model bundle.

    Parameters
    ----------
    bundles : iterable of path-like, optional
        Bundle directories to load explicitly.
    models_dir : path-like, optional, keyword-only
        Directory searched (recursively) for more bundles. When omitted and no
        ``bundles`` are given, :func:`genrenet.paths.models_dir` is searched
        (``$GENRENET_MODELS``, default ``~/.cache/genrenet/models``) if it exists.
    include_default : bool, keyword-only
        Also load the models shipped with genrenet (``genrenet/pretrained/``; the default
        model first, then the others beside it) when present.
    max_duration : float, keyword-only
        Longest track in seconds that is analysed; longer ones raise :class:`TrackTooLongError`.
    max_windows : int, keyword-only
        Most windows classified per track and model; tracks with more windows are
        analysed on ``max_windows`` evenly spaced ones (``truncated`` in the result).
    warmup : bool, keyword-only
        Run one short synthetic signal through every model at load time, so the
        first real request does not pay for JIT compilation and graph tracing.

    Raises
    ------
    ModelError
        If no bundle can be found or a bundle is invalid.
    ParameterError
        For invalid option values.

    Examples
    --------
    >>> p = Predictor(["runs/compact"], include_default=False)   # doctest: +SKIP
    >>> p.predict_file("song.mp3").to_dict()                     # doctest: +SKIP
    """

    def __init__(
        self,
        bundles: Iterable[str | Path] | None = None,
        *,
        models_dir: str | Path | None = None,
        include_default: bool = True,
        max_duration: float = DEFAULT_MAX_DURATION,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        warmup: bool = True,
    ):
        if not isinstance(max_duration, int | float) or not max_duration > 0 or not math.isfinite(max_duration):
            raise ParameterError(f"max_duration must be a positive number of seconds, got {max_duration!r}")
        if isinstance(max_windows, bool) or not isinstance(max_windows, int | np.integer) or max_windows < 1:
            raise ParameterError(f"max_windows must be a positive integer, got {max_windows!r}")
        self.max_duration = float(max_duration)
        self.max_windows = int(max_windows)
        unique = _bundle_paths(bundles, models_dir, include_default=include_default)
        self._models: list[_Loaded] = []
        names: set[str] = set()
        for p, is_default in unique:
            loaded = self._load(p, is_default=is_default, taken=names)
            names.add(loaded.info.name)
            self._models.append(loaded)
        cores = os.cpu_count() or 1
        self._n_threads = min(cores, 4)
        self._pool = (
            ThreadPoolExecutor(max_workers=self._n_threads, thread_name_prefix="genrenet-features")
            if cores > 1
            else None
        )
        if warmup:
            self._warmup()

    # -- loading

    @staticmethod
    def _load(path: Path, *, is_default: bool, taken: set[str]) -> _Loaded:
        from genrenet.bundle import load_bundle
        from genrenet.inference import bundle_runner

        bundle = load_bundle(path)
        runner = bundle_runner(bundle, batch_size=_PRED_BATCH)
        name = _unique_name(bundle.meta.name or path.name, path, taken)
        info = LoadedModelInfo.from_meta(bundle.meta, path, name=name, kind=bundle.framework, default=is_default)
        return _Loaded(info=info, spec=bundle.meta.feature, runner=runner, key=bundle.meta.feature.key())

    def _warmup(self) -> None:
        rng = np.random.default_rng(0)
        for sr in {int(m.spec.sr) for m in self._models}:
            seconds = min(max(float(m.spec.window) for m in self._models) * 1.5, self.max_duration)
            y = (0.1 * rng.standard_normal(int(sr * seconds))).astype(np.float32)
            self.predict_array(y, sr)

    # -- introspection

    @property
    def models(self) -> list[LoadedModelInfo]:
        """The loaded models, the default one first."""
        return [m.info for m in self._models]

    @property
    def model_names(self) -> list[str]:
        """Names of the loaded models (the keys of a result), the default one first."""
        return [m.info.name for m in self._models]

    def _select(self, models: Sequence[str] | None) -> list[_Loaded]:
        if models is None:
            return list(self._models)
        if isinstance(models, str):
            models = [models]
        chosen = []
        for name in models:
            match = [m for m in self._models if m.info.name == name]
            if not match:
                raise ParameterError(f"models: unknown model {name!r}; loaded models are {self.model_names}")
            chosen.append(match[0])
        if not chosen:
            raise ParameterError("models: empty selection")
        return chosen

    # -- prediction

    def predict_file(self, path: str | Path, *, models: Sequence[str] | None = None) -> PredictionResult:
        """Predict the genre of the audio file at ``path`` with every (or the named) model.

        Parameters
        ----------
        path : path-like
            Any format :mod:`genrenet.audio` reads.
        models : sequence of str, optional, keyword-only
            Names of the models to use (default: all).

        Returns
        -------
        PredictionResult

        Raises
        ------
        AudioError
            If the file cannot be read; :class:`TrackTooLongError` if it is longer than ``max_duration``.
        """
        from genrenet import audio

        chosen = self._select(models)
        sr = self._decode_rate(chosen)
        path = Path(path)
        # The header is checked against max_duration before anything is decoded, and decoding
        # stops past the limit (a header may lie), so a decode bomb costs neither time nor memory.
        y, sr = audio.load(path, sr=sr, max_duration=self.max_duration)
        return self._predict(y, sr, chosen, where=path, source=path.name)

    def predict_bytes(
        self, data: bytes, filename_hint: str | None = None, *, models: Sequence[str] | None = None
    ) -> PredictionResult:
        """Predict the genre of an encoded audio file held in memory (an upload).

        Parameters
        ----------
        data : bytes
            The file's content.
        filename_hint : str, optional
            Original file name or extension; only its extension is used, to pick the decoder.
        models : sequence of str, optional, keyword-only
            Names of the models to use (default: all).

        Returns
        -------
        PredictionResult

        Raises
        ------
        AudioError
            If the content cannot be decoded; :class:`TrackTooLongError` if it is too long.
        """
        from genrenet import audio

        if not isinstance(data, bytes | bytearray | memoryview):
            raise ParameterError(f"data must be bytes, got {type(data).__name__}")
        chosen = self._select(models)
        sr = self._decode_rate(chosen)
        y, sr = audio.load_bytes(data, filename_hint=filename_hint, sr=sr, max_duration=self.max_duration)
        return self._predict(y, sr, chosen, where=None, source=filename_hint)

    def predict_array(
        self, y: np.ndarray, sr: int, *, models: Sequence[str] | None = None
    ) -> PredictionResult:
        """Predict the genre of a signal already in memory.

        Parameters
        ----------
        y : ndarray
            Mono signal (1-D), or ``(channels, samples)`` which is mixed down.
        sr : int
            Its sampling rate; resampled to each model's rate when different.
        models : sequence of str, optional, keyword-only
            Names of the models to use (default: all).

        Returns
        -------
        PredictionResult
        """
        if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
            raise ParameterError(f"sr must be a positive integer sampling rate, got {sr!r}")
        y = np.asarray(y)
        if y.ndim == 2:
            y = y.mean(axis=0)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.number):
            raise ParameterError(f"y must be a 1-D numeric signal or (channels, samples), got shape {y.shape}")
        y = y.astype(np.float32, copy=False)
        if y.size == 0:
            raise AudioError(None, "signal is empty")
        if not np.isfinite(y).all():
            raise AudioError(None, "signal contains NaN or infinite samples")
        return self._predict(y, int(sr), self._select(models), where=None, source=None)

    # -- internals

    @staticmethod
    def _decode_rate(chosen: list[_Loaded]) -> int:
        # Decode straight to the models' rate (the highest one when they differ): a file's native
        # rate may be far higher, and decoding at it would multiply the memory a track needs.
        return max(int(m.spec.sr) for m in chosen)

    def _check_length(self, duration: float | None, *, where: Path | None) -> None:
        if duration is not None and duration > self.max_duration:
            raise TrackTooLongError(
                where,
                f"track is {duration:.1f} s long, more than the {self.max_duration:.0f} s this service analyses",
            )

    def _predict(
        self, y: np.ndarray, sr: int, chosen: list[_Loaded], *, where: Path | None, source: str | None
    ) -> PredictionResult:
        duration = len(y) / sr
        self._check_length(duration, where=where)
        resampled: dict[int, np.ndarray] = {}
        specs: dict[str, Any] = {}
        for m in chosen:
            msr = int(m.spec.sr)
            if msr not in resampled:
                resampled[msr] = y if msr == sr else _resample(y, sr, msr)
            specs.setdefault(m.key, m.spec)
        # Every spec's windows are split into segments whose features are computed concurrently
        # (NumPy/SciPy release the GIL); each model starts as soon as its own features are ready.
        pending = {key: self._start_features(spec, resampled[int(spec.sr)], int(spec.sr)) for key, spec in specs.items()}
        results = []
        for m in chosen:
            X = pending[m.key].result()  # one row per window, or one per track for a pooled embedding
            results.append(_model_result(m, m.runner(X), len(X), max(pending[m.key].plan.total, len(X))))
        return PredictionResult(
            results=tuple(results), duration=duration, sample_rate=sr, max_windows=self.max_windows, source=source
        )

    def feature_specs(self, *, models: Sequence[str] | None = None) -> dict[str, Any]:
        """The distinct feature specs the (named) models need, by ``spec.key()``."""
        return {m.key: m.spec for m in self._select(models)}

    def predict_features(self, tracks: Sequence[TrackFeatures], *,
                         models: Sequence[str] | None = None) -> list[PredictionResult]:
        """Classify tracks whose features were computed elsewhere (batch jobs), many tracks per model call.

        Each model gets the windows of all ``tracks`` at once, zero-padded to whole
        batches of a fixed size: every graph call has the same shape, so a track's
        probabilities do not depend on which tracks share its batch, bit for bit (a
        resumed or distributed batch job gives the numbers of an uninterrupted local
        one). They agree with :meth:`predict_file` to float rounding (~1e-8).

        Parameters
        ----------
        tracks : sequence of TrackFeatures
            Features for every key of :meth:`feature_specs` (with the same ``models``).
        models : sequence of str, optional, keyword-only
            Names of the models to use (default: all).

        Returns
        -------
        list of PredictionResult, one per track
        """
        chosen = self._select(models)
        per_track: list[list[ModelResult]] = [[] for _ in tracks]
        for m in chosen:
            arrays = [t.features[m.key] for t in tracks]
            counts = np.array([len(a) for a in arrays])
            X = np.concatenate(arrays) if arrays else np.zeros((0, *m.spec.shape), m.spec.dtype)
            pad = -len(X) % _PRED_BATCH
            P = m.runner(np.concatenate([X, np.zeros((pad, *X.shape[1:]), X.dtype)]))[: len(X)]
            for i, part in enumerate(np.split(P, np.cumsum(counts)[:-1])):
                per_track[i].append(_model_result(m, part, int(counts[i]), int(tracks[i].totals[m.key])))
        return [PredictionResult(results=tuple(r), duration=t.duration, sample_rate=t.sample_rate,
                                 max_windows=self.max_windows, source=t.source)
                for r, t in zip(per_track, tracks, strict=True)]

    def _start_features(self, spec: Any, y: np.ndarray, sr: int) -> _PendingFeatures:
        """Plan (and, with a thread pool, start) the feature computation of one spec.

        All windows are used when there are at most ``max_windows``, else ``max_windows``
        evenly spaced ones (:func:`genrenet.features.plan_windows`); the chosen windows are
        cut into contiguous stretches, each computed by :func:`genrenet.features.extract`
        with ``indices=`` (the rows equal those of ``extract(spec, y, sr)``).
        """
        from genrenet import features

        plan = features.plan_windows(spec, len(y), max_windows=self.max_windows)
        n_parts = min(self._n_threads, plan.used // 2) if self._pool is not None else 1
        if spec.kind == "embedding":
            n_parts = 1  # one batch through the network (which uses every core); pooling needs all patches
        groups = plan.groups(n_parts)
        if self._pool is None or len(groups) == 1:
            return _PendingFeatures(plan, tuple(features.extract(spec, y, sr, indices=g) for g in groups))
        return _PendingFeatures(plan, tuple(self._pool.submit(features.extract, spec, y, sr, indices=g)
                                            for g in groups))


def _bundle_paths(bundles, models_dir, *, include_default: bool) -> list[tuple[Path, bool]]:
    """The bundles a predictor loads, each once, with whether it is the shipped default (first)."""
    if isinstance(bundles, str | Path):
        bundles = [bundles]
    paths: list[tuple[Path, bool]] = []
    if include_default:
        paths.extend((p, k == 0) for k, p in enumerate(shipped_bundle_paths()))
    paths.extend((Path(b), False) for b in bundles or [])
    search = models_dir
    if search is None and bundles is None:
        from genrenet.paths import models_dir as _models_dir

        search = _models_dir()
    if search is not None:
        search = Path(search)
        if models_dir is not None and not search.is_dir():
            raise ModelError(f"models directory {search} does not exist")
        paths.extend((p, False) for p in find_bundles(search))
    seen: set[Path] = set()
    unique: list[tuple[Path, bool]] = []
    for p, is_default in paths:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append((p, is_default))
    if not unique:
        where = f" in {search}" if search is not None else ""
        raise ModelError(
            f"no model bundle found{where}: train one (genrenet train ... --out DIR) and pass "
            "--models-dir DIR, or install the shipped default model"
        )
    return unique


def _unique_name(name: str, path: Path, taken: set[str]) -> str:
    """``name``, or ``name (bundle dir)`` (then ``#2``...) when another model or a reserved key has it."""
    if name not in RESERVED_KEYS and name not in taken:
        return name
    base = f"{name} ({path.name})"
    name, i = base, 2
    while name in taken or name in RESERVED_KEYS:
        name, i = f"{base} #{i}", i + 1
    return name


def _model_result(m: _Loaded, P: np.ndarray, used: int, total: int) -> ModelResult:
    """One model's verdict from its window probabilities ``P`` (mean over windows)."""
    mean = P.mean(axis=0)
    mean = mean / mean.sum()
    if not np.isfinite(mean).all():
        raise ModelError(f"model {m.info.name!r} answered NaN or inf probabilities for this track; "
                         "its bundle is broken (retrain it)")
    return ModelResult(
        name=m.info.name,
        probabilities={g: float(p) for g, p in zip(m.info.genres, mean, strict=True)},
        metrics=dict(m.info.metrics),
        windows_used=used,
        windows_total=total,
        dataset=m.info.dataset,
        synthetic=m.info.synthetic,
        protocol=m.info.protocol,
    )


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    from genrenet import audio

    return audio.resample(y, sr, target)


__getattr__ = renamed_attributes(__name__, globals(), {"ModelInfo": "LoadedModelInfo"})
