"""Tests of genrenet.tuning: search spaces, a real 2-trial search, resume safety, distributed tuning."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from genrenet.errors import ParameterError
from genrenet.tuning import SEARCH_SPACES, builder_kwargs, distributed_role, load_trials, search_space

TINY_SPACE = {"filters": [2, 4], "units": [4, 8]}


def _tiny_data(seed: int = 0, n: int = 48):
    """Two separable classes of 8x8 'spectrogram' windows, 3 windows per 'track'."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, 8, 8, 1)).astype(np.float32)
    X[y == 1, :4] += 1.5
    groups = np.arange(n) // 3
    return X, y, groups


def test_every_architecture_has_a_valid_space():
    from genrenet.models import MODELS

    assert set(SEARCH_SPACES) == set(MODELS)  # every Keras model can be tuned
    for name in SEARCH_SPACES:
        space = search_space(name)
        assert "learning_rate" in space and "dropout" in space
    lenet = search_space("lenet")
    kwargs = builder_kwargs("lenet", {"filters_1": 6, "filters_2": 16, "units": 64, "optimizer": "sgd"}, space=lenet)
    assert kwargs["filters"] == (6, 16) and kwargs["units"] == 64 and kwargs["optimizer"] == "sgd"


def test_space_overrides_and_bad_input():
    space = search_space("cnn", {"units": [8], "optimizer": "adam", "dropout": None})
    assert space["units"] == ("choice", [8])
    assert space["optimizer"] == ("fixed", "adam")
    assert "dropout" not in space
    with pytest.raises(ParameterError, match="model_name"):
        search_space("resnet")
    with pytest.raises(ParameterError, match="learning_rate"):
        search_space("cnn", {"learning_rate": ("float", 0.0, 1e-2, "log")})
    with pytest.raises(ParameterError, match="unknown kind"):
        search_space("cnn", {"units": ("gaussian", 1, 2)})


def test_distributed_role_from_env(monkeypatch):
    for var in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        monkeypatch.delenv(var, raising=False)
    assert distributed_role() is None
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(ParameterError, match="KERASTUNER_ORACLE_PORT"):
        distributed_role()
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert distributed_role() == "chief"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert distributed_role() == "worker"


def test_two_trial_search_saves_best(tmp_path):
    from genrenet.tuning import run_search

    X, y, groups = _tiny_data()
    result = run_search("feed_forward", (X, y), groups=groups, max_trials=2, epochs=1, seed=3,
                        out_dir=tmp_path, space=TINY_SPACE, progress=False)
    best = json.loads((result.project_dir / "best.json").read_text())
    assert best["trials_completed"] == 2
    assert best["best_score"] == pytest.approx(max(t["score"] for t in result.trials))
    assert set(best["best_hyperparameters"]) == {"filters", "units", "dropout", "learning_rate", "optimizer"}
    assert best["best_hyperparameters"]["filters"] in (2, 4)
    assert best["data"]["n_train_windows"] + best["data"]["n_val_windows"] == len(X)
    rows = (result.project_dir / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("trial_id,status,score") and len(rows) == 3
    # the winning hyperparameters build a working model
    from genrenet.models import build_model

    model = build_model("feed_forward", (8, 8, 1), 2, **best["best_hyperparameters"])
    assert model.output_shape == (None, 2)

    # a second call is a fresh project; naming the first with other data is refused. Names carry no
    # timestamp: the model, the tuner, a digest of data and settings, and a number when taken
    again = run_search("feed_forward", (X, y), groups=groups, max_trials=1, epochs=1, seed=3,
                       out_dir=tmp_path, space=TINY_SPACE, progress=False)
    assert again.project_dir != result.project_dir
    assert re.fullmatch(r"feed_forward-random-[0-9a-f]{10}", result.project_dir.name)
    third = run_search("feed_forward", (X, y), groups=groups, max_trials=1, epochs=1, seed=3,
                       out_dir=tmp_path, space=TINY_SPACE, progress=False)
    assert third.project_dir.name == again.project_dir.name + "-2"
    # naming the first project with the same data resumes it: a larger budget adds trials only
    resumed = run_search("feed_forward", (X, y), groups=groups, max_trials=3, epochs=1, seed=3,
                         out_dir=tmp_path, project_name=result.project_dir.name, space=TINY_SPACE, progress=False)
    assert resumed.project_dir == result.project_dir
    assert sorted(t["trial_id"] for t in resumed.trials) == ["0", "1", "2"]
    assert [t for t in resumed.trials if t["trial_id"] in ("0", "1")] == result.trials
    X2 = X + 1.0
    with pytest.raises(ParameterError, match="different data"):
        run_search("feed_forward", (X2, y), groups=groups, max_trials=2, epochs=1, seed=3, out_dir=tmp_path,
                   project_name=result.project_dir.name, space=TINY_SPACE, progress=False)


def test_resume_never_reruns_a_finished_trial(tmp_path):
    """Keras Tuner can leave a finished trial listed as running in oracle.json; a resume must not rerun it."""
    from genrenet.tuning import run_search, worker_trials

    X, y, groups = _tiny_data()
    kw = dict(groups=groups, epochs=1, seed=3, out_dir=tmp_path, project_name="p", space=TINY_SPACE,
              progress=False)
    first = run_search("feed_forward", (X, y), max_trials=2, **kw)
    oracle_file = first.project_dir / "oracle.json"
    state = json.loads(oracle_file.read_text())
    state["ongoing_trials"] = {"tuner0": "1"}  # saved before trial 1 left the running ones
    oracle_file.write_text(json.dumps(state))
    again = run_search("feed_forward", (X, y), max_trials=3, **kw)
    assert worker_trials(first.project_dir)["tuner0"] == ["0", "1", "2"]
    assert [t["score"] for t in again.trials[:2]] == [t["score"] for t in first.trials]


def test_worker_identity_check_names_every_difference():
    from genrenet.tuning.distributed import _identity_problems

    chief = {"fingerprint": "aaaa", "config": {"seed": 7, "epochs": 2, "max_trials": 9}}
    assert _identity_problems(chief, {"fingerprint": "aaaa", "config": {"seed": 7, "epochs": 2, "max_trials": 3}}) == ""
    problems = _identity_problems(chief, {"fingerprint": "bbbb", "config": {"seed": 8, "epochs": 2}})
    assert "fingerprint bbbb, the chief's aaaa" in problems and "seed 8 differs from the chief's 7" in problems
    assert "max_trials" not in problems and "epochs" not in problems


def test_import_is_light():
    """``import genrenet.tuning`` loads neither TensorFlow, Keras Tuner nor gRPC; GenreHyperModel loads them."""
    code = ("import sys, genrenet.tuning as t; heavy = ('tensorflow', 'keras_tuner', 'grpc'); "
            "print([m for m in heavy if m in sys.modules]); t.GenreHyperModel; print('keras_tuner' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"


def test_keras_tuner_internals_are_still_there():
    """Fails loudly, naming versions and symbols, when keras-tuner moves an internal genrenet relies on."""
    import tomllib
    from pathlib import Path

    import keras_tuner

    from genrenet.tuning.distributed import KERAS_TUNER_INTERNALS, KERAS_TUNER_VERSION, check_keras_tuner

    used = ", ".join(sorted({".".join(p for p in e[:3] if p) for e in KERAS_TUNER_INTERNALS}))
    assert keras_tuner.__version__ == KERAS_TUNER_VERSION, (
        f"keras-tuner {keras_tuner.__version__} is installed, but genrenet/tuning/distributed.py was checked "
        f"against keras-tuner {KERAS_TUNER_VERSION}; it relies on these internals: {used}. Run tests/test_tuning.py "
        "with the slow distributed tests, adapt distributed.py, then update KERAS_TUNER_VERSION and the pin"
    )
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert f"keras-tuner=={KERAS_TUNER_VERSION}" in pyproject["project"]["dependencies"]
    assert check_keras_tuner() == KERAS_TUNER_VERSION  # raises TuningError naming the first missing internal


def test_a_missing_keras_tuner_internal_is_named(monkeypatch):
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.engine import tuner as tuner_module

    from genrenet.tuning import TuningError, check_keras_tuner

    monkeypatch.delattr(tuner_module.Tuner, "_build_and_fit_model")
    with pytest.raises(TuningError, match=r"keras-tuner 1\.4\.8 has no keras_tuner\.src\.engine\.tuner\.Tuner\."
                                          r"_build_and_fit_model.*written against keras-tuner 1\.4\.8"):
        check_keras_tuner()
    monkeypatch.undo()

    def init_without_flag(self, oracle):
        self.oracle = oracle

    monkeypatch.setattr(oracle_chief.OracleServicer, "__init__", init_without_flag)
    with pytest.raises(TuningError, match=r"OracleServicer\.stop_triggered"):
        check_keras_tuner()
    monkeypatch.undo()
    monkeypatch.delattr(protos, "get_service_grpc")
    with pytest.raises(TuningError, match=r"keras_tuner\.src\.protos\.get_service_grpc, .* for registering"):
        check_keras_tuner()


def test_tuners_take_genrenet_options_as_constructor_arguments(tmp_path, monkeypatch):
    from genrenet.tuning.distributed import ChiefSettings, make_tuner
    from genrenet.tuning.hypermodel import GenreHyperModel

    hm = GenreHyperModel("feed_forward", (8, 8, 1), 2, space=TINY_SPACE)
    chief = ChiefSettings(expected_workers=3, timeout=9.0, identity={"fingerprint": "aaaa"}, lease=4.0)
    common = dict(objective="val_accuracy", max_trials=4, epochs=2, seed=1, directory=tmp_path, progress=False)
    for kind in ("random", "bayesian", "hyperband"):
        kt = make_tuner(kind, hm, role=None, project_name=kind, chief=chief, **common)
        assert (kt.role, kt.show_progress, kt.progress_total, kt.chief) == (None, False, 4, chief)
        assert kt.keep_checkpoints == (kind == "hyperband") and kt.oracle.max_trials == 4
        assert not [name for name in vars(kt) if name.startswith("_gn")]
    # a worker's tuner talks to the chief through Keras Tuner's client, whose stub genrenet wraps
    for var, value in (("KERASTUNER_ORACLE_IP", "127.0.0.1"), ("KERASTUNER_ORACLE_PORT", str(_free_port())),
                       ("KERASTUNER_TUNER_ID", "tuner0")):
        monkeypatch.setenv(var, value)
    kt = make_tuner("random", hm, role="worker", project_name="w", **common)
    assert kt.progress_total is None and kt.oracle.stub is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_worker_without_chief_times_out(tmp_path, monkeypatch):
    from genrenet.tuning import TuningError, run_search

    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(_free_port()))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    X, y, groups = _tiny_data()
    with pytest.raises(ParameterError, match="project_name is required"):
        run_search("feed_forward", (X, y), groups=groups, out_dir=tmp_path, progress=False)
    start = time.monotonic()
    with pytest.raises(TuningError, match="could not reach the chief"):
        run_search("feed_forward", (X, y), groups=groups, out_dir=tmp_path, project_name="p", timeout=1.5,
                   space=TINY_SPACE, progress=False)
    assert time.monotonic() - start < 30


def _tune_cmd(npz, out, *, trials, seed=7, workers=1):
    return [sys.executable, "-m", "genrenet", "tune", "--model", "feed_forward", "--data", str(npz),
            "--tuner", "random", "--trials", str(trials), "--epochs", "1", "--seed", str(seed),
            "--out", str(out), "--project", "dist", "--workers", str(workers), "--timeout", "150", "--quiet",
            "--space", json.dumps(TINY_SPACE)]


def _dist_env(port: int, tuner_id: str) -> dict:
    return {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
            "KERASTUNER_TUNER_ID": tuner_id, "CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTEROP_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "1"}


class _Processes:
    """Chief and worker processes of one distributed search, killed if the test fails."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        with open(self.logdir / f"{name}.log", "w") as log:
            self.procs[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        return self.procs[name]

    def wait(self, *names: str, within: float = 240.0) -> dict[str, str]:
        deadline = time.monotonic() + within
        for name in names or list(self.procs):
            self.procs[name].wait(timeout=max(1.0, deadline - time.monotonic()))
        return {name: self.log(name) for name in names or self.procs}

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text()

    def kill_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def processes(tmp_path):
    procs = _Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.kill_all()


@pytest.mark.slow
def test_distributed_chief_and_two_workers(tmp_path, processes):
    X, y, groups = _tiny_data(seed=1)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, X=X, y=y, groups=groups)
    out = tmp_path / "runs"
    port = _free_port()
    max_trials = 5
    cmd = _tune_cmd(npz, out, trials=max_trials, workers=2)
    for tuner_id in ("chief", "tuner0", "tuner1"):
        processes.start(tuner_id, cmd, _dist_env(port, tuner_id))
        if tuner_id == "chief":
            time.sleep(1.0)
    outputs = processes.wait("chief", "tuner0", "tuner1")
    for tuner_id, proc in processes.procs.items():
        assert proc.returncode == 0, f"{tuner_id} exited with {proc.returncode}:\n{outputs[tuner_id][-3000:]}"

    project = out / "dist"
    trials = load_trials(project)
    assert len(trials) == max_trials
    assert all(t["status"] == "COMPLETED" for t in trials), trials
    ids = [t["trial_id"] for t in trials]
    assert len(set(ids)) == max_trials
    hps = {json.dumps({k: v for k, v in t["values"].items()}, sort_keys=True) for t in trials}
    assert len(hps) == max_trials
    # each trial was run by exactly one worker, and only workers ran trials
    from genrenet.tuning import worker_trials

    ran = worker_trials(project)
    assert set(ran) <= {"tuner0", "tuner1"}
    flat = [t for runs in ran.values() for t in runs]
    assert sorted(flat) == sorted(ids)
    best = json.loads((project / "best.json").read_text())
    assert best["role"] == "chief" and best["trials_completed"] == max_trials
    assert set(best["workers"]["stopped"]) == {"tuner0", "tuner1"}
    assert "best hyperparameters" in outputs["chief"]
    oracle = json.loads((project / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []  # the chief saved its final state

    # extending the finished search by one trial runs that trial only, none of the finished ones again
    before = {t["trial_id"]: t["score"] for t in trials}
    cmd = _tune_cmd(npz, out, trials=max_trials + 1, workers=1)
    processes.start("chief2", cmd, _dist_env(port, "chief"))
    time.sleep(1.0)
    processes.start("tuner0-again", cmd, _dist_env(port, "tuner0"))
    outputs = processes.wait("chief2", "tuner0-again")
    assert processes.procs["chief2"].returncode == 0, outputs["chief2"][-3000:]
    assert worker_trials(project)["tuner0"] == ran.get("tuner0", []) + ["5"], outputs["tuner0-again"][-3000:]
    again = load_trials(project)
    assert len(again) == max_trials + 1 and all(t["status"] == "COMPLETED" for t in again)
    assert {t["trial_id"]: t["score"] for t in again if t["trial_id"] in before} == before
    flat = [t for runs in worker_trials(project).values() for t in runs]
    assert sorted(flat) == sorted(t["trial_id"] for t in again)  # no trial ran twice


def test_hypermodel_refuses_other_data_than_the_chiefs():
    import keras_tuner

    from genrenet.tuning import GenreHyperModel

    hm = GenreHyperModel("feed_forward", (8, 8, 1), 3, space=TINY_SPACE, fingerprint="aaaa")
    assert isinstance(hm, keras_tuner.HyperModel)
    fresh = keras_tuner.HyperParameters()
    model = hm.build(fresh)
    assert model.output_shape == (None, 3)
    assert fresh.values["data_fingerprint"] == "aaaa" and fresh.values["filters"] in (2, 4)
    chiefs = keras_tuner.HyperParameters()
    chiefs.Fixed("data_fingerprint", "bbbb")  # the value a trial from another data set carries
    with pytest.raises(keras_tuner.errors.FatalError, match="differs"):
        hm.build(chiefs)


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
def test_pictures_reach_the_model_scaled_like_in_training():
    """uint8 windows are divided by 255 batch by batch (genrenet.train's pipeline), float windows pass as they are."""
    import keras_tuner

    from genrenet._tf import keras
    from genrenet.tuning.hypermodel import GenreHyperModel
    from genrenet.tuning.search import _prepare

    X = np.full((12, 4, 4, 1), 255, dtype=np.uint8)
    y = np.repeat([0, 1], 6)
    groups = np.arange(12) // 2
    data = _prepare((X, y), split=None, validation_data=None, groups=groups, val_fraction=0.34, seed=0)
    assert data.input_scale == 255.0 and data.X.dtype == np.uint8  # no float copy of the whole array
    as_floats = _prepare((X.astype(np.float32), y), split=None, validation_data=None, groups=groups,
                         val_fraction=0.34, seed=0)
    assert as_floats.input_scale == 1.0
    # a frozen model that outputs the mean input: loss 0 exactly when the windows arrive in [0, 1]
    mean = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(1 / 16),
                                                use_bias=False, trainable=False)])
    mean.compile(loss="mse")
    hm = GenreHyperModel("feed_forward", (4, 4, 1), 2, batch_size=4, input_scale=data.input_scale)
    ones = np.ones(len(data.X))
    fit = hm.fit(keras_tuner.HyperParameters(), mean, data.X, ones, validation_data=(data.X_val, np.ones(len(data.X_val))),
                 epochs=1, verbose=0)
    assert fit.history["loss"][0] == pytest.approx(0.0, abs=1e-6)
    assert fit.history["val_loss"][0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("tuner", ["hyperband", "bayesian"])
def test_other_tuners_finish_a_tiny_search(tmp_path, tuner):
    """Hyperband and Bayesian optimisation run through the same runner and save their best."""
    from genrenet.tuning import run_search

    X, y, groups = _tiny_data()
    result = run_search("feed_forward", (X, y), groups=groups, tuner=tuner, max_trials=2, epochs=2, seed=5,
                        out_dir=tmp_path, space=TINY_SPACE, progress=False)
    best = json.loads((result.project_dir / "best.json").read_text())
    assert best["trials_completed"] >= 1
    assert best["best_score"] == pytest.approx(max(t["score"] for t in result.trials if t["score"] is not None))
    assert tuner in result.project_dir.name


# A chief or worker that calls run_search directly (for options the command line does not have).
# With "die_in_fit" the worker kills itself with SIGKILL as soon as it starts training a trial.
_RUNNER = """
import json, os, signal, sys
import numpy as np
import genrenet.tuning as tuning
from genrenet.tuning.hypermodel import GenreHyperModel

args = json.loads(sys.argv[1])
if args.pop("die_in_fit", False):
    GenreHyperModel.fit = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
with np.load(args.pop("npz")) as d:
    X, y, groups = d["X"], d["y"], d["groups"]
result = tuning.run_search("feed_forward", (X, y), groups=groups, progress=False, **args)
print("trials run here:", [t["trial_id"] for t in result.trials])
"""


@pytest.mark.slow
def test_distributed_search_survives_a_mismatched_and_a_dead_worker(tmp_path, processes):
    """A worker with other data is refused before it takes a trial; a killed worker's trial is reassigned."""
    X, y, groups = _tiny_data(seed=2)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, X=X, y=y, groups=groups)
    port = _free_port()
    common = {"npz": str(npz), "tuner": "random", "max_trials": 3, "epochs": 1, "seed": 7,
              "out_dir": str(tmp_path / "runs"), "project_name": "dist", "space": TINY_SPACE, "timeout": 150}

    def start(name, tuner_id, **options):
        cmd = [sys.executable, "-c", _RUNNER, json.dumps({**common, **options})]
        return processes.start(name, cmd, _dist_env(port, tuner_id))

    start("chief", "chief", workers=3, lease=2.0)
    time.sleep(1.0)
    # another seed gives another hold-out split, hence other training data: refused at once
    bad = start("bad", "tuner9", seed=8)
    out = processes.wait("bad", within=120)["bad"]
    assert bad.returncode != 0 and "refused worker tuner9" in out and "fingerprint" in out, out[-3000:]
    assert "seed 8 differs from the chief's 7" in out
    # this worker takes trial 0 and dies without a word
    victim = start("victim", "tuner1", die_in_fit=True)
    processes.wait("victim", within=120)
    assert victim.returncode == -signal.SIGKILL, processes.log("victim")[-3000:]
    good = start("good", "tuner0")
    outputs = processes.wait("chief", "good", within=200)
    assert processes.procs["chief"].returncode == 0, outputs["chief"][-3000:]
    assert good.returncode == 0, outputs["good"][-3000:]

    project = tmp_path / "runs" / "dist"
    trials = load_trials(project)
    assert sorted(t["trial_id"] for t in trials) == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" for t in trials), trials
    from genrenet.tuning import worker_trials

    assert worker_trials(project) == {"tuner0": worker_trials(project)["tuner0"]}  # the only worker that ran
    assert sorted(worker_trials(project)["tuner0"]) == ["0", "1", "2"]
    best = json.loads((project / "best.json").read_text())
    workers = best["workers"]
    assert list(workers["refused"]) == ["tuner9"] and "fingerprint" in workers["refused"]["tuner9"]
    assert [(r["tuner_id"], r["trial_id"]) for r in workers["reclaimed"]] == [("tuner1", "0")]
    assert "silent for" in workers["reclaimed"][0]["why"] and best["trials_completed"] == 3
    assert "worker tuner1 silent for" in outputs["chief"]
