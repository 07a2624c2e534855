"""``genrenet demo``: write the synthetic demo corpus (GTZAN layout).

Book chapter ``book/dev_data.md`` and the README use this command; notebook
``notebooks/signal_processing.ipynb`` calls the same function,
:func:`genrenet.datasets.demo.generate_demo`.
"""

from __future__ import annotations

import argparse

from genrenet.repro import DEFAULT_SEED


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "demo",
        help="generate the synthetic demo corpus",
        description="Synthesise the demo corpus (six made-up styles, GTZAN layout <genre>/<genre>.<NNNNN>.wav). "
        "Deterministic for a seed; a re-run resumes and skips finished files.",
    )
    parser.add_argument("--to", metavar="DIR", default=None,
                        help="target directory (default: $GENRENET_HOME/demo)")
    parser.add_argument("--per-genre", type=int, default=12, metavar="N", help="clips per style (default 12)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S",
                        help=f"corpus seed (default {DEFAULT_SEED})")
    parser.add_argument("--duration", type=float, default=10.0, metavar="SEC",
                        help="seconds per clip (default 10)")
    parser.add_argument("--sr", type=int, default=22050, metavar="HZ", help="sample rate (default 22050)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from genrenet.datasets.demo import DEMO_GENRES, generate_demo

    root = generate_demo(args.to, per_genre=args.per_genre, duration=args.duration, sr=args.sr, seed=args.seed,
                         progress=not args.no_progress)
    print(f"demo corpus (SYNTHETIC): {args.per_genre} clips x {len(DEMO_GENRES)} styles in {root}")
    return 0
