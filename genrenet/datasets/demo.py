"""The synthetic demo corpus: six made-up "genres" synthesised from scratch.

Book chapter ``book/dev_data.md`` and the notebook
``notebooks/data_exploration.ipynb`` use this module; every experiment notebook
falls back to this corpus (``dataset = "demo"``) so the book builds and the tests
run without downloading GTZAN.

The clips are SYNTHETIC: no recording is involved. They are built like music is
mixed: a style draws its parts from one shared pool of instruments (pads,
wavetable strings, a keyboard accompaniment, square or sawtooth arpeggios, FM
bells, a sampled FM electric piano, distorted power chords, an acid line, bass
lines and synthesised drum kits), each with a style-specific probability, so
styles share instruments, tempi and keys the way real genres do:

============  ===========  ==========================================================
style         tempo (bpm)  most likely parts (any part of the pool may appear)
============  ===========  ==========================================================
ambient       60-104       pads, FM bells, strings; usually no drums; long reverb
chiptune      108-168      square-wave arpeggios, triangle bass, "chip" drums
classical     62-132       wavetable strings melody, keyboard accompaniment, no drums
hiphop        74-102       swung boom-bap drums, sub bass, sampled FM electric piano
rock          94-164       distorted power chords, saw bass, backbeat drums
techno        116-142      four-on-the-floor drums, filtered acid line, pads
============  ===========  ==========================================================

Every clip draws its own tempo, key, mode, chord progression, parts, part levels,
drum pattern (sometimes a neighbouring style's), swing, brightness, reverb and noise
floor from a random generator seeded by ``(seed, genre, clip number)``. About one clip
in seven also carries a quieter part borrowed from another style (a "crossover"). The
result is a corpus whose styles overlap: a classifier separates them clearly better
than chance but not perfectly, so the book's experiments can show differences
between models and between genre subsets.

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
from genrenet._compat import renamed_kwargs
from genrenet._validate import non_negative_int, positive_int, sample_rate
from genrenet.errors import DataError, ParameterError
from genrenet.repro import DEFAULT_SEED

__all__ = ["DEMO_GENRES", "DEMO_VERSION", "generate_demo", "render_clip", "demo_files", "style_recipe",
           "recorded_version"]

#: The demo styles, in label order.
DEMO_GENRES = ("ambient", "chiptune", "classical", "hiphop", "rock", "techno")
#: Bumped whenever the audio a given seed produces changes (stored in ``.demo.json``).
DEMO_VERSION = 2

_TEMPO = {"ambient": (60, 104), "chiptune": (108, 168), "classical": (62, 132), "hiphop": (74, 102),
          "rock": (94, 164), "techno": (116, 142)}
#: Probability that a clip of a style is in major mode.
_MAJOR_P = {"ambient": 0.5, "chiptune": 0.6, "classical": 0.65, "hiphop": 0.35, "rock": 0.45, "techno": 0.35}
#: Probability of each part of the shared pool appearing in a clip of a style.
_PARTS = {
    "ambient": {"pad": 0.95, "bells": 0.6, "strings": 0.15, "keys": 0.1, "epiano": 0.05, "arp": 0.05,
                "bass": 0.4},
    "chiptune": {"arp": 0.95, "bass": 0.85, "bells": 0.15, "keys": 0.1, "pad": 0.05, "acid": 0.05},
    "classical": {"strings": 0.9, "keys": 0.85, "pad": 0.15, "bells": 0.1, "bass": 0.2, "epiano": 0.05},
    "hiphop": {"epiano": 0.8, "bass": 0.95, "pad": 0.15, "strings": 0.1, "keys": 0.1, "bells": 0.1,
               "guitar": 0.05},
    "rock": {"guitar": 0.9, "bass": 0.9, "keys": 0.1, "strings": 0.05, "pad": 0.05, "arp": 0.05},
    "techno": {"acid": 0.85, "bass": 0.5, "pad": 0.2, "arp": 0.15, "guitar": 0.05, "bells": 0.05},
}
#: Drum patterns a style plays, with their probabilities ("none": no drums).
_DRUMS = {
    "ambient": {"none": 0.8, "half": 0.1, "four": 0.05, "boombap": 0.05},
    "chiptune": {"chip": 0.7, "four": 0.1, "backbeat": 0.15, "none": 0.05},
    "classical": {"none": 0.9, "half": 0.05, "backbeat": 0.05},
    "hiphop": {"boombap": 0.8, "half": 0.1, "backbeat": 0.05, "four": 0.05},
    "rock": {"backbeat": 0.8, "half": 0.1, "four": 0.1},
    "techno": {"four": 0.85, "boombap": 0.05, "backbeat": 0.05, "chip": 0.05},
}
_KITS = {
    "four": {"kick": "X...X...X...X...", "openhat": "..x...x...x...x.", "hat": "x.xxx.xxx.xxx.xx"},
    "backbeat": {"kick": "x...x.x.", "snare": "..X...X.", "hat": "xxxxxxxx"},
    "half": {"kick": "x.......x.x.....", "snare": "........X.......", "hat": "x.x.x.x.x.x.x.x."},
    "boombap": {"kick": "x.....x...x..x..", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
    "chip": {"hat": "x.x.x.x.x.x.x.x.", "kick": "x...x...x...x...", "snare": "....x.......x..."},
}
#: Per-style ranges of the clip-level mix: reverb wet share, brightness (low-pass cutoff, Hz),
#: noise floor (dB below full scale) and swing.
_MIX = {
    "ambient": {"reverb": (0.3, 0.6), "cutoff": (4000, 9000), "noise_db": (-60, -32), "swing": (0.0, 0.1)},
    "chiptune": {"reverb": (0.0, 0.15), "cutoff": (7000, 11000), "noise_db": (-62, -36), "swing": (0.0, 0.05)},
    "classical": {"reverb": (0.2, 0.5), "cutoff": (5000, 10000), "noise_db": (-60, -34), "swing": (0.0, 0.05)},
    "hiphop": {"reverb": (0.0, 0.25), "cutoff": (3500, 8000), "noise_db": (-56, -30), "swing": (0.08, 0.22)},
    "rock": {"reverb": (0.05, 0.3), "cutoff": (5000, 10000), "noise_db": (-58, -32), "swing": (0.0, 0.05)},
    "techno": {"reverb": (0.05, 0.3), "cutoff": (5000, 10000), "noise_db": (-60, -34), "swing": (0.0, 0.05)},
}
#: Share of clips that borrow one quieter part from another style.
_CROSSOVER_P = 0.15
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
_PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 3, 0, 4), (1, 4, 0, 0)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2), (0, 0, 5, 4), (3, 4, 0, 0)],
}
_README = """SYNTHETIC DEMO CORPUS - NOT REAL MUSIC

Every file here was synthesised by genrenet.datasets.demo (genrenet {version}); no recording
was used. The six "genres" are made-up styles built from the synthesis methods of the
thesis (additive, FM, wavetable, sampler) plus synthesised drums. They share one pool of
instruments, tempi and keys, so they overlap like real genres do:
{genres}

Layout: <genre>/<genre>.<NNNNN>.wav, 16-bit PCM, mono, {sr} Hz, {duration:g} s each,
{n} clips per genre. Generated with seed {seed} (demo version {demo_version}); the same
seed always gives byte-identical files. Regenerate with:

    genrenet demo --to <dir> --per-genre {n} --seed {seed}

Numbers measured on this corpus say how the pipeline behaves, not how well a model
recognises real music genres.
"""


def style_recipe(genre: str) -> dict:
    """How a demo style is made: tempo range, part and drum probabilities, mix ranges.

    Parameters
    ----------
    genre : str
        One of :data:`DEMO_GENRES`.

    Returns
    -------
    dict
        ``{"tempo": (lo, hi), "major": p, "parts": {part: p}, "drums": {pattern: p}, "mix": {...}}``
        (copies: changing them does not change the corpus).
    """
    if genre not in _PARTS:
        raise ParameterError(f"genre must be one of {DEMO_GENRES}, got {genre!r}")
    return {"tempo": _TEMPO[genre], "major": _MAJOR_P[genre], "parts": dict(_PARTS[genre]),
            "drums": dict(_DRUMS[genre]), "mix": {k: tuple(v) for k, v in _MIX[genre].items()}}


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
        self.mode = "major" if rng.random() < _MAJOR_P[genre] else "minor"
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

    def stem(self) -> _Clip:
        """An empty buffer sharing this clip's musical choices (one part is rendered into it)."""
        part = object.__new__(_Clip)
        part.__dict__.update(self.__dict__)
        part.buf = np.zeros(self.n, dtype=np.float64)
        return part

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
_SINE = synth.single_cycle("sine")
_STRINGS = _table([1.0, 0.6, 0.45, 0.3, 0.22, 0.15, 0.1, 0.07])
_PAD = _table([1.0, 0.3, 0.12, 0.05])
_PULSE = _table([1.0, 0.9, 0.75, 0.6, 0.45, 0.3, 0.2, 0.1])


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


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


# --------------------------------------------------------------------------- the shared pool of parts


def _pad(c: _Clip) -> None:
    sr = c.sr
    pad = _wt(_PAD, sr, vibrato=0.003, rate=float(c.rng.uniform(0.2, 0.6)))
    chord_len = (2 if c.rng.random() < 0.6 else 1) * c.bar
    detunes = (-0.08, 0.08) if c.rng.random() < 0.6 else (0.0,)
    for i in range(int(math.ceil(c.n / sr / chord_len)) + 1):
        for m in c.chord(i, size=4 if c.rng.random() < 0.5 else 3, octave=1):
            for detune in detunes:
                c.note(pad, m + detune, i * chord_len, chord_len + 0.8, 0.12 / len(detunes) * 2,
                       attack=float(c.rng.uniform(0.2, 1.2)), decay=0.5, sustain=0.8, release=0.8)


def _strings(c: _Clip) -> None:
    strings = _wt(_STRINGS, c.sr, vibrato=0.004, rate=float(c.rng.uniform(4.5, 6.0)))
    degree = int(c.rng.integers(0, 7))
    octave = int(c.rng.choice([1, 2, 2]))
    t = 0.0
    while t < c.n / c.sr:
        dur = c.beat * float(c.rng.choice([0.5, 1.0, 1.0, 2.0]))
        c.note(strings, c.degree(degree, octave), t, dur, 0.2, attack=0.06, decay=0.1, sustain=0.85, release=0.12)
        degree = int(np.clip(degree + c.rng.choice([-2, -1, -1, 1, 1, 2]), 0, 11))
        t += dur


def _keys(c: _Clip) -> None:
    """Keyboard accompaniment: an Alberti bass or block chords (soft triangle timbre)."""
    soft = _wt(_TRI if c.rng.random() < 0.7 else _PAD, c.sr)
    eighth = c.beat / 2
    alberti = c.rng.random() < 0.65
    for bar in range(c.n_bars):
        lo, mid, hi = c.chord(bar, size=3, octave=1)
        if alberti:
            for s, m in enumerate([lo, hi, mid, hi] * 2):
                c.note(soft, m, bar * c.bar + s * eighth, eighth * 1.3, 0.16, attack=0.01, decay=0.2,
                       sustain=0.4, release=0.1)
        else:
            for beat in (0, 2):
                for m in (lo, mid, hi):
                    c.note(soft, m, bar * c.bar + beat * c.beat, 1.8 * c.beat, 0.1, attack=0.01, decay=0.4,
                           sustain=0.5, release=0.2)


def _arp(c: _Clip) -> None:
    table = [_SQUARE, _PULSE, _SAW][int(c.rng.choice(3, p=[0.55, 0.25, 0.2] if c.genre == "chiptune"
                                                    else [0.2, 0.3, 0.5]))]
    lead = _wt(table, c.sr)
    step = c.beat / (4 if c.rng.random() < 0.7 else 2)
    per_bar = int(round(c.bar / step))
    up = c.rng.random() < 0.5
    for bar in range(c.n_bars):
        notes = c.chord(bar, size=3, octave=2)
        arp = notes + [notes[0] + 12] if up else [notes[0] + 12] + notes[::-1]
        for s in range(per_bar):
            c.note(lead, arp[s % len(arp)], bar * c.bar + s * step, step * 0.9, 0.2, attack=0.002, decay=0.02,
                   sustain=0.7, release=0.01)


def _bells(c: _Clip) -> None:
    sr = c.sr
    ratio = float(c.rng.choice([1.4, 2.0, 3.5]))
    density = float(c.rng.uniform(0.2, 0.5))
    for k in range(int(c.n / sr / c.beat)):
        if c.rng.random() < density:
            m = c.degree(int(c.rng.integers(0, 7)), 3)
            c.note(lambda f, d: synth.fm(f, ratio * f, 1.5, sr=sr, duration=d), m, k * c.beat, 1.2, 0.07,
                   attack=0.005, decay=0.6, sustain=0.1, release=0.6)


def _epiano(c: _Clip) -> None:
    """One electric-piano chord, synthesised once by FM, then replayed by the sampler."""
    sr = c.sr
    chord = c.chord(0, size=4, octave=2)
    base = sum(synth.fm(float(synth.midi_to_freq(m)), float(synth.midi_to_freq(m)), 1.2, sr=sr, duration=1.2)
               for m in chord) * synth.adsr(1.2, sr=sr, attack=0.005, decay=0.5, sustain=0.3, release=0.4)
    offset = float(c.rng.choice([0.0, 1.0, 1.5]))
    events = []
    for bar in range(c.n_bars):
        semis = float(c.scale[c.progression[bar % len(c.progression)] % 7])
        events.append((bar * c.bar + c.beat * offset, semis, 0.12))
        if c.rng.random() < 0.5:
            events.append((bar * c.bar + c.beat * 3.0, semis, 0.08))
    c.buf += synth.sampler(base, events, sr=sr, duration=c.n / sr)


def _guitar(c: _Clip) -> None:
    """Distorted sawtooth power chords in eighths (or whole notes)."""
    sr = c.sr
    saw = _wt(_SAW, sr)
    drive = float(c.rng.uniform(2.0, 7.0))
    guitar = np.zeros(c.n)
    steps = 8 if c.rng.random() < 0.75 else 1
    length = c.bar / steps
    for bar in range(c.n_bars):
        root = c.chord(bar, size=1, octave=1)[0]
        for s in range(steps):
            start = int(round((bar * c.bar + s * length) * sr))
            if start >= c.n:
                break
            y = sum(saw(float(synth.midi_to_freq(m)), length * 0.95) for m in (root, root + 7, root + 12))
            y = y * synth.adsr(y.size / sr, sr=sr, attack=0.003, decay=0.05, sustain=0.8, release=0.02)
            stop = min(c.n, start + y.size)
            guitar[start:stop] += y[: stop - start]
    c.buf += 0.3 * np.tanh(drive * _lowpass(guitar, 3500, sr) / 3.0)


def _acid(c: _Clip) -> None:
    """A sawtooth 16th-note riff through a low-pass filter whose cutoff sweeps."""
    sr = c.sr
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


_BASS_TABLES = {"sub": _SINE, "triangle": _TRI, "saw": _SAW}
_BASS_KIND = {"ambient": {"sub": 0.7, "triangle": 0.3}, "chiptune": {"triangle": 0.8, "saw": 0.2},
              "classical": {"triangle": 0.6, "sub": 0.4}, "hiphop": {"sub": 0.8, "saw": 0.2},
              "rock": {"saw": 0.7, "triangle": 0.3}, "techno": {"saw": 0.5, "sub": 0.5}}


def _bass(c: _Clip) -> None:
    kind = _pick(c.rng, _BASS_KIND[c.genre])
    osc = _wt(_BASS_TABLES[kind], c.sr)
    rhythm = _pick(c.rng, {"whole": 0.3, "eighths": 0.35, "syncopated": 0.35})
    for bar in range(c.n_bars):
        root = c.chord(bar, size=1, octave=0)[0]
        if rhythm == "whole":
            c.note(osc, root, bar * c.bar, c.bar * 0.95, 0.35, attack=0.01, decay=0.2, sustain=0.7, release=0.1)
        elif rhythm == "eighths":
            for s in range(8):
                c.note(osc, root + (12 if s % 2 and kind != "sub" else 0), bar * c.bar + s * c.beat / 2,
                       c.beat / 2 * 0.8, 0.3, attack=0.003, decay=0.05, sustain=0.8, release=0.02)
        else:
            for start, length in ((0.0, 1.5), (2.5, 1.0)):
                c.note(osc, root, bar * c.bar + start * c.beat, length * c.beat, 0.4, attack=0.005, decay=0.3,
                       sustain=0.6, release=0.2)


_PART_FUNCS: dict[str, Callable[[_Clip], None]] = {
    "pad": _pad, "strings": _strings, "keys": _keys, "arp": _arp, "bells": _bells, "epiano": _epiano,
    "guitar": _guitar, "acid": _acid, "bass": _bass,
}


def _drums(c: _Clip, kit: str, swing: float) -> np.ndarray:
    gains = {"hat": float(c.rng.uniform(0.15, 0.4)), "openhat": 0.3, "kick": float(c.rng.uniform(0.9, 1.3)),
             "snare": float(c.rng.uniform(0.7, 1.1))}
    return synth.drum_pattern(_KITS[kit], bpm=c.bpm, sr=c.sr, bars=c.n_bars, swing=swing, gains=gains,
                              seed=int(c.rng.integers(2**31)))[: c.n]


def _reverb(y: np.ndarray, c: _Clip, wet: float) -> np.ndarray:
    from scipy.signal import fftconvolve

    if wet <= 0:
        return y
    ir_t = np.arange(int(float(c.rng.uniform(0.4, 1.0)) * c.sr)) / c.sr
    ir = c.rng.standard_normal(ir_t.size) * np.exp(-ir_t / float(c.rng.uniform(0.15, 0.35)))
    return (1 - wet) * y + wet * fftconvolve(y, ir / np.sqrt(np.sum(ir**2)))[: y.size]


def _choose_parts(genre: str, rng: np.random.Generator) -> list[str]:
    probs = _PARTS[genre]
    parts = [p for p in _PART_FUNCS if p in probs and rng.random() < probs[p]]
    if not any(p != "bass" for p in parts):  # a clip always has something above the bass
        parts.append(max((p for p in probs if p != "bass"), key=probs.get))
    return parts


def _mix(c: _Clip, parts: list[str], *, guest: tuple[str, str] | None) -> None:
    """Render each part into its own stem and sum them at random levels."""
    for part in parts:
        stem = c.stem()
        _PART_FUNCS[part](stem)
        c.buf += 10 ** (float(c.rng.uniform(-6.0, 0.0)) / 20) * stem.buf
    if guest is not None:  # a part of another style, quieter, in this clip's tempo and key
        other, part = guest
        stem = c.stem()
        stem.genre = other
        _PART_FUNCS[part](stem)
        c.buf += 10 ** (float(c.rng.uniform(-16.0, -8.0)) / 20) * stem.buf


def render_clip(genre: str, index: int, *, seed: int = DEFAULT_SEED, duration: float = 10.0, sr: int = 22050) -> np.ndarray:
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
    if genre not in _PARTS:
        raise ParameterError(f"genre must be one of {DEMO_GENRES}, got {genre!r}")
    non_negative_int("index", index)
    seed = _check_seed(seed)
    duration, sr = _check_size(duration, sr)
    rng = np.random.default_rng(np.random.SeedSequence([seed, DEMO_GENRES.index(genre), int(index)]))
    clip = _Clip(genre, rng, sr=sr, duration=duration)
    mix = _MIX[genre]
    parts = _choose_parts(genre, rng)
    guest = None
    if rng.random() < _CROSSOVER_P:
        other = DEMO_GENRES[int(rng.choice([i for i, g in enumerate(DEMO_GENRES) if g != genre]))]
        guest = (other, max(_PARTS[other], key=_PARTS[other].get))
    _mix(clip, parts, guest=guest)
    kit = _pick(rng, _DRUMS[genre])
    swing = float(rng.uniform(*mix["swing"]))
    if kit != "none":
        clip.buf += 10 ** (float(rng.uniform(-8.0, 0.0)) / 20) * 0.5 * _drums(clip, kit, swing)
    y = _reverb(clip.buf, clip, float(rng.uniform(*mix["reverb"])))
    y = _lowpass(y, float(rng.uniform(*mix["cutoff"])), sr)
    y = y / max(float(np.max(np.abs(y))), 1e-9)
    noise_db = float(rng.uniform(*mix["noise_db"]))
    y = y + 10 ** (noise_db / 20) * rng.standard_normal(clip.n)
    y = y - y.mean()
    peak = float(np.max(np.abs(y)))
    if peak == 0.0 or not np.isfinite(peak):  # pragma: no cover - every style makes sound
        raise DataError(f"demo clip {genre}/{index} rendered silence")
    return (y * (float(rng.uniform(0.5, 0.9)) / peak)).astype(np.float32)


def _check_seed(seed) -> int:
    return non_negative_int("seed", seed)


def _check_size(duration, sr) -> tuple[float, int]:
    sr = sample_rate(sr, low=8000, high=192000)
    try:
        duration = float(duration)
    except (TypeError, ValueError):
        raise ParameterError(f"duration must be a number of seconds, got {duration!r}") from None
    if not np.isfinite(duration) or not 0.5 <= duration <= 600:
        raise ParameterError(f"duration must lie in [0.5, 600] seconds, got {duration!r}")
    return duration, int(sr)


@renamed_kwargs(root="data_dir", n_per_genre="per_genre")
def demo_files(data_dir: str | os.PathLike, *, per_genre: int) -> list[Path]:
    """The paths :func:`generate_demo` writes under ``data_dir``, genre by genre.

    (Formerly ``root=`` and ``n_per_genre=``, still accepted with a :class:`FutureWarning`.)
    """
    root = Path(data_dir)
    return [root / g / f"{g}.{i:05d}.wav" for g in DEMO_GENRES for i in range(per_genre)]


@renamed_kwargs(root="data_dir")
def recorded_version(data_dir: str | os.PathLike) -> int | None:
    """The demo version recorded in ``data_dir/.demo.json`` (``None`` when absent or unreadable)."""
    import json

    try:
        value = json.loads((Path(data_dir) / ".demo.json").read_text()).get("demo_version")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _complete(path: Path, *, n: int, sr: int) -> bool:
    import soundfile as sf

    try:
        meta = sf.info(str(path))
    except Exception:
        return False
    return meta.frames == n and meta.samplerate == sr and meta.channels == 1 and meta.subtype == "PCM_16"


@renamed_kwargs(root="data_dir", n_per_genre="per_genre")
def generate_demo(data_dir: str | os.PathLike | None = None, *, per_genre: int = 12, duration: float = 10.0,
                  sr: int = 22050, seed: int = DEFAULT_SEED, progress: bool = True) -> Path:
    """Write the synthetic demo corpus (GTZAN layout) and return its root.

    Parameters
    ----------
    data_dir : str, path-like or None
        Target directory (``None``: :func:`genrenet.paths.demo_dir`).
        (Formerly ``root=``, still accepted with a :class:`FutureWarning`.)
    per_genre : int, keyword-only
        Clips per style (>= 1). (Formerly ``n_per_genre=``, still accepted with a
        :class:`FutureWarning`.)
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
        ``data_dir``, holding ``<genre>/<genre>.<NNNNN>.wav``, ``README.txt`` and ``.demo.json``.

    Notes
    -----
    Every file is written atomically; files that already exist complete (right length,
    rate and format) for the same seed, duration and rate are skipped, so a re-run resumes
    an interrupted generation. If ``.demo.json`` records other settings, the old clips are
    deleted first and every clip is rewritten. Clips numbered ``per_genre`` or above from
    an earlier, larger run with the same settings are kept (they are valid clips). A directory that holds clips named like ours but
    no ``.demo.json`` is refused (:class:`DataError`) rather than overwritten.
    """
    from genrenet.io import atomic_write_json, atomic_write_text
    from genrenet.paths import demo_dir

    positive_int("per_genre", per_genre)
    seed = _check_seed(seed)
    duration, sr = _check_size(duration, sr)
    root = Path(data_dir) if data_dir is not None else demo_dir()
    if root.exists() and not root.is_dir():
        raise DataError(f"demo root {root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    settings = {"demo_version": DEMO_VERSION, "seed": seed, "duration": duration, "sr": sr,
                "genres": list(DEMO_GENRES)}
    marker = root / ".demo.json"
    same = _same_settings(marker, settings)
    existing = [p for g in DEMO_GENRES for p in sorted((root / g).glob(f"{g}.*.wav"))]
    if not marker.exists() and existing:
        raise DataError(f"{root} already holds {len(existing)} clip(s) such as {existing[0]} but no .demo.json: "
                        "it is not a genrenet demo corpus; choose an empty or new directory")
    n = int(round(duration * sr))
    if same:
        # clips beyond per_genre from an earlier, larger run are valid clips of the same settings: keep
        # them (another notebook may be using them) and record the largest count generated
        n_recorded = max(int(per_genre), sum(_complete(p, n=n, sr=sr) for p in existing) // len(DEMO_GENRES))
    else:
        for path in existing:  # clips of other settings: start over (the marker says they are ours)
            path.unlink()
        n_recorded = int(per_genre)
    atomic_write_json(marker, {**settings, "n_per_genre": n_recorded})
    files = demo_files(root, per_genre=int(per_genre))
    todo = [p for p in files if not (same and _complete(p, n=n, sr=sr))]
    _render_files(todo, total=len(files), seed=seed, duration=duration, sr=sr, progress=progress)
    descriptions = "\n".join(f"  - {g}: {_TEMPO[g][0]}-{_TEMPO[g][1]} bpm, mostly "
                             + ", ".join(sorted(_PARTS[g], key=lambda p: -_PARTS[g][p])[:3]) for g in DEMO_GENRES)
    atomic_write_text(root / "README.txt", _README.format(
        version=_version(), genres=descriptions, sr=sr, duration=duration, n=n_recorded, seed=seed,
        demo_version=DEMO_VERSION))
    return root


def _same_settings(marker: Path, settings: dict) -> bool:
    """True when the corpus marker ``.demo.json`` records these settings."""
    import json

    if not marker.exists():
        return False
    try:
        old = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return {k: old.get(k) for k in settings} == settings


def _render_files(todo: list[Path], *, total: int, seed: int, duration: float, sr: int, progress: bool) -> None:
    """Write each clip of ``todo`` (16-bit WAV, atomically); the bar counts ``total`` clips."""
    import soundfile as sf
    from tqdm import tqdm

    from genrenet.io import atomic_path

    with tqdm(total=total, initial=total - len(todo), desc="demo corpus", unit="clip",
              disable=not progress) as bar:
        for path in todo:
            genre, number = path.stem.split(".")
            y = render_clip(genre, int(number), seed=seed, duration=duration, sr=sr)
            with atomic_path(path, suffix=".wav") as tmp:
                sf.write(str(tmp), y, sr, format="WAV", subtype="PCM_16")
            bar.update(1)


def _version() -> str:
    from genrenet import __version__

    return __version__
