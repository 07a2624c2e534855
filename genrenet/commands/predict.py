"""``genrenet predict FILE... [--json] [--models-dir DIR]``: the genre of audio files.

Every loaded model (the shipped default model plus the bundles in the models
directory) classifies each file; the output is a table per file, or the web
service's JSON structure with ``--json``.

``genrenet predict SOURCE... --out FILE.csv|FILE.parquet`` classifies a collection
(directories, glob patterns, manifests, files) with :mod:`genrenet.batch`: one row per
track, a progress bar, a rerun resumes; ``--cluster ADDRESS`` runs the same job on a Dask
cluster (:mod:`genrenet.distributed`). Book chapter "The genre-detector website"
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
    batch = p.add_argument_group(
        "collections", "with --out, each FILE may also be a directory, a glob pattern (quote it) or a manifest "
        "(.txt/.lst/.m3u: one path per line; .csv/.tsv: a 'path' column); one row per track is written")
    batch.add_argument("--out", metavar="FILE", help="write one row per track to FILE (.csv or .parquet); "
                       "an existing FILE is resumed: tracks it already holds are skipped")
    batch.add_argument("--jobs", type=int, default=None, metavar="N", help="decoding processes (default: CPU cores)")
    batch.add_argument("--batch-tracks", type=int, default=32, metavar="N", help="tracks per model call (default 32)")
    batch.add_argument("--retry-errors", action="store_true", help="redo tracks whose row holds an error")
    batch.add_argument("--cluster", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS "
                       "(tcp://host:8786); every worker must see the same paths")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genrenet.errors import GenrenetError, ParameterError
    from genrenet.predict import DEFAULT_MAX_DURATION, Predictor

    if args.top < 1:
        raise ParameterError(f"--top must be at least 1, got {args.top}")
    max_duration = DEFAULT_MAX_DURATION if args.max_duration is None else args.max_duration
    if not (0 < max_duration < float("inf")):
        raise ParameterError(f"--max-duration must be a positive number of seconds, got {args.max_duration:g}")
    if args.out is not None:
        return run_collection(args, max_duration)
    _refuse_collections(args.files)
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


def _refuse_collections(files) -> None:
    """Directories, patterns and manifests need --out (a collection gets a results file, not tables)."""
    import glob
    from pathlib import Path

    from genrenet.batch import MANIFEST_EXTENSIONS
    from genrenet.errors import ParameterError

    for name in files:
        path = Path(name)
        if path.is_dir():
            what = "is a directory"
        elif not path.exists() and glob.has_magic(name):
            what = "is a glob pattern"
        elif path.is_file() and path.suffix.lower() in MANIFEST_EXTENSIONS:
            what = "is a manifest"
        else:
            continue
        raise ParameterError(f"{name} {what}: to classify the collection it names into a results file, "
                             "add --out FILE.csv (or .parquet)")


def run_collection(args: argparse.Namespace, max_duration: float) -> int:
    """``--out``: classify every track of the sources into one results file."""
    from genrenet.predict import Predictor

    def predictor():  # built after the decoding processes start (they fork before TensorFlow loads)
        return Predictor(args.bundles, models_dir=args.models_dir, include_default=not args.no_default,
                         max_duration=max_duration, warmup=False)

    if args.cluster:
        from genrenet.distributed import predict_collection_dask

        summary = predict_collection_dask(args.files, args.out, args.cluster, predictor=predictor,
                                          batch_tracks=args.batch_tracks, retry_errors=args.retry_errors)
    else:
        from genrenet.batch import predict_collection

        summary = predict_collection(args.files, args.out, predictor=predictor, jobs=args.jobs,
                                     batch_tracks=args.batch_tracks, retry_errors=args.retry_errors)
    print(f"{summary.output}: {summary.total} tracks, {summary.skipped} already done, "
          f"{summary.classified} classified, {summary.failed} failed "
          f"({summary.tracks_per_second:.1f} tracks/s)")
    for path, error in summary.errors[:5]:
        print(f"  error: {error}" if path in error else f"  error: {path}: {error}", file=sys.stderr)
    return 0


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
