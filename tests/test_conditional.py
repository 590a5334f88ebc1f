"""The conditional-request kit: entity tags as headers list them, and how they match."""

import pytest

from app.conditional import listed_tags, none_match, strong_tag, weak_tag


@pytest.mark.parametrize(("header", "tags"), [
    ('"12.3"', ['"12.3"']),
    (' "12.3" , W/"1.2.ab"', ['"12.3"', 'W/"1.2.ab"']),
    ("*", ["*"]),
    ('"a,b", "c"', ['"a,b"', '"c"']),  # a comma inside a tag is part of it
    ('12.3, "4.5"', ['"4.5"']),  # not a tag: it can match nothing
    ("", []),
])
def test_headers_list_entity_tags(header: str, tags: list[str]) -> None:
    assert listed_tags(header) == tags


def test_if_none_match_compares_weakly_and_star_matches_anything() -> None:
    current = weak_tag(1, 7, "/api/v1/mandates/x/progress", "")
    assert current.startswith('W/"1.7.')
    assert none_match(current, current)
    assert none_match(current.removeprefix("W/"), current)
    assert none_match(f'"other", {current}', current)
    assert none_match("*", current)
    assert not none_match(weak_tag(1, 8, "/api/v1/mandates/x/progress", ""), current)
    assert not none_match(None, current)


def test_strong_tags_name_an_item_and_its_version() -> None:
    assert strong_tag(12, 3) == '"12.3"'
    assert strong_tag("i4", 2) == '"i4.2"'
