"""The notebooks' parameters: typed and documented, checked at once, and honoured on a folder of your own music.

The last test runs every notebook once with ``dataset="folder"`` on a small folder of synthesised
audio in mixed formats (uneven genres, a nested folder, a broken file and a non-audio file), as a user
would with ``papermill -p dataset folder -p data_dir MY_MUSIC``; epochs and trials are tiny.
"""

from __future__ import annotations

import ast
import inspect
import json
import shutil
import subprocess
import sys
import time
import typing
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrenet.errors import ParameterError
from genrenet.notebook import NOTEBOOK_CHECKS, notebook_parameters, parameter_table, update_parameter_tables

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SR = 22050


# --------------------------------------------------------------------------- a folder of "your own music"


def _clip(style: str, k: int, *, seconds: float = 6.0, sr: int = SR) -> np.ndarray:
    """Six seconds of one of three synthesised styles (distinct spectra), varied by ``k``."""
    from genrenet import synth

    n = int(seconds * sr)
    if style == "classical":  # sustained additive chords, no percussion
        f = synth.note_to_freq(["C4", "D4", "E4", "G3"][k % 4])
        y = sum(synth.additive([(f * r * h, 0.3 / h) for h in (1, 2, 3)], sr=sr, duration=seconds)
                for r in (1.0, 1.26, 1.5))
        y = y * synth.adsr(seconds, sr=sr, attack=0.8, decay=1.0, sustain=0.6, release=1.0)
    elif style == "rock":  # drums and a distorted sawtooth riff
        drums = synth.drum_pattern({"kick": "x...x...", "snare": "..x...x.", "hat": "xxxxxxxx"}, bpm=120 + 5 * k,
                                   sr=sr, bars=4, seed=k)
        saw = synth.wavetable(synth.single_cycle("sawtooth"), synth.note_to_freq(["E2", "A2", "D2", "G2"][k % 4]),
                              sr=sr, duration=seconds)
        y = 0.5 * np.resize(drums, n) + 0.4 * np.tanh(4 * saw)
    else:  # techno: four-on-the-floor kicks and FM bleeps
        kicks = synth.drum_pattern({"kick": "x.x.x.x."}, bpm=128 + 4 * k, sr=sr, bars=4, seed=k)
        bleep = synth.fm(synth.note_to_freq("A5") * (1 + 0.1 * k), 220.0, 4.0, sr=sr, duration=seconds)
        gate = (np.sin(2 * np.pi * 4 * np.arange(n) / sr) > 0.6).astype(np.float32)
        y = 0.7 * np.resize(kicks, n) + 0.3 * bleep[:n] * gate
    y = np.asarray(y, dtype=np.float32)[:n]
    return (0.8 * y / np.max(np.abs(y))).astype(np.float32)


def _write(path: Path, y: np.ndarray, sr: int = SR, *, stereo: bool = False, resample_to: int | None = None) -> None:
    from genrenet.audio import resample

    path.parent.mkdir(parents=True, exist_ok=True)
    if resample_to:
        y, sr = resample(y, sr, resample_to), resample_to
    data = np.stack([y, 0.9 * y], axis=1) if stereo else y
    if path.suffix == ".m4a":
        wav = path.with_suffix(".tmp.wav")
        sf.write(wav, data, sr)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "96k",
                        str(path)], check=True)
        wav.unlink()
    else:
        sf.write(path, data, sr)


def make_own_music(root: Path) -> Path:
    """A ``<genre>/<file>`` folder: 3 classical, 4 rock, 3 techno clips in seven formats, plus junk.

    Formats: WAV (22.05 and 48 kHz), FLAC (44.1 kHz stereo), Ogg Vorbis, MP3, AU and, when
    ffmpeg is installed, AAC in .m4a. ``rock/broken.wav`` is a truncated header (reported and
    skipped); ``rock/notes.txt`` is not audio (ignored); ``classical/op3/`` is a nested folder.
    """
    m4a = ".m4a" if shutil.which("ffmpeg") else ".wav"
    layout = {
        "classical": [("etude01.wav", {}), ("etude02.flac", {"stereo": True, "resample_to": 44100}),
                      ("op3/etude03.ogg", {})],
        "rock": [("riff01.mp3", {"resample_to": 44100}), ("riff02.wav", {}), ("riff03.flac", {}),
                 (f"riff04{m4a}", {})],
        "techno": [("loop01.ogg", {"stereo": True}), ("loop02.au", {}), ("loop03.wav", {"resample_to": 48000})],
    }
    for genre, files in layout.items():
        for k, (name, opts) in enumerate(files):
            _write(root / genre / name, _clip(genre, k), **opts)
    good = (root / "rock" / "riff02.wav").read_bytes()
    (root / "rock" / "broken.wav").write_bytes(good[:30])  # a cut-off header: not decodable
    (root / "rock" / "notes.txt").write_text("not audio\n")
    return root


@pytest.fixture(scope="module")
def own_music(tmp_path_factory) -> Path:
    return make_own_music(tmp_path_factory.mktemp("own-music") / "music")


# --------------------------------------------------------------------------- typed and documented


def _type(annotation: str):
    namespace = {"Optional": typing.Optional, "Union": typing.Union, "str": str, "int": int, "float": float,
                 "bool": bool, "list": list, "dict": dict}
    return eval(annotation, namespace)  # noqa: S307 - the annotations of our own notebooks


def _conforms(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return any(_conforms(value, t) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is not None:
        return isinstance(value, origin)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def test_there_are_notebooks_and_each_has_a_check():
    assert {p.stem for p in NOTEBOOKS} == set(NOTEBOOK_CHECKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_typed_and_described(notebook):
    params = notebook_parameters(notebook)
    assert params, f"{notebook.name}: no parameters found"
    for p in params:
        where = f"{notebook.name}: parameter {p['name']}"
        assert p["type"], f"{where} has no type annotation"
        assert len(p["help"]) >= 15, f"{where} has no description (a trailing comment)"
        default = ast.literal_eval(p["default"])
        assert _conforms(default, _type(p["type"])), f"{where}: default {default!r} is not a {p['type']}"
    # papermill's own help shows them: no "Unknown type", a description under every parameter
    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(notebook)],
                         capture_output=True, text=True, check=True).stdout
    assert "Unknown type" not in out
    for p in params:
        assert f"{p['name']}: {p['type']} (default {p['default']})" in out and p["help"] in out


def _help(notebook: str, name: str) -> str:
    return next(p["help"] for p in notebook_parameters(ROOT / "notebooks" / notebook) if p["name"] == name)


def test_descriptions_list_every_registered_choice():
    """The help of model, feature and dataset names every entry of the library's registries."""
    from genrenet.datasets import available_datasets
    from genrenet.features import PRESETS
    from genrenet.models import model_names
    from genrenet.tuning import SEARCH_SPACES, TUNERS

    expected = {("train_model.ipynb", "model"): model_names(), ("tuning.ipynb", "model"): list(SEARCH_SPACES),
                ("tuning.ipynb", "tuner"): list(TUNERS)}
    for nb in ("train_model.ipynb", "tuning.ipynb"):
        expected[(nb, "feature")] = list(PRESETS)
    for path in NOTEBOOKS:
        if any(p["name"] == "dataset" for p in notebook_parameters(path)):
            expected[(path.name, "dataset")] = available_datasets()
    for (nb, name), choices in expected.items():
        text = _help(nb, name)
        missing = [c for c in choices if c not in text]
        assert not missing, f"add {missing} to the comment of parameter {name!r} in notebooks/{nb}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_cell_after_the_parameters_checks_every_parameter(notebook):
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    check = NOTEBOOK_CHECKS[notebook.stem]
    declared = [p["name"] for p in notebook_parameters(notebook)]
    signature = inspect.signature(check).parameters
    assert sorted(signature) == sorted(declared), f"{check.__name__} must take exactly the notebook's parameters"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.values())
    call = next(node for node in ast.walk(ast.parse(code[1].source))
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == check.__name__)
    passed = {k.arg: k.value.id for k in call.keywords if isinstance(k.value, ast.Name)}
    assert passed == {name: name for name in declared}


# --------------------------------------------------------------------------- checked at once


def test_checks_name_the_parameter_and_list_the_choices(own_music, tmp_path):
    from genrenet.notebook import (
        check_genre_selection,
        check_prediction,
        check_results,
        check_train_model,
        check_tuning,
    )

    good = dict(dataset="folder", data_dir=str(own_music), genres=None, feature=None, model="compact_cnn", epochs=1,
                seed=42, folds=0, batch_size=8, output_dir="out")
    checked = check_train_model(**good)
    assert checked.dataset.genres == ["classical", "rock", "techno"] and len(checked.dataset) == 10
    assert [s.path.name for s in checked.dataset.skipped] == ["broken.wav"]
    cases = [
        ({"model": "resnet"}, r"model='resnet' is not valid; choose one of: feed_forward, lenet, cnn, lstm, "
                              r"compact_cnn.*baseline"),
        ({"feature": "mel"}, r"feature='mel' is not valid; choose one of: logmel, thesis_image, mfcc_stats.*"
                             r"or None \(the model's own: logmel\)"),
        ({"model": "baseline", "feature": "logmel"}, "model 'baseline' needs a feature of kind 'mfcc_stats'"),
        ({"model": "transfer_linear", "feature": "logmel"}, "needs a feature of kind 'embedding'"),
        ({"model": "cnn", "feature": "mfcc_stats"}, "needs a spectrogram feature"),
        ({"genres": "rock,jazz"}, r"genres: jazz not in data set 'folder'; choose among: classical, rock, techno"),
        ({"genres": "rock"}, "has 1 genre"),
        ({"dataset": "mymusic"}, r"dataset='mymusic' is not valid; choose one of: demo, folder, gtzan"),
        ({"data_dir": None}, "data_dir is required for dataset='folder'"),
        ({"data_dir": str(tmp_path / "nowhere")}, "data_dir=.*nowhere.* does not exist"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"folds": 1}, "folds=1 is not valid"),
        ({"folds": 5}, "folds=5: no genre of data set 'folder' has that many tracks"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"learning_rate": 0.0}, r"learning_rate must be a positive number or None, got 0.0"),
        ({"learning_rate": "1e-4"}, r"learning_rate must be a positive number or None, got '1e-4'"),
        ({"learning_rate": float("nan")}, "learning_rate must be a positive number"),
        ({"model": "baseline", "learning_rate": 1e-4}, r"learning_rate=0.0001 is not valid for model='baseline'.*"
                                                       r"leave learning_rate=None"),
        ({"model": "transfer_linear", "learning_rate": 1e-4}, "not valid for model='transfer_linear'"),
        ({"patience": 0}, "patience must be a positive integer or None, got 0"),
        ({"patience": 2.0}, "patience must be a positive integer or None"),
    ]
    for change, message in cases:
        with pytest.raises(ParameterError, match=message):
            check_train_model(**{**good, **change})
    # a learning rate reaches the builder; None keeps its default; patience None turns early stopping off
    assert check_train_model(**{**good, "model": "cnn", "learning_rate": 2e-5}).model_kwargs == {"learning_rate": 2e-5}
    assert check_train_model(**good, learning_rate=None, patience=None).model_kwargs == {}
    assert check_train_model(**{**good, "model": "baseline"}, patience=3).model_kwargs == {}
    # None is the model's own feature, whatever the registry holds
    from genrenet.features import PRESETS
    from genrenet.models import default_feature, model_names

    for model in model_names():
        spec = check_train_model(**{**good, "model": model}).feature
        assert spec == PRESETS[default_feature(model)], model

    tune = {k: v for k, v in good.items() if k not in ("folds", "batch_size")}
    with pytest.raises(ParameterError, match=r"model='baseline' is not valid; choose one of: feed_forward"):
        check_tuning(**{**tune, "model": "baseline"}, tuner="random", trials=1)
    with pytest.raises(ParameterError, match="tuner='grid' is not valid; choose one of: random, hyperband, bayesian"):
        check_tuning(**tune, tuner="grid", trials=1)
    with pytest.raises(ParameterError, match="has 3 genre.*needs at least 4"):
        check_genre_selection(dataset="folder", data_dir=str(own_music), k=4, folds=2, seed=1, output_dir="o")
    with pytest.raises(ParameterError, match="data_dir is given but dataset is None"):
        check_results(results_dir="outputs", dataset=None, data_dir=str(own_music), output_dir="o")
    with pytest.raises(ParameterError, match="audio_path=.*no such file"):
        check_prediction(audio_path="missing.mp3", models_dir=None, dataset=None, data_dir=None, max_tracks=1,
                         max_windows=4, seed=1, output_dir="o")


def _papermill(notebook: str, cwd: Path, **params):
    import papermill as pm

    out = cwd / f"{Path(notebook).stem}-{len(list(cwd.glob('*.ipynb')))}.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / notebook), str(out), parameters=params, cwd=str(cwd),
                        kernel_name="python3", progress_bar=False, start_timeout=120)
    return out


def test_a_wrong_parameter_stops_the_notebook_in_its_first_cell(own_music, tmp_path):
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    with pytest.raises(PapermillExecutionError) as err:
        _papermill("train_model.ipynb", tmp_path, dataset="folder", data_dir=str(own_music), model="resnet")
    assert err.value.ename == "ParameterError" and "choose one of: feed_forward" in err.value.evalue
    # the injected parameters are cell 2, the check cell 3; nothing after it ran (no TensorFlow, no training)
    assert err.value.exec_count == 3
    assert not (tmp_path / "outputs").exists()
    print(f"failed in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- generated parameter tables


def test_readme_parameter_tables_are_generated_from_the_notebooks(tmp_path):
    readme = ROOT / "README.md"
    assert "<!-- parameters: notebooks/train_model.ipynb -->" in readme.read_text()
    assert update_parameter_tables(readme, write=False), (
        "README.md's parameter tables are stale: run "
        "python -c \"from genrenet.notebook import update_parameter_tables as u; u('README.md')\"")
    # a stale table is found and rewritten
    copy = tmp_path / "README.md"
    copy.write_text(readme.read_text().replace("| `epochs` | `int` |", "| `epochs` | `float` |"))
    assert not update_parameter_tables(copy, root=ROOT)
    assert update_parameter_tables(copy, root=ROOT, write=False)
    table = parameter_table(ROOT / "notebooks" / "train_model.ipynb")
    assert "| `model` | `str` | `\"compact_cnn\"` | feed_forward, lenet" in table


def test_book_page_renders_the_tables_from_the_notebooks():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import genrenet_params
    finally:
        sys.path.pop(0)
    page = (ROOT / "book" / "own_music.md").read_text()
    listed = {line.split()[-1] for line in page.splitlines() if line.startswith("```{notebook-parameters}")}
    assert listed == {f"notebooks/{p.name}" for p in NOTEBOOKS}
    rows = genrenet_params.table_rows(ROOT / "notebooks" / "tuning.ipynb")
    assert rows[0] == ["parameter", "type", "default", "meaning and allowed values"]
    assert ["tuner", "str", '"random"', _help("tuning.ipynb", "tuner")] in rows


# --------------------------------------------------------------------------- the notebooks' helpers


def test_save_and_show_writes_the_png_closes_the_figure_and_shows_the_file(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import IPython.display
    import matplotlib.pyplot as plt

    from genrenet.notebook import save_and_show

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_and_show(fig, tmp_path / "line.png", dpi=50, tight=True)
    assert path.read_bytes().startswith(b"\x89PNG") and not plt.fignum_exists(fig.number)
    assert len(shown) == 1 and shown[0].data == path.read_bytes()


def test_save_and_show_with_alt_text_shows_the_png_with_its_alt_for_the_book(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import base64

    import IPython.display
    import matplotlib.pyplot as plt

    from genrenet.notebook import save_and_show, show_image

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.append((objs, kw)))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    alt = "A straight line falling from 1 to 0."
    path = save_and_show(fig, tmp_path / "line.png", dpi=50, alt=alt)
    (bundle,), kw = shown[0]
    assert kw["raw"] is True and kw["metadata"] == {"genrenet": {"alt": alt}}
    assert base64.b64decode(bundle["image/png"]) == path.read_bytes() and bundle["text/plain"] == alt
    with pytest.raises(ParameterError, match="alt must describe"):
        show_image(path, alt="a plot")
    # the same figure gives the same file: no timestamp in the PNG
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert save_and_show(fig, tmp_path / "again.png", dpi=50, alt=alt).read_bytes() == path.read_bytes()


def test_show_json_shows_the_whole_document_folded_when_long(monkeypatch):
    import IPython.display

    from genrenet.notebook import show_json

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    doc = {"track": {"name": "a <b> & c.wav"}, "models": [{"genre": f"g{i}", "p": i / 40} for i in range(40)]}
    text = show_json(doc, summary="prediction.json", open_lines=30)
    assert json.loads(text) == doc and shown[0]["text/plain"] == text
    page = shown[0]["text/html"]
    assert page.startswith('<details class="genrenet-json">') and "click to unfold" in page  # long: folded
    assert "a &lt;b&gt; &amp; c.wav" in page and '"g39"' in page.replace("&quot;", '"')  # escaped, whole
    shown.clear()
    show_json({"genre": "rock"}, summary="short")
    assert '<details class="genrenet-json" open>' in shown[0]["text/html"]
    with pytest.raises(ParameterError, match="open_lines"):
        show_json({}, summary="x", open_lines=0)


FIGURE_CALLS = {"save_and_show", "show_figure", "show_image"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_of_the_notebook_passes_alt_text(notebook):
    """Figures reach the page through the helpers that carry alt text, and every call passes one."""
    problems = []
    for k, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name in FIGURE_CALLS and not any(kw.arg == "alt" for kw in node.keywords):
                problems.append(f"cell {k}: {name}(...) without alt=")
            if name == "Image":
                problems.append(f"cell {k}: IPython.display.Image has no alt text; use genrenet.notebook.show_image")
    assert not problems, f"{notebook.name}: " + "; ".join(problems)


def test_show_dataset_marks_synthetic_data_and_skipped_files(tmp_path, monkeypatch):
    import IPython.display

    from genrenet.datasets import SYNTHETIC_LABEL, SkippedFile, synthetic_notice
    from genrenet.notebook import show_dataset

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(o.data for o in objs))

    class Fake:
        def __init__(self, synthetic, skipped):
            self.synthetic, self.skipped, self.root, self.name = synthetic, skipped, tmp_path, "demo"
            self.label = f"demo ({SYNTHETIC_LABEL})" if synthetic else "demo"

    assert show_dataset(Fake(True, [])) == f"demo ({SYNTHETIC_LABEL})" and shown == [f"**{synthetic_notice()}**"]
    shown.clear()
    assert show_dataset(Fake(True, [SkippedFile(tmp_path / "a.wav", "unreadable")]), synthetic_note="fake data") == f"demo ({SYNTHETIC_LABEL})"
    assert shown[0] == "fake data" and "1 file(s) skipped" in shown[1] and "a.wav" in shown[1]
    shown.clear()
    assert show_dataset(Fake(False, [])) == "demo" and shown == []


def test_check_dataset_falls_back_to_the_demo_corpus_only_when_asked(tmp_path):
    from genrenet.notebook import check_dataset

    with pytest.raises(ParameterError, match="data_dir"):
        check_dataset("folder", tmp_path / "absent")
    with pytest.warns(UserWarning):
        ds = check_dataset("folder", tmp_path / "absent", demo_fallback=True)
    assert ds.synthetic and "SYNTHETIC" in ds.label


# --------------------------------------------------------------------------- your own folder, every notebook


def _runs():
    """(notebook, parameters) of the CI run on the folder; training covers every registered model."""
    from genrenet.models import BASELINE, model_names

    runs = [("data_exploration.ipynb", {"folds": 2}), ("signal_processing.ipynb", {}),
            ("genre_selection.ipynb", {"k": 2, "folds": 2})]
    for model in model_names():
        extra = {"folds": 2} if model in ("compact_cnn", BASELINE) else {}
        runs.append(("train_model.ipynb", {"model": model, "epochs": 1, "batch_size": 8, **extra}))
    runs += [("tuning.ipynb", {"trials": 1, "epochs": 1}), ("results.ipynb", {}),
             ("prediction.ipynb", {"models_dir": "outputs/train_model", "max_tracks": 3, "max_windows": 4})]
    return runs


def _outputs(path: Path) -> str:
    nb = json.loads(path.read_text())
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                texts.append("".join(out["text"]))
            for kind in ("text/markdown", "text/plain", "text/html"):
                texts.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("own-music-runs")


@pytest.mark.parametrize(("notebook", "params"), _runs(), ids=lambda v: v if isinstance(v, str) else
                         v.get("model", ""))
def test_every_notebook_runs_on_a_folder_of_your_own_music(own_music, workdir, notebook, params):
    started = time.perf_counter()
    text = _outputs(_papermill(notebook, workdir, dataset="folder", data_dir=str(own_music), **params))
    # the broken file is reported by name and skipped; every readable file, whatever its format, is used
    assert "1 file(s) skipped" in text and "rock/broken.wav" in text, notebook
    out = workdir / "outputs"
    if notebook == "train_model.ipynb":
        model = params["model"]
        # the recipe is printed from the run's record, the architecture from the built model
        from genrenet.models import is_sklearn

        if is_sklearn(model):
            assert "fitted in one step by scikit-learn" in text
        else:
            assert "epochs trained" in text and "early-stopping patience" in text and "Total params" in text
        run = out / "train_model" / (f"{model}-cv2" if "folds" in params else model)
        if "folds" in params:
            cv = json.loads((run / "cv_metrics.json").read_text())
            meta = json.loads((run / "final" / "meta.json").read_text())
            assert cv["track"]["n"] == 10 and cv["final"]["train_tracks"] == 10
            assert meta["metrics"]["accuracy"] == cv["track"]["accuracy"] and meta["metrics"]["epochs_rule"]
            assert "trained on all 10 tracks" in text
        else:
            from genrenet.features import PRESETS
            from genrenet.models import default_feature

            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["feature"]["kind"] == PRESETS[default_feature(model)].kind  # feature=None: its own
            assert metrics["track"]["n"] == 3 and (run / "meta.json").is_file()
    elif notebook == "genre_selection.ipynb":
        counts = json.loads((out / "genre_selection" / "counts.json").read_text())
        assert counts["n_subsets"] == 3 and counts["thesis_pick_rank"] is None
    elif notebook == "results.ipynb":
        shipped = json.loads((out / "results" / "shipped_model.json").read_text())
        # the shipped model knows classical and rock; techno is left out, its 8 other genres have no clips
        assert shipped["skipped_genres"] == {"techno": 3} and shipped["track"]["n"] == 7
        assert text.count("no clips") >= 8
    elif notebook == "prediction.ipynb":
        assert "3 tracks of folder" in text and (out / "prediction" / "prediction.json").is_file()
    print(f"{notebook} {params}: {time.perf_counter() - started:.1f} s")
