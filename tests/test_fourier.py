"""Tests of genrenet.fourier: the DFT from its definition against numpy.fft."""

from __future__ import annotations

import numpy as np
import pytest

from genrenet import fourier
from genrenet.errors import ParameterError


@pytest.mark.parametrize("n", [1, 2, 3, 16, 257, 1000])
def test_dft_and_idft_match_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n))
    np.testing.assert_allclose(fourier.dft(x), np.fft.fft(x), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fourier.idft(x), np.fft.ifft(x), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fourier.idft(fourier.dft(x)), x, rtol=0, atol=1e-9)


def test_dft_of_real_sine_has_two_bins():
    n, k0 = 64, 5
    x = np.sin(2 * np.pi * k0 * np.arange(n) / n)
    X = fourier.dft(x)
    mags = np.abs(X)
    assert set(np.flatnonzero(mags > 1e-9)) == {k0, n - k0}
    assert mags[k0] == pytest.approx(n / 2)


def test_dft_matrix_is_unitary_up_to_n():
    W = fourier.dft_matrix(8)
    np.testing.assert_allclose(W @ W.conj().T, 8 * np.eye(8), atol=1e-12)
    np.testing.assert_allclose(fourier.dft_matrix(8, inverse=True) @ W, np.eye(8), atol=1e-12)


def test_frequencies_and_magnitude_spectrum():
    np.testing.assert_allclose(fourier.dft_frequencies(8, 8000), np.fft.fftfreq(8, 1 / 8000))
    np.testing.assert_allclose(fourier.dft_frequencies(7, 7.0), np.fft.fftfreq(7, 1 / 7))
    sr, n = 8000, 8000
    y = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)
    freqs, amp = fourier.magnitude_spectrum(y, sr)
    k = int(np.argmax(amp))
    assert freqs[k] == pytest.approx(440.0)
    assert amp[k] == pytest.approx(0.3, rel=1e-6)
    _, rect = fourier.magnitude_spectrum(y, sr, window=None)
    assert rect[440] == pytest.approx(0.3, rel=1e-9)


def test_bad_input():
    with pytest.raises(ParameterError, match="MAX_DFT_SIZE"):
        fourier.dft(np.zeros(fourier.MAX_DFT_SIZE + 1))
    with pytest.raises(ParameterError, match="scalar"):
        fourier.dft(3.0)
    with pytest.raises(ParameterError, match="NaN"):
        fourier.idft(np.array([1.0, np.nan]))
    with pytest.raises(ParameterError, match="n_fft"):
        fourier.magnitude_spectrum(np.ones(10), 100, n_fft=5)
    with pytest.raises(ParameterError, match="sr"):
        fourier.dft_frequencies(4, 0)
