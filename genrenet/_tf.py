"""Import TensorFlow and Keras with the project's fixed settings.

Every genrenet module that needs TensorFlow imports it from here, so the
environment variables that change numerics or log noise are set once, before
TensorFlow is first imported:

* ``TF_ENABLE_ONEDNN_OPTS=1``: oneDNN kernels are about 1.5x faster on the CPU;
  the value is fixed (not left to TensorFlow's default) so results are reproducible
  from machine to machine.
* ``TF_CPP_MIN_LOG_LEVEL=2``: keep TensorFlow's C++ info logs off notebooks and pages.
* ``KERAS_BACKEND=tensorflow``.
"""

from __future__ import annotations

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

__all__ = ["tf", "keras"]
