"""Tests of genrenet.results: the typed records read today's JSON, and older JSON, and write it back unchanged.

``tests/data/records`` holds files written by earlier genrenet versions (a training run
on the synthetic demo corpus, one from before augmentation existed, a cross-validation,
and the shipped GTZAN-mini bundle's ``meta.json`` and ``metrics.json`` as first shipped).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrenet.errors import DataError, ModelError
from genrenet.features import FeatureSpec
from genrenet.results import (
    BundleMeta,
    CVRecord,
    Evaluation,
    Metrics,
    RunRecord,
    RunResult,
    Scores,
    SplitInfo,
    read_record,
)

RECORDS = Path(__file__).parent / "data" / "records"
PRETRAINED = Path(__file__).parents[1] / "genrenet" / "pretrained"


def load(name: str) -> dict:
    return json.loads((RECORDS / name).read_text())


@pytest.mark.parametrize("name", ["run_metrics.json", "run_metrics_before_augment.json",
                                  "run_metrics_gtzan10_v1.json"])
def test_run_records_round_trip(name):
    data = load(name)
    record = RunRecord.from_dict(data)
    assert record.to_dict() == data
    assert record.feature == FeatureSpec.from_dict(data["feature"]) and record.feature_key == data["feature_key"]
    assert record.split.name == data["split"]["name"] and record.split.sizes == data["split"]["sizes"]
    if "track" in data:
        assert record.metrics.track.accuracy == data["track"]["accuracy"]
        assert record.metrics.window.loss == data["window"]["loss"]
        assert record.metrics.track.confusion == tuple(map(tuple, data["track"]["confusion"]))
        assert record.test_tracks == tuple(data["test_tracks"])
    else:
        assert record.metrics is None and record.published() == data["reference_metrics"]


def test_run_record_parts_and_published_metrics():
    data = load("run_metrics.json")
    test = data["parts"]["test"]
    data["parts"]["val"] = {**test, "track_accuracy": 0.5}  # a fault-filtered run scores its valid list too
    record = RunRecord.from_dict(data)
    assert record.to_dict() == data
    assert record.metrics.parts["val"].track_accuracy == 0.5
    published = record.published()
    assert published["val_track_accuracy"] == 0.5 and published["test_track_accuracy"] == test["track_accuracy"]
    assert published["accuracy"] == published["track_accuracy"] == data["track"]["accuracy"]
    assert published["window_accuracy"] == data["window"]["accuracy"] and published["loss"] == data["window"]["loss"]


def test_cv_record_round_trip_and_published_metrics():
    data = load("cv_metrics.json")
    record = CVRecord.from_dict(data)
    assert record.to_dict() == data
    assert record.split.folds == data["split"]["folds"] and record.split.by == data["split"]["by"]
    assert [f.track_accuracy for f in record.per_fold] == [f["track_accuracy"] for f in data["per_fold"]]
    assert record.final.epochs == data["final"]["epochs"] and record.metrics.parts is None
    assert record.metrics.track.fold_accuracy_std == data["track"]["fold_accuracy_std"]
    published = record.published()
    assert published["accuracy"] == data["track"]["accuracy"] and published["protocol"] == data["protocol"]


def test_split_info_reads_every_shape():
    run = load("run_metrics.json")["split"]
    assert SplitInfo.from_dict(run).to_dict() == run
    cv = {"name": "block-4fold", "protocol": "p", "folds": 4, "by": "block"}
    assert SplitInfo.from_dict(cv).to_dict() == cv
    assert SplitInfo.from_dict("fault_filtered") == SplitInfo(name="fault_filtered")
    with pytest.raises(DataError, match="split"):
        SplitInfo.from_dict({"protocol": "no name"})


def test_split_info_of_a_split():
    from genrenet.splits import Split

    split = Split("s", [0, 1], [2], [3], "a protocol", dataset="d", seed=3, info={"val_heldout": True})
    info = SplitInfo.from_split(split)
    assert info.to_dict() == {k: v for k, v in split.to_dict().items() if k not in ("train", "val", "test")}


@pytest.mark.parametrize("split_shape", ["name", "run dict", "cv dict"])
def test_bundle_meta_reads_both_split_shapes(split_shape):
    data = load("meta_gtzan10_v1.json")
    run_split = load("run_metrics_gtzan10_v1.json")["split"]
    data["split"] = {"name": "all", "run dict": run_split,
                     "cv dict": {"name": "all", "protocol": "p", "folds": 5, "by": "block"}}[split_shape]
    meta = BundleMeta.from_dict(data)
    assert meta.split.name == "all" and meta.to_dict()["split"] == "all"
    assert meta.genres == tuple(data["genres"]) and meta.feature == FeatureSpec.from_dict(data["feature"])


def test_bundle_meta_round_trip_keeps_unknown_keys():
    data = {**load("meta_gtzan10_v1.json"), "card": "MODEL_CARD.md"}
    meta = BundleMeta.from_dict(data)
    assert meta.to_dict() == data and meta.extra == {"card": "MODEL_CARD.md"}
    # counts and texts are not metrics
    assert "n_tracks" not in meta.numeric_metrics and "protocol" not in meta.numeric_metrics
    assert meta.numeric_metrics["accuracy"] == data["metrics"]["accuracy"]
    assert not meta.is_synthetic and BundleMeta.from_dict({**data, "dataset": "demo"}).is_synthetic


def test_bundle_meta_refuses_bad_files():
    good = load("meta_gtzan10_v1.json")
    with pytest.raises(ModelError, match="bundle b: meta.json genres must be at least two distinct"):
        BundleMeta.from_dict({**good, "genres": ["rock", "rock"]}, where="b")
    with pytest.raises(ModelError, match="invalid feature specification"):
        BundleMeta.from_dict({**good, "feature": {"kind": "wavelet"}}, where="b")
    with pytest.raises(ModelError, match="lacks required key.*feature"):
        BundleMeta.from_dict({k: v for k, v in good.items() if k != "feature"}, where="b")
    # scaling belongs inside the model: a divisor in meta.json is refused, not silently ignored
    with pytest.raises(ModelError, match="input_scale"):
        BundleMeta.from_dict({**good, "input_scale": 255}, where="b")
    assert BundleMeta.from_dict({**good, "input_scale": 1}).genres == tuple(good["genres"])


def test_records_refuse_bad_files(tmp_path):
    data = load("run_metrics.json")
    with pytest.raises(DataError, match="kind is 'run'"):
        CVRecord.from_dict(data)
    with pytest.raises(DataError, match="lacks required key.*protocol"):
        RunRecord.from_dict({k: v for k, v in data.items() if k != "protocol"})
    bad = {**data, "track": {**data["track"], "accuracy": 1.5}}
    with pytest.raises(DataError, match=r"accuracy must be a number in \[0, 1\]"):
        RunRecord.from_dict(bad, where="x.json")
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        RunRecord.load(tmp_path)


def test_read_record_and_run_result_load(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(load("run_metrics.json")))
    (tmp_path / "run" / "history.json").write_text(json.dumps({"loss": [1.0, 0.5]}))
    (tmp_path / "cv").mkdir()
    (tmp_path / "cv" / "cv_metrics.json").write_text(json.dumps(load("cv_metrics.json")))
    run = read_record(tmp_path / "run")
    assert isinstance(run, RunRecord) and run.path == tmp_path / "run"
    assert isinstance(read_record(tmp_path / "cv"), CVRecord)
    result = RunResult.load(tmp_path / "run")
    assert result.skipped and result.history == {"loss": [1.0, 0.5]} and result.metrics == run.metrics
    with pytest.raises(DataError, match="does not exist"):
        read_record(tmp_path)


def test_metrics_and_evaluation_round_trip():
    data = load("run_metrics.json")
    metrics = Metrics.from_dict({k: data[k] for k in ("window", "track")})
    assert isinstance(metrics.track, Scores) and metrics.track.genres == list(data["track"]["per_genre"])
    ev = Evaluation(metrics=metrics, model="m", name="M", bundle="b", dataset="d", genres=("a", "b"), n_tracks=3,
                    n_windows=9, skipped_genres={"x": 1}, errors=(("t1", "cause"),),
                    feature=FeatureSpec.from_dict(data["feature"]))
    out = ev.to_dict()
    assert out["track"] == data["track"] and out["errors"] == [["t1", "cause"]]
    assert Evaluation.from_dict(json.loads(json.dumps(out))) == ev


def test_shipped_bundles_metadata_reads():
    """Every shipped bundle's meta.json (and metrics.json, when present) reads into the typed records."""
    bundles = sorted(p for p in PRETRAINED.iterdir() if (p / "meta.json").is_file())
    assert bundles
    for path in bundles:
        data = json.loads((path / "meta.json").read_text())
        meta = BundleMeta.from_dict(data, where=path)
        assert list(meta.genres) == data["genres"] and meta.feature.to_dict() == data["feature"]
        if (path / "metrics.json").is_file():
            RunRecord.load(path)
