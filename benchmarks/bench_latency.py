"""Detector latency against a bare librosa load + mel of the same file, measured in the same run.

Issue 13's goal: the compact CNN's end-to-end ``POST /api/predict`` of a 30 s WAV takes at
most 2x the time of ``librosa.load`` + ``librosa.feature.melspectrogram`` of the same file.

The script starts the production server (the documented gunicorn command, on a free port
of 127.0.0.1, as ``bench_predict.py`` does) with the shipped models, finds the compact CNN
(``"model": "compact_cnn"`` in ``/api/models``), and then alternates, ``--requests`` times:

* one ``POST /api/predict?model=<compact CNN>`` of the file's bytes with a keep-alive client
  (decode, features, inference, JSON, HTTP - everything a user waits for);
* one ``librosa.load(path, sr=22050)`` + ``melspectrogram`` (+ ``power_to_db`` timed
  separately as ``librosa_logmel``) in this process - the reference.

Alternating puts both under the same machine load. Medians, p95 and the ratio of the medians
go to ``--json`` (default ``benchmarks/results/latency.json``).

Book chapter "The genre-detector website" (``book/dev_website.md``) quotes the figures.

Usage::

    python benchmarks/bench_latency.py [--audio FILE] [--requests 60] [--warmup 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_predict import pick_audio, start_server, stop_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latency.json"


def _stats(times: list[float]) -> dict[str, float]:
    ms = sorted(1000 * t for t in times)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, int(np.ceil(0.95 * len(ms))) - 1)], 2),
            "min_ms": round(ms[0], 2)}


def _compact_cnn(url: str) -> str:
    import requests

    models = requests.get(url + "/api/models", timeout=30).json()["models"]
    for m in models:
        if m.get("model") == "compact_cnn":
            return m["name"]
    raise SystemExit(f"no compact CNN among the served models: {[m['name'] for m in models]}")


def measure(url: str, path: Path, *, n: int, warmup: int) -> dict:
    """Alternate POSTs and librosa computations; return their timings."""
    import librosa
    import requests

    name = _compact_cnn(url)
    data = path.read_bytes()
    query = "?model=" + requests.utils.quote(name)
    times: dict[str, list[float]] = {"post": [], "librosa_mel": [], "librosa_logmel": []}

    def post(s):
        r = s.post(url + "/api/predict" + query, files={"file": (path.name, data, "audio/wav")}, timeout=120)
        r.raise_for_status()
        assert r.json()[name]["genre"], "the server answered without a genre"

    def mel():
        y, sr = librosa.load(str(path), sr=22050)
        return librosa.feature.melspectrogram(y=y, sr=sr)

    def logmel():
        return librosa.power_to_db(mel())

    with requests.Session() as s:
        steps = {"post": lambda: post(s), "librosa_mel": mel, "librosa_logmel": logmel}
        for i in range(warmup + n):
            order = list(steps) if i % 2 == 0 else list(steps)[::-1]
            for key in order:
                t0 = time.perf_counter()
                steps[key]()
                if i >= warmup:
                    times[key].append(time.perf_counter() - t0)
    out = {key: _stats(v) for key, v in times.items()}
    out["model"] = name
    out["ratio_post_to_librosa_mel"] = round(out["post"]["median_ms"] / out["librosa_mel"]["median_ms"], 3)
    out["ratio_post_to_librosa_logmel"] = round(out["post"]["median_ms"] / out["librosa_logmel"]["median_ms"], 3)
    # the fastest run of each is the one least disturbed by other work on a shared machine
    out["ratio_of_minima_post_to_librosa_mel"] = round(out["post"]["min_ms"] / out["librosa_mel"]["min_ms"], 3)
    out["goal_ratio"] = 2.0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--audio", help="30 s WAV to send (default: a GTZAN-mini clip, else synthesised)")
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from genrenet.io import atomic_write_json

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        tmp = Path(tmp)
        audio_path, kind = pick_audio(args.audio, tmp)
        (tmp / "models").mkdir()
        load_before = os.getloadavg()[0]
        proc, url = start_server(tmp / "models", tmp / "gunicorn.log")
        try:
            result = measure(url, audio_path, n=args.requests, warmup=args.warmup)
        finally:
            stop_server(proc)
    result.update({"audio": str(audio_path), "audio_kind": kind, "cpu_count": os.cpu_count(),
                   "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
                   "server": "gunicorn -w 2 --threads 4 (documented production command)"})
    print(f"audio: {audio_path} ({kind}); model: {result['model']}")
    for key in ("post", "librosa_mel", "librosa_logmel"):
        r = result[key]
        print(f"  {key:15s} median {r['median_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms")
    print(f"POST / librosa load+mel = {result['ratio_post_to_librosa_mel']:.2f} (medians; goal <= 2), "
          f"{result['ratio_of_minima_post_to_librosa_mel']:.2f} (fastest runs); "
          f"POST / librosa load+log-mel = {result['ratio_post_to_librosa_logmel']:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.json, result, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
