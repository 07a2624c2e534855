"""A compact modern CNN for log-mel windows (the project's default model).

The thesis's models take 200×200 RGB pictures of spectrograms and carry
millions of parameters in their dense layers. This model reads the log-mel
spectrogram itself (one channel, ``(n_mels, frames, 1)``) and is small enough
to answer a web request on a CPU in a few milliseconds:

* per-window standardisation inside the model (a ``LayerNormalization`` over
  all axes without scale or offset: zero mean, unit variance per window), so
  loudness and the dB reference do not matter and no statistics need saving;
* SpecAugment-style masking (Park et al. 2019): random frequency bands and time
  spans of each training window are set to zero (the mean after
  standardisation); active only in training;
* ``depth`` convolution blocks (batch normalisation with momentum 0.9, so its
  running statistics settle within the few hundred steps a small data set
  gives; ReLU; 2×2 max pooling):
  an ordinary convolution first, depthwise-separable convolutions after it,
  doubling the width each block up to ``8 × width``; He-normal initialisation,
  so activations start with about unit variance, as the batch-norm running
  statistics assume (with Glorot's smaller weights the first epochs predicted
  one class in inference mode on small data sets);
* global average and max pooling, dropout and a softmax layer.

:func:`inference_model` returns the same network without the masking layer
(only built-in Keras layers), which is what bundles store, so loading a bundle
needs nothing from genrenet.

Used in the book chapter ``book/dev_models.md`` and the notebooks
``notebooks/train_model.ipynb`` and ``notebooks/results.ipynb``.
"""

from __future__ import annotations

from genrenet._tf import keras, tf
from genrenet._validate import non_negative_int
from genrenet.errors import ParameterError
from genrenet.models.thesis import _check_float, _check_int, check_input, make_optimizer

__all__ = ["SpecAugment", "build_compact_cnn", "inference_model"]


@keras.saving.register_keras_serializable(package="genrenet")
class SpecAugment(keras.layers.Layer):
    """Frequency and time masking of ``(batch, freq, time, channels)`` inputs, in training only.

    Parameters
    ----------
    freq_masks, time_masks : int
        Number of bands masked per example along each axis.
    max_freq_frac, max_time_frac : float
        Largest band width as a fraction of the axis length; each band's width
        is drawn uniformly from ``[0, max * length]``.
    seed : int or None
        Seed of the layer's random generator.
    """

    def __init__(self, freq_masks=2, time_masks=2, max_freq_frac=0.15, max_time_frac=0.15, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.freq_masks = int(freq_masks)
        self.time_masks = int(time_masks)
        self.max_freq_frac = float(max_freq_frac)
        self.max_time_frac = float(max_time_frac)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _mask(self, batch, length, n_masks, max_frac):
        # Boolean (batch, length) mask: True where any of n_masks random bands covers the index.
        idx = tf.range(length)[None, :]
        masked = tf.zeros((batch, length), dtype=tf.bool)
        max_width = tf.cast(tf.cast(length, tf.float32) * max_frac, tf.float32)
        for _ in range(n_masks):
            u = keras.random.uniform((batch, 2), seed=self.seed_generator)
            width = tf.cast(tf.floor(u[:, 0] * (max_width + 1.0)), tf.int32)
            start = tf.cast(tf.floor(u[:, 1] * tf.cast(length - width + 1, tf.float32)), tf.int32)
            band = (idx >= start[:, None]) & (idx < (start + width)[:, None])
            masked = masked | band
        return masked

    def call(self, inputs, training=None):
        if not training or (self.freq_masks == 0 and self.time_masks == 0):
            return inputs
        shape = tf.shape(inputs)
        batch, n_freq, n_time = shape[0], shape[1], shape[2]
        keep = tf.ones_like(inputs[..., :1], dtype=tf.bool)[..., 0]
        if self.freq_masks:
            f = self._mask(batch, n_freq, self.freq_masks, self.max_freq_frac)
            keep = keep & ~f[:, :, None]
        if self.time_masks:
            t = self._mask(batch, n_time, self.time_masks, self.max_time_frac)
            keep = keep & ~t[:, None, :]
        return inputs * tf.cast(keep, inputs.dtype)[..., None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            freq_masks=self.freq_masks,
            time_masks=self.time_masks,
            max_freq_frac=self.max_freq_frac,
            max_time_frac=self.max_time_frac,
            seed=self.seed,
        )
        return config


def build_compact_cnn(
    input_shape=(128, 130, 1),
    n_classes: int = 10,
    *,
    width: int = 32,
    depth: int = 4,
    dropout: float = 0.3,
    spec_augment: bool = True,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
    freq_masks: int = 2,
    time_masks: int = 2,
    weight_decay: float = 1e-4,
    stem_stride: int = 2,
    seed: int | None = None,
):
    """Build and compile the compact log-mel CNN.

    Parameters
    ----------
    input_shape : tuple of int
        ``(n_mels, frames, channels)`` of one window; the ``"logmel"`` preset
        gives ``(128, 130, 1)`` for 3-second windows.
    n_classes : int
        Number of genres.
    width : int, keyword-only
        Filters of the first block; each further block doubles it, up to ``8 × width``.
    depth : int, keyword-only
        Number of convolution blocks, each halving both axes (1–6); the input
        must be at least ``2**depth`` in both axes.
    dropout : float, keyword-only
        Dropout rate before the output layer, in ``[0, 1)``.
    spec_augment : bool, keyword-only
        Add the training-only :class:`SpecAugment` masking layer.
    learning_rate : float, keyword-only
    optimizer : str, keyword-only
        One of :data:`genrenet.models.thesis.OPTIMIZERS`.
    freq_masks, time_masks : int, keyword-only
        Bands masked per window along each axis when ``spec_augment`` is on.
    weight_decay : float, keyword-only
        L2 penalty on the convolution and dense kernels (0 disables it).
    stem_stride : int, keyword-only
        Stride of the first convolution (2 quarters the cost of every later
        layer; the input must then be at least ``2**(depth+1)`` in both axes).
    seed : int or None, keyword-only
        Seed of the masking layer (the training runner passes its seed).

    Returns
    -------
    keras.Model
        Compiled with sparse categorical cross-entropy and accuracy.
    """
    shape, n, depth, stem_stride, width, dropout, weight_decay = _check_options(
        input_shape, n_classes, width=width, depth=depth, dropout=dropout, spec_augment=spec_augment,
        freq_masks=freq_masks, time_masks=time_masks, weight_decay=weight_decay, stem_stride=stem_stride,
    )
    reg = keras.regularizers.L2(weight_decay) if weight_decay > 0 else None

    inputs = keras.Input(shape=shape, name="logmel")
    x = keras.layers.LayerNormalization(axis=[1, 2, 3], center=False, scale=False, epsilon=1e-3, name="standardize")(
        inputs
    )
    if spec_augment:
        x = SpecAugment(freq_masks=freq_masks, time_masks=time_masks, seed=seed, name="spec_augment")(x)
    for i in range(depth):
        x = _conv_block(x, i, width * min(2**i, 8), stem_stride=stem_stride, reg=reg)
    x = keras.layers.Concatenate(name="pool_stats")(
        [keras.layers.GlobalAveragePooling2D(name="gap")(x), keras.layers.GlobalMaxPooling2D(name="gmp")(x)]
    )
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(n, activation="softmax", kernel_regularizer=reg, name="genre")(x)
    model = keras.Model(inputs, outputs, name="compact_cnn")
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _check_options(input_shape, n_classes, *, width, depth, dropout, spec_augment, freq_masks, time_masks,
                   weight_decay, stem_stride) -> tuple:
    """Checked ``(shape, n_classes, depth, stem_stride, width, dropout, weight_decay)`` of :func:`build_compact_cnn`."""
    depth = _check_int("depth", depth)
    if depth > 6:
        raise ParameterError(f"depth must be between 1 and 6, got {depth!r}")
    stem_stride = _check_int("stem_stride", stem_stride)
    if stem_stride > 4:
        raise ParameterError(f"stem_stride must be between 1 and 4, got {stem_stride!r}")
    shape, n = check_input(input_shape, n_classes)
    need = 2**depth * stem_stride
    if min(shape[:2]) < need:
        raise ParameterError(
            f"input_shape {shape} is too small for depth={depth} and stem_stride={stem_stride}: "
            f"both axes must be at least {need}"
        )
    width = _check_int("width", width)
    dropout = _check_float("dropout", dropout, low=0.0, high=1.0)
    weight_decay = _check_float("weight_decay", weight_decay, low=0.0)
    if not isinstance(spec_augment, bool):
        raise ParameterError(f"spec_augment must be True or False, got {spec_augment!r}")
    for name, value in (("freq_masks", freq_masks), ("time_masks", time_masks)):
        non_negative_int(name, value)
    return shape, n, depth, stem_stride, width, dropout, weight_decay


def _conv_block(x, i: int, filters: int, *, stem_stride: int, reg):
    """Block ``i + 1``: a strided stem convolution (first) or a separable one, then BN, ReLU and 2x2 pooling."""
    if i == 0:
        conv = keras.layers.Conv2D(
            filters, 3, strides=stem_stride, padding="same", use_bias=False, kernel_regularizer=reg,
            kernel_initializer="he_normal", name=f"conv{i + 1}",
        )
    else:
        conv = keras.layers.SeparableConv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            depthwise_regularizer=reg,
            pointwise_regularizer=reg,
            depthwise_initializer="he_normal",
            pointwise_initializer="he_normal",
            name=f"sepconv{i + 1}",
        )
    x = conv(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
    x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
    return keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)


def inference_model(model):
    """Return ``model`` with every :class:`SpecAugment` layer replaced by an identity.

    The masking is the identity outside training, so predictions are unchanged;
    the result uses only built-in Keras layers and shares no state with
    ``model`` (weights are copied). Models without such a layer are returned as is.
    """
    if not any(isinstance(layer, SpecAugment) for layer in model.layers):
        return model

    def clone(layer):
        if isinstance(layer, SpecAugment):
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
