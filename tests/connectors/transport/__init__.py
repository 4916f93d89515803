"""Transport tests: real HTTP against tiny Flask apps served by werkzeug on an ephemeral port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def live_server(app, threaded: bool = True) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:<free port> in a thread (threaded: one thread per request, else one request at a
    time in that thread); yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
