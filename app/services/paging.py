"""Pages of a list: one query for the page, one for how many there are in all."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """Which page: at most ``limit`` items after skipping ``offset``."""

    limit: int
    offset: int = 0


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of items and how many match in all (the API's ``{data, count, limit,
    offset}``)."""

    data: list[T]
    count: int
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"data": self.data, "count": self.count, "limit": self.limit,
                "offset": self.offset}


def fetch_page(session: Session, statement: Select[Any], page: PageRequest, *,
               scalars: bool = False) -> Page[Any]:
    """The rows of ``statement`` (ordered by the caller) on ``page``, and how many rows it
    has in all; ``scalars``: the first column of each row."""
    total = session.execute(
        select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()
    result = session.execute(statement.limit(page.limit).offset(page.offset))
    rows = list(result.scalars() if scalars else result)
    return Page(rows, total, page.limit, page.offset)


def whole(items: list[T]) -> Page[T]:
    """Every item as one page."""
    return Page(items, len(items), len(items), 0)
