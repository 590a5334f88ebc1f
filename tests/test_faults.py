"""A connection the database dropped (a restart, a failover, a backend terminated) costs
no 500: a read is answered once more on a new connection, a write answers 503 with
Retry-After (nothing was stored: send it again), and the next requests are served."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from app.db import engine_for
from app.settings import Settings
from tests.conftest import make_client
from tests.helpers import snapshot

M = "/api/v1/mandates/2018-2020"
APP = "planpulse-under-test"
"""The application name of the app's pool, so that only its connections are dropped."""


@pytest.fixture
def app_engine(engine: Engine, backend: str) -> Iterator[Engine]:
    """The app's own pool (two connections), apart from the test's."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")
    url = engine.url.update_query_dict({"application_name": APP})
    own = engine_for(Settings(database_url=url.render_as_string(hide_password=False),
                              db_pool_size=2))
    yield own
    own.dispose()


def _drop_the_apps_connections(engine: Engine) -> int:
    """Terminate the app's pooled connections, just used, so that the pool does not test
    them before handing them out."""
    with engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :app"),
            {"app": APP}).scalar_one())


@pytest.mark.usefixtures("metropolis")
def test_a_read_on_a_dropped_connection_is_answered_on_a_new_one(
        engine: Engine, app_engine: Engine) -> None:
    with make_client(app_engine) as client:
        for path in (f"{M}/deliverables/L1M1D1", f"{M}/indicators", f"{M}/deliverables"):
            assert client.get(path).status_code == 200
            assert _drop_the_apps_connections(engine) >= 1
            again = client.get(path)
            assert again.status_code == 200, again.text


@pytest.mark.usefixtures("metropolis")
def test_a_write_on_a_dropped_connection_is_a_503_to_send_again(
        engine: Engine, app_engine: Engine, editor: dict[str, str]) -> None:
    with make_client(app_engine) as client:
        etag = client.get(f"{M}/indicators/SPEAKERS_WOMEN_SHARE").headers["etag"]
        assert _drop_the_apps_connections(engine) >= 1
        before = snapshot(engine)
        refused = client.post(f"{M}/indicators/SPEAKERS_WOMEN_SHARE/values",
                              json={"period": "2020", "value": 37},
                              headers={**editor, "If-Match": etag})
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert "terminat" not in refused.text and "SQL" not in refused.text
        assert snapshot(engine) == before
        again = client.post(f"{M}/indicators/SPEAKERS_WOMEN_SHARE/values",
                            json={"period": "2020", "value": 37},
                            headers={**editor, "If-Match": etag})
        assert again.status_code == 200


def test_a_client_keeps_its_connection_after_a_503(
        engine: Engine, app_engine: Engine, metropolis: None, editor: dict[str, str]) -> None:
    """A 503 (or 409) is an answer like any other: the server keeps the connection open,
    unlike after a 500, which says Connection: close."""
    with make_client(app_engine) as client:
        etag = client.get(f"{M}/deliverables/L1M1D1").headers["etag"]
        _drop_the_apps_connections(engine)
        refused = client.post(f"{M}/deliverables/L1M1D1/status", json={"status": "cancelled"},
                              headers={**editor, "If-Match": etag})
        assert refused.status_code == 503
        assert refused.headers.get("connection") != "close"


def test_the_app_asks_the_database_for_keepalives(app_engine: Engine) -> None:
    """A connection dropped by a firewall without a word is found dead within a minute."""
    with app_engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        info = raw.info.get_parameters() | {"dsn": raw.info.dsn}
    assert "keepalives=1" in info["dsn"] and "tcp_user_timeout=60000" in info["dsn"]
