"""Scoped tokens, as their holders notice them, on SQLite and PostgreSQL: a token scoped to
an action line or measure writes only there, reads its whole mandate, is told that a
mandate it may not read does not exist (with private reads), and grants no wider than it
holds; records and the audit log, which belong to no mandate, need a token without scopes.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.models import Role
from app.services.access.scopes import Reach, Scope
from tests.conftest import make_client
from tests.helpers import auth, new_token, snapshot

MANDATE = "2018-2020"
OTHER = "OGP-2022-2025"
M = f"/api/v1/mandates/{MANDATE}"
OM = f"/api/v1/mandates/{OTHER}"
L2 = f"{MANDATE}:L2"
L2_DELIVERABLE = "L2M1D1"
L2_OTHER_MEASURE_DELIVERABLE = "L2M2D1"
L1_DELIVERABLE = "L1M3D2"
OTHER_DELIVERABLE = "SO1.1.1"
PROBLEM = "application/problem+json"
WEBHOOKS: dict[str, Any] = {"webhook_signing_key": "k" * 40,
                            "webhook_allowed_hosts": "127.0.0.1"}
HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["deliverable.status_changed"]}
Headers = dict[str, str]


# --- helpers ----------------------------------------------------------------------------------

def _scoped(engine: Engine, role: Role, name: str, *scopes: str,
            person: str | None = None) -> Headers:
    return auth(new_token(engine, role, name, scopes=list(scopes), person=person))


def _deliverable(client: TestClient, code: str, headers: Headers, base: str = M
                 ) -> tuple[dict[str, Any], str]:
    response = client.get(f"{base}/deliverables/{code}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def _set_status(client: TestClient, code: str, headers: Headers, *, base: str = M,
                status: str = "not_achieved", if_match: str | None = "read") -> Any:
    """POST a status change, with the ETag just read (``if_match="read"``), a given one,
    or none (None)."""
    if if_match == "read":
        if_match = _deliverable(client, code, headers, base)[1]
    sent = {**headers, **({"If-Match": if_match} if if_match is not None else {})}
    return client.post(f"{base}/deliverables/{code}/status", json={"status": status},
                       headers=sent)


def _forbidden(response: Any, scopes: list[str]) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["scopes"] == scopes


def _missing(response: Any, mandate: str) -> None:
    """404, word for word what an unknown mandate answers."""
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["detail"] == f"There is no mandate '{mandate}'."


def _paths(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["path"] for error in response.json()["errors"]]


def _indicator_value(client: TestClient, code: str, headers: Headers, value: float = 7
                     ) -> Any:
    read = client.get(f"{M}/indicators/{code}", headers=headers)
    assert read.status_code == 200, read.text
    return client.post(f"{M}/indicators/{code}/values",
                       json={"period": "2020", "value": value},
                       headers={**headers, "If-Match": read.headers["etag"]})


def _token_names(client: TestClient, headers: Headers) -> list[str]:
    response = client.get("/api/v1/tokens", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == len(response.json()["data"])
    return [token["name"] for token in response.json()["data"]]


@pytest.fixture
def l2_editor(engine: Engine) -> Headers:
    """The L2 team's editor: a token scoped to action line L2 of 2018-2020."""
    return _scoped(engine, Role.editor, "l2-editor", L2, person="Luisa Team-Two")


@pytest.fixture
def l2_admin(engine: Engine) -> Headers:
    return _scoped(engine, Role.admin, "l2-admin", L2)


# --- 1. scopes and reaches, without a database -----------------------------------------------

@pytest.mark.parametrize(("text", "mandate", "part"), [
    ("2018-2020", "2018-2020", None),
    ("2018-2020:L2", "2018-2020", "L2"),
    ("2018-2020:L2M1", "2018-2020", "L2M1"),
    ("  OGP-2022-2025:SO1.1 ", "OGP-2022-2025", "SO1.1"),
])
def test_a_scope_is_a_mandate_or_a_part_of_it(text: str, mandate: str, part: str | None
                                              ) -> None:
    scope = Scope.parse(text)
    assert (scope.mandate, scope.part) == (mandate, part)
    assert str(scope) == text.strip()


@pytest.mark.parametrize("text", ["", "   ", ":L2", "2018-2020:", "2018-2020:L2:M1", ":"])
def test_a_text_that_is_no_scope_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="MANDATE, MANDATE:LINE or MANDATE:MEASURE"):
        Scope.parse(text)


@pytest.mark.parametrize(("scopes", "mandate", "line", "measure", "covered"), [
    # A whole-mandate scope covers everything in it, and nothing elsewhere.
    (["2018-2020"], "2018-2020", "L1", "L1M3", True),
    (["2018-2020"], "2018-2020", None, None, True),
    (["2018-2020"], "OGP-2022-2025", "SO1", "SO1.1", False),
    # A line scope covers its measures, not another line nor a mandate-wide write.
    (["2018-2020:L2"], "2018-2020", "L2", "L2M1", True),
    (["2018-2020:L2"], "2018-2020", "L2", None, True),
    (["2018-2020:L2"], "2018-2020", "L1", "L1M3", False),
    (["2018-2020:L2"], "2018-2020", None, None, False),
    (["2018-2020:L2"], "OGP-2022-2025", "L2", None, False),
    # A measure scope covers that measure only: not its line's other measures, nor the line.
    (["2018-2020:L2M1"], "2018-2020", "L2", "L2M1", True),
    (["2018-2020:L2M1"], "2018-2020", "L2", "L2M2", False),
    (["2018-2020:L2M1"], "2018-2020", "L2", None, False),
    # Several scopes: any of them.
    (["2018-2020:L2M1", "2018-2020:L1"], "2018-2020", "L1", "L1M3", True),
    (["2018-2020:L2M1", "2018-2020:L1"], "2018-2020", "L3", "L3M1", False),
    # None: everything.
    ([], "anything", None, None, True),
])
def test_what_a_reach_covers(scopes: list[str], mandate: str, line: str | None,
                             measure: str | None, covered: bool) -> None:
    assert Reach.of(scopes).covers(mandate, line=line, measure=measure) is covered


def test_a_reach_reads_the_whole_mandate_of_each_scope_and_names_its_scopes() -> None:
    reach = Reach.of(["2018-2020:L2", "2018-2020:L2", "OGP-2022-2025:SO1"])
    assert reach.sees("2018-2020") and reach.sees("OGP-2022-2025")
    assert not reach.sees("2021-2023")
    assert reach.texts() == ["2018-2020:L2", "OGP-2022-2025:SO1"]
    assert not reach.everywhere
    assert Reach.of(None).everywhere and Reach.of([]).sees("any mandate")
    assert str(Reach.of(None)) == "everything"
    with pytest.raises(ValueError):
        Reach.of(["2018-2020:"])


# --- 2. the command line ---------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
def test_the_command_line_creates_a_token_with_two_scopes_and_lists_them(
        engine: Engine, cli_runner: CliRunner, admin: Headers) -> None:
    made = cli_runner.invoke(cli, ["token", "create", "--role", "editor", "--name",
                                   "two-teams", "--scope", "2018-2020:L2",
                                   "--scope", "2018-2020:L1M3", "--person", "Ana Ruiz"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("pp_")
    listed = cli_runner.invoke(cli, ["token", "list"])
    assert listed.exit_code == 0, listed.output
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()}
    assert rows["two-teams"][4] == "2018-2020:L1M3 2018-2020:L2"
    assert rows["admin-ana"][4] == "everything"
    assert rows["two-teams"][1] == "editor"
    with make_client(engine) as client:
        shown = {token["name"]: token
                 for token in client.get("/api/v1/tokens", headers=admin).json()["data"]}
        assert shown["two-teams"]["scopes"] == ["2018-2020:L1M3", "2018-2020:L2"]
        assert shown["two-teams"]["person"] == "Ana Ruiz"
        assert shown["admin-ana"]["scopes"] == [] and shown["admin-ana"]["person"] is None
        [entry] = [entry for entry in client.get("/api/v1/audit", headers=admin).json()["data"]
                   if entry["action"] == "token.create" and entry["target"] == "two-teams"]
        assert entry["actor"] == "cli"
        assert entry["detail"]["scopes"] == ["2018-2020:L1M3", "2018-2020:L2"]
        assert entry["detail"]["person"] == "Ana Ruiz"
        # The token works as scoped: L1M3 and L2 yes, L1's other measures no.
        assert _set_status(client, L1_DELIVERABLE, auth(secret)).status_code == 200
        assert _set_status(client, L2_DELIVERABLE, auth(secret)).status_code == 200
        _forbidden(_set_status(client, "L1M1D1", auth(secret)),
                   ["2018-2020:L1M3", "2018-2020:L2"])


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("scopes", "named", "said"), [
    (["2018-2020:L9"], "--scope[0]", "L9"),
    (["2018-2020:L2", "2018-2020:L2M99"], "--scope[1]", "L2M99"),
    (["NO-SUCH-MANDATE"], "--scope[0]", "NO-SUCH-MANDATE"),
    (["2018-2020:"], "--scope[0]", "MANDATE:LINE"),
])
def test_the_command_line_refuses_an_unknown_line_naming_the_option(
        engine: Engine, cli_runner: CliRunner, scopes: list[str], named: str, said: str) -> None:
    before = snapshot(engine)
    made = cli_runner.invoke(cli, ["token", "create", "--role", "editor", "--name",
                                   "nowhere", *(arg for scope in scopes
                                                for arg in ("--scope", scope))])
    assert made.exit_code == 2, made.output
    assert named in made.output and said in made.output
    assert made.stdout == ""
    assert snapshot(engine) == before
    assert "nowhere" not in cli_runner.invoke(cli, ["token", "list"]).stdout


# --- 3. the L2 team's editor -----------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
def test_the_l2_editor_changes_an_l2_deliverable_and_its_history_names_the_token(
        engine: Engine, l2_editor: Headers) -> None:
    with make_client(engine) as client:
        changed = _set_status(client, L2_DELIVERABLE, l2_editor)
        assert changed.status_code == 200, changed.text
        assert changed.json()["status"] == "not_achieved"
        history = client.get(f"{M}/deliverables/{L2_DELIVERABLE}/history").json()["data"]
        assert (history[0]["to_status"], history[0]["changed_by"]) == ("not_achieved",
                                                                        "l2-editor")


@pytest.mark.usefixtures("metropolis")
def test_the_l2_editor_may_not_change_an_l1_deliverable(engine: Engine,
                                                        l2_editor: Headers) -> None:
    with make_client(engine) as client:
        before = _deliverable(client, L1_DELIVERABLE, l2_editor)
        refused = client.post(f"{M}/deliverables/{L1_DELIVERABLE}/status",
                              json={"status": "completed"},
                              headers={**l2_editor, "If-Match": before[1]})
        _forbidden(refused, [L2])
        assert L1_DELIVERABLE in refused.json()["detail"]
        assert _deliverable(client, L1_DELIVERABLE, l2_editor) == before
        history = client.get(f"{M}/deliverables/{L1_DELIVERABLE}/history").json()
        assert all(row["changed_by"] != "l2-editor" for row in history["data"])


@pytest.mark.usefixtures("metropolis")
def test_the_scope_is_checked_before_if_match(engine: Engine, l2_editor: Headers) -> None:
    with make_client(engine) as client:
        before = snapshot(engine)
        _forbidden(_set_status(client, L1_DELIVERABLE, l2_editor, if_match=None), [L2])
        assert _set_status(client, L2_DELIVERABLE, l2_editor,
                           if_match=None).status_code == 428
        # A stale ETag outside the scopes is still a 403, not a 412.
        _forbidden(_set_status(client, L1_DELIVERABLE, l2_editor, if_match='"0.1"'), [L2])
        # With an idempotency key too, and again when the key is sent once more.
        etag = _deliverable(client, L1_DELIVERABLE, l2_editor)[1]
        for _again in range(2):
            _forbidden(client.post(f"{M}/deliverables/{L1_DELIVERABLE}/status",
                                   json={"status": "not_achieved"},
                                   headers={**l2_editor, "If-Match": etag,
                                            "Idempotency-Key": "once"}), [L2])
        assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis")
def test_the_l2_editor_edits_fields_of_l2_deliverables_only(engine: Engine,
                                                            l2_editor: Headers) -> None:
    with make_client(engine) as client:
        before = _deliverable(client, L1_DELIVERABLE, l2_editor)
        refused = client.patch(f"{M}/deliverables/{L1_DELIVERABLE}",
                               json={"owner": "Team two"},
                               headers={**l2_editor, "If-Match": before[1]})
        _forbidden(refused, [L2])
        assert _deliverable(client, L1_DELIVERABLE, l2_editor) == before
        _forbidden(client.patch(f"{M}/deliverables/{L1_DELIVERABLE}",
                                json={"owner": "Team two"}, headers=l2_editor), [L2])
        etag = _deliverable(client, L2_DELIVERABLE, l2_editor)[1]
        done = client.patch(f"{M}/deliverables/{L2_DELIVERABLE}", json={"owner": "Team two"},
                            headers={**l2_editor, "If-Match": etag})
        assert done.status_code == 200, done.text
        assert done.json()["owner"] == "Team two"


@pytest.mark.usefixtures("metropolis")
def test_a_batch_with_one_deliverable_outside_is_refused_whole(engine: Engine,
                                                               l2_editor: Headers) -> None:
    with make_client(engine) as client:
        changes = [{"code": code, "status": "not_achieved",
                    "if_match": _deliverable(client, code, l2_editor)[1]}
                   for code in (L2_DELIVERABLE, L1_DELIVERABLE)]
        before = snapshot(engine)
        refused = client.post(f"{M}/deliverables:batch-status", json={"changes": changes},
                              headers=l2_editor)
        _forbidden(refused, [L2])
        assert refused.json()["outside"] == [L1_DELIVERABLE]
        assert snapshot(engine) == before
        # Every change outside is named, however many.
        more = [*changes, {"code": "L3M1D1", "status": "not_achieved",
                           "if_match": _deliverable(client, "L3M1D1", l2_editor)[1]}]
        refused = client.post(f"{M}/deliverables:batch-status", json={"changes": more},
                              headers=l2_editor)
        _forbidden(refused, [L2])
        assert refused.json()["outside"] == [L1_DELIVERABLE, "L3M1D1"]
        assert snapshot(engine) == before
        # The same batch without the L1 change goes through.
        done = client.post(f"{M}/deliverables:batch-status",
                           json={"changes": changes[:1]}, headers=l2_editor)
        assert done.status_code == 200, done.text
        assert _deliverable(client, L2_DELIVERABLE, l2_editor)[0]["status"] == "not_achieved"
        assert _deliverable(client, L1_DELIVERABLE, l2_editor)[0]["status"] == "in_progress"


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("indicator", "linked"), [
    ("METRO_AREAS_BENCHMARKED", "action line L2"),
    ("PILOT_PROJECTS", "measure L2M1"),
])
def test_the_l2_editor_records_values_of_l2_indicators(engine: Engine, l2_editor: Headers,
                                                        indicator: str, linked: str) -> None:
    with make_client(engine) as client:
        recorded = _indicator_value(client, indicator, l2_editor, value=99)
        assert recorded.status_code == 200, f"{linked}: {recorded.text}"
        assert recorded.json()["values"][-1]["value"] == 99


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("indicator", "linked"), [
    ("CALL_TO_RETHINK_PARTNERS", "action line L1"),
    ("SPEAKERS_WOMEN_SHARE", "measure L1M3"),
    ("HONORARY_MEMBERS", "no line or measure: the whole mandate"),
])
def test_the_l2_editor_may_not_record_values_of_other_indicators(
        engine: Engine, l2_editor: Headers, indicator: str, linked: str) -> None:
    with make_client(engine) as client:
        before = snapshot(engine)
        _forbidden(_indicator_value(client, indicator, l2_editor), [L2])
        assert snapshot(engine) == before, linked


# --- 4. a measure's token ----------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
def test_a_measure_token_changes_that_measure_s_deliverables_only(engine: Engine) -> None:
    measure = _scoped(engine, Role.editor, "l2m1-editor", "2018-2020:L2M1")
    with make_client(engine) as client:
        assert _set_status(client, L2_DELIVERABLE, measure).status_code == 200
        assert _set_status(client, "L2M1D2", measure).status_code == 200
        for code in (L2_OTHER_MEASURE_DELIVERABLE, L1_DELIVERABLE):
            before = _deliverable(client, code, measure)
            _forbidden(_set_status(client, code, measure), ["2018-2020:L2M1"])
            assert _deliverable(client, code, measure) == before
        # Its measure's indicators, not its line's.
        assert _indicator_value(client, "PILOT_PROJECTS", measure).status_code == 200
        _forbidden(_indicator_value(client, "METRO_AREAS_BENCHMARKED", measure),
                   ["2018-2020:L2M1"])


# --- 5. private reads ----------------------------------------------------------------------------

MANDATE_READS = [
    "/api/v1/mandates/{m}",
    "/api/v1/mandates/{m}/progress",
    "/api/v1/mandates/{m}/progress/series",
    "/api/v1/mandates/{m}/action-lines/{line}/progress",
    "/api/v1/mandates/{m}/measures/{measure}/progress",
    "/api/v1/mandates/{m}/deliverables",
    "/api/v1/mandates/{m}/deliverables/{deliverable}",
    "/api/v1/mandates/{m}/deliverables/{deliverable}/history",
    "/api/v1/mandates/{m}/indicators",
    "/api/v1/mandates/{m}/indicators/{indicator}",
    "/api/v1/mandates/{m}/indicators/{indicator}/history",
    "/api/v1/mandates/{m}/plan",
    "/api/v1/mandates/{m}/activity",
    "/api/v1/mandates/{m}/report",
    "/api/v1/mandates/{m}/report?format=csv",
    "/api/v1/mandates/{m}/coverage",
    "/api/v1/mandates/{m}/changes",
    "/badge/{m}.svg",
    "/badge/{m}/{line}.svg",
    "/mandates/{m}",
    "/mandates/{m}/deliverables",
]
OWN = {"m": MANDATE, "line": "L2", "measure": "L2M1", "deliverable": L1_DELIVERABLE,
       "indicator": "SPEAKERS_WOMEN_SHARE"}
HIDDEN = {"m": OTHER, "line": "SO1", "measure": "SO1.1", "deliverable": OTHER_DELIVERABLE,
          "indicator": "BUDGET_DOCS_ON_TIME"}
UNKNOWN = {**HIDDEN, "m": "NO-SUCH-MANDATE"}


@pytest.mark.usefixtures("metropolis", "other_org")
def test_with_private_reads_a_mandate_outside_the_scopes_is_not_there(
        engine: Engine, l2_editor: Headers, tokens: dict[str, Headers]) -> None:
    with make_client(engine, public_read=False) as client:
        for path in MANDATE_READS:  # one database set up for all of them
            try:
                _hidden_like_unknown(client, path, l2_editor, tokens["viewer"])
            except AssertionError as error:
                raise AssertionError(f"{path}: {error}") from error


def _hidden_like_unknown(client: TestClient, path: str, l2_editor: Headers,
                         viewer: Headers) -> None:
    _missing(client.get(path.format(**HIDDEN), headers=l2_editor), OTHER)
    _missing(client.get(path.format(**UNKNOWN), headers=l2_editor), "NO-SUCH-MANDATE")
    # A browser's error page, and a HEAD, tell them apart no better.
    pages = [client.get(path.format(**place), headers={**l2_editor, "Accept": "text/html"})
             for place in (HIDDEN, UNKNOWN)]
    assert pages[0].status_code == pages[1].status_code == 404
    assert (pages[0].text.replace(OTHER, "X")
            == pages[1].text.replace("NO-SUCH-MANDATE", "X"))
    heads = [client.head(path.format(**place), headers=l2_editor)
             for place in (HIDDEN, UNKNOWN)]
    assert heads[0].status_code == heads[1].status_code
    # The L2 token reads its whole mandate (L1 too), and a viewer without scopes both.
    own = client.get(path.format(**OWN), headers=l2_editor)
    assert own.status_code == 200, own.text
    seen = client.get(path.format(**HIDDEN), headers=viewer)
    assert seen.status_code == 200, seen.text


@pytest.mark.usefixtures("metropolis", "other_org")
def test_with_private_reads_no_write_tells_that_a_hidden_mandate_exists(
        engine: Engine, l2_editor: Headers, tokens: dict[str, Headers]) -> None:
    with make_client(engine, public_read=False) as client:
        etag = _deliverable(client, OTHER_DELIVERABLE, tokens["viewer"], OM)[1]
        before = snapshot(engine)
        _missing(_set_status(client, OTHER_DELIVERABLE, l2_editor, base=OM, if_match=etag),
                 OTHER)
        _missing(client.patch(f"{OM}/deliverables/{OTHER_DELIVERABLE}", json={"owner": "x"},
                              headers={**l2_editor, "If-Match": etag}), OTHER)
        _missing(client.post(f"{OM}/deliverables:batch-status", headers=l2_editor, json={
            "changes": [{"code": OTHER_DELIVERABLE, "status": "not_achieved",
                         "if_match": etag}]}), OTHER)
        indicator = client.get(f"{OM}/indicators/BUDGET_DOCS_ON_TIME", headers=tokens["viewer"])
        _missing(client.post(f"{OM}/indicators/BUDGET_DOCS_ON_TIME/values",
                             json={"period": "2024", "value": 80},
                             headers={**l2_editor, "If-Match": indicator.headers["etag"]}),
                 OTHER)
        assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis", "other_org")
def test_with_private_reads_a_hidden_mandate_answers_every_role_as_an_unknown_one(
        engine: Engine) -> None:
    """Whatever the role check says, it says the same of a hidden and an unknown mandate:
    no answer tells that the hidden one exists."""
    viewer = _scoped(engine, Role.viewer, "l2-viewer", L2)
    editor = _scoped(engine, Role.editor, "l2-editor", L2)
    with make_client(engine, public_read=False) as client:
        for headers in (viewer, editor):
            for method, path, body in (
                    ("POST", "/deliverables/{d}/status", {"status": "not_achieved"}),
                    ("PATCH", "/deliverables/{d}", {"owner": "x"}),
                    ("PUT", "/plan", {}),
                    ("POST", "/indicators", _definition("NEW", action_line="SO1"))):
                answers = [client.request(method, f"/api/v1/mandates/{mandate}"
                                          + path.format(d=OTHER_DELIVERABLE), json=body,
                                          headers={**headers, "If-Match": '"1.1"'})
                           for mandate in (OTHER, "NO-SUCH-MANDATE")]
                hidden, unknown = ((answer.status_code,
                                    answer.json()["detail"].replace(mandate, "X"))
                                   for answer, mandate in zip(answers, (OTHER, "NO-SUCH-MANDATE"),
                                                              strict=True))
                assert hidden == unknown, (method, path)


@pytest.mark.usefixtures("metropolis", "other_org")
def test_with_private_reads_comparing_with_a_hidden_mandate_is_not_found(
        engine: Engine, l2_editor: Headers, tokens: dict[str, Headers]) -> None:
    with make_client(engine, public_read=False) as client:
        both = {"mandates": f"{MANDATE},{OTHER}"}
        _missing(client.get("/api/v1/progress", params=both, headers=l2_editor), OTHER)
        assert client.get("/api/v1/progress", params={"mandates": MANDATE},
                          headers=l2_editor).status_code == 200
        assert client.get("/api/v1/progress", params=both,
                          headers=tokens["viewer"]).status_code == 200


@pytest.mark.usefixtures("metropolis", "other_org")
def test_with_private_reads_lists_leave_a_hidden_mandate_out(
        engine: Engine, l2_editor: Headers, tokens: dict[str, Headers]) -> None:
    with make_client(engine, public_read=False) as client:
        listed = client.get("/api/v1/mandates", headers=l2_editor).json()
        assert [item["code"] for item in listed["data"]] == [MANDATE]
        assert listed["count"] == 1
        everything = client.get("/api/v1/mandates", headers=tokens["viewer"]).json()
        assert sorted(item["code"] for item in everything["data"]) == [MANDATE, OTHER]
        assert everything["count"] == 2
        # The home page's mandate switcher too.
        home = client.get("/", headers={**l2_editor, "Accept": "text/html"})
        assert home.status_code == 200, home.text
        assert f'href="/mandates/{OTHER}"' not in home.text
        assert f'href="/mandates/{MANDATE}"' in home.text
        home = client.get("/", headers={**tokens["viewer"], "Accept": "text/html"})
        assert f'href="/mandates/{OTHER}"' in home.text
        page = client.get(f"/mandates/{MANDATE}", headers={**l2_editor, "Accept": "text/html"})
        assert page.status_code == 200 and f'href="/mandates/{OTHER}"' not in page.text


@pytest.mark.usefixtures("metropolis", "other_org")
def test_a_token_scoped_to_both_mandates_reads_both(engine: Engine) -> None:
    both = _scoped(engine, Role.viewer, "both", L2, f"{OTHER}:SO1")
    with make_client(engine, public_read=False) as client:
        listed = client.get("/api/v1/mandates", headers=both).json()
        assert sorted(item["code"] for item in listed["data"]) == [MANDATE, OTHER]
        assert listed["count"] == 2
        assert client.get(OM, headers=both).status_code == 200
        assert client.get("/api/v1/progress", params={"mandates": f"{MANDATE},{OTHER}"},
                          headers=both).status_code == 200


# --- 6. public reads ---------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis", "other_org")
def test_with_public_reads_the_l2_editor_reads_another_mandate_but_writes_nothing_there(
        engine: Engine, l2_editor: Headers) -> None:
    with make_client(engine, public_read=True) as client:
        assert client.get(OM, headers=l2_editor).status_code == 200
        listed = client.get("/api/v1/mandates", headers=l2_editor).json()
        assert listed["count"] == 2
        before = _deliverable(client, OTHER_DELIVERABLE, l2_editor, OM)
        refused = client.post(f"{OM}/deliverables/{OTHER_DELIVERABLE}/status",
                              json={"status": "not_achieved"},
                              headers={**l2_editor, "If-Match": before[1]})
        _forbidden(refused, [L2])
        assert _deliverable(client, OTHER_DELIVERABLE, l2_editor, OM) == before


# --- 7. granting ---------------------------------------------------------------------------------

def _create(client: TestClient, headers: Headers, name: str, **fields: Any) -> Any:
    return client.post("/api/v1/tokens", json={"name": name, "role": "viewer", **fields},
                       headers=headers)


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize("fields", [
    {},
    {"scopes": []},
    {"scope": MANDATE},
    {"scopes": ["2018-2020:L1"]},
    {"scope": "2018-2020:L1M3"},
    {"scopes": ["2018-2020:L2M1", "2018-2020:L3"]},
], ids=["no-scopes", "empty-scopes", "the-mandate", "another-line", "another-measure",
        "one-of-two-wider"])
def test_a_scoped_admin_grants_nothing_wider_than_it_holds(
        engine: Engine, l2_admin: Headers, fields: dict[str, Any]) -> None:
    with make_client(engine) as client:
        before = snapshot(engine)
        _forbidden(_create(client, l2_admin, "wider", **fields), [L2])
        assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("fields", "scopes"), [
    ({"scopes": ["2018-2020:L2M1"]}, ["2018-2020:L2M1"]),
    ({"scope": L2}, [L2]),
    ({"scopes": ["2018-2020:L2M2", "2018-2020:L2M1"]}, ["2018-2020:L2M1", "2018-2020:L2M2"]),
])
def test_a_scoped_admin_grants_as_much_as_it_holds_or_less(
        engine: Engine, l2_admin: Headers, admin: Headers, fields: dict[str, Any],
        scopes: list[str]) -> None:
    with make_client(engine) as client:
        made = _create(client, l2_admin, "narrower", person="Pau Team-Two", **fields)
        assert made.status_code == 201, made.text
        assert (made.json()["scopes"], made.json()["person"]) == (scopes, "Pau Team-Two")
        shown = {token["name"]: token for token in
                 client.get("/api/v1/tokens", headers=admin).json()["data"]}
        assert shown["narrower"]["scopes"] == scopes
        assert shown["narrower"]["person"] == "Pau Team-Two"
        [entry] = [entry for entry in client.get("/api/v1/audit", headers=admin).json()["data"]
                   if entry["action"] == "token.create"]
        assert entry["actor"] == "l2-admin" and entry["target"] == "narrower"
        assert entry["detail"]["scopes"] == scopes
        assert entry["detail"]["person"] == "Pau Team-Two"


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("fields", "path"), [
    ({"scopes": ["2018-2020:L9"]}, "scopes[0]"),
    ({"scopes": ["2018-2020:L2M1", "2018-2020:L2M99"]}, "scopes[1]"),
    ({"scopes": ["NO-SUCH-MANDATE"]}, "scopes[0]"),
    ({"scopes": ["2018-2020:L2:M1"]}, "scopes[0]"),
    ({"scopes": [f"2018-2020:{L2_DELIVERABLE}"]}, "scopes[0]"),
    ({"scope": "NO-SUCH-MANDATE"}, "scope"),
    ({"scope": "2018-2020:L2:M1"}, "scope"),
])
def test_granting_an_unknown_mandate_line_or_measure_names_the_item(
        engine: Engine, l2_admin: Headers, admin: Headers, fields: dict[str, Any],
        path: str) -> None:
    with make_client(engine) as client:
        before = snapshot(engine)
        for headers in (l2_admin, admin):
            assert _paths(_create(client, headers, "unknown", **fields)) == [path]
        assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis")
def test_a_token_is_asked_with_scope_or_scopes_not_both(engine: Engine,
                                                         admin: Headers) -> None:
    with make_client(engine) as client:
        both = _create(client, admin, "both", scope=L2, scopes=[L2])
        assert both.status_code == 422, both.text
        assert "not both" in both.text
        assert "both" not in _token_names(client, admin)


@pytest.mark.usefixtures("metropolis", "other_org")
def test_a_mandate_the_granter_cannot_read_is_reported_missing_with_private_reads(
        engine: Engine, l2_admin: Headers) -> None:
    with make_client(engine, public_read=False) as client:
        hidden = _create(client, l2_admin, "hidden", scopes=[L2, OTHER])
        assert _paths(hidden) == ["scopes[1]"]
        unknown = _create(client, l2_admin, "hidden", scopes=[L2, "NO-SUCH-MANDATE"])
        # Word for word as for a mandate that does not exist, but for its code.
        assert (hidden.json()["errors"][0]["message"].replace(OTHER, "X")
                == unknown.json()["errors"][0]["message"].replace("NO-SUCH-MANDATE", "X"))
        assert _paths(_create(client, l2_admin, "hidden", scopes=[f"{OTHER}:SO1"])
                      ) == ["scopes[0]"]
        assert "hidden" not in _token_names(client, l2_admin)
    with make_client(engine, public_read=True) as client:
        # Reads are public: the mandate is known to exist, and is wider than L2.
        _forbidden(_create(client, l2_admin, "hidden", scope=OTHER), [L2])


@pytest.mark.usefixtures("metropolis")
def test_a_scoped_admin_lists_and_revokes_only_tokens_within_its_scopes(
        engine: Engine, l2_admin: Headers, tokens: dict[str, Headers]) -> None:
    l2_viewer = _scoped(engine, Role.viewer, "l2m1-viewer", "2018-2020:L2M1")
    l1_viewer = _scoped(engine, Role.viewer, "l1-viewer", "2018-2020:L1")
    _scoped(engine, Role.viewer, "l2-and-l1-viewer", L2, "2018-2020:L1M3")
    with make_client(engine) as client:
        assert _token_names(client, l2_admin) == ["l2-admin", "l2m1-viewer"]
        assert len(_token_names(client, tokens["admin"])) == 7
        paged = client.get("/api/v1/tokens", params={"limit": 1, "offset": 1},
                           headers=l2_admin).json()
        assert ([token["name"] for token in paged["data"]], paged["count"]) == (
            ["l2m1-viewer"], 2)
        before = snapshot(engine)
        for name in ("l1-viewer", "l2-and-l1-viewer", "viewer-ana", "admin-ana", "nobody"):
            refused = client.delete(f"/api/v1/tokens/{name}", headers=l2_admin)
            assert refused.status_code == 404, f"{name}: {refused.text}"
            assert refused.json()["detail"] == f"There is no token named '{name}'."
        assert snapshot(engine) == before
        assert client.get(M, headers=l1_viewer).status_code == 200
        assert client.delete("/api/v1/tokens/l2m1-viewer", headers=l2_admin).status_code == 204
        assert client.get(M, headers=l2_viewer).status_code == 401


# --- indicator definitions and the plan ----------------------------------------------------

def _definition(code: str, **link: str) -> dict[str, Any]:
    return {"code": code, "title": f"Indicator {code}", "unit": "count",
            "direction": "increase", **link}


@pytest.mark.usefixtures("metropolis")
def test_a_scoped_admin_defines_indicators_only_where_its_scopes_reach(
        engine: Engine, l2_admin: Headers) -> None:
    with make_client(engine) as client:
        for code, link in (("L2_NEW", {"action_line": "L2"}),
                           ("L2M1_NEW", {"measure": "L2M1"})):
            made = client.post(f"{M}/indicators", json=_definition(code, **link),
                               headers=l2_admin)
            assert made.status_code == 201, made.text
        before = snapshot(engine)
        for code, link in (("L1_NEW", {"action_line": "L1"}), ("L1M3_NEW", {"measure": "L1M3"}),
                           ("WIDE_NEW", {})):
            _forbidden(client.post(f"{M}/indicators", json=_definition(code, **link),
                                   headers=l2_admin), [L2])
        # Moving an L2 indicator to L1 is outside too, and so is deleting an L1 one.
        etag = client.get(f"{M}/indicators/L2_NEW").headers["etag"]
        _forbidden(client.put(f"{M}/indicators/L2_NEW",
                              json=_definition("L2_NEW", action_line="L1"),
                              headers={**l2_admin, "If-Match": etag}), [L2])
        etag = client.get(f"{M}/indicators/CALL_TO_RETHINK_PARTNERS").headers["etag"]
        _forbidden(client.put(f"{M}/indicators/CALL_TO_RETHINK_PARTNERS",
                              json=_definition("CALL_TO_RETHINK_PARTNERS", action_line="L2"),
                              headers={**l2_admin, "If-Match": etag}), [L2])
        _forbidden(client.delete(f"{M}/indicators/CALL_TO_RETHINK_PARTNERS",
                                 headers={**l2_admin, "If-Match": etag}), [L2])
        assert snapshot(engine) == before
        etag = client.get(f"{M}/indicators/L2_NEW").headers["etag"]
        assert client.delete(f"{M}/indicators/L2_NEW", headers={
            **l2_admin, "If-Match": etag}).status_code == 204


@pytest.mark.usefixtures("metropolis")
def test_importing_a_plan_needs_a_scope_on_the_whole_mandate(engine: Engine,
                                                             l2_admin: Headers) -> None:
    whole = _scoped(engine, Role.admin, "mandate-admin", MANDATE)
    with make_client(engine) as client:
        plan = client.get(f"{M}/plan").json()
        plan["mandate"]["title"] = "Renamed by a scoped admin"
        before = snapshot(engine)
        _forbidden(client.put(f"{M}/plan", json=plan, headers=l2_admin), [L2])
        assert snapshot(engine) == before
        done = client.put(f"{M}/plan", json=plan, headers=whole)
        assert done.status_code == 200, done.text
        assert client.get(M).json()["title"] == "Renamed by a scoped admin"
        # The role comes first: the L2 editor is told it is no admin.
        editor = _scoped(engine, Role.editor, "l2-editor", L2)
        refused = client.put(f"{M}/plan", json=plan, headers=editor)
        assert refused.status_code == 403, refused.text
        assert "admin role" in refused.json()["detail"] and "scopes" not in refused.json()


@pytest.mark.usefixtures("metropolis")
def test_a_scoped_admin_creates_no_new_mandate(engine: Engine, admin: Headers) -> None:
    whole = _scoped(engine, Role.admin, "mandate-admin", MANDATE)
    with make_client(engine) as client:
        plan = client.get(f"{M}/plan").json()
        plan["mandate"]["code"] = "NEW-2030"
        before = snapshot(engine)
        _forbidden(client.put("/api/v1/mandates/NEW-2030/plan", json=plan, headers=whole),
                   [MANDATE])
        assert snapshot(engine) == before
        assert client.get("/api/v1/mandates/NEW-2030").status_code == 404
    with make_client(engine, public_read=False) as client:
        _missing(client.put("/api/v1/mandates/NEW-2030/plan", json=plan, headers=whole),
                 "NEW-2030")
        assert snapshot(engine) == before
        made = client.put("/api/v1/mandates/NEW-2030/plan", json=plan, headers=admin)
        assert made.status_code == 200, made.text


# --- 8. records ---------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis_records")
def test_a_scoped_editor_writes_no_engagement(engine: Engine, l2_editor: Headers,
                                              editor: Headers) -> None:
    path = "/api/v1/members/cordoba"
    with make_client(engine) as client:
        etag = client.get(path).headers["etag"]
        body = {"values": {"activated": True, "bilateral_meetings": 3}}
        before = snapshot(engine)
        refused = client.put(f"{path}/engagement/2020", json=body,
                             headers={**l2_editor, "If-Match": etag})
        _forbidden(refused, [L2])
        assert snapshot(engine) == before
        done = client.put(f"{path}/engagement/2020", json=body,
                          headers={**editor, "If-Match": etag})
        assert done.status_code == 200, done.text


@pytest.mark.usefixtures("metropolis_records")
def test_a_scoped_admin_imports_no_records_file_nor_engagement_sheet(
        engine: Engine, l2_admin: Headers, admin: Headers) -> None:
    with make_client(engine) as client:
        records = client.get("/api/v1/records").content
        sheet = client.get("/api/v1/engagement", params={"period": "2020", "format": "csv"})
        assert sheet.status_code == 200, sheet.text
        before = snapshot(engine)
        _forbidden(client.put("/api/v1/records", content=records,
                              headers={**l2_admin, "Content-Type": "application/json"}), [L2])
        _forbidden(client.put("/api/v1/engagement", params={"period": "2020"},
                              content=sheet.content,
                              headers={**l2_admin, "Content-Type": "text/csv"}), [L2])
        assert snapshot(engine) == before
        # The same requests by an admin without scopes go through.
        assert client.put("/api/v1/records", content=records, headers={
            **admin, "Content-Type": "application/json"}).status_code == 200
        assert client.put("/api/v1/engagement", params={"period": "2020"},
                          content=sheet.content,
                          headers={**admin, "Content-Type": "text/csv"}).status_code == 200


def _activity(client: TestClient, code: str) -> tuple[dict[str, Any], str]:
    """The activity as a replacement body (what GET shows, less what it adds), its ETag."""
    response = client.get(f"/api/v1/activities/{code}")
    assert response.status_code == 200, response.text
    shown = response.json()
    body = {key: shown[key] for key in ("code", "kind", "title", "start_date", "end_date",
                                        "location", "mode", "note", "speakers",
                                        "participants") if shown[key] is not None}
    body["links"] = [{key: value for key, value in link.items() if value is not None}
                     for link in shown["links"]]
    body["members"] = [{"member": member["member"], "role": member["role"]}
                       for member in shown["members"]]
    return body, response.headers["etag"]


@pytest.mark.usefixtures("metropolis_records")
def test_a_scoped_editor_replaces_activities_linked_within_its_scopes_only(
        engine: Engine, l2_editor: Headers) -> None:
    with make_client(engine) as client:
        # EV-2020-054 is linked to L2: within.
        body, etag = _activity(client, "EV-2020-054")
        assert body["links"] == [{"mandate": MANDATE, "action_line": "L2"}]
        done = client.put("/api/v1/activities/EV-2020-054", json={**body, "mode": "hybrid"},
                          headers={**l2_editor, "If-Match": etag})
        assert done.status_code == 200, done.text
        assert done.json()["mode"] == "hybrid"
        # Linking it to L1 as well: the new body is outside.
        body, etag = _activity(client, "EV-2020-054")
        moved = {**body, "links": [*body["links"], {"mandate": MANDATE, "action_line": "L1"}]}
        before = snapshot(engine)
        _forbidden(client.put("/api/v1/activities/EV-2020-054", json=moved,
                              headers={**l2_editor, "If-Match": etag}), [L2])
        # EV-2020-060 is linked to L1, EV-2020-068 to L1 and L2, EV-2020-001 to nothing.
        for code in ("EV-2020-060", "EV-2020-068", "EV-2020-001"):
            body, etag = _activity(client, code)
            _forbidden(client.put(f"/api/v1/activities/{code}", json={**body, "mode": "hybrid"},
                                  headers={**l2_editor, "If-Match": etag}), [L2])
        # Nor may it move an L1 activity into L2.
        body, etag = _activity(client, "EV-2020-060")
        _forbidden(client.put("/api/v1/activities/EV-2020-060",
                              json={**body, "links": [{"mandate": MANDATE, "action_line": "L2"}]},
                              headers={**l2_editor, "If-Match": etag}), [L2])
        assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis_records")
def test_activity_links_to_measures_count_with_their_line(engine: Engine,
                                                          l2_editor: Headers) -> None:
    measure = _scoped(engine, Role.editor, "l2m1-editor", "2018-2020:L2M1")
    path = "/api/v1/activities/EV-2020-054"
    with make_client(engine) as client:
        # The L2 editor links the activity to measure L2M1 of its line, and edits it again.
        body, etag = _activity(client, "EV-2020-054")
        relinked = client.put(path, json={**body, "links": [
            {"mandate": MANDATE, "measure": "L2M1"}]}, headers={**l2_editor, "If-Match": etag})
        assert relinked.status_code == 200, relinked.text
        body, etag = _activity(client, "EV-2020-054")
        assert body["links"] == [{"mandate": MANDATE, "measure": "L2M1"}]
        again = client.put(path, json={**body, "mode": "hybrid"},
                           headers={**l2_editor, "If-Match": etag})
        assert again.status_code == 200, again.text
        # So may the measure's editor; not an activity of the whole line, nor move it there.
        body, etag = _activity(client, "EV-2020-054")
        done = client.put(path, json={**body, "mode": "online"},
                          headers={**measure, "If-Match": etag})
        assert done.status_code == 200, done.text
        body, etag = _activity(client, "EV-2020-054")
        before = snapshot(engine)
        _forbidden(client.put(path, json={**body, "links": [
            {"mandate": MANDATE, "action_line": "L2"}]}, headers={**measure, "If-Match": etag}),
            ["2018-2020:L2M1"])
        other, other_etag = _activity(client, "EV-2020-092")
        _forbidden(client.put("/api/v1/activities/EV-2020-092", json={**other, "mode": "hybrid"},
                              headers={**measure, "If-Match": other_etag}), ["2018-2020:L2M1"])
        # A link to the whole mandate is wider than a line.
        _forbidden(client.put(path, json={**body, "links": [{"mandate": MANDATE}]},
                              headers={**l2_editor, "If-Match": etag}), [L2])
        assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis")
def test_a_token_granted_by_a_scoped_admin_writes_within_its_own_scopes(
        engine: Engine, l2_admin: Headers) -> None:
    with make_client(engine) as client:
        made = client.post("/api/v1/tokens", headers=l2_admin, json={
            "name": "l2m1-by-admin", "role": "editor", "scope": "2018-2020:L2M1"})
        assert made.status_code == 201, made.text
        granted = auth(made.json()["token"])
        assert _set_status(client, L2_DELIVERABLE, granted).status_code == 200
        _forbidden(_set_status(client, L2_OTHER_MEASURE_DELIVERABLE, granted),
                   ["2018-2020:L2M1"])


def _event(code: str, start: str, line: str) -> dict[str, Any]:
    return {"code": code, "kind": "event", "title": f"Event {code}", "start_date": start,
            "links": [{"mandate": MANDATE, "action_line": line}]}


@pytest.mark.usefixtures("metropolis_records")
@pytest.mark.parametrize(("role", "method", "inside", "outside", "bodies"), [
    ("editor", "PATCH", f"{M}/deliverables/{L2_DELIVERABLE}",
     f"{M}/deliverables/{L1_DELIVERABLE}", ({"owner": "x"}, {"owner": "x"})),
    ("editor", "POST", f"{M}/indicators/METRO_AREAS_BENCHMARKED/values",
     f"{M}/indicators/CALL_TO_RETHINK_PARTNERS/values",
     ({"period": "2020", "value": 3}, {"period": "2020", "value": 3})),
    ("editor", "PUT", "/api/v1/activities/EV-2020-054", "/api/v1/activities/EV-2020-060",
     (_event("EV-2020-054", "2020-07-16", "L2"), _event("EV-2020-060", "2020-09-28", "L1"))),
    ("admin", "PUT", f"{M}/indicators/METRO_AREAS_BENCHMARKED",
     f"{M}/indicators/CALL_TO_RETHINK_PARTNERS",
     (_definition("METRO_AREAS_BENCHMARKED", action_line="L2"),
      _definition("CALL_TO_RETHINK_PARTNERS", action_line="L1"))),
    ("admin", "DELETE", f"{M}/indicators/METRO_AREAS_BENCHMARKED",
     f"{M}/indicators/CALL_TO_RETHINK_PARTNERS", (None, None)),
], ids=["deliverable-fields", "indicator-value", "activity", "indicator-definition",
        "indicator-deletion"])
def test_every_write_checks_the_scope_before_if_match(
        engine: Engine, role: str, method: str, inside: str, outside: str,
        bodies: tuple[Any, Any]) -> None:
    """Without If-Match, a write outside the scopes is refused for its scope (403), one
    inside asks for the ETag (428)."""
    headers = _scoped(engine, Role(role), f"l2-{role}", L2)
    with make_client(engine) as client:
        before = snapshot(engine)
        _forbidden(client.request(method, outside, json=bodies[1], headers=headers), [L2])
        asked = client.request(method, inside, json=bodies[0], headers=headers)
        assert asked.status_code == 428, asked.text
        assert snapshot(engine) == before


# --- 9. webhooks --------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis", "other_org")
def test_a_scoped_admin_sees_and_manages_subscriptions_to_mandates_it_reads_only(
        engine: Engine, l2_admin: Headers, admin: Headers) -> None:
    with make_client(engine, public_read=False, **WEBHOOKS) as client:
        made = {}
        for mandate in (MANDATE, OTHER, None):
            response = client.post("/api/v1/webhooks", json={**HOOK, "mandate": mandate},
                                   headers=admin)
            assert response.status_code == 201, response.text
            made[mandate] = response.json()["id"]
        listed = client.get("/api/v1/webhooks", headers=l2_admin).json()
        assert ([item["id"] for item in listed["data"]], listed["count"]) == (
            [made[MANDATE]], 1)
        assert client.get("/api/v1/webhooks", headers=admin).json()["count"] == 3
        assert client.get(f"/api/v1/webhooks/{made[MANDATE]}",
                          headers=l2_admin).status_code == 200
        before = snapshot(engine)
        for hidden in (made[OTHER], made[None]):
            for response in (
                    client.get(f"/api/v1/webhooks/{hidden}", headers=l2_admin),
                    client.get(f"/api/v1/webhooks/{hidden}/deliveries", headers=l2_admin),
                    client.post(f"/api/v1/webhooks/{hidden}/deliveries/"
                                "00000000-0000-0000-0000-000000000000/redeliver",
                                headers=l2_admin),
                    client.delete(f"/api/v1/webhooks/{hidden}", headers=l2_admin)):
                assert response.status_code == 404, response.text
                assert response.json()["detail"] == (
                    f"There is no webhook subscription '{hidden}'.")
        assert snapshot(engine) == before
        assert client.delete(f"/api/v1/webhooks/{made[MANDATE]}",
                             headers=l2_admin).status_code == 204


@pytest.mark.usefixtures("metropolis", "other_org")
def test_a_scoped_admin_subscribes_only_to_a_mandate_it_reads(engine: Engine,
                                                               l2_admin: Headers) -> None:
    with make_client(engine, public_read=False, **WEBHOOKS) as client:
        before = snapshot(engine)
        _forbidden(client.post("/api/v1/webhooks", json=HOOK, headers=l2_admin), [L2])
        _missing(client.post("/api/v1/webhooks", json={**HOOK, "mandate": OTHER},
                             headers=l2_admin), OTHER)
        _missing(client.post("/api/v1/webhooks", json={**HOOK, "mandate": "NO-SUCH-MANDATE"},
                             headers=l2_admin), "NO-SUCH-MANDATE")
        assert snapshot(engine) == before
        made = client.post("/api/v1/webhooks", json={**HOOK, "mandate": MANDATE},
                           headers=l2_admin)
        assert made.status_code == 201, made.text
    with make_client(engine, public_read=True, **WEBHOOKS) as client:
        before = snapshot(engine)
        _forbidden(client.post("/api/v1/webhooks", json={**HOOK, "mandate": OTHER},
                               headers=l2_admin), [L2])
        assert snapshot(engine) == before


# --- 10. the audit log ----------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
def test_the_audit_log_needs_an_admin_without_scopes(engine: Engine, l2_admin: Headers,
                                                     admin: Headers) -> None:
    whole = _scoped(engine, Role.admin, "mandate-admin", MANDATE)
    with make_client(engine) as client:
        _forbidden(client.get("/api/v1/audit", headers=l2_admin), [L2])
        _forbidden(client.get("/api/v1/audit", headers=whole), [MANDATE])
        assert client.get("/api/v1/audit", headers=admin).status_code == 200


@pytest.mark.usefixtures("metropolis_records")
def test_a_link_to_an_unknown_code_is_the_422_it_is_for_a_scoped_token_too(
        engine: Engine, l2_admin: Headers, l2_editor: Headers) -> None:
    """A typo in a line or measure code is named, not hidden behind a 403."""
    with make_client(engine) as client:
        before = snapshot(engine)
        for link in ({"measure": "L2M99"}, {"action_line": "L9"}):
            made = client.post(f"{M}/indicators", json=_definition("TYPO", **link),
                               headers=l2_admin)
            assert made.status_code == 422, made.text
            assert "L2M99" in made.text or "L9" in made.text
        body, etag = _activity(client, "EV-2020-054")
        typo = {**body, "links": [{"mandate": MANDATE, "action_line": "L9"}]}
        replaced = client.put("/api/v1/activities/EV-2020-054", json=typo,
                              headers={**l2_editor, "If-Match": etag})
        assert replaced.status_code == 422, replaced.text
        assert "L9" in replaced.text
        assert snapshot(engine) == before
