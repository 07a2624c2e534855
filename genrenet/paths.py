"""Where genrenet keeps generated data, caches and models on disk.

Everything lives under one home directory, ``$GENRENET_HOME`` if set, else
``~/.cache/genrenet``. Each location can also be passed explicitly to the
function that uses it; these are only the defaults.

Used by every chapter of the book; documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "demo_dir", "cache_dir", "models_dir", "downloads_dir"]


def home() -> Path:
    """Return genrenet's home directory (created on first use)."""
    root = os.environ.get("GENRENET_HOME")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "genrenet"
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_dir() -> Path:
    """Default location of the generated synthetic demo corpus."""
    return home() / "demo"


def cache_dir() -> Path:
    """Default root of the feature cache."""
    return Path(os.environ.get("GENRENET_CACHE", home() / "features")).expanduser()


def models_dir() -> Path:
    """Default directory searched for trained model bundles (``$GENRENET_MODELS``)."""
    return Path(os.environ.get("GENRENET_MODELS", home() / "models")).expanduser()


def downloads_dir() -> Path:
    """Default directory for downloaded archives and split lists."""
    return home() / "downloads"
