"""The feature pipeline: what a model sees of a track, as one frozen specification.

Book chapter 05 (audio processing) and notebook ``notebooks/signal_processing.ipynb``
use this module; every experiment notebook names its feature through a
:class:`FeatureSpec` (or a preset name), and the feature cache, training, prediction
and the web service all call :func:`extract` / :func:`extract_file`.

A track is cut into windows (:func:`genrenet.audio.windows`) and every window becomes
one example of shape ``spec.shape``:

``"logmel"``
    Log-power mel spectrogram in dB, ``(n_mels, frames, 1)`` float32 (absolute level,
    ``ref=1``, floored 80 dB below each window's maximum) - the input of the compact CNN.
``"image"``
    The thesis's input: a ``(image_size, image_size, 3)`` uint8 RGB picture of the
    window's mel (or linear) spectrogram through a diverging matplotlib colormap,
    optionally cropped in frequency (:func:`genrenet.spectrogram.spectrogram_image`).
``"mfcc_stats"``
    ``(2 * n_mfcc + 12,)`` float32: mean and standard deviation over the window's frames
    of ``n_mfcc`` MFCCs, spectral centroid, bandwidth, 85 % roll-off, flatness,
    zero-crossing rate and RMS energy (librosa's definitions) - the classical scikit-learn baseline's input.

Speed: the windows of a track go through a batched STFT (``scipy.fft`` in float64 like
librosa, so log-mel values agree with librosa to about 1e-5 dB; transformed in blocks of
frames whose buffers stay in the CPU cache), a mel projection that touches only the FFT
bins under each cached triangular filter, and one vectorised dB conversion; long tracks
are processed in chunks of :data:`CHUNK_WINDOWS` windows to bound memory. BLAS runs
single-threaded inside :func:`extract` (parallelism is over tracks, in processes).

Presets (:data:`PRESETS`)
    ``"logmel"``: 3 s windows, 1.5 s hop, 128 mel bands, n_fft 2048, hop 512 -> (128, 130, 1).
    ``"thesis_image"``: 5 s windows, 2.5 s hop, 200 x 200 RGB, colormap ``RdBu``, mel scale.
    Five seconds at hop 512 give 216 STFT frames, close to the 200 image columns, so the
    picture is resampled by less than 8 % in time (a 3 s window would be stretched by half),
    while a 30 s clip still yields 11 images. ``crop`` is off, as in the thesis; set e.g.
    ``crop=(0.05, 0.9)`` to follow its recommendation to drop the extreme frequencies.
    ``"mfcc_stats"``: 3 s windows, 1.5 s hop, 20 MFCCs -> 52 numbers per window.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrenet.errors import ParameterError

__all__ = [
    "FEATURE_VERSION",
    "KINDS",
    "CHUNK_WINDOWS",
    "FeatureSpec",
    "PRESETS",
    "get_spec",
    "extract",
    "extract_file",
    "feature_names",
]

#: Bumped whenever the numbers :func:`extract` produces for a given spec change;
#: part of :meth:`FeatureSpec.key`, so caches built by older code are not reused.
FEATURE_VERSION = 1
#: The feature kinds a :class:`FeatureSpec` can describe.
KINDS = ("logmel", "image", "mfcc_stats")
#: Windows transformed together (bounds the float32 power spectra to ~17 MB for the default spec).
CHUNK_WINDOWS = 32

_SPECTRAL_STATS = ("centroid", "bandwidth", "rolloff", "flatness", "zcr", "rms")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v)


@dataclass(frozen=True)
class FeatureSpec:
    """A complete, hashable description of a feature (see the module docstring).

    Parameters
    ----------
    kind : {"logmel", "image", "mfcc_stats"}
        What each window becomes.
    sr : int
        Sample rate the audio is resampled to (Hz).
    window, hop : float
        Window length and hop between windows, in seconds.
    n_fft, hop_length : int
        STFT size and hop, in samples.
    n_mels : int
        Mel bands.
    fmin, fmax : float, float or None
        Mel band edges in Hz (``fmax=None``: ``sr / 2``).
    image_size : int
        Side of the square image (kind ``"image"``).
    cmap : str
        Matplotlib colormap name (kind ``"image"``).
    crop : tuple of two floats or None
        Frequency crop of the image: fractions in [0, 1] or a band in Hz (kind ``"image"``).
    pad : {"zero", "repeat"}
        Padding of partly filled windows (:func:`genrenet.audio.windows`).
    min_fill : float
        Minimum real-audio fraction of a tail window.
    n_mfcc : int
        MFCCs summarised (kind ``"mfcc_stats"``).
    top_db : float
        Dynamic range in dB below each window's maximum.
    scale : {"mel", "linear"}
        Frequency axis of the image (kind ``"image"``).
    """

    kind: str = "logmel"
    sr: int = 22050
    window: float = 3.0
    hop: float = 1.5
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    image_size: int = 200
    cmap: str = "RdBu"
    crop: tuple[float, float] | None = None
    pad: str = "zero"
    min_fill: float = 0.5
    n_mfcc: int = 20
    top_db: float = 80.0
    scale: str = "mel"

    def __post_init__(self):
        def fix(name, value):
            object.__setattr__(self, name, value)

        if self.kind not in KINDS:
            raise ParameterError(f"FeatureSpec.kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("sr", "n_fft", "hop_length", "n_mels", "image_size", "n_mfcc"):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise ParameterError(f"FeatureSpec.{name} must be a positive integer, got {value!r}")
            fix(name, int(value))
        for name in ("window", "hop", "top_db"):
            value = getattr(self, name)
            if not _is_num(value) or value <= 0:
                raise ParameterError(f"FeatureSpec.{name} must be a positive number, got {value!r}")
            fix(name, float(value))
        if not _is_num(self.fmin) or self.fmin < 0:
            raise ParameterError(f"FeatureSpec.fmin must be a frequency >= 0 Hz, got {self.fmin!r}")
        fix("fmin", float(self.fmin))
        if self.fmax is not None:
            if not _is_num(self.fmax) or not (self.fmin < self.fmax <= self.sr / 2):
                raise ParameterError(f"FeatureSpec.fmax must satisfy fmin < fmax <= sr/2 = {self.sr / 2:g} Hz "
                                     f"or be None, got {self.fmax!r}")
            fix("fmax", float(self.fmax))
        elif self.fmin >= self.sr / 2:
            raise ParameterError(f"FeatureSpec.fmin must be below sr/2 = {self.sr / 2:g} Hz, got {self.fmin!r}")
        if self.pad not in ("zero", "repeat"):
            raise ParameterError(f"FeatureSpec.pad must be 'zero' or 'repeat', got {self.pad!r}")
        if self.scale not in ("mel", "linear"):
            raise ParameterError(f"FeatureSpec.scale must be 'mel' or 'linear', got {self.scale!r}")
        if not _is_num(self.min_fill) or not 0.0 <= self.min_fill <= 1.0:
            raise ParameterError(f"FeatureSpec.min_fill must lie in [0, 1], got {self.min_fill!r}")
        fix("min_fill", float(self.min_fill))
        if self.n_mfcc > self.n_mels:
            raise ParameterError(f"FeatureSpec.n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if self.window_samples < self.n_fft // 2 + 1:
            raise ParameterError(f"FeatureSpec.window ({self.window} s = {self.window_samples} samples) is too "
                                 f"short for n_fft={self.n_fft}")
        if round(self.hop * self.sr) < 1:
            raise ParameterError(f"FeatureSpec.hop ({self.hop} s) is shorter than one sample")
        if self.crop is not None:
            try:
                lo, hi = (float(v) for v in self.crop)
            except (TypeError, ValueError):
                raise ParameterError(f"FeatureSpec.crop must be None or a pair (low, high), got {self.crop!r}") from None
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi <= lo:
                raise ParameterError(f"FeatureSpec.crop must be low < high, both >= 0, got {self.crop!r}")
            fix("crop", (lo, hi))
        if not isinstance(self.cmap, str):
            raise ParameterError(f"FeatureSpec.cmap must be a colormap name, got {self.cmap!r}")
        if self.kind == "image":
            from genrenet.spectrogram import check_cmap

            check_cmap(self.cmap)  # raises ParameterError for unknown names

    # ------------------------------------------------------------------ derived

    @property
    def window_samples(self) -> int:
        """Samples per window, ``round(window * sr)``."""
        return int(round(self.window * self.sr))

    @property
    def n_frames(self) -> int:
        """STFT frames per window (``center=True``)."""
        return 1 + self.window_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the feature of one window."""
        if self.kind == "logmel":
            return (self.n_mels, self.n_frames, 1)
        if self.kind == "image":
            return (self.image_size, self.image_size, 3)
        return (2 * self.n_mfcc + 2 * len(_SPECTRAL_STATS),)

    @property
    def dtype(self) -> np.dtype:
        """``uint8`` for images, ``float32`` otherwise."""
        return np.dtype(np.uint8) if self.kind == "image" else np.dtype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (``crop`` as a list)."""
        out = dataclasses.asdict(self)
        if out["crop"] is not None:
            out["crop"] = list(out["crop"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ParameterError`."""
        if not isinstance(data, dict):
            raise ParameterError(f"a FeatureSpec dict is required, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ParameterError(f"unknown FeatureSpec field(s) {unknown}; known: {sorted(names)}")
        kwargs = dict(data)
        if kwargs.get("crop") is not None:
            kwargs["crop"] = tuple(kwargs["crop"])
        return cls(**kwargs)

    def key(self) -> str:
        """Stable short identifier: ``"<kind>-<12 hex>"`` hashed from every field and :data:`FEATURE_VERSION`."""
        payload = json.dumps({"version": FEATURE_VERSION, "spec": self.to_dict()}, sort_keys=True)
        return f"{self.kind}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"

    def replace(self, **changes) -> FeatureSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


#: Named feature specifications used by the book's experiments.
PRESETS: dict[str, FeatureSpec] = {
    "logmel": FeatureSpec(kind="logmel"),
    "thesis_image": FeatureSpec(kind="image", window=5.0, hop=2.5, image_size=200, cmap="RdBu"),
    "mfcc_stats": FeatureSpec(kind="mfcc_stats"),
}


def get_spec(name_or_spec: str | FeatureSpec | dict) -> FeatureSpec:
    """Resolve a preset name, a ``FeatureSpec`` or a ``to_dict()`` dict into a ``FeatureSpec``.

    Raises
    ------
    ParameterError
        Unknown preset name or invalid specification.
    """
    if isinstance(name_or_spec, FeatureSpec):
        return name_or_spec
    if isinstance(name_or_spec, str):
        try:
            return PRESETS[name_or_spec]
        except KeyError:
            raise ParameterError(f"unknown feature preset {name_or_spec!r}; presets: {sorted(PRESETS)}") from None
    if isinstance(name_or_spec, dict):
        return FeatureSpec.from_dict(name_or_spec)
    raise ParameterError(f"feature must be a preset name, FeatureSpec or dict, got {name_or_spec!r}")


def feature_names(spec: str | FeatureSpec | dict) -> list[str]:
    """Names of the numbers in an ``"mfcc_stats"`` vector, in order."""
    spec = get_spec(spec)
    if spec.kind != "mfcc_stats":
        raise ParameterError(f"feature_names is defined for kind 'mfcc_stats', not {spec.kind!r}")
    names = [f"mfcc{i}_mean" for i in range(spec.n_mfcc)] + [f"mfcc{i}_std" for i in range(spec.n_mfcc)]
    for stat in _SPECTRAL_STATS:
        names += [f"{stat}_mean", f"{stat}_std"]
    return names


# --------------------------------------------------------------------------- computation


def _mfcc_stats(frames_y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(n_windows, samples) -> (n_windows, 2 n_mfcc + 12) float32."""
    import scipy.fft

    from genrenet import spectrogram as sp

    power = sp._power_frames(frames_y, spec.n_fft, spec.hop_length, "hann", True, 2.0)  # (w, t, f)
    w, t, f = power.shape
    mel = sp._apply_mel(power.reshape(-1, f), spec.sr, spec.n_fft, spec.n_mels, spec.fmin, spec.fmax)
    mel_db = sp.power_to_db(mel.reshape(w, t, spec.n_mels), top_db=spec.top_db, axis=(-2, -1))
    ceps = scipy.fft.dct(mel_db, axis=-1, type=2, norm="ortho")[..., : spec.n_mfcc]  # (w, t, n_mfcc)
    mag = np.sqrt(power)
    freqs = np.fft.rfftfreq(spec.n_fft, d=1.0 / spec.sr).astype(np.float32)
    total = mag.sum(axis=-1)
    safe = np.maximum(total, np.float32(1e-10))
    centroid = (mag @ freqs) / safe
    bandwidth = np.sqrt(np.maximum(0.0, (mag @ (freqs**2)) / safe - centroid**2))
    cumulative = np.cumsum(mag, axis=-1)
    rolloff_bin = (cumulative < 0.85 * cumulative[..., -1:]).sum(axis=-1)
    rolloff = freqs[np.minimum(rolloff_bin, f - 1)]
    flatness = np.exp(np.mean(np.log(np.maximum(power, 1e-10)), axis=-1)) / np.maximum(power.mean(axis=-1), 1e-10)
    # RMS energy and zero-crossing rate per STFT frame, on the same zero-padded centred frames
    padded = np.pad(frames_y, [(0, 0), (spec.n_fft // 2, spec.n_fft // 2)])
    starts = np.arange(t) * spec.hop_length
    sq = np.concatenate([np.zeros((w, 1)), np.cumsum(padded.astype(np.float64) ** 2, axis=1)], axis=1)
    rms = np.sqrt(np.maximum(0.0, sq[:, starts + spec.n_fft] - sq[:, starts]) / spec.n_fft)
    signs = np.signbit(padded)
    crossings = np.concatenate([np.zeros((w, 1), np.float32),
                                (signs[:, 1:] != signs[:, :-1]).astype(np.float32)], axis=1)
    csum = np.concatenate([np.zeros((w, 1)), np.cumsum(crossings, axis=1)], axis=1)
    zcr = (csum[:, starts + spec.n_fft] - csum[:, starts + 1]) / spec.n_fft
    parts = [ceps.mean(axis=1), ceps.std(axis=1)]
    for series in (centroid, bandwidth, rolloff, flatness, zcr, rms):
        parts += [series.mean(axis=1)[:, None], series.std(axis=1)[:, None]]
    return np.concatenate(parts, axis=1).astype(np.float32)


_BLAS_LOCK = threading.Lock()
_BLAS_STATE: dict[str, Any] = {"controller": None, "users": 0, "limiter": None}


@contextlib.contextmanager
def _single_blas_thread():
    """Context in which BLAS (OpenBLAS/MKL) runs one thread.

    The products inside :func:`extract` are small; BLAS threads gain nothing there, and
    on a busy machine (other processes on every core) OpenBLAS threads spin and multiply
    the CPU time several-fold. Parallelism comes from processes over tracks instead
    (:func:`genrenet.cache.featurize`). Uses ``threadpoolctl`` (a scikit-learn dependency);
    without it this is a no-op.

    The limit is process-wide, so concurrent callers (threads of a web server) share it:
    the first one in sets it and the last one out restores the original thread count.
    """
    with _BLAS_LOCK:
        if _BLAS_STATE["controller"] is None:
            try:
                from threadpoolctl import ThreadpoolController

                _BLAS_STATE["controller"] = ThreadpoolController()
            except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn
                _BLAS_STATE["controller"] = False
        if _BLAS_STATE["controller"] and _BLAS_STATE["users"] == 0:
            _BLAS_STATE["limiter"] = _BLAS_STATE["controller"].limit(limits=1, user_api="blas")
        _BLAS_STATE["users"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE["users"] -= 1
            if _BLAS_STATE["users"] == 0 and _BLAS_STATE["limiter"] is not None:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None


def _features(frames_y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    from genrenet import spectrogram as sp

    if spec.kind == "logmel":
        out = sp.logmel(frames_y, spec.sr, n_mels=spec.n_mels, n_fft=spec.n_fft, hop_length=spec.hop_length,
                        fmin=spec.fmin, fmax=spec.fmax, top_db=spec.top_db)
        return out[..., None]
    if spec.kind == "image":
        return sp.spectrogram_image(frames_y, spec.sr, size=spec.image_size, cmap=spec.cmap, scale=spec.scale,
                                    crop=spec.crop, n_fft=spec.n_fft, hop_length=spec.hop_length,
                                    n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax, top_db=spec.top_db)
    return _mfcc_stats(frames_y, spec)


def extract(spec: str | FeatureSpec | dict, y: np.ndarray, sr: int) -> np.ndarray:
    """Cut a mono signal into windows and compute the feature of every window.

    Parameters
    ----------
    spec : str, FeatureSpec or dict
        The feature (see :func:`get_spec`).
    y : ndarray
        Mono signal ``(n,)``, ``n > 0``, finite.
    sr : int
        Sample rate of ``y``; resampled to ``spec.sr`` when different.

    Returns
    -------
    ndarray, shape ``(n_windows, *spec.shape)``, dtype ``spec.dtype``

    Raises
    ------
    ParameterError
        ``y`` is empty, not 1-D or not finite, or ``sr`` is invalid.
    """
    from genrenet.audio import resample, windows

    spec = get_spec(spec)
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"y must be a non-empty mono 1-D signal, got shape {y.shape}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer number of Hz, got {sr!r}")
    y = y.astype(np.float32, copy=False)
    if not np.isfinite(y).all():
        raise ParameterError("y contains NaN or infinite samples")
    if int(sr) != spec.sr:
        y = resample(y, int(sr), spec.sr)
    frames_y = windows(y, spec.sr, window=spec.window, hop=spec.hop, pad=spec.pad, min_fill=spec.min_fill)
    with _single_blas_thread():
        if frames_y.shape[0] <= CHUNK_WINDOWS:
            return np.ascontiguousarray(_features(frames_y, spec), dtype=spec.dtype)
        out = np.empty((frames_y.shape[0], *spec.shape), dtype=spec.dtype)
        for start in range(0, frames_y.shape[0], CHUNK_WINDOWS):
            stop = start + CHUNK_WINDOWS
            out[start:stop] = _features(frames_y[start:stop], spec)
        return out


def extract_file(spec: str | FeatureSpec | dict, path: str | os.PathLike, *, offset: float = 0.0,
                 duration: float | None = None) -> np.ndarray:
    """Load ``path`` at ``spec.sr`` (mono) and return :func:`extract` of it.

    Parameters
    ----------
    spec : str, FeatureSpec or dict
        The feature.
    path : str or path-like
        Audio file (:data:`genrenet.audio.SUPPORTED_EXTENSIONS`).
    offset, duration : float, keyword-only
        Part of the file to read, in seconds (see :func:`genrenet.audio.load`).

    Returns
    -------
    ndarray, shape ``(n_windows, *spec.shape)``

    Raises
    ------
    AudioError
        The file cannot be decoded.
    """
    from genrenet.audio import load

    spec = get_spec(spec)
    y, sr = load(path, sr=spec.sr, mono=True, offset=offset, duration=duration)
    return extract(spec, y, sr)
