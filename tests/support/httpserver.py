"""What the loopback test servers share: a quiet HTTP/1.1 handler that may speak TLS,
and a threaded server on 127.0.0.1 that records unexpected errors for the test."""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, no request log; TLS on the accepted socket when ``server_tls`` is set."""

    protocol_version = "HTTP/1.1"
    server_tls: ssl.SSLContext | None = None

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        if self.server_tls is not None:
            self.request = self.server_tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.server_tls is not None:
                self.request.close()


class ClosedOnExit:
    """``with Server(...) as server:`` closes the server however the block ends."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# A client that drops the connection or refuses the certificate ends the exchange: that
# is the client's doing, not a fault of the server.
_CLIENT_ENDED = (BrokenPipeError, ConnectionResetError, ssl.SSLError)


def serve(
    handler: type[BaseHTTPRequestHandler], problems: list[str], label: str
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``handler`` on an ephemeral 127.0.0.1 port in a daemon thread; any other
    error of a request is appended to ``problems`` as ``"<label> error: ..."``."""

    class _Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(
            self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
        ) -> None:
            error = sys.exc_info()[1]
            if not isinstance(error, _CLIENT_ENDED):
                problems.append(f"{label} error: {error!r}")

    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    return httpd, thread
