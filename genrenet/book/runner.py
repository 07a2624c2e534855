"""The book's experiment runner: plan the runs of ``experiments.yml``, execute them with papermill.

Every number and figure in the book's results part comes from a notebook in
``notebooks/`` executed by :func:`run_experiments` with the parameters listed
in ``experiments.yml`` (one file, several *profiles*: ``demo`` for the
synthetic corpus, ``gtzan`` for a real GTZAN directory, ``smoke`` for CI).
The site is then built from the executed notebooks by :mod:`genrenet.book.site`.

How a run is skipped
--------------------
Each executed notebook carries a *stamp* in its metadata
(``metadata.genrenet.stamp``): the sha256 of the source notebook, the resolved
parameters, the profile (whose results directory holds the run's outputs), the content hash of the data set it reads
(:meth:`genrenet.datasets.Dataset.content_hash`), the genrenet version, and the
stamps of the runs it depends on. A run whose stamp would be identical is
skipped; anything else re-executes it. The stamp lives inside the output
notebook, so output and stamp can never disagree.

How a run fails
---------------
papermill executes into a temporary notebook outside the book. Only a
complete run is written (atomically) to ``book/_executed/<id>.ipynb``; a failed
run is moved to ``<results_dir>/<profile>/failed/<id>.ipynb`` for inspection and
:class:`NotebookError` names the notebook, the failing cell and the error. The
runner stops at the first failure.

How an interrupted run is noticed
---------------------------------
Before a run whose executed notebook still carries the same stamp is executed
again (``--force``), that stamp is marked invalid, because the run's outputs are
cleared: if the run is then interrupted, ``book list`` shows it as interrupted and
the next ``book run`` executes it again. Partial notebooks and kernel connection
files live in ``<results_dir>/<profile>/.running/`` under the runner's process id;
those of dead runners are removed when the next run starts.

Used by ``genrenet book run`` / ``genrenet book list`` and by the page
"Reproducing the book" (``book/reproducing.md``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrenet import __version__
from genrenet._tf import ENVIRONMENT
from genrenet.errors import DataError, GenrenetError, ParameterError
from genrenet.io import atomic_write_json, atomic_write_text

__all__ = [
    "CONFIG_NAME",
    "STAMP_KEY",
    "STAMP_VERSION",
    "KERNEL_ENV",
    "NotebookError",
    "Run",
    "RunOutcome",
    "ExperimentConfig",
    "find_root",
    "load_config",
    "plan_runs",
    "run_stamp",
    "compute_stamps",
    "read_stamp",
    "clean_running",
    "run_experiments",
    "show_parameters",
    "retitle",
]

#: Name of the experiment configuration at the project root.
CONFIG_NAME = "experiments.yml"
#: Metadata key under which the runner stores its stamp in an executed notebook.
STAMP_KEY = "genrenet"
#: Stamp format; bump when the meaning of the stamp changes.
STAMP_VERSION = 2
#: Environment every notebook kernel starts with: TensorFlow's (:data:`genrenet._tf.ENVIRONMENT`,
#: no log noise on the pages), set explicitly whatever the runner's own environment holds.
KERNEL_ENV = dict(ENVIRONMENT)

_RUN_KEYS = {"id", "notebook", "parameters", "depends_on", "title"}
_PROFILE_KEYS = {"description", "parameters", "runs", "requires_data_dir", "include", "executed_dir"}
_TOP_KEYS = {"version", "executed_dir", "results_dir", "kernel", "cell_timeout", "start_timeout",
             "defaults", "profiles", "runs"}


class NotebookError(GenrenetError):
    """An experiment notebook failed while the book runner executed it.

    Attributes
    ----------
    run_id, notebook : str, Path
        The run from ``experiments.yml`` and its source notebook.
    cell_index : int or None
        Index of the failing cell in the *source* notebook (0-based).
    exec_count : int or None
        Execution count shown as ``In [n]`` in the failed notebook.
    ename, evalue : str
        The exception raised inside the notebook.
    failed_copy : Path or None
        Where the partially executed notebook was kept for inspection.
    """

    def __init__(self, run_id: str, notebook: Path, *, cell_index: int | None, exec_count: int | None,
                 ename: str, evalue: str, source: str = "", failed_copy: Path | None = None):
        self.run_id = run_id
        self.notebook = Path(notebook)
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.ename = ename
        self.evalue = evalue
        self.source = source
        self.failed_copy = failed_copy
        where = f"cell {cell_index}" if cell_index is not None else "an unknown cell"
        if exec_count is not None:
            where += f" (In [{exec_count}])"
        first = next((line for line in source.splitlines() if line.strip()), "")
        msg = f"run {run_id!r}: notebook {self.notebook} failed in {where}: {ename}: {evalue}"
        if first:
            msg += f"\n  cell starts with: {first[:100]}"
        if failed_copy is not None:
            msg += f"\n  the partly executed notebook is kept at {failed_copy}"
        super().__init__(msg)


@dataclass(frozen=True)
class Run:
    """One papermill execution, fully resolved for a profile.

    Attributes
    ----------
    id : str
        Unique run id (also the stem of the executed notebook).
    notebook : Path
        Source notebook (absolute).
    output : Path
        Executed notebook the book renders (absolute).
    parameters : dict
        Parameters injected by papermill (only names the notebook declares).
    depends_on : tuple of str
        Runs whose results this run reads; their stamps are part of this run's stamp.
    title : str
        Human-readable title (shown in the progress output and the provenance cell).
    profile : str
        The profile this run was resolved for.
    """

    id: str
    notebook: Path
    output: Path
    parameters: dict[str, Any] = field(hash=False)
    depends_on: tuple[str, ...] = ()
    title: str = ""
    profile: str = "demo"


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`run_experiments` did with one run: ``"executed"`` or ``"skipped"``."""

    run: Run
    status: str
    seconds: float
    digest: str


@dataclass
class ExperimentConfig:
    """The parsed ``experiments.yml``.

    Use :func:`load_config` to read one; :func:`plan_runs` resolves a profile.
    """

    path: Path
    root: Path
    executed_dir: Path
    results_dir: Path
    kernel: str
    cell_timeout: int
    start_timeout: int
    defaults: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    runs: list[dict[str, Any]]

    @property
    def run_ids(self) -> list[str]:
        """Ids of every run, in execution order."""
        return [r["id"] for r in self.runs]

    def profile_results_dir(self, profile: str) -> Path:
        """Working directory of the kernels of ``profile`` (relative output dirs land here)."""
        return self.results_dir / profile

    def profile_executed_dir(self, profile: str) -> Path:
        """Where the executed notebooks of ``profile`` go: its own ``executed_dir`` or the shared one."""
        own = (self.profiles.get(profile) or {}).get("executed_dir")
        return (self.root / own).resolve() if own else self.executed_dir

    def profile_run_ids(self, profile: str) -> list[str]:
        """Ids of the runs ``profile`` executes (its ``include`` list, or every run), in order."""
        include = (self.profiles.get(profile) or {}).get("include")
        return [rid for rid in self.run_ids if not include or rid in include]


def find_root(start: str | Path | None = None) -> Path:
    """Return the nearest directory at or above ``start`` holding ``experiments.yml``.

    Parameters
    ----------
    start : str or Path, optional
        Where to start looking (default: the current directory).

    Raises
    ------
    DataError
        When no ``experiments.yml`` is found.
    """
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise DataError(f"no {CONFIG_NAME} found in {here} or any parent directory; "
                    "run genrenet book from the project root")


def _require(cond: bool, path: Path, msg: str) -> None:
    if not cond:
        raise ParameterError(f"{path}: {msg}")


def load_config(path: str | Path | None = None) -> ExperimentConfig:
    """Read and validate an experiment configuration.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file, or a directory holding ``experiments.yml``; default: found with
        :func:`find_root` from the current directory.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ParameterError
        When the file is malformed: unknown keys, duplicate run ids, a profile override
        naming an unknown run, a dependency on a later or unknown run.
    """
    path = _config_path(path)
    raw = _read_yaml(path)
    root = path.parent.resolve()
    defaults = raw.get("defaults") or {}
    _require(isinstance(defaults, dict), path, "'defaults' must be a mapping of parameter names")
    runs = raw.get("runs") or []
    _check_runs(runs, path)
    profiles = raw.get("profiles") or {}
    _check_profiles(profiles, runs, path)
    for key in ("cell_timeout", "start_timeout"):
        val = raw.get(key, 1800 if key == "cell_timeout" else 120)
        _require(isinstance(val, int) and val > 0, path, f"{key!r} must be a positive integer (seconds)")
    return ExperimentConfig(
        path=path.resolve(),
        root=root,
        executed_dir=(root / raw.get("executed_dir", "book/_executed")).resolve(),
        results_dir=(root / raw.get("results_dir", "results")).resolve(),
        kernel=str(raw.get("kernel", "python3")),
        cell_timeout=int(raw.get("cell_timeout", 1800)),
        start_timeout=int(raw.get("start_timeout", 120)),
        defaults=dict(defaults),
        profiles=profiles,
        runs=runs,
    )


def _config_path(path: str | Path | None) -> Path:
    """The ``experiments.yml`` that ``path`` names (a file, its directory, or found from the cwd)."""
    if path is None:
        path = find_root() / CONFIG_NAME
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.is_file():
        raise DataError(f"experiment configuration {path} does not exist")
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of the configuration, its keys checked."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML: {exc}") from exc
    _require(isinstance(raw, dict), path, "top level must be a mapping")
    unknown = set(raw) - _TOP_KEYS
    _require(not unknown, path, f"unknown top-level keys {sorted(unknown)}")
    return raw


def _check_runs(runs: Any, path: Path) -> list[str]:
    """Check the ``runs`` list; return the run ids in order."""
    _require(isinstance(runs, list) and runs, path, "'runs' must be a non-empty list")
    seen: list[str] = []
    for i, run in enumerate(runs):
        _require(isinstance(run, dict), path, f"runs[{i}] must be a mapping")
        _require(isinstance(run.get("id"), str) and run["id"], path, f"runs[{i}] needs a string 'id'")
        rid = run["id"]
        _require(rid.replace("_", "").replace("-", "").isalnum(), path,
                 f"run id {rid!r} may only hold letters, digits, '_' and '-'")
        _require(rid not in seen, path, f"run id {rid!r} is defined twice")
        _require(isinstance(run.get("notebook"), str), path, f"run {rid!r} needs a 'notebook' path")
        unknown = set(run) - _RUN_KEYS
        _require(not unknown, path, f"run {rid!r} has unknown keys {sorted(unknown)}")
        _require(isinstance(run.get("parameters") or {}, dict), path,
                 f"run {rid!r}: 'parameters' must be a mapping")
        for dep in run.get("depends_on") or []:
            _require(dep in seen, path, f"run {rid!r} depends on {dep!r}, which is not an earlier run")
        seen.append(rid)
    return seen


def _check_profiles(profiles: Any, runs: list[dict[str, Any]], path: Path) -> None:
    """Check the ``profiles`` mapping (an empty profile becomes ``{}`` in place)."""
    run_ids = [r["id"] for r in runs]
    _require(isinstance(profiles, dict) and profiles, path, "'profiles' must be a non-empty mapping")
    for name, prof in profiles.items():
        prof = prof or {}
        profiles[name] = prof
        _require(isinstance(prof, dict), path, f"profile {name!r} must be a mapping")
        unknown = set(prof) - _PROFILE_KEYS
        _require(not unknown, path, f"profile {name!r} has unknown keys {sorted(unknown)}")
        _require(isinstance(prof.get("parameters") or {}, dict), path,
                 f"profile {name!r}: 'parameters' must be a mapping")
        for rid, over in (prof.get("runs") or {}).items():
            _require(rid in run_ids, path, f"profile {name!r} overrides unknown run {rid!r}")
            _require(isinstance(over, dict), path, f"profile {name!r}: override of {rid!r} must be a mapping")
        _check_include(name, prof, runs, path)
        _require(isinstance(prof.get("executed_dir", ""), str), path,
                 f"profile {name!r}: 'executed_dir' must be a path relative to the project root")


def _check_include(name: str, prof: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> None:
    """A profile's ``include`` names known runs and every run they depend on."""
    include = prof.get("include")
    if include is None:
        return
    _require(isinstance(include, list) and include, path, f"profile {name!r}: 'include' must be a list of run ids")
    known = {r["id"]: r for r in runs}
    unknown = [rid for rid in include if rid not in known]
    _require(not unknown, path, f"profile {name!r} includes unknown run(s) {unknown}")
    for rid in include:
        missing = [d for d in known[rid].get("depends_on") or [] if d not in include]
        _require(not missing, path, f"profile {name!r} includes {rid!r} but not the run(s) it depends on: {missing}")


def _declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names declared in the notebook's ``parameters`` cell (papermill's own inspection)."""
    import nbformat
    import papermill as pm

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types
        raise DataError(f"cannot read notebook {notebook}: {exc}") from exc
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise ParameterError(f"notebook {notebook} has no cell tagged 'parameters'")
    return pm.inspect_notebook(str(notebook))


def _existing_dirs(name: str, value: str | Path) -> str:
    """``value`` (one directory, or several joined by ``os.pathsep``) made absolute, each checked."""
    parts = [Path(p).expanduser().resolve() for p in str(value).split(os.pathsep) if p.strip()]
    missing = [str(p) for p in parts if not p.is_dir()]
    if not parts or missing:
        raise ParameterError(f"{name} {', '.join(missing) or repr(str(value))} is not a directory")
    return os.pathsep.join(str(p) for p in parts)


def plan_runs(config: ExperimentConfig, *, profile: str, data_dir: str | Path | None = None,
              only: Sequence[str] | None = None, splits_dir: str | Path | None = None) -> list[Run]:
    """Resolve the runs of ``profile`` into concrete papermill executions.

    Parameters are merged in this order, later winning: ``defaults``, the run's own
    ``parameters``, the profile's ``parameters``, the profile's override for that run,
    then ``data_dir`` and ``splits_dir``. Shared parameters (``defaults`` and profile-wide ones) are passed
    only to notebooks that declare them; a run-specific parameter the notebook does not
    declare is an error. ``output_dir`` defaults to ``outputs/<run id>`` (relative to the
    profile's results directory, the kernels' working directory).

    Parameters
    ----------
    config : ExperimentConfig
        From :func:`load_config`.
    profile : str, keyword-only
        A profile name of ``experiments.yml``.
    data_dir : str or Path, optional, keyword-only
        Data directory given to every notebook that declares ``data_dir``; required by
        profiles with ``requires_data_dir: true`` (``DATA_DIR`` in the environment also works)
        and refused by the others. Several directories (partial copies of one data set)
        are joined by ``os.pathsep``, e.g. ``gtzan-mini:gtzan-extra``.
    only : sequence of str, optional, keyword-only
        Run ids to keep (the others are not planned).
    splits_dir : str or Path, optional, keyword-only
        Directory of the fault-filtered split's lists, given to every notebook that declares
        ``splits_dir`` (``SPLITS_DIR`` in the environment also works).

    Returns
    -------
    list of Run

    Raises
    ------
    ParameterError
        Unknown profile or run id, missing data directory, undeclared parameter.
    DataError
        A source notebook is missing or unreadable.
    """
    if profile not in config.profiles:
        raise ParameterError(f"unknown profile {profile!r}; {config.path.name} defines "
                             f"{', '.join(sorted(config.profiles))}")
    prof = config.profiles[profile]
    data_dir = _profile_data_dir(config, profile, data_dir)
    splits_dir = splits_dir or os.environ.get("SPLITS_DIR") or None
    if splits_dir is not None:
        splits_dir = _existing_dirs("splits_dir", splits_dir)
    if only:
        unknown = [o for o in only if o not in config.run_ids]
        if unknown:
            raise ParameterError(f"--only: unknown run id(s) {unknown}; known: {', '.join(config.run_ids)}")
    plans: list[Run] = []
    included = config.profile_run_ids(profile)
    excluded = [o for o in only or () if o not in included]
    if excluded:
        raise ParameterError(f"--only: run(s) {excluded} are not part of profile {profile!r} "
                             f"(it runs {', '.join(included)})")
    executed_dir = config.profile_executed_dir(profile)
    for spec in config.runs:
        if spec["id"] not in included or (only and spec["id"] not in only):
            continue
        notebook = (config.root / spec["notebook"]).resolve()
        if not notebook.is_file():
            raise DataError(f"run {spec['id']!r}: notebook {notebook} does not exist")
        plans.append(Run(
            id=spec["id"],
            notebook=notebook,
            output=executed_dir / f"{spec['id']}.ipynb",
            parameters=_run_parameters(config, spec, prof, _declared_parameters(notebook),
                                       data_dir=data_dir, splits_dir=splits_dir),
            depends_on=tuple(spec.get("depends_on") or ()),
            title=str(spec.get("title") or spec["id"]),
            profile=profile,
        ))
    return plans


def _profile_data_dir(config: ExperimentConfig, profile: str, data_dir: str | Path | None) -> str | None:
    """The data directory of a run of ``profile``: required by some profiles, refused by the others."""
    if config.profiles[profile].get("requires_data_dir"):
        if data_dir is None and os.environ.get("DATA_DIR"):
            data_dir = os.environ["DATA_DIR"]
        if not data_dir:
            raise ParameterError(f"profile {profile!r} needs a data directory: pass --data-dir DIR "
                                 "(or DATA_DIR=DIR with make)")
    elif data_dir is not None:
        needing = sorted(p for p, v in config.profiles.items() if v.get("requires_data_dir"))
        raise ParameterError(f"profile {profile!r} takes no data directory (got data_dir={str(data_dir)!r}); "
                             f"profiles that read a data directory: {', '.join(needing) or 'none'}")
    return None if data_dir is None else _existing_dirs("data_dir", data_dir)


def _run_parameters(config: ExperimentConfig, spec: dict[str, Any], prof: dict[str, Any],
                    declared: dict[str, Any], *, data_dir: str | None, splits_dir: str | None) -> dict[str, Any]:
    """Merge one run's parameters in the order :func:`plan_runs` documents, sorted by name."""
    rid = spec["id"]
    own = dict(spec.get("parameters") or {})
    override = dict((prof.get("runs") or {}).get(rid) or {})
    undeclared = sorted((set(own) | set(override)) - set(declared))
    if undeclared:
        raise ParameterError(f"run {rid!r}: notebook {spec['notebook']} does not declare parameter(s) "
                             f"{undeclared} in its 'parameters' cell (it declares {sorted(declared)})")
    params = {k: v for k, v in config.defaults.items() if k in declared}
    if "output_dir" in declared:
        params["output_dir"] = f"outputs/{rid}"
    params.update(own)
    params.update({k: v for k, v in (prof.get("parameters") or {}).items() if k in declared})
    params.update(override)
    if data_dir is not None and "data_dir" in declared:
        params["data_dir"] = data_dir
    if splits_dir is not None and "splits_dir" in declared:
        params["splits_dir"] = splits_dir
    return dict(sorted(params.items()))


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def run_stamp(run: Run, *, data_hash: str | None, dependency_digests: dict[str, str] | None = None
              ) -> dict[str, Any]:
    """Everything that decides whether ``run`` must execute again.

    Parameters
    ----------
    run : Run
        A planned run.
    data_hash : str or None, keyword-only
        Content hash of the data set the run reads (``None`` when it reads none).
    dependency_digests : dict, optional, keyword-only
        Digest of the stamp of every run in ``run.depends_on``.

    Returns
    -------
    dict
        JSON-able stamp; its ``digest`` entry is the sha256 of the rest.
    """
    from genrenet.io import sha256_file

    stamp = {
        "stamp_version": STAMP_VERSION,
        "run": run.id,
        "notebook": run.notebook.name,
        "notebook_sha256": sha256_file(run.notebook),
        "parameters": run.parameters,
        # relative outputs land in results/<profile>/: another profile's run, even with equal
        # parameters, did not write this profile's outputs
        "profile": run.profile,
        "data_hash": data_hash,
        "genrenet_version": __version__,
        "depends_on": dict(sorted((dependency_digests or {}).items())),
    }
    stamp["digest"] = _digest(stamp)
    return stamp


def read_stamp(path: str | Path) -> dict[str, Any] | None:
    """Return the stamp stored in an executed notebook, or ``None`` if absent or unreadable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    stamp = (meta.get(STAMP_KEY) or {}).get("stamp")
    return stamp if isinstance(stamp, dict) and "digest" in stamp else None


class _DataHasher:
    """Computes each (dataset, data_dir) content hash once per runner invocation."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str | None], str] = {}

    def __call__(self, params: dict[str, Any]) -> str | None:
        if "dataset" not in params:
            return None
        name = params["dataset"]
        root = params.get("data_dir")
        key = (str(name), None if root is None else str(root))
        if key not in self._cache:
            from genrenet.datasets import load_dataset

            try:
                ds = load_dataset(name, data_dir=root) if root is not None else load_dataset(name)
            except GenrenetError:
                raise
            except Exception as exc:
                raise DataError(f"cannot load data set {name!r} from {root}: {exc}") from exc
            self._cache[key] = f"{name}:{ds.content_hash()}"
        return self._cache[key]


def _failed_cell(nb: Any, exc: Any) -> tuple[int | None, str]:
    """Map papermill's error to the index of the cell in the source notebook."""
    index = getattr(exc, "cell_index", None)
    source = getattr(exc, "source", "") or ""
    if nb is None:
        return index, source
    added = {"injected-parameters", "papermill-error-cell-tag"}
    real = [c for c in nb.cells if not added & set(c.get("metadata", {}).get("tags", []))]
    for i, cell in enumerate(real):
        if cell.get("metadata", {}).get("papermill", {}).get("exception") or any(
                o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i, "".join(cell.source) if isinstance(cell.source, list) else cell.source
    return index, source


def _provenance_cell(run: Run, stamp: dict[str, Any]) -> Any:
    import nbformat

    # a colon fence: a backtick fence's info string may not contain backticks (CommonMark)
    lines = [
        f":::{{admonition}} How this page was made: run `{run.id}`, profile `{run.profile}`",
        ":class: note",
        f"Executed by `genrenet book run --profile {run.profile}` (genrenet {__version__}) from "
        f"`notebooks/{run.notebook.name}`. Parameters set by `experiments.yml` (the parameters cell "
        "below shows every value this run used; the others are the notebook's defaults):",
        "",
        "| parameter | value |",
        "|---|---|",
    ]
    for key, value in run.parameters.items():
        text = json.dumps(value).replace("|", "\\|")
        lines.append(f"| `{key}` | `{text}` |")
    if stamp.get("data_hash"):
        lines += ["", f"Data set content hash: `{stamp['data_hash'][:60]}`."]
    lines.append(":::")
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.metadata["tags"] = ["genrenet-provenance"]
    return cell


def _make_readable(path: Path) -> None:
    """Temporary files are created 0600; give the executed notebook the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _prepare_output_dir(run: Run, cwd: Path, stamp: dict[str, Any], *, force: bool) -> None:
    """Clear a run's ``output_dir`` when it holds results of other inputs.

    Notebooks resume long jobs from what they find in ``output_dir``; that is right after
    an interrupted run with the same inputs, and wrong after the parameters, the notebook,
    the data or a dependency changed (old results would be skipped over or mixed in).
    The digest of the inputs that last wrote the directory is kept in
    ``<cwd>/.stamps/<run id>.json``. Only directories inside ``cwd`` are ever removed.
    """
    out = run.parameters.get("output_dir")
    if not isinstance(out, str):
        return
    out_dir = (cwd / out).resolve()
    if cwd.resolve() not in out_dir.parents:
        return
    marker = cwd / ".stamps" / f"{run.id}.json"
    previous = None
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8")).get("digest")
        except (OSError, ValueError):
            previous = None
    if out_dir.exists() and (force or previous != stamp["digest"]):
        shutil.rmtree(out_dir)
    atomic_write_json(marker, {"run": run.id, "digest": stamp["digest"], "output_dir": str(out_dir)})


def _invalidate_stamp(path: Path, stamp: dict[str, Any]) -> None:
    """Mark an executed notebook whose stamp equals ``stamp`` as no longer matching its outputs.

    A forced re-execution clears the run's outputs before it starts; if it is then
    interrupted, the old notebook must not still claim to be up to date. Its page stays
    renderable, but its digest no longer matches, so the next run executes it again and
    ``book list`` shows it as interrupted.
    """
    old = read_stamp(path)
    if old is None or old.get("digest") != stamp["digest"]:
        return  # absent, or already stale
    nb = json.loads(path.read_text(encoding="utf-8"))
    marked = {**old, "digest": f"invalidated:{old['digest']}", "invalidated": "a re-execution started and "
              "cleared the outputs of this run"}
    nb["metadata"][STAMP_KEY]["stamp"] = marked
    atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


#: Files of a run in progress in ``<results>/<profile>/.running/``: ``<run id>.<pid>.<random>.ipynb``
#: (the notebook being executed) and ``kernel-<pid>-<random>.json`` (its kernel's connection file).
_RUNNING_FILE = re.compile(r"(?:kernel-(?P<kpid>\d+)-[^.]+\.json|[A-Za-z0-9_-]+\.(?P<npid>\d+)\.[^.]+\.ipynb)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def clean_running(running: str | Path) -> list[Path]:
    """Remove what killed runs left in a ``.running`` directory; return the removed paths.

    Partial notebooks and kernel connection files carry the runner's process id; files of
    a runner that is still alive are kept, files of dead runners (and files of older
    genrenet versions, which carry no id) are removed.
    """
    running = Path(running)
    removed: list[Path] = []
    if not running.is_dir():
        return removed
    for path in running.iterdir():
        match = _RUNNING_FILE.fullmatch(path.name)
        pid = match and (match.group("kpid") or match.group("npid"))
        if pid and _pid_alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _execute(run: Run, config: ExperimentConfig, stamp: dict[str, Any], *, progress: bool,
             force: bool = False) -> None:
    from traitlets.config import Config

    cwd = config.profile_results_dir(run.profile)
    cwd.mkdir(parents=True, exist_ok=True)
    _invalidate_stamp(run.output, stamp)
    _prepare_output_dir(run, cwd, stamp, force=force)
    running = cwd / ".running"
    running.mkdir(exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{run.id}.{os.getpid()}.", suffix=".ipynb", dir=running)
    os.close(fd)
    tmp = Path(tmp_name)
    # the kernel's connection file goes beside it (not to /tmp), so a killed run's can be found and removed
    connection = running / f"kernel-{os.getpid()}-{tmp.name.split('.')[-2]}.json"
    kernel_config = Config({"KernelManager": {"connection_file": str(connection)}})
    try:
        with _kernel_env():
            _papermill(run, config, cwd, tmp, kernel_config, progress=progress)
            _write_executed(run, tmp, stamp)
    finally:
        tmp.unlink(missing_ok=True)
        connection.unlink(missing_ok=True)


@contextlib.contextmanager
def _kernel_env() -> Iterator[None]:
    """Set :data:`KERNEL_ENV` for the kernels started inside the block; restore the environment after."""
    saved_env = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    try:
        yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _papermill(run: Run, config: ExperimentConfig, cwd: Path, tmp: Path, kernel_config: Any, *,
               progress: bool) -> None:
    """Execute ``run`` into ``tmp``; on failure keep the partial notebook and raise :class:`NotebookError`."""
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(
            str(run.notebook), str(tmp), parameters=run.parameters, kernel_name=config.kernel,
            cwd=str(cwd), progress_bar=progress, log_output=False,
            start_timeout=config.start_timeout, execution_timeout=config.cell_timeout,
            config=kernel_config,
        )
    except PapermillExecutionError as exc:
        nb = None
        try:
            nb = nbformat.read(tmp, as_version=4)
        except Exception:
            pass
        index, source = _failed_cell(nb, exc)
        failed = cwd / "failed" / f"{run.id}.ipynb"
        failed.parent.mkdir(exist_ok=True)
        os.replace(tmp, failed)
        raise NotebookError(run.id, run.notebook, cell_index=index, exec_count=exc.exec_count,
                            ename=exc.ename, evalue=exc.evalue, source=source,
                            failed_copy=failed) from None
    except GenrenetError:
        raise
    except Exception as exc:  # kernel died, timeout, missing kernel...
        raise NotebookError(run.id, run.notebook, cell_index=None, exec_count=None,
                            ename=type(exc).__name__, evalue=str(exc).strip().splitlines()[-1]
                            if str(exc).strip() else repr(exc)) from exc


def _write_executed(run: Run, tmp: Path, stamp: dict[str, Any]) -> None:
    """Stamp the executed notebook, add its provenance box and write it (atomically) where the book reads it."""
    import nbformat

    nb = nbformat.read(tmp, as_version=4)
    nb.metadata[STAMP_KEY] = {"stamp": stamp}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]  # shown instead in the parameters cell
        elif "parameters" in tags:
            cell.source = show_parameters(cell.source, run.parameters)
    first_md = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
    if first_md and run.title:
        nb.cells[0].source = retitle(nb.cells[0].source, run.title)
    nb.cells.insert(first_md, _provenance_cell(run, stamp))
    atomic_write_text(run.output, nbformat.writes(nb))
    _make_readable(run.output)


_ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?P<annotation>\s*:[^=#]+?)?\s*=\s*(?P<value>.*?)"
                         r"(?P<comment>\s+#.*)?$")


def show_parameters(source: str, values: dict[str, Any]) -> str:
    """The ``parameters`` cell with each assignment showing the value a run used.

    A rendered page shows the values of its run, not the notebook's defaults; each
    line keeps its type annotation and the comment that documents it, and a line
    whose value the run did not set keeps the default.

    Examples
    --------
    >>> print(show_parameters('epochs: int = 3  # most epochs', {"epochs": 30}))
    epochs: int = 30  # most epochs
    """
    lines = []
    for line in source.splitlines():
        match = _ASSIGNMENT.match(line)
        if match and match["name"] in values:
            line = (f"{match['name']}{match['annotation'] or ''} = {values[match['name']]!r}"
                    f"{match['comment'] or ''}")
        lines.append(line)
    return "\n".join(lines)


def retitle(source: str, title: str) -> str:
    r"""A markdown cell whose first-level heading is ``title`` (the run's own page title).

    Examples
    --------
    >>> retitle("# Training a model\n\nTrains one model.", "Thesis model: CNN")
    '# Thesis model: CNN\n\nTrains one model.'
    """
    lines = source.splitlines()
    if lines and lines[0].startswith("# "):
        return "\n".join([f"# {title}", *lines[1:]])
    return "\n".join([f"# {title}", "", *lines])


def compute_stamps(config: ExperimentConfig, runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    """Stamp of every planned run (see :func:`run_stamp`), dependencies included.

    A dependency planned in ``runs`` contributes its new stamp (so a change upstream
    marks every run downstream as stale); one outside the plan (``--only``) contributes
    the stamp stored in its executed notebook.

    Raises
    ------
    ParameterError
        A dependency outside the plan has never been executed.
    """
    hasher = _DataHasher()
    digests: dict[str, str] = {}
    stamps: dict[str, dict[str, Any]] = {}
    for run in runs:
        deps: dict[str, str] = {}
        for dep in run.depends_on:
            if dep not in digests:
                dep_stamp = read_stamp(config.profile_executed_dir(run.profile) / f"{dep}.ipynb")
                if dep_stamp is None or dep_stamp.get("invalidated"):
                    why = "has not been executed" if dep_stamp is None else "was interrupted (its outputs are gone)"
                    raise ParameterError(f"run {run.id!r} depends on {dep!r}, which {why}; "
                                         f"run it first (genrenet book run --profile {run.profile} --only {dep})")
                digests[dep] = dep_stamp["digest"]
            deps[dep] = digests[dep]
        stamps[run.id] = run_stamp(run, data_hash=hasher(run.parameters), dependency_digests=deps)
        digests[run.id] = stamps[run.id]["digest"]
    return stamps


def run_experiments(config: ExperimentConfig | str | Path | None = None, *, profile: str = "demo",
                    data_dir: str | Path | None = None, only: Sequence[str] | None = None,
                    force: bool = False, progress: bool = True, splits_dir: str | Path | None = None,
                    log: Callable[[str], None] | None = None) -> list[RunOutcome]:
    """Execute the runs of a profile with papermill, skipping those whose stamp is unchanged.

    Parameters
    ----------
    config : ExperimentConfig or path, optional
        The configuration (default: ``experiments.yml`` found from the current directory).
    profile : str, keyword-only
        Profile of ``experiments.yml`` (``demo``, ``gtzan``, ``smoke``...).
    data_dir : str or Path, optional, keyword-only
        Data directory (or several joined by ``os.pathsep``) for profiles that read real data.
    only : sequence of str, optional, keyword-only
        Execute only these run ids (their dependencies must already have been executed).
    splits_dir : str or Path, optional, keyword-only
        Directory of the fault-filtered split's lists (see :func:`plan_runs`).
    force : bool, keyword-only
        Execute even when the stamp is unchanged.
    progress : bool, keyword-only
        Show a tqdm bar over runs (and papermill's bar over cells).
    log : callable, optional, keyword-only
        Receives one line per run (default: ``tqdm.write``).

    Returns
    -------
    list of RunOutcome
        One per planned run, in order.

    Raises
    ------
    NotebookError
        The first run that fails; later runs are not started.
    """
    import time

    from tqdm import tqdm

    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    runs = plan_runs(config, profile=profile, data_dir=data_dir, only=only, splits_dir=splits_dir)
    write = log or tqdm.write
    stamps = compute_stamps(config, runs)
    for path in clean_running(config.profile_results_dir(profile) / ".running"):
        write(f"[{profile}] removed {path.name}, left behind by an interrupted run")
    outcomes: list[RunOutcome] = []
    bar = tqdm(runs, desc=f"book runs ({profile})", unit="run", disable=not progress)
    for run in bar:
        bar.set_postfix_str(run.id)
        stamp = stamps[run.id]
        old = read_stamp(run.output)
        start = time.perf_counter()
        if not force and old is not None and old.get("digest") == stamp["digest"]:
            status = "skipped"
        else:
            write(f"[{profile}] executing {run.id}: {run.title}")
            _execute(run, config, stamp, progress=progress, force=force)
            status = "executed"
        seconds = time.perf_counter() - start
        outcomes.append(RunOutcome(run=run, status=status, seconds=seconds, digest=stamp["digest"]))
        write(f"[{profile}] {run.id}: {status}" + (f" in {seconds:.1f} s" if status == "executed" else
                                                    " (notebook, parameters, data and version unchanged)"))
    bar.close()
    summary = config.profile_results_dir(profile) / "runs.json"
    if not only:
        atomic_write_json(summary, {
            "profile": profile, "genrenet_version": __version__,
            "runs": [{"id": o.run.id, "status": o.status, "seconds": round(o.seconds, 2),
                      "digest": o.digest, "output": str(o.run.output)} for o in outcomes],
        })
    return outcomes
