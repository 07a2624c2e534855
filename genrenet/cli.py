"""The ``genrenet`` command line.

Each subcommand lives in its own module under :mod:`genrenet.commands` and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed ``argparse.Namespace`` and returning an exit code.
Modules are imported lazily enough that ``genrenet --help`` stays fast: none
of them may import TensorFlow at module level.

The README and ``book/reproducing.md`` use it; documented in ``book/api/infrastructure.md``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from genrenet import __version__
from genrenet.errors import GenrenetError

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "genrenet.commands.demo",
    "genrenet.commands.data",
    "genrenet.commands.features",
    "genrenet.commands.train",
    "genrenet.commands.evaluate",
    "genrenet.commands.tune",
    "genrenet.commands.select",
    "genrenet.commands.predict",
    "genrenet.commands.serve",
    "genrenet.commands.watch",
    "genrenet.commands.book",
]


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="genrenet",
        description="Music genre classification from spectrograms: data, training, "
        "evaluation, prediction, the web service and the thesis book.",
    )
    parser.add_argument("--version", action="version", version=f"genrenet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # subcommand not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GenrenetError as exc:
        print(f"genrenet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("genrenet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
