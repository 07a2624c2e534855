"""Time to embed a 30 s clip with the pretrained musicnn networks (issue 9, deliverable 2).

Goal: embedding a 30 s clip takes <= 100 ms on the 2-core development machine. The clip is a
full 30 s GTZAN-mini WAV (or, without the shared data, a synthesised 30 s signal), decoded once
at 16 kHz; timed is :func:`genrenet.embeddings.embed` (log-mel of the whole track in float32,
ten 3 s patches in one batch, one traced graph per network), for the MSD network alone and for
MSD and MTT together (the shipped default model's features). The first call, which loads the
weights and traces the graph, is not timed; the script checks that no later call retraces.

Used by the model card of the default model (``genrenet/pretrained/musicnn_gtzan10/MODEL_CARD.md``).

Usage::

    python benchmarks/bench_embeddings.py [--runs 30] [--json benchmarks/results/embeddings.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENRENET_SHARED_DATA", ROOT.parent / "shared" / "data")) / "gtzan-mini"
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "embeddings.json"
GOAL_MS = 100.0


def clip() -> tuple[np.ndarray, str]:
    """30 s at 16 kHz: a GTZAN-mini rock clip, else a synthesised signal."""
    from genrenet.audio import load
    from genrenet.embeddings import SR

    for path in sorted(SHARED.glob("rock/*.wav")):
        y, _ = load(path, sr=SR)
        if y.size >= 30 * SR:
            return y[: 30 * SR], f"{path.name} (GTZAN-mini)"
    rng = np.random.default_rng(0)
    t = np.arange(30 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32), "synthesised 30 s signal"


def time_embed(y: np.ndarray, models: tuple[str, ...], runs: int) -> dict[str, float]:
    from genrenet.embeddings import embed, load_musicnn

    embed(y, models=models, layers=("penultimate",))  # load and trace: not timed
    traces = [load_musicnn(m)._fn.experimental_get_tracing_count() for m in models]
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = embed(y, models=models, layers=("penultimate",))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    retraced = [load_musicnn(m)._fn.experimental_get_tracing_count() for m in models] != traces
    return {"patches": int(out.shape[0]), "median_ms": round(1000 * statistics.median(wall), 1),
            "min_ms": round(1000 * min(wall), 1), "cpu_median_ms": round(1000 * statistics.median(cpu), 1),
            "retraced": bool(retraced)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", default=str(DEFAULT_JSON))
    args = ap.parse_args(argv)
    import genrenet._tf  # noqa: F401 - TensorFlow's environment before it loads
    from genrenet.io import atomic_write_json

    y, what = clip()
    load_before = os.getloadavg()[0]
    results = {"clip": what, "cpu_count": os.cpu_count(), "goal_ms": GOAL_MS,
               "msd": time_embed(y, ("MSD_musicnn",), args.runs),
               "msd_mtt": time_embed(y, ("MSD_musicnn", "MTT_musicnn"), args.runs),
               "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2)}
    atomic_write_json(args.json, results)
    for key, label in (("msd", "MSD network"), ("msd_mtt", "MSD + MTT networks (default model)")):
        r = results[key]
        print(f"{label}: {r['patches']} patches, median {r['median_ms']} ms (min {r['min_ms']} ms, "
              f"CPU {r['cpu_median_ms']} ms), goal <= {GOAL_MS:.0f} ms, retraced: {r['retraced']}")
    print(f"load average {results['load_average_before']} -> {results['load_average_after']}; written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
