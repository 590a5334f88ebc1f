"""The dashboard pages: what they show, that it equals the API, filters, as_of, access."""

import fnmatch
import re
import tomllib
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Role, Status
from app.reports.vocabulary import STATUS_SYMBOLS, STATUS_WORDS, percent, whole_percent
from app.schemas.api import SeriesPoint
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.web.charts import burn_up
from app.web.templating import STATIC_DIR, TEMPLATES_DIR
from tests.conftest import make_client
from tests.helpers import auth, load, new_token, small_plan

M = "/api/v1/mandates/2018-2020"
PAGE = "/mandates/2018-2020"
HTML = {"Accept": "text/html,application/xhtml+xml"}
ROOT = Path(__file__).resolve().parent.parent
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


# A small DOM, enough to find elements by tag and attribute and read their text -------------

class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def find_all(self, tag: str | None = None, **attrs: str) -> list["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                wanted = (tag is None or child.tag == tag) and all(
                    child.attrs.get(name.rstrip("_").replace("_", "-")) == value
                    for name, value in attrs.items())
                if wanted:
                    found.append(child)
                found += child.find_all(tag, **attrs)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> "Node":
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]

    def has_class(self, name: str) -> bool:
        return name in (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {}, None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None and node.parent is not None, f"stray </{tag}>"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> left open"
    return builder.root


def page(client: TestClient, path: str, **params: Any) -> Node:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


# Fixtures -----------------------------------------------------------------------------------

def _line(doc: Node, code: str) -> Node:
    return doc.one("article", data_code=code)


def _rows(node: Node) -> dict[str, Node]:
    return {row.attrs["data-code"] or "": row for row in node.find_all("tr")
            if "data-status" in row.attrs}


def _change_status(client: TestClient, engine: Engine, code: str, status: str) -> None:
    secret = new_token(engine, Role.editor, name=f"editor-{code}")
    etag = client.get(f"{M}/deliverables/{code}").headers["etag"]
    answer = client.post(f"{M}/deliverables/{code}/status", json={"status": status},
                         headers={**auth(secret), "If-Match": etag})
    assert answer.status_code == 200, answer.text


# The dashboard ------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
def test_home_shows_the_bundled_plan_at_78_percent_with_its_three_action_lines(
        client: TestClient) -> None:
    doc = page(client, "/")
    assert doc.one("h1").text() == "Metropolis Action Plan 2018-2020"
    progress = doc.one("data", id="mandate-progress")
    assert progress.text() == "78%"
    assert progress.attrs["value"] == "0.7846"
    assert doc.one(id="mandate-completed").text() == "50"
    assert doc.one(id="mandate-deliverables").text() == "65"
    assert [line.attrs["data-code"] for line in doc.find_all("article")] == ["L1", "L2", "L3"]
    assert len(doc.find_all("details", data_code="L2M10")) == 1


@pytest.mark.usefixtures("metropolis")
def test_every_figure_shown_equals_the_apis(client: TestClient) -> None:
    api = client.get(f"{M}/progress").json()
    doc = page(client, PAGE)
    counts = {li.attrs["data-status"]: li.one("strong").text()
              for li in doc.one("section", aria_labelledby="overall-title").find_all("li")}
    assert counts == {s: str(n) for s, n in api["totals"]["by_status"].items()}
    assert doc.one(id="mandate-completion").text() == percent(api["totals"]["completion_rate"])
    for line in api["action_lines"]:
        card = _line(doc, line["code"])
        assert card.one("data").text() == percent(line["totals"]["progress"])
        bar = card.find_all(role="progressbar")[0]
        assert bar.attrs["aria-valuenow"] == str(whole_percent(line["totals"]["progress"]))
        for measure in line["measures"]:
            details = card.one("details", data_code=measure["code"])
            assert details.one("span", class_="pct").text() == percent(
                measure["totals"]["progress"])
            assert len(_rows(details)) == measure["totals"]["deliverables"]


@pytest.mark.usefixtures("metropolis")
def test_drill_down_lists_deliverables_with_status_owner_due_date_and_last_change(
        client: TestClient) -> None:
    api = client.get(f"{M}/deliverables", params={"measure": "L2M10"}).json()["data"]
    rows = _rows(page(client, PAGE).one("details", data_code="L2M10"))
    assert list(rows) == ["L2M10D1", "L2M10D2", "L2M10D3"]
    for item in api:
        row = rows[item["code"]]
        cells = {td.attrs.get("data-label"): td for td in row.find_all("td")}
        assert set(cells) == {"Deliverable", "Status", "Owner", "Due", "Last change"}
        assert cells["Status"].text() == "\u00d7 not achieved"
        assert cells["Deliverable"].text().startswith(item["title"])
        assert cells["Owner"].text() == "—"
        changed = datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00"))
        assert cells["Last change"].one("time").attrs["datetime"] == changed.astimezone(
            UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.usefixtures("metropolis")
def test_the_deliverables_page_of_a_measure(client: TestClient) -> None:
    doc = page(client, f"{PAGE}/deliverables", measure="L2M10")
    assert doc.one("h1").text() == "Deliverables of measure L2M10"
    assert [li.text() for li in doc.one("nav", aria_label="Breadcrumb").find_all("li")] == [
        "Metropolis Action Plan 2018-2020", "L2", "L2M10"]
    rows = _rows(doc.one("table", class_="deliverables"))
    assert {code: row.attrs["data-status"] for code, row in rows.items()} == dict.fromkeys(
        ["L2M10D1", "L2M10D2", "L2M10D3"], "not_achieved")
    assert doc.one(id="scope-progress").text() == "0%"


@pytest.mark.usefixtures("metropolis")
def test_status_is_shown_by_symbol_and_word_not_colour_alone(client: TestClient) -> None:
    html = client.get(PAGE).text
    for status in Status:
        symbol, word = STATUS_SYMBOLS[status], STATUS_WORDS[status]
        assert (f'<span class="sym" aria-hidden="true">{symbol}</span> '
                f'<span class="word">{word}</span>') in html or status == Status.cancelled
    doc = parse(html)
    for row in _rows(doc).values():
        status = Status(row.attrs["data-status"] or "")
        cell = next(td for td in row.find_all("td") if td.attrs.get("data-label") == "Status")
        assert cell.text().startswith(f"{STATUS_SYMBOLS[status]} {STATUS_WORDS[status]}")


@pytest.mark.usefixtures("metropolis")
def test_page_is_semantic_and_keyboard_usable(client: TestClient) -> None:
    doc = page(client, PAGE)
    html = doc.one("html")
    assert html.attrs["lang"] == "en"
    assert doc.one("meta", name="viewport").attrs["content"].startswith("width=device-width")
    assert doc.one("a", class_="skip").attrs["href"] == "#main"
    assert doc.one("main").attrs["id"] == "main"
    for landmark in ("header", "footer"):
        assert len(doc.find_all(landmark)) == 1
    assert doc.one("nav", aria_label="Mandates")
    assert doc.one("form", role="search")
    ids = {node.attrs["id"] for node in doc.find_all() if node.attrs.get("id")}
    for section in doc.find_all("section") + doc.find_all("article"):
        assert section.attrs.get("aria-labelledby") in ids
    # Every form control has a label; drill-downs are <details>, reachable by Tab.
    for control in doc.find_all("input") + doc.find_all("select"):
        parent = control.parent
        while parent is not None and parent.tag != "label":
            parent = parent.parent
        assert parent is not None, control.attrs
    assert all(d.find_all("summary") for d in doc.find_all("details"))
    for bar in doc.find_all(role="progressbar"):
        assert bar.attrs.get("aria-label")


@pytest.mark.usefixtures("metropolis")
def test_everything_the_page_loads_is_served_by_the_app(client: TestClient) -> None:
    doc = page(client, PAGE)
    # One script, the live updates' (docs/dashboard.md): the page needs none.
    assert [node.attrs.get("src") for node in doc.find_all("script")] == ["/static/live.js"]
    loaded = [node.attrs.get("src") or node.attrs.get("href") or ""
              for node in doc.find_all("link") + doc.find_all("img") + doc.find_all("script")]
    assert loaded and all(url.startswith("/static/") for url in loaded)
    for url in loaded:
        assert client.get(url).status_code == 200
    css = client.get("/static/planpulse.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "http:" not in css.text and "https:" not in css.text and "@import" not in css.text
    script = client.get("/static/live.js")
    assert script.headers["content-type"].startswith(("text/javascript",
                                                      "application/javascript"))
    assert "http:" not in script.text and "https:" not in script.text
    assert not re.search(r"^\s*import\b|\bimport\s*\(", script.text, re.MULTILINE)  # a module


@pytest.mark.usefixtures("metropolis")
def test_burn_up_chart_is_inline_svg_from_the_series(client: TestClient) -> None:
    series = client.get(f"{M}/progress/series").json()["points"]
    now = client.get(f"{M}/progress").json()["totals"]["progress"]
    doc = page(client, PAGE)
    svg = doc.one("svg", class_="burnup")
    assert svg.one("title").text().startswith("Burn-up chart")
    # The month ends of the mandate, then now: the mandate ended, the figures above are now's.
    progress_line = svg.one("polyline", class_="line progress").attrs["points"] or ""
    assert len(series) == 36
    assert len(progress_line.split()) == len(series) + 1
    assert svg.one("text", class_="end-label").text() == percent(now) == "78%"
    rows = doc.one("details", class_="chart-data").find_all("tr")[1:]
    assert [row.find_all("td")[0].text() for row in rows] == [
        *(percent(point["progress"]) for point in series), percent(now)]
    ticks = [text.text() for text in svg.find_all("text", class_="tick")]
    assert ticks[-4:-1] == ["2018", "2019", "2020"]
    assert ticks[-1] == datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(page(client, PAGE, as_of="2020-12-31").one(
        "polyline", class_="line progress").attrs["points"].split()) == 36


@pytest.mark.usefixtures("metropolis")
def test_indicators_show_attainment_and_women_men_splits(client: TestClient) -> None:
    doc = page(client, PAGE)
    speakers = doc.one("tr", data_code="SPEAKERS_WOMEN_SHARE")
    cells = {td.attrs["data-label"]: td.text() for td in speakers.find_all("td")}
    assert cells["Value"] == "36% (2020)"
    assert cells["Target"] == "50%"
    assert cells["Attainment"] == "72% at risk"
    experts = doc.one("tr", data_code="EXPERTS")
    assert experts.one("span", class_="split-text").text() == "45% women, 55% men"
    widths = [span.attrs["style"] for span in experts.one("div", class_="split-bar")
              .find_all("span")]
    assert widths == ["width: 45%", "width: 55%"]


@pytest.mark.usefixtures("metropolis")
def test_recent_activity_feed(client: TestClient, engine: Engine) -> None:
    _change_status(client, engine, "L2M10D1", "completed")
    feed = page(client, PAGE).one("ol", class_="feed").find_all("li")
    assert "L2M10D1" in feed[0].text()
    assert "\u00d7 not achieved → V completed" in feed[0].text()
    assert "by editor-L2M10D1" in feed[0].text()


# Filters and time travel --------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("params", "api_params"), [
    ({"status": "not_achieved"}, {"status": "not_achieved"}),
    ({"status": ["not_started", "in_progress"]}, {"status": ["not_started", "in_progress"]}),
    ({"tag": "gender"}, {"tag": "gender"}),
    ({"tag": "youth", "status": "not_achieved"}, {"tag": "youth", "status": "not_achieved"}),
], ids=["status", "two-statuses", "tag", "tag-and-status"])
def test_filters_narrow_the_figures_like_the_api(client: TestClient, params: dict[str, Any],
                                                  api_params: dict[str, Any]) -> None:
    api = client.get(f"{M}/progress", params=api_params).json()
    listed = client.get(f"{M}/deliverables", params={**api_params, "limit": 500}).json()
    doc = page(client, PAGE, **params)
    assert doc.one(id="mandate-progress").text() == percent(api["totals"]["progress"])
    assert doc.one(id="mandate-deliverables").text() == str(api["totals"]["deliverables"])
    assert sorted(_rows(doc)) == sorted(item["code"] for item in listed["data"])
    shown = [a.attrs["data-code"] for a in doc.find_all("article")]
    assert shown == [line["code"] for line in api["action_lines"]
                     if line["totals"]["deliverables"]]
    checked = {i.attrs["value"] for i in doc.find_all("input", type="checkbox")
               if "checked" in i.attrs}
    statuses = api_params.get("status", [])
    assert checked == set([statuses] if isinstance(statuses, str) else statuses)


def test_owner_filter(client: TestClient, session: Session) -> None:
    load(session, small_plan())
    doc = page(client, "/mandates/T-2024", owner="Ana")
    assert list(_rows(doc)) == ["B1a"]
    options = [o.attrs["value"] for o in doc.one("select", name="owner").find_all("option")]
    assert options == ["", "Ana"]
    assert "selected" in doc.one("option", value="Ana").attrs


def _measure_owners(doc: Node) -> dict[str, str]:
    return {details.attrs["data-code"] or "": owner.text()
            for details in doc.find_all("details") if details.attrs.get("data-code")
            for owner in details.find_all("small") if owner.has_class("m-owner")}


def test_owner_filter_takes_measure_owners_and_the_dashboard_shows_them(
        client: TestClient, session: Session) -> None:
    plan = small_plan()
    plan["action_lines"][0]["measures"][0]["owner"] = "Energy Office"
    plan["action_lines"][1]["measures"][0]["owner"] = "Ana"
    load(session, plan)

    whole = page(client, "/mandates/T-2024")
    assert _measure_owners(whole) == {"A1": "Owner: Energy Office", "B1": "Owner: Ana"}
    options = [o.attrs["value"] for o in whole.one("select", name="owner").find_all("option")]
    assert options == ["", "Ana", "Energy Office"]

    # A plain GET of the form (no script): the deliverables of the measure Energy Office owns.
    doc = page(client, "/mandates/T-2024", owner="Energy Office")
    assert list(_rows(doc)) == ["A1a", "A1b"]
    assert doc.one(id="mandate-deliverables").text() == "2"
    assert "selected" in doc.one("option", value="Energy Office").attrs
    assert list(page(client, "/mandates/T-2024", owner="Ana").find_all("tr", data_code="B1b"))

    listed = page(client, "/mandates/T-2024/deliverables", measure="A1")
    assert [p.text() for p in listed.find_all("p") if p.has_class("m-owner")] == [
        "Owner: Energy Office"]


@pytest.mark.usefixtures("metropolis")
def test_empty_form_fields_mean_any(client: TestClient) -> None:
    plain = page(client, PAGE)
    emptied = page(client, PAGE, status="", tag="", owner="", as_of="")
    assert emptied.one(id="mandate-progress").text() == plain.one(
        id="mandate-progress").text() == "78%"
    assert len(_rows(emptied)) == 65


@pytest.mark.usefixtures("metropolis")
def test_as_of_shows_the_plan_as_it_stood(client: TestClient, engine: Engine) -> None:
    _change_status(client, engine, "L2M10D1", "completed")
    now = page(client, PAGE)
    assert now.one(id="mandate-progress").text() == "80%"
    assert _rows(now)["L2M10D1"].attrs["data-status"] == "completed"

    then = page(client, PAGE, as_of="2020-12-31")
    assert then.one(id="mandate-progress").text() == "78%"
    assert _rows(then)["L2M10D1"].attrs["data-status"] == "not_achieved"
    assert "As it stood on 2020-12-31" in then.one("p", class_="meta").text()
    assert then.one("input", name="as_of").attrs["value"] == "2020-12-31"
    # Links keep the date, the form shows it; the chart stops at it.
    assert all("as_of=2020-12-31" in (a.attrs["href"] or "")
               for a in then.find_all("a") if "/deliverables?" in (a.attrs["href"] or ""))
    # The bundled statuses take effect on 2020-12-31: before that nothing was done.
    before = page(client, PAGE, as_of="2019-12-31")
    assert before.one(id="mandate-progress").text() == "0%"
    assert {row.attrs["data-status"] for row in _rows(before).values()} == {"not_started"}
    assert len(before.one("polyline", class_="line progress").attrs["points"].split()) == 24


@pytest.mark.usefixtures("metropolis")
def test_as_of_before_the_mandate_has_no_chart(client: TestClient) -> None:
    doc = page(client, PAGE, as_of="2017-06-30")
    assert doc.find_all("svg") == []
    assert "had not started" in doc.one("section", aria_labelledby="chart-heading").text()


# Errors and access --------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("params", "field", "page_for_browsers"), [
    ({"status": "finished"}, "status[0]", True),
    ({"as_of": "31/12/2020"}, "as_of", True),
    # Refused by the framework before the page is built: an HTML page for browsers too.
    ({"tag": "x" * 201}, "tag", True),
], ids=["status", "as_of", "long-tag"])
def test_bad_filters_are_a_422(client: TestClient, params: dict[str, str], field: str,
                               page_for_browsers: bool) -> None:
    answer = client.get(PAGE, params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["path"] for error in answer.json()["errors"]]
    browser = client.get(PAGE, params=params, headers=HTML)
    assert browser.status_code == 422
    assert browser.headers["content-type"].startswith("text/html") == page_for_browsers
    assert field in browser.text


def test_unknown_mandate(client: TestClient) -> None:
    answer = client.get("/mandates/nope")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    browser = client.get("/mandates/nope/deliverables", headers=HTML)
    assert browser.status_code == 404
    assert browser.headers["content-type"].startswith("text/html")
    assert parse(browser.text).one("h1").text() == "Not found"


def test_home_without_any_mandate(client: TestClient) -> None:
    assert page(client, "/").one("h1").text() == "No mandate yet"


def test_newest_mandate_is_the_home_page(client: TestClient, session: Session) -> None:
    import_plan(session, plan=bundled_plan())
    session.commit()
    load(session, small_plan())
    doc = page(client, "/")
    assert doc.one("h1").text() == "Test plan"
    nav = [a.text() for a in doc.one("nav", aria_label="Mandates").find_all("a")]
    assert nav == ["T-2024", "2018-2020"]


@pytest.mark.usefixtures("metropolis")
def test_pages_need_a_viewer_token_when_reads_are_private(engine: Engine) -> None:
    viewer = auth(new_token(engine, Role.viewer))
    with make_client(engine, public_read=False) as client:
        for path in ("/", PAGE, f"{PAGE}/deliverables"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers=viewer).status_code == 200
        assert client.get("/static/planpulse.css").status_code == 200


# Pure parts ---------------------------------------------------------------------------------

def test_burn_up_geometry() -> None:
    def point(day: date, progress: float | None, rate: float | None) -> SeriesPoint:
        return SeriesPoint.model_validate({
            "at": datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC),
            "progress": progress, "completion_rate": rate, "deliverables": 4,
            "by_status": {"completed": 2, "in_progress": 0, "not_started": 2,
                          "not_achieved": 0, "cancelled": 0}})

    chart = burn_up([point(date(2018, 1, 31), None, None), point(date(2018, 12, 31), 0.5, 0.25),
                     point(date(2019, 1, 31), 1.0, 1.0)], end=date(2019, 12, 31))
    assert chart is not None
    xs = [p.x for p in chart.points]
    assert xs[0] == chart.left and xs[-1] == chart.right and xs == sorted(xs)
    assert chart.points[0].progress_y == chart.bottom  # no figure is drawn as 0
    assert chart.points[-1].progress_y == chart.top
    assert [t.label for t in chart.x_ticks] == ["2018", "2019"]
    assert [t.label for t in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert "to 100%" in chart.description
    assert burn_up([]) is None
    later = burn_up([point(date(2019, 12, 31), 0.5, 0.5), point(date(2024, 5, 2), 0.6, 0.6)],
                    end=date(2019, 12, 31))
    assert later is not None
    assert [(t.label, t.anchor) for t in later.x_ticks] == [("2019", "middle"),
                                                           ("2024-05-02", "end")]


@pytest.mark.parametrize(("ratio", "shown"), [
    (0.7846, "78%"), (0.125, "13%"), (0.005, "1%"), (0.0, "0%"), (1.0, "100%"),
    (1.2, "120%"), (None, "—"),
])
def test_percentages_are_rounded_like_the_api(ratio: float | None, shown: str) -> None:
    assert percent(ratio) == shown


def test_every_status_has_one_symbol_and_one_word() -> None:
    assert set(STATUS_SYMBOLS) == set(STATUS_WORDS) == set(Status)
    assert [STATUS_SYMBOLS[s] for s in Status] == ["V", "•", "0", "\u00d7", "\u2013"]
    assert len(set(STATUS_SYMBOLS.values())) == len(Status)


def test_templates_and_static_files_are_in_the_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["app"]
    app_dir = ROOT / "app"
    shipped = [*TEMPLATES_DIR.iterdir(), *STATIC_DIR.iterdir(),
               *(app_dir / "reports" / "templates").iterdir()]
    assert {path.name for path in shipped} >= {"dashboard.html", "planpulse.css", "report.html"}
    for path in shipped:
        relative = path.relative_to(app_dir).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
