"""Reading a plan file for the checks: validated as import validates it, except that
duplicate codes are left to the rule ``structure.duplicate-code``; and where each item is
in the file, for annotations that point at a line."""

import json
from typing import Any

import yaml

from app.errors import FieldError, InvalidInput
from app.schemas.plan_file import PlanFile, parse_plan_text

# The plan file's own loader (dates stay text until validation), so that the checks read
# exactly what an import would.
from app.schemas.plan_file import _PlanLoader as PlanLoader


def _is_duplicate(error: FieldError) -> bool:
    return error.path.endswith(".code") and error.message.startswith("duplicate ")


def read_plan_text(text: str | bytes, *, fmt: str | None = None) -> PlanFile:
    """The plan in ``text``, or InvalidInput listing every problem but duplicate codes."""
    try:
        return parse_plan_text(text, fmt=fmt)
    except InvalidInput as error:
        if not error.errors or not all(_is_duplicate(e) for e in error.errors):
            raise
    data = json.loads(text) if fmt == "json" else yaml.load(text, Loader=PlanLoader)
    return PlanFile.model_validate(data)


def line_numbers(text: str) -> dict[str, int]:
    """Each item's path (``action_lines[0].measures[1]``) → its line, from 1. Best effort:
    empty when the text cannot be read as YAML."""
    try:
        root = yaml.compose(text, Loader=PlanLoader)
    except (yaml.YAMLError, ValueError, RecursionError):
        return {}
    lines: dict[str, int] = {}

    def walk(node: Any, path: str) -> None:
        if path:
            lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    walk(value, f"{path}.{key.value}" if path else str(key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    if root is not None:
        walk(root, "")
    return lines
