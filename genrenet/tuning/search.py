"""The search runner: data in, best hyperparameters and a table of trials out.

:func:`run_search` runs a random, Hyperband or Bayesian search on
window-level features and writes, atomically, the best hyperparameters and
scores (``best.json``) and a table of every trial (``trials.csv`` /
``trials.json``) into the search's own project directory.

* Data come as a :class:`genrenet.cache.FeatureSet` with a split (resolved by
  :func:`genrenet.inputs.resolve_split`, the path training takes too) or as
  window arrays, from which a per-class hold-out by track is taken. Windows go
  to the models through the training runner's pipeline
  (:func:`genrenet.train.make_tf_dataset`, see
  :class:`genrenet.tuning.hypermodel.GenreHyperModel`), so 8-bit pictures are
  scaled to ``[0, 1]`` exactly as in training (:func:`genrenet.features.input_scale`).
* Every call starts a **fresh project** (a new unique name) unless the caller
  names a project to resume; a named project is only resumed when it was made
  from the same data and the same search configuration (a fingerprint stored
  in ``search.json``), never silently reloaded from an older search on other data.
* In distributed mode (:mod:`genrenet.tuning.distributed`) the chief writes the
  results and a worker returns the trials it ran.

Used in the book chapter "Tuning the models" (``book/dev_tuning.md``), the page
"Distributed tuning" (``book/tuning_distributed.md``) and the notebook
``notebooks/tuning.ipynb``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from genrenet._compat import renamed_kwargs
from genrenet._validate import int_at_least, non_negative_int, positive_float, positive_int
from genrenet.errors import DataError, ParameterError
from genrenet.io import atomic_write_json, atomic_write_text
from genrenet.repro import DEFAULT_SEED
from genrenet.tuning.distributed import (
    ChiefSettings,
    WorkerLink,
    distributed_role,
    make_tuner,
    wait_for_chief,
)
from genrenet.tuning.space import FINGERPRINT_HP, builder_kwargs, search_space

__all__ = ["TUNERS", "TuningResult", "run_search", "load_trials", "worker_trials"]

#: Search algorithms accepted by :func:`run_search`.
TUNERS = ("random", "hyperband", "bayesian")

_OBJECTIVE = "val_accuracy"


@dataclass
class TuningResult:
    """What a finished search produced.

    Attributes
    ----------
    project_dir : Path
        The search's own directory (Keras Tuner state, ``best.json``, ``trials.csv``).
    best_hyperparameters : dict
        Keyword arguments for the model builder (tuple options assembled).
    best_values : dict
        The raw Keras Tuner values of the best trial.
    best_score : float or None
        The objective of the best trial.
    objective : str
        The metric that was optimised (``val_accuracy``).
    trials : list of dict
        One row per trial (id, status, score, values).
    role : str
        ``"local"``, ``"chief"`` or ``"worker"``.
    """

    project_dir: Path
    best_hyperparameters: dict
    best_values: dict
    best_score: float | None
    objective: str
    trials: list = field(default_factory=list)
    role: str = "local"


# --------------------------------------------------------------------------- reading projects


def _last_value(metric: Any) -> Any:
    """The last observed value of one metric in Keras Tuner's ``trial.json``."""
    if not isinstance(metric, dict):
        return None
    return (metric.get("observations") or [{}])[-1].get("value", [None])[0]


def load_trials(project_dir: str | Path) -> list[dict]:
    """Read every trial of a Keras Tuner project from disk.

    Parameters
    ----------
    project_dir : str or Path
        The project directory (``<out_dir>/<project_name>``).

    Returns
    -------
    list of dict
        ``trial_id``, ``status``, ``score``, ``values`` (hyperparameters) and
        ``metrics`` per trial, sorted by trial id.
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DataError(f"tuning project {project_dir} does not exist")
    rows = []
    for path in sorted(project_dir.glob("trial_*/trial.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read trial file {path}: {exc}") from exc
        metrics = (state.get("metrics", {}).get("metrics", {}) or {}).items()
        rows.append({
            "trial_id": state.get("trial_id"),
            "status": state.get("status"),
            "score": state.get("score"),
            "values": state.get("hyperparameters", {}).get("values", {}),
            "metrics": {name: _last_value(m) for name, m in metrics},
        })
    return rows


def worker_trials(project_dir: str | Path) -> dict[str, list[str]]:
    """Return which trial ids each tuner (worker) ran, from ``workers/<tuner_id>.json``.

    Parameters
    ----------
    project_dir : str or Path
        The project directory.

    Returns
    -------
    dict
        Tuner id → list of trial ids in the order they were run. A trial whose result the
        chief refused (it had given the trial to another worker after this one fell silent)
        is logged with a ``dropped`` reason and left out here.
    """
    out = {}
    for path in sorted(Path(project_dir).glob("workers/*.json")):
        out[path.stem] = [r["trial_id"] for r in json.loads(path.read_text()) if not r.get("dropped")]
    return out


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _Data:
    """Training and validation windows of a search, with where they came from."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    info: dict

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the four arrays (shapes, dtypes and bytes): the identity a worker must share."""
        h = hashlib.sha256()
        for a in (self.X, self.y, self.X_val, self.y_val):
            a = np.ascontiguousarray(a)
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(a.tobytes())
        return h.hexdigest()[:16]

    @property
    def input_scale(self) -> float:
        """The divisor training applies to these windows (:func:`genrenet.features.input_scale`: 255 for
        8-bit pictures, else 1)."""
        from genrenet.features import input_scale

        return input_scale(self.X.dtype)

    @property
    def n_classes(self) -> int:
        """Highest label + 1, or the number of genres of a FeatureSet if larger."""
        return max(int(max(self.y.max(), self.y_val.max())) + 1, len(self.info.get("genres", ())))

    def summary(self) -> dict:
        """Provenance and sizes, as ``best.json`` records them under ``data``."""
        return {**self.info, "fingerprint": self.fingerprint, "n_train_windows": len(self.X),
                "n_val_windows": len(self.X_val), "input_shape": list(self.X.shape[1:]),
                "n_classes": self.n_classes}


def _holdout(y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class hold-out by group (windows of one track never straddle train and validation)."""
    rng = np.random.default_rng(seed)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if len(groups) != len(y):
        raise ParameterError(f"groups has {len(groups)} entries but y has {len(y)}")
    val_groups: list = []
    for label in np.unique(y):
        g = np.unique(groups[y == label])
        rng.shuffle(g)
        n_val = min(max(int(round(fraction * len(g))), 1), len(g) - 1) if len(g) >= 2 else 0
        val_groups.extend(g[:n_val].tolist())
    is_val = np.isin(groups, np.asarray(val_groups, dtype=groups.dtype))
    if not is_val.any() or is_val.all():
        raise DataError(
            "cannot hold out a validation set: every class needs at least two tracks (groups); "
            "pass validation_data or more data"
        )
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _from_featureset(fs, split, seed: int) -> tuple:
    """Train and validation windows of a FeatureSet under ``split`` (a name of ``genrenet.inputs.SPLITS``,
    a Split or None for the stratified split with ``seed``)."""
    from genrenet.inputs import resolve_split

    split = resolve_split(split, fs.dataset, seed=seed)
    if len(split.val) == 0:
        raise DataError(f"split {split.name!r} has no validation tracks to score trials on")
    X, y, _ = fs.load(list(split.train))
    Xv, yv, _ = fs.load(list(split.val))
    info = dict(dataset=fs.dataset.name, genres=list(fs.genres), feature=fs.spec.to_dict(), split=split.name,
                protocol=split.protocol, n_train_tracks=len(split.train), n_val_tracks=len(split.val))
    return X, y, Xv, yv, info


def _from_arrays(data, *, validation_data, groups, val_fraction: float, seed: int) -> tuple:
    """Train and validation windows from ``(X, y)`` and either ``validation_data`` or a hold-out."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ParameterError("data must be a FeatureSet or a tuple (X, y) of arrays")
    X, y = np.asarray(data[0]), np.asarray(data[1])
    if X.ndim < 2 or len(X) != len(y):
        raise ParameterError(f"data: X must be (n, ...) with n == len(y); got X {X.shape}, y {y.shape}")
    if validation_data is not None:
        Xv, yv = np.asarray(validation_data[0]), np.asarray(validation_data[1])
        if Xv.shape[1:] != X.shape[1:] or len(Xv) != len(yv):
            raise ParameterError(
                f"validation_data: shapes {Xv.shape}/{yv.shape} do not match training windows {X.shape[1:]}"
            )
        return X, y, Xv, yv, {"protocol": "caller-supplied validation data"}
    if not 0.0 < val_fraction < 1.0:
        raise ParameterError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    tr, va = _holdout(y, groups, val_fraction, seed)
    unit = "groups (tracks) per class" if groups is not None else "windows per class"
    return X[tr], y[tr], X[va], y[va], {"protocol": f"hold-out of {val_fraction:.0%} of the {unit}"}


def _prepare(data, *, split, validation_data, groups, val_fraction: float, seed: int) -> _Data:
    """Train/validation windows (as stored: uint8 pictures stay uint8) plus provenance."""
    from genrenet.cache import FeatureSet

    if isinstance(data, FeatureSet):
        X, y, Xv, yv, info = _from_featureset(data, split, seed)
    else:
        X, y, Xv, yv, info = _from_arrays(data, validation_data=validation_data, groups=groups,
                                          val_fraction=val_fraction, seed=seed)
    if len(X) == 0 or len(Xv) == 0:
        raise DataError("no training or no validation windows to tune on")
    y, yv = np.asarray(y).astype(np.int64), np.asarray(yv).astype(np.int64)
    if min(y.min(), yv.min()) < 0:
        raise DataError("labels must be non-negative integers")
    return _Data(X, y, Xv, yv, info)


# --------------------------------------------------------------------------- options and the project


def _settings(model_name: str, tuner: str, space: Mapping[str, Any] | None, *, max_trials, epochs, batch_size,
              executions_per_trial, hyperband_factor, seed, workers, timeout, lease) -> dict:
    """Check the options of :func:`run_search` and return the settings that make a search what it is
    (stored in ``search.json``; a worker must share them)."""
    if tuner not in TUNERS:
        raise ParameterError(f"tuner must be one of {list(TUNERS)}, got {tuner!r}")
    for name, value in (("max_trials", max_trials), ("epochs", epochs), ("batch_size", batch_size),
                        ("executions_per_trial", executions_per_trial), ("workers", workers)):
        positive_int(name, value)
    if tuner == "hyperband":
        int_at_least("hyperband_factor", hyperband_factor, 2)
    non_negative_int("seed", seed)
    if timeout <= 0:  # infinite is allowed: wait for ever
        raise ParameterError(f"timeout must be positive seconds, got {timeout!r}")
    positive_float("lease", lease, unit="seconds")
    return {
        "model": model_name,
        "tuner": tuner,
        "max_trials": int(max_trials),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "executions_per_trial": int(executions_per_trial),
        "hyperband_factor": int(hyperband_factor) if tuner == "hyperband" else None,
        "search_space": {k: list(v) for k, v in search_space(model_name, space).items()},
    }


def _check_project_name(project_name: str | None, role: str | None) -> None:
    if role is not None and not project_name:
        raise ParameterError(
            "project_name is required for distributed tuning: the chief and every worker must use the same one"
        )
    if project_name is not None and (not isinstance(project_name, str) or not project_name
                                     or "/" in project_name or project_name in (".", "..")):
        raise ParameterError(f"project_name must be a plain directory name, got {project_name!r}")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _open_project(project_dir: Path, *, identity: dict, info: dict) -> None:
    """Check that an existing project was made from the same data and settings, or stamp a new one."""
    project_name = project_dir.name
    stamp_file = project_dir / "search.json"
    if not (project_dir.exists() and any(project_dir.iterdir())):
        atomic_write_json(stamp_file, {**identity, "data": info, "created": _now()})
        return
    if not stamp_file.exists():
        raise ParameterError(
            f"project_name {project_name!r}: {project_dir} exists but was not made by genrenet "
            "(no search.json); choose another project name"
        )
    old = json.loads(stamp_file.read_text())
    same_config = {**(old.get("config") or {}), "max_trials": None} == {**identity["config"], "max_trials": None}
    if old.get("fingerprint") != identity["fingerprint"] or not same_config:
        raise ParameterError(
            f"project_name {project_name!r}: {project_dir} holds a search on different data or with a "
            "different configuration; choose a new project name instead of reloading a stale search"
        )
    # same data and settings: Keras Tuner reloads the oracle and runs the remaining trials
    # (a larger max_trials extends the search)


# --------------------------------------------------------------------------- results


def _best(tuner, model_name: str, space: Mapping[str, tuple]) -> dict:
    best = tuner.oracle.get_best_trials(1)
    values = dict(best[0].hyperparameters.values) if best else {}
    values.pop(FINGERPRINT_HP, None)
    score = float(best[0].score) if best and best[0].score is not None else None
    return {"best_hyperparameters": builder_kwargs(model_name, values, space=space), "best_values": values,
            "best_score": score, "best_trial_id": best[0].trial_id if best else None}


def _trials_csv(trials: list[dict]) -> str:
    names = sorted({k for t in trials for k in t["values"] if k != FINGERPRINT_HP})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["trial_id", "status", "score", *names])
    for t in trials:
        writer.writerow([t["trial_id"], t["status"], t["score"], *[t["values"].get(n, "") for n in names]])
    return buf.getvalue()


def _write_results(project_dir: Path, tuner, *, config: dict, data: dict, space: Mapping[str, tuple], role: str,
                   workers: dict | None) -> TuningResult:
    """Write ``best.json``, ``trials.json`` and ``trials.csv`` and return the result."""
    from genrenet.bundle import versions

    trials = load_trials(project_dir)
    completed = [t for t in trials if t["status"] == "COMPLETED" and t["score"] is not None]
    best = _best(tuner, config["model"], space)
    summary = {"model": config["model"], "tuner": config["tuner"], "objective": _OBJECTIVE, **best,
               "trials_completed": len(completed), "trials_total": len(trials), "config": config, "data": data,
               "search_space": {k: list(v) for k, v in space.items()}, "role": role, "workers": workers,
               "finished": _now(), "versions": versions()}
    atomic_write_json(project_dir / "best.json", summary)
    atomic_write_json(project_dir / "trials.json", trials)
    atomic_write_text(project_dir / "trials.csv", _trials_csv(trials))
    return TuningResult(project_dir=project_dir, best_hyperparameters=best["best_hyperparameters"],
                        best_values=best["best_values"], best_score=best["best_score"], objective=_OBJECTIVE,
                        trials=trials, role=role)


def _worker_result(project_dir: Path) -> TuningResult:
    ran = worker_trials(project_dir).get(os.environ["KERASTUNER_TUNER_ID"], [])
    return TuningResult(project_dir=project_dir, best_hyperparameters={}, best_values={}, best_score=None,
                        objective=_OBJECTIVE, trials=[{"trial_id": t} for t in ran], role="worker")


# --------------------------------------------------------------------------- the search


def _fit_kwargs(config: dict, data: _Data, project_dir: Path, tensorboard: bool, verbose: int) -> dict:
    """Keyword arguments of every trial's ``fit`` (Hyperband sets a trial's epochs itself)."""
    kwargs: dict[str, Any] = {"validation_data": (data.X_val, data.y_val), "callbacks": [], "verbose": verbose}
    if config["tuner"] != "hyperband":
        kwargs["epochs"] = config["epochs"]
    if tensorboard:
        from genrenet._tf import keras

        kwargs["callbacks"].append(keras.callbacks.TensorBoard(log_dir=str(project_dir / "tensorboard")))
    return kwargs


def _join(identity: dict, timeout: float) -> WorkerLink:
    """A worker's line to the chief, once the chief has accepted its data and settings."""
    link = WorkerLink(timeout=timeout)
    link.join(identity)
    return link


def _fresh_name(directory: Path, model_name: str, tuner: str, identity: dict) -> str:
    """``<model>-<tuner>-<digest of data and settings>``, numbered ``-2``, ``-3``... when taken.

    Deterministic (no clock, no random part), so the book's pages and artefacts carry the
    same names on every run, and still a new project each time a directory is reused.
    """
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:10]
    base = f"{model_name}-{tuner}-{digest}"
    name, n = base, 1
    while (directory / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _build_tuner(config: dict, data: _Data, *, space, role, project_dir: Path, progress: bool,
                 chief: ChiefSettings, link: WorkerLink | None):
    """The HyperModel of ``config`` over ``data`` inside the Keras Tuner tuner of ``config``."""
    from genrenet.tuning.hypermodel import GenreHyperModel

    hypermodel = GenreHyperModel(config["model"], data.X.shape[1:], data.n_classes, space=space,
                                 fingerprint=data.fingerprint, seed=config["seed"], batch_size=config["batch_size"],
                                 input_scale=data.input_scale)
    return make_tuner(config["tuner"], hypermodel, role=role, objective=_OBJECTIVE, max_trials=config["max_trials"],
                      epochs=config["epochs"], seed=config["seed"], directory=project_dir.parent,
                      project_name=project_dir.name, executions_per_trial=config["executions_per_trial"],
                      hyperband_factor=config["hyperband_factor"] or 3, progress=progress, chief=chief, link=link)


@renamed_kwargs(directory="out_dir")
def run_search(
    model_name: str,
    data,
    *,
    split=None,
    validation_data=None,
    groups=None,
    val_fraction: float = 0.2,
    tuner: str = "random",
    max_trials: int = 10,
    epochs: int = 5,
    batch_size: int = 32,
    seed: int = DEFAULT_SEED,
    out_dir: str | Path,
    project_name: str | None = None,
    space: Mapping[str, Any] | None = None,
    executions_per_trial: int = 1,
    hyperband_factor: int = 3,
    tensorboard: bool = False,
    workers: int = 1,
    timeout: float = 3600.0,
    lease: float = 60.0,
    progress: bool = True,
    verbose: int = 0,
) -> TuningResult:
    """Run a Keras Tuner search for ``model_name`` and save the best hyperparameters.

    Parameters
    ----------
    model_name : str
        Architecture: a key of :data:`genrenet.tuning.SEARCH_SPACES` (``feed_forward``,
        ``lenet``, ``cnn``, ``lstm``, ``compact_cnn``, ``transfer_mlp``).
    data : FeatureSet or tuple (X, y)
        A :class:`genrenet.cache.FeatureSet` (train/validation windows come from
        ``split``) or window arrays with integer labels.
    split : genrenet.splits.Split or str, keyword-only, optional
        Split of a FeatureSet's data set, or a split name of :func:`genrenet.train.train`
        (``"stratified"``, ``"fault-filtered"``...); its ``val`` tracks score the trials
        (default: a stratified split with ``seed``). The test tracks are never used.
    validation_data : tuple (X_val, y_val), keyword-only, optional
        Validation arrays when ``data`` is a tuple.
    groups : array-like, keyword-only, optional
        Track id of every window of ``data`` (a tuple); the hold-out keeps the
        windows of one track on one side. Without it windows are held out.
    val_fraction : float, keyword-only
        Fraction held out for validation when ``validation_data`` is not given.
    tuner : {"random", "hyperband", "bayesian"}, keyword-only
        Search algorithm.
    max_trials : int, keyword-only
        Number of trials (for Hyperband, a cap on its own schedule).
    epochs : int, keyword-only
        Epochs per trial (for Hyperband, the maximum epochs of a trial).
    batch_size : int, keyword-only
        Training batch size.
    seed : int, keyword-only
        Seeds the tuner's sampling, the hold-out, the shuffling and every model's weights.
    out_dir : str or Path, keyword-only
        Parent directory of the project directories. (Formerly ``directory=``, still
        accepted with a :class:`FutureWarning`.)
    project_name : str, keyword-only, optional
        Resume this project (it must have been made from the same data and
        configuration) or create it. Default: a new project named after the model, the
        tuner and a digest of the data and settings (``-2``, ``-3``... when that name is
        taken; no timestamp). Required in distributed mode, where the chief and the workers
        must share it.
    space : mapping, keyword-only, optional
        Overrides of the search space (see :func:`genrenet.tuning.search_space`).
    executions_per_trial : int, keyword-only
        Models trained per trial (their scores are averaged).
    hyperband_factor : int, keyword-only
        Reduction factor of Hyperband.
    tensorboard : bool, keyword-only
        Log every trial for TensorBoard under ``<project>/tensorboard``.
    workers : int, keyword-only
        Distributed mode, chief only: number of workers the chief waits for
        before shutting down.
    timeout : float, keyword-only
        Distributed mode: seconds the chief waits for the whole search, and a
        worker for the chief to answer, before raising :class:`genrenet.tuning.TuningError`.
    lease : float, keyword-only
        Distributed mode, chief only: a worker that sends no heartbeat (it sends
        one every quarter lease) for this many seconds is presumed dead, and its
        trial goes to the next worker that asks.
    progress : bool, keyword-only
        Show a tqdm bar of finished trials.
    verbose : int, keyword-only
        Keras ``fit`` verbosity.

    Returns
    -------
    TuningResult
        Best hyperparameters and trial table. A distributed worker returns the
        trials it ran; the chief writes ``best.json`` and returns everything.
    """
    config = _settings(model_name, tuner, space, max_trials=max_trials, epochs=epochs, batch_size=batch_size,
                       executions_per_trial=executions_per_trial, hyperband_factor=hyperband_factor, seed=seed,
                       workers=workers, timeout=timeout, lease=lease)
    role = distributed_role()
    _check_project_name(project_name, role)
    if role == "worker":
        wait_for_chief(timeout)  # fail fast, before any data is prepared or TensorFlow imported

    from genrenet.repro import set_seed

    seed = set_seed(config["seed"], tensorflow=False)  # TensorFlow is seeded below, once a worker is accepted
    prepared = _prepare(data, split=split, validation_data=validation_data, groups=groups,
                        val_fraction=val_fraction, seed=seed)
    identity = {"fingerprint": prepared.fingerprint, "config": config}
    link = _join(identity, timeout) if role == "worker" else None
    set_seed(seed)

    project_dir = Path(out_dir) / (project_name or _fresh_name(Path(out_dir), model_name, tuner, identity))
    if role != "worker":
        _open_project(project_dir, identity=identity, info=prepared.info)
    chief = ChiefSettings(expected_workers=int(workers), timeout=float(timeout), identity=identity, lease=float(lease))
    kt = _build_tuner(config, prepared, space=space, role=role, project_dir=project_dir, progress=progress,
                      chief=chief, link=link)
    kt.search(prepared.X, prepared.y, **_fit_kwargs(config, prepared, project_dir, tensorboard, verbose))
    if role == "worker":
        return _worker_result(project_dir)
    return _write_results(project_dir, kt, config=config, data=prepared.summary(),
                          space=search_space(model_name, space), role=role or "local", workers=kt.workers_info)
