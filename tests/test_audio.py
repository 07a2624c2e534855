"""Tests of genrenet.audio: decoding, validation, resampling and the windowing policy."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import sine

from genrenet import audio
from genrenet.errors import AudioError, ParameterError

SR = 22050
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spec)])


# --------------------------------------------------------------------------- decoding


def test_load_wav_returns_float32_signal(wav_file):
    y, sr = audio.load(wav_file)
    assert sr == SR and y.dtype == np.float32 and y.shape == (2 * SR,)
    np.testing.assert_allclose(y, sine(seconds=2.0), atol=1.0 / 32768 + 1e-6)


def test_load_resamples_like_librosa(tmp_path):
    librosa = pytest.importorskip("librosa")
    path = tmp_path / "hi.wav"
    sf.write(path, sine(1000.0, sr=44100, seconds=1.0), 44100, subtype="FLOAT")
    y, sr = audio.load(path, sr=SR)
    ref, _ = librosa.load(path, sr=SR)
    assert sr == SR and y.shape == ref.shape == (SR,)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert abs(_peak_hz(y, sr) - 1000.0) < 2.0
    native, nsr = audio.load(path, sr=None)
    assert nsr == 44100 and native.shape == (44100,)


def test_stereo_mixdown_offset_and_duration(tmp_path):
    path = tmp_path / "st.flac"
    left = sine(440.0, seconds=2.0)
    right = np.zeros_like(left)
    sf.write(path, np.stack([left, right], axis=1), SR)
    y, _ = audio.load(path)
    np.testing.assert_allclose(y, left / 2, atol=1e-4)
    both, _ = audio.load(path, mono=False)
    assert both.shape == (2, 2 * SR)
    part, _ = audio.load(path, offset=0.5, duration=0.25)
    assert part.shape == (SR // 4,)
    np.testing.assert_allclose(part, left[SR // 2: SR // 2 + SR // 4] / 2, atol=1e-4)


@pytest.mark.parametrize("ext,fmt,subtype", [(".ogg", "OGG", "VORBIS"), (".au", "AU", "PCM_16"),
                                             (".mp3", "MP3", None)])
def test_lossy_and_other_containers_decode(tmp_path, ext, fmt, subtype):
    path = tmp_path / f"tone{ext}"
    sf.write(path, sine(440.0, seconds=1.0), SR, format=fmt, subtype=subtype)
    y, sr = audio.load(path)
    assert sr == SR and abs(y.size - SR) < 2048
    assert abs(_peak_hz(y, sr) - 440.0) < 3.0


def test_opus_is_resampled_from_48k(tmp_path):
    path = tmp_path / "tone.opus"
    sf.write(path, sine(440.0, sr=48000, seconds=1.0), 48000, format="OGG", subtype="OPUS")
    meta = audio.info(path)
    assert meta.sr == 48000 and meta.channels == 1
    y, sr = audio.load(path)
    assert sr == SR and abs(y.size - SR) < 512 and abs(_peak_hz(y, sr) - 440.0) < 3.0


@needs_ffmpeg
def test_m4a_through_ffmpeg_file_and_bytes(tmp_path, monkeypatch):
    wav = tmp_path / "src.wav"
    sf.write(wav, sine(440.0, sr=44100, seconds=1.0), 44100)
    m4a = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    y, sr = audio.load(m4a)
    assert sr == SR and abs(y.size - SR) < 1024 and abs(_peak_hz(y, sr) - 440.0) < 3.0
    assert audio.info(m4a).sr == 44100
    # uploads go through a private temp file that must be gone afterwards
    private = tmp_path / "tmpdir"
    private.mkdir()
    monkeypatch.setattr(audio.tempfile, "tempdir", str(private))
    yb, _ = audio.load_bytes(m4a.read_bytes(), filename_hint="upload.m4a")
    np.testing.assert_allclose(yb, y, atol=1e-6)
    with pytest.raises(AudioError, match="upload.m4a"):
        audio.load_bytes(b"not an mp4 container" * 10, filename_hint="upload.m4a")
    assert list(private.iterdir()) == []


def test_missing_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\0" * 100)
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="ffmpeg") as err:
        audio.load(path)
    assert "song.m4a" in str(err.value)
    with pytest.raises(AudioError, match="ffmpeg") as err:
        audio.load_bytes(b"\0" * 100, filename_hint="x.aac")
    assert "x.aac" in str(err.value)


# --------------------------------------------------------------------------- bad input


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty") as err:
        audio.load(path)
    assert err.value.path == path and "empty.wav" in str(err.value)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my lyrics, not audio\n" * 20)
    with pytest.raises(AudioError, match="notes.wav") as err:
        audio.load(path)
    assert "not a readable audio file" in err.value.cause
    with pytest.raises(AudioError):
        audio.info(path)


def test_truncated_mp3(tmp_path):
    full = tmp_path / "full.mp3"
    sf.write(full, sine(440.0, seconds=3.0), SR, format="MP3")
    assert audio.load(full)[0].size == 3 * SR  # the intact file decodes completely
    data = full.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated") as err:
        audio.load(cut)
    assert "cut.mp3" in str(err.value)
    with pytest.raises(AudioError, match="truncated"):
        audio.load_bytes(data[: len(data) // 2], filename_hint="cut.mp3")
    tiny = tmp_path / "tiny.mp3"
    tiny.write_bytes(data[:100])
    with pytest.raises(AudioError, match="tiny.mp3"):
        audio.load(tiny)


def test_zero_length_and_nan_signals(tmp_path):
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), SR)
    with pytest.raises(AudioError, match="zero samples"):
        audio.load(zero)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(100, np.nan, np.float32), SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN") as err:
        audio.load(nan)
    assert "nan.wav" in str(err.value)


def test_missing_unsupported_and_bad_parameters(tmp_path, wav_file):
    with pytest.raises(AudioError, match="does not exist"):
        audio.load(tmp_path / "nope.wav")
    other = tmp_path / "data.xyz"
    other.write_bytes(b"123")
    with pytest.raises(AudioError, match="unsupported file extension"):
        audio.load(other)
    with pytest.raises(ParameterError, match="sr"):
        audio.load(wav_file, sr=0)
    with pytest.raises(ParameterError, match="offset"):
        audio.load(wav_file, offset=-1)
    with pytest.raises(ParameterError, match="duration"):
        audio.load(wav_file, duration=0)
    with pytest.raises(AudioError, match="beyond the end"):
        audio.load(wav_file, offset=10.0)


def test_load_bytes(wav_file):
    y, sr = audio.load_bytes(wav_file.read_bytes(), filename_hint="tone.wav")
    ref, _ = audio.load(wav_file)
    np.testing.assert_array_equal(y, ref)
    with pytest.raises(AudioError, match="empty"):
        audio.load_bytes(b"", filename_hint="up.wav")
    with pytest.raises(AudioError, match="up.wav"):
        audio.load_bytes(b"GIF89a" + b"\0" * 200, filename_hint="up.wav")
    with pytest.raises(AudioError, match="memory"):
        audio.load_bytes(b"plain text" * 50)


def test_info_without_decoding(wav_file):
    meta = audio.info(wav_file)
    assert (meta.sr, meta.channels, meta.frames) == (SR, 1, 2 * SR)
    assert meta.duration == pytest.approx(2.0) and meta.format == "WAV"
    assert ".mp3" in audio.SUPPORTED_EXTENSIONS and ".m4a" in audio.SUPPORTED_EXTENSIONS


# --------------------------------------------------------------------------- windows


def test_windows_full_grid_and_tail_policy():
    sr = 100
    # 10.5 s: full windows start at 0, 1.5, ..., 7.5 and the last ends at 10.5 s: no tail
    w = audio.windows(np.ones(1050, np.float32), sr, window=3.0, hop=1.5)
    assert w.shape == (6, 300)
    # 10 s with 4 s windows every 3 s: full windows end at 10 s; the grid window at 9 s holds
    # only audio already covered, so it is dropped even with min_fill=0
    assert audio.windows(np.ones(1000, np.float32), sr, window=4.0, hop=3.0, min_fill=0.0).shape == (3, 400)
    # 10.2 s: full windows end at 9 s; the tail from 7.5 s holds 2.7 s >= min_fill * 3 s: kept, padded
    y = np.arange(1, 1021, dtype=np.float32)
    w = audio.windows(y, sr, window=3.0, hop=1.5)
    assert w.shape == (6, 300)
    np.testing.assert_array_equal(w[-1, :270], y[750:])
    assert not w[-1, 270:].any()  # zero padding
    rep = audio.windows(y, sr, window=3.0, hop=1.5, pad="repeat")
    np.testing.assert_array_equal(rep[-1, 270:], y[750:780])
    # with a strict min_fill the partly filled tail is dropped
    assert audio.windows(y, sr, window=3.0, hop=1.5, min_fill=0.95).shape == (5, 300)


def test_windows_short_clip_gives_one_padded_window():
    y = np.arange(1, 51, dtype=np.float32)
    w = audio.windows(y, 100, window=3.0, hop=1.5, min_fill=1.0)
    assert w.shape == (1, 300)
    np.testing.assert_array_equal(w[0, :50], y)
    assert not w[0, 50:].any()
    r = audio.windows(y, 100, window=3.0, hop=1.5, pad="repeat")
    np.testing.assert_array_equal(r[0], np.resize(y, 300))


def test_windows_are_copies_and_validate():
    y = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    w = audio.windows(y, 100, window=2.0, hop=0.5)
    w[0, 0] = 99.0
    assert y[0] != 99.0
    np.testing.assert_array_equal(w[3], y[150:350])
    with pytest.raises(ParameterError, match="pad"):
        audio.windows(y, 100, pad="mirror")
    with pytest.raises(ParameterError, match="empty"):
        audio.windows(np.zeros(0), 100)
    with pytest.raises(ParameterError, match="1-D"):
        audio.windows(np.zeros((2, 10)), 100)
    with pytest.raises(ParameterError, match="min_fill"):
        audio.windows(y, 100, min_fill=1.5)
    with pytest.raises(ParameterError, match="hop"):
        audio.windows(y, 100, hop=0)


def test_select_windows():
    np.testing.assert_array_equal(audio.select_windows(3, 5), [0, 1, 2])
    idx = audio.select_windows(20, 5)
    assert idx[0] == 0 and idx[-1] == 19 and len(set(idx)) == 5 and np.all(np.diff(idx) > 0)
    assert audio.select_windows(20, 1).tolist() == [9]
    assert audio.select_windows(0, 4).size == 0
    with pytest.raises(ParameterError, match="max_windows"):
        audio.select_windows(5, 0)
