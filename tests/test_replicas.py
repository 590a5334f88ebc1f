"""Several app replicas on one PostgreSQL, as behind a load balancer: no stale answer after
a write acknowledged on another replica, no 500 when writers race or the database drops
its connections, and a version connection silently black-holed is found out and replaced.

Each replica is ``planpulse serve`` in a subprocess (tests/replicas.py); the faults are made
by PostgreSQL itself (pg_terminate_backend) or by a TCP proxy in front of it
(tests/faults.py)."""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from app.models import StatusChange
from app.version_reads import APPLICATION_NAME
from tests.faults import fault_proxy
from tests.replicas import Replica, replica

M = "/api/v1/mandates/2018-2020"
PROGRESS = f"{M}/progress"
CODES = [f"L1M{m}D{d}" for m, d in ((1, 1), (1, 2), (2, 1), (3, 1), (3, 2), (4, 1))]


@pytest.fixture
def database_url(engine: Engine, backend: str) -> str:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: replicas of the app share a database server")
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def two(database_url: str, metropolis: None, tmp_path: Path
        ) -> Iterator[tuple[Replica, Replica]]:
    with replica(database_url, tmp_path / "a.log") as a, \
            replica(database_url, tmp_path / "b.log") as b:
        yield a, b


def _etag(client: httpx.Client, code: str) -> str:
    return client.get(f"{M}/deliverables/{code}").headers["etag"]


def _completed(answer: httpx.Response) -> int:
    return int(answer.json()["totals"]["by_status"]["completed"])


def _history(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(StatusChange))
                   .scalar_one())


def at_once(*sends: tuple[Replica, Callable[[httpx.Client], httpx.Response]]
            ) -> list[httpx.Response]:
    """Each ``send`` on its replica, all released at the same instant; their answers."""
    barrier = threading.Barrier(len(sends))
    answers: list[httpx.Response] = []

    def run(target: Replica, send: Callable[[httpx.Client], httpx.Response]) -> None:
        with target.client() as client:
            barrier.wait()
            answers.append(send(client))

    threads = [threading.Thread(target=run, args=pair) for pair in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


class Load:
    """Threads sending requests until stopped; every status seen, counted."""

    def __init__(self, work: Callable[[httpx.Client], httpx.Response], clients: list[Replica],
                 threads: int) -> None:
        self.statuses: Counter[int] = Counter()
        self.problems: list[httpx.Response] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(work, clients[i % len(clients)]),
                                          daemon=True) for i in range(threads)]

    def _run(self, work: Callable[[httpx.Client], httpx.Response], target: Replica) -> None:
        with target.client() as client:
            while not self._stop.is_set():
                try:
                    answer = work(client)
                except httpx.TransportError:
                    with self._lock:
                        self.statuses[0] += 1  # the server closed the connection on us
                    continue
                with self._lock:
                    self.statuses[answer.status_code] += 1
                    if answer.status_code >= 500:
                        self.problems.append(answer)

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_a_write_acknowledged_on_one_replica_is_never_read_stale_on_another(
        two: tuple[Replica, Replica], editor: dict[str, str]) -> None:
    a, b = two
    with a.client() as on_a, b.client() as on_b, Load(
            lambda client: client.get(PROGRESS, headers={"If-None-Match": '"x"'}), [b],
            threads=6):
        stale = 0
        for round_ in range(30):
            code = CODES[round_ % len(CODES)]
            before = on_b.get(PROGRESS)
            current = on_a.get(f"{M}/deliverables/{code}")
            status = "not_started" if current.json()["status"] != "not_started" else (
                "completed")  # always a change
            written = on_a.post(f"{M}/deliverables/{code}/status", json={"status": status},
                                headers={**editor, "If-Match": current.headers["etag"]})
            assert written.status_code == 200, written.text
            # Right after the write was acknowledged, on the other replica:
            after = on_b.get(PROGRESS, headers={"If-None-Match": before.headers["etag"]})
            deliverable = on_b.get(f"{M}/deliverables/{code}")
            if after.status_code == 304 or deliverable.json()["status"] != status:
                stale += 1
        assert stale == 0


def test_the_same_idempotency_key_sent_to_two_replicas_at_once_is_done_once(
        two: tuple[Replica, Replica], editor: dict[str, str], engine: Engine) -> None:
    a, b = two
    for round_, (code, status) in enumerate([("L2M1D1", "in_progress"),
                                             ("L2M1D2", "completed"),  # already its status
                                             ("L2M2D1", "not_achieved")] * 3):
        with a.client() as on_a:
            etag = _etag(on_a, code)
        entries = _history(engine)
        key = f"key-{round_}"

        def send(client: httpx.Client, code: str = code, status: str = status,
                 etag: str = etag, key: str = key) -> httpx.Response:
            return client.post(f"{M}/deliverables/{code}/status", json={"status": status},
                               headers={**editor, "If-Match": etag, "Idempotency-Key": key})

        answers = at_once((a, send), (b, send))
        assert [answer.status_code for answer in answers] == [200, 200], [
            answer.text for answer in answers]
        assert answers[0].content == answers[1].content
        assert answers[0].headers["etag"] == answers[1].headers["etag"]
        assert sorted(answer.headers.get("idempotent-replayed", "") for answer in answers
                      ) == ["", "true"]
        changed = answers[0].headers["etag"] != etag
        assert _history(engine) - entries == (1 if changed else 0)  # once, or not at all


def test_two_batches_in_opposite_orders_never_deadlock(
        two: tuple[Replica, Replica], editor: dict[str, str], engine: Engine) -> None:
    a, b = two
    codes = [f"L{line}M{measure}D1" for line, measure in ((1, 1), (1, 2), (1, 3), (1, 4),
                                                        (2, 1), (2, 2), (2, 3), (2, 4),
                                                        (3, 1), (3, 2), (3, 3))]
    for round_ in range(3):
        with a.client() as on_a:
            etags = {code: _etag(on_a, code) for code in codes}
        status = ["in_progress", "not_started", "completed"][round_]
        batches = [[{"code": code, "if_match": etags[code], "status": status}
                    for code in order] for order in (codes, codes[::-1])]
        entries = _history(engine)

        def send(changes: list[dict[str, str]]) -> Callable[[httpx.Client], httpx.Response]:
            return lambda client: client.post(f"{M}/deliverables:batch-status",
                                              json={"changes": changes}, headers=editor)

        answers = at_once((a, send(batches[0])), (b, send(batches[1])))
        assert sorted(answer.status_code for answer in answers) in ([200, 409], [200, 200]), [
            answer.text for answer in answers]
        applied = [answer for answer in answers if answer.status_code == 200]
        changed = sum(item["outcome"] == "applied" for answer in applied
                      for item in answer.json()["results"])
        assert _history(engine) - entries == changed  # all of a batch, or nothing of it
    # Written in one order (by id), the two never waited for each other.
    assert "collided" not in a.logged() + b.logged()


def test_backends_terminated_under_load_answer_503_at_worst_never_500(
        two: tuple[Replica, Replica], editor: dict[str, str], engine: Engine) -> None:
    a, b = two
    counter = iter(range(10**6))

    def read(client: httpx.Client) -> httpx.Response:
        return client.get(PROGRESS if next(counter) % 2 else f"{M}/deliverables/L3M1D1")

    def write(client: httpx.Client) -> httpx.Response:
        code = CODES[next(counter) % len(CODES)]
        status = "completed" if next(counter) % 2 else "in_progress"
        return client.post(f"{M}/deliverables/{code}/status", json={"status": status},
                           headers={**editor, "If-Match": _etag(client, code)})

    with Load(read, [a, b], threads=4) as reads, Load(write, [a, b], threads=4) as writes:
        time.sleep(1)
        for _ in range(2):
            with engine.connect() as connection:
                killed = connection.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                ).scalar_one()
            assert killed >= 2
            time.sleep(1.5)
    assert reads.statuses[200] > 0 and writes.statuses[200] > 0
    assert set(reads.statuses) <= {200, 503}, reads.statuses
    assert set(writes.statuses) <= {200, 412, 503}, writes.statuses
    for answer in reads.problems + writes.problems:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
    # A replica idle meanwhile answers its first request after the fault.
    with engine.connect() as connection:
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    with b.client() as on_b:
        assert on_b.get(PROGRESS).status_code == 200
        assert on_b.get(f"{M}/deliverables/L3M1D1").status_code == 200


def test_a_black_holed_version_connection_is_found_out_and_replaced(
        database_url: str, metropolis: None, editor: dict[str, str], engine: Engine,
        tmp_path: Path) -> None:
    url = make_url(database_url)
    with fault_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy, \
            replica(database_url, tmp_path / "writer.log") as writer, \
            replica(url.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False), tmp_path / "reader.log",
                    version_read_timeout="0.5") as reader, \
            writer.client() as on_writer, reader.client() as on_reader:
        before = on_reader.get(PROGRESS)
        assert on_reader.get("/readyz").json()["version_reads"] == "fresh"
        with engine.connect() as connection:
            ports = {int(port) for port in connection.execute(text(
                "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :name"), {"name": APPLICATION_NAME}).scalars()}
        assert len(ports) == 1
        assert proxy.black_hole(upstream_ports=ports) == 1  # no FIN, no RST: silence

        written = on_writer.post(f"{M}/deliverables/L1M3D2/status",
                                 json={"status": "completed"},
                                 headers={**editor, "If-Match": _etag(on_writer, "L1M3D2")})
        assert written.status_code == 200
        after = on_reader.get(PROGRESS, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200  # not a stale 304: read through the pool
        assert _completed(after) == _completed(before) + 1
        ready = on_reader.get("/readyz").json()
        assert ready["version_reads"] == "pooled"
        assert "version reads go through the pool" in reader.logged()

        # It opens a new connection by itself (the proxy forwards new ones).
        deadline = time.monotonic() + 15
        while on_reader.get("/readyz").json()["version_reads"] != "fresh":
            assert time.monotonic() < deadline, reader.logged()
            on_reader.get(PROGRESS)
            time.sleep(0.2)
        assert "version reads have their own connection again" in reader.logged()
        again = on_writer.post(f"{M}/deliverables/L1M3D2/status", json={"status": "in_progress"},
                               headers={**editor, "If-Match": _etag(on_writer, "L1M3D2")})
        assert again.status_code == 200
        assert _completed(on_reader.get(PROGRESS)) == _completed(before)
