"""Walking every page of a cursor-paged list.

A list route answers one page and a cursor for the next (`next_cursor`; null on the last page). `iter_pages`
follows the cursors; `iter_items` flattens the pages. A cursor that comes back unchanged stops the walk with an
error instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from governance_client.errors import GovernanceError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    @property
    def last(self) -> bool:
        return self.next_cursor is None


def iter_pages(fetch: Callable[[str | None], Page[T]], *, max_pages: int | None = None) -> Iterator[Page[T]]:
    """Pages from `fetch(cursor)`, starting with `fetch(None)`, until a page has no next cursor."""
    cursor: str | None = None
    seen: set[str] = set()
    count = 0
    while True:
        page = fetch(cursor)
        yield page
        count += 1
        if page.next_cursor is None or (max_pages is not None and count >= max_pages):
            return
        if page.next_cursor in seen:
            raise GovernanceError("the service returned a cursor already followed; stopping")
        seen.add(page.next_cursor)
        cursor = page.next_cursor


def iter_items(fetch: Callable[[str | None], Page[T]], *, max_pages: int | None = None) -> Iterator[T]:
    for page in iter_pages(fetch, max_pages=max_pages):
        yield from page.items
