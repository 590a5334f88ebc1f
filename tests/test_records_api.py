"""The records through HTTP, on SQLite and PostgreSQL: members (paged, searched, with an
ETag), an editor's write to a member's engagement and its preconditions, the engagement
table and its downloads, sheet and records-file imports, activities' filters, and the
derived indicators computed from the records (their value, explain, as_of, and refusals).

Expectations come from the bundled records file (app/data/metropolis-records-2020.yaml);
the figures the Annual Report prints (108 activated of 141; 88 online, 6 hybrid and 10 in
person events) are checked against it too."""

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine

from app.services.records.bundled import bundled_records
from tests.helpers import snapshot

API = "/api/v1"
M = f"{API}/mandates/2018-2020"
PERIOD = "2020"
FILE = bundled_records()
ROLL = {entry.member: entry.values for entry in FILE.engagement if entry.period == PERIOD}
ACTIVATED = sorted(code for code, values in ROLL.items() if values.get("activated"))
EVENTS = [activity for activity in FILE.activities if activity.kind == "event"]
CSV = {"Content-Type": "text/csv"}
Tokens = dict[str, dict[str, str]]

pytestmark = pytest.mark.usefixtures("metropolis_records")


def _member(client: TestClient, code: str) -> tuple[dict[str, Any], str]:
    response = client.get(f"{API}/members/{code}")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def _put_engagement(client: TestClient, code: str, values: dict[str, Any],
                    headers: dict[str, str], if_match: str | None) -> Any:
    sent = {**headers, **({"If-Match": if_match} if if_match is not None else {})}
    return client.put(f"{API}/members/{code}/engagement/{PERIOD}", json={"values": values},
                      headers=sent)


def _without_activated(code: str) -> dict[str, Any]:
    return {kind: value for kind, value in ROLL[code].items() if kind != "activated"}


def _paths(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["path"] for error in response.json()["errors"]]


def _indicator(client: TestClient, code: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{M}/indicators/{code}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _value(client: TestClient, code: str, **params: Any) -> Any:
    values = {v["period"]: v for v in _indicator(client, code, **params)["values"]}
    return values[PERIOD]


# --- members ----------------------------------------------------------------------------------

def test_members_are_paged_by_name_and_searched(client: TestClient) -> None:
    page = client.get(f"{API}/members", params={"limit": 5, "offset": 5}).json()
    assert page["count"] == len(FILE.members) == 141
    assert (page["limit"], page["offset"], len(page["data"])) == (5, 5, 5)
    everyone = client.get(f"{API}/members", params={"limit": 200}).json()["data"]
    names = [member["name"] for member in everyone]
    assert names == sorted(names, key=str.lower)
    assert page["data"] == everyone[5:10]
    found = client.get(f"{API}/members", params={"q": "barcelona"}).json()
    assert [m["code"] for m in found["data"]] == ["barcelona-city",
                                                   "barcelona-metropolitan-area"]
    assert found["count"] == 2


def test_a_member_answers_with_its_engagement_and_an_etag(client: TestClient) -> None:
    body, tag = _member(client, "barcelona-city")
    assert tag.startswith('"m') and tag.endswith('"')
    assert body["name"] == "Barcelona (city)"
    assert body["engagement"] == [{"period": PERIOD, "values": ROLL["barcelona-city"]}]
    assert client.get(f"{API}/members/atlantis").status_code == 404


# --- an editor's write to one member's engagement ---------------------------------------------

def test_editor_replaces_a_members_engagement_with_if_match(client: TestClient,
                                                            tokens: Tokens) -> None:
    before, tag = _member(client, "abidjan")
    response = _put_engagement(client, "abidjan", {"activated": True, "bilateral_meetings": 3},
                               tokens["editor"], tag)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] not in ("", tag)
    assert response.json()["engagement"] == [
        {"period": PERIOD, "values": {"activated": True, "bilateral_meetings": 3}}]
    after, new_tag = _member(client, "abidjan")
    assert new_tag == response.headers["etag"]
    assert after["version"] == before["version"] + 1
    history = client.get(f"{API}/members/abidjan/history").json()
    assert any(row.get("superseded_at") for row in history), history  # the old ones stay


@pytest.mark.parametrize(("role", "if_match", "status"), [
    ("editor", None, 428),
    ("editor", "*", 428),
    ("editor", "stale", 412),
    ("viewer", "current", 403),
])
def test_a_refused_engagement_write_changes_nothing(
        role: str, if_match: str | None, status: int, client: TestClient, tokens: Tokens,
        engine: Engine) -> None:
    _, tag = _member(client, "abidjan")
    sent = {"current": tag, "stale": '"m1.0"'}.get(if_match or "", if_match)
    before = snapshot(engine)
    response = _put_engagement(client, "abidjan", {}, tokens[role], sent)
    assert response.status_code == status, response.text
    assert snapshot(engine) == before
    assert _member(client, "abidjan")[1] == tag


def test_a_write_naming_an_unknown_kind_is_422_naming_it(client: TestClient, tokens: Tokens,
                                                         engine: Engine) -> None:
    _, tag = _member(client, "abidjan")
    before = snapshot(engine)
    response = _put_engagement(client, "abidjan", {"activated": True, "juggling": 2},
                               tokens["editor"], tag)
    assert _paths(response) == ["values.juggling"]
    assert snapshot(engine) == before


# --- the engagement table ---------------------------------------------------------------------

def test_engagement_totals_are_the_whole_rolls_even_on_a_page(client: TestClient) -> None:
    response = client.get(f"{API}/engagement", params={"period": PERIOD, "limit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["members"] == 141
    assert len(body["rows"]) == 5
    assert body["totals"]["activated"] == {"members": 108, "sum": None}
    bilateral = [v["bilateral_meetings"] for v in ROLL.values() if "bilateral_meetings" in v]
    assert body["totals"]["bilateral_meetings"] == {"members": len(bilateral),
                                                    "sum": sum(bilateral)}
    whole = client.get(f"{API}/engagement", params={"period": PERIOD}).json()
    assert whole["totals"] == body["totals"]
    assert body["rows"] == whole["rows"][:5]


def test_engagement_downloads_as_csv_and_xlsx(client: TestClient) -> None:
    as_csv = client.get(f"{API}/engagement", params={"period": PERIOD, "format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "engagement-2020.csv" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[1][0] == "Total members"
    assert rows[1][rows[0].index("Activated member")] == "108"
    assert len(rows) == 3 + 141
    as_xlsx = client.get(f"{API}/engagement", params={"period": PERIOD, "format": "xlsx"})
    assert as_xlsx.status_code == 200
    book = load_workbook(io.BytesIO(as_xlsx.content))
    table = [[cell for cell in row] for row in book["engagement"].iter_rows(values_only=True)]
    assert table[1][0] == "Total members"
    assert table[1][table[0].index("Activated member")] == 108


def test_an_admin_imports_a_sheet_over_http(client: TestClient, tokens: Tokens,
                                            engine: Engine) -> None:
    sheet = ("MEMBER,Activated member,Attendance at bilateral meetings\n"
             "Total members,2,1\nTotal,-,4\nAbidjan,Yes,4\nNewtown (N),Yes,\n")
    url = f"{API}/engagement?period={PERIOD}"
    before = snapshot(engine)
    assert client.put(url, content=sheet, headers={**tokens["editor"], **CSV}
                      ).status_code == 403
    wrong = client.put(url, content=sheet,
                       headers={**tokens["admin"], "Content-Type": "text/plain"})
    assert wrong.status_code == 415, wrong.text
    bad = client.put(url, content=sheet.replace("Abidjan,Yes,4", "Abidjan,Yes,four"),
                     headers={**tokens["admin"], **CSV})
    # The word itself (row 4) alone: the column's totals can't be checked without it.
    assert sorted(_paths(bad)) == ["row 4, column C"]
    word = next(e for e in bad.json()["errors"] if e["path"] == "row 4, column C")
    assert "'four'" in word["message"]
    assert snapshot(engine) == before
    done = client.put(url, content=sheet, headers={**tokens["admin"], **CSV})
    assert done.status_code == 200, done.text
    assert done.json()["changed"] is True
    assert done.json()["members_added"] == ["Newtown"]
    assert _member(client, "abidjan")[0]["engagement"][0]["values"]["bilateral_meetings"] == 4
    assert _member(client, "newtown")[0]["new_in"] == PERIOD


# --- the records file -------------------------------------------------------------------------

def test_records_file_round_trips_as_json_and_yaml(client: TestClient, tokens: Tokens,
                                                   engine: Engine) -> None:
    as_json = client.get(f"{API}/records")
    assert as_json.status_code == 200
    assert len(as_json.json()["members"]) == 141
    as_yaml = client.get(f"{API}/records", headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json.json()
    before = snapshot(engine)
    for content, kind in ((as_json.content, "application/json"),
                          (as_yaml.content, "application/yaml")):
        again = client.put(f"{API}/records", content=content,
                           headers={**tokens["admin"], "Content-Type": kind})
        assert again.status_code == 200, again.text
        assert again.json()["changed"] is False
    assert snapshot(engine) == before
    assert client.put(f"{API}/records", content=as_json.content,
                      headers={**tokens["editor"], "Content-Type": "application/json"}
                      ).status_code == 403
    bad = client.put(f"{API}/records", json={"engagement": [
        {"member": "atlantis", "period": PERIOD, "values": {}}]}, headers=tokens["admin"])
    assert _paths(bad) == ["engagement[0].member"]
    assert snapshot(engine) == before


# --- activities -------------------------------------------------------------------------------

def _activity_codes(client: TestClient, **params: Any) -> list[str]:
    response = client.get(f"{API}/activities", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    return sorted(item["code"] for item in body["data"])


def test_activities_filter_by_kind_mode_dates_member_and_action_line(
        client: TestClient) -> None:
    assert _activity_codes(client, kind="event") == sorted(a.code for a in EVENTS)
    modes = Counter(a.mode.value for a in EVENTS if a.mode)
    assert modes == {"online": 88, "hybrid": 6, "in_person": 10}
    assert len(_activity_codes(client, kind="event", mode="hybrid")) == 6
    assert len(_activity_codes(client, kind="event", mode="online")) == 88
    spring = sorted(a.code for a in FILE.activities if a.start_date
                    and "2020-03-01" <= a.start_date.isoformat() <= "2020-04-30")
    assert spring
    assert _activity_codes(client, **{"from": "2020-03-01", "to": "2020-04-30"}) == spring
    member, _ = Counter(m.member for a in FILE.activities for m in a.members).most_common(1)[0]
    assert _activity_codes(client, member=member) == sorted(
        a.code for a in FILE.activities if any(m.member == member for m in a.members))
    for line in ("L1", "L2", "L3"):
        linked = sorted(a.code for a in FILE.activities if any(
            link.action_line == line or (link.measure or "").startswith(f"{line}M")
            for link in a.links))
        assert linked, line
        assert _activity_codes(client, action_line=line) == linked, line
    assert client.get(f"{API}/activities", params={"mode": "telepathy"}).status_code == 422


# --- derived indicators -----------------------------------------------------------------------

def test_engaged_share_is_108_of_141_and_explains_itself(client: TestClient) -> None:
    value = _value(client, "MEMBERSHIP_ENGAGED_SHARE")
    assert value["value"] == 108 * 100 / 141
    explained = _value(client, "MEMBERSHIP_ENGAGED_SHARE", explain="true")["explain"]
    assert explained["numerator"]["count"] == 108
    assert sorted(explained["numerator"]["records"]) == ACTIVATED
    assert len(ACTIVATED) == 108
    assert explained["denominator"] == {"count": 141}


def test_clearing_a_flag_moves_the_share_at_once_and_as_of_sees_the_past(
        client: TestClient, tokens: Tokens) -> None:
    progress_tag = client.get(f"{M}/progress").headers["etag"]
    before_write = datetime.now(UTC).isoformat()
    code = ACTIVATED[0]
    _, tag = _member(client, code)
    response = _put_engagement(client, code, _without_activated(code), tokens["editor"], tag)
    assert response.status_code == 200, response.text
    assert _value(client, "MEMBERSHIP_ENGAGED_SHARE")["value"] == 107 * 100 / 141
    explained = _value(client, "MEMBERSHIP_ENGAGED_SHARE", explain="true")["explain"]
    assert code not in explained["numerator"]["records"]
    assert client.get(f"{M}/progress").headers["etag"] != progress_tag
    assert _value(client, "MEMBERSHIP_ENGAGED_SHARE", as_of=before_write)["value"] == (
        108 * 100 / 141)
    assert _value(client, "MEMBERSHIP_ENGAGED_SHARE", known_at=before_write)["value"] == (
        108 * 100 / 141)


def test_a_value_posted_to_a_derived_indicator_is_409_and_recorded_nowhere(
        client: TestClient, tokens: Tokens, engine: Engine) -> None:
    tag = client.get(f"{M}/indicators/MEMBERSHIP_ENGAGED_SHARE").headers["etag"]
    before = snapshot(engine)
    response = client.post(f"{M}/indicators/MEMBERSHIP_ENGAGED_SHARE/values",
                           json={"period": PERIOD, "value": 50},
                           headers={**tokens["editor"], "If-Match": tag})
    assert response.status_code == 409, response.text
    assert snapshot(engine) == before
    assert _value(client, "MEMBERSHIP_ENGAGED_SHARE")["value"] == 108 * 100 / 141


def test_a_plan_with_derived_and_values_for_an_indicator_is_422_naming_it(
        client: TestClient, tokens: Tokens, engine: Engine) -> None:
    plan = client.get(f"{M}/plan").json()
    index = next(i for i, item in enumerate(plan["indicators"])
                 if item["code"] == "MEMBERSHIP_ENGAGED_SHARE")
    assert plan["indicators"][index]["derived"] == {
        "share_of_members": {"engagement": "activated"}}
    plan["indicators"][index]["values"] = [{"period": PERIOD, "value": 50}]
    before = snapshot(engine)
    response = client.put(f"{M}/plan", json=plan, headers=tokens["admin"])
    assert _paths(response) == [f"indicators[{index}].derived"]
    assert snapshot(engine) == before


@pytest.mark.parametrize(("mode", "count"), [("online", 88), ("hybrid", 6),
                                             ("in_person", 10)])
def test_counting_events_by_mode_gives_88_6_and_10(mode: str, count: int, client: TestClient,
                                                   tokens: Tokens) -> None:
    code = f"EVENTS_{mode.upper()}"
    created = client.post(f"{M}/indicators", headers=tokens["admin"], json={
        "code": code, "title": f"Events {mode}", "unit": "count", "direction": "increase",
        "aggregation": "sum", "action_line": "L1",
        "derived": {"count_activities": {"kind": "event", "mode": mode}}})
    assert created.status_code == 201, created.text
    assert _value(client, code)["value"] == count
    explained = _value(client, code, explain="true")["explain"]
    assert sorted(explained["numerator"]["records"]) == sorted(
        a.code for a in EVENTS if a.mode and a.mode.value == mode)
    if mode == "online":
        assert _value(client, "CALENDAR_EVENTS_ONLINE")["value"] == 88
