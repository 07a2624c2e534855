"""Subcommands of the ``genrenet`` command line, one module each (see :mod:`genrenet.cli`).

The README and ``book/reproducing.md`` use them; documented in ``book/api/infrastructure.md``.
"""
