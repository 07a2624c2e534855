"""Degraded copies of a data set's clips, for training with augmentation and for the robustness benchmark.

:func:`degraded_copies` writes, for every chosen track and every degradation of
:mod:`genrenet.degrade`, the file a degraded upload of that track would be, into a
cache directory (``<cache>/degraded/<degradation key>-<sr>/<sha256 of the original>.<ext>``;
atomic writes, so an interrupted run resumes and a rerun writes nothing). It returns
them as a :class:`~genrenet.datasets.Dataset` of extra tracks whose ids derive from
the original (``blues.00012~mp3_64``) and which keep its genre, artist and group.

:func:`augment_split` adds copies of a split's **training** clips, and only those,
to the data set and to the split's training part: validation and test clips are
never copied, so early stopping and every score see original clips only, and a
clip's copies are always on its side of the split. Make the split first (on the
original data set) and augment it afterwards; ``genrenet.train.train(...,
augment=[...])`` and ``genrenet train --augment`` do that.

Used by :func:`genrenet.train.train` (book chapter ``book/dev_models.md``, the robustness
section of the model cards) and ``benchmarks/bench_robustness.py``; no notebook
calls it directly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from genrenet.datasets.base import Dataset, SkippedFile, Track
from genrenet.errors import AudioError, DataError, ParameterError

__all__ = ["COPY_SEPARATOR", "DEFAULT_AUGMENTATIONS", "copy_id", "original_id", "resolve_degradations",
           "degraded_copies", "augment_split", "copies_dir"]

#: Separates a copy's id from the original's: ``blues.00012~mp3_64``.
COPY_SEPARATOR = "~"
#: Degradations used for training when ``augment=True``: codec, band limits and gain.
DEFAULT_AUGMENTATIONS = ("mp3_32", "mp3_64", "sr_8k", "sr_16k", "gain_-20db")
#: Sample rate the originals are decoded at before they are degraded (GTZAN's own).
SOURCE_SR = 22050


def copy_id(track_id: str, degradation: str) -> str:
    """Id of the copy of ``track_id`` degraded by ``degradation`` (``"blues.00012~mp3_64"``)."""
    return f"{track_id}{COPY_SEPARATOR}{degradation}"


def original_id(track_id: str) -> str:
    """Id of the original a copy was made from (the id itself for an original)."""
    return track_id.split(COPY_SEPARATOR, 1)[0]


def resolve_degradations(augment) -> tuple:
    """The :class:`~genrenet.degrade.Degradation` objects ``augment`` names.

    Parameters
    ----------
    augment : bool, str, sequence of str or None
        ``True``: :data:`DEFAULT_AUGMENTATIONS`; ``None``/``False``/empty: none; a
        comma-separated string or a sequence of names (see :func:`genrenet.degrade.get_degradation`).

    Returns
    -------
    tuple of Degradation
        Without repeats, in the order given.
    """
    from genrenet.degrade import get_degradation

    if augment is None or augment is False:
        return ()
    if augment is True:
        augment = DEFAULT_AUGMENTATIONS
    if isinstance(augment, str):
        augment = [a.strip() for a in augment.split(",") if a.strip()]
    if not isinstance(augment, Iterable):
        raise ParameterError(f"augment must be True, a list of degradation names or None, got {augment!r}")
    out: dict[str, object] = {}
    for name in augment:
        d = get_degradation(name)
        out.setdefault(d.name, d)
    return tuple(out.values())


def copies_dir(cache_dir: str | Path | None = None) -> Path:
    """Where degraded copies are kept: ``<cache_dir>/degraded`` (default: under :func:`genrenet.paths.cache_dir`)."""
    from genrenet.paths import cache_dir as default_cache_dir

    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "degraded"


def _ensure_copies(track: Track, degradations: Sequence, folder: Path, sr: int) -> list[Track]:
    """Write the missing copies of one track; return a Track per copy."""
    from genrenet import audio
    from genrenet.degrade import encode
    from genrenet.io import atomic_write_bytes, sha256_bytes, sha256_file

    digest = sha256_file(track.path)
    paths = {d.name: folder / f"{d.key()}-{sr}" / f"{digest}{d.ext}" for d in degradations}
    sums = {name: sha256_file(p) for name, p in paths.items() if p.is_file()}
    missing = [d for d in degradations if d.name not in sums]
    if missing:
        y, _ = audio.load(track.path, sr=sr)
        for d in missing:
            data = encode(y, sr, d).data
            atomic_write_bytes(paths[d.name], data)
            sums[d.name] = sha256_bytes(data)
    return [Track(path=paths[d.name], genre=track.genre, id=copy_id(track.id, d.name), duration=track.duration,
                  artist=track.artist, group=track.group or track.id, sha256=sums[d.name]) for d in degradations]


def degraded_copies(dataset: Dataset, degradations=True, *, ids: Iterable[str] | None = None,
                    cache_dir: str | Path | None = None, sr: int = SOURCE_SR, progress: bool = True) -> Dataset:
    """Write (or find) degraded copies of a data set's tracks and return them as a data set.

    Parameters
    ----------
    dataset : Dataset
        The originals (not copies).
    degradations : bool, str or sequence of str, optional
        What to make (:func:`resolve_degradations`; default :data:`DEFAULT_AUGMENTATIONS`).
    ids : iterable of str, keyword-only, optional
        Copy only these tracks (default: all).
    cache_dir : path-like, keyword-only, optional
        Cache root; copies go to :func:`copies_dir` of it.
    sr : int, keyword-only
        Rate the originals are decoded at before they are degraded.
    progress : bool, keyword-only
        Show a tqdm bar over the tracks.

    Returns
    -------
    Dataset
        One track per original and degradation, in data set order (per track, the
        degradations in the order given). Tracks whose audio cannot be read are
        listed in ``skipped`` and have no copies.

    Raises
    ------
    EncoderError
        An MP3 copy is needed and ``ffmpeg``/``libmp3lame`` is missing (before any track is done).
    """
    from tqdm import tqdm

    if not isinstance(dataset, Dataset):
        raise ParameterError(f"dataset must be a genrenet Dataset, got {type(dataset).__name__}")
    chosen = resolve_degradations(degradations)
    if not chosen:
        raise ParameterError("degradations: name at least one degradation")
    tracks = list(dataset.tracks)
    if ids is not None:
        wanted = set(ids)
        unknown = wanted - set(dataset.ids)
        if unknown:
            raise ParameterError(f"ids: {sorted(unknown)[:5]} are not in data set {dataset.name!r}")
        tracks = [t for t in tracks if t.id in wanted]
    copies = [t for t in tracks if COPY_SEPARATOR in t.id]
    if copies:
        raise DataError(f"data set {dataset.name!r} already holds degraded copies (e.g. {copies[0].id!r}); "
                        "copy the originals only")
    if any(d.kind == "mp3" for d in chosen):
        from genrenet.degrade import check_mp3_encoder

        check_mp3_encoder()  # a missing encoder fails now, not after the first track
    folder = copies_dir(cache_dir)
    out: list[Track] = []
    skipped: list[SkippedFile] = []
    names = ", ".join(d.name for d in chosen)
    for track in tqdm(tracks, desc=f"degraded copies ({names})", unit="clip", disable=not progress,
                      file=sys.stderr):
        try:
            out += _ensure_copies(track, chosen, folder, int(sr))
        except AudioError as exc:
            skipped.append(SkippedFile(Path(track.path), f"no degraded copies: {exc.cause}"))
    return Dataset(dataset.name, folder, out, synthetic=dataset.synthetic, skipped=skipped,
                   description=f"degraded copies ({names}) of {dataset.name}")


def augment_split(dataset: Dataset, split, degradations=True, *, cache_dir: str | Path | None = None,
                  progress: bool = True) -> tuple[Dataset, object]:
    """Add degraded copies of a split's training clips to the data set and to the training part.

    Parameters
    ----------
    dataset : Dataset
        The data set ``split`` was made for (originals only).
    split : genrenet.splits.Split
        Its ``train`` part is copied; ``val`` and ``test`` stay as they are.
    degradations : bool, str or sequence of str, optional
        See :func:`resolve_degradations`.
    cache_dir : path-like, keyword-only, optional
        Cache root of the copies (see :func:`degraded_copies`).
    progress : bool, keyword-only

    Returns
    -------
    (Dataset, Split)
        The data set with the copies appended after the originals (so every index of
        ``split`` still names the same clip) and the split whose ``train`` part also holds
        the copies; its ``info["augment"]`` records the degradations and counts, and its
        protocol says that the training clips were also used as degraded copies.
    """
    from genrenet.splits import Split

    if not isinstance(split, Split):
        raise ParameterError(f"split must be a genrenet Split, got {type(split).__name__}")
    split.check(dataset)
    chosen = resolve_degradations(degradations)
    if not chosen:
        return dataset, split
    copies = degraded_copies(dataset, chosen, ids=split.ids(dataset, "train"), cache_dir=cache_dir,
                             progress=progress)
    names = [d.name for d in chosen]
    combined = Dataset(dataset.name, dataset.root, [*dataset.tracks, *copies.tracks], synthetic=dataset.synthetic,
                       skipped=[*dataset.skipped, *copies.skipped],
                       description=f"{dataset.description}; with degraded copies of the training clips")
    first = len(dataset)
    info = {**split.info, "augment": {"degradations": names, "copies": len(copies),
                                      "uncopied": [str(s.path) for s in copies.skipped]}}
    augmented = replace(split, train=tuple(split.train) + tuple(range(first, first + len(copies))),
                        dataset_hash=combined.content_hash(), info=info,
                        protocol=f"{split.protocol}; training clips also as degraded copies ({', '.join(names)})")
    return combined, augmented
