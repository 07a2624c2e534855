"""The training runner: one function trains any registered model (or the
classical baseline) on any data set and split, and leaves a model bundle with
its history, metrics and confusion matrix.

* Features come from the feature cache (:func:`genrenet.cache.featurize`), so a
  second run featurises nothing.
* A ``tf.data`` pipeline feeds shuffled batches of window indices, gathers the
  windows from the cached arrays and scales them (thesis images: ``uint8`` →
  ``[0, 1]``), so the thesis's layer lists stay exactly as published.
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
* The run directory is a bundle (:mod:`genrenet.bundle`) holding the model
  saved for inference (scaling included, training-only layers removed),
  ``meta.json``, ``history.json``, ``metrics.json`` (data set, split, protocol,
  seed, versions, window- and track-level metrics) and ``confusion.png``.

Used in the book chapter "The models" (06) and the notebook
``notebooks/train_model.ipynb``; the shipped default model was made with
:func:`cross_validate` and :func:`train` (see ``genrenet/pretrained/gtzan10/MODEL_CARD.md``).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrenet.datasets.base import data_label
from genrenet.errors import DataError, ModelError, ParameterError
from genrenet.repro import DEFAULT_SEED

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

#: Split names accepted by :func:`train` (``"kfold"`` is :func:`cross_validate`).
SPLITS = ("stratified", "fault-filtered", "fault-filtered-final", "all")
METRICS_FILE = "metrics.json"
CV_METRICS_FILE = "cv_metrics.json"
HISTORY_FILE = "history.json"
#: Sub-directory of a cross-validation directory holding the bundle of :func:`train_after_cv`.
FINAL_DIR = "final"


@dataclass
class RunResult:
    """Outcome of :func:`train`."""

    out_dir: Path
    model: str
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    skipped: bool = False

    @property
    def window_accuracy(self) -> float | None:
        return (self.metrics.get("window") or {}).get("accuracy")

    @property
    def track_accuracy(self) -> float | None:
        return (self.metrics.get("track") or {}).get("accuracy")


@dataclass
class CVResult:
    """Outcome of :func:`cross_validate`: every fold plus pooled metrics."""

    out_dir: Path
    model: str
    folds: list[RunResult]
    metrics: dict[str, Any]
    final: RunResult | None = None  # the bundle trained after the folds (:func:`train_after_cv`)

    @property
    def window_accuracy(self) -> float:
        return self.metrics["window"]["accuracy"]

    @property
    def track_accuracy(self) -> float:
        return self.metrics["track"]["accuracy"]


# --------------------------------------------------------------------------- inputs


def resolve_dataset(dataset, *, data_dir=None, genres=None):
    """Turn a data set name (+ directory) or a Dataset into a Dataset, optionally restricted to ``genres``.

    Parameters
    ----------
    dataset : str or genrenet.datasets.Dataset
        ``"demo"``, ``"gtzan"``, ``"folder"``... or a loaded data set.
    data_dir : path-like, keyword-only, optional
        Where a named data set lives (``demo`` may omit it).
    genres : str or sequence of str, keyword-only, optional
        Keep only these genres (``"classical,country"`` or a list).
    """
    from genrenet.datasets import Dataset, load_dataset

    if isinstance(dataset, str):
        ds = load_dataset(dataset, data_dir)
    elif isinstance(dataset, Dataset):
        ds = dataset
    else:
        raise ParameterError(f"dataset must be a data set name or a Dataset, got {type(dataset).__name__}")
    if genres is not None:
        if isinstance(genres, str):
            genres = [g.strip() for g in genres.split(",") if g.strip()]
        ds = ds.subset(list(genres))
    if len(ds) == 0:
        raise DataError(f"data set {ds.name!r} has no tracks")
    if len(ds.genres) < 2:
        raise DataError(f"data set {ds.name!r} has {len(ds.genres)} genre(s): training needs at least two")
    return ds


def resolve_split(split, dataset, *, seed: int = DEFAULT_SEED, splits_dir=None):
    """Turn ``split`` (None, a name of :data:`SPLITS` or a Split) into a Split checked against ``dataset``.

    ``splits_dir`` is where the fault-filtered lists are (default: downloaded once, checksummed).
    """
    from genrenet.splits import Split, fault_filtered_split, stratified_split

    if split is None or split == "stratified":
        return stratified_split(dataset, seed=seed)
    if isinstance(split, Split):
        split.check(dataset)
        return split
    if split in ("fault-filtered", "fault_filtered", "fault-filtered-final", "fault_filtered_final"):
        return fault_filtered_split(dataset, lists_dir=splits_dir, final=split.endswith("final"))
    if split == "all":
        return Split(
            "all",
            range(len(dataset)),
            (),
            (),
            "trained on every track (no held-out tracks; see the cross-validation metrics)",
            dataset=dataset.name,
            dataset_hash=dataset.content_hash(),
            seed=seed,
        )
    if split == "kfold":
        raise ParameterError("split='kfold' is cross-validation: call genrenet.train.cross_validate")
    raise ParameterError(f"split must be one of {SPLITS}, a Split or None, got {split!r}")


def _resolve_feature(model_name: str, feature):
    """The model's feature: its own preset by default; otherwise checked against the kind it needs."""
    from genrenet.features import get_spec
    from genrenet.models import default_feature

    own = get_spec(default_feature(model_name))
    spec = own if feature is None else get_spec(feature)
    spectral = {"logmel", "image"}
    if own.kind in spectral and spec.kind not in spectral:
        raise ParameterError(f"feature: model {model_name!r} needs a spectrogram feature (logmel or image), "
                             f"got kind {spec.kind!r}")
    if own.kind not in spectral and spec.kind != own.kind:
        raise ParameterError(f"feature: model {model_name!r} needs a feature of kind {own.kind!r}, got kind {spec.kind!r}")
    return spec


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


def _config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _finished(out_dir: Path, config_hash: str) -> RunResult | None:
    mfile = out_dir / METRICS_FILE
    if not mfile.is_file():
        return None
    try:
        metrics = json.loads(mfile.read_text())
    except json.JSONDecodeError:
        return None
    if metrics.get("config_hash") != config_hash:
        return None
    hfile = out_dir / HISTORY_FILE
    history = json.loads(hfile.read_text()) if hfile.is_file() else {}
    return RunResult(out_dir, metrics.get("model", "?"), metrics, history, skipped=True)


def _title(metrics: dict, level: str) -> str:
    data = data_label(metrics["dataset"], synthetic=bool(metrics.get("synthetic")))
    return (f"{metrics['name']} — {data}, {level}-level, split {metrics['split']['name']}\n"
            f"{metrics['protocol']}")


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
        A key of :data:`genrenet.models.MODELS` or ``"baseline"``.
    dataset : str or Dataset
        Data set or its registered name (see :func:`resolve_dataset`).
    split : None, "stratified", "fault-filtered", "all" or Split, keyword-only
        Default: a stratified split by track with ``seed``. ``"all"`` trains on
        every track (no test metrics; pass ``reference_metrics``).
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
        Keyword options of the model builder (or of
        :func:`genrenet.baseline.build_baseline` for the baseline).

    Returns
    -------
    RunResult
    """
    from genrenet import __version__
    from genrenet.cache import featurize
    from genrenet.models import display_name, is_sklearn, model_names

    if model_name not in model_names():
        raise ParameterError(f"model must be one of {model_names()}, got {model_name!r}")
    sklearn_model = is_sklearn(model_name)
    for pname, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ParameterError(f"{pname} must be a positive integer, got {value!r}")
    if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
        raise ParameterError(f"patience must be a positive integer or None, got {patience!r}")
    if out_dir is None:
        raise ParameterError("out_dir is required: the directory the run (bundle) is written to")
    out_dir = Path(out_dir)
    ds = resolve_dataset(dataset, data_dir=data_dir, genres=genres)
    spec = _resolve_feature(model_name, feature)
    split = resolve_split(split, ds, seed=seed, splits_dir=splits_dir)
    if augment:
        from genrenet.augment import augment_split

        ds, split = augment_split(ds, split, augment, cache_dir=cache_dir, progress=progress)
    genre_list = ds.genres
    n_classes = len(genre_list)

    config = {
        "model": model_name,
        "dataset": ds.name,
        "dataset_hash": ds.content_hash(),
        "genres": genre_list,
        "feature": spec.key(),
        "split": split.to_dict(),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "patience": patience,
        "class_weight": class_weight,
        "model_kwargs": model_kwargs,
        "save_model": save_model,
        "reference_metrics": reference_metrics,
        "name": name,
        "genrenet": __version__,
    }
    chash = _config_hash(config)
    if not force:
        done = _finished(out_dir, chash)
        if done is not None:
            if progress:
                print(f"train: {out_dir} is finished (same configuration); skipped", file=sys.stderr)
            return done

    fs = featurize(ds, spec, cache_dir=cache_dir, progress=progress)
    # scikit-learn models need no early stopping: they also fit on a validation part that is not scored
    train_idx = list(split.train) + (list(split.val) if sklearn_model and not split.val_heldout else [])
    Xtr, ytr, _ = fs.load(train_idx)
    has_val = len(split.val) > 0 and not sklearn_model
    has_test = len(split.scored) > 0
    if len(Xtr) == 0:
        raise DataError(f"split {split.name!r} leaves no training windows")
    title = name or display_name(model_name)
    started = time.perf_counter()
    history: dict[str, list[float]] = {}
    best_epoch = None
    n_params = None

    from genrenet.repro import set_seed

    set_seed(seed, tensorflow=not sklearn_model)
    if sklearn_model:
        from genrenet.models import fit_sklearn

        opts = {"seed": seed, "class_weight": class_weight, **model_kwargs}
        export = fit_sklearn(model_name, Xtr.reshape(len(Xtr), -1), ytr, n_classes=n_classes, **opts)
        epochs_run = 0
    else:
        from genrenet._tf import keras
        from genrenet.models import build_model

        # uint8 pictures are scaled to [0, 1] in the pipeline; spectrogram features are left as they are
        scale = 255.0 if spec.kind == "image" else 1.0
        import inspect

        from genrenet.models import MODELS

        kwargs = dict(model_kwargs)
        if "seed" in inspect.signature(MODELS[model_name].function()).parameters:
            kwargs.setdefault("seed", seed)
        model = build_model(model_name, spec.shape, n_classes, **kwargs)
        n_params = int(model.count_params())
        cw = class_weights(ytr, n_classes, class_weight)
        train_ds = make_tf_dataset(Xtr, ytr, weights=cw[ytr], batch_size=batch_size, shuffle=True, seed=seed,
                                   scale=scale)
        val_ds = None
        if has_val:
            Xva, yva, _ = fs.load(list(split.val))
            val_ds = make_tf_dataset(Xva, yva, batch_size=batch_size, scale=scale)
        backup = out_dir.parent / f".{out_dir.name}.backup"
        callbacks = [
            _backup_callback(backup),
            keras.callbacks.TerminateOnNaN(),
            _EpochProgress.make(int(epochs), f"{model_name} {out_dir.name}", progress),
        ]
        stopper = None
        if patience is not None and has_val:
            # the first epochs are noisy (batch-norm statistics still settling): never stop in them
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=int(patience), restore_best_weights=True,
                start_from_epoch=min(5, int(epochs) // 3),
            )
            callbacks.append(stopper)
        fit = model.fit(train_ds, validation_data=val_ds, epochs=int(epochs), verbose=0, callbacks=callbacks,
                        shuffle=False)
        history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
        _check_finite_training(history, model, out_dir)
        epochs_run = len(history.get("loss", []))
        if has_val and history.get("val_loss"):
            best_epoch = int(np.argmin(history["val_loss"])) + 1
        export = serving_model(model, scale=scale)
    train_seconds = time.perf_counter() - started

    from genrenet.bundle import versions
    from genrenet.evaluate import evaluate_predictions, figure_png, plot_confusion, predict_proba

    metrics: dict[str, Any] = {
        "kind": "run",
        "model": model_name,
        "name": title,
        "dataset": ds.name,
        "synthetic": bool(getattr(ds, "synthetic", False)),
        "dataset_hash": config["dataset_hash"],
        "genres": genre_list,
        "feature": spec.to_dict(),
        "feature_key": spec.key(),
        "split": {k: v for k, v in split.to_dict().items() if k not in ("train", "val", "test")},
        "protocol": split.protocol,
        "seed": int(seed),
        "epochs": int(epochs),
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "batch_size": int(batch_size),
        "patience": patience,
        "class_weight": class_weight if not isinstance(class_weight, dict) else dict(class_weight),
        "model_kwargs": model_kwargs,
        "n_params": n_params,
        "train_windows": int(len(Xtr)),
        "train_seconds": round(train_seconds, 2),
        "versions": versions(),
        "config_hash": chash,
        "augment": (split.info.get("augment") or {}).get("degradations", []),
    }
    files: dict[str, bytes] = {}
    if has_test:
        Xte, yte, tte = fs.load(list(split.scored))
        probs = predict_proba(export, Xte.reshape(len(Xte), -1) if sklearn_model else Xte)
        if not np.isfinite(probs).all():
            raise ModelError(f"the model trained for {out_dir} predicts NaN or inf on the test windows; "
                             "nothing was written")
        result = evaluate_predictions(probs, yte, tte, genre_list)
        metrics["window"] = result["window"]
        metrics["track"] = result["track"]
        metrics["test_tracks"] = [ds[int(t)].id for t in np.unique(tte)]
        metrics["parts"] = _part_scores(split, probs, yte, tte, genre_list)
        files["confusion.png"] = figure_png(
            plot_confusion(np.array(result["track"]["confusion"]), genre_list, title=_title(metrics, "track"))
        )
        files["confusion_windows.png"] = figure_png(
            plot_confusion(np.array(result["window"]["confusion"]), genre_list, title=_title(metrics, "window"))
        )
    if reference_metrics is not None:
        metrics["reference_metrics"] = reference_metrics
    files[HISTORY_FILE] = (json.dumps(history, indent=2) + "\n").encode()
    files[METRICS_FILE] = (json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n").encode()

    if reference_metrics is not None:
        published = dict(reference_metrics)
    elif has_test:
        published = {
            "accuracy": metrics["track"]["accuracy"],
            "track_accuracy": metrics["track"]["accuracy"],
            "window_accuracy": metrics["window"]["accuracy"],
            "macro_f1": metrics["track"]["macro_f1"],
            "balanced_accuracy": metrics["track"]["balanced_accuracy"],
            "loss": metrics["window"]["loss"],
        }
        for part, scores in metrics["parts"].items():
            published[f"{part}_track_accuracy"] = scores["track_accuracy"]
    else:
        published = {}
    meta = {
        "name": title,
        "model": model_name,
        "genres": genre_list,
        "feature": spec.to_dict(),
        "metrics": published,
        "dataset": ds.name,
        "synthetic": metrics["synthetic"],
        "split": split.name,
        "protocol": (reference_metrics or {}).get("protocol", split.protocol),
        "seed": int(seed),
        "versions": metrics["versions"],
        "input": "raw features from genrenet.features.extract (scaling is inside the model)",
        "augment": metrics["augment"],
    }
    _write_run(out_dir, export if save_model else None, meta, files)
    return RunResult(out_dir, model_name, metrics, history, skipped=False)


def _part_scores(split, probs, y, track_of_window, genres) -> dict[str, dict[str, Any]]:
    """Track and window accuracy on each scored part of the split (``val``, ``test``) on its own."""
    from genrenet.evaluate import evaluate_predictions

    out: dict[str, dict[str, Any]] = {}
    for part in ("val", "test") if split.val_heldout else ("test",):
        mask = np.isin(track_of_window, getattr(split, part))
        if mask.any():
            r = evaluate_predictions(probs[mask], y[mask], track_of_window[mask], genres)
            out[part] = {"tracks": int(len(np.unique(track_of_window[mask]))),
                         "track_accuracy": r["track"]["accuracy"], "window_accuracy": r["window"]["accuracy"],
                         "track_macro_f1": r["track"]["macro_f1"]}
    return out


def _write_run(out_dir: Path, model, meta: dict, files: dict[str, bytes]) -> None:
    from genrenet.bundle import save_bundle
    from genrenet.io import atomic_dir

    if model is not None:
        save_bundle(out_dir, model, meta, extra_files=files)
        return
    with atomic_dir(out_dir) as tmp:  # metrics only (no model file): not a loadable bundle
        for fname, data in files.items():
            (tmp / fname).write_bytes(data)
        (tmp / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")


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
    """
    from tqdm import tqdm

    from genrenet.evaluate import figure_png, metrics_from_confusion, plot_confusion
    from genrenet.io import atomic_write_bytes, atomic_write_json
    from genrenet.splits import grouped_kfold

    if out_dir is None:
        raise ParameterError("out_dir is required: the directory the folds are written to")
    out_dir = Path(out_dir)
    ds = resolve_dataset(dataset, data_dir=data_dir, genres=genres)
    splits = grouped_kfold(ds, n_splits=folds, by=by, seed=seed, val_size=val_size)
    results: list[RunResult] = []
    for k, split in enumerate(tqdm(splits, desc=f"{model_name} folds", unit="fold", disable=not progress,
                                   file=sys.stderr), start=1):
        results.append(
            train(model_name, ds, split=split, seed=seed, out_dir=out_dir / f"fold{k}", save_model=save_models,
                  progress=progress, **train_kwargs)
        )
    genre_list = ds.genres
    first = results[0].metrics
    pooled: dict[str, Any] = {}
    for level in ("window", "track"):
        cm = sum(np.array(r.metrics[level]["confusion"]) for r in results)
        m = metrics_from_confusion(cm, genre_list)
        accs = [r.metrics[level]["accuracy"] for r in results]
        f1s = [r.metrics[level]["macro_f1"] for r in results]
        m.update(fold_accuracy_mean=float(np.mean(accs)), fold_accuracy_std=float(np.std(accs)),
                 fold_macro_f1_mean=float(np.mean(f1s)))
        if level == "window":
            m["loss"] = float(np.mean([r.metrics["window"]["loss"] for r in results]))
        pooled[level] = m
    metrics = {
        "kind": "cross_validation",
        "model": model_name,
        "name": first["name"],
        "dataset": ds.name,
        "synthetic": first["synthetic"],
        "dataset_hash": first["dataset_hash"],
        "genres": genre_list,
        "n_tracks": len(ds),
        "feature": first["feature"],
        "split": {"name": f"{by}-{folds}fold", "protocol": splits[0].protocol, "folds": folds, "by": by},
        "protocol": splits[0].protocol + " (test predictions of all folds pooled)",
        "seed": int(seed),
        "epochs": first["epochs"],
        "batch_size": first["batch_size"],
        "model_kwargs": first["model_kwargs"],
        "n_params": first["n_params"],
        "best_epochs": [r.metrics.get("best_epoch") for r in results],
        "train_seconds_total": round(sum(r.metrics["train_seconds"] for r in results), 2),
        "per_fold": [
            {
                "fold": k,
                "window_accuracy": r.metrics["window"]["accuracy"],
                "track_accuracy": r.metrics["track"]["accuracy"],
                "track_macro_f1": r.metrics["track"]["macro_f1"],
                "epochs_run": r.metrics["epochs_run"],
                "train_seconds": r.metrics["train_seconds"],
                "test_tracks": len(r.metrics.get("test_tracks", [])),
            }
            for k, r in enumerate(results, start=1)
        ],
        "window": pooled["window"],
        "track": pooled["track"],
        "versions": first["versions"],
    }
    atomic_write_json(out_dir / CV_METRICS_FILE, metrics)
    data = data_label(metrics["dataset"], synthetic=bool(metrics["synthetic"]))
    for level, fname in (("track", "confusion.png"), ("window", "confusion_windows.png")):
        title = f"{metrics['name']} — {data}, {level}-level, pooled over {folds} folds\n{splits[0].protocol}"
        atomic_write_bytes(out_dir / fname, figure_png(
            plot_confusion(np.array(pooled[level]["confusion"]), genre_list, title=title)))
    return CVResult(out_dir, model_name, results, metrics)


def published_metrics(cv: CVResult | dict) -> dict[str, Any]:
    """The compact metrics dict stored in a bundle's ``meta.json`` from cross-validation results."""
    m = cv.metrics if isinstance(cv, CVResult) else cv
    if m.get("kind") != "cross_validation":
        raise ModelError("published_metrics expects cross-validation metrics")
    return {
        "accuracy": m["track"]["accuracy"],
        "track_accuracy": m["track"]["accuracy"],
        "window_accuracy": m["window"]["accuracy"],
        "macro_f1": m["track"]["macro_f1"],
        "balanced_accuracy": m["track"]["balanced_accuracy"],
        "loss": m["window"]["loss"],
        "protocol": m["protocol"],
        "dataset": m["dataset"],
    }


def cv_epochs(cv: CVResult | dict, *, default: int) -> tuple[int, str]:
    """The epoch count the folds of a cross-validation chose for the final model, and why.

    The median (rounded up) of the folds' best epochs (lowest validation loss);
    when no fold recorded one (no validation tracks, or the baseline, which has
    no epochs), ``default``.

    Returns
    -------
    (int, str)
        Epochs and the rule in words, e.g. ``"median best epoch of the 5 folds (9, 11, 11, 12, 14) = 11"``.
    """
    from genrenet.models import BASELINE

    m = cv.metrics if isinstance(cv, CVResult) else cv
    if m.get("model") == BASELINE:
        return int(default), "the baseline is fitted in one step (no epochs)"
    best = [int(e) for e in m.get("best_epochs") or [] if e]
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

    ds = resolve_dataset(dataset, data_dir=data_dir, genres=genres)
    if name is not None:
        train_kwargs["name"] = name
    cv = cross_validate(model_name, ds, folds=folds, by=by, out_dir=out_dir, seed=seed, val_size=val_size,
                        epochs=epochs, progress=progress, **train_kwargs)
    n_epochs, rule = cv_epochs(cv, default=epochs)
    reference = {**published_metrics(cv), "epochs": n_epochs, "epochs_rule": rule, "folds": int(folds)}
    final = train(model_name, ds, split="all", seed=seed, epochs=n_epochs, out_dir=cv.out_dir / FINAL_DIR,
                  reference_metrics=reference, progress=progress, **train_kwargs)
    cv.metrics["final"] = {"path": FINAL_DIR, "epochs": n_epochs, "epochs_rule": rule, "split": "all",
                           "train_tracks": len(ds)}
    atomic_write_json(cv.out_dir / CV_METRICS_FILE, cv.metrics)
    cv.final = final
    return cv


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up C++ log lines (oneDNN notice...) kept off stderr.

    Notebooks call this first so their outputs show results, not log noise; the silencing
    itself lives in :mod:`genrenet._tf`, which every TensorFlow import goes through.
    """
    import genrenet._tf  # noqa: F401
