"""genrenet.release: the honest evaluation, then the bundle that ships (real GTZAN clips)."""

from __future__ import annotations

import json

import pytest

from genrenet.errors import ParameterError
from genrenet.release import comparison_markdown, release, release_metrics
from genrenet.results import RunRecord

# the genres of gtzan-mini with clips on the train and valid lists (classical and disco on the test list too)
GENRES = ["classical", "disco", "jazz", "metal"]


def test_release_publishes_the_artist_disjoint_evaluation_and_never_trains_on_the_test_list(
        gtzan_mini, gtzan_splits, tmp_path):
    r = release("baseline", data_dir=gtzan_mini, splits_dir=gtzan_splits, out_dir=tmp_path / "bundle",
                work_dir=tmp_path / "work", genres=GENRES, progress=False, seed=3)
    ev, final = r.evaluation.record, r.final.record
    listed = {p: {line.rsplit("/", 1)[-1].rsplit(".", 1)[0] for line in (gtzan_splits / f).read_text().split()}
              for p, f in (("train", "train_filtered.txt"), ("valid", "valid_filtered.txt"),
                           ("test", "test_filtered.txt"))}
    # the evaluation is scored on valid- and test-list clips only, both parts reported
    assert set(ev.test_tracks) <= listed["valid"] | listed["test"]
    assert set(ev.metrics.parts) == {"val", "test"} and ev.split.name == "fault_filtered"
    # the bundle: fitted on the train and valid lists, scored on the test list, which it never saw
    assert final.split.name == "fault_filtered_final" and set(final.test_tracks) <= listed["test"]
    assert final.split.sizes["val"] == 0
    # it publishes the evaluation's numbers and protocol, with the clip counts apart from the metrics
    meta = json.loads((tmp_path / "bundle" / "meta.json").read_text())
    assert meta["metrics"]["accuracy"] == pytest.approx(ev.metrics.track.accuracy)
    assert meta["metrics"]["n_tracks"] == len(ev.test_tracks) and meta["protocol"] == ev.protocol
    assert "Kereliuk" in meta["protocol"] and meta["split"] == "fault_filtered_final"
    assert release_metrics(ev) == meta["metrics"]
    # a rerun skips both finished runs
    again = release("baseline", data_dir=gtzan_mini, splits_dir=gtzan_splits, out_dir=tmp_path / "bundle",
                    work_dir=tmp_path / "work", genres=GENRES, progress=False, seed=3)
    assert again.evaluation.skipped and again.final.skipped
    table = comparison_markdown([ev, ev], labels={"baseline": "SVM"})
    assert table.count("| SVM |") == 2 and f"{ev.metrics.track.accuracy:.3f}" in table
    assert f"the same {len(ev.test_tracks)} clips" in table
    with pytest.raises(ParameterError, match="same clips"):
        comparison_markdown([ev, final])  # scored on other clips: not comparable


def test_release_metrics_refuses_a_run_without_scores(tmp_path):
    from genrenet.features import get_spec
    from genrenet.results import SplitInfo

    rec = RunRecord(model="baseline", name="b", dataset="d", genres=("a", "b"), feature=get_spec("mfcc_stats"),
                    split=SplitInfo.from_dict({"name": "all"}), protocol="every track")
    with pytest.raises(ParameterError, match="no scores"):
        release_metrics(rec)
    with pytest.raises(ParameterError, match="empty"):
        comparison_markdown([])


def test_shipped_model_cards_put_the_honest_protocol_first_and_agree_with_meta():
    from genrenet.predict import shipped_bundle_paths

    paths = shipped_bundle_paths()
    if not paths:
        pytest.skip("no shipped bundle in this installation")
    for path in paths:
        card = (path / "MODEL_CARD.md").read_text()
        meta = json.loads((path / "meta.json").read_text())
        assert meta["split"] == "fault_filtered_final" and "Kereliuk" in meta["protocol"]
        # the first figure the card gives is the published one, under the artist-disjoint protocol
        honest = card.index("fault-filtered")
        assert f"{meta['metrics']['accuracy']:.3f}" in card[honest:]
        assert "optimistic" in card.lower() and card.lower().index("optimistic") > honest
        for goal in ("mp3_64", "sr_16k"):  # the robustness table is stated
            assert f"| {goal} |" in card
