"""Import TensorFlow and Keras with the project's fixed settings.

Every genrenet module that needs TensorFlow imports it from here, so the
environment variables that change numerics or log noise are set once, before
TensorFlow is first imported:

* ``TF_ENABLE_ONEDNN_OPTS=1``: oneDNN kernels are about 1.5x faster on the CPU;
  the value is fixed (not left to TensorFlow's default) so results are reproducible
  from machine to machine.
* ``TF_CPP_MIN_LOG_LEVEL=2``: keep TensorFlow's C++ info logs off notebooks and pages.
* ``KERAS_BACKEND=tensorflow``.

TensorFlow's native library prints an informational line about oneDNN straight
to file descriptor 2 before its logging is configured, ignoring
``TF_CPP_MIN_LOG_LEVEL``; :func:`quiet_native_stderr` hides such lines while the
libraries load (only when the log level asks for quiet, i.e. is 1 or more).

Used by every model and training module (book chapters ``book/dev_models.md`` and
``book/dev_tuning.md``); documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null inside the block (native library chatter)."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with quiet_native_stderr():
    import keras  # noqa: E402
    import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

__all__ = ["tf", "keras", "quiet_native_stderr"]
