"""Tests of genrenet.degrade: each degraded copy is the file it claims to be and does what it says."""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from genrenet import degrade as D
from genrenet.errors import ParameterError

SR = 22050
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def _music(seconds: float = 4.0, *, seed: int = 0) -> np.ndarray:
    """Broadband test signal: tones across the spectrum plus noise, peak about 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tones = sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate((60, 220, 880, 2500, 5000, 7000, 9500)))
    y = 0.05 * tones + 0.05 * rng.standard_normal(t.size)
    return (y / np.abs(y).max() * 0.5).astype(np.float32)


def _band_db(y: np.ndarray, low: float, high: float) -> float:
    """Energy between ``low`` and ``high`` Hz relative to the whole signal, in dB."""
    power = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2  # windowed: no leakage across the edges
    freqs = np.fft.rfftfreq(y.size, 1 / SR)
    return float(10 * np.log10(power[(freqs >= low) & (freqs < high)].sum() / power.sum() + 1e-30))


def _rms_db(a: np.ndarray, b: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(a.astype(np.float64) ** 2) / np.mean(b.astype(np.float64) ** 2))))


def _lag(y: np.ndarray, z: np.ndarray, *, span: int = 200) -> int:
    """Lag of ``z`` behind ``y`` (in samples) that correlates best."""
    mid = y[span: y.size - span]
    scores = [float(np.dot(mid, z[span + k: z.size - span + k])) for k in range(-span, span + 1)]
    return int(np.argmax(scores)) - span


# --------------------------------------------------------------------------- MP3


@needs_ffmpeg
@pytest.mark.parametrize("kbps", [64, 32])
def test_mp3_copy_is_a_constant_bitrate_mp3_that_lines_up(kbps):
    y = _music()
    copy = D.encode(y, SR, f"mp3_{kbps}")
    assert copy.ext == ".mp3" and copy.info["target_kbps"] == kbps
    assert copy.data[:3] == b"ID3" or copy.data[0] == 0xFF  # an MP3 frame or its ID3 tag comes first
    info = sf.info(io.BytesIO(copy.data))
    assert info.format == "MP3" and info.samplerate == D.MP3_SAMPLE_RATE and info.channels == 1
    # size: bitrate x duration, plus at most a few frames of header and padding
    assert kbps * 0.97 < copy.info["bitrate_kbps"] < kbps * 1.12
    assert len(copy.data) == copy.info["bytes"]
    z = D.decode(copy, sr=SR, n=y.size)
    assert z.shape == y.shape and z.dtype == np.float32
    assert _lag(y, z) == 0  # encoder delay and padding removed
    assert abs(_rms_db(z, y)) < (1.0 if kbps == 64 else 2.0)  # 32 kbps drops this signal's top octave
    assert np.corrcoef(y, z)[0, 1] > (0.95 if kbps == 64 else 0.8)


@needs_ffmpeg
def test_mp3_32_loses_the_top_of_the_spectrum_and_64_keeps_more():
    y = _music()
    z64, z32 = D.degrade(y, SR, "mp3_64"), D.degrade(y, SR, "mp3_32")
    top = _band_db(y, 9000, 10500)  # the 9.5 kHz tone
    assert _band_db(z32, 9000, 10500) < top - 20  # LAME low-passes a 32 kbps stream below it
    assert _band_db(z64, 9000, 10500) > _band_db(z32, 9000, 10500) + 10
    assert abs(_band_db(z32, 100, 3000) - _band_db(y, 100, 3000)) < 1.0


@needs_ffmpeg
def test_mp3_is_deterministic():
    y = _music(1.0)
    assert D.encode(y, SR, "mp3_64").data == D.encode(y, SR, "mp3_64").data


def test_missing_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(D.shutil, "which", lambda name: None)
    with pytest.raises(D.EncoderError, match=r"ffmpeg.*not on PATH.*apt-get install ffmpeg"):
        D.encode(_music(0.5), SR, "mp3_64")


def test_ffmpeg_without_an_mp3_encoder_is_a_clear_error(tmp_path, monkeypatch):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho \"Unknown encoder 'libmp3lame'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(D.EncoderError, match="no MP3 encoder \\(libmp3lame\\)"):
        D.encode_mp3(_music(0.5), SR, bitrate=64)


def test_failing_ffmpeg_reports_its_message(tmp_path, monkeypatch):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho 'something broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(D.EncoderError, match="could not encode the MP3: something broke"):
        D.encode_mp3(_music(0.5), SR, bitrate=32)


# --------------------------------------------------------------------------- band limits


@pytest.mark.parametrize(("name", "rate"), [("sr_16k", 16000), ("sr_8k", 8000)])
def test_band_limit_removes_everything_above_half_the_rate(name, rate):
    rng = np.random.default_rng(1)
    y = (0.2 * rng.standard_normal(3 * SR)).astype(np.float32)  # white: energy at every frequency
    copy = D.encode(y, SR, name)
    info = sf.info(io.BytesIO(copy.data))
    assert info.samplerate == rate and info.subtype == "PCM_16" and copy.info["cutoff_hz"] == rate / 2
    z = D.decode(copy, sr=SR, n=y.size)
    assert z.shape == y.shape
    nyquist = rate / 2
    assert _band_db(z, nyquist * 1.02, SR / 2) < -70  # gone: only resampler leakage and dither-free rounding
    assert _band_db(y, nyquist * 1.02, SR / 2) > -8
    kept = (_band_db(z, 50, nyquist * 0.85) - _band_db(y, 50, nyquist * 0.85))
    total = _rms_db(z, y)
    assert abs(kept + total) < 0.2  # the pass band keeps its level...
    assert _lag(y, z) == 0  # ...and its timing


def test_band_limit_function_keeps_length_and_checks_rate():
    y = _music(1.0)
    z = D.band_limit(y, SR, rate=11025)
    assert z.shape == y.shape and _band_db(z, 5700, SR / 2) < -70
    with pytest.raises(ParameterError, match="rate"):
        D.band_limit(y, SR, rate=30000)
    with pytest.raises(ParameterError, match="not below"):
        D.encode(y, SR, "sr_22.05k")


# --------------------------------------------------------------------------- gain


def test_gain_copy_is_20_db_quieter_and_otherwise_the_same():
    y = _music()
    copy = D.encode(y, SR, "gain_-20db")
    assert copy.info["gain_db"] == -20.0 and copy.info["clipped_samples"] == 0
    z = D.decode(copy, sr=SR, n=y.size)
    assert abs(_rms_db(z, y) + 20.0) < 0.02
    assert np.abs(z - y / 10).max() < 1.0 / 32768  # only 16-bit rounding differs
    np.testing.assert_allclose(D.gain(y, db=6.0), y * 10 ** 0.3, rtol=1e-6)
    with pytest.raises(ParameterError, match="db"):
        D.gain(y, db=float("nan"))


def test_loud_copies_are_clipped_and_counted():
    y = _music(1.0)
    copy = D.encode(y, SR, "gain_12db")  # peak 0.5 * 4 = 2: beyond full scale
    assert copy.info["clipped_samples"] > 0
    assert np.abs(D.decode(copy, sr=SR)).max() <= 1.0


# --------------------------------------------------------------------------- stereo


def test_stereo_image_pans_the_upper_band_and_centres_the_bass():
    y = _music()
    left, right = D.stereo_image(y, SR, delay_ms=0.35, balance_db=3.0, crossover_hz=250.0)
    assert left.shape == right.shape == y.shape
    assert 1.5 < _rms_db(left, right) < 3.0  # 3 dB apart above the crossover, equal below it
    assert np.corrcoef(left, right)[0, 1] < 0.99  # not a copy of one channel
    # the 60 Hz tone (bass) is the same in both channels
    assert abs(_band_db(left, 40, 80) + 10 * np.log10(np.sum(left.astype(float) ** 2))
               - _band_db(right, 40, 80) - 10 * np.log10(np.sum(right.astype(float) ** 2))) < 0.1
    assert _lag(left, right) == round(0.35e-3 * SR)  # the right channel comes later


def test_stereo_copy_is_a_stereo_file_read_back_as_its_mono_mix():
    y = _music()
    copy = D.encode(y, SR, "stereo_mono")
    info = sf.info(io.BytesIO(copy.data))
    assert info.channels == 2 and info.samplerate == SR
    z = D.decode(copy, sr=SR, n=y.size)
    expected = D.stereo_image(y, SR, **D._STEREO).mean(axis=0)
    assert np.abs(z - expected).max() < 2.0 / 32768  # genrenet.audio mixes the channels down
    assert 0.8 < np.corrcoef(y, z)[0, 1] < 0.999  # a degraded copy, not the original
    assert _lag(y, z) in (0, 1, 2, 3, 4)


def test_stereo_image_checks_its_options():
    with pytest.raises(ParameterError, match="delay_ms"):
        D.stereo_image(_music(0.5), SR, delay_ms=50.0)


# --------------------------------------------------------------------------- names and inputs


def test_names_patterns_and_errors():
    assert [D.get_degradation(n).kind for n in D.DEFAULT_DEGRADATIONS] == \
        ["mp3", "mp3", "band_limit", "band_limit", "gain", "stereo"]
    assert D.get_degradation("sr_11.025k").value == 11025
    assert D.get_degradation("gain_-20db").value == -20.0
    assert D.get_degradation("mp3_64").label == "MP3 64 kbps"
    keys = {D.get_degradation(n).key() for n in D.DEFAULT_DEGRADATIONS}
    assert len(keys) == len(D.DEFAULT_DEGRADATIONS)
    for bad in ("mp3_65", "sr_2k", "gain_-100db", "reverb", "sr_16.0005k"):
        with pytest.raises(ParameterError):
            D.get_degradation(bad)


def test_bad_signals_are_refused():
    for y, sr, match in ((np.zeros((2, 100), np.float32), SR, "1-D"), (np.array([], np.float32), SR, "1-D"),
                         (np.array([0.0, np.nan], np.float32), SR, "NaN"), (_music(0.1), 100, "sr")):
        with pytest.raises(ParameterError, match=match):
            D.degrade(y, sr, "gain_-20db")
    with pytest.raises(ParameterError, match="EncodedCopy"):
        D.decode(b"not a copy")
