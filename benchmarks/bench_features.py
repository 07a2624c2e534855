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
The script prints files per second, the speed-up, and the largest absolute difference
between the two log-mel outputs in dB; ``--json OUT`` also writes the numbers.

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


def _time(fn, files, *, pool: ProcessPoolExecutor | None = None) -> tuple[float, list[np.ndarray]]:
    start = time.perf_counter()
    if pool is None:
        outs = [fn(str(p)) for p in files]
    else:
        outs = list(pool.map(fn, [str(p) for p in files], chunksize=max(1, len(files) // (8 * pool._max_workers))))
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

    from tqdm.auto import tqdm

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
    _ours(str(files[0]))
    _librosa_windows(str(files[0]))
    _librosa_whole(str(files[0]))

    results = {}
    with tqdm(total=4, desc="benchmark", unit="run") as bar:
        t_lib, ref = _time(_librosa_windows, files)
        bar.update(1)
        t_whole, _ = _time(_librosa_whole, files)
        bar.update(1)
        t_one, ours_one = _time(_ours, files)
        bar.update(1)
        with ProcessPoolExecutor(max_workers=args.jobs, initializer=_warm_worker) as pool:
            list(pool.map(_warm_worker_task, range(args.jobs)))  # start and warm every worker
            t_pool, ours = _time(_ours, files, pool=pool)
        bar.update(1)

    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref, strict=True))
    same_one = all(np.array_equal(a, b) for a, b in zip(ours, ours_one, strict=True))
    n = len(files)
    results = {
        "data": label,
        "files": n,
        "audio_seconds": seconds_audio,
        "jobs": args.jobs,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average": os.getloadavg()[0],
        "librosa_loop_files_per_s": n / t_lib,
        "librosa_whole_file_files_per_s": n / t_whole,
        "genrenet_1_process_files_per_s": n / t_one,
        "genrenet_pool_files_per_s": n / t_pool,
        "speedup_pool_vs_librosa_loop": t_lib / t_pool,
        "speedup_1_process_vs_librosa_loop": t_lib / t_one,
        "max_abs_diff_db": diff,
        "pool_equals_single_process": same_one,
        "ms_per_30s_file_1_process": 1000 * t_one / n * 30.0 / (seconds_audio / n),
    }
    print(f"librosa loop (load + melspectrogram + power_to_db per window): {n / t_lib:8.2f} files/s")
    print(f"librosa whole file (no windows, context only):                {n / t_whole:8.2f} files/s")
    print(f"genrenet extract_file, 1 process:                             {n / t_one:8.2f} files/s "
          f"({t_lib / t_one:.2f}x)")
    print(f"genrenet extract_file, {args.jobs} processes:                            {n / t_pool:8.2f} files/s "
          f"({t_lib / t_pool:.2f}x)")
    print(f"max |genrenet - librosa| over all log-mel values: {diff:.2e} dB "
          f"({'OK' if diff <= 1e-3 else 'ABOVE'} the 1e-3 dB goal)")
    print(f"genrenet single-process time per 30 s of audio: {results['ms_per_30s_file_1_process']:.1f} ms")
    if args.json:
        from genrenet.io import atomic_write_json

        atomic_write_json(args.json, results)
        print(f"wrote {args.json}")
    return 0


def _warm_worker_task(_: int) -> int:
    return os.getpid()


if __name__ == "__main__":
    sys.exit(main())
