"""A data set collected from SoundCloud, read from the collector's manifest.

:func:`genrenet.sources.soundcloud.collect` downloads tracks into
``<root>/<genre>/`` and writes ``<root>/manifest.tsv`` with, for every kept
track, its unified genre (the label used here), raw genre, artist, licence and
URL. This module turns that manifest into a
:class:`~genrenet.datasets.base.Dataset`; the artist becomes each track's
``group`` so ``grouped_kfold(by="artist")`` keeps an artist on one side.

Used by book chapter ``book/dev_data.md`` (``notebooks/data_exploration.ipynb``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from genrenet._compat import renamed_kwargs
from genrenet.datasets.base import MANIFEST_NAME, Dataset
from genrenet.errors import DataError

__all__ = ["MANIFEST_NAME", "load_soundcloud"]


@renamed_kwargs(root="data_dir")
def load_soundcloud(data_dir: str | Path, *, manifest: str | Path | None = None, name: str = "soundcloud") -> Dataset:
    """Load a SoundCloud collection written by :func:`genrenet.sources.soundcloud.collect`.

    Parameters
    ----------
    data_dir : str or Path
        The collector's output directory (or the manifest file itself).
        (Formerly ``root=``, still accepted with a :class:`FutureWarning`.)
    manifest : str or Path, keyword-only, optional
        Manifest path when it is not ``<data_dir>/manifest.tsv``.
    name : str, keyword-only
        Data set name recorded in results.
    """
    root = Path(data_dir).expanduser()
    path = Path(manifest) if manifest is not None else (root if root.is_file() else root / MANIFEST_NAME)
    if not path.is_file():
        raise DataError(
            f"no SoundCloud manifest at {path}: run `genrenet data collect soundcloud --to {root}` first"
        )
    ds = Dataset.from_manifest(path, name=name)
    tracks = [t if t.group else replace(t, group=t.artist) for t in ds.tracks]
    if not tracks:
        raise DataError(f"SoundCloud manifest {path} lists no downloaded track with a unified genre")
    return Dataset(name, ds.root, tracks, skipped=ds.skipped, description=f"SoundCloud collection {path}")
