"""The thesis book: run every experiment notebook with papermill, then build the site.

Two modules, one per step of ``make book``:

* :mod:`genrenet.book.runner` (``genrenet book run`` / ``genrenet book list``): reads
  ``experiments.yml`` (one file, several *profiles*: ``demo`` for the synthetic corpus,
  ``gtzan`` for a real GTZAN directory, ``smoke`` for CI), plans each profile's runs and
  executes the notebooks of ``notebooks/`` with papermill into ``book/_executed/``,
  skipping runs whose notebook, parameters, data and version are unchanged.
* :mod:`genrenet.book.site` (``genrenet book build`` / ``genrenet book launchers``):
  renders the executed notebooks with Jupyter Book without executing them a second
  time, serves MathJax from a local copy so that the site never loads anything from
  the internet, and writes the notebooks a page's Binder button opens.
* :mod:`genrenet.book.edition` (``genrenet book record``): the recorded real-data edition,
  executed notebooks of the ``gtzan`` profile kept in ``book/recorded/`` so that every build
  renders the part "Results on real audio" (``book/real_audio.md``).

The notebooks show their figures and sounds with :func:`genrenet.notebook.show_figure`
and :func:`genrenet.notebook.show_audio` (also importable from here).

Used by every chapter of the book (it is what turns ``notebooks/*.ipynb`` into the
pages of the "Results" part, see ``book/reproducing.md``) and by ``make book``.
Every public name of the three modules is importable from ``genrenet.book``.
"""

from __future__ import annotations

from genrenet.book import edition as _edition
from genrenet.book import runner as _runner
from genrenet.book import site as _site
from genrenet.book.edition import *  # noqa: F403 - the package re-exports its modules' public names
from genrenet.book.runner import *  # noqa: F403
from genrenet.book.site import *  # noqa: F403
from genrenet.notebook import show_audio, show_figure

__all__ = [*_runner.__all__, *_site.__all__, *_edition.__all__, "show_figure", "show_audio"]
