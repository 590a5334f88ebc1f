"""The records pages: the members' table as the report prints it, a member's page, the
calendar of events, and the dashboard's derived indicators linking to them; on SQLite and
PostgreSQL, and once in Chromium.

Expectations come from the bundled records file (app/data/metropolis-records-2020.yaml),
except the figures the Annual Report 2020 prints (108 activated members; 88 online, 6 hybrid
and 10 in-person events), which are checked against that file too.
"""

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.services.records.bundled import bundled_records, load_bundled_records_if_empty
from app.web import records
from tests.conftest import serving
from tests.test_browser import OUTPUT, Problems, browser  # noqa: F401  (the fixture)
from tests.test_web import HTML, Node, page, parse

PERIOD = "2020"
FILE = bundled_records()
ROLL = [entry for entry in FILE.engagement if entry.period == PERIOD]
NAMES = {member.code: member.name for member in FILE.members}
EVENTS = [activity for activity in FILE.activities if activity.kind == "event"]
KINDS = {kind.code: kind for kind in FILE.engagement_kinds}


def _values(code: str) -> dict[str, Any]:
    return next(entry.values for entry in ROLL if entry.member == code)


def _table(doc: Node) -> Node:
    return doc.one("table", class_="engagement")


def _member_rows(doc: Node) -> list[Node]:
    return [row for row in _table(doc).find_all("tr") if "data-member" in row.attrs]


def _cells(row: Node) -> dict[str, str]:
    return {td.attrs["data-kind"] or "": td.text() for td in row.find_all("td")}


def _event_rows(doc: Node) -> list[Node]:
    return [row for row in doc.find_all("tr") if "data-mode" in row.attrs]


# The members' table -------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis_records")
def test_members_page_lists_the_roll_by_name_with_the_reports_columns(
        client: TestClient) -> None:
    doc = page(client, "/members")
    assert doc.one("h1").text() == f"Members in {PERIOD}"
    rows = _member_rows(doc)
    assert len(rows) == len(ROLL) == 141
    expected = sorted((entry.member for entry in ROLL), key=lambda code: NAMES[code].lower())
    assert [row.attrs["data-member"] for row in rows] == expected
    header = [th.text() for th in _table(doc).one("thead").find_all("th")]
    assert header == ["MEMBER", *(kind.title for kind in FILE.engagement_kinds
                                  if kind.sheet == "engagement")]
    first = rows[0]
    assert first.one("a").attrs["href"] == f"/members/{expected[0]}"


@pytest.mark.usefixtures("metropolis_records")
def test_totals_rows_count_members_with_a_value_and_sum_the_summed_counts(
        client: TestClient) -> None:
    table = _table(page(client, "/members", period=PERIOD, sheet="engagement"))
    members = _cells(table.one("tr", id="total-members"))
    sums = _cells(table.one("tr", id="total-sum"))
    assert table.find_all("tr")[1].attrs["id"] == "total-members"  # on top, then "Total"
    assert table.find_all("tr")[2].attrs["id"] == "total-sum"
    assert members["activated"] == "108"  # as the report prints it
    for code, kind in KINDS.items():
        if kind.sheet != "engagement":
            continue
        held = [_values(entry.member)[code] for entry in ROLL
                if _values(entry.member).get(code) not in (None, False)]
        assert members[code] == str(len(held)), code
        if kind.value == "count" and kind.summed:
            assert sums[code] == str(sum(held)), code
        else:
            assert sums[code] == "-", code
    assert sums["fee_payment"] == "-" and sums["bilateral_meetings"] != "-"


@pytest.mark.usefixtures("metropolis_records")
def test_cells_show_yes_for_flags_numbers_labels_and_n_after_new_members(
        client: TestClient) -> None:
    doc = page(client, "/members")
    rows = {row.attrs["data-member"]: row for row in _member_rows(doc)}
    values = _values("barcelona-city")
    cells = _cells(rows["barcelona-city"])
    assert cells["activated"] == "Yes"
    assert cells["bilateral_meetings"] == str(values["bilateral_meetings"])
    assert cells["pilot_projects"] == values["pilot_projects"] == "P (2)"
    assert cells["call_endorsement"] == ""
    new = [member.code for member in FILE.members if member.new_in == PERIOD]
    assert new
    for code in rows:
        name = rows[code].one("th").text()
        assert name == (f"{NAMES[code]} (N)" if code in new else NAMES[code])


@pytest.mark.usefixtures("metropolis_records")
def test_each_sheet_has_its_tab_and_its_columns(client: TestClient) -> None:
    doc = page(client, "/members", sheet="website")
    tabs = doc.one("nav", aria_label="Sheets").find_all("a")
    assert [tab.attrs["href"] for tab in tabs] == [
        f"/members?period={PERIOD}&sheet={sheet}" for sheet in ("engagement", "website", "annex")]
    assert [tab.attrs.get("aria-current") for tab in tabs] == [None, "page", None]
    kinds = [th.attrs["data-kind"] for th in _table(doc).one("thead").find_all("th")[1:]]
    assert kinds == [kind.code for kind in FILE.engagement_kinds if kind.sheet == "website"]
    news = sum(_values(entry.member).get("website_news", 0) for entry in ROLL)
    assert _cells(_table(doc).one("tr", id="total-sum"))["website_news"] == str(news)
    periods = doc.one("select", name="period").find_all("option")
    assert [option.text() for option in periods] == [PERIOD]


@pytest.mark.usefixtures("metropolis_records")
def test_the_name_filter_narrows_the_rows_not_the_totals(client: TestClient) -> None:
    doc = page(client, "/members", q="barcelona")
    expected = sorted(code for code, name in NAMES.items() if "barcelona" in name.lower())
    assert sorted(row.attrs["data-member"] or "" for row in _member_rows(doc)) == expected
    assert len(expected) == 2
    assert doc.one("input", name="q").attrs["value"] == "barcelona"
    assert _cells(_table(doc).one("tr", id="total-members"))["activated"] == "108"
    assert _member_rows(page(client, "/members", q="no such city")) == []


@pytest.mark.usefixtures("metropolis_records")
def test_more_members_than_a_page_are_paged_with_links(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "MEMBERS_PER_PAGE", 60)
    first = page(client, "/members")
    assert len(_member_rows(first)) == 60
    following = first.one("a", rel="next").attrs["href"] or ""
    assert "offset=60" in following
    second = parse(client.get(following).text)
    last = parse(client.get(second.one("a", rel="next").attrs["href"] or "").text)
    assert len(_member_rows(last)) == len(ROLL) - 120
    assert last.find_all("a", rel="next") == []
    assert "offset" not in (second.one("a", rel="prev").attrs["href"] or "")
    seen = [row.attrs["data-member"] for doc in (first, second, last)
            for row in _member_rows(doc)]
    assert len(set(seen)) == len(ROLL)


@pytest.mark.usefixtures("metropolis_records")
def test_the_kind_named_is_highlighted(client: TestClient) -> None:
    doc = page(client, "/members", sheet="engagement", kind="activated")
    assert _table(doc).one("th", data_kind="activated").has_class("highlight")


@pytest.mark.usefixtures("metropolis_records")
def test_an_unknown_sheet_is_422_and_a_period_without_roll_404_as_html(
        client: TestClient) -> None:
    bad = client.get("/members", params={"sheet": "nope"}, headers=HTML)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "sheet" in bad.text
    missing = client.get("/members", params={"period": "1999"}, headers=HTML)
    assert missing.status_code == 404 and "1999" in missing.text


def test_members_page_without_records_says_how_to_get_them(client: TestClient) -> None:
    doc = page(client, "/members")
    assert "No records yet" in doc.one("main").text()


# A member -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis_records")
def test_a_member_page_shows_its_engagement_by_period_and_its_activities(
        client: TestClient) -> None:
    doc = page(client, "/members/barcelona-city")
    assert doc.one("h1").text() == "Barcelona (city)"
    values = _values("barcelona-city")
    table = doc.one("table", class_="member-engagement")
    rows = {row.attrs["data-kind"]: row for row in table.find_all("tr")
            if "data-kind" in row.attrs}
    assert set(rows) == {code for code, value in values.items() if value is not False}
    assert rows["activated"].one("td", data_period=PERIOD).text() == "Yes"
    assert rows["website_news"].one("td", data_period=PERIOD).text() == str(
        values["website_news"])
    taking_part = [(activity.code, item.role) for activity in FILE.activities
                   for item in activity.members if item.member == "barcelona-city"]
    assert taking_part
    listed = doc.one("table", class_="activities").find_all("tr")[1:]
    assert sorted(row.attrs["data-code"] or "" for row in listed) == sorted(
        code for code, _ in taking_part)
    row = listed[0]
    cells = {td.attrs["data-label"]: td.text() for td in row.find_all("td")}
    code = row.attrs["data-code"]
    assert cells["Role"] == dict(taking_part)[code or ""]
    href = row.one("a").attrs["href"] or ""
    assert href.endswith(f"#{code}") and "member=barcelona-city" in href
    assert parse(client.get(href.split("#")[0]).text).one("tr", id=code or "")


@pytest.mark.usefixtures("metropolis_records")
def test_an_unknown_member_is_a_404_html_page_or_problem_json(client: TestClient) -> None:
    answer = client.get("/members/atlantis", headers=HTML)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    doc = parse(answer.text)
    assert doc.one("h1").text() == "Not found"
    assert "atlantis" in doc.one("main").text()
    problem = client.get("/members/atlantis", headers={"Accept": "application/json"})
    assert problem.status_code == 404
    assert problem.headers["content-type"].startswith("application/problem+json")


# The calendar -------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis_records")
def test_events_page_counts_by_mode_and_groups_by_month(client: TestClient) -> None:
    doc = page(client, "/events")
    counts = {li.attrs["data-mode"]: li.one("strong").text()
              for li in doc.one("ul", class_="counts modes").find_all("li")}
    expected = Counter(str(event.mode) for event in EVENTS)
    assert counts == {mode: str(n) for mode, n in expected.items()}
    assert counts == {"online": "88", "hybrid": "6", "in_person": "10"}  # as the report says
    months = Counter(f"{event.start_date:%Y-%m}" for event in EVENTS)
    sections = doc.find_all("section", class_="month")
    assert [section.attrs["data-month"] for section in sections] == sorted(months)
    for section in sections:
        assert len(_event_rows(section)) == months[section.attrs["data-month"] or ""]
    march = next(section for section in sections if section.attrs["data-month"] == "2020-03")
    assert march.one("h3").text() == f"March 2020 ({months['2020-03']})"
    assert len(_event_rows(doc)) == len(EVENTS) == 104
    row = _event_rows(doc)[0]
    assert [td.attrs["data-label"] for td in row.find_all("td")] == [
        "Start", "End", "Location", "Mode"]


@pytest.mark.usefixtures("metropolis_records")
@pytest.mark.parametrize("mode", ["online", "in_person", "hybrid"])
def test_a_mode_filter_shows_only_those_events(client: TestClient, mode: str) -> None:
    doc = page(client, "/events", mode=mode)
    rows = _event_rows(doc)
    assert {row.attrs["data-mode"] for row in rows} == {mode}
    assert len(rows) == sum(1 for event in EVENTS if event.mode == mode)
    chosen = [option.attrs["value"] for option in doc.one("select", name="mode").find_all(
        "option") if "selected" in option.attrs]
    assert chosen == [mode]


@pytest.mark.usefixtures("metropolis_records")
def test_month_kind_and_action_line_filters(client: TestClient) -> None:
    march = _event_rows(page(client, "/events", month="2020-03"))
    assert sorted(row.attrs["data-code"] or "" for row in march) == sorted(
        event.code for event in EVENTS if f"{event.start_date:%Y-%m}" == "2020-03")
    statements = [a for a in FILE.activities if a.kind == "statement"]
    doc = page(client, "/events", kind="statement")
    assert len(_event_rows(doc)) == len(statements)
    assert len(_event_rows(page(client, "/events", kind=""))) == len(FILE.activities)
    linked = [event.code for event in EVENTS
              if any(link.action_line == "L2" for link in event.links)]
    assert linked
    assert sorted(row.attrs["data-code"] or "" for row in _event_rows(
        page(client, "/events", action_line="L2"))) == sorted(linked)
    bad = client.get("/events", params={"month": "March"}, headers=HTML)
    assert bad.status_code == 422 and "month" in bad.text


@pytest.mark.usefixtures("metropolis_records")
def test_the_header_links_to_members_and_events(client: TestClient) -> None:
    for path in ("/", "/members", "/events"):
        nav = page(client, path).one("nav", aria_label="Records")
        assert [a.attrs["href"] for a in nav.find_all("a")] == ["/members", "/events"]


# Derived indicators on the dashboard --------------------------------------------------------

@pytest.mark.usefixtures("metropolis_records")
def test_derived_indicators_are_marked_and_link_to_their_records(client: TestClient) -> None:
    doc = page(client, "/mandates/2018-2020")
    plan = bundled_plan()
    derived = {item.code for item in plan.indicators if item.derived is not None}
    assert derived
    links = {}
    for item in plan.indicators:
        marks = doc.one("tr", data_code=item.code).find_all("a", class_="derived")
        assert len(marks) == (item.code in derived), item.code
        if marks:
            assert marks[0].text() == "derived from the records"
            links[item.code] = marks[0].attrs["href"] or ""
    assert links["MEMBERSHIP_ENGAGED_SHARE"] == (
        f"/members?period={PERIOD}&sheet=engagement&kind=activated")
    assert links["WEBSITE_NEWS"] == f"/members?period={PERIOD}&sheet=website&kind=website_news"
    assert links["CALENDAR_EVENTS_ONLINE"] == "/events?kind=event&mode=online"
    for href in set(links.values()):
        assert client.get(href, headers=HTML).status_code == 200, href
    events = parse(client.get(links["CALENDAR_EVENTS_ONLINE"]).text)
    assert len(_event_rows(events)) == 88
    members = parse(client.get(links["MEMBERSHIP_ENGAGED_SHARE"]).text)
    assert _cells(_table(members).one("tr", id="total-members"))["activated"] == "108"
    assert _table(members).one("th", data_kind="activated").has_class("highlight")


# In Chromium --------------------------------------------------------------------------------

def test_members_and_events_in_chromium(engine: Engine, browser: Any,  # noqa: F811
                                        backend: str) -> None:
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
        load_bundled_records_if_empty(session)
        session.commit()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with serving(engine) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        problems = Problems(tab)

        tab.goto(f"{base}/", wait_until="load")
        tab.locator("nav[aria-label='Records'] a", has_text="Members").click()
        tab.wait_for_load_state("networkidle")
        assert tab.url == f"{base}/members"
        totals = tab.locator("#total-members td[data-kind='activated']")
        assert totals.inner_text() == "108"
        assert tab.locator("table.engagement tr[data-member]").count() == len(ROLL)
        tab.screenshot(path=str(OUTPUT / f"members-{backend}.png"), full_page=True)

        tab.locator("tr[data-member='barcelona-city'] th a").click()
        tab.wait_for_load_state("networkidle")
        assert tab.url == f"{base}/members/barcelona-city"
        assert tab.locator("h1").inner_text() == "Barcelona (city)"
        assert tab.locator("table.activities tbody tr").count() > 0

        tab.locator("nav[aria-label='Records'] a", has_text="Events").click()
        tab.wait_for_load_state("networkidle")
        assert tab.locator("li[data-mode='hybrid'] strong").inner_text() == "6"
        tab.locator("select[name='mode']").select_option("hybrid")
        tab.locator("form.filters button[type='submit']").click()
        tab.wait_for_load_state("networkidle")
        assert "mode=hybrid" in tab.url
        rows = tab.locator("table.events tbody tr")
        assert rows.count() == 6
        for index in range(6):
            assert rows.nth(index).get_attribute("data-mode") == "hybrid"
        tab.screenshot(path=str(OUTPUT / f"events-{backend}.png"), full_page=True)
        context.close()

        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        small = phone.new_page()
        phone_problems = Problems(small)
        for path in ("/members", "/members/barcelona-city", "/events"):
            # networkidle: the next page must not abort this one's favicon request
            small.goto(f"{base}{path}", wait_until="networkidle")
            wide = small.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"{path} is {wide}px wide on a 390px screen"
        phone.close()
    assert problems.seen == []
    assert phone_problems.seen == []
