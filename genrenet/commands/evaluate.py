"""``genrenet evaluate``: score a saved model bundle on a folder of labelled audio.

The folder holds ``<genre>/<file>`` (any supported audio format); tracks of
genres the model does not know are left out and reported. Example::

    genrenet evaluate --model genrenet/pretrained/musicnn_gtzan10 --data ~/my-music --json

Used in the book chapter "Results" (``book/results.md``).
"""

from __future__ import annotations

import argparse

from genrenet.commands import dataset_help


def register(subparsers) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a model bundle on labelled audio",
        description="Window- and track-level accuracy, macro-F1 and per-genre precision/recall of a "
        "model bundle on a folder of labelled audio (<genre>/<file>).",
    )
    p.add_argument("--model", required=True, help="bundle directory (e.g. genrenet/pretrained/musicnn_gtzan10)")
    p.add_argument("--data", required=True, help="folder of labelled audio: <genre>/<file>")
    p.add_argument("--dataset", default="folder", help="loader for --data: " + dataset_help("folder"))
    p.add_argument("--genres", default=None, help="comma-separated genres to keep")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``genrenet evaluate``."""
    import json
    from pathlib import Path

    from genrenet.errors import DataError
    from genrenet.evaluate import evaluate_bundle, format_metrics
    from genrenet.inputs import resolve_dataset

    if not Path(args.data).is_dir():
        raise DataError(f"--data {args.data}: not a directory")
    ds = resolve_dataset(args.dataset, data_dir=args.data, genres=args.genres)
    result = evaluate_bundle(args.model, ds, progress=not args.quiet)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str))
        return 0
    print(f"model {result.name} ({result.bundle}) on {args.data}: {result.n_tracks} tracks, "
          f"{result.n_windows} windows")
    if result.skipped_genres:
        left = ", ".join(f"{g} ({n})" for g, n in sorted(result.skipped_genres.items()))
        print(f"left out (genre unknown to the model): {left}")
    for track_id, cause in result.errors:
        print(f"unreadable: {track_id}: {cause}")
    print(format_metrics(result.metrics))
    return 0
