"""The OpenAPI document's promises to clients, checked without any tool installed
(tests/test_clients.py runs the linter and the generators on it)."""

from typing import Any

import pytest

from app.api.openapi import published_document

VERBS = {"get", "list", "show", "change", "edit", "create", "replace", "delete", "record",
         "import", "export", "revoke", "check", "compare"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return published_document()


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {operation["operationId"]: operation for path in document["paths"].values()
            for operation in path.values()}


def test_operation_ids_are_unique_verbs(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {name for name in ids if name.split("_")[0] not in VERBS} == set()
    assert "change_deliverable_status" in ids and "get_mandate_progress" in ids


def test_every_operation_says_whether_it_needs_a_token(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert all("security" in operation for operation in operations.values())
    assert operations["change_deliverable_status"]["security"] == [{"bearer": []}]
    assert operations["list_tokens"]["security"] == [{"bearer": []}]
    # Public reads: a token is optional.
    assert operations["get_mandate_progress"]["security"] == [{}, {"bearer": []}]
    assert operations["check_health"]["security"] == []


def test_private_reads_need_a_token_in_the_document_too(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv("PLANPULSE_PUBLIC_READ", "false")
    operations = _operations(published_document())
    assert operations["get_mandate_progress"]["security"] == [{"bearer": []}]


def test_guarded_writes_require_if_match_and_declare_their_headers(document: dict[str, Any]
                                                                   ) -> None:
    change = _operations(document)["change_deliverable_status"]
    if_match = next(p for p in change["parameters"] if p["name"].lower() == "if-match")
    assert if_match["required"] is True
    assert set(change["responses"]["200"]["headers"]) == {"ETag", "Idempotent-Replayed"}
    stale = change["responses"]["412"]["content"]["application/problem+json"]["schema"]
    assert stale == {"$ref": "#/components/schemas/StaleProblem"}
    assert {"etag", "current"} <= set(document["components"]["schemas"]["StaleProblem"]
                                      ["properties"])


def test_reads_that_send_an_etag_declare_it(document: dict[str, Any]) -> None:
    operations = _operations(document)
    for name in ("get_deliverable", "get_mandate_progress", "get_indicator"):
        assert "ETag" in operations[name]["responses"]["200"]["headers"], name
    assert "headers" not in operations["list_mandates"]["responses"]["200"]


def test_no_schema_is_left_inline_with_dangling_references(document: dict[str, Any]) -> None:
    text = str(document)
    assert "$defs" not in text
    schemas = document["components"]["schemas"]
    for name in ("MandateSpec", "ActionLineSpec", "MeasureSpec", "DeliverableSpec"):
        assert name in schemas
