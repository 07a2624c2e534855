"""Hyperparameter search with Keras Tuner, on one machine or distributed.

One :class:`GenreHyperModel` per architecture of :mod:`genrenet.models`
turns a search space over the builders' keyword options (widths, units,
dropout, learning rate, optimiser) into Keras Tuner hyperparameters.
:func:`run_search` runs a random, Hyperband or Bayesian search on window-level
features and writes the best hyperparameters (``best.json``) and a table of
every trial (``trials.csv`` / ``trials.json``) into the search's own project
directory; the same call, run as a chief and as workers, spreads one search
over several processes or machines.

The package has four modules:

:mod:`genrenet.tuning.space`
    the search-space language (:data:`SEARCH_SPACES`, :func:`search_space`, :func:`builder_kwargs`);
:mod:`genrenet.tuning.hypermodel`
    :class:`GenreHyperModel` (imports Keras Tuner, so it is loaded on first use);
:mod:`genrenet.tuning.distributed`
    the chief/worker protocol on Keras Tuner's distributed mode, and the only
    place where Keras Tuner's private API is used (checked by :func:`check_keras_tuner`);
:mod:`genrenet.tuning.search`
    :func:`run_search`, its data preparation and result files.

``import genrenet.tuning`` imports neither TensorFlow nor Keras Tuner.

Used in the book chapter "Tuning the models" (``book/dev_tuning.md``), the page
"Distributed tuning" (``book/tuning_distributed.md``) and the notebook
``notebooks/tuning.ipynb``.
"""

from __future__ import annotations

from typing import Any

from genrenet.tuning.distributed import TuningError, check_keras_tuner, distributed_role
from genrenet.tuning.search import TUNERS, TuningResult, load_trials, run_search, worker_trials
from genrenet.tuning.space import SEARCH_SPACES, builder_kwargs, search_space

__all__ = [
    "SEARCH_SPACES",
    "TUNERS",
    "TuningError",
    "TuningResult",
    "GenreHyperModel",
    "search_space",
    "builder_kwargs",
    "distributed_role",
    "check_keras_tuner",
    "run_search",
    "load_trials",
    "worker_trials",
]


def __getattr__(name: str) -> Any:
    # GenreHyperModel subclasses keras_tuner.HyperModel: import it (and TensorFlow) only when asked for
    if name == "GenreHyperModel":
        from genrenet.tuning.hypermodel import GenreHyperModel

        return GenreHyperModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"GenreHyperModel"})
