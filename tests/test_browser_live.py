"""The dashboard's live figures (app/web/static/live.js, docs/dashboard.md "Live updates").

Over HTTP: the page names the script, the change stream and the progress JSON, marks its
figures with data- attributes, and prints the same figures as the API without any script.
In Chromium (tests/test_browser.py's fixture, skipped or failed as there): a status
changed through the API by another client shows in the open page's figures, and is
announced in its polite live region, without a reload; with JavaScript off the page still
shows the figures, as served.
"""

import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Role
from app.reports.vocabulary import percent
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from tests.conftest import serving
from tests.helpers import auth, new_token
from tests.test_browser import OUTPUT, Problems, browser  # noqa: F401  (the fixture)
from tests.test_web import Node, page

M = "/api/v1/mandates/2018-2020"
PAGE = "/mandates/2018-2020"
LIVE = {"changes_poll_seconds": 0.1, "changes_stream_seconds": 2}


def _overall(doc: Node) -> Node:
    return doc.one("section", data_totals="mandate")


@pytest.mark.usefixtures("metropolis")
def test_the_dashboard_names_its_script_stream_and_figures(client: TestClient) -> None:
    for path in ("/", PAGE):
        doc = page(client, path)
        assert [node.attrs.get("src") for node in doc.find_all("script")] == ["/static/live.js"]
        assert "defer" in doc.one("script").attrs
        overall = _overall(doc)
        changes = overall.attrs["data-live-changes"] or ""
        assert changes.startswith(f"{M}/changes?since=")
        assert overall.attrs["data-live-progress"] == f"{M}/progress"
        assert "deliverable.status_changed" in (overall.attrs["data-live-events"] or "").split()
        region = overall.one(role="status")
        assert "data-live-status" in region.attrs and region.attrs["aria-live"] == "polite"
        assert region.text() == ""
        figures = {node.attrs["data-figure"] for node in overall.find_all()
                   if "data-figure" in node.attrs}
        assert {"progress", "completion_rate", "deliverables", "by_status.completed",
                "by_status.not_achieved"} <= figures
        lines = doc.find_all("article", data_totals="action_line")
        assert [line.attrs["data-code"] for line in lines] == ["L1", "L2", "L3"]
        for line in lines:
            assert line.one("data", data_figure="progress")
            assert line.one(role="progressbar").attrs["data-figure"] == "progress"


@pytest.mark.usefixtures("metropolis")
def test_without_the_script_the_page_shows_the_apis_figures(client: TestClient) -> None:
    api = client.get(f"{M}/progress").json()
    overall = _overall(page(client, PAGE))
    shown = overall.one("data", data_figure="progress")
    assert shown.text() == percent(api["totals"]["progress"])
    assert shown.attrs["value"] == str(api["totals"]["progress"])
    assert overall.one(data_figure="completion_rate").text() == percent(
        api["totals"]["completion_rate"])
    assert overall.find_all(data_figure="by_status.completed")[0].text() == str(
        api["totals"]["by_status"]["completed"])


@pytest.mark.usefixtures("metropolis")
def test_the_stream_starts_where_the_page_was_rendered(client: TestClient,
                                                       editor: dict[str, str]) -> None:
    before = _overall(page(client, PAGE)).attrs["data-live-changes"] or ""
    etag = client.get(f"{M}/deliverables/L3M3D2").headers["etag"]
    changed = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "in_progress"},
                          headers={**editor, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    after = _overall(page(client, PAGE)).attrs["data-live-changes"] or ""
    assert int(after.rpartition("=")[2]) > int(before.rpartition("=")[2])
    # The filters the page shows are the filters its progress JSON is read with.
    narrowed = _overall(page(client, PAGE, tag="gender", status="completed"))
    assert narrowed.attrs["data-live-progress"] == f"{M}/progress?status=completed&tag=gender"


def _shown(tab: Any) -> dict[str, str]:
    shown = {"mandate": tab.locator("section[data-totals='mandate'] data[data-figure='progress']")
             .inner_text(),
             "completion": tab.locator("#mandate-completion").inner_text(),
             "completed": tab.locator("#mandate-completed").inner_text()}
    for line in ("L1", "L2", "L3"):
        shown[line] = tab.locator(
            f"article[data-code='{line}'] data[data-figure='progress']").inner_text()
    return shown


def _expected(base: str) -> dict[str, str]:
    body = httpx.get(f"{base}{M}/progress").json()
    totals = body["totals"]
    expected = {"mandate": percent(totals["progress"]),
                "completion": percent(totals["completion_rate"]),
                "completed": str(totals["by_status"]["completed"])}
    expected.update({line["code"]: percent(line["totals"]["progress"])
                     for line in body["action_lines"]})
    return expected


def _until(condition: Any, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the page did not update"
        time.sleep(0.1)


def _change(base: str, headers: dict[str, str], code: str, body: dict[str, Any]) -> None:
    url = f"{base}{M}/deliverables/{code}"
    etag = httpx.get(url).headers["etag"]
    changed = httpx.post(f"{url}/status", json=body, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.text


def test_a_change_shows_live_in_chromium(engine: Engine, browser: Any,  # noqa: F811
                                         backend: str) -> None:
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    editor = auth(new_token(engine, Role.editor, name="editor-ana"))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with serving(engine, **LIVE) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        problems = Problems(tab)
        tab.goto(f"{base}{PAGE}", wait_until="load")
        served = _shown(tab)
        assert served == _expected(base)
        status = tab.locator("[data-live-status]")
        assert status.get_attribute("aria-live") == "polite"

        # Another client changes a status: the open page's figures follow, no reload.
        _change(base, editor, "L3M3D2", {"status": "completed", "note": "live"})
        after = _expected(base)
        assert after["mandate"] != served["mandate"]
        _until(lambda: _shown(tab) == after)
        _until(lambda: status.inner_text() == "Updated: L3M3D2 \u2192 completed by editor-ana")
        assert tab.locator("article[data-code='L3'] [role='progressbar']").get_attribute(
            "aria-valuenow") == after["L3"].rstrip("%")

        # A burst (two changes, then a third after the stream was ended and resumed): one
        # read of the figures per burst, and nothing is missed across the reconnect.
        reads: list[str] = []
        tab.on("request", lambda r: r.url.endswith(f"{M}/progress") and reads.append(r.url))
        _change(base, editor, "L2M10D1", {"status": "completed"})
        _change(base, editor, "L2M10D2", {"status": "in_progress", "percent_complete": 40})
        burst = _expected(base)
        _until(lambda: _shown(tab) == burst)
        _until(lambda: "L2M10D2 \u2192 in progress (40%)" in status.inner_text())
        assert len(reads) <= 2, reads
        time.sleep(LIVE["changes_stream_seconds"] + 0.5)  # the server ends the stream
        _change(base, editor, "L2M10D3", {"status": "completed"})
        last = _expected(base)
        _until(lambda: _shown(tab) == last)
        tab.screenshot(path=str(OUTPUT / f"live-{backend}.png"))

        # The rest of the page (rows, symbols, the feed) is as served until a reload.
        tab.reload(wait_until="load")
        assert _shown(tab) == last
        assert status.inner_text() == ""
        context.close()

        # Without JavaScript the page is the same, with the figures as served.
        still = browser.new_context(java_script_enabled=False)
        plain = still.new_page()
        plain_problems = Problems(plain)
        plain.goto(f"{base}{PAGE}", wait_until="load")
        assert _shown(plain) == last
        still.close()
    assert problems.seen == []
    assert plain_problems.seen == []
