"""Tests for genrenet.cache: featurise once, cache hits, resume, corrupt audio skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import genrenet.cache as cache_mod
from genrenet.cache import FeatureCache, featurize
from genrenet.datasets import Dataset, Track, load_dataset
from genrenet.errors import DataError, ParameterError
from genrenet.features import FeatureSpec

# small and fast: 1 s windows, 32 mel bands
SPEC = FeatureSpec(kind="logmel", window=1.0, hop=0.5, n_mels=32, n_fft=512, hop_length=256)


def _write(path: Path, freq: float, seconds: float = 2.0, sr: int = 22050) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


@pytest.fixture
def music(tmp_path) -> Path:
    root = tmp_path / "music"
    for g, f0 in (("low", 110.0), ("high", 1760.0)):
        for k in range(3):
            _write(root / g / f"{g}{k}.wav", f0 * (1 + 0.05 * k), seconds=2.0 + 0.5 * k)
    return root


class _Counter:
    def __init__(self, monkeypatch, fail_after=None):
        import genrenet.features as features

        self.calls = 0
        self.real = features.extract_file
        self.fail_after = fail_after
        monkeypatch.setattr(features, "extract_file", self)

    def __call__(self, spec, path, **kw):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        return self.real(spec, path, **kw)


def test_featurize_then_cache_hit(music, tmp_path, monkeypatch):
    ds = load_dataset("folder", music)
    counter = _Counter(monkeypatch)
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert counter.calls == 6 and fs.computed == 6 and fs.reused == 0
    X, y, tow = fs.load()
    assert X.shape[1:] == SPEC.shape and X.dtype == np.float32
    # 2 s -> 3 windows, 2.5 s -> 4, 3 s -> 5 (1 s windows, 0.5 s hop)
    assert sorted(fs.window_counts().values()) == [3, 3, 4, 4, 5, 5]
    assert len(X) == len(y) == len(tow) == int(fs.n_windows.sum())
    assert set(np.unique(tow)) == set(range(len(ds)))
    assert np.array_equal(y, ds.labels()[tow])
    # identical to computing directly
    direct = counter.real(SPEC, ds[2].path)
    assert np.allclose(X[tow == 2], direct)
    files = sorted((tmp_path / "cache" / SPEC.key()).glob("*.npy"))
    assert len(files) == 6 and (tmp_path / "cache" / SPEC.key() / "spec.json").exists()

    # second run: nothing is recomputed, same arrays
    fs2 = featurize(ds, SPEC, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert counter.calls == 6 and fs2.computed == 0 and fs2.reused == 6
    X2, y2, _ = fs2.load()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)

    # a subset of tracks, and streaming
    sub = [0, 5]
    Xs, ys, ts = fs2.load(sub)
    assert set(ts) == {0, 5} and np.array_equal(Xs, X[np.isin(tow, sub)])
    streamed = list(fs2.iter_tracks(sub))
    assert [i for i, _, _ in streamed] == sub
    assert np.array_equal(np.asarray(streamed[1][1]), X[tow == 5])
    with pytest.raises(ParameterError, match="out of range"):
        fs2.load([99])


def test_resume_after_interruption(music, tmp_path, monkeypatch):
    ds = load_dataset("folder", music)
    counter = _Counter(monkeypatch, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert len(list((tmp_path / "c" / SPEC.key()).glob("*.npy"))) == 2
    assert not list((tmp_path / "c" / SPEC.key()).glob("*.tmp"))
    counter.fail_after = None
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert fs.reused == 2 and fs.computed == 4 and counter.calls == 6


def test_corrupt_audio_is_reported_and_skipped(music, tmp_path):
    bad = music / "low" / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk that is not audio")
    ds = load_dataset("folder", music, check_audio=False)
    assert len(ds) == 7
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert len(fs) == 6 and [e[0] for e in fs.errors] == ["low/bad"]
    assert fs.errors[0][1]
    X, y, tow = fs.load()
    assert ds.index_of("low/bad") not in set(tow)
    # the failure is remembered: a second run does not retry it
    fs2 = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert fs2.computed == 0 and len(fs2.errors) == 1
    with pytest.raises(DataError, match="bad.wav"):
        featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False, on_error="raise")


def test_process_pool_matches_serial(music, tmp_path):
    ds = load_dataset("folder", music)
    serial = featurize(ds, SPEC, cache_dir=tmp_path / "a", n_jobs=1, progress=False)
    pooled = featurize(ds, SPEC, cache_dir=tmp_path / "b", n_jobs=2, progress=False)
    assert pooled.computed == 6
    assert np.array_equal(serial.load()[0], pooled.load()[0])


def test_content_keyed_and_manifest_checked(music, tmp_path):
    ds = load_dataset("folder", music)
    featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    # moving the files keeps the cache valid (keyed by audio content)
    moved = tmp_path / "moved"
    music.rename(moved)
    ds2 = load_dataset("folder", moved)
    fs = featurize(ds2, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert fs.computed == 0 and fs.reused == 6
    # a manifest sha256 that does not match the file is reported
    t = ds2[0]
    wrong = Dataset("w", moved, [Track(path=t.path, genre=t.genre, id=t.id, sha256="0" * 64)] + ds2.tracks[1:])
    fs = featurize(wrong, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert [e[0] for e in fs.errors] == [t.id] and "sha256" in fs.errors[0][1]


def test_bad_parameters(music, tmp_path):
    ds = load_dataset("folder", music)
    with pytest.raises(ParameterError, match="on_error"):
        featurize(ds, SPEC, cache_dir=tmp_path, on_error="ignore")
    with pytest.raises(ParameterError, match="n_jobs"):
        featurize(ds, SPEC, cache_dir=tmp_path, n_jobs=0)
    with pytest.raises(ParameterError, match="preset"):
        featurize(ds, "no-such-preset", cache_dir=tmp_path)
    with pytest.raises(ParameterError, match="Dataset"):
        featurize([1, 2], SPEC, cache_dir=tmp_path)
    assert FeatureCache(SPEC, cache_dir=tmp_path).dir.name == SPEC.key()
    assert cache_mod.FeatureSet


def test_cli_features(music, tmp_path, capsys):
    from genrenet.cli import main

    args = ["features", "--dataset", "folder", "--data-dir", str(music), "--feature", "mfcc_stats",
            "--cache-dir", str(tmp_path / "c"), "--jobs", "1", "--no-progress"]
    assert main(args) == 0
    assert "6 computed, 0 from the cache" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 computed, 6 from the cache" in capsys.readouterr().out
