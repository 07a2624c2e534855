"""The Examples sections of the signal modules' docstrings run as written (doctest).

The first chapters' modules (``book/theory_sound.md``, ``book/theory_fourier.md``,
``book/dev_processing.md``) document every public function with a short runnable example,
as librosa does; each synthesises its audio (no data files, no downloads).
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

MODULES = ["genrenet.audio", "genrenet.synth", "genrenet.fourier", "genrenet.spectrogram", "genrenet.features"]


#: Other modules with Examples sections (not every function has one): they must run too.
WITH_EXAMPLES = ["genrenet.book.runner", "genrenet.evaluate"]


@pytest.mark.parametrize("name", MODULES + WITH_EXAMPLES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    with np.printoptions(legacy=False):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result.failed} of {result.attempted} failed"


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_has_an_example(name):
    import inspect

    module = importlib.import_module(name)
    missing = [f for f in module.__all__ if inspect.isfunction(getattr(module, f))
               and ">>>" not in (getattr(module, f).__doc__ or "")]
    assert not missing, f"{name}: public functions without an Examples section: {missing}"
