"""musicnn embeddings: parity with the original TensorFlow 1 graph, the front end, the
feature kind and its cache, and the error when the wheel is missing."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from genrenet import embeddings as emb
from genrenet.errors import ModelError, ParameterError
from genrenet.features import FeatureSpec, extract, get_spec, pool_windows, window_starts

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason=f"the musicnn wheel is not installed ({emb.INSTALL_COMMAND})")


def _reference_module():
    spec = importlib.util.spec_from_file_location("make_musicnn_reference", DATA / "make_musicnn_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_wheel
@pytest.mark.parametrize("model", emb.MUSICNN_MODELS)
def test_outputs_match_the_original_graph(model):
    ref = np.load(DATA / "musicnn_reference.npz")
    x = _reference_module().reference_patches()
    assert hashlib.sha256(x.tobytes()).digest() == ref["input_sha256"].tobytes()
    out = emb.Musicnn(model)(x)
    assert set(out) == set(emb.LAYERS)
    for name, size in emb.LAYERS.items():
        expected = ref[f"{model}/{name}"]
        assert out[name].shape == (len(x), size) == expected.shape
        # float32 sums of up to 3,927 terms: agreement to 1e-4, relative for the largest activations (~100)
        np.testing.assert_allclose(out[name], expected, rtol=1e-4, atol=1e-4, err_msg=f"{model}/{name}")
    assert not np.allclose(out["max_pool"][0], out["max_pool"][1])  # different inputs, different outputs


@needs_wheel
def test_tag_names():
    msd, mtt = emb.tag_names("MSD_musicnn"), emb.tag_names("MTT_musicnn")
    assert len(msd) == len(mtt) == emb.LAYERS["taggram"]
    assert msd[0] == "rock" and "jazz" in msd and "classical" in mtt


def test_front_end_matches_librosa_in_float32():
    import librosa

    rng = np.random.default_rng(0)
    t = np.arange(emb.SR * 2) / emb.SR
    y = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=y, sr=emb.SR, hop_length=emb.HOP_LENGTH, n_fft=emb.N_FFT,
                                         n_mels=emb.N_MELS).T
    expected = np.log10(10000 * mel.astype(np.float32) + 1)
    got = emb.log_mel(y)
    assert got.dtype == np.float32 and got.shape == expected.shape == (1 + y.size // 256, 96)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_front_end_stays_finite_on_loud_audio():
    y = np.sign(np.sin(2 * np.pi * 100 * np.arange(emb.SR) / emb.SR)).astype(np.float32)  # full-scale square
    frames = emb.log_mel(y)
    assert np.isfinite(frames).all()
    from genrenet.spectrogram import melspectrogram

    mel = melspectrogram(y, emb.SR, n_fft=emb.N_FFT, hop_length=emb.HOP_LENGTH, n_mels=emb.N_MELS)
    wheel = np.log10(np.float16(10000) * mel.astype(np.float16) + np.float16(1))  # the wheel's float16 front end
    assert np.isinf(wheel).any()


def test_patch_plan_follows_musicnn():
    assert emb.patch_frames(3.0, 2.992) == (187, 187)
    assert emb.patch_frames(3.0, 1.5) == (187, 94)
    assert list(emb.patch_starts(1876)) == [187 * k for k in range(10)]  # 30 s: 10 patches, tail dropped
    assert list(emb.patch_starts(100)) == [0]  # shorter than a patch: one padded patch
    assert list(window_starts("musicnn", 30 * emb.SR)) == [187 * 256 * k for k in range(10)]
    frames = np.ones((100, 96), np.float32)
    zero = emb.cut_patches(frames, np.array([0]))
    repeat = emb.cut_patches(frames, np.array([0]), pad="repeat")
    assert zero.shape == (1, 187, 96) and zero[0, 100:].max() == 0 and repeat.min() == 1
    with pytest.raises(ParameterError, match="187-frame"):
        emb.patch_frames(5.0, 2.992)


def test_embedding_spec_validation_and_stable_keys():
    spec = get_spec("musicnn")
    assert spec.kind == "embedding" and spec.shape == (400,)
    spec = spec.replace(embedding="MSD_musicnn", layer="max_pool+mean_pool")
    assert spec.shape == (1506,)
    assert spec.replace(pooling="mean_std").shape == (3012,)
    assert spec.replace(embedding="MSD_musicnn+MTT_musicnn", layer="penultimate").shape == (400,)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ParameterError, match="sr must be 16000"):
        FeatureSpec(kind="embedding")
    with pytest.raises(ParameterError, match="layer"):
        spec.replace(layer="max_pool+softmax")
    with pytest.raises(ParameterError, match="pooling"):
        spec.replace(pooling="median")
    # the other kinds' dictionaries (and cache keys) are unchanged by the new fields
    assert "embedding" not in get_spec("logmel").to_dict()
    assert set(get_spec("logmel").to_dict()) == {f for f in FeatureSpec.__dataclass_fields__}.difference(
        {"embedding", "layer", "pooling"})


def test_pool_windows():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    spec = get_spec("musicnn")
    assert pool_windows(spec, X) is not None and pool_windows(spec, X).shape == (4, 3)
    np.testing.assert_allclose(pool_windows(spec.replace(pooling="mean"), X), [[4.5, 5.5, 6.5]])
    assert pool_windows(spec.replace(pooling="mean_std"), X).shape == (1, 6)


@needs_wheel
def test_extract_embeds_every_patch_and_resamples():
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(22050 * 7)).astype(np.float32)
    spec = get_spec("musicnn")
    X = extract(spec, y, 22050)
    assert X.shape == (2, 400) and X.dtype == np.float32 and np.isfinite(X).all()
    np.testing.assert_allclose(extract(spec, y, 22050, indices=[1]), X[1:], rtol=1e-4, atol=1e-4)
    pooled = extract(spec.replace(pooling="mean"), y, 22050)
    np.testing.assert_allclose(pooled, X.mean(axis=0, keepdims=True), rtol=1e-4, atol=1e-4)


def test_missing_wheel_names_it_and_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "musicnn" else real(name, *a))
    with pytest.raises(emb.MissingWeightsError, match=re.escape("pip install --no-deps musicnn==0.1.0")) as info:
        emb.checkpoint_dir("MSD_musicnn")
    assert isinstance(info.value, ModelError) and "musicnn==0.1.0" in str(info.value)
    emb._cached.cache_clear()
    try:
        with pytest.raises(emb.MissingWeightsError):
            extract("musicnn", np.zeros(16000, np.float32), 16000)
    finally:
        emb._cached.cache_clear()


@needs_wheel
def test_embedding_features_are_cached(tmp_path, monkeypatch):
    import soundfile as sf

    from genrenet.cache import featurize
    from genrenet.datasets.folder import load_folder

    rng = np.random.default_rng(2)
    for genre in ("a", "b"):
        (tmp_path / "music" / genre).mkdir(parents=True)
        sf.write(tmp_path / "music" / genre / "x.wav", (0.1 * rng.standard_normal(16000 * 4)).astype(np.float32),
                 16000)
    ds = load_folder(tmp_path / "music")
    first = featurize(ds, "musicnn", cache_dir=tmp_path / "cache", progress=False)
    assert (first.computed, first.reused) == (2, 0)

    def no_network(*args, **kwargs):
        raise AssertionError("the network ran although the features are cached")

    monkeypatch.setattr(emb, "load_musicnn", no_network)
    again = featurize(ds, "musicnn", cache_dir=tmp_path / "cache", progress=False)
    assert (again.computed, again.reused) == (0, 2)
    X, _, _ = again.load()
    assert X.shape == (2, 400)
    pooled = featurize(ds, get_spec("musicnn").replace(pooling="mean"), cache_dir=tmp_path / "cache",
                       progress=False)  # derived from the cached patches, no network run
    assert pooled.computed == 2 and pooled.load()[0].shape == (2, 400)
    np.testing.assert_allclose(pooled.load()[0][0], np.asarray(first.load([0])[0]).mean(axis=0), rtol=1e-6)


def test_install_command_is_the_same_everywhere():
    requirement = emb.INSTALL_COMMAND.split()[-1]
    assert emb.INSTALL_COMMAND == f"pip install --no-deps {requirement}"
    for where in ("Makefile", "postBuild"):
        text = (ROOT / where).read_text()
        lines = [ln for ln in text.splitlines() if "musicnn" in ln and "install" in ln]
        assert lines, f"{where} does not install the musicnn wheel"
        assert all("--no-deps" in ln and requirement in ln for ln in lines), f"{where}: {lines}"
