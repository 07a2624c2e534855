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


def _padded(track, spec):
    """The track followed by the pad policy's completion of its last window (what extract transforms)."""
    starts = features.window_starts(spec, track.size)
    end = int(starts[-1]) + spec.window_samples
    if end <= track.size:
        return track
    if spec.pad == "zero":
        return np.concatenate([track, np.zeros(end - track.size, np.float32)])
    return np.concatenate([track[: starts[-1]], np.resize(track[starts[-1]:], spec.window_samples)])


def _librosa_whole_file_windows(librosa, y, spec):
    """librosa's whole-file log-mel, cut at extract's windows, each floored top_db below its own peak."""
    mel = librosa.feature.melspectrogram(y=_padded(y, spec), sr=spec.sr, n_fft=spec.n_fft,
                                         hop_length=spec.hop_length, n_mels=spec.n_mels)
    out = []
    for start in features.window_starts(spec, y.size):
        j = int(start) // spec.hop_length
        out.append(librosa.power_to_db(mel[:, j: j + spec.n_frames], top_db=spec.top_db))
    return np.stack(out)


@pytest.mark.parametrize("seconds,pad", [(7.3, "zero"), (7.3, "repeat"), (2.2, "zero"), (0.4, "repeat")])
def test_logmel_equals_librosa_whole_file_on_the_same_frames(track, seconds, pad):
    librosa = pytest.importorskip("librosa")
    spec = features.get_spec("logmel").replace(pad=pad)
    y = track[: int(seconds * SR)]
    out = features.extract(spec, y, SR)
    ref = _librosa_whole_file_windows(librosa, y, spec)
    assert out.shape == (ref.shape[0], *spec.shape) and out.dtype == np.float32
    assert np.abs(out[..., 0] - ref).max() <= 1e-3


def test_logmel_of_real_clips_equals_librosa_whole_file(gtzan_mini):
    librosa = pytest.importorskip("librosa")
    spec = features.get_spec("logmel")
    for path in (gtzan_mini / "rock" / "rock.00000.wav", gtzan_mini / "classical" / "classical.00010.wav"):
        y, sr = audio.load(path, sr=SR)
        out = features.extract(spec, y, sr)
        assert np.abs(out[..., 0] - _librosa_whole_file_windows(librosa, y, spec)).max() <= 1e-3, path.name


def test_windows_lie_on_the_frame_grid(track):
    spec = features.get_spec("logmel")
    assert spec.hop_frames == 65 and spec.hop_samples == 65 * 512
    starts = features.window_starts(spec, track.size)
    assert np.all(starts % spec.hop_length == 0) and np.all(np.diff(starts) == spec.hop_samples)
    grid, _ = audio.window_starts(track.size, SR, window=3.0, hop=65 * 512 / SR)
    np.testing.assert_array_equal(starts, grid)
    assert features.FEATURE_VERSION >= 2  # the numbers of version 1 (windows transformed one by one) are gone


def test_key_follows_the_feature_version(monkeypatch):
    spec = features.get_spec("logmel")
    before = spec.key()
    monkeypatch.setattr(features, "FEATURE_VERSION", features.FEATURE_VERSION + 1)
    assert spec.key() != before


def test_window_view_is_a_view():
    from genrenet.spectrogram import window_view

    S = np.arange(3 * 20, dtype=np.float32).reshape(3, 20)
    v = window_view(S, first=2, step=4, count=3, width=6)
    assert v.shape == (3, 3, 6) and np.shares_memory(v, S) and not v.flags.writeable
    np.testing.assert_array_equal(v[2], S[:, 10:16])
    with pytest.raises(ParameterError, match="do not fit"):
        window_view(S, first=2, step=4, count=5, width=6)


@pytest.mark.parametrize("name", ["logmel", "thesis_image", "mfcc_stats"])
def test_subsets_and_passes_give_the_same_rows(track, name, monkeypatch):
    spec = features.get_spec(name)
    if spec.kind == "image":
        spec = spec.replace(window=2.0, hop=1.0, image_size=48)
    full = features.extract(spec, track, SR)
    n = len(full)
    for idx in ([0], [n - 1], list(range(1, n, 2)), [0, 1, 2, n - 1]):
        np.testing.assert_array_equal(features.extract(spec, track, SR, indices=idx), full[idx])
    monkeypatch.setattr(features, "CHUNK_WINDOWS", 2)
    np.testing.assert_array_equal(features.extract(spec, track, SR), full)
    for bad in ([n], [2, 1], [[0]], [0.5]):
        with pytest.raises(ParameterError, match="indices"):
            features.extract(spec, track, SR, indices=bad)


def test_mfcc_stats_match_librosa_whole_file_definitions(track):
    librosa = pytest.importorskip("librosa")
    spec = features.get_spec("mfcc_stats")
    out = features.extract(spec, track, SR)
    names = features.feature_names(spec)
    y = _padded(track, spec)
    k = 1
    j = int(features.window_starts(spec, track.size)[k]) // spec.hop_length
    frames = slice(j, j + spec.n_frames)
    row = dict(zip(names, out[k], strict=True))
    mel = librosa.feature.melspectrogram(y=y, sr=SR)[:, frames]
    mf = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=80.0), n_mfcc=20)
    np.testing.assert_allclose(out[k, :20], mf.mean(axis=1), atol=1e-3)
    np.testing.assert_allclose(out[k, 20:40], mf.std(axis=1), atol=1e-3)
    series = {
        "centroid": librosa.feature.spectral_centroid(y=y, sr=SR),
        "bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=SR),
        "rolloff": librosa.feature.spectral_rolloff(y=y, sr=SR),
        "flatness": librosa.feature.spectral_flatness(y=y),
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512),
        "rms": librosa.feature.rms(y=y),
    }
    for name, values in series.items():
        values = values[0, frames]
        assert row[f"{name}_mean"] == pytest.approx(values.mean(), rel=1e-3), name
        assert row[f"{name}_std"] == pytest.approx(values.std(), rel=1e-2, abs=1e-6), name


def test_image_equals_the_picture_of_librosa_whole_file_mel(track):
    librosa = pytest.importorskip("librosa")
    from genrenet.spectrogram import colormap_lut, image_from_unit

    spec = FeatureSpec(kind="image", window=2.0, hop=1.0, image_size=64, crop=(0.05, 0.9))
    out = features.extract(spec, track, SR)
    mel = librosa.feature.melspectrogram(y=_padded(track, spec), sr=SR)
    rows = slice(int(np.floor(0.05 * 128)), int(np.ceil(0.9 * 128)))
    for k, start in enumerate(features.window_starts(spec, track.size)):
        j = int(start) // spec.hop_length
        db = librosa.power_to_db(mel[rows, j: j + spec.n_frames], ref=np.max, top_db=80.0)
        ref = image_from_unit((db + 80.0) / 80.0, size=64, lut=colormap_lut("RdBu"))
        diff = np.abs(out[k].astype(int) - ref.astype(int))
        assert diff.max() <= 2 and (diff > 0).mean() < 0.01, k


def test_image_feature(track):
    spec = features.get_spec("thesis_image")
    out = features.extract(spec, track, SR)
    assert out.shape == (len(features.window_starts(spec, track.size)), 200, 200, 3)
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
    # several passes over the track give the same numbers as one
    monkeypatch.setattr(features, "CHUNK_WINDOWS", 3)
    np.testing.assert_array_equal(features.extract(spec, track, SR), from_file)
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
    # 30.013 s at a hop of 65 frames: 18 full windows plus a tail window 95 % filled (genrenet.audio.windows)
    assert out.shape == (19, 128, 130, 1) and np.isfinite(out).all()
    assert features.extract_file("thesis_image", full).shape == (11, 200, 200, 3)


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
