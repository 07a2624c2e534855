"""The GTZAN genre collection (Tzanetakis & Cook 2002) as a data set.

Reads both layouts in use: the original archive's ``genres/<g>/<g>.000NN.au``
and the common converted copies ``<g>/<g>.000NN.wav``. Track ids are
``<g>.000NN`` (the GTZAN clip id) so splits and the fault-filtered lists refer
to the same clips whatever the format. A ``MANIFEST.tsv`` beside the genre
folders (as in ``gtzan-mini``) supplies durations and sha256 sums without
opening the audio; partial copies (missing files, 15 s excerpts) load fine and
the missing files are listed in ``Dataset.skipped``.

Used by book chapter 04 "Data" (``notebooks/data_exploration.ipynb``) and the
GTZAN profile of every experiment notebook (``train_model.ipynb``,
``evaluation.ipynb``, ``genre_selection.ipynb``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from genrenet.datasets.base import Dataset, SkippedFile, Track
from genrenet.datasets.folder import probe_audio
from genrenet.errors import DataError, ParameterError

__all__ = ["GTZAN_GENRES", "GTZAN_FILE", "load_gtzan", "find_gtzan_root", "clip_number"]

#: The ten GTZAN genres, in the usual (alphabetical) order.
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

#: File name of one GTZAN clip: genre, five-digit clip number, extension.
GTZAN_FILE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<num>\d{5})\.(?P<ext>wav|au)$", re.IGNORECASE)


def clip_number(track_id: str) -> int:
    """Return the numeric part of a GTZAN id (``"jazz.00054"`` -> 54)."""
    m = re.search(r"(\d+)$", track_id)
    if not m:
        raise ParameterError(f"track id {track_id!r} has no GTZAN clip number")
    return int(m.group(1))


def find_gtzan_root(root: str | Path) -> Path:
    """Return the directory that holds the GTZAN genre folders below ``root``.

    Accepts the folder itself, the folder holding the archive's ``genres/``
    directory, or the extraction directory of ``genres.tar.gz``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"GTZAN directory {root} does not exist or is not a directory")
    for cand in (root, root / "genres", root / "gtzan" / "genres", root / "gtzan", root / "Data" / "genres_original"):
        if cand.is_dir() and any((cand / g).is_dir() for g in GTZAN_GENRES):
            return cand
    raise DataError(
        f"{root} does not look like GTZAN: expected genre folders ({', '.join(GTZAN_GENRES)}) "
        "holding <genre>.000NN.wav/.au files, directly or under genres/"
    )


def _read_manifest(path: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if "path" not in (reader.fieldnames or []):
            raise DataError(f"GTZAN manifest {path} has no 'path' column")
        for row in reader:
            name = Path(row["path"]).name
            m = GTZAN_FILE.match(name)
            if m:
                rows[f"{m['genre'].lower()}.{m['num']}"] = row
    return rows


def load_gtzan(
    root: str | Path,
    *,
    genres: list[str] | None = None,
    check_audio: bool = False,
    manifest: str | Path | None = None,
    name: str = "gtzan",
) -> Dataset:
    """Load GTZAN (full or partial) from ``root``.

    Parameters
    ----------
    root : str or Path
        A directory holding the genre folders (or ``genres/`` with them).
    genres : list of str, keyword-only, optional
        Keep only these genres.
    check_audio : bool, keyword-only
        Read every file's header to get its duration and drop unreadable files.
        Without a manifest durations are read from the headers anyway.
    manifest : str or Path, keyword-only, optional
        A TSV with ``path``, ``duration_s`` and ``sha256`` columns (default:
        ``MANIFEST.tsv`` beside the genre folders, when present).
    name : str, keyword-only
        Data set name recorded in results.

    Returns
    -------
    Dataset
        Tracks sorted by genre then clip number. Files listed in the manifest but
        absent, and unreadable files, are in ``Dataset.skipped``.
    """
    base = find_gtzan_root(root)
    if genres is not None:
        unknown = [g for g in genres if not (base / g).is_dir()]
        if unknown:
            raise ParameterError(f"genres: {unknown} are not genre folders of {base}")
    if manifest is None:
        cand = [base / "MANIFEST.tsv", base.parent / "MANIFEST.tsv"]
        manifest = next((c for c in cand if c.is_file()), None)
    meta = _read_manifest(Path(manifest)) if manifest is not None else {}

    found: dict[str, Path] = {}
    for gdir in sorted(p for p in base.iterdir() if p.is_dir()):
        if genres is not None and gdir.name not in genres:
            continue
        for f in sorted(gdir.iterdir()):
            m = GTZAN_FILE.match(f.name)
            if not m or not f.is_file() or m["genre"].lower() != gdir.name.lower():
                continue
            tid = f"{m['genre'].lower()}.{m['num']}"
            # prefer .wav when both formats are present
            if tid not in found or f.suffix.lower() == ".wav":
                found[tid] = f

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
                skipped.append(SkippedFile(f, str(getattr(exc, "cause", exc))))
                continue
        genre = f.parent.name.lower()
        tracks.append(Track(path=f.resolve(), genre=genre, id=tid, duration=duration, sha256=sha))
    for tid, row in meta.items():
        g = tid.split(".")[0]
        if tid not in found and (genres is None or g in genres):
            skipped.append(SkippedFile(base / row["path"], "listed in MANIFEST.tsv but missing"))
    if not tracks:
        raise DataError(f"no GTZAN clips (<genre>.000NN.wav/.au) found under {base}")
    tracks.sort(key=lambda t: (t.genre, clip_number(t.id)))
    return Dataset(name, base.resolve(), tracks, skipped=skipped, description=f"GTZAN copy at {base}")


def _num(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except ValueError:
        return None
