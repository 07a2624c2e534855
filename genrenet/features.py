"""The feature pipeline: what a model sees of a track, as one frozen specification.

Book chapter ``book/dev_processing.md`` and notebook ``notebooks/signal_processing.ipynb``
use this module; every experiment notebook names its feature through a
:class:`FeatureSpec` (or a preset name), and the feature cache, training, prediction
and the web service all call :func:`extract` / :func:`extract_file`.

A track is cut into windows and every window becomes one example of shape ``spec.shape``:

``"logmel"``
    Log-power mel spectrogram in dB, ``(n_mels, frames, 1)`` float32 (absolute level,
    ``ref=1``, floored 80 dB below each window's maximum) - the input of the compact CNN.
``"image"``
    The thesis's input: a ``(image_size, image_size, 3)`` uint8 RGB picture of the
    window's mel (or linear) spectrogram through a diverging matplotlib colormap,
    optionally cropped in frequency (as :func:`genrenet.spectrogram.spectrogram_image` draws it).
``"mfcc_stats"``
    ``(2 * n_mfcc + 12,)`` float32: mean and standard deviation over the window's frames
    of ``n_mfcc`` MFCCs, spectral centroid, bandwidth, 85 % roll-off, flatness,
    zero-crossing rate and RMS energy (librosa's definitions) - the classical scikit-learn baseline's input.
``"embedding"``
    ``(dim,)`` float32: outputs of a pretrained musicnn network (:mod:`genrenet.embeddings`)
    for each 3 s patch - the transfer models' input. ``embedding`` names the network(s)
    (``"MSD_musicnn"``, ``"MTT_musicnn"`` or both joined by ``+``), ``layer`` the output(s)
    (``"max_pool"``, ``"mean_pool"``, ``"penultimate"``, ``"taggram"``, joined by ``+``) and
    ``pooling`` whether the patches are kept (``"none"``) or summarised into one vector per
    track (``"mean"``, or ``"mean_std"``: mean and standard deviation). Its front end is
    musicnn's: 16 kHz, n_fft 512, hop 256, 96 mel bands, patches of 187 frames cut from one
    whole-track log-mel, every ``hop_frames`` frames.

Each frame is computed once (feature version 2). The windows start on the STFT frame
grid: the hop is rounded to whole frames (:attr:`FeatureSpec.hop_frames`; 1.5 s at
hop_length 512 becomes 65 frames = 1.509 s), and window ``k`` is frames
``[k * hop_frames, k * hop_frames + n_frames)`` of one short-time transform of the whole
track (librosa's ``center=True``: frame ``j`` is centred on sample ``j * hop_length``, zeros
beyond the ends). So the track is transformed, mel-projected and converted to dB in one
pass, and the windows are strided views of that (:func:`genrenet.spectrogram.window_view`);
only each window's own ``top_db`` floor (or image scaling) is applied per window. A window's
numbers are those of librosa's whole-file log-mel on the same frames
(``tests/test_features.py`` checks to 1e-3 dB). The window policy is
:func:`genrenet.audio.window_starts` on that grid (:func:`window_starts`); a partly filled
tail window is completed after the track's end by the ``pad`` policy.

Speed: the frames go through a float64 ``scipy.fft`` (like librosa) in blocks that stay in
the CPU cache, each block's power spectrum is reduced at once by a sparse mel projection
(:func:`genrenet.spectrogram.reduce_power_frames`), so the full power spectrogram never
exists. Long tracks are processed in passes of :data:`CHUNK_WINDOWS` windows to bound
memory (a 30 s clip is one pass). BLAS runs single-threaded inside :func:`extract`
(parallelism is over tracks, in processes). ``benchmarks/bench_features.py`` measures it
against librosa's whole-file log-mel.

Presets (:data:`PRESETS`)
    ``"logmel"``: 3 s windows, 1.5 s hop, 128 mel bands, n_fft 2048, hop 512 -> (128, 130, 1).
    ``"thesis_image"``: 5 s windows, 2.5 s hop, 200 x 200 RGB, colormap ``RdBu``, mel scale.
    Five seconds at hop 512 give 216 STFT frames, close to the 200 image columns, so the
    picture is resampled by less than 8 % in time (a 3 s window would be stretched by half),
    while a 30 s clip still yields 11 images. ``crop`` is off, as in the thesis; set e.g.
    ``crop=(0.05, 0.9)`` to follow its recommendation to drop the extreme frequencies.
    ``"mfcc_stats"``: 3 s windows, 1.5 s hop, 20 MFCCs -> 52 numbers per window.
    ``"musicnn"``: the penultimate layers of MSD_musicnn and MTT_musicnn (200 + 200) for
    every non-overlapping 3 s patch (hop 2.992 s = 187 frames, musicnn's grid) -> 400 numbers.
    ``"musicnn_track"``: the same, averaged over a track's patches -> one 400-number vector.
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

from genrenet._validate import sample_rate
from genrenet.errors import ParameterError

__all__ = [
    "FEATURE_VERSION",
    "KINDS",
    "CHUNK_WINDOWS",
    "FeatureSpec",
    "PRESETS",
    "get_spec",
    "SPECTRAL_KINDS",
    "window_starts",
    "WindowPlan",
    "plan_windows",
    "input_scale",
    "extract",
    "extract_file",
    "feature_names",
    "pool_windows",
    "POOLINGS",
]

#: Bumped whenever the numbers :func:`extract` produces for a given spec change;
#: part of :meth:`FeatureSpec.key`, so caches built by older code are not reused.
#: Version 2: windows on the STFT frame grid, cut from one whole-track transform.
FEATURE_VERSION = 2
#: The feature kinds a :class:`FeatureSpec` can describe.
KINDS = ("logmel", "image", "mfcc_stats", "embedding")
#: Ways an ``"embedding"`` feature summarises a track's patches (``"none"`` keeps them).
POOLINGS = ("none", "mean", "mean_std")
#: Kinds computed from one whole-track STFT.
SPECTRAL_KINDS = ("logmel", "image", "mfcc_stats")
#: Windows computed per pass over a stretch of track (a 30 s clip is one pass); bounds the
#: frame-wise values kept in memory on long tracks (~4 MB of mel bands for the default spec).
CHUNK_WINDOWS = 128

_SPECTRAL_STATS = ("centroid", "bandwidth", "rolloff", "flatness", "zcr", "rms")
_EMBEDDING_FIELDS = ("embedding", "layer", "pooling")


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
        Window length and hop between windows, in seconds (the spectral kinds round the
        hop to whole STFT frames: :attr:`hop_frames`).
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
    embedding : str
        Pretrained network(s), ``+``-joined (kind ``"embedding"``).
    layer : str
        Network output(s), ``+``-joined (kind ``"embedding"``).
    pooling : {"none", "mean", "mean_std"}
        Per-patch vectors, or one summary per track (kind ``"embedding"``).
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
    embedding: str = "MSD_musicnn"
    layer: str = "max_pool+mean_pool"
    pooling: str = "none"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError(f"FeatureSpec.kind must be one of {KINDS}, got {self.kind!r}")
        self._check_numbers()
        self._check_band()
        if self.pad not in ("zero", "repeat"):
            raise ParameterError(f"FeatureSpec.pad must be 'zero' or 'repeat', got {self.pad!r}")
        if self.scale not in ("mel", "linear"):
            raise ParameterError(f"FeatureSpec.scale must be 'mel' or 'linear', got {self.scale!r}")
        self._check_framing()
        self._check_image()
        if self.kind == "embedding":
            self._check_embedding()

    def _fix(self, name: str, value) -> None:
        """Store the checked (normalised) ``value`` of field ``name`` on the frozen instance."""
        object.__setattr__(self, name, value)

    def _check_numbers(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "n_mels", "image_size", "n_mfcc"):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise ParameterError(f"FeatureSpec.{name} must be a positive integer, got {value!r}")
            self._fix(name, int(value))
        for name in ("window", "hop", "top_db"):
            value = getattr(self, name)
            if not _is_num(value) or value <= 0:
                raise ParameterError(f"FeatureSpec.{name} must be a positive number, got {value!r}")
            self._fix(name, float(value))

    def _check_band(self) -> None:
        if not _is_num(self.fmin) or self.fmin < 0:
            raise ParameterError(f"FeatureSpec.fmin must be a frequency >= 0 Hz, got {self.fmin!r}")
        self._fix("fmin", float(self.fmin))
        if self.fmax is not None:
            if not _is_num(self.fmax) or not (self.fmin < self.fmax <= self.sr / 2):
                raise ParameterError(f"FeatureSpec.fmax must satisfy fmin < fmax <= sr/2 = {self.sr / 2:g} Hz "
                                     f"or be None, got {self.fmax!r}")
            self._fix("fmax", float(self.fmax))
        elif self.fmin >= self.sr / 2:
            raise ParameterError(f"FeatureSpec.fmin must be below sr/2 = {self.sr / 2:g} Hz, got {self.fmin!r}")

    def _check_framing(self) -> None:
        if not _is_num(self.min_fill) or not 0.0 <= self.min_fill <= 1.0:
            raise ParameterError(f"FeatureSpec.min_fill must lie in [0, 1], got {self.min_fill!r}")
        self._fix("min_fill", float(self.min_fill))
        if self.n_mfcc > self.n_mels:
            raise ParameterError(f"FeatureSpec.n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if self.window_samples < self.n_fft // 2 + 1:
            raise ParameterError(f"FeatureSpec.window ({self.window} s = {self.window_samples} samples) is too "
                                 f"short for n_fft={self.n_fft}")
        if round(self.hop * self.sr) < 1:
            raise ParameterError(f"FeatureSpec.hop ({self.hop} s) is shorter than one sample")

    def _check_image(self) -> None:
        if self.crop is not None:
            try:
                lo, hi = (float(v) for v in self.crop)
            except (TypeError, ValueError):
                raise ParameterError(f"FeatureSpec.crop must be None or a pair (low, high), got {self.crop!r}") from None
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi <= lo:
                raise ParameterError(f"FeatureSpec.crop must be low < high, both >= 0, got {self.crop!r}")
            self._fix("crop", (lo, hi))
        if not isinstance(self.cmap, str):
            raise ParameterError(f"FeatureSpec.cmap must be a colormap name, got {self.cmap!r}")
        if self.kind == "image":
            from genrenet.spectrogram import check_cmap

            check_cmap(self.cmap)  # raises ParameterError for unknown names

    def _check_embedding(self) -> None:
        from genrenet import embeddings as emb

        fixed = {"sr": emb.SR, "n_fft": emb.N_FFT, "hop_length": emb.HOP_LENGTH, "n_mels": emb.N_MELS,
                 "fmin": 0.0, "fmax": None}
        for name, value in fixed.items():
            if getattr(self, name) != value:
                raise ParameterError(f"FeatureSpec.{name} must be {value!r} for kind 'embedding' (musicnn's "
                                     f"input), got {getattr(self, name)!r}")
        emb.patch_frames(self.window, self.hop)  # 187-frame patches, hop of at least one frame
        for name, allowed in (("embedding", emb.MUSICNN_MODELS), ("layer", tuple(emb.LAYERS))):
            parts = str(getattr(self, name)).split("+")
            if not all(p in allowed for p in parts) or len(set(parts)) != len(parts):
                raise ParameterError(f"FeatureSpec.{name} must be one or more of {allowed} joined by '+', "
                                     f"got {getattr(self, name)!r}")
        if self.pooling not in POOLINGS:
            raise ParameterError(f"FeatureSpec.pooling must be one of {POOLINGS}, got {self.pooling!r}")

    # ------------------------------------------------------------------ derived

    @property
    def window_samples(self) -> int:
        """Samples per window, ``round(window * sr)``."""
        return int(round(self.window * self.sr))

    @property
    def hop_frames(self) -> int:
        """Hop between windows in STFT frames: ``max(1, round(hop * sr / hop_length))``."""
        return max(1, int(round(self.hop * self.sr / self.hop_length)))

    @property
    def hop_samples(self) -> int:
        """Hop between window starts in samples (whole frames for the spectral kinds)."""
        if self.kind in SPECTRAL_KINDS or self.kind == "embedding":
            return self.hop_frames * self.hop_length
        return max(1, int(round(self.hop * self.sr)))

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
        if self.kind == "embedding":
            from genrenet.embeddings import LAYERS

            dim = sum(LAYERS[name] for name in self.layer.split("+")) * len(self.embedding.split("+"))
            return (dim * (2 if self.pooling == "mean_std" else 1),)
        return (2 * self.n_mfcc + 2 * len(_SPECTRAL_STATS),)

    @property
    def dtype(self) -> np.dtype:
        """``uint8`` for images, ``float32`` otherwise."""
        return np.dtype(np.uint8) if self.kind == "image" else np.dtype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (``crop`` as a list).

        The fields of kind ``"embedding"`` are left out for the other kinds, so their
        dictionaries (and :meth:`key`) are those of specs written before that kind existed.
        """
        out = dataclasses.asdict(self)
        if out["crop"] is not None:
            out["crop"] = list(out["crop"])
        if self.kind != "embedding":
            for name in _EMBEDDING_FIELDS:
                del out[name]
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


_MUSICNN = FeatureSpec(kind="embedding", sr=16000, window=3.0, hop=2.992, n_fft=512, hop_length=256, n_mels=96,
                       embedding="MSD_musicnn+MTT_musicnn", layer="penultimate", pooling="none")

#: Named feature specifications used by the book's experiments.
PRESETS: dict[str, FeatureSpec] = {
    "logmel": FeatureSpec(kind="logmel"),
    "thesis_image": FeatureSpec(kind="image", window=5.0, hop=2.5, image_size=200, cmap="RdBu"),
    "mfcc_stats": FeatureSpec(kind="mfcc_stats"),
    "musicnn": _MUSICNN,
    "musicnn_track": _MUSICNN.replace(pooling="mean"),
}


def get_spec(name_or_spec: str | FeatureSpec | dict) -> FeatureSpec:
    """Resolve a preset name, a ``FeatureSpec`` or a ``to_dict()`` dict into a ``FeatureSpec``.

    Raises
    ------
    ParameterError
        Unknown preset name or invalid specification.

    Examples
    --------
    >>> spec = get_spec("logmel")
    >>> spec.kind, spec.shape
    ('logmel', (128, 130, 1))
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
    """Names of the numbers in an ``"mfcc_stats"`` vector, in order.

    Examples
    --------
    >>> names = feature_names("mfcc_stats")
    >>> len(names), names[:2]
    (52, ['mfcc0_mean', 'mfcc1_mean'])
    """
    spec = get_spec(spec)
    if spec.kind != "mfcc_stats":
        raise ParameterError(f"feature_names is defined for kind 'mfcc_stats', not {spec.kind!r}")
    names = [f"mfcc{i}_mean" for i in range(spec.n_mfcc)] + [f"mfcc{i}_std" for i in range(spec.n_mfcc)]
    for stat in _SPECTRAL_STATS:
        names += [f"{stat}_mean", f"{stat}_std"]
    return names


# --------------------------------------------------------------------------- computation


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


# The whole-track computation. A track's windows start on the STFT frame grid (every
# spec.hop_frames frames), so window k is frames [k * hop_frames, k * hop_frames + n_frames)
# of ONE short-time transform of the track: every frame is transformed, projected and
# logged once, and the windows are strided views of the frame-wise values.


def _tail(spec: FeatureSpec, y: np.ndarray, last_start: int) -> np.ndarray:
    """Samples appended after ``y`` so that the last window is full (the ``pad`` policy)."""
    end = last_start + spec.window_samples
    if end <= y.size:
        return np.zeros(0, dtype=np.float32)
    part = y[last_start:]
    if spec.pad == "zero":
        return np.zeros(end - y.size, dtype=np.float32)
    return np.resize(part, spec.window_samples)[part.size:].astype(np.float32, copy=False)


def _segment(y: np.ndarray, tail: np.ndarray, a: int, b: int, *, edge: bool = False,
             dtype=np.float32) -> np.ndarray:
    """Samples ``a..b-1`` of the padded track ``[zeros] y tail [zeros]`` (``edge``: repeat the end samples)."""
    n, body = y.size, y.size + tail.size
    out = np.empty(b - a, dtype=dtype)
    c0, c1, c2 = (min(max(v, a), b) - a for v in (0, n, body))
    out[:c0] = y[0] if edge else 0.0
    out[c0:c1] = y[a + c0: a + c1]
    out[c1:c2] = tail[a + c1 - n: a + c2 - n]
    out[c2:] = (tail[-1] if tail.size else y[-1]) if edge else 0.0
    return out


def _frames(spec: FeatureSpec, seg: np.ndarray) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(seg, spec.n_fft)[:: spec.hop_length]


def _log_power(values: np.ndarray) -> np.ndarray:
    """``10 log10(max(values, 1e-10))`` in place (float32): :func:`genrenet.spectrogram.power_to_db` with ``ref=1``."""
    np.maximum(values, np.float32(1e-10), out=values)
    np.log10(values, out=values)
    values *= np.float32(10.0)
    return values


def _spectral_reducer(spec: FeatureSpec):
    """(reduce, rows): what :func:`genrenet.spectrogram.reduce_power_frames` keeps of each frame."""
    from genrenet import spectrogram as sp

    if spec.kind == "image" and spec.scale == "linear":
        rows = sp._crop_rows(sp.fft_frequencies(sr=spec.sr, n_fft=spec.n_fft), spec.crop)
        return (lambda power: power[:, rows].T), rows.stop - rows.start
    mel = sp.mel_projection(spec.sr, spec.n_fft, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
    if spec.kind != "mfcc_stats":
        return (lambda power: mel @ np.ascontiguousarray(power.T)), spec.n_mels
    freqs = np.fft.rfftfreq(spec.n_fft, d=1.0 / spec.sr)

    def reduce(power: np.ndarray) -> np.ndarray:
        mag = np.sqrt(power)
        total = mag.sum(axis=1)
        safe = np.maximum(total, 1e-10)
        centroid = (mag @ freqs) / safe
        bandwidth = np.sqrt(np.maximum(0.0, (mag @ freqs**2) / safe - centroid**2))
        cumulative = np.cumsum(mag, axis=1)
        rolloff = freqs[np.minimum((cumulative < 0.85 * cumulative[:, -1:]).sum(axis=1), freqs.size - 1)]
        floored = np.maximum(power, 1e-10)
        flatness = np.exp(np.log(floored).mean(axis=1)) / floored.mean(axis=1)
        return np.vstack([mel @ np.ascontiguousarray(power.T), centroid, bandwidth, rolloff, flatness])

    return reduce, spec.n_mels + 4


def _time_stats(spec: FeatureSpec, y: np.ndarray, tail: np.ndarray, a: int, b: int) -> np.ndarray:
    """Zero-crossing rate and RMS of the frames of samples ``a..b-1`` (librosa's centring): (2, n_frames)."""
    frames = _frames(spec, _segment(y, tail, a, b))
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / spec.n_fft)
    signs = np.signbit(_segment(y, tail, a, b, edge=True))  # librosa pads with the edge samples here
    csum = np.concatenate([[0], np.cumsum(signs[1:] != signs[:-1])])
    starts = np.arange(frames.shape[0]) * spec.hop_length
    zcr = (csum[starts + spec.n_fft - 1] - csum[starts]) / spec.n_fft
    return np.vstack([zcr, rms]).astype(np.float32)


def _frame_values(spec: FeatureSpec, y: np.ndarray, tail: np.ndarray, j0: int, j1: int) -> np.ndarray:
    """Frame-wise values of frames ``j0..j1-1`` of the track: (rows, j1 - j0) float32.

    Frame ``j`` is centred on sample ``j * hop_length`` (librosa's ``center=True`` with zero
    padding). Rows: log-power mel bands (``logmel``, mel images, then for ``mfcc_stats`` the
    centroid, bandwidth, roll-off, flatness, zero-crossing rate and RMS), or the cropped
    log-power FFT bins of a linear image.
    """
    from genrenet import spectrogram as sp

    a = j0 * spec.hop_length - spec.n_fft // 2
    b = (j1 - 1) * spec.hop_length - spec.n_fft // 2 + spec.n_fft
    reduce, rows = _spectral_reducer(spec)
    # float64 samples: the window product and the FFT then run in one precision (as fast as it gets)
    seg = _segment(y, tail, a, b, dtype=np.float64)
    values = sp.reduce_power_frames(_frames(spec, seg), reduce, rows, first=j0)
    if spec.kind != "mfcc_stats":
        return _log_power(values)
    _log_power(values[: spec.n_mels])
    return np.vstack([values, _time_stats(spec, y, tail, a, b)])


def _floored(view: np.ndarray, top_db: float, out: np.ndarray | None = None) -> np.ndarray:
    """Each window's dB values raised to at most ``top_db`` below that window's maximum."""
    peak = view.max(axis=(1, 2))
    return np.maximum(view, (peak - np.float32(top_db))[:, None, None], out=out)


def _window_features(spec: FeatureSpec, values: np.ndarray, count: int, out: np.ndarray) -> None:
    """Write the features of ``count`` windows cut from frame-wise ``values`` into ``out``."""
    import scipy.fft

    from genrenet import spectrogram as sp

    view = sp.window_view(values, first=0, step=spec.hop_frames, count=count, width=spec.n_frames)
    if spec.kind == "logmel":
        _floored(view, spec.top_db, out=out[..., 0])
    elif spec.kind == "image":
        if spec.scale == "mel":
            freqs = sp.mel_frequencies(spec.n_mels + 2, fmin=spec.fmin, fmax=spec.fmax or spec.sr / 2)[1:-1]
            view = view[:, sp._crop_rows(freqs, spec.crop)]
        peak = view.max(axis=(1, 2))[:, None, None]
        unit = np.maximum(view - peak, np.float32(-spec.top_db))
        unit += np.float32(spec.top_db)
        unit /= np.float32(spec.top_db)
        out[:] = sp.image_from_unit(unit, size=spec.image_size, lut=sp.colormap_lut(spec.cmap))
    else:
        mel_db = _floored(view[:, : spec.n_mels], spec.top_db)
        ceps = scipy.fft.dct(mel_db, axis=1, type=2, norm="ortho")[:, : spec.n_mfcc]
        stats = view[:, spec.n_mels:]
        parts = [ceps.mean(axis=2), ceps.std(axis=2)]
        parts += [np.stack([stats.mean(axis=2), stats.std(axis=2)], axis=2).reshape(count, -1)]
        out[:] = np.concatenate(parts, axis=1)


def _runs(indices: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Split sorted window indices into runs of consecutive windows, at most ``limit`` long: (pos, count)."""
    runs, pos = [], 0
    while pos < indices.size:
        count = 1
        while count < limit and pos + count < indices.size and indices[pos + count] == indices[pos] + count:
            count += 1
        runs.append((pos, count))
        pos += count
    return runs


def _extract_spectral(spec: FeatureSpec, y: np.ndarray, indices: np.ndarray | None) -> np.ndarray:
    """``logmel`` / ``image`` / ``mfcc_stats`` features of the windows ``indices`` (None: all) of ``y``."""
    starts = window_starts(spec, y.size)
    indices = np.arange(starts.size) if indices is None else _check_indices(indices, starts.size)
    tail = _tail(spec, y, int(starts[-1]))
    out = np.empty((indices.size, *spec.shape), dtype=spec.dtype)
    with _single_blas_thread():
        for pos, count in _runs(indices, CHUNK_WINDOWS):
            j0 = int(starts[indices[pos]]) // spec.hop_length
            j1 = j0 + (count - 1) * spec.hop_frames + spec.n_frames
            _window_features(spec, _frame_values(spec, y, tail, j0, j1), count, out[pos: pos + count])
    return out


def _check_indices(indices, total: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ParameterError(f"indices must be a 1-D sequence of window numbers, got {indices!r}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= total or np.any(np.diff(idx) <= 0)):
        raise ParameterError(f"indices must be increasing window numbers in [0, {total}), got {idx.tolist()}")
    return idx


#: Feature kind -> function ``(spec, y at spec.sr, indices or None) -> (n, *spec.shape)``; a kind
#: added elsewhere registers its extractor here.
_EXTRACTORS: dict[str, Any] = {kind: _extract_spectral for kind in SPECTRAL_KINDS}


def pool_windows(spec: str | FeatureSpec | dict, X: np.ndarray) -> np.ndarray:
    """Summarise one track's per-patch embeddings as ``spec.pooling`` asks.

    Parameters
    ----------
    spec : str, FeatureSpec or dict
        An ``"embedding"`` feature.
    X : ndarray, shape (n_patches, dim)
        The track's patch vectors (``spec.replace(pooling="none")``).

    Returns
    -------
    ndarray of float32
        ``X`` itself for ``pooling="none"``; ``(1, dim)`` means for ``"mean"``;
        ``(1, 2 * dim)`` means then standard deviations for ``"mean_std"``.

    Examples
    --------
    >>> spec = get_spec("musicnn_track")
    >>> spec.pooling, pool_windows(spec, np.ones((7, 753))).shape
    ('mean', (1, 753))
    """
    spec = get_spec(spec)
    X = np.asarray(X, dtype=np.float32)
    if spec.kind != "embedding" or spec.pooling == "none":
        return X
    if X.ndim != 2 or len(X) == 0:
        raise ParameterError(f"X must be a non-empty (n_patches, dim) array, got shape {X.shape}")
    parts = [X.mean(axis=0)] + ([X.std(axis=0)] if spec.pooling == "mean_std" else [])
    return np.concatenate(parts)[None, :].astype(np.float32)


def _extract_embedding(spec: FeatureSpec, y: np.ndarray, indices: np.ndarray | None) -> np.ndarray:
    """``embedding`` features of the patches ``indices`` (None: all) of ``y``, pooled as the spec says."""
    from genrenet.embeddings import embed

    if indices is not None:
        indices = _check_indices(indices, len(window_starts(spec, y.size)))
    X = embed(y, models=spec.embedding.split("+"), layers=spec.layer.split("+"), hop_frames=spec.hop_frames,
              pad=spec.pad, min_fill=spec.min_fill, select=indices)
    return pool_windows(spec, X)


_EXTRACTORS["embedding"] = _extract_embedding


def window_starts(spec: str | FeatureSpec | dict, n_samples: int) -> np.ndarray:
    """First sample of every window :func:`extract` computes for a signal of ``n_samples`` at ``spec.sr``.

    The policy of :func:`genrenet.audio.window_starts` on a grid of ``spec.hop_samples``
    (the hop rounded to whole STFT frames for the spectral kinds). For kind ``"embedding"``
    the same policy counted in frames of musicnn's front end
    (:func:`genrenet.embeddings.patch_starts`).

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> len(window_starts("musicnn", 30 * 16000))
    10
    """
    from genrenet.audio import window_starts as grid

    spec = get_spec(spec)
    if spec.kind == "embedding":
        from genrenet.embeddings import HOP_LENGTH, patch_starts

        frames = 1 + int(n_samples) // HOP_LENGTH
        return patch_starts(frames, hop_frames=spec.hop_frames, min_fill=spec.min_fill) * HOP_LENGTH
    starts, _ = grid(int(n_samples), spec.sr, window=spec.window, hop=spec.hop_samples / spec.sr,
                     min_fill=spec.min_fill)
    return starts


@dataclass(frozen=True)
class WindowPlan:
    """Which windows of a signal are computed: all of them, or evenly spaced ones of a long track.

    Attributes
    ----------
    total : int
        Windows the whole signal has (:func:`window_starts`).
    indices : ndarray of int64
        The window numbers to compute, increasing (``extract(..., indices=plan.indices)``).
    """

    total: int
    indices: np.ndarray

    @property
    def used(self) -> int:
        """Windows computed."""
        return int(self.indices.size)

    @property
    def truncated(self) -> bool:
        """True when only some of the windows are computed."""
        return self.used < self.total

    def groups(self, n: int) -> list[np.ndarray]:
        """:attr:`indices` cut into at most ``n`` contiguous stretches of near-equal size (for parallel work)."""
        n = max(1, min(int(n), self.used))
        bounds = np.linspace(0, self.used, n + 1).round().astype(int)
        return [self.indices[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def plan_windows(spec: str | FeatureSpec | dict, n_samples: int, *, max_windows: int | None = None) -> WindowPlan:
    """The windows to compute of a signal of ``n_samples`` at ``spec.sr``.

    Parameters
    ----------
    spec : str, FeatureSpec or dict
    n_samples : int
        Length of the signal at ``spec.sr``.
    max_windows : int, keyword-only, optional
        Most windows to compute; a longer signal gets ``max_windows`` evenly spaced ones
        (:func:`genrenet.audio.select_windows`: the first and the last included). None: all.

    Returns
    -------
    WindowPlan

    Examples
    --------
    >>> plan = plan_windows("logmel", 600 * 22050, max_windows=48)
    >>> plan.total, plan.used, plan.truncated
    (397, 48, True)
    """
    from genrenet.audio import select_windows

    total = len(window_starts(spec, n_samples))
    if max_windows is None or total <= max_windows:
        return WindowPlan(total, np.arange(total, dtype=np.int64))
    return WindowPlan(total, select_windows(total, max_windows))


def input_scale(spec_or_dtype: str | FeatureSpec | dict | np.dtype | type) -> float:
    """The divisor that brings features to the range networks train on: 255 for uint8 pictures, else 1.

    The one scaling rule: training divides the thesis images (kind ``"image"``, uint8) by
    it, and the model saved in a bundle starts with the inverse ``Rescaling`` layer
    (:func:`genrenet.train.serving_model`), so a bundle takes :func:`extract`'s output as it is.

    Parameters
    ----------
    spec_or_dtype : FeatureSpec, preset name, dict, or a NumPy dtype
        The feature, or the dtype of feature arrays whose spec is not known.

    Examples
    --------
    >>> input_scale("thesis_image"), input_scale("logmel")
    (255.0, 1.0)
    """
    if isinstance(spec_or_dtype, str | dict | FeatureSpec):
        dtype = np.dtype(get_spec(spec_or_dtype).dtype)
    else:
        dtype = np.dtype(spec_or_dtype)
    return 255.0 if dtype == np.uint8 else 1.0


def extract(spec: str | FeatureSpec | dict, y: np.ndarray, sr: int, *, indices=None) -> np.ndarray:
    """Cut a mono signal into windows and compute the feature of every window.

    Parameters
    ----------
    spec : str, FeatureSpec or dict
        The feature (see :func:`get_spec`).
    y : ndarray
        Mono signal ``(n,)``, ``n > 0``, finite.
    sr : int
        Sample rate of ``y``; resampled to ``spec.sr`` when different.
    indices : sequence of int or None, keyword-only
        Compute only these windows (increasing numbers into :func:`window_starts`);
        the rows equal the same rows of the full result.

    Returns
    -------
    ndarray, shape ``(n_windows, *spec.shape)``, dtype ``spec.dtype``

    Raises
    ------
    ParameterError
        ``y`` is empty, not 1-D or not finite, ``sr`` is invalid, or ``indices`` are not
        increasing window numbers.

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=10.0, amplitude=0.5)
    >>> extract("logmel", y, 22050).shape
    (6, 128, 130, 1)
    >>> extract("mfcc_stats", y, 22050).shape
    (6, 52)
    """
    from genrenet.audio import resample

    spec = get_spec(spec)
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"y must be a non-empty mono 1-D signal, got shape {y.shape}")
    sample_rate(sr)
    y = y.astype(np.float32, copy=False)
    if not np.isfinite(y).all():
        raise ParameterError("y contains NaN or infinite samples")
    if int(sr) != spec.sr:
        y = resample(y, int(sr), spec.sr)
    return _EXTRACTORS[spec.kind](spec, y, indices)


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

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import soundfile as sf
    >>> from genrenet import synth
    >>> with tempfile.TemporaryDirectory() as tmp:  # a synthesised tone written as a 44.1 kHz WAV
    ...     path = pathlib.Path(tmp) / "a440.wav"
    ...     sf.write(path, synth.tone(440.0, sr=44100, duration=10.0, amplitude=0.5), 44100)
    ...     X = extract_file("mfcc_stats", path)
    ...
    >>> X.shape
    (6, 52)
    """
    from genrenet.audio import load

    spec = get_spec(spec)
    y, _ = load(path, sr=spec.sr, mono=True, offset=offset, duration=duration)
    return _EXTRACTORS[spec.kind](spec, y, None)  # load() returns a finite, non-empty float32 signal at spec.sr
