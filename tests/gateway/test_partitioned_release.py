"""A release split by subject range into partitions whose pass one runs in forked processes is the same
release as the single-process one: the same file (byte for byte), manifest, lineage and footprints."""

from __future__ import annotations

import pytest

from governance.gateway import service
from governance.gateway.policy import load_gateway_policy
from governance.settings import PROJECT_ROOT
from tests.gateway.conftest import PURPOSE, client_principal
from tests.gateway.test_dp_sql_counts import _add_events

SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["birth_date", "postal_code", "country", "device"],
    "event_categories": ["view"],
    "event_fields": ["category", "occurred_at", "item", "value"],
    "pseudonyms": "stable",  # the same pseudonyms in both builds, so their files can be compared
}
CLIENT = "training-service"  # holds a stable pseudonym key for PURPOSE


def _build(app, tmp_path, fmt: str, **kwargs):
    spec = {**SPEC, "format": fmt}
    service.check_spec(PURPOSE, client_principal(CLIENT), spec)
    db = app.extensions["governance.db"]
    with db.session() as session:
        return service.build_dataset(
            session,
            purpose=PURPOSE,
            client_id=CLIENT,
            spec=spec,
            output_dir=tmp_path / kwargs.get("name", "out"),
            session_factory=db.session,
            **{k: v for k, v in kwargs.items() if k != "name"},
        )


def _groups(footprints: dict) -> set[frozenset]:
    """Who shares a footprint with whom (digests are keyed per build, so only the grouping compares)."""
    by_digest: dict[bytes, set] = {}
    for subject, digest in footprints.items():
        by_digest.setdefault(digest, set()).add(subject)
    return {frozenset(group) for group in by_digest.values()}


# The two builds run in a fresh interpreter: partitions fork only from a process whose sole threads are
# fork-safe (`service.can_fork`), and the test process holds others (the browser tests' Playwright loop, live
# servers) when the whole suite runs in one process.
BUILD_BOTH = """
import json, pickle, sys
from pathlib import Path
from governance import create_app
from governance.gateway import service
from tests.gateway.test_partitioned_release import _build

config, out, fmt = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
app = create_app(config)
with app.app_context():
    assert service.can_fork(), "the fresh process must be able to fork its partitions"
    builds = {
        "single": _build(app, out, fmt, processes=1, name="single"),
        "split": _build(app, out, fmt, processes=2, partition_subjects=5, name="split"),
    }
fields = ("path", "manifest", "subject_ids", "footprints")
pickle.dump({name: {f: getattr(b, f) for f in fields} for name, b in builds.items()}, (out / "builds.pkl").open("wb"))
app.extensions["governance.db"].dispose()
"""


def _build_both_in_a_fresh_process(app_config, tmp_path, fmt: str) -> dict:
    import json
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    subprocess.run(  # waits however long the busy machine needs; the process is reaped either way
        [sys.executable, "-c", BUILD_BOTH, json.dumps(app_config), str(tmp_path), fmt], cwd=root, check=True
    )
    with (tmp_path / "builds.pkl").open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - written by the test's own subprocess just above


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_partitioned_release_equals_the_single_process_one(app, app_config, tmp_path, populate, fmt):
    population = populate(30, events=3, varied=True)
    population = populate(7, events=1, population=population)
    for subject in population.ids[-3:]:  # a view on another day: a row class of 3 people, suppressed
        _add_events(app, subject, "view", 1)
    assert service.partition_bounds(37, 2, 5) == [(0, 10), (10, 20), (20, 30), (30, 37)]
    builds = _build_both_in_a_fresh_process(app_config, tmp_path, fmt)
    single, split = builds["single"], builds["split"]
    assert single["path"].read_bytes() == split["path"].read_bytes()
    assert single["manifest"] == split["manifest"]
    assert single["manifest"]["counts"]["rows_in"] == 97 + 3
    assert single["manifest"]["counts"]["rows_released"] == 97  # those 3 rows suppressed, their people kept
    assert single["manifest"]["counts"]["subjects_in"] == 37
    assert single["subject_ids"] == split["subject_ids"]
    assert set(single["subject_ids"]) == set(population.ids)
    assert _groups(single["footprints"]) == _groups(split["footprints"])


def _records(n: int) -> list:
    import datetime as dt
    import uuid

    from governance.gateway.anonymize import SubjectRecord

    base = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    return [
        SubjectRecord(
            uuid.UUID(int=i + 1),
            {"birth_date": "1990-02-03" if i % 2 else "1975-07-01", "country": "de" if i % 5 else "fr"},
            [("view", base + dt.timedelta(minutes=i % 3), f"item-{i % 4}", float(i)) for _ in range(2)],
        )
        for i in range(n)
    ]


def _shipped_policy():
    """The repository's gateway policy, read from its file (these writer tests run outside an app)."""
    return load_gateway_policy(PROJECT_ROOT / "policies" / "gateway.yaml")


def _write(source, path, person_level, fmt: str = "jsonl", **kwargs):
    import datetime as dt

    from governance.gateway.anonymize import write_release
    from governance.gateway.generalize import Generalizer
    from governance.gateway.kanon import AnonymityRequirement
    from governance.gateway.writers import Column

    return write_release(
        source,
        profile_columns=[Column("birth_date"), Column("country")],
        event_columns=[Column("category"), Column("occurred_at"), Column("item"), Column("value", "number")],
        generalizer=Generalizer(_shipped_policy().generalization_rules(), as_of=dt.date(2026, 11, 28)),
        requirement=AnonymityRequirement(k=4),
        pseudonymize=PSEUDONYMIZE,
        path=path,
        fmt=fmt,
        person_level=person_level,
        **kwargs,
    )


from governance.gateway.pseudonyms import Pseudonymizer  # noqa: E402

PSEUDONYMIZE = Pseudonymizer.for_release()  # one key for every build below (forked children inherit it)


@pytest.mark.slow
# JAX (imported by the synthetic-data tests earlier in the same process) warns at every fork; these children only
# run the pure partition functions over in-memory records and touch nothing of JAX.
@pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")
@pytest.mark.parametrize("person", [False, True], ids=["row_class", "person"])
def test_a_partition_whose_process_dies_fails_the_build_cleanly_and_the_rerun_finishes_once(tmp_path, person):
    """The release job's retry is the re-claim: a partition process killed mid-way breaks the pool, the build
    raises and leaves no spill behind; the rerun writes the same file as a single process would."""
    import os
    from concurrent.futures.process import BrokenProcessPool

    from governance.gateway.anonymize import Partitions, PersonLevel

    level = PersonLevel(candidates=["category"], content=["item", "value"]) if person else None
    records = _records(60)
    marker = tmp_path / "died-once"

    def dying(part: list) -> list:
        if not marker.exists():
            marker.touch()
            os._exit(17)  # the partition's process dies without cleaning up
        return part

    sources = [lambda a=a: records[a : a + 15] for a in (0, 30, 45)]
    sources.insert(1, lambda: dying(records[15:30]))
    out = tmp_path / "out"
    out.mkdir()
    single = _write(records, out / "single.jsonl", level)
    with pytest.raises(BrokenProcessPool):
        _write(Partitions(sources, processes=2), out / "split.jsonl", level)
    assert marker.exists()
    assert sorted(p.name for p in out.iterdir()) == ["single.jsonl"]  # no spill, no half-written file kept
    split = _write(Partitions(sources, processes=2), out / "split.jsonl", level)
    assert (out / "split.jsonl").read_bytes() == (out / "single.jsonl").read_bytes()
    assert split.as_manifest() == single.as_manifest()
    assert single.rows_released > 0


@pytest.mark.slow
def test_a_release_reads_while_a_writer_holds_its_transaction_open(app, tmp_path, populate):
    """A long release must not queue behind the API's writers nor hold them up: its reads begin deferred on
    SQLite (a WAL snapshot, no write lock; with `BEGIN IMMEDIATE` this build waited out the busy timeout and
    failed with "database is locked"), and on PostgreSQL plain reads never wait on row locks."""
    import sqlalchemy as sa

    population = populate(12, events=2)
    db = app.extensions["governance.db"]
    with db.engine.connect() as writer:
        writer.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock
        writer.execute(sa.text("UPDATE vault_subjects SET status = status"))  # and row locks on PostgreSQL
        with app.app_context():
            build = _build(app, tmp_path, "jsonl", processes=1)
        writer.rollback()
    assert build.manifest["counts"]["subjects_in"] == len(population.ids)
    assert set(build.subject_ids) == set(population.ids)


def _sources(records: list, bounds: tuple[int, ...]) -> list:
    import itertools

    edges = [*bounds, len(records)]
    return [lambda a=a, b=b: records[a:b] for a, b in itertools.pairwise(edges)]


@pytest.mark.slow
@pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")  # as above
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("person", [False, True], ids=["row_class", "person"])
def test_pass_two_in_partition_processes_writes_the_single_process_release(tmp_path, fmt, person):
    """Each partition's spill is filtered in its own process into a part file and the parts are appended in
    order: the same bytes, figures, lineage (in order) and footprint groups as one process, also when the
    class counts spilled to disk (each process then opens its own connection to them)."""
    from governance.gateway.anonymize import Partitions, PersonLevel

    level = PersonLevel(candidates=["category"], content=["item", "value"]) if person else None
    records = _records(90)
    for max_classes in (1_000_000, 3):
        out = tmp_path / f"out-{max_classes}"
        out.mkdir()
        lineage: dict[str, list] = {"single": [], "split": []}
        footprints: dict[str, dict] = {"single": {}, "split": {}}
        figures = {}
        for name, source in (("single", records), ("split", Partitions(_sources(records, (0, 20, 45, 50)), 2))):
            figures[name] = _write(
                source,
                out / f"{name}.{fmt}",
                level,
                fmt,
                max_classes_in_memory=max_classes,
                on_released_subjects=lineage[name].extend,
                on_footprints=footprints[name].update,
            )
        assert (out / f"split.{fmt}").read_bytes() == (out / f"single.{fmt}").read_bytes()
        assert figures["split"].as_manifest() == figures["single"].as_manifest()
        assert figures["single"].rows_released > 0
        assert lineage["split"] == lineage["single"]
        assert len(lineage["single"]) == figures["single"].subjects_released
        assert _groups(footprints["split"]) == _groups(footprints["single"])
        assert sorted(p.name for p in out.iterdir()) == [f"single.{fmt}", f"split.{fmt}"]  # no part, no spill


@pytest.mark.slow
@pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")  # as above
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_pass_two_process_that_dies_fails_the_build_cleanly_and_the_rerun_finishes_once(tmp_path, monkeypatch, fmt):
    import os
    from concurrent.futures.process import BrokenProcessPool

    from governance.gateway.anonymize import Partitions, pass_two

    records = _records(60)
    marker = tmp_path / "died-once"
    filter_spill = pass_two._filter_spill

    def dying(*args, **kwargs):
        if not marker.exists():
            marker.touch()
            os._exit(17)  # a partition's pass two dies after writing part of its file
        return filter_spill(*args, **kwargs)

    out = tmp_path / "out"
    out.mkdir()
    _write(records, out / f"single.{fmt}", None, fmt)
    monkeypatch.setattr(pass_two, "_filter_spill", dying)
    split = Partitions(_sources(records, (0, 15, 30, 45)), processes=2)
    with pytest.raises(BrokenProcessPool):
        _write(split, out / f"split.{fmt}", None, fmt)
    assert marker.exists()
    assert sorted(p.name for p in out.iterdir()) == [f"single.{fmt}"]  # no part, no spill, no half-written file
    _write(split, out / f"split.{fmt}", None, fmt)
    assert (out / f"split.{fmt}").read_bytes() == (out / f"single.{fmt}").read_bytes()
