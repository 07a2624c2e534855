"""Tests of genrenet.features: FeatureSpec, presets and the windowed feature pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import sine

from genrenet import audio, features
from genrenet.errors import AudioError, ParameterError
from genrenet.features import FeatureSpec

SR = 22050


@pytest.fixture(scope="module")
def track():
    rng = np.random.default_rng(3)
    t = np.arange(int(7.3 * SR)) / SR
    y = 0.4 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def test_presets_and_shapes():
    assert set(features.PRESETS) >= {"logmel", "thesis_image", "mfcc_stats"}
    assert features.get_spec("logmel").shape == (128, 130, 1)
    img = features.get_spec("thesis_image")
    assert img.kind == "image" and img.shape == (200, 200, 3) and img.dtype == np.uint8
    stats = features.get_spec("mfcc_stats")
    assert stats.shape == (52,) and len(features.feature_names(stats)) == 52
    assert features.get_spec(features.PRESETS["logmel"]) is features.PRESETS["logmel"]


def test_key_is_stable_and_sensitive():
    a, b = FeatureSpec(), FeatureSpec(window=3, hop=1.5)
    assert a.key() == b.key() and a.key().startswith("logmel-") and len(a.key()) == len("logmel-") + 12
    assert FeatureSpec(n_mels=64).key() != a.key()
    assert FeatureSpec(kind="image", crop=(0.1, 0.9)).key() != FeatureSpec(kind="image").key()
    keys = {spec.key() for spec in features.PRESETS.values()}
    assert len(keys) == len(features.PRESETS)


def test_dict_round_trip_through_json():
    spec = FeatureSpec(kind="image", crop=(0.05, 0.9), cmap="coolwarm", fmax=8000.0)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["crop"] == [0.05, 0.9]
    back = FeatureSpec.from_dict(data)
    assert back == spec and back.key() == spec.key()
    assert features.get_spec(data) == spec
    with pytest.raises(ParameterError, match="unknown FeatureSpec field"):
        FeatureSpec.from_dict({**data, "colour": "red"})


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "wavelet"}, "kind"),
    ({"sr": 0}, "sr"),
    ({"n_mels": 2.5}, "n_mels"),
    ({"window": -1.0}, "window"),
    ({"fmax": 20000.0}, "fmax"),
    ({"pad": "mirror"}, "pad"),
    ({"kind": "image", "cmap": "not-a-map"}, "cmap"),
    ({"kind": "image", "crop": (0.9, 0.1)}, "crop"),
    ({"n_mfcc": 200}, "n_mfcc"),
    ({"window": 0.01}, "too short"),
    ({"min_fill": 2.0}, "min_fill"),
])
def test_spec_validation(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        FeatureSpec(**kwargs)


def test_get_spec_errors():
    with pytest.raises(ParameterError, match="unknown feature preset"):
        features.get_spec("mel")
    with pytest.raises(ParameterError):
        features.get_spec(42)


def test_logmel_equals_librosa_per_window(track):
    librosa = pytest.importorskip("librosa")
    spec = features.get_spec("logmel")
    out = features.extract(spec, track, SR)
    wins = audio.windows(track, SR, window=3.0, hop=1.5)
    assert out.shape == (wins.shape[0], *spec.shape) and out.dtype == np.float32
    for i in (0, wins.shape[0] - 1):
        ref = librosa.power_to_db(librosa.feature.melspectrogram(y=wins[i], sr=SR))
        np.testing.assert_allclose(out[i, ..., 0], ref, atol=1e-4)


def test_mfcc_stats_match_librosa_definitions(track):
    librosa = pytest.importorskip("librosa")
    spec = features.get_spec("mfcc_stats")
    out = features.extract(spec, track, SR)
    names = features.feature_names(spec)
    w = audio.windows(track, SR, window=3.0, hop=1.5)[1]
    row = dict(zip(names, out[1], strict=True))
    mf = librosa.feature.mfcc(y=w, sr=SR, n_mfcc=20)
    np.testing.assert_allclose(out[1, :20], mf.mean(axis=1), atol=1e-2)
    np.testing.assert_allclose(out[1, 20:40], mf.std(axis=1), atol=1e-2)
    checks = {
        "centroid_mean": librosa.feature.spectral_centroid(y=w, sr=SR).mean(),
        "bandwidth_mean": librosa.feature.spectral_bandwidth(y=w, sr=SR).mean(),
        "rolloff_mean": librosa.feature.spectral_rolloff(y=w, sr=SR).mean(),
        "flatness_mean": librosa.feature.spectral_flatness(y=w).mean(),
        "zcr_mean": librosa.feature.zero_crossing_rate(w, frame_length=2048, hop_length=512).mean(),
        "rms_mean": librosa.feature.rms(y=w).mean(),
    }
    for name, ref in checks.items():
        assert row[name] == pytest.approx(ref, rel=2e-3), name


def test_image_feature(track):
    spec = features.get_spec("thesis_image")
    out = features.extract(spec, track, SR)
    assert out.shape == (len(audio.window_starts(track.size, SR, window=5.0, hop=2.5)[0]), 200, 200, 3)
    assert out.dtype == np.uint8 and out.std() > 0
    small = features.extract(FeatureSpec(kind="image", image_size=32, crop=(0.1, 0.8), window=2.0, hop=1.0),
                             track, SR)
    assert small.shape[1:] == (32, 32, 3)


def test_resampling_chunking_and_file(tmp_path, track, monkeypatch):
    spec = FeatureSpec(n_mels=32, window=1.0, hop=0.5)
    path = tmp_path / "t.wav"
    sf.write(path, track, SR, subtype="FLOAT")
    from_file = features.extract_file(spec, path)
    np.testing.assert_array_equal(from_file, features.extract(spec, track, SR))
    # chunked computation gives the same numbers as one batch
    monkeypatch.setattr(features, "CHUNK_WINDOWS", 3)
    np.testing.assert_allclose(features.extract(spec, track, SR), from_file, atol=1e-4)
    # a signal at another rate is resampled to spec.sr first
    y44 = audio.resample(track, SR, 44100)
    out44 = features.extract(spec, y44, 44100)
    assert out44.shape == from_file.shape
    assert np.median(np.abs(out44 - from_file)) < 0.5


def test_short_and_bad_signals(tmp_path):
    short = features.extract("logmel", sine(seconds=0.4), SR)
    assert short.shape == (1, 128, 130, 1)
    with pytest.raises(ParameterError, match="non-empty"):
        features.extract("logmel", np.zeros(0, np.float32), SR)
    with pytest.raises(ParameterError, match="NaN"):
        features.extract("logmel", np.array([0.0, np.nan] * 100, np.float32), SR)
    with pytest.raises(ParameterError, match="mono"):
        features.extract("logmel", np.zeros((2, 100), np.float32), SR)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match="bad.wav"):
        features.extract_file("logmel", bad)


def test_real_gtzan_clips(gtzan_mini):
    full = gtzan_mini / "blues" / "blues.00000.wav"
    out = features.extract_file("logmel", full)
    # 30.013 s: 19 full windows plus a half-filled tail window (see genrenet.audio.windows)
    assert out.shape == (20, 128, 130, 1) and np.isfinite(out).all()
    assert features.extract_file("thesis_image", full).shape == (12, 200, 200, 3)


def test_import_is_light():
    """Importing the feature module (and its presets) must not pull in matplotlib or TensorFlow."""
    import subprocess
    import sys

    code = "import sys, genrenet.features; print('matplotlib' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_concurrent_extract_restores_blas_threads():
    """Threads of a web server share the one-BLAS-thread limit; the last one out restores it."""
    import threading

    from threadpoolctl import threadpool_info

    from genrenet.features import extract, get_spec

    spec = get_spec("logmel")
    y = np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32)
    extract(spec, y, 22050)  # load every BLAS library once

    def counts():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = counts()
    threads = [threading.Thread(target=lambda: [extract(spec, y, 22050) for _ in range(3)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts() == before
