"""Tests of genrenet.evaluate and ``genrenet evaluate``."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from genrenet.errors import DataError, ModelError, ParameterError
from genrenet.evaluate import (
    THESIS_OBJECTIVE,
    THESIS_RESULT,
    classification_metrics,
    evaluate_predictions,
    format_metrics,
    metrics_from_confusion,
    plot_confusion,
    plot_history,
    plot_results,
    results_summary,
    results_table,
    track_probabilities,
)
from genrenet.results import Metrics, RunRecord, Scores, SplitInfo

GENRES = ["a", "b", "c"]


def test_track_probabilities_are_window_means():
    probs = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.2, 0.2, 0.6], [0.6, 0.2, 0.2]])
    tracks, tp = track_probabilities(probs, [5, 5, 2, 2])
    assert tracks.tolist() == [2, 5]
    np.testing.assert_allclose(tp, [[0.4, 0.2, 0.4], [0.5, 0.5, 0.0]])
    with pytest.raises(ParameterError, match="track_of_window"):
        track_probabilities(probs, [1, 2])


def test_metrics_against_sklearn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, 200))
    m = classification_metrics(y, p, GENRES)
    assert m.accuracy == pytest.approx(accuracy_score(y, p))
    assert m.macro_f1 == pytest.approx(f1_score(y, p, average="macro"))
    assert m.to_dict()["confusion"] == confusion_matrix(y, p).tolist()
    for i, g in enumerate(GENRES):
        assert m.per_genre[g]["precision"] == pytest.approx(precision_score(y, p, labels=[i], average="macro"))
        assert m.per_genre[g]["recall"] == pytest.approx(recall_score(y, p, labels=[i], average="macro"))
    assert metrics_from_confusion(np.array(m.confusion), GENRES) == m
    with pytest.raises(ParameterError, match="y_pred"):
        classification_metrics([0, 1], [0, 3], GENRES)
    with pytest.raises(ParameterError, match="empty"):
        classification_metrics([], [], GENRES)


def test_window_and_track_levels_differ_as_expected():
    # track 0 (class 0): windows 2 right, 1 wrong; track 1 (class 1): 1 right, 2 wrong but the mean is right
    probs = np.array([[0.8, 0.2, 0], [0.7, 0.3, 0], [0.4, 0.6, 0], [0.0, 1.0, 0], [0.55, 0.45, 0], [0.51, 0.49, 0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    res = evaluate_predictions(probs, y, [0, 0, 0, 1, 1, 1], GENRES)
    assert res.window.accuracy == pytest.approx(3 / 6)
    assert res.track.accuracy == 1.0 and res.track.n == 2 and res.track.loss is None
    assert res.window.loss == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.4, 1.0, 0.45, 0.49])))
    with pytest.raises(DataError, match="different labels"):
        evaluate_predictions(probs, np.array([0, 1, 0, 1, 1, 1]), [0, 0, 0, 1, 1, 1], GENRES)
    text = format_metrics(res)
    assert "track-level: accuracy 1.0000" in text and "window-level: accuracy 0.5000" in text
    from genrenet.evaluate import metrics_table

    table = metrics_table(res)
    assert list(table.index) == ["window", "track"] and table.loc["track", "accuracy"] == 1.0
    assert table.loc["window", "accuracy"] == 0.5 and table.loc["track", "n"] == 2
    assert table.loc["window", "loss"] == pytest.approx(res.window.loss, abs=1e-4)


def test_plots_render(tmp_path):
    from genrenet.evaluate import figure_png

    fig = plot_confusion([[3, 1, 0], [0, 2, 2], [0, 0, 4]], GENRES, title="demo, test split")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "0.75\n(3)" in texts and fig.axes[0].get_title() == "demo, test split"
    png = figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.9], "accuracy": [0.3, 0.6]})
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    with pytest.raises(ParameterError, match="cm must be"):
        plot_confusion([[1, 2]], GENRES)
    with pytest.raises(ParameterError, match="history"):
        plot_history({})


@pytest.mark.parametrize("genres", [
    ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"],
    ["singer-songwriter", "electronic dance", "rhythm and blues", "latin urban", "classical", "hip hop"],
    [f"genre number {i}" for i in range(16)],
])
def test_confusion_tick_labels_never_overlap(genres):
    """Tick labels of the confusion matrix fit their cells for 6 to 16 genres, short or long names."""
    import matplotlib.pyplot as plt

    k = len(genres)
    cm = np.arange(k * k).reshape(k, k) % 7
    fig = plot_confusion(cm, genres, title="GTZAN (real audio), fault-filtered split: test-list clips of "
                                          "artists never heard in training, seed 42")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    ys = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
    assert len(ys) == k
    for a, b in itertools.pairwise(ys):
        assert not a.overlaps(b), f"y tick labels overlap for {k} genres"
    # x labels are parallel rotated lines: they are apart when the tick spacing, measured across the
    # text direction, exceeds the height of a line of text
    xs = [t for t in ax.get_xticklabels() if t.get_text()]
    assert len(xs) == k
    rotation = np.deg2rad(xs[0].get_rotation())
    assert 0 < rotation <= np.pi / 2
    centres = [t.get_window_extent(renderer) for t in xs]
    spacing = min(b.x1 - a.x1 for a, b in itertools.pairwise(centres))
    line = xs[0].get_fontsize() * fig.dpi / 72 * 1.2
    assert spacing * np.sin(rotation) > line, f"x tick labels overlap for {k} genres"
    fig_box = fig.bbox
    for t in [*ax.get_xticklabels(), *ax.get_yticklabels(), ax.title]:
        box = t.get_window_extent(renderer)
        assert box.x0 >= fig_box.x0 - 1 and box.x1 <= fig_box.x1 + 1, f"{t.get_text()!r} is cut off"
        assert box.y0 >= fig_box.y0 - 1 and box.y1 <= fig_box.y1 + 1, f"{t.get_text()!r} is cut off"
    plt.close(fig)


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory):
    """Synthetic labelled audio in <genre>/<file> layout plus a trained baseline bundle on it."""
    from genrenet.datasets import load_dataset
    from genrenet.datasets.demo import generate_demo
    from genrenet.train import train

    base = tmp_path_factory.mktemp("eval")
    root = generate_demo(base / "music", per_genre=3, duration=4.0, seed=11, progress=False)
    ds = load_dataset("folder", root)
    known = ds.subset(ds.genres[:3])
    train("baseline", known, split="all", out_dir=base / "bundle", cache_dir=base / "cache", progress=False)
    return root, base / "bundle", base / "cache", ds.genres


def test_evaluate_bundle_skips_unknown_genres(labelled_folder):
    from genrenet.datasets import load_dataset
    from genrenet.evaluate import evaluate_bundle

    root, bundle, cache, genres = labelled_folder
    ds = load_dataset("folder", root)
    res = evaluate_bundle(bundle, ds, cache_dir=cache, progress=False)
    assert list(res.genres) == genres[:3]
    assert res.skipped_genres == {g: 3 for g in genres[3:]}
    assert res.metrics.track.n == 9 and res.n_tracks == 9
    # trained on exactly these tracks: the baseline must fit them well
    assert res.metrics.track.accuracy >= 0.6
    with pytest.raises(DataError, match="no track"):
        evaluate_bundle(bundle, ds.subset(genres[3:]), cache_dir=cache, progress=False)
    with pytest.raises(ModelError, match="meta.json"):
        evaluate_bundle(root, ds, cache_dir=cache, progress=False)


def test_cli_evaluate(labelled_folder, capsys, monkeypatch):
    from genrenet.cli import main

    root, bundle, cache, genres = labelled_folder
    monkeypatch.setenv("GENRENET_CACHE", str(cache))
    assert main(["evaluate", "--model", str(bundle), "--data", str(root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "track-level: accuracy" in out and "left out" in out and genres[0] in out
    assert main(["evaluate", "--model", str(bundle), "--data", str(root), "--json", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["track"]["n"] == 9
    assert main(["evaluate", "--model", str(bundle), "--data", str(root / "missing")]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_per_genre_tables_never_invent_scores_for_absent_genres():
    from genrenet.evaluate import NO_CLIPS, NONE_PREDICTED, per_genre_rows, per_genre_table

    # a 4-genre model on data holding only a and b; two b clips were predicted as d
    genres = ["a", "b", "c", "d"]
    m = classification_metrics([0, 0, 1, 1, 1], [0, 0, 1, 3, 3], genres)
    assert m.macro_f1 == pytest.approx(np.mean([1.0, 0.5]))  # averages the genres present only
    # a present genre nothing was predicted as has no precision (0 of 0); its recall is a true 0
    never = {r["genre"]: r for r in per_genre_rows(classification_metrics([0, 1], [0, 0], genres))}["b"]
    assert never["precision"] == NONE_PREDICTED and never["recall"] == 0.0 and never["predicted"] == 0
    one = classification_metrics([0, 1], [0, 0], genres)
    assert "none predicted" in format_metrics(Metrics(window=one, track=one))
    rows = {r["genre"]: r for r in per_genre_rows(m)}
    assert rows["a"] == {"genre": "a", "precision": 1.0, "recall": 1.0, "f1": 1.0, "clips": 2, "predicted": 2}
    assert rows["b"]["recall"] == pytest.approx(0.333) and rows["b"]["clips"] == 3
    for g, predicted in (("c", 0), ("d", 2)):
        assert rows[g] == {"genre": g, "precision": NO_CLIPS, "recall": NO_CLIPS, "f1": NO_CLIPS, "clips": 0,
                           "predicted": predicted}
    assert [r["genre"] for r in per_genre_rows(m, absent="drop")] == ["a", "b"]
    table = per_genre_table(m)
    assert list(table.index) == genres and table.loc["c", "f1"] == NO_CLIPS and table.loc["b", "recall"] == "0.333"
    assert "0.000" not in table.to_string() and table.loc["a", "f1"] == "1.000"
    text = format_metrics(Metrics(window=m, track=m))
    assert "0.000" not in text.split("genre")[1]
    assert "no clips" in text and "(2 predicted as d)" in text and "no clips of: c, d" in text
    with pytest.raises(ParameterError, match="absent"):
        per_genre_rows(m, absent="zero")


# --------------------------------------------------------------------------- the results summary and chart

_RECORD = json.loads((__import__("pathlib").Path(__file__).parent / "data" / "records" / "run_metrics.json")
                     .read_text())
FOUR = ("classical", "country", "metal", "pop")
TEN = FOUR + ("blues", "disco", "hiphop", "jazz", "reggae", "rock")


def _record(model, genres, track, window, *, split="fault_filtered", n=58, name=None):
    import dataclasses

    base = RunRecord.from_dict(_RECORD)
    return dataclasses.replace(
        base, model=model, name=name or model, genres=tuple(genres),
        split=SplitInfo(name=split, protocol=f"protocol of {split}"), protocol=f"protocol of {split}",
        metrics=Metrics(window=Scores(accuracy=window, n=n), track=Scores(accuracy=track, n=n)))


def _records(cnn4=0.70, compact10=0.80):
    return [
        _record("feed_forward", FOUR, 0.30, 0.28), _record("lenet", FOUR, 0.60, 0.55),
        _record("cnn", FOUR, cnn4, 0.62, name="CNN (thesis)"), _record("lstm", FOUR, 0.50, 0.45),
        _record("baseline", FOUR, 0.65, 0.60), _record("compact_cnn", FOUR, 0.72, 0.66),
        _record("compact_cnn", TEN, compact10, 0.70, n=113, name="compact CNN"),
        _record("baseline", TEN, 0.70, 0.60, n=113), _record("transfer_linear", TEN, 0.85, 0.85, n=113),
        _record("compact_cnn", TEN, 0.99, 0.99, split="block-fold1of5", n=20),  # optimistic: never "best"
    ]


def test_results_summary_names_every_row_and_the_best_artist_disjoint_models():
    s = results_summary(_records())
    assert s["lenet_4g_track"] == "60.0 %" and s["lenet_4g_window"] == "55.0 %" and s["lenet_4g_clips"] == "58"
    assert s["lenet_4g_split"] == "fault_filtered" and s["lenet_4g_genres"] == "4"
    # one model on one genre count under two splits: the split joins the key
    assert s["compact_cnn_10g_fault_filtered_track"] == "80.0 %"
    assert s["compact_cnn_10g_block_fold1of5_track"] == "99.0 %"
    assert s["best_10g_name"] == "transfer_linear" and s["best_10g_track"] == "85.0 %"
    assert s["best_4g_name"] == "compact_cnn" and s["best_4g_track"] == "72.0 %"
    assert s["chance_10g"] == "10.0 %" and s["chance_4g"] == "25.0 %"
    assert s["clips_scored"] == "113" and s["clips_4g"] == "58"
    assert s["objective"] == f"{100 * THESIS_OBJECTIVE:.0f} %" and s["objective_met"] == "yes"
    assert s["objective_sentence"].startswith("is met by transfer_linear (10 genres) with 85.0 % track accuracy")
    assert s["objective_window_sentence"].startswith("is met by transfer_linear")
    assert s["thesis_accuracy"] == "77.04 %" and s["thesis_metric"] == "window accuracy"
    assert "77.04 % window accuracy" in s["thesis_beside_ours"] and "62.0 %" in s["thesis_beside_ours"]
    assert s["claim_cnn_best"].startswith("is supported: the CNN, with 70.0 %")
    assert s["claim_convolutional"].startswith("is supported: compact CNN (10 genres) with 80.0 %")
    assert "on 4 genres the best network, compact_cnn, beats the baseline" in s["claim_network_vs_baseline"]
    assert all(isinstance(v, str) for v in s.values())


def test_results_summary_sentences_stay_true_when_the_objective_is_missed():
    records = [r for r in _records(cnn4=0.40, compact10=0.50) if r.model != "transfer_linear"]
    s = results_summary(records)
    assert s["objective_met"] == "no"
    assert s["objective_sentence"].startswith("is not met under the artist-disjoint protocol: the best is")
    assert s["claim_cnn_best"].startswith("is not supported: lenet (4 genres) with 60.0 %")
    assert s["claim_convolutional"].startswith("is not supported")
    empty = results_summary([])
    assert empty["objective_met"] == "no" and empty["objective_sentence"].startswith("cannot be judged")
    assert empty["best_10g_name"] == "none" and empty["claim_cnn_best"].startswith("cannot be checked")



def test_results_summary_keys_and_sentences_are_pinned_word_for_word():
    # the book's prose pastes these: keys, their order and the sentences must not drift
    s = results_summary(_records(cnn4=0.55))
    summary_keys = [k for k in s if not k.endswith(("_name", "_genres", "_split", "_protocol", "_track",
                                                      "_window", "_clips", "_balanced", "_majority"))]
    assert summary_keys == [
        "best_10g", "clips_10g", "chance_10g", "best_4g", "clips_4g", "chance_4g", "objective",
        "objective_sentence", "objective_met", "objective_window_sentence", "objective_balanced_sentence",
        "skew_10g", "skew_4g",
        "thesis_accuracy", "thesis_metric",
        "thesis_beside_ours", "clips_scored", "protocol", "claim_cnn_best", "claim_convolutional",
        "claim_network_vs_baseline"]
    assert s["thesis_beside_ours"] == (
        "the thesis's CNN reached 77.04 % window accuracy on 4 genres of its own SoundCloud data; "
        "the same CNN on GTZAN's 4 genres under the artist-disjoint protocol reaches 62.0 %; "
        "the best of ours on GTZAN's 4 genres under the artist-disjoint protocol, compact_cnn, reaches 66.0 %")
    assert s["claim_cnn_best"] == "is not supported: lenet (4 genres) with 60.0 % track accuracy beats the CNN (55.0 %)"
    assert s["claim_network_vs_baseline"] == (
        "on 4 genres the best network, compact_cnn, beats the baseline (72.0 % against 65.0 %); "
        "on 10 genres the best network, compact CNN, beats the baseline (80.0 % against 70.0 %)")
    assert s["objective_window_sentence"] == ("is met by transfer_linear (10 genres) with 85.0 % window accuracy "
                                              "under the artist-disjoint protocol")

def test_thesis_result_says_it_is_a_window_accuracy():
    assert THESIS_RESULT["level"] == "window" and THESIS_RESULT["metric"] == "window accuracy"
    assert THESIS_RESULT["accuracy"] >= THESIS_OBJECTIVE


def test_results_chart_has_a_bar_per_model_chance_lines_the_thesis_and_an_outside_legend():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = _records()
    fig = plot_results(results_table(records), title="GTZAN, fault_filtered")
    ax = fig.axes[0]
    assert len(ax.patches) == len(records)
    assert [t.get_text() for t in ax.get_yticklabels()][0].startswith("feed_forward, 4 genres")
    legend = fig.legends[0]
    names = [t.get_text() for t in legend.get_texts()]
    assert "chance on 4 genres: 25 %" in names and "chance on 10 genres: 10 %" in names
    assert any("77.04 %" in n and "window accuracy" in n for n in names)
    fig.canvas.draw()
    assert legend.get_window_extent().y1 <= ax.get_window_extent().y0  # below the axes: hides no bar
    assert ax.get_title() == "GTZAN, fault_filtered"
    plt.close(fig)


def test_skewed_scored_clips_are_named_with_the_score_of_always_answering_their_main_genre():
    import dataclasses

    from genrenet.evaluate import majority_share

    per_genre = {"classical": {"support": 26}, "pop": {"support": 2}, "country": {"support": 0},
                 "metal": {"support": 0}}
    skewed = [dataclasses.replace(r, metrics=Metrics(
        window=r.metrics.window,
        track=Scores(accuracy=r.metrics.track.accuracy, n=28, balanced_accuracy=b, per_genre=per_genre)))
        for r, b in zip(_records()[:2], (0.5, 0.75), strict=True)]
    assert majority_share(skewed[0].metrics.track) == 26 / 28
    assert majority_share(Scores(accuracy=0.5)) is None
    s = results_summary(skewed)
    assert s["feed_forward_4g_majority"] == "92.9 %" and s["lenet_4g_balanced"] == "75.0 %"
    assert s["skew_4g"] == ("26 of the 28 clips scored on 4 genres are classical, so answering classical every "
                            "time would score 92.9 %; the fairer figure is balanced accuracy (the mean of the "
                            "per-genre recalls, 25.0 % by chance), where the best is lenet with 75.0 %")
    assert s["skew_10g"].startswith("no model was scored on 10 genres")
    assert s["objective_balanced_sentence"] == ("is met by lenet (4 genres) with 75.0 % track balanced accuracy "
                                                "under the artist-disjoint protocol")
    assert results_summary(_records())["objective_balanced_sentence"] == (
        "cannot be judged: no model was scored under the artist-disjoint protocol with per-genre scores")
    table = results_table(skewed)
    assert list(table["most frequent genre only"].round(3))[1:] == [0.929, 0.929]
