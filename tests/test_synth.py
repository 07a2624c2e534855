"""Tests of genrenet.synth: the thesis's formulas, notes and the synthesis methods."""

from __future__ import annotations

import numpy as np
import pytest

from genrenet import synth
from genrenet.errors import ParameterError

SR = 22050
X = np.linspace(-np.pi, np.pi, 4001)


def _peak_hz(y, sr=SR):
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spec)])


def test_tone_is_a_sin_2_pi_f_t():
    y = synth.tone(440.0, sr=SR, duration=0.5, amplitude=0.3)
    t = np.arange(SR // 2) / SR
    np.testing.assert_allclose(y, 0.3 * np.sin(2 * np.pi * 440 * t), atol=1e-6)
    assert y.dtype == np.float32
    with pytest.raises(ParameterError, match="Nyquist"):
        synth.tone(12000.0, sr=SR)


def test_series_are_the_thesis_formulas():
    x = np.array([0.3, 1.1, 2.0])
    n = np.arange(1, 4)
    sq = sum(np.sin((2 * k - 1) * x) / (2 * k - 1) for k in n)
    saw = sum((-1) ** (k + 1) * np.sin(k * x) / k for k in n)
    tri = sum(np.cos((2 * k - 1) * x) / (2 * k - 1) ** 2 for k in n)
    np.testing.assert_allclose(synth.square_series(x, 3), sq)
    np.testing.assert_allclose(synth.sawtooth_series(x, 3), saw)
    np.testing.assert_allclose(synth.triangle_series(x, 3), tri)


@pytest.mark.parametrize("series,ideal", [(synth.square_series, synth.square_wave),
                                          (synth.sawtooth_series, synth.sawtooth_wave)])
def test_jump_series_converge_away_from_discontinuities(series, ideal):
    jumps = np.array([-np.pi, 0.0, np.pi]) if series is synth.square_series else np.array([-np.pi, np.pi])
    away = np.min(np.abs(X[:, None] - jumps[None, :]), axis=1) > 0.3
    errors = [np.max(np.abs(series(X, n) - ideal(X))[away]) for n in (4, 16, 64, 256)]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False))
    assert errors[-1] < 0.02  # error ~ 1 / (N * distance to the jump)
    # Gibbs: near the jump the overshoot does not vanish (about 9 % of the jump height)
    jump = 2 * abs(ideal(np.array([1.0]))[0]) if series is synth.square_series else np.pi
    assert np.max(series(X, 256)) - np.max(np.abs(ideal(X[away]))) > 0.07 * jump


def test_triangle_series_converges_uniformly_to_the_scaled_triangle():
    ideal = synth.triangle_wave(X)
    np.testing.assert_allclose(ideal, np.pi**2 / 8 - np.pi * np.abs(X) / 4, atol=1e-12)
    for n in (1, 5, 50):
        err = np.max(np.abs(synth.triangle_series(X, n) - ideal))
        assert err <= 1 / (2 * (2 * n - 1)) + 1e-12
    assert np.max(np.abs(synth.triangle_series(X, 500) - ideal)) < 1e-3
    # periodic: the ideal repeats every 2 pi
    np.testing.assert_allclose(synth.triangle_wave(X + 2 * np.pi), ideal, atol=1e-9)


def test_fourier_wave_is_band_limited_and_normalised():
    y = synth.fourier_wave("sawtooth", 1000.0, sr=SR, duration=1.0, amplitude=0.5)
    assert np.max(np.abs(y)) == pytest.approx(0.5, abs=0.01)
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(y.size, 1 / SR)
    strong = freqs[spec > 1e-3 * spec.max()]
    assert strong.max() <= 11000 and np.allclose(strong % 1000, 0, atol=1.0)
    sq = synth.fourier_wave("square", 1000.0, sr=SR, duration=1.0)
    sq_spec = np.abs(np.fft.rfft(sq))
    assert sq_spec[2000] < 1e-6 * sq_spec[1000]  # only odd harmonics
    with pytest.raises(ParameterError, match="kind"):
        synth.fourier_wave("pulse", 440.0)


@pytest.mark.parametrize("name,freq", [("A4", 440.0), ("A0", 27.5), ("C4", 261.6255653), ("C#4", 277.182631),
                                       ("Db4", 277.182631), ("B#3", 261.6255653), ("Ebb4", 293.6647679),
                                       ("c8", 4186.009045)])
def test_note_to_freq(name, freq):
    assert synth.note_to_freq(name) == pytest.approx(freq, rel=1e-9)


def test_note_names_round_trip_and_errors():
    assert synth.note_to_freq("A4") == 440.0
    assert synth.freq_to_note(440.0) == "A4" and synth.freq_to_note(262.0) == "C4"
    assert synth.freq_to_note(synth.note_to_freq("F#2")) == "F#2"
    assert synth.note_to_freq("A4", a4=432.0) == 432.0
    for bad in ("H4", "A", "A#b", "4A", "", "Cx4"):
        with pytest.raises(ParameterError, match="note name"):
            synth.note_to_freq(bad)
    with pytest.raises(ParameterError):
        synth.freq_to_note(-5.0)


def test_additive_and_fm_spectra():
    y = synth.additive([(220.0, 1.0), (660.0, 0.5, 0.3)], sr=SR, duration=1.0)
    spec = np.abs(np.fft.rfft(y)) / (SR / 2)
    assert spec[220] == pytest.approx(1.0, rel=1e-3) and spec[660] == pytest.approx(0.5, rel=1e-3)
    assert spec[440] < 1e-3
    # FM with index 0 is the carrier; with index > 0 sidebands appear at fc +- k fm
    np.testing.assert_allclose(synth.fm(440.0, 110.0, 0.0, sr=SR, duration=0.2),
                               synth.tone(440.0, sr=SR, duration=0.2), atol=1e-5)
    f = np.abs(np.fft.rfft(synth.fm(1000.0, 200.0, 2.0, sr=SR, duration=1.0)))
    assert f[1200] > 0.1 * f.max() and f[800] > 0.1 * f.max() and f[1100] < 1e-3 * f.max()
    with pytest.raises(ParameterError, match="partials"):
        synth.additive([], sr=SR)
    with pytest.raises(ParameterError, match="index"):
        synth.fm(440.0, 110.0, -1.0)


def test_wavetable_plays_the_table_at_pitch():
    table = synth.single_cycle("sine", size=256)
    y = synth.wavetable(table, 441.0, sr=SR, duration=1.0)
    np.testing.assert_allclose(y, synth.tone(441.0, sr=SR, duration=1.0), atol=2e-3)
    glide = synth.wavetable(table, np.linspace(200, 400, SR), sr=SR, duration=1.0)
    assert glide.shape == (SR,)
    assert abs(_peak_hz(synth.wavetable(synth.single_cycle("square"), 300.0, sr=SR, duration=1.0)) - 300) < 2
    with pytest.raises(ParameterError, match="table"):
        synth.wavetable([1.0], 440.0)


def test_sampler_places_transposed_copies():
    sample = synth.tone(220.0, sr=SR, duration=0.2)
    out = synth.sampler(sample, [(0.0, 0.0), (0.5, 12.0, 0.5)], sr=SR, duration=1.0)
    assert out.shape == (SR,)
    np.testing.assert_allclose(out[: sample.size], sample, atol=1e-6)
    octave = out[int(0.5 * SR): int(0.5 * SR) + sample.size // 2 - 1]
    assert abs(_peak_hz(octave) - 440.0) < 30 and np.max(np.abs(octave)) == pytest.approx(0.5, abs=0.01)
    assert not out[int(0.21 * SR): int(0.49 * SR)].any()
    with pytest.raises(ParameterError, match="events"):
        synth.sampler(sample, [(-1.0, 0.0)], duration=1.0)


def test_adsr_shape():
    env = synth.adsr(1.0, sr=1000, attack=0.1, decay=0.1, sustain=0.5, release=0.2)
    assert env.shape == (1000,) and env[0] == 0.0
    assert env[100] == pytest.approx(1.0) and env[500] == pytest.approx(0.5) and env[-1] == 0.0
    assert np.all(np.diff(env[:100]) > 0) and np.all(np.diff(env[800:]) <= 0)
    short = synth.adsr(0.1, sr=1000, attack=0.2, decay=0.2, release=0.2)  # stages squeezed
    assert short.shape == (100,) and short.max() <= 1.0
    with pytest.raises(ParameterError, match="sustain"):
        synth.adsr(1.0, sustain=2.0)


def test_drum_voices_and_pattern():
    k, s, h = synth.kick(sr=SR), synth.snare(sr=SR, seed=1), synth.hat(sr=SR, seed=1)
    assert _peak_hz(k[: SR // 4]) < 160 and _peak_hz(h) > 3000
    np.testing.assert_array_equal(s, synth.snare(sr=SR, seed=1))  # seeded noise
    loop = synth.drum_pattern({"kick": "x...x...", "hat": "xxxxxxxx"}, bpm=120, sr=SR, bars=2)
    assert loop.shape == (4 * SR,)  # 2 bars of 4 beats at 120 bpm = 4 s
    onsets = [int(i * 0.5 * SR) for i in range(8)]  # quarter notes of the hat grid (eighths every 0.25 s)
    for on in onsets:
        assert np.abs(loop[on: on + 200]).max() > 0.3
    only_kick = synth.drum_pattern({"kick": "x..."}, bpm=120, sr=SR)
    np.testing.assert_allclose(only_kick[: k.size], 0.75 * k, atol=1e-6)
    assert not only_kick[k.size: SR].any()
    swung = synth.drum_pattern({"hat": "xx"}, bpm=120, sr=SR, swing=0.25)
    assert np.abs(swung[int(1.0 * SR): int(1.25 * SR)]).max() == 0.0  # second hit delayed to 1.25 s
    assert np.abs(swung[int(1.25 * SR): int(1.25 * SR) + 100]).max() > 0.1
    with pytest.raises(ParameterError, match="unknown drum voice"):
        synth.drum_pattern({"cowbell": "x..."}, bpm=100)
    with pytest.raises(ParameterError, match="step characters"):
        synth.drum_pattern({"kick": "x?.."}, bpm=100)
    with pytest.raises(ParameterError, match="bpm"):
        synth.drum_pattern({"kick": "x..."}, bpm=0)
