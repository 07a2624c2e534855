"""The training runner: one function trains any registered model (Keras or scikit-learn)
on any data set and split, and leaves a model bundle with its history, metrics and
confusion matrix.

* Data set, split and feature are resolved by :mod:`genrenet.inputs` (the path every
  experiment takes); features come from the feature cache (:func:`genrenet.cache.featurize`),
  so a second run featurises nothing.
* A ``tf.data`` pipeline feeds shuffled batches of window indices, gathers the
  windows from the cached arrays and scales them (:func:`genrenet.features.input_scale`:
  thesis images ``uint8`` → ``[0, 1]``), so the thesis's layer lists stay exactly as published.
* Early stopping watches the split's validation tracks, which never share a
  track with the test tracks; class imbalance is handled with balanced class
  weights (GTZAN-mini has ten times more classical clips than anything else).
* One seed (:func:`genrenet.repro.set_seed`, TensorFlow op determinism): the
  same call gives the same numbers.
* A finished run directory is recognised and skipped (unless its configuration
  changed); an interrupted ``fit`` resumes from its last epoch
  (``keras.callbacks.BackupAndRestore``, written atomically; a damaged backup is
  discarded with a warning); cross-validation skips finished folds.
* A fit whose loss becomes NaN or inf stops and raises ModelError: no
  non-finite model is ever written.
* :func:`train` runs in three steps: fitting (:func:`_fit`), testing (:func:`_test`, through
  :mod:`genrenet.inference`, the path prediction uses) and bundling (:func:`_write_bundle`).
  The run directory is a bundle (:mod:`genrenet.bundle`) holding the model saved for
  inference (scaling included, training-only layers removed), ``meta.json``
  (:class:`~genrenet.results.BundleMeta`), ``history.json``, ``metrics.json``
  (:class:`~genrenet.results.RunRecord`: data set, split, protocol, seed, versions,
  window- and track-level metrics) and ``confusion.png``.

Used in the book page ``book/dev_models.md`` and the notebook
``notebooks/train_model.ipynb``; the shipped models were made with two runs of :func:`train`
(:func:`genrenet.release.release`; see ``genrenet/pretrained/*/MODEL_CARD.md``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrenet._validate import positive_int
from genrenet.errors import DataError, GenrenetError, ModelError, ParameterError
from genrenet.inputs import SPLITS, resolve_dataset, resolve_split
from genrenet.repro import DEFAULT_SEED
from genrenet.results import (
    CV_METRICS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    CVRecord,
    CVResult,
    FinalInfo,
    FoldSummary,
    Metrics,
    PartScores,
    RunRecord,
    RunResult,
    SplitInfo,
)

__all__ = [
    "RunResult",
    "CVResult",
    "SPLITS",
    "resolve_dataset",
    "resolve_split",
    "class_weights",
    "make_tf_dataset",
    "serving_model",
    "train",
    "cross_validate",
    "cv_epochs",
    "train_after_cv",
    "published_metrics",
    "quiet_tensorflow",
]

#: Sub-directory of a cross-validation directory holding the bundle of :func:`train_after_cv`.
FINAL_DIR = "final"


def class_weights(y, n_classes: int, mode="balanced") -> np.ndarray:
    """Per-class loss weights.

    Parameters
    ----------
    y : array of int
        Training labels (one per window).
    n_classes : int
    mode : "balanced", None or dict
        ``"balanced"``: ``n / (n_classes * count_c)`` (scikit-learn's rule);
        ``None``: all ones; a dict maps class index → weight.
    """
    y = np.asarray(y, dtype=np.int64)
    if mode is None:
        return np.ones(n_classes)
    if isinstance(mode, dict):
        w = np.ones(n_classes)
        for k, v in mode.items():
            if not 0 <= int(k) < n_classes or not float(v) > 0:
                raise ParameterError(f"class_weight: bad entry {k!r}: {v!r}")
            w[int(k)] = float(v)
        return w
    if mode != "balanced":
        raise ParameterError(f"class_weight must be 'balanced', None or a dict, got {mode!r}")
    counts = np.bincount(y, minlength=n_classes).astype(float)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise DataError(f"the training part has no window of class(es) {missing}")
    return len(y) / (n_classes * counts)


def make_tf_dataset(X, y, *, weights=None, batch_size: int = 32, shuffle: bool = False, seed: int = DEFAULT_SEED,
                    scale: float = 1.0):
    """A ``tf.data.Dataset`` of ``(x, y[, sample_weight])`` batches gathered from in-memory or memory-mapped arrays.

    Only window *indices* go through TensorFlow; each batch is gathered with
    NumPy, cast to float32 and divided by ``scale``, so the whole feature array
    is never copied into the graph.
    """
    from genrenet._tf import tf

    n = len(X)
    if n == 0:
        raise DataError("no windows to train or evaluate on")
    y = np.asarray(y, dtype=np.int64)
    w = None if weights is None else np.asarray(weights, dtype=np.float32)
    shape = tuple(X.shape[1:])

    def gather(idx):
        xb = np.asarray(X[idx], dtype=np.float32)
        if scale != 1.0:
            xb = xb / np.float32(scale)
        if w is None:
            return xb, y[idx]
        return xb, y[idx], w[idx]

    ds = tf.data.Dataset.from_tensor_slices(np.arange(n, dtype=np.int64))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    out_types = (tf.float32, tf.int64) if w is None else (tf.float32, tf.int64, tf.float32)

    def fetch(idx):
        parts = tf.numpy_function(gather, [idx], out_types)
        parts[0].set_shape((None, *shape))
        for p in parts[1:]:
            p.set_shape((None,))
        return tuple(parts)

    return ds.map(fetch).prefetch(2)


def serving_model(model, *, scale: float = 1.0):
    """The model as saved in bundles: raw features in, probabilities out.

    Training-only layers (SpecAugment) are replaced by identities and, when the
    data pipeline divided inputs by ``scale``, a ``Rescaling(1/scale)`` layer is
    put in front, so :mod:`genrenet.predict` feeds features exactly as
    :func:`genrenet.features.extract` returns them.
    """
    from genrenet._tf import keras
    from genrenet.models.compact import inference_model

    model = inference_model(model)
    if scale == 1.0:
        return model
    return keras.Sequential(
        [keras.Input(shape=model.input_shape[1:]), keras.layers.Rescaling(1.0 / scale, name="input_scaling"), model],
        name=f"{model.name}_serving",
    )


class _EpochProgress:
    """A tqdm bar over epochs (Keras callback built lazily so this module imports without TF)."""

    @staticmethod
    def make(total: int, desc: str, enabled: bool):
        from tqdm import tqdm

        from genrenet._tf import keras

        class Progress(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, file=sys.stderr)

            def on_epoch_begin(self, epoch, logs=None):
                if self.bar.n < epoch:  # resumed by BackupAndRestore
                    self.bar.update(epoch - self.bar.n)

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k in
                                      ("loss", "accuracy", "val_loss", "val_accuracy")})
                self.bar.update(1)

            def on_train_end(self, logs=None):
                self.bar.close()

        return Progress()


def _backup_callback(backup_dir: Path):
    """``BackupAndRestore`` that survives being killed while it writes.

    Each backup goes to a new weights file; the small metadata file naming it is
    replaced atomically afterwards and is the only commit point, so an interrupted
    save leaves the previous backup intact. A backup that still cannot be restored
    (damaged, or left by another model) is discarded with a warning and training
    starts from the first epoch.
    """
    import os
    import shutil
    import warnings

    from genrenet._tf import keras
    from genrenet.io import atomic_write_json

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        def _save_model(self):
            os.makedirs(self.backup_dir, exist_ok=True)
            name = f"epoch{self._current_epoch:05d}-batch{self._last_batch_seen:06d}.weights.h5"
            self.model.save_weights(os.path.join(self.backup_dir, name), overwrite=True)
            atomic_write_json(self._training_metadata_path,
                              {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name})
            for old in Path(self.backup_dir).glob("*.weights.h5"):
                if old.name != name:
                    old.unlink(missing_ok=True)

        def _load_model(self):
            meta_path = Path(self._training_metadata_path)
            if not meta_path.exists():
                return  # weights without metadata are an unfinished first save
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            weights = Path(self.backup_dir) / Path(meta.get("weights", "latest.weights.h5")).name
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            self.model.load_weights(str(weights))
            self.model._initial_epoch = int(meta["epoch"])

        def on_train_begin(self, logs=None):
            if not os.path.isdir(self.backup_dir):
                return
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:
                optimizer.build(self.model.trainable_variables)
            variables = list(self.model.weights) + (list(optimizer.variables) if optimizer is not None else [])
            start = [v.numpy() for v in variables]
            try:
                self._load_model()
            except Exception as exc:  # h5py/OSError, JSON, shape mismatch...: the backup is unusable
                for var, value in zip(variables, start, strict=True):
                    var.assign(value)
                self.model._initial_epoch = 0
                shutil.rmtree(self.backup_dir, ignore_errors=True)
                warnings.warn(f"discarded the unusable training backup {self.backup_dir} "
                              f"({type(exc).__name__}: {exc}); training starts from the first epoch",
                              RuntimeWarning, stacklevel=2)

    return AtomicBackupAndRestore(str(backup_dir))


def _check_finite_training(history: dict[str, list[float]], model, out_dir: Path) -> None:
    """Refuse a diverged fit: a non-finite loss or weight means no model may be written."""
    bad = [k for k, vals in history.items() if k.endswith("loss") and not np.all(np.isfinite(vals))]
    weights_ok = all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())
    if bad or not weights_ok:
        losses = history.get("loss", [])
        epoch = next((k + 1 for k, v in enumerate(losses) if not np.isfinite(v)), len(losses))
        raise ModelError(
            f"training for {out_dir} diverged: the loss became NaN or inf (epoch {epoch}); nothing was written. "
            "Check the features (run `genrenet features` on the data set) or lower the learning rate."
        )


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class _Options:
    """The training options of one run (checked)."""

    epochs: int
    batch_size: int
    seed: int
    patience: int | None
    class_weight: Any
    model_kwargs: dict[str, Any]
    progress: bool


@dataclass(frozen=True)
class _Fit:
    """What fitting produced: the model as saved (Keras or scikit-learn) and the facts of the fit."""

    model: Any
    framework: str
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    best_epoch: int | None = None
    n_params: int | None = None
    train_windows: int = 0
    train_seconds: float = 0.0


def _check_options(model_name: str, *, epochs, batch_size, patience, out_dir) -> None:
    from genrenet.models import model_names

    if model_name not in model_names():
        raise ParameterError(f"model must be one of {model_names()}, got {model_name!r}")
    positive_int("epochs", epochs)
    positive_int("batch_size", batch_size)
    positive_int("patience", patience, optional=True)
    if out_dir is None:
        raise ParameterError("out_dir is required: the directory the run (bundle) is written to")


def _config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _run_config(model_name: str, ds, spec, split, opts: _Options, **more) -> dict[str, Any]:
    """Everything that determines a run's result; its hash tells a finished run from a changed one."""
    from genrenet import __version__

    return {
        "model": model_name, "dataset": ds.name, "dataset_hash": ds.content_hash(), "genres": ds.genres,
        "feature": spec.key(), "split": split.to_dict(), "epochs": opts.epochs, "batch_size": opts.batch_size,
        "seed": opts.seed, "patience": opts.patience, "class_weight": opts.class_weight,
        "model_kwargs": opts.model_kwargs, **more, "genrenet": __version__,
    }


def _finished(out_dir: Path, config_hash: str) -> RunResult | None:
    """The run in ``out_dir`` if it finished with the same configuration, else None."""
    if not (out_dir / METRICS_FILE).is_file():
        return None
    try:
        done = RunResult.load(out_dir, skipped=True)
    except GenrenetError:  # unreadable or from a genrenet that wrote something else: train again
        return None
    return done if done.record.config_hash == config_hash else None


def train(
    model_name: str,
    dataset,
    *,
    split=None,
    feature=None,
    epochs: int = 30,
    batch_size: int = 32,
    seed: int = DEFAULT_SEED,
    out_dir,
    patience: int | None = 8,
    class_weight="balanced",
    genres=None,
    data_dir=None,
    name: str | None = None,
    save_model: bool = True,
    reference_metrics: dict | None = None,
    cache_dir=None,
    progress: bool = True,
    force: bool = False,
    augment=None,
    splits_dir=None,
    **model_kwargs,
) -> RunResult:
    """Train one model on one split and write its run directory (a bundle).

    Parameters
    ----------
    model_name : str
        A name of :func:`genrenet.models.model_names` (Keras or scikit-learn).
    dataset : str or Dataset
        Data set or its registered name (see :func:`genrenet.inputs.resolve_dataset`).
    split : None, "stratified", "fault-filtered", "fault-filtered-final", "all" or Split, keyword-only
        Default: a stratified split by track with ``seed`` (:func:`genrenet.inputs.resolve_split`).
        ``"all"`` trains on every track (no test metrics; pass ``reference_metrics``).
    feature : str or FeatureSpec, keyword-only, optional
        Default: the model's preset (:func:`genrenet.models.default_feature`).
    epochs : int, keyword-only
        Maximum epochs (early stopping may end sooner).
    batch_size : int, keyword-only
    seed : int, keyword-only
        The one seed of the run (Python, NumPy, TensorFlow, shuffling, split).
    out_dir : path-like, keyword-only
        Run directory; a finished run with the same configuration is skipped.
    patience : int or None, keyword-only
        Early-stopping patience in epochs on the validation loss (best weights
        restored); None disables early stopping.
    class_weight : "balanced", None or dict, keyword-only
    genres : str or sequence of str, keyword-only, optional
        Train on these genres only.
    data_dir : path-like, keyword-only, optional
        Directory of a named data set.
    name : str, keyword-only, optional
        Display name stored in the bundle (default: the registry's title).
    save_model : bool, keyword-only
        Write the model file (cross-validation folds of the big thesis models skip it).
    reference_metrics : dict, keyword-only, optional
        Metrics to publish in ``meta.json`` instead of this run's test metrics
        (e.g. cross-validation metrics for a model trained on every track).
    cache_dir : path-like, keyword-only, optional
        Feature cache root.
    progress : bool, keyword-only
        Show progress bars.
    force : bool, keyword-only
        Retrain even if ``out_dir`` holds a finished run.
    augment : bool, str or sequence of str, keyword-only, optional
        Also train on degraded copies (MP3, band limits, gain: :mod:`genrenet.degrade`) of the
        split's training clips, and only those (:func:`genrenet.augment.augment_split`);
        ``True`` means :data:`genrenet.augment.DEFAULT_AUGMENTATIONS`. Validation and scores
        use original clips only. The copies are kept under ``cache_dir``.
    splits_dir : path-like, keyword-only, optional
        Directory of the fault-filtered split's lists (default: downloaded once, checksummed).
    **model_kwargs
        Keyword options of the model builder (or of the scikit-learn model's fitting function).

    Returns
    -------
    RunResult
        ``record`` (the :class:`~genrenet.results.RunRecord` written to ``metrics.json``),
        ``history``, ``out_dir`` and ``skipped``.
    """
    from genrenet.cache import featurize
    from genrenet.inputs import resolve_inputs

    _check_options(model_name, epochs=epochs, batch_size=batch_size, patience=patience, out_dir=out_dir)
    out_dir = Path(out_dir)
    opts = _Options(int(epochs), int(batch_size), int(seed), patience, class_weight, model_kwargs, progress)
    inputs = resolve_inputs(model_name, dataset, data_dir=data_dir, genres=genres, feature=feature, split=split,
                            seed=seed, splits_dir=splits_dir)
    ds, split, spec = inputs.dataset, inputs.split, inputs.feature
    if augment:
        from genrenet.augment import augment_split

        ds, split = augment_split(ds, split, augment, cache_dir=cache_dir, progress=progress)
    config = _run_config(model_name, ds, spec, split, opts, save_model=save_model,
                         reference_metrics=reference_metrics, name=name)
    chash = _config_hash(config)
    done = None if force else _finished(out_dir, chash)
    if done is not None:
        if progress:
            print(f"train: {out_dir} is finished (same configuration); skipped", file=sys.stderr)
        return done
    fs = featurize(ds, spec, cache_dir=cache_dir, progress=progress)
    fit = _fit(model_name, fs, split, opts, out_dir)
    metrics, test_tracks = _test(fit, fs, split, out_dir)
    record = _record(model_name, name, ds, spec, split, opts, fit, metrics, test_tracks, chash,
                     reference_metrics=reference_metrics)
    _write_bundle(out_dir, fit, record, save_model=save_model)
    return RunResult(out_dir, record, fit.history, skipped=False)


# --------------------------------------------------------------------------- fitting


def _fit(model_name: str, fs, split, opts: _Options, out_dir: Path) -> _Fit:
    """Fit the model on the split's training windows (scikit-learn models on its unscored validation ones too)."""
    from genrenet.models import is_sklearn
    from genrenet.repro import set_seed

    sklearn_model = is_sklearn(model_name)
    # scikit-learn models need no early stopping: they also fit on a validation part that is not scored
    train_idx = list(split.train) + (list(split.val) if sklearn_model and not split.val_heldout else [])
    Xtr, ytr, _ = fs.load(train_idx)
    if len(Xtr) == 0:
        raise DataError(f"split {split.name!r} leaves no training windows")
    started = time.perf_counter()
    set_seed(opts.seed, tensorflow=not sklearn_model)
    if sklearn_model:
        from genrenet.models import fit_sklearn

        estimator = fit_sklearn(model_name, Xtr.reshape(len(Xtr), -1), ytr, n_classes=len(fs.genres),
                                **{"seed": opts.seed, "class_weight": opts.class_weight, **opts.model_kwargs})
        fit = _Fit(estimator, "sklearn")
    else:
        fit = _fit_keras(model_name, fs, split, Xtr, ytr, opts, out_dir)
    return dataclasses.replace(fit, train_windows=int(len(Xtr)), train_seconds=time.perf_counter() - started)


def _build_keras(model_name: str, spec, n_classes: int, opts: _Options):
    import inspect

    from genrenet.models import MODELS, build_model

    kwargs = dict(opts.model_kwargs)
    if "seed" in inspect.signature(MODELS[model_name].function()).parameters:
        kwargs.setdefault("seed", opts.seed)
    return build_model(model_name, spec.shape, n_classes, **kwargs)


def _callbacks(model_name: str, out_dir: Path, opts: _Options, *, has_val: bool) -> list:
    from genrenet._tf import keras

    callbacks = [
        _backup_callback(out_dir.parent / f".{out_dir.name}.backup"),
        keras.callbacks.TerminateOnNaN(),
        _EpochProgress.make(opts.epochs, f"{model_name} {out_dir.name}", opts.progress),
    ]
    if opts.patience is not None and has_val:
        # the first epochs are noisy (batch-norm statistics still settling): never stop in them
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=int(opts.patience), restore_best_weights=True,
            start_from_epoch=_first_watched_epoch(opts),
        ))
    return callbacks


def _first_watched_epoch(opts: _Options) -> int:
    """Index of the first epoch early stopping watches (and may restore)."""
    return min(5, opts.epochs // 3)


def _best_epoch(history: dict[str, list[float]], opts: _Options) -> int | None:
    """The epoch (1-based) whose weights the model keeps: the lowest validation loss early stopping watched.

    Without early stopping the model keeps its last epoch's weights.
    """
    losses = history.get("val_loss") or []
    if not losses:
        return None
    if opts.patience is None:
        return len(losses)
    start = min(_first_watched_epoch(opts), len(losses) - 1)
    return start + int(np.argmin(losses[start:])) + 1


def _fit_keras(model_name: str, fs, split, Xtr, ytr, opts: _Options, out_dir: Path) -> _Fit:
    """Fit a Keras model with early stopping on the validation tracks; the model saved takes raw features."""
    from genrenet.features import input_scale

    n_classes = len(fs.genres)
    scale = input_scale(fs.spec)
    model = _build_keras(model_name, fs.spec, n_classes, opts)
    cw = class_weights(ytr, n_classes, opts.class_weight)
    train_ds = make_tf_dataset(Xtr, ytr, weights=cw[ytr], batch_size=opts.batch_size, shuffle=True, seed=opts.seed,
                               scale=scale)
    has_val = len(split.val) > 0
    val_ds = None
    if has_val:
        Xva, yva, _ = fs.load(list(split.val))
        val_ds = make_tf_dataset(Xva, yva, batch_size=opts.batch_size, scale=scale)
    fitted = model.fit(train_ds, validation_data=val_ds, epochs=opts.epochs, verbose=0, shuffle=False,
                       callbacks=_callbacks(model_name, out_dir, opts, has_val=has_val))
    history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
    _check_finite_training(history, model, out_dir)
    best = _best_epoch(history, opts) if has_val else None
    return _Fit(serving_model(model, scale=scale), "keras", history=history, epochs_run=len(history.get("loss", [])),
                best_epoch=best, n_params=int(model.count_params()))


# --------------------------------------------------------------------------- testing


def _test(fit: _Fit, fs, split, out_dir: Path) -> tuple[Metrics | None, tuple[str, ...] | None]:
    """Score the fitted model on the split's scored tracks through :mod:`genrenet.inference`.

    Returns the metrics (with each scored part on its own) and the scored track ids;
    ``(None, None)`` when the split holds nothing out.
    """
    from genrenet.evaluate import evaluate_predictions
    from genrenet.inference import make_runner

    if not split.scored:
        return None, None
    X, y, track_of_window = fs.load(list(split.scored))
    runner = make_runner(fit.model, framework=fit.framework, spec=fs.spec, genres=fs.genres, where=out_dir)
    probs = runner(X)
    if not np.isfinite(probs).all():
        raise ModelError(f"the model trained for {out_dir} predicts NaN or inf on the test windows; "
                         "nothing was written")
    metrics = evaluate_predictions(probs, y, track_of_window, fs.genres)
    parts = _part_scores(split, probs, y, track_of_window, fs.genres)
    tested = tuple(fs.dataset[int(t)].id for t in np.unique(track_of_window))
    return dataclasses.replace(metrics, parts=parts), tested


def _part_scores(split, probs, y, track_of_window, genres) -> dict[str, PartScores]:
    """Track and window accuracy on each scored part of the split (``val``, ``test``) on its own."""
    from genrenet.evaluate import evaluate_predictions

    out: dict[str, PartScores] = {}
    for part in ("val", "test") if split.val_heldout else ("test",):
        mask = np.isin(track_of_window, getattr(split, part))
        if mask.any():
            m = evaluate_predictions(probs[mask], y[mask], track_of_window[mask], genres)
            out[part] = PartScores(tracks=int(len(np.unique(track_of_window[mask]))),
                                   track_accuracy=m.track.accuracy, window_accuracy=m.window.accuracy, track_macro_f1=m.track.macro_f1)
    return out


# --------------------------------------------------------------------------- bundling


def _record(model_name: str, name: str | None, ds, spec, split, opts: _Options, fit: _Fit, metrics: Metrics | None,
            test_tracks, config_hash: str, *, reference_metrics: dict | None) -> RunRecord:
    """The run's ``metrics.json``."""
    from genrenet.bundle import versions
    from genrenet.models import display_name

    cw = opts.class_weight
    return RunRecord(
        model=model_name, name=name or display_name(model_name), dataset=ds.name, genres=tuple(ds.genres),
        feature=spec, split=SplitInfo.from_split(split), protocol=split.protocol, synthetic=bool(ds.synthetic),
        dataset_hash=ds.content_hash(), seed=opts.seed, epochs=opts.epochs, epochs_run=fit.epochs_run,
        best_epoch=fit.best_epoch, batch_size=opts.batch_size, patience=opts.patience,
        class_weight=dict(cw) if isinstance(cw, dict) else cw, model_kwargs=opts.model_kwargs,
        n_params=fit.n_params, train_windows=fit.train_windows, train_seconds=round(fit.train_seconds, 2),
        versions=versions(), config_hash=config_hash, augment=tuple((split.info.get("augment") or {}).get(
            "degradations", [])), metrics=metrics, test_tracks=test_tracks, reference_metrics=reference_metrics,
    )


def _title(record: RunRecord | CVRecord, level: str, how: str) -> str:
    return f"{record.name} — {record.data_label}, {level}-level, {how}\n{record.protocol}"


def _confusion_pngs(record: RunRecord | CVRecord, how: str) -> dict[str, bytes]:
    """``confusion.png`` (tracks) and ``confusion_windows.png`` of a record with scores."""
    from genrenet.evaluate import figure_png, plot_confusion

    files = {}
    for level, fname in (("track", "confusion.png"), ("window", "confusion_windows.png")):
        scores = getattr(record.metrics, level)
        files[fname] = figure_png(plot_confusion(np.array(scores.confusion), record.genres,
                                                 title=_title(record, level, how)))
    return files


def _bundle_meta(record: RunRecord):
    """The bundle's ``meta.json``: what the model takes and answers, and its published metrics."""
    from genrenet.results import BundleMeta

    return BundleMeta(
        name=record.name, model=record.model, genres=record.genres, feature=record.feature,
        metrics=record.published(), dataset=record.dataset, synthetic=record.synthetic, split=record.split,
        protocol=(record.reference_metrics or {}).get("protocol", record.protocol), seed=record.seed,
        versions=record.versions, input="raw features from genrenet.features.extract (scaling is inside the model)",
        augment=record.augment,
    )


def _write_bundle(out_dir: Path, fit: _Fit, record: RunRecord, *, save_model: bool) -> None:
    """Write the run directory atomically: a bundle, or (``save_model=False``) its files without the model."""
    from genrenet.bundle import save_bundle
    from genrenet.io import atomic_dir

    files = _confusion_pngs(record, f"split {record.split.name}") if record.metrics is not None else {}
    files[HISTORY_FILE] = (json.dumps(fit.history, indent=2) + "\n").encode()
    files[METRICS_FILE] = (json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str) + "\n").encode()
    meta = _bundle_meta(record)
    if save_model:
        save_bundle(out_dir, fit.model, meta, extra_files=files)
        return
    with atomic_dir(out_dir) as tmp:  # metrics only (no model file): not a loadable bundle
        for fname, data in files.items():
            (tmp / fname).write_bytes(data)
        (tmp / "run.json").write_text(json.dumps(meta.to_dict(), indent=2, sort_keys=True, default=str) + "\n")


# --------------------------------------------------------------------------- cross-validation


def cross_validate(
    model_name: str,
    dataset,
    *,
    folds: int = 5,
    by: str = "block",
    out_dir,
    seed: int = DEFAULT_SEED,
    val_size: float = 0.1,
    genres=None,
    data_dir=None,
    save_models: bool = False,
    progress: bool = True,
    **train_kwargs,
) -> CVResult:
    """Grouped k-fold cross-validation: train on every fold, pool the test predictions.

    Every track is tested exactly once (no track in two folds); with
    ``by="block"`` each fold holds out a contiguous block of ids per genre
    (consecutive GTZAN clips often share an artist). Finished folds are
    skipped on a re-run.

    Parameters
    ----------
    model_name : str
    dataset : str or Dataset
    folds : int, keyword-only
        Number of folds (>= 2).
    by : {"block", "track", "artist"}, keyword-only
        Grouping of :func:`genrenet.splits.grouped_kfold`.
    out_dir : path-like, keyword-only
        Folds go to ``out_dir/fold1..k``; pooled metrics to ``out_dir/cv_metrics.json``
        and ``out_dir/confusion.png``.
    seed : int, keyword-only
    val_size : float, keyword-only
        Fraction of each fold's training tracks used for early stopping.
    genres, data_dir : keyword-only
        As in :func:`train`.
    save_models : bool, keyword-only
        Keep each fold's model file (off by default: the thesis models are large).
    progress : bool, keyword-only
    **train_kwargs
        Passed to :func:`train` (``feature``, ``epochs``, ``batch_size``, ``patience``,
        model options...).

    Returns
    -------
    CVResult
        ``record`` (the :class:`~genrenet.results.CVRecord` written to ``cv_metrics.json``) and ``folds``.
    """
    from tqdm import tqdm

    from genrenet.io import atomic_write_bytes, atomic_write_json
    from genrenet.splits import grouped_kfold

    if out_dir is None:
        raise ParameterError("out_dir is required: the directory the folds are written to")
    out_dir = Path(out_dir)
    ds = resolve_dataset(dataset, data_dir=data_dir, genres=genres, min_genres=2)
    splits = grouped_kfold(ds, folds=folds, by=by, seed=seed, val_size=val_size)
    results = tuple(
        train(model_name, ds, split=split, seed=seed, out_dir=out_dir / f"fold{k}", save_model=save_models,
              progress=progress, **train_kwargs)
        for k, split in enumerate(tqdm(splits, desc=f"{model_name} folds", unit="fold", disable=not progress,
                                       file=sys.stderr), start=1)
    )
    info = SplitInfo(name=f"{by}-{folds}fold", protocol=splits[0].protocol, folds=folds, by=by)
    record = _cv_record(ds, info, [r.record for r in results], seed=seed)
    atomic_write_json(out_dir / CV_METRICS_FILE, record.to_dict())
    for fname, data in _confusion_pngs(record, f"pooled over {folds} folds").items():
        atomic_write_bytes(out_dir / fname, data)
    return CVResult(out_dir, record, results)


def _pooled(runs: list[RunRecord], genres) -> Metrics:
    """Each level's confusion matrices summed over the folds (every track tested once), with the folds' spread."""
    from genrenet.evaluate import metrics_from_confusion

    levels = {}
    for level in ("window", "track"):
        scores = [getattr(r.metrics, level) for r in runs]
        accs = [s.accuracy for s in scores]
        extra = dict(fold_accuracy_mean=float(np.mean(accs)), fold_accuracy_std=float(np.std(accs)),
                     fold_macro_f1_mean=float(np.mean([s.macro_f1 for s in scores])))
        if level == "window":
            extra["loss"] = float(np.mean([s.loss for s in scores]))
        levels[level] = metrics_from_confusion(sum(np.array(s.confusion) for s in scores), genres, **extra)
    return Metrics(**levels)


def _cv_record(ds, split: SplitInfo, runs: list[RunRecord], *, seed: int) -> CVRecord:
    """``cv_metrics.json`` from the folds' records."""
    first = runs[0]
    return CVRecord(
        model=first.model, name=first.name, dataset=ds.name, genres=tuple(ds.genres), feature=first.feature,
        split=split, protocol=split.protocol + " (test predictions of all folds pooled)",
        metrics=_pooled(runs, ds.genres), per_fold=tuple(FoldSummary.of_run(k, r) for k, r in enumerate(runs, 1)),
        best_epochs=tuple(r.best_epoch for r in runs), synthetic=first.synthetic, dataset_hash=first.dataset_hash,
        n_tracks=len(ds), seed=int(seed), epochs=first.epochs, batch_size=first.batch_size,
        model_kwargs=first.model_kwargs, n_params=first.n_params,
        train_seconds_total=round(sum(r.train_seconds for r in runs), 2), versions=first.versions,
    )


def _cv_record_of(cv: CVResult | CVRecord | dict) -> CVRecord:
    if isinstance(cv, CVResult):
        return cv.record
    if isinstance(cv, CVRecord):
        return cv
    if isinstance(cv, dict) and cv.get("kind") == CVRecord.KIND:
        return CVRecord.from_dict(cv)
    raise ModelError("expected cross-validation results (a CVResult, a CVRecord or cv_metrics.json's content)")


def published_metrics(cv: CVResult | CVRecord | dict) -> dict[str, Any]:
    """The compact metrics a bundle's ``meta.json`` carries, from cross-validation results (:meth:`CVRecord.published`)."""
    return _cv_record_of(cv).published()


def cv_epochs(cv: CVResult | CVRecord | dict, *, default: int) -> tuple[int, str]:
    """The epoch count the folds of a cross-validation chose for the final model, and why.

    The median (rounded up) of the folds' best epochs (lowest validation loss);
    when no fold recorded one (no validation tracks, or a scikit-learn model, which
    has no epochs), ``default``.

    Returns
    -------
    (int, str)
        Epochs and the rule in words, e.g. ``"median best epoch of the 5 folds (9, 11, 11, 12, 14) = 11"``.
    """
    from genrenet.models import BASELINE, is_sklearn

    record = _cv_record_of(cv)
    if is_sklearn(record.model):
        what = "the baseline" if record.model == BASELINE else f"the scikit-learn model {record.model}"
        return int(default), f"{what} is fitted in one step (no epochs)"
    best = [int(e) for e in record.best_epochs if e]
    if not best:
        return int(default), f"no fold had validation tracks to choose an epoch: the folds' {int(default)} epochs"
    n = int(np.ceil(np.median(best)))
    return n, f"median best epoch of the {len(best)} folds ({', '.join(map(str, best))}) = {n}"


def train_after_cv(
    model_name: str,
    dataset,
    *,
    folds: int = 5,
    by: str = "block",
    out_dir,
    seed: int = DEFAULT_SEED,
    val_size: float = 0.1,
    genres=None,
    data_dir=None,
    epochs: int = 30,
    name: str | None = None,
    progress: bool = True,
    **train_kwargs,
) -> CVResult:
    """Cross-validate, then train the model that is kept: on every track, for the epochs the folds chose.

    Cross-validation measures the recipe (every track tested once, predictions
    pooled); the bundle it leaves is trained afterwards on all tracks (split
    ``"all"``: nothing is held out, so its numbers are the pooled cross-validation
    metrics) for :func:`cv_epochs` epochs. The shipped default model was made this way.

    Parameters
    ----------
    model_name, dataset, folds, by, seed, val_size, genres, data_dir, progress
        As in :func:`cross_validate`.
    out_dir : path-like, keyword-only
        The folds and pooled metrics go here (see :func:`cross_validate`), the bundle to
        ``out_dir/final``. ``cv_metrics.json`` gains a ``final`` entry (path, epochs, rule).
    epochs : int, keyword-only
        Most epochs per fold (early stopping on each fold's validation tracks may stop sooner).
    name : str, keyword-only, optional
        Display name stored in the bundle.
    **train_kwargs
        Passed to every :func:`train` call (``feature``, ``batch_size``, ``patience``, ``cache_dir``...).

    Returns
    -------
    CVResult
        With ``final`` set to the final run; its ``meta.json`` metrics are
        :func:`published_metrics` of the folds plus ``epochs``, ``epochs_rule`` and ``folds``.
    """
    from genrenet.io import atomic_write_json

    ds = resolve_dataset(dataset, data_dir=data_dir, genres=genres, min_genres=2)
    if name is not None:
        train_kwargs["name"] = name
    cv = cross_validate(model_name, ds, folds=folds, by=by, out_dir=out_dir, seed=seed, val_size=val_size,
                        epochs=epochs, progress=progress, **train_kwargs)
    n_epochs, rule = cv_epochs(cv, default=epochs)
    reference = {**cv.record.published(), "epochs": n_epochs, "epochs_rule": rule, "folds": int(folds)}
    final = train(model_name, ds, split="all", seed=seed, epochs=n_epochs, out_dir=cv.out_dir / FINAL_DIR,
                  reference_metrics=reference, progress=progress, **train_kwargs)
    record = dataclasses.replace(cv.record, final=FinalInfo(path=FINAL_DIR, epochs=n_epochs, epochs_rule=rule,
                                                            split="all", train_tracks=len(ds)))
    atomic_write_json(cv.out_dir / CV_METRICS_FILE, record.to_dict())
    return dataclasses.replace(cv, record=record, final=final)


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up C++ log lines (oneDNN notice...) kept off stderr.

    Notebooks call this first so their outputs show results, not log noise; the silencing
    itself lives in :mod:`genrenet._tf`, which every TensorFlow import goes through.
    """
    from genrenet._tf import load

    load()
