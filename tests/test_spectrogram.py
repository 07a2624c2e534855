"""Tests of genrenet.spectrogram against librosa/scipy on synthesised signals.

Tolerances: STFT to 1e-4 absolute on values up to ~600 (complex64 output of a float64
FFT, as librosa); mel filters to 1e-6; log-mel to 1e-4 dB; MFCC to 1e-3.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import sine

from genrenet import spectrogram as sp
from genrenet.errors import ParameterError

librosa = pytest.importorskip("librosa")
SR = 22050


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(7)
    return (sine(440.0, seconds=1.5) + 0.05 * rng.standard_normal(int(1.5 * SR))).astype(np.float32)


def test_sine_peaks_in_the_right_bin():
    S = sp.power_spectrogram(sine(440.0, seconds=1.0))
    k = int(np.argmax(S.mean(axis=1)))
    assert k == round(440.0 * 2048 / SR)  # bin 41 (440.3 Hz)
    assert sp.fft_frequencies(sr=SR, n_fft=2048)[k] == pytest.approx(440.0, abs=SR / 2048 / 2)


@pytest.mark.parametrize("center", [True, False])
def test_stft_equals_librosa(signal, center):
    ours = sp.stft(signal, n_fft=1024, hop_length=256, center=center)
    ref = librosa.stft(signal, n_fft=1024, hop_length=256, center=center)
    assert ours.shape == ref.shape and ours.dtype == np.complex64
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert sp.n_frames(signal.size, n_fft=1024, hop_length=256, center=center) == ref.shape[1]


def test_mel_filterbank_equals_librosa():
    for sr, n_fft, n_mels, fmin, fmax in [(22050, 2048, 128, 0.0, None), (16000, 512, 40, 50.0, 7000.0)]:
        ours = sp.mel_filterbank(sr, n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        np.testing.assert_allclose(ours, ref, atol=1e-6)
    np.testing.assert_allclose(sp.hz_to_mel([0, 500, 1000, 4000]), librosa.hz_to_mel([0, 500, 1000, 4000]))
    np.testing.assert_allclose(sp.mel_to_hz([0, 10, 30]), librosa.mel_to_hz([0, 10, 30]))
    np.testing.assert_allclose(sp.hz_to_mel(440, htk=True), librosa.hz_to_mel(440, htk=True))


def test_melspectrogram_logmel_and_mfcc_equal_librosa(signal):
    mel = sp.melspectrogram(signal, SR)
    ref = librosa.feature.melspectrogram(y=signal, sr=SR)
    np.testing.assert_allclose(mel, ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sp.logmel(signal, SR), librosa.power_to_db(ref), atol=1e-4)
    np.testing.assert_allclose(sp.mfcc(signal, SR), librosa.feature.mfcc(y=signal, sr=SR), atol=1e-3)
    np.testing.assert_allclose(sp.power_to_db(ref, ref=np.max), librosa.power_to_db(ref, ref=np.max), atol=1e-4)


def test_batch_items_are_independent(signal):
    quiet = 0.001 * signal
    batch = np.stack([signal, quiet])
    out = sp.logmel(batch, SR)
    np.testing.assert_allclose(out[1], sp.logmel(quiet, SR), atol=1e-4)  # per-item top_db floor
    np.testing.assert_allclose(out[1], librosa.power_to_db(librosa.feature.melspectrogram(y=quiet, sr=SR)), atol=1e-3)


def _bright_row(img: np.ndarray) -> int:
    """Row of greatest intensity of an image rendered with the 'gray' colormap."""
    return int(np.argmax(img[..., 0].astype(float).mean(axis=1)))


def test_spectrogram_image_shape_colours_and_orientation():
    y = sine(3000.0, seconds=3.0)
    img = sp.spectrogram_image(y, SR, size=64, cmap="RdBu")
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    lut = sp.colormap_lut("RdBu")
    assert set(map(tuple, img.reshape(-1, 3))) <= set(map(tuple, lut))  # every pixel is a colormap colour
    # high frequencies at the top: the 3 kHz line sits where its mel band lands after the flip
    gray = sp.spectrogram_image(y, SR, size=64, cmap="gray")
    mel_centres = sp.mel_frequencies(130, fmax=SR / 2)[1:-1]
    band = int(np.argmin(np.abs(mel_centres - 3000.0)))
    assert abs(_bright_row(gray) - (127 - band) * 64 / 128) <= 2
    batch = sp.spectrogram_image(np.stack([y, y]), SR, size=32, cmap="coolwarm", scale="linear")
    assert batch.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(batch[0], batch[1])


def test_spectrogram_image_crop():
    y = sine(3000.0, seconds=2.0)
    full = sp.spectrogram_image(y, SR, size=50, scale="linear", cmap="gray")
    assert abs(_bright_row(full) - (1 - 3000 / (SR / 2)) * 50) <= 2
    half = sp.spectrogram_image(y, SR, size=50, scale="linear", cmap="gray", crop=(0.0, 0.5))  # fractions
    assert abs(_bright_row(half) - (1 - 3000 / (SR / 4)) * 50) <= 2
    band = sp.spectrogram_image(y, SR, size=50, scale="linear", cmap="gray", crop=(2000.0, 4000.0))  # Hz
    assert abs(_bright_row(band) - 25) <= 2
    with pytest.raises(ParameterError, match="crop"):
        sp.spectrogram_image(y, SR, crop=(0.5, 0.2))
    with pytest.raises(ParameterError, match="crop"):
        sp.spectrogram_image(y, SR, crop=(0.5, 0.5001))


@pytest.mark.parametrize("name", ["RdBu", "coolwarm", "seismic", "Spectral"])
def test_diverging_colormaps_are_available(name):
    lut = sp.colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8


def test_resize_matrix_rows_sum_to_one_and_preserve_constants():
    for n_in, n_out in [(128, 200), (1025, 200), (5, 5)]:
        m = sp.resize_matrix(n_in, n_out)
        assert m.shape == (n_out, n_in)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(sp.resize_matrix(5, 5), np.eye(5), atol=1e-6)
    ramp = np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(sp.resize_matrix(4, 2) @ ramp, [0.5, 2.5], atol=1e-6)


def test_parameter_errors():
    y = sine(seconds=0.5)
    with pytest.raises(ParameterError, match="cmap"):
        sp.spectrogram_image(y, SR, cmap="no-such-map")
    with pytest.raises(ParameterError, match="scale"):
        sp.spectrogram_image(y, SR, scale="bark")
    with pytest.raises(ParameterError, match="n_fft"):
        sp.stft(y, n_fft=0)
    with pytest.raises(ParameterError, match="fmax"):
        sp.mel_filterbank(SR, 2048, fmax=20000.0)
    with pytest.raises(ParameterError, match="window"):
        sp.stft(y, window="not-a-window")
    with pytest.raises(ParameterError, match="empty"):
        sp.stft(np.zeros(0))
    with pytest.raises(ParameterError, match="n_mfcc"):
        sp.mfcc(y, SR, n_mfcc=200, n_mels=40)
    with pytest.raises(ParameterError, match="amin"):
        sp.power_to_db(np.ones(3), amin=0)


def test_known_cmap_names_are_real_matplotlib_colormaps():
    for name in sp.KNOWN_CMAPS:
        assert sp.check_cmap(name) == name
        assert sp.colormap_lut(name).shape == (256, 3)
    with pytest.raises(ParameterError, match="cmap"):
        sp.check_cmap("RdBu_r_r")


def test_banded_mel_projection_with_empty_filters(signal):
    """Too many mel bands for a short FFT leaves some filters empty (librosa warns); they give zeros."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = librosa.feature.melspectrogram(y=signal, sr=SR, n_fft=256, hop_length=128, n_mels=128)
    ours = sp.melspectrogram(signal, SR, n_fft=256, hop_length=128, n_mels=128)
    assert (ref.max(axis=1) == 0).any()  # the configuration really has empty filters
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)
