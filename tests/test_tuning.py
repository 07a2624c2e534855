"""Tests of genrenet.tuning: search spaces, a real 2-trial search, resume safety, distributed tuning."""

from __future__ import annotations

import json
import os
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
    assert set(SEARCH_SPACES) == {"feed_forward", "lenet", "cnn", "lstm", "compact_cnn"}
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
                        directory=tmp_path, space=TINY_SPACE, progress=False)
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

    # a second call is a fresh project; naming the first with other data is refused
    again = run_search("feed_forward", (X, y), groups=groups, max_trials=1, epochs=1, seed=3,
                       directory=tmp_path, space=TINY_SPACE, progress=False)
    assert again.project_dir != result.project_dir
    # naming the first project with the same data resumes it: a larger budget adds trials only
    resumed = run_search("feed_forward", (X, y), groups=groups, max_trials=3, epochs=1, seed=3,
                         directory=tmp_path, project_name=result.project_dir.name, space=TINY_SPACE, progress=False)
    assert resumed.project_dir == result.project_dir
    assert sorted(t["trial_id"] for t in resumed.trials) == ["0", "1", "2"]
    assert [t for t in resumed.trials if t["trial_id"] in ("0", "1")] == result.trials
    X2 = X + 1.0
    with pytest.raises(ParameterError, match="different data"):
        run_search("feed_forward", (X2, y), groups=groups, max_trials=2, epochs=1, seed=3, directory=tmp_path,
                   project_name=result.project_dir.name, space=TINY_SPACE, progress=False)


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
        run_search("feed_forward", (X, y), groups=groups, directory=tmp_path, progress=False)
    start = time.monotonic()
    with pytest.raises(TuningError, match="could not reach the chief"):
        run_search("feed_forward", (X, y), groups=groups, directory=tmp_path, project_name="p", timeout=1.5,
                   space=TINY_SPACE, progress=False)
    assert time.monotonic() - start < 30


@pytest.mark.slow
def test_distributed_chief_and_two_workers(tmp_path):
    X, y, groups = _tiny_data(seed=1)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, X=X, y=y, groups=groups)
    out = tmp_path / "runs"
    port = _free_port()
    max_trials = 5
    cmd = [sys.executable, "-m", "genrenet", "tune", "--model", "feed_forward", "--data", str(npz),
           "--tuner", "random", "--trials", str(max_trials), "--epochs", "1", "--seed", "7",
           "--out", str(out), "--project", "dist", "--workers", "2", "--timeout", "150", "--quiet",
           "--space", json.dumps(TINY_SPACE)]
    base_env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
                "CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
    procs = {}
    logs = {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            logs[tuner_id] = open(tmp_path / f"{tuner_id}.log", "w")
            procs[tuner_id] = subprocess.Popen(
                cmd, env={**base_env, "KERASTUNER_TUNER_ID": tuner_id}, stdout=logs[tuner_id],
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            if tuner_id == "chief":
                time.sleep(1.0)
        deadline = time.monotonic() + 240
        for proc in procs.values():
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for fh in logs.values():
            fh.close()
    outputs = {k: (tmp_path / f"{k}.log").read_text() for k in procs}
    for tuner_id, proc in procs.items():
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


@pytest.mark.parametrize("tuner", ["hyperband", "bayesian"])
def test_other_tuners_finish_a_tiny_search(tmp_path, tuner):
    """Hyperband and Bayesian optimisation run through the same runner and save their best."""
    from genrenet.tuning import run_search

    X, y, groups = _tiny_data()
    result = run_search("feed_forward", (X, y), groups=groups, tuner=tuner, max_trials=2, epochs=2, seed=5,
                        directory=tmp_path, space=TINY_SPACE, progress=False)
    best = json.loads((result.project_dir / "best.json").read_text())
    assert best["trials_completed"] >= 1
    assert best["best_score"] == pytest.approx(max(t["score"] for t in result.trials if t["score"] is not None))
    assert tuner in result.project_dir.name
