"""Where an experiment's data, split and feature come from: one resolution path.

Every experiment starts from the same three questions: which tracks (a data set by
name and directory, or one already loaded, possibly restricted to some genres),
which split of them (a protocol name or a :class:`~genrenet.splits.Split`) and
which feature (the model's own preset, or another that suits the model). Training
(:mod:`genrenet.train`), tuning, the genre selection, evaluation, the commands and
the notebooks' parameter checks (:mod:`genrenet.notebook`) answer them here, so a
name means the same thing everywhere and a bad one fails with the same message.

* :func:`resolve_dataset`: a name (+ ``data_dir``) or a Dataset → a checked Dataset.
  A missing ``data_dir`` is an error, unless the caller passes ``demo_fallback=True``:
  then the synthetic demo corpus is used instead, with a warning saying so.
* :func:`resolve_split`: ``None``/``"stratified"``, ``"fault-filtered"``,
  ``"fault-filtered-final"``, ``"all"`` or a Split → a Split checked against the data.
* :func:`resolve_feature`: the model's preset, or a feature checked against the kind
  the model needs.
* :func:`resolve_inputs`: all three at once (:class:`Inputs`).

Used in the book pages ``book/dev_data.md`` and ``book/dev_models.md``, and by every
notebook through :mod:`genrenet.notebook`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrenet.errors import DataError, ParameterError
from genrenet.repro import DEFAULT_SEED

__all__ = [
    "SPLITS",
    "Inputs",
    "parse_genres",
    "resolve_dataset",
    "resolve_split",
    "resolve_feature",
    "resolve_inputs",
]

#: Split names :func:`resolve_split` accepts (cross-validation is :func:`genrenet.train.cross_validate`).
SPLITS = ("stratified", "fault-filtered", "fault-filtered-final", "all")

_FAULT_FILTERED = ("fault-filtered", "fault_filtered", "fault-filtered-final", "fault_filtered_final")


def parse_genres(genres: Any) -> list[str] | None:
    """``None``, a comma-separated string or a list of genre names → a list (or None: all genres)."""
    if genres is None:
        return None
    if isinstance(genres, str):
        names = [g.strip() for g in genres.split(",") if g.strip()]
    elif isinstance(genres, list | tuple) and all(isinstance(g, str) for g in genres):
        names = [g.strip() for g in genres if g.strip()]
    else:
        raise ParameterError(f"genres must be None, 'a,b,c' or a list of names, got {genres!r}")
    if not names:
        raise ParameterError(f"genres={genres!r} names no genre; use None for all genres")
    return names


def _data_dir_problem(name: str, data_dir: Any) -> str | None:
    """Why ``data_dir`` cannot hold data set ``name``, or None (several roots may be joined by ``os.pathsep``)."""
    if name == "demo":
        return None
    if data_dir is None:
        return (f"data_dir is required for dataset={name!r}: the directory holding it "
                "(only dataset='demo' may leave it None)")
    if isinstance(data_dir, list | tuple):
        parts = [str(p) for p in data_dir]
    elif isinstance(data_dir, str | os.PathLike) and str(data_dir).strip():
        text = str(data_dir)
        parts = [text] if Path(text).expanduser().exists() else [p for p in text.split(os.pathsep) if p.strip()]
    else:
        raise ParameterError(f"data_dir must be a non-empty path or text, got {data_dir!r}")
    if not parts or not all(Path(p).expanduser().exists() for p in parts):
        return f"data_dir={str(data_dir)!r} does not exist (from {Path.cwd()})"
    return None


def _load_named(name: str, data_dir: Any, *, demo_fallback: bool):
    from genrenet.datasets import SYNTHETIC_LABEL, available_datasets, load_dataset

    if name not in available_datasets():
        raise ParameterError(f"dataset={name!r} is not valid; choose one of: {', '.join(available_datasets())}")
    problem = _data_dir_problem(name, data_dir)
    if problem is not None:
        if not demo_fallback:
            raise ParameterError(problem)
        warnings.warn(f"{problem}; using the {SYNTHETIC_LABEL} instead (demo_fallback=True)", UserWarning,
                      stacklevel=3)
        name, data_dir = "demo", None
    if isinstance(data_dir, str | os.PathLike):
        data_dir = Path(data_dir).expanduser() if Path(data_dir).expanduser().exists() else str(data_dir)
    return load_dataset(name, data_dir)


def resolve_dataset(dataset, *, data_dir=None, genres=None, demo_fallback: bool = False, min_genres: int = 1,
                    min_tracks: int = 1):
    """A data set name (+ directory) or a Dataset → a checked Dataset, optionally restricted to ``genres``.

    Parameters
    ----------
    dataset : str or genrenet.datasets.Dataset
        A name of :func:`genrenet.datasets.available_datasets` or a loaded data set.
    data_dir : path-like, keyword-only, optional
        Where a named data set lives (several roots joined by ``os.pathsep`` for ``gtzan``);
        only ``"demo"`` may omit it.
    genres : str or sequence of str, keyword-only, optional
        Keep only these genres (``"classical,country"`` or a list); each must exist.
    demo_fallback : bool, keyword-only
        When ``data_dir`` is missing or does not exist, use the synthetic demo corpus
        instead (with a warning) rather than fail. Off by default: nothing falls back
        unless it says so.
    min_genres : int, keyword-only
        Fewest genres the caller can work with (training needs two).
    min_tracks : int, keyword-only
        Fewest tracks every genre needs.

    Returns
    -------
    genrenet.datasets.Dataset

    Raises
    ------
    ParameterError
        Unknown name, missing ``data_dir``, unknown genre, too few genres or tracks.
    DataError
        The data set has no tracks.
    """
    from genrenet.datasets import Dataset

    if isinstance(dataset, str):
        ds = _load_named(dataset, data_dir, demo_fallback=demo_fallback)
    elif isinstance(dataset, Dataset):
        ds = dataset
    else:
        raise ParameterError(f"dataset must be a data set name or a Dataset, got {type(dataset).__name__}")
    wanted = parse_genres(genres)
    if wanted is not None:
        missing = [g for g in wanted if g not in ds.genres]
        if missing:
            raise ParameterError(f"genres: {', '.join(missing)} not in data set {ds.name!r}; "
                                 f"choose among: {', '.join(ds.genres)}")
        ds = ds.subset(wanted)
    _check_size(ds, min_genres=min_genres, min_tracks=min_tracks)
    return ds


def _check_size(ds, *, min_genres: int, min_tracks: int) -> None:
    if len(ds) == 0:
        raise DataError(f"data set {ds.name!r} has no tracks")
    if len(ds.genres) < min_genres:
        raise ParameterError(f"data set {ds.name!r} has {len(ds.genres)} genre(s) ({', '.join(ds.genres)}); "
                             f"it needs at least {min_genres} here")
    counts = {g: sum(t.genre == g for t in ds) for g in ds.genres}
    small = {g: n for g, n in counts.items() if n < min_tracks}
    if small:
        raise ParameterError(f"every genre needs at least {min_tracks} tracks here; too few in "
                             + ", ".join(f"{g} ({n})" for g, n in small.items()))


def resolve_split(split, dataset, *, seed: int = DEFAULT_SEED, splits_dir=None):
    """Turn ``split`` (None, a name of :data:`SPLITS` or a Split) into a Split checked against ``dataset``.

    Parameters
    ----------
    split : None, str or genrenet.splits.Split
        None and ``"stratified"``: a random stratified split by track drawn with ``seed``;
        ``"fault-filtered"`` / ``"fault-filtered-final"``: the fixed artist-conditional GTZAN
        split (:func:`genrenet.splits.fault_filtered_split`); ``"all"``: every track trains.
    dataset : genrenet.datasets.Dataset
    seed : int, keyword-only
    splits_dir : path-like, keyword-only, optional
        Where the fault-filtered lists are (default: ``$GENRENET_SPLITS_DIR``, else downloaded
        once, checksummed).

    Returns
    -------
    genrenet.splits.Split
    """
    from genrenet.splits import Split, fault_filtered_split, stratified_split

    if split is None or split == "stratified":
        return stratified_split(dataset, seed=seed)
    if isinstance(split, Split):
        split.check(dataset)
        return split
    if split in _FAULT_FILTERED:
        return fault_filtered_split(dataset, lists_dir=splits_dir, final=split.endswith("final"))
    if split == "all":
        return Split("all", range(len(dataset)), (), (),
                     "trained on every track (no held-out tracks; see the cross-validation metrics)",
                     dataset=dataset.name, dataset_hash=dataset.content_hash(), seed=seed)
    if split == "kfold":
        raise ParameterError("split='kfold' is cross-validation: call genrenet.train.cross_validate")
    raise ParameterError(f"split must be one of {SPLITS}, a Split or None, got {split!r}")


def resolve_feature(model: str, feature=None):
    """The feature ``model`` trains on: its own preset by default, otherwise checked against the kind it needs.

    Parameters
    ----------
    model : str
        A name of :func:`genrenet.models.model_names`.
    feature : None, str, FeatureSpec or dict
        A preset name of :data:`genrenet.features.PRESETS`, a specification, or None.

    Returns
    -------
    genrenet.features.FeatureSpec

    Raises
    ------
    ParameterError
        Unknown model or preset, or a feature of a kind the model cannot take (the
        networks need a spectrogram, the other models their own kind).
    """
    from genrenet.features import get_spec
    from genrenet.models import default_feature

    own = get_spec(default_feature(model))
    spec = own if feature is None else get_spec(feature)
    spectral = {"logmel", "image"}
    if own.kind in spectral and spec.kind not in spectral:
        raise ParameterError(f"feature: model {model!r} needs a spectrogram feature (logmel or image), "
                             f"got kind {spec.kind!r}")
    if own.kind not in spectral and spec.kind != own.kind:
        raise ParameterError(f"feature: model {model!r} needs a feature of kind {own.kind!r}, got kind {spec.kind!r}")
    return spec


@dataclass(frozen=True)
class Inputs:
    """What an experiment runs on: the data set, its split and the feature (see :func:`resolve_inputs`)."""

    dataset: Any  # genrenet.datasets.Dataset
    split: Any  # genrenet.splits.Split
    feature: Any  # genrenet.features.FeatureSpec


def resolve_inputs(model: str, dataset, *, data_dir=None, genres: str | Sequence[str] | None = None, feature=None,
                   split=None, seed: int = DEFAULT_SEED, splits_dir=None, demo_fallback: bool = False,
                   min_genres: int = 2) -> Inputs:
    """Data set, split and feature of an experiment with ``model``, each resolved and checked.

    The feature is checked first, so a bad name fails before any data is read.

    Parameters
    ----------
    model : str
    dataset, data_dir, genres, demo_fallback, min_genres
        See :func:`resolve_dataset` (training needs at least two genres).
    feature
        See :func:`resolve_feature`.
    split, seed, splits_dir
        See :func:`resolve_split`.

    Returns
    -------
    Inputs
    """
    spec = resolve_feature(model, feature)
    ds = resolve_dataset(dataset, data_dir=data_dir, genres=genres, demo_fallback=demo_fallback,
                         min_genres=min_genres)
    return Inputs(dataset=ds, split=resolve_split(split, ds, seed=seed, splits_dir=splits_dir), feature=spec)
