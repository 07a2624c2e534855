"""Your own music as a data set: a ``<genre>/<file>`` folder tree.

Any directory whose sub-folders are genres and whose files (at any depth below
a genre folder) are audio becomes a :class:`~genrenet.datasets.base.Dataset`:
the genre is the top-level folder name, non-audio files and hidden files are
ignored, and files that cannot be decoded are reported in
``Dataset.skipped`` (and as a warning) instead of stopping the run. Symbolic
links are followed, also out of the folder (a genre folder may live on another
disk; track ids are the paths inside the folder); broken links, link loops and
links to devices or FIFOs are reported in ``Dataset.skipped``.

Used by book chapter ``book/dev_data.md`` (``notebooks/data_exploration.ipynb``) and by
``genrenet evaluate --data DIR`` for evaluating a bundle on any folder.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

from genrenet._compat import renamed_kwargs
from genrenet.datasets.base import Dataset, SkippedFile, Track, audio_extensions
from genrenet.errors import AudioError, DataError, ParameterError

__all__ = ["load_folder", "probe_audio"]


def probe_audio(path: str | Path) -> float:
    """Return the duration in seconds of an audio file, reading only its header.

    Raises
    ------
    genrenet.errors.AudioError
        When the file cannot be decoded (empty, not audio, corrupt header).
    """
    from genrenet.audio import info

    meta = info(path)
    duration = meta["duration"] if isinstance(meta, dict) else meta.duration
    return float(duration)


@renamed_kwargs(root="data_dir")
def load_folder(
    data_dir: str | Path,
    *,
    name: str = "folder",
    check_audio: bool = True,
    extensions: set[str] | None = None,
    genres: list[str] | None = None,
    warn: bool = True,
) -> Dataset:
    """Load a ``<genre>/<file>`` tree of audio files.

    Parameters
    ----------
    data_dir : str or Path
        Directory whose sub-folders are genres.
        (Formerly ``root=``, still accepted with a :class:`FutureWarning`.)
    name : str, keyword-only
        Data set name recorded in results.
    check_audio : bool, keyword-only
        Probe every file's header (cheap); unreadable files are skipped and listed
        in ``Dataset.skipped``. With False every file with an audio extension is kept
        (the feature cache still reports and skips undecodable ones).
    extensions : set of str, keyword-only, optional
        Extensions to accept (default: every format :mod:`genrenet.audio` decodes).
    genres : list of str, keyword-only, optional
        Keep only these genre folders.
    warn : bool, keyword-only
        Emit a :class:`UserWarning` summarising skipped files.

    Returns
    -------
    Dataset
        Tracks sorted by genre then relative path; ``id`` is the path relative to
        ``data_dir`` without extension (``"jazz/live/track01"``).
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"data directory {root} does not exist or is not a directory")
    exts = {e.lower() for e in (extensions or audio_extensions())}
    tracks: list[Track] = []
    skipped: list[SkippedFile] = []
    full_ids: list[str] = []  # path inside the data set with its extension
    for gdir in _genre_dirs(root, genres):
        _scan_genre(root, gdir, exts, check_audio=check_audio, tracks=tracks, skipped=skipped, full_ids=full_ids)
    # "song.mp3" next to "song.wav": keep the extension in both ids so they stay unique
    counts = Counter(t.id for t in tracks)
    tracks = [t if counts[t.id] == 1 else replace(t, id=full) for t, full in zip(tracks, full_ids, strict=True)]
    if not tracks:
        raise DataError(
            f"no readable audio found in {root}: expected <genre>/<file> sub-folders with "
            f"files ending in {sorted(exts)}" + (f" ({len(skipped)} unreadable)" if skipped else "")
        )
    if skipped and warn:
        warnings.warn(
            f"{len(skipped)} unreadable file(s) skipped in {root}: "
            + "; ".join(str(s) for s in skipped[:3])
            + (" ..." if len(skipped) > 3 else ""),
            stacklevel=3,  # the caller of load_folder (renamed_kwargs adds a frame)
        )
    return Dataset(name, root.resolve(), tracks, skipped=skipped, description=f"folder tree {root}")


def _genre_dirs(root: Path, genres: list[str] | None) -> list[Path]:
    """The genre folders of ``root`` (hidden and ``_`` folders excluded), only ``genres`` when given."""
    genre_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if genres is not None:
        have = {p.name for p in genre_dirs}
        unknown = [g for g in genres if g not in have]
        if unknown:
            raise ParameterError(f"genres: {unknown} are not folders of {root} (found {sorted(have)})")
        genre_dirs = [p for p in genre_dirs if p.name in set(genres)]
    return genre_dirs


def _scan_genre(root: Path, gdir: Path, exts: set[str], *, check_audio: bool, tracks: list[Track],
                skipped: list[SkippedFile], full_ids: list[str]) -> None:
    """Append the audio files under ``gdir`` to ``tracks`` (and ``full_ids``), the unreadable ones to ``skipped``."""
    for f in sorted(gdir.rglob("*")):
        rel = f.relative_to(root)  # where the file appears in the tree, whatever links lead to
        if any(part.startswith(".") for part in rel.parts) or f.suffix.lower() not in exts:
            continue
        problem = _not_a_file(f)
        if problem == "directory":
            continue
        if problem is not None:
            skipped.append(SkippedFile(f, problem))
            continue
        duration = None
        if check_audio:
            try:
                duration = probe_audio(f)
            except Exception as exc:  # any decoder failure: report, skip, carry on
                skipped.append(SkippedFile(f, _cause(exc)))
                continue
        tracks.append(Track(path=f.resolve(), genre=gdir.name, id=rel.with_suffix("").as_posix(),
                            duration=duration))
        full_ids.append(rel.as_posix())


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be a track (``"directory"`` for folders), or None for a regular file.

    Symbolic links are followed, also out of the data set (a genre folder may live on
    another disk); broken links, link loops and links to devices or FIFOs are reported.
    """
    try:
        st = path.stat()
    except OSError as exc:
        if path.is_symlink():
            return "symbolic link loop" if exc.errno == errno.ELOOP else \
                f"broken symbolic link to {os.readlink(path)}"
        return f"cannot read it: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if not stat.S_ISREG(st.st_mode):
        via = f" (symbolic link to {os.readlink(path)})" if path.is_symlink() else ""
        return f"not a regular file: a device, FIFO or socket{via}"
    return None


def _cause(exc: Exception) -> str:
    cause = exc.cause if isinstance(exc, AudioError) else None
    return str(cause) if cause else f"{type(exc).__name__}: {exc}"
