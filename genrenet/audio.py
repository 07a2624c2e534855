"""Reading audio files and cutting them into fixed-length analysis windows.

Book chapter 05 (audio processing) and notebook ``notebooks/signal_processing.ipynb``
use this module; so do the feature pipeline (:mod:`genrenet.features`), the feature
cache, prediction and the web service.

Decoding
    WAV, AU, FLAC, OGG/Vorbis, Opus, AIFF and MP3 are decoded by libsndfile (through
    ``soundfile``; libsndfile >= 1.1 decodes MP3 with libmpg123). M4A/AAC/MP4 are
    decoded by the external ``ffmpeg`` program into 32-bit float PCM on a pipe.
Resampling
    When the file's rate differs from ``sr``, the signal is resampled with the SoX
    resampler (``soxr``, quality ``"HQ"``), which is what ``librosa.load`` uses by
    default, so our signals match librosa's. ``soxr`` ships with librosa; if it is
    missing we fall back to ``scipy.signal.resample_poly`` (Kaiser window, beta 5).
Validation
    Missing, empty, non-audio, corrupt or truncated files, and signals that are empty
    or contain NaN/inf after decoding, raise :class:`genrenet.errors.AudioError`
    naming the file and the cause.

Windowing policy (:func:`windows`)
    A signal of ``n`` samples is cut into windows of ``W = round(window * sr)``
    samples whose starts lie on a grid of ``H = round(hop * sr)`` samples.

    * Every grid window that lies completely inside the signal is kept.
    * The partly filled window after them (the "tail") is kept only if at least
      ``min_fill * W`` of it is real audio *and* it holds audio that no earlier
      window covers; its missing part is padded (``pad="zero"``: zeros;
      ``pad="repeat"``: the tail's own audio repeated).
    * A signal shorter than one window always yields exactly one padded window,
      whatever ``min_fill`` says, so every non-empty clip produces a prediction.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrenet.errors import AudioError, ParameterError

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "FFMPEG_EXTENSIONS",
    "AudioInfo",
    "load",
    "load_bytes",
    "info",
    "resample",
    "windows",
    "window_starts",
    "select_windows",
]

#: Extensions decoded by libsndfile.
SOUNDFILE_EXTENSIONS = (".wav", ".wave", ".au", ".snd", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".mp3")
#: Extensions decoded by the ``ffmpeg`` program.
FFMPEG_EXTENSIONS = (".m4a", ".aac", ".mp4")
#: Every extension :func:`load` accepts (lower case, with the dot).
SUPPORTED_EXTENSIONS = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS

# An MP3 whose decoded length falls short of the length its header declares by more
# than this many samples (or this fraction) is reported as truncated.
_MP3_FRAME = 1152
_MP3_SHORT_FRACTION = 0.02


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`info` knows about a file without decoding all of it.

    Attributes
    ----------
    path : Path
        The file.
    sr : int
        Native sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of samples per channel (for MP3 without a Xing header: an estimate).
    duration : float
        Length in seconds (``frames / sr``).
    format : str
        Container format as reported by the decoder, e.g. ``"WAV"`` or ``"mov,mp4,m4a"``.
    """

    path: Path
    sr: int
    channels: int
    frames: int
    duration: float
    format: str


# --------------------------------------------------------------------------- helpers


def _check_sr(sr, name: str = "sr") -> int | None:
    if sr is None:
        return None
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"{name} must be a positive integer number of Hz or None, got {sr!r}")
    return int(sr)


def _check_span(offset, duration) -> tuple[float, float | None]:
    try:
        offset = float(offset)
    except (TypeError, ValueError):
        raise ParameterError(f"offset must be a number of seconds, got {offset!r}") from None
    if not np.isfinite(offset) or offset < 0:
        raise ParameterError(f"offset must be a finite number of seconds >= 0, got {offset!r}")
    if duration is not None:
        try:
            duration = float(duration)
        except (TypeError, ValueError):
            raise ParameterError(f"duration must be a number of seconds or None, got {duration!r}") from None
        if not np.isfinite(duration) or duration <= 0:
            raise ParameterError(f"duration must be a finite number of seconds > 0 or None, got {duration!r}")
    return offset, duration


def _extension(name: str | os.PathLike | None) -> str:
    return "" if name is None else Path(name).suffix.lower()


def _soundfile_error(exc: Exception) -> str:
    text = str(exc)
    # soundfile prefixes "Error opening '<path>': " - the path is already in AudioError.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    if "does not exist or is not a regular file" in text:
        text = "not a decodable audio stream (corrupt or truncated)"
    return f"not a readable audio file ({text.strip()})"


def _decode_soundfile(source, where: str | Path | None, *, offset: float, duration: float | None,
                      is_mp3: bool) -> tuple[np.ndarray, int]:
    """Decode ``source`` (path or file-like) with libsndfile into (frames, channels) float32."""
    import soundfile as sf

    try:
        with sf.SoundFile(source) as fh:
            native = int(fh.samplerate)
            declared = int(fh.frames)
            start = int(round(offset * native))
            if start > 0:
                if declared and start >= declared:
                    raise AudioError(where, f"offset {offset:g} s is beyond the end of the audio "
                                     f"({declared / native:.3f} s)")
                if fh.seekable():
                    fh.seek(start)
                else:  # pragma: no cover - every format we accept seeks
                    fh.read(start, dtype="float32", always_2d=True)
            count = -1 if duration is None else int(round(duration * native))
            data = fh.read(count, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, EOFError) as exc:
        raise AudioError(where, _soundfile_error(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise AudioError(where, f"not a readable audio file ({exc})") from exc
    if is_mp3 and declared > 0:
        expected = declared - start if count < 0 else min(count, declared - start)
        short = expected - data.shape[0]
        if short > max(_MP3_FRAME, _MP3_SHORT_FRACTION * declared):
            raise AudioError(where, f"MP3 stream is truncated or corrupt: decoded {data.shape[0]} of "
                             f"{expected} samples the header declares")
    return data, native


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioError(None, "decoding M4A/AAC/MP4 needs the ffmpeg program, which is not on PATH "
                         "(install it, e.g. 'apt-get install ffmpeg')")
    return exe


def _probe(path: Path) -> tuple[int, int, float, str]:
    """(sample rate, channels, duration, format) of the first audio stream, via ffprobe."""
    exe = shutil.which("ffprobe")
    if exe is None:
        _ffmpeg()  # raises the 'ffmpeg needed' error when both are missing
        raise AudioError(path, "reading M4A/AAC/MP4 needs ffprobe (part of ffmpeg), which is not on PATH")
    cmd = [exe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration:format=duration,format_name", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise AudioError(path, f"ffprobe cannot read it ({proc.stderr.decode(errors='replace').strip()})")
    meta = json.loads(proc.stdout or b"{}")
    streams = meta.get("streams") or []
    if not streams:
        raise AudioError(path, "the file has no audio stream")
    stream = streams[0]
    fmt = meta.get("format") or {}
    dur = stream.get("duration") or fmt.get("duration") or 0.0
    return int(stream["sample_rate"]), int(stream["channels"]), float(dur), str(fmt.get("format_name", ""))


def _decode_ffmpeg(path: Path, *, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    exe = _ffmpeg()
    native, channels, _, _ = _probe(path)
    cmd = [exe, "-nostdin", "-v", "error"]
    if offset > 0:
        cmd += ["-ss", f"{offset:.6f}"]
    cmd += ["-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    cmd += ["-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(native), "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise AudioError(path, f"ffmpeg cannot decode it ({proc.stderr.decode(errors='replace').strip()})")
    raw = np.frombuffer(proc.stdout, dtype="<f4")
    usable = raw.size - raw.size % channels
    return raw[:usable].reshape(-1, channels).astype(np.float32, copy=True), native


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``y`` (last axis is time) from ``orig_sr`` to ``target_sr`` Hz.

    Parameters
    ----------
    y : ndarray
        Signal, shape ``(n,)`` or ``(channels, n)``.
    orig_sr, target_sr : int
        Sample rates in Hz.

    Returns
    -------
    ndarray
        float32 signal of length ``ceil(n * target_sr / orig_sr)``; ``y`` itself when the
        rates are equal. Uses soxr ``"HQ"`` (as librosa does), else scipy's polyphase filter.
    """
    orig_sr = _check_sr(orig_sr, "orig_sr")
    target_sr = _check_sr(target_sr, "target_sr")
    if orig_sr is None or target_sr is None:
        raise ParameterError("orig_sr and target_sr must both be given")
    y = np.asarray(y, dtype=np.float32)
    if orig_sr == target_sr:
        return y
    try:
        import soxr
    except ImportError:  # pragma: no cover - soxr ships with librosa
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(orig_sr, target_sr)
        out = resample_poly(y, target_sr // g, orig_sr // g, axis=-1)
        n_out = int(np.ceil(y.shape[-1] * target_sr / orig_sr))
        return np.ascontiguousarray(out[..., :n_out], dtype=np.float32)
    if y.ndim == 1:
        return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    # soxr wants (frames, channels)
    return np.ascontiguousarray(soxr.resample(y.T, orig_sr, target_sr, quality="HQ").T, dtype=np.float32)


def _finish(data: np.ndarray, native: int, where, *, sr: int | None, mono: bool) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 -> validated, mixed-down, resampled output."""
    if data.size == 0 or data.shape[0] == 0:
        raise AudioError(where, "the audio signal is empty (zero samples)")
    finite = np.isfinite(data)
    if not finite.all():
        what = "all samples are NaN/inf" if not finite.any() else f"{int((~finite).sum())} samples are NaN/inf"
        raise AudioError(where, f"the decoded signal is not finite: {what}")
    y = data.mean(axis=1) if mono else data.T
    y = np.ascontiguousarray(y, dtype=np.float32)
    if sr is not None and sr != native:
        y = resample(y, native, sr)
        native = sr
    return y, native


# --------------------------------------------------------------------------- public API


def load(path: str | os.PathLike, *, sr: int | None = 22050, mono: bool = True, offset: float = 0.0,
         duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file into a float32 signal.

    Parameters
    ----------
    path : str or path-like
        File with one of :data:`SUPPORTED_EXTENSIONS`.
    sr : int or None, keyword-only
        Target sample rate in Hz; ``None`` keeps the file's native rate.
    mono : bool, keyword-only
        Average the channels into one (default). With ``False`` the result has shape
        ``(channels, n)``.
    offset : float, keyword-only
        Start reading this many seconds into the file.
    duration : float or None, keyword-only
        Read at most this many seconds (``None``: to the end).

    Returns
    -------
    y : ndarray of float32
        Shape ``(n,)`` (mono) or ``(channels, n)``, samples in [-1, 1] for PCM input.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        The file is missing, empty, not audio, corrupt or truncated, needs ffmpeg that
        is absent, or decodes to an empty or non-finite signal.
    ParameterError
        ``sr``, ``offset`` or ``duration`` is invalid.
    """
    sr = _check_sr(sr)
    offset, duration = _check_span(offset, duration)
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(path, f"unsupported file extension {ext or '(none)'!r}; supported: "
                         + ", ".join(SUPPORTED_EXTENSIONS))
    if not path.exists():
        raise AudioError(path, "file does not exist")
    if not path.is_file():
        raise AudioError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    if ext in FFMPEG_EXTENSIONS:
        try:
            data, native = _decode_ffmpeg(path, offset=offset, duration=duration)
        except AudioError as exc:
            if exc.path is None:
                raise AudioError(path, exc.cause) from None
            raise
    else:
        data, native = _decode_soundfile(str(path), path, offset=offset, duration=duration, is_mp3=ext == ".mp3")
    return _finish(data, native, path, sr=sr, mono=mono)


def load_bytes(data: bytes, *, filename_hint: str | None = None, sr: int | None = 22050, mono: bool = True,
               offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode audio held in memory (an upload), like :func:`load`.

    Parameters
    ----------
    data : bytes
        The encoded file.
    filename_hint : str or None, keyword-only
        Original file name; its extension selects the decoder and it names the
        upload in error messages. Without it libsndfile guesses the format.
    sr, mono, offset, duration
        As for :func:`load`.

    Returns
    -------
    y : ndarray of float32
    sr : int

    Raises
    ------
    AudioError
        The bytes are empty or are not decodable audio.

    Notes
    -----
    libsndfile formats are decoded straight from memory. M4A/AAC/MP4 go through
    ffmpeg via a private temporary file that is always removed afterwards.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    sr = _check_sr(sr)
    offset, duration = _check_span(offset, duration)
    where = filename_hint or None
    ext = _extension(filename_hint)
    if ext and ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(where, f"unsupported file extension {ext!r}; supported: " + ", ".join(SUPPORTED_EXTENSIONS))
    if len(data) == 0:
        raise AudioError(where, "the upload is empty (0 bytes)")
    if ext in FFMPEG_EXTENSIONS:
        try:
            _ffmpeg()
        except AudioError as exc:
            raise AudioError(where, exc.cause) from None
        fd, tmp = tempfile.mkstemp(prefix="genrenet-upload-", suffix=ext)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            try:
                return load(tmp, sr=sr, mono=mono, offset=offset, duration=duration)
            except AudioError as exc:
                raise AudioError(where, exc.cause) from None
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:  # pragma: no cover
                pass
    decoded, native = _decode_soundfile(io.BytesIO(data), where, offset=offset, duration=duration,
                                        is_mp3=ext == ".mp3")
    return _finish(decoded, native, where, sr=sr, mono=mono)


def info(path: str | os.PathLike) -> AudioInfo:
    """Return sample rate, channels and duration of ``path`` without decoding it all.

    Parameters
    ----------
    path : str or path-like
        Audio file with one of :data:`SUPPORTED_EXTENSIONS`.

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioError
        The file is missing, empty, unsupported or unreadable.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(path, f"unsupported file extension {ext or '(none)'!r}")
    if not path.is_file():
        raise AudioError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    if ext in FFMPEG_EXTENSIONS:
        try:
            native, channels, dur, fmt = _probe(path)
        except AudioError as exc:
            if exc.path is None:
                raise AudioError(path, exc.cause) from None
            raise
        return AudioInfo(path, native, channels, int(round(dur * native)), dur, fmt)
    import soundfile as sf

    try:
        meta = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(path, _soundfile_error(exc)) from exc
    sr = int(meta.samplerate)
    return AudioInfo(path, sr, int(meta.channels), int(meta.frames), meta.frames / sr, str(meta.format))


def window_starts(n: int, sr: int, *, window: float = 3.0, hop: float = 1.5, min_fill: float = 0.5
                  ) -> tuple[np.ndarray, int]:
    """Start samples of the windows :func:`windows` cuts from ``n`` samples.

    Parameters
    ----------
    n : int
        Signal length in samples (> 0).
    sr : int
        Sample rate in Hz.
    window, hop, min_fill
        As for :func:`windows`.

    Returns
    -------
    starts : ndarray of int64
        Start sample of every window, ascending.
    length : int
        Window length in samples.
    """
    sr = _check_sr(sr)
    if sr is None:
        raise ParameterError("sr must be given")
    length, step = _window_sizes(sr, window, hop)
    if not 0.0 <= float(min_fill) <= 1.0:
        raise ParameterError(f"min_fill must lie in [0, 1], got {min_fill!r}")
    n = int(n)
    if n <= 0:
        raise ParameterError(f"the signal is empty (n={n}); there is nothing to window")
    if n <= length:
        return np.zeros(1, dtype=np.int64), length
    n_full = 1 + (n - length) // step
    starts = list(range(0, n_full * step, step))
    covered = starts[-1] + length
    tail = n_full * step
    if tail < n and n > covered and (n - tail) >= min_fill * length:
        starts.append(tail)
    return np.asarray(starts, dtype=np.int64), length


def _window_sizes(sr: int, window, hop) -> tuple[int, int]:
    try:
        window = float(window)
        hop = float(hop)
    except (TypeError, ValueError):
        raise ParameterError(f"window and hop must be numbers of seconds, got {window!r}, {hop!r}") from None
    if not np.isfinite(window) or window <= 0:
        raise ParameterError(f"window must be a positive number of seconds, got {window!r}")
    if not np.isfinite(hop) or hop <= 0:
        raise ParameterError(f"hop must be a positive number of seconds, got {hop!r}")
    length = int(round(window * sr))
    step = int(round(hop * sr))
    if length < 1 or step < 1:
        raise ParameterError(f"window ({window} s) and hop ({hop} s) must each span at least one sample at {sr} Hz")
    return length, step


def windows(y: np.ndarray, sr: int, *, window: float = 3.0, hop: float = 1.5, pad: str = "zero",
            min_fill: float = 0.5) -> np.ndarray:
    """Cut a mono signal into fixed-length, possibly overlapping windows.

    The policy (see the module docstring): full windows on a grid of ``hop``
    seconds; a partly filled tail window only if at least ``min_fill`` of it is
    real audio that no earlier window covers; a clip shorter than one window
    gives exactly one padded window.

    Parameters
    ----------
    y : ndarray
        Mono signal, shape ``(n,)``, ``n > 0``.
    sr : int
        Sample rate in Hz.
    window : float, keyword-only
        Window length in seconds.
    hop : float, keyword-only
        Distance between window starts in seconds.
    pad : {"zero", "repeat"}, keyword-only
        How the missing part of a partly filled window is filled: zeros, or the
        window's own audio repeated (tiled) until the window is full.
    min_fill : float, keyword-only
        Minimum fraction of real audio a tail window needs to be kept, in [0, 1].

    Returns
    -------
    ndarray of float32, shape ``(n_windows, round(window * sr))``
        A new array (never a view of ``y``).

    Raises
    ------
    ParameterError
        ``y`` is not 1-D or is empty, or an option is invalid.
    """
    if pad not in ("zero", "repeat"):
        raise ParameterError(f"pad must be 'zero' or 'repeat', got {pad!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono 1-D signal, got shape {y.shape}")
    if y.size == 0:
        raise ParameterError("y is empty (0 samples); there is nothing to window")
    starts, length = window_starts(y.size, sr, window=window, hop=hop, min_fill=min_fill)
    y = y.astype(np.float32, copy=False)
    n = y.size
    out = np.zeros((starts.size, length), dtype=np.float32)
    full = starts + length <= n
    if full.any():
        from numpy.lib.stride_tricks import as_strided

        idx = starts[full]
        if idx.size > 1:
            step = int(idx[1] - idx[0])
            view = as_strided(y[idx[0]:], shape=(idx.size, length), strides=(step * y.strides[0], y.strides[0]),
                              writeable=False)
            out[: idx.size] = view
        else:
            out[0] = y[idx[0]: idx[0] + length]
    for i in np.flatnonzero(~full):
        part = y[starts[i]:]
        if pad == "zero":
            out[i, : part.size] = part
        else:
            out[i] = np.resize(part, length)
    return out


def select_windows(n_total: int, max_windows: int) -> np.ndarray:
    """Evenly spaced indices of at most ``max_windows`` out of ``n_total`` windows.

    Used by prediction to bound the work on long tracks while still sampling the
    whole track.

    Parameters
    ----------
    n_total : int
        Number of available windows (>= 0).
    max_windows : int
        Maximum number to keep (>= 1).

    Returns
    -------
    ndarray of int64
        Sorted, distinct indices; all of ``range(n_total)`` when ``n_total <= max_windows``;
        the middle window when ``max_windows == 1``; otherwise always including the first
        and the last window.
    """
    if isinstance(n_total, bool) or not isinstance(n_total, (int, np.integer)) or n_total < 0:
        raise ParameterError(f"n_total must be a non-negative integer, got {n_total!r}")
    if isinstance(max_windows, bool) or not isinstance(max_windows, (int, np.integer)) or max_windows < 1:
        raise ParameterError(f"max_windows must be a positive integer, got {max_windows!r}")
    n_total, max_windows = int(n_total), int(max_windows)
    if n_total <= max_windows:
        return np.arange(n_total, dtype=np.int64)
    if max_windows == 1:
        return np.array([(n_total - 1) // 2], dtype=np.int64)
    return np.round(np.linspace(0, n_total - 1, max_windows)).astype(np.int64)
