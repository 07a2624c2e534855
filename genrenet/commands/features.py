"""``genrenet features``: featurise a data set into the feature cache.

Runs :func:`genrenet.cache.featurize` (process pool, tqdm bar, resumable;
a second run computes nothing; damaged cache entries are computed again,
remembered failures are retried with ``--retry-errors``). Book chapter ``book/dev_processing.md`` documents it;
``notebooks/train_model.ipynb`` uses the same cache through the library.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from genrenet.commands import dataset_help, feature_help


def register(subparsers) -> None:
    """Add the ``features`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "features",
        help="compute and cache features for a data set",
        description="Featurise every track of a data set once per feature preset into the cache "
        "($GENRENET_CACHE or $GENRENET_HOME/features). Interrupted runs resume; unreadable files are "
        "reported and skipped.",
    )
    parser.add_argument("--dataset", default="demo", metavar="NAME",
                        help=dataset_help())
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="where the data set lives")
    parser.add_argument("--genres", default=None, metavar="G1,G2", help="keep only these genres")
    parser.add_argument("--feature", default="logmel", metavar="PRESET",
                        help=feature_help("logmel"))
    parser.add_argument("--cache-dir", default=None, metavar="DIR", help="feature cache root")
    parser.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default: all cores)")
    parser.add_argument("--strict", action="store_true", help="stop at the first unreadable file")
    parser.add_argument("--retry-errors", action="store_true",
                        help="try again files whose failure is remembered (they are otherwise retried only after "
                        "a week, or when genrenet, libsndfile or ffmpeg changed)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from genrenet.cache import featurize
    from genrenet.inputs import resolve_dataset

    ds = resolve_dataset(args.dataset, data_dir=args.data_dir, genres=args.genres)
    print(ds.describe())
    with warnings.catch_warnings():
        # damaged cache entries are reported in one line each, without a source-code excerpt
        warnings.showwarning = _show_warning
        fs = featurize(ds, args.feature, cache_dir=args.cache_dir, n_jobs=args.jobs, progress=not args.no_progress,
                       on_error="raise" if args.strict else "skip", retry_errors=args.retry_errors)
    print(f"{len(fs)} tracks, {int(fs.n_windows.sum())} windows of shape {fs.shape} "
          f"({fs.computed} computed, {fs.reused} from the cache) in {fs.files[0].parent}")
    for tid, cause in fs.errors:
        print(f"skipped {tid}: {cause}")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)
