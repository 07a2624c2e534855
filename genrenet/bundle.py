"""Model bundles: a trained model plus everything needed to use it again.

A bundle is a directory holding ``model.keras`` (or ``model.joblib`` for a
scikit-learn model) and ``meta.json`` (:class:`genrenet.results.BundleMeta`: the
genres, the feature specification, the metrics and the protocol that produced
them). Which file is present is the one Keras-versus-scikit-learn decision of a
bundle (:attr:`Bundle.framework`). Training (:mod:`genrenet.train`) writes
bundles; evaluation (:mod:`genrenet.evaluate`), prediction (:mod:`genrenet.predict`)
and the web service read them and run them through :mod:`genrenet.inference`.
Used in the book pages ``book/dev_models.md`` and ``book/dev_website.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrenet.errors import ModelError
from genrenet.io import atomic_dir
from genrenet.results import BundleMeta

__all__ = ["Bundle", "BundleMeta", "save_bundle", "load_meta", "load_bundle", "find_bundles", "versions",
           "framework_of", "bundle_framework", "KERAS", "SKLEARN"]

META = "meta.json"
KERAS_FILE = "model.keras"
SKLEARN_FILE = "model.joblib"
#: The two kinds of model a bundle can hold (:attr:`Bundle.framework`).
KERAS, SKLEARN = "keras", "sklearn"


@dataclass(frozen=True)
class Bundle:
    """A loaded model bundle.

    Attributes
    ----------
    path : Path
        The bundle directory.
    meta : BundleMeta
        Its ``meta.json``.
    model : keras.Model or scikit-learn estimator
    framework : {"keras", "sklearn"}
        Which file the model came from (``model.keras`` or ``model.joblib``).
    """

    path: Path
    meta: BundleMeta
    model: Any = field(repr=False)
    framework: str = KERAS

    @property
    def name(self) -> str:
        """Display name."""
        return self.meta.name

    @property
    def genres(self) -> list[str]:
        """Class names in output order."""
        return list(self.meta.genres)

    @property
    def is_keras(self) -> bool:
        """True for a Keras model (``model.keras``), False for a scikit-learn one."""
        return self.framework == KERAS


def framework_of(model: Any) -> str:
    """``"keras"`` for a Keras model object, ``"sklearn"`` for a fitted scikit-learn estimator.

    For a model in memory (bundles say it by their file: :attr:`Bundle.framework`).
    """
    if hasattr(model, "layers") and hasattr(model, "save"):
        return KERAS
    if hasattr(model, "predict_proba"):
        return SKLEARN
    raise ModelError(f"cannot tell what kind of model a {type(model).__name__} is: "
                     "expected a Keras model or a scikit-learn estimator with predict_proba")


def versions() -> dict[str, str]:
    """Versions of the packages that determine a result (recorded in every bundle)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("genrenet", "tensorflow-cpu", "keras", "numpy", "soxr", "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def save_bundle(path: str | Path, model: Any, meta: BundleMeta | Mapping[str, Any], *,
                extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a bundle atomically: the directory appears complete or not at all.

    Parameters
    ----------
    path : path-like
        Bundle directory to create or replace.
    model : keras.Model or scikit-learn estimator
    meta : BundleMeta or dict
        A dict is read with :meth:`BundleMeta.from_dict` (``name``, ``model``, ``genres``
        and ``feature`` are required); ``created`` and ``versions`` are added when missing.
    extra_files : dict, optional
        File name → bytes, written into the bundle too (history, plots, ...).
    """
    import dataclasses

    if not isinstance(meta, BundleMeta):
        meta = BundleMeta.from_dict(meta, where=path)
    meta = dataclasses.replace(meta, created=meta.created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                               versions=meta.versions or versions())
    with atomic_dir(path) as tmp:
        if framework_of(model) == KERAS:
            model.save(tmp / KERAS_FILE)
        else:
            import joblib

            joblib.dump(model, tmp / SKLEARN_FILE)
        (tmp / META).write_text(json.dumps(meta.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
        for name, data in (extra_files or {}).items():
            if "/" in name or name in (META, KERAS_FILE, SKLEARN_FILE):
                raise ModelError(f"invalid extra bundle file name {name!r}")
            (tmp / name).write_bytes(data)
    return Path(path)


def load_meta(path: str | Path) -> BundleMeta:
    """Read and validate ``meta.json`` of the bundle at ``path``.

    Raises
    ------
    ModelError
        No ``meta.json``, not JSON, a required key missing or invalid (genres, feature
        specification), or no model file beside it.
    """
    path = Path(path)
    meta_file = path / META
    if not meta_file.is_file():
        raise ModelError(f"{path} is not a model bundle: {META} is missing")
    try:
        data = json.loads(meta_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_file} is not valid JSON: {exc}") from exc
    meta = BundleMeta.from_dict(data, where=path)
    bundle_framework(path)
    return meta


def bundle_framework(path: str | Path) -> str:
    """``"keras"`` when the bundle at ``path`` holds ``model.keras``, ``"sklearn"`` for ``model.joblib``."""
    path = Path(path)
    if (path / KERAS_FILE).exists():
        return KERAS
    if (path / SKLEARN_FILE).exists():
        return SKLEARN
    raise ModelError(f"bundle {path} has neither {KERAS_FILE} nor {SKLEARN_FILE}")


def load_bundle(path: str | Path) -> Bundle:
    """Load the model and metadata of the bundle at ``path``."""
    path = Path(path)
    meta = load_meta(path)
    framework = bundle_framework(path)
    if framework == KERAS:
        from genrenet._tf import keras

        try:
            model = keras.models.load_model(path / KERAS_FILE, compile=False)
        except Exception as exc:  # keras raises many types for bad files
            raise ModelError(f"cannot load {path / KERAS_FILE}: {exc}") from exc
    else:
        import joblib

        model = joblib.load(path / SKLEARN_FILE)
    return Bundle(path=path, meta=meta, model=model, framework=framework)


def find_bundles(root: str | Path) -> list[Path]:
    """Return every bundle directory at or below ``root``, sorted.

    Symbolic links to directories are followed (a models directory may hold links to
    bundles kept elsewhere, such as the book's run directories); link cycles and a bundle
    linked twice are visited once. A missing directory yields no bundles.
    """
    import os

    found: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        if META in filenames and (KERAS_FILE in filenames or SKLEARN_FILE in filenames):
            found.append(Path(dirpath))
        dirnames.sort()
    return sorted(found)
