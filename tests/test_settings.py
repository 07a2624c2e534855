"""Every setting has one source: seeds, CLI choices, split names, TensorFlow's environment, the manifest name.

Each test reads the library's source (with :mod:`ast`) or its command-line parser and fails
when someone types a copy of a setting instead of importing it from its one home.
"""

from __future__ import annotations

import argparse
import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "genrenet"

#: Modules whose seed defaults are not the experiment seed: the signal layer's noise
#: generators default to seed 0 and stay independent of the experiment layer.
_OWN_SEEDS = {"genrenet/synth.py"}

_TF_KEYS = {"TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text(), filename=rel)


def _int_literal(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool)


def _seed_literals(tree) -> list[int]:
    """Line numbers where a seed default or ``random_state`` is an integer literal."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            lines += [d.lineno for a, d in pairs if a.arg in ("seed", "random_state") and _int_literal(d)]
        elif isinstance(node, ast.Call):
            flags = [a.value for a in node.args if isinstance(a, ast.Constant)]
            for kw in node.keywords:
                if kw.arg == "random_state" and _int_literal(kw.value):
                    lines.append(kw.value.lineno)
                if kw.arg == "default" and "--seed" in flags and _int_literal(kw.value):
                    lines.append(kw.value.lineno)
    return lines


def test_no_seed_is_typed_outside_repro():
    found = {rel: lines for rel, tree in _modules()
             if rel != "genrenet/repro.py" and rel not in _OWN_SEEDS and (lines := _seed_literals(tree))}
    assert not found, f"seed defaults typed as numbers (use genrenet.repro.DEFAULT_SEED): {found}"


def test_seed_check_catches_a_copy():
    tree = ast.parse("def f(*, seed: int = 42): ...\np.add_argument('--seed', type=int, default=42)\n"
                     "g(random_state=7)\n")
    assert _seed_literals(tree) == [1, 2, 3]
    assert _seed_literals(ast.parse("def f(*, seed=DEFAULT_SEED): ...")) == []


def test_cli_seed_defaults_are_the_default_seed():
    from genrenet.repro import DEFAULT_SEED

    seeds = {name: action.default for name, p in _subparsers().items() for action in p._actions
             if "--seed" in action.option_strings}
    assert seeds and set(seeds.values()) == {DEFAULT_SEED}, seeds


# --------------------------------------------------------------------------- command-line choices

def _subparsers(parser: argparse.ArgumentParser | None = None, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    from genrenet.cli import build_parser

    parser = parser or build_parser()
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + name] = sub
                found.update(_subparsers(sub, prefix + name + " "))
    return found


def _choices(command: str, option: str) -> list:
    parser = _subparsers()[command]
    action = next(a for a in parser._actions if option in a.option_strings or a.dest == option)
    return list(action.choices)


def test_cli_choices_come_from_the_registries():
    from genrenet.baseline import KINDS
    from genrenet.inputs import SPLITS
    from genrenet.models import model_names
    from genrenet.selection import LEVELS, METRICS
    from genrenet.splits import GROUPINGS
    from genrenet.tuning import SEARCH_SPACES, TUNERS

    assert _choices("train", "--model") == model_names()
    assert _choices("tune", "--model") == list(SEARCH_SPACES)
    assert _choices("tune", "--tuner") == list(TUNERS)
    assert _choices("select", "--model") == list(KINDS)
    assert _choices("select", "--metric") == list(METRICS)
    assert _choices("select", "--level") == list(LEVELS)
    for command in ("train", "tune", "select", "data split"):
        assert _choices(command, "--by") == list(GROUPINGS), command
    for command, option in (("train", "--split"), ("tune", "--split"), ("data split", "--protocol")):
        assert _choices(command, option) == [*SPLITS, "kfold"], command


def test_every_tunable_model_is_a_model():
    from genrenet.models import model_names
    from genrenet.tuning import SEARCH_SPACES

    assert set(SEARCH_SPACES) <= set(model_names())


def test_dataset_help_lists_the_registry():
    from genrenet.datasets import available_datasets

    for command in ("train", "tune", "select", "features", "evaluate", "data info"):
        parser = _subparsers()[command]
        text = next(a.help for a in parser._actions if "--dataset" in a.option_strings)
        assert all(name in text for name in available_datasets()), (command, text)


@pytest.mark.parametrize("old, new", [("block", "kfold"), ("fault_filtered", "fault-filtered")])
def test_deprecated_split_names_warn_and_translate(old, new):
    from genrenet.cli import build_parser

    with pytest.warns(FutureWarning, match=old):
        args = build_parser().parse_args(["tune", "--model", "cnn", "--split", old, "--out", "x"])
    assert args.split == new
    with pytest.warns(FutureWarning):
        args = build_parser().parse_args(["data", "split", "--protocol", old, "--out", "x.json"])
    assert args.protocol == new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build_parser().parse_args(["tune", "--model", "cnn", "--split", "kfold", "--out", "x"]).by == "block"


# --------------------------------------------------------------------------- TensorFlow's environment

def _string_constants(tree, values) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in values]


def test_tensorflow_environment_is_set_only_in_tf_module():
    found = {rel: [n.lineno for n in nodes] for rel, tree in _modules()
             if rel != "genrenet/_tf.py" and (nodes := _string_constants(tree, _TF_KEYS))}
    assert not found, f"TensorFlow's environment named outside genrenet/_tf.py (use _tf.ENVIRONMENT): {found}"


def test_notebooks_leave_tensorflow_environment_to_tf_module():
    found = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if any(key in p.read_text(encoding="utf-8") for key in _TF_KEYS)]
    assert not found, f"notebooks setting TensorFlow's environment (call genrenet.notebook.quiet()): {found}"


def test_tf_module_sets_the_environment_without_importing_tensorflow():
    import genrenet._tf as tfmod

    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    tfmod.apply_environment(env)
    assert env == {**tfmod.ENVIRONMENT, "TF_CPP_MIN_LOG_LEVEL": "0"}  # a chosen log level is kept
    assert callable(tfmod.quiet)


# --------------------------------------------------------------------------- the manifest name

def test_manifest_name_is_defined_once():
    from genrenet.datasets import MANIFEST_NAME, base, soundcloud

    assert soundcloud.MANIFEST_NAME is base.MANIFEST_NAME is MANIFEST_NAME
    found = {rel: [n.lineno for n in nodes] for rel, tree in _modules()
             if rel != "genrenet/datasets/base.py" and (nodes := _string_constants(tree, {MANIFEST_NAME}))}
    assert not found, f"{MANIFEST_NAME!r} typed outside genrenet/datasets/base.py: {found}"


def test_tune_kfold_is_the_first_grouped_fold_as_block_was(monkeypatch):
    import genrenet.cache
    import genrenet.inputs
    from genrenet.cli import build_parser
    from genrenet.commands.tune import _featureset
    from genrenet.datasets.base import Dataset, Track
    from genrenet.splits import grouped_kfold

    tracks = [Track(path=Path(f"/nonexistent/{g}.{k:05d}.wav"), genre=g, id=f"{g}.{k:05d}")
              for g in ("a", "b") for k in range(10)]
    ds = Dataset("toy", None, tracks)
    monkeypatch.setattr(genrenet.inputs, "resolve_inputs",
                        lambda *a, **k: genrenet.inputs.Inputs(dataset=ds, split=None, feature="spec"))
    monkeypatch.setattr(genrenet.cache, "featurize", lambda dataset, spec, **k: ("features", dataset.name))
    with pytest.warns(FutureWarning):
        old = build_parser().parse_args(["tune", "--model", "cnn", "--split", "block", "--out", "x"])
    new = build_parser().parse_args(["tune", "--model", "cnn", "--split", "kfold", "--folds", "4", "--by", "track",
                                     "--out", "x"])
    fs, split = _featureset(old)
    assert fs == ("features", "toy") and split == grouped_kfold(ds, by="block")[0]
    assert _featureset(new)[1] == grouped_kfold(ds, folds=4, by="track")[0]


def test_notebook_and_experiment_seeds_are_the_default_seed():
    """Papermill parameters and experiments.yml must hold literals: they are checked against DEFAULT_SEED."""
    import json
    import re

    import yaml

    from genrenet.repro import DEFAULT_SEED

    config = yaml.safe_load((ROOT / "experiments.yml").read_text(encoding="utf-8"))
    assert config["defaults"]["seed"] == DEFAULT_SEED
    seeds = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                m = re.search(r"^seed\s*(?::\s*int\s*)?=\s*(\d+)", "".join(cell["source"]), re.M)
                if m:
                    seeds[path.name] = int(m.group(1))
    assert seeds, "no notebook declares a seed parameter"
    assert set(seeds.values()) == {DEFAULT_SEED}, seeds
