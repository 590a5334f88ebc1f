"""A TCP proxy in front of PostgreSQL that can fail the way networks do, for fault tests.

``black_hole()`` stops forwarding on the connections open now, in both directions, without
closing them: as a firewall, NAT or load balancer that drops idle connections silently
(no FIN, no RST), the peers only learn of it by a time-out. ``reset()`` closes them at
once. New connections are forwarded as usual either way.
"""

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket
    upstream_port: int
    """The proxy's own port towards the server: what the server sees as the client's."""
    held: threading.Event = field(default_factory=threading.Event)
    """Set: bytes are read and dropped instead of forwarded."""


class FaultProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            link = _Link(client, server, server.getsockname()[1])
            with self._lock:
                self._links.append(link)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(link, source, sink),
                                 daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not link.held.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            if not link.held.is_set():
                for end in (link.client, link.server):
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)

    def open_links(self) -> int:
        with self._lock:
            return sum(1 for link in self._links if not link.held.is_set())

    def black_hole(self, *, upstream_ports: set[int] | None = None) -> int:
        """Drop everything on the connections open now (or on those whose port towards the
        server is one of ``upstream_ports``), silently; how many there were."""
        with self._lock:
            links = [link for link in self._links if not link.held.is_set()
                     and (upstream_ports is None or link.upstream_port in upstream_ports)]
            for link in links:
                link.held.set()
        return len(links)

    def reset(self) -> None:
        """Close every connection open now."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            for end in (link.client, link.server):
                with contextlib.suppress(OSError):
                    end.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.reset()


@contextmanager
def fault_proxy(host: str, port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
