"""Tests of genrenet.inputs: one resolution path for data set, split and feature."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import sine

from genrenet.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """``<genre>/<file>`` folder: three genres, a: 3 tracks, b: 3 tracks, c: 1 track (2 s tones)."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("music")
    for genre, n, freq in (("a", 3, 220.0), ("b", 3, 440.0), ("c", 1, 880.0)):
        (root / genre).mkdir()
        for i in range(n):
            sf.write(root / genre / f"{genre}{i}.wav", sine(freq * (1 + i / 10), seconds=2.0), 22050)
    return root


def test_resolve_dataset_by_name_and_genres(music):
    from genrenet.datasets import Dataset
    from genrenet.inputs import resolve_dataset

    ds = resolve_dataset("folder", data_dir=music)
    assert isinstance(ds, Dataset) and ds.genres == ["a", "b", "c"] and len(ds) == 7
    assert resolve_dataset("folder", data_dir=str(music), genres="a, b").genres == ["a", "b"]
    assert resolve_dataset(ds, genres=["b", "c"]).genres == ["b", "c"]  # a loaded data set is used as it is
    with pytest.raises(ParameterError, match=r"genres: x not in data set 'folder'; choose among: a, b, c"):
        resolve_dataset(ds, genres="a,x")
    with pytest.raises(ParameterError, match=r"has 1 genre\(s\) \(a\); it needs at least 2"):
        resolve_dataset(ds, genres="a", min_genres=2)
    with pytest.raises(ParameterError, match=r"at least 2 tracks here; too few in c \(1\)"):
        resolve_dataset(ds, min_tracks=2)
    with pytest.raises(ParameterError, match="dataset must be a data set name or a Dataset"):
        resolve_dataset(42)
    with pytest.raises(ParameterError, match="genres must be None"):
        resolve_dataset(ds, genres=3)
    with pytest.raises(DataError, match="has no tracks"):
        resolve_dataset(Dataset("empty", music, []))


def test_resolve_dataset_names_a_missing_data_dir(music, tmp_path):
    from genrenet.inputs import resolve_dataset

    with pytest.raises(ParameterError, match=r"dataset='nope' is not valid; choose one of: .*folder"):
        resolve_dataset("nope", data_dir=music)
    with pytest.raises(ParameterError, match="data_dir is required for dataset='folder'"):
        resolve_dataset("folder")
    with pytest.raises(ParameterError, match=r"data_dir=.*nowhere.* does not exist"):
        resolve_dataset("folder", data_dir=tmp_path / "nowhere")


def test_demo_fallback_is_explicit(monkeypatch, music, tmp_path):
    """Only demo_fallback=True turns a missing data directory into the synthetic corpus, and it says so."""
    import genrenet.datasets as datasets
    from genrenet.datasets import SYNTHETIC_LABEL
    from genrenet.inputs import resolve_dataset

    real = datasets.load_dataset("folder", music)
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda name, data_dir=None: calls.append((name, data_dir)) or real)
    for missing in (None, tmp_path / "nowhere"):
        with pytest.raises(ParameterError, match="data_dir"):
            resolve_dataset("gtzan", data_dir=missing)
        assert calls == []
        with pytest.warns(UserWarning, match=f"using the {SYNTHETIC_LABEL} instead"):
            assert resolve_dataset("gtzan", data_dir=missing, demo_fallback=True) is real
        assert calls.pop() == ("demo", None)
    # an existing directory is used, fallback or not; several roots may be joined by os.pathsep
    resolve_dataset("gtzan", data_dir=music, demo_fallback=True)
    assert calls.pop() == ("gtzan", music)
    two = f"{music}{os.pathsep}{music / 'a'}"
    resolve_dataset("gtzan", data_dir=two)
    assert calls.pop() == ("gtzan", two)
    with pytest.raises(ParameterError, match="does not exist"):
        resolve_dataset("gtzan", data_dir=f"{music}{os.pathsep}{tmp_path / 'nowhere'}")


def test_resolve_split(music):
    from genrenet.inputs import SPLITS, resolve_dataset, resolve_split
    from genrenet.splits import Split, stratified_split

    ds = resolve_dataset("folder", data_dir=music, genres="a,b")
    assert resolve_split(None, ds, seed=3) == stratified_split(ds, seed=3) == resolve_split("stratified", ds, seed=3)
    everything = resolve_split("all", ds)
    assert sorted(everything.train) == list(range(len(ds))) and not everything.scored
    given = Split("mine", [0, 1, 3, 4], [], [2, 5], "by hand")
    assert resolve_split(given, ds) is given
    with pytest.raises(DataError, match="out of range"):
        resolve_split(Split("big", [0], [], [99], "by hand"), ds)
    with pytest.raises(ParameterError, match="cross_validate"):
        resolve_split("kfold", ds)
    with pytest.raises(ParameterError, match="split must be one of"):
        resolve_split("random", ds)
    assert "fault-filtered" in SPLITS and "all" in SPLITS


def test_resolve_feature_and_inputs(monkeypatch, music):
    import genrenet.datasets as datasets
    from genrenet.features import PRESETS
    from genrenet.inputs import Inputs, resolve_feature, resolve_inputs

    assert resolve_feature("compact_cnn") == PRESETS["logmel"]
    assert resolve_feature("cnn", "logmel") == PRESETS["logmel"]  # any spectrogram suits a network
    assert resolve_feature("baseline", PRESETS["mfcc_stats"].replace(n_mfcc=13)).n_mfcc == 13
    with pytest.raises(ParameterError, match="needs a spectrogram feature"):
        resolve_feature("cnn", "mfcc_stats")
    with pytest.raises(ParameterError, match="needs a feature of kind 'mfcc_stats'"):
        resolve_feature("baseline", "logmel")
    with pytest.raises(ParameterError, match="model must be one of"):
        resolve_feature("resnet")
    inputs = resolve_inputs("baseline", "folder", data_dir=music, genres="a,b", seed=1)
    assert isinstance(inputs, Inputs) and inputs.feature == PRESETS["mfcc_stats"]
    assert inputs.dataset.genres == ["a", "b"] and inputs.split.name == "stratified"
    # a bad feature fails before any data is read
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("data read before the feature check"))
    with pytest.raises(ParameterError, match="feature"):
        resolve_inputs("baseline", "folder", data_dir=music, feature="logmel")


def test_window_plans_and_input_scale():
    from genrenet.audio import select_windows
    from genrenet.features import input_scale, plan_windows, window_starts

    n = 60 * 22050
    total = len(window_starts("logmel", n))
    full = plan_windows("logmel", n)
    assert full.total == full.used == total and not full.truncated
    assert np.array_equal(full.indices, np.arange(total))
    short = plan_windows("logmel", n, max_windows=8)
    assert short.total == total and short.used == 8 and short.truncated
    assert np.array_equal(short.indices, select_windows(total, 8))
    groups = short.groups(3)
    assert len(groups) == 3 and np.array_equal(np.concatenate(groups), short.indices)
    assert [len(g) for g in plan_windows("logmel", 22050, max_windows=8).groups(4)] == [1]  # never empty groups
    assert input_scale("thesis_image") == 255.0 and input_scale("logmel") == input_scale("mfcc_stats") == 1.0
    assert input_scale(np.uint8) == 255.0 and input_scale(np.float32) == 1.0
