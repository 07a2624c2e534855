"""Parameters of the papermill notebooks: checks and documentation.

Every notebook in ``notebooks/`` declares its parameters in a cell tagged
``parameters``, one per line, with a type annotation and a trailing comment
(papermill's convention), so ``papermill --help-notebook NOTEBOOK`` lists each
parameter's type, default and meaning. The next cell calls the notebook's check
from this module (:data:`NOTEBOOK_CHECKS`): it validates every parameter with the
library's own registries and checks (:data:`genrenet.models.MODELS`,
:data:`genrenet.features.PRESETS`, :func:`genrenet.datasets.available_datasets`,
:data:`genrenet.tuning.SEARCH_SPACES`...) and loads the data set, so a wrong name
or a missing ``data_dir`` fails at once with a message listing the valid choices,
never deep in training.

:func:`parameter_table` renders a notebook's parameters as a Markdown table and
:func:`update_parameter_tables` rewrites the generated tables in a Markdown file
(the README section "Run it on your own music"); the book page of the same name
renders them at build time (``book/_ext/genrenet_params.py``).

The rest of a notebook's plumbing lives here too, so that notebooks only present:
:func:`quiet` (TensorFlow's log noise kept off the page), :func:`show_dataset` (what a
reader must know about the data: the SYNTHETIC banner, skipped files, the label results
carry), :func:`save_and_show` (a figure written as PNG next to the results and shown, with its alt text),
:func:`show_image` (a PNG a library function wrote, with its alt text), :func:`show_json` (a JSON
document whole, folded when long),
and :func:`show_figure` / :func:`show_audio` (a figure carrying its alt text, or a
synthesised sound, optionally glued for a chapter to place).

Used by every notebook in ``notebooks/`` and the book page "Run it on your own
music" (``book/own_music.md``).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from genrenet.errors import ParameterError

__all__ = [
    "NOTEBOOK_CHECKS",
    "check_choice",
    "check_int",
    "check_model",
    "check_feature",
    "check_genres",
    "check_dataset",
    "skipped_note",
    "check_data_exploration",
    "check_genre_selection",
    "check_train_model",
    "check_tuning",
    "check_results",
    "check_prediction",
    "check_signal_processing",
    "check_theory_figures",
    "notebook_parameters",
    "parameter_table",
    "update_parameter_tables",
    "quiet",
    "show_dataset",
    "save_and_show",
    "show_image",
    "show_json",
    "show_figure",
    "show_audio",
]


# --------------------------------------------------------------------------- single parameters


def _choices(choices) -> str:
    return ", ".join(str(c) for c in choices)


def check_choice(name: str, value: Any, choices, *, none: str | None = None) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise naming the parameter and the choices.

    Parameters
    ----------
    name : str
        Parameter name, for the message.
    value : object
    choices : iterable
        The valid values.
    none : str, keyword-only, optional
        When given, ``None`` is valid too and means this (shown in the message).
    """
    choices = list(choices)
    if value is None and none is not None:
        return None
    if isinstance(value, str) and value in choices:
        return value
    also = f", or None ({none})" if none is not None else ""
    raise ParameterError(f"{name}={value!r} is not valid; choose one of: {_choices(choices)}{also}")


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer (not a bool) within ``[minimum, maximum]``."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be at most {maximum}, got {value!r}")
    return int(value)


def _check_text(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ParameterError(f"{name} must be a non-empty path or text, got {value!r}")
    return str(value)


def _check_path(name: str, value: Any, *, kind: str) -> Path | None:
    """None, or an existing file (``kind="file"``) or directory (``kind="dir"``)."""
    if value is None:
        return None
    path = Path(_check_text(name, value)).expanduser()
    ok = path.is_file() if kind == "file" else path.is_dir()
    if not ok:
        what = "file" if kind == "file" else "directory"
        raise ParameterError(f"{name}={str(value)!r}: no such {what} (from {Path.cwd()})")
    return path


def check_model(model: Any, *, choices=None) -> str:
    """A model name of the registry (:func:`genrenet.models.model_names`: Keras and scikit-learn models) or of ``choices``."""
    from genrenet.models import model_names

    return check_choice("model", model, list(choices) if choices is not None else model_names())


def check_feature(feature: Any, *, model: str):
    """The feature specification for ``model``: ``None`` is the model's own preset.

    Parameters
    ----------
    feature : str or None
        A name of :data:`genrenet.features.PRESETS`, or None.
    model : str, keyword-only
        A checked model name; the feature must suit it (:func:`genrenet.inputs.resolve_feature`:
        the scikit-learn models need their own kind, the networks a spectrogram feature).

    Returns
    -------
    genrenet.features.FeatureSpec
    """
    from genrenet.features import PRESETS
    from genrenet.inputs import resolve_feature
    from genrenet.models import default_feature

    check_choice("feature", feature, list(PRESETS), none=f"the model's own: {default_feature(model)}")
    return resolve_feature(model, feature)


def check_genres(genres: Any) -> list[str] | None:
    """``None``, a comma-separated string or a list of genre names → a list (or None: all genres)."""
    from genrenet.inputs import parse_genres

    return parse_genres(genres)


def check_dataset(dataset: Any, data_dir: Any, *, genres: Any = None, min_genres: int = 1,
                  min_tracks: int = 1, demo_fallback: bool = False):
    """Load a registered data set after checking its name, ``data_dir`` and ``genres``.

    The notebooks' side of :func:`genrenet.inputs.resolve_dataset` (the path training and
    the commands take too). Without ``demo_fallback`` (the default, and what every notebook
    uses) a missing ``data_dir`` is an error.

    Parameters
    ----------
    dataset : str
        A name of :func:`genrenet.datasets.available_datasets`.
    data_dir : str, Path or None
        Where it lives; only ``"demo"`` may omit it (then it is generated on first use).
    genres : str or list of str, keyword-only, optional
        Keep only these genres (each must exist in the data set).
    min_genres : int, keyword-only
        Fewest genres the notebook can work with.
    min_tracks : int, keyword-only
        Fewest tracks every genre needs.
    demo_fallback : bool, keyword-only
        Use the SYNTHETIC demo corpus (with a warning) when ``data_dir`` is missing or does
        not exist, instead of failing; the data set's ``label`` then says so.

    Returns
    -------
    genrenet.datasets.Dataset
        Files that could not be read are listed in ``Dataset.skipped`` (see :func:`skipped_note`).
    """
    from genrenet.datasets import available_datasets
    from genrenet.inputs import resolve_dataset

    check_choice("dataset", dataset, available_datasets())
    with warnings.catch_warnings():
        # skipped files are reported by skipped_note; the demo fallback's warning is shown
        warnings.filterwarnings("ignore", message=r"(?!.*\(demo_fallback=True\))", category=UserWarning)
        return resolve_dataset(dataset, data_dir=data_dir, genres=genres, demo_fallback=demo_fallback,
                               min_genres=min_genres, min_tracks=min_tracks)


def skipped_note(ds) -> str:
    """Markdown naming the files the loader skipped (``ds.skipped``: unreadable audio), or ``""`` when none."""
    if not ds.skipped:
        return ""
    items = []
    for s in ds.skipped:
        path = s.path
        if ds.root is not None and path.is_relative_to(ds.root):
            path = path.relative_to(ds.root)
        items.append(f"`{path}`: {s.cause}")
    return (f"**{len(ds.skipped)} file(s) skipped** (they could not be read; every other file is used): "
            + "; ".join(items) + ".")


def _check_common(seed: Any, output_dir: Any) -> None:
    check_int("seed", seed, minimum=0)
    _check_text("output_dir", output_dir)


# --------------------------------------------------------------------------- one check per notebook


def check_data_exploration(*, dataset, data_dir, seed, folds, manifest, output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/data_exploration.ipynb``; returns ``dataset`` (loaded) and ``manifest``."""
    _check_common(seed, output_dir)
    check_int("folds", folds, minimum=2)
    path = _check_path("manifest", manifest, kind="file")
    return SimpleNamespace(dataset=check_dataset(dataset, data_dir), manifest=path)


def check_genre_selection(*, dataset, data_dir, k, folds, seed, output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/genre_selection.ipynb``; returns the loaded ``dataset``."""
    _check_common(seed, output_dir)
    k = check_int("k", k, minimum=2)
    folds = check_int("folds", folds, minimum=2)
    # every fold must train on every genre: at least two tracks each
    ds = check_dataset(dataset, data_dir, min_genres=k, min_tracks=2)
    _check_folds(ds, folds, seed)
    return SimpleNamespace(dataset=ds)


def _check_folds(ds, folds: int, seed: int) -> None:
    from genrenet.splits import grouped_kfold

    most = max(sum(t.genre == g for t in ds) for g in ds.genres)
    if folds > most:
        raise ParameterError(f"folds={folds}: no genre of data set {ds.name!r} has that many tracks "
                             f"(the largest has {most})")
    grouped_kfold(ds, folds=folds, by="block", seed=seed)


def check_train_model(*, dataset, data_dir, genres, feature, model, epochs, seed, folds, batch_size,
                      output_dir, split="stratified", splits_dir=None, learning_rate=None,
                      patience=8) -> SimpleNamespace:
    """Check the parameters of ``notebooks/train_model.ipynb``.

    ``learning_rate`` (None: the model builder's default) must be a positive number and is
    refused for the scikit-learn models (``baseline``, ``transfer_linear``), which are fitted
    in one step and have none: a rate given for them would silently change nothing.
    ``patience`` is None (no early stopping) or a positive integer; the scikit-learn models
    have no epochs and ignore it.

    Returns
    -------
    SimpleNamespace
        ``dataset`` (loaded, restricted to ``genres``), ``feature`` (the FeatureSpec;
        None gave the model's own), ``folds``, ``split`` (a resolved
        :class:`genrenet.splits.Split`, or None when ``folds`` cross-validates) and
        ``model_kwargs`` (the builder options to pass on: ``learning_rate`` when given).
    """
    from genrenet._validate import positive_float, positive_int
    from genrenet.inputs import SPLITS, resolve_split
    from genrenet.models import is_sklearn

    model = check_model(model)
    spec = check_feature(feature, model=model)
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    learning_rate = positive_float("learning_rate", learning_rate, optional=True)
    if learning_rate is not None and is_sklearn(model):
        raise ParameterError(f"learning_rate={learning_rate!r} is not valid for model={model!r}: it is fitted in one "
                             "step by scikit-learn and has no learning rate; leave learning_rate=None")
    positive_int("patience", patience, optional=True)
    model_kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
    folds = check_int("folds", folds, minimum=0)
    if folds == 1:
        raise ParameterError("folds=1 is not valid: 0 (one stratified split) or at least 2 (cross-validation)")
    _check_common(seed, output_dir)
    check_choice("split", split, SPLITS)
    if folds and split != "stratified":
        raise ParameterError(f"folds={folds} cross-validates on grouped folds: leave split='stratified' "
                             f"(got split={split!r}) or set folds=0")
    if splits_dir is not None and not Path(str(splits_dir)).expanduser().is_dir():
        raise ParameterError(f"splits_dir={str(splits_dir)!r} is not a directory")
    ds = check_dataset(dataset, data_dir, genres=genres, min_genres=2, min_tracks=2 if folds else 1)
    if folds:
        _check_folds(ds, folds, seed)
        return SimpleNamespace(dataset=ds, feature=spec, folds=folds, split=None, model_kwargs=model_kwargs)
    resolved = resolve_split(split, ds, seed=seed, splits_dir=splits_dir)
    return SimpleNamespace(dataset=ds, feature=spec, folds=folds, split=resolved, model_kwargs=model_kwargs)


def check_tuning(*, dataset, data_dir, genres, feature, model, tuner, trials, epochs, seed,
                 output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/tuning.ipynb``; returns ``dataset``, ``feature`` and ``split``.

    The split is the stratified split by track drawn with ``seed`` (:func:`genrenet.inputs.resolve_split`);
    trials are scored on its validation tracks.
    """
    from genrenet.inputs import resolve_split
    from genrenet.tuning import SEARCH_SPACES, TUNERS

    model = check_model(model, choices=SEARCH_SPACES)
    spec = check_feature(feature, model=model)
    check_choice("tuner", tuner, TUNERS)
    check_int("trials", trials, minimum=1)
    check_int("epochs", epochs, minimum=1)
    _check_common(seed, output_dir)
    ds = check_dataset(dataset, data_dir, genres=genres, min_genres=2)
    return SimpleNamespace(dataset=ds, feature=spec, split=resolve_split("stratified", ds, seed=seed))


def check_results(*, results_dir, dataset, data_dir, output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/results.ipynb``; ``dataset`` is None when not given."""
    _check_text("results_dir", results_dir)
    _check_text("output_dir", output_dir)
    return SimpleNamespace(dataset=_optional_dataset(dataset, data_dir))


def _optional_dataset(dataset, data_dir):
    if dataset is None:
        if data_dir is not None:
            raise ParameterError("data_dir is given but dataset is None: name its loader, e.g. dataset='folder'")
        return None
    return check_dataset(dataset, data_dir)


def check_prediction(*, audio_path, models_dir, dataset, data_dir, max_tracks, max_windows, seed,
                     output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/prediction.ipynb``; returns ``audio_path``, ``models_dir``, ``dataset``."""
    audio = _check_path("audio_path", audio_path, kind="file")
    models = _check_path("models_dir", models_dir, kind="dir")
    check_int("max_tracks", max_tracks, minimum=0)
    check_int("max_windows", max_windows, minimum=1)
    _check_common(seed, output_dir)
    return SimpleNamespace(audio_path=audio, models_dir=models, dataset=_optional_dataset(dataset, data_dir))


def check_signal_processing(*, dataset, data_dir, seed, output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/signal_processing.ipynb``.

    ``dataset`` is None for ``"demo"`` (the notebook generates one small clip per
    style itself); any other data set is loaded.
    """
    from genrenet.datasets import available_datasets

    _check_common(seed, output_dir)
    check_choice("dataset", dataset, available_datasets())
    if dataset == "demo":
        if data_dir is not None:
            _check_text("data_dir", data_dir)
        return SimpleNamespace(dataset=None)
    return SimpleNamespace(dataset=check_dataset(dataset, data_dir))


def check_theory_figures(*, seed, sr, clips_per_style, clip_seconds, output_dir) -> SimpleNamespace:
    """Check the parameters of ``notebooks/theory_figures.ipynb`` (synthesised sound only, no data set)."""
    _check_common(seed, output_dir)
    sr = check_int("sr", sr, minimum=8000, maximum=48000)
    clips = check_int("clips_per_style", clips_per_style, minimum=2)
    if isinstance(clip_seconds, bool) or not isinstance(clip_seconds, (int, float)) \
            or not 3.0 <= float(clip_seconds) <= 30.0:
        raise ParameterError(f"clip_seconds must be a number of seconds in [3, 30], got {clip_seconds!r}")
    return SimpleNamespace(sr=sr, clips_per_style=clips, clip_seconds=float(clip_seconds))


#: Notebook file stem → the check its first cell after the parameters calls.
NOTEBOOK_CHECKS = {
    "data_exploration": check_data_exploration,
    "genre_selection": check_genre_selection,
    "train_model": check_train_model,
    "tuning": check_tuning,
    "results": check_results,
    "prediction": check_prediction,
    "signal_processing": check_signal_processing,
    "theory_figures": check_theory_figures,
}


# --------------------------------------------------------------------------- documentation


def notebook_parameters(notebook: str | Path) -> list[dict[str, str]]:
    """The parameters papermill reads from a notebook's ``parameters`` cell.

    Returns
    -------
    list of dict
        ``name``, ``type`` (the annotation, ``""`` when missing), ``default`` (source
        text) and ``help`` (the trailing comment), in cell order.
    """
    import papermill as pm

    path = Path(notebook)
    if not path.is_file():
        raise ParameterError(f"notebook {path} does not exist")
    params = pm.inspect_notebook(str(path))
    return [
        {"name": p["name"], "type": "" if p["inferred_type_name"] == "None" else p["inferred_type_name"],
         "default": p["default"], "help": p["help"]}
        for p in params.values()
    ]


def _cell(text: str, *, code: bool = False) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    if code:
        return f"`{text}`"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # <genre> is not an HTML tag


def parameter_table(notebook: str | Path) -> str:
    """A Markdown table of a notebook's parameters: name, type, default and meaning."""
    rows = ["| parameter | type | default | meaning and allowed values |", "|---|---|---|---|"]
    for p in notebook_parameters(notebook):
        rows.append(f"| `{p['name']}` | {_cell(p['type'], code=True)} | {_cell(p['default'], code=True)} "
                    f"| {_cell(p['help'])} |")
    return "\n".join(rows)


_BLOCK = re.compile(r"(<!-- parameters: (?P<nb>[^\s>]+) -->\n)(?P<body>.*?)(<!-- end parameters -->)", re.S)


def update_parameter_tables(path: str | Path, *, root: str | Path | None = None, write: bool = True) -> bool:
    """Regenerate every parameter table between markers in a Markdown file.

    A block reads ``<!-- parameters: notebooks/<name>.ipynb -->``, the generated table,
    then ``<!-- end parameters -->``; notebook paths are relative to ``root``
    (default: the file's directory).

    Parameters
    ----------
    path : str or Path
        The Markdown file (e.g. ``README.md``).
    root : str or Path, keyword-only, optional
    write : bool, keyword-only
        Write the file when a table changed (False: only report).

    Returns
    -------
    bool
        True when every table was already up to date.

    Examples
    --------
    ``python -c "from genrenet.notebook import update_parameter_tables as u; u('README.md')"``
    """
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    text = path.read_text(encoding="utf-8")
    new = _BLOCK.sub(lambda m: f"{m.group(1)}{parameter_table(base / m.group('nb'))}\n{m.group(4)}", text)
    if new != text and write:
        from genrenet.io import atomic_write_text

        atomic_write_text(path, new)
    return new == text


# --------------------------------------------------------------------------- what every notebook does


def quiet(*, modules: Sequence[str] = ()) -> contextlib.AbstractContextManager:
    """Keep TensorFlow's log noise off the page; call it once, before anything imports TensorFlow.

    Raises TensorFlow's C++ log level to 3 when TensorFlow is not imported yet (it reads the
    level once), imports TensorFlow and Keras (through :mod:`genrenet._tf`) and each of
    ``modules`` (e.g. ``"keras_tuner"``) with their native start-up lines hidden, and hides
    tqdm's "IProgress not found" warning.

    Parameters
    ----------
    modules : sequence of str, keyword-only
        More modules to import silently.

    Returns
    -------
    context manager
        Hides native stderr lines inside a ``with`` block (a model's first run prints
        some): ``with quiet(): predictor = Predictor(...)``.
    """
    from genrenet import _tf  # TensorFlow's environment is set there and only there

    warnings.filterwarnings("ignore", message="IProgress not found")
    _tf.quiet(modules=modules)
    return _tf.quiet_native_stderr()


def show_dataset(ds: Any, *, synthetic_note: str | None = None) -> str:
    """Show what a reader must know about a notebook's data set; return the label its results carry.

    Displays ``synthetic_note`` (default: :func:`genrenet.datasets.synthetic_notice` in bold)
    when ``ds`` is the SYNTHETIC demo corpus, then :func:`skipped_note` when files were skipped.

    Parameters
    ----------
    ds : genrenet.datasets.Dataset
        The data set a check returned (:func:`check_dataset`).
    synthetic_note : str, optional, keyword-only
        Markdown saying what the synthetic data means for this notebook's numbers.

    Returns
    -------
    str
        ``ds.label``: ``"demo (SYNTHETIC demo corpus)"`` or just the data set's name.
    """
    from IPython.display import Markdown, display

    if ds.synthetic:
        if synthetic_note is None:
            from genrenet.datasets import synthetic_notice

            synthetic_note = f"**{synthetic_notice()}**"
        display(Markdown(synthetic_note))
    if ds.skipped:
        display(Markdown(skipped_note(ds)))
    return ds.label


def _close(fig: Any) -> None:
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # a Figure made without pyplot is not registered there
        pass


def save_and_show(fig: Any, path: str | Path, *, dpi: int = 100, tight: bool = False,
                  alt: str | None = None) -> Path:
    """Write a matplotlib figure as PNG next to a notebook's results, close it, and show the file.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        The PNG to write (its directory must exist).
    dpi : int, keyword-only
        Resolution.
    tight : bool, keyword-only
        Crop the white border (``bbox_inches="tight"``).
    alt : str, keyword-only
        What the figure shows, in words, for readers who cannot see it; the book puts it on
        the image (as :func:`show_figure` does). Every figure of the notebooks passes one.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    fig.savefig(path, dpi=dpi, metadata={"Software": None}, **({"bbox_inches": "tight"} if tight else {}))
    _close(fig)
    show_image(path, alt=alt)
    return path


def show_json(obj: Any, *, summary: str, open_lines: int = 30) -> str:
    """Show a JSON document whole, pretty-printed, folded away when it is long.

    The page gets an HTML ``<details>`` element (closed when the text has more than
    ``open_lines`` lines) around a ``<pre>`` block, so it renders in the static HTML book
    without JavaScript; ``text/plain`` carries the same text for other front ends.

    Parameters
    ----------
    obj : JSON-able object
    summary : str, keyword-only
        The line shown when folded, e.g. ``"prediction.json (the service's answer)"``.
    open_lines : int, keyword-only
        Up to this many lines the document is shown unfolded.

    Returns
    -------
    str
        The pretty-printed JSON.
    """
    import html
    import json

    from IPython.display import display

    text = json.dumps(obj, indent=2, ensure_ascii=False)
    n = text.count("\n") + 1
    fold = n > check_int("open_lines", open_lines, minimum=1)
    body = f'<pre class="genrenet-json">{html.escape(text)}</pre>'
    page = (f'<details class="genrenet-json"{"" if fold else " open"}><summary>{html.escape(str(summary))} '
            f"({n} lines{', click to unfold' if fold else ''})</summary>{body}</details>")
    display({"text/html": page, "text/plain": text}, raw=True)
    return text


def show_image(path: str | Path, *, alt: str | None = None) -> None:
    """Show a PNG file in a notebook; with ``alt``, the image carries that text in the book.

    Parameters
    ----------
    path : str or Path
        A PNG file (e.g. a figure a library function wrote).
    alt : str, keyword-only
        What the image shows, in words (at least 10 characters).
    """
    import base64

    from IPython.display import Image, display

    path = Path(path)
    if alt is None:
        display(Image(filename=str(path)))
        return
    alt = _check_alt(alt)
    png = path.read_bytes()
    display({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt}, raw=True,
            metadata=_glue_metadata(None, alt))


# --------------------------------------------------------------------------- figures and sound for the pages


def _glue_metadata(key: str | None, alt: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"genrenet": {"alt": alt}}
    if key is not None:
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", key):
            raise ParameterError(f"key must be letters, digits, '_' or '-', got {key!r}")
        meta["scrapbook"] = {"name": key, "mime_prefix": ""}  # what myst_nb.glue writes
    return meta


def _check_alt(alt: Any) -> str:
    if not isinstance(alt, str) or len(alt.strip()) < 10:
        raise ParameterError(f"alt must describe the figure in words (at least 10 characters), got {alt!r}")
    return alt.strip()


def show_figure(fig: Any, *, alt: str, key: str | None = None, dpi: int = 100) -> bytes:
    """Show a matplotlib figure in a notebook as a PNG that carries its alt text.

    The book puts ``alt`` on the image of the executed page (book/_ext/genrenet_booktools.py);
    with ``key``, a markdown page can also place the figure with
    ``{glued-figure} <run id>:<key>`` (myst-nb's glue format). The figure is closed.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    alt : str, keyword-only
        What the figure shows, in words, for readers who cannot see it.
    key : str, optional, keyword-only
        Glue key (letters, digits, ``_``, ``-``).
    dpi : int, keyword-only
        Resolution of the PNG.

    Returns
    -------
    bytes
        The PNG (deterministic for the same figure and matplotlib version).
    """
    import base64
    import io

    from IPython.display import display

    alt = _check_alt(alt)
    meta = _glue_metadata(key, alt)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    png = buf.getvalue()
    _close(fig)
    display({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt}, raw=True, metadata=meta)
    return png


def show_audio(y: Any, sr: int, *, title: str, key: str | None = None) -> None:
    """Show a sound in a notebook as an audio player (16-bit WAV embedded in the page).

    With ``key``, a markdown page can place the player with ``{glued-audio} <run id>:<key>``.
    Only for synthesised sound: the book never embeds audio made from real recordings.

    Parameters
    ----------
    y : array_like
        Mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.
    title : str, keyword-only
        What the sound is (the player's accessible label).
    key : str, optional, keyword-only
        Glue key.
    """
    import numpy as np
    from IPython.core.formatters import format_display_data
    from IPython.display import Audio, display

    title = _check_alt(title)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size == 0 or not np.isfinite(y).all():
        raise ParameterError(f"y must be a finite, non-empty mono signal, got shape {y.shape}")
    bundle, _ = format_display_data(Audio(np.clip(y, -1.0, 1.0), rate=int(sr), normalize=False))
    bundle["text/plain"] = title
    display(bundle, raw=True, metadata=_glue_metadata(key, title))
