"""App replicas for the multi-process tests: ``planpulse serve`` in subprocesses sharing
one database, as behind a load balancer, each logging to a file the test can read."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.bench.http import SERVE, free_port, stop


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def logged(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@contextmanager
def replica(database_url: str, log: Path, **settings: str) -> Iterator[Replica]:
    """One ``planpulse serve --empty`` on ``database_url``; ``settings`` as PLANPULSE_*."""
    port = free_port()
    env = {**os.environ, "PLANPULSE_DATABASE_URL": database_url,
           "PLANPULSE_LOG_LEVEL": "warning",
           **{f"PLANPULSE_{name.upper()}": value for name, value in settings.items()}}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--empty", "--host", "127.0.0.1",
             "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT)
    found = Replica(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_ready(found)
        yield found
    finally:
        stop(process)


def _wait_until_ready(found: Replica, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found.process.poll() is not None:
            raise RuntimeError(f"the replica did not start:\n{found.logged()}")
        try:
            if httpx.get(f"{found.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the replica did not answer within {seconds} s:\n{found.logged()}")
