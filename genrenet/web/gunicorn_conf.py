"""gunicorn configuration of the genre-detector web service (the production deployment).

Book chapter "The genre-detector website" (``book/dev_website.md``) and the README's
deployment section describe the deployment; ``tests/test_web_load.py`` tests it::

    gunicorn -c python:genrenet.web.gunicorn_conf -b 127.0.0.1:8000 'genrenet.web:create_app()'

behind nginx with ``deploy/nginx-genrenet.conf``. gunicorn's threaded workers give a
thread to a connection while its request is read, so clients that send their body a
few bytes per second would tie up every thread; nginx buffers each request completely
(on disk past 128 KB) before it passes it on, and its event loop holds thousands of
slow clients at almost no cost. gunicorn therefore listens on 127.0.0.1 only.

Settings (every one can be overridden on the command line):

* ``gthread`` workers: 1 process (``GENRENET_WORKERS``), 16 threads. The app runs at most
  ``GENRENET_MAX_CONCURRENT`` (2) predictions per process at once; the other threads stay
  free for ``/healthz``, the page and waiting requests. One process is the default because
  every prediction already runs TensorFlow on all cores of a 2-core machine: a second
  worker measured no faster and doubled the resident memory (each holds TensorFlow and
  every shipped model; ``benchmarks/bench_predict.py``). Give it more workers on more cores.
* glibc heap arenas limited to 2 per worker (``mallopt(M_ARENA_MAX)`` after the fork): with
  one arena per thread, 16 threads fragmented a worker's heap by several hundred MB under load.
* ``timeout`` 120 s: a worker that stops answering its arbiter is restarted; requests
  are bounded well below that (decoding is checked and capped from the header).
* Request line and header limits as gunicorn's defaults, but errors of that layer
  (414, 431, 400 for a malformed request or chunked body) are JSON
  ``{"success": false, "error": ...}`` like the API's own (:class:`JSONErrorWorker`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

__all__ = ["JSONErrorWorker", "write_json_error", "limit_malloc_arenas"]

wsgi_app = "genrenet.web:create_app()"
bind = ["127.0.0.1:8000"]
workers = int(os.environ.get("GENRENET_WORKERS", "1"))
worker_class = "genrenet.web.gunicorn_conf.JSONErrorWorker"
threads = 16
timeout = 120
graceful_timeout = 30
keepalive = 5  # above nginx's upstream keepalive_timeout (3 s) in deploy/nginx-genrenet.conf
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# The app is loaded in each worker (models too); workers restart cleanly on their own.
preload_app = False
# No control socket: it would live at one fixed path in $HOME, shared by every instance.
control_socket_disable = True


M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(n: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas of this process at ``n``; False where that is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        return bool(ctypes.CDLL(name).mallopt(M_ARENA_MAX, int(n))) if name else False
    except (OSError, AttributeError):
        return False


def post_fork(server, worker) -> None:
    """gunicorn hook, in each new worker before it loads the app."""
    limit_malloc_arenas()


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error writer, answering JSON instead of an HTML page."""
    text = f"{reason.lower()}: {mesg}" if mesg else reason.lower()
    body = json.dumps({"success": False, "error": text[:300]}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


class JSONErrorWorker(ThreadWorker):
    """gunicorn's threaded worker whose own error answers (414, 431, 400, ...) are JSON."""

    def init_process(self):
        # gunicorn writes its error pages through gunicorn.util.write_error; in this worker
        # process every such page becomes the API's JSON error.
        util.write_error = write_json_error
        super().init_process()
