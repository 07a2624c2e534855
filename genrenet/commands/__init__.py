"""Subcommands of the ``genrenet`` command line, one module each (see :mod:`genrenet.cli`).

The README and ``book/reproducing.md`` use them; documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

import warnings

# The choices and help texts below are read from the registries, never copied, so a model,
# data set or split added to the library appears in every subcommand (tests/test_settings.py).


def model_choices() -> list[str]:
    """Every trainable model name, read from the registry (:func:`genrenet.models.model_names`)."""
    from genrenet.models import model_names

    return model_names()


def split_choices() -> list[str]:
    """The split names ``train`` and ``tune`` accept: :data:`genrenet.inputs.SPLITS` and ``kfold``."""
    from genrenet.inputs import SPLITS

    return [*SPLITS, "kfold"]


#: Old split names some subcommands still accept, with a warning, and the name each now stands for
#: (``genrenet tune --split block`` is ``--split kfold --by block``; ``genrenet data split
#: --protocol fault_filtered`` is ``fault-filtered``).
DEPRECATED_SPLITS = {"block": "kfold", "fault_filtered": "fault-filtered"}


def split_name(value: str) -> str:
    """argparse ``type`` of split options: a deprecated name of :data:`DEPRECATED_SPLITS` warns and is translated."""
    if value in DEPRECATED_SPLITS:
        new = DEPRECATED_SPLITS[value]
        warnings.warn(f"split name {value!r} is deprecated; use {new!r} (the name genrenet train uses)",
                      FutureWarning, stacklevel=2)
        return new
    return value


def dataset_help(default: str = "demo") -> str:
    """Help text of ``--dataset``, listing the registered data sets (:func:`genrenet.datasets.available_datasets`)."""
    from genrenet.datasets import available_datasets

    return f"registered data set name: {', '.join(available_datasets())} (default {default})"


def feature_help(default: str | None = None) -> str:
    """Help text of ``--feature``, listing the presets (:data:`genrenet.features.PRESETS`)."""
    from genrenet.features import PRESETS

    text = f"feature preset: {', '.join(PRESETS)}"
    return text + (f" (default {default})" if default else " (default: the model's own)")
