"""Tests of genrenet.train and ``genrenet train`` on a tiny synthetic demo corpus."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from genrenet.errors import DataError, ModelError, ParameterError

TINY_CNN = {"width": 8, "depth": 2}


def small_logmel():
    """A cheap log-mel spec for tests: 32 bands, hop 1024 -> (32, 65, 1) per 3 s window."""
    from genrenet.features import get_spec

    return get_spec("logmel").replace(n_mels=32, hop_length=1024, n_fft=1024)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 4-genre, 4-clips-per-genre, 4-second synthetic corpus and its own feature cache."""
    from genrenet.datasets import load_dataset
    from genrenet.datasets.demo import generate_demo

    base = tmp_path_factory.mktemp("tiny-demo")
    root = generate_demo(base / "demo", per_genre=4, duration=4.0, seed=7, progress=False)
    ds = load_dataset("folder", root)
    ds = ds.subset(ds.genres[:4])
    return ds, base / "cache"


def test_train_writes_a_complete_bundle_and_skips_when_finished(tiny, tmp_path):
    from genrenet.bundle import load_bundle
    from genrenet.train import train

    ds, cache = tiny
    out = tmp_path / "run"
    res = train("compact_cnn", ds, feature=small_logmel(), epochs=1, batch_size=8, out_dir=out, cache_dir=cache,
                progress=False, patience=1, **TINY_CNN)
    assert not res.skipped
    for name in ("model.keras", "meta.json", "metrics.json", "history.json", "confusion.png"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"] == ds.name and m["protocol"] and m["seed"] == 42 and m["split"]["name"] == "stratified"
    assert 0 <= m["window"]["accuracy"] <= 1 and 0 <= m["track"]["accuracy"] <= 1
    assert m["track"]["n"] == len(m["test_tracks"]) and m["track"]["n"] >= 4
    assert set(m["versions"]) >= {"python", "numpy"}
    assert len(res.history["loss"]) == m["epochs_run"] <= 2
    # the validation tracks never appear among the test tracks
    test_ids = set(m["test_tracks"])
    assert m["split"]["sizes"]["test"] == len(test_ids)
    bundle = load_bundle(out)
    assert bundle.genres == ds.genres and bundle.meta.metrics["accuracy"] == m["track"]["accuracy"]
    # the typed record is what metrics.json holds
    assert res.record.to_dict() == m and res.metrics.track.accuracy == m["track"]["accuracy"]
    # the saved model has no genrenet-only layer and takes raw features
    assert all(type(layer).__module__.startswith("keras") for layer in bundle.model.layers)
    # second call: finished, same configuration -> skipped, nothing retrained
    again = train("compact_cnn", ds, feature=small_logmel(), epochs=1, batch_size=8, out_dir=out, cache_dir=cache, progress=False,
                  patience=1, **TINY_CNN)
    assert again.skipped and again.record == res.record
    # a changed configuration retrains
    other = train("compact_cnn", ds, feature=small_logmel(), epochs=1, batch_size=4, out_dir=out, cache_dir=cache, progress=False,
                  **TINY_CNN)
    assert not other.skipped and other.record.batch_size == 4


def test_same_seed_same_numbers(tiny, tmp_path):
    from genrenet.train import train

    ds, cache = tiny
    runs = [
        train("compact_cnn", ds, feature=small_logmel(), epochs=1, batch_size=8, seed=3, out_dir=tmp_path / f"r{i}", cache_dir=cache,
              progress=False, **TINY_CNN)
        for i in range(2)
    ]
    assert runs[0].history == runs[1].history
    assert runs[0].metrics.window == runs[1].metrics.window
    other = train("compact_cnn", ds, feature=small_logmel(), epochs=1, batch_size=8, seed=4, out_dir=tmp_path / "r3", cache_dir=cache,
                  progress=False, **TINY_CNN)
    assert other.history["loss"] != runs[0].history["loss"]


def test_thesis_model_bundle_includes_pixel_scaling(tiny, tmp_path):
    from genrenet.bundle import load_bundle
    from genrenet.features import get_spec
    from genrenet.train import train

    ds, cache = tiny
    spec = get_spec("thesis_image").replace(image_size=32, window=3.0, hop=3.0)
    res = train("lenet", ds, feature=spec, epochs=1, batch_size=8, out_dir=tmp_path / "lenet", cache_dir=cache,
                progress=False, units=8)
    model = load_bundle(tmp_path / "lenet").model
    assert model.layers[0].__class__.__name__ == "Rescaling"
    assert np.isclose(model.layers[0].scale, 1 / 255)
    assert res.record.n_params == model.layers[1].count_params()


def test_cross_validate_tests_every_track_once(tiny, tmp_path):
    from genrenet.train import cross_validate

    ds, cache = tiny
    cv = cross_validate("compact_cnn", ds, feature=small_logmel(), folds=2, out_dir=tmp_path / "cv", epochs=1, batch_size=8,
                        cache_dir=cache, progress=False, **TINY_CNN)
    tested = [t for f in cv.folds for t in f.record.test_tracks]
    assert sorted(tested) == sorted(t.id for t in ds) and len(set(tested)) == len(tested)
    m = json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())
    assert m["kind"] == "cross_validation" and m["track"]["n"] == len(ds)
    assert "contiguous id blocks" in m["protocol"]
    assert (tmp_path / "cv" / "confusion.png").stat().st_size > 1000
    assert not (tmp_path / "cv" / "fold1" / "model.keras").exists()  # fold models not kept by default
    again = cross_validate("compact_cnn", ds, feature=small_logmel(), folds=2, out_dir=tmp_path / "cv", epochs=1, batch_size=8,
                           cache_dir=cache, progress=False, **TINY_CNN)
    assert all(f.skipped for f in again.folds) and again.metrics.track.to_dict() == m["track"]
    assert again.record.to_dict() == m


def test_baseline_run(tiny, tmp_path):
    from genrenet.bundle import load_bundle
    from genrenet.train import train

    ds, cache = tiny
    res = train("baseline", ds, out_dir=tmp_path / "base", cache_dir=cache, progress=False)
    assert (tmp_path / "base" / "model.joblib").is_file()
    assert res.record.feature.kind == "mfcc_stats" and res.metrics.track.n >= 4
    model = load_bundle(tmp_path / "base").model
    assert hasattr(model, "predict_proba")


def test_bad_arguments(tiny, tmp_path):
    from genrenet.train import class_weights, train

    ds, cache = tiny
    with pytest.raises(ParameterError, match="model must be one of"):
        train("resnet", ds, out_dir=tmp_path / "x")
    with pytest.raises(ParameterError, match="epochs"):
        train("cnn", ds, epochs=0, out_dir=tmp_path / "x")
    with pytest.raises(ParameterError, match="feature"):
        train("cnn", ds, feature="mfcc_stats", out_dir=tmp_path / "x", cache_dir=cache)
    with pytest.raises(ParameterError, match="kfold"):
        train("cnn", ds, split="kfold", out_dir=tmp_path / "x", cache_dir=cache)
    with pytest.raises(ParameterError, match="genres"):
        train("cnn", ds, genres="nope", out_dir=tmp_path / "x", cache_dir=cache)
    np.testing.assert_allclose(class_weights([0, 0, 0, 1], 2), [4 / 6, 2.0])
    with pytest.raises(DataError, match="no window of class"):
        class_weights([0, 0], 2)


def test_cli_train_end_to_end(tiny, tmp_path, capsys, monkeypatch):
    from genrenet.cli import main

    ds, cache = tiny
    monkeypatch.setenv("GENRENET_CACHE", str(cache))
    out = tmp_path / "cli"
    code = main(["train", "--model", "compact_cnn", "--dataset", "folder", "--data-dir", str(ds.root),
                 "--genres", ",".join(ds.genres), "--epochs", "1", "--batch-size", "8", "--out", str(out),
                 "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "protocol" in text and str(out) in text
    assert (out / "model.keras").is_file()
    assert main(["train", "--model", "compact_cnn", "--dataset", "nope", "--out", str(out), "--quiet"]) == 1


def test_cli_fault_filtered_split_on_real_gtzan(gtzan_mini, gtzan_splits, tmp_path, capsys):
    """Fit on the train list only; score the valid and test clips (artists training never heard)."""
    import os

    from genrenet.cli import main

    extra = gtzan_mini.parent / "gtzan-extra"
    if not extra.is_dir():
        pytest.skip(f"real audio not available: {extra} is missing")
    out = tmp_path / "ff"
    code = main(["train", "--model", "baseline", "--dataset", "gtzan", "--data-dir",
                 f"{gtzan_mini}{os.pathsep}{extra}", "--genres", "blues,classical,jazz,rock",
                 "--split", "fault-filtered", "--splits-dir", str(gtzan_splits), "--out", str(out), "--quiet",
                 "--json"])
    assert code == 0
    m = json.loads(capsys.readouterr().out)
    assert m["split"]["name"] == "fault_filtered" and "Kereliuk" in m["protocol"]

    def listed(name):
        return {line.strip().split("/")[-1].rsplit(".", 1)[0] for line in (gtzan_splits / name).read_text().split()}

    heldout = listed("valid_filtered.txt") | listed("test_filtered.txt")
    assert set(m["test_tracks"]) <= heldout and not set(m["test_tracks"]) & listed("train_filtered.txt")
    assert m["track"]["n"] == len(m["test_tracks"]) == sum(p["tracks"] for p in m["parts"].values())
    assert set(m["parts"]) == {"val", "test"}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["metrics"]["val_track_accuracy"] == m["parts"]["val"]["track_accuracy"]


def _fresh_history(ds, cache, out, **kw):
    from genrenet.train import train

    return train("compact_cnn", ds, feature=small_logmel(), batch_size=8, out_dir=out, cache_dir=cache,
                 progress=False, patience=None, **TINY_CNN, **kw)


def test_kill_while_the_backup_is_written_keeps_the_previous_backup(tiny, tmp_path, monkeypatch):
    from genrenet._tf import keras

    ds, cache = tiny
    out = tmp_path / "run"
    real_save = keras.Model.save_weights
    saves = []

    def killed_on_second_save(self, filepath, *args, **kwargs):
        saves.append(filepath)
        if len(saves) == 2:
            real_save(self, filepath, *args, **kwargs)
            data = open(filepath, "rb").read()
            open(filepath, "wb").write(data[: len(data) // 3])  # half-written when the kill came
            raise KeyboardInterrupt("killed while writing the backup")
        return real_save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", killed_on_second_save)
    with pytest.raises(KeyboardInterrupt):
        _fresh_history(ds, cache, out, epochs=3)
    backup = tmp_path / ".run.backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1
    monkeypatch.setattr(keras.Model, "save_weights", real_save)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # nothing to discard: the backup is intact
        res = _fresh_history(ds, cache, out, epochs=3)
    assert len(res.history["loss"]) == 2  # resumed after epoch 1 from the intact backup
    assert (out / "model.keras").is_file() and not backup.exists()


def test_damaged_backup_is_discarded_with_a_warning(tiny, tmp_path):
    ds, cache = tiny
    reference = _fresh_history(ds, cache, tmp_path / "ref", epochs=2)
    from genrenet._tf import keras

    weights = tmp_path / "w.weights.h5"
    keras.models.load_model(tmp_path / "ref" / "model.keras").save_weights(weights)
    # what Keras' own BackupAndRestore leaves when killed mid-write: a truncated latest.weights.h5
    backup = tmp_path / ".run.backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(weights.read_bytes()[:2000])
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    with pytest.warns(RuntimeWarning, match="discarded the unusable training backup"):
        res = _fresh_history(ds, cache, tmp_path / "run", epochs=2)
    assert res.history == reference.history  # started afresh from the same initial state
    assert not backup.exists()
    # a backup that is garbage from the first byte, or metadata that is not JSON
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"")
    (backup / "training_metadata.json").write_text("{not json")
    with pytest.warns(RuntimeWarning, match="discarded"):
        again = _fresh_history(ds, cache, tmp_path / "run", epochs=2, force=True)
    assert again.history == reference.history


def test_nan_loss_fails_and_writes_no_model(tiny, tmp_path, monkeypatch):
    from genrenet.cache import FeatureSet
    from genrenet.errors import ModelError

    ds, cache = tiny
    real_load = FeatureSet.load

    def huge(self, *args, **kwargs):
        X, y, tow = real_load(self, *args, **kwargs)
        return X * np.float32(1e36), y, tow  # finite, but the network overflows

    monkeypatch.setattr(FeatureSet, "load", huge)
    out = tmp_path / "nan"
    with pytest.raises(ModelError, match="diverged"):
        _fresh_history(ds, cache, out, epochs=2)
    assert not out.exists() and not (tmp_path / ".nan.backup").exists()


def test_cli_train_fails_clearly_on_nan_loss(tiny, tmp_path, capsys, monkeypatch):
    from genrenet.cache import FeatureSet
    from genrenet.cli import main

    ds, cache = tiny
    real_load = FeatureSet.load
    monkeypatch.setattr(FeatureSet, "load", lambda self, *a, **k: (lambda X, y, t: (X * np.float32(1e36), y, t))(
        *real_load(self, *a, **k)))
    monkeypatch.setenv("GENRENET_CACHE", str(cache))
    code = main(["train", "--model", "compact_cnn", "--dataset", "folder", "--data-dir", str(ds.root),
                 "--genres", ",".join(ds.genres), "--epochs", "1", "--batch-size", "8", "--out",
                 str(tmp_path / "cli"), "--quiet"])
    assert code == 1 and "diverged" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


def test_prediction_refuses_non_finite_probabilities(tiny, tmp_path):
    from genrenet.bundle import load_bundle, save_bundle
    from genrenet.errors import ModelError
    from genrenet.predict import Predictor

    ds, cache = tiny
    _fresh_history(ds, cache, tmp_path / "good", epochs=1)
    bundle = load_bundle(tmp_path / "good")
    model = bundle.model
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    save_bundle(tmp_path / "broken", model, bundle.meta)
    with pytest.raises(ModelError, match="NaN or inf"):  # at start-up, when the models are warmed up
        Predictor([tmp_path / "broken"], include_default=False)
    predictor = Predictor([tmp_path / "broken"], include_default=False, warmup=False)
    with pytest.raises(ModelError, match="NaN or inf"):
        predictor.predict_file(ds[0].path)


def test_cv_epochs_rule():
    from pathlib import Path

    from genrenet.train import cv_epochs

    recorded = json.loads((Path(__file__).parent / "data" / "records" / "cv_metrics.json").read_text())

    def cv(model, best):
        return {**recorded, "model": model, "best_epochs": best}

    assert cv_epochs(cv("cnn", [9, 14, 11, 11, 12]), default=30) == (
        11, "median best epoch of the 5 folds (9, 14, 11, 11, 12) = 11")
    assert cv_epochs(cv("cnn", [3, 4]), default=30)[0] == 4  # median 3.5, rounded up
    assert cv_epochs(cv("cnn", [None, None]), default=7)[0] == 7
    assert cv_epochs(cv("baseline", [None, None]), default=7) == (7, "the baseline is fitted in one step (no epochs)")
    assert cv_epochs(cv("transfer_linear", [None, None]), default=7)[1] == (
        "the scikit-learn model transfer_linear is fitted in one step (no epochs)")
    with pytest.raises(ModelError, match="cross-validation"):
        cv_epochs({"model": "cnn", "best_epochs": [3]}, default=30)


def test_train_after_cv_leaves_a_bundle_trained_on_every_track(tiny, tmp_path):
    from genrenet.bundle import find_bundles, load_bundle
    from genrenet.train import train_after_cv

    ds, cache = tiny
    out = tmp_path / "cv"
    res = train_after_cv("compact_cnn", ds, feature=small_logmel(), folds=4, out_dir=out, epochs=2,
                         batch_size=8, patience=1, cache_dir=cache, progress=False, **TINY_CNN)
    best = [f.record.best_epoch for f in res.folds]
    assert all(b in (1, 2) for b in best)
    assert find_bundles(out) == [out / "final"]  # the folds keep no model; the final run does
    final = res.final.record
    assert final.split.name == "all"
    assert final.epochs == int(np.ceil(np.median(best))) and final.metrics is None  # nothing held out
    meta = load_bundle(out / "final").meta
    m = json.loads((out / "cv_metrics.json").read_text())
    assert meta.metrics["accuracy"] == m["track"]["accuracy"] and meta.metrics["folds"] == 4
    assert meta.metrics["epochs"] == final.epochs and "median best epoch of the 4 folds" in meta.metrics[
        "epochs_rule"]
    assert meta.protocol == m["protocol"] and meta.split.name == "all"
    assert json.loads((out / "final" / "meta.json").read_text())["split"] == "all"
    assert m["final"] == {"path": "final", "epochs": final.epochs, "epochs_rule": meta.metrics["epochs_rule"],
                          "split": "all", "train_tracks": len(ds)}
    assert res.record.to_dict() == m
    # every track trained on: the final run's training windows are all windows of the data set
    assert final.train_windows > res.folds[0].record.train_windows
    again = train_after_cv("compact_cnn", ds, feature=small_logmel(), folds=4, out_dir=out, epochs=2,
                           batch_size=8, patience=1, cache_dir=cache, progress=False, **TINY_CNN)
    assert again.final.skipped and all(f.skipped for f in again.folds)


def test_cli_train_folds_reports_cv_then_leaves_the_bundle(tiny, tmp_path, capsys, monkeypatch):
    from genrenet.bundle import load_bundle
    from genrenet.cli import main

    ds, cache = tiny
    monkeypatch.setenv("GENRENET_CACHE", str(cache))
    out = tmp_path / "cv"
    args = ["train", "--model", "baseline", "--dataset", "folder", "--data-dir", str(ds.root),
            "--genres", ",".join(ds.genres), "--out", str(out), "--quiet"]
    assert main([*args, "--folds", "2"]) == 0
    text = capsys.readouterr().out
    assert "pooled" in text and "track-level: accuracy" in text
    assert f"bundle trained on all {len(ds)} tracks" in text and str(out / "final") in text
    meta = load_bundle(out / "final").meta
    cv = json.loads((out / "cv_metrics.json").read_text())
    assert meta.metrics["accuracy"] == cv["track"]["accuracy"] and meta.split.name == "all"
    assert cv["final"]["epochs_rule"] == meta.metrics["epochs_rule"] == "the baseline is fitted in one step (no epochs)"
    # a feature that does not suit the model fails before any data is read
    assert main(["train", "--model", "baseline", "--feature", "logmel", "--dataset", "folder", "--data-dir",
                 str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 1
    assert "mfcc_stats" in capsys.readouterr().err
    assert main([*args, "--folds", "1"]) == 1
    assert "--folds must be at least 2" in capsys.readouterr().err
    assert main([*args, "--folds", "2", "--split", "all"]) == 1
    assert "cannot be combined" in capsys.readouterr().err


def test_best_epoch_is_the_one_early_stopping_restores():
    from genrenet.train import _best_epoch, _Options

    opts = _Options(epochs=30, batch_size=8, seed=0, patience=3, class_weight=None, model_kwargs={}, progress=False)
    # the lowest loss lies in the warm-up epochs early stopping does not watch: the kept epoch is the best after them
    assert _best_epoch({"val_loss": [0.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.45, 0.5]}, opts) == 7
    assert _best_epoch({"val_loss": [0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.2, 0.25]}, opts) == 7
    assert _best_epoch({"val_loss": []}, opts) is None
    no_stop = _Options(epochs=30, batch_size=8, seed=0, patience=None, class_weight=None, model_kwargs={},
                       progress=False)
    assert _best_epoch({"val_loss": [0.3, 0.2, 0.4]}, no_stop) == 3  # no early stopping: the last epoch's weights
