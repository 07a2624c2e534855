"""Reproducibility: one seed flows everywhere.

:func:`set_seed` seeds Python, NumPy and (if requested) TensorFlow/Keras and
turns on TensorFlow's op determinism, so the same run gives the same numbers.

Used by every chapter of the book; documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["DEFAULT_SEED", "set_seed", "rng"]

DEFAULT_SEED = 42


def set_seed(seed: int = DEFAULT_SEED, *, tensorflow: bool = True) -> int:
    """Seed every random number generator genrenet uses and return ``seed``.

    Parameters
    ----------
    seed : int
        Non-negative integer seed.
    tensorflow : bool, keyword-only
        Also seed TensorFlow/Keras and enable op determinism (imports TensorFlow).
    """
    from genrenet._validate import non_negative_int

    seed = non_negative_int("seed", seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    if tensorflow:
        from genrenet._tf import keras, tf

        keras.utils.set_random_seed(seed)
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - older TF
            pass
    return seed


def rng(seed: int = DEFAULT_SEED) -> np.random.Generator:
    """Return a NumPy ``Generator`` for ``seed`` (the library never uses global state)."""
    return np.random.default_rng(seed)
