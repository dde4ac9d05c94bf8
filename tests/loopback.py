"""A loopback HTTP server for download tests: serves given bytes at given paths, or cuts a response half-way."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET /name -> the bytes stored under name; a name in `cut` announces its full length but sends half."""

    def do_GET(self) -> None:
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.lstrip("/") in self.server.cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Keep test output quiet."""


@contextlib.contextmanager
def serve(files: dict[str, bytes], cut: frozenset[str] = frozenset()) -> Iterator[str]:
    """Serve `files` on 127.0.0.1 (an ephemeral port) while the block runs; yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.cut = files, cut
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url(name: str) -> str:
    """A loopback URL on a port where nothing listens (the address of a server just stopped)."""
    with serve({}) as base:
        url = f"{base}/{name}"
    return url
