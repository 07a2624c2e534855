"""Subcommands of the ``genrenet`` command line, one module each (see :mod:`genrenet.cli`)."""
