"""``genrenet predict FILE... [--json] [--models-dir DIR]``: the genre of audio files.

Every loaded model (the shipped default model plus the bundles in the models
directory) classifies each file; the output is a table per file, or the web
service's JSON structure with ``--json``. Book chapter "The genre-detector website"
(``book/dev_website.md``) and ``notebooks/prediction.ipynb`` use the same
:class:`genrenet.predict.Predictor`.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    """Add the ``predict`` subcommand."""
    p = subparsers.add_parser(
        "predict",
        help="predict the genre of audio files with every available model",
        description="Predict the genre of audio files with the shipped default model and every model "
        "bundle in the models directory (default: $GENRENET_MODELS or ~/.cache/genrenet/models).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, mp3, flac, ogg, m4a, ...)")
    p.add_argument("--json", action="store_true", help="print JSON (the web service's response structure) instead of tables")
    p.add_argument("--models-dir", metavar="DIR", help="directory searched for trained model bundles")
    p.add_argument("--model", dest="bundles", action="append", metavar="BUNDLE", default=None,
                   help="load this bundle directory too (repeatable)")
    p.add_argument("--no-default", action="store_true", help="do not load the shipped default model")
    p.add_argument("--max-duration", type=float, default=None, metavar="SECONDS",
                   help="refuse tracks longer than this (default 600)")
    p.add_argument("--top", type=int, default=5, metavar="N", help="genres shown per model in the table (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genrenet.errors import GenrenetError, ParameterError
    from genrenet.predict import DEFAULT_MAX_DURATION, Predictor

    if args.top < 1:
        raise ParameterError(f"--top must be at least 1, got {args.top}")
    max_duration = DEFAULT_MAX_DURATION if args.max_duration is None else args.max_duration
    if not (0 < max_duration < float("inf")):
        raise ParameterError(f"--max-duration must be a positive number of seconds, got {args.max_duration:g}")
    predictor = Predictor(
        args.bundles,
        models_dir=args.models_dir,
        include_default=not args.no_default,
        max_duration=max_duration,
    )
    failures = 0
    out: dict[str, object] = {}
    for name in args.files:
        try:
            result = predictor.predict_file(name)
        except GenrenetError as exc:
            failures += 1
            if args.json:
                out[name] = {"success": False, "error": str(exc)}
            else:
                print(f"{name}: error: {exc}", file=sys.stderr)
            continue
        if args.json:
            out[name] = result.to_dict()
        else:
            print(format_table(name, result, top=args.top))
    if args.json:
        print(json.dumps(out, indent=2))
    return 1 if failures else 0


def format_table(name: str, result, *, top: int = 5) -> str:
    """Plain-text table of one :class:`~genrenet.predict.PredictionResult`."""
    from genrenet.datasets.base import SYNTHETIC_LABEL

    note = " (evenly spaced windows)" if result.truncated else ""
    lines = [f"{name}: {result.duration:.1f} s, {result.windows_used} of {result.windows_total} windows{note}"]
    width = max(len(r.name) for r in result.results)
    for r in result.results:
        ranked = sorted(r.probabilities.items(), key=lambda kv: -kv[1])[:top]
        acc = r.metrics.get("accuracy")
        acc_text = f"  [accuracy {acc:.3f}]" if acc is not None else ""
        if r.synthetic:
            acc_text += f"  [trained on the {SYNTHETIC_LABEL}]"
        cells = "  ".join(f"{g} {p:.3f}" for g, p in ranked)
        lines.append(f"  {r.name:<{width}}  -> {r.genre:<12} {cells}{acc_text}")
    return "\n".join(lines)
