"""Tests of genrenet.models: the thesis summaries, the compact CNN, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from genrenet.errors import ModelError, ParameterError
from genrenet.models import MODELS, build_model, default_feature, display_name

# (layer type, output shape without batch, parameters) exactly as printed in the thesis.
THESIS_SUMMARIES = {
    "feed_forward": (
        [
            ("Conv2D", (198, 198, 64), 1_792),
            ("Flatten", (2_509_056,), 0),
            ("Dense", (16,), 40_144_912),
            ("Dense", (4,), 68),
        ],
        40_146_772,
    ),
    "lenet": (
        [
            ("Conv2D", (198, 198, 6), 168),
            ("AveragePooling2D", (99, 99, 6), 0),
            ("Conv2D", (97, 97, 16), 880),
            ("AveragePooling2D", (48, 48, 16), 0),
            ("Flatten", (36_864,), 0),
            ("Dense", (128,), 4_718_720),
            ("Dense", (4,), 516),
        ],
        4_720_284,
    ),
    "cnn": (
        [
            ("Conv2D", (200, 200, 32), 896),
            ("MaxPooling2D", (100, 100, 32), 0),
            ("Conv2D", (98, 98, 64), 18_496),
            ("MaxPooling2D", (49, 49, 64), 0),
            ("Conv2D", (47, 47, 64), 36_928),
            ("Flatten", (141_376,), 0),
            ("Dense", (64,), 9_048_128),
            ("Dense", (4,), 260),
        ],
        9_104_708,
    ),
    "lstm": (
        [
            ("Conv2D", (198, 198, 6), 168),
            ("AveragePooling2D", (99, 99, 6), 0),
            ("Conv2D", (97, 97, 16), 880),
            ("AveragePooling2D", (48, 48, 16), 0),
            ("Flatten", (36_864,), 0),
            ("Reshape", (1, 36_864), 0),
            ("LSTM", (128,), 18_940_416),
            ("Dense", (4,), 516),
        ],
        18_941_980,
    ),
}


def _summary(model):
    return [(layer.__class__.__name__, tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]


@pytest.mark.parametrize("name", sorted(THESIS_SUMMARIES))
def test_thesis_summary_matches_exactly(name):
    from genrenet import models

    builder = getattr(models, f"build_{name}")
    model = builder()  # defaults = the thesis: 200×200×3 input, 4 classes
    layers, total = THESIS_SUMMARIES[name]
    assert _summary(model) == layers
    assert model.count_params() == total
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.loss == "sparse_categorical_crossentropy"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_builder_trains_one_step(name):
    from genrenet.repro import set_seed

    set_seed(0)
    shape = {"compact_cnn": (32, 32, 1), "transfer_mlp": (16,)}.get(name, (32, 32, 3))
    model = build_model(name, shape, 3)
    x = np.random.default_rng(0).random((6, *shape), dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    before = [w.copy() for w in model.get_weights()]
    hist = model.fit(x, y, epochs=1, batch_size=6, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    probs = model.predict(x, verbose=0)
    assert probs.shape == (6, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_keyword_options_change_the_network():
    from genrenet.models import build_cnn, build_lstm

    small = build_cnn((32, 32, 3), 5, filters=(4, 8, 8), units=7, dropout=0.5, optimizer="sgd", learning_rate=0.01)
    assert small.output_shape[-1] == 5
    assert [layer.units for layer in small.layers if layer.__class__.__name__ == "Dense"] == [7, 5]
    assert sum(layer.__class__.__name__ == "Dropout" for layer in small.layers) == 2
    assert small.optimizer.__class__.__name__ == "SGD"
    assert np.isclose(float(small.optimizer.learning_rate), 0.01)
    lstm = build_lstm((40, 24, 3), 2, lstm_units=9)
    assert lstm.layers[-2].units == 9 and lstm.output_shape[-1] == 2


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"optimizer": "adamax2"}, "optimizer"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"dropout": 1.0}, "dropout"),
        ({"filters": (6,)}, "filters"),
        ({"units": 0}, "units"),
    ],
)
def test_bad_options_raise_parameter_error(kwargs, param):
    with pytest.raises(ParameterError, match=param):
        build_model("lenet", (32, 32, 3), 4, **kwargs)


def test_bad_shapes_and_names():
    with pytest.raises(ParameterError, match="input_shape"):
        build_model("cnn", (8, 8, 3), 4)
    with pytest.raises(ParameterError, match="n_classes"):
        build_model("cnn", (32, 32, 3), 1)
    with pytest.raises(ParameterError, match="model must be one of"):
        build_model("resnet", (32, 32, 3), 4)
    with pytest.raises(ParameterError, match="depth"):
        build_model("compact_cnn", (16, 16, 1), 4, depth=5)


def test_registry_features():
    assert {name: default_feature(name) for name in MODELS} == {
        "feed_forward": "thesis_image",
        "lenet": "thesis_image",
        "cnn": "thesis_image",
        "lstm": "thesis_image",
        "compact_cnn": "logmel",
        "transfer_mlp": "musicnn",
    }
    assert default_feature("baseline") == "mfcc_stats"
    assert default_feature("transfer_linear") == "musicnn_track"
    assert display_name("cnn") == "CNN Model"
    from genrenet.features import PRESETS
    from genrenet.models import SKLEARN_MODELS, is_sklearn, model_names

    assert set(model_names()) == set(MODELS) | set(SKLEARN_MODELS)
    assert all(default_feature(name) in PRESETS for name in model_names())
    assert is_sklearn("baseline") and is_sklearn("transfer_linear") and not is_sklearn("transfer_mlp")
    with pytest.raises(ParameterError, match="Keras"):
        build_model("baseline", (52,), 3)


def test_compact_cnn_is_small_and_masks_only_in_training():
    from genrenet._tf import keras
    from genrenet.models.compact import SpecAugment, build_compact_cnn, inference_model

    model = build_compact_cnn(seed=1)
    assert model.input_shape == (None, 128, 130, 1) and model.output_shape == (None, 10)
    assert model.count_params() < 500_000  # a few MB at most on disk
    layer = SpecAugment(freq_masks=2, time_masks=2, max_freq_frac=0.3, max_time_frac=0.3, seed=3)
    x = np.ones((4, 20, 30, 1), np.float32)
    np.testing.assert_array_equal(layer(x, training=False), x)
    masked = np.asarray(layer(x, training=True))
    assert (masked == 0).any() and (masked == 1).any()
    # whole rows/columns are masked, never isolated pixels
    zero = masked[..., 0] == 0
    for z in zero:
        rows, cols = z.all(axis=1), z.all(axis=0)
        assert np.array_equal(z, rows[:, None] | cols[None, :])
    # the inference copy has only built-in layers and gives the same output
    plain = inference_model(model)
    assert not any(isinstance(lay, SpecAugment) for lay in plain.layers)
    assert any(isinstance(lay, keras.layers.Identity) for lay in plain.layers)
    data = np.random.default_rng(0).normal(size=(3, 128, 130, 1)).astype(np.float32)
    np.testing.assert_allclose(model(data, training=False), plain(data, training=False), atol=1e-6)


def test_compact_cnn_ignores_loudness():
    from genrenet.models.compact import build_compact_cnn

    model = build_compact_cnn((32, 40, 1), 3, depth=3, width=8)
    x = np.random.default_rng(1).normal(size=(2, 32, 40, 1)).astype(np.float32)
    # equal up to the epsilon (1e-3) of the standardisation, which a 3x gain changes relative to the variance
    np.testing.assert_allclose(model(x, training=False), model(3 * x - 40, training=False), atol=2e-3)


def test_default_model_path_points_at_bundle_or_raises(tmp_path, monkeypatch):
    from genrenet import models

    try:
        path = models.default_model_path()
    except ModelError as exc:
        assert "default model bundle is missing" in str(exc)
    else:
        assert (path / "meta.json").is_file()
        assert (path / "model.keras").is_file() or (path / "model.joblib").is_file()  # Keras or scikit-learn
        shipped = models.shipped_model_paths()
        assert shipped[0] == path and len(set(shipped)) == len(shipped)
