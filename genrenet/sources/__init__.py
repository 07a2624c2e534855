"""Collectors that build data sets from online music services.

:mod:`genrenet.sources.soundcloud` searches SoundCloud by genre, downloads the
tracks the API allows us to fetch and writes a manifest that
``load_dataset("soundcloud", DIR)`` reads. Used by book chapter ``book/dev_data.md``
(``notebooks/data_exploration.ipynb``).
"""
