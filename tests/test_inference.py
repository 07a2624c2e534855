"""Tests of genrenet.inference: the one path from window features to genre probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from genrenet.errors import ModelError, ParameterError


def _tiny_keras(shape=(6, 4, 1), n_out=3, seed=0):
    from genrenet._tf import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=shape)
    out = keras.layers.Dense(n_out, activation="softmax")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, out)


def test_keras_runner_batches_give_the_models_answer(tmp_path):
    from genrenet.inference import KerasRunner

    model = _tiny_keras()
    X = np.random.default_rng(1).standard_normal((7, 6, 4, 1)).astype(np.float32)
    expected = np.asarray(model(X, training=False), dtype=np.float64)
    one = KerasRunner(model, (6, 4, 1), 3, "m", batch_size=64)(X)
    small = KerasRunner(model, (6, 4, 1), 3, "m", batch_size=2)(X)
    np.testing.assert_allclose(one, expected, atol=1e-6)
    np.testing.assert_allclose(small, one, atol=1e-6)
    # a memory map (a feature cache) is read batch by batch
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    np.testing.assert_allclose(KerasRunner(model, (6, 4, 1), 3, "m", batch_size=3)(mm), one, atol=1e-6)
    with pytest.raises(ModelError, match="bundle m: model input shape .* does not match the feature shape"):
        KerasRunner(model, (5, 4, 1), 3, "m")
    with pytest.raises(ModelError, match="bundle m: model has 3 outputs but meta.json lists 4 genres"):
        KerasRunner(model, (6, 4, 1), 4, "m")
    with pytest.raises(ParameterError, match="batch_size"):
        KerasRunner(model, (6, 4, 1), 3, "m", batch_size=0)
    with pytest.raises(ParameterError, match="empty"):
        KerasRunner(model, (6, 4, 1), 3, "m")(X[:0])


def test_sklearn_runner_orders_classes_as_the_bundle_genres():
    from sklearn.linear_model import LogisticRegression

    from genrenet.inference import SklearnRunner

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 0.3, (20, 2, 2)) for m in (0.0, 2.0, 4.0)]).astype(np.float32)
    names = np.repeat(["rock", "jazz", "pop"], 20)
    clf = LogisticRegression(max_iter=500).fit(X.reshape(len(X), -1), names)  # classes_ sorted: jazz, pop, rock
    genres = ["rock", "jazz", "pop"]
    P = SklearnRunner(clf, genres, "b")(X)
    direct = clf.predict_proba(X.reshape(len(X), -1))
    for j, g in enumerate(genres):
        np.testing.assert_allclose(P[:, j], direct[:, list(clf.classes_).index(g)])
    assert (P.argmax(axis=1) == np.repeat([0, 1, 2], 20)).mean() > 0.9
    with pytest.raises(ModelError, match="model class 'jazz' is not among the genres"):
        SklearnRunner(clf, ["rock", "pop", "blues"], "b")
    with pytest.raises(ModelError, match="no predict_proba"):
        SklearnRunner(object(), genres, "b")


def test_make_runner_and_bundle_runner(tmp_path):
    from genrenet.bundle import load_bundle, save_bundle
    from genrenet.features import PRESETS
    from genrenet.inference import KerasRunner, SklearnRunner, bundle_runner, make_runner

    spec = PRESETS["logmel"].replace(n_mels=24, window=0.5, hop=0.25, hop_length=1024, n_fft=1024)
    model = _tiny_keras(shape=spec.shape, n_out=2)
    save_bundle(tmp_path / "k", model, {"name": "K", "model": "tiny", "genres": ["a", "b"], "feature": spec.to_dict()})
    bundle = load_bundle(tmp_path / "k")
    assert bundle.framework == "keras" and isinstance(bundle_runner(bundle), KerasRunner)
    X = np.random.default_rng(2).standard_normal((3, *spec.shape)).astype(np.float32)
    np.testing.assert_allclose(bundle_runner(bundle)(X), np.asarray(model(X)), atol=1e-6)
    assert isinstance(make_runner(_FakeEstimator(), framework="sklearn", spec=spec, genres=["a", "b"], where="x"),
                      SklearnRunner)
    with pytest.raises(ParameterError, match="framework"):
        make_runner(model, framework="torch", spec=spec, genres=["a", "b"], where="x")


class _FakeEstimator:
    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        return np.tile([0.25, 0.75], (len(X), 1))


def test_logits_become_probabilities():
    from genrenet.inference import as_probabilities

    P = as_probabilities(np.array([[2.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert P[0, 0] == pytest.approx(1 / (1 + np.exp(-2.0))) and P[1, 0] == pytest.approx(0.5)
    probs = np.array([[0.2, 0.8]])
    assert np.array_equal(as_probabilities(probs), probs)  # probabilities pass unchanged
