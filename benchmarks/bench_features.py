"""Benchmark of the feature pipeline against a plain librosa loop.

Book chapter 05 (audio processing: "how fast is the pipeline") quotes this script's
output; notebook ``notebooks/signal_processing.ipynb`` shows the same features.

What is timed, on the same files (default ``../shared/data/gtzan-mini`` when present,
else a freshly generated demo corpus; ``--data DIR`` to choose):

* **genrenet**: ``genrenet.features.extract_file(PRESETS["logmel"], path)`` per file, in a
  process pool of ``--jobs`` workers (and, for reference, in one process);
* **librosa loop**: ``librosa.load(path, sr=22050)``, the same 3 s / 1.5 s windows, then
  ``librosa.feature.melspectrogram`` + ``librosa.power_to_db`` per window, in one process -
  the straightforward way to compute the same numbers;
* **librosa whole file** (context only): one melspectrogram + power_to_db per file
  without windows (less work, different output).

Both sides are warmed up first (imports, librosa's JIT, FFT plans, worker start-up).
The single-process contenders are timed interleaved, file by file in alternating order,
so a shared machine's changing load affects them alike; CPU time is reported next to
wall time. The pool is timed separately (its speed depends on free cores). The script
prints files per second, the speed-ups, and the largest absolute difference between the
two log-mel outputs in dB; ``--json OUT`` also writes the numbers.

Usage::

    python benchmarks/bench_features.py [--data DIR] [--limit N] [--jobs 2] [--blas-threads 1] [--json out.json]
"""

from __future__ import annotations

import os
import sys

# One BLAS thread per process (both sides alike), set before NumPy loads: with a pool of one
# worker per core, BLAS threads would only compete for the same cores. Override: --blas-threads N.
if "--blas-threads" in sys.argv[:-1]:
    _threads = sys.argv[sys.argv.index("--blas-threads") + 1]
else:
    _threads = "1"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini"


def _files(data: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in data.rglob("*.wav") if not p.name.startswith("."))
    if not files:
        from genrenet.errors import DataError

        raise DataError(f"no .wav files under {data}")
    return files[:limit] if limit else files


def _ours(path: str) -> np.ndarray:
    from genrenet.features import PRESETS, extract_file

    return extract_file(PRESETS["logmel"], path)


def _warm_worker() -> None:
    from genrenet.features import PRESETS, extract

    extract(PRESETS["logmel"], np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32), 22050)


def _librosa_windows(path: str) -> np.ndarray:
    import librosa

    from genrenet.audio import windows

    y, sr = librosa.load(path, sr=22050)
    out = [librosa.power_to_db(librosa.feature.melspectrogram(y=w, sr=sr, n_fft=2048, hop_length=512, n_mels=128))
           for w in windows(y, sr, window=3.0, hop=1.5)]
    return np.stack(out)[..., None]


def _librosa_whole(path: str) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=22050)
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))


def _interleaved(fns: dict, files) -> tuple[dict, dict, dict]:
    """Time every function on every file, alternating the order file by file.

    On a shared machine the load changes from minute to minute; measuring the
    contenders side by side on each file exposes them to the same conditions.
    Returns wall seconds, CPU seconds (this process) and outputs per function.
    """
    wall = dict.fromkeys(fns, 0.0)
    cpu = dict.fromkeys(fns, 0.0)
    outs = {name: [] for name in fns}
    names = list(fns)
    for i, path in enumerate(files):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            w0, c0 = time.perf_counter(), time.process_time()
            outs[name].append(fns[name](str(path)))
            wall[name] += time.perf_counter() - w0
            cpu[name] += time.process_time() - c0
    return wall, cpu, outs


def _pool_time(files, jobs: int) -> tuple[float, list[np.ndarray]]:
    with ProcessPoolExecutor(max_workers=jobs, initializer=_warm_worker) as pool:
        list(pool.map(_warm_worker_task, range(jobs)))  # start and warm every worker
        start = time.perf_counter()
        outs = list(pool.map(_ours, [str(p) for p in files], chunksize=max(1, len(files) // (8 * jobs))))
        return time.perf_counter() - start, outs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of .wav files (searched recursively)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N files")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads per process, both sides (default 1; read before NumPy loads)")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    if args.data is not None:
        data, label = args.data, str(args.data)
    elif (DEFAULT_DATA / "MANIFEST.tsv").exists():
        data, label = DEFAULT_DATA, "gtzan-mini (real GTZAN subset)"
    else:
        from genrenet.datasets.demo import generate_demo

        data = generate_demo(Path(tempfile.mkdtemp(prefix="bench-demo-")), n_per_genre=12, progress=False)
        label = "synthetic demo corpus (72 x 10 s)"
    files = _files(data, args.limit)
    seconds_audio = sum(__import__("soundfile").info(str(p)).duration for p in files)
    print(f"data: {label}: {len(files)} files, {seconds_audio / 60:.1f} min of audio; jobs={args.jobs}; "
          f"BLAS threads/process={os.environ.get('OPENBLAS_NUM_THREADS')}; cpu_count={os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.2f}")

    # warm-up: imports, librosa's numba JIT, FFT plans, mel filters
    for fn in (_ours, _librosa_windows, _librosa_whole):
        fn(str(files[0]))

    fns = {"librosa": _librosa_windows, "genrenet": _ours, "librosa_whole": _librosa_whole}
    wall, cpu, outs = _interleaved(fns, tqdm(files, desc="single process, interleaved", unit="file"))
    load_single = os.getloadavg()[0]
    t_pool, pooled = _pool_time(files, args.jobs)
    load_pool = os.getloadavg()[0]

    ref, ours = outs["librosa"], outs["genrenet"]
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref, strict=True))
    same_pool = all(np.array_equal(a, b) for a, b in zip(ours, pooled, strict=True))
    n = len(files)
    results = {
        "data": label,
        "files": n,
        "audio_seconds": seconds_audio,
        "jobs": args.jobs,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average_single": load_single,
        "load_average_pool": load_pool,
        "librosa_loop_files_per_s": n / wall["librosa"],
        "librosa_whole_file_files_per_s": n / wall["librosa_whole"],
        "genrenet_1_process_files_per_s": n / wall["genrenet"],
        "genrenet_pool_files_per_s": n / t_pool,
        "speedup_1_process_wall": wall["librosa"] / wall["genrenet"],
        "speedup_1_process_cpu": cpu["librosa"] / cpu["genrenet"],
        "speedup_pool_vs_librosa_loop": (n / t_pool) / (n / wall["librosa"]),
        "max_abs_diff_db": diff,
        "pool_equals_single_process": same_pool,
        "genrenet_ms_per_30s_of_audio": 1000 * wall["genrenet"] / seconds_audio * 30.0,
        "genrenet_cpu_ms_per_30s_of_audio": 1000 * cpu["genrenet"] / seconds_audio * 30.0,
    }
    r = results
    print("single process, the contenders interleaved file by file (same machine load):")
    print(f"  librosa loop (load + melspectrogram + power_to_db per window): {r['librosa_loop_files_per_s']:8.2f} files/s")
    print(f"  librosa whole file (no windows; context only):                 {r['librosa_whole_file_files_per_s']:8.2f} files/s")
    print(f"  genrenet extract_file:                                         {r['genrenet_1_process_files_per_s']:8.2f} files/s"
          f"  -> {r['speedup_1_process_wall']:.2f}x wall, {r['speedup_1_process_cpu']:.2f}x CPU time")
    print(f"  genrenet per 30 s of audio: {r['genrenet_ms_per_30s_of_audio']:.1f} ms wall, "
          f"{r['genrenet_cpu_ms_per_30s_of_audio']:.1f} ms CPU")
    print(f"process pool, {args.jobs} workers: genrenet {r['genrenet_pool_files_per_s']:.2f} files/s "
          f"-> {r['speedup_pool_vs_librosa_loop']:.2f}x the single-process librosa loop "
          f"(load average {load_pool:.1f} on {os.cpu_count()} cores)")
    print(f"max |genrenet - librosa| over all log-mel values: {diff:.2e} dB "
          f"({'within' if diff <= 1e-3 else 'ABOVE'} the 1e-3 dB goal); pool output identical: {same_pool}")
    if args.json:
        from genrenet.io import atomic_write_json

        atomic_write_json(args.json, results)
        print(f"wrote {args.json}")
    return 0


def _warm_worker_task(_: int) -> int:
    return os.getpid()


if __name__ == "__main__":
    sys.exit(main())
