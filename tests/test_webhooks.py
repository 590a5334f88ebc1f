"""Webhook subscriptions over the API, on both databases: admins only, the secret shown
once and stored nowhere, the fields checked, no loopback or private addresses unless
allowed, and the settings documented."""

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.models import Mandate
from app.services.webhooks import addresses, signing
from app.settings import Settings
from tests.conftest import make_client

KEY = "k" * 40
ROOT = Path(__file__).parent.parent
URL = "http://127.0.0.1:9/hook"
SETTINGS: dict[str, Any] = {"webhook_signing_key": KEY, "webhook_allowed_hosts": "127.0.0.1"}
BODY = {"url": URL, "events": ["deliverable.status_changed"]}


def _mandate(engine: Engine) -> None:
    from datetime import date

    with Session(engine) as session:
        session.add(Mandate(code="M-1", title="M", start_date=date(2024, 1, 1),
                            end_date=date(2024, 12, 31)))
        session.commit()


def test_only_admins_subscribe(engine: Engine, tokens: dict[str, dict[str, str]]) -> None:
    with make_client(engine, **SETTINGS) as client:
        assert client.post("/api/v1/webhooks", json=BODY).status_code == 401
        for role in ("viewer", "editor"):
            assert client.post("/api/v1/webhooks", json=BODY,
                               headers=tokens[role]).status_code == 403
            assert client.get("/api/v1/webhooks", headers=tokens[role]).status_code == 403
        made = client.post("/api/v1/webhooks", json=BODY, headers=tokens["admin"])
        assert made.status_code == 201, made.text
        webhook = made.json()["id"]
        for role in ("viewer", "editor"):
            assert client.delete(f"/api/v1/webhooks/{webhook}",
                                 headers=tokens[role]).status_code == 403
            assert client.get(f"/api/v1/webhooks/{webhook}/deliveries",
                              headers=tokens[role]).status_code == 403


def test_the_secret_is_shown_once_and_stored_nowhere(engine: Engine,
                                                      admin: dict[str, str]) -> None:
    _mandate(engine)
    with make_client(engine, **SETTINGS) as client:
        made = client.post("/api/v1/webhooks", headers=admin,
                           json={**BODY, "mandate": "M-1",
                                 "events": ["plan.imported", "plan.imported"]})
        assert made.status_code == 201, made.text
        created = made.json()
        assert re.fullmatch(r"wh_[0-9a-f]{16}", created["id"])
        assert made.headers["location"] == f"/api/v1/webhooks/{created['id']}"
        secret = created["secret"]
        assert re.fullmatch(r"whsec_[0-9a-f]{64}", secret)
        assert created["events"] == ["plan.imported"] and created["mandate"] == "M-1"
        assert created["created_by"] == "admin-ana" and created["active"] is True
        assert created["secret_prefix"] == secret[:10]
        one = client.get(made.headers["location"], headers=admin)
        listed = client.get("/api/v1/webhooks", headers=admin)
        assert one.status_code == listed.status_code == 200
        assert secret not in one.text and secret not in listed.text
        assert one.json() == {k: v for k, v in created.items() if k != "secret"}
        assert listed.json() == {"data": [one.json()], "count": 1, "limit": 500, "offset": 0}
        audit = client.get("/api/v1/audit", headers=admin).json()["data"]
        assert audit[0]["action"] == "webhook.create" and secret not in str(audit)
    # A dump of the database does not hold the secret, nor what signs without the key.
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM webhook_subscription")).all()
    dumped = " ".join(str(value) for row in rows for value in row)
    assert secret not in dumped and secret[6:] not in dumped
    [row] = rows
    salt = row._mapping["secret_salt"]
    assert signing.signing_secret(KEY, salt) == secret
    assert signing.signing_secret("another key of the same length....", salt) != secret


def test_without_a_signing_key_subscribing_says_how_to_set_it(
        engine: Engine, admin: dict[str, str]) -> None:
    with make_client(engine, webhook_allowed_hosts="127.0.0.1",
                     webhook_signing_key=None) as client:
        refused = client.post("/api/v1/webhooks", headers=admin, json=BODY)
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert "PLANPULSE_WEBHOOK_SIGNING_KEY" in refused.json()["detail"]
        assert client.get("/api/v1/webhooks", headers=admin).json()["count"] == 0


def test_a_short_signing_key_stops_the_settings() -> None:
    with pytest.raises(ValueError, match="webhook_signing_key"):
        Settings(webhook_signing_key="short")


@pytest.mark.parametrize(("body", "field"), [
    ({"events": ["deliverable.deleted"]}, "events"),
    ({"events": []}, "events"),
    ({"mandate": "NOPE"}, "mandate"),
    ({"url": "ftp://127.0.0.1/hook"}, "url"),
    ({"url": "127.0.0.1/hook"}, "url"),
    ({"url": "http://user:pw@127.0.0.1/hook"}, "url"),
    ({"url": "http:///hook"}, "url"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_fields_are_named(engine: Engine, admin: dict[str, str], body: dict[str, Any],
                              field: str) -> None:
    with make_client(engine, **SETTINGS) as client:
        refused = client.post("/api/v1/webhooks", headers=admin, json={**BODY, **body})
    assert refused.status_code == 422, refused.text
    assert [error["path"] for error in refused.json()["errors"]] == [field]


REFUSED_URLS = [
    "http://127.0.0.1/hook", "http://127.1.2.3:8080/hook", "http://10.0.0.1/hook",
    "http://172.16.5.4/hook", "http://192.168.1.1/hook", "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook", "http://100.64.0.1/hook",
    "https://localhost/hook", "http://2130706433/hook",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_loopback_and_private_addresses_are_refused(engine: Engine, admin: dict[str, str],
                                                    url: str) -> None:
    with make_client(engine, webhook_signing_key=KEY) as client:
        refused = client.post("/api/v1/webhooks", headers=admin, json={**BODY, "url": url})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["path"] == "url"
    assert "PLANPULSE_WEBHOOK_ALLOWED_HOSTS" in error["message"]


def test_allowed_hosts_may_be_private(engine: Engine, admin: dict[str, str]) -> None:
    with make_client(engine, webhook_signing_key=KEY,
                     webhook_allowed_hosts="127.0.0.1, LOCALHOST, [::1]") as client:
        for url in ("http://127.0.0.1:8080/hook", "https://localhost/hook",
                    "http://[::1]:9000/hook"):
            made = client.post("/api/v1/webhooks", headers=admin, json={**BODY, "url": url})
            assert made.status_code == 201, (url, made.text)
        refused = client.post("/api/v1/webhooks", headers=admin,
                              json={**BODY, "url": "http://10.0.0.1/hook"})
        assert refused.status_code == 422


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    answers = {"mixed.example": ["93.184.216.34", "10.1.2.3"],
               "public.example": ["93.184.216.34", "2606:2800:220:1::1"]}

    def resolve(host: str, _port: int) -> list[str]:
        return answers[host]

    with pytest.raises(addresses.Refused, match=re.escape("10.1.2.3")):
        addresses.target("https://mixed.example/hook", allowed_hosts=(), resolve=resolve)
    found = addresses.target("https://public.example:8443/h?x=1", allowed_hosts=(),
                             resolve=resolve)
    # Connects to the checked address; Host and TLS keep the name.
    assert found.url == "https://93.184.216.34:8443/h?x=1"
    assert found.host_header == "public.example:8443"
    assert found.tls_name == "public.example"


def test_delete_removes_the_subscription(engine: Engine, admin: dict[str, str]) -> None:
    with make_client(engine, **SETTINGS) as client:
        webhook = client.post("/api/v1/webhooks", headers=admin, json=BODY).json()["id"]
        assert client.delete(f"/api/v1/webhooks/{webhook}", headers=admin).status_code == 204
        for method, path in [("GET", ""), ("DELETE", ""), ("GET", "/deliveries")]:
            gone = client.request(method, f"/api/v1/webhooks/{webhook}{path}", headers=admin)
            assert gone.status_code == 404, (method, path)
            assert gone.headers["content-type"] == "application/problem+json"
        assert client.get("/api/v1/webhooks", headers=admin).json()["count"] == 0


WEBHOOK_SETTINGS = [name for name in Settings.model_fields if name.startswith("webhook")]


@pytest.mark.parametrize("doc", ["README.md", "docs/configuration.md", "docs/webhooks.md"])
def test_the_webhook_settings_are_documented(doc: str) -> None:
    text_ = (ROOT / doc).read_text(encoding="utf-8")
    assert len(WEBHOOK_SETTINGS) == 6
    for name in WEBHOOK_SETTINGS:
        assert f"| `PLANPULSE_{name.upper()}` |" in text_, (doc, name)
