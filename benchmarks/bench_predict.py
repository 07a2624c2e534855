"""End-to-end latency of the genre detector: POST /api/predict of a 30 s WAV.

Starts the production server (the documented gunicorn command, on a free port of
127.0.0.1) with the shipped default model plus the bundles of a models directory,
then times sequential requests with one keep-alive client:

* the default model alone (``/api/predict?model=<default>``),
* all available models (``/api/predict``),

reporting median, p95, mean and max over ``--requests`` requests after a few
warm-up requests, and an in-process breakdown (decode, features, inference) of
the same work without HTTP, and the resident memory of the whole server (gunicorn's
master and workers, every shipped model loaded, after the requests). Goals (issue 9): default
model median <= 150 ms, all shipped models median <= 300 ms, server memory <= 1.5 GB.

``--stand-ins`` adds untrained copies of the thesis's four models (200x200 RGB
image input, four genres) and the MFCC-statistics SVM baseline, so the "all
models" figure covers every architecture even where the book's trained bundles
are absent; their answers are meaningless, their cost is the real one.

Book chapter "The genre-detector website" (``book/dev_website.md``) describes the service measured here.

Usage::

    python benchmarks/bench_predict.py [--audio FILE] [--models-dir DIR] [--stand-ins]
                                       [--requests 50] [--out outputs/bench_predict.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENRENET_SHARED_DATA", ROOT.parent / "shared" / "data")) / "gtzan-mini"


def pick_audio(arg: str | None, tmp: Path) -> tuple[Path, str]:
    """A 30 s WAV: the given file, a full GTZAN-mini clip, or a synthesised one."""
    if arg:
        return Path(arg), "given file"
    manifest = SHARED / "MANIFEST.tsv"
    if manifest.exists():
        lines = manifest.read_text().splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(header, line.split("\t"), strict=False))
            if row.get("full_30s", "").lower() in ("1", "true", "yes") and row.get("path", row.get("file")):
                path = SHARED / row.get("path", row.get("file"))
                if path.exists():
                    return path, "GTZAN-mini clip (real music)"
        for path in sorted(SHARED.glob("rock/*.wav")):
            return path, "GTZAN-mini clip (real music)"
    import soundfile as sf

    from genrenet.synth import drum_pattern

    sr = 22050
    rng = np.random.default_rng(42)
    t = np.arange(30 * sr) / sr
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t) + 0.01 * rng.standard_normal(t.size)
    try:
        drums = drum_pattern({"kick": "x...x...", "snare": "..x...x.", "hat": "xxxxxxxx"}, bpm=120, sr=sr, bars=15)
        y[: min(len(y), len(drums))] += 0.5 * drums[: len(y)]
    except Exception:  # the synthesiser's options may differ; the tones alone are enough
        pass
    path = tmp / "synth30.wav"
    sf.write(path, (y / max(1.0, np.abs(y).max())).astype(np.float32), sr, subtype="PCM_16")
    return path, "synthesised 30 s signal"


def make_stand_ins(root: Path) -> list[str]:
    """Untrained bundles of the thesis's four models and the baseline (for timing only)."""
    from genrenet.bundle import save_bundle
    from genrenet.features import PRESETS, extract
    from genrenet.models import MODELS, build_model

    genres = ["classical", "country", "metal", "pop"]
    image = PRESETS["thesis_image"]
    names = []
    for key in ("feed_forward", "lenet", "cnn", "lstm"):
        model = build_model(key, image.shape, len(genres))
        name = f"{MODELS[key].title} [untrained stand-in]"
        save_bundle(root / key, model, {"name": name, "model": key, "genres": genres, "feature": image.to_dict(),
                                        "metrics": {}, "protocol": "untrained: latency benchmark only"})
        names.append(name)
    from genrenet.baseline import fit_baseline

    stats = PRESETS["mfcc_stats"]
    rng = np.random.default_rng(0)
    X = np.concatenate([extract(stats, (0.1 * (i + 1) * rng.standard_normal(22050 * 6)).astype(np.float32), 22050)
                        for i in range(8)])
    y = np.arange(len(X)) % len(genres)
    name = "MFCC-statistics SVM [untrained stand-in]"
    save_bundle(root / "baseline", fit_baseline(X, y, n_classes=len(genres)),
                {"name": name, "model": "baseline", "genres": genres, "feature": stats.to_dict(), "metrics": {},
                 "protocol": "fitted on noise: latency benchmark only"})
    names.append(name)
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    import requests

    from genrenet.web import PRODUCTION_COMMAND

    port = free_port()
    argv = shlex.split(PRODUCTION_COMMAND)
    argv[0] = str(Path(sys.executable).with_name("gunicorn"))
    argv[argv.index("-b") + 1] = f"127.0.0.1:{port}"
    env = dict(os.environ, GENRENET_MODELS=str(models_dir))
    with open(log, "wb") as fh:
        proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}); see {log}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"gunicorn did not start within 300 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def tree_memory_mb(pid: int) -> dict[str, float]:
    """Resident (RSS) and proportional (PSS: shared pages split between their users) memory in MB
    of a process and all its descendants, from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total = {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0}
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        fields = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if line.endswith("kB")}
        total["rss_mb"] += fields.get("Rss", 0) / 1024
        total["pss_mb"] += fields.get("Pss", 0) / 1024
        total["processes"] += 1
    return {k: round(v, 1) for k, v in total.items()}


def summarise(times: list[float]) -> dict[str, float]:
    ms = sorted(1000 * t for t in times)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, int(np.ceil(0.95 * len(ms))) - 1)], 1),
        "mean_ms": round(statistics.fmean(ms), 1),
        "max_ms": round(ms[-1], 1),
    }


def time_http(url: str, data: bytes, name: str, *, query: str, n: int, warmup: int) -> dict[str, float]:
    import requests

    times = []
    with requests.Session() as s:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            r = s.post(url + "/api/predict" + query, files={"file": (name, data, "audio/wav")}, timeout=120)
            dt = time.perf_counter() - t0
            r.raise_for_status()
            if i >= warmup:
                times.append(dt)
    return summarise(times)


def breakdown(models_dir: Path, data: bytes, name: str, *, n: int = 10) -> dict[str, dict[str, float]]:
    """Median in-process time of each stage, without HTTP."""
    from genrenet import audio, features
    from genrenet.predict import Predictor

    p = Predictor(models_dir=models_dir)
    out: dict[str, dict[str, float]] = {}
    t_dec = []
    for _ in range(n):
        t0 = time.perf_counter()
        y, sr = audio.load_bytes(data, filename_hint=name, sr=22050)
        t_dec.append(time.perf_counter() - t0)
    out["decode"] = {"median_ms": round(1000 * statistics.median(t_dec), 1)}
    done = set()
    for m in p._models:
        key = m.spec.key()
        tf_, ti = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            X = features.extract(m.spec, y, sr)
            t1 = time.perf_counter()
            m.runner(X)
            ti.append(time.perf_counter() - t1)
            tf_.append(t1 - t0)
        out[m.info.name] = {
            "windows": int(len(X)),
            "features_ms": round(1000 * statistics.median(tf_), 1) if key not in done else 0.0,
            "inference_ms": round(1000 * statistics.median(ti), 1),
        }
        done.add(key)
    for label, models in (("predict_bytes default", [p.model_names[0]]), ("predict_bytes all", None)):
        ts, cpu = [], []
        for _ in range(n):
            t0, c0 = time.perf_counter(), time.process_time()
            p.predict_bytes(data, name, models=models)
            ts.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        # CPU time (all threads) is what a request costs on an idle machine, whatever the contention now
        out[label] = {"median_ms": round(1000 * statistics.median(ts), 1),
                      "cpu_ms": round(1000 * statistics.median(cpu), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--audio", help="30 s WAV to send (default: a GTZAN-mini clip, else synthesised)")
    ap.add_argument("--models-dir", help="bundles served besides the default model")
    ap.add_argument("--stand-ins", action="store_true", help="add untrained thesis models + baseline (timing only)")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "outputs" / "bench_predict.json"))
    args = ap.parse_args(argv)
    # a plain `kill` must still stop the server started below (its own process group)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from genrenet.bundle import find_bundles
    from genrenet.io import atomic_write_json
    from genrenet.predict import default_bundle_path

    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        tmp = Path(tmp)
        audio_path, audio_kind = pick_audio(args.audio, tmp)
        data = audio_path.read_bytes()
        models_dir = tmp / "models"
        models_dir.mkdir()
        if args.models_dir:
            for i, b in enumerate(find_bundles(args.models_dir)):
                (models_dir / f"{i:02d}-{b.name}").symlink_to(b.resolve(), target_is_directory=True)
        if args.stand_ins:
            make_stand_ins(models_dir / "stand-ins")
        default = default_bundle_path()
        print(f"audio: {audio_path} ({audio_kind}, {len(data) / 1e6:.2f} MB)")
        print(f"default model: {default}")
        print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()}")
        log = tmp / "gunicorn.log"
        proc, url = start_server(models_dir, log)
        try:
            import requests

            info = requests.get(url + "/api/models", timeout=30).json()
            names = [m["name"] for m in info["models"]]
            default_name = info["default"]
            print(f"server {url}: {len(names)} models: {names}")
            results = {
                "audio": str(audio_path),
                "audio_kind": audio_kind,
                "bytes": len(data),
                "models": names,
                "cpu_count": os.cpu_count(),
                "load_average_before": os.getloadavg(),
                "server": "gunicorn -c python:genrenet.web.gunicorn_conf (documented production command, no nginx)",
                "default_only": time_http(url, data, audio_path.name, query=f"?model={requests.utils.quote(default_name)}",
                                          n=args.requests, warmup=args.warmup),
                "all_models": time_http(url, data, audio_path.name, query="", n=args.requests, warmup=args.warmup),
            }
            results["server_memory"] = tree_memory_mb(proc.pid)
        finally:
            stop_server(proc)
        results["load_average_after"] = os.getloadavg()
        results["in_process"] = breakdown(models_dir, data, audio_path.name)
    print(json.dumps(results, indent=2))
    d, a = results["default_only"], results["all_models"]
    print(f"\nPOST /api/predict, 30 s WAV, {args.requests} requests each:")
    print(f"  default model alone : median {d['median_ms']} ms, p95 {d['p95_ms']} ms (goal median <= 150 ms)")
    print(f"  all {len(names)} models        : median {a['median_ms']} ms, p95 {a['p95_ms']} ms (goal median <= 300 ms)")
    mem = results["server_memory"]
    print(f"  server memory       : {mem['rss_mb']} MB resident (PSS {mem['pss_mb']} MB), {mem['processes']} processes "
          f"(gunicorn master and workers; goal <= 1536 MB)")
    atomic_write_json(args.out, results)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
