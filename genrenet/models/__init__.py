"""Model builders: the thesis's four models and a compact modern CNN.

=================  ===========================  ==================  =============================
name               builder                      feature preset      source
=================  ===========================  ==================  =============================
``feed_forward``   :func:`build_feed_forward`   ``thesis_image``    thesis (40,146,772 params)
``lenet``          :func:`build_lenet`          ``thesis_image``    thesis (4,720,284 params)
``cnn``            :func:`build_cnn`            ``thesis_image``    thesis (9,104,708 params)
``lstm``           :func:`build_lstm`           ``thesis_image``    thesis (18,941,980 params)
``compact_cnn``    :func:`build_compact_cnn`    ``logmel``          this project (default model)
=================  ===========================  ==================  =============================

Importing this package is cheap: the builders (and TensorFlow) load on first
use. :func:`default_model_path` points at the bundle shipped with the package
(``genrenet/pretrained/gtzan10``), used by prediction and the web service.

Used in the book chapter "The models" (06) and the notebooks
``notebooks/train_model.ipynb`` and ``notebooks/results.ipynb``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from genrenet.errors import ModelError, ParameterError

__all__ = [
    "ModelInfo",
    "MODELS",
    "BASELINE",
    "build_model",
    "default_feature",
    "display_name",
    "default_model_path",
    "build_feed_forward",
    "build_lenet",
    "build_cnn",
    "build_lstm",
    "build_compact_cnn",
]


@dataclass(frozen=True)
class ModelInfo:
    """Registry entry of a model: where its builder lives and what it expects."""

    name: str
    title: str
    module: str
    builder: str
    feature: str

    def build(self, input_shape, n_classes, **kwargs):
        """Call the builder with ``input_shape``, ``n_classes`` and keyword options."""
        fn = getattr(importlib.import_module(self.module), self.builder)
        return fn(input_shape, n_classes, **kwargs)


MODELS: dict[str, ModelInfo] = {
    "feed_forward": ModelInfo(
        "feed_forward", "Feed-forward (thesis)", "genrenet.models.thesis", "build_feed_forward", "thesis_image"
    ),
    "lenet": ModelInfo("lenet", "LeNet (thesis)", "genrenet.models.thesis", "build_lenet", "thesis_image"),
    "cnn": ModelInfo("cnn", "CNN Model", "genrenet.models.thesis", "build_cnn", "thesis_image"),
    "lstm": ModelInfo("lstm", "LSTM (thesis)", "genrenet.models.thesis", "build_lstm", "thesis_image"),
    "compact_cnn": ModelInfo(
        "compact_cnn", "Compact CNN", "genrenet.models.compact", "build_compact_cnn", "logmel"
    ),
}

#: Name of the classical scikit-learn baseline (see :mod:`genrenet.baseline`).
BASELINE = "baseline"
_BASELINE_FEATURE = "mfcc_stats"

_BUILDERS = {info.builder: info for info in MODELS.values()}


def _info(name: str) -> ModelInfo:
    if name not in MODELS:
        raise ParameterError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]


def build_model(name: str, input_shape, n_classes: int, **kwargs):
    """Build and compile the registered model ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    input_shape : tuple of int
        Shape of one input window.
    n_classes : int
        Number of genres.
    **kwargs
        Keyword options of the builder (widths, dropout, learning rate...).

    Returns
    -------
    keras.Model
    """
    return _info(name).build(input_shape, n_classes, **kwargs)


def default_feature(name: str) -> str:
    """Feature preset a model expects by default (``"thesis_image"``, ``"logmel"`` or ``"mfcc_stats"``)."""
    if name == BASELINE:
        return _BASELINE_FEATURE
    return _info(name).feature


def display_name(name: str) -> str:
    """Human-readable model name (the thesis's JSON used "CNN Model")."""
    if name == BASELINE:
        return "MFCC-statistics SVM (baseline)"
    return _info(name).title


def default_model_path() -> Path:
    """Path of the bundle shipped with genrenet (compact CNN trained on GTZAN-mini, ten genres).

    Raises
    ------
    ModelError
        If the bundle is missing from this installation.
    """
    path = Path(__file__).resolve().parent.parent / "pretrained" / "gtzan10"
    if not (path / "meta.json").is_file():
        raise ModelError(f"the default model bundle is missing: {path} has no meta.json")
    return path


def __getattr__(attr: str):
    # build_feed_forward & co. are imported lazily so `import genrenet.models` stays fast.
    if attr in _BUILDERS:
        info = _BUILDERS[attr]
        return getattr(importlib.import_module(info.module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
