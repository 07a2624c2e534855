"""Degraded copies of a signal: what real uploads go through before they reach a model.

A user's file is rarely the clean 22,050 Hz clip a model was trained on: it was
encoded as a low-bitrate MP3, recorded or exported at a low sample rate, left
quiet, or mixed in stereo. Each :class:`Degradation` turns a mono signal into the
*file* such an upload would be (:func:`encode`), and reads it back through
:mod:`genrenet.audio` like every upload (:func:`decode`), so a copy meets exactly
the decoder, resampler and mix-down a real upload meets.

The degradations of the robustness benchmark (:data:`DEFAULT_DEGRADATIONS`):

=============== ===================================================================
name            the file
=============== ===================================================================
``mp3_64``      MP3, 64 kbps constant bitrate (LAME through ``ffmpeg``), 44.1 kHz mono
``mp3_32``      MP3, 32 kbps, likewise (LAME keeps nothing above about 8 kHz)
``sr_16k``      16-bit FLAC at 16 kHz: nothing above 8 kHz
``sr_8k``       16-bit FLAC at 8 kHz: nothing above 4 kHz
``gain_-20db``  16-bit FLAC 20 dB quieter (its quantisation noise 20 dB nearer the music)
``stereo_mono`` 16-bit stereo FLAC whose channels differ by a small delay and level
                (:func:`stereo_image`); genrenet mixes it down to mono when reading it
=============== ===================================================================

Other strengths follow the same patterns (:func:`get_degradation`): ``mp3_<kbps>``,
``sr_<kHz>k``, ``gain_<dB>db``. MP3s are encoded at 44.1 kHz, the rate of nearly every
MP3 in the wild (libmpg123 also reports frame errors on LAME's 22.05 kHz MPEG-2 streams).
Encoding needs the ``ffmpeg`` program with its ``libmp3lame`` encoder; without it
:class:`EncoderError` says so and how to install it.

Used by ``benchmarks/bench_robustness.py``, whose agreement table the model cards
(book chapter ``book/dev_models.md``) state, and by training augmentation (:mod:`genrenet.augment`);
no notebook calls it.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrenet._validate import number
from genrenet.errors import AudioError, GenrenetError, ParameterError

__all__ = [
    "EncoderError",
    "Degradation",
    "EncodedCopy",
    "DEFAULT_DEGRADATIONS",
    "MP3_SAMPLE_RATE",
    "MP3_BITRATES",
    "get_degradation",
    "check_mp3_encoder",
    "encode",
    "decode",
    "degrade",
    "encode_mp3",
    "band_limit",
    "gain",
    "stereo_image",
]

#: The degradations of the robustness benchmark, in the order its tables show them.
DEFAULT_DEGRADATIONS = ("mp3_64", "mp3_32", "sr_16k", "sr_8k", "gain_-20db", "stereo_mono")

#: Sample rate MP3 copies are encoded at (Hz).
MP3_SAMPLE_RATE = 44_100
#: Bitrates (kbps) an MPEG-1 Layer III stream at 44.1 kHz may have.
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)

_TIMEOUT = 120.0  # seconds ffmpeg may take to encode one clip
_FULL_SCALE = 1.0 - 1.0 / 32768  # largest value a 16-bit file holds
_PATTERNS = (
    (re.compile(r"^mp3_(\d+)$"), "mp3"),
    (re.compile(r"^sr_(\d+(?:\.\d+)?)k$"), "band_limit"),
    (re.compile(r"^gain_(-?\d+(?:\.\d+)?)db$"), "gain"),
)


class EncoderError(GenrenetError):
    """The encoder a degradation needs is missing or failed."""


@dataclass(frozen=True)
class Degradation:
    """One kind of damage an upload may have suffered.

    Parameters
    ----------
    name : str
        Its name, e.g. ``"mp3_64"`` (used in file names, track ids and tables).
    kind : {"mp3", "band_limit", "gain", "stereo"}
        What is done.
    value : float or None
        Its strength: bitrate in kbps, sample rate in Hz or gain in dB (None for ``"stereo"``).
    label : str
        Human-readable name for tables, e.g. ``"MP3 64 kbps"``.
    """

    name: str
    kind: str
    value: float | None
    label: str

    @property
    def ext(self) -> str:
        """Extension of the copy's file: ``".mp3"`` or ``".flac"``."""
        return ".mp3" if self.kind == "mp3" else ".flac"

    def key(self) -> str:
        """Stable text naming the degradation and its settings; a cache keys copies by it.

        It changes whenever anything that shapes the copy's bytes changes (the encoder
        rate, the stereo image), so a stale cached copy is never reused.
        """
        if self.kind == "mp3":
            return f"{self.name}-v1-lame{MP3_SAMPLE_RATE}"
        if self.kind == "stereo":
            return f"{self.name}-v1-{_STEREO['delay_ms']}ms-{_STEREO['balance_db']}db-{_STEREO['crossover_hz']}hz"
        return f"{self.name}-v1-flac16"


@dataclass(frozen=True)
class EncodedCopy:
    """The file a degraded upload would be.

    Attributes
    ----------
    degradation : Degradation
    data : bytes
        The encoded file.
    ext : str
        Its extension (``".mp3"`` or ``".flac"``), which :func:`genrenet.audio.load_bytes` needs.
    info : dict
        What was made: ``bytes``, ``sample_rate``, ``channels``, ``duration``, ``bitrate_kbps``
        (measured from the size), ``clipped_samples``, and per kind ``encoder`` /
        ``target_kbps``, ``cutoff_hz``, ``gain_db``, ``delay_ms`` / ``balance_db``.
    """

    degradation: Degradation
    data: bytes
    ext: str
    info: dict


_STEREO = {"delay_ms": 0.35, "balance_db": 3.0, "crossover_hz": 250.0}


def get_degradation(name: str | Degradation) -> Degradation:
    """Return the degradation called ``name``.

    Parameters
    ----------
    name : str or Degradation
        ``"stereo_mono"``, ``"mp3_<kbps>"`` (a bitrate of :data:`MP3_BITRATES`),
        ``"sr_<kHz>k"`` (a rate from 4 to 22 kHz, e.g. ``"sr_16k"``, ``"sr_11.025k"``) or
        ``"gain_<dB>db"`` (-60 to +20 dB, e.g. ``"gain_-20db"``).

    Returns
    -------
    Degradation

    Raises
    ------
    ParameterError
        For a name no pattern matches or a strength out of range.
    """
    if isinstance(name, Degradation):
        return name
    if not isinstance(name, str):
        raise ParameterError(f"degradation must be a name like 'mp3_64', got {type(name).__name__}")
    if name == "stereo_mono":
        return Degradation(name, "stereo", None, "stereo → mono")
    for pattern, kind in _PATTERNS:
        match = pattern.match(name)
        if match:
            return _make(name, kind, float(match.group(1)))
    raise ParameterError(f"unknown degradation {name!r}; use 'stereo_mono', 'mp3_<kbps>' (e.g. 'mp3_64'), "
                         f"'sr_<kHz>k' (e.g. 'sr_16k') or 'gain_<dB>db' (e.g. 'gain_-20db')")


def _make(name: str, kind: str, value: float) -> Degradation:
    if kind == "mp3":
        if int(value) not in MP3_BITRATES:
            raise ParameterError(f"degradation {name!r}: an MP3 at {MP3_SAMPLE_RATE} Hz has one of the bitrates "
                                 f"{MP3_BITRATES} kbps")
        return Degradation(name, kind, int(value), f"MP3 {int(value)} kbps")
    if kind == "band_limit":
        rate = value * 1000.0
        if not 4000 <= rate <= 22050 or rate != int(rate):
            raise ParameterError(f"degradation {name!r}: the sample rate must be a whole number of Hz "
                                 "from 4 kHz to 22.05 kHz")
        return Degradation(name, kind, int(rate), f"{value:g} kHz sample rate")
    if not -60.0 <= value <= 20.0:
        raise ParameterError(f"degradation {name!r}: the gain must lie from -60 to +20 dB")
    return Degradation(name, kind, value, f"{value:+g} dB".replace("-", "−"))


# --------------------------------------------------------------------------- signal operations


def _check_signal(y, sr) -> tuple[np.ndarray, int]:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 4000 <= sr <= 384_000:
        raise ParameterError(f"sr must be an integer sample rate from 4000 to 384000 Hz, got {sr!r}")
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"y must be a non-empty 1-D float signal, got shape {y.shape} and dtype {y.dtype}")
    if not np.isfinite(y).all():
        raise ParameterError("y contains NaN or infinite samples")
    return y.astype(np.float32, copy=False), int(sr)


def band_limit(y: np.ndarray, sr: int, *, rate: int = 16_000) -> np.ndarray:
    """Resample to ``rate`` (so nothing above ``rate / 2`` remains) and back to ``sr``.

    Parameters
    ----------
    y : ndarray
        Mono float signal.
    sr : int
        Its sample rate in Hz.
    rate : int, keyword-only
        The low sample rate, from 4000 Hz to ``sr``.

    Returns
    -------
    ndarray of float32
        Same length as ``y``. Resampling is genrenet's (SoX ``"HQ"``), as when a
        ``rate``-Hz file is decoded for a model.
    """
    from genrenet.audio import resample

    y, sr = _check_signal(y, sr)
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 4000 <= rate <= sr:
        raise ParameterError(f"rate must be an integer from 4000 Hz to sr={sr} Hz, got {rate!r}")
    return _fit(resample(resample(y, sr, int(rate)), int(rate), sr), y.size)


def gain(y: np.ndarray, *, db: float = -20.0) -> np.ndarray:
    """Scale ``y`` by ``db`` decibels (amplitude factor ``10 ** (db / 20)``).

    Parameters
    ----------
    y : ndarray
        Float signal.
    db : float, keyword-only
        Gain in dB, finite.

    Returns
    -------
    ndarray of float32
    """
    number("db", db, what="a finite number of decibels")
    return (np.asarray(y, dtype=np.float32) * np.float32(10.0 ** (float(db) / 20.0))).astype(np.float32)


def stereo_image(y: np.ndarray, sr: int, *, delay_ms: float = 0.35, balance_db: float = 3.0,
                 crossover_hz: float = 250.0) -> np.ndarray:
    """A plausible stereo version of a mono signal, as a spaced microphone pair or a panned mix gives.

    The bass (below ``crossover_hz``) sits in the centre, identical in both channels.
    Above it the left channel is ``balance_db`` louder than the right one, and the
    right one arrives ``delay_ms`` later. Mixing the channels down to mono, as
    genrenet does, is then not the original: the delayed half interferes with the
    other (a comb filter with its first dip at ``1 / (2 * delay)``, shallow because
    the levels differ).

    Parameters
    ----------
    y : ndarray
        Mono float signal.
    sr : int
        Its sample rate in Hz.
    delay_ms : float, keyword-only
        Delay of the right channel's upper band, 0 to 5 ms.
    balance_db : float, keyword-only
        Level difference of the upper band between the channels, 0 to 20 dB.
    crossover_hz : float, keyword-only
        Edge between the shared bass and the panned band, 20 Hz to ``sr / 4``.

    Returns
    -------
    ndarray of float32, shape ``(2, len(y))``
        Left and right channels.
    """
    from scipy.signal import butter, sosfiltfilt

    y, sr = _check_signal(y, sr)
    for pname, value, low, high in (("delay_ms", delay_ms, 0.0, 5.0), ("balance_db", balance_db, 0.0, 20.0),
                                    ("crossover_hz", crossover_hz, 20.0, sr / 4)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ParameterError(f"{pname} must be a number from {low:g} to {high:g}, got {value!r}")
    sos = butter(4, float(crossover_hz), btype="lowpass", fs=sr, output="sos")
    low_band = sosfiltfilt(sos, y.astype(np.float64)) if y.size > 27 else y.astype(np.float64)
    high_band = y - low_band  # zero-phase split: the two bands add up to y exactly
    shift = int(round(float(delay_ms) * sr / 1000.0))
    late = np.concatenate([np.zeros(shift), high_band[: y.size - shift]]) if shift else high_band
    half = 10.0 ** (float(balance_db) / 40.0)  # +balance/2 on the left, -balance/2 on the right
    left = low_band + half * high_band
    right = low_band + late / half
    return np.stack([left, right]).astype(np.float32)


# --------------------------------------------------------------------------- files


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise EncoderError("MP3 copies need the ffmpeg program with its libmp3lame encoder, and ffmpeg is not "
                           "on PATH (install it, e.g. 'apt-get install ffmpeg')")
    return exe


def check_mp3_encoder() -> str:
    """Return the path of an ``ffmpeg`` that has the ``libmp3lame`` encoder, or raise :class:`EncoderError`.

    Callers that are about to make many MP3 copies check once, before any work.
    """
    exe = _ffmpeg()
    try:
        run = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EncoderError(f"cannot run ffmpeg to list its encoders ({exc})") from None
    if b"libmp3lame" not in run.stdout:
        raise EncoderError(_NO_LAME)
    return exe


_NO_LAME = ("the ffmpeg on PATH has no MP3 encoder (libmp3lame); install an ffmpeg built with it, "
            "e.g. Debian's 'apt-get install ffmpeg'")


def encode_mp3(y: np.ndarray, sr: int, *, bitrate: int = 64) -> bytes:
    """Encode a mono signal as a constant-bitrate MP3 at :data:`MP3_SAMPLE_RATE` Hz.

    Parameters
    ----------
    y : ndarray
        Mono float signal (clipped to full scale, as any fixed-point encoder would).
    sr : int
        Its sample rate in Hz; it is resampled to 44.1 kHz first.
    bitrate : int, keyword-only
        Kilobits per second, one of :data:`MP3_BITRATES`.

    Returns
    -------
    bytes
        The MP3 file, with the LAME header that lets decoders drop the encoder's
        delay and padding (so the decoded copy lines up with ``y``).

    Raises
    ------
    EncoderError
        ``ffmpeg`` is missing, lacks ``libmp3lame``, or fails.
    """
    from genrenet.audio import resample

    y, sr = _check_signal(y, sr)
    if isinstance(bitrate, bool) or not isinstance(bitrate, (int, np.integer)) or bitrate not in MP3_BITRATES:
        raise ParameterError(f"bitrate must be one of {MP3_BITRATES} kbps, got {bitrate!r}")
    exe = _ffmpeg()
    pcm = np.clip(resample(y, sr, MP3_SAMPLE_RATE), -1.0, 1.0).astype("<f4").tobytes()
    with tempfile.TemporaryDirectory(prefix="genrenet-mp3-") as tmp:
        out = Path(tmp) / "copy.mp3"  # a seekable file: ffmpeg completes the LAME header at the end
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(MP3_SAMPLE_RATE),
               "-ac", "1", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", f"{int(bitrate)}k", "-f", "mp3", str(out)]
        try:
            run = subprocess.run(cmd, input=pcm, capture_output=True, timeout=_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise EncoderError(f"ffmpeg took more than {_TIMEOUT:g} s to encode an MP3 and was stopped") from None
        except OSError as exc:
            raise EncoderError(f"cannot run ffmpeg to encode an MP3 ({exc.strerror or exc})") from None
        message = run.stderr.decode("utf-8", errors="replace").strip().splitlines()
        if run.returncode != 0:
            last = message[-1] if message else f"exit status {run.returncode}"
            if "libmp3lame" in " ".join(message) and ("Unknown encoder" in last or "not found" in last.lower()):
                raise EncoderError(_NO_LAME)
            raise EncoderError(f"ffmpeg could not encode the MP3: {last}")
        data = out.read_bytes() if out.is_file() else b""
    if not data:
        raise EncoderError("ffmpeg wrote an empty MP3")
    return data


def _pcm_file(channels: np.ndarray, sr: int) -> tuple[bytes, int]:
    """A 16-bit FLAC of ``channels`` (shape ``(n,)`` or ``(c, n)``) and how many samples were clipped."""
    import soundfile as sf

    frames = np.atleast_2d(channels).T
    clipped = int(np.count_nonzero(np.abs(frames) > _FULL_SCALE))
    buf = io.BytesIO()
    sf.write(buf, np.clip(frames, -1.0, _FULL_SCALE), int(sr), format="FLAC", subtype="PCM_16")
    return buf.getvalue(), clipped


def encode(y: np.ndarray, sr: int, degradation: str | Degradation) -> EncodedCopy:
    """Make the file a degraded upload of ``y`` would be.

    Parameters
    ----------
    y : ndarray
        Mono float signal.
    sr : int
        Its sample rate in Hz.
    degradation : str or Degradation
        See :func:`get_degradation`.

    Returns
    -------
    EncodedCopy

    Raises
    ------
    ParameterError
        Bad signal or name, or a band limit at or above ``sr``.
    EncoderError
        An MP3 was asked for and the encoder is missing or failed.
    """
    d = get_degradation(degradation)
    y, sr = _check_signal(y, sr)
    info: dict = {}
    if d.kind == "mp3":
        rate, n_ch = MP3_SAMPLE_RATE, 1
        data, clipped = encode_mp3(y, sr, bitrate=int(d.value)), int(np.count_nonzero(np.abs(y) > 1.0))
        info.update(encoder="LAME (ffmpeg libmp3lame), constant bitrate", target_kbps=int(d.value))
    elif d.kind == "band_limit":
        if d.value >= sr:
            raise ParameterError(f"degradation {d.name!r} limits to {d.value} Hz, not below the signal's {sr} Hz")
        from genrenet.audio import resample

        rate, n_ch = int(d.value), 1
        data, clipped = _pcm_file(resample(y, sr, rate), rate)
        info["cutoff_hz"] = rate / 2
    elif d.kind == "gain":
        rate, n_ch = sr, 1
        data, clipped = _pcm_file(gain(y, db=float(d.value)), sr)
        info["gain_db"] = float(d.value)
    else:
        rate, n_ch = sr, 2
        pair = stereo_image(y, sr, **_STEREO)
        peak = float(np.abs(pair).max())
        scale = _FULL_SCALE / peak if peak > _FULL_SCALE else 1.0  # a master is never clipped on purpose
        data, clipped = _pcm_file(pair * np.float32(scale), sr)
        info.update(delay_ms=_STEREO["delay_ms"], balance_db=_STEREO["balance_db"],
                    crossover_hz=_STEREO["crossover_hz"], scaled_db=round(20 * math.log10(scale), 3))
    duration = y.size / sr
    info.update(bytes=len(data), sample_rate=rate, channels=n_ch, duration=round(duration, 4),
                bitrate_kbps=round(8 * len(data) / duration / 1000.0, 2), clipped_samples=clipped)
    return EncodedCopy(d, data, d.ext, info)


def decode(copy: EncodedCopy, *, sr: int = 22050, n: int | None = None) -> np.ndarray:
    """Read a copy back as an upload is read: :func:`genrenet.audio.load_bytes`, mono, at ``sr``.

    Parameters
    ----------
    copy : EncodedCopy
    sr : int, keyword-only
        Sample rate to decode at.
    n : int, keyword-only, optional
        Length of the original; the copy is cut or zero-padded to it (an MP3 decoder
        may return up to one frame more or less). Without it the decoded length is kept.

    Returns
    -------
    ndarray of float32

    Raises
    ------
    AudioError
        The copy does not decode (never expected for a copy :func:`encode` made).
    """
    from genrenet.audio import load_bytes

    if not isinstance(copy, EncodedCopy):
        raise ParameterError(f"copy must be an EncodedCopy, got {type(copy).__name__}")
    try:
        y, _ = load_bytes(copy.data, filename_hint=f"{copy.degradation.name}{copy.ext}", sr=sr, mono=True)
    except AudioError as exc:
        raise AudioError(exc.path, f"the {copy.degradation.label} copy does not decode: {exc.cause}") from None
    return y if n is None else _fit(y, int(n))


def degrade(y: np.ndarray, sr: int, degradation: str | Degradation) -> np.ndarray:
    """Degrade ``y``: :func:`encode` it and :func:`decode` it back at ``sr``, same length.

    Parameters
    ----------
    y : ndarray
        Mono float signal.
    sr : int
        Its sample rate in Hz.
    degradation : str or Degradation
        See :func:`get_degradation`.

    Returns
    -------
    ndarray of float32, shape ``(len(y),)``
    """
    y, sr = _check_signal(y, sr)
    return decode(encode(y, sr, degradation), sr=sr, n=y.size)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    if y.size >= n:
        return np.ascontiguousarray(y[:n], dtype=np.float32)
    return np.concatenate([y, np.zeros(n - y.size, dtype=np.float32)]).astype(np.float32)
