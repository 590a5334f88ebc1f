"""A real server to measure over HTTP, and the clients that load it.

The server is ``planpulse serve`` in a subprocess (its own interpreter, uvicorn, thread and
connection pools), so that what is measured is what is deployed. The clients use the
standard library's keep-alive HTTP client from threads of this process: light enough that
the server, not the client, is what limits the rate.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.serving import SPREADS_CONNECTIONS

SERVE = "from app.cli import app; app(prog_name='planpulse')"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def pids(self) -> list[int]:
        """The server's process and its workers (uvicorn forks workers when there are
        several)."""
        children = []
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children",
                      encoding="ascii") as listing:
                children = [int(pid) for pid in listing.read().split()]
        except OSError:
            pass
        return [self.process.pid, *children]

    def memory_mb(self, field_name: str = "VmHWM") -> float:
        """The largest of the server processes' resident memory (VmHWM: the peak so far)."""
        found = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status", encoding="ascii") as status:
                    for line in status:
                        if line.startswith(field_name + ":"):
                            found = max(found, int(line.split()[1]) / 1024)
            except OSError:
                continue
        return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(database_url: str, *, workers: int = 1, extra_env: dict[str, str] | None = None
            ) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "PLANPULSE_DATABASE_URL": database_url,
           "PLANPULSE_LOG_LEVEL": "warning", **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--empty", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Server(process, port)
    try:
        _wait_until_up(server, workers)
        yield server
    finally:
        stop(process)
        if process.stderr is not None:
            process.stderr.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down (SIGTERM), and kill it if it has not within 20 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_up(server: Server, workers: int, timeout: float = 60.0) -> None:
    """Until the server answers, and, with several workers, until each listens: the first
    worker up would otherwise take every connection the clients open at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            message = server.process.stderr.read().decode() if server.process.stderr else ""
            raise RuntimeError(f"the server did not start:\n{message}")
        try:
            status, _headers, _body = request(server.port, "GET", "/healthz")
            if status == 200 and (workers == 1 or not SPREADS_CONNECTIONS
                                  or listening_sockets(server.port) >= workers):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not answer within a minute")


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` (Linux): one per worker of ``planpulse serve``
    (app/serving.py)."""
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as lines:
                next(lines)
                for line in lines:
                    local, state = line.split()[1], line.split()[3]
                    found += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
        except OSError:
            continue
    return found


def request(port: int, method: str, path: str, *, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        payload = None if body is None else json.dumps(body)
        sent = {**(headers or {})}
        if payload is not None:
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


class KeptAlive:
    """One kept-alive HTTP/1.1 connection that sends prepared requests and reads answers
    with Content-Length (what the server sends). The standard library's client spends
    about 0.4 ms of Python per request here, all of it on the same two cores as the server:
    the load generator should cost as little as it can (as wrk does), so that what is
    measured is the server."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b""
             ) -> tuple[int, dict[str, str], bytes]:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        top, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = top.decode("latin-1").split("\r\n")
        answer_headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        length = int(answer_headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._receive()
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), answer_headers, answer

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class Load:
    requests: int
    seconds: float
    statuses: Counter[int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def load(port: int, path: str, *, seconds: float, connections: int,
         headers: dict[str, str] | None = None) -> Load:
    """GET ``path`` over ``connections`` keep-alive connections for ``seconds``."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    stop_at = [0.0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        seen: Counter[int] = Counter()
        start.wait()
        while time.perf_counter() < stop_at[0]:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            response.read()
            seen[response.status] += 1
        connection.close()
        with lock:
            statuses.update(seen)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return Load(sum(statuses.values()), elapsed, statuses)


def concurrently(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i in range(count) on as many threads, started together."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
