"""The GTZAN genre collection (Tzanetakis & Cook 2002) as a data set.

Reads both layouts in use: the original archive's ``genres/<g>/<g>.000NN.au``
and the common converted copies ``<g>/<g>.000NN.wav``, in any audio format genrenet
decodes (``.wav``, ``.au``, ``.ogg``, ``.flac``, ``.mp3``...). Track ids are
``<g>.000NN`` (the GTZAN clip id) so splits and the fault-filtered lists refer
to the same clips whatever the format. A ``MANIFEST.tsv`` beside the genre
folders (as in ``gtzan-mini``) supplies durations and sha256 sums without
opening the audio; partial copies (missing files, 15 s excerpts) load fine and
the missing files are listed in ``Dataset.skipped``.

Several partial copies load as one data set: pass a list of roots (or one string of
roots separated by ``os.pathsep``, e.g. ``--data-dir gtzan-mini:gtzan-extra``), or a
manifest file listing the clips. A clip id found twice (in two roots, or in two
formats) is an error naming both files: the same clip must never be counted twice.

Used by book chapter ``book/dev_data.md`` (``notebooks/data_exploration.ipynb``) and the
GTZAN profile of every experiment notebook (``train_model.ipynb``,
``results.ipynb``, ``genre_selection.ipynb``).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path

from genrenet._compat import renamed_kwargs
from genrenet.datasets.base import Dataset, SkippedFile, Track
from genrenet.datasets.folder import probe_audio
from genrenet.errors import AudioError, DataError, ParameterError

__all__ = ["GTZAN_GENRES", "GTZAN_FILE", "load_gtzan", "find_gtzan_root", "clip_number", "is_clip_file"]

#: The ten GTZAN genres, in the usual (alphabetical) order.
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

#: File name of one GTZAN clip: genre, five-digit clip number, extension (checked
#: against the formats genrenet decodes by :func:`is_clip_file`).
GTZAN_FILE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<num>\d{5})\.(?P<ext>[a-z0-9]+)$", re.IGNORECASE)


def clip_number(track_id: str) -> int:
    """Return the numeric part of a GTZAN id (``"jazz.00054"`` -> 54)."""
    m = re.search(r"(\d+)$", track_id)
    if not m:
        raise ParameterError(f"track id {track_id!r} has no GTZAN clip number")
    return int(m.group(1))


@renamed_kwargs(root="data_dir")
def find_gtzan_root(data_dir: str | Path) -> Path:
    """Return the directory that holds the GTZAN genre folders below ``data_dir``.

    Accepts the folder itself, the folder holding the archive's ``genres/``
    directory, or the extraction directory of ``genres.tar.gz``. (``data_dir`` was
    formerly ``root=``, still accepted with a :class:`FutureWarning`.)
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"GTZAN directory {root} does not exist or is not a directory")
    for cand in (root, root / "genres", root / "gtzan" / "genres", root / "gtzan", root / "Data" / "genres_original"):
        if cand.is_dir() and any((cand / g).is_dir() for g in GTZAN_GENRES):
            return cand
    raise DataError(
        f"{root} does not look like GTZAN: expected genre folders ({', '.join(GTZAN_GENRES)}) "
        "holding <genre>.000NN.wav/.au files, directly or under genres/"
    )


def is_clip_file(name: str) -> re.Match | None:
    """Match ``name`` against :data:`GTZAN_FILE` with a decodable audio extension."""
    from genrenet.datasets.base import audio_extensions

    m = GTZAN_FILE.match(name)
    return m if m and "." + m["ext"].lower() in audio_extensions() else None


def _read_manifest(path: Path) -> dict[str, dict]:
    """Rows of a GTZAN manifest by clip id (the ``path`` column gives the file)."""
    rows: dict[str, dict] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            if "path" not in (reader.fieldnames or []):
                raise DataError(f"GTZAN manifest {path} has no 'path' column")
            for row in reader:
                m = is_clip_file(Path(row["path"] or "").name)
                if m:
                    rows[f"{m['genre'].lower()}.{m['num']}"] = row
    except UnicodeDecodeError as exc:
        raise DataError(f"GTZAN manifest {path} is not UTF-8 text: {exc}") from None
    return rows


def _roots(root) -> list[Path]:
    """One or several roots: a path, a list of paths, or paths joined by ``os.pathsep``."""
    items = [root] if isinstance(root, (str, os.PathLike)) else list(root) if isinstance(root, Sequence) else None
    if not items:
        raise ParameterError(f"root must be a path, a list of paths or paths joined by {os.pathsep!r}, got {root!r}")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        parts = [item] if Path(text).exists() else str(text).split(os.pathsep)
        out.extend(Path(p).expanduser() for p in parts if str(p).strip())
    if not out:
        raise ParameterError("root: no directory given")
    return out


def _scan(base: Path, genres) -> dict[str, Path]:
    """Clip id -> file of every GTZAN clip under the genre folders of ``base``."""
    found: dict[str, Path] = {}
    for gdir in sorted(p for p in base.iterdir() if p.is_dir()):
        if genres is not None and gdir.name not in genres:
            continue
        for f in sorted(gdir.iterdir()):
            m = is_clip_file(f.name)
            if not m or not f.is_file() or m["genre"].lower() != gdir.name.lower():
                continue
            tid = f"{m['genre'].lower()}.{m['num']}"
            if tid in found:
                raise DataError(f"GTZAN clip {tid} is present twice: {found[tid]} and {f}; keep one of them")
            found[tid] = f
    return found


def _from_manifest_file(path: Path, genres) -> tuple[dict[str, Path], dict[str, dict]]:
    """Clips listed by a manifest file (paths relative to its folder); missing ones are left out."""
    rows = _read_manifest(path)
    files = {tid: (path.parent / row["path"]) for tid, row in rows.items()
             if genres is None or tid.split(".")[0] in genres}
    return {tid: f for tid, f in files.items() if f.is_file()}, rows


def _collect(roots: list[Path], genres, manifest) -> tuple[dict[str, Path], dict[str, dict], list[Path]]:
    """Files and manifest rows of every root; a clip id seen twice is a DataError."""
    found: dict[str, Path] = {}
    meta: dict[str, dict] = {}
    bases: list[Path] = []
    for root in roots:
        if root.is_file():
            files, rows = _from_manifest_file(root, genres)
            bases.append(root.parent)
        else:
            base = find_gtzan_root(root)
            bases.append(base)
            man = manifest if manifest is not None and len(roots) == 1 else next(
                (c for c in (base / "MANIFEST.tsv", base.parent / "MANIFEST.tsv") if c.is_file()), None)
            rows = _read_manifest(Path(man)) if man is not None else {}
            files = _scan(base, genres)
        for tid, f in files.items():
            if tid in found:
                raise DataError(f"GTZAN clip {tid} is present twice: {found[tid]} and {f}; keep one of them")
            found[tid] = f
        meta.update({tid: row for tid, row in rows.items() if tid not in meta})
    return found, meta, bases


@renamed_kwargs(root="data_dir")
def load_gtzan(
    data_dir,
    *,
    genres: list[str] | None = None,
    check_audio: bool = False,
    manifest: str | Path | None = None,
    name: str = "gtzan",
) -> Dataset:
    """Load GTZAN (full or partial, from one or several places) as one data set.

    Parameters
    ----------
    data_dir : str, Path or sequence of them
        A directory holding the genre folders (or ``genres/`` with them), a manifest
        file (TSV with a ``path`` column, paths relative to it), or several of these:
        a list, or one string joined by ``os.pathsep``.
        (Formerly ``root=``, still accepted with a :class:`FutureWarning`.)
    genres : list of str, keyword-only, optional
        Keep only these genres.
    check_audio : bool, keyword-only
        Read every file's header to get its duration and drop unreadable files.
        Without a manifest duration, durations are read from the headers anyway.
    manifest : str or Path, keyword-only, optional
        For a single root: a TSV with ``path``, ``duration_s`` and ``sha256`` columns
        (default: ``MANIFEST.tsv`` beside the genre folders, when present).
    name : str, keyword-only
        Data set name recorded in results.

    Returns
    -------
    Dataset
        Tracks sorted by genre then clip number. Files listed in a manifest but
        absent, and unreadable files, are in ``Dataset.skipped``.

    Raises
    ------
    DataError
        No clip found, a root is not GTZAN, or a clip id is present twice.

    Examples
    --------
    >>> ds = load_gtzan(["data/gtzan-mini", "data/gtzan-extra"])   # doctest: +SKIP
    >>> ds.genres[:3]                                               # doctest: +SKIP
    ['blues', 'classical', 'country']
    """
    roots = _roots(data_dir)
    found, meta, bases = _collect(roots, genres, manifest)
    if genres is not None:
        present = {tid.split(".")[0] for tid in found} | {tid.split(".")[0] for tid in meta}
        folders = {p.name for b in bases for p in b.iterdir() if p.is_dir()}
        unknown = [g for g in genres if g not in present | folders]
        if unknown:
            raise ParameterError(f"genres: {unknown} are not genre folders of {', '.join(map(str, bases))}")
    tracks: list[Track] = []
    skipped: list[SkippedFile] = []
    for tid, f in found.items():
        row = meta.get(tid, {})
        duration = _num(row.get("duration_s") or row.get("duration"))
        sha = (row.get("sha256") or "").strip() or None
        if check_audio or duration is None:
            try:
                duration = probe_audio(f)
            except Exception as exc:
                skipped.append(SkippedFile(f, exc.cause if isinstance(exc, AudioError) else str(exc)))
                continue
        tracks.append(Track(path=f.resolve(), genre=tid.split(".")[0], id=tid, duration=duration, sha256=sha))
    for tid, row in meta.items():
        if tid not in found and (genres is None or tid.split(".")[0] in genres):
            skipped.append(SkippedFile(Path(row["path"]), "listed in a manifest but missing"))
    where = ", ".join(str(b) for b in bases)
    if not tracks:
        raise DataError(f"no GTZAN clips (<genre>.000NN.<audio extension>) found under {where}")
    tracks.sort(key=lambda t: (t.genre, clip_number(t.id)))
    common = Path(os.path.commonpath([str(b.resolve()) for b in bases]))
    return Dataset(name, common, tracks, skipped=skipped, description=f"GTZAN clips from {where}")


def _num(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except ValueError:
        return None
