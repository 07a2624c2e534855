"""Robustness of the shipped models to what real uploads go through (issue 9, deliverable 7).

For every real GTZAN clip (gtzan-mini and gtzan-extra by default), each shipped model
classifies the clip and six degraded copies of it (:data:`genrenet.degrade.DEFAULT_DEGRADATIONS`:
64 and 32 kbps MP3, 16 kHz and 8 kHz band limits, -20 dB, stereo mixed down to mono). A copy
*agrees* when its top-1 genre is the original's. Goal: >= 90 % agreement at 64 kbps and 16 kHz.

The copies are real files (LAME through ``ffmpeg``, FLAC) read back through genrenet's
decoder, as :mod:`genrenet.degrade` describes. Agreement needs no label, so every clip counts;
the table also gives agreement on the clips of the fault-filtered test list (artists no
shipped model trained on) and accuracy against the labels. Clips already measured are kept
in ``--json`` (written atomically after each clip), so an interrupted run resumes.

Used by the model cards (``genrenet/pretrained/*/MODEL_CARD.md``) and the book page
``book/dev_models.md``.

Usage::

    python benchmarks/bench_robustness.py [--data DIRS] [--splits-dir DIR] [--bundle DIR ...]
                                          [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENRENET_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "robustness.json"
GOALS = {"mp3_64": 0.9, "sr_16k": 0.9}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = os.pathsep.join(str(SHARED / d) for d in ("gtzan-mini", "gtzan-extra"))
    p.add_argument("--data", default=default_data, help="GTZAN folders joined by os.pathsep")
    p.add_argument("--splits-dir", default=str(SHARED / "gtzan-splits"),
                   help="fault-filtered lists (test_filtered.txt marks the unheard clips)")
    p.add_argument("--bundle", action="append", default=None, help="bundle directory (default: the shipped ones)")
    p.add_argument("--limit", type=int, default=None, help="measure only the first N clips")
    p.add_argument("--json", default=str(DEFAULT_JSON))
    return p.parse_args(argv)


def test_list(splits_dir: Path) -> set[str]:
    """Clip ids of the fault-filtered test list (empty when the list is absent)."""
    path = splits_dir / "test_filtered.txt"
    if not path.is_file():
        return set()
    return {Path(line).stem for line in path.read_text().split()}


def measure_clip(predictor, path: Path, degradations) -> dict[str, dict[str, str]]:
    """Top-1 genre of every model on the clip and on each degraded copy: version -> model -> genre."""
    from genrenet.audio import load
    from genrenet.degrade import degrade

    y, sr = load(path, sr=22050)
    out = {"original": _top1(predictor.predict_array(y, sr))}
    for name in degradations:
        out[name] = _top1(predictor.predict_array(degrade(y, sr, name), sr))
    return out


def _top1(result) -> dict[str, str]:
    return {r.name: r.genre for r in result.results}


def summarise(clips: dict[str, dict], models: list[str], degradations, unheard: set[str]) -> dict:
    """Agreement with the original and accuracy, per model and degradation, on all and on unheard clips."""
    table = {}
    for model in models:
        rows = {}
        for version in ("original", *degradations):
            row = {}
            for subset, ids in (("all", list(clips)), ("unheard", [c for c in clips if c in unheard])):
                if not ids:
                    continue
                same = [clips[c]["genres"][version][model] == clips[c]["genres"]["original"][model] for c in ids]
                right = [clips[c]["genres"][version][model] == clips[c]["label"] for c in ids]
                row[subset] = {"clips": len(ids), "agreement": sum(same) / len(ids), "accuracy": sum(right) / len(ids)}
            rows[version] = row
        table[model] = rows
    return table


def markdown(table: dict, degradations) -> str:
    lines = []
    for model, rows in table.items():
        n_all = rows["original"]["all"]["clips"]
        n_un = rows["original"].get("unheard", {}).get("clips", 0)
        lines += [f"**{model}**", "",
                  f"| copy | agreement, all {n_all} clips | agreement, {n_un} unheard clips "
                  f"| accuracy, all clips | goal |", "|---|---|---|---|---|"]
        for version in ("original", *degradations):
            r = rows[version]
            un = r.get("unheard", {}).get("agreement")
            goal = GOALS.get(version)
            verdict = "" if goal is None else (f">= {goal:.0%}: " + ("met" if r["all"]["agreement"] >= goal else "missed"))
            lines.append(f"| {version} | {r['all']['agreement']:.3f} | {'–' if un is None else f'{un:.3f}'} "
                         f"| {r['all']['accuracy']:.3f} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    import genrenet._tf  # noqa: F401 - TensorFlow's environment before it loads
    from genrenet.datasets import load_dataset
    from genrenet.degrade import DEFAULT_DEGRADATIONS, check_mp3_encoder
    from genrenet.io import atomic_write_json
    from genrenet.predict import Predictor

    check_mp3_encoder()
    ds = load_dataset("gtzan", args.data)
    tracks = list(ds)[: args.limit] if args.limit else list(ds)
    predictor = Predictor(bundles=args.bundle or [], include_default=args.bundle is None)
    models = predictor.model_names
    out_path = Path(args.json)
    state = json.loads(out_path.read_text()) if out_path.is_file() else {}
    same_setup = state.get("models") == models and state.get("degradations") == list(DEFAULT_DEGRADATIONS)
    clips = state.get("clips", {}) if same_setup else {}
    unheard = test_list(Path(args.splits_dir))
    started = time.perf_counter()
    for track in tqdm(tracks, desc="robustness", unit="clip"):
        if track.id in clips:
            continue
        clips[track.id] = {"label": track.genre, "genres": measure_clip(predictor, track.path, DEFAULT_DEGRADATIONS)}
        atomic_write_json(out_path, {"models": models, "degradations": list(DEFAULT_DEGRADATIONS), "clips": clips})
    table = summarise(clips, models, DEFAULT_DEGRADATIONS, unheard)
    load = os.getloadavg()
    atomic_write_json(out_path, {
        "models": models, "degradations": list(DEFAULT_DEGRADATIONS), "data": ds.describe(),
        "protocol": "top-1 agreement of each degraded copy with the original clip (no labels needed); "
                    "'unheard': clips of the fault-filtered test list", "summary": table,
        "seconds_this_run": round(time.perf_counter() - started, 1), "load_average_1min": round(load[0], 2),
        "clips": clips,
    })
    print(markdown(table, DEFAULT_DEGRADATIONS))
    print(f"written to {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
