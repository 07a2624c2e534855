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
    ``{"models": [LoadedModelInfo.to_dict(), ...], "default": name, "limits": {...}, "success": true}``.
``GET /healthz``
    ``{"status": "ok", "models": n, "success": true}``.
``GET /docs/<path>``
    The built book (``_build/html``), when it exists.

Errors are JSON ``{"success": false, "error": "<message>"}``: 400 no file, a bad
parameter or a malformed (e.g. badly chunked) body, 404/405 unknown route or method,
408 a body that arrives too slowly, 413 upload larger than the limit (also for
chunked uploads without ``Content-Length``) or an oversized non-file form field,
415 unsupported file type, 422 content that cannot be decoded or a track longer than
the limit (refused from its header, before decoding), 500 anything unexpected (logged
on the server, never sent to the client). Errors of the HTTP layer below the app
(414, 431, ...) are JSON too: under the production deployment
(:mod:`genrenet.web.gunicorn_conf` and ``deploy/nginx-genrenet.conf``) and under
``genrenet serve`` (:func:`dev_request_handler`).

The whole request body is read (at most the upload limit) before Flask parses it,
so a body that breaks off or is malformed is a 400 and never a 500. Uploads are kept
in memory (the upload limit bounds them); the client's file name is only used for its
extension and is never turned into a path. At most ``GENRENET_MAX_CONCURRENT``
predictions (default 2) run at once per process; the others wait for their turn, so
``/healthz`` and the page always find a free thread.

Production (see the README's deployment section): nginx in front, buffering uploads
(``deploy/nginx-genrenet.conf``), and behind it::

    gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'

Configuration comes from keyword arguments or, for gunicorn, the environment:
``GENRENET_MODELS`` (models directory), ``GENRENET_MAX_UPLOAD_MB``,
``GENRENET_MAX_DURATION`` (seconds), ``GENRENET_MAX_CONCURRENT``, ``GENRENET_DOCS_URL``
and ``GENRENET_BOOK_DIR``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Request, jsonify, render_template, request, send_from_directory
from werkzeug.exceptions import HTTPException

from genrenet._validate import positive_float
from genrenet.errors import AudioError, GenrenetError, ParameterError

__all__ = ["create_app", "dev_request_handler", "PRODUCTION_COMMAND", "DEFAULT_MAX_UPLOAD_MB",
           "DEFAULT_MAX_CONCURRENT", "MIMETYPE_EXTENSIONS"]

#: The tested production start command, behind nginx (also shown by ``genrenet serve --help``).
PRODUCTION_COMMAND = "gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'"
DEFAULT_MAX_UPLOAD_MB = 50.0
#: Predictions that run at once per process (``GENRENET_MAX_CONCURRENT``).
DEFAULT_MAX_CONCURRENT = 2
#: Largest non-file form field in bytes (the API uses none; the form only carries 'file').
MAX_FORM_FIELD_BYTES = 256 * 1024  # well above the form parser's 64 KiB read size

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


def _body_errors() -> tuple[type[BaseException], ...]:
    """What a server's body reader raises for a malformed or broken-off body."""
    errors: list[type[BaseException]] = [OSError, ValueError, EOFError, HTTPException]
    try:
        from gunicorn.http.errors import ParseException  # bad chunk sizes, extensions, trailers
    except ImportError:  # pragma: no cover - gunicorn is a dependency
        pass
    else:
        errors.append(ParseException)
    return tuple(errors)


_BODY_ERRORS = _body_errors()


class _BodyError(Exception):
    def __init__(self, status: int, message: str, *, consumed: int = 0):
        super().__init__(message)
        self.status = status
        self.consumed = consumed  # bytes of the body already read (a 413 drains the rest)


#: An oversized body up to this size is read and discarded before the 413 is sent, so that a
#: proxy still sending it receives the answer instead of a reset connection (larger: closed).
_DRAIN_BYTES = 128 * 1024 * 1024


def _json_reply(start_response, status: int, message: str, *, close: bool = True) -> list[bytes]:
    from werkzeug.http import HTTP_STATUS_CODES

    body = json.dumps({"success": False, "error": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if close:  # after a broken body the connection's state is unknown
        headers.append(("Connection", "close"))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Error')}", headers)
    return [body]


def _drain(stream, length: int | None) -> bool:
    """Read and discard the rest of a body (at most ``_DRAIN_BYTES``); True when it ended."""
    if length is not None and length > _DRAIN_BYTES:
        return False
    left = _DRAIN_BYTES if length is None else length
    try:
        while left > 0:
            piece = stream.read(min(1 << 16, left))
            if not piece:
                return True
            left -= len(piece)
    except _BODY_ERRORS:
        return False
    return length is not None


class _BufferedBody:
    """WSGI middleware: read the whole request body, at most ``max_bytes``, before the app runs.

    The app then parses a complete in-memory body with a known length, so a body
    that is too large is a 413, and one that breaks off or is malformed (bad chunk
    sizes, extensions or trailers, which the server only notices while the body is
    read) is a JSON 400 instead of an exception inside the form parser.
    """

    def __init__(self, app, max_bytes: int, too_large: str):
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = too_large

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        raw_length = environ.get("CONTENT_LENGTH") or ""
        if not chunked and raw_length in ("", "0"):
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        try:
            length = None if chunked else _content_length(raw_length)
            if length is not None and length > self.max_bytes:
                raise _BodyError(413, self.too_large)
            body = self._read(stream, length)
        except _BodyError as exc:
            if exc.status == 413:
                rest = None if length is None else length - exc.consumed
                return _json_reply(start_response, 413, str(exc), close=not _drain(stream, rest))
            return _json_reply(start_response, exc.status, str(exc))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return self.app(environ, start_response)

    def _read(self, stream, length: int | None) -> bytes:
        want = self.max_bytes + 1 if length is None else length
        parts, got = [], 0
        while got < want:
            try:
                piece = stream.read(min(1 << 16, want - got))
            except TimeoutError:
                raise _BodyError(408, "the request body arrived too slowly") from None
            except _BODY_ERRORS as exc:  # the server's body reader: bad chunking, a reset connection, ...
                raise _BodyError(400, f"malformed or incomplete request body ({_reason(exc)})") from None
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        if got > self.max_bytes:
            raise _BodyError(413, self.too_large, consumed=got)
        if length is not None and got < length:
            raise _BodyError(400, f"incomplete request body: {got} of the {length} bytes announced arrived")
        return b"".join(parts)


def _content_length(raw: str) -> int:
    if not raw.isdigit():
        raise _BodyError(400, "invalid Content-Length header")
    return int(raw)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
    Production start behind nginx (``deploy/nginx-genrenet.conf``), tested by
    ``tests/test_web_load.py``::

        gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'
    """
    settings = _settings(predictor, models_dir=models_dir, max_upload_mb=max_upload_mb, max_duration=max_duration,
                         docs_url=docs_url, book_dir=book_dir)
    app = Flask(__name__)
    app.request_class = _MemoryRequest
    app.json.sort_keys = False  # keep the default model and genre order
    app.config["MAX_CONTENT_LENGTH"] = int(settings.upload_mb * 1024 * 1024)
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_FORM_FIELD_BYTES
    app.wsgi_app = _BufferedBody(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"], settings.too_large)
    app.config["GENRENET_PREDICTOR"] = settings.predictor
    app.extensions["genrenet"] = {"predictor": settings.predictor, "docs_url": settings.docs,
                                  "book_dir": settings.book}
    _add_pages(app, settings)
    _add_api(app, settings)
    _add_error_handlers(app, settings)
    return app


@dataclass
class _Settings:
    """What the routes of one application share (see :func:`create_app`)."""

    predictor: Any
    upload_mb: float
    concurrent: int
    docs: str
    book: Path
    extensions: list[str]
    slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.concurrent)

    @property
    def too_large(self) -> str:
        return f"upload too large: the limit is {self.upload_mb:g} MB"

    def limits(self) -> dict[str, Any]:
        return {
            "max_upload_mb": self.upload_mb,
            "max_duration": self.predictor.max_duration,
            "max_windows": self.predictor.max_windows,
            "extensions": self.extensions,
        }


def _settings(predictor, *, models_dir, max_upload_mb, max_duration, docs_url, book_dir) -> _Settings:
    """Check the limits, clear stale uploads and load the predictor (unless given)."""
    from genrenet.audio import SUPPORTED_EXTENSIONS, clean_stale_uploads
    from genrenet.predict import DEFAULT_MAX_DURATION, Predictor

    upload_mb = _env_float("GENRENET_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB) if max_upload_mb is None else max_upload_mb
    positive_float("max_upload_mb", upload_mb)
    concurrent = int(_env_float("GENRENET_MAX_CONCURRENT", DEFAULT_MAX_CONCURRENT))
    if concurrent < 1:
        raise ParameterError(f"environment variable GENRENET_MAX_CONCURRENT must be at least 1, got {concurrent}")
    # Temporary uploads of a worker that was killed while decoding would stay forever.
    removed = clean_stale_uploads()
    if removed:
        log.info("removed %d stale temporary upload file(s)", removed)
    if predictor is None:
        duration = _env_float("GENRENET_MAX_DURATION", DEFAULT_MAX_DURATION) if max_duration is None else max_duration
        predictor = Predictor(models_dir=models_dir, max_duration=duration)
    return _Settings(
        predictor=predictor, upload_mb=upload_mb, concurrent=concurrent,
        docs=docs_url or os.environ.get("GENRENET_DOCS_URL") or "/docs/",
        book=Path(book_dir).expanduser() if book_dir is not None else _default_book_dir(),
        extensions=sorted(SUPPORTED_EXTENSIONS),
    )


def _add_pages(app: Flask, s: _Settings) -> None:
    """The upload page (with its security headers), the health check and the book."""

    @app.get("/")
    def index():
        return render_template(
            "index.html",
            docs_url=s.docs,
            extensions=s.extensions,
            accept=",".join(s.extensions + ["audio/*"]),
            max_upload_mb=s.upload_mb,
            max_duration=s.predictor.max_duration,
            models=s.predictor.models,
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
        return jsonify({"status": "ok", "models": len(s.predictor.models), "success": True})

    @app.get("/docs/")
    @app.get("/docs/<path:path>")
    def book_pages(path: str = "index.html"):
        if not (s.book / "index.html").is_file():
            return _error(404, "the book has not been built here (run 'genrenet book build')")
        if path.endswith("/"):
            path += "index.html"
        return send_from_directory(s.book, path)


def _add_api(app: Flask, s: _Settings) -> None:
    """``GET /api/models`` and ``POST /api/predict``."""

    @app.get("/api/models")
    def models():
        infos = s.predictor.models
        default = next((m.name for m in infos if m.default), infos[0].name)
        return jsonify(
            {"models": [m.to_dict() for m in infos], "default": default, "limits": s.limits(), "success": True}
        )

    @app.post("/api/predict")
    def predict():
        return _predict_upload(s)


def _predict_upload(s: _Settings):
    """Answer ``POST /api/predict``: check the upload, wait for a slot, predict."""
    from genrenet.audio import SUPPORTED_EXTENSIONS, check_bytes
    from genrenet.predict import TrackTooLongError

    upload = request.files.get("file")
    if upload is None:
        return _error(400, "no file uploaded: send the audio as the multipart form field 'file'")
    ext = _upload_extension(upload.filename, upload.mimetype)
    if ext is None:
        return _error(
            415,
            "unsupported file type: the upload has no recognisable audio extension or type; "
            "accepted: " + ", ".join(s.extensions),
        )
    if ext not in SUPPORTED_EXTENSIONS:
        shown = ext if len(ext) <= 12 else ext[:12] + "..."
        return _error(415, f"unsupported file type {shown!r}; accepted: " + ", ".join(s.extensions))
    data = upload.read()
    if not data:
        return _error(400, "the uploaded file is empty (0 bytes)")
    selected = request.args.getlist("model") or None
    try:
        # The header is checked before the upload waits for a prediction slot: a decode
        # bomb is refused at once, even while the slots are busy.
        check_bytes(data, filename_hint=f"upload{ext}", max_duration=s.predictor.max_duration)
        with s.slots:
            result = s.predictor.predict_bytes(data, f"upload{ext}", models=selected)
    except TrackTooLongError as exc:
        return _error(422, f"track too long: {exc.cause}")
    except AudioError as exc:
        return _error(422, f"cannot decode the {ext} upload: {exc.cause}")
    except ParameterError as exc:
        return _error(400, str(exc))
    return jsonify(result.to_dict())


def _http_error_message(exc: HTTPException, limit: int, too_large: str) -> str:
    if exc.code == 413 and (request.content_length or 0) <= limit:
        # Werkzeug's form limits: the body is within the upload limit, a form field is not.
        return (f"a form field other than 'file' is larger than {MAX_FORM_FIELD_BYTES // 1024} KB "
                "(or the form has too many parts); send the audio as the file field 'file'")
    if exc.code == 413:
        return too_large
    if exc.code == 404:
        return f"not found: {request.path}"
    if exc.code == 405:
        return f"method {request.method} is not allowed for {request.path}"
    return exc.description or exc.name


def _add_error_handlers(app: Flask, s: _Settings) -> None:
    """Every error as JSON ``{"success": false, "error": ...}``; unexpected ones are logged, not sent."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, _http_error_message(exc, app.config["MAX_CONTENT_LENGTH"], s.too_large))

    @app.errorhandler(GenrenetError)
    def genrenet_error(exc: GenrenetError):
        log.warning("request failed: %s", exc)
        return _error(422, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error while handling %s %s", request.method, request.path)
        return _error(500, "internal server error; the details are in the server log")


def dev_request_handler():
    """werkzeug's development-server request handler, with its own errors (400, 414, 431) as JSON.

    ``genrenet serve`` uses it, so that even the development server never answers the
    API's clients with an HTML error page.
    """
    from werkzeug.serving import WSGIRequestHandler

    class JSONErrorRequestHandler(WSGIRequestHandler):
        def send_error(self, code, message=None, explain=None):
            short = self.responses.get(code, ("error",))[0]
            body = json.dumps({"success": False, "error": f"{short.lower()}: {message or short}"[:300]}).encode()
            self.log_error("code %d, message %s", code, message)
            self.send_response(code, short)
            self.send_header("Connection", "close")
            self.close_connection = True
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)

    return JSONErrorRequestHandler


def _upload_extension(filename: str | None, mimetype: str | None) -> str | None:
    """Lower-case extension of an upload, from its name or else its declared type."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if "." in name.strip("."):
        return "." + name.rsplit(".", 1)[1].lower()
    return MIMETYPE_EXTENSIONS.get((mimetype or "").lower())
