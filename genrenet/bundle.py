"""Model bundles: a trained model plus everything needed to use it again.

A bundle is a directory holding ``model.keras`` (or ``model.joblib`` for a
scikit-learn model) and ``meta.json`` with the genres, the feature
specification, the metrics and the protocol that produced them. Training
(:mod:`genrenet.train`) writes bundles; prediction (:mod:`genrenet.predict`)
and the web service read them. Used in the book chapters ``book/dev_models.md``
and ``book/dev_website.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrenet.errors import ModelError
from genrenet.io import atomic_dir

__all__ = ["Bundle", "save_bundle", "load_meta", "load_bundle", "find_bundles", "versions"]

META = "meta.json"
KERAS_FILE = "model.keras"
SKLEARN_FILE = "model.joblib"
REQUIRED_META = ("name", "model", "genres", "feature")


@dataclass
class Bundle:
    """A loaded model bundle."""

    path: Path
    meta: dict[str, Any]
    model: Any = field(repr=False)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def genres(self) -> list[str]:
        return list(self.meta["genres"])

    @property
    def is_keras(self) -> bool:
        return (self.path / KERAS_FILE).exists()


def versions() -> dict[str, str]:
    """Versions of the packages that determine a result (recorded in every bundle)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("genrenet", "tensorflow-cpu", "keras", "numpy", "librosa", "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def save_bundle(path: str | Path, model: Any, meta: dict[str, Any], *, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a bundle atomically: the directory appears complete or not at all.

    Parameters
    ----------
    path : path-like
        Bundle directory to create or replace.
    model : keras.Model or scikit-learn estimator
    meta : dict
        Must contain ``name``, ``model``, ``genres`` and ``feature``; ``created`` and
        ``versions`` are added when missing.
    extra_files : dict, optional
        File name → bytes, written into the bundle too (history, plots, ...).
    """
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ModelError(f"bundle meta for {path} lacks required keys: {', '.join(missing)}")
    meta = dict(meta)
    meta.setdefault("created", _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    meta.setdefault("versions", versions())
    with atomic_dir(path) as tmp:
        if hasattr(model, "save") and hasattr(model, "layers"):
            model.save(tmp / KERAS_FILE)
        else:
            import joblib

            joblib.dump(model, tmp / SKLEARN_FILE)
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        for name, data in (extra_files or {}).items():
            if "/" in name or name in (META, KERAS_FILE, SKLEARN_FILE):
                raise ModelError(f"invalid extra bundle file name {name!r}")
            (tmp / name).write_bytes(data)
    return Path(path)


def load_meta(path: str | Path) -> dict[str, Any]:
    """Read and validate ``meta.json`` of the bundle at ``path``."""
    path = Path(path)
    meta_file = path / META
    if not meta_file.is_file():
        raise ModelError(f"{path} is not a model bundle: {META} is missing")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{meta_file} is not valid JSON: {exc}") from exc
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ModelError(f"{meta_file} lacks required keys: {', '.join(missing)}")
    if not ((path / KERAS_FILE).exists() or (path / SKLEARN_FILE).exists()):
        raise ModelError(f"bundle {path} has neither {KERAS_FILE} nor {SKLEARN_FILE}")
    return meta


def load_bundle(path: str | Path) -> Bundle:
    """Load the model and metadata of the bundle at ``path``."""
    path = Path(path)
    meta = load_meta(path)
    if (path / KERAS_FILE).exists():
        from genrenet._tf import keras

        try:
            model = keras.models.load_model(path / KERAS_FILE, compile=False)
        except Exception as exc:  # keras raises many types for bad files
            raise ModelError(f"cannot load {path / KERAS_FILE}: {exc}") from exc
    else:
        import joblib

        model = joblib.load(path / SKLEARN_FILE)
    return Bundle(path=path, meta=meta, model=model)


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
