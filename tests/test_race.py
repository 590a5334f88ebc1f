"""32 clients race to change one deliverable from the same ETag: exactly one wins.

The server is a real uvicorn in a thread, with its thread pool and connection pool, so the
requests truly overlap; the database decides.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.models import Deliverable, StatusChange

WRITERS = 32


@pytest.mark.usefixtures("metropolis")
def test_one_writer_wins_the_others_get_412(engine: Engine, live_url: str,
                                           editor: dict[str, str]) -> None:
    url = f"{live_url}/api/v1/mandates/2018-2020/deliverables/L3M3D2"
    etag = httpx.get(url).headers["etag"]
    start = threading.Barrier(WRITERS)

    def write(i: int) -> int:
        with httpx.Client(timeout=60) as client:
            start.wait()
            response = client.post(
                f"{url}/status",
                json={"status": "in_progress", "percent_complete": i, "note": f"writer {i}"},
                headers={**editor, "If-Match": etag},
            )
            return response.status_code

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = Counter(pool.map(write, range(WRITERS)))

    assert statuses == {200: 1, 412: WRITERS - 1}
    with Session(engine) as session:
        deliverable = session.execute(
            select(Deliverable).where(Deliverable.code == "L3M3D2")).scalar_one()
        entries = session.execute(
            select(func.count()).where(StatusChange.deliverable_id == deliverable.id)
        ).scalar_one()
    assert deliverable.version == 2
    assert entries == 2  # the imported status, and the one winner
