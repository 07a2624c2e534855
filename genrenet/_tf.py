"""Import TensorFlow and Keras with the project's fixed settings.

Every genrenet module that needs TensorFlow imports it from here
(``from genrenet._tf import tf, keras``), and this module is the one place that
sets TensorFlow's environment (:data:`ENVIRONMENT`), before TensorFlow is first
imported:

* ``TF_ENABLE_ONEDNN_OPTS=1``: oneDNN kernels are about 1.5x faster on the CPU;
  the value is fixed (not left to TensorFlow's default) so results are reproducible
  from machine to machine.
* ``TF_CPP_MIN_LOG_LEVEL=2``: keep TensorFlow's C++ info logs off notebooks and pages
  (a value already in the environment is kept; :func:`quiet` raises it to 3).
* ``KERAS_BACKEND=tensorflow``.

Importing this module sets the environment; TensorFlow and Keras themselves are
imported on first use of ``tf`` or ``keras`` (or by :func:`load`), so a process that
only needs the environment (the book's notebook kernels) does not pay for them.

TensorFlow's native library prints an informational line about oneDNN straight
to file descriptor 2 before its logging is configured, ignoring
``TF_CPP_MIN_LOG_LEVEL``; :func:`quiet_native_stderr` hides such lines while the
libraries load (only when the log level asks for quiet, i.e. is 1 or more).
Notebooks call :func:`quiet` once, first.

Used by every model and training module (book chapters ``book/dev_models.md`` and
``book/dev_tuning.md``); documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# ``tf`` and ``keras`` are module attributes too, loaded on first use (see ``__getattr__``).
__all__ = ["ENVIRONMENT", "QUIET_LOG_LEVEL", "apply_environment", "load", "quiet", "quiet_native_stderr"]

#: TensorFlow's environment for genrenet processes and the notebook kernels the book runs.
ENVIRONMENT: Mapping[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "1",
                                  "KERAS_BACKEND": "tensorflow"}

#: C++ log level :func:`quiet` asks for: errors hidden too (tf.data's harmless error-level notices).
QUIET_LOG_LEVEL = "3"

_KEEP_IF_SET = ("TF_CPP_MIN_LOG_LEVEL",)  # the caller may ask for more (or less) log output


def apply_environment(environ: os._Environ | dict | None = None) -> None:
    """Write :data:`ENVIRONMENT` into ``environ`` (default ``os.environ``); a log level already set is kept."""
    environ = os.environ if environ is None else environ
    for key, value in ENVIRONMENT.items():
        if key in _KEEP_IF_SET:
            environ.setdefault(key, value)
        else:
            environ[key] = value


apply_environment()


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


_loaded: dict[str, Any] = {}


def load() -> tuple[Any, Any]:
    """Import TensorFlow and Keras (once, native start-up lines hidden) and return ``(tf, keras)``."""
    if not _loaded:
        with quiet_native_stderr():
            keras = importlib.import_module("keras")
            tf = importlib.import_module("tensorflow")
        tf.get_logger().setLevel("ERROR")
        _loaded.update(tf=tf, keras=keras)
    return _loaded["tf"], _loaded["keras"]


def quiet(*, modules: Iterable[str] = ()) -> None:
    """Silence TensorFlow for notebook and page output, then import it (and ``modules``).

    Sets the C++ log level to :data:`QUIET_LOG_LEVEL` when TensorFlow is not imported yet
    (it reads the level once, on import), imports TensorFlow and Keras with their native
    start-up lines hidden, and imports each of ``modules`` (e.g. ``"keras_tuner"``) the same way.
    Call it first in a notebook.
    """
    if "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_LOG_LEVEL
    load()
    with quiet_native_stderr():
        for name in modules:
            importlib.import_module(name)


def __getattr__(name: str) -> Any:
    # ``from genrenet._tf import tf, keras`` imports TensorFlow on first use
    if name in ("tf", "keras"):
        tf, keras = load()
        return {"tf": tf, "keras": keras}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
