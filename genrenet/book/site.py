"""The book's site: render the executed notebooks with Jupyter Book, offline, and write Binder's launchers.

:func:`build_book` renders the notebooks that :mod:`genrenet.book.runner` executed
(``book/_executed/``) with Jupyter Book without executing them a second time, and
serves MathJax from a local copy installed with npm (:func:`ensure_mathjax`) so that
the site never loads anything from the internet. :func:`write_launchers` writes the
notebooks a page's Binder button opens: each run's source notebook with its
parameters injected.

Used by ``genrenet book build`` / ``genrenet book launchers`` (``make book``) and by
the page "Reproducing the book" (``book/reproducing.md``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genrenet._compat import renamed_kwargs
from genrenet.book.runner import (
    CONFIG_NAME,
    KERNEL_ENV,
    ExperimentConfig,
    Run,
    _make_readable,
    find_root,
    load_config,
    plan_runs,
    read_stamp,
)
from genrenet.errors import DataError, GenrenetError
from genrenet.io import atomic_write_json, atomic_write_text

__all__ = [
    "MATHJAX_FILES",
    "MATHJAX_DIR",
    "LAUNCH_DIR",
    "toc_files",
    "check_executed",
    "ensure_mathjax",
    "build_book",
    "copy_sources",
    "launch_notebook",
    "write_launchers",
]

#: Parts of the MathJax 3 ``es5`` distribution copied next to the built site.
MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")
#: Where the MathJax copy lands inside the built HTML (outside ``_static``).
MATHJAX_DIR = "_mathjax"

def toc_files(root: str | Path) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` under ``root`` (paths without extension, in order)."""
    import yaml

    toc_path = Path(root) / "_toc.yml"
    if not toc_path.is_file():
        raise DataError(f"{toc_path} does not exist")
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    files.append(node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return files


def check_executed(config: ExperimentConfig) -> list[Path]:
    """Check that every run has an executed notebook the TOC renders; return their paths.

    When the TOC has the part "Results on real audio", this also fills ``book/_real`` with the
    real-data edition (:func:`genrenet.book.edition.materialize_edition`) and returns its notebooks.

    Raises
    ------
    DataError
        A run has not been executed yet, or the TOC and ``experiments.yml`` disagree.
    """
    rel = config.executed_dir.relative_to(config.root).as_posix()
    in_toc = {f.rsplit("/", 1)[-1] for f in toc_files(config.root) if f.startswith(rel + "/")}
    ids = set(config.run_ids)
    if in_toc != ids:
        raise DataError(f"_toc.yml and {config.path.name} disagree: runs not in the TOC "
                        f"{sorted(ids - in_toc)}, TOC pages without a run {sorted(in_toc - ids)}")
    missing = [rid for rid in config.run_ids if read_stamp(config.executed_dir / f"{rid}.ipynb") is None]
    if missing:
        raise DataError(f"not executed yet: {', '.join(missing)}; run `genrenet book run --profile demo` "
                        "(or `make book`) before building")
    return [config.executed_dir / f"{rid}.ipynb" for rid in config.run_ids] + _check_edition(config)


def _check_edition(config: ExperimentConfig) -> list[Path]:
    """Fill ``book/_real`` (the real-data edition) when the TOC has that part; return its notebooks."""
    from genrenet.book.edition import REAL_DIR, RECORDING_PROFILE, materialize_edition

    in_toc = {f.rsplit("/", 1)[-1] for f in toc_files(config.root) if f.startswith(REAL_DIR + "/")}
    if not in_toc:
        return []
    ids = set(config.profile_run_ids(RECORDING_PROFILE))
    if in_toc != ids:
        raise DataError(f"_toc.yml's part under {REAL_DIR} and the {RECORDING_PROFILE} profile of "
                        f"{config.path.name} disagree: runs not in the TOC {sorted(ids - in_toc)}, "
                        f"TOC pages without a run {sorted(in_toc - ids)}")
    materialize_edition(config)
    return [config.root / REAL_DIR / f"{rid}.ipynb" for rid in config.profile_run_ids(RECORDING_PROFILE)]


def ensure_mathjax(root: str | Path, *, npm: str | None = None) -> Path:
    """Return the local MathJax 3 ``es5`` directory, installing it with ``npm ci`` if missing.

    The version is pinned by ``package.json`` / ``package-lock.json`` at ``root``.

    Raises
    ------
    GenrenetError
        When MathJax is missing and npm is unavailable or fails.
    """
    root = Path(root)
    es5 = root / "node_modules" / "mathjax" / "es5"
    if (es5 / "tex-chtml.js").is_file():
        return es5
    npm = npm or shutil.which("npm")
    if npm is None:
        raise GenrenetError(f"MathJax is not installed in {root / 'node_modules'} and npm is not on PATH; "
                            "install Node.js/npm (apt-get install npm) so the book can serve math offline")
    cmd = [npm, "ci", "--no-audit", "--no-fund"] if (root / "package-lock.json").exists() else \
        [npm, "install", "--no-audit", "--no-fund"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0 or not (es5 / "tex-chtml.js").is_file():
        raise GenrenetError(f"`{' '.join(cmd)}` in {root} failed (exit {proc.returncode}): "
                            f"{proc.stderr.strip()[-500:]}")
    return es5


def _copy_mathjax(es5: Path, html: Path) -> Path:
    dest = html / MATHJAX_DIR
    if dest.exists():
        shutil.rmtree(dest)
    for rel in MATHJAX_FILES:
        src = es5 / rel
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy2(src, target)
    return dest


@renamed_kwargs(output="out_dir")
def build_book(root: str | Path | None = None, *, out_dir: str | Path | None = None,
               warningiserror: bool = True, check: bool = True, quiet: bool = False) -> Path:
    """Render the book with Jupyter Book (no execution) and install the offline MathJax copy.

    Parameters
    ----------
    root : str or Path, optional
        Project root (holding ``_config.yml``, ``_toc.yml`` and ``experiments.yml``).
    out_dir : str or Path, optional, keyword-only
        Parent of the ``_build`` directory (default: ``root``). (Formerly ``output=``, still
        accepted with a :class:`FutureWarning`.)
    warningiserror : bool, keyword-only
        Fail on any Sphinx warning (default ``True``).
    check : bool, keyword-only
        First check that every experiment has been executed (:func:`check_executed`).
    quiet : bool, keyword-only
        Capture Jupyter Book's output (shown only on failure).

    Returns
    -------
    Path
        The ``_build/html`` directory.
    """
    root = find_root(root) if root is None else Path(root).resolve()
    config = load_config(root)
    if check:
        check_executed(config)
    es5 = ensure_mathjax(root)
    # jupyter_book.cli.main has no __main__ guard: call its click entry point explicitly
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(root), "--builder", "html"]
    if out_dir is not None:
        cmd += ["--path-output", str(Path(out_dir).resolve())]
    if warningiserror:
        cmd += ["--warningiserror", "--keep-going"]
    env = {**os.environ, **KERNEL_ENV}
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=quiet, text=True)
    if proc.returncode != 0:
        detail = ""
        if quiet:
            lines = (proc.stdout + proc.stderr).strip().splitlines()
            # the warnings that failed the build first (they scroll away among "copying images"), then the end
            problems = [line for line in lines if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]
            detail = "\n" + "\n".join(problems[:40] + ["..."] + lines[-15:])
        raise GenrenetError(f"jupyter-book build of {root} failed (exit {proc.returncode}){detail}")
    html = Path(out_dir).resolve() / "_build" / "html" if out_dir is not None else root / "_build" / "html"
    if not (html / "index.html").is_file():
        raise GenrenetError(f"jupyter-book build of {root} reported success but wrote no {html / 'index.html'}")
    _copy_mathjax(es5, html)
    _complete_redirect(html)
    return html


def _complete_redirect(html: Path) -> None:
    """Make the root ``index.html`` that Jupyter Book writes as a bare redirect a valid page.

    It holds a single ``<meta http-equiv="Refresh">``; browsers then ask for ``/favicon.ico``
    (a 404 in the console) and show no title. Give it a title, the book's icon and a link.
    """
    index = html / "index.html"
    text = index.read_text(encoding="utf-8")
    match = re.fullmatch(r'\s*<meta http-equiv="Refresh" content="0; url=([^"]+)" />\s*', text)
    if not match:
        return
    target = match.group(1)
    icons = sorted((html / "_static").glob("favicon.*"))
    icon = f'<link rel="icon" href="_static/{icons[0].name}">' if icons else ""
    atomic_write_text(index, (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Refresh" content="0; url={target}">\n{icon}\n'
        "<title>genrenet book</title></head>\n"
        f'<body><p><a href="{target}">Open the book</a></p></body></html>\n'))
    _make_readable(index)


@renamed_kwargs(dest="out_dir")
def copy_sources(root: str | Path, out_dir: str | Path) -> Path:
    """Copy what the book needs (chapters, notebooks, bibliography, pictures, benchmark results) to ``out_dir``.

    Used to build the book somewhere else than the working tree (tests, CI) without
    touching ``book/_executed`` or ``_build`` of the checkout. ``node_modules`` is
    linked, not copied. (``out_dir`` was formerly ``dest=``, still accepted with a
    :class:`FutureWarning`.)
    """
    root, dest = Path(root), Path(out_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_NAME, "_config.yml", "_toc.yml", "package.json", "package-lock.json"):
        if (root / name).exists():
            shutil.copy2(root / name, dest / name)
    ignore = shutil.ignore_patterns("_executed", "_real", "_launch", ".ipynb_checkpoints", "__pycache__")
    # docs/: pictures the chapters show; benchmarks/results: measured figures the chapters quote
    for name in ("book", "notebooks", "docs", "benchmarks/results"):
        if (root / name).is_dir():
            shutil.copytree(root / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    if (root / "node_modules").is_dir() and not (dest / "node_modules").exists():
        (dest / "node_modules").symlink_to((root / "node_modules").resolve(), target_is_directory=True)
    return dest


# --------------------------------------------------------------------------- launch notebooks


#: Where :func:`write_launchers` puts the launch notebooks (relative to the project root).
LAUNCH_DIR = "book/_launch"


def _launch_note(run: Run, *, data_dir_dropped: bool) -> Any:
    import nbformat

    text = (f"**Run `{run.id}` of the book, profile `{run.profile}`.** This copy of "
            f"`notebooks/{run.notebook.name}` carries the parameters that `genrenet book run --profile "
            f"{run.profile}` gave it (the cell tagged `injected-parameters`, after the notebook's own "
            "parameters cell). Run it top to bottom to reproduce the page; change a value to try another "
            "setting.")
    if data_dir_dropped:
        text += (" The book read a data directory that is not here, so `data_dir` is `None`: set it to your "
                 "copy of the data before running (without it the notebook stops with an error naming "
                 "`data_dir`, or falls back to the SYNTHETIC demo corpus and says so).")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "genrenet-launch"
    cell.metadata["tags"] = ["genrenet-launch"]
    return cell


def launch_notebook(run: Run, *, data_dir_dropped: bool = False) -> Any:
    """The source notebook of ``run`` with the run's parameters injected, not executed.

    Parameters
    ----------
    run : Run
        A planned run (:func:`plan_runs`).
    data_dir_dropped : bool, keyword-only
        The run's ``data_dir`` was replaced by ``None`` (a launch elsewhere has no data).

    Returns
    -------
    nbformat.NotebookNode
        Deterministic: the same run gives byte-identical JSON.
    """
    import nbformat
    from papermill.parameterize import parameterize_notebook

    nb = nbformat.read(run.notebook, as_version=4)
    nb.metadata["papermill"] = {}
    added_tags = [cell for cell in nb.cells if "tags" not in cell.metadata]
    for cell in added_tags:  # papermill reads cell.metadata.tags of every cell
        cell.metadata["tags"] = []
    nb = parameterize_notebook(nb, dict(run.parameters), comment=f"Parameters of run {run.id!r}, "
                               f"profile {run.profile!r} (experiments.yml)")
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # nbformat would draw a random id
    for cell in added_tags:
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
    nb.cells.insert(0, _launch_note(run, data_dir_dropped=data_dir_dropped))
    return nb


@renamed_kwargs(dest="out_dir")
def write_launchers(config: ExperimentConfig | str | Path | None = None, *, out_dir: str | Path | None = None,
                    profiles: Sequence[str] | None = None) -> list[Path]:
    """Write ``<out_dir>/<profile>/<run id>.ipynb`` for every run: what a page's launch button opens.

    Each is the run's source notebook with that run's parameters injected by papermill, not
    executed (:func:`launch_notebook`). Binder's ``postBuild`` calls this (``genrenet book
    launchers``), so the launch button of a book page opens the notebook of the run the page
    shows, with the parameters it was run with. For profiles that read a data directory,
    ``data_dir`` is set to ``None`` (the data is not where the launcher runs) and the notebook's
    first cell asks the reader to set it.

    Parameters
    ----------
    config : ExperimentConfig or path, optional
        The configuration (default: ``experiments.yml`` found from the current directory).
    out_dir : str or Path, optional, keyword-only
        Target directory (default ``<root>/book/_launch``). (Formerly ``dest=``, still accepted
        with a :class:`FutureWarning`.)
    profiles : sequence of str, optional, keyword-only
        Profiles to write (default: all).

    Returns
    -------
    list of Path
        The notebooks written, plus ``index.json`` listing them.
    """
    import nbformat

    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    dest = Path(out_dir) if out_dir is not None else config.root / LAUNCH_DIR
    chosen = list(profiles) if profiles is not None else sorted(config.profiles)
    written: list[Path] = []
    index: dict[str, Any] = {"profiles": chosen, "runs": {}}
    with tempfile.TemporaryDirectory() as placeholder:
        for profile in chosen:
            needs_data = bool((config.profiles.get(profile) or {}).get("requires_data_dir"))
            runs = plan_runs(config, profile=profile, data_dir=placeholder if needs_data else None)
            for run in runs:
                dropped = needs_data and "data_dir" in run.parameters
                if dropped:
                    run = Run(id=run.id, notebook=run.notebook, output=run.output,
                              parameters={**run.parameters, "data_dir": None}, depends_on=run.depends_on,
                              title=run.title, profile=run.profile)
                path = dest / profile / f"{run.id}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, nbformat.writes(launch_notebook(run, data_dir_dropped=dropped)))
                _make_readable(path)
                written.append(path)
                index["runs"].setdefault(profile, {})[run.id] = f"notebooks/{run.notebook.name}"
    atomic_write_json(dest / "index.json", index)
    written.append(dest / "index.json")
    return written
