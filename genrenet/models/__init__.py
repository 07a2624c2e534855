"""Model builders: the thesis's four models, a compact modern CNN and transfer models.

===================  ============================  ==================  ===================================
name                 builder                       feature preset      source
===================  ============================  ==================  ===================================
``feed_forward``     :func:`build_feed_forward`    ``thesis_image``    thesis (40,146,772 params)
``lenet``            :func:`build_lenet`           ``thesis_image``    thesis (4,720,284 params)
``cnn``              :func:`build_cnn`             ``thesis_image``    thesis (9,104,708 params)
``lstm``             :func:`build_lstm`            ``thesis_image``    thesis (18,941,980 params)
``compact_cnn``      :func:`build_compact_cnn`     ``logmel``          this project
``transfer_mlp``     :func:`build_embedding_head`  ``musicnn``         this project, on pretrained musicnn
``transfer_linear``  ``fit_linear_head``           ``musicnn_track``   this project (scikit-learn)
``baseline``         ``fit_baseline``              ``mfcc_stats``      classical baseline (scikit-learn)
===================  ============================  ==================  ===================================

:data:`MODELS` holds the Keras models (built by ``build_*(input_shape, n_classes, ...)``);
:data:`SKLEARN_MODELS` the scikit-learn ones (fitted by ``fit_*(X, y, n_classes=..., ...)``).
:func:`model_names` lists both; :func:`is_sklearn` tells them apart.

Importing this package is cheap: the builders (and TensorFlow) load on first
use. :func:`default_model_path` points at the default bundle shipped with the package
(``genrenet/pretrained/musicnn_gtzan10``, a linear head on musicnn embeddings) and
:func:`shipped_model_paths` at every shipped bundle (the compact CNN beside it), used by
prediction and the web service; :func:`genrenet.release.release` made them.

Used in the book chapter ``book/dev_models.md`` and the notebooks
``notebooks/train_model.ipynb`` and ``notebooks/results.ipynb``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from genrenet._compat import renamed_attributes
from genrenet.errors import ModelError, ParameterError

__all__ = [
    "ArchitectureInfo",
    "MODELS",
    "SKLEARN_MODELS",
    "BASELINE",
    "model_names",
    "is_sklearn",
    "fit_sklearn",
    "shipped_model_paths",
    "build_model",
    "default_feature",
    "display_name",
    "default_model_path",
    "build_feed_forward",
    "build_lenet",
    "build_cnn",
    "build_lstm",
    "build_compact_cnn",
    "build_embedding_head",
]


@dataclass(frozen=True)
class ArchitectureInfo:
    """Registry entry of a model: where its builder lives and what it expects.

    Formerly ``ModelInfo``; that name still imports, with a :class:`FutureWarning`
    (:class:`genrenet.predict.LoadedModelInfo` describes a loaded bundle instead).

    ``framework`` is ``"keras"`` (``builder(input_shape, n_classes, **kw)`` returns a
    compiled model) or ``"sklearn"`` (``builder(X, y, n_classes=..., **kw)`` returns a
    fitted estimator with ``predict_proba``).
    """

    name: str
    title: str
    module: str
    builder: str
    feature: str
    framework: str = "keras"

    def function(self):
        """The builder (or fitting) function itself."""
        return getattr(importlib.import_module(self.module), self.builder)

    def build(self, input_shape, n_classes, **kwargs):
        """Call the builder with ``input_shape``, ``n_classes`` and keyword options."""
        return self.function()(input_shape, n_classes, **kwargs)


MODELS: dict[str, ArchitectureInfo] = {
    "feed_forward": ArchitectureInfo(
        "feed_forward", "Feed-forward (thesis)", "genrenet.models.thesis", "build_feed_forward", "thesis_image"
    ),
    "lenet": ArchitectureInfo("lenet", "LeNet (thesis)", "genrenet.models.thesis", "build_lenet", "thesis_image"),
    "cnn": ArchitectureInfo("cnn", "CNN Model", "genrenet.models.thesis", "build_cnn", "thesis_image"),
    "lstm": ArchitectureInfo("lstm", "LSTM (thesis)", "genrenet.models.thesis", "build_lstm", "thesis_image"),
    "compact_cnn": ArchitectureInfo(
        "compact_cnn", "Compact CNN", "genrenet.models.compact", "build_compact_cnn", "logmel"
    ),
    "transfer_mlp": ArchitectureInfo(
        "transfer_mlp", "Transfer: musicnn + dense head", "genrenet.models.transfer", "build_embedding_head",
        "musicnn",
    ),
}

#: Name of the classical scikit-learn baseline (see :mod:`genrenet.baseline`).
BASELINE = "baseline"

#: The scikit-learn models, fitted by ``fit_*(X, y, n_classes=..., **options)``.
SKLEARN_MODELS: dict[str, ArchitectureInfo] = {
    BASELINE: ArchitectureInfo(BASELINE, "MFCC-statistics SVM (baseline)", "genrenet.baseline", "fit_baseline",
                        "mfcc_stats", "sklearn"),
    "transfer_linear": ArchitectureInfo(
        "transfer_linear", "Transfer: musicnn + logistic regression", "genrenet.models.transfer",
        "fit_linear_head", "musicnn_track", "sklearn",
    ),
}

_BUILDERS = {info.builder: info for info in MODELS.values()}


def model_names() -> list[str]:
    """Every registered model name: the Keras models, then the scikit-learn ones, in registry order."""
    return [*MODELS, *SKLEARN_MODELS]


def _info(name: str) -> ArchitectureInfo:
    info = MODELS.get(name) or SKLEARN_MODELS.get(name)
    if info is None:
        raise ParameterError(f"model must be one of {model_names()}, got {name!r}")
    return info


def is_sklearn(name: str) -> bool:
    """True for a scikit-learn model (stored as ``model.joblib``), False for a Keras one."""
    return _info(name).framework == "sklearn"


def fit_sklearn(name: str, X, y, *, n_classes: int, **options):
    """Fit the scikit-learn model ``name`` on ``(X, y)`` and return the estimator."""
    info = _info(name)
    if info.framework != "sklearn":
        raise ParameterError(f"model {name!r} is a Keras model: build it with build_model")
    return info.function()(X, y, n_classes=n_classes, **options)


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
    if name not in MODELS:
        raise ParameterError(f"model must be one of the Keras models {sorted(MODELS)}, got {name!r}")
    return MODELS[name].build(input_shape, n_classes, **kwargs)


def default_feature(name: str) -> str:
    """Feature preset a model expects by default (a key of :data:`genrenet.features.PRESETS`)."""
    return _info(name).feature


def display_name(name: str) -> str:
    """Human-readable model name (the thesis's JSON used "CNN Model")."""
    return _info(name).title


#: Where the shipped bundles live, and which of them is the default model.
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
DEFAULT_BUNDLE = "musicnn_gtzan10"


def default_model_path() -> Path:
    """Path of the default bundle shipped with genrenet (see its ``MODEL_CARD.md``).

    Raises
    ------
    ModelError
        If the bundle is missing from this installation.
    """
    path = PRETRAINED_DIR / DEFAULT_BUNDLE
    if not (path / "meta.json").is_file():
        raise ModelError(f"the default model bundle is missing: {path} has no meta.json")
    return path


def shipped_model_paths() -> list[Path]:
    """Every bundle shipped with genrenet, the default one first."""
    default = default_model_path()
    others = sorted(p for p in PRETRAINED_DIR.iterdir() if p != default and (p / "meta.json").is_file())
    return [default, *others]


_renamed = renamed_attributes(__name__, globals(), {"ModelInfo": "ArchitectureInfo"})


def __getattr__(attr: str):
    # build_feed_forward & co. are imported lazily so `import genrenet.models` stays fast.
    if attr in _BUILDERS:
        info = _BUILDERS[attr]
        return getattr(importlib.import_module(info.module), attr)
    return _renamed(attr)  # the deprecated ModelInfo, or AttributeError
