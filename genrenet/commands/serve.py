"""``genrenet serve``: run the genre-detector web service for development.

Book chapter "The genre-detector website" (``book/dev_website.md``); the app itself is
:func:`genrenet.web.create_app`. For production use gunicorn behind nginx
(``deploy/nginx-genrenet.conf``; tested in ``tests/test_web_load.py``)::

    gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'
"""

from __future__ import annotations

import argparse

# Kept here as text (not imported from genrenet.web) so that `genrenet --help` does not import Flask.
PRODUCTION_COMMAND = "gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'"


def register(subparsers) -> None:
    """Add the ``serve`` subcommand."""
    p = subparsers.add_parser(
        "serve",
        help="run the genre-detector web service (development server)",
        description="Run the genre-detector web service (upload page at /, JSON API at /api/predict) "
        "with Flask's threaded development server.",
        epilog="Production: " + PRODUCTION_COMMAND + ", behind nginx with deploy/nginx-genrenet.conf "
        "(it buffers uploads; see the README)  (set GENRENET_MODELS=DIR for the models directory; "
        "GENRENET_MAX_UPLOAD_MB, GENRENET_MAX_DURATION and GENRENET_DOCS_URL configure limits and the "
        "Documentation link)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--models-dir", metavar="DIR", help="directory searched for trained model bundles")
    p.add_argument("--max-upload-mb", type=float, default=None, metavar="MB", help="upload limit (default 50)")
    p.add_argument("--max-duration", type=float, default=None, metavar="SECONDS",
                   help="longest track analysed (default 600)")
    p.add_argument("--docs-url", default=None, metavar="URL", help="target of the Documentation link (default /docs/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genrenet.errors import ParameterError
    from genrenet.web import create_app
    from genrenet.web.app import dev_request_handler

    if not 0 < args.port < 65536:
        raise ParameterError(f"--port must be between 1 and 65535, got {args.port}")
    for flag, value in (("--max-upload-mb", args.max_upload_mb), ("--max-duration", args.max_duration)):
        if value is not None and not 0 < value < float("inf"):
            raise ParameterError(f"{flag} must be a positive number, got {value:g}")
    app = create_app(
        models_dir=args.models_dir,
        max_upload_mb=args.max_upload_mb,
        max_duration=args.max_duration,
        docs_url=args.docs_url,
    )
    print(f"genrenet: serving {len(app.config['GENRENET_PREDICTOR'].models)} model(s) on http://{args.host}:{args.port}/")
    print(f"genrenet: for production use: {PRODUCTION_COMMAND}")
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False,
            request_handler=dev_request_handler())
    return 0
