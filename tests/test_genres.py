"""Tests for genrenet.genres: the thesis's 39 groups and tag unification."""

from __future__ import annotations

import json

import pytest

from genrenet.errors import ParameterError
from genrenet.genres import GROUPS, label, normalize, unify, unify_many


def test_thesis_table_has_39_groups():
    assert len(GROUPS) == 39
    for gid in ("cumbia", "hiphop", "rnb", "reggaeton", "nortena", "bossanova", "acapella", "hardcore"):
        assert gid in GROUPS
    # every spelling the thesis lists maps to its group
    assert all(unify(s) == g.id for g in GROUPS.values() for s in g.spellings)


@pytest.mark.parametrize(
    "tag, group",
    [
        ("Hip-Hop", "hiphop"), ("hip hop", "hiphop"), ("HIPHOP", "hiphop"), ("Rap", "hiphop"),
        ("Hip-hop & Rap", "hiphop"), ("Reguetón", "reggaeton"), ("reggaeton", "reggaeton"),
        ("R & B", "rnb"), ("R&B", "rnb"), ("rnb", "rnb"), ("R&B & Soul", "rnb"),
        ("EDM", "electronic"), ("Dance & EDM", "electronic"), ("Electro", "electronic"),
        ("Singer/Songwriter", "acoustic"), ("singer-songwriter", "acoustic"),
        ("Norteña", "nortena"), ("Corridos", "nortena"), ("Folkloric", "folk"),
        ("Classic", "classical"), ("Bossa Nova", "bossanova"), ("  Jazz  ", "jazz"),
        ("Deep House", "house"), ("Death Metal", "metal"), ("Indie", "alternative"),
        ("Jazz & Blues", "jazz"), ("Latin Trap", "trap"), ("A cappella", "acapella"),
        # connectors are one mechanism: "&", "and", "'n'", "n" and "+" join the halves of one name
        ("Rhythm & Blues", "rnb"), ("Rhythm and Blues", "rnb"), ("Rhythm 'n' Blues", "rnb"),
        ("R and B", "rnb"), ("R'n'B", "rnb"), ("R n B", "rnb"), ("RnB", "rnb"),
        ("Drum & Bass", "electronic"), ("Drum and Bass", "electronic"), ("drum'n'bass", "electronic"),
        ("Drum&Bass", "electronic"), ("DnB", "electronic"), ("D&B", "electronic"),
        ("Deep Drum and Bass", "electronic"), ("Dubstep", "electronic"), ("Techno", "electronic"),
        ("Minimal Techno", "electronic"),
        # a broad group yields to a specific genre wherever it stands
        ("Trap Latino", "trap"), ("Latin Jazz", "jazz"), ("Jazz Latino", "jazz"), ("Pop Latino", "pop"),
        ("Latin / Trap", "trap"), ("Electro House", "house"), ("Hardcore Techno", "hardcore"),
        ("Deep House / Techno", "house"), ("Indie Rock", "rock"), ("Latino", "latin"),
    ],
)
def test_unify_spellings(tag, group):
    assert unify(tag) == group


@pytest.mark.parametrize("tag", ["", "   ", "Blues", "Podcast", "asdfgh", "!!!", None])
def test_unknown_tags(tag):
    assert unify(tag) is None


def test_extra_mapping_and_errors():
    assert unify("Blues", extra={"blues": "blues"}) == "blues"
    assert unify("Delta Blues", extra={"blues": "blues"}) == "blues"
    with pytest.raises(ParameterError, match="tag"):
        unify(42)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="unknown genre group"):
        label("polka")
    assert label("hiphop") == "Hip Hop / Rap"
    assert normalize("Reguetón") == "regueton"
    assert normalize("R & B") == normalize("R&B") == normalize("R and B") == normalize("R'n'B") == "randb"


def test_unify_many_report():
    tags = ["Hip-Hop", "hip hop", "Rap", "Podcast", None, "Jazz", "Podcast", "Reguetón"]
    groups, report = unify_many(tags)
    assert groups == ["hiphop", "hiphop", "hiphop", None, None, "jazz", None, "reggaeton"]
    assert report.total == 8 and report.n_unknown == 3
    assert report.unknown == {"Podcast": 2, "<empty>": 1}
    assert report.counts["hiphop"] == 3 and report.coverage == pytest.approx(5 / 8)
    assert report.spellings["hiphop"] == {"Hip-Hop": 1, "hip hop": 1, "Rap": 1}
    d = json.loads(json.dumps(report.to_dict()))
    assert d["unknown"] == 3 and d["counts"]["hiphop"] == 3
    assert report.rows()[0]["group"] == "hiphop"
    assert "3 unknown" in str(report) and "Podcast" in str(report)
    _, empty = unify_many([])
    assert empty.coverage == 0.0


def _one_word(spelling: str) -> bool:
    return len(normalize(spelling)) > 1 and spelling.isalpha()


def test_word_order_never_changes_the_group():
    """Every broad group next to every specific genre: both orders give the specific genre."""
    broad = [s for g in GROUPS.values() if g.broad for s in g.spellings if _one_word(s)]
    specific = {s: g.id for g in GROUPS.values() if not g.broad for s in g.spellings if _one_word(s)}
    assert "Latin" in broad and "Trap" in specific and len(broad) > 10 and len(specific) > 25
    wrong = [(b, s) for b in broad for s, gid in specific.items()
             if not unify(f"{b} {s}") == unify(f"{s} {b}") == gid]
    assert wrong == []


def test_connectors_are_interchangeable_in_every_spelling():
    for g in GROUPS.values():
        for s in g.spellings:
            for a, b in (("&", " and "), (" and ", " & "), ("&", "'n'"), (" and ", " n ")):
                if a in s:
                    variant = s.replace(a, b)
                    assert unify(variant) == g.id, (s, variant)
                    assert unify(variant.upper()) == g.id


def test_table_file_declares_every_group_kind():
    from importlib import resources

    rows = [ln.split("\t") for ln in resources.files("genrenet").joinpath("data/genres.tsv")
            .read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    assert len(rows) == 39 and all(len(r) == 4 and r[3] in ("genre", "broad") for r in rows)
    assert {g.id for g in GROUPS.values() if g.broad} >= {"latin", "world", "electronic", "alternative"}
    assert not GROUPS["trap"].broad and not GROUPS["rnb"].broad
