"""The four models of the thesis, layer for layer.

The thesis trained four Keras models on 200×200 RGB spectrogram images of four
genres (classical, country, metal, pop). With their default arguments the
builders below reproduce exactly the layer lists, output shapes and parameter
counts printed in the thesis (feed-forward 40,146,772; LeNet 4,720,284; CNN
9,104,708; LSTM 18,941,980). Nothing is added to the summary: pixel scaling
(``uint8`` → ``[0, 1]``) happens in the data pipeline of :mod:`genrenet.train`,
and the bundle saved for prediction wraps the model in a ``Rescaling`` layer
(see :func:`genrenet.train.serving_model`).

Keyword options change the input shape, the number of classes, the widths,
dropout and the optimiser; the Keras Tuner hypermodels of
:mod:`genrenet.tuning` search over them.

Used in the book chapter ``book/dev_models.md`` and the notebook
``notebooks/train_model.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

from genrenet._tf import keras
from genrenet._validate import positive_int
from genrenet.errors import ParameterError

__all__ = [
    "OPTIMIZERS",
    "make_optimizer",
    "build_feed_forward",
    "build_lenet",
    "build_cnn",
    "build_lstm",
]

THESIS_INPUT = (200, 200, 3)
THESIS_CLASSES = 4

#: Optimiser names accepted by every builder, mapped to their Keras classes.
OPTIMIZERS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "nadam": "Nadam",
    "adagrad": "Adagrad",
}


def make_optimizer(optimizer: str, learning_rate: float):
    """Return a fresh Keras optimiser.

    Parameters
    ----------
    optimizer : str
        One of :data:`OPTIMIZERS` (case-insensitive).
    learning_rate : float
        Positive learning rate.

    Returns
    -------
    keras.optimizers.Optimizer

    Raises
    ------
    ParameterError
        For an unknown name or a non-positive learning rate.
    """
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ParameterError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    _check_float("learning_rate", learning_rate, low=0.0, low_inclusive=False)
    cls = getattr(keras.optimizers, OPTIMIZERS[optimizer.lower()])
    return cls(learning_rate=float(learning_rate))


def _check_float(name: str, value, *, low: float, high: float | None = None, low_inclusive: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if v != v or (v < low if low_inclusive else v <= low) or (high is not None and v >= high):
        bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and < {high}" if high is not None else "")
        raise ParameterError(f"{name} must be {bound}, got {value!r}")
    return v


def _check_int(name: str, value) -> int:
    return positive_int(name, value)


def _check_filters(name: str, value, n: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != n:
        raise ParameterError(f"{name} must be a sequence of {n} positive integers, got {value!r}")
    return tuple(_check_int(f"{name}[{i}]", v) for i, v in enumerate(value))


def check_input(input_shape, n_classes, *, min_size: int = 1) -> tuple[tuple[int, int, int], int]:
    """Validate an image-like ``(height, width, channels)`` input shape and a class count."""
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or len(input_shape) != 3:
        raise ParameterError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    shape = tuple(_check_int(f"input_shape[{i}]", v) for i, v in enumerate(input_shape))
    if shape[0] < min_size or shape[1] < min_size:
        raise ParameterError(
            f"input_shape {shape} is too small for this model: height and width must be at least {min_size}"
        )
    n = _check_int("n_classes", n_classes)
    if n < 2:
        raise ParameterError(f"n_classes must be at least 2, got {n_classes!r}")
    return shape, n


def _compile(model, optimizer: str, learning_rate: float):
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _dropout(rate: float, name: str) -> list:
    return [keras.layers.Dropout(rate, name=name)] if rate > 0 else []


def build_feed_forward(
    input_shape=THESIS_INPUT,
    n_classes: int = THESIS_CLASSES,
    *,
    filters: int = 64,
    units: int = 16,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
):
    """The thesis's "feed-forward" model: one convolution, then two dense layers.

    Conv2D(64, 3×3) → Flatten → Dense(16) → Dense(4, softmax); 40,146,772
    parameters on 200×200×3 input.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``; the thesis used ``(200, 200, 3)``.
    n_classes : int
        Number of genres (output units).
    filters : int, keyword-only
        Filters of the convolution.
    units : int, keyword-only
        Units of the hidden dense layer.
    dropout : float, keyword-only
        Dropout rate in ``[0, 1)`` after the flatten and the hidden dense layer;
        0 (the thesis) adds no dropout layer.
    learning_rate : float, keyword-only
    optimizer : str, keyword-only
        One of :data:`OPTIMIZERS`.

    Returns
    -------
    keras.Model
        Compiled with sparse categorical cross-entropy and accuracy.
    """
    shape, n = check_input(input_shape, n_classes, min_size=3)
    filters = _check_int("filters", filters)
    units = _check_int("units", units)
    dropout = _check_float("dropout", dropout, low=0.0, high=1.0)
    layers = [
        keras.Input(shape=shape),
        keras.layers.Conv2D(filters, (3, 3), activation="relu", name="conv2d"),
        keras.layers.Flatten(name="flatten"),
        *_dropout(dropout, "dropout"),
        keras.layers.Dense(units, activation="relu", name="dense"),
        *_dropout(dropout, "dropout_1"),
        keras.layers.Dense(n, activation="softmax", name="dense_1"),
    ]
    return _compile(keras.Sequential(layers, name="feed_forward"), optimizer, learning_rate)


def _lenet_stack(shape, filters) -> list:
    f1, f2 = filters
    return [
        keras.Input(shape=shape),
        keras.layers.Conv2D(f1, (3, 3), activation="relu", name="conv2d"),
        keras.layers.AveragePooling2D((2, 2), name="average_pooling2d"),
        keras.layers.Conv2D(f2, (3, 3), activation="relu", name="conv2d_1"),
        keras.layers.AveragePooling2D((2, 2), name="average_pooling2d_1"),
        keras.layers.Flatten(name="flatten"),
    ]


def build_lenet(
    input_shape=THESIS_INPUT,
    n_classes: int = THESIS_CLASSES,
    *,
    filters=(6, 16),
    units: int = 128,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
):
    """The thesis's LeNet: two convolution + average-pooling stages and two dense layers.

    Conv2D(6) → AvgPool → Conv2D(16) → AvgPool → Flatten → Dense(128) →
    Dense(4, softmax); 4,720,284 parameters on 200×200×3 input (LeCun et al. 1998).

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``, at least 10×10.
    n_classes : int
    filters : (int, int), keyword-only
        Filters of the two convolutions.
    units : int, keyword-only
        Units of the hidden dense layer.
    dropout : float, keyword-only
        Dropout rate after the flatten and the hidden dense layer (0: none).
    learning_rate : float, keyword-only
    optimizer : str, keyword-only

    Returns
    -------
    keras.Model
        Compiled.
    """
    shape, n = check_input(input_shape, n_classes, min_size=10)
    filters = _check_filters("filters", filters, 2)
    units = _check_int("units", units)
    dropout = _check_float("dropout", dropout, low=0.0, high=1.0)
    layers = [
        *_lenet_stack(shape, filters),
        *_dropout(dropout, "dropout"),
        keras.layers.Dense(units, activation="relu", name="dense"),
        *_dropout(dropout, "dropout_1"),
        keras.layers.Dense(n, activation="softmax", name="dense_1"),
    ]
    return _compile(keras.Sequential(layers, name="lenet"), optimizer, learning_rate)


def build_cnn(
    input_shape=THESIS_INPUT,
    n_classes: int = THESIS_CLASSES,
    *,
    filters=(32, 64, 64),
    units: int = 64,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
):
    """The thesis's CNN (its best model, 77.04 % accuracy on its four genres).

    Conv2D(32, same) → MaxPool → Conv2D(64) → MaxPool → Conv2D(64) → Flatten →
    Dense(64) → Dense(4, softmax); 9,104,708 parameters on 200×200×3 input.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``, at least 14×14.
    n_classes : int
    filters : (int, int, int), keyword-only
        Filters of the three convolutions.
    units : int, keyword-only
        Units of the hidden dense layer.
    dropout : float, keyword-only
        Dropout rate after the flatten and the hidden dense layer (0: none).
    learning_rate : float, keyword-only
    optimizer : str, keyword-only

    Returns
    -------
    keras.Model
        Compiled.
    """
    shape, n = check_input(input_shape, n_classes, min_size=14)
    f1, f2, f3 = _check_filters("filters", filters, 3)
    units = _check_int("units", units)
    dropout = _check_float("dropout", dropout, low=0.0, high=1.0)
    layers = [
        keras.Input(shape=shape),
        keras.layers.Conv2D(f1, (3, 3), padding="same", activation="relu", name="conv2d"),
        keras.layers.MaxPooling2D((2, 2), name="max_pooling2d"),
        keras.layers.Conv2D(f2, (3, 3), activation="relu", name="conv2d_1"),
        keras.layers.MaxPooling2D((2, 2), name="max_pooling2d_1"),
        keras.layers.Conv2D(f3, (3, 3), activation="relu", name="conv2d_2"),
        keras.layers.Flatten(name="flatten"),
        *_dropout(dropout, "dropout"),
        keras.layers.Dense(units, activation="relu", name="dense"),
        *_dropout(dropout, "dropout_1"),
        keras.layers.Dense(n, activation="softmax", name="dense_1"),
    ]
    return _compile(keras.Sequential(layers, name="cnn"), optimizer, learning_rate)


def build_lstm(
    input_shape=THESIS_INPUT,
    n_classes: int = THESIS_CLASSES,
    *,
    filters=(6, 16),
    lstm_units: int = 128,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
):
    """The thesis's LSTM model: LeNet's convolution stack feeding an LSTM.

    LeNet's Conv/AvgPool stack → Flatten → Reshape(1, n) → LSTM(128) →
    Dense(4, softmax); 18,941,980 parameters on 200×200×3 input. As in the
    thesis the LSTM sees a sequence of length one (the whole flattened map).

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``, at least 10×10.
    n_classes : int
    filters : (int, int), keyword-only
        Filters of the two convolutions.
    lstm_units : int, keyword-only
        Units of the LSTM.
    dropout : float, keyword-only
        Dropout rate on the LSTM input (0: no dropout layer).
    learning_rate : float, keyword-only
    optimizer : str, keyword-only

    Returns
    -------
    keras.Model
        Compiled.
    """
    shape, n = check_input(input_shape, n_classes, min_size=10)
    filters = _check_filters("filters", filters, 2)
    lstm_units = _check_int("lstm_units", lstm_units)
    dropout = _check_float("dropout", dropout, low=0.0, high=1.0)
    stack = _lenet_stack(shape, filters)
    h, w = shape[0], shape[1]
    for _ in range(2):  # valid 3×3 convolution, then 2×2 pooling
        h, w = (h - 2) // 2, (w - 2) // 2
    flat = h * w * filters[1]
    layers = [
        *stack,
        keras.layers.Reshape((1, flat), name="reshape"),
        *_dropout(dropout, "dropout"),
        keras.layers.LSTM(lstm_units, name="lstm"),
        keras.layers.Dense(n, activation="softmax", name="dense"),
    ]
    return _compile(keras.Sequential(layers, name="lstm"), optimizer, learning_rate)
