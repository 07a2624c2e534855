"""Tests of genrenet._validate: the shared parameter checks and their one message style."""

from __future__ import annotations

import numpy as np
import pytest

from genrenet import _validate as v
from genrenet.errors import ParameterError


def test_positive_int_accepts_and_normalises():
    assert v.positive_int("epochs", 3) == 3
    out = v.positive_int("epochs", np.int64(4))
    assert out == 4 and type(out) is int
    assert v.positive_int("epochs", None, optional=True) is None


@pytest.mark.parametrize("bad", [0, -1, 1.0, "3", True, None, np.float64(2.0)])
def test_positive_int_message(bad):
    with pytest.raises(ParameterError) as info:
        v.positive_int("epochs", bad)
    assert str(info.value) == f"epochs must be a positive integer, got {bad!r}"


def test_optional_says_or_none():
    with pytest.raises(ParameterError, match=r"^n_jobs must be a positive integer or None, got 0$"):
        v.positive_int("n_jobs", 0, optional=True)


def test_non_negative_and_at_least():
    assert v.non_negative_int("jobs", 0) == 0
    with pytest.raises(ParameterError, match=r"^jobs must be a non-negative integer, got -1$"):
        v.non_negative_int("jobs", -1)
    assert v.int_at_least("folds", 2, 2) == 2
    with pytest.raises(ParameterError, match=r"^folds must be an integer >= 2, got 1$"):
        v.int_at_least("folds", 1, 2)
    with pytest.raises(ParameterError, match=r"^depth must be an integer >= 1 and <= 6, got 7$"):
        v.integer("depth", 7, low=1, high=6)


def test_floats():
    assert v.positive_float("power", 2) == 2.0
    assert type(v.positive_float("power", np.float32(0.5))) is float
    with pytest.raises(ParameterError, match=r"^window must be a positive number of seconds, got 0$"):
        v.positive_float("window", 0, unit="seconds")
    for bad in (float("nan"), float("inf"), True, "1", None, [1.0]):
        with pytest.raises(ParameterError, match="power must be a positive number"):
            v.positive_float("power", bad)
    assert v.non_negative_float("gain", 0.0) == 0.0
    with pytest.raises(ParameterError, match=r"^gain must be a number >= 0, got -0.5$"):
        v.non_negative_float("gain", -0.5)
    assert v.probability("p", 1) == 1.0
    with pytest.raises(ParameterError, match=r"^p must be a number in \[0, 1\], got 1.5$"):
        v.probability("p", 1.5)


def test_sample_rate():
    assert v.sample_rate(22050) == 22050
    assert v.sample_rate(None, optional=True) is None
    with pytest.raises(ParameterError, match=r"^sr must be a positive integer number of Hz, got 0$"):
        v.sample_rate(0)
    with pytest.raises(ParameterError, match=r"^target_sr must be a positive integer number of Hz, got 44100.0$"):
        v.sample_rate(44100.0, "target_sr")
    with pytest.raises(ParameterError, match=r"^sr must be an integer number of Hz in \[8000, 192000\], got 100$"):
        v.sample_rate(100, low=8000, high=192000)


def test_choice():
    assert v.choice("metric", "accuracy", ("accuracy", "f1")) == "accuracy"
    with pytest.raises(ParameterError, match=r"^metric must be one of \('accuracy', 'f1'\), got 'auc'$"):
        v.choice("metric", "auc", ("accuracy", "f1"))
    with pytest.raises(ParameterError):
        v.choice("metric", ["unhashable"], {"accuracy"})
    assert v.choice("metric", None, ("a",), optional=True) is None


def test_errors_are_not_chained():
    with pytest.raises(ParameterError) as info:
        v.positive_float("x", object())
    assert info.value.__context__ is None
