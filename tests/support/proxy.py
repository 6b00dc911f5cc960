"""A forward HTTP proxy on a real 127.0.0.1 socket, recording what it saw.

It speaks what a corporate proxy speaks to a client: absolute-form requests
(``POST http://host:port/path``), forwarded upstream, and ``CONNECT host:port``
tunnels, through which TLS runs end to end. It can demand ``Proxy-Authorization``
(Basic) and answer 407 without it. Upstream is loopback only: a test never leaves the
machine through it.
"""

from __future__ import annotations

import base64
import http.client
import selectors
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.support.httpserver import ClosedOnExit, QuietHandler, serve

_LOOPBACK = {"127.0.0.1", "localhost"}
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass(frozen=True)
class ProxyHit:
    """One request the proxy received: ``CONNECT host:port`` or a forwarded request."""

    method: str
    target: str  # "127.0.0.1:8443" for CONNECT, the absolute URL otherwise
    proxy_authorization: str | None  # the header as received (credentials, Basic)
    answered: int  # the status the proxy itself answered with (200, 407, 403, 502)


class LoopbackProxy(ClosedOnExit):
    def __init__(
        self, credentials: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        """``credentials``: demand this user and password (407 otherwise). ``tls``: an
        HTTPS proxy (clients speak TLS to the proxy, and through it to the server)."""
        self.hits: list[ProxyHit] = []
        self._scheme = "https" if tls is not None else "http"
        self.problems: list[str] = []
        self._stop = threading.Event()
        expected = (
            "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
            if credentials
            else None
        )
        proxy = self

        class _Handler(QuietHandler):
            server_tls = tls

            def _refusal(self, host: str | None) -> int:
                """407 without the expected credentials, 403 beyond loopback, else 0."""
                if expected is not None and self.headers.get("Proxy-Authorization") != expected:
                    return 407
                return 0 if host in _LOOPBACK else 403

            def _answer(self, target: str, status: int) -> None:
                """Record the hit; a refusal (not 200) is answered here and ends the
                connection (an unread request body must not be taken for a request)."""
                auth = self.headers.get("Proxy-Authorization")
                proxy.hits.append(ProxyHit(self.command, target, auth, status))
                if status == 200:
                    return
                self.send_response(status)
                if status == 407:
                    self.send_header("Proxy-Authenticate", 'Basic realm="loopback"')
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def do_CONNECT(self) -> None:  # noqa: N802
                host, _, port = self.path.rpartition(":")
                status = self._refusal(host)
                upstream = None
                if not status:
                    try:
                        upstream = socket.create_connection((host, int(port)), timeout=5)
                        status = 200
                    except OSError:
                        status = 502  # nothing listens there: Bad Gateway
                self._answer(self.path, status)
                if upstream is None:
                    return
                self.send_response(200, "Connection Established")
                self.end_headers()
                self.close_connection = True
                proxy._tunnel(self.connection, upstream)

            def _forward(self) -> None:
                parts = urlsplit(self.path)
                status = self._refusal(parts.hostname)
                if status:
                    self._answer(self.path, status)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                upstream = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
                try:
                    upstream.request(self.command, target, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    reply = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
                    status, reason = answer.status, answer.reason
                except OSError:
                    self._answer(self.path, 502)
                    return
                finally:
                    upstream.close()
                self._answer(self.path, 200)
                self.send_response(status, reason)
                for name, value in reply:
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

        self._httpd, self._thread = serve(_Handler, self.problems, "proxy")

    @property
    def address(self) -> str:
        """``host:port``, as the banner and the pack show the proxy (with its scheme)."""
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self.address}"

    def url_with(self, user: str, password: str) -> str:
        return f"{self._scheme}://{user}:{password}@{self.address}"

    def _tunnel(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or the proxy stops)."""
        with upstream, selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    key.data.sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
