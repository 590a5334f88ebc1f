"""A hundred and more kinds of bad request get a 4xx problem and leave the database unchanged.

Each case is one row of ``CASES``: method, path, token, headers, body and the status it must
get (with, for most 422s, the ``path`` the error must name). One test per backend sends every
case and compares a snapshot of every table before and after; the failures are collected so
that each wrong answer is reported by its case id.
"""

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Role
from app.models.types import utcnow
from app.services.access import tokens
from app.services.plan.bundled import bundled_plan
from tests.helpers import auth, snapshot

API = "/api/v1"
M = f"{API}/mandates/2018-2020"
STATUS = f"{M}/deliverables/L1M1D1/status"
PATCH = f"{M}/deliverables/L1M1D1"
BATCH = f"{M}/deliverables:batch-status"
PLAN = f"{M}/plan"
TOKENS = f"{API}/tokens"
MIB = 1024 * 1024
USED_KEY = "retry-1"  # an Idempotency-Key used by the setup's one accepted change

# Text that must never reach a caller: a stack trace or the database talking.
LEAKS = ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "SELECT ", "INSERT INTO",
         "UPDATE deliverable", "Background on this error", 'File "')


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


@dataclass(frozen=True)
class Raw:
    """A body sent as these bytes, with this content type (None: no Content-Type header)."""

    content: bytes
    content_type: str | None = "application/json"
    chunked: bool = False
    """Sent in chunks without Content-Length, so that only the bytes read can tell its size."""


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    expected: int
    body: Any = NO_BODY
    token: str | None = "editor"
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    error_path: str | None = None
    """For a 422: a path that one of the listed errors must name exactly."""


@dataclass(frozen=True)
class World:
    """What the cases refer to: token secrets by role and the ETags read after setup."""

    secrets: dict[str, str]
    etags: dict[str, str]


# ---------------------------------------------------------------------------- plan files


def plan_data() -> dict[str, Any]:
    """The bundled plan as the JSON a client would PUT back."""
    return bundled_plan().model_dump(mode="json")


EXPERTS = next(i for i, indicator in enumerate(plan_data()["indicators"])
               if indicator["code"] == "EXPERTS")
"""The index of a typed indicator of the bundled plan, with a value and no link."""


def plan_with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(plan_data())
    change(data)
    return data


def _first_deliverable(data: dict[str, Any]) -> dict[str, Any]:
    return data["action_lines"][0]["measures"][0]["deliverables"][0]  # type: ignore[no-any-return]


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], **values: Any
         ) -> Callable[[dict[str, Any]], object]:
    return lambda data: path(data).update(values)


D0 = "action_lines[0].measures[0].deliverables[0]"
PLAN_YAML_HEAD = (
    'mandate:\n  code: "2018-2020"\n  title: Metropolis Action Plan 2018-2020\n'
    "  start_date: 2018-01-01\n  end_date: 2020-12-31\n"
)


# -------------------------------------------------------------------------- case builders


def status_case(id: str, body: Any, expected: int = 422, error_path: str | None = None,
                **options: Any) -> Case:
    options.setdefault("headers", {"If-Match": "{etag}"})
    return Case(f"status-{id}", "POST", options.pop("path", STATUS), expected, body,
                error_path=error_path, **options)


def patch_case(id: str, body: Any, expected: int = 422, error_path: str | None = None,
               **options: Any) -> Case:
    options.setdefault("headers", {"If-Match": "{etag}"})
    return Case(f"patch-{id}", "PATCH", options.pop("path", PATCH), expected, body,
                error_path=error_path, **options)


def batch_case(id: str, body: Any, expected: int = 422, error_path: str | None = None,
               **options: Any) -> Case:
    return Case(f"batch-{id}", "POST", options.pop("path", BATCH), expected, body,
                error_path=error_path, **options)


def item(**overrides: Any) -> dict[str, Any]:
    """A batch item that would be accepted on its own."""
    return {"code": "L1M1D1", "if_match": "{etag}", "status": "in_progress",
            "percent_complete": 30, **overrides}


def plan_case(id: str, body: Any, expected: int = 422, error_path: str | None = None,
              **options: Any) -> Case:
    options.setdefault("token", "admin")
    return Case(f"plan-{id}", "PUT", options.pop("path", PLAN), expected, body,
                error_path=error_path, **options)


def token_case(id: str, body: Any, expected: int = 422, error_path: str | None = None,
               **options: Any) -> Case:
    options.setdefault("token", "admin")
    return Case(f"token-{id}", "POST", TOKENS, expected, body, error_path=error_path,
                **options)


def read_case(id: str, path: str, expected: int = 422, error_path: str | None = None,
              **options: Any) -> Case:
    options.setdefault("token", None)
    return Case(f"read-{id}", "GET", path, expected, error_path=error_path, **options)


GOOD = {"status": "in_progress", "percent_complete": 30}

LONG_NOTE = "n" * 2001
HUGE_NOTE = "x" * (MIB + 16)

CASES: list[Case] = [
    # --- POST .../status: the status itself
    status_case("status-unknown", {"status": "done"}, error_path="status"),
    status_case("status-capitalised", {"status": "Completed"}, error_path="status"),
    status_case("status-symbol", {"status": "V"}, error_path="status"),
    status_case("status-empty-string", {"status": ""}, error_path="status"),
    status_case("status-null", {"status": None}, error_path="status"),
    status_case("status-number", {"status": 1}, error_path="status"),
    status_case("status-list", {"status": ["completed"]}, error_path="status"),
    status_case("status-object", {"status": {"value": "completed"}}, error_path="status"),
    status_case("status-missing", {"note": "forgot the status"}, error_path="status"),
    status_case("empty-object", {}, error_path="status"),
    # percent_complete
    status_case("percent-over-100", {**GOOD, "percent_complete": 101},
                error_path="percent_complete"),
    status_case("percent-negative", {**GOOD, "percent_complete": -1},
                error_path="percent_complete"),
    status_case("percent-huge", {**GOOD, "percent_complete": 1e300},
                error_path="percent_complete"),
    status_case("percent-string", {**GOOD, "percent_complete": "50"},
                error_path="percent_complete"),
    status_case("percent-bool", {**GOOD, "percent_complete": True},
                error_path="percent_complete"),
    status_case("percent-list", {**GOOD, "percent_complete": [50]},
                error_path="percent_complete"),
    status_case("percent-nan", Raw(b'{"status": "in_progress", "percent_complete": NaN}'),
                error_path="percent_complete"),
    status_case("percent-infinity",
                Raw(b'{"status": "in_progress", "percent_complete": Infinity}'),
                error_path="percent_complete"),
    status_case("percent-with-completed", {"status": "completed", "percent_complete": 50},
                error_path="percent_complete"),
    status_case("percent-with-not-started", {"status": "not_started", "percent_complete": 0},
                error_path="percent_complete"),
    # note, evidence_url, effective_at
    status_case("note-too-long", {**GOOD, "note": LONG_NOTE}, error_path="note"),
    status_case("note-number", {**GOOD, "note": 42}, error_path="note"),
    status_case("note-object", {**GOOD, "note": {"text": "hi"}}, error_path="note"),
    status_case("note-nul", {**GOOD, "note": "a\x00b"}, error_path="note"),
    status_case("evidence-ftp", {**GOOD, "evidence_url": "ftp://example.org/report.pdf"},
                error_path="evidence_url"),
    status_case("evidence-javascript", {**GOOD, "evidence_url": "javascript:alert(1)"},
                error_path="evidence_url"),
    status_case("evidence-relative", {**GOOD, "evidence_url": "/reports/2020.pdf"},
                error_path="evidence_url"),
    status_case("evidence-spaces", {**GOOD, "evidence_url": "https://example.org/my report"},
                error_path="evidence_url"),
    status_case("evidence-scheme-only", {**GOOD, "evidence_url": "https://"},
                error_path="evidence_url"),
    status_case("evidence-too-long",
                {**GOOD, "evidence_url": "https://example.org/" + "a" * 2000},
                error_path="evidence_url"),
    status_case("evidence-number", {**GOOD, "evidence_url": 7}, error_path="evidence_url"),
    status_case("effective-future-date", {**GOOD, "effective_at": "2999-01-01"},
                error_path="effective_at"),
    status_case("effective-future-time", {**GOOD, "effective_at": "2999-01-01T10:00:00Z"},
                error_path="effective_at"),
    status_case("effective-not-a-date", {**GOOD, "effective_at": "yesterday"},
                error_path="effective_at"),
    status_case("effective-impossible-day", {**GOOD, "effective_at": "2020-02-30"},
                error_path="effective_at"),
    status_case("effective-bad-offset", {**GOOD, "effective_at": "2020-01-01T00:00:00+25:00"},
                error_path="effective_at"),
    status_case("effective-list", {**GOOD, "effective_at": ["2020-01-01"]},
                error_path="effective_at"),
    status_case("effective-year-one-with-offset",
                {**GOOD, "effective_at": "0001-01-01T00:00:00+01:00"}, error_path="effective_at"),
    status_case("unknown-field", {**GOOD, "comment": "hi"}, error_path="comment"),
    status_case("unknown-field-code", {**GOOD, "code": "L1M1D2"}, error_path="code"),
    # the body as a whole
    status_case("malformed-json", Raw(b'{"status": "completed",'), error_path="body"),
    status_case("json-list", ["completed"], error_path="body"),
    status_case("json-string", "completed", error_path="body"),
    status_case("json-number", 1),
    status_case("json-null", None),
    status_case("empty-body", Raw(b""), error_path="body"),
    status_case("no-body", NO_BODY, error_path="body"),
    status_case("text-plain", Raw(b'{"status": "completed"}', "text/plain")),
    status_case("form-encoded", Raw(b"status=completed", "application/x-www-form-urlencoded")),
    status_case("invalid-utf8", Raw(b'{"status": "\xff\xfe"}'), error_path="body"),
    status_case("too-large", {**GOOD, "note": HUGE_NOTE}, 413),
    status_case("too-large-chunked", Raw(json.dumps({**GOOD, "note": HUGE_NOTE}).encode(),
                                         chunked=True), 413),
    status_case("deeply-nested", Raw(b'{"status": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
                error_path="body"),
    # preconditions
    status_case("if-match-missing", GOOD, 428, headers={}),
    status_case("if-match-empty", GOOD, 428, headers={"If-Match": ""}),
    status_case("if-match-stale", GOOD, 412, headers={"If-Match": "{stale}"}),
    status_case("if-match-other-deliverable", GOOD, 412, headers={"If-Match": "{etag2}"}),
    status_case("if-match-weak", GOOD, 412, headers={"If-Match": "W/{etag}"}),
    status_case("if-match-garbage", GOOD, 412, headers={"If-Match": "not-an-etag"}),
    status_case("idempotency-key-too-long", GOOD, error_path="idempotency-key",
                headers={"If-Match": "{etag}", "Idempotency-Key": "k" * 201}),
    status_case("idempotency-key-reused", {"status": "completed"}, 409,
                headers={"If-Match": "{etag}", "Idempotency-Key": USED_KEY},
                path=f"{M}/deliverables/L1M1D2/status"),
    status_case("stale-with-idempotency-key", GOOD, 412,
                headers={"If-Match": "{stale}", "Idempotency-Key": "fresh-key"}),
    # what it names, and who asks
    status_case("unknown-mandate", GOOD, 404, path=f"{API}/mandates/1999-2000/deliverables/"
                "L1M1D1/status"),
    status_case("unknown-deliverable", GOOD, 404, path=f"{M}/deliverables/L9M9D9/status"),
    status_case("injection-in-code", GOOD, 404, path=f"{M}/deliverables/x' OR '1'='1/status"),
    status_case("no-token", GOOD, 401, token=None),
    status_case("basic-auth", GOOD, 401, token=None,
                headers={"If-Match": "{etag}", "Authorization": "Basic ZWRpdG9yOnB3"}),
    status_case("bearer-without-token", GOOD, 401, token=None,
                headers={"If-Match": "{etag}", "Authorization": "Bearer"}),
    status_case("bearer-blank", GOOD, 401, token=None,
                headers={"If-Match": "{etag}", "Authorization": "Bearer    "}),
    status_case("token-scheme", GOOD, 401, token=None,
                headers={"If-Match": "{etag}", "Authorization": "Token {editor}"}),
    status_case("unknown-token", GOOD, 401, token=None,
                headers={"If-Match": "{etag}", "Authorization": "Bearer pp_not-a-real-token"}),
    status_case("revoked-token", GOOD, 401, token="revoked"),
    status_case("expired-token", GOOD, 401, token="expired"),
    status_case("viewer-token", GOOD, 403, token="viewer"),
    Case("status-wrong-method", "PUT", STATUS, 405, GOOD, headers={"If-Match": "{etag}"}),
    # --- PATCH /deliverables/{code}
    patch_case("status-field", {"status": "completed"}, error_path="status"),
    patch_case("unknown-field", {"colour": "red"}, error_path="colour"),
    patch_case("weight-negative", {"weight": -1}, error_path="weight"),
    patch_case("weight-string", {"weight": "2"}, error_path="weight"),
    patch_case("weight-astronomical", {"weight": 1.7e308}, error_path="weight"),
    patch_case("weight-null", {"weight": None}, error_path="weight"),
    patch_case("title-null", {"title": None}, 422, "title", token="admin"),
    patch_case("tags-null", {"tags": None}, error_path="tags"),
    patch_case("tags-string", {"tags": "gender"}, error_path="tags"),
    patch_case("tags-number-item", {"tags": [1]}, error_path="tags[0]"),
    patch_case("tags-bad-item", {"tags": ["not a tag!"]}, error_path="tags[0]"),
    patch_case("tags-object", {"tags": {"gender": True}}, error_path="tags"),
    patch_case("due-date-invalid", {"due_date": "2020-13-01"}, error_path="due_date"),
    patch_case("due-date-words", {"due_date": "next week"}, error_path="due_date"),
    patch_case("due-date-bool", {"due_date": True}, error_path="due_date"),
    patch_case("owner-empty", {"owner": "   "}, error_path="owner"),
    patch_case("owner-number", {"owner": 5}, error_path="owner"),
    patch_case("owner-too-long", {"owner": "o" * 201}, error_path="owner"),
    patch_case("owner-list", {"owner": ["Ana"]}, error_path="owner"),
    patch_case("owner-nul", {"owner": "A\x00na"}, error_path="owner"),
    patch_case("note-too-long", {"owner": "Ana", "note": LONG_NOTE}, error_path="note"),
    patch_case("title-empty", {"title": ""}, 422, "title", token="admin"),
    patch_case("title-too-long", {"title": "t" * 2001}, 422, "title", token="admin"),
    patch_case("json-list", [{"owner": "Ana"}], error_path="body"),
    patch_case("malformed-json", Raw(b"{owner: Ana}"), error_path="body"),
    patch_case("editor-changes-title", {"title": "A new title"}, 403),
    patch_case("viewer-token", {"owner": "Ana"}, 403, token="viewer"),
    patch_case("no-token", {"owner": "Ana"}, 401, token=None),
    patch_case("if-match-missing", {"owner": "Ana"}, 428, headers={}),
    patch_case("if-match-stale", {"owner": "Ana"}, 412, headers={"If-Match": "{stale}"}),
    patch_case("unknown-deliverable", {"owner": "Ana"}, 404, path=f"{M}/deliverables/NOPE"),
    patch_case("unknown-mandate", {"owner": "Ana"}, 404,
               path=f"{API}/mandates/nope/deliverables/L1M1D1"),
    patch_case("too-large", {"owner": "Ana", "note": HUGE_NOTE}, 413),
    # --- POST .../deliverables:batch-status
    batch_case("empty-list", {"changes": []}, error_path="changes"),
    batch_case("no-changes", {}, error_path="changes"),
    batch_case("changes-string", {"changes": "L1M1D1"}, error_path="changes"),
    batch_case("changes-object", {"changes": {"0": item()}}, error_path="changes"),
    batch_case("changes-null-item", {"changes": [None]}, error_path="changes[0]"),
    batch_case("item-status-bogus", {"changes": [item(status="done")]},
               error_path="changes[0].status"),
    batch_case("second-item-status-bogus", {"changes": [item(), item(status="finished")]},
               error_path="changes[1].status"),
    batch_case("item-percent-over", {"changes": [item(percent_complete=200)]},
               error_path="changes[0].percent_complete"),
    batch_case("item-percent-with-completed", {"changes": [item(status="completed")]},
               error_path="changes[0].percent_complete"),
    batch_case("item-no-if-match", {"changes": [{"code": "L1M1D1", "status": "completed"}]},
               error_path="changes[0].if_match"),
    batch_case("item-no-code", {"changes": [{"if_match": "{etag}", "status": "completed"}]},
               error_path="changes[0].code"),
    batch_case("item-code-number", {"changes": [item(code=11)]},
               error_path="changes[0].code"),
    batch_case("item-unknown-field", {"changes": [item(colour="red")]},
               error_path="changes[0].colour"),
    batch_case("item-note-too-long", {"changes": [item(note=LONG_NOTE)]},
               error_path="changes[0].note"),
    batch_case("item-evidence-ftp", {"changes": [item(evidence_url="ftp://x.org/a")]},
               error_path="changes[0].evidence_url"),
    batch_case("too-many-items", {"changes": [item()] * 501}, error_path="changes"),
    batch_case("stale-item", {"changes": [item(), item(code="L1M1D2", if_match="{stale2}")]},
               409),
    batch_case("unknown-item", {"changes": [item(), item(code="L9M9D9")]}, 409),
    batch_case("future-item", {"changes": [item(), item(code="L1M1D2", if_match="{etag2}",
                                                        effective_at="2999-01-01")]}, 409),
    batch_case("json-list", [item()], error_path="body"),
    batch_case("viewer-token", {"changes": [item()]}, 403, token="viewer"),
    batch_case("no-token", {"changes": [item()]}, 401, token=None),
    batch_case("unknown-mandate", {"changes": [item()]}, 404,
               path=f"{API}/mandates/nope/deliverables:batch-status"),
    # --- PUT /mandates/{m}/plan
    plan_case("status-bogus", plan_with(_set(_first_deliverable, status="done")),
              error_path=f"{D0}.status"),
    plan_case("percent-over", plan_with(_set(_first_deliverable, status="in_progress",
                                             percent_complete=150)),
              error_path=f"{D0}.percent_complete"),
    plan_case("percent-with-completed", plan_with(_set(_first_deliverable,
                                                       percent_complete=50)),
              error_path=f"{D0}.percent_complete"),
    plan_case("weight-negative", plan_with(_set(_first_deliverable, weight=-2)),
              error_path=f"{D0}.weight"),
    plan_case("tag-invalid", plan_with(_set(_first_deliverable, tags=["two words"])),
              error_path=f"{D0}.tags[0]"),
    plan_case("deliverable-unknown-field", plan_with(_set(_first_deliverable, colour="red")),
              error_path=f"{D0}.colour"),
    plan_case("duplicate-deliverable-code", plan_with(lambda d: d["action_lines"][0][
        "measures"][0]["deliverables"][1].update(code="L1M1D1")),
              error_path="action_lines[0].measures[0].deliverables[1].code"),
    plan_case("dates-reversed", plan_with(lambda d: d["mandate"].update(
        start_date="2021-01-01")), error_path="mandate.end_date"),
    plan_case("code-mismatch", plan_with(lambda d: d["mandate"].update(code="2021-2023")),
              error_path="mandate.code"),
    plan_case("no-mandate", plan_with(lambda d: d.pop("mandate")), error_path="mandate"),
    plan_case("unknown-top-field", plan_with(lambda d: d.update(owner="me")),
              error_path="owner"),
    plan_case("as-of-future", plan_with(lambda d: d.update(as_of="2999-12-31")),
              error_path="as_of"),
    plan_case("indicator-unknown-measure", plan_with(lambda d: d["indicators"][EXPERTS].update(
        measure="L9M9")), error_path=f"indicators[{EXPERTS}].measure"),
    plan_case("title-empty", plan_with(lambda d: d["action_lines"][0].update(title=" ")),
              error_path="action_lines[0].title"),
    plan_case("json-list", [plan_data()]),
    plan_case("json-string", "2018-2020"),
    plan_case("malformed-json", Raw(b'{"mandate": {')),
    plan_case("empty-body", Raw(b"")),
    plan_case("invalid-utf8", Raw(b'{"mandate": "\xff"}')),
    plan_case("malformed-yaml", Raw(b"mandate: [unclosed\n", "application/yaml")),
    plan_case("yaml-scalar", Raw(b"just a line\n", "application/yaml")),
    plan_case("yaml-impossible-date", Raw(
        PLAN_YAML_HEAD.replace("2018-01-01", "2018-02-30").encode(), "application/yaml"),
        error_path="mandate.start_date"),
    plan_case("unhashable-period", plan_with(
        lambda d: d["indicators"][EXPERTS]["values"][0].update(period=["2020"])),
        error_path=f"indicators[{EXPERTS}].values[0].period"),
    plan_case("deeply-nested", Raw(b"[" * 50_000 + b"]" * 50_000)),
    plan_case("weight-astronomical", plan_with(_set(_first_deliverable, weight=1.7e308)),
              error_path=f"{D0}.weight"),
    plan_case("nul-in-title", plan_with(lambda d: d["mandate"].update(title="Plan\x00")),
              error_path="mandate.title"),
    plan_case("text-plain", plan_data(), 415, headers={"Content-Type": "text/plain"}),
    plan_case("too-large", Raw(json.dumps(plan_with(lambda d: d["mandate"].update(
        title="t" * (MIB + 1)))).encode()), 413),
    plan_case("prune-not-bool", plan_data(), params={"prune": "maybe"}, error_path="prune"),
    plan_case("editor-token", plan_data(), 403, token="editor"),
    plan_case("viewer-token", plan_data(), 403, token="viewer"),
    plan_case("no-token", plan_data(), 401, token=None),
    # --- POST /tokens and DELETE /tokens/{name}
    token_case("empty-object", {}, error_path="name"),
    token_case("no-name", {"role": "editor"}, error_path="name"),
    token_case("name-empty", {"name": "", "role": "editor"}, error_path="name"),
    token_case("name-with-space", {"name": "two words", "role": "editor"}, error_path="name"),
    token_case("name-too-long", {"name": "n" * 201, "role": "editor"}, error_path="name"),
    token_case("name-number", {"name": 5, "role": "editor"}, error_path="name"),
    token_case("name-null", {"name": None, "role": "editor"}, error_path="name"),
    token_case("name-nul", {"name": "bot\x00", "role": "editor"}, error_path="name"),
    token_case("no-role", {"name": "bot-1"}, error_path="role"),
    token_case("role-unknown", {"name": "bot-1", "role": "root"}, error_path="role"),
    token_case("role-null", {"name": "bot-1", "role": None}, error_path="role"),
    token_case("role-list", {"name": "bot-1", "role": ["admin"]}, error_path="role"),
    token_case("expires-zero", {"name": "bot-1", "role": "viewer", "expires_in_days": 0},
               error_path="expires_in_days"),
    token_case("expires-too-far", {"name": "bot-1", "role": "viewer",
                                   "expires_in_days": 3651}, error_path="expires_in_days"),
    token_case("expires-string", {"name": "bot-1", "role": "viewer", "expires_in_days": "30"},
               error_path="expires_in_days"),
    token_case("expires-fraction", {"name": "bot-1", "role": "viewer",
                                    "expires_in_days": 1.5}, error_path="expires_in_days"),
    token_case("expires-bool", {"name": "bot-1", "role": "viewer", "expires_in_days": True},
               error_path="expires_in_days"),
    token_case("unknown-field", {"name": "bot-1", "role": "viewer", "groups": ["all"]},
               error_path="groups"),
    token_case("unknown-scope", {"name": "bot-1", "role": "viewer", "scopes": ["all"]},
               error_path="scopes[0]"),
    token_case("unknown-scope-line", {"name": "bot-1", "role": "viewer",
                                      "scope": "2018-2020:L9"}, error_path="scope"),
    token_case("scope-and-scopes", {"name": "bot-1", "role": "viewer", "scope": "2018-2020",
                                    "scopes": ["2018-2020"]}, error_path="body"),
    token_case("json-list", [{"name": "bot-1", "role": "viewer"}], error_path="body"),
    token_case("malformed-json", Raw(b'{"name": "bot-1", "role": }'), error_path="body"),
    token_case("duplicate-name", {"name": "editor-ana", "role": "viewer"}, 409),
    token_case("editor-token", {"name": "bot-1", "role": "viewer"}, 403, token="editor"),
    token_case("viewer-token", {"name": "bot-1", "role": "viewer"}, 403, token="viewer"),
    token_case("no-token", {"name": "bot-1", "role": "viewer"}, 401, token=None),
    Case("revoke-unknown-name", "DELETE", f"{TOKENS}/nobody", 404, token="admin"),
    Case("revoke-editor-token", "DELETE", f"{TOKENS}/viewer-ana", 403, token="editor"),
    Case("revoke-viewer-token", "DELETE", f"{TOKENS}/viewer-ana", 403, token="viewer"),
    Case("revoke-no-token", "DELETE", f"{TOKENS}/viewer-ana", 401, token=None),
    Case("revoke-bad-header", "DELETE", f"{TOKENS}/viewer-ana", 401, token=None,
         headers={"Authorization": "Bearer"}),
    Case("revoke-nul-name", "DELETE", f"{TOKENS}/bot%00", 404, token="admin"),
    # --- reads with bad query parameters, unknown items, missing roles
    read_case("deliverables-status-bogus", f"{M}/deliverables", params={"status": "done"},
              error_path="status[0]"),
    read_case("deliverables-limit-zero", f"{M}/deliverables", params={"limit": 0},
              error_path="limit"),
    read_case("deliverables-limit-over", f"{M}/deliverables", params={"limit": 501},
              error_path="limit"),
    read_case("deliverables-limit-word", f"{M}/deliverables", params={"limit": "ten"},
              error_path="limit"),
    read_case("deliverables-offset-negative", f"{M}/deliverables", params={"offset": -1},
              error_path="offset"),
    read_case("deliverables-q-too-long", f"{M}/deliverables", params={"q": "q" * 201},
              error_path="q"),
    read_case("deliverables-q-nul", f"{M}/deliverables", params={"q": "a\x00b"},
              error_path="q"),
    read_case("deliverables-offset-huge", f"{M}/deliverables", params={"offset": 2**63},
              error_path="offset"),
    read_case("audit-offset-huge", f"{API}/audit", params={"offset": 10**20},
              error_path="offset", token="admin"),
    read_case("progress-status-bogus", f"{M}/progress", params={"status": "finished"},
              error_path="status[0]"),
    read_case("activity-since-not-a-date", f"{M}/activity", params={"since": "last week"},
              error_path="since"),
    read_case("activity-since-beyond-9999", f"{M}/activity",
              params={"since": "9999-12-31T23:59:59-23:59"}, error_path="since"),
    read_case("history-limit-word", f"{M}/deliverables/L1M1D1/history",
              params={"limit": "all"}, error_path="limit"),
    read_case("audit-limit-zero", f"{API}/audit", params={"limit": 0}, error_path="limit",
              token="admin"),
    read_case("unknown-mandate", f"{API}/mandates/1999-2000", 404),
    read_case("nul-in-mandate-code", f"{API}/mandates/a%00b", 404),
    read_case("nul-in-deliverable-code", f"{M}/deliverables/a%00b", 404),
    read_case("unknown-deliverable", f"{M}/deliverables/L9M9D9", 404),
    read_case("unknown-history", f"{M}/deliverables/L9M9D9/history", 404),
    read_case("unknown-route", f"{API}/nothing-here", 404),
    read_case("malformed-auth-on-public-read", f"{M}/progress", 401,
              headers={"Authorization": "Basic abc"}),
    read_case("tokens-no-token", TOKENS, 401),
    read_case("tokens-editor", TOKENS, 403, token="editor"),
    read_case("audit-viewer", f"{API}/audit", 403, token="viewer"),
    Case("delete-mandate-not-allowed", "DELETE", M, 405, token="admin"),
]


# ------------------------------------------------------------------------------- running


def _fill(value: Any, world: World) -> Any:
    """Put the setup's ETags and secrets where a case says {etag}, {stale}, {editor}…"""
    if isinstance(value, str):
        for name, replacement in {**world.etags, **world.secrets}.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {key: _fill(inner, world) for key, inner in value.items()}
    if isinstance(value, list):
        return [_fill(inner, world) for inner in value]
    return value


def send(client: TestClient, case: Case, world: World) -> Any:
    headers = {name: _fill(value, world) for name, value in case.headers.items()}
    if case.token is not None:
        headers.update(auth(world.secrets[case.token]))
    content: bytes | None = None
    if isinstance(case.body, Raw):
        content = case.body.content
        if case.body.content_type is not None:
            headers.setdefault("Content-Type", case.body.content_type)
        if case.body.chunked:
            return client.request(case.method, case.path, content=iter([content]),
                                  headers=headers, params=dict(case.params))
    elif case.body is not NO_BODY:
        content = json.dumps(_fill(case.body, world)).encode()
        headers.setdefault("Content-Type", "application/json")
    return client.request(case.method, case.path, content=content, headers=headers,
                          params=dict(case.params))


def problems_with(response: Any, case: Case) -> list[str]:
    """What is wrong with the answer to ``case``; empty when it is right."""
    found: list[str] = []
    if response.status_code != case.expected:
        found.append(f"status {response.status_code}, expected {case.expected}")
    if response.status_code >= 500:
        found.append("server error")
    text = response.text
    found += [f"body leaks {leak!r}" for leak in LEAKS if leak in text]
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/problem+json"):
        found.append(f"content type {content_type!r}")
    try:
        body = response.json()
    except ValueError:
        return [*found, f"body is not JSON: {text[:200]!r}"]
    if not isinstance(body, dict):
        return [*found, f"body is not an object: {text[:200]!r}"]
    missing = [key for key in ("type", "title", "status", "detail") if key not in body]
    if missing:
        found.append(f"problem lacks {missing}")
    if body.get("status") != response.status_code:
        found.append(f"problem status {body.get('status')!r} != {response.status_code}")
    if response.status_code == 422:
        errors = body.get("errors")
        if not isinstance(errors, list) or not errors or not all(
                isinstance(e, dict) and {"path", "message"} <= e.keys() for e in errors):
            found.append(f"422 without a list of {{path, message}}: {errors!r}")
        elif case.error_path is not None and case.error_path not in [e["path"] for e in errors]:
            found.append(f"no error at {case.error_path!r}: {errors!r}")
    if found:
        found.append(f"answer: {text[:300]}")
    return found


@pytest.fixture
def world(engine: Engine, client: TestClient, metropolis: None,
          token_secrets: dict[str, str]) -> World:
    """The bundled plan; viewer, editor, admin, revoked and expired tokens; one accepted
    change made with an Idempotency-Key; the ETags as they stand after it."""
    secrets = dict(token_secrets)
    with Session(engine) as session:
        revoked, secrets["revoked"] = tokens.create_token(session, name="revoked-test",
                                                          role=Role.admin)
        tokens.revoke_token(session, name=revoked.name)
        _expired, secrets["expired"] = tokens.create_token(
            session, name="expired-test", role=Role.admin, expires_in_days=1,
            now=utcnow() - timedelta(days=2))
        session.commit()
    first = client.get(f"{M}/deliverables/L1M1D2")
    accepted = client.post(f"{M}/deliverables/L1M1D2/status", json={"status": "in_progress"},
                           headers={**auth(secrets["editor"]), "If-Match": first.headers["etag"],
                                    "Idempotency-Key": USED_KEY})
    assert accepted.status_code == 200, accepted.text
    etags = {"etag": client.get(f"{M}/deliverables/L1M1D1").headers["etag"],
             "etag2": accepted.headers["etag"]}
    etags.update(stale=_older(etags["etag"]), stale2=_older(etags["etag2"]))
    return World(secrets=secrets, etags=etags)


def _older(etag: str) -> str:
    """``"12.3"`` → ``"12.2"``: an ETag this deliverable had before (or never had)."""
    identity, version = etag.strip('"').split(".")
    return f'"{identity}.{int(version) - 1}"'


def test_cases_are_many_distinct_and_cover_every_write() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(CASES) >= 100
    routes = {(case.method, case.path) for case in CASES}
    for route in [("POST", STATUS), ("PATCH", PATCH), ("POST", BATCH), ("PUT", PLAN),
                  ("POST", TOKENS), ("DELETE", f"{TOKENS}/viewer-ana")]:
        assert route in routes
    assert all(400 <= case.expected < 500 for case in CASES)


def test_bad_requests_get_4xx_problems_and_change_nothing(
    engine: Engine, client: TestClient, world: World, backend: str
) -> None:
    before = snapshot(engine)
    failures: list[str] = []
    for case in CASES:
        response = send(client, case, world)
        failures += [f"{case.id}: {problem}" for problem in problems_with(response, case)]
    after = snapshot(engine)
    for table, rows in before.items():
        if after[table] != rows:
            added = [row for row in after[table] if row not in rows]
            removed = [row for row in rows if row not in after[table]]
            failures.append(f"table {table} changed: +{added[:3]} -{removed[:3]}")
    if failures:
        pytest.fail(f"{len(failures)} problem(s):\n" + "\n".join(failures), pytrace=False)


def test_an_accepted_change_does_change_the_snapshot(
    engine: Engine, client: TestClient, world: World
) -> None:
    """The comparison above can fail: the same client, one good request, a new snapshot."""
    before = snapshot(engine)
    good = Case("good", "POST", STATUS, 200, {"status": "in_progress", "percent_complete": 30},
                headers={"If-Match": "{etag}"})
    response = send(client, good, world)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] != world.etags["etag"]
    after = snapshot(engine)
    assert after != before
    assert after["status_change"] != before["status_change"]
