"""Transfer models: small classifiers ("heads") on pretrained musicnn embeddings.

The embeddings (:mod:`genrenet.embeddings`, feature kind ``"embedding"``) already describe
timbre, rhythm and style; a head only has to map them to genres, which a few hundred
labelled clips are enough for. Two heads, registered like every other model:

``transfer_linear`` (:func:`fit_linear_head`)
    Standardisation and a multinomial logistic regression on one vector per track: the
    mean and standard deviation of its patches' embeddings (feature preset
    ``"musicnn_track"``). A scikit-learn pipeline, stored as ``model.joblib``.
``transfer_mlp`` (:func:`build_embedding_head`)
    A Keras network on every 3 s patch's embedding (preset ``"musicnn"``): batch
    normalisation of the inputs, one hidden layer with dropout, softmax. A track's
    genre is the mean of its patches' probabilities, as for the other networks.

Used in the book chapter "The models" (``book/dev_models.md``) and the notebook
``notebooks/train_model.ipynb`` (``model = "transfer_linear"`` / ``"transfer_mlp"``); the
shipped default model is a ``transfer_linear`` bundle.
"""

from __future__ import annotations

import numpy as np

from genrenet._validate import int_at_least, positive_int
from genrenet.errors import ParameterError
from genrenet.repro import DEFAULT_SEED

__all__ = ["build_linear_head", "fit_linear_head", "build_embedding_head"]


def build_linear_head(*, C: float = 0.1, class_weight: str | None = "balanced", seed: int = DEFAULT_SEED):
    """An unfitted pipeline: ``StandardScaler`` then multinomial ``LogisticRegression``.

    Parameters
    ----------
    C : float, keyword-only
        Inverse L2 regularisation strength (> 0). The embeddings have hundreds of
        dimensions and the data sets few clips, so the default regularises firmly.
    class_weight : "balanced" or None, keyword-only
        Weight classes inversely to their frequency.
    seed : int, keyword-only
        Seed of the solver.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> head = build_linear_head(C=0.5)
    >>> [name for name, _ in head.steps]
    ['scale', 'clf']
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    try:
        C = float(C)
    except (TypeError, ValueError):
        raise ParameterError(f"C must be a positive number, got {C!r}") from None
    if not C > 0 or not np.isfinite(C):
        raise ParameterError(f"C must be a positive number, got {C!r}")
    if class_weight not in ("balanced", None):
        raise ParameterError(f"class_weight must be 'balanced' or None, got {class_weight!r}")
    clf = LogisticRegression(C=C, max_iter=5000, class_weight=class_weight, random_state=seed)
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def fit_linear_head(X, y, *, n_classes: int | None = None, **options):
    """Build and fit :func:`build_linear_head` on track embeddings.

    Parameters
    ----------
    X : array, shape (n_tracks, dim)
        Track-pooled embeddings (finite).
    y : array of int, shape (n_tracks,)
        Class index of each row.
    n_classes : int, keyword-only, optional
        Total number of classes; every one must occur in ``y``.
    **options
        Passed to :func:`build_linear_head` (``C``, ``class_weight``, ``seed``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted; ``predict_proba`` gives one column per class.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) == 0 or y.shape != (len(X),):
        raise ParameterError(f"X must be (n, dim) with one label per row, got X {X.shape} and y {y.shape}")
    if not np.isfinite(X).all():
        raise ParameterError("X contains NaN or infinite values")
    classes = np.unique(y)
    if n_classes is not None and not np.array_equal(classes, np.arange(n_classes)):
        missing = sorted(set(range(n_classes)) - set(classes.tolist()))
        raise ParameterError(f"y lacks classes {missing}: every class needs training tracks")
    if len(classes) < 2:
        raise ParameterError("y must contain at least two classes")
    return build_linear_head(**options).fit(X, y)


def build_embedding_head(input_shape, n_classes: int, *, hidden: int = 256, dropout: float = 0.5,
                         learning_rate: float = 1e-3, l2: float = 1e-4, seed: int = DEFAULT_SEED):
    """A compiled Keras head for per-patch embeddings.

    ``BatchNormalization`` (standardises the embedding's very differently scaled
    dimensions) → ``Dropout`` → ``Dense(hidden, relu)`` with L2 → ``Dropout`` → ``Dense(softmax)``.

    Parameters
    ----------
    input_shape : tuple of int
        ``(dim,)``, the embedding size (e.g. 1506 for ``"musicnn"``).
    n_classes : int
        Number of genres (>= 2).
    hidden : int, keyword-only
        Units of the hidden layer.
    dropout : float, keyword-only
        Dropout rate in [0, 1).
    learning_rate : float, keyword-only
        Adam's learning rate.
    l2 : float, keyword-only
        L2 penalty of the dense kernels (>= 0).
    seed : int, keyword-only
        Seed of the initialisers and dropout.

    Returns
    -------
    keras.Model
        Compiled with sparse categorical cross-entropy and accuracy.
    """
    from genrenet._tf import keras

    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 1 or shape[0] < 1:
        raise ParameterError(f"input_shape must be (dim,) for an embedding head, got {input_shape!r}")
    int_at_least("n_classes", n_classes, 2)
    positive_int("hidden", hidden)
    if not 0.0 <= float(dropout) < 1.0:
        raise ParameterError(f"dropout must lie in [0, 1), got {dropout!r}")
    if not float(learning_rate) > 0 or not float(l2) >= 0:
        raise ParameterError(f"learning_rate must be > 0 and l2 >= 0, got {learning_rate!r}, {l2!r}")
    reg = keras.regularizers.L2(float(l2)) if l2 else None
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input(shape=shape, name="embedding")
    x = keras.layers.BatchNormalization(name="standardise")(inputs)
    x = keras.layers.Dropout(float(dropout), seed=seed, name="input_dropout")(x)
    x = keras.layers.Dense(int(hidden), activation="relu", kernel_initializer=init, kernel_regularizer=reg,
                           name="hidden")(x)
    x = keras.layers.Dropout(float(dropout), seed=seed + 1, name="hidden_dropout")(x)
    outputs = keras.layers.Dense(int(n_classes), activation="softmax", kernel_regularizer=reg, name="genre")(x)
    model = keras.Model(inputs, outputs, name="transfer_mlp")
    model.compile(optimizer=keras.optimizers.Adam(float(learning_rate)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
