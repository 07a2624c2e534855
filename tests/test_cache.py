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
    # 1 s windows every 43 frames (0.4992 s): 2 s -> 3 full windows + a tail, 2.5 s -> 4 + 1, 3 s -> 5 + 1
    assert sorted(fs.window_counts().values()) == [4, 4, 5, 5, 6, 6]
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


def _entries(cache_dir: Path, ext: str = "npy") -> list[Path]:
    return sorted((cache_dir / SPEC.key()).glob(f"*.{ext}"))


def test_damaged_entries_are_recomputed(music, tmp_path, monkeypatch):
    ds = load_dataset("folder", music)
    cache = tmp_path / "c"
    clean = featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False).load()[0]
    files = _entries(cache)
    poisoned = np.load(files[0])
    poisoned[1, 3, 4] = np.nan
    np.save(files[0], poisoned)
    inf = np.load(files[1])
    inf[0, 0, 0] = np.inf
    np.save(files[1], inf)
    files[2].write_bytes(files[2].read_bytes()[:200])  # truncated after the header
    files[3].write_bytes(b"")  # empty
    files[4].write_bytes(b"garbage " * 40)  # not a .npy file
    np.save(files[5], np.load(files[5])[:, :, :5])  # wrong shape
    counter = _Counter(monkeypatch)
    with pytest.warns(RuntimeWarning, match="damaged") as caught:
        fs = featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    causes = " ".join(str(w.message) for w in caught)
    for cause in ("not finite", "empty file", "not a NumPy .npy file", "unreadable .npy", "shape"):
        assert cause in causes, (cause, causes)
    assert counter.calls == 6 and fs.computed == 6 and fs.reused == 0
    X = fs.load()[0]
    assert np.isfinite(X).all() and np.array_equal(X, clean)


def test_wrong_dtype_entry_is_recomputed(music, tmp_path):
    ds = load_dataset("folder", music)
    cache = tmp_path / "c"
    featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    first = _entries(cache)[0]
    np.save(first, np.load(first).astype(np.float64))
    with pytest.warns(RuntimeWarning, match="dtype float64, expected float32"):
        fs = featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    assert fs.computed == 1 and fs.load()[0].dtype == np.float32


def test_entry_damaged_after_featurize_gives_a_clear_error(music, tmp_path):
    ds = load_dataset("folder", music)
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    arr = np.load(fs.files[0])
    arr[0] = np.nan
    np.save(fs.files[0], arr)
    with pytest.raises(DataError, match="NaN or inf"):
        fs.load()
    fs.files[1].write_bytes(b"")
    with pytest.raises(DataError, match="unreadable"):
        list(fs.iter_tracks())
    cache = FeatureCache(SPEC, cache_dir=tmp_path / "c")
    digest = fs.files[0].stem
    assert "not finite" in cache.validate(digest)
    with pytest.raises(DataError, match="damaged"):
        cache.load(digest)
    with pytest.raises(DataError, match="not finite"):
        cache.save(digest, arr)


def test_non_finite_features_are_refused_not_cached(music, tmp_path, monkeypatch):
    import genrenet.features as features

    real = features.extract_file

    def blow_up(spec, path, **kw):
        out = real(spec, path, **kw)
        if "low0" in str(path):
            out[0, 0, 0] = np.inf
        return out

    monkeypatch.setattr(features, "extract_file", blow_up)
    ds = load_dataset("folder", music)
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert [e[0] for e in fs.errors] == ["low/low0"] and "not finite" in fs.errors[0][1]
    assert len(_entries(tmp_path / "c")) == 5 and np.isfinite(fs.load()[0]).all()


def test_remembered_errors_expire_and_can_be_retried(music, tmp_path, monkeypatch):
    import json

    bad = music / "low" / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk that is not audio")
    ds = load_dataset("folder", music, check_audio=False)
    cache = tmp_path / "c"
    counter = _Counter(monkeypatch)
    featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    assert counter.calls == 7
    (err,) = _entries(cache, "error")
    record = json.loads(err.read_text())
    assert record["cause"] and record["environment"]["genrenet"]
    featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    assert counter.calls == 7  # remembered
    fs = featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False, retry_errors=True)
    assert counter.calls == 8 and len(fs.errors) == 1  # tried again (and failed again)
    # an old failure expires
    record = json.loads(err.read_text())
    record["time"] -= cache_mod.ERROR_TTL + 1
    err.write_text(json.dumps(record))
    featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    assert counter.calls == 9
    # so does one recorded in another decoding environment, or by an older genrenet (plain text)
    record = json.loads(err.read_text())
    record["environment"]["libsndfile"] = "libsndfile-0.0.1"
    err.write_text(json.dumps(record))
    featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    assert counter.calls == 10
    err.write_text("some old cause\n")
    featurize(ds, SPEC, cache_dir=cache, n_jobs=1, progress=False)
    assert counter.calls == 11


def test_missing_ffmpeg_is_not_remembered_once_installed(tmp_path, monkeypatch):
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    root = tmp_path / "music"
    for g, f0 in (("low", 110.0), ("high", 1760.0)):
        wav = _write(tmp_path / f"{g}.wav", f0, seconds=2.0)
        (root / g).mkdir(parents=True)
        subprocess.run([ffmpeg, "-v", "error", "-i", str(wav), "-c:a", "aac", str(root / g / f"{g}.m4a")], check=True)
        _write(root / g / f"{g}.wav", f0 * 1.5)
    ds = load_dataset("folder", root, check_audio=False)
    empty = tmp_path / "no-programs"
    empty.mkdir()
    real_path = __import__("os").environ["PATH"]
    monkeypatch.setenv("PATH", str(empty))
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert len(fs.errors) == 2 and all("ffmpeg" in cause for _, cause in fs.errors)
    monkeypatch.setenv("PATH", real_path)  # "installing" ffmpeg changes the environment: retried
    fs = featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert not fs.errors and fs.computed == 2 and fs.reused == 2


def test_machine_failures_are_not_remembered(music, tmp_path, monkeypatch):
    import genrenet.features as features

    def no_memory(spec, path, **kw):
        raise MemoryError("cannot allocate")

    monkeypatch.setattr(features, "extract_file", no_memory)
    ds = load_dataset("folder", music)
    with pytest.raises(DataError, match="MemoryError"):
        featurize(ds, SPEC, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert not _entries(tmp_path / "c", "error")


def test_cli_features_survives_a_poisoned_cache_and_retries_errors(music, tmp_path, capsys):
    from genrenet.cli import main

    args = ["features", "--dataset", "folder", "--data-dir", str(music), "--feature", "mfcc_stats",
            "--cache-dir", str(tmp_path / "c"), "--jobs", "1", "--no-progress"]
    assert main(args) == 0
    (entry, *_) = sorted((tmp_path / "c").glob("mfcc_stats-*/*.npy"))
    entry.write_bytes(b"\x93NUMPY")
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "1 computed, 5 from the cache" in captured.out
    assert f"warning: feature cache entry {entry} is damaged" in captured.err
    assert "Traceback" not in captured.err
    assert main([*args, "--retry-errors"]) == 0


_ORPHAN_SCRIPT = r"""
import os, sys, time
from pathlib import Path
import genrenet.features as features
from genrenet.cache import featurize
from genrenet.datasets import load_dataset

pids = Path(sys.argv[2])

def slow(spec, path, **kw):
    (pids / str(os.getpid())).touch()
    time.sleep(120)

features.extract_file = slow
featurize(load_dataset("folder", sys.argv[1]), "mfcc_stats", cache_dir=sys.argv[3], n_jobs=2, progress=False)
"""


def test_pool_workers_die_with_their_parent(music, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), str(music), str(pids), str(tmp_path / "c")])
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.1)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2, "the workers did not start"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state != "Z"

    deadline = time.monotonic() + 10
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in workers if alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"pool workers {left} outlived their killed parent"
