"""Reading audio files and cutting them into fixed-length analysis windows.

Book chapter "Processing: from audio to model inputs" (``book/dev_processing.md``) and notebook
``notebooks/signal_processing.ipynb``
use this module; so do the feature pipeline (:mod:`genrenet.features`), the feature
cache, prediction and the web service.

Decoding
    WAV, AU, FLAC, OGG/Vorbis, Opus, AIFF and MP3 are decoded by libsndfile (through
    ``soundfile``; libsndfile >= 1.1 decodes MP3 with libmpg123). M4A/AAC/MP4 are
    decoded by the external ``ffmpeg`` program into 32-bit float PCM on a pipe.
    Decoding is streamed in blocks of 65536 frames: each block is checked, mixed down
    and resampled before the next one is read, so memory stays proportional to the
    output signal, never to what a file's header claims.
Resampling
    When the file's rate differs from ``sr``, the signal is resampled with the SoX
    resampler (``soxr``, quality ``"HQ"``, streamed; bit-identical to one-shot
    ``soxr.resample``), which is what ``librosa.load`` uses by default, so our signals
    match librosa's. ``soxr`` is a direct dependency of genrenet.
Limits, checked on the header before anything is decoded
    The native sample rate must lie in [:data:`MIN_SAMPLE_RATE`, :data:`MAX_SAMPLE_RATE`]
    Hz and the file may have at most :data:`MAX_CHANNELS` channels. With
    ``max_duration`` the declared length must not exceed it (:class:`TrackTooLongError`),
    and decoding stops as soon as more than ``max_duration`` seconds came out, so a
    header that understates the length cannot make it decode more.
Validation
    Missing, empty, non-audio, corrupt or truncated files, paths that are not regular
    files (directories, pipes, devices), unreadable files, and signals that are empty
    or contain NaN/inf after decoding, raise :class:`genrenet.errors.AudioError`
    naming the file and the cause.

Truncated files (one policy for every format)
    A file is refused as truncated (:class:`AudioError` whose cause says "truncated")
    when its audio breaks off before the end its container announces:

    * formats that declare their length (WAV/AIFF/AU data chunk, FLAC STREAMINFO, MP3
      Xing/LAME header or estimate, MP4 duration): more than
      :data:`TRUNCATION_TOLERANCE` (2 %) and more than one MP3 frame (1152 samples) of
      the declared audio does not decode (the tolerance absorbs encoder padding and
      the estimates of MP3 files without a Xing header);
    * Ogg (Vorbis, Opus), which declares no length: the last page is incomplete or
      lacks the end-of-stream flag that every encoder sets;
    * any format: the decoder reports a broken stream (e.g. "flac decoder lost sync").

    Streamed WAVs whose header leaves the length open (size 0 or 0xFFFFFFFF) are
    decoded to their end.
Loudness
    Float files whose samples exceed full scale by far (peak above :data:`MAX_PEAK`,
    e.g. float WAVs holding 16-bit integer values or an amplitude of 1e18) are scaled
    to a peak of 1: spectra of such signals would overflow to inf. Signals within
    :data:`MAX_PEAK` are returned as decoded.

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
import math
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrenet._validate import non_negative_int, positive_float, positive_int, sample_rate
from genrenet.errors import AudioError, ParameterError

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "FFMPEG_EXTENSIONS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_CHANNELS",
    "MAX_PEAK",
    "TRUNCATION_TOLERANCE",
    "AudioInfo",
    "TrackTooLongError",
    "load",
    "load_bytes",
    "check_bytes",
    "info",
    "clean_stale_uploads",
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

#: Lowest native sample rate accepted (Hz): below it a file is not music (and a tiny
#: header could otherwise expand into a huge resampled signal).
MIN_SAMPLE_RATE = 4_000
#: Highest native sample rate accepted (Hz).
MAX_SAMPLE_RATE = 384_000
#: Most channels accepted.
MAX_CHANNELS = 32
#: Fraction of the declared audio that may be missing before a file counts as truncated.
TRUNCATION_TOLERANCE = 0.02
#: Decoded signals whose peak magnitude exceeds this are scaled to a peak of 1.
MAX_PEAK = 16.0

_SHORT_FRAMES = 1152  # one MP3 frame: decoders may legitimately drop that much
_BLOCK = 1 << 16  # frames decoded per step
_TOOL_TIMEOUT = 120.0  # seconds ffprobe/ffmpeg may take before they are killed
_UPLOAD_PREFIX = "genrenet-upload-"
# Data sizes a streaming writer puts in a header whose length it does not know yet.
_OPEN_LENGTH = 0x7FFF0000


class TrackTooLongError(AudioError):
    """The audio is longer than the ``max_duration`` the caller allows."""


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
    return sample_rate(sr, name, optional=True)


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


def _check_max_duration(max_duration) -> float | None:
    return positive_float("max_duration", max_duration, unit="seconds", optional=True)


def _extension(name: str | os.PathLike | None) -> str:
    return "" if name is None else Path(name).suffix.lower()


def _check_path(path: Path) -> None:
    """Refuse anything but a readable, non-empty regular file, saying what it is instead."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AudioError(path, "is a broken symbolic link" if path.is_symlink() else "file does not exist") from None
    except PermissionError:
        raise AudioError(path, "permission denied while looking up the file (check the directory's permissions)") \
            from None
    except OSError as exc:
        raise AudioError(path, f"cannot access the file ({exc.strerror or exc})") from None
    mode = st.st_mode
    kind = None
    if stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device file"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif not stat.S_ISREG(mode):
        kind = "a special file"
    if kind is not None:
        target = f" (a symbolic link to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise AudioError(path, f"is {kind}{target}, not a regular audio file")
    if st.st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise AudioError(path, "permission denied: the file is not readable by this user") from None
    except OSError as exc:
        raise AudioError(path, f"cannot open the file ({exc.strerror or exc})") from None


def _soundfile_error(exc: Exception) -> str:
    text = str(exc)
    # soundfile prefixes "Error opening '<path>': " - the path is already in AudioError.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    if "does not exist or is not a regular file" in text:
        text = "not a decodable audio stream (corrupt or truncated)"
    text = text.strip()
    if any(sign in text for sign in ("lost sync", "malformed", "psf_fseek", "nexpected end")):
        return f"the stream is corrupt or truncated ({text.removeprefix('Error : ').rstrip('.')})"
    return f"not a readable audio file ({text})"


def _check_header(where, *, sr: int, channels: int, frames: int, max_duration: float | None) -> None:
    """Refuse a stream by what its header declares, before anything is decoded."""
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(where, f"sample rate {sr} Hz is outside the accepted {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(where, f"the file declares {channels} channels; 1 to {MAX_CHANNELS} are accepted")
    if max_duration is not None and frames / sr > max_duration:
        raise _too_long(where, frames / sr, max_duration)


def _too_long(where, seconds: float | None, max_duration: float) -> TrackTooLongError:
    """``seconds`` is the declared length, or ``None`` when decoding ran past the limit."""
    if seconds is None:
        return TrackTooLongError(where, f"track is longer than the {max_duration:g} s limit "
                                 "(more audio decodes than its header declares)")
    return TrackTooLongError(where, f"track is {seconds:,.1f} s long, more than the {max_duration:g} s limit")


def _declared_shortfall(log: str) -> tuple[int, int] | None:
    """(declared, present) data bytes when libsndfile's log shows a data chunk cut short."""
    match = re.search(r"^\s*(?:data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)", log, re.M)
    if match is None:
        return None
    declared, present = int(match.group(1)), int(match.group(2))
    if declared >= _OPEN_LENGTH or declared <= present:
        return None
    return declared, present


def _check_container(fh, where) -> None:
    """Refuse a WAV/AIFF/AU stream whose data chunk was cut short (libsndfile's log shows it)."""
    try:
        log = fh.extra_info
    except Exception:  # pragma: no cover - the log is informative only
        return
    short = _declared_shortfall(log)
    if short is not None and short[0] - short[1] > TRUNCATION_TOLERANCE * short[0]:
        raise AudioError(where, f"the file is truncated: its header declares {short[0]} bytes of audio but only "
                         f"{short[1]} are present")


def _ogg_cut_short(buf) -> bool:
    """True when the Ogg pages in ``buf`` (bytes-like) end in an incomplete page or without end-of-stream.

    Every Ogg encoder flags the last page of a stream "end of stream" (header type bit 0x04).
    Bytes after the last complete page that are not a page are ignored, as libsndfile does.
    """
    size, pos, last = len(buf), 0, None
    while pos + 4 <= size and bytes(buf[pos:pos + 4]) == b"OggS":
        if pos + 27 > size:
            return True
        n_segments = buf[pos + 26]
        if pos + 27 + n_segments > size:
            return True
        body = sum(bytes(buf[pos + 27:pos + 27 + n_segments]))
        end = pos + 27 + n_segments + body
        if end > size:
            return True
        last, pos = buf[pos + 5], end
    if last is None:
        return False  # not Ogg pages at all: libsndfile says what it is
    tail = bytes(buf[pos:pos + 4])
    if tail and b"OggS".startswith(tail):  # cut inside the next page's capture pattern
        return True
    return not last & 0x04


def _check_ogg(source, where) -> None:
    """Refuse an Ogg file (path or BytesIO) that was cut short; see :func:`_ogg_cut_short`."""
    import mmap

    if isinstance(source, io.BytesIO):
        view = source.getbuffer()
        try:
            cut = bytes(view[:4]) == b"OggS" and _ogg_cut_short(view)
        finally:
            view.release()
    else:
        with open(source, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            cut = view[:4] == b"OggS" and _ogg_cut_short(view)
    if cut:
        raise AudioError(where, "the file is truncated: its Ogg stream ends without the end-of-stream page")


def _check_complete(where, *, declared: int, expected: int, got: int) -> None:
    short = expected - got
    if declared > 0 and short > max(_SHORT_FRAMES, TRUNCATION_TOLERANCE * declared):
        raise AudioError(where, f"the stream is truncated or corrupt: decoded {got} of the {expected} samples "
                         "its header declares")


class _Collector:
    """Takes decoded ``(frames, channels)`` float32 blocks; checks, mixes down and resamples each."""

    def __init__(self, where, native: int, channels: int, *, sr: int | None, mono: bool, limit: int | None):
        self.where = where
        self.rate = native if sr is None else sr
        self.mono = mono
        self.limit = limit
        self.frames = 0
        self.peak = 0.0
        self.parts: list[np.ndarray] = []
        self.stream = None
        if self.rate != native:
            import soxr

            self.stream = soxr.ResampleStream(native, self.rate, 1 if mono else channels, dtype="float32",
                                              quality="HQ")

    @property
    def full(self) -> bool:
        """True once more frames came than the limit allows."""
        return self.limit is not None and self.frames > self.limit

    def add(self, block: np.ndarray) -> None:
        if block.shape[0] == 0:
            return
        if not np.isfinite(block).all():
            raise AudioError(self.where, "the decoded signal is not finite: it contains NaN/inf samples")
        self.frames += block.shape[0]
        self.peak = max(self.peak, float(np.abs(block).max()))
        if self.mono:  # a mono block needs no mixing (the mean over one channel is slow)
            y = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
        else:
            y = block
        y = np.ascontiguousarray(y, dtype=np.float32)
        if self.stream is not None:
            y = self.stream.resample_chunk(y, last=False)
        self.parts.append(y)

    def finish(self) -> tuple[np.ndarray, int]:
        if self.frames == 0:
            raise AudioError(self.where, "the audio signal is empty (zero samples)")
        if self.stream is not None:
            empty = np.zeros((0,) if self.mono else (0, self.parts[0].shape[1]), dtype=np.float32)
            self.parts.append(self.stream.resample_chunk(empty, last=True))
        y = np.concatenate(self.parts, axis=0)
        self.parts = []
        if not self.mono:
            y = np.ascontiguousarray(y.T)
        if self.peak > MAX_PEAK:
            y *= np.float32(1.0 / self.peak)
        if not np.isfinite(y).all():
            raise AudioError(self.where, "the sample values are too large to process (the signal overflows)")
        return y, self.rate


def _decode_soundfile(source, where, *, offset: float, duration: float | None, sr: int | None, mono: bool,
                      max_duration: float | None) -> tuple[np.ndarray, int]:
    """Decode ``source`` (path or file-like) with libsndfile, block by block."""
    import soundfile as sf

    _check_ogg(source, where)
    try:
        with sf.SoundFile(source) as fh:
            native, channels, declared = int(fh.samplerate), int(fh.channels), int(fh.frames)
            _check_header(where, sr=native, channels=channels, frames=declared, max_duration=max_duration)
            _check_container(fh, where)
            start = int(round(offset * native))
            if start > 0:
                if declared and start >= declared:
                    raise AudioError(where, f"offset {offset:g} s is beyond the end of the audio "
                                     f"({declared / native:.3f} s)")
                fh.seek(start)
            limit = None if max_duration is None else max(0, int(math.floor(max_duration * native)) - start)
            out = _Collector(where, native, channels, sr=sr, mono=mono, limit=limit)
            wanted = None if duration is None else int(round(duration * native))
            while wanted is None or out.frames < wanted:
                step = _BLOCK if wanted is None else min(_BLOCK, wanted - out.frames)
                block = fh.read(step, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                out.add(block)
                if out.full:
                    raise _too_long(where, None, max_duration)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, EOFError) as exc:
        raise AudioError(where, _soundfile_error(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise AudioError(where, f"not a readable audio file ({exc})") from exc
    expected = declared - start if wanted is None else min(wanted, declared - start)
    _check_complete(where, declared=declared, expected=expected, got=out.frames)
    return out.finish()


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioError(None, "decoding M4A/AAC/MP4 needs the ffmpeg program, which is not on PATH "
                         "(install it, e.g. 'apt-get install ffmpeg')")
    return exe


def _tool_message(stderr: bytes, path: Path) -> str:
    """The last line ffmpeg/ffprobe printed, without file paths or internal addresses."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    if not lines:
        return "no details"
    text = lines[-1]
    for name in (str(path), path.name):
        text = text.replace(name + ": ", "").replace(name, "the file")
    text = re.sub(r"\[[^\]]*@ *0x[0-9a-fA-F]+\]\s*", "", text)
    text = re.sub(r"0x[0-9a-fA-F]{6,}", "", text).strip()
    return (text[:200] + "...") if len(text) > 200 else (text or "no details")


def _run_tool(cmd: list[str], path: Path, what: str) -> bytes:
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, timeout=_TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AudioError(path, f"{what} did not finish within {_TOOL_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise AudioError(path, f"not a decodable M4A/AAC/MP4 stream ({what}: {_tool_message(proc.stderr, path)})")
    return proc.stdout


def _probe(path: Path) -> tuple[int, int, float, str]:
    """(sample rate, channels, duration, format) of the first audio stream, via ffprobe."""
    exe = shutil.which("ffprobe")
    if exe is None:
        _ffmpeg()  # raises the 'ffmpeg needed' error when both are missing
        raise AudioError(path, "reading M4A/AAC/MP4 needs ffprobe (part of ffmpeg), which is not on PATH")
    cmd = [exe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration:format=duration,format_name", "-of", "json", str(path)]
    try:
        meta = json.loads(_run_tool(cmd, path, "ffprobe") or b"{}")
        streams = meta.get("streams") or []
        if not streams:
            raise AudioError(path, "the file has no audio stream")
        stream = streams[0]
        fmt = meta.get("format") or {}
        dur = float(stream.get("duration") or fmt.get("duration") or 0.0)
        native, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AudioError(path, "ffprobe could not tell the sample rate, channels and duration") from None
    if not math.isfinite(dur) or dur < 0:
        raise AudioError(path, f"ffprobe reports an invalid duration {dur!r}")
    return native, channels, dur, str(fmt.get("format_name", ""))


def _decode_ffmpeg(path: Path, *, offset: float, duration: float | None, sr: int | None, mono: bool,
                   max_duration: float | None) -> tuple[np.ndarray, int]:
    exe = _ffmpeg()
    native, channels, length, _ = _probe(path)
    _check_header(path, sr=native, channels=channels, frames=int(round(length * native)), max_duration=max_duration)
    cmd = [exe, "-nostdin", "-v", "error"]
    if offset > 0:
        cmd += ["-ss", f"{offset:.6f}"]
    cmd += ["-i", str(path)]
    span = duration
    if max_duration is not None:  # never let ffmpeg produce much more than the limit
        cap = max_duration - offset + 1.0
        span = cap if span is None else min(span, cap)
    if span is not None:
        cmd += ["-t", f"{max(span, 0.001):.6f}"]
    cmd += ["-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(native), "-"]
    limit = None if max_duration is None else max(0, int(math.floor(max_duration * native)) - int(offset * native))
    out = _Collector(path, native, channels, sr=sr, mono=mono, limit=limit)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(_TOOL_TIMEOUT, proc.kill)
        timer.start()
        try:
            _read_pcm(proc.stdout, channels, out)
            if out.full:
                raise _too_long(path, None, max_duration)
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if code != 0:
            err.seek(0)
            reason = "timed out" if code < 0 else _tool_message(err.read(), path)
            raise AudioError(path, f"not a decodable M4A/AAC/MP4 stream (ffmpeg: {reason})")
    if duration is None and offset == 0 and length > 0:
        _check_complete(path, declared=int(round(length * native)), expected=int(round(length * native)),
                        got=out.frames)
    return out.finish()


def _read_pcm(stream, channels: int, out: _Collector) -> None:
    """Feed little-endian float32 PCM from ``stream`` into ``out`` until EOF or the limit."""
    frame = 4 * channels
    rest = b""
    while not out.full:
        chunk = stream.read(_BLOCK * frame)
        if not chunk:
            break
        chunk = rest + chunk
        usable = len(chunk) - len(chunk) % frame
        rest = chunk[usable:]
        out.add(np.frombuffer(chunk[:usable], dtype="<f4").reshape(-1, channels))


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
        rates are equal. Uses soxr ``"HQ"`` (as librosa does).

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=44100, duration=1.0)
    >>> resample(y, 44100, 22050).shape
    (22050,)
    """
    orig_sr = _check_sr(orig_sr, "orig_sr")
    target_sr = _check_sr(target_sr, "target_sr")
    if orig_sr is None or target_sr is None:
        raise ParameterError("orig_sr and target_sr must both be given")
    y = np.asarray(y, dtype=np.float32)
    if orig_sr == target_sr:
        return y
    import soxr

    if y.ndim == 1:
        return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    # soxr wants (frames, channels)
    return np.ascontiguousarray(soxr.resample(y.T, orig_sr, target_sr, quality="HQ").T, dtype=np.float32)



# --------------------------------------------------------------------------- public API


def load(path: str | os.PathLike, *, sr: int | None = 22050, mono: bool = True, offset: float = 0.0,
         duration: float | None = None, max_duration: float | None = None) -> tuple[np.ndarray, int]:
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
    max_duration : float or None, keyword-only
        Refuse files longer than this many seconds (:class:`TrackTooLongError`), by
        their header before decoding, and stop decoding once more than this came out.

    Returns
    -------
    y : ndarray of float32
        Shape ``(n,)`` (mono) or ``(channels, n)``, samples in [-1, 1] for PCM input.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        The path is missing, not a regular readable file, or empty; the file is not
        audio, corrupt or truncated, has a sample rate or channel count outside the
        limits, needs ffmpeg that is absent, or decodes to an empty or non-finite signal.
    TrackTooLongError
        The file is longer than ``max_duration``.
    ParameterError
        ``sr``, ``offset``, ``duration`` or ``max_duration`` is invalid.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import soundfile as sf
    >>> from genrenet import synth
    >>> with tempfile.TemporaryDirectory() as tmp:  # a synthesised tone written as a 44.1 kHz WAV
    ...     path = pathlib.Path(tmp) / "a440.wav"
    ...     sf.write(path, synth.tone(440.0, sr=44100, duration=1.5, amplitude=0.5), 44100)
    ...     y, sr = load(path)
    ...
    >>> y.dtype, y.shape, sr
    (dtype('float32'), (33075,), 22050)
    """
    sr = _check_sr(sr)
    offset, duration = _check_span(offset, duration)
    max_duration = _check_max_duration(max_duration)
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(path, f"unsupported file extension {ext or '(none)'!r}; supported: "
                         + ", ".join(SUPPORTED_EXTENSIONS))
    _check_path(path)
    if ext in FFMPEG_EXTENSIONS:
        try:
            return _decode_ffmpeg(path, offset=offset, duration=duration, sr=sr, mono=mono, max_duration=max_duration)
        except AudioError as exc:
            if exc.path is None:
                raise type(exc)(path, exc.cause) from None
            raise
    return _decode_soundfile(str(path), path, offset=offset, duration=duration, sr=sr, mono=mono,
                             max_duration=max_duration)


def load_bytes(data: bytes, *, filename_hint: str | None = None, sr: int | None = 22050, mono: bool = True,
               offset: float = 0.0, duration: float | None = None,
               max_duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode audio held in memory (an upload), like :func:`load`.

    Parameters
    ----------
    data : bytes
        The encoded file.
    filename_hint : str or None, keyword-only
        Original file name; its extension selects the decoder and it names the
        upload in error messages. Without it libsndfile guesses the format.
    sr, mono, offset, duration, max_duration
        As for :func:`load`; the header is checked against ``max_duration`` before
        anything is decoded.

    Returns
    -------
    y : ndarray of float32
    sr : int

    Raises
    ------
    AudioError
        The bytes are empty or are not decodable audio (see :func:`load`).
    TrackTooLongError
        The audio is longer than ``max_duration``.

    Notes
    -----
    libsndfile formats are decoded straight from memory. M4A/AAC/MP4 go through
    ffmpeg via a private temporary file (``genrenet-upload-<pid>-*`` in the temporary
    directory) that is removed afterwards; :func:`clean_stale_uploads` removes those
    a killed process left behind. Error messages never show that file's path.

    Examples
    --------
    >>> import io
    >>> import soundfile as sf
    >>> from genrenet import synth
    >>> buf = io.BytesIO()
    >>> sf.write(buf, synth.tone(440.0, sr=16000, duration=2.0, amplitude=0.5), 16000, format="WAV")
    >>> y, sr = load_bytes(buf.getvalue(), filename_hint="upload.wav")
    >>> y.shape, sr
    ((44100,), 22050)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"data must be bytes, got {type(data).__name__}")
    sr = _check_sr(sr)
    offset, duration = _check_span(offset, duration)
    max_duration = _check_max_duration(max_duration)
    where = filename_hint or None
    ext = _extension(filename_hint)
    if ext and ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(where, f"unsupported file extension {ext!r}; supported: " + ", ".join(SUPPORTED_EXTENSIONS))
    if len(data) == 0:
        raise AudioError(where, "the upload is empty (0 bytes)")
    if ext in FFMPEG_EXTENSIONS:
        return _load_bytes_ffmpeg(data, ext, where, offset=offset, duration=duration, sr=sr, mono=mono,
                                  max_duration=max_duration)
    return _decode_soundfile(io.BytesIO(data), where, offset=offset, duration=duration, sr=sr, mono=mono,
                             max_duration=max_duration)


def _load_bytes_ffmpeg(data, ext: str, where, **options) -> tuple[np.ndarray, int]:
    try:
        _ffmpeg()
    except AudioError as exc:
        raise AudioError(where, exc.cause) from None
    fd, tmp = tempfile.mkstemp(prefix=f"{_UPLOAD_PREFIX}{os.getpid()}-", suffix=ext)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            return _decode_ffmpeg(Path(tmp), **options)
        except AudioError as exc:
            # The temporary path means nothing to the client and must not be disclosed.
            cause = exc.cause.replace(tmp, "the upload").replace(Path(tmp).name, "the upload")
            raise type(exc)(where, cause) from None
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:  # pragma: no cover
            pass


def clean_stale_uploads(*, max_age: float = 3600.0, directory: str | os.PathLike | None = None) -> int:
    """Remove temporary upload files that a killed process left behind.

    :func:`load_bytes` writes M4A/AAC/MP4 uploads to ``genrenet-upload-<pid>-*`` files
    and removes them when done; a process killed meanwhile cannot. This removes every
    such file whose process no longer runs, or that is older than ``max_age`` seconds
    (no decode takes that long). The web service calls it when a worker starts.

    Parameters
    ----------
    max_age : float, keyword-only
        Age in seconds after which a file is stale even if its process id is in use.
    directory : path-like, optional, keyword-only
        Where to look (default: :func:`tempfile.gettempdir`).

    Returns
    -------
    int
        Number of files removed.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:  # nothing left behind here
    ...     removed = clean_stale_uploads(directory=tmp)
    ...
    >>> removed
    0
    """
    root = Path(directory) if directory is not None else Path(tempfile.gettempdir())
    removed = 0
    now = time.time()
    for path in root.glob(_UPLOAD_PREFIX + "*"):
        match = re.match(re.escape(_UPLOAD_PREFIX) + r"(\d+)-", path.name)
        try:
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            alive = match is not None and _process_alive(int(match.group(1)))
            if alive and now - st.st_mtime < max_age:
                continue
            path.unlink()
            removed += 1
        except OSError:  # vanished meanwhile, or not ours to remove
            continue
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # exists, owned by someone else (or not a valid id: keep it until it is old)
    return True


def check_bytes(data: bytes, *, filename_hint: str | None = None,
                max_duration: float | None = None) -> AudioInfo | None:
    """Check an upload's header against the limits without decoding it (about a millisecond).

    The checks :func:`load_bytes` makes before decoding: sample rate, channels,
    declared length against ``max_duration``, a cut-short container. A service can run
    them before it queues the upload for decoding, so a decode bomb is refused at once.

    Parameters
    ----------
    data : bytes
        The encoded file.
    filename_hint : str or None, keyword-only
        Original file name (its extension selects the decoder; it names the upload in errors).
    max_duration : float or None, keyword-only
        Longest accepted length in seconds.

    Returns
    -------
    AudioInfo or None
        What the header declares (``path`` is the hint), or ``None`` for M4A/AAC/MP4,
        whose header only ffprobe reads (:func:`load_bytes` checks it before decoding).

    Raises
    ------
    AudioError, TrackTooLongError
        As :func:`load_bytes` would, before decoding anything.

    Examples
    --------
    >>> import io
    >>> import soundfile as sf
    >>> from genrenet import synth
    >>> buf = io.BytesIO()
    >>> sf.write(buf, synth.tone(440.0, sr=16000, duration=2.0, amplitude=0.5), 16000, format="WAV")
    >>> meta = check_bytes(buf.getvalue(), filename_hint="upload.wav", max_duration=600.0)
    >>> meta.sr, meta.channels, meta.duration
    (16000, 1, 2.0)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"data must be bytes, got {type(data).__name__}")
    max_duration = _check_max_duration(max_duration)
    where = filename_hint or None
    ext = _extension(filename_hint)
    if ext and ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(where, f"unsupported file extension {ext!r}; supported: " + ", ".join(SUPPORTED_EXTENSIONS))
    if len(data) == 0:
        raise AudioError(where, "the upload is empty (0 bytes)")
    if ext in FFMPEG_EXTENSIONS:
        return None
    import soundfile as sf

    source = io.BytesIO(data)
    _check_ogg(source, where)
    try:
        with sf.SoundFile(source) as fh:
            native, channels, frames, fmt = int(fh.samplerate), int(fh.channels), int(fh.frames), str(fh.format)
            _check_header(where, sr=native, channels=channels, frames=frames, max_duration=max_duration)
            _check_container(fh, where)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, EOFError) as exc:
        raise AudioError(where, _soundfile_error(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise AudioError(where, f"not a readable audio file ({exc})") from exc
    return AudioInfo(Path(filename_hint or "<memory>"), native, channels, frames, frames / native, fmt)


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
        The path is missing, not a readable regular file, empty, unsupported or unreadable.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import soundfile as sf
    >>> from genrenet import synth
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "a440.wav"
    ...     sf.write(path, synth.tone(440.0, sr=44100, duration=1.5, amplitude=0.5), 44100)
    ...     meta = info(path)
    ...
    >>> meta.sr, meta.channels, meta.duration
    (44100, 1, 1.5)
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise AudioError(path, f"unsupported file extension {ext or '(none)'!r}")
    _check_path(path)
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
    if sr <= 0:
        raise AudioError(path, f"the header declares an invalid sample rate ({sr} Hz)")
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

    Examples
    --------
    >>> starts, length = window_starts(10 * 22050, 22050, window=3.0, hop=1.5)
    >>> (starts / 22050).tolist(), length
    ([0.0, 1.5, 3.0, 4.5, 6.0, 7.5], 66150)
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
    window = positive_float("window", window, unit="seconds")
    hop = positive_float("hop", hop, unit="seconds")
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

    Examples
    --------
    >>> from genrenet import synth
    >>> y = synth.tone(440.0, sr=22050, duration=10.0)
    >>> windows(y, 22050, window=3.0, hop=1.5).shape  # 3 s windows every 1.5 s
    (6, 66150)
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

    Examples
    --------
    >>> select_windows(10, 4).tolist()
    [0, 3, 6, 9]
    """
    n_total, max_windows = non_negative_int("n_total", n_total), positive_int("max_windows", max_windows)
    if n_total <= max_windows:
        return np.arange(n_total, dtype=np.int64)
    if max_windows == 1:
        return np.array([(n_total - 1) // 2], dtype=np.int64)
    return np.round(np.linspace(0, n_total - 1, max_windows)).astype(np.int64)
