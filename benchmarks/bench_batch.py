"""Batch prediction throughput: 1,000 clips, extrapolated to a day of uploads (60,000 30 s tracks).

Issue 13's goal: ``genrenet predict DIR --out FILE`` (:func:`genrenet.batch.predict_collection`)
classifies 60,000 30 s tracks in at most one hour on this 2-core machine with the compact
CNN, i.e. at least 16.7 tracks/s.

The collection is made in a temporary folder (never in the repository): ``--clips`` links
named ``clip-0000.wav`` ... to the full 30 s WAV clips of ``../shared/data/gtzan-mini``,
cycling through them (the page cache serves them after the first pass, as it would a
local disk of uploads), or, without the shared data, synthesised 30 s WAVs. The batch job
runs with ``--jobs`` decoding processes (default: CPU cores) and batches of
``--batch-tracks`` tracks per model call; model loading is not timed.

In the same run, as the reference, a plain single-process librosa loop computes
``load`` + ``melspectrogram`` + ``power_to_db`` of the first ``--reference`` clips.

``--bundle DIR`` times another model (e.g. a transfer model) instead of the shipped
compact CNN. Results go to ``--json`` (default ``benchmarks/results/batch.json``). Used by the
book chapter "The genre-detector website" (``book/dev_website.md``) and the README.

Usage::

    python benchmarks/bench_batch.py [--clips 1000] [--jobs N] [--batch-tracks 32] [--bundle DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENRENET_SHARED_DATA", ROOT.parent / "shared" / "data")) / "gtzan-mini"
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "batch.json"
DAY = 60_000


def full_clips() -> list[Path]:
    """The full 30 s WAV clips of GTZAN-mini (empty without the shared data)."""
    manifest = SHARED / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    lines = manifest.read_text().splitlines()
    header = lines[0].split("\t")
    out = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=False))
        if row.get("full_30s", "").lower() in ("1", "true", "yes"):
            out.append(SHARED / row.get("path", row.get("file", "")))
    return [p for p in out if p.is_file()]


def make_collection(folder: Path, n: int) -> tuple[list[Path], str]:
    """``n`` 30 s clips in ``folder``: links to real clips, or synthesised WAVs."""
    folder.mkdir(parents=True, exist_ok=True)
    real = full_clips()
    paths = []
    if real:
        for i in range(n):
            link = folder / f"clip-{i:04d}.wav"
            link.symlink_to(real[i % len(real)])
            paths.append(link)
        return paths, f"{n} links to the {len(real)} full 30 s GTZAN-mini clips"
    import soundfile as sf

    rng = np.random.default_rng(42)
    t = np.arange(30 * 22050) / 22050
    for i in range(n):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        y = 0.3 * np.sin(2 * np.pi * f0 * t) * (1 + np.sin(2 * np.pi * rng.uniform(0.5, 4) * t)) / 2
        y += 0.02 * rng.standard_normal(t.size)
        path = folder / f"clip-{i:04d}.wav"
        sf.write(path, y.astype(np.float32), 22050, subtype="PCM_16")
        paths.append(path)
    return paths, f"{n} synthesised 30 s WAVs"


def librosa_reference(paths: list[Path]) -> float:
    """Tracks per second of a plain librosa load + log-mel loop in this process."""
    import librosa

    librosa.power_to_db(librosa.feature.melspectrogram(y=librosa.load(str(paths[0]), sr=22050)[0], sr=22050))
    start = time.perf_counter()
    for p in paths:
        y, sr = librosa.load(str(p), sr=22050)
        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))
    return len(paths) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=None, help="decoding processes (default: CPU cores)")
    ap.add_argument("--batch-tracks", type=int, default=32)
    ap.add_argument("--reference", type=int, default=100, help="clips timed with the librosa loop")
    ap.add_argument("--bundle", default=None, help="time this model bundle instead of the shipped compact CNN")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from genrenet.batch import predict_collection
    from genrenet.io import atomic_write_json
    from genrenet.predict import Predictor

    chosen = {}

    def predictor():  # called by predict_collection once its decoding processes run
        p = Predictor([args.bundle] if args.bundle else [], include_default=not args.bundle, warmup=True)
        chosen["name"], chosen["model"] = p.models[0].name, p.models[0].model
        return p

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        paths, kind = make_collection(Path(tmp) / "uploads", args.clips)
        print(f"collection: {kind}; cpu_count={os.cpu_count()}; load average {os.getloadavg()[0]:.2f}")
        load_before = os.getloadavg()[0]
        reference = librosa_reference(paths[: args.reference])
        print(f"librosa load + log-mel loop, one process: {reference:.1f} tracks/s")
        out = Path(tmp) / "predictions.parquet"
        summary = predict_collection(Path(tmp) / "uploads", out, predictor=predictor, jobs=args.jobs,
                                     batch_tracks=args.batch_tracks, progress=True)
        import pandas as pd

        errors = int(pd.read_parquet(out)["error"].notna().sum())
    rate = summary.tracks_per_second
    result = {
        "collection": kind, "clips": args.clips, "cpu_count": os.cpu_count(),
        "jobs": args.jobs or os.cpu_count(), "batch_tracks": args.batch_tracks,
        "model": chosen.get("name"), "architecture": chosen.get("model"),
        "seconds": round(summary.seconds, 2), "tracks_per_s": round(rate, 2), "errors": errors,
        "day_of_uploads_hours": round(DAY / rate / 3600, 3), "goal_tracks_per_s": round(DAY / 3600, 2),
        "librosa_logmel_loop_tracks_per_s": round(reference, 2),
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
    }
    print(f"{chosen.get('name')}: {summary.classified} classified, {errors} errors in {summary.seconds:.1f} s "
          f"= {rate:.1f} tracks/s -> 60,000 tracks in {DAY / rate / 3600:.2f} h (goal >= 16.7 tracks/s, <= 1 h)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.json, result, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
