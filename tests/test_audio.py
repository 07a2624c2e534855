"""Tests of genrenet.audio: decoding, validation, resampling and the windowing policy."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import sine

from genrenet import audio
from genrenet.errors import AudioError, ParameterError

SR = 22050
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spec)])


# --------------------------------------------------------------------------- decoding


def test_load_wav_returns_float32_signal(wav_file):
    y, sr = audio.load(wav_file)
    assert sr == SR and y.dtype == np.float32 and y.shape == (2 * SR,)
    np.testing.assert_allclose(y, sine(seconds=2.0), atol=1.0 / 32768 + 1e-6)


def test_load_resamples_like_librosa(tmp_path):
    librosa = pytest.importorskip("librosa")
    path = tmp_path / "hi.wav"
    sf.write(path, sine(1000.0, sr=44100, seconds=1.0), 44100, subtype="FLOAT")
    y, sr = audio.load(path, sr=SR)
    ref, _ = librosa.load(path, sr=SR)
    assert sr == SR and y.shape == ref.shape == (SR,)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert abs(_peak_hz(y, sr) - 1000.0) < 2.0
    native, nsr = audio.load(path, sr=None)
    assert nsr == 44100 and native.shape == (44100,)


def test_stereo_mixdown_offset_and_duration(tmp_path):
    path = tmp_path / "st.flac"
    left = sine(440.0, seconds=2.0)
    right = np.zeros_like(left)
    sf.write(path, np.stack([left, right], axis=1), SR)
    y, _ = audio.load(path)
    np.testing.assert_allclose(y, left / 2, atol=1e-4)
    both, _ = audio.load(path, mono=False)
    assert both.shape == (2, 2 * SR)
    part, _ = audio.load(path, offset=0.5, duration=0.25)
    assert part.shape == (SR // 4,)
    np.testing.assert_allclose(part, left[SR // 2: SR // 2 + SR // 4] / 2, atol=1e-4)


@pytest.mark.parametrize("ext,fmt,subtype", [(".ogg", "OGG", "VORBIS"), (".au", "AU", "PCM_16"),
                                             (".mp3", "MP3", None)])
def test_lossy_and_other_containers_decode(tmp_path, ext, fmt, subtype):
    path = tmp_path / f"tone{ext}"
    sf.write(path, sine(440.0, seconds=1.0), SR, format=fmt, subtype=subtype)
    y, sr = audio.load(path)
    assert sr == SR and abs(y.size - SR) < 2048
    assert abs(_peak_hz(y, sr) - 440.0) < 3.0


def test_opus_is_resampled_from_48k(tmp_path):
    path = tmp_path / "tone.opus"
    sf.write(path, sine(440.0, sr=48000, seconds=1.0), 48000, format="OGG", subtype="OPUS")
    meta = audio.info(path)
    assert meta.sr == 48000 and meta.channels == 1
    y, sr = audio.load(path)
    assert sr == SR and abs(y.size - SR) < 512 and abs(_peak_hz(y, sr) - 440.0) < 3.0


@needs_ffmpeg
def test_m4a_through_ffmpeg_file_and_bytes(tmp_path, monkeypatch):
    wav = tmp_path / "src.wav"
    sf.write(wav, sine(440.0, sr=44100, seconds=1.0), 44100)
    m4a = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    y, sr = audio.load(m4a)
    assert sr == SR and abs(y.size - SR) < 1024 and abs(_peak_hz(y, sr) - 440.0) < 3.0
    assert audio.info(m4a).sr == 44100
    # uploads go through a private temp file that must be gone afterwards
    private = tmp_path / "tmpdir"
    private.mkdir()
    monkeypatch.setattr(audio.tempfile, "tempdir", str(private))
    yb, _ = audio.load_bytes(m4a.read_bytes(), filename_hint="upload.m4a")
    np.testing.assert_allclose(yb, y, atol=1e-6)
    with pytest.raises(AudioError, match="upload.m4a"):
        audio.load_bytes(b"not an mp4 container" * 10, filename_hint="upload.m4a")
    assert list(private.iterdir()) == []


def test_missing_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\0" * 100)
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="ffmpeg") as err:
        audio.load(path)
    assert "song.m4a" in str(err.value)
    with pytest.raises(AudioError, match="ffmpeg") as err:
        audio.load_bytes(b"\0" * 100, filename_hint="x.aac")
    assert "x.aac" in str(err.value)


# --------------------------------------------------------------------------- bad input


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty") as err:
        audio.load(path)
    assert err.value.path == path and "empty.wav" in str(err.value)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my lyrics, not audio\n" * 20)
    with pytest.raises(AudioError, match="notes.wav") as err:
        audio.load(path)
    assert "not a readable audio file" in err.value.cause
    with pytest.raises(AudioError):
        audio.info(path)


def test_truncated_mp3(tmp_path):
    full = tmp_path / "full.mp3"
    sf.write(full, sine(440.0, seconds=3.0), SR, format="MP3")
    assert audio.load(full)[0].size == 3 * SR  # the intact file decodes completely
    data = full.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated") as err:
        audio.load(cut)
    assert "cut.mp3" in str(err.value)
    with pytest.raises(AudioError, match="truncated"):
        audio.load_bytes(data[: len(data) // 2], filename_hint="cut.mp3")
    tiny = tmp_path / "tiny.mp3"
    tiny.write_bytes(data[:100])
    with pytest.raises(AudioError, match="tiny.mp3"):
        audio.load(tiny)


def test_zero_length_and_nan_signals(tmp_path):
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), SR)
    with pytest.raises(AudioError, match="zero samples"):
        audio.load(zero)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(100, np.nan, np.float32), SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN") as err:
        audio.load(nan)
    assert "nan.wav" in str(err.value)


def test_missing_unsupported_and_bad_parameters(tmp_path, wav_file):
    with pytest.raises(AudioError, match="does not exist"):
        audio.load(tmp_path / "nope.wav")
    other = tmp_path / "data.xyz"
    other.write_bytes(b"123")
    with pytest.raises(AudioError, match="unsupported file extension"):
        audio.load(other)
    with pytest.raises(ParameterError, match="sr"):
        audio.load(wav_file, sr=0)
    with pytest.raises(ParameterError, match="offset"):
        audio.load(wav_file, offset=-1)
    with pytest.raises(ParameterError, match="duration"):
        audio.load(wav_file, duration=0)
    with pytest.raises(AudioError, match="beyond the end"):
        audio.load(wav_file, offset=10.0)


def test_load_bytes(wav_file):
    y, sr = audio.load_bytes(wav_file.read_bytes(), filename_hint="tone.wav")
    ref, _ = audio.load(wav_file)
    np.testing.assert_array_equal(y, ref)
    with pytest.raises(AudioError, match="empty"):
        audio.load_bytes(b"", filename_hint="up.wav")
    with pytest.raises(AudioError, match="up.wav"):
        audio.load_bytes(b"GIF89a" + b"\0" * 200, filename_hint="up.wav")
    with pytest.raises(AudioError, match="memory"):
        audio.load_bytes(b"plain text" * 50)


def test_info_without_decoding(wav_file):
    meta = audio.info(wav_file)
    assert (meta.sr, meta.channels, meta.frames) == (SR, 1, 2 * SR)
    assert meta.duration == pytest.approx(2.0) and meta.format == "WAV"
    assert ".mp3" in audio.SUPPORTED_EXTENSIONS and ".m4a" in audio.SUPPORTED_EXTENSIONS


# --------------------------------------------------------------------------- windows


def test_windows_full_grid_and_tail_policy():
    sr = 100
    # 10.5 s: full windows start at 0, 1.5, ..., 7.5 and the last ends at 10.5 s: no tail
    w = audio.windows(np.ones(1050, np.float32), sr, window=3.0, hop=1.5)
    assert w.shape == (6, 300)
    # 10 s with 4 s windows every 3 s: full windows end at 10 s; the grid window at 9 s holds
    # only audio already covered, so it is dropped even with min_fill=0
    assert audio.windows(np.ones(1000, np.float32), sr, window=4.0, hop=3.0, min_fill=0.0).shape == (3, 400)
    # 10.2 s: full windows end at 9 s; the tail from 7.5 s holds 2.7 s >= min_fill * 3 s: kept, padded
    y = np.arange(1, 1021, dtype=np.float32)
    w = audio.windows(y, sr, window=3.0, hop=1.5)
    assert w.shape == (6, 300)
    np.testing.assert_array_equal(w[-1, :270], y[750:])
    assert not w[-1, 270:].any()  # zero padding
    rep = audio.windows(y, sr, window=3.0, hop=1.5, pad="repeat")
    np.testing.assert_array_equal(rep[-1, 270:], y[750:780])
    # with a strict min_fill the partly filled tail is dropped
    assert audio.windows(y, sr, window=3.0, hop=1.5, min_fill=0.95).shape == (5, 300)


def test_windows_short_clip_gives_one_padded_window():
    y = np.arange(1, 51, dtype=np.float32)
    w = audio.windows(y, 100, window=3.0, hop=1.5, min_fill=1.0)
    assert w.shape == (1, 300)
    np.testing.assert_array_equal(w[0, :50], y)
    assert not w[0, 50:].any()
    r = audio.windows(y, 100, window=3.0, hop=1.5, pad="repeat")
    np.testing.assert_array_equal(r[0], np.resize(y, 300))


def test_windows_are_copies_and_validate():
    y = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    w = audio.windows(y, 100, window=2.0, hop=0.5)
    w[0, 0] = 99.0
    assert y[0] != 99.0
    np.testing.assert_array_equal(w[3], y[150:350])
    with pytest.raises(ParameterError, match="pad"):
        audio.windows(y, 100, pad="mirror")
    with pytest.raises(ParameterError, match="empty"):
        audio.windows(np.zeros(0), 100)
    with pytest.raises(ParameterError, match="1-D"):
        audio.windows(np.zeros((2, 10)), 100)
    with pytest.raises(ParameterError, match="min_fill"):
        audio.windows(y, 100, min_fill=1.5)
    with pytest.raises(ParameterError, match="hop"):
        audio.windows(y, 100, hop=0)


def test_select_windows():
    np.testing.assert_array_equal(audio.select_windows(3, 5), [0, 1, 2])
    idx = audio.select_windows(20, 5)
    assert idx[0] == 0 and idx[-1] == 19 and len(set(idx)) == 5 and np.all(np.diff(idx) > 0)
    assert audio.select_windows(20, 1).tolist() == [9]
    assert audio.select_windows(0, 4).size == 0
    with pytest.raises(ParameterError, match="max_windows"):
        audio.select_windows(5, 0)


# --------------------------------------------------------------------------- hostile files (issue 11)


def _wav_bytes(y, sr=SR, subtype="PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def _wav_at_1hz() -> bytes:
    """The issue's 40 KB WAV whose header says 1 Hz: 20000 frames are 5.5 hours."""
    data = bytearray(_wav_bytes(np.zeros(20000, np.int16)))
    data[24:28] = struct.pack("<I", 1)  # sample rate
    data[28:32] = struct.pack("<I", 2)  # byte rate
    return bytes(data)


def _flac_claiming(total: int, seconds: float = 1.0) -> bytes:
    """A short FLAC whose STREAMINFO claims ``total`` samples (36-bit field; 0 means unknown)."""
    buf = io.BytesIO()
    sf.write(buf, sine(seconds=seconds), SR, format="FLAC", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    packed = int.from_bytes(data[18:26], "big")  # STREAMINFO bytes 10..17 end with the sample count
    packed = (packed & ~((1 << 36) - 1)) | total
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def _silent_flac(path, seconds: float, sr: int = 8000):
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as fh:
        block = np.zeros(sr * 60, np.int16)
        for _ in range(int(seconds // 60)):
            fh.write(block)
    return path


def _traced_peak(fn) -> tuple[float, Exception | None]:
    """Peak of Python/NumPy allocations in MB while ``fn`` runs, and what it raised."""
    tracemalloc.start()
    try:
        fn()
        raised = None
    except Exception as exc:  # noqa: BLE001 - returned to the caller, which asserts on it
        raised = exc
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak, raised


def test_decode_bombs_are_refused_from_the_header(tmp_path):
    """A 1 Hz WAV, a 10-minute silent FLAC and a FLAC claiming 2**36 samples: refused before decoding."""
    silent = _silent_flac(tmp_path / "silent.flac", 600).read_bytes()
    assert len(silent) < 200_000
    cases = [
        (_wav_at_1hz(), "bomb.wav", AudioError, "sample rate 1 Hz"),
        (silent, "bomb.flac", audio.TrackTooLongError, r"600\.0 s long, more than the 30 s limit"),
        (_flac_claiming((1 << 36) - 1), "lie.flac", audio.TrackTooLongError, "more than the 30 s limit"),
    ]
    for data, name, kind, message in cases:
        peak, raised = _traced_peak(lambda d=data, n=name: audio.load_bytes(d, filename_hint=n, max_duration=30))
        assert isinstance(raised, kind) and re.search(message, raised.cause), (name, raised)
        assert name in str(raised)
        assert peak < 2.0, f"{name}: {peak:.1f} MB allocated before the refusal"
    # the same through a path
    path = tmp_path / "lie.flac"
    path.write_bytes(_flac_claiming((1 << 36) - 1))
    with pytest.raises(audio.TrackTooLongError, match="lie.flac"):
        audio.load(path, max_duration=600)
    # without a limit the lying header still cannot make it allocate: a clear error instead
    peak, raised = _traced_peak(lambda: audio.load(path))
    assert isinstance(raised, AudioError) and peak < 20.0


def test_decoding_stops_at_the_limit_when_the_header_does_not_say(tmp_path):
    """A FLAC with an unknown sample count (0) is refused once more than the limit decoded."""
    data = _flac_claiming(0, seconds=3.0)
    y, _ = audio.load_bytes(_flac_claiming(3 * SR, seconds=3.0), filename_hint="ok.flac", max_duration=5)
    assert y.size == 3 * SR
    with pytest.raises(audio.TrackTooLongError, match="limit"):
        audio.load_bytes(data, filename_hint="open.flac", max_duration=2)
    # a WAV longer than the limit: refused by its header; one inside it decodes
    with pytest.raises(audio.TrackTooLongError, match=r"3\.0 s long"):
        audio.load_bytes(_wav_bytes(sine(seconds=3.0)), filename_hint="a.wav", max_duration=2.5)
    assert audio.load_bytes(_wav_bytes(sine(seconds=2.0)), filename_hint="a.wav", max_duration=2.5)[0].size == 2 * SR
    with pytest.raises(ParameterError, match="max_duration"):
        audio.load_bytes(_wav_bytes(sine(seconds=1.0)), filename_hint="a.wav", max_duration=0)


def test_sample_rate_and_channel_limits(tmp_path):
    many = tmp_path / "many.wav"
    sf.write(many, np.zeros((100, audio.MAX_CHANNELS + 1), np.float32), SR)
    with pytest.raises(AudioError, match="channels"):
        audio.load(many)
    low = tmp_path / "low.wav"
    sf.write(low, np.zeros(100, np.float32), 1000)
    with pytest.raises(AudioError, match="1000 Hz is outside"):
        audio.load(low)
    ok = tmp_path / "ok.wav"
    sf.write(ok, np.zeros((100, 4), np.float32), 8000)
    assert audio.load(ok, sr=None, mono=False)[0].shape == (4, 100)


@needs_ffmpeg
def test_long_m4a_is_refused_by_ffprobe_before_decoding(tmp_path):
    m4a = tmp_path / "silent.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "600",
                    "-c:a", "aac", "-b:a", "16k", str(m4a)], check=True, timeout=120)
    peak, raised = _traced_peak(lambda: audio.load_bytes(m4a.read_bytes(), filename_hint="x.m4a", max_duration=30))
    assert isinstance(raised, audio.TrackTooLongError) and "600.0 s long" in raised.cause
    assert peak < 2.0 + m4a.stat().st_size / 1e6


@pytest.mark.parametrize("fmt,subtype,ext", [("WAV", "PCM_16", ".wav"), ("AIFF", "PCM_16", ".aiff"),
                                             ("AU", "PCM_16", ".au"), ("FLAC", "PCM_16", ".flac"),
                                             ("OGG", "VORBIS", ".ogg"), ("OGG", "OPUS", ".opus"),
                                             ("MP3", "MPEG_LAYER_III", ".mp3")])
def test_truncated_files_are_refused_in_every_format(tmp_path, fmt, subtype, ext):
    rate = 48000 if subtype == "OPUS" else SR
    buf = io.BytesIO()
    sf.write(buf, sine(440.0, sr=rate, seconds=5.0), rate, format=fmt, subtype=subtype)
    data = buf.getvalue()
    assert audio.load_bytes(data, filename_hint="whole" + ext)[0].size > 4 * SR
    for fraction in (0.5, 0.9):
        with pytest.raises(AudioError, match="truncated") as err:
            audio.load_bytes(data[: int(len(data) * fraction)], filename_hint="cut" + ext)
        assert "cut" + ext in str(err.value)
    path = tmp_path / ("cut" + ext)
    path.write_bytes(data[: int(len(data) * 0.9)])
    with pytest.raises(AudioError, match="truncated"):
        audio.load(path)


def test_open_length_wav_and_tolerance(tmp_path):
    data = bytearray(_wav_bytes(sine(seconds=2.0)))
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # a streaming writer's "length unknown"
    assert audio.load_bytes(bytes(data), filename_hint="stream.wav")[0].size == 2 * SR
    whole = _wav_bytes(sine(seconds=2.0))
    # 0.5 % missing is within the documented tolerance
    assert audio.load_bytes(whole[: int(len(whole) * 0.995)], filename_hint="nearly.wav")[0].size > 1.98 * SR


def test_huge_float_amplitudes_are_scaled_not_inf():
    from genrenet.features import PRESETS, extract

    y = sine(seconds=3.0)
    for scale in (1e18, 32768.0):
        loud, _ = audio.load_bytes(_wav_bytes(y * scale, subtype="FLOAT"), filename_hint="loud.wav")
        assert np.abs(loud).max() == pytest.approx(np.abs(y).max() / np.abs(y).max(), rel=1e-6)
        assert np.isfinite(extract(PRESETS["logmel"], loud, SR)).all()
    modest, _ = audio.load_bytes(_wav_bytes(y * 2.0, subtype="FLOAT"), filename_hint="hot.wav")
    np.testing.assert_allclose(modest, y * 2.0, rtol=1e-6)  # within MAX_PEAK: untouched


def test_paths_that_are_not_regular_files(tmp_path):
    directory = tmp_path / "album.wav"
    directory.mkdir()
    with pytest.raises(AudioError, match="is a directory"):
        audio.load(directory)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioError, match="named pipe"):
        audio.load(fifo)  # must not block reading the pipe
    zero = tmp_path / "zero.wav"
    zero.symlink_to("/dev/zero")
    with pytest.raises(AudioError, match=r"device file \(a symbolic link to /dev/zero\)"):
        audio.load(zero)
    broken = tmp_path / "gone.wav"
    broken.symlink_to(tmp_path / "nowhere.wav")
    with pytest.raises(AudioError, match="broken symbolic link"):
        audio.info(broken)
    with pytest.raises(AudioError, match="does not exist"):
        audio.info(tmp_path / "missing.flac")


def _cause_as(uid: int | None, path: Path) -> str:
    """The AudioError cause of ``audio.load(path)``, in a forked child running as ``uid`` when given."""
    if uid is None:
        with pytest.raises(AudioError) as err:
            audio.load(path)
        return err.value.cause
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root, try the file, report, leave without running pytest's cleanup
        text = "no error"
        try:
            os.setgid(uid)
            os.setuid(uid)
            audio.load(path)
        except AudioError as exc:
            text = exc.cause
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            text = f"unexpected {exc!r}"
        finally:
            os.write(write, text.encode()[:4000])
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        text = fh.read().decode()
    os.waitpid(pid, 0)
    return text


def test_unreadable_file_says_permission_denied(wav_file):
    """'permission denied', not libsndfile's 'System error.' (as root: checked as user nobody)."""
    private = Path(tempfile.mkdtemp(prefix="genrenet-perm-"))
    try:
        private.chmod(0o755)
        target = private / "secret.wav"
        shutil.copy(wav_file, target)
        target.chmod(0o000)
        uid = None
        if os.geteuid() == 0:
            import pwd

            try:
                uid = pwd.getpwnam("nobody").pw_uid
            except KeyError:
                pytest.skip("running as root without a 'nobody' user")
        assert "permission denied" in _cause_as(uid, target)
    finally:
        shutil.rmtree(private, ignore_errors=True)


@needs_ffmpeg
def test_m4a_errors_do_not_disclose_the_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.tempfile, "tempdir", str(tmp_path))
    with pytest.raises(AudioError) as err:
        audio.load_bytes(b"\0\0\0\x20ftypM4A " + os.urandom(3000), filename_hint="phone.m4a")
    text = str(err.value)
    assert text.startswith("cannot read audio phone.m4a: ")
    assert str(tmp_path) not in text and "genrenet-upload" not in text and "@ 0x" not in text
    assert list(tmp_path.iterdir()) == []


def test_clean_stale_uploads(tmp_path):
    dead_pid = 4_000_000  # above Linux's pid_max: never a running process
    dead = tmp_path / f"genrenet-upload-{dead_pid}-abc.m4a"
    mine = tmp_path / f"genrenet-upload-{os.getpid()}-def.m4a"
    old = tmp_path / f"genrenet-upload-{os.getpid()}-old.m4a"
    other = tmp_path / "unrelated.m4a"
    for path in (dead, mine, old, other):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert audio.clean_stale_uploads(directory=tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])


def test_check_bytes_reads_only_the_header(tmp_path):
    good = _wav_bytes(sine(seconds=2.0))
    meta = audio.check_bytes(good, filename_hint="a.wav", max_duration=5)
    assert (meta.sr, meta.channels, meta.frames) == (SR, 1, 2 * SR)
    for data, name, kind in ((_wav_at_1hz(), "bomb.wav", AudioError),
                             (_flac_claiming((1 << 36) - 1), "lie.flac", audio.TrackTooLongError),
                             (good[: len(good) // 2], "cut.wav", AudioError)):
        peak, raised = _traced_peak(lambda d=data, n=name: audio.check_bytes(d, filename_hint=n, max_duration=30))
        assert isinstance(raised, kind) and name in str(raised) and peak < 1.0
    assert audio.check_bytes(b"\0" * 64, filename_hint="x.m4a") is None  # only ffprobe reads MP4 headers
