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


def _renamed_public_functions():
    import genrenet.book.site as site
    import genrenet.datasets as datasets
    import genrenet.sources.soundcloud as collector
    import genrenet.tuning.search as search
    from genrenet import download, splits
    from genrenet.datasets import demo, folder, gtzan, soundcloud

    modules = [datasets, demo, folder, gtzan, soundcloud, splits, download, collector, search, site]
    return [getattr(m, name) for m in modules for name in m.__all__
            if hasattr(getattr(m, name, None), "__renamed_kwargs__")]


def test_every_renamed_keyword_names_a_parameter():
    import inspect

    funcs = _renamed_public_functions()
    assert len(funcs) >= 15
    for func in funcs:
        params = inspect.signature(func).parameters
        for old, new in func.__renamed_kwargs__.items():
            assert new in params and old not in params, (func.__qualname__, old, new)


def test_old_data_keywords_still_work(tmp_path):
    from genrenet.datasets import demo, load_dataset
    from genrenet.splits import grouped_kfold

    with pytest.warns(FutureWarning) as caught:
        root = demo.generate_demo(root=tmp_path / "demo", n_per_genre=2, duration=0.5, progress=False)
    assert sorted(str(w.message).split(" is ")[0] for w in caught) == \
        ["generate_demo(n_per_genre=...)", "generate_demo(root=...)"]
    assert root == tmp_path / "demo" and len(demo.demo_files(root, per_genre=2)) == 2 * len(demo.DEMO_GENRES)
    with pytest.warns(FutureWarning, match=r"load_dataset\(root=\.\.\.\)"):
        old = load_dataset("folder", root=root)
    new = load_dataset("folder", data_dir=root)
    with pytest.warns(FutureWarning, match=r"^load_dataset\(n_per_genre=\.\.\.\) is deprecated: use per_genre="):
        demo_ds = load_dataset("demo", tmp_path / "demo2", n_per_genre=1, duration=0.5)
    assert len(demo_ds) == len(demo.DEMO_GENRES)
    assert [t.id for t in old.tracks] == [t.id for t in new.tracks]
    with pytest.warns(FutureWarning, match="use folds="):
        old_folds = grouped_kfold(new, n_splits=2, by="block")
    assert [f.test for f in old_folds] == [f.test for f in grouped_kfold(new, folds=2, by="block")]
