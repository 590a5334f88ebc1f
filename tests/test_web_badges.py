"""Progress badges: shields-style SVG, coloured by thresholds, cacheable."""

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.models import Role
from app.web.badges import COLOURS, NO_FIGURE, badge_svg, colour
from tests.conftest import make_client
from tests.helpers import auth, new_token

BADGE = "/badge/2018-2020.svg"
M = "/api/v1/mandates/2018-2020"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [node.text or "" for node in root.iter(f"{SVG_NS}text")]


def _fill(svg: str) -> str:
    rects = ET.fromstring(svg).iter(f"{SVG_NS}rect")
    return [rect.get("fill") for rect in rects][2] or ""  # clip, label, message, gloss


@pytest.mark.usefixtures("metropolis")
def test_mandate_badge_says_78_percent(client: TestClient) -> None:
    answer = client.get(BADGE)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(answer.text)  # well-formed XML
    assert root.get("role") == "img"
    assert root.get("aria-label") == "progress: 78%"
    assert root.find(f"{SVG_NS}title").text == "progress: 78%"  # type: ignore[union-attr]
    assert set(_texts(answer.text)) == {"progress", "78%"}
    assert _fill(answer.text) == colour(0.7846) == "#97ca00"


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("line", "shown"), [("L1", "79%"), ("L2", "83%"), ("L3", "71%")])
def test_action_line_badges_equal_the_api(client: TestClient, line: str, shown: str) -> None:
    api = client.get(f"{M}/action-lines/{line}/progress").json()
    answer = client.get(f"/badge/2018-2020/{line}.svg")
    assert answer.status_code == 200
    assert shown in _texts(answer.text)
    assert f"{round(api['action_line']['totals']['progress'] * 100)}%" == shown


@pytest.mark.usefixtures("metropolis")
def test_unknown_mandate_or_line_is_a_404(client: TestClient) -> None:
    for path in ("/badge/nope.svg", "/badge/2018-2020/L9.svg"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.usefixtures("metropolis")
def test_badge_is_cacheable_and_changes_with_the_data(client: TestClient,
                                                      engine: Engine) -> None:
    first = client.get(BADGE)
    assert first.headers["cache-control"] == "public, max-age=300"
    etag = first.headers["etag"]
    again = client.get(BADGE, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    editor = auth(new_token(engine, Role.editor))
    current = client.get(f"{M}/deliverables/L2M10D1").headers["etag"]
    changed = client.post(f"{M}/deliverables/L2M10D1/status", json={"status": "completed"},
                          headers={**editor, "If-Match": current})
    assert changed.status_code == 200
    after = client.get(BADGE, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert "80%" in _texts(after.text)


@pytest.mark.usefixtures("metropolis")
def test_badge_is_private_when_reads_are(engine: Engine) -> None:
    viewer = auth(new_token(engine, Role.viewer))
    with make_client(engine, public_read=False) as client:
        assert client.get(BADGE).status_code == 401
        answer = client.get(BADGE, headers=viewer)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "private, max-age=300"


@pytest.mark.usefixtures("metropolis")
def test_label_is_chosen_and_escaped(client: TestClient) -> None:
    answer = client.get(BADGE, params={"label": "Plan <2020>"})
    assert answer.status_code == 200
    assert "&lt;2020&gt;" in answer.text
    assert _texts(answer.text)[0] == "Plan <2020>"
    assert client.get(BADGE, params={"label": ""}).status_code == 422


@pytest.mark.parametrize(("ratio", "expected"), [
    (1.0, "#4c1"), (0.9, "#4c1"), (0.8999, "#97ca00"), (0.75, "#97ca00"), (0.7499, "#dfb317"),
    (0.5, "#dfb317"), (0.4999, "#fe7d37"), (0.25, "#fe7d37"), (0.2499, "#e05d44"),
    (0.0, "#e05d44"), (None, NO_FIGURE),
])
def test_colour_thresholds(ratio: float | None, expected: str) -> None:
    assert colour(ratio) == expected
    assert expected in badge_svg("progress", ratio)


def test_a_badge_without_a_figure_says_so() -> None:
    assert _texts(badge_svg("progress", None)) == ["progress", "progress", "n/a", "n/a"]
    assert [floor for floor, _ in COLOURS] == sorted((f for f, _ in COLOURS), reverse=True)


def test_width_follows_the_text() -> None:
    short = ET.fromstring(badge_svg("p", 0.5)).get("width")
    long = ET.fromstring(badge_svg("progress of the plan", 0.5)).get("width")
    assert int(short or 0) < int(long or 0)
