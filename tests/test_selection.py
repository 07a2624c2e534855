"""Tests of genrenet.selection on a synthesised corpus with a known answer.

Five 'genres': c, d and e are tones at different pitches; a and b are the SAME
audio under two labels. A classifier cannot tell a twin pair apart, so every
subset holding both a and b has a balanced accuracy of at most 2/3 (twins sit
in the same test block, so one model sees both and predicts one label), and
the genres that come out on top must be c, d and e.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from genrenet.errors import ParameterError
from genrenet.selection import (
    describe,
    genre_counts,
    genre_subsets,
    load_selection,
    plot_selection,
    run_selection,
)

SR = 22050
# logistic regression is much faster than the calibrated SVM; the twin bound holds for any classifier
FAST = {"model": "logreg", "n_jobs": 1, "progress": False}


def _write_corpus(root, *, n_per_genre: int = 4, seconds: float = 3.5):
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(SR * seconds)) / SR
    pitch = {"c": 220.0, "d": 880.0, "e": 3520.0}
    for i in range(n_per_genre):
        twin = (0.3 * np.sin(2 * np.pi * (400 + 40 * i) * t) + 0.2 * rng.normal(size=t.size)).astype(np.float32)
        for g in "ab":
            (root / g).mkdir(parents=True, exist_ok=True)
            sf.write(root / g / f"{g}.{i:05d}.wav", twin, SR, subtype="PCM_16")
        for g, f in pitch.items():
            (root / g).mkdir(parents=True, exist_ok=True)
            y = 0.5 * np.sin(2 * np.pi * f * (1 + 0.01 * i) * t) + 0.05 * rng.normal(size=t.size)
            sf.write(root / g / f"{g}.{i:05d}.wav", y.astype(np.float32), SR, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from genrenet.datasets import load_dataset

    root = _write_corpus(tmp_path_factory.mktemp("selection-corpus"))
    return load_dataset("folder", root)


def test_genre_subsets_counts_and_errors():
    ten = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
    subsets = genre_subsets(ten, 4)
    assert len(subsets) == 210 and len(set(subsets)) == 210
    assert ("classical", "country", "metal", "pop") in subsets
    assert all(list(s) == sorted(s) for s in subsets)
    assert len(genre_subsets(ten, 3)) == 120
    with pytest.raises(ParameterError, match="k=5"):
        genre_subsets(["a", "b", "c", "d"], 5)
    with pytest.raises(ParameterError, match="k must be"):
        genre_subsets(["a", "b", "c"], 1)


def test_genre_counts_by_threshold():
    records = [
        {"genres": ["a", "b"], "score": 0.9},
        {"genres": ["a", "c"], "score": 0.7},
        {"genres": ["b", "c"], "score": 0.6},
    ]
    counts = genre_counts(records, thresholds=(0.65, 0.7))
    assert counts[0.65] == {"a": 2, "b": 1, "c": 1}
    assert counts[0.7] == {"a": 1, "b": 1, "c": 0}  # strictly above the threshold
    with pytest.raises(ParameterError, match="thresholds"):
        genre_counts(records, thresholds=(1.5,))


def test_selection_resumes_and_finds_the_separable_genres(corpus, tmp_path):
    out = tmp_path / "sel"
    cache = tmp_path / "cache"
    first = run_selection(corpus, out_dir=out, k=3, folds=2, by="block", max_subsets=4, cache_dir=cache,
                          **FAST)
    assert first.computed == 4 and len(first.results) == 4 and not first.complete
    saved = load_selection(out)
    assert set(saved.results) == set(first.results)

    full = run_selection(corpus, out_dir=out, k=3, folds=2, by="block", cache_dir=cache, **FAST)
    assert full.computed == 6 and full.complete and len(full.results) == 10
    for key, rec in first.results.items():
        assert full.results[key]["score"] == rec["score"]  # finished subsets were not redone

    again = run_selection(corpus, out_dir=out, k=3, folds=2, by="block", cache_dir=cache, **FAST)
    assert again.computed == 0

    for rec in full.results.values():
        assert rec["n_test"] == 12  # every track of the subset tested exactly once
        if {"a", "b"} <= set(rec["genres"]):
            assert rec["score"] <= 2 / 3 + 1e-9
        else:
            assert rec["score"] > 0.7
    counts = genre_counts(full, thresholds=(0.7,))[0.7]
    assert counts == {"a": 3, "b": 3, "c": 5, "d": 5, "e": 5}
    summary = describe(full, thresholds=(0.7,))
    assert sorted(summary["pick"]) == ["c", "d", "e"]
    assert summary["thesis_pick_rank"] is None  # the thesis's genres are not in this corpus

    fig_path = tmp_path / "fig" / "selection.png"
    fig = plot_selection(genre_counts(full, thresholds=(0.65, 0.7, 0.75)), path=fig_path, title="synthetic")
    assert fig_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 3

    with pytest.raises(ParameterError, match="another configuration"):
        run_selection(corpus, out_dir=out, k=3, folds=2, by="block", metric="accuracy", cache_dir=cache, **FAST)


def test_selection_rejects_bad_parameters(corpus, tmp_path):
    with pytest.raises(ParameterError, match="k=6"):
        run_selection(corpus, out_dir=tmp_path, k=6, folds=2, cache_dir=tmp_path / "c", progress=False)
    with pytest.raises(ParameterError, match="metric"):
        run_selection(corpus, out_dir=tmp_path, metric="f1", progress=False)
    with pytest.raises(ParameterError, match="Dataset or a FeatureSet"):
        run_selection([1, 2, 3], out_dir=tmp_path, progress=False)


def test_select_command(corpus, tmp_path, capsys):
    from genrenet.cli import main

    out = tmp_path / "cli"
    code = main(["select", "--dataset", "folder", "--data-dir", str(corpus.root), "--k", "4", "--folds", "2",
                 "--thresholds", "0.6", "--model", "logreg", "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "counts.json").read_text())
    assert summary["n_subsets"] == 5
    assert (out / "selection.png").exists()
    assert "5 subsets scored" in capsys.readouterr().out


def test_ranks_with_ties_are_a_range_with_the_tie_count():
    from genrenet.selection import SelectionResult, rank_text

    scores = {"a+b": 0.9, "a+c": 0.8, "b+c": 0.8, "a+d": 0.8, "b+d": 0.7, "c+d": 0.6}
    # 0.1 + 0.7 is not exactly 0.8 in floating point: a tie all the same
    scores["a+c"] = 0.1 + 0.7
    results = {k: {"genres": k.split("+"), "score": v} for k, v in scores.items()}
    res = SelectionResult(config={"genres": list("abcd"), "k": 2}, results=results)
    assert res.rank_range(["b", "a"]) == (1, 1, 1)
    assert res.rank_range(["c", "b"]) == (2, 4, 3) == res.rank_range(["a", "c"]) == res.rank_range(["a", "d"])
    assert res.rank_of(["a", "d"]) == 2 and res.rank_of(["c", "d"]) == 6
    assert res.rank_range(["a", "e"]) is None and res.rank_of(["a", "e"]) is None
    assert rank_text((2, 4, 3), 6) == "ranks 2\u20134 of 6 (3 subsets tie at this score)"
    assert rank_text((1, 1, 1), 6) == "rank 1 of 6"


def test_describe_reports_the_thesis_picks_tied_ranks():
    from genrenet.selection import THESIS_PICK, SelectionResult, describe

    genres = sorted({*THESIS_PICK, "blues", "jazz"})
    subsets = list(itertools.combinations(genres, 4))
    thesis = "+".join(sorted(THESIS_PICK))
    # one subset above the thesis's pick, then the pick tied with two others, the rest below
    results = {}
    for i, s in enumerate(subsets):
        key = "+".join(s)
        score = 0.95 if i == 0 else 0.5 if i > 3 and key != thesis else 0.8
        results[key] = {"genres": list(s), "score": score}
    assert results[thesis]["score"] == 0.8 and "+".join(subsets[0]) != thesis
    summary = describe(SelectionResult(config={"genres": genres, "k": 4, "protocol": "p", "dataset": "x"},
                                       results=results))
    tied = sum(1 for r in results.values() if r["score"] == 0.8)
    assert summary["thesis_pick_rank"] == 2 and summary["thesis_pick_ranks"] == [2, 1 + tied, tied]
    assert summary["thesis_pick_rank_text"] == f"ranks 2\u2013{1 + tied} of {len(subsets)} ({tied} subsets tie at this score)"
