"""Reading a subject's events: streaming them decrypted, and counting them (per category, per month, or
bounded per person for DP counts) without decrypting anything."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Generator, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.vault.crypto import SubjectCipher
from governance.vault.models import DataKey, Event, Subject
from governance.vault.service.datakeys import _decrypt, _key_columns, _row_cipher
from governance.vault.service.results import EventView
from governance.vault.service.subjects import _load_subject

_AGGREGATE_CHUNK = 2000  # ids per IN (...) list of an aggregate (one statement each)


def _event_view(cipher: SubjectCipher, row: Any) -> EventView:
    payload = json.loads(_decrypt(cipher, "event:" + row.event_id, row.ciphertext))
    client_id = payload.get("e", row.event_id)  # rows stored before ids were hashed hold it in the column
    return EventView(client_id, row.category, row.occurred_at, payload["i"], payload["v"], payload["c"])


def _event_query(
    subject_ids: Sequence[uuid.UUID],
    categories: Iterable[str] | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> sa.Select[Any]:
    query = (
        select(Event.subject_id, Event.event_id, Event.category, Event.occurred_at, Event.ciphertext, *_key_columns())
        .outerjoin(DataKey, (DataKey.subject_id == Event.subject_id) & (DataKey.version == Event.key_version))
        .where(Event.subject_id.in_(list(subject_ids)))
    )
    if categories is not None:
        query = query.where(Event.category.in_(list(categories)))
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    return query.order_by(Event.subject_id, Event.occurred_at, Event.id)


def iter_events(
    session: Session,
    subject_id: uuid.UUID,
    *,
    categories: Iterable[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Generator[EventView, None, None]:
    """The subject's events, oldest first, decrypted as they stream (`since` inclusive, `until` exclusive)."""
    subject = _load_subject(session, subject_id)
    query = _event_query([subject.id], categories, since, until).execution_options(yield_per=1000)
    result = session.execute(query)
    try:
        for row in result:
            yield _event_view(_row_cipher(row), row)
    finally:
        result.close()  # a consumer that stops early must not leave a server-side cursor open


def event_counts(session: Session, subject_id: uuid.UUID) -> dict[str, int]:
    """Events stored per category (no values)."""
    rows = session.execute(
        select(Event.category, func.count()).where(Event.subject_id == subject_id).group_by(Event.category)
    )
    return {str(category): int(count) for category, count in rows}


def event_counts_by_month(
    session: Session, subject_id: uuid.UUID, *, since: dt.datetime | None = None
) -> dict[str, dict[str, int]]:
    """Events per calendar month (UTC, "YYYY-MM") and category, oldest month first; nothing is decrypted."""
    query = select(Event.category, Event.occurred_at).where(Event.subject_id == subject_id)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    months: dict[str, Counter[str]] = {}
    for category, occurred_at in session.execute(query):
        months.setdefault(occurred_at.strftime("%Y-%m"), Counter())[category] += 1
    return {month: dict(counts) for month, counts in sorted(months.items())}


def bounded_event_count(
    session: Session,
    subject_ids: Iterable[uuid.UUID] | sa.Select[Any],
    *,
    category: str,
    max_rows_per_subject: int,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """Sum over the given active subjects of min(their events of ``category`` in [since, until), N): the exact
    count of a DP count whose contributions are bounded to N rows per person. Category and time are stored in
    clear, so nothing is decrypted: one grouped aggregate per chunk of ids (index-only on
    (subject_id, category, occurred_at)), the per-person bound applied in SQL. Erased subjects count nothing.
    ``subject_ids`` may be a SELECT of one id column (`consent.permitted_subjects_select`): then it is one
    statement, the ids never leave the database."""
    per_subject = (
        select(func.count().label("n"))
        .select_from(Event)
        # erased subjects are few: excluding their (kept) events is one small list, not a lookup per subject
        .where(
            Event.category == category, Event.subject_id.not_in(select(Subject.id).where(Subject.status != "active"))
        )
        .group_by(Event.subject_id)
    )
    if since is not None:
        per_subject = per_subject.where(Event.occurred_at >= since)
    if until is not None:
        per_subject = per_subject.where(Event.occurred_at < until)

    def bounded_sum(ids: Any) -> int:
        grouped = per_subject.where(Event.subject_id.in_(ids)).subquery()
        bounded = sa.case((grouped.c.n > max_rows_per_subject, max_rows_per_subject), else_=grouped.c.n)
        return int(session.scalar(select(func.coalesce(func.sum(bounded), 0))) or 0)

    if isinstance(subject_ids, sa.Select):
        return bounded_sum(subject_ids.scalar_subquery())
    ids = list(subject_ids)
    return sum(bounded_sum(ids[first : first + _AGGREGATE_CHUNK]) for first in range(0, len(ids), _AGGREGATE_CHUNK))


def time_bin_edges(since: dt.datetime, until: dt.datetime, bins: int) -> list[dt.datetime]:
    """The bins + 1 edges of `bounded_event_histogram`: since + i * (until - since) / bins, the last one until."""
    width = (until - since) / bins
    return [since + width * i for i in range(bins)] + [until]


def _time_bin(occurred_at: Any, edges: Sequence[dt.datetime], first: int, last: int) -> Any:
    """The index of the bin in [first, last] that holds ``occurred_at``, as nested CASEs that halve the range at
    each level: about log2(bins) comparisons per row instead of up to bins - 1 (portable: no epoch arithmetic,
    which SQLite and PostgreSQL spell differently; each edge bound with the column's own type)."""
    if first == last:
        return sa.literal(first)
    middle = (first + last + 1) // 2  # bins first..middle-1 lie before edges[middle]
    return sa.case(
        (occurred_at < edges[middle], _time_bin(occurred_at, edges, first, middle - 1)),
        else_=_time_bin(occurred_at, edges, middle, last),
    )


def bounded_event_histogram(
    session: Session,
    subject_ids: Iterable[uuid.UUID] | sa.Select[Any],
    *,
    category: str,
    since: dt.datetime,
    until: dt.datetime,
    bins: int,
    max_rows_per_subject: int,
) -> list[int]:
    """Events of ``category`` in [since, until) per equal-width time bin, each active subject contributing at
    most N of them (a uniform sample, drawn in SQL, when they have more): the exact counts of a DP histogram over
    time. Like `bounded_event_count`, only category and time are read (stored in clear): nothing is decrypted,
    and with ``subject_ids`` a SELECT it is one statement. Bin i holds [since + i·w, since + (i+1)·w)."""
    edges = time_bin_edges(since, until, bins)
    bin_index = _time_bin(Event.occurred_at, edges, 0, bins - 1)
    in_period = (Event.category == category, Event.occurred_at >= since, Event.occurred_at < until)
    active = Event.subject_id.not_in(select(Subject.id).where(Subject.status != "active"))

    def counts(ids: Any) -> Counter[int]:
        rows_per_subject = (
            select(Event.subject_id.label("subject_id"), func.count().label("n"))
            .where(*in_period, active, Event.subject_id.in_(ids))
            .group_by(Event.subject_id)
            .cte("rows_per_subject")
        )
        # people within the bound contribute every row, in one pass without a sort; only those over it are
        # sampled, by row_number() over a random order, which sorts their rows alone (the join to the
        # permitted, active people's counts carries the consent and erasure filters to both arms)
        people = Event.__table__.join(rows_per_subject, rows_per_subject.c.subject_id == Event.subject_id)
        within = (
            select(bin_index.label("bin"))
            .select_from(people)
            .where(*in_period, rows_per_subject.c.n <= max_rows_per_subject)
        )
        pick = func.row_number().over(partition_by=Event.subject_id, order_by=func.random())
        drawn = (
            select(bin_index.label("bin"), pick.label("pick"))
            .select_from(people)
            .where(*in_period, rows_per_subject.c.n > max_rows_per_subject)
            .subquery()
        )
        sampled = select(drawn.c.bin).where(drawn.c.pick <= max_rows_per_subject)
        both = sa.union_all(within, sampled).subquery()
        rows = session.execute(select(both.c.bin, func.count()).group_by(both.c.bin))
        return Counter({int(index): int(n) for index, n in rows})

    if isinstance(subject_ids, sa.Select):
        total = counts(subject_ids.scalar_subquery())
    else:
        ids = list(subject_ids)
        total = Counter()
        for first in range(0, len(ids), _AGGREGATE_CHUNK):  # a subject's rows are all in its own chunk
            total.update(counts(ids[first : first + _AGGREGATE_CHUNK]))
    return [total.get(index, 0) for index in range(bins)]
