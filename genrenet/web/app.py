"""The genre-detector web service: a Flask application over :class:`genrenet.predict.Predictor`.

Book chapter "The genre-detector website" (``book/dev_website.md``) describes it; the notebook
``notebooks/prediction.ipynb`` shows the same predictions without the server.

Routes
------
``GET /``
    The upload page (plain HTML/CSS/JS, no build step, nothing fetched from other hosts).
``POST /api/predict``
    Multipart form with the audio in the field ``file``. Optional query parameter
    ``model`` (repeatable) restricts the answer to the named models. Response (200)::

        {"<Model name>": {"data": {"<genre>": 0.91, ...},
                          "metrics": {"accuracy": 0.83, "loss": 0.52, ...},
                          "genre": "<most probable genre>",
                          "windows": {"used": 19, "total": 19},
                          "dataset": "gtzan", "synthetic": false},
         ...one key per model...,
         "track": {"duration": 30.0, "sample_rate": 22050, "windows_used": 19,
                   "windows_total": 19, "truncated": false, "max_windows": 48},
         "success": true}

    This is the thesis's structure (one key per model with ``data`` and ``metrics``),
    with numbers sent as JSON numbers; ``genre``, ``windows``, ``dataset`` (what the model was
    trained on), ``synthetic`` (trained on the synthetic demo corpus) and ``track`` are additions.
``GET /api/models``
    ``{"models": [ModelInfo.to_dict(), ...], "default": name, "limits": {...}, "success": true}``.
``GET /healthz``
    ``{"status": "ok", "models": n, "success": true}``.
``GET /docs/<path>``
    The built book (``_build/html``), when it exists.

Errors are JSON ``{"success": false, "error": "<message>"}``: 400 no file or a bad
parameter, 404/405 unknown route or method, 413 upload larger than the limit (also
for chunked uploads without ``Content-Length``), 415 unsupported file type, 422
content that cannot be decoded or a track longer than the limit, 500 anything
unexpected (logged on the server, never sent to the client).

Uploads are kept in memory (the upload limit bounds them); the client's file name
is only used for its extension and is never turned into a path.

Production start (two worker processes, four threads each; models are loaded once
per worker at start-up)::

    gunicorn 'genrenet.web:create_app()' -w 2 --threads 4 -b 127.0.0.1:8000

Configuration comes from keyword arguments or, for gunicorn, the environment:
``GENRENET_MODELS`` (models directory), ``GENRENET_MAX_UPLOAD_MB``,
``GENRENET_MAX_DURATION`` (seconds), ``GENRENET_DOCS_URL`` and ``GENRENET_BOOK_DIR``.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, Request, jsonify, render_template, request, send_from_directory
from werkzeug.exceptions import HTTPException

from genrenet.errors import AudioError, GenrenetError, ParameterError

__all__ = ["create_app", "PRODUCTION_COMMAND", "DEFAULT_MAX_UPLOAD_MB", "MIMETYPE_EXTENSIONS"]

#: The tested production start command (also shown by ``genrenet serve --help``).
PRODUCTION_COMMAND = "gunicorn 'genrenet.web:create_app()' -w 2 --threads 4 -b 127.0.0.1:8000"
DEFAULT_MAX_UPLOAD_MB = 50.0

#: Extension to assume when an upload has no file name extension but a known audio type.
MIMETYPE_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/aiff": ".aiff",
    "audio/x-aiff": ".aiff",
    "audio/basic": ".au",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
}

log = logging.getLogger("genrenet.web")


class _MemoryRequest(Request):
    """Request whose uploaded files are buffered in memory, never in temporary files."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ParameterError(f"environment variable {name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ParameterError(f"environment variable {name} must be positive, got {raw!r}")
    return value


def _default_book_dir() -> Path:
    env = os.environ.get("GENRENET_BOOK_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "_build" / "html"


def _error(status: int, message: str):
    response = jsonify({"success": False, "error": message})
    response.status_code = status
    return response


def create_app(
    predictor: Any = None,
    *,
    models_dir: str | Path | None = None,
    max_upload_mb: float | None = None,
    max_duration: float | None = None,
    docs_url: str | None = None,
    book_dir: str | Path | None = None,
) -> Flask:
    """Build the genre-detector Flask application.

    Parameters
    ----------
    predictor : genrenet.predict.Predictor, optional
        The loaded models. By default one is created here (so each gunicorn worker
        loads the models once at start): the shipped default model plus every bundle
        in ``models_dir``.
    models_dir : path-like, optional, keyword-only
        Directory of trained bundles (default: :func:`genrenet.paths.models_dir`,
        i.e. ``$GENRENET_MODELS``). Ignored when ``predictor`` is given.
    max_upload_mb : float, optional, keyword-only
        Largest accepted request body in MiB (default ``$GENRENET_MAX_UPLOAD_MB`` or 50).
    max_duration : float, optional, keyword-only
        Longest track in seconds (default ``$GENRENET_MAX_DURATION`` or 600). Ignored
        when ``predictor`` is given (the predictor's own limit applies).
    docs_url : str, optional, keyword-only
        Target of the page's "Documentation" link (default ``$GENRENET_DOCS_URL`` or
        ``/docs/``, the book served by this app from ``book_dir``).
    book_dir : path-like, optional, keyword-only
        The built book (default ``$GENRENET_BOOK_DIR`` or ``_build/html`` of the checkout).

    Returns
    -------
    flask.Flask

    Notes
    -----
    Production start, tested by ``tests/test_web_load.py``::

        gunicorn 'genrenet.web:create_app()' -w 2 --threads 4 -b 127.0.0.1:8000
    """
    from genrenet.audio import SUPPORTED_EXTENSIONS
    from genrenet.predict import DEFAULT_MAX_DURATION, Predictor, TrackTooLongError

    upload_mb = _env_float("GENRENET_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB) if max_upload_mb is None else max_upload_mb
    if isinstance(upload_mb, bool) or not isinstance(upload_mb, int | float) or not upload_mb > 0:
        raise ParameterError(f"max_upload_mb must be a positive number, got {max_upload_mb!r}")
    if predictor is None:
        duration = _env_float("GENRENET_MAX_DURATION", DEFAULT_MAX_DURATION) if max_duration is None else max_duration
        predictor = Predictor(models_dir=models_dir, max_duration=duration)
    docs = docs_url or os.environ.get("GENRENET_DOCS_URL") or "/docs/"
    book = Path(book_dir).expanduser() if book_dir is not None else _default_book_dir()
    extensions = sorted(SUPPORTED_EXTENSIONS)

    app = Flask(__name__)
    app.request_class = _MemoryRequest
    app.json.sort_keys = False  # keep the default model and genre order
    app.config["MAX_CONTENT_LENGTH"] = int(upload_mb * 1024 * 1024)
    app.config["GENRENET_PREDICTOR"] = predictor
    app.extensions["genrenet"] = {"predictor": predictor, "docs_url": docs, "book_dir": book}

    def limits() -> dict[str, Any]:
        return {
            "max_upload_mb": upload_mb,
            "max_duration": predictor.max_duration,
            "max_windows": predictor.max_windows,
            "extensions": extensions,
        }

    @app.get("/")
    def index():
        return render_template(
            "index.html",
            docs_url=docs,
            extensions=extensions,
            accept=",".join(extensions + ["audio/*"]),
            max_upload_mb=upload_mb,
            max_duration=predictor.max_duration,
            models=predictor.models,
        )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path == "/":
            # The page loads nothing from other hosts; the browser enforces it.
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; object-src 'none'; "
                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
            )
        return response

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "models": len(predictor.models), "success": True})

    @app.get("/api/models")
    def models():
        infos = predictor.models
        default = next((m.name for m in infos if m.default), infos[0].name)
        return jsonify(
            {"models": [m.to_dict() for m in infos], "default": default, "limits": limits(), "success": True}
        )

    @app.post("/api/predict")
    def predict():
        upload = request.files.get("file")
        if upload is None:
            return _error(400, "no file uploaded: send the audio as the multipart form field 'file'")
        ext = _upload_extension(upload.filename, upload.mimetype)
        if ext is None:
            return _error(
                415,
                "unsupported file type: the upload has no recognisable audio extension or type; "
                "accepted: " + ", ".join(extensions),
            )
        if ext not in SUPPORTED_EXTENSIONS:
            shown = ext if len(ext) <= 12 else ext[:12] + "..."
            return _error(415, f"unsupported file type {shown!r}; accepted: " + ", ".join(extensions))
        data = upload.read()
        if not data:
            return _error(400, "the uploaded file is empty (0 bytes)")
        selected = request.args.getlist("model") or None
        try:
            result = predictor.predict_bytes(data, f"upload{ext}", models=selected)
        except TrackTooLongError as exc:
            return _error(422, f"track too long: {exc.cause}")
        except AudioError as exc:
            return _error(422, f"cannot decode the {ext} upload: {exc.cause}")
        except ParameterError as exc:
            return _error(400, str(exc))
        return jsonify(result.to_dict())

    @app.get("/docs/")
    @app.get("/docs/<path:path>")
    def book_pages(path: str = "index.html"):
        if not (book / "index.html").is_file():
            return _error(404, "the book has not been built here (run 'genrenet book build')")
        if path.endswith("/"):
            path += "index.html"
        return send_from_directory(book, path)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            message = f"upload too large: the limit is {upload_mb:g} MB"
        elif exc.code == 404:
            message = f"not found: {request.path}"
        elif exc.code == 405:
            message = f"method {request.method} is not allowed for {request.path}"
        else:
            message = exc.description or exc.name
        return _error(exc.code or 500, message)

    @app.errorhandler(GenrenetError)
    def genrenet_error(exc: GenrenetError):
        log.warning("request failed: %s", exc)
        return _error(422, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error while handling %s %s", request.method, request.path)
        return _error(500, "internal server error; the details are in the server log")

    return app


def _upload_extension(filename: str | None, mimetype: str | None) -> str | None:
    """Lower-case extension of an upload, from its name or else its declared type."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if "." in name.strip("."):
        return "." + name.rsplit(".", 1)[1].lower()
    return MIMETYPE_EXTENSIONS.get((mimetype or "").lower())
