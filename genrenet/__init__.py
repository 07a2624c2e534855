"""genrenet: music genre classification from spectrograms, as a reusable library.

The package mirrors the chapters of the thesis book (``book/``):

========================  ====================================================
module                    chapter
========================  ====================================================
``genrenet.synth``        Sound, notes and synthesis
``genrenet.fourier``      The Fourier series and transform
``genrenet.spectrogram``  Spectrograms, mel scale, MFCC, spectrogram images
``genrenet.audio``        Audio input/output and windowing
``genrenet.features``     Feature specifications used by the experiments
``genrenet.datasets``     Data sets (demo, GTZAN, your own folder, SoundCloud)
``genrenet.genres``       Genre unification
``genrenet.splits``       Honest train/test protocols
``genrenet.cache``        The feature cache
``genrenet.models``       The thesis models and a compact modern model
``genrenet.train``        Training runner
``genrenet.evaluate``     Metrics, confusion matrices, learning curves
``genrenet.tuning``       Keras Tuner searches
``genrenet.predict``      Prediction on new tracks
``genrenet.web``          The genre-detector web service
========================  ====================================================

Importing :mod:`genrenet` is cheap: TensorFlow is only imported by the modules
that need it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
