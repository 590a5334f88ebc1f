"""Fetch a coverage report from a running service (``planpulse check --url``).

The standard library's HTTP client is enough for one GET, and keeps the command free of
a run-time dependency.
"""

import json
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import Request, urlopen

from pydantic import ValidationError

from app.coverage.model import Report

API_PREFIX = "/api/v1"
TIMEOUT_SECONDS = 60.0


class ServiceError(Exception):
    """The service could not be asked, or did not answer with a report."""


def coverage_url(base_url: str, mandate: str, query: list[tuple[str, str]]) -> str:
    """The endpoint's URL; ``base_url`` is the service's root, with or without /api/v1."""
    base = base_url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ServiceError(f"{base_url!r} is not an http:// or https:// URL")
    if not base.endswith(API_PREFIX):
        base += API_PREFIX
    return f"{base}/mandates/{quote(mandate, safe='')}/coverage?{urlencode(query)}"


def fetch_report(base_url: str, *, mandate: str, query: list[tuple[str, str]],
                 token: str | None = None, timeout: float = TIMEOUT_SECONDS) -> Report:
    url = coverage_url(base_url, mandate, query)
    headers = {"Accept": "application/json", "User-Agent": "planpulse-check"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urlopen(Request(url, headers=headers), timeout=timeout) as response:
            body = response.read()
    except HTTPError as error:
        raise ServiceError(f"{url}: {error.code} {_problem(error)}") from None
    except URLError as error:
        raise ServiceError(f"cannot reach {base_url}: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise ServiceError(f"cannot reach {base_url}: {error}") from None
    try:
        return Report.model_validate_json(body)
    except ValidationError:
        raise ServiceError(f"{url}: the answer is not a coverage report (is this a "
                           "planpulse service?)") from None


def _problem(error: HTTPError) -> str:
    """The problem+json's detail and field errors, else the status's reason."""
    try:
        body = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        body = {}
    if not isinstance(body, dict) or "detail" not in body:
        return str(error.reason)
    text = f"{body.get('title', error.reason)}: {body['detail']}"
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            text += f"\n  {item.get('path')}: {item.get('message')}"
    return text
