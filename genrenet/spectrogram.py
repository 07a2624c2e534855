"""Spectrograms, the mel scale, MFCCs and thesis-style spectrogram images, in NumPy.

Book chapters ``book/theory_fourier.md`` (the short-time transform) and
``book/dev_processing.md`` (mel spectrograms, MFCCs, the 200x200 RGB images the thesis fed its
networks) and notebook ``notebooks/signal_processing.ipynb`` use this module; it is
the numerical core of :mod:`genrenet.features`.

Every function accepts a batch: the time axis is the last axis of ``y``; any leading
axes (for example the windows of a track) are kept, so a whole track is transformed
with one FFT call. The definitions follow librosa 0.11 (same padding, window, Slaney
mel filters, dB conversion and orthonormal DCT-II), and the tests check the agreement.
The FFT runs in float64 (like librosa); spectra are returned as complex64 and power
spectrograms, mel spectrograms and dB values as float32.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from genrenet._validate import positive_float, positive_int
from genrenet.errors import ParameterError

__all__ = [
    "stft",
    "power_spectrogram",
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "fft_frequencies",
    "mel_filterbank",
    "melspectrogram",
    "power_to_db",
    "mfcc",
    "logmel",
    "n_frames",
    "colormap_lut",
    "resize_matrix",
    "spectrogram_image",
    "DIVERGING_CMAPS",
    "KNOWN_CMAPS",
    "check_cmap",
    "reduce_power_frames",
    "mel_projection",
    "window_view",
    "image_from_unit",
    "plot_spectrogram",
    "plot_spectrogram_image",
]

#: Diverging matplotlib colormaps, the family the thesis used for its images.
DIVERGING_CMAPS = ("RdBu", "RdBu_r", "coolwarm", "seismic", "Spectral", "bwr", "PiYG", "PRGn", "BrBG",
                   "PuOr", "RdGy", "RdYlBu", "RdYlGn")


#: Built-in matplotlib colormap names accepted without importing matplotlib (with their ``_r`` forms);
#: any other name is checked against matplotlib's registry when first used.
KNOWN_CMAPS = frozenset(n + r for n in DIVERGING_CMAPS + ("viridis", "magma", "inferno", "plasma", "cividis",
                                                         "gray", "Greys", "Blues", "hot", "jet")
                        if not n.endswith("_r") for r in ("", "_r"))


def check_cmap(cmap) -> str:
    """Return ``cmap`` if it names a matplotlib colormap, else raise :class:`ParameterError`.

    Names in :data:`KNOWN_CMAPS` are accepted without importing matplotlib.

    Examples
    --------
    >>> check_cmap("RdBu")
    'RdBu'
    """
    if isinstance(cmap, str) and cmap in KNOWN_CMAPS:
        return cmap
    colormap_lut(cmap)
    return cmap


# --------------------------------------------------------------------------- validation


def _pos_int(value, name: str) -> int:
    return positive_int(name, value)


def _signal(y, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[-1] == 0:
        raise ParameterError(f"{name} must be a non-empty signal with time on the last axis, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating) and not np.issubdtype(y.dtype, np.integer):
        raise ParameterError(f"{name} must be real-valued, got dtype {y.dtype}")
    return np.ascontiguousarray(y, dtype=np.float32)


@functools.lru_cache(maxsize=32)
def _window(window: str, n_fft: int) -> np.ndarray:
    from scipy.signal import get_window

    try:
        win = get_window(window, n_fft, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"window {window!r} is not a scipy.signal window name ({exc})") from None
    win = win.astype(np.float64)
    win.setflags(write=False)
    return win


# --------------------------------------------------------------------------- STFT


def n_frames(n_samples: int, *, n_fft: int = 2048, hop_length: int = 512, center: bool = True) -> int:
    """Number of STFT frames :func:`stft` produces for ``n_samples`` samples.

    Examples
    --------
    >>> n_frames(22050, n_fft=2048, hop_length=512)
    44
    """
    n_samples = _pos_int(n_samples, "n_samples")
    n_fft = _pos_int(n_fft, "n_fft")
    hop_length = _pos_int(hop_length, "hop_length")
    padded = n_samples + 2 * (n_fft // 2) if center else n_samples
    if padded < n_fft:
        raise ParameterError(f"signal of {n_samples} samples is shorter than n_fft={n_fft} (use center=True)")
    return 1 + (padded - n_fft) // hop_length


def _frames_spectrum(y: np.ndarray, n_fft: int, hop_length: int, window: str, center: bool) -> np.ndarray:
    """Complex spectrum in frame-major layout: (..., n_frames, 1 + n_fft // 2)."""
    import scipy.fft

    n_frames(y.shape[-1], n_fft=n_fft, hop_length=hop_length, center=center)  # validates
    if center:
        pad = [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        y = np.pad(y, pad, mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    # float32 samples times the float64 window, FFT in float64 (as librosa does): a float32 FFT is
    # faster but its rounding reaches ~1e-3 dB in bins 70-80 dB below a window's peak
    return scipy.fft.rfft(frames * _window(window, n_fft), axis=-1)


def stft(y, *, n_fft: int = 2048, hop_length: int = 512, window: str = "hann", center: bool = True) -> np.ndarray:
    """Short-time Fourier transform, equal to ``librosa.stft`` with the same options.

    Parameters
    ----------
    y : array_like
        Real signal, time on the last axis, shape ``(..., n)``.
    n_fft : int, keyword-only
        FFT size (and window length) in samples.
    hop_length : int, keyword-only
        Samples between successive frames.
    window : str, keyword-only
        A ``scipy.signal.get_window`` name (periodic form), default Hann.
    center : bool, keyword-only
        Pad ``n_fft // 2`` zeros on both sides so frame ``t`` is centred at ``t * hop_length``.

    Returns
    -------
    ndarray of complex64, shape ``(..., 1 + n_fft // 2, n_frames)``

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> D = stft(y, n_fft=2048, hop_length=512)
    >>> D.shape, D.dtype
    ((1025, 44), dtype('complex64'))
    """
    n_fft = _pos_int(n_fft, "n_fft")
    hop_length = _pos_int(hop_length, "hop_length")
    spec = _frames_spectrum(_signal(y), n_fft, hop_length, window, bool(center))
    return np.swapaxes(spec, -1, -2).astype(np.complex64, copy=False)


#: STFT frames transformed per block by :func:`_power_frames`; a block's float64 buffers
#: (~0.5 MB at n_fft=2048) stay in the CPU cache, which makes the float64 FFT as fast as
#: a whole-array float32 one.
_FRAME_BLOCK = 32


def _power_frames(y: np.ndarray, n_fft: int, hop_length: int, window: str, center: bool,
                  power: float) -> np.ndarray:
    """``|STFT| ** power`` in frame-major layout ``(..., n_frames, 1 + n_fft // 2)``, float32.

    Same numbers as ``abs(_frames_spectrum(...)) ** power``, computed block by block.
    """
    import scipy.fft

    n_frames(y.shape[-1], n_fft=n_fft, hop_length=hop_length, center=center)  # validates
    if center:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    lead, count = frames.shape[:-2], frames.shape[-2]
    win = _window(window, n_fft)
    out = np.empty((*lead, count, n_fft // 2 + 1), dtype=np.float32)
    buf = np.empty((min(_FRAME_BLOCK, count), n_fft), dtype=np.float64)
    for idx in np.ndindex(*lead):
        item, dest = frames[idx], out[idx]
        for start in range(0, count, _FRAME_BLOCK):
            stop = min(count, start + _FRAME_BLOCK)
            block = buf[: stop - start]
            np.multiply(item[start:stop], win, out=block)
            spec = scipy.fft.rfft(block, axis=-1, overwrite_x=True)
            mag2 = spec.real * spec.real
            mag2 += spec.imag * spec.imag
            if power == 1.0:
                np.sqrt(mag2, out=mag2)
            elif power != 2.0:
                mag2 **= power / 2.0
            dest[start:stop] = mag2
    return out


def power_spectrogram(y, *, n_fft: int = 2048, hop_length: int = 512, window: str = "hann", center: bool = True,
                      power: float = 2.0) -> np.ndarray:
    """``|stft(y)| ** power`` (``power=2``: power, ``power=1``: magnitude).

    Parameters
    ----------
    y : array_like
        Signal, time on the last axis.
    n_fft, hop_length, window, center
        As for :func:`stft`.
    power : float, keyword-only
        Exponent applied to the magnitude (> 0).

    Returns
    -------
    ndarray of float32, shape ``(..., 1 + n_fft // 2, n_frames)``

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> S = power_spectrogram(y)
    >>> S.shape, int(np.argmax(S[:, 20]))  # bin 41 is 441 Hz
    ((1025, 44), 41)
    """
    n_fft = _pos_int(n_fft, "n_fft")
    hop_length = _pos_int(hop_length, "hop_length")
    power = positive_float("power", power)
    frames = _power_frames(_signal(y), n_fft, hop_length, window, bool(center), power)
    return np.ascontiguousarray(np.swapaxes(frames, -1, -2), dtype=np.float32)


#: Frames per block of :func:`reduce_power_frames` (about 1 MB of float64 frames and spectra).
_REDUCE_BLOCK = 64


def reduce_power_frames(frames: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray], n_out: int, *,
                        window: str = "hann", first: int = 0, block: int | None = None) -> np.ndarray:
    """Power spectra of many frames, each reduced at once to a few numbers (one pass, bounded memory).

    This is the engine of the whole-track features (:mod:`genrenet.features`): the
    frames of a track go through the windowed float64 FFT in blocks of
    :data:`_REDUCE_BLOCK` frames, each block's ``|FFT|**2`` (float64, frame-major) is handed to
    ``reduce`` and only its result is kept, so a track's full power spectrogram never
    exists in memory.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, n_fft)
        Real frames, usually a strided view of a signal (no copy is made).
    reduce : callable
        ``reduce(power)`` with ``power`` of shape ``(k, 1 + n_fft // 2)`` (float64, frames
        first; the buffer is reused afterwards) returns an array of shape ``(n_out, k)``.
    n_out : int
        Rows ``reduce`` returns per frame.
    window : str, keyword-only
        ``scipy.signal.get_window`` name.
    first : int, keyword-only
        Index of ``frames[0]`` in the whole track: blocks start at multiples of the block
        size in that numbering, so any stretch of a track is transformed in the same
        blocks (and gives bit-identical numbers) whatever stretch it is computed with.
    block : int or None, keyword-only
        Frames per block (default :data:`_REDUCE_BLOCK`).

    Returns
    -------
    ndarray of float32, shape (n_out, n_frames)

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> frames = np.lib.stride_tricks.sliding_window_view(y, 2048)[::512]
    >>> loudest = reduce_power_frames(frames, lambda power: power.argmax(axis=1)[None, :], 1)
    >>> loudest.shape, np.unique(loudest).tolist()  # every frame peaks in bin 41 (441 Hz)
    ((1, 40), [41.0])
    """
    import scipy.fft

    count, n_fft = frames.shape
    block = _REDUCE_BLOCK if block is None else _pos_int(block, "block")
    win = _window(window, n_fft)
    out = np.empty((n_out, count), dtype=np.float32)
    buf = np.empty((block, n_fft), dtype=np.float64)
    edges = [0] + [b - first for b in range((first // block + 1) * block, first + count, block)] + [count]
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        chunk = buf[: stop - start]
        np.multiply(frames[start:stop], win, out=chunk)
        spec = scipy.fft.rfft(chunk, axis=-1, overwrite_x=True).view(np.float64)
        np.square(spec, out=spec)  # re^2, im^2 interleaved, in place
        out[:, start:stop] = reduce(np.add(spec[:, 0::2], spec[:, 1::2]))
    return out


@functools.lru_cache(maxsize=32)
def _mel_projection_cached(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
    import scipy.sparse

    basis = _mel_filterbank_cached(sr, n_fft, n_mels, fmin, fmax, False, "slaney")
    return scipy.sparse.csr_matrix(basis.astype(np.float64))


def mel_projection(sr: int, n_fft: int, *, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None):
    """The Slaney mel filterbank (:func:`mel_filterbank`) as a sparse ``(n_mels, 1 + n_fft // 2)`` matrix.

    Each triangular filter covers only a few FFT bins (about 2 000 non-zero weights out of
    131 000 for the default filterbank), so ``mel_projection(...) @ power.T`` for a
    frame-major block ``power`` costs a small fraction of the dense product. float64,
    cached (do not modify).

    Examples
    --------
    >>> mel_projection(22050, 2048, n_mels=128).shape
    (128, 1025)
    """
    sr, n_fft, n_mels = _pos_int(sr, "sr"), _pos_int(n_fft, "n_fft"), _pos_int(n_mels, "n_mels")
    fmin, fmax = _check_band(sr, fmin, fmax)
    return _mel_projection_cached(sr, n_fft, n_mels, fmin, fmax)


def window_view(S: np.ndarray, *, first: int, step: int, count: int, width: int) -> np.ndarray:
    """``count`` windows of ``width`` columns of ``S``, every ``step`` columns from ``first``: a read-only view.

    Parameters
    ----------
    S : ndarray, shape (rows, n_frames)
        Frame-wise values of a track, frames on the last axis.
    first, step, count, width : int, keyword-only
        Column of the first window, distance between window starts, number of windows, window width.

    Returns
    -------
    ndarray, shape (count, rows, width)
        ``out[k] is S[:, first + k * step : first + k * step + width]`` without copying.

    Raises
    ------
    ParameterError
        A window would reach past the last column of ``S``.

    Examples
    --------
    >>> S = np.arange(20.0).reshape(2, 10)
    >>> window_view(S, first=0, step=3, count=3, width=4).shape
    (3, 2, 4)
    """
    rows, cols = S.shape
    if first < 0 or count < 1 or step < 1 or width < 1 or first + (count - 1) * step + width > cols:
        raise ParameterError(f"{count} windows of {width} columns every {step} from column {first} do not fit "
                             f"in {cols} columns")
    return np.lib.stride_tricks.as_strided(S[:, first:], shape=(count, rows, width),
                                           strides=(step * S.strides[1], S.strides[0], S.strides[1]),
                                           writeable=False)


# --------------------------------------------------------------------------- mel scale


def hz_to_mel(freq, *, htk: bool = False):
    """Convert Hz to mels: Slaney's scale (linear below 1 kHz, logarithmic above) or HTK's.

    Parameters
    ----------
    freq : float or array_like
        Frequencies in Hz.
    htk : bool, keyword-only
        Use ``2595 log10(1 + f / 700)`` instead of the Slaney (Auditory Toolbox) scale.

    Examples
    --------
    >>> round(float(hz_to_mel(1000.0)), 6), round(float(hz_to_mel(1000.0, htk=True)), 2)
    (15.0, 999.99)
    """
    f = np.asanyarray(freq, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, mels)


def mel_to_hz(mels, *, htk: bool = False):
    """Inverse of :func:`hz_to_mel`.

    Examples
    --------
    >>> round(float(mel_to_hz(15.0)), 6), round(float(mel_to_hz(hz_to_mel(4000.0))), 6)
    (1000.0, 4000.0)
    """
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_frequencies(n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax``.

    Examples
    --------
    >>> np.round(mel_frequencies(5, fmin=0.0, fmax=8000.0), 1).tolist()
    [0.0, 754.1, 1688.9, 3675.8, 8000.0]
    """
    n_mels = _pos_int(n_mels, "n_mels")
    lo, hi = hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk)
    return mel_to_hz(np.linspace(lo, hi, n_mels), htk=htk)


def fft_frequencies(*, sr: int = 22050, n_fft: int = 2048) -> np.ndarray:
    """Centre frequencies (Hz) of the ``1 + n_fft // 2`` rFFT bins.

    Examples
    --------
    >>> fft_frequencies(sr=8000, n_fft=8).tolist()
    [0.0, 1000.0, 2000.0, 3000.0, 4000.0]
    """
    return np.fft.rfftfreq(_pos_int(n_fft, "n_fft"), d=1.0 / _pos_int(sr, "sr"))


def _check_band(sr: int, fmin, fmax) -> tuple[float, float]:
    fmin = float(fmin)
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not np.isfinite(fmin) or fmin < 0:
        raise ParameterError(f"fmin must be a frequency >= 0 Hz, got {fmin!r}")
    if not np.isfinite(fmax) or fmax <= fmin or fmax > sr / 2.0 + 1e-9:
        raise ParameterError(f"fmax must satisfy fmin < fmax <= sr/2 = {sr / 2:g} Hz, got fmax={fmax!r} "
                             f"(fmin={fmin!r})")
    return fmin, fmax


@functools.lru_cache(maxsize=32)
def _mel_filterbank_cached(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, htk: bool,
                           norm: str | None) -> np.ndarray:
    fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def mel_filterbank(sr: int, n_fft: int, *, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filters, equal to ``librosa.filters.mel`` (Slaney scale and area norm).

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft : int
        FFT size the filters apply to.
    n_mels : int, keyword-only
        Number of filters.
    fmin, fmax : float, keyword-only
        Band edges in Hz (``fmax=None``: ``sr / 2``).
    htk : bool, keyword-only
        HTK mel formula instead of Slaney's.
    norm : {"slaney", None}, keyword-only
        ``"slaney"`` divides each triangle by its width in Hz (constant energy per band).

    Returns
    -------
    ndarray of float32, shape ``(n_mels, 1 + n_fft // 2)``
        Read-only (cached); copy it before modifying.

    Examples
    --------
    >>> fb = mel_filterbank(22050, 2048, n_mels=128)
    >>> fb.shape
    (128, 1025)
    """
    sr = _pos_int(sr, "sr")
    n_fft = _pos_int(n_fft, "n_fft")
    n_mels = _pos_int(n_mels, "n_mels")
    if norm not in ("slaney", None):
        raise ParameterError(f"norm must be 'slaney' or None, got {norm!r}")
    fmin, fmax = _check_band(sr, fmin, fmax)
    return _mel_filterbank_cached(sr, n_fft, n_mels, fmin, fmax, bool(htk), norm)


def melspectrogram(y=None, sr: int = 22050, *, S=None, n_fft: int = 2048, hop_length: int = 512,
                   window: str = "hann", center: bool = True, power: float = 2.0, n_mels: int = 128,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Mel-frequency spectrogram, equal to ``librosa.feature.melspectrogram``.

    Parameters
    ----------
    y : array_like or None
        Signal, time on the last axis (or give ``S``).
    sr : int
        Sample rate in Hz.
    S : array_like or None, keyword-only
        A precomputed ``|STFT| ** power`` spectrogram ``(..., 1 + n_fft // 2, t)``.
    n_fft, hop_length, window, center, power
        As for :func:`power_spectrogram`.
    n_mels, fmin, fmax
        As for :func:`mel_filterbank`.

    Returns
    -------
    ndarray of float32, shape ``(..., n_mels, n_frames)``

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> melspectrogram(y=y, sr=22050, n_mels=128).shape
    (128, 44)
    """
    n_fft = _pos_int(n_fft, "n_fft")
    hop_length = _pos_int(hop_length, "hop_length")
    if S is None:
        if y is None:
            raise ParameterError("give either the signal y or the spectrogram S")
        power = positive_float("power", power)
        frames = _power_frames(_signal(y), n_fft, hop_length, window, bool(center), power)
    else:
        S = np.asarray(S, dtype=np.float32)
        if S.ndim < 2 or S.shape[-2] != 1 + n_fft // 2:
            raise ParameterError(f"S must have 1 + n_fft // 2 = {1 + n_fft // 2} frequency rows, got shape {S.shape}")
        frames = np.swapaxes(S, -1, -2)
    lead = frames.shape[:-1]
    mel = _apply_mel(np.ascontiguousarray(frames, dtype=np.float32).reshape(-1, frames.shape[-1]),
                     sr, n_fft, n_mels, fmin, fmax)
    return np.ascontiguousarray(np.swapaxes(mel.reshape(*lead, n_mels), -1, -2))


def _apply_mel(power_2d: np.ndarray, sr, n_fft, n_mels, fmin, fmax) -> np.ndarray:
    """``power_2d @ mel_filterbank(...).T`` for a (rows, 1 + n_fft // 2) float32 array.

    Each triangular filter touches only the few FFT bins under it (about 2 000 non-zero
    weights out of 131 000 for the default filterbank), so the product is computed filter by
    filter over those bins only - fewer operations than the dense GEMM, same values up to
    float32 rounding of the sums.
    """
    bands = _mel_bands(sr, n_fft, n_mels, fmin, fmax)
    out = np.zeros((power_2d.shape[0], len(bands)), dtype=np.float32)
    for m, (lo, weights) in enumerate(bands):
        if weights.size:
            out[:, m] = power_2d[:, lo: lo + weights.size] @ weights
    return out


def _mel_bands(sr, n_fft, n_mels, fmin, fmax) -> tuple[tuple[int, np.ndarray], ...]:
    sr, n_fft, n_mels = _pos_int(sr, "sr"), _pos_int(n_fft, "n_fft"), _pos_int(n_mels, "n_mels")
    fmin, fmax = _check_band(sr, fmin, fmax)
    return _mel_bands_cached(sr, n_fft, n_mels, fmin, fmax)


@functools.lru_cache(maxsize=32)
def _mel_bands_cached(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
    basis = _mel_filterbank_cached(sr, n_fft, n_mels, fmin, fmax, False, "slaney")
    bands = []
    for row in basis:
        nz = np.flatnonzero(row)
        if nz.size == 0:
            bands.append((0, np.zeros(0, dtype=np.float32)))
        else:
            weights = np.ascontiguousarray(row[nz[0]: nz[-1] + 1])
            weights.setflags(write=False)
            bands.append((int(nz[0]), weights))
    return tuple(bands)


def power_to_db(S, *, ref: float | Callable = 1.0, amin: float = 1e-10, top_db: float | None = 80.0,
                axis: tuple[int, ...] | int | None = None) -> np.ndarray:
    """Convert a power spectrogram to decibels, like ``librosa.power_to_db``.

    ``10 log10(max(amin, S)) - 10 log10(max(amin, ref))``, then values more than
    ``top_db`` below the maximum are raised to ``max - top_db``.

    Parameters
    ----------
    S : array_like
        Non-negative power values.
    ref : float or callable, keyword-only
        Reference power (0 dB); a callable (e.g. ``np.max``) is applied to ``S`` over ``axis``.
    amin : float, keyword-only
        Floor for ``S`` and ``ref`` (> 0), avoids log of zero.
    top_db : float or None, keyword-only
        Dynamic range kept below the maximum (``None``: no clipping).
    axis : int, tuple of int or None, keyword-only
        Axes over which the maximum (for ``top_db`` and callable ``ref``) is taken;
        ``None`` = the whole array (librosa's behaviour); ``(-2, -1)`` treats each
        leading item of a batch separately.

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> np.round(power_to_db(np.array([1.0, 0.1, 0.01, 0.0])), 3).tolist()  # at most 80 dB below the loudest
    [0.0, -10.0, -20.0, -80.0]
    """
    positive_float("amin", amin)
    if top_db is not None and (not np.isfinite(top_db) or top_db < 0):
        raise ParameterError(f"top_db must be a non-negative number or None, got {top_db!r}")
    S = np.asarray(S, dtype=np.float32)
    log_spec = 10.0 * np.log10(np.maximum(S, np.float32(amin)))
    if callable(ref):
        ref_value = ref(S, axis=axis, keepdims=True) if axis is not None else ref(S)
    else:
        ref_value = ref
    ref_value = np.asarray(ref_value, dtype=np.float32)
    if np.any(ref_value < 0):
        raise ParameterError("ref must be a non-negative power")
    log_spec -= 10.0 * np.log10(np.maximum(ref_value, np.float32(amin)))
    if top_db is not None:
        peak = log_spec.max(axis=axis, keepdims=True) if axis is not None else log_spec.max()
        log_spec = np.maximum(log_spec, peak - np.float32(top_db))
    return log_spec.astype(np.float32, copy=False)


def logmel(y, sr: int = 22050, *, n_mels: int = 128, n_fft: int = 2048, hop_length: int = 512,
           fmin: float = 0.0, fmax: float | None = None, ref: float = 1.0, top_db: float | None = 80.0,
           window: str = "hann", center: bool = True) -> np.ndarray:
    """Log-power mel spectrogram in dB: ``power_to_db(melspectrogram(y))`` per item.

    For a batch ``(..., n)`` the ``top_db`` floor is computed per item (per window),
    so each window equals what librosa gives for that window on its own.

    Parameters
    ----------
    y : array_like
        Signal(s), time on the last axis.
    sr : int
        Sample rate in Hz.
    n_mels, n_fft, hop_length, fmin, fmax, window, center
        As for :func:`melspectrogram`.
    ref, top_db
        As for :func:`power_to_db` (``ref`` is a fixed power: absolute level is kept).

    Returns
    -------
    ndarray of float32, shape ``(..., n_mels, n_frames)``

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> S = logmel(y, 22050, n_mels=128)
    >>> S.shape, round(float(S.max()), 1)
    ((128, 44), 40.8)
    """
    mel = melspectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax,
                         window=window, center=center)
    return power_to_db(mel, ref=ref, top_db=top_db, axis=(-2, -1))


def mfcc(y=None, sr: int = 22050, *, S=None, n_mfcc: int = 20, n_mels: int = 128, n_fft: int = 2048,
         hop_length: int = 512, fmin: float = 0.0, fmax: float | None = None, top_db: float | None = 80.0
         ) -> np.ndarray:
    """Mel-frequency cepstral coefficients, equal to ``librosa.feature.mfcc`` (DCT-II, orthonormal).

    Parameters
    ----------
    y : array_like or None
        Signal, time on the last axis (or give ``S``).
    sr : int
        Sample rate in Hz.
    S : array_like or None, keyword-only
        A log-power mel spectrogram in dB, ``(..., n_mels, t)``.
    n_mfcc : int, keyword-only
        Number of coefficients kept (<= number of mel bands).
    n_mels, n_fft, hop_length, fmin, fmax
        Mel spectrogram options used when ``y`` is given.
    top_db : float or None, keyword-only
        Passed to :func:`power_to_db` (librosa's default 80 dB, over the whole input).

    Returns
    -------
    ndarray of float32, shape ``(..., n_mfcc, t)``

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> mfcc(y=y, sr=22050, n_mfcc=20).shape
    (20, 44)
    """
    import scipy.fft

    n_mfcc = _pos_int(n_mfcc, "n_mfcc")
    if S is None:
        if y is None:
            raise ParameterError("give either the signal y or the log-mel spectrogram S")
        S = power_to_db(melspectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin,
                                       fmax=fmax), top_db=top_db)
    S = np.asarray(S, dtype=np.float32)
    if S.ndim < 2:
        raise ParameterError(f"S must be (..., n_mels, t), got shape {S.shape}")
    if n_mfcc > S.shape[-2]:
        raise ParameterError(f"n_mfcc={n_mfcc} exceeds the number of mel bands {S.shape[-2]}")
    return scipy.fft.dct(S, axis=-2, type=2, norm="ortho")[..., :n_mfcc, :].astype(np.float32, copy=False)


# --------------------------------------------------------------------------- images


@functools.lru_cache(maxsize=32)
def colormap_lut(cmap: str) -> np.ndarray:
    """The 256-entry RGB lookup table (uint8, read-only) of a named matplotlib colormap.

    Raises
    ------
    ParameterError
        ``cmap`` is not a registered matplotlib colormap name.
    """
    if not isinstance(cmap, str):
        raise ParameterError(f"cmap must be a matplotlib colormap name, got {cmap!r}")
    import matplotlib

    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise ParameterError(f"cmap {cmap!r} is not a matplotlib colormap; diverging choices include "
                             + ", ".join(DIVERGING_CMAPS)) from None
    lut = (cm(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)
    lut.setflags(write=False)
    return lut


@functools.lru_cache(maxsize=64)
def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Linear map ``(n_out, n_in)`` that resamples a 1-D profile of ``n_in`` points to ``n_out``.

    Upsampling uses linear interpolation between pixel centres (like PIL's bilinear);
    downsampling averages the input pixels each output pixel covers (area averaging),
    so no detail aliases. Each row sums to one. Read-only (cached).
    """
    n_in = _pos_int(n_in, "n_in")
    n_out = _pos_int(n_out, "n_out")
    mat = np.zeros((n_out, n_in), dtype=np.float64)
    scale = n_in / n_out
    if n_out >= n_in:
        src = np.clip((np.arange(n_out) + 0.5) * scale - 0.5, 0.0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        w = src - lo
        rows = np.arange(n_out)
        np.add.at(mat, (rows, lo), 1.0 - w)
        np.add.at(mat, (rows, hi), w)
    else:
        edges = np.arange(n_out + 1) * scale
        for i in range(n_out):
            a, b = edges[i], edges[i + 1]
            j0, j1 = int(np.floor(a)), min(int(np.ceil(b)), n_in)
            for j in range(j0, j1):
                mat[i, j] = min(b, j + 1) - max(a, j)
        mat /= mat.sum(axis=1, keepdims=True)
    mat = mat.astype(np.float32)
    mat.setflags(write=False)
    return mat


def _crop_rows(freqs: np.ndarray, crop) -> slice:
    """Rows of a frequency axis (ascending ``freqs``) kept by ``crop``."""
    n = freqs.size
    if crop is None:
        return slice(0, n)
    try:
        lo, hi = (float(v) for v in crop)
    except (TypeError, ValueError):
        raise ParameterError(f"crop must be None or a pair (low, high), got {crop!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi <= lo:
        raise ParameterError(f"crop must be a pair low < high of non-negative numbers, got {crop!r}")
    if hi <= 1.0:  # fractions of the frequency axis
        start, stop = int(np.floor(lo * n)), int(np.ceil(hi * n))
    else:  # Hz
        start = int(np.searchsorted(freqs, lo, side="left"))
        stop = int(np.searchsorted(freqs, hi, side="right"))
    if stop - start < 2:
        raise ParameterError(f"crop {crop!r} keeps fewer than 2 frequency rows of {n}")
    return slice(start, stop)


def spectrogram_image(y, sr: int = 22050, *, size: int = 200, cmap: str = "RdBu", scale: str = "mel",
                      crop=None, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128, fmin: float = 0.0,
                      fmax: float | None = None, top_db: float = 80.0) -> np.ndarray:
    """Render a signal as a square RGB spectrogram image, the way the thesis fed its CNNs.

    The power spectrogram (mel or linear frequency) is converted to dB relative to its
    own maximum, floored at ``-top_db``, scaled to [0, 1], optionally cropped in
    frequency (the thesis recommends dropping the highest and lowest frequencies),
    resized to ``size x size`` (low frequencies at the bottom row) with
    :func:`resize_matrix`, and coloured through the named matplotlib colormap's
    lookup table. No matplotlib figure is created.

    Parameters
    ----------
    y : array_like
        Signal ``(n,)`` or a batch ``(..., n)``.
    sr : int
        Sample rate in Hz.
    size : int, keyword-only
        Output height and width in pixels.
    cmap : str, keyword-only
        A matplotlib colormap name; diverging maps (see :data:`DIVERGING_CMAPS`) match
        the thesis. Unknown names raise :class:`ParameterError`.
    scale : {"mel", "linear"}, keyword-only
        Frequency axis of the image.
    crop : (float, float) or None, keyword-only
        Frequency band kept: a pair of fractions of the frequency axis in [0, 1]
        (e.g. ``(0.05, 0.9)``), or, when the upper value exceeds 1, a band in Hz
        (e.g. ``(60, 8000)``). ``None`` keeps everything.
    n_fft, hop_length, n_mels, fmin, fmax
        Spectrogram options (``n_mels``, ``fmin``, ``fmax`` apply to ``scale="mel"``).
    top_db : float, keyword-only
        Dynamic range shown, in dB.

    Returns
    -------
    ndarray of uint8, shape ``(..., size, size, 3)``

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=3.0)
    >>> img = spectrogram_image(y, 22050, size=200, cmap="RdBu")
    >>> img.shape, img.dtype
    ((200, 200, 3), dtype('uint8'))
    """
    size = _pos_int(size, "size")
    if scale not in ("mel", "linear"):
        raise ParameterError(f"scale must be 'mel' or 'linear', got {scale!r}")
    positive_float("top_db", top_db)
    lut = colormap_lut(cmap)
    sr = _pos_int(sr, "sr")
    if scale == "mel":
        fmin_, fmax_ = _check_band(sr, fmin, fmax)
        power = melspectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin_, fmax=fmax_)
        freqs = mel_frequencies(n_mels + 2, fmin=fmin_, fmax=fmax_)[1:-1]
    else:
        power = power_spectrogram(y, n_fft=n_fft, hop_length=hop_length)
        freqs = fft_frequencies(sr=sr, n_fft=n_fft)
    rows = _crop_rows(freqs, crop)
    db = power_to_db(power[..., rows, :], ref=np.max, top_db=top_db, axis=(-2, -1))
    unit = (db + np.float32(top_db)) / np.float32(top_db)
    return image_from_unit(unit, size=size, lut=lut)


def image_from_unit(unit: np.ndarray, *, size: int, lut: np.ndarray) -> np.ndarray:
    """Colour a batch of spectrograms scaled to [0, 1] as ``size x size`` RGB pictures.

    The second half of :func:`spectrogram_image`, also used by the whole-track image
    feature: rows (low frequencies first) are resampled to ``size`` with high frequencies
    at the top, columns to ``size``, and values are looked up in ``lut``.

    Parameters
    ----------
    unit : ndarray, shape (..., rows, cols)
        Values in [0, 1].
    size : int, keyword-only
        Output height and width.
    lut : ndarray of uint8, shape (256, 3), keyword-only
        Colour table (:func:`colormap_lut`).

    Returns
    -------
    ndarray of uint8, shape (..., size, size, 3)

    Examples
    --------
    >>> from genrenet.spectrogram import colormap_lut
    >>> unit = np.linspace(0.0, 1.0, 2 * 16 * 16).reshape(2, 16, 16)
    >>> image_from_unit(unit, size=32, lut=colormap_lut("RdBu")).shape
    (2, 32, 32, 3)
    """
    lead, (rows_in, cols_in) = unit.shape[:-2], unit.shape[-2:]
    # the row matrix is reversed so that high frequencies end up at the top of the picture
    r_mat = np.ascontiguousarray(resize_matrix(rows_in, size)[:, ::-1])
    c_mat = resize_matrix(cols_in, size)
    # two plain 2-D GEMMs over the whole batch (a broadcast matmul over views is far slower)
    batch = unit.reshape(-1, rows_in, cols_in)
    tall = r_mat @ np.ascontiguousarray(batch.transpose(1, 0, 2)).reshape(rows_in, -1)  # (size, B * cols)
    wide = tall.reshape(size * batch.shape[0], cols_in) @ c_mat.T  # (size * B, size)
    img = wide.reshape(size, batch.shape[0], size).transpose(1, 0, 2).reshape(*lead, size, size)
    idx = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return lut[idx]


# --------------------------------------------------------------------------- figures


def _mel_ticks(lo: float, hi: float) -> list[float]:
    """Round frequencies (Hz) for a mel axis from ``lo`` to ``hi`` mels, at least 12% of it apart."""
    kept: list[float] = []
    for t in (32000, 16000, 8000, 4000, 2000, 1000, 500, 250, 125, 0):
        m = float(hz_to_mel(t))
        if lo <= m <= hi and (not kept or float(hz_to_mel(kept[-1])) - m >= 0.12 * (hi - lo)):
            kept.append(t)
    return kept[::-1]


def _hz_label(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def plot_spectrogram(S_db, *, sr: int = 22050, hop_length: int = 512, scale: str = "linear",
                     fmin: float = 0.0, fmax: float | None = None, ax=None, cmap: str = "magma",
                     vmin: float | None = None, vmax: float | None = None, colorbar: bool = True,
                     label: str = "dB", title: str | None = None):
    """Draw a spectrogram in dB: time in seconds, frequency in Hz, a colorbar in dB.

    Parameters
    ----------
    S_db : array, shape (n_bins, n_frames)
        Levels in dB: the ``1 + n_fft // 2`` rows of :func:`power_spectrogram` through
        :func:`power_to_db` (``scale="linear"``), or the bands of :func:`logmel` (``scale="mel"``).
    sr : int, keyword-only
        Sample rate (Hz) of the signal.
    hop_length : int, keyword-only
        Samples between frames.
    scale : {"linear", "mel"}, keyword-only
        Frequency axis: linear in Hz, or the mel scale of the bands (ticks still in Hz).
    fmin, fmax : float, keyword-only
        Band of the mel spectrogram (``fmax`` None is ``sr / 2``); ``fmax`` also limits a linear axis.
    ax : matplotlib Axes, keyword-only, optional
        Where to draw (a new figure when None).
    cmap, vmin, vmax : keyword-only
        Colormap and colour range (dB).
    colorbar : bool, keyword-only
        Add a colorbar labelled ``label``.
    label : str, keyword-only
        Unit of the colorbar, e.g. ``"dB"`` or ``"dB below the peak"``.
    title : str, keyword-only, optional

    Returns
    -------
    matplotlib.image.AxesImage
        The image (its ``colorbar`` attribute is the colorbar).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> im = plot_spectrogram(logmel(y, 22050), sr=22050, scale="mel")
    >>> im.axes.get_ylabel(), im.colorbar.ax.get_ylabel()
    ('frequency (Hz, mel scale)', 'dB')
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    S_db = np.asarray(S_db)
    if S_db.ndim != 2 or 0 in S_db.shape:
        raise ParameterError(f"S_db must be a non-empty 2-D array (bins, frames), got shape {S_db.shape}")
    sr = _pos_int(sr, "sr")
    hop_length = _pos_int(hop_length, "hop_length")
    if scale not in ("linear", "mel"):
        raise ParameterError(f"scale must be 'linear' or 'mel', got {scale!r}")
    fmin, fmax = _check_band(sr, fmin, fmax)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    duration = S_db.shape[1] * hop_length / sr
    if scale == "linear":
        top = sr / 2
        extent = (0.0, duration, 0.0, top)
        im = ax.imshow(S_db, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        ax.set_ylim(0.0, fmax)
        ax.set_ylabel("frequency (Hz)")
    else:
        lo, hi = float(hz_to_mel(fmin)), float(hz_to_mel(fmax))
        im = ax.imshow(S_db, origin="lower", aspect="auto", extent=(0.0, duration, lo, hi), cmap=cmap,
                       vmin=vmin, vmax=vmax, interpolation="nearest")
        ticks = _mel_ticks(lo, hi)
        ax.set_yticks([float(hz_to_mel(t)) for t in ticks])
        ax.set_yticklabels([_hz_label(t) for t in ticks])
        ax.set_ylabel("frequency (Hz, mel scale)")
    ax.set_xlabel("time (s)")
    ax.grid(False)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=label, pad=0.02)
    return im


def plot_spectrogram_image(image, *, sr: int = 22050, fmin: float = 0.0, fmax: float | None = None,
                           crop=None, cmap: str = "RdBu", top_db: float = 80.0, duration: float | None = None,
                           ax=None, colorbar: bool = True, title: str | None = None):
    """Draw a thesis-style RGB image of :func:`spectrogram_image` (mel scale) with Hz ticks and a dB colorbar.

    The image maps the mel spectrogram's levels, ``-top_db`` to 0 dB below its own peak,
    through ``cmap``; the colorbar shows that mapping, the vertical axis the mel band's
    frequencies (after ``crop``), the horizontal axis the time when ``duration`` is given.

    Parameters
    ----------
    image : array, shape (size, size, 3)
        What :func:`spectrogram_image` returned (row 0 is the highest band).
    sr, fmin, fmax, crop, cmap, top_db : keyword-only
        The arguments :func:`spectrogram_image` was called with.
    duration : float, keyword-only, optional
        Seconds the image spans (None labels the axis with columns).
    ax : matplotlib Axes, keyword-only, optional
    colorbar : bool, keyword-only
    title : str, keyword-only, optional

    Returns
    -------
    matplotlib.image.AxesImage

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=1.0)
    >>> im = plot_spectrogram_image(spectrogram_image(y, 22050, size=64), sr=22050, duration=1.0)
    >>> im.colorbar.ax.get_ylabel()
    'dB below the peak'
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ParameterError(f"image must be an RGB image (rows, columns, 3), got shape {image.shape}")
    sr = _pos_int(sr, "sr")
    fmin, fmax = _check_band(sr, fmin, fmax)
    positive_float("top_db", top_db)
    lo, hi = float(hz_to_mel(fmin)), float(hz_to_mel(fmax))
    if crop is not None:  # fractions of the mel axis, or a band in Hz (as spectrogram_image reads it)
        a, b = (float(c) for c in crop)
        lo, hi = ((lo + a * (hi - lo), lo + b * (hi - lo)) if b <= 1.0
                  else (float(hz_to_mel(max(a, fmin))), float(hz_to_mel(min(b, fmax)))))
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.4))
    right = float(duration) if duration is not None else float(image.shape[1])
    # spectrogram_image puts the highest band in row 0
    im = ax.imshow(image, origin="upper", aspect="auto", extent=(0.0, right, lo, hi), interpolation="nearest")
    ticks = _mel_ticks(lo, hi)
    ax.set_yticks([float(hz_to_mel(t)) for t in ticks])
    ax.set_yticklabels([_hz_label(t) for t in ticks])
    ax.set_ylabel("frequency (Hz, mel scale)")
    ax.set_xlabel("time (s)" if duration is not None else "column")
    ax.grid(False)
    if title:
        ax.set_title(title)
    if colorbar:
        mappable = ScalarMappable(norm=Normalize(-float(top_db), 0.0), cmap=check_cmap(cmap))
        cbar = ax.figure.colorbar(mappable, ax=ax, label="dB below the peak", pad=0.02)
        im.colorbar = cbar
    return im
