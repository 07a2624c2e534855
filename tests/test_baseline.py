"""Tests of the classical MFCC-statistics baseline (genrenet.baseline)."""

from __future__ import annotations

import numpy as np
import pytest

from genrenet.baseline import build_baseline, fit_baseline, predict_tracks, score_tracks
from genrenet.errors import ParameterError


def _blobs(seed=0, n_tracks=12, windows=5, n_classes=3):
    rng = np.random.default_rng(seed)
    y_track = np.arange(n_tracks) % n_classes
    centres = rng.normal(scale=3.0, size=(n_classes, 52))
    X = np.concatenate([centres[c] + rng.normal(size=(windows, 52)) for c in y_track])
    y = np.repeat(y_track, windows)
    tow = np.repeat(np.arange(n_tracks), windows)
    return X.astype(np.float32), y, tow


@pytest.mark.parametrize("kind", ["svm", "logreg"])
def test_fit_predict_window_and_track_level(kind):
    X, y, tow = _blobs()
    model = fit_baseline(X, y, n_classes=3, kind=kind, seed=0)
    Xt, yt, tt = _blobs(seed=0, n_tracks=6)  # same centres, new noise
    assert model.score(Xt, yt) > 0.9
    probs = model.predict_proba(Xt)
    assert probs.shape == (len(Xt), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    tracks, tp = predict_tracks(model, Xt, tt)
    assert tracks.tolist() == list(range(6)) and tp.shape == (6, 3)
    assert score_tracks(model, Xt, yt, tt) == 1.0


def test_class_weight_helps_the_minority_class():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(1.2, 1, (12, 2))])
    y = np.array([0] * 200 + [1] * 12)
    Xt = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(1.2, 1, (200, 2))])
    yt = np.array([0] * 200 + [1] * 200)
    rec = {}
    for cw in ("balanced", None):
        m = fit_baseline(X, y, kind="logreg", class_weight=cw)
        rec[cw] = np.mean(m.predict(Xt)[yt == 1] == 1)
    assert rec["balanced"] > rec[None] + 0.2


def test_same_seed_same_probabilities():
    X, y, _ = _blobs(seed=2)
    a = fit_baseline(X, y, seed=5).predict_proba(X)
    b = fit_baseline(X, y, seed=5).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_bad_input():
    X, y, _ = _blobs()
    with pytest.raises(ParameterError, match="kind"):
        build_baseline(kind="tree")
    with pytest.raises(ParameterError, match="C must"):
        build_baseline(C=0)
    with pytest.raises(ParameterError, match="two classes"):
        fit_baseline(X, np.zeros(len(X), int))
    with pytest.raises(ParameterError, match="lacks classes"):
        fit_baseline(X, y, n_classes=4)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        fit_baseline(bad, y)
    with pytest.raises(ParameterError, match="one label per row"):
        fit_baseline(X, y[:-1])
