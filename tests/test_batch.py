"""Batch prediction over collections (genrenet.batch, ``genrenet predict SOURCE --out FILE``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from genre_detector_helpers import HIGH_HZ, LOW_HZ, make_band_bundle, make_sklearn_bundle, tone, write_audio

from genrenet import batch
from genrenet.errors import ParameterError
from genrenet.predict import Predictor

BAND = "Band Model"


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-bundles")
    return Predictor([make_band_bundle(root / "band"), make_sklearn_bundle(root / "base")],
                     include_default=False, warmup=False)


@pytest.fixture
def collection(tmp_path):
    """Twelve tracks in nested folders (low and high tones of different lengths and formats) and a bad file."""
    root = tmp_path / "uploads"
    (root / "a").mkdir(parents=True)
    (root / "b" / "c").mkdir(parents=True)
    expected = {}
    for i in range(12):
        freq = LOW_HZ if i % 2 == 0 else HIGH_HZ
        folder = [root / "a", root / "b", root / "b" / "c"][i % 3]
        ext = ".wav" if i % 4 else ".ogg"
        path = write_audio(folder / f"t{i:02d}{ext}", tone(freq, 1.5 + 0.5 * (i % 5), seed=i))
        expected[str(path)] = "low" if freq == LOW_HZ else "high"
    bad = root / "b" / "broken.mp3"
    bad.write_bytes(b"ID3 this is not an mp3 at all" * 50)
    (root / "notes.txt.bak").write_text("ignored")
    return root, expected, str(bad)


def test_collect_directory_glob_and_manifest(collection, tmp_path):
    root, expected, bad = collection
    from_dir = batch.collect_tracks(root)
    assert from_dir == sorted(list(expected) + [bad])
    from_glob = batch.collect_tracks(str(root / "**" / "*.ogg"))
    assert from_glob == sorted(p for p in expected if p.endswith(".ogg"))
    lst = tmp_path / "list.txt"
    lst.write_text("# tracks of the day\nuploads/a/t00.ogg\n\n" + str(root / "b" / "t01.wav") + "\n")
    assert batch.collect_tracks(lst) == [str(tmp_path / "uploads/a/t00.ogg"), str(root / "b" / "t01.wav")]
    tsv = tmp_path / "m.tsv"
    tsv.write_text("id\tpath\n1\tuploads/a/t00.ogg\n")
    assert batch.collect_tracks([tsv, lst]) == [str(tmp_path / "uploads/a/t00.ogg"), str(root / "b" / "t01.wav")]
    with pytest.raises(ParameterError, match="not a directory"):
        batch.collect_tracks(tmp_path / "missing")
    with pytest.raises(ParameterError, match="names no audio"):
        batch.collect_tracks(str(tmp_path / "*.flac"))


@pytest.mark.parametrize("suffix,jobs", [(".csv", 2), (".parquet", 0)])
def test_one_row_per_track_and_a_bad_file_does_not_stop_the_run(predictor, collection, tmp_path, suffix, jobs):
    root, expected, bad = collection
    out = tmp_path / f"predictions{suffix}"
    summary = batch.predict_collection(root, out, predictor=predictor, jobs=jobs, batch_tracks=5, progress=False)
    assert (summary.total, summary.classified, summary.failed, summary.skipped) == (13, 12, 1, 0)
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns[:4]) == ["path", "duration", "error", f"{BAND}:genre"]
    assert list(frame["path"]) == sorted(frame["path"]) and len(frame) == 13
    rows = frame.set_index("path")
    assert "broken.mp3" in rows.loc[bad, "error"] and pd.isna(rows.loc[bad, "duration"])
    good = rows.drop(index=bad)
    assert good["error"].isna().all()
    assert good[f"{BAND}:genre"].to_dict() == expected
    assert good["Tone Baseline:genre"].to_dict() == expected
    np.testing.assert_allclose(good[[f"{BAND}:low", f"{BAND}:high"]].sum(axis=1), 1.0, atol=1e-9)
    # the same numbers as one-file prediction, to float rounding
    some = next(iter(expected))
    single = predictor.predict_file(some)
    assert good.loc[some, "duration"] == pytest.approx(single.duration, abs=1e-3)
    for r in single.results:
        for g, p in r.probabilities.items():
            assert good.loc[some, f"{r.name}:{g}"] == pytest.approx(p, abs=1e-6)
    assert not (tmp_path / f"predictions{suffix}.journal.jsonl").exists()


def test_an_interrupted_run_resumes_and_skips_finished_tracks(predictor, collection, tmp_path, monkeypatch):
    root, expected, bad = collection
    out = tmp_path / "day.csv"
    reference = tmp_path / "reference.csv"
    batch.predict_collection(root, reference, predictor=predictor, jobs=0, batch_tracks=4, progress=False)

    calls = {"n": 0}
    real = Predictor.predict_features

    def dies_on_third_batch(self, tracks, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, tracks, **kw)

    monkeypatch.setattr(Predictor, "predict_features", dies_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        batch.predict_collection(root, out, predictor=predictor, jobs=0, batch_tracks=4, checkpoint=0.0,
                                 progress=False)
    first = pd.read_csv(out)
    assert 0 < len(first) < 13  # two batches were written before the interruption

    seen = []
    monkeypatch.setattr(Predictor, "predict_features",
                        lambda self, tracks, **kw: seen.extend(t.source for t in tracks) or real(self, tracks, **kw))
    summary = batch.predict_collection(root, out, predictor=predictor, jobs=2, batch_tracks=4, progress=False)
    assert summary.skipped == len(first) and summary.classified + summary.failed == 13 - len(first)
    assert not set(seen) & set(first["path"])  # finished tracks were not classified again
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(reference))  # bit for bit the uninterrupted run

    again = batch.predict_collection(root, out, predictor=predictor, jobs=0, progress=False)
    assert (again.skipped, again.classified, again.failed) == (13, 0, 0)
    retried = batch.predict_collection(root, out, predictor=predictor, jobs=0, retry_errors=True, progress=False)
    assert (retried.skipped, retried.failed) == (12, 1)


def test_a_crash_cut_journal_line_is_redone(predictor, collection, tmp_path):
    root, expected, bad = collection
    out = tmp_path / "p.csv"
    store = batch.ResultStore(out, batch.model_columns(predictor))
    first = sorted(expected)[0]
    store.add([batch.result_row(first, error="an earlier failure")])
    with open(store.journal, "a") as fh:
        fh.write('{"path": "' + sorted(expected)[1] + '", "dura')  # the process died mid-line
    summary = batch.predict_collection(root, out, predictor=predictor, jobs=0, progress=False)
    assert summary.skipped == 1 and summary.classified + summary.failed == 12
    assert pd.read_csv(out).set_index("path").loc[first, "error"] == "an earlier failure"


_REAL_FEATURES = batch._features_or_error


def crash_on_victim(path, *args):
    """Stands in for batch._features_or_error in the worker processes: dies on one file."""
    import os

    if path == os.environ.get("GENRENET_TEST_VICTIM"):
        os._exit(3)  # what a decoder segfault looks like to the pool
    return _REAL_FEATURES(path, *args)


def test_a_dying_worker_process_costs_only_its_own_track(predictor, collection, tmp_path, monkeypatch):
    root, expected, bad = collection
    victim = sorted(expected)[3]
    monkeypatch.setenv("GENRENET_TEST_VICTIM", victim)  # the worker processes inherit the environment
    monkeypatch.setattr(batch, "_features_or_error", crash_on_victim)
    out = tmp_path / "p.csv"
    summary = batch.predict_collection(root, out, predictor=predictor, jobs=2, batch_tracks=3, progress=False)
    rows = pd.read_csv(out).set_index("path")
    assert "died" in rows.loc[victim, "error"]
    assert summary.failed == 2 and rows["error"].notna().sum() == 2  # the victim and the broken mp3
    assert rows["error"].isna().sum() == 11


def test_cli_collection(collection, tmp_path, capsys, monkeypatch):
    from genrenet.cli import main

    root, expected, bad = collection
    models = tmp_path / "models"
    make_band_bundle(models / "band")
    out = tmp_path / "cli.parquet"
    args = ["predict", str(root), "--out", str(out), "--models-dir", str(models), "--no-default", "--jobs", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "13 tracks, 0 already done, 12 classified, 1 failed" in text
    assert len(pd.read_parquet(out)) == 13
    assert main(args) == 0
    assert "13 tracks, 13 already done" in capsys.readouterr().out
    assert main(["predict", str(root), "--models-dir", str(models), "--no-default"]) == 1
    assert "--out" in capsys.readouterr().err
    assert main(args[:3] + [str(tmp_path / "x.json")] + args[4:]) == 1
    assert ".csv" in capsys.readouterr().err
