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
    assert normalize("Reguetón") == "regueton" and normalize("R & B") == normalize("R&B") == "rb"


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
