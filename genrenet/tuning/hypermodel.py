"""The Keras Tuner ``HyperModel`` over one genrenet architecture.

:class:`GenreHyperModel` declares a search space of
:mod:`genrenet.tuning.space` on each trial's hyperparameters and builds the
model with :func:`genrenet.models.build_model`. It also declares the training
data's fingerprint as a fixed hyperparameter, so that a distributed worker
whose data differ from the chief's refuses to train. Its ``fit`` feeds window
arrays through the training runner's own pipeline
(:func:`genrenet.train.make_tf_dataset`: shuffled with the seed, gathered batch
by batch, divided by the input scale), so a trial sees its data exactly as
:func:`genrenet.train.train` would, and every trial the same shuffling whichever
worker runs it.

This module imports Keras Tuner (hence TensorFlow) when it is imported; the
package :mod:`genrenet.tuning` loads it only when ``GenreHyperModel`` is first
asked for, so ``import genrenet.tuning`` stays light.

Used in the book chapter "Tuning the models" (``book/dev_tuning.md``) and the
notebook ``notebooks/tuning.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from genrenet._tf import keras  # sets TensorFlow's environment before Keras Tuner imports it
from genrenet.repro import DEFAULT_SEED
from genrenet.tuning.space import FINGERPRINT_HP, declare, search_space

import keras_tuner  # isort: skip - after genrenet._tf

__all__ = ["GenreHyperModel"]


class GenreHyperModel(keras_tuner.HyperModel):
    """A Keras Tuner ``HyperModel`` over one genrenet architecture.

    Parameters
    ----------
    model_name : str
        One of the keys of :data:`genrenet.tuning.SEARCH_SPACES`
        (``feed_forward``, ``lenet``, ``cnn``, ``lstm``, ``compact_cnn``, ``transfer_mlp``).
    input_shape : sequence of int
        Shape of one input window, e.g. ``(128, 130, 1)``.
    n_classes : int
        Number of genres.
    space : mapping, keyword-only, optional
        Overrides of :data:`genrenet.tuning.SEARCH_SPACES` (see :func:`genrenet.tuning.search_space`).
    fingerprint : str, keyword-only, optional
        Hash of the training data; declared as a fixed hyperparameter so a
        distributed worker refuses to train on other data than the chief's.
    seed : int, keyword-only
        Seed set before every model is built.
    batch_size : int, keyword-only
        Default ``batch_size`` of ``fit``.
    input_scale : float, keyword-only
        Divisor of the inputs (255 for 8-bit pictures), applied batch by batch.
    tunable : bool, keyword-only
        Passed to ``keras_tuner.HyperModel``.
    """

    def __init__(
        self,
        model_name: str,
        input_shape: Sequence[int],
        n_classes: int,
        *,
        space: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
        seed: int = DEFAULT_SEED,
        batch_size: int = 32,
        input_scale: float = 1.0,
        tunable: bool = True,
    ):
        super().__init__(name=model_name, tunable=tunable)
        self.model_name = model_name
        self.space = search_space(model_name, space)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.n_classes = int(n_classes)
        self.fingerprint = fingerprint
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.input_scale = float(input_scale)

    def build(self, hp):
        """Declare the search space on ``hp`` and build the model of this trial."""
        from genrenet.models import build_model

        if self.fingerprint is not None:
            got = hp.Fixed(FINGERPRINT_HP, self.fingerprint)
            if got != self.fingerprint:
                raise keras_tuner.errors.FatalError(
                    f"this process's training data (fingerprint {self.fingerprint}) differs from the data "
                    f"the search was started with (fingerprint {got}); run every worker on the same data"
                )
        kwargs = {name: declare(hp, name, spec) for name, spec in self.space.items()}
        keras.utils.set_random_seed(self.seed)
        return build_model(self.model_name, self.input_shape, self.n_classes, **kwargs)

    def fit(self, hp, model, x, y=None, *, validation_data=None, **kwargs):
        """Train ``model`` on arrays ``x``, ``y`` through :func:`genrenet.train.make_tf_dataset`.

        ``batch_size`` defaults to the one given at construction; ``validation_data`` is a
        pair of arrays. Other keywords go to ``model.fit``; a ``tf.data`` dataset ``x``
        (``y`` None) is passed on unchanged.
        """
        from genrenet.train import make_tf_dataset

        if y is None:
            return model.fit(x, validation_data=validation_data, **kwargs)
        batch_size = int(kwargs.pop("batch_size", self.batch_size))
        kwargs.pop("shuffle", None)  # the pipeline shuffles, with the seed
        x = make_tf_dataset(x, y, batch_size=batch_size, shuffle=True, seed=self.seed, scale=self.input_scale)
        if validation_data is not None:
            validation_data = make_tf_dataset(validation_data[0], validation_data[1], batch_size=batch_size,
                                              scale=self.input_scale)
        return model.fit(x, validation_data=validation_data, shuffle=False, **kwargs)
