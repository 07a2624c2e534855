"""Benchmark of the feature pipeline against librosa's whole-file log-mel, in one process.

Book chapter 05 (audio processing: "how fast is the pipeline") quotes this script's
output; notebook ``notebooks/signal_processing.ipynb`` shows the same features.

What is timed, on the same files (default ``../shared/data/gtzan-mini`` when present,
else a freshly generated demo corpus; ``--data DIR`` to choose), in this one process:

* **genrenet**: ``genrenet.features.extract_file(PRESETS["logmel"], path)``: decode, one
  STFT + mel projection + dB pass over the whole track, then every 3 s model window cut
  from it with its own 80 dB floor;
* **librosa whole file** (the reference of issue 13): ``librosa.load(path, sr=22050)`` +
  ``librosa.feature.melspectrogram`` + ``librosa.power_to_db`` of the whole file - one
  log-mel of the track and no windows at all;
* **features alone** (context): ``extract`` against ``melspectrogram`` + ``power_to_db`` on the
  same signal, decoded beforehand (what the one-pass computation changes; decoding costs
  genrenet more than librosa because it checks and bounds every upload);
* **librosa window loop** (``--loop``, context): the same windows computed one by one with
  librosa, the straightforward way to get the model's input.

Both sides are warmed up first (imports, FFT plans, mel filters). The contenders are timed
interleaved, file by file in alternating order, so a shared machine's changing load affects
them alike; CPU time is reported next to wall time. Goal: genrenet's files/s >= 1.5 x
librosa's whole-file files/s. Outside the timing, every genrenet window is compared with
librosa's whole-file log-mel on the same frames (goal: max difference <= 1e-3 dB).
``--jobs N`` also times a process pool of N workers (context). ``--json OUT`` writes the
numbers (default ``benchmarks/results/features.json``).

Usage::

    python benchmarks/bench_features.py [--data DIR] [--limit N] [--loop] [--jobs 0] [--json OUT]
"""

from __future__ import annotations

import os
import sys

# One BLAS thread per process (both sides alike), set before NumPy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("GENRENET_SHARED_DATA", ROOT.parent / "shared" / "data")) / "gtzan-mini"
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "features.json"


def _files(data: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in data.rglob("*.wav") if not p.name.startswith("."))
    if not files:
        from genrenet.errors import DataError

        raise DataError(f"no .wav files under {data}")
    return files[:limit] if limit else files


def _ours(path: str) -> np.ndarray:
    from genrenet.features import PRESETS, extract_file

    return extract_file(PRESETS["logmel"], path)


def _librosa_whole(path: str) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=22050)
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))


def _librosa_loop(path: str) -> np.ndarray:
    import librosa

    from genrenet.audio import windows

    y, sr = librosa.load(path, sr=22050)
    return np.stack([librosa.power_to_db(librosa.feature.melspectrogram(y=w, sr=sr))
                     for w in windows(y, sr, window=3.0, hop=1.5)])


def max_difference_db(path: Path, ours: np.ndarray) -> float:
    """Largest |genrenet - librosa whole-file log-mel| over every window of ``path``, same frames."""
    import librosa

    from genrenet.features import PRESETS, window_starts

    spec = PRESETS["logmel"]
    y, sr = librosa.load(str(path), sr=spec.sr)
    starts = window_starts(spec, y.size)
    end = int(starts[-1]) + spec.window_samples
    y = np.concatenate([y, np.zeros(max(0, end - y.size), np.float32)])  # the zero-padded tail window
    mel = librosa.feature.melspectrogram(y=y, sr=sr)
    worst = 0.0
    for k, start in enumerate(starts):
        j = int(start) // spec.hop_length
        ref = librosa.power_to_db(mel[:, j: j + spec.n_frames], top_db=spec.top_db)
        worst = max(worst, float(np.abs(ours[k, ..., 0] - ref).max()))
    return worst


def _signal_only(files) -> dict[str, float]:
    """Wall seconds of the feature computation alone, both sides on the same decoded signal, interleaved."""
    import librosa

    from genrenet.features import PRESETS, extract

    spec = PRESETS["logmel"]
    wall = {"genrenet_extract": 0.0, "librosa_mel_db": 0.0}
    fns = {"genrenet_extract": lambda y: extract(spec, y, 22050),
           "librosa_mel_db": lambda y: librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050))}
    for i, path in enumerate(files):
        y, _ = librosa.load(str(path), sr=22050)
        for name in list(fns) if i % 2 == 0 else list(fns)[::-1]:
            t0 = time.perf_counter()
            fns[name](y)
            wall[name] += time.perf_counter() - t0
    return wall


def _interleaved(fns: dict, files) -> tuple[dict, dict, list]:
    """Time every function on every file, alternating the order file by file; keep genrenet's outputs."""
    wall = dict.fromkeys(fns, 0.0)
    cpu = dict.fromkeys(fns, 0.0)
    ours = []
    names = list(fns)
    for i, path in enumerate(files):
        for name in names if i % 2 == 0 else names[::-1]:
            w0, c0 = time.perf_counter(), time.process_time()
            out = fns[name](str(path))
            wall[name] += time.perf_counter() - w0
            cpu[name] += time.process_time() - c0
            if name == "genrenet":
                ours.append(out)
    return wall, cpu, ours


def _warm_worker_task(_: int) -> int:
    from genrenet.features import PRESETS, extract

    extract(PRESETS["logmel"], np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32), 22050)
    return os.getpid()


def _pool_time(files, jobs: int) -> float:
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_warm_worker_task, range(jobs)))
        start = time.perf_counter()
        list(pool.map(_ours, [str(p) for p in files], chunksize=max(1, len(files) // (8 * jobs))))
        return time.perf_counter() - start


def _data(arg: Path | None) -> tuple[Path, str]:
    if arg is not None:
        return arg, str(arg)
    if (DEFAULT_DATA / "MANIFEST.tsv").exists():
        return DEFAULT_DATA, "gtzan-mini (real GTZAN subset, 22050 Hz WAV)"
    from genrenet.datasets.demo import generate_demo

    data = generate_demo(Path(tempfile.mkdtemp(prefix="bench-demo-")), per_genre=12, progress=False)
    return data, "synthetic demo corpus (72 x 10 s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of .wav files (searched recursively)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N files")
    parser.add_argument("--loop", action="store_true", help="also time librosa's window-by-window loop")
    parser.add_argument("--jobs", type=int, default=0, help="also time a pool of N worker processes")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    data, label = _data(args.data)
    files = _files(data, args.limit)
    seconds_audio = sum(__import__("soundfile").info(str(p)).duration for p in files)
    load_before = os.getloadavg()[0]
    print(f"data: {label}: {len(files)} files, {seconds_audio / 60:.1f} min of audio; "
          f"cpu_count={os.cpu_count()}; load average {load_before:.2f}")
    fns = {"genrenet": _ours, "librosa_whole": _librosa_whole}
    if args.loop:
        fns["librosa_loop"] = _librosa_loop
    for fn in fns.values():  # warm-up
        fn(str(files[0]))
    wall, cpu, ours = _interleaved(fns, tqdm(files, desc="interleaved, one process", unit="file"))
    load_after = os.getloadavg()[0]
    diff = max(max_difference_db(p, o) for p, o in zip(files, ours, strict=True))
    signal_wall = _signal_only(files)
    n = len(files)
    r = {
        "data": label, "files": n, "audio_seconds": round(seconds_audio, 1), "cpu_count": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_after,
        "files_per_s": {k: n / v for k, v in wall.items()},
        "cpu_ms_per_file": {k: 1000 * v / n for k, v in cpu.items()},
        "speedup_vs_librosa_whole_file_wall": wall["librosa_whole"] / wall["genrenet"],
        "speedup_vs_librosa_whole_file_cpu": cpu["librosa_whole"] / cpu["genrenet"],
        "goal_speedup": 1.5,
        "features_only_files_per_s": {k: len(files) / v for k, v in signal_wall.items()},
        "features_only_speedup_wall": signal_wall["librosa_mel_db"] / signal_wall["genrenet_extract"],
        "max_abs_diff_db_vs_librosa_whole_file_same_frames": diff,
        "goal_max_abs_diff_db": 1e-3,
    }
    print("one process, contenders interleaved file by file:")
    for k in fns:
        print(f"  {k:15s} {r['files_per_s'][k]:8.2f} files/s   {r['cpu_ms_per_file'][k]:7.1f} ms CPU per file")
    print(f"genrenet / librosa whole file: {r['speedup_vs_librosa_whole_file_wall']:.2f}x wall, "
          f"{r['speedup_vs_librosa_whole_file_cpu']:.2f}x CPU (goal >= 1.5x)")
    print(f"features alone on the same decoded signal (genrenet extract vs librosa melspectrogram + power_to_db): "
          f"{r['features_only_speedup_wall']:.2f}x")
    print(f"max |genrenet - librosa whole-file log-mel| on the same frames: {diff:.2e} dB (goal <= 1e-3 dB)")
    if args.jobs > 0:
        t_pool = _pool_time(files, args.jobs)
        r["pool"] = {"jobs": args.jobs, "files_per_s": n / t_pool, "load_average": os.getloadavg()[0]}
        print(f"process pool of {args.jobs}: {n / t_pool:.2f} files/s")
    from genrenet.io import atomic_write_json

    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.json, r, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
