"""Sound and synthesis, as in the thesis's music-theory chapter, written as NumPy code.

Book chapter ``book/theory_sound.md`` and the notebooks ``notebooks/signal_processing.ipynb``
and ``notebooks/theory_figures.ipynb`` use this module; :mod:`genrenet.datasets.demo`
builds the synthetic demo corpus from it.

Contents
    * a pure tone ``Y(t) = A sin(2 pi f t)`` (:func:`tone`);
    * the thesis's Fourier series of the square, sawtooth and triangle waves and the
      ideal waveforms they converge to, plus band-limited audio versions;
    * notes: equal temperament with A4 = 440 Hz (:func:`note_to_freq`, :func:`freq_to_note`);
    * the four synthesis methods the thesis names: additive, FM (carrier + modulator),
      wavetable (a short single-cycle table read at any pitch) and a sampler (a recorded
      sample placed at pitches and times in a buffer);
    * an ADSR envelope, synthesised drum voices and a step sequencer.

All generators return float32 arrays; anything random takes a ``seed`` (or a NumPy
``Generator``) so the same call gives the same samples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from genrenet._validate import int_at_least, non_negative_float, positive_float, positive_int, sample_rate
from genrenet.errors import ParameterError

__all__ = [
    "time_axis",
    "tone",
    "square_series",
    "sawtooth_series",
    "triangle_series",
    "square_wave",
    "sawtooth_wave",
    "triangle_wave",
    "fourier_wave",
    "single_cycle",
    "additive",
    "fm",
    "wavetable",
    "sampler",
    "note_to_midi",
    "midi_to_freq",
    "freq_to_midi",
    "note_to_freq",
    "freq_to_note",
    "adsr",
    "kick",
    "snare",
    "hat",
    "DRUM_VOICES",
    "drum_pattern",
]

_NOTE_RE = re.compile(r"^\s*([A-Ga-g])([#b\u266f\u266d]{0,2})(-?\d+)\s*$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


# --------------------------------------------------------------------------- checks


def _pos(value, name: str) -> float:
    return positive_float(name, value)


def _nonneg(value, name: str) -> float:
    return non_negative_float(name, value)


def _sr(sr) -> int:
    return sample_rate(sr)


def _terms(n_terms) -> int:
    return positive_int("n_terms", n_terms)


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise ParameterError(f"seed must be a non-negative integer, a numpy Generator or None, got {seed!r}")


def time_axis(*, sr: int = 22050, duration: float = 1.0) -> np.ndarray:
    """Sample times ``t = n / sr`` for ``round(duration * sr)`` samples (float64).

    Examples
    --------
    >>> t = time_axis(sr=8000, duration=0.5)
    >>> t.shape, float(t[1])
    ((4000,), 0.000125)
    """
    sr = _sr(sr)
    duration = _pos(duration, "duration")
    return np.arange(int(round(duration * sr))) / sr


# --------------------------------------------------------------------------- tones and series


def tone(freq: float, *, sr: int = 22050, duration: float = 1.0, amplitude: float = 1.0,
         phase: float = 0.0) -> np.ndarray:
    """The thesis's pure tone ``Y(t) = A sin(2 pi f t + phase)``.

    Parameters
    ----------
    freq : float
        Frequency ``f`` in Hz (> 0, below ``sr / 2``).
    sr : int, keyword-only
        Sample rate in Hz.
    duration : float, keyword-only
        Length in seconds.
    amplitude : float, keyword-only
        Peak amplitude ``A``.
    phase : float, keyword-only
        Initial phase in radians.

    Returns
    -------
    ndarray of float32, shape ``(round(duration * sr),)``

    Examples
    --------
    >>> y = tone(440.0, sr=22050, duration=1.0, amplitude=0.5)
    >>> y.shape, round(float(y.max()), 3)
    ((22050,), 0.5)
    """
    sr = _sr(sr)
    freq = _pos(freq, "freq")
    if freq >= sr / 2:
        raise ParameterError(f"freq={freq} Hz must be below the Nyquist frequency sr/2 = {sr / 2} Hz")
    t = time_axis(sr=sr, duration=duration)
    return (float(amplitude) * np.sin(2 * np.pi * freq * t + float(phase))).astype(np.float32)


def square_series(x, n_terms: int) -> np.ndarray:
    """Partial sum ``sum_{n=1}^{N} sin((2n-1) x) / (2n-1)`` (the thesis's square wave).

    It converges to :func:`square_wave` (``+-pi/4``) except at the jumps, where the
    Gibbs overshoot (about 9 % of the jump) never disappears but moves towards the jump.

    Examples
    --------
    >>> x = np.array([np.pi / 2])
    >>> [round(float(square_series(x, n)[0]), 3) for n in (1, 10, 1000)]  # towards pi/4
    [1.0, 0.76, 0.785]
    """
    return _partial_sum(x, 2 * np.arange(1, _terms(n_terms) + 1) - 1, np.sin, lambda k: 1.0 / k)


def sawtooth_series(x, n_terms: int) -> np.ndarray:
    """Partial sum ``sum_{n=1}^{N} (-1)^(n+1) sin(n x) / n`` (the thesis's sawtooth).

    It converges to :func:`sawtooth_wave` (``x / 2`` on ``(-pi, pi)``) away from the
    jumps at odd multiples of pi.

    Examples
    --------
    >>> x = np.array([1.0])
    >>> [round(float(sawtooth_series(x, n)[0]), 3) for n in (1, 10, 1000)]  # towards x/2
    [0.841, 0.548, 0.499]
    """
    return _partial_sum(x, np.arange(1, _terms(n_terms) + 1), np.sin, lambda n: (-1.0) ** (n + 1) / n)


def triangle_series(x, n_terms: int) -> np.ndarray:
    """Partial sum ``sum_{n=1}^{N} cos((2n-1) x) / (2n-1)^2`` (the thesis's triangle).

    It converges uniformly to :func:`triangle_wave`, ``pi^2/8 - pi |x| / 4`` on
    ``[-pi, pi]`` (a triangle of height ``pi^2/8`` scaled and shifted); the error is
    below ``1 / (2 (2N - 1))`` everywhere because the coefficients decay like ``1/n^2``.

    Examples
    --------
    >>> x = np.array([0.0])
    >>> [round(float(triangle_series(x, n)[0]), 3) for n in (1, 10, 1000)]  # towards pi^2/8
    [1.0, 1.209, 1.233]
    """
    return _partial_sum(x, 2 * np.arange(1, _terms(n_terms) + 1) - 1, np.cos, lambda k: 1.0 / k**2)


def _partial_sum(x, harmonics: np.ndarray, func, coef) -> np.ndarray:
    """sum_k coef(k) func(k x), accumulated term by term (memory O(len(x)))."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for k, c in zip(harmonics, coef(harmonics.astype(np.float64)), strict=True):
        out += c * func(k * x)
    return out


def _wrap(x) -> np.ndarray:
    """Map x to [-pi, pi)."""
    x = np.asarray(x, dtype=np.float64)
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


def square_wave(x) -> np.ndarray:
    """Limit of :func:`square_series`: ``pi/4`` where ``sin x > 0``, ``-pi/4`` where ``< 0``, 0 at jumps.

    Examples
    --------
    >>> np.round(square_wave(np.array([-1.0, 0.0, 1.0])), 4).tolist()
    [-0.7854, 0.0, 0.7854]
    """
    return (np.pi / 4) * np.sign(np.sin(np.asarray(x, dtype=np.float64)))


def sawtooth_wave(x) -> np.ndarray:
    """Limit of :func:`sawtooth_series`: ``x / 2`` on ``(-pi, pi)``, 2-pi periodic (0 at the jumps).

    Examples
    --------
    >>> sawtooth_wave(np.array([-1.0, 0.0, 1.0])).tolist()
    [-0.5, 0.0, 0.5]
    """
    w = _wrap(x)
    return np.where(np.isclose(np.abs(w), np.pi), 0.0, w / 2)


def triangle_wave(x) -> np.ndarray:
    """Limit of :func:`triangle_series`: ``pi^2/8 - pi |x| / 4`` on ``[-pi, pi]``, 2-pi periodic.

    Examples
    --------
    >>> np.round(triangle_wave(np.array([-np.pi, 0.0, np.pi])), 4).tolist()
    [-1.2337, 1.2337, -1.2337]
    """
    return np.pi**2 / 8 - np.pi * np.abs(_wrap(x)) / 4


_SERIES = {"square": square_series, "sawtooth": sawtooth_series, "triangle": triangle_series}
_SERIES_STEP = {"square": 2, "sawtooth": 1, "triangle": 2}


def fourier_wave(kind: str, freq: float, *, sr: int = 22050, duration: float = 1.0, n_terms: int | None = None,
                 amplitude: float = 1.0) -> np.ndarray:
    """An audible square, sawtooth or triangle wave built from the thesis's Fourier series.

    Only partials below the Nyquist frequency are summed (a band-limited wave without
    aliasing); the result is scaled so its peak is ``amplitude``.

    Parameters
    ----------
    kind : {"square", "sawtooth", "triangle"}
        Which series.
    freq : float
        Fundamental in Hz.
    sr, duration, amplitude : keyword-only
        As for :func:`tone`.
    n_terms : int or None, keyword-only
        Number of series terms (``None``: all that fit below ``sr / 2``).

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> y = fourier_wave("square", 220.0, sr=22050, duration=0.5, n_terms=20)
    >>> y.shape
    (11025,)
    """
    if kind not in _SERIES:
        raise ParameterError(f"kind must be one of {sorted(_SERIES)}, got {kind!r}")
    sr = _sr(sr)
    freq = _pos(freq, "freq")
    # largest harmonic number h with h * freq < sr / 2; term N carries harmonic 2N-1 (odd series) or N
    max_h = int(np.ceil(sr / 2 / freq)) - 1
    fit = (max_h + 1) // 2 if _SERIES_STEP[kind] == 2 else max_h
    if fit < 1:
        raise ParameterError(f"freq={freq} Hz leaves no partial below the Nyquist frequency {sr / 2} Hz")
    n = fit if n_terms is None else min(_terms(n_terms), fit)
    t = time_axis(sr=sr, duration=duration)
    x = 2 * np.pi * freq * t
    one_period = _SERIES[kind](np.linspace(-np.pi, np.pi, 4097), n)
    peak = float(np.max(np.abs(one_period)))
    return (float(amplitude) * _SERIES[kind](x, n) / peak).astype(np.float32)


def single_cycle(kind: str = "sawtooth", *, size: int = 2048, n_terms: int = 32) -> np.ndarray:
    """One period of a waveform as a wavetable (``size`` samples, peak 1).

    ``kind`` is ``"sine"`` or one of the Fourier-series shapes (``"square"``,
    ``"sawtooth"``, ``"triangle"``) with ``n_terms`` terms.

    Examples
    --------
    >>> table = single_cycle("sawtooth", size=1024)
    >>> table.shape, float(np.abs(table).max())
    ((1024,), 1.0)
    """
    size = int_at_least("size", size, 4)
    x = 2 * np.pi * np.arange(size) / size
    if kind == "sine":
        table = np.sin(x)
    elif kind in _SERIES:
        table = _SERIES[kind](x, n_terms)
    else:
        raise ParameterError(f"kind must be 'sine' or one of {sorted(_SERIES)}, got {kind!r}")
    return (table / np.max(np.abs(table))).astype(np.float32)


# --------------------------------------------------------------------------- synthesis methods


def additive(partials: Iterable, *, sr: int = 22050, duration: float = 1.0) -> np.ndarray:
    """Additive synthesis: a sum of sinusoids.

    Parameters
    ----------
    partials : iterable of (freq, amplitude) or (freq, amplitude, phase)
        The components; partials at or above ``sr / 2`` are rejected.
    sr, duration : keyword-only
        As for :func:`tone`.

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> y = additive([(220.0, 1.0), (440.0, 0.5), (660.0, 0.33)], sr=22050, duration=1.0)
    >>> y.shape
    (22050,)
    """
    sr = _sr(sr)
    rows = []
    for i, p in enumerate(partials):
        try:
            vals = [float(v) for v in p]
        except (TypeError, ValueError):
            raise ParameterError(f"partials[{i}] must be (freq, amplitude[, phase]), got {p!r}") from None
        if len(vals) not in (2, 3):
            raise ParameterError(f"partials[{i}] must be (freq, amplitude[, phase]), got {p!r}")
        if not 0 < vals[0] < sr / 2:
            raise ParameterError(f"partials[{i}] frequency {vals[0]} Hz must lie in (0, sr/2 = {sr / 2})")
        rows.append(vals + [0.0] * (3 - len(vals)))
    if not rows:
        raise ParameterError("partials is empty: give at least one (freq, amplitude)")
    comp = np.asarray(rows)
    t = time_axis(sr=sr, duration=duration)
    return (np.sin(np.multiply.outer(t, 2 * np.pi * comp[:, 0]) + comp[:, 2]) @ comp[:, 1]).astype(np.float32)


def fm(carrier: float, modulator: float, index: float, *, sr: int = 22050, duration: float = 1.0,
       amplitude: float = 1.0, index_envelope=None) -> np.ndarray:
    """Frequency modulation: ``A sin(2 pi f_c t + I(t) sin(2 pi f_m t))``.

    Parameters
    ----------
    carrier, modulator : float
        Carrier and modulator frequencies in Hz.
    index : float
        Modulation index ``I`` (>= 0): how far the carrier's phase swings.
    sr, duration, amplitude : keyword-only
        As for :func:`tone`.
    index_envelope : array_like or None, keyword-only
        Optional per-sample factor applied to ``index`` (brightness that evolves).

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> y = fm(440.0, 220.0, 3.0, sr=22050, duration=0.5, amplitude=0.5)
    >>> y.shape, round(float(np.abs(y).max()), 2)
    ((11025,), 0.5)
    """
    carrier = _pos(carrier, "carrier")
    modulator = _pos(modulator, "modulator")
    index = _nonneg(index, "index")
    t = time_axis(sr=sr, duration=duration)
    mod_index = index if index_envelope is None else index * _envelope_like(index_envelope, t.size, "index_envelope")
    phase = 2 * np.pi * carrier * t + mod_index * np.sin(2 * np.pi * modulator * t)
    return (float(amplitude) * np.sin(phase)).astype(np.float32)


def _envelope_like(env, n: int, name: str) -> np.ndarray:
    env = np.asarray(env, dtype=np.float64)
    if env.shape != (n,):
        raise ParameterError(f"{name} must have one value per sample ({n}), got shape {env.shape}")
    return env


def wavetable(table, freq, *, sr: int = 22050, duration: float = 1.0, amplitude: float = 1.0,
              phase: float = 0.0) -> np.ndarray:
    """Wavetable oscillator: read a single-cycle table at ``freq`` with linear interpolation.

    Parameters
    ----------
    table : array_like
        One period of the waveform (>= 2 samples), e.g. from :func:`single_cycle` or a
        short slice of a real recording.
    freq : float or array_like
        Frequency in Hz, or one frequency per sample (glides, vibrato).
    sr, duration, amplitude : keyword-only
        As for :func:`tone`.
    phase : float, keyword-only
        Starting position in cycles (0 to 1).

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> y = wavetable(single_cycle("square"), 110.0, sr=22050, duration=0.5)
    >>> y.shape
    (11025,)
    """
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 1 or table.size < 2 or not np.isfinite(table).all():
        raise ParameterError(f"table must be a finite 1-D array of >= 2 samples, got shape {table.shape}")
    sr = _sr(sr)
    n = time_axis(sr=sr, duration=duration).size
    f = np.asarray(freq, dtype=np.float64)
    if f.ndim == 0:
        f = np.full(n, _pos(freq, "freq"))
    elif f.shape != (n,) or np.any(f <= 0) or not np.isfinite(f).all():
        raise ParameterError(f"freq must be a positive number or {n} positive per-sample values")
    cycles = float(phase) + np.concatenate([[0.0], np.cumsum(f[:-1] / sr)])
    pos = np.mod(cycles, 1.0) * table.size
    i0 = np.floor(pos).astype(np.int64) % table.size
    frac = pos - np.floor(pos)
    i1 = (i0 + 1) % table.size
    return (float(amplitude) * (table[i0] * (1.0 - frac) + table[i1] * frac)).astype(np.float32)


def sampler(sample, events: Iterable, *, sr: int = 22050, duration: float) -> np.ndarray:
    """A simple sampler: place a sample at given times, transposed, into a buffer.

    Parameters
    ----------
    sample : array_like
        The recorded (or synthesised) sound held "in RAM", mono.
    events : iterable of (time, semitones) or (time, semitones, gain)
        When to start (seconds), the transposition in semitones (the sample is read
        ``2 ** (semitones / 12)`` times faster, changing pitch and length together,
        as a classic sampler does) and an optional gain (default 1).
    sr : int, keyword-only
        Sample rate in Hz.
    duration : float, keyword-only
        Buffer length in seconds; sounds running past the end are cut.

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> pluck = fourier_wave("triangle", 261.63, sr=22050, duration=0.3)
    >>> y = sampler(pluck, [(0.0, 0), (0.5, 7), (1.0, 12, 0.5)], sr=22050, duration=1.5)  # C4, G4, C5
    >>> y.shape
    (33075,)
    """
    sample = np.asarray(sample, dtype=np.float64)
    if sample.ndim != 1 or sample.size < 2 or not np.isfinite(sample).all():
        raise ParameterError(f"sample must be a finite mono 1-D array of >= 2 samples, got shape {sample.shape}")
    sr = _sr(sr)
    n = time_axis(sr=sr, duration=duration).size
    out = np.zeros(n, dtype=np.float64)
    for i, ev in enumerate(events):
        try:
            vals = [float(v) for v in ev]
        except (TypeError, ValueError):
            raise ParameterError(f"events[{i}] must be (time, semitones[, gain]), got {ev!r}") from None
        if len(vals) not in (2, 3) or vals[0] < 0 or not np.isfinite(vals).all():
            raise ParameterError(f"events[{i}] must be (time >= 0, semitones[, gain]), got {ev!r}")
        start = int(round(vals[0] * sr))
        if start >= n:
            continue
        rate = 2.0 ** (vals[1] / 12.0)
        gain = vals[2] if len(vals) == 3 else 1.0
        length = min(int(np.floor((sample.size - 1) / rate)) + 1, n - start)
        pos = np.arange(length) * rate
        out[start: start + length] += gain * np.interp(pos, np.arange(sample.size), sample)
    return out.astype(np.float32)


# --------------------------------------------------------------------------- notes


def note_to_midi(name: str) -> int:
    """MIDI number of a note name such as ``"A4"`` (69), ``"C#3"``, ``"Eb5"``, ``"B-1"``.

    Examples
    --------
    >>> note_to_midi("A4"), note_to_midi("C4"), note_to_midi("Eb5")
    (69, 60, 75)
    """
    if not isinstance(name, str):
        raise ParameterError(f"note name must be a string like 'A4', got {name!r}")
    m = _NOTE_RE.match(name)
    if not m:
        raise ParameterError(f"note name {name!r} is not a letter A-G, optional #/b (up to two) and an octave "
                             "number, e.g. 'A4', 'C#3', 'Bb2'")
    letter, acc, octave = m.groups()
    shift = sum(1 if c in "#\u266f" else -1 for c in acc)
    return 12 * (int(octave) + 1) + _PITCH_CLASS[letter.upper()] + shift


def midi_to_freq(midi, *, a4: float = 440.0):
    """Equal-temperament frequency of MIDI number(s): ``a4 * 2 ** ((midi - 69) / 12)``.

    Examples
    --------
    >>> float(midi_to_freq(69)), float(midi_to_freq(81))
    (440.0, 880.0)
    """
    return _pos(a4, "a4") * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def freq_to_midi(freq, *, a4: float = 440.0):
    """Fractional MIDI number of frequency(ies) in Hz (inverse of :func:`midi_to_freq`).

    Examples
    --------
    >>> float(freq_to_midi(440.0)), float(freq_to_midi(880.0))
    (69.0, 81.0)
    """
    f = np.asarray(freq, dtype=np.float64)
    if np.any(f <= 0) or not np.isfinite(f).all():
        raise ParameterError(f"freq must be positive frequencies in Hz, got {freq!r}")
    return 69.0 + 12.0 * np.log2(f / _pos(a4, "a4"))


def note_to_freq(name: str, *, a4: float = 440.0) -> float:
    """Frequency in Hz of a note name in 12-tone equal temperament (``note_to_freq("A4") == 440.0``).

    Parameters
    ----------
    name : str
        Letter A-G, up to two sharps (``#``) or flats (``b``), octave number (C4 is middle C).
    a4 : float, keyword-only
        Tuning reference.

    Raises
    ------
    ParameterError
        Malformed name.

    Examples
    --------
    >>> note_to_freq("A4"), round(note_to_freq("C4"), 2)
    (440.0, 261.63)
    """
    return float(midi_to_freq(note_to_midi(name), a4=a4))


def freq_to_note(freq: float, *, a4: float = 440.0) -> str:
    """Name (with sharps) of the equal-tempered note nearest to ``freq``, e.g. ``"A4"``.

    Examples
    --------
    >>> freq_to_note(440.0), freq_to_note(262.0)
    ('A4', 'C4')
    """
    midi = int(np.round(float(freq_to_midi(freq, a4=a4))))
    return f"{_SHARP_NAMES[midi % 12]}{midi // 12 - 1}"


# --------------------------------------------------------------------------- envelopes and drums


def adsr(duration: float, *, sr: int = 22050, attack: float = 0.01, decay: float = 0.1, sustain: float = 0.7,
         release: float = 0.2) -> np.ndarray:
    """Attack-decay-sustain-release envelope of a note lasting ``duration`` seconds in total.

    The level rises linearly from 0 to 1 during ``attack``, falls to ``sustain`` during
    ``decay``, holds, and falls linearly to 0 during the final ``release`` seconds. If
    the stages are longer than the note they are shortened in proportion.

    Returns
    -------
    ndarray of float32, shape ``(round(duration * sr),)``, values in [0, 1]

    Examples
    --------
    >>> env = adsr(1.0, sr=1000, attack=0.1, decay=0.2, sustain=0.5, release=0.3)
    >>> env.shape, round(float(env.max()), 3), round(float(env[500]), 3)
    ((1000,), 1.0, 0.5)
    """
    sr = _sr(sr)
    n = time_axis(sr=sr, duration=duration).size
    a, d, r = (_nonneg(v, k) for v, k in ((attack, "attack"), (decay, "decay"), (release, "release")))
    s = _nonneg(sustain, "sustain")
    if s > 1:
        raise ParameterError(f"sustain must lie in [0, 1], got {sustain!r}")
    total = a + d + r
    seconds = n / sr
    if total > seconds:
        a, d, r = (v * seconds / total for v in (a, d, r))
    na, nd, nr = int(round(a * sr)), int(round(d * sr)), int(round(r * sr))
    nr = min(nr, n)
    na = min(na, n - nr)
    nd = min(nd, n - nr - na)
    ns = n - na - nd - nr
    env = np.concatenate([
        np.linspace(0.0, 1.0, na, endpoint=False) if na else np.zeros(0),
        np.linspace(1.0, s, nd, endpoint=False) if nd else np.zeros(0),
        np.full(ns, s),
        np.linspace(s if (nd or na) else s, 0.0, nr) if nr else np.zeros(0),
    ])
    return env.astype(np.float32)


def kick(*, sr: int = 22050, duration: float = 0.45, f_start: float = 150.0, f_end: float = 45.0,
         decay: float = 0.12) -> np.ndarray:
    """Bass drum: a sine whose pitch falls exponentially from ``f_start`` to ``f_end`` Hz, decaying.

    Examples
    --------
    >>> kick(sr=22050).shape
    (9922,)
    """
    sr = _sr(sr)
    t = time_axis(sr=sr, duration=duration)
    f0, f1, dec = _pos(f_start, "f_start"), _pos(f_end, "f_end"), _pos(decay, "decay")
    freq = f1 + (f0 - f1) * np.exp(-t / 0.04)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    click = np.exp(-t / 0.003)
    return (np.sin(phase) * np.exp(-t / dec) + 0.2 * click).astype(np.float32) / 1.2


def snare(*, sr: int = 22050, duration: float = 0.25, tone_freq: float = 190.0, seed=0) -> np.ndarray:
    """Snare drum: a short tone (the shell) plus decaying white noise (the wires).

    Examples
    --------
    >>> snare(sr=22050, seed=0).shape
    (5512,)
    """
    sr = _sr(sr)
    t = time_axis(sr=sr, duration=duration)
    noise = _rng(seed).standard_normal(t.size)
    body = np.sin(2 * np.pi * _pos(tone_freq, "tone_freq") * t) * np.exp(-t / 0.05)
    wires = noise * np.exp(-t / 0.07)
    out = 0.5 * body + 0.5 * wires
    return (out / np.max(np.abs(out))).astype(np.float32)


def hat(*, sr: int = 22050, duration: float = 0.06, open: bool = False, seed=0) -> np.ndarray:
    """Hi-hat: high-passed white noise (first difference, twice) with a fast decay (slower when open).

    Examples
    --------
    >>> hat(sr=22050).shape, hat(sr=22050, open=True).shape
    ((1323,), (6615,))
    """
    sr = _sr(sr)
    dur = max(_pos(duration, "duration"), 0.3 if open else 0.0)
    t = time_axis(sr=sr, duration=dur)
    noise = _rng(seed).standard_normal(t.size + 2)
    bright = np.diff(noise, n=2)
    out = bright * np.exp(-t / (0.09 if open else 0.015))
    return (out / np.max(np.abs(out))).astype(np.float32)


#: Voices :func:`drum_pattern` knows by name.
DRUM_VOICES: dict[str, Callable[..., np.ndarray]] = {
    "kick": lambda sr, seed: kick(sr=sr),
    "snare": lambda sr, seed: snare(sr=sr, seed=seed),
    "hat": lambda sr, seed: hat(sr=sr, seed=seed),
    "openhat": lambda sr, seed: hat(sr=sr, open=True, seed=seed),
}

_STEP_GAIN = {"X": 1.0, "x": 0.75, "o": 0.4, ".": 0.0, "-": 0.0}


def drum_pattern(pattern: Mapping[str, str], *, bpm: float, sr: int = 22050, bars: int = 1,
                 beats_per_bar: int = 4, swing: float = 0.0, gains: Mapping[str, float] | None = None,
                 samples: Mapping[str, np.ndarray] | None = None, seed=0) -> np.ndarray:
    """Step sequencer: render drum patterns such as ``{"kick": "x...x...", "hat": "x.x.x.x."}``.

    Each string is one bar divided into equal steps: ``"X"`` accent (gain 1), ``"x"`` hit
    (0.75), ``"o"`` ghost note (0.4), ``"."`` or ``"-"`` rest. Strings may have different
    lengths (e.g. 16 hat steps against 8 kick steps); every one spans the whole bar.

    Parameters
    ----------
    pattern : mapping of voice name to step string
        Voices are names in :data:`DRUM_VOICES` or keys of ``samples``.
    bpm : float, keyword-only
        Tempo in beats (quarter notes) per minute.
    sr : int, keyword-only
        Sample rate in Hz.
    bars : int, keyword-only
        Number of bars rendered (the pattern repeats).
    beats_per_bar : int, keyword-only
        Beats in one bar.
    swing : float, keyword-only
        Delay of every second step as a fraction of a step, in [0, 0.5).
    gains : mapping, keyword-only
        Extra gain per voice.
    samples : mapping of name to ndarray, keyword-only
        Custom voice sounds (override or extend :data:`DRUM_VOICES`).
    seed : int or Generator, keyword-only
        Seed of the noise in the snare and hats.

    Returns
    -------
    ndarray of float32, shape ``(round(bars * beats_per_bar * 60 / bpm * sr),)``

    Examples
    --------
    >>> y = drum_pattern({"kick": "x...x...", "snare": "..x...x.", "hat": "xxxxxxxx"}, bpm=120, sr=22050, bars=2)
    >>> y.shape  # 2 bars of 4 beats at 120 bpm: 4 s
    (88200,)
    """
    sr = _sr(sr)
    bpm = _pos(bpm, "bpm")
    positive_int("bars", bars)
    positive_int("beats_per_bar", beats_per_bar)
    swing = _nonneg(swing, "swing")
    if swing >= 0.5:
        raise ParameterError(f"swing must lie in [0, 0.5), got {swing!r}")
    if not isinstance(pattern, Mapping) or not pattern:
        raise ParameterError("pattern must be a non-empty mapping of voice name to step string")
    samples = dict(samples or {})
    gains = dict(gains or {})
    bar_seconds = beats_per_bar * 60.0 / bpm
    n = int(round(bars * bar_seconds * sr))
    out = np.zeros(n, dtype=np.float64)
    rng = _rng(seed)
    for voice, steps in pattern.items():
        if not isinstance(steps, str) or not steps:
            raise ParameterError(f"pattern[{voice!r}] must be a non-empty step string like 'x...x...'")
        bad = sorted(set(steps) - set(_STEP_GAIN))
        if bad:
            raise ParameterError(f"pattern[{voice!r}] has unknown step characters {bad}; use X x o . -")
        if voice in samples:
            sound = np.asarray(samples[voice], dtype=np.float64)
        elif voice in DRUM_VOICES:
            sound = DRUM_VOICES[voice](sr, int(rng.integers(2**31)))
        else:
            raise ParameterError(f"unknown drum voice {voice!r}; known: {sorted(DRUM_VOICES)} or give samples=")
        step_seconds = bar_seconds / len(steps)
        gain = float(gains.get(voice, 1.0))
        for bar in range(bars):
            for i, ch in enumerate(steps):
                level = _STEP_GAIN[ch]
                if level == 0.0:
                    continue
                offset = (swing * step_seconds) if i % 2 == 1 else 0.0
                start = int(round((bar * bar_seconds + i * step_seconds + offset) * sr))
                if start >= n:
                    continue
                stop = min(n, start + sound.size)
                out[start:stop] += gain * level * sound[: stop - start]
    return out.astype(np.float32)
