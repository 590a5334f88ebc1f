"""Files sent and asked for whole (a plan file, a records file): the raw body, and which of
JSON or YAML the caller speaks."""

from fastapi import Request

from app.errors import UnsupportedMediaType

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def raw_body(request: Request) -> bytes:
    return await request.body()


def wants_yaml(request: Request) -> bool:
    """Whether the caller's Accept names a YAML type (JSON otherwise)."""
    return any(kind in request.headers.get("accept", "") for kind in YAML_TYPES)


def sent_format(request: Request, *, what: str) -> str:
    """``yaml`` or ``json`` by the body's Content-Type (none: JSON); 415 naming ``what``
    otherwise."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type in YAML_TYPES:
        return "yaml"
    if content_type in ("application/json", "") or content_type.endswith("+json"):
        return "json"
    raise UnsupportedMediaType(
        f"Send the {what} as application/json or application/yaml, not {content_type}.")
