"""genrenet: music genre classification from spectrograms, as a reusable library.

The package mirrors the chapters of the thesis book (``book/``): the signal modules
(:mod:`genrenet.synth`, :mod:`genrenet.fourier`, :mod:`genrenet.spectrogram`,
:mod:`genrenet.audio`, :mod:`genrenet.features`) follow the theory chapters, the data,
model, training, evaluation and prediction modules follow the development chapters, and
:mod:`genrenet.book` runs the notebooks that make the results pages. The module map, which
module owns what and which chapter uses it, is kept in one place: the section "Module map"
of ``CONTRIBUTING.md`` (a test checks that it names every module exactly once).

Importing :mod:`genrenet` is cheap: TensorFlow is only imported by the modules
that need it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
