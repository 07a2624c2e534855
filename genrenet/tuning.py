"""Hyperparameter search with Keras Tuner, on one machine or distributed.

One :class:`GenreHyperModel` per architecture of :mod:`genrenet.models`
(feed_forward, lenet, cnn, lstm, compact_cnn) turns a search space over the
builders' keyword options (widths, units, dropout, learning rate, optimiser)
into Keras Tuner hyperparameters. :func:`run_search` runs a random, Hyperband
or Bayesian search on window-level features and writes, atomically, the best
hyperparameters and scores (``best.json``) and a table of every trial
(``trials.csv`` / ``trials.json``) into the search's own project directory.

Every call starts a **fresh project** (a new unique name) unless the caller
names a project to resume; a named project is only resumed when it was made
from the same data and the same search configuration (a fingerprint stored in
``search.json``), never silently reloaded from an older search on other data.

**Distributed tuning** uses Keras Tuner's own chief/worker mode: the same
command runs once as the chief (``KERASTUNER_TUNER_ID=chief``), which serves
the oracle over gRPC, and once per worker (``tuner0``, ``tuner1``, ...), which
asks the chief for hyperparameters and trains; all of them read
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. Compared with Keras
Tuner's stock chief loop, the chief here stops its gRPC server cleanly, can
wait for an expected number of workers so that a late worker is not left
waiting for a chief that has gone, gives up after a time limit instead of
hanging, saves its final state (so a resumed or extended search never runs a
finished trial again) and writes the results. Next to Keras Tuner's oracle
service it serves a small one of its own: a worker first *joins*, and is
refused before it takes a trial when its data fingerprint or search settings
differ from the chief's; it then sends heartbeats, and when a worker falls
silent for longer than the ``lease`` its trial goes back to the queue for the
next worker (a late result of that worker is refused unless the trial is still
waiting). Workers record which trials they ran. See the book page
``book/tuning_distributed.md`` for the exact commands.

Used in the book chapter "The models" (06, section on tuning) and the notebook
``notebooks/tuning.ipynb``.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import hashlib
import io
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrenet.errors import DataError, GenrenetError, ParameterError
from genrenet.io import atomic_write_json, atomic_write_text
from genrenet.repro import DEFAULT_SEED

__all__ = [
    "SEARCH_SPACES",
    "TUNERS",
    "TuningError",
    "TuningResult",
    "GenreHyperModel",
    "search_space",
    "builder_kwargs",
    "distributed_role",
    "run_search",
    "load_trials",
    "worker_trials",
]

#: Search algorithms accepted by :func:`run_search`.
TUNERS = ("random", "hyperband", "bayesian")

_OPTIMIZERS = ["adam", "rmsprop", "sgd"]
_LR = ("float", 1e-4, 1e-2, "log")
_DROPOUT = ("float", 0.0, 0.5, 0.1)

#: Search space per architecture, over the builder's keyword options.
#: Each entry maps a builder keyword to a specification:
#: ``("choice", [values])``, ``("int", low, high, step)``,
#: ``("float", low, high, step_or_"log")``, ``("bool",)`` or
#: ``("tuple", [spec, spec, ...])`` for options that take a tuple (one
#: hyperparameter per element, named ``<option>_1``, ``<option>_2``, ...).
SEARCH_SPACES: dict[str, dict[str, tuple]] = {
    "feed_forward": {
        "filters": ("choice", [16, 32, 64]),
        "units": ("choice", [16, 32, 64, 128]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "lenet": {
        "filters": ("tuple", [("choice", [4, 6, 8, 12]), ("choice", [8, 16, 32])]),
        "units": ("choice", [32, 64, 128, 256]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "cnn": {
        "filters": ("tuple", [("choice", [16, 32, 48]), ("choice", [32, 64]), ("choice", [32, 64, 128])]),
        "units": ("choice", [32, 64, 128]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "lstm": {
        "filters": ("tuple", [("choice", [4, 6, 8]), ("choice", [8, 16, 32])]),
        "lstm_units": ("choice", [32, 64, 128]),
        "dropout": _DROPOUT,
        "learning_rate": _LR,
        "optimizer": ("choice", _OPTIMIZERS),
    },
    "compact_cnn": {
        "width": ("choice", [16, 24, 32, 48]),
        "depth": ("int", 2, 5, 1),
        "dropout": _DROPOUT,
        "spec_augment": ("bool",),
        "learning_rate": _LR,
    },
    "transfer_mlp": {
        "hidden": ("choice", [64, 128, 256, 512]),
        "dropout": ("float", 0.0, 0.6, 0.1),
        "l2": ("float", 1e-6, 1e-2, "log"),
        "learning_rate": _LR,
    },
}

_FINGERPRINT_HP = "data_fingerprint"


class TuningError(GenrenetError):
    """A search could not finish: the chief or a worker timed out or vanished."""


# --------------------------------------------------------------------------- spaces


def _check_spec(model_name: str, option: str, spec: Any) -> tuple:
    """Validate one search-space specification and return it as a tuple."""
    where = f"search space of {model_name!r}, option {option!r}"
    if not isinstance(spec, (tuple, list)) or not spec:
        raise ParameterError(f"{where}: expected a tuple like ('choice', [...]), got {spec!r}")
    kind = spec[0]
    if kind == "choice":
        if len(spec) != 2 or not isinstance(spec[1], (list, tuple)) or not spec[1]:
            raise ParameterError(f"{where}: 'choice' needs a non-empty list of values, got {spec!r}")
    elif kind == "int":
        if len(spec) != 4 or not all(isinstance(v, (int, np.integer)) for v in spec[1:]) or spec[1] > spec[2]:
            raise ParameterError(f"{where}: 'int' needs (low, high, step) integers with low <= high, got {spec!r}")
    elif kind == "float":
        if len(spec) != 4 or not spec[1] < spec[2]:
            raise ParameterError(f"{where}: 'float' needs (low, high, step or 'log') with low < high, got {spec!r}")
        if spec[3] == "log" and spec[1] <= 0:
            raise ParameterError(f"{where}: a 'log' float range needs low > 0, got {spec!r}")
    elif kind == "bool":
        if len(spec) != 1:
            raise ParameterError(f"{where}: 'bool' takes no arguments, got {spec!r}")
    elif kind == "tuple":
        if len(spec) != 2 or not isinstance(spec[1], (list, tuple)) or not spec[1]:
            raise ParameterError(f"{where}: 'tuple' needs a list of element specifications, got {spec!r}")
        for i, sub in enumerate(spec[1], 1):
            if isinstance(sub, (tuple, list)) and sub and sub[0] == "tuple":
                raise ParameterError(f"{where}: nested 'tuple' specifications are not supported")
            _check_spec(model_name, f"{option}_{i}", sub)
    elif kind == "fixed":
        if len(spec) != 2:
            raise ParameterError(f"{where}: 'fixed' needs exactly one value, got {spec!r}")
    else:
        raise ParameterError(
            f"{where}: unknown kind {kind!r}; use 'choice', 'int', 'float', 'bool', 'tuple' or 'fixed'"
        )
    return tuple(spec)


def _normalise_override(value: Any) -> tuple:
    """Let callers write ``{"units": [16, 32]}`` or ``{"depth": 2}`` as overrides.

    A tuple starting with a string is a full specification (validated later);
    a list (e.g. from JSON) starting with a known kind is one too.
    """
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return value
    if isinstance(value, list) and value and value[0] in ("choice", "int", "float", "bool", "tuple", "fixed"):
        return tuple(value)
    if isinstance(value, list):
        return ("choice", value)
    return ("fixed", value)


def search_space(model_name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, tuple]:
    """Return the validated search space of ``model_name`` with ``overrides`` applied.

    Parameters
    ----------
    model_name : str
        One of the keys of :data:`SEARCH_SPACES`.
    overrides : mapping, optional
        Option name → specification. A list means a choice among its values,
        a scalar fixes the option, a tuple is a full specification. ``None``
        as a value removes the option from the search (the builder default).

    Returns
    -------
    dict
        Option name → specification tuple.
    """
    if model_name not in SEARCH_SPACES:
        raise ParameterError(f"model_name must be one of {sorted(SEARCH_SPACES)}, got {model_name!r}")
    space = dict(SEARCH_SPACES[model_name])
    for option, value in (overrides or {}).items():
        if not isinstance(option, str) or not option:
            raise ParameterError(f"space: option names must be non-empty strings, got {option!r}")
        if value is None:
            space.pop(option, None)
        else:
            space[option] = _normalise_override(value)
    return {name: _check_spec(model_name, name, spec) for name, spec in space.items()}


def _declare(hp, name: str, spec: tuple):
    kind = spec[0]
    if kind == "choice":
        return hp.Choice(name, list(spec[1]))
    if kind == "int":
        return hp.Int(name, int(spec[1]), int(spec[2]), step=int(spec[3]))
    if kind == "float":
        if spec[3] == "log":
            return hp.Float(name, float(spec[1]), float(spec[2]), sampling="log")
        return hp.Float(name, float(spec[1]), float(spec[2]), step=float(spec[3]))
    if kind == "bool":
        return hp.Boolean(name)
    if kind == "fixed":
        value = spec[1]
        return tuple(value) if isinstance(value, list) else value
    # tuple
    return tuple(_declare(hp, f"{name}_{i}", sub) for i, sub in enumerate(spec[1], 1))


def builder_kwargs(model_name: str, values: Mapping[str, Any], *, space: Mapping[str, tuple] | None = None) -> dict:
    """Turn flat Keras Tuner values into keyword arguments of the model builder.

    Parameters
    ----------
    model_name : str
        Architecture name.
    values : mapping
        Hyperparameter values as stored by Keras Tuner (``filters_1``,
        ``filters_2``... for tuple options).
    space : mapping, optional
        The search space used (default :data:`SEARCH_SPACES` entry).

    Returns
    -------
    dict
        Keyword arguments for :func:`genrenet.models.build_model`.
    """
    space = search_space(model_name) if space is None else space
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if spec[0] == "fixed":
            out[name] = tuple(spec[1]) if isinstance(spec[1], list) else spec[1]
        elif spec[0] == "tuple":
            parts = [values.get(f"{name}_{i}") for i in range(1, len(spec[1]) + 1)]
            if any(p is None for p in parts):
                continue
            out[name] = tuple(parts)
        elif name in values:
            out[name] = values[name]
    return out


# --------------------------------------------------------------------------- hypermodel


def _hypermodel_base():
    import keras_tuner

    return keras_tuner.HyperModel


class _LazyHyperModelMeta(type):
    """Create the real HyperModel subclass on first instantiation (keeps import light)."""

    _real: type | None = None

    def __call__(cls, *args, **kwargs):
        if cls._real is None:
            base = _hypermodel_base()
            cls._real = type("GenreHyperModel", (_HyperModelMixin, base), {"__doc__": cls.__doc__})
        return cls._real(*args, **kwargs)


class _HyperModelMixin:
    def __init__(
        self,
        model_name: str,
        input_shape: Sequence[int],
        n_classes: int,
        *,
        space: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
        seed: int = DEFAULT_SEED,
        batch_size: int = 32,
        tunable: bool = True,
    ):
        super().__init__(name=model_name, tunable=tunable)
        self.model_name = model_name
        self.space = search_space(model_name, space)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.n_classes = int(n_classes)
        self.fingerprint = fingerprint
        self.seed = int(seed)
        self.batch_size = int(batch_size)

    def build(self, hp):
        from genrenet._tf import keras
        from genrenet.models import build_model

        if self.fingerprint is not None:
            got = hp.Fixed(_FINGERPRINT_HP, self.fingerprint)
            if got != self.fingerprint:
                import keras_tuner

                raise keras_tuner.errors.FatalError(
                    f"this process's training data (fingerprint {self.fingerprint}) differs from the data "
                    f"the search was started with (fingerprint {got}); run every worker on the same data"
                )
        kwargs = {name: _declare(hp, name, spec) for name, spec in self.space.items()}
        keras.utils.set_random_seed(self.seed)
        return build_model(self.model_name, self.input_shape, self.n_classes, **kwargs)

    def fit(self, hp, model, *args, **kwargs):
        kwargs.setdefault("batch_size", self.batch_size)
        return model.fit(*args, **kwargs)


class GenreHyperModel(metaclass=_LazyHyperModelMeta):
    """A Keras Tuner ``HyperModel`` over one genrenet architecture.

    Parameters
    ----------
    model_name : str
        One of ``feed_forward``, ``lenet``, ``cnn``, ``lstm``, ``compact_cnn``.
    input_shape : sequence of int
        Shape of one input window, e.g. ``(128, 130, 1)``.
    n_classes : int
        Number of genres.
    space : mapping, keyword-only, optional
        Overrides of :data:`SEARCH_SPACES` (see :func:`search_space`).
    fingerprint : str, keyword-only, optional
        Hash of the training data; declared as a fixed hyperparameter so a
        distributed worker refuses to train on other data than the chief's.
    seed : int, keyword-only
        Seed set before every model is built.
    batch_size : int, keyword-only
        Default ``batch_size`` of ``fit``.

    Notes
    -----
    The class is created on first use so that importing :mod:`genrenet.tuning`
    does not import TensorFlow; instances are real ``keras_tuner.HyperModel``
    objects.
    """


# --------------------------------------------------------------------------- tuner


def distributed_role() -> str | None:
    """Return ``"chief"``, ``"worker"`` or ``None`` from the Keras Tuner environment.

    Raises
    ------
    ParameterError
        When ``KERASTUNER_ORACLE_IP`` is set without ``KERASTUNER_ORACLE_PORT``
        or ``KERASTUNER_TUNER_ID``.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    for var in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if not os.environ.get(var):
            raise ParameterError(f"KERASTUNER_ORACLE_IP is set but {var} is not: set it for distributed tuning")
    port = os.environ["KERASTUNER_ORACLE_PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError(f"KERASTUNER_ORACLE_PORT must be a TCP port number, got {port!r}")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


# gRPC metadata that names the worker sending a trial's results, and genrenet's own service next to
# Keras Tuner's oracle service on the chief's port (JSON messages: Join, Beat, Leave)
_TUNER_ID_MD = "genrenet-tuner-id"
_SERVICE = "genrenet.Tuning"


def _dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def _loads(data: bytes):
    return json.loads(data.decode())


def _identity_problems(chief: Mapping, worker: Mapping) -> str:
    """How a worker's data and settings differ from the chief's ('' when they agree)."""
    problems = []
    if worker.get("fingerprint") != chief.get("fingerprint"):
        problems.append(f"its training data have fingerprint {worker.get('fingerprint')}, the chief's "
                        f"{chief.get('fingerprint')} (other data, split seed or feature)")
    mine, theirs = dict(chief.get("config") or {}), dict(worker.get("config") or {})
    for key in sorted((set(mine) | set(theirs)) - {"max_trials"}):
        if mine.get(key) != theirs.get(key):
            problems.append(f"{key} {theirs.get(key)!r} differs from the chief's {mine.get(key)!r}")
    return "; ".join(problems)


def _take_back(oracle, tuner_id: str) -> str | None:
    """Put the trial of a vanished worker back in the queue (run under the oracle's lock)."""
    oracle.tuner_ids.discard(tuner_id)
    trial = oracle.ongoing_trials.pop(tuner_id, None)
    if trial is None:
        return None
    oracle._retry_queue.append(trial.trial_id)
    oracle.save()
    return trial.trial_id


def _may_report(oracle, tuner_id: str, trial_id: str, reclaimed: list) -> bool:
    """Whether ``tuner_id`` still holds ``trial_id`` (run under the oracle's lock).

    A worker declared dead whose trial is still waiting in the queue gets it back.
    """
    held = oracle.ongoing_trials.get(tuner_id)
    if held is not None:
        return held.trial_id == trial_id
    if trial_id in oracle._retry_queue and {"tuner_id": tuner_id, "trial_id": trial_id} in [
            {k: r[k] for k in ("tuner_id", "trial_id")} for r in reclaimed]:
        oracle._retry_queue.remove(trial_id)
        oracle.trials[trial_id].status = "RUNNING"
        oracle.ongoing_trials[tuner_id] = oracle.trials[trial_id]
        oracle.tuner_ids.add(tuner_id)
        return True
    return False


class _Workers:
    """The chief's view of its workers: identity checks, leases and the trials it took back."""

    def __init__(self, oracle, *, identity: Mapping, lease: float):
        self.oracle = oracle
        self.identity = identity
        self.lease = float(lease)
        self.seen: set[str] = set()
        self.stopped: set[str] = set()
        self.joined: set[str] = set()
        self.dead: set[str] = set()
        self.refused: dict[str, str] = {}
        self.reclaimed: list[dict] = []
        self.last: dict[str, float] = {}

    def touch(self, tuner_id: str) -> None:
        self.seen.add(tuner_id)
        self.last[tuner_id] = time.monotonic()
        self.dead.discard(tuner_id)

    def join(self, request: dict, context=None) -> dict:
        tuner_id = str(request.get("tuner_id"))
        self.touch(tuner_id)
        problems = _identity_problems(self.identity, request.get("identity") or {})
        if problems:
            self.refused[tuner_id] = problems
            print(f"chief: refused worker {tuner_id}: {problems}", file=sys.stderr, flush=True)
            return {"ok": False, "message": f"the chief refused worker {tuner_id}: {problems}; start every worker "
                                            "with the chief's data and options"}
        self.refused.pop(tuner_id, None)
        self.joined.add(tuner_id)
        return {"ok": True, "lease": self.lease}

    def beat(self, request: dict, context=None) -> dict:
        tuner_id = str(request.get("tuner_id"))
        self.touch(tuner_id)
        held = self.oracle.ongoing_trials.get(tuner_id)
        return {"held": held is not None and held.trial_id == request.get("trial_id")}

    def leave(self, request: dict, context=None) -> dict:
        self._reclaim(str(request.get("tuner_id")), "left after an error")
        return {}

    def reap(self) -> None:
        """Take back the trials of joined workers that have been silent for longer than the lease."""
        now = time.monotonic()
        for tuner_id in sorted(self.joined & set(self.oracle.tuner_ids)):
            silent = now - self.last.get(tuner_id, now)
            if silent > self.lease:
                self._reclaim(tuner_id, f"silent for {silent:.0f} s (lease {self.lease:g} s)")

    def _reclaim(self, tuner_id: str, why: str) -> None:
        import keras_tuner

        self.dead.add(tuner_id)
        trial_id = keras_tuner.synchronized(_take_back)(self.oracle, tuner_id)
        if trial_id is not None:
            self.reclaimed.append({"tuner_id": tuner_id, "trial_id": trial_id, "why": why})
            print(f"chief: worker {tuner_id} {why}; trial {trial_id} goes to the next worker",
                  file=sys.stderr, flush=True)

    def accounted(self) -> int:
        """Workers that need no more answers: told to stop, dead, or refused."""
        return len(self.stopped | self.dead | set(self.refused))

    def info(self) -> dict:
        return {"seen": sorted(self.seen), "stopped": sorted(self.stopped), "refused": dict(self.refused),
                "reclaimed": list(self.reclaimed), "lease": self.lease}


def _servicer(oracle, workers: _Workers):
    """Keras Tuner's oracle servicer, guarded: only a trial's holder may report on it."""
    import grpc
    import keras_tuner
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine import trial as trial_module

    class _Servicer(OracleServicer):
        def CreateTrial(self, request, context):  # noqa: N802 - gRPC method name
            tuner_id = request.tuner_id
            workers.touch(tuner_id)
            stop_before = self.stop_triggered
            response = super().CreateTrial(request, context)
            if trial_module.Trial.from_proto(response.trial).status != trial_module.TrialStatus.STOPPED:
                return response
            if any(t != tuner_id for t in list(self.oracle.ongoing_trials)):
                # others still run trials, and a trial of a worker that dies comes back: keep this one waiting
                self.oracle.tuner_ids.add(tuner_id)
                self.stop_triggered = stop_before
                idle = trial_module.Trial(self.oracle.get_space(), status=trial_module.TrialStatus.IDLE)
                return protos.get_service().CreateTrialResponse(trial=idle.to_proto())
            workers.stopped.add(tuner_id)
            return response

        def UpdateTrial(self, request, context):  # noqa: N802
            return self._as_holder(request.trial_id, context, super().UpdateTrial, request)

        def EndTrial(self, request, context):  # noqa: N802
            return self._as_holder(request.trial.trial_id, context, super().EndTrial, request)

        def _as_holder(self, trial_id, context, method, request):
            tuner_id = dict(context.invocation_metadata()).get(_TUNER_ID_MD)
            if tuner_id is None:  # a worker that does not name itself (stock Keras Tuner): as before
                return method(request, context)
            workers.touch(tuner_id)

            def guarded(oracle):
                if not _may_report(oracle, tuner_id, trial_id, workers.reclaimed):
                    return None
                return method(request, context)

            response = keras_tuner.synchronized(guarded)(self.oracle)
            if response is None:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"trial {trial_id} was given to another worker after {tuner_id} fell silent")
            return response

    return _Servicer(oracle)


def _serve_oracle(oracle, *, expected_workers: int, timeout: float, identity: Mapping, lease: float,
                  poll: float = 0.5) -> dict:
    """Serve ``oracle`` over gRPC until every trial is done and every worker has been answered.

    Workers join first (their data fingerprint and settings must equal the chief's), send
    heartbeats while they run, and lose their trial to the next worker when they stay silent
    for longer than ``lease`` seconds.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos

    ip = os.environ["KERASTUNER_ORACLE_IP"]
    port = os.environ["KERASTUNER_ORACLE_PORT"]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    workers = _Workers(oracle, identity=identity, lease=lease)
    servicer = _servicer(oracle, workers)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    handlers = {name: grpc.unary_unary_rpc_method_handler(fn, request_deserializer=_loads,
                                                          response_serializer=_dumps)
                for name, fn in (("Join", workers.join), ("Beat", workers.beat), ("Leave", workers.leave))}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    if server.add_insecure_port(f"{ip}:{port}") == 0:
        raise TuningError(f"chief cannot listen on {ip}:{port} (KERASTUNER_ORACLE_IP/PORT): address in use?")
    server.start()
    start = time.monotonic()
    try:
        while True:
            time.sleep(poll)
            workers.reap()
            if (servicer.stop_triggered and not oracle.ongoing_trials and not oracle.tuner_ids
                    and not oracle._retry_queue and workers.accounted() >= expected_workers):
                break
            if time.monotonic() - start > timeout:
                running = {k: t.trial_id for k, t in oracle.ongoing_trials.items()}
                raise TuningError(
                    f"chief timed out after {timeout:.0f} s (timeout): workers seen {sorted(workers.seen)}, "
                    f"stopped {sorted(workers.stopped)}, refused {sorted(workers.refused)}, expected "
                    f"{expected_workers}, trials still running {running}, waiting {list(oracle._retry_queue)}"
                )
    finally:
        server.stop(grace=2).wait()
    return workers.info()


def _wait_for_chief(timeout: float) -> None:
    import grpc

    target = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise TuningError(
            f"worker {os.environ.get('KERASTUNER_TUNER_ID')} could not reach the chief oracle at {target} "
            f"within {timeout:.0f} s (timeout); start the chief first and check KERASTUNER_ORACLE_IP/PORT"
        ) from None
    finally:
        channel.close()


class _WorkerLink:
    """A worker's own line to the chief: it joins (identity check), sends heartbeats and leaves."""

    def __init__(self, *, timeout: float):
        import grpc

        self.tuner_id = os.environ["KERASTUNER_TUNER_ID"]
        self.target = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
        self.timeout = float(timeout)
        self.channel = grpc.insecure_channel(self.target)
        self._call = {name: self.channel.unary_unary(f"/{_SERVICE}/{name}", request_serializer=_dumps,
                                                     response_deserializer=_loads)
                      for name in ("Join", "Beat", "Leave")}
        self.trial_id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def join(self, identity: Mapping) -> float:
        """Ask the chief to accept this worker; returns the lease (seconds) or raises TuningError."""
        import grpc

        try:
            answer = self._call["Join"]({"tuner_id": self.tuner_id, "identity": identity}, timeout=self.timeout,
                                        wait_for_ready=True)
        except grpc.RpcError as exc:
            self.close()
            raise TuningError(
                f"worker {self.tuner_id}: the chief at {self.target} did not accept the worker "
                f"({exc.code().name}: {exc.details()}); is the chief a genrenet tune of the same version?"
            ) from None
        if not answer.get("ok"):
            self.close()
            raise TuningError(f"worker {self.tuner_id}: {answer.get('message')}")
        return float(answer["lease"])

    def start(self, lease: float) -> None:
        """Send a heartbeat every quarter lease until :meth:`close`."""
        self._thread = threading.Thread(target=self._beat, args=(lease / 4,), daemon=True,
                                        name=f"genrenet-heartbeat-{self.tuner_id}")
        self._thread.start()

    def _beat(self, interval: float) -> None:
        import grpc

        while not self._stop.wait(interval):
            try:
                self._call["Beat"]({"tuner_id": self.tuner_id, "trial_id": self.trial_id}, timeout=interval)
            except grpc.RpcError:
                pass  # the chief is busy or gone; the search itself notices the latter

    def leave(self) -> None:
        """Tell the chief this worker stops, so its trial goes to another worker at once."""
        import grpc

        try:
            self._call["Leave"]({"tuner_id": self.tuner_id}, timeout=5)
        except grpc.RpcError:
            pass

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.channel.close()


class _NamedStub:
    """The worker's oracle stub with its tuner id attached to every call (the chief checks it)."""

    def __init__(self, stub, tuner_id: str):
        self._stub = stub
        self._metadata = ((_TUNER_ID_MD, tuner_id),)

    def __getattr__(self, name):
        method = getattr(self._stub, name)
        return lambda request, **kw: method(request, metadata=self._metadata, **kw)


class _TunerMixin:
    """Progress bar, per-worker trial log, checkpoint-free trials, a robust chief and guarded workers."""

    _gn_bar = None
    _gn_progress = True
    _gn_total = None
    _gn_keep_checkpoints = False
    _gn_expected_workers = 1
    _gn_timeout = 3600.0
    _gn_identity: dict | None = None
    _gn_lease = 60.0
    _gn_link: _WorkerLink | None = None
    _gn_dropped: str | None = None
    _gn_chief_info: dict | None = None

    def reload(self):
        super().reload()
        # Keras Tuner writes oracle.json before it removes a finished trial from the running ones, so
        # the state on disk can list a finished trial as interrupted: never run a finished trial again
        queue = getattr(self.oracle, "_retry_queue", None)
        if queue is not None and distributed_role() != "worker":
            done = {"COMPLETED", "FAILED"}
            queue[:] = [t for t in queue if str(getattr(self.oracle.trials.get(t), "status", "")) not in done]

    def search(self, *args, **kwargs):
        role = distributed_role()
        if role == "chief":
            # the chief's progress display: Keras Tuner's table of each trial handed out and finished
            self.oracle.verbose = 1 if self._gn_progress else 0
            self.save()
            self._gn_chief_info = _serve_oracle(
                self.oracle, expected_workers=self._gn_expected_workers, timeout=self._gn_timeout,
                identity=self._gn_identity or {}, lease=self._gn_lease,
            )
            self.save()  # the final state: no trial running, so a resumed search reruns none
            return
        if role == "worker" and self._gn_link is not None:
            return self._worker_search(*args, **kwargs)
        return super().search(*args, **kwargs)

    def _worker_search(self, *args, **kwargs):
        link = self._gn_link
        self.oracle.stub = _NamedStub(self.oracle.stub, self.tuner_id)
        ask = self.oracle.create_trial

        def create_trial(tuner_id):
            trial = ask(tuner_id)
            if str(trial.status) == "IDLE":
                time.sleep(1.0)  # the chief waits for other workers' trials: ask again in a while
            link.trial_id = trial.trial_id if str(trial.status) == "RUNNING" else None
            return trial

        self.oracle.create_trial = create_trial
        link.start(self._gn_lease)
        try:
            return super().search(*args, **kwargs)
        except BaseException:
            link.leave()
            raise
        finally:
            link.close()

    def on_search_begin(self):
        super().on_search_begin()
        if self._gn_progress:
            from tqdm import tqdm

            done = sum(1 for t in getattr(self.oracle, "trials", {}).values() if t.status == "COMPLETED")
            self._gn_bar = tqdm(total=self._gn_total, initial=done, desc=f"tuning {self.hypermodel.name}", unit="trial")

    def on_trial_end(self, trial):
        import grpc

        dropped = None
        try:
            super().on_trial_end(trial)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            dropped = exc.details()
            print(f"worker {self.tuner_id}: result of trial {trial.trial_id} dropped: {dropped}",
                  file=sys.stderr, flush=True)
        if self._gn_link is not None:
            self._gn_link.trial_id = None
        log = Path(self.project_dir) / "workers" / f"{self.tuner_id}.json"
        runs = json.loads(log.read_text()) if log.exists() else []
        runs.append({"trial_id": trial.trial_id, "status": str(trial.status), "pid": os.getpid(),
                     **({"dropped": dropped} if dropped else {})})
        atomic_write_json(log, runs)
        if self._gn_bar is not None:
            self._gn_bar.update(1)

    def on_search_end(self):
        super().on_search_end()
        if self._gn_bar is not None:
            self._gn_bar.close()
            self._gn_bar = None

    def run_trial(self, trial, *args, **kwargs):
        # Keras Tuner saves the weights of every trial's best epoch; for the thesis models
        # that is hundreds of MB per trial. Only Hyperband needs them (it resumes trials).
        if self._gn_keep_checkpoints:
            return super().run_trial(trial, *args, **kwargs)
        callbacks = kwargs.pop("callbacks", [])
        histories = []
        for _ in range(self.executions_per_trial):
            run_kwargs = copy.copy(kwargs)
            run_kwargs["callbacks"] = self._deepcopy_callbacks(callbacks)
            self._configure_tensorboard_dir(run_kwargs["callbacks"], trial, len(histories))
            histories.append(self._build_and_fit_model(trial, *args, **run_kwargs))
        return histories


def _make_tuner(kind: str, hypermodel, *, objective, max_trials, epochs, seed, directory, project_name,
                executions_per_trial, hyperband_factor):
    import keras_tuner

    common = dict(
        objective=objective,
        seed=seed,
        directory=str(directory),
        project_name=project_name,
        overwrite=False,  # never delete a project directory (workers share the chief's)
        executions_per_trial=executions_per_trial,
    )
    if kind == "random":
        cls = type("GenrenetRandomSearch", (_TunerMixin, keras_tuner.RandomSearch), {})
        tuner = cls(hypermodel, max_trials=max_trials, **common)
    elif kind == "bayesian":
        cls = type("GenrenetBayesianOptimization", (_TunerMixin, keras_tuner.BayesianOptimization), {})
        tuner = cls(hypermodel, max_trials=max_trials, **common)
    else:
        cls = type("GenrenetHyperband", (_TunerMixin, keras_tuner.Hyperband), {})
        tuner = cls(hypermodel, max_epochs=epochs, factor=hyperband_factor, **common)
        tuner._gn_keep_checkpoints = True
        if max_trials:
            tuner.oracle.max_trials = max_trials  # a cap on top of Hyperband's own schedule
    return tuner


# --------------------------------------------------------------------------- data


def _as_float(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255.0)
    return X.astype(np.float32, copy=False)


def _fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


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
        n_val = int(round(fraction * len(g)))
        if len(g) >= 2:
            n_val = min(max(n_val, 1), len(g) - 1)
        else:
            n_val = 0
        val_groups.extend(g[:n_val].tolist())
    is_val = np.isin(groups, np.asarray(val_groups, dtype=groups.dtype))
    if not is_val.any() or is_val.all():
        raise DataError(
            "cannot hold out a validation set: every class needs at least two tracks (groups); "
            "pass validation_data or more data"
        )
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _split_data(data, *, split, validation_data, groups, val_fraction, seed) -> dict:
    """Return train/validation arrays plus provenance from arrays or a FeatureSet."""
    info: dict[str, Any] = {}
    if hasattr(data, "load") and hasattr(data, "spec"):
        fs = data
        if split is None:
            from genrenet.splits import stratified_split

            split = stratified_split(fs.dataset, seed=seed)
        train_idx = list(split.train)
        val_idx = list(getattr(split, "val", []) or [])
        if not val_idx:
            raise DataError(f"split {getattr(split, 'name', split)!r} has no validation tracks to score trials on")
        X, y, _ = fs.load(train_idx)
        Xv, yv, _ = fs.load(val_idx)
        info.update(
            dataset=getattr(fs.dataset, "name", None),
            genres=list(fs.genres),
            feature=fs.spec.to_dict(),
            split=getattr(split, "name", None),
            protocol=getattr(split, "protocol", None),
            n_train_tracks=len(train_idx),
            n_val_tracks=len(val_idx),
        )
    else:
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
            info["protocol"] = "caller-supplied validation data"
        else:
            if not 0.0 < val_fraction < 1.0:
                raise ParameterError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
            tr, va = _holdout(y, groups, val_fraction, seed)
            X, y, Xv, yv = X[tr], y[tr], X[va], y[va]
            info["protocol"] = (
                f"hold-out of {val_fraction:.0%} of the "
                + ("groups (tracks) per class" if groups is not None else "windows per class")
            )
    y = np.asarray(y).astype(np.int64)
    yv = np.asarray(yv).astype(np.int64)
    if len(X) == 0 or len(Xv) == 0:
        raise DataError("no training or no validation windows to tune on")
    return {"X": _as_float(X), "y": y, "X_val": _as_float(Xv), "y_val": yv, "info": info}


# --------------------------------------------------------------------------- results


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


def load_trials(project_dir: str | Path) -> list[dict]:
    """Read every trial of a Keras Tuner project from disk.

    Parameters
    ----------
    project_dir : str or Path
        The project directory (``<directory>/<project_name>``).

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
        metrics = {
            name: (m.get("observations") or [{}])[-1].get("value", [None])[0] if isinstance(m, dict) else None
            for name, m in (state.get("metrics", {}).get("metrics", {}) or {}).items()
        }
        rows.append(
            {
                "trial_id": state.get("trial_id"),
                "status": state.get("status"),
                "score": state.get("score"),
                "values": state.get("hyperparameters", {}).get("values", {}),
                "metrics": metrics,
            }
        )
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


def _write_results(project_dir: Path, tuner, *, model_name, tuner_kind, objective, config, info, space,
                   role, chief_info=None) -> TuningResult:
    trials = load_trials(project_dir)
    completed = [t for t in trials if t["status"] == "COMPLETED" and t["score"] is not None]
    best = tuner.oracle.get_best_trials(1)
    best_values = dict(best[0].hyperparameters.values) if best else {}
    best_values.pop(_FINGERPRINT_HP, None)
    best_score = float(best[0].score) if best and best[0].score is not None else None
    best_kwargs = builder_kwargs(model_name, best_values, space=space)
    from genrenet.bundle import versions

    summary = {
        "model": model_name,
        "tuner": tuner_kind,
        "objective": objective,
        "best_hyperparameters": best_kwargs,
        "best_values": best_values,
        "best_score": best_score,
        "best_trial_id": best[0].trial_id if best else None,
        "trials_completed": len(completed),
        "trials_total": len(trials),
        "config": config,
        "data": info,
        "search_space": {k: list(v) for k, v in space.items()},
        "role": role,
        "workers": chief_info,
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    atomic_write_json(project_dir / "best.json", summary)
    atomic_write_json(project_dir / "trials.json", trials)
    names = sorted({k for t in trials for k in t["values"] if k != _FINGERPRINT_HP})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["trial_id", "status", "score", *names])
    for t in trials:
        writer.writerow([t["trial_id"], t["status"], t["score"], *[t["values"].get(n, "") for n in names]])
    atomic_write_text(project_dir / "trials.csv", buf.getvalue())
    return TuningResult(
        project_dir=project_dir,
        best_hyperparameters=best_kwargs,
        best_values=best_values,
        best_score=best_score,
        objective=objective,
        trials=trials,
        role=role,
    )


# --------------------------------------------------------------------------- search


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
    directory: str | Path,
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
        Architecture: ``feed_forward``, ``lenet``, ``cnn``, ``lstm`` or ``compact_cnn``.
    data : FeatureSet or tuple (X, y)
        A :class:`genrenet.cache.FeatureSet` (train/validation windows come from
        ``split``) or window arrays with integer labels.
    split : genrenet.splits.Split, keyword-only, optional
        Split of a FeatureSet's data set; its ``val`` tracks score the trials
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
        Seeds the tuner's sampling, the hold-out and every model's weights.
    directory : str or Path, keyword-only
        Parent directory of the project directories.
    project_name : str, keyword-only, optional
        Resume this project (it must have been made from the same data and
        configuration) or create it. Default: a fresh unique name. Required in
        distributed mode, where the chief and the workers must share it.
    space : mapping, keyword-only, optional
        Overrides of the search space (see :func:`search_space`).
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
        worker for the chief to answer, before raising :class:`TuningError`.
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
    if tuner not in TUNERS:
        raise ParameterError(f"tuner must be one of {list(TUNERS)}, got {tuner!r}")
    for name, value in (("max_trials", max_trials), ("epochs", epochs), ("batch_size", batch_size),
                        ("executions_per_trial", executions_per_trial), ("workers", workers)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if tuner == "hyperband" and (not isinstance(hyperband_factor, int) or hyperband_factor < 2):
        raise ParameterError(f"hyperband_factor must be an integer >= 2, got {hyperband_factor!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    if timeout <= 0:
        raise ParameterError(f"timeout must be positive seconds, got {timeout!r}")
    if not isinstance(lease, (int, float)) or isinstance(lease, bool) or not 0 < lease < float("inf"):
        raise ParameterError(f"lease must be positive seconds, got {lease!r}")
    resolved_space = search_space(model_name, space)
    role = distributed_role()
    if role is not None and not project_name:
        raise ParameterError(
            "project_name is required for distributed tuning: the chief and every worker must use the same one"
        )
    if project_name is not None and (not isinstance(project_name, str) or not project_name
                                     or "/" in project_name or project_name in (".", "..")):
        raise ParameterError(f"project_name must be a plain directory name, got {project_name!r}")

    if role == "worker":
        _wait_for_chief(timeout)  # fail fast, before any data is prepared or TensorFlow imported

    from genrenet.repro import set_seed

    set_seed(int(seed), tensorflow=False)  # TensorFlow is seeded below, once a worker has been accepted
    prepared = _split_data(data, split=split, validation_data=validation_data, groups=groups,
                           val_fraction=val_fraction, seed=int(seed))
    X, y, Xv, yv = prepared["X"], prepared["y"], prepared["X_val"], prepared["y_val"]
    labels = np.concatenate([y, yv])
    if labels.min() < 0:
        raise DataError("labels must be non-negative integers")
    n_classes = int(labels.max()) + 1
    if "genres" in prepared["info"]:
        n_classes = max(n_classes, len(prepared["info"]["genres"]))
    fingerprint = _fingerprint(X, y, Xv, yv)
    config = {
        "model": model_name,
        "tuner": tuner,
        "max_trials": int(max_trials),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "executions_per_trial": int(executions_per_trial),
        "hyperband_factor": int(hyperband_factor) if tuner == "hyperband" else None,
        "search_space": {k: list(v) for k, v in resolved_space.items()},
    }
    identity = {"fingerprint": fingerprint, "config": config}
    link = None
    if role == "worker":  # refused here, before TensorFlow is imported, if data or settings differ
        link = _WorkerLink(timeout=timeout)
        lease = link.join(identity)
    set_seed(int(seed))

    directory = Path(directory)
    if project_name is None:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
        project_name = f"{model_name}-{tuner}-{stamp}-{uuid.uuid4().hex[:6]}"
    project_dir = directory / project_name
    stamp_file = project_dir / "search.json"
    if role != "worker":
        if project_dir.exists() and any(project_dir.iterdir()):
            if not stamp_file.exists():
                raise ParameterError(
                    f"project_name {project_name!r}: {project_dir} exists but was not made by genrenet "
                    "(no search.json); choose another project name"
                )
            old = json.loads(stamp_file.read_text())
            same_config = {**(old.get("config") or {}), "max_trials": None} == {**config, "max_trials": None}
            if old.get("fingerprint") != fingerprint or not same_config:
                raise ParameterError(
                    f"project_name {project_name!r}: {project_dir} holds a search on different data or with a "
                    "different configuration; choose a new project name instead of reloading a stale search"
                )
            # same data and settings: Keras Tuner reloads the oracle and runs the remaining trials
            # (a larger max_trials extends the search)
        else:
            atomic_write_json(stamp_file, {**identity, "data": prepared["info"],
                                           "created": _dt.datetime.now(_dt.UTC).isoformat()})

    hypermodel = GenreHyperModel(model_name, X.shape[1:], n_classes, space=space, fingerprint=fingerprint,
                                 seed=int(seed), batch_size=int(batch_size))
    objective = "val_accuracy"
    kt = _make_tuner(tuner, hypermodel, objective=objective, max_trials=int(max_trials), epochs=int(epochs),
                     seed=int(seed), directory=directory, project_name=project_name,
                     executions_per_trial=int(executions_per_trial), hyperband_factor=int(hyperband_factor))
    kt._gn_progress = bool(progress)
    kt._gn_total = None if role == "worker" else int(max_trials)  # a worker runs an unknown share
    kt._gn_expected_workers = int(workers)
    kt._gn_timeout = float(timeout)
    kt._gn_identity = identity
    kt._gn_lease = float(lease)
    kt._gn_link = link

    callbacks = []
    if tensorboard:
        from genrenet._tf import keras

        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(project_dir / "tensorboard")))
    fit_kwargs = dict(validation_data=(Xv, yv), callbacks=callbacks, verbose=verbose)
    if tuner != "hyperband":
        fit_kwargs["epochs"] = int(epochs)
    kt.search(X, y, **fit_kwargs)

    if role == "worker":
        ran = worker_trials(project_dir).get(os.environ["KERASTUNER_TUNER_ID"], [])
        return TuningResult(project_dir=project_dir, best_hyperparameters={}, best_values={}, best_score=None,
                            objective=objective, trials=[{"trial_id": t} for t in ran], role="worker")
    return _write_results(project_dir, kt, model_name=model_name, tuner_kind=tuner, objective=objective,
                          config=config, info={**prepared["info"], "fingerprint": fingerprint,
                                               "n_train_windows": len(X), "n_val_windows": len(Xv),
                                               "input_shape": list(X.shape[1:]), "n_classes": n_classes},
                          space=resolved_space, role=role or "local", chief_info=kt._gn_chief_info)
