"""A loopback TCP proxy that counts connections and, with `flap_s`, cuts them all every `flap_s`
(a flapping link); `hold_replies()` holds back what the server sends (a broker whose PUBACKs are
slow to come back) until `release_replies()`."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target_port: int, flap_s: float | None = None) -> None:
        self.target_port, self.flap_s = target_port, flap_s
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._replies_flow = threading.Event()
        self._replies_flow.set()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        if flap_s is not None:
            self._threads.append(threading.Thread(target=self._flap, args=(flap_s,), daemon=True))
        for t in self._threads:
            t.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                self._conns += [client, upstream]
            for a, b, gated in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, gated), daemon=True).start()

    def hold_replies(self) -> None:
        self._replies_flow.clear()

    def release_replies(self) -> None:
        self._replies_flow.set()

    def _pipe(self, src: socket.socket, dst: socket.socket, gated: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                while gated and not self._replies_flow.wait(0.1):  # order kept: this thread holds it
                    if self._stop.is_set():
                        return
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def _flap(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            with self._lock:
                conns, self._conns = self._conns, []
            for s in conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._replies_flow.set()
        self._listener.close()
        with self._lock:
            for s in self._conns:
                s.close()
