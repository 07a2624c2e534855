"""The synthetic demo corpus: six made-up "genres" synthesised from scratch.

Book chapter 04 (data) and notebook ``notebooks/signal_processing.ipynb`` use this
module; every experiment notebook falls back to this corpus (``dataset = "demo"``) so
the book builds and the tests run without downloading GTZAN.

The clips are SYNTHETIC: no recording is involved. Each style has its own tempo range,
instruments (synthesis method), rhythm and harmony, and every clip draws its own key,
mode, tempo, chord progression, mix levels and noise floor from a per-clip random
generator seeded by ``(seed, genre, clip number)``, so clips of one style differ while the
styles stay separable by a CNN on log-mel spectrograms:

============  ===========  ==========================================================
style         tempo (bpm)  recipe
============  ===========  ==========================================================
ambient       56-76        slow additive pads (two-bar chords, slow attack), reverb, no drums
chiptune      138-172      square-wave wavetable arpeggios in 16ths, triangle bass, noise hats
classical     66-108       Alberti-bass accompaniment and a stepwise melody, harmonic-rich
                           wavetable "strings" with vibrato, no drums
hiphop        78-96        swung boom-bap drums, sub-bass, a sampled FM electric-piano chord
                           replayed by the sampler, vinyl crackle
rock          108-150      distorted sawtooth power chords in 8ths, saw bass, backbeat drums
techno        120-136      four-on-the-floor kick, off-beat open hats, filtered 16th-note
                           sawtooth acid bass with a moving cutoff
============  ===========  ==========================================================

Files are written in GTZAN's layout ``<root>/<genre>/<genre>.<NNNNN>.wav`` (16-bit PCM
mono), each atomically; a re-run skips files that are already complete, so an
interrupted generation resumes. The same seed gives byte-identical files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from genrenet import synth
from genrenet.errors import DataError, ParameterError

__all__ = ["DEMO_GENRES", "DEMO_VERSION", "generate_demo", "render_clip", "demo_files"]

#: The demo styles, in label order.
DEMO_GENRES = ("ambient", "chiptune", "classical", "hiphop", "rock", "techno")
#: Bumped whenever the audio a given seed produces changes (stored in ``.demo.json``).
DEMO_VERSION = 1

_TEMPO = {"ambient": (56, 76), "chiptune": (138, 172), "classical": (66, 108), "hiphop": (78, 96),
          "rock": (108, 150), "techno": (120, 136)}
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
_PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 3, 0, 4), (1, 4, 0, 0)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2), (0, 0, 5, 4), (3, 4, 0, 0)],
}
_README = """SYNTHETIC DEMO CORPUS - NOT REAL MUSIC

Every file here was synthesised by genrenet.datasets.demo (genrenet {version}); no recording
was used. The six "genres" are made-up styles built from the synthesis methods of the
thesis (additive, FM, wavetable, sampler) plus synthesised drums:
{genres}

Layout: <genre>/<genre>.<NNNNN>.wav, 16-bit PCM, mono, {sr} Hz, {duration:g} s each,
{n} clips per genre. Generated with seed {seed} (demo version {demo_version}); the same
seed always gives byte-identical files. Regenerate with:

    genrenet demo --to <dir> --per-genre {n} --seed {seed}

Numbers measured on this corpus say how the pipeline behaves, not how well a model
recognises real music genres.
"""


# --------------------------------------------------------------------------- music helpers


class _Clip:
    """A mixing buffer plus the clip's random generator and musical choices."""

    def __init__(self, genre: str, rng: np.random.Generator, *, sr: int, duration: float):
        self.genre = genre
        self.rng = rng
        self.sr = sr
        self.n = int(round(duration * sr))
        self.buf = np.zeros(self.n, dtype=np.float64)
        lo, hi = _TEMPO[genre]
        self.bpm = float(rng.uniform(lo, hi))
        self.beat = 60.0 / self.bpm
        self.bar = 4 * self.beat
        self.mode = "major" if rng.random() < {"classical": 0.75, "chiptune": 0.6, "ambient": 0.5}.get(genre, 0.3) \
            else "minor"
        self.scale = _MAJOR if self.mode == "major" else _MINOR
        self.root = int(rng.integers(40, 52))  # E2..D#3 as the bass root
        progs = _PROGRESSIONS[self.mode]
        self.progression = progs[int(rng.integers(len(progs)))]
        self.n_bars = int(math.ceil(duration / self.bar)) + 1

    def degree(self, d: int, octave: int = 0) -> int:
        """MIDI number of scale degree ``d`` (may exceed 6) above the root."""
        return self.root + 12 * (octave + d // 7) + int(self.scale[d % 7])

    def chord(self, bar: int, *, size: int = 3, octave: int = 1) -> list[int]:
        d = self.progression[bar % len(self.progression)]
        return [self.degree(d + 2 * i, octave) for i in range(size)]

    def add(self, signal: np.ndarray, start_s: float, gain: float = 1.0) -> None:
        start = int(round(start_s * self.sr))
        if start >= self.n or start < 0:
            return
        stop = min(self.n, start + signal.size)
        self.buf[start:stop] += gain * signal[: stop - start]

    def note(self, osc: Callable[[float, float], np.ndarray], midi: float, start_s: float, dur_s: float,
             gain: float, **env) -> None:
        if start_s >= self.n / self.sr or dur_s <= 0:
            return
        freq = float(synth.midi_to_freq(midi))
        y = osc(freq, dur_s)
        self.add(y * synth.adsr(y.size / self.sr, sr=self.sr, **env)[: y.size], start_s, gain)


def _table(amps) -> np.ndarray:
    """Single-cycle wavetable with harmonic amplitudes ``amps``."""
    x = 2 * np.pi * np.arange(2048) / 2048
    table = sum(a * np.sin((k + 1) * x) for k, a in enumerate(amps))
    return (table / np.max(np.abs(table))).astype(np.float32)


_SQUARE = synth.single_cycle("square", n_terms=12)
_SAW = synth.single_cycle("sawtooth", n_terms=24)
_TRI = synth.single_cycle("triangle", n_terms=6)
_STRINGS = _table([1.0, 0.6, 0.45, 0.3, 0.22, 0.15, 0.1, 0.07])
_PAD = _table([1.0, 0.3, 0.12, 0.05])


def _wt(table: np.ndarray, sr: int, *, vibrato: float = 0.0, rate: float = 5.0):
    def osc(freq: float, dur: float) -> np.ndarray:
        n = max(2, int(round(dur * sr)))
        if vibrato:
            t = np.arange(n) / sr
            f = freq * (1.0 + vibrato * np.sin(2 * np.pi * rate * t))
            return synth.wavetable(table, f, sr=sr, duration=n / sr)
        return synth.wavetable(table, freq, sr=sr, duration=n / sr)

    return osc


def _lowpass(y: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    a = math.exp(-2 * math.pi * min(cutoff, 0.45 * sr) / sr)
    return lfilter([1 - a], [1, -a], lfilter([1 - a], [1, -a], y))


def _drums(clip: _Clip, pattern: dict[str, str], *, swing: float = 0.0, gain: float = 1.0,
           gains: dict[str, float] | None = None) -> None:
    loop = synth.drum_pattern(pattern, bpm=clip.bpm, sr=clip.sr, bars=clip.n_bars, swing=swing, gains=gains,
                              seed=int(clip.rng.integers(2**31)))
    clip.add(loop, 0.0, gain)


# --------------------------------------------------------------------------- styles


def _ambient(c: _Clip) -> None:
    sr = c.sr
    pad = _wt(_PAD, sr, vibrato=0.003, rate=float(c.rng.uniform(0.2, 0.6)))
    chord_len = 2 * c.bar
    for i in range(int(math.ceil(c.n / sr / chord_len)) + 1):
        for m in c.chord(i, size=4, octave=1):
            for detune in (-0.08, 0.08):
                c.note(pad, m + detune, i * chord_len, chord_len + 1.0, 0.12, attack=1.2, decay=0.5,
                       sustain=0.8, release=1.0)
    if c.rng.random() < 0.7:  # a sparse high bell line (FM)
        for k in range(int(c.n / sr / (2 * c.beat))):
            if c.rng.random() < 0.35:
                m = c.degree(int(c.rng.integers(0, 7)), 3)
                c.note(lambda f, d: synth.fm(f, 3.5 * f, 1.5, sr=sr, duration=d), m, k * 2 * c.beat, 1.5, 0.06,
                       attack=0.005, decay=0.6, sustain=0.1, release=0.8)
    ir_t = np.arange(int(0.9 * sr)) / sr
    ir = c.rng.standard_normal(ir_t.size) * np.exp(-ir_t / 0.3)
    from scipy.signal import fftconvolve

    wet = fftconvolve(c.buf, ir / np.sqrt(np.sum(ir**2)))[: c.n]
    c.buf = 0.6 * c.buf + 0.4 * wet


def _chiptune(c: _Clip) -> None:
    sr = c.sr
    lead = _wt(_SQUARE, sr)
    bass = _wt(_TRI, sr)
    step = c.beat / 4
    up = c.rng.random() < 0.5
    for bar in range(c.n_bars):
        notes = c.chord(bar, size=3, octave=2)
        arp = notes + [notes[0] + 12] if up else [notes[0] + 12] + notes[::-1]
        for s in range(16):
            c.note(lead, arp[s % len(arp)], bar * c.bar + s * step, step * 0.9, 0.22, attack=0.002, decay=0.02,
                   sustain=0.7, release=0.01)
        for s in range(8):
            c.note(bass, c.chord(bar, size=1, octave=0)[0] + (12 if s % 2 else 0), bar * c.bar + s * c.beat / 2,
                   c.beat / 2 * 0.8, 0.35, attack=0.002, decay=0.05, sustain=0.8, release=0.01)
    _drums(c, {"hat": "x.x.x.x.x.x.x.x.", "kick": "x...x...x...x..."}, gain=0.25, gains={"kick": 0.6})


def _classical(c: _Clip) -> None:
    sr = c.sr
    strings = _wt(_STRINGS, sr, vibrato=0.004, rate=float(c.rng.uniform(4.5, 6.0)))
    soft = _wt(_TRI, sr)
    eighth = c.beat / 2
    for bar in range(c.n_bars):
        lo, mid, hi = c.chord(bar, size=3, octave=1)
        for s, m in enumerate([lo, hi, mid, hi] * 2):  # Alberti bass
            c.note(soft, m, bar * c.bar + s * eighth, eighth * 1.3, 0.16, attack=0.01, decay=0.2, sustain=0.4,
                   release=0.1)
    degree = int(c.rng.integers(0, 7))
    t = 0.0
    while t < c.n / sr:
        dur = c.beat * float(c.rng.choice([0.5, 1.0, 1.0, 2.0]))
        c.note(strings, c.degree(degree, 2), t, dur, 0.2, attack=0.06, decay=0.1, sustain=0.85, release=0.12)
        degree = int(np.clip(degree + c.rng.choice([-2, -1, -1, 1, 1, 2]), 0, 11))
        t += dur


def _hiphop(c: _Clip) -> None:
    sr = c.sr
    swing = float(c.rng.uniform(0.08, 0.22))
    _drums(c, {"kick": "x.....x...x..x..", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."}, swing=swing,
           gain=0.45, gains={"hat": 0.35})
    sub = _wt(synth.single_cycle("sine"), sr)
    for bar in range(c.n_bars):
        root = c.chord(bar, size=1, octave=0)[0]
        c.note(sub, root, bar * c.bar, 1.5 * c.beat, 0.45, attack=0.005, decay=0.3, sustain=0.6, release=0.2)
        c.note(sub, root, bar * c.bar + 2.5 * c.beat, c.beat, 0.35, attack=0.005, decay=0.3, sustain=0.6,
               release=0.2)
    # one electric-piano chord, synthesised once by FM, then replayed by the sampler
    chord = c.chord(0, size=4, octave=2)
    base = sum(synth.fm(float(synth.midi_to_freq(m)), float(synth.midi_to_freq(m)), 1.2, sr=sr, duration=1.2)
               for m in chord) * synth.adsr(1.2, sr=sr, attack=0.005, decay=0.5, sustain=0.3, release=0.4)
    events = []
    for bar in range(c.n_bars):
        shift = c.progression[bar % len(c.progression)]
        semis = float(c.scale[shift % 7])
        events.append((bar * c.bar + c.beat * 1.5, semis, 0.12))
        if c.rng.random() < 0.5:
            events.append((bar * c.bar + c.beat * 3.0, semis, 0.08))
    c.buf += synth.sampler(base, events, sr=sr, duration=c.n / sr)
    crackle = (c.rng.random(c.n) < 0.0008) * c.rng.standard_normal(c.n) * 0.3
    c.buf += _lowpass(crackle, 4000, sr)


def _rock(c: _Clip) -> None:
    sr = c.sr
    saw = _wt(_SAW, sr)
    drive = float(c.rng.uniform(3.0, 7.0))
    guitar = np.zeros(c.n)
    eighth = c.beat / 2
    for bar in range(c.n_bars):
        root = c.chord(bar, size=1, octave=1)[0]
        for s in range(8):
            start = int(round((bar * c.bar + s * eighth) * sr))
            if start >= c.n:
                break
            y = sum(saw(float(synth.midi_to_freq(m)), eighth * 0.95) for m in (root, root + 7, root + 12))
            y = y * synth.adsr(y.size / sr, sr=sr, attack=0.003, decay=0.05, sustain=0.8, release=0.02)
            stop = min(c.n, start + y.size)
            guitar[start:stop] += y[: stop - start]
        c.note(saw, root - 12, bar * c.bar, c.bar * 0.98, 0.25, attack=0.005, decay=0.1, sustain=0.8, release=0.05)
    c.buf += 0.3 * np.tanh(drive * _lowpass(guitar, 3500, sr) / 3.0)
    _drums(c, {"kick": "x...x.x.", "snare": "..X...X.", "hat": "xxxxxxxx"}, gain=0.5,
           gains={"hat": 0.3, "kick": 1.2})


def _techno(c: _Clip) -> None:
    sr = c.sr
    _drums(c, {"kick": "X...X...X...X...", "openhat": "..x...x...x...x.", "hat": "x.xxx.xxx.xxx.xx"}, gain=0.5,
           gains={"hat": 0.2, "openhat": 0.35, "kick": 1.3})
    saw = _wt(_SAW, sr)
    step = c.beat / 4
    riff = c.rng.integers(0, 5, size=16)
    rests = c.rng.random(16) < 0.25
    sweep_rate = float(c.rng.uniform(0.05, 0.2))
    for bar in range(c.n_bars):
        for s in range(16):
            if rests[s]:
                continue
            t0 = bar * c.bar + s * step
            cutoff = 300 + 2500 * (0.5 + 0.5 * math.sin(2 * math.pi * sweep_rate * t0))
            m = c.degree(int(riff[s]), 0) + (12 if s % 4 == 2 else 0)
            y = saw(float(synth.midi_to_freq(m)), step * 0.9)
            y = _lowpass(y, cutoff, sr) * synth.adsr(y.size / sr, sr=sr, attack=0.002, decay=0.06, sustain=0.5,
                                                     release=0.01)
            c.add(y, t0, 0.5)


_STYLES: dict[str, Callable[[_Clip], None]] = {
    "ambient": _ambient, "chiptune": _chiptune, "classical": _classical, "hiphop": _hiphop, "rock": _rock,
    "techno": _techno,
}


def render_clip(genre: str, index: int, *, seed: int = 42, duration: float = 10.0, sr: int = 22050) -> np.ndarray:
    """Synthesise clip number ``index`` of a demo style (deterministic).

    Parameters
    ----------
    genre : str
        One of :data:`DEMO_GENRES`.
    index : int
        Clip number (>= 0); it and ``seed`` seed the clip's random choices.
    seed : int, keyword-only
        Corpus seed.
    duration : float, keyword-only
        Length in seconds.
    sr : int, keyword-only
        Sample rate in Hz.

    Returns
    -------
    ndarray of float32, shape ``(round(duration * sr),)``, peak below 1
    """
    if genre not in _STYLES:
        raise ParameterError(f"genre must be one of {DEMO_GENRES}, got {genre!r}")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ParameterError(f"index must be a non-negative integer, got {index!r}")
    seed = _check_seed(seed)
    duration, sr = _check_size(duration, sr)
    rng = np.random.default_rng(np.random.SeedSequence([seed, DEMO_GENRES.index(genre), int(index)]))
    clip = _Clip(genre, rng, sr=sr, duration=duration)
    _STYLES[genre](clip)
    noise_db = float(rng.uniform(-58.0, -38.0))
    y = clip.buf + 10 ** (noise_db / 20) * rng.standard_normal(clip.n)
    y = y - y.mean()
    peak = float(np.max(np.abs(y)))
    if peak == 0.0 or not np.isfinite(peak):  # pragma: no cover - every style makes sound
        raise DataError(f"demo clip {genre}/{index} rendered silence")
    return (y * (float(rng.uniform(0.5, 0.9)) / peak)).astype(np.float32)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_size(duration, sr) -> tuple[float, int]:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 192000:
        raise ParameterError(f"sr must be an integer number of Hz in [8000, 192000], got {sr!r}")
    try:
        duration = float(duration)
    except (TypeError, ValueError):
        raise ParameterError(f"duration must be a number of seconds, got {duration!r}") from None
    if not np.isfinite(duration) or not 0.5 <= duration <= 600:
        raise ParameterError(f"duration must lie in [0.5, 600] seconds, got {duration!r}")
    return duration, int(sr)


def demo_files(root: str | os.PathLike, *, n_per_genre: int) -> list[Path]:
    """The paths :func:`generate_demo` writes under ``root``, genre by genre."""
    root = Path(root)
    return [root / g / f"{g}.{i:05d}.wav" for g in DEMO_GENRES for i in range(n_per_genre)]


def _complete(path: Path, *, n: int, sr: int) -> bool:
    import soundfile as sf

    try:
        meta = sf.info(str(path))
    except Exception:
        return False
    return meta.frames == n and meta.samplerate == sr and meta.channels == 1 and meta.subtype == "PCM_16"


def generate_demo(root: str | os.PathLike | None = None, *, n_per_genre: int = 12, duration: float = 10.0,
                  sr: int = 22050, seed: int = 42, progress: bool = True) -> Path:
    """Write the synthetic demo corpus (GTZAN layout) and return its root.

    Parameters
    ----------
    root : str, path-like or None
        Target directory (``None``: :func:`genrenet.paths.demo_dir`).
    n_per_genre : int, keyword-only
        Clips per style (>= 1).
    duration : float, keyword-only
        Seconds per clip.
    sr : int, keyword-only
        Sample rate in Hz.
    seed : int, keyword-only
        Corpus seed; the same seed gives byte-identical files.
    progress : bool, keyword-only
        Show a tqdm progress bar.

    Returns
    -------
    Path
        ``root``, holding ``<genre>/<genre>.<NNNNN>.wav``, ``README.txt`` and ``.demo.json``.

    Notes
    -----
    Every file is written atomically; files that already exist complete (right length,
    rate and format) for the same seed, duration and rate are skipped, so a re-run resumes
    an interrupted generation. If ``.demo.json`` records other settings, the old clips are
    deleted first and every clip is rewritten. Clips numbered ``n_per_genre`` or above from
    an earlier, larger run with the same settings are kept (they are valid clips). A directory that holds clips named like ours but
    no ``.demo.json`` is refused (:class:`DataError`) rather than overwritten.
    """
    import json

    import soundfile as sf
    from tqdm import tqdm

    from genrenet.io import atomic_path, atomic_write_json, atomic_write_text
    from genrenet.paths import demo_dir

    if isinstance(n_per_genre, bool) or not isinstance(n_per_genre, (int, np.integer)) or n_per_genre < 1:
        raise ParameterError(f"n_per_genre must be a positive integer, got {n_per_genre!r}")
    seed = _check_seed(seed)
    duration, sr = _check_size(duration, sr)
    root = Path(root) if root is not None else demo_dir()
    if root.exists() and not root.is_dir():
        raise DataError(f"demo root {root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    settings = {"demo_version": DEMO_VERSION, "seed": seed, "duration": duration, "sr": sr,
                "genres": list(DEMO_GENRES)}
    marker = root / ".demo.json"
    same = False
    if marker.exists():
        try:
            old = json.loads(marker.read_text())
            same = {k: old.get(k) for k in settings} == settings
        except (OSError, ValueError):
            same = False
    existing = [p for g in DEMO_GENRES for p in sorted((root / g).glob(f"{g}.*.wav"))]
    if not marker.exists() and existing:
        raise DataError(f"{root} already holds {len(existing)} clip(s) such as {existing[0]} but no .demo.json: "
                        "it is not a genrenet demo corpus; choose an empty or new directory")
    n = int(round(duration * sr))
    if same:
        # clips beyond n_per_genre from an earlier, larger run are valid clips of the same settings: keep
        # them (another notebook may be using them) and record the largest count generated
        n_recorded = max(int(n_per_genre), sum(_complete(p, n=n, sr=sr) for p in existing) // len(DEMO_GENRES))
    else:
        for path in existing:  # clips of other settings: start over (the marker says they are ours)
            path.unlink()
        n_recorded = int(n_per_genre)
    atomic_write_json(marker, {**settings, "n_per_genre": n_recorded})
    files = demo_files(root, n_per_genre=int(n_per_genre))
    todo = [p for p in files if not (same and _complete(p, n=n, sr=sr))]
    with tqdm(total=len(files), initial=len(files) - len(todo), desc="demo corpus", unit="clip",
              disable=not progress) as bar:
        for path in todo:
            genre, number = path.stem.split(".")
            y = render_clip(genre, int(number), seed=seed, duration=duration, sr=sr)
            with atomic_path(path, suffix=".wav") as tmp:
                sf.write(str(tmp), y, sr, format="WAV", subtype="PCM_16")
            bar.update(1)
    descriptions = "\n".join(f"  - {g}: {_TEMPO[g][0]}-{_TEMPO[g][1]} bpm, {_STYLES[g].__name__[1:]} recipe"
                             for g in DEMO_GENRES)
    atomic_write_text(root / "README.txt", _README.format(
        version=_version(), genres=descriptions, sr=sr, duration=duration, n=n_recorded, seed=seed,
        demo_version=DEMO_VERSION))
    return root


def _version() -> str:
    from genrenet import __version__

    return __version__
