"""The batch job on a real Dask cluster (scheduler + two workers on 127.0.0.1, started here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from genre_detector_helpers import HIGH_HZ, LOW_HZ, make_band_bundle, make_sklearn_bundle, tone, write_audio

pytest.importorskip("distributed")

from genrenet import batch, distributed  # noqa: E402
from genrenet.errors import ParameterError  # noqa: E402
from genrenet.predict import Predictor  # noqa: E402


def _spawn(args, log):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded worker processes, all on 127.0.0.1."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    info = tmp / "scheduler.json"
    log = open(tmp / "cluster.log", "wb")
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                     "127.0.0.1:0", "--scheduler-file", str(info)], log)]
    try:
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            procs.append(_spawn(["distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                 "--nworkers", "1", "--no-dashboard", "--local-directory", str(tmp)], log))
        client = Client(address, timeout="60s")
        client.wait_for_workers(2, timeout=120)
        yield client
        client.close()
    finally:
        for p in procs[::-1]:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask-job")
    bundles = [make_band_bundle(root / "band"), make_sklearn_bundle(root / "base")]
    uploads = root / "uploads"
    uploads.mkdir()
    for i in range(11):
        write_audio(uploads / f"t{i:02d}.wav", tone(LOW_HZ if i % 3 else HIGH_HZ, 1.2 + 0.4 * (i % 4), seed=i))
    (uploads / "zz-broken.wav").write_bytes(b"RIFF....WAVEfmt nothing else")
    return Predictor(bundles, include_default=False, warmup=False), uploads


def test_cluster_results_equal_the_local_run(cluster, job, tmp_path):
    predictor, uploads = job
    local = tmp_path / "local.csv"
    batch.predict_collection(uploads, local, predictor=predictor, jobs=0, batch_tracks=5, progress=False)
    remote = tmp_path / "cluster.csv"
    summary = distributed.predict_collection_dask(uploads, remote, cluster, predictor=predictor, batch_tracks=3,
                                                  progress=False)
    assert (summary.total, summary.classified, summary.failed) == (12, 11, 1)
    ran_on = cluster.run(lambda: sorted(distributed._PREDICTORS) != [])
    assert len(ran_on) == 2 and all(ran_on.values())  # both workers loaded the models and worked
    a, b = pd.read_csv(local), pd.read_csv(remote)
    pd.testing.assert_frame_equal(a, b)  # identical, bit for bit
    assert a.set_index("path").loc[str(uploads / "zz-broken.wav"), "error"]

    # a cluster run resumes a local one (and skips what it holds)
    partial = tmp_path / "partial.csv"
    batch.predict_collection(sorted(map(str, uploads.glob("t0*.wav"))), partial, predictor=predictor, jobs=0,
                             progress=False)
    again = distributed.predict_collection_dask(uploads, partial, cluster.scheduler.address, predictor=predictor,
                                                progress=False)
    assert again.skipped == 10 and again.classified + again.failed == 2
    pd.testing.assert_frame_equal(pd.read_csv(partial), a)


def test_no_scheduler_is_a_clear_error(job, tmp_path):
    predictor, uploads = job
    with pytest.raises(ParameterError, match="no Dask scheduler"):
        distributed.predict_collection_dask(uploads, tmp_path / "x.csv", "tcp://127.0.0.1:9", predictor=predictor,
                                            progress=False)
