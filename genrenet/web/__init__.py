"""The genre-detector web service (book chapter "The genre-detector website", ``book/dev_website.md``).

:func:`create_app` builds the Flask application (upload page, JSON API); see
:mod:`genrenet.web.app` for the routes and the response schema. The
``notebooks/prediction.ipynb`` notebook shows the same predictions offline.

Development server: ``genrenet serve --port 8000``. Production (tested), behind nginx
(``deploy/nginx-genrenet.conf``, which buffers uploads; see :mod:`genrenet.web.gunicorn_conf`)::

    gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'
"""

from genrenet.web.app import DEFAULT_MAX_UPLOAD_MB, PRODUCTION_COMMAND, create_app

__all__ = ["create_app", "PRODUCTION_COMMAND", "DEFAULT_MAX_UPLOAD_MB"]
