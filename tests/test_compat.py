"""Deprecated spellings (genrenet._compat): renamed keyword arguments and renamed classes keep working."""

from __future__ import annotations

import doctest
import importlib
import warnings

import pytest

from genrenet import _compat
from genrenet._compat import renamed_attributes, renamed_kwargs
from genrenet.errors import ParameterError


def test_doctests():
    assert doctest.testmod(_compat).failed == 0


def test_renamed_kwarg_maps_old_to_new_with_a_future_warning():
    @renamed_kwargs(root="data_dir")
    def load(data_dir=None, *, limit=1):
        return data_dir, limit

    with pytest.warns(FutureWarning, match=r"load\(root=\.\.\.\) is deprecated: use data_dir=\.\.\. instead"):
        assert load(root="x", limit=2) == ("x", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load(data_dir="y") == ("y", 1)
        assert load("z") == ("z", 1)
    with pytest.raises(ParameterError, match="both root= .deprecated. and data_dir="):
        load(root="x", data_dir="y")
    assert load.__renamed_kwargs__ == {"root": "data_dir"}
    assert load.__name__ == "load"


def test_stacked_renames_accumulate():
    @renamed_kwargs(dest="out_dir")
    @renamed_kwargs(root="data_dir")
    def f(data_dir, out_dir):
        return data_dir, out_dir

    with pytest.warns(FutureWarning):
        assert f(root=1, dest=2) == (1, 2)
    assert f.__renamed_kwargs__ == {"root": "data_dir", "dest": "out_dir"}


def test_renamed_attributes():
    namespace = {"New": object()}
    getter = renamed_attributes("pkg.mod", namespace, {"Old": "New"})
    with pytest.warns(FutureWarning, match=r"pkg\.mod\.Old is deprecated: use pkg\.mod\.New instead"):
        assert getter("Old") is namespace["New"]
    with pytest.raises(AttributeError):
        getter("Other")


@pytest.mark.parametrize(("module", "new"), [("genrenet.models", "ArchitectureInfo"),
                                             ("genrenet.predict", "LoadedModelInfo")])
def test_model_info_is_a_deprecated_alias(module, new):
    mod = importlib.import_module(module)
    with pytest.warns(FutureWarning, match=f"{module}.ModelInfo is deprecated"):
        assert mod.ModelInfo is getattr(mod, new)
    assert "ModelInfo" not in mod.__all__ and new in mod.__all__
    with pytest.raises(AttributeError):
        mod.NoSuchName  # noqa: B018


def test_the_two_model_descriptions_have_distinct_names():
    from genrenet.models import ArchitectureInfo
    from genrenet.predict import LoadedModelInfo

    assert ArchitectureInfo is not LoadedModelInfo
