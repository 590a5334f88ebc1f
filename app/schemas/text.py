"""Text rules shared by every input: no NUL characters (PostgreSQL cannot store them)."""

from typing import Annotated, Any

from pydantic import AfterValidator


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


CleanText = Annotated[str, AfterValidator(no_nul)]
"""A string without NUL characters, for query parameters and body fields alike."""


def _has_nul(value: Any) -> bool:
    """NUL in a string, in the strings of a list, or in a mapping's keys. A mapping's values
    are left alone: where it is a nested model, that model checks its own fields, so the
    error names the innermost field."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(isinstance(item, str) and "\x00" in item for item in value)
    if isinstance(value, dict):
        return any(isinstance(key, str) and "\x00" in key for key in value)
    return False


def refuse_nul(cls: type, value: Any) -> Any:
    """A "before" validator for every field of a model: no NUL anywhere in the input."""
    if _has_nul(value):
        raise ValueError("must not contain NUL characters")
    return value
