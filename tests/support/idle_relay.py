"""A TCP relay on 127.0.0.1 that drops any connection idle for longer than ``idle_s``,
as corporate proxies and load balancers do (often after 60-120 s; here in compressed
time). Bytes pass through untouched; ``drops`` counts the connections it cut."""

from __future__ import annotations

import selectors
import socket
import threading
import time

from tests.support.httpserver import ClosedOnExit


class IdleDroppingRelay(ClosedOnExit):
    def __init__(self, upstream: tuple[str, int], idle_s: float) -> None:
        self.drops = 0
        self._upstream = upstream
        self._idle_s = idle_s
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def base_url(self, path: str = "/v1") -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        last = time.monotonic()
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while not self._stop.is_set():
                    ready = selector.select(timeout=0.02)
                    if not ready and time.monotonic() - last > self._idle_s:
                        self.drops += 1
                        return
                    for key, _ in ready:
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)  # type: ignore[index]
                        last = time.monotonic()
            except OSError:
                return
            finally:
                for sock in peers:
                    sock.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=1)
