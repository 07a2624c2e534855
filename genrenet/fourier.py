"""The discrete Fourier transform written from its definition (the theory chapter as code).

Book chapters ``book/theory_fourier.md`` and ``book/theory_sound.md`` and the notebooks
``notebooks/signal_processing.ipynb`` and ``notebooks/theory_figures.ipynb`` use this module to show that the transform the
pipeline computes with an FFT is exactly the sum in the textbook:

    X[k] = sum_{n=0}^{N-1} x[n] exp(-2 pi i k n / N),      k = 0 .. N-1
    x[n] = (1/N) sum_{k=0}^{N-1} X[k] exp(+2 pi i k n / N)

:func:`dft` and :func:`idft` evaluate these sums as a matrix product (O(N^2) work, so
they are for teaching and checking, not for audio-length signals); the tests compare
them with ``numpy.fft`` to 1e-9. The exponent ``k n`` is reduced modulo ``N`` before the
complex exponential is taken, which keeps the twiddle factors accurate for large ``N``.
"""

from __future__ import annotations

import numpy as np

from genrenet._validate import positive_float, positive_int
from genrenet.errors import ParameterError

__all__ = ["MAX_DFT_SIZE", "dft_matrix", "dft", "idft", "dft_frequencies", "magnitude_spectrum"]

#: Largest N accepted by :func:`dft` / :func:`idft` (the work grows as N^2).
MAX_DFT_SIZE = 16384
_BLOCK = 256  # rows of the DFT matrix built at once (bounds memory to ~64 MB at N = 16384)


def _size(n, name: str = "n") -> int:
    positive_int(name, n)
    if n > MAX_DFT_SIZE:
        raise ParameterError(f"{name}={n} is larger than MAX_DFT_SIZE={MAX_DFT_SIZE}; the O(N^2) definition is "
                             "for teaching - use numpy.fft for long signals")
    return int(n)


def _twiddles(rows: np.ndarray, n: int, sign: float) -> np.ndarray:
    """exp(sign * 2 pi i (k n mod N) / N) for k in ``rows`` and n = 0..N-1."""
    kn = np.mod(np.multiply.outer(rows.astype(np.int64), np.arange(n, dtype=np.int64)), n)
    return np.exp(sign * 2j * np.pi * kn / n)


def dft_matrix(n: int, *, inverse: bool = False) -> np.ndarray:
    """The ``n x n`` DFT matrix ``W[k, m] = exp(-2 pi i k m / n)`` (``+`` and ``1/n`` when ``inverse``).

    Examples
    --------
    >>> W = dft_matrix(4)
    >>> W.shape, np.allclose(W @ [1, 2, 3, 4], np.fft.fft([1, 2, 3, 4]))
    ((4, 4), True)
    """
    n = _size(n)
    w = _twiddles(np.arange(n), n, 1.0 if inverse else -1.0)
    return w / n if inverse else w


def _transform(x, sign: float, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 0:
        raise ParameterError(f"{name} must have at least one axis (time/frequency is the last), got a scalar")
    n = _size(x.shape[-1], f"{name}.shape[-1]")
    if not np.isfinite(x).all():
        raise ParameterError(f"{name} contains NaN or infinite values")
    x = x.astype(np.complex128, copy=False)
    out = np.empty(x.shape, dtype=np.complex128)
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(n, start + _BLOCK))
        # einsum without BLAS: single-threaded and predictable on a busy machine
        out[..., rows] = np.einsum("...m,km->...k", x, _twiddles(rows, n, sign))
    return out


def dft(x) -> np.ndarray:
    """Discrete Fourier transform of ``x`` along its last axis, from the definition.

    Parameters
    ----------
    x : array_like
        Real or complex samples, shape ``(..., N)`` with ``1 <= N <=`` :data:`MAX_DFT_SIZE`.

    Returns
    -------
    ndarray of complex128, shape ``(..., N)``
        Equal to ``numpy.fft.fft(x)`` up to rounding.

    Examples
    --------
    >>> from genrenet import synth
    >>> x = synth.tone(1000.0, sr=8000, duration=0.008)  # 64 samples, 8 periods
    >>> X = dft(x)
    >>> np.allclose(X, np.fft.fft(x)), int(np.argmax(np.abs(X[:32])))
    (True, 8)
    """
    return _transform(x, -1.0, "x")


def idft(X) -> np.ndarray:
    """Inverse discrete Fourier transform along the last axis, from the definition.

    Parameters
    ----------
    X : array_like
        Spectrum, shape ``(..., N)``.

    Returns
    -------
    ndarray of complex128
        Equal to ``numpy.fft.ifft(X)``; ``idft(dft(x))`` recovers ``x``.

    Examples
    --------
    >>> x = np.arange(8.0)
    >>> np.allclose(idft(dft(x)).real, x)
    True
    """
    out = _transform(X, 1.0, "X")
    return out / out.shape[-1]


def dft_frequencies(n: int, sr: float) -> np.ndarray:
    """Frequency in Hz of each DFT bin ``k = 0 .. n-1``, negative above Nyquist (like ``numpy.fft.fftfreq``).

    Bin ``k`` is ``k * sr / n`` Hz for ``k < n / 2`` and ``(k - n) * sr / n`` above.

    Examples
    --------
    >>> dft_frequencies(4, 8000).tolist()
    [0.0, 2000.0, -4000.0, -2000.0]
    """
    n = positive_int("n", n)
    sr = positive_float("sr", sr, unit="Hz")
    k = np.arange(n)
    return np.where(k < (n + 1) // 2, k, k - n) * sr / n


def magnitude_spectrum(y, sr: float, *, window: str | None = "hann", n_fft: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """One-sided amplitude spectrum: a sine of amplitude ``A`` on a bin shows a peak of ``A``.

    Parameters
    ----------
    y : array_like
        Real signal, shape ``(n,)``.
    sr : float
        Sample rate in Hz.
    window : str or None, keyword-only
        ``scipy.signal.get_window`` name applied before the transform (``None``: rectangular).
    n_fft : int or None, keyword-only
        Transform length (zero-padding when larger than ``n``; ``None``: ``n``).

    Returns
    -------
    freqs : ndarray, shape ``(n_fft // 2 + 1,)``
        Frequencies in Hz.
    amplitude : ndarray, shape ``(n_fft // 2 + 1,)``
        ``2 |X[k]| / sum(window)`` (DC and Nyquist bins not doubled).

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(441.0, sr=22050, duration=1.0, amplitude=0.5)
    >>> freqs, amp = magnitude_spectrum(y, 22050)
    >>> float(freqs[np.argmax(amp)]), round(float(amp.max()), 2)
    (441.0, 0.5)
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"y must be a non-empty 1-D signal, got shape {y.shape}")
    n = y.size
    if n_fft is None:
        n_fft = n
    if isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer)) or n_fft < n:
        raise ParameterError(f"n_fft must be an integer >= len(y) = {n}, got {n_fft!r}")
    if window is None:
        win = np.ones(n)
    else:
        from scipy.signal import get_window

        try:
            win = get_window(window, n, fftbins=True)
        except (ValueError, TypeError) as exc:
            raise ParameterError(f"window {window!r} is not a scipy.signal window name ({exc})") from None
    spec = np.abs(np.fft.rfft(y * win, n=int(n_fft))) / win.sum()
    spec[1:] *= 2.0
    if n_fft % 2 == 0:
        spec[-1] /= 2.0
    freqs = np.fft.rfftfreq(int(n_fft), d=1.0 / float(sr))
    return freqs, spec
