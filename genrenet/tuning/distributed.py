"""Distributed tuning on Keras Tuner's chief/worker mode, and every use of Keras Tuner's internals.

The same command runs once as the chief (``KERASTUNER_TUNER_ID=chief``), which
serves the oracle over gRPC, and once per worker (``tuner0``, ``tuner1``, ...),
which asks the chief for hyperparameters and trains; all of them read
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (:func:`distributed_role`).

Compared with Keras Tuner's stock chief loop, the chief here
(:func:`serve_oracle`) stops its gRPC server cleanly, can wait for an expected
number of workers so that a late worker is not left waiting for a chief that
has gone, gives up after a time limit instead of hanging, and saves its final
state (so a resumed or extended search never runs a finished trial again).
Next to Keras Tuner's oracle service it serves a small one of its own
(``genrenet.Tuning``, JSON messages ``Join``, ``Beat``, ``Leave``): a worker
first *joins* (:class:`WorkerLink`) and is refused before it takes a trial when
its data fingerprint or search settings differ from the chief's; it then sends
heartbeats, and when a worker falls silent for longer than the ``lease`` its
trial goes back to the queue for the next worker (a late result of that worker
is refused unless the trial is still waiting). Workers record which trials they
ran in ``workers/<tuner_id>.json``.

:func:`make_tuner` builds the Keras Tuner tuner (random, Hyperband, Bayesian)
with genrenet's additions — progress bar, per-worker trial log, trials without
per-epoch checkpoints, the chief loop and the guarded worker — all given as
constructor arguments.

**Keras Tuner internals.** This is the only genrenet module that touches
private parts of Keras Tuner; they are listed in :data:`KERAS_TUNER_INTERNALS`
and verified by :func:`check_keras_tuner` (when a tuner is made, and by
``tests/test_tuning.py``), which names the keras-tuner version and the missing
symbol instead of failing somewhere in the middle of a search. The code was
written against keras-tuner :data:`KERAS_TUNER_VERSION` (the version
``pyproject.toml`` pins).

Used in the book pages "Tuning the models" (``book/dev_tuning.md``) and
"Distributed tuning" (``book/tuning_distributed.md``, which gives the exact
commands), and by the notebook ``notebooks/tuning.ipynb`` through
:func:`genrenet.tuning.run_search`.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrenet.errors import GenrenetError, ParameterError
from genrenet.io import atomic_write_json

__all__ = [
    "KERAS_TUNER_VERSION",
    "KERAS_TUNER_INTERNALS",
    "TuningError",
    "ChiefSettings",
    "WorkerLink",
    "check_keras_tuner",
    "distributed_role",
    "make_tuner",
    "serve_oracle",
    "wait_for_chief",
]

#: The keras-tuner release this module was written and tested against (pinned in ``pyproject.toml``).
KERAS_TUNER_VERSION = "1.4.8"

#: Every private part of Keras Tuner used here: ``(module, object, attribute or None, what for)``.
#: Attributes that Keras Tuner sets in ``__init__`` are looked up among the names that ``__init__`` assigns.
KERAS_TUNER_INTERNALS: tuple[tuple[str, str, str | None, str], ...] = (
    ("keras_tuner.src.protos", "get_service", None, "the chief's 'wait' answer to a worker"),
    ("keras_tuner.src.protos", "get_service_grpc", None, "registering the oracle service on the chief's server"),
    ("keras_tuner.src.distribute.oracle_chief", "OracleServicer", None, "the oracle service the chief guards"),
    ("keras_tuner.src.distribute.oracle_chief", "OracleServicer", "stop_triggered",
     "knowing when the oracle has told a worker to stop"),
    ("keras_tuner.src.distribute.oracle_client", "OracleClient", "stub",
     "naming the worker on each of its calls to the chief"),
    ("keras_tuner.src.engine.oracle", "Oracle", "_retry_queue", "giving a dead worker's trial to the next one"),
    ("keras_tuner.src.engine.oracle", "Oracle", "ongoing_trials", "which worker holds which trial"),
    ("keras_tuner.src.engine.oracle", "Oracle", "tuner_ids", "which workers the oracle still waits for"),
    ("keras_tuner.src.engine.tuner", "Tuner", "_deepcopy_callbacks", "trials without per-epoch checkpoints"),
    ("keras_tuner.src.engine.tuner", "Tuner", "_configure_tensorboard_dir", "trials without per-epoch checkpoints"),
    ("keras_tuner.src.engine.tuner", "Tuner", "_build_and_fit_model", "trials without per-epoch checkpoints"),
)

# gRPC metadata that names the worker sending a trial's results, and genrenet's own service next to
# Keras Tuner's oracle service on the chief's port (JSON messages: Join, Beat, Leave)
_TUNER_ID_MD = "genrenet-tuner-id"
_SERVICE = "genrenet.Tuning"


class TuningError(GenrenetError):
    """A search could not finish: the chief or a worker timed out or vanished, or Keras Tuner changed."""


# --------------------------------------------------------------------------- Keras Tuner internals


def _keras_tuner():
    """Import Keras Tuner after :mod:`genrenet._tf` has set TensorFlow's environment and loaded it."""
    from genrenet._tf import load

    load()

    return importlib.import_module("keras_tuner")


def _changed(symbol: str, why: str) -> TuningError:
    version = getattr(_keras_tuner(), "__version__", "unknown")
    return TuningError(
        f"keras-tuner {version} has no {symbol}, a Keras Tuner internal that genrenet.tuning.distributed uses "
        f"for {why}; it was written against keras-tuner {KERAS_TUNER_VERSION}: install keras-tuner=="
        f"{KERAS_TUNER_VERSION}, or adapt genrenet/tuning/distributed.py and run tests/test_tuning.py"
    )


def _has(obj: Any, attribute: str) -> bool:
    """Whether ``obj`` (a class) has ``attribute``, or one of its ``__init__`` methods assigns it."""
    if hasattr(obj, attribute):
        return True
    inits = (vars(c).get("__init__") for c in getattr(obj, "__mro__", ()))
    return any(attribute in getattr(f, "__code__", None).co_names for f in inits if hasattr(f, "__code__"))


def _private(module: str, name: str, attribute: str | None = None) -> Any:
    """Return a listed Keras Tuner internal, or raise :class:`TuningError` naming it and the version."""
    entry = next((e for e in KERAS_TUNER_INTERNALS if e[:3] == (module, name, attribute)), None)
    if entry is None:
        raise AssertionError(f"{module}.{name} is not listed in KERAS_TUNER_INTERNALS")
    symbol = f"{module}.{name}" + (f".{attribute}" if attribute else "")
    _keras_tuner()
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise _changed(symbol, entry[3]) from None
    if attribute is not None and not _has(obj, attribute):
        raise _changed(symbol, entry[3])
    return obj


def check_keras_tuner() -> str:
    """Check that every entry of :data:`KERAS_TUNER_INTERNALS` exists in the installed keras-tuner.

    Returns
    -------
    str
        The installed keras-tuner version.

    Raises
    ------
    TuningError
        Naming the installed version, the missing internal and what genrenet uses it for.
    """
    for module, name, attribute, _why in KERAS_TUNER_INTERNALS:
        _private(module, name, attribute)
    return _keras_tuner().__version__


# --------------------------------------------------------------------------- roles and the wire


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


def _chief_address() -> str:
    return f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"


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


# --------------------------------------------------------------------------- the chief


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
    if trial_id in oracle._retry_queue and any(
            (r["tuner_id"], r["trial_id"]) == (tuner_id, trial_id) for r in reclaimed):
        oracle._retry_queue.remove(trial_id)
        oracle.trials[trial_id].status = "RUNNING"
        oracle.ongoing_trials[tuner_id] = oracle.trials[trial_id]
        oracle.tuner_ids.add(tuner_id)
        return True
    return False


def _locked(function, oracle, *args):
    """Run ``function(oracle, *args)`` under the oracle's lock (the one its own methods take)."""
    return _keras_tuner().synchronized(function)(oracle, *args)


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
        self.dead.add(tuner_id)
        trial_id = _locked(_take_back, self.oracle, tuner_id)
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
    from keras_tuner.engine.trial import Trial, TrialStatus

    base = _private("keras_tuner.src.distribute.oracle_chief", "OracleServicer")
    service = _private("keras_tuner.src.protos", "get_service")

    class _Servicer(base):
        def CreateTrial(self, request, context):  # noqa: N802 - gRPC method name
            tuner_id = request.tuner_id
            workers.touch(tuner_id)
            stop_before = self.stop_triggered
            response = super().CreateTrial(request, context)
            if Trial.from_proto(response.trial).status != TrialStatus.STOPPED:
                return response
            if any(t != tuner_id for t in list(self.oracle.ongoing_trials)):
                # others still run trials, and a trial of a worker that dies comes back: keep this one waiting
                self.oracle.tuner_ids.add(tuner_id)
                self.stop_triggered = stop_before
                idle = Trial(self.oracle.get_space(), status=TrialStatus.IDLE)
                return service().CreateTrialResponse(trial=idle.to_proto())
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

            response = _locked(guarded, self.oracle)
            if response is None:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"trial {trial_id} was given to another worker after {tuner_id} fell silent")
            return response

    return _Servicer(oracle)


@dataclass(frozen=True)
class ChiefSettings:
    """How the chief coordinates its workers.

    Attributes
    ----------
    expected_workers : int
        Workers the chief waits for (each told to stop, dead or refused) before it shuts down.
    timeout : float
        Seconds the chief serves at most before it raises :class:`TuningError`.
    identity : mapping
        The chief's data fingerprint and search settings (``{"fingerprint": .., "config": {..}}``);
        a worker whose identity differs is refused.
    lease : float
        Seconds of silence after which a worker is presumed dead and its trial reassigned.
    """

    expected_workers: int = 1
    timeout: float = 3600.0
    identity: Mapping[str, Any] = field(default_factory=dict)
    lease: float = 60.0


def _start_server(oracle, workers: _Workers):
    """The chief's gRPC server with Keras Tuner's guarded oracle service and genrenet's own."""
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = _servicer(oracle, workers)
    _private("keras_tuner.src.protos", "get_service_grpc")().add_OracleServicer_to_server(servicer, server)
    handlers = {name: grpc.unary_unary_rpc_method_handler(fn, request_deserializer=_loads,
                                                          response_serializer=_dumps)
                for name, fn in (("Join", workers.join), ("Beat", workers.beat), ("Leave", workers.leave))}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    if server.add_insecure_port(_chief_address()) == 0:
        raise TuningError(f"chief cannot listen on {_chief_address()} (KERASTUNER_ORACLE_IP/PORT): address in use?")
    server.start()
    return server, servicer


def _finished(oracle, servicer, workers: _Workers, expected_workers: int) -> bool:
    return (servicer.stop_triggered and not oracle.ongoing_trials and not oracle.tuner_ids
            and not oracle._retry_queue and workers.accounted() >= expected_workers)


def serve_oracle(oracle, settings: ChiefSettings, *, poll: float = 0.5) -> dict:
    """Serve ``oracle`` over gRPC until every trial is done and every worker has been answered.

    Workers join first (their data fingerprint and settings must equal the chief's), send
    heartbeats while they run, and lose their trial to the next worker when they stay silent
    for longer than ``settings.lease`` seconds.

    Returns
    -------
    dict
        The workers seen, stopped and refused, and the trials taken back (``best.json``'s ``workers``).
    """
    workers = _Workers(oracle, identity=settings.identity, lease=settings.lease)
    server, servicer = _start_server(oracle, workers)
    start = time.monotonic()
    try:
        while not _finished(oracle, servicer, workers, settings.expected_workers):
            time.sleep(poll)
            workers.reap()
            if time.monotonic() - start > settings.timeout:
                running = {k: t.trial_id for k, t in oracle.ongoing_trials.items()}
                raise TuningError(
                    f"chief timed out after {settings.timeout:.0f} s (timeout): workers seen {sorted(workers.seen)}, "
                    f"stopped {sorted(workers.stopped)}, refused {sorted(workers.refused)}, expected "
                    f"{settings.expected_workers}, trials still running {running}, waiting {list(oracle._retry_queue)}"
                )
    finally:
        server.stop(grace=2).wait()
    return workers.info()


# --------------------------------------------------------------------------- the workers


def wait_for_chief(timeout: float) -> None:
    """Wait until the chief's gRPC port answers, or raise :class:`TuningError` after ``timeout`` seconds."""
    import grpc

    channel = grpc.insecure_channel(_chief_address())
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise TuningError(
            f"worker {os.environ.get('KERASTUNER_TUNER_ID')} could not reach the chief oracle at {_chief_address()} "
            f"within {timeout:.0f} s (timeout); start the chief first and check KERASTUNER_ORACLE_IP/PORT"
        ) from None
    finally:
        channel.close()


class WorkerLink:
    """A worker's own line to the chief: it joins (identity check), sends heartbeats and leaves.

    Parameters
    ----------
    timeout : float, keyword-only
        Seconds to wait for the chief's answer to ``Join``.
    """

    def __init__(self, *, timeout: float):
        import grpc

        self.tuner_id = os.environ["KERASTUNER_TUNER_ID"]
        self.target = _chief_address()
        self.timeout = float(timeout)
        self.channel = grpc.insecure_channel(self.target)
        self._call = {name: self.channel.unary_unary(f"/{_SERVICE}/{name}", request_serializer=_dumps,
                                                     response_deserializer=_loads)
                      for name in ("Join", "Beat", "Leave")}
        self.trial_id: str | None = None
        self.lease: float | None = None
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
        self.lease = float(answer["lease"])
        return self.lease

    def start(self) -> None:
        """Send a heartbeat every quarter lease until :meth:`close`."""
        self._thread = threading.Thread(target=self._beat, args=(self.lease / 4,), daemon=True,
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
        """Stop the heartbeats and close the channel."""
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


# --------------------------------------------------------------------------- the tuner


class _GenrenetTuner:
    """Mixed in before a Keras Tuner tuner class: genrenet's additions, set by constructor arguments.

    Parameters
    ----------
    hypermodel : keras_tuner.HyperModel
    role : {"chief", "worker", None}, keyword-only
        This process's part (:func:`distributed_role`).
    progress : bool, keyword-only
        Show a tqdm bar of finished trials (the chief: Keras Tuner's table of trials).
    total : int, keyword-only, optional
        Length of the bar (a worker runs an unknown share: None).
    chief : ChiefSettings, keyword-only, optional
        The chief's coordination settings.
    link : WorkerLink, keyword-only, optional
        A worker's joined line to the chief.
    keep_checkpoints : bool, keyword-only
        Keep Keras Tuner's per-epoch checkpoints of every trial (Hyperband needs them to resume trials).
    **kwargs
        The Keras Tuner tuner's own arguments.
    """

    def __init__(self, hypermodel, *, role: str | None, progress: bool = True, total: int | None = None,
                 chief: ChiefSettings | None = None, link: WorkerLink | None = None,
                 keep_checkpoints: bool = False, **kwargs):
        self.role = role
        self.show_progress = bool(progress)
        self.progress_total = total
        self.chief = chief or ChiefSettings()
        self.link = link
        self.keep_checkpoints = bool(keep_checkpoints)
        self.workers_info: dict | None = None
        self._bar = None
        super().__init__(hypermodel, **kwargs)  # may call reload(), which reads self.role

    def reload(self):
        super().reload()
        # Keras Tuner writes oracle.json before it removes a finished trial from the running ones, so
        # the state on disk can list a finished trial as interrupted: never run a finished trial again
        queue = getattr(self.oracle, "_retry_queue", None)
        if queue is not None and self.role != "worker":
            done = {"COMPLETED", "FAILED"}
            queue[:] = [t for t in queue if str(getattr(self.oracle.trials.get(t), "status", "")) not in done]

    def search(self, *args, **kwargs):
        if self.role == "chief":
            # the chief's progress display: Keras Tuner's table of each trial handed out and finished
            self.oracle.verbose = 1 if self.show_progress else 0
            self.save()
            self.workers_info = serve_oracle(self.oracle, self.chief)
            self.save()  # the final state: no trial running, so a resumed search reruns none
            return
        if self.role == "worker" and self.link is not None:
            return self._worker_search(*args, **kwargs)
        return super().search(*args, **kwargs)

    def _worker_search(self, *args, **kwargs):
        link = self.link
        self.oracle.stub = _NamedStub(self.oracle.stub, self.tuner_id)
        ask = self.oracle.create_trial

        def create_trial(tuner_id):
            trial = ask(tuner_id)
            if str(trial.status) == "IDLE":
                time.sleep(1.0)  # the chief waits for other workers' trials: ask again in a while
            link.trial_id = trial.trial_id if str(trial.status) == "RUNNING" else None
            return trial

        self.oracle.create_trial = create_trial
        link.start()
        try:
            return super().search(*args, **kwargs)
        except BaseException:
            link.leave()
            raise
        finally:
            link.close()

    def on_search_begin(self):
        super().on_search_begin()
        if self.show_progress:
            from tqdm import tqdm

            done = sum(1 for t in getattr(self.oracle, "trials", {}).values() if t.status == "COMPLETED")
            self._bar = tqdm(total=self.progress_total, initial=done, desc=f"tuning {self.hypermodel.name}",
                             unit="trial")

    def on_trial_end(self, trial):
        dropped = self._end_trial(trial)
        if self.link is not None:
            self.link.trial_id = None
        log = Path(self.project_dir) / "workers" / f"{self.tuner_id}.json"
        runs = json.loads(log.read_text()) if log.exists() else []
        runs.append({"trial_id": trial.trial_id, "status": str(trial.status), "pid": os.getpid(),
                     **({"dropped": dropped} if dropped else {})})
        atomic_write_json(log, runs)
        if self._bar is not None:
            self._bar.update(1)

    def _end_trial(self, trial) -> str | None:
        """Report the trial's end; the chief's reason when it refused the result (the trial went elsewhere)."""
        import grpc

        try:
            super().on_trial_end(trial)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            print(f"worker {self.tuner_id}: result of trial {trial.trial_id} dropped: {exc.details()}",
                  file=sys.stderr, flush=True)
            return exc.details()
        return None

    def on_search_end(self):
        super().on_search_end()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def run_trial(self, trial, *args, **kwargs):
        # Keras Tuner saves the weights of every trial's best epoch; for the thesis models
        # that is hundreds of MB per trial. Only Hyperband needs them (it resumes trials).
        if self.keep_checkpoints:
            return super().run_trial(trial, *args, **kwargs)
        callbacks = kwargs.pop("callbacks", [])
        histories = []
        for _ in range(self.executions_per_trial):
            run_kwargs = copy.copy(kwargs)
            run_kwargs["callbacks"] = self._deepcopy_callbacks(callbacks)
            self._configure_tensorboard_dir(run_kwargs["callbacks"], trial, len(histories))
            histories.append(self._build_and_fit_model(trial, *args, **run_kwargs))
        return histories


def make_tuner(kind: str, hypermodel, *, role: str | None, objective: str, max_trials: int, epochs: int,
               seed: int, directory: str | Path, project_name: str, executions_per_trial: int = 1,
               hyperband_factor: int = 3, progress: bool = True, chief: ChiefSettings | None = None,
               link: WorkerLink | None = None):
    """Build the Keras Tuner tuner of one search, with genrenet's additions.

    Parameters
    ----------
    kind : {"random", "hyperband", "bayesian"}
        Search algorithm.
    hypermodel : keras_tuner.HyperModel
    role : {"chief", "worker", None}, keyword-only
        This process's part in a distributed search.
    objective, max_trials, epochs, seed, directory, project_name, executions_per_trial, hyperband_factor
        As for :func:`genrenet.tuning.run_search` (``epochs``: Hyperband's maximum epochs per trial;
        ``max_trials`` caps Hyperband's own schedule).
    progress : bool, keyword-only
        Show the progress of the search.
    chief : ChiefSettings, keyword-only, optional
        The chief's coordination settings.
    link : WorkerLink, keyword-only, optional
        A worker's joined line to the chief.

    Returns
    -------
    keras_tuner.Tuner
    """
    check_keras_tuner()
    kt = _keras_tuner()
    common = dict(objective=objective, seed=seed, directory=str(directory), project_name=project_name,
                  overwrite=False,  # never delete a project directory (workers share the chief's)
                  executions_per_trial=executions_per_trial, role=role, progress=progress,
                  total=None if role == "worker" else max_trials, chief=chief, link=link)
    if kind == "random":
        cls = type("GenrenetRandomSearch", (_GenrenetTuner, kt.RandomSearch), {})
        return cls(hypermodel, max_trials=max_trials, **common)
    if kind == "bayesian":
        cls = type("GenrenetBayesianOptimization", (_GenrenetTuner, kt.BayesianOptimization), {})
        return cls(hypermodel, max_trials=max_trials, **common)
    cls = type("GenrenetHyperband", (_GenrenetTuner, kt.Hyperband), {})
    tuner = cls(hypermodel, max_epochs=epochs, factor=hyperband_factor, keep_checkpoints=True, **common)
    tuner.oracle.max_trials = max_trials  # a cap on top of Hyperband's own schedule
    return tuner
