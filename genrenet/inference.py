"""One inference path: window features in, genre probabilities out, for Keras and scikit-learn models.

A *runner* wraps a trained model once and is then called with arrays of window
features ``(n, *spec.shape)``, exactly as :func:`genrenet.features.extract` returns
them (any input scaling is a layer inside a saved Keras model, see
:func:`genrenet.train.serving_model`); it answers ``(n, n_genres)`` float64
probabilities in the bundle's genre order.

* :class:`KerasRunner` compiles the model once into a ``tf.function`` with a fixed
  input signature (any batch size), traces it at construction and feeds it batches of
  at most ``batch_size`` windows, converting one batch at a time (the input may be a
  memory map larger than RAM).
* :class:`SklearnRunner` flattens each window, calls ``predict_proba`` under a lock
  and reorders the estimator's classes to the bundle's genres.

Which runner a model gets is decided once: by the bundle's file (:attr:`genrenet.bundle.Bundle.framework`),
by the model registry for a model just trained (:func:`genrenet.models.is_sklearn`),
or by :func:`genrenet.bundle.framework_of` for another model object.

Training scores its test windows (:mod:`genrenet.train`), evaluation scores a bundle on
labelled audio (:mod:`genrenet.evaluate`) and the predictor classifies uploads
(:mod:`genrenet.predict`) through this module. Used in the book pages ``book/results.md``
and ``book/dev_website.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrenet._validate import positive_int
from genrenet.errors import ModelError, ParameterError

__all__ = ["DEFAULT_BATCH", "KerasRunner", "SklearnRunner", "make_runner", "bundle_runner", "as_probabilities"]

#: Windows per model call (bounds memory for long inputs).
DEFAULT_BATCH = 64


def as_probabilities(P: np.ndarray) -> np.ndarray:
    """Softmax of rows that are not already probability vectors (models that output logits)."""
    P = np.asarray(P, dtype=np.float64)
    if P.size and (P.min() < 0 or np.abs(P.sum(axis=1) - 1.0).max() > 1e-3):
        P = np.exp(P - P.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
    return P


def _check_batch_size(batch_size: Any) -> int:
    return positive_int("batch_size", batch_size)


class KerasRunner:
    """A Keras model compiled once into a graph function with a fixed input signature.

    Parameters
    ----------
    model : keras.Model
        Takes raw features (scaling inside), answers one probability per genre.
    feature_shape : tuple of int
        Shape of one window (``spec.shape``); checked against the model's input.
    n_classes : int
        Number of genres; checked against the model's output.
    where : Path or str
        The bundle or run the model belongs to, for error messages.
    batch_size : int, keyword-only
        Windows per graph call.
    """

    def __init__(self, model: Any, feature_shape: Sequence[int], n_classes: int, where: Path | str, *,
                 batch_size: int = DEFAULT_BATCH):
        from genrenet._tf import tf

        feature_shape = tuple(int(d) for d in feature_shape)
        input_shape = tuple(model.inputs[0].shape[1:])
        if len(input_shape) != len(feature_shape) or any(
            m is not None and m != f for m, f in zip(input_shape, feature_shape, strict=False)
        ):
            raise ModelError(f"bundle {where}: model input shape {input_shape} does not match the "
                             f"feature shape {feature_shape} of its meta.json feature spec")
        n_out = int(model.outputs[0].shape[-1])
        if n_out != n_classes:
            raise ModelError(f"bundle {where}: model has {n_out} outputs but meta.json lists {n_classes} genres")
        self.batch_size = _check_batch_size(batch_size)
        self.dtype = np.dtype(model.inputs[0].dtype)
        self._tf = tf
        signature = [tf.TensorSpec(shape=(None, *feature_shape), dtype=tf.as_dtype(self.dtype))]

        @tf.function(input_signature=signature)
        def infer(x):
            return model(x, training=False)

        self._infer = infer
        self._model = model  # keep the variables alive
        # Trace now, so that no request pays for graph construction.
        infer(tf.zeros((1, *feature_shape), dtype=tf.as_dtype(self.dtype)))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(len(X), n_genres)`` of the windows ``X``."""
        if len(X) == 0:
            raise ParameterError("X is empty: nothing to predict")
        parts = []
        for start in range(0, len(X), self.batch_size):
            xb = np.ascontiguousarray(X[start: start + self.batch_size], dtype=self.dtype)
            parts.append(self._infer(self._tf.constant(xb)).numpy())
        return as_probabilities(np.concatenate(parts, axis=0))


class SklearnRunner:
    """A scikit-learn classifier with ``predict_proba``, outputs reordered to the bundle's genres.

    Parameters
    ----------
    model : estimator
    genres : sequence of str
        The bundle's genres. The estimator's ``classes_`` are genre names or indices into them.
    where : Path or str
        For error messages.
    """

    def __init__(self, model: Any, genres: Sequence[str], where: Path | str):
        if not hasattr(model, "predict_proba"):
            raise ModelError(f"bundle {where}: scikit-learn model has no predict_proba")
        genres = list(genres)
        self._model = model
        self._lock = threading.Lock()
        order: list[int] = []
        for c in list(getattr(model, "classes_", range(len(genres)))):
            if isinstance(c, str | np.str_):
                if str(c) not in genres:
                    raise ModelError(f"bundle {where}: model class {str(c)!r} is not among the genres {genres}")
                order.append(genres.index(str(c)))
            else:
                if not 0 <= int(c) < len(genres):
                    raise ModelError(f"bundle {where}: model class index {int(c)} is outside the {len(genres)} genres")
                order.append(int(c))
        self._order = np.asarray(order)
        self._n = len(genres)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(len(X), n_genres)`` of the windows ``X`` (each flattened to one vector)."""
        if len(X) == 0:
            raise ParameterError("X is empty: nothing to predict")
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        with self._lock:  # estimators are not documented as thread-safe
            P = np.asarray(self._model.predict_proba(X), dtype=np.float64)
        out = np.zeros((len(X), self._n))
        out[:, self._order] = P
        return as_probabilities(out)


def make_runner(model: Any, *, framework: str, spec, genres: Sequence[str], where: Path | str,
                batch_size: int = DEFAULT_BATCH):
    """The runner of a model whose framework is known.

    Parameters
    ----------
    model : keras.Model or estimator
    framework : {"keras", "sklearn"}, keyword-only
    spec : FeatureSpec, keyword-only
        The features the model takes.
    genres : sequence of str, keyword-only
        Its genres, in output order.
    where : Path or str, keyword-only
        The bundle or run, for error messages.
    batch_size : int, keyword-only
        Windows per Keras call.

    Returns
    -------
    KerasRunner or SklearnRunner
    """
    if framework == "keras":
        return KerasRunner(model, spec.shape, len(genres), where, batch_size=batch_size)
    if framework == "sklearn":
        return SklearnRunner(model, genres, where)
    raise ParameterError(f"framework must be 'keras' or 'sklearn', got {framework!r}")


def bundle_runner(bundle, *, batch_size: int = DEFAULT_BATCH):
    """The runner of a loaded :class:`genrenet.bundle.Bundle` (its file decides Keras or scikit-learn)."""
    return make_runner(bundle.model, framework=bundle.framework, spec=bundle.meta.feature,
                       genres=bundle.meta.genres, where=bundle.path, batch_size=batch_size)
