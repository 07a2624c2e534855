"""Tracks and data sets: the common currency of every experiment.

A :class:`Dataset` is an ordered list of :class:`Track` records (path, genre,
id, duration and optional artist/group/sha256). Splits hold indices into it,
the feature cache keys its files, and every result records its
:meth:`Dataset.content_hash` so a number can be traced back to the exact files.

Used by book chapter ``book/dev_data.md`` (notebook ``notebooks/data_exploration.ipynb``)
and, through the splits and the cache, by ``book/dev_processing.md``, ``book/dev_models.md`` and
``book/results.md`` (``train_model.ipynb``,
``results.ipynb``).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from genrenet.errors import DataError, ParameterError
from genrenet.io import atomic_write_text

__all__ = ["Track", "Dataset", "SkippedFile", "MANIFEST_COLUMNS", "MANIFEST_NAME", "SYNTHETIC_LABEL", "audio_extensions",
           "data_label", "synthetic_notice"]

#: The words that mark everything made from the generated demo corpus: book pages, chart
#: titles, tables, command output. Use :func:`data_label` / :attr:`Dataset.label` rather than
#: spelling the marker again.
SYNTHETIC_LABEL = "SYNTHETIC demo corpus"

#: Columns of a data set manifest written by :meth:`Dataset.write_manifest`.
MANIFEST_COLUMNS = ("id", "genre", "path", "duration", "artist", "group", "sha256")

#: File name of a data set's manifest inside its directory (``load_dataset("manifest", DIR)``,
#: the SoundCloud collector's output, the watched folder).
MANIFEST_NAME = "manifest.tsv"

# Used only when genrenet.audio is not importable (it is the authority on formats).
_FALLBACK_EXTENSIONS = frozenset({".wav", ".au", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".mp4"})


def audio_extensions() -> frozenset[str]:
    """Return the lower-case file extensions (with dot) genrenet can decode."""
    try:
        from genrenet.audio import SUPPORTED_EXTENSIONS
    except ImportError:  # pragma: no cover - audio module always present in a full install
        return _FALLBACK_EXTENSIONS
    return frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in SUPPORTED_EXTENSIONS)


def data_label(name: str, *, synthetic: bool) -> str:
    """How results name their data set: ``"demo (SYNTHETIC demo corpus)"``, or just ``"gtzan"``.

    Parameters
    ----------
    name : str
        The data set name recorded with a result.
    synthetic : bool, keyword-only
        Whether the data is the generated demo corpus.

    Returns
    -------
    str
    """
    return f"{name} ({SYNTHETIC_LABEL})" if synthetic else str(name)


def synthetic_notice() -> str:
    """One sentence telling a reader that what follows was measured on the synthetic corpus."""
    return (f"Built on the {SYNTHETIC_LABEL}: generated audio, not real music. Its numbers show that "
            "the pipeline works end to end, not how well a model recognises music genres.")


@dataclass(frozen=True)
class Track:
    """One audio file with its label.

    Parameters
    ----------
    path : Path
        Absolute path of the audio file.
    genre : str
        The genre label (for GTZAN and folders, the folder name).
    id : str
        Identifier unique within the data set, e.g. ``"blues.00012"``.
    duration : float or None
        Length in seconds when known.
    artist : str or None
        Performer, when the source records it (SoundCloud user name).
    group : str or None
        Any grouping key that must not straddle train and test (defaults to
        the artist in grouped splits).
    sha256 : str or None
        Expected sha256 of the file when a manifest records it.
    """

    path: Path
    genre: str
    id: str
    duration: float | None = None
    artist: str | None = None
    group: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file a loader found but could not use, with the reason."""

    path: Path
    cause: str

    def __str__(self) -> str:
        return f"{self.path}: {self.cause}"


@dataclass
class Dataset:
    """An ordered collection of :class:`Track` objects.

    Parameters
    ----------
    name : str
        Short name (``"gtzan"``, ``"demo"``, ``"folder"`` ...), recorded in results.
    root : Path or None
        Directory the tracks live under (relative manifest paths are resolved from it).
    tracks : sequence of Track
        The tracks, in a stable order (loaders sort by genre then id).
    synthetic : bool, keyword-only
        True for the generated demo corpus, so notebooks can say so.
    skipped : list of SkippedFile, keyword-only
        Files the loader found but skipped (unreadable audio, missing files).
    description : str, keyword-only
        One line describing the source, shown by :meth:`describe`.
    """

    name: str
    root: Path | None
    tracks: list[Track]
    synthetic: bool = False
    skipped: list[SkippedFile] = field(default_factory=list)
    description: str = ""

    def __post_init__(self) -> None:
        self.root = None if self.root is None else Path(self.root)
        self.tracks = list(self.tracks)
        seen: dict[str, int] = {}
        for i, t in enumerate(self.tracks):
            if not isinstance(t, Track):
                raise ParameterError(f"tracks[{i}] must be a Track, got {type(t).__name__}")
            if t.id in seen:
                raise DataError(
                    f"data set {self.name!r}: track id {t.id!r} appears twice "
                    f"({self.tracks[seen[t.id]].path} and {t.path})"
                )
            seen[t.id] = i
        self._index = seen

    # -- sequence protocol -------------------------------------------------
    def __len__(self) -> int:
        return len(self.tracks)

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return self.tracks[item]
        if isinstance(item, str):
            try:
                return self.tracks[self._index[item]]
            except KeyError:
                raise DataError(f"data set {self.name!r} has no track with id {item!r}") from None
        return self.tracks[int(item)]

    def __repr__(self) -> str:
        kind = ", synthetic" if self.synthetic else ""
        return f"Dataset({self.name!r}, {len(self)} tracks, {len(self.genres)} genres{kind}, root={self.root})"

    # -- labels ------------------------------------------------------------
    @property
    def label(self) -> str:
        """The name results and charts give this data set (marks the synthetic corpus, see :func:`data_label`)."""
        return data_label(self.name, synthetic=self.synthetic)

    @property
    def genres(self) -> list[str]:
        """Sorted list of the genres present."""
        return sorted({t.genre for t in self.tracks})

    @property
    def ids(self) -> list[str]:
        """Track ids in data set order."""
        return [t.id for t in self.tracks]

    def index_of(self, track_id: str) -> int:
        """Return the position of the track with id ``track_id`` (DataError if absent)."""
        try:
            return self._index[track_id]
        except KeyError:
            raise DataError(f"data set {self.name!r} has no track with id {track_id!r}") from None

    def labels(self, genres: Sequence[str] | None = None) -> np.ndarray:
        """Integer label of every track.

        Parameters
        ----------
        genres : sequence of str, optional
            Class order; defaults to :attr:`genres`. Every track's genre must be in it.

        Returns
        -------
        ndarray of int64, shape (n_tracks,)
        """
        order = list(self.genres if genres is None else genres)
        lookup = {g: i for i, g in enumerate(order)}
        if len(lookup) != len(order):
            raise ParameterError(f"genres must not repeat a genre, got {order}")
        out = np.empty(len(self.tracks), dtype=np.int64)
        for i, t in enumerate(self.tracks):
            if t.genre not in lookup:
                raise ParameterError(
                    f"genres={order} does not contain {t.genre!r} (track {t.id}); use subset() first"
                )
            out[i] = lookup[t.genre]
        return out

    def subset(self, genres: Iterable[str] | None = None, *, ids: Iterable[str] | None = None) -> Dataset:
        """Return a new data set holding only the given genres (and/or track ids).

        Parameters
        ----------
        genres : iterable of str, optional
            Genres to keep; each must exist in the data set.
        ids : iterable of str, keyword-only, optional
            Track ids to keep.
        """
        keep = list(self.tracks)
        if genres is not None:
            if isinstance(genres, str):
                genres = [g.strip() for g in genres.split(",") if g.strip()]
            wanted = list(genres)
            unknown = [g for g in wanted if g not in set(self.genres)]
            if unknown:
                raise ParameterError(
                    f"genres: {unknown} not in data set {self.name!r} (it has {self.genres})"
                )
            if not wanted:
                raise ParameterError("genres must name at least one genre")
            keep = [t for t in keep if t.genre in set(wanted)]
        if ids is not None:
            wanted_ids = set(ids)
            missing = wanted_ids - set(self._index)
            if missing:
                raise ParameterError(f"ids: {sorted(missing)[:5]} not in data set {self.name!r}")
            keep = [t for t in keep if t.id in wanted_ids]
        return Dataset(
            self.name,
            self.root,
            keep,
            synthetic=self.synthetic,
            skipped=list(self.skipped),
            description=self.description,
        )

    # -- manifests -----------------------------------------------------------
    def _rel(self, path: Path, base: Path | None) -> str:
        if base is not None:
            try:
                return Path(os.path.relpath(path, base)).as_posix() if _is_under(path, base) else str(path)
            except ValueError:  # pragma: no cover - different drive on Windows
                return str(path)
        return str(path)

    def write_manifest(self, path: str | Path) -> Path:
        """Write the data set as a TSV manifest (atomically) and return its path.

        Paths are stored relative to the manifest's directory when the audio lives
        below it, otherwise absolute. Columns: :data:`MANIFEST_COLUMNS`.
        """
        path = Path(path)
        base = path.resolve().parent
        lines = ["\t".join(MANIFEST_COLUMNS)]
        for t in self.tracks:
            row = [
                t.id,
                t.genre,
                self._rel(Path(t.path).resolve(), base),
                "" if t.duration is None else f"{t.duration:.3f}",
                t.artist or "",
                t.group or "",
                t.sha256 or "",
            ]
            lines.append("\t".join(_clean_cell(c) for c in row))
        return atomic_write_text(path, "\n".join(lines) + "\n")

    @classmethod
    def from_manifest(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        root: str | Path | None = None,
        synthetic: bool = False,
        missing: str = "skip",
    ) -> Dataset:
        """Read a TSV manifest (as written by :meth:`write_manifest` or the collectors).

        Parameters
        ----------
        path : str or Path
            The manifest; needs columns ``id``, ``genre`` and ``path``; ``duration``,
            ``artist``, ``group`` and ``sha256`` are optional. Extra columns are ignored;
            rows with an empty genre are skipped.
        name : str, keyword-only, optional
            Data set name (default: the manifest's directory name).
        root : str or Path, keyword-only, optional
            Base for relative paths (default: the manifest's directory).
        missing : {"skip", "raise"}, keyword-only
            What to do with rows whose audio file does not exist.
        """
        path = Path(path)
        if missing not in ("skip", "raise"):
            raise ParameterError(f"missing must be 'skip' or 'raise', got {missing!r}")
        if not path.is_file():
            raise DataError(f"manifest {path} does not exist")
        base = Path(root) if root is not None else path.resolve().parent
        tracks: list[Track] = []
        skipped: list[SkippedFile] = []
        for lineno, row in _read_tsv(path, need=("id", "genre", "path")):
            item = _manifest_row(row, path, lineno, base=base, missing=missing)
            if isinstance(item, Track):
                tracks.append(item)
            elif item is not None:
                skipped.append(item)
        return cls(
            name or path.resolve().parent.name,
            base,
            tracks,
            synthetic=synthetic,
            skipped=skipped,
            description=f"manifest {path}",
        )

    def content_hash(self) -> str:
        """Stable sha256 of the data set's content, cheap enough for every run.

        Each track contributes its id, genre and either its recorded sha256 or its
        file size and modification time (no audio is read), so renaming the root
        directory keeps the hash while editing, adding or relabelling a file changes it.
        """
        h = hashlib.sha256()
        h.update(f"genrenet-dataset-v1\t{self.name}\n".encode())
        for t in sorted(self.tracks, key=lambda t: t.id):
            if t.sha256:
                sig = f"sha256={t.sha256}"
            else:
                try:
                    st = os.stat(t.path)
                    sig = f"size={st.st_size};mtime={st.st_mtime_ns}"
                except OSError:
                    sig = "missing"
            h.update(f"{t.id}\t{t.genre}\t{sig}\n".encode())
        return h.hexdigest()

    def summary(self) -> list[dict]:
        """Per-genre rows (``genre, tracks, total_s, mean_s, min_s, max_s, unknown_duration``).

        ``pandas.DataFrame(ds.summary())`` gives the class-balance table.
        """
        rows = []
        for g in self.genres:
            durs = [t.duration for t in self.tracks if t.genre == g]
            known = [d for d in durs if d is not None and math.isfinite(d)]
            rows.append(
                {
                    "genre": g,
                    "tracks": len(durs),
                    "total_s": round(float(sum(known)), 3),
                    "mean_s": round(float(np.mean(known)), 3) if known else None,
                    "min_s": round(float(min(known)), 3) if known else None,
                    "max_s": round(float(max(known)), 3) if known else None,
                    "unknown_duration": len(durs) - len(known),
                }
            )
        return rows

    def describe(self) -> str:
        """One human-readable line naming the data set, its size and whether it is synthetic."""
        kind = SYNTHETIC_LABEL if self.synthetic else "audio"
        extra = f"; {len(self.skipped)} file(s) skipped" if self.skipped else ""
        return (
            f"data set {self.name!r} ({kind}): {len(self)} tracks in {len(self.genres)} genres "
            f"[{', '.join(self.genres)}] from {self.root}{extra}"
        )

    def with_tracks(self, tracks: Iterable[Track]) -> Dataset:
        """Return a copy with other tracks (same name, root and flags)."""
        return Dataset(
            self.name, self.root, list(tracks), synthetic=self.synthetic,
            skipped=list(self.skipped), description=self.description,
        )

    def replace_track(self, index: int, **changes) -> Track:
        """Return ``self[index]`` with fields changed (the data set is not modified)."""
        return replace(self.tracks[index], **changes)


def _read_tsv(path: Path, *, need: Sequence[str]) -> list[tuple[int, dict]]:
    """Rows of a UTF-8, tab-separated manifest as ``(line number, row)``; DataError names any problem."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            cols = set(reader.fieldnames or [])
            missing = set(need) - cols
            if missing:
                raise DataError(f"manifest {path} lacks column(s) {sorted(missing)}; has {sorted(cols)}")
            return [(lineno, row) for lineno, row in enumerate(reader, start=2)]
    except UnicodeDecodeError:
        raise DataError(f"manifest {path} is not UTF-8 text ({_first_bad_byte(path)}); save it as UTF-8") from None
    except csv.Error as exc:
        raise DataError(f"manifest {path} is not a readable tab-separated file: {exc}") from None
    except OSError as exc:
        raise DataError(f"cannot read manifest {path}: {exc.strerror or exc}") from None


def _first_bad_byte(path: Path) -> str:
    """Where a file stops being UTF-8 (the decoder's own offset is relative to the chunk it read)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f"line {line}, byte {raw[exc.start:exc.start + 1]!r} at offset {exc.start}"
    return "it changed while being read"


def _is_under(path: Path, base: Path) -> bool:
    try:
        path.relative_to(base)
        return True
    except ValueError:
        return False


def _clean_cell(value: str) -> str:
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _float_or_none(value: str | None, path: Path, lineno: int) -> float | None:
    if value is None or not str(value).strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise DataError(f"manifest {path} line {lineno}: duration {value!r} is not a number") from None


def _manifest_row(row: dict, path: Path, lineno: int, *, base: Path, missing: str) -> Track | SkippedFile | None:
    """The Track of one manifest row; a SkippedFile for a missing audio file; None for a row without genre."""
    genre = (row.get("genre") or "").strip()
    if not genre:
        return None
    rel = (row.get("path") or "").strip()
    if not rel or not (row.get("id") or "").strip():
        raise DataError(f"manifest {path} line {lineno}: empty id or path")
    p = Path(rel)
    p = p if p.is_absolute() else base / p
    if not p.exists():
        if missing == "raise":
            raise DataError(f"manifest {path} line {lineno}: audio file {p} does not exist")
        return SkippedFile(p, "listed in manifest but missing")
    if not p.is_file():  # a directory, device or FIFO (reading /dev/zero would never end)
        if missing == "raise":
            raise DataError(f"manifest {path} line {lineno}: {p} is not a regular file")
        return SkippedFile(p, "listed in manifest but not a regular file")
    return Track(
        path=p,
        genre=genre,
        id=row["id"].strip(),
        duration=_float_or_none(row.get("duration"), path, lineno),
        artist=(row.get("artist") or "").strip() or None,
        group=(row.get("group") or "").strip() or None,
        sha256=(row.get("sha256") or "").strip() or None,
    )
