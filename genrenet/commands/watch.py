"""``genrenet watch SOURCE --subscriptions subs.yml``: A&R notifications for new uploads.

Follows a folder (or ``soundcloud:QUERY``), classifies each new track once with the loaded
models and delivers every match of a subscription as JSON to its webhook or file, keeping
its state in SQLite so that a restart neither repeats nor loses a delivery
(:mod:`genrenet.watch`). Shown in the README and the book chapter "The genre-detector
website" (``book/dev_website.md``).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    """Add the ``watch`` subcommand."""
    p = subparsers.add_parser(
        "watch",
        help="follow new uploads and notify subscribers of matching genres (A&R notifications)",
        description="Follow a folder, or a SoundCloud query (SOURCE = soundcloud:QUERY) through the collector, "
        "classify each new track once and deliver every match of a subscription as JSON to its webhook "
        "or file. State (tracks seen, deliveries, retries) lives in SQLite: a restart delivers nothing twice.",
    )
    p.add_argument("source", metavar="SOURCE", help="folder to follow, or soundcloud:QUERY")
    p.add_argument("--subscriptions", required=True, metavar="YAML", help="subscriptions file (see genrenet.watch)")
    p.add_argument("--state", metavar="FILE", default=None,
                   help="SQLite state file (default: <subscriptions file>.state.sqlite)")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS", help="seconds between passes (default 2)")
    p.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                   help="a file is read once unchanged for this long (default 2)")
    p.add_argument("--once", action="store_true", help="one pass (scan, classify, deliver what is due), then exit")
    p.add_argument("--retry-base", type=float, default=5.0, metavar="SECONDS",
                   help="first webhook retry delay, doubled per attempt (default 5)")
    p.add_argument("--max-attempts", type=int, default=10, metavar="N", help="webhook attempts before giving up")
    p.add_argument("--models-dir", metavar="DIR", help="directory searched for trained model bundles")
    p.add_argument("--model", dest="bundles", action="append", metavar="BUNDLE", default=None,
                   help="load this bundle directory too (repeatable)")
    p.add_argument("--no-default", action="store_true", help="do not load the shipped default model")
    p.add_argument("--soundcloud-dir", metavar="DIR", help="download folder of a soundcloud: source")
    p.add_argument("--soundcloud-interval", type=float, default=300.0, metavar="SECONDS",
                   help="seconds between SoundCloud searches (default 300)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from genrenet.predict import Predictor
    from genrenet.watch import Watcher, load_subscriptions

    subs = load_subscriptions(args.subscriptions)
    state = args.state or str(Path(args.subscriptions).with_suffix(".state.sqlite"))
    watcher = Watcher(args.source, subs, state,
                      lambda: Predictor(args.bundles, models_dir=args.models_dir, include_default=not args.no_default),
                      settle=args.settle, retry_base=args.retry_base, max_attempts=args.max_attempts,
                      soundcloud_dir=args.soundcloud_dir, soundcloud_interval=args.soundcloud_interval)
    watcher.install_signal_handlers()
    print(f"watching {args.source} for {len(subs)} subscription(s); state in {state}", file=sys.stderr, flush=True)
    try:
        counts = watcher.run(interval=args.interval, once=args.once)
    finally:
        watcher.close()
    print("watch: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)
    return 0
