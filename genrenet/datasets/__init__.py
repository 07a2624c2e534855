"""Data sets: tracks, labels, manifests and the loader registry.

``load_dataset(name, data_dir=None, **kw)`` returns a :class:`Dataset` for one of
the registered sources:

========== ==============================================================
name       source
========== ==============================================================
demo       the synthetic demo corpus (generated on first use)
gtzan      GTZAN, original ``.au`` archive layout or ``<g>/<g>.000NN.<ext>``; several roots at once
folder     any ``<genre>/<file>`` tree of your own music
soundcloud a manifest written by the SoundCloud collector
========== ==============================================================

Users add their own with :func:`register_dataset`. Used by book chapter
``book/dev_data.md`` (``notebooks/data_exploration.ipynb``) and every experiment notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from genrenet._compat import renamed_kwargs
from genrenet.datasets.base import (
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    SYNTHETIC_LABEL,
    Dataset,
    SkippedFile,
    Track,
    audio_extensions,
    data_label,
    synthetic_notice,
)
from genrenet.errors import DataError, ParameterError

__all__ = [
    "Track",
    "Dataset",
    "SkippedFile",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "SYNTHETIC_LABEL",
    "audio_extensions",
    "data_label",
    "synthetic_notice",
    "load_dataset",
    "register_dataset",
    "available_datasets",
    "is_synthetic_dataset",
]

_REGISTRY: dict[str, Callable[..., Dataset]] = {}
_SYNTHETIC: set[str] = set()


def register_dataset(name: str, loader: Callable[..., Dataset], *, overwrite: bool = False,
                     synthetic: bool = False) -> None:
    """Register ``loader(data_dir, **kw) -> Dataset`` under ``name`` for :func:`load_dataset`.

    Parameters
    ----------
    name : str
        Registry key (lower case, no spaces).
    loader : callable
        Called as ``loader(data_dir, **kw)`` (positionally); ``data_dir`` may be None.
    overwrite : bool, keyword-only
        Replace an existing registration instead of raising.
    synthetic : bool, keyword-only
        The loader returns generated audio, not music (:func:`is_synthetic_dataset`).
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ParameterError(f"name must be a non-empty identifier, got {name!r}")
    if not callable(loader):
        raise ParameterError(f"loader for {name!r} must be callable, got {type(loader).__name__}")
    if name in _REGISTRY and not overwrite:
        raise ParameterError(f"data set {name!r} is already registered (pass overwrite=True)")
    _REGISTRY[name] = loader
    if synthetic:
        _SYNTHETIC.add(name)
    else:
        _SYNTHETIC.discard(name)


def is_synthetic_dataset(name: str) -> bool:
    """Whether the registered data set ``name`` is generated audio (the demo corpus), without loading it.

    The book uses it to label pages made from such runs (see :data:`SYNTHETIC_LABEL`).
    """
    return name in _SYNTHETIC


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(_REGISTRY)


@renamed_kwargs(root="data_dir")
def load_dataset(name: str, data_dir: str | Path | None = None, **kw) -> Dataset:
    """Load a registered data set.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets` (``demo``, ``gtzan``, ``folder``, ``soundcloud``).
    data_dir : str or Path, optional
        Where the data lives. Only ``demo`` may omit it (it then generates the corpus
        into :func:`genrenet.paths.demo_dir` when missing).
        (Formerly ``root=``, still accepted with a :class:`FutureWarning`.)
    **kw
        Loader options, e.g. ``genres=[...]`` for gtzan/folder, ``per_genre`` and
        ``seed`` for demo.

    Returns
    -------
    Dataset
    """
    if name not in _REGISTRY:
        raise ParameterError(f"unknown data set {name!r}; available: {', '.join(available_datasets())}")
    return _REGISTRY[name](data_dir, **kw)


def _need_data_dir(name: str, data_dir) -> Path:
    if data_dir is None:
        raise ParameterError(f"data set {name!r} needs data_dir=: the directory holding it")
    return Path(data_dir).expanduser()


@renamed_kwargs("load_dataset", n_per_genre="per_genre")  # reached through load_dataset("demo", ...)
def _load_demo(data_dir=None, *, per_genre: int | None = None, seed: int | None = None,
               genres: list[str] | None = None, progress: bool = False, **gen_kw) -> Dataset:
    from genrenet.datasets import demo
    from genrenet.datasets.folder import load_folder
    from genrenet.paths import demo_dir

    opts = dict(gen_kw)
    if per_genre is not None:
        opts["per_genre"] = per_genre
    if seed is not None:
        opts["seed"] = seed
    root = data_dir
    if root is None:
        # non-default generation options get their own folder, so corpora never mix
        import inspect

        defaults = {k: p.default for k, p in inspect.signature(demo.generate_demo).parameters.items()}
        variant = "-".join(f"{k}{v}" for k, v in sorted(opts.items()) if defaults.get(k) != v)
        root = demo_dir() if not variant else demo_dir().parent / f"demo-{variant}"
    root = Path(root).expanduser()
    has_audio = root.is_dir() and any(root.glob("*/*.wav"))
    if not has_audio or opts or demo.recorded_version(root) != demo.DEMO_VERSION:
        # generate_demo is resumable: finished files are kept, so this is cheap when complete; a
        # corpus written by another demo version is regenerated
        demo.generate_demo(root, progress=progress, **opts)
    ds = load_folder(root, name="demo", check_audio=True, genres=genres)
    tracks = [replace(t, id=Path(t.id).name) for t in ds.tracks]
    return Dataset("demo", ds.root, tracks, synthetic=True, skipped=ds.skipped,
                   description=f"{SYNTHETIC_LABEL} at {root} (generated, not real music)")


def _load_gtzan(data_dir=None, **kw) -> Dataset:
    from genrenet.datasets.gtzan import load_gtzan

    if data_dir is None:
        _need_data_dir("gtzan", data_dir)
    return load_gtzan(data_dir, **kw)  # a path, a list of paths or paths joined by os.pathsep


def _load_folder(data_dir=None, **kw) -> Dataset:
    from genrenet.datasets.folder import load_folder

    return load_folder(_need_data_dir("folder", data_dir), **kw)


def _load_soundcloud(data_dir=None, **kw) -> Dataset:
    from genrenet.datasets.soundcloud import load_soundcloud

    return load_soundcloud(_need_data_dir("soundcloud", data_dir), **kw)


def _load_manifest(data_dir=None, **kw) -> Dataset:
    path = _need_data_dir("manifest", data_dir)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"manifest {path} does not exist")
    return Dataset.from_manifest(path, **kw)


register_dataset("demo", _load_demo, synthetic=True)
register_dataset("gtzan", _load_gtzan)
register_dataset("folder", _load_folder)
register_dataset("soundcloud", _load_soundcloud)
register_dataset("manifest", _load_manifest)
