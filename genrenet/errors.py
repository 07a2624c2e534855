"""Exception types shared by the whole library.

Every error that genrenet raises on purpose derives from :class:`GenrenetError`,
so a caller can catch the library's failures with one ``except`` clause while
programming errors (``TypeError`` from a wrong call, say) still surface.

Used by every chapter of the book; documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "GenrenetError",
    "AudioError",
    "DataError",
    "ChecksumError",
    "ParameterError",
    "ModelError",
]


class GenrenetError(Exception):
    """Base class of every error raised by genrenet."""


class ParameterError(GenrenetError, ValueError):
    """A function was called with an invalid parameter value."""


class AudioError(GenrenetError):
    """An audio file could not be read or decoded.

    Parameters
    ----------
    path : str or Path or None
        The file that failed (``None`` for in-memory data).
    cause : str
        A human-readable reason, e.g. ``"file is empty"``.
    """

    def __init__(self, path: str | Path | None, cause: str):
        self.path = None if path is None else Path(path)
        self.cause = cause
        where = "<memory>" if path is None else str(path)
        super().__init__(f"cannot read audio {where!s}: {cause}")


class DataError(GenrenetError):
    """A data set, manifest or split is missing or inconsistent."""


class ChecksumError(DataError):
    """A downloaded or cached file does not have the expected sha256."""

    def __init__(self, path: str | Path, expected: str, actual: str):
        self.path = Path(path)
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}; "
            "the file was not used"
        )


class ModelError(GenrenetError):
    """A model bundle is missing, incomplete or incompatible."""
