"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against a live
uvicorn server, on SQLite and PostgreSQL.

The page must load without a console error or a failed request, show the API's figures,
open a drill-down from the keyboard, and show a status change made through the API after a
reload. Screenshots go to ``test-output/browser/`` at the repository root (git-ignored).
A page served from another origin calls the API as PLANPULSE_CORS_ORIGINS allows it: reads
the progress and an ETag, changes a status; the same page on an origin not listed cannot read.

Where Chromium or Playwright is missing the test is skipped with the reason, unless
``PLANPULSE_TEST_REQUIRE_BROWSER=1`` (as in .ci/run), which turns the skip into a failure.
Playwright never downloads a browser here: it is pointed at the system's Chromium.
"""

import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Role
from app.reports.vocabulary import percent
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.services.records.importer import import_records
from tests.conftest import serving
from tests.helpers import DATA, auth, load, new_token
from tests.test_reports_main_results import figures_plan, roll

CHROMIUM = os.environ.get("PLANPULSE_TEST_CHROMIUM") or shutil.which("chromium") or (
    "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = os.environ.get("PLANPULSE_TEST_REQUIRE_BROWSER") == "1"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output" / "browser"
M = "/api/v1/mandates/2018-2020"
NOT_ACHIEVED = "\u00d7 not achieved"
ANOTHER_ORIGIN_PAGE = DATA / "another-origin"


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if REQUIRE_BROWSER:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Problems:
    """Console errors, uncaught exceptions and failed requests seen by a page.

    The dashboard's change stream is a request that stays open: leaving the page (a
    reload, a link, closing the tab) cuts it, and the browser reports it aborted. That
    alone is no problem; any other failure of it is."""

    def __init__(self, page: Any) -> None:
        self.seen: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.seen.append(
            f"console: {m.text}"))
        page.on("pageerror", lambda e: self.seen.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: r.status >= 400 and self.seen.append(
            f"{r.status}: {r.url}"))

    def _failed(self, request: Any) -> None:
        if urlsplit(request.url).path.endswith("/changes") and (
                request.failure == "net::ERR_ABORTED"):
            return
        self.seen.append(f"failed: {request.url} ({request.failure})")


def _shown_figures(page: Any) -> dict[str, str]:
    figures = {"mandate": page.locator("#mandate-progress").inner_text()}
    for line in ("L1", "L2", "L3"):
        figures[line] = page.locator(f"article[data-code='{line}'] .figure data").inner_text()
    return figures


def _api_figures(base: str) -> dict[str, str]:
    body = httpx.get(f"{base}{M}/progress").json()
    figures = {"mandate": percent(body["totals"]["progress"])}
    figures.update({line["code"]: percent(line["totals"]["progress"])
                    for line in body["action_lines"]})
    return figures


def test_dashboard_in_chromium(engine: Engine, live_url: str, browser: Any,
                               backend: str) -> None:
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = Problems(page)

    page.goto(f"{live_url}/", wait_until="load")
    assert page.title() == "Metropolis Action Plan 2018-2020 · planpulse"
    assert _shown_figures(page) == _api_figures(live_url)
    assert _shown_figures(page)["mandate"] == "78%"
    assert page.locator("article.line").count() == 3

    # Drill down from the keyboard: Tab to the measure's summary, Enter opens it.
    measure = page.locator("details[data-code='L2M10']")
    rows = measure.locator("tbody tr")
    assert not rows.first.is_visible()
    measure.locator("summary").focus()
    page.keyboard.press("Enter")
    assert rows.count() == 3
    for index in range(3):
        assert rows.nth(index).is_visible()
        assert NOT_ACHIEVED in rows.nth(index).inner_text()

    speakers = page.locator("tr[data-code='SPEAKERS_WOMEN_SHARE']")
    assert speakers.locator("td.value").inner_text().startswith("36%")
    assert speakers.locator("td.target").inner_text() == "50%"

    # A status change made through the API shows after a reload.
    editor = auth(new_token(engine, Role.editor, name="browser-test"))
    url = f"{live_url}{M}/deliverables/L2M10D1"
    etag = httpx.get(url).headers["etag"]
    changed = httpx.post(f"{url}/status", json={"status": "completed", "note": "mapped"},
                         headers={**editor, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    page.reload(wait_until="load")
    assert _shown_figures(page) == _api_figures(live_url)
    assert _shown_figures(page)["mandate"] == "80%"
    page.locator("details[data-code='L2M10'] summary").click()
    first = page.locator("details[data-code='L2M10'] tr[data-code='L2M10D1']")
    assert first.get_attribute("data-status") == "completed"
    assert "V completed" in first.inner_text()
    assert "L2M10D1" in page.locator("ol.feed li").first.inner_text()

    screenshot = OUTPUT / f"dashboard-{backend}.png"
    page.screenshot(path=str(screenshot), full_page=True)

    # The measure's own page, then the same on a phone's screen.
    page.locator("details[data-code='L2M10'] a", has_text="on its own page").click()
    page.wait_for_load_state("load")
    assert "/mandates/2018-2020/deliverables?measure=L2M10" in page.url
    assert page.locator("table.deliverables tbody tr").count() == 3
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    phone_problems = Problems(small)
    small.goto(f"{live_url}/", wait_until="load")
    wide = small.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, f"the page is {wide}px wide on a 390px screen"
    small.screenshot(path=str(OUTPUT / f"phone-{backend}.png"))
    phone.close()
    context.close()

    assert problems.seen == []
    assert phone_problems.seen == []
    print(f"screenshots: {screenshot} and {OUTPUT / f'phone-{backend}.png'}")


def test_figures_in_their_form_in_chromium(engine: Engine, live_url: str, browser: Any,
                                           backend: str) -> None:
    with Session(engine) as session:
        load(session, figures_plan())
        import_records(session, records=roll(15), actor="test")
        session.commit()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems = Problems(page)
        page.goto(f"{live_url}/mandates/F-2020", wait_until="load")
        secretaries = page.locator("tr[data-code='SECRETARIES'] td.value .form")
        secretaries.scroll_into_view_if_needed()
        assert secretaries.is_visible()
        assert secretaries.inner_text() == "3 out of 5"
        experts = page.locator("tr[data-code='EXPERTS'] td.value .form")
        assert experts.inner_text() == "400+"
        assert experts.get_attribute("title") == "400+ experts with whom we collaborated"
        assert page.locator("tr[data-code='MEMBERS'] .reported").inner_text() == "report: 16"
        assert page.locator("tr[data-code='CALL'] .components").is_visible()
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= viewport["width"], f"the page is {wide}px wide"
        page.screenshot(path=str(OUTPUT / f"figures-{viewport['width']}-{backend}.png"),
                        full_page=True)
        context.close()
        assert problems.seen == []


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """``directory`` served by Python's http.server on a port of its own: its origin."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _outcome(browser: Any, page_url: str) -> tuple[dict[str, Any], list[str]]:
    """What the page's script got from the API (its #outcome), and the page's problems."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = Problems(page)
    page.goto(page_url, wait_until="load")
    page.wait_for_selector("body[data-done]", state="attached")
    outcome = json.loads(page.locator("#outcome").inner_text())
    context.close()
    return outcome, problems.seen


def test_a_page_on_another_origin_in_chromium(engine: Engine, browser: Any) -> None:
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    secret = new_token(engine, Role.editor, name="other-origin")
    with static_site(ANOTHER_ORIGIN_PAGE) as allowed, static_site(ANOTHER_ORIGIN_PAGE) as other, \
            serving(engine, cors_origins=allowed) as api:
        before = httpx.get(f"{api}{M}/deliverables/L2M10D1").headers["etag"]
        progress = httpx.get(f"{api}{M}/progress").json()["totals"]["progress"]
        fragment = f"#api={api}&token={secret}&code=L2M10D1"

        outcome, problems = _outcome(browser, f"{allowed}/index.html{fragment}")
        assert "error" not in outcome, outcome
        assert outcome["progress"]["status"] == 200
        assert outcome["progress"]["value"] == progress
        assert outcome["progress"]["etag"] is not None  # exposed to the script
        assert outcome["etag"] == before
        assert outcome["change"]["status"] == 200, outcome["change"]
        assert outcome["change"]["body"]["status"] == "completed"
        assert outcome["change"]["etag"] not in (None, before)
        assert problems == []

        refused, problems = _outcome(browser, f"{other}/index.html{fragment}")
        assert "progress" not in refused
        assert refused["error"].startswith("TypeError"), refused  # "Failed to fetch"
        assert any("CORS policy" in problem for problem in problems), problems
        assert httpx.get(f"{api}{M}/deliverables/L2M10D1").headers["etag"] == (
            outcome["change"]["etag"])
