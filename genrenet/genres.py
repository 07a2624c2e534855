"""Genre unification: many spellings of a genre tag, one label.

On SoundCloud the genre of a track is free text typed by the artist, so one
genre arrives as "Hip-Hop", "hip hop", "HipHop & Rap" or "Rap". The thesis
merged the raw tags into 39 groups; that table lives in
``genrenet/data/genres.tsv`` and is exposed as :data:`GROUPS`.
:func:`unify` maps one tag to a group id (or None), ignoring case, accents,
spaces and punctuation and treating the connectors "&", "and", "'n'", "+" and
"y" alike (so "R and B" is "R&B" and "Rhythm & Blues" is "Rhythm and Blues").
Compound tags ("Jazz & Blues", "Deep House") fall back to their parts; a broad
group (Latin, World, Electronic, ...) yields to a specific genre wherever it
stands in the tag, so "Latin Trap" and "Trap Latino" agree. :func:`unify_many`
also returns a :class:`UnificationReport` counting the unknown tags, so a
collection run states how much it dropped.

Used by book chapter ``book/dev_data.md`` (``notebooks/data_exploration.ipynb``) and by
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
    """One unified genre: its id, display name, the spellings merged into it and whether it is broad.

    A broad group (a region, a scene or an umbrella term such as "Latin" or "Electronic")
    gives way to a specific genre named in the same compound tag.
    """

    id: str
    name: str
    spellings: tuple[str, ...]
    broad: bool = False


# connectors that join the two halves of one genre name: "R&B", "R and B", "R'n'B", "Salsa y ..."
_CONNECTORS = frozenset({"&", "+", "and", "n", "y"})
_TOKEN = re.compile(r"[^\W_]+|[&+]")


def _tokens(tag: str) -> list[str]:
    """Words of a tag, accents removed and case folded; every connector becomes ``"and"``."""
    decomposed = unicodedata.normalize("NFKD", tag)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return ["and" if tok in _CONNECTORS else tok for tok in _TOKEN.findall(stripped)]


def normalize(tag: str) -> str:
    """Matching key of a tag: accents removed, case folded, letters and digits kept, connectors unified.

    ``normalize("Reguetón") == "regueton"``, ``normalize("Hip-Hop") == normalize("hip hop") == "hiphop"``
    and ``normalize("R & B") == normalize("R and B") == normalize("R'n'B") == "randb"``.
    """
    if not isinstance(tag, str):
        raise ParameterError(f"tag must be a string, got {type(tag).__name__}")
    return "".join(_tokens(tag))


def _load_groups() -> dict[str, Group]:
    text = resources.files("genrenet").joinpath("data/genres.tsv").read_text(encoding="utf-8")
    groups: dict[str, Group] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 4 or cols[3] not in ("genre", "broad"):
            raise DataError(f"genrenet/data/genres.tsv line {lineno}: expected 4 tab-separated columns "
                            "(id, name, spellings, genre|broad)")
        gid, name, spellings, kind = cols
        groups[gid] = Group(gid, name, tuple(s.strip() for s in spellings.split(",") if s.strip()),
                            kind == "broad")
    return groups


#: The thesis's 39 genre groups, by id.
GROUPS: dict[str, Group] = _load_groups()

_BROAD = frozenset(g.id for g in GROUPS.values() if g.broad)
_LOOKUP: dict[str, str] = {}
for _g in GROUPS.values():
    for _s in (_g.id, _g.name, *_g.spellings):
        _key = normalize(_s)
        if _key in _LOOKUP and _LOOKUP[_key] != _g.id:  # pragma: no cover - guards the data file
            raise DataError(f"genres.tsv: spelling {_s!r} is in groups {_LOOKUP[_key]} and {_g.id}")
        _LOOKUP[_key] = _g.id

# separators of compound tags: "/", ",", "+", "|", ";", " & ", " and ", " y ", " - "
_SPLIT = re.compile(r"\s*(?:[/,+|;]|\s&\s|\s-\s|\band\b|\by\b)\s*", re.IGNORECASE)


def _pick(found: list[str]) -> str | None:
    """The first specific group among ``found`` (in order of preference), else the first broad one."""
    return next((g for g in found if g not in _BROAD), found[0] if found else None)


def _match_words(tokens: list[str], table: dict[str, str]) -> str | None:
    """Group named by runs of 3, 2 or 1 words (longer runs first, each from the last word back)."""
    found = []
    for n in (3, 2, 1):  # "drum and bass", "bossa nova" before single words
        for i in range(len(tokens) - n, -1, -1):
            run = tokens[i:i + n]
            if run[0] != "and" and run[-1] != "and" and "".join(run) in table:
                found.append(table["".join(run)])
    return _pick(found)


def unify(tag: str | None, *, extra: dict[str, str] | None = None) -> str | None:
    """Return the group id of a raw genre tag, or None when it matches no group.

    Parameters
    ----------
    tag : str or None
        Raw tag ("Hip-Hop", "Reguetón", "R & B", "Singer/Songwriter", "Deep House").
    extra : dict, keyword-only, optional
        Additional ``{spelling: group id}`` entries (e.g. ``{"blues": "blues"}`` for a
        genre outside the thesis's table); they take precedence and are specific genres.

    Returns
    -------
    str or None
        A key of :data:`GROUPS` (or a value of ``extra``).

    Notes
    -----
    Matching order: the whole tag (see :func:`normalize`); then its parts split at
    ``/ , + | ; & and y -``, each matched whole or by its words; then the words of the
    whole tag (runs of up to three words, so "Deep Drum and Bass" is found). Whenever
    several groups match, a specific genre wins over a broad group ("Latin Trap" and
    "Trap Latino" -> ``"trap"``), then the first part ("Jazz & Blues" -> ``"jazz"``),
    then the longer and later run of words ("Deep House" -> ``"house"``, "Death Metal"
    -> ``"metal"``).
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
    found = []
    for part in _SPLIT.split(tag):
        k = normalize(part)
        group = table.get(k) if k else None
        found.append(group or _match_words(_tokens(part), table))
    return _pick([g for g in found if g]) or _match_words(_tokens(tag), table)


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
