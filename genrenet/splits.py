"""Train/validation/test protocols that keep numbers honest.

A :class:`Split` holds track indices into a :class:`~genrenet.datasets.Dataset`
and names its protocol, and it is JSON-able so every result records exactly
which split produced it. Three protocols:

* :func:`stratified_split`: a random stratified split by track, as in the thesis.
* :func:`grouped_kfold`: k folds where a group (a track, an artist, or a block of
  consecutive GTZAN ids) is always on one side, stratified per genre, each fold
  with a validation part carved from its training part. Windows/segments are cut
  from tracks later, so a track's segments never straddle train and test.
* :func:`fault_filtered_split`: the artist-conditional fault-filtered GTZAN split
  (Kereliuk et al. 2015; Sturm 2013), 443/197/290 clips.

Used by book chapters ``book/dev_data.md`` and ``book/dev_models.md``
(``notebooks/data_exploration.ipynb``, ``notebooks/train_model.ipynb``, ``notebooks/results.ipynb``).
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrenet._compat import renamed_kwargs
from genrenet._validate import int_at_least
from genrenet.datasets.base import Dataset
from genrenet.errors import DataError, ParameterError
from genrenet.repro import DEFAULT_SEED

__all__ = [
    "Split",
    "stratified_split",
    "grouped_kfold",
    "fault_filtered_split",
    "FAULT_FILTERED_FILES",
    "DEFAULT_SPLITS_URL",
    "PROTOCOLS",
    "GROUPINGS",
]

#: How :func:`grouped_kfold` can group tracks (its ``by`` argument and the ``--by`` options).
GROUPINGS = ("track", "artist", "block")

#: Human-readable protocol descriptions recorded in every Split.
PROTOCOLS = {
    "stratified": "random stratified split by track (thesis protocol)",
    "track": "grouped {k}-fold CV by track, stratified by genre",
    "artist": "grouped {k}-fold CV by artist, stratified by genre",
    "block": "grouped {k}-fold CV by track, contiguous id blocks per genre (optimistic: an artist's clips "
             "can fall on both sides)",
    "fault_filtered": "fault-filtered artist-conditional GTZAN split (Kereliuk et al. 2015): fit on its train "
                      "list, early stopping on its valid list, scored on its valid and test clips, whose "
                      "artists training never heard",
    "fault_filtered_final": "fault-filtered artist-conditional GTZAN split (Kereliuk et al. 2015), final model: "
                            "fit on its train and valid lists, scored on its test clips, whose artists training "
                            "never heard",
}

#: The fault-filtered split lists and their published sha256 sums.
FAULT_FILTERED_FILES = {
    "train": ("train_filtered.txt", "2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa"),
    "val": ("valid_filtered.txt", "f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956"),
    "test": ("test_filtered.txt", "09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72"),
}

#: Where the lists are published (the dnn-mgr project); override with $GENRENET_SPLITS_URL.
DEFAULT_SPLITS_URL = "https://raw.githubusercontent.com/coreyker/dnn-mgr/master/"


@dataclass(frozen=True)
class Split:
    """Track indices of one train/validation/test partition.

    Parameters
    ----------
    name : str
        E.g. ``"stratified"``, ``"block-fold2of5"``, ``"fault_filtered"``.
    train, val, test : tuple of int
        Indices into the data set the split was made for.
    protocol : str
        Human-readable description recorded with every result.
    dataset : str or None
        Name of that data set.
    dataset_hash : str or None
        Its :meth:`~genrenet.datasets.Dataset.content_hash`.
    missing : tuple of str
        Ids a fixed split lists but the data set lacks (fault-filtered split).
    seed : int or None
        Seed that produced it (None for fixed splits).
    """

    name: str
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    protocol: str
    dataset: str | None = None
    dataset_hash: str | None = None
    missing: tuple[str, ...] = ()
    seed: int | None = None
    info: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for part in ("train", "val", "test"):
            object.__setattr__(self, part, tuple(int(i) for i in getattr(self, part)))
        object.__setattr__(self, "missing", tuple(self.missing))
        a, b, c = set(self.train), set(self.val), set(self.test)
        if a & b or a & c or b & c:
            raise DataError(f"split {self.name!r}: a track is in more than one part")

    @property
    def sizes(self) -> dict[str, int]:
        """Number of tracks per part."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def indices(self, part: str) -> np.ndarray:
        """Indices of ``part`` ("train", "val" or "test") as an int64 array."""
        if part not in ("train", "val", "test"):
            raise ParameterError(f"part must be 'train', 'val' or 'test', got {part!r}")
        return np.asarray(getattr(self, part), dtype=np.int64)

    @property
    def val_heldout(self) -> bool:
        """True when the validation tracks are also scored (they share no artist with training).

        The fault-filtered split's valid list is artist-disjoint from its train list, so
        it counts among the clips a model is judged on; random splits' validation parts
        only guide training.
        """
        return bool(self.info.get("val_heldout"))

    @property
    def scored(self) -> tuple[int, ...]:
        """Indices a trained model is scored on: ``test``, plus ``val`` when :attr:`val_heldout`."""
        return tuple(sorted(self.test + (self.val if self.val_heldout else ())))

    def to_dict(self) -> dict:
        """JSON-able dict (indices, sizes, protocol, data set, missing ids)."""
        return {
            "name": self.name,
            "protocol": self.protocol,
            "dataset": self.dataset,
            "dataset_hash": self.dataset_hash,
            "seed": self.seed,
            "sizes": self.sizes,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
            "missing": list(self.missing),
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                name=d["name"], train=d["train"], val=d["val"], test=d["test"], protocol=d["protocol"],
                dataset=d.get("dataset"), dataset_hash=d.get("dataset_hash"),
                missing=tuple(d.get("missing", ())), seed=d.get("seed"), info=dict(d.get("info", {})),
            )
        except KeyError as exc:
            raise DataError(f"split dict lacks key {exc.args[0]!r}") from None

    def ids(self, dataset: Dataset, part: str) -> list[str]:
        """Track ids of ``part`` in ``dataset``."""
        return [dataset[i].id for i in self.indices(part)]

    def check(self, dataset: Dataset) -> None:
        """Raise DataError if the split does not fit ``dataset`` (indices out of range or hash differs)."""
        n = len(dataset)
        for part in ("train", "val", "test"):
            bad = [i for i in getattr(self, part) if not 0 <= i < n]
            if bad:
                raise DataError(f"split {self.name!r}: {part} index {bad[0]} out of range for {n} tracks")
        if self.dataset_hash and self.dataset_hash != dataset.content_hash():
            raise DataError(
                f"split {self.name!r} was made for another version of data set {self.dataset!r} "
                "(content hash differs)"
            )

    def __repr__(self) -> str:
        s = self.sizes
        return f"Split({self.name!r}, train={s['train']}, val={s['val']}, test={s['test']}, {self.protocol!r})"


def _check_fraction(name: str, value, *, allow_zero: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if not (0.0 <= v < 1.0) or (v == 0.0 and not allow_zero):
        raise ParameterError(f"{name} must be in {'[0' if allow_zero else '(0'}, 1), got {value!r}")
    return v


def _check_dataset(dataset) -> None:
    if not isinstance(dataset, Dataset):
        raise ParameterError(f"dataset must be a genrenet Dataset, got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise DataError(f"data set {dataset.name!r} is empty")


def _by_genre(dataset: Dataset) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(dataset.tracks):
        out[t.genre].append(i)
    return dict(sorted(out.items()))


def stratified_split(
    dataset: Dataset, *, test_size: float = 0.2, val_size: float = 0.1, seed: int = DEFAULT_SEED
) -> Split:
    """Random split by track, stratified by genre (the thesis protocol).

    Parameters
    ----------
    dataset : Dataset
    test_size, val_size : float, keyword-only
        Fractions of each genre's tracks put in test and validation (rounded,
        at least one test track per genre with two or more tracks).
    seed : int, keyword-only
        Seed of the shuffle.

    Returns
    -------
    Split
    """
    _check_dataset(dataset)
    test_size = _check_fraction("test_size", test_size, allow_zero=False)
    val_size = _check_fraction("val_size", val_size)
    if test_size + val_size >= 1.0:
        raise ParameterError(f"test_size + val_size must be < 1, got {test_size} + {val_size}")
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for _genre, idx in _by_genre(dataset).items():
        idx = list(np.asarray(idx)[rng.permutation(len(idx))])
        n = len(idx)
        n_test = max(1, round(test_size * n)) if n >= 2 else 0
        n_val = round(val_size * n) if n - n_test >= 2 else 0
        if val_size > 0 and n_val == 0 and n - n_test >= 3:
            n_val = 1
        test += idx[:n_test]
        val += idx[n_test:n_test + n_val]
        train += idx[n_test + n_val:]
    return Split(
        "stratified", sorted(train), sorted(val), sorted(test), PROTOCOLS["stratified"],
        dataset=dataset.name, dataset_hash=dataset.content_hash(), seed=int(seed),
        info={"test_size": test_size, "val_size": val_size},
    )


def _groups(dataset: Dataset, by: str) -> list[str]:
    if by == "track":
        return [t.id for t in dataset.tracks]
    if by == "artist":
        keys = [t.group or t.artist for t in dataset.tracks]
        if not any(keys):
            raise DataError(
                f"data set {dataset.name!r} records no artist/group for any track; "
                "use by='track' or by='block'"
            )
        # a track without artist is its own group
        return [k if k else f"track:{t.id}" for k, t in zip(keys, dataset.tracks, strict=True)]
    raise AssertionError(by)


def _id_number(track_id: str) -> tuple[int, str]:
    digits = ""
    for ch in reversed(track_id):
        if ch.isdigit():
            digits = ch + digits
        elif digits:
            break
    return (int(digits) if digits else -1, track_id)


@renamed_kwargs(n_splits="folds")
def grouped_kfold(
    dataset: Dataset,
    *,
    folds: int = 5,
    by: str = "track",
    seed: int = DEFAULT_SEED,
    val_size: float = 0.1,
) -> list[Split]:
    """K-fold cross-validation where no group straddles train and test.

    Parameters
    ----------
    dataset : Dataset
    folds : int, keyword-only
        Number of folds (>= 2). (Formerly ``n_splits=``, still accepted with a
        :class:`FutureWarning`.)
    by : {"track", "artist", "block"}, keyword-only
        ``"track"``: each track is a group (its segments stay together);
        ``"artist"``: tracks of one artist (``Track.group`` or ``Track.artist``) stay together;
        ``"block"``: per genre, tracks sorted by their id number are cut into
        ``folds`` contiguous blocks and fold *k* tests on block *k* of every genre
        (consecutive GTZAN ids often share an artist, so this limits artist leakage).
    seed : int, keyword-only
        Shuffle seed for ``"track"`` and ``"artist"`` (``"block"`` folds are deterministic).
    val_size : float, keyword-only
        Fraction of each genre's training tracks moved to validation, by whole groups
        (for ``"block"`` a contiguous run of ids adjacent to the test block).

    Returns
    -------
    list of Split
        One per fold; every track is in exactly one fold's test part.
    """
    _check_dataset(dataset)
    if by not in GROUPINGS:
        raise ParameterError(f"by must be 'track', 'artist' or 'block', got {by!r}")
    n_splits = int_at_least("folds", folds, 2)
    val_size = _check_fraction("val_size", val_size)
    genres = _by_genre(dataset)
    smallest = min(len(v) for v in genres.values())
    if by in ("track", "block") and n_splits > max(len(v) for v in genres.values()):
        raise ParameterError(f"folds={n_splits} exceeds the number of tracks in every genre")
    if by == "block":
        folds_test, folds_val = _block_folds(dataset, genres, n_splits, val_size)
    else:
        folds_test, folds_val = _group_folds(dataset, by, n_splits, val_size, np.random.default_rng(seed))
    if smallest < n_splits and by != "artist":
        import warnings

        warnings.warn(
            f"some genre has only {smallest} tracks for {n_splits} folds: some test folds lack it",
            stacklevel=3,  # the caller of grouped_kfold (renamed_kwargs adds a frame)
        )
    return _fold_splits(dataset, folds_test, folds_val, by=by, seed=seed, val_size=val_size)


def _block_folds(dataset: Dataset, genres: dict[str, list[int]], n_splits: int,
                 val_size: float) -> tuple[list[list[int]], list[list[int]]]:
    """Test and validation indices of each fold of ``by="block"``: contiguous id blocks per genre."""
    folds_test: list[list[int]] = [[] for _ in range(n_splits)]
    folds_val: list[list[int]] = [[] for _ in range(n_splits)]
    for _g, idx in genres.items():
        order = sorted(idx, key=lambda i: _id_number(dataset.tracks[i].id))
        blocks = [list(b) for b in np.array_split(np.asarray(order, dtype=np.int64), n_splits)]
        for k in range(n_splits):
            folds_test[k] += blocks[k]
            # the training ids in circular order starting right after the test block;
            # validation takes the run just before the test block (far from most training ids)
            rest = [i for j in range(1, n_splits) for i in blocks[(k + j) % n_splits]]
            n_val = _n_val(val_size, len(rest))
            folds_val[k] += rest[len(rest) - n_val:] if n_val else []
    return folds_test, folds_val


def _group_members(dataset: Dataset, by: str) -> tuple[list[str], dict[str, list[int]], dict[str, list[str]]]:
    """Group of every track, the tracks of every group, and the groups of every (majority) genre."""
    groups = _groups(dataset, by)
    labels = [t.genre for t in dataset.tracks]
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    # each group is stratified under its majority genre
    major: dict[str, list[str]] = defaultdict(list)
    for g, idx in members.items():
        genre = Counter(labels[i] for i in idx).most_common(1)[0][0]
        major[genre].append(g)
    return groups, members, major


def _group_folds(dataset: Dataset, by: str, n_splits: int, val_size: float,
                 rng: np.random.Generator) -> tuple[list[list[int]], list[list[int]]]:
    """Test and validation indices of each fold of ``by="track"`` / ``"artist"``: whole groups, balanced."""
    groups, members, major = _group_members(dataset, by)
    fold_sizes = np.zeros(n_splits, dtype=np.int64)
    group_fold: dict[str, int] = {}
    for genre in sorted(major):
        gs = sorted(major[genre])
        gs = [gs[j] for j in rng.permutation(len(gs))]
        # largest groups first, each to the currently smallest fold of this genre
        gs.sort(key=lambda g: -len(members[g]))
        genre_sizes = np.zeros(n_splits, dtype=np.int64)
        for g in gs:
            k = int(np.lexsort((rng.random(n_splits), fold_sizes, genre_sizes))[0])
            group_fold[g] = k
            genre_sizes[k] += len(members[g])
            fold_sizes[k] += len(members[g])
    folds_test: list[list[int]] = [[] for _ in range(n_splits)]
    for g, k in group_fold.items():
        folds_test[k] += members[g]
    folds_val = [_group_validation(folds_test[k], groups, members, major, val_size, rng) for k in range(n_splits)]
    return folds_test, folds_val


def _group_validation(test: list[int], groups: list[str], members: dict[str, list[int]],
                      major: dict[str, list[str]], val_size: float, rng: np.random.Generator) -> list[int]:
    """Validation indices of one fold: random whole training groups per genre, at least one group left to train."""
    test_groups = {groups[i] for i in test}
    val: list[int] = []
    for genre in sorted(major):
        cands = [g for g in sorted(major[genre]) if g not in test_groups]
        cands = [cands[j] for j in rng.permutation(len(cands))]
        n_train = sum(len(members[g]) for g in cands)
        n_val = _n_val(val_size, n_train)
        taken = 0
        for g in cands[:-1]:  # always leave at least one group for training
            if taken >= n_val:
                break
            val += members[g]
            taken += len(members[g])
    return val


def _fold_splits(dataset: Dataset, folds_test: list[list[int]], folds_val: list[list[int]], *, by: str, seed: int,
                 val_size: float) -> list[Split]:
    """One Split per fold from its test and validation indices (training: every other track)."""
    n_splits = len(folds_test)
    protocol = PROTOCOLS[by].format(k=n_splits)
    h = dataset.content_hash()
    all_idx = set(range(len(dataset)))
    splits = []
    for k in range(n_splits):
        test = sorted(folds_test[k])
        val = sorted(set(folds_val[k]) - set(test))
        train = sorted(all_idx - set(test) - set(val))
        if not test or not train:
            raise DataError(f"fold {k} of {n_splits} would have an empty train or test part; use fewer folds")
        splits.append(
            Split(
                f"{by}-fold{k + 1}of{n_splits}", train, val, test, protocol,
                dataset=dataset.name, dataset_hash=h, seed=int(seed),
                info={"fold": k, "n_splits": n_splits, "by": by, "val_size": val_size},
            )
        )
    return splits


def _n_val(val_size: float, n_train: int) -> int:
    if val_size <= 0 or n_train < 3:
        return 0
    return min(n_train - 1, max(1, math.floor(val_size * n_train + 0.5)))


def _lists_from_dir(lists_dir: Path, *, verify: bool) -> dict[str, list[str]]:
    from genrenet.io import sha256_file

    out = {}
    for part, (fname, sha) in FAULT_FILTERED_FILES.items():
        p = lists_dir / fname
        if not p.is_file():
            raise DataError(f"fault-filtered split list {p} is missing")
        if verify:
            actual = sha256_file(p)
            if actual != sha:
                from genrenet.errors import ChecksumError

                raise ChecksumError(p, sha, actual)
        out[part] = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return out


@renamed_kwargs(dest="out_dir")
def fetch_fault_filtered_lists(
    out_dir: str | Path | None = None, *, base_url: str | None = None, progress: bool = False
) -> Path:
    """Download the three fault-filtered lists (sha256-checked) and return their directory.

    Parameters
    ----------
    out_dir : str or Path, optional
        Target directory (default ``<downloads>/gtzan-splits``). (Formerly ``dest=``, still
        accepted with a :class:`FutureWarning`.)
    base_url : str, keyword-only, optional
        URL prefix of the files (default ``$GENRENET_SPLITS_URL`` or :data:`DEFAULT_SPLITS_URL`).
    """
    from genrenet.download import download
    from genrenet.paths import downloads_dir

    dest = Path(out_dir) if out_dir is not None else downloads_dir() / "gtzan-splits"
    base = base_url or os.environ.get("GENRENET_SPLITS_URL") or DEFAULT_SPLITS_URL
    if not base.endswith("/"):
        base += "/"
    for fname, sha in FAULT_FILTERED_FILES.values():
        download(base + fname, dest / fname, sha256=sha, progress=progress)
    return dest


def fault_filtered_split(
    dataset: Dataset,
    *,
    lists_dir: str | Path | None = None,
    base_url: str | None = None,
    verify: bool = True,
    final: bool = False,
) -> Split:
    """The fault-filtered GTZAN split (443 train / 197 valid / 290 test clips).

    Parameters
    ----------
    dataset : Dataset
        A GTZAN data set (ids ``<genre>.000NN``); clips it lacks are listed in
        ``Split.missing`` rather than failing, so partial copies work.
    lists_dir : str or Path, keyword-only, optional
        Directory holding ``train_filtered.txt``, ``valid_filtered.txt`` and
        ``test_filtered.txt``. When omitted, ``$GENRENET_SPLITS_DIR`` is used if set, else
        they are downloaded (once) from ``base_url``.
    base_url : str, keyword-only, optional
        Download location (default ``$GENRENET_SPLITS_URL`` or :data:`DEFAULT_SPLITS_URL`).
    verify : bool, keyword-only
        Check the lists against their published sha256 sums.
    final : bool, keyword-only
        For a model to ship: train on the train *and* valid lists (no validation part),
        score on the test list. Clips the lists leave out (GTZAN's repeats, mislabellings
        and distortions, which may share artists with the test list) are never used.

    Returns
    -------
    Split
    """
    _check_dataset(dataset)
    if lists_dir is None:
        lists_dir = os.environ.get("GENRENET_SPLITS_DIR") or fetch_fault_filtered_lists(base_url=base_url)
    lists = _lists_from_dir(Path(lists_dir), verify=verify)
    parts: dict[str, list[int]] = {}
    missing: list[str] = []
    index = {t.id: i for i, t in enumerate(dataset.tracks)}
    for part, names in lists.items():
        parts[part] = []
        for name in names:
            stem = Path(name).name
            tid = stem.rsplit(".", 1)[0] if stem.lower().endswith((".wav", ".au")) else stem
            if tid in index:
                parts[part].append(index[tid])
            else:
                missing.append(tid)
    if not any(parts.values()):
        raise DataError(
            f"none of the fault-filtered clips is in data set {dataset.name!r}: is it GTZAN "
            "(ids like 'blues.00012')?"
        )
    listed = {i for v in parts.values() for i in v}
    name = "fault_filtered_final" if final else "fault_filtered"
    train, val = (parts["train"] + parts["val"], []) if final else (parts["train"], parts["val"])
    return Split(
        name, sorted(train), sorted(val), sorted(parts["test"]),
        PROTOCOLS[name], dataset=dataset.name, dataset_hash=dataset.content_hash(),
        missing=tuple(missing), seed=None,
        info={
            "listed": {k: len(v) for k, v in lists.items()},
            "unlisted_tracks": len(dataset) - len(listed),
            "val_heldout": not final,
        },
    )
