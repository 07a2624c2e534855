"""Genre unification: many spellings of a genre tag, one label.

On SoundCloud the genre of a track is free text typed by the artist, so one
genre arrives as "Hip-Hop", "hip hop", "HipHop & Rap" or "Rap". The thesis
merged the raw tags into 39 groups; that table lives in
``genrenet/data/genres.tsv`` and is exposed as :data:`GROUPS`.
:func:`unify` maps one tag to a group id (or None), ignoring case, accents,
spaces and punctuation; compound tags ("Jazz & Blues", "Deep House") fall back
to their parts. :func:`unify_many` also returns a :class:`UnificationReport`
counting the unknown tags, so a collection run states how much it dropped.

Used by book chapter 04 "Data" (``notebooks/data_exploration.ipynb``) and by
the SoundCloud collector (:mod:`genrenet.sources.soundcloud`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from genrenet.errors import DataError, ParameterError

__all__ = ["Group", "GROUPS", "normalize", "unify", "unify_many", "UnificationReport", "label"]


@dataclass(frozen=True)
class Group:
    """One unified genre: its id, display name and the spellings merged into it."""

    id: str
    name: str
    spellings: tuple[str, ...]


def normalize(tag: str) -> str:
    """Matching key of a tag: accents removed, case folded, only letters and digits kept.

    ``normalize("Reguetón") == "regueton"``, ``normalize("R & B") == normalize("R&B") == "rb"``
    and ``normalize("Hip-Hop") == normalize("hip hop") == "hiphop"``.
    """
    if not isinstance(tag, str):
        raise ParameterError(f"tag must be a string, got {type(tag).__name__}")
    decomposed = unicodedata.normalize("NFKD", tag)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in stripped.casefold() if ch.isalnum())


def _load_groups() -> dict[str, Group]:
    text = resources.files("genrenet").joinpath("data/genres.tsv").read_text(encoding="utf-8")
    groups: dict[str, Group] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise DataError(f"genrenet/data/genres.tsv line {lineno}: expected 3 tab-separated columns")
        gid, name, spellings = cols
        groups[gid] = Group(gid, name, tuple(s.strip() for s in spellings.split(",") if s.strip()))
    return groups


#: The thesis's 39 genre groups, by id.
GROUPS: dict[str, Group] = _load_groups()

_LOOKUP: dict[str, str] = {}
for _g in GROUPS.values():
    for _s in (_g.id, _g.name, *_g.spellings):
        _key = normalize(_s)
        if _key in _LOOKUP and _LOOKUP[_key] != _g.id:  # pragma: no cover - guards the data file
            raise DataError(f"genres.tsv: spelling {_s!r} is in groups {_LOOKUP[_key]} and {_g.id}")
        _LOOKUP[_key] = _g.id

# separators of compound tags: "/", ",", "+", "|", ";", " & ", " and ", " x ", " - "
_SPLIT = re.compile(r"\s*(?:[/,+|;]|\s&\s|\s-\s|\band\b|\by\b)\s*", re.IGNORECASE)


def unify(tag: str | None, *, extra: dict[str, str] | None = None) -> str | None:
    """Return the group id of a raw genre tag, or None when it matches no group.

    Parameters
    ----------
    tag : str or None
        Raw tag ("Hip-Hop", "Reguetón", "R & B", "Singer/Songwriter", "Deep House").
    extra : dict, keyword-only, optional
        Additional ``{spelling: group id}`` entries (e.g. ``{"blues": "blues"}`` for a
        genre outside the thesis's table); they take precedence.

    Returns
    -------
    str or None
        A key of :data:`GROUPS` (or a value of ``extra``).

    Notes
    -----
    Matching order: the whole tag; then its parts split at ``/ , + | ; & and``
    (the first part that matches wins, so "Jazz & Blues" -> ``"jazz"``); then its
    words from the last to the first ("Deep House" -> ``"house"``, "Death Metal" -> ``"metal"``).
    """
    if tag is None:
        return None
    if not isinstance(tag, str):
        raise ParameterError(f"tag must be a string or None, got {type(tag).__name__}")
    table = _LOOKUP
    if extra:
        table = {**_LOOKUP, **{normalize(k): v for k, v in extra.items()}}
    key = normalize(tag)
    if not key:
        return None
    if key in table:
        return table[key]
    for part in _SPLIT.split(tag):
        k = normalize(part)
        if k in table:
            return table[k]
    words = [normalize(w) for w in re.split(r"[\s\-_/&,+|;.]+", tag) if normalize(w)]
    for n in (2, 1):  # two-word names ("bossa nova") before single words
        for i in range(len(words) - n, -1, -1):
            k = "".join(words[i:i + n])
            if k in table:
                return table[k]
    return None


def label(group_id: str) -> str:
    """Display name of a group id (``"hiphop"`` -> ``"Hip Hop / Rap"``)."""
    try:
        return GROUPS[group_id].name
    except KeyError:
        raise ParameterError(f"unknown genre group {group_id!r}; groups: {', '.join(sorted(GROUPS))}") from None


@dataclass
class UnificationReport:
    """Counts from :func:`unify_many`.

    Attributes
    ----------
    total : int
        Tags seen (None and empty tags count as unknown).
    counts : Counter
        Tags per unified group.
    unknown : Counter
        Raw tags (as given) that matched no group.
    spellings : dict
        For each group, the Counter of raw spellings that were merged into it.
    """

    total: int = 0
    counts: Counter = field(default_factory=Counter)
    unknown: Counter = field(default_factory=Counter)
    spellings: dict[str, Counter] = field(default_factory=dict)

    @property
    def n_unknown(self) -> int:
        """Number of tags that matched no group."""
        return sum(self.unknown.values())

    @property
    def coverage(self) -> float:
        """Fraction of tags that were unified (0 when no tags were seen)."""
        return 0.0 if self.total == 0 else (self.total - self.n_unknown) / self.total

    def add(self, tag: str | None, group: str | None) -> None:
        """Record one tag and its unified group."""
        self.total += 1
        if group is None:
            self.unknown[tag if tag else "<empty>"] += 1
        else:
            self.counts[group] += 1
            self.spellings.setdefault(group, Counter())[tag] += 1

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {
            "total": self.total,
            "unified": self.total - self.n_unknown,
            "unknown": self.n_unknown,
            "coverage": round(self.coverage, 4),
            "counts": dict(self.counts.most_common()),
            "unknown_tags": dict(self.unknown.most_common()),
            "spellings": {g: dict(c.most_common()) for g, c in sorted(self.spellings.items())},
        }

    def rows(self) -> list[dict]:
        """Per-group rows (``group, name, tracks, spellings``) for a table."""
        return [
            {
                "group": g,
                "name": GROUPS[g].name if g in GROUPS else g,
                "tracks": n,
                "spellings": ", ".join(f"{s} ({c})" for s, c in self.spellings.get(g, Counter()).most_common()),
            }
            for g, n in self.counts.most_common()
        ]

    def __str__(self) -> str:
        top = ", ".join(f"{t!r} x{n}" for t, n in self.unknown.most_common(5))
        return (
            f"{self.total} tags: {self.total - self.n_unknown} unified into {len(self.counts)} groups "
            f"({self.coverage:.0%}), {self.n_unknown} unknown" + (f" (e.g. {top})" if top else "")
        )


def unify_many(tags: Iterable[str | None], *, extra: dict[str, str] | None = None) -> tuple[list, UnificationReport]:
    """Unify many tags.

    Parameters
    ----------
    tags : iterable of str or None
    extra : dict, keyword-only, optional
        Passed to :func:`unify`.

    Returns
    -------
    groups : list of str or None
        One entry per tag.
    report : UnificationReport
    """
    report = UnificationReport()
    out = []
    for tag in tags:
        g = unify(tag, extra=extra)
        report.add(tag, g)
        out.append(g)
    return out, report
