"""The search-space language: which keyword options of a model builder are searched, and over what.

A search space maps a builder keyword (``units``, ``dropout``, ``filters``...)
to a small specification tuple:

``("choice", [values])``
    one of the listed values;
``("int", low, high, step)`` / ``("float", low, high, step_or_"log")``
    a range (``"log"``: sampled on a log scale);
``("bool",)``
    ``True`` or ``False``;
``("tuple", [spec, spec, ...])``
    an option that takes a tuple, one hyperparameter per element
    (``filters_1``, ``filters_2``...);
``("fixed", value)``
    not searched, always ``value``.

:data:`SEARCH_SPACES` holds the default space of every architecture of
:mod:`genrenet.models`; :func:`search_space` applies a caller's overrides and
validates the result; :func:`declare` turns one specification into Keras
Tuner hyperparameters and :func:`builder_kwargs` turns a trial's flat values
back into builder keywords. Nothing here imports Keras Tuner or TensorFlow:
:func:`declare` only calls methods of the ``hp`` object it is given.

Used in the book chapter "Tuning the models" (``book/dev_tuning.md``) and the
notebook ``notebooks/tuning.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from genrenet.errors import ParameterError

__all__ = ["SEARCH_SPACES", "FINGERPRINT_HP", "search_space", "declare", "builder_kwargs"]

_OPTIMIZERS = ["adam", "rmsprop", "sgd"]
_LR = ("float", 1e-4, 1e-2, "log")
_DROPOUT = ("float", 0.0, 0.5, 0.1)

#: Search space per architecture, over the builder's keyword options.
#: Each entry maps a builder keyword to a specification:
#: ``("choice", [values])``, ``("int", low, high, step)``,
#: ``("float", low, high, step_or_"log")``, ``("bool",)`` or
#: ``("tuple", [spec, spec, ...])`` for options that take a tuple (one
#: hyperparameter per element, named ``<option>_1``, ``<option>_2``, ...).
SEARCH_SPACES: dict[str, dict[str, tuple]] = {
    "feed_forward": {
        "filters": ("choice", [16, 32, 64]),
        "units": ("choice", [16, 32, 64, 128]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "lenet": {
        "filters": ("tuple", [("choice", [4, 6, 8, 12]), ("choice", [8, 16, 32])]),
        "units": ("choice", [32, 64, 128, 256]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "cnn": {
        "filters": ("tuple", [("choice", [16, 32, 48]), ("choice", [32, 64]), ("choice", [32, 64, 128])]),
        "units": ("choice", [32, 64, 128]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "lstm": {
        "filters": ("tuple", [("choice", [4, 6, 8]), ("choice", [8, 16, 32])]),
        "lstm_units": ("choice", [32, 64, 128]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "compact_cnn": {
        "width": ("choice", [16, 24, 32, 48]),
        "depth": ("int", 2, 5, 1),
        "dropout": _DROPOUT,
        "spec_augment": ("bool",),
        "learning_rate": _LR,
    },
    "transfer_mlp": {
        "hidden": ("choice", [64, 128, 256, 512]),
        "dropout": ("float", 0.0, 0.6, 0.1),
        "l2": ("float", 1e-6, 1e-2, "log"),
        "learning_rate": _LR,
    },
}

#: Name of the fixed hyperparameter that carries the training data's fingerprint in every trial
#: (a distributed worker on other data refuses to train; see :mod:`genrenet.tuning.hypermodel`).
FINGERPRINT_HP = "data_fingerprint"

_KINDS = ("choice", "int", "float", "bool", "tuple", "fixed")


def _is_values(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0


def _choice_problem(spec: tuple) -> str | None:
    if len(spec) != 2 or not _is_values(spec[1]):
        return "'choice' needs a non-empty list of values"
    return None


def _int_problem(spec: tuple) -> str | None:
    if len(spec) != 4 or not all(isinstance(v, (int, np.integer)) for v in spec[1:]) or spec[1] > spec[2]:
        return "'int' needs (low, high, step) integers with low <= high"
    return None


def _float_problem(spec: tuple) -> str | None:
    if len(spec) != 4 or not spec[1] < spec[2]:
        return "'float' needs (low, high, step or 'log') with low < high"
    if spec[3] == "log" and spec[1] <= 0:
        return "a 'log' float range needs low > 0"
    return None


def _bool_problem(spec: tuple) -> str | None:
    return "'bool' takes no arguments" if len(spec) != 1 else None


def _tuple_problem(spec: tuple) -> str | None:
    if len(spec) != 2 or not _is_values(spec[1]):
        return "'tuple' needs a list of element specifications"
    return None


def _fixed_problem(spec: tuple) -> str | None:
    return "'fixed' needs exactly one value" if len(spec) != 2 else None


_PROBLEMS = {"choice": _choice_problem, "int": _int_problem, "float": _float_problem, "bool": _bool_problem,
             "tuple": _tuple_problem, "fixed": _fixed_problem}


def _check_spec(model_name: str, option: str, spec: Any) -> tuple:
    """Validate one search-space specification and return it as a tuple."""
    where = f"search space of {model_name!r}, option {option!r}"
    if not _is_values(spec):
        raise ParameterError(f"{where}: expected a tuple like ('choice', [...]), got {spec!r}")
    kind = spec[0]
    if kind not in _PROBLEMS:
        raise ParameterError(f"{where}: unknown kind {kind!r}; use 'choice', 'int', 'float', 'bool', 'tuple' or 'fixed'")
    problem = _PROBLEMS[kind](tuple(spec))
    if problem:
        raise ParameterError(f"{where}: {problem}, got {spec!r}")
    if kind == "tuple":
        for i, sub in enumerate(spec[1], 1):
            if _is_values(sub) and sub[0] == "tuple":
                raise ParameterError(f"{where}: nested 'tuple' specifications are not supported")
            _check_spec(model_name, f"{option}_{i}", sub)
    return tuple(spec)


def _normalise_override(value: Any) -> tuple:
    """Let callers write ``{"units": [16, 32]}`` or ``{"depth": 2}`` as overrides.

    A tuple starting with a string is a full specification (validated later);
    a list (e.g. from JSON) starting with a known kind is one too.
    """
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return value
    if isinstance(value, list) and value and value[0] in _KINDS:
        return tuple(value)
    if isinstance(value, list):
        return ("choice", value)
    return ("fixed", value)


def search_space(model_name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, tuple]:
    """Return the validated search space of ``model_name`` with ``overrides`` applied.

    Parameters
    ----------
    model_name : str
        One of the keys of :data:`SEARCH_SPACES`.
    overrides : mapping, optional
        Option name → specification. A list means a choice among its values,
        a scalar fixes the option, a tuple is a full specification. ``None``
        as a value removes the option from the search (the builder default).

    Returns
    -------
    dict
        Option name → specification tuple.
    """
    if model_name not in SEARCH_SPACES:
        raise ParameterError(f"model_name must be one of {sorted(SEARCH_SPACES)}, got {model_name!r}")
    space = dict(SEARCH_SPACES[model_name])
    for option, value in (overrides or {}).items():
        if not isinstance(option, str) or not option:
            raise ParameterError(f"space: option names must be non-empty strings, got {option!r}")
        if value is None:
            space.pop(option, None)
        else:
            space[option] = _normalise_override(value)
    return {name: _check_spec(model_name, name, spec) for name, spec in space.items()}


def _fixed_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def declare(hp, name: str, spec: tuple) -> Any:
    """Declare the hyperparameter(s) of one checked specification on ``hp`` and return the value for the builder.

    Parameters
    ----------
    hp : keras_tuner.HyperParameters
        The trial's hyperparameters.
    name : str
        Builder keyword (a ``tuple`` specification declares ``<name>_1``, ``<name>_2``, ...).
    spec : tuple
        A specification as returned by :func:`search_space`.

    Returns
    -------
    object
        The value of this trial (a tuple for ``tuple`` specifications).
    """
    kind = spec[0]
    if kind == "choice":
        return hp.Choice(name, list(spec[1]))
    if kind == "int":
        return hp.Int(name, int(spec[1]), int(spec[2]), step=int(spec[3]))
    if kind == "float" and spec[3] == "log":
        return hp.Float(name, float(spec[1]), float(spec[2]), sampling="log")
    if kind == "float":
        return hp.Float(name, float(spec[1]), float(spec[2]), step=float(spec[3]))
    if kind == "bool":
        return hp.Boolean(name)
    if kind == "fixed":
        return _fixed_value(spec[1])
    return tuple(declare(hp, f"{name}_{i}", sub) for i, sub in enumerate(spec[1], 1))


def builder_kwargs(model_name: str, values: Mapping[str, Any], *, space: Mapping[str, tuple] | None = None) -> dict:
    """Turn flat Keras Tuner values into keyword arguments of the model builder.

    Parameters
    ----------
    model_name : str
        Architecture name.
    values : mapping
        Hyperparameter values as stored by Keras Tuner (``filters_1``,
        ``filters_2``... for tuple options).
    space : mapping, optional
        The search space used (default :data:`SEARCH_SPACES` entry).

    Returns
    -------
    dict
        Keyword arguments for :func:`genrenet.models.build_model`.
    """
    space = search_space(model_name) if space is None else space
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if spec[0] == "fixed":
            out[name] = _fixed_value(spec[1])
        elif spec[0] == "tuple":
            parts = [values.get(f"{name}_{i}") for i in range(1, len(spec[1]) + 1)]
            if all(p is not None for p in parts):
                out[name] = tuple(parts)
        elif name in values:
            out[name] = values[name]
    return out
