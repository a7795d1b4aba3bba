import csv
import datetime as dt
import hashlib
import json
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.gateway.anonymize import PSEUDONYM_COLUMN, SubjectRecord, write_release
from governance.gateway.generalize import GeneralizationRule, Generalizer
from governance.gateway.kanon import AnonymityRequirement, ClassCounter
from governance.gateway.pseudonyms import Pseudonymizer
from governance.gateway.writers import Column

AS_OF = dt.date(2026, 11, 28)
GENERALIZER = Generalizer(
    (
        GeneralizationRule("birth_date", "age_band", {"width": 20}),
        GeneralizationRule("country", "country"),
        GeneralizationRule("occurred_at", "timestamp", {"granularity": "month"}),
    ),
    as_of=AS_OF,
)
PROFILE = [Column("birth_date"), Column("country")]
EVENTS = [Column("category"), Column("occurred_at"), Column("value", "number")]
COLUMNS = {"profile_columns": PROFILE, "event_columns": EVENTS}


def population(n_subjects: int, seed: int = 7) -> list[SubjectRecord]:
    rng = random.Random(seed)
    records = []
    for _ in range(n_subjects):
        born = dt.date(rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28))
        country = rng.choice(["DE", "FR", "AT", "LI"] if rng.random() < 0.98 else ["VA"])  # a few rare ones
        profile = {"birth_date": born.isoformat(), "country": country, "email": "canary@example.com"}
        events = [
            {
                "category": rng.choice(["view", "click", "purchase"]),
                "occurred_at": f"2026-{rng.randint(9, 11):02d}-{rng.randint(1, 28):02d}T10:00:00Z",
                "value": round(rng.uniform(0, 100), 2),
                "name": "Canary Name",  # not a column: must never appear
            }
            for _ in range(rng.randint(0, 6))
        ]
        rows = [tuple(e.get(c.name) for c in EVENTS) for e in events]
        records.append(SubjectRecord(uuid.UUID(int=rng.getrandbits(128)), profile, rows))
    return records


def read_rows(path, fmt):
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if fmt == "csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_release_is_k_anonymous_per_pycanon_and_reports_its_figures(tmp_path, fmt):
    import pandas as pd
    from pycanon import anonymity

    records = population(600)
    pseudonymize = Pseudonymizer.for_release()
    lineage: list[uuid.UUID] = []
    path = tmp_path / f"release.{fmt}"
    figures = write_release(
        records,
        **COLUMNS,
        generalizer=GENERALIZER,
        requirement=AnonymityRequirement(k=10),
        pseudonymize=pseudonymize,
        path=path,
        fmt=fmt,
        on_released_subjects=lineage.extend,
        batch_rows=97,
    )
    rows = read_rows(path, fmt)
    assert len(rows) == figures.rows_released > 0
    assert figures.rows_in == sum(len(r.events) for r in records)
    assert figures.rows_suppressed == figures.rows_in - figures.rows_released > 0  # rare countries go
    assert figures.subjects_in == 600
    qis = ["birth_date", "country", "occurred_at"]
    frame = pd.DataFrame(rows)[qis].fillna("<null>")
    assert anonymity.k_anonymity(frame, qis) >= 10
    assert figures.k_achieved is not None
    assert figures.k_achieved >= 10
    # distinct subjects per class, not rows, reach k
    per_class = pd.DataFrame(rows).fillna("<null>").groupby(qis)[PSEUDONYM_COLUMN].nunique()
    assert per_class.min() == figures.k_achieved
    assert hashlib.sha256(path.read_bytes()).hexdigest() == figures.checksum_sha256
    content = path.read_bytes()
    assert b"canary@example.com" not in content
    assert b"Canary Name" not in content
    assert "VA" not in {r["country"] for r in rows}
    # lineage: exactly the subjects whose pseudonym appears
    assert {pseudonymize(s) for s in lineage} == {r[PSEUDONYM_COLUMN] for r in rows}
    assert len(lineage) == figures.subjects_released
    manifest = figures.as_manifest()
    assert manifest["k_anonymity"]["k_achieved"] == figures.k_achieved
    assert manifest["generalization"]["birth_date"] == {"rule": "age_band", "width": 20}


def test_spilling_class_counts_to_disk_gives_the_same_release(tmp_path):
    records = population(300, seed=3)
    pseudonymize = Pseudonymizer(b"k" * 32)
    kwargs = {
        **COLUMNS,
        "generalizer": GENERALIZER,
        "requirement": AnonymityRequirement(k=5, l=2, sensitive="category"),
        "pseudonymize": pseudonymize,
        "fmt": "jsonl",
    }
    in_memory = write_release(records, path=tmp_path / "a.jsonl", **kwargs)
    spilled = write_release(records, path=tmp_path / "b.jsonl", max_classes_in_memory=3, **kwargs)
    assert in_memory.checksum_sha256 == spilled.checksum_sha256
    assert (in_memory.classes, in_memory.k_achieved, in_memory.l_achieved) == (
        spilled.classes,
        spilled.k_achieved,
        spilled.l_achieved,
    )
    assert in_memory.l_achieved == 2


def test_l_diversity_suppresses_homogeneous_classes(tmp_path):
    import pandas as pd
    from pycanon import anonymity

    subjects = []
    for i in range(40):
        country = "DE" if i < 20 else "FR"
        category = "view" if country == "FR" else ["view", "click"][i % 2]  # FR: all the same
        subjects.append(
            SubjectRecord(
                uuid.uuid4(),
                {"birth_date": "1990-01-01", "country": country},
                [(category, "2026-11-01T00:00:00Z", 1.0)],
            )
        )
    figures = write_release(
        subjects,
        **COLUMNS,
        generalizer=GENERALIZER,
        requirement=AnonymityRequirement(k=10, l=2, sensitive="category"),
        pseudonymize=Pseudonymizer.for_release(),
        path=tmp_path / "r.jsonl",
        fmt="jsonl",
    )
    rows = read_rows(tmp_path / "r.jsonl", "jsonl")
    assert {r["country"] for r in rows} == {"DE"}
    assert figures.l_achieved == 2
    qis = ["birth_date", "country", "occurred_at"]
    assert anonymity.l_diversity(pd.DataFrame(rows), qis, ["category"]) >= 2


def test_direct_identifier_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="email"):
        write_release(
            [],
            profile_columns=[*PROFILE, Column("email")],
            generalizer=GENERALIZER,
            requirement=AnonymityRequirement(),
            pseudonymize=Pseudonymizer.for_release(),
            path=tmp_path / "x.jsonl",
            fmt="jsonl",
            forbidden_columns=frozenset({"email", "name"}),
        )


def test_empty_release_has_no_k(tmp_path):
    figures = write_release(
        population(5),
        **COLUMNS,
        generalizer=GENERALIZER,
        requirement=AnonymityRequirement(k=50),
        pseudonymize=Pseudonymizer.for_release(),
        path=tmp_path / "e.csv",
        fmt="csv",
    )
    assert figures.rows_released == 0
    assert figures.k_achieved is None
    assert (tmp_path / "e.csv").read_text().startswith(PSEUDONYM_COLUMN + ",")


def test_class_counter_counts_subjects_not_rows():
    counter = ClassCounter(AnonymityRequirement(k=2))
    counter.add_subject({("a",): None})  # one subject, many rows in class a: still one
    counter.add_subject({("b",): None})
    counter.add_subject({("b",): None})
    summary = counter.finish()
    assert not counter.released(("a",))
    assert counter.released(("b",))
    assert (summary.classes, summary.classes_released, summary.k_achieved) == (2, 1, 2)


def test_class_counter_must_finish_first():
    counter = ClassCounter(AnonymityRequirement(k=2))
    with pytest.raises(RuntimeError):
        counter.released(("a",))


def test_requirement_validation():
    with pytest.raises(ValueError, match="k"):
        AnonymityRequirement(k=0)
    with pytest.raises(ValueError, match="l-diversity"):
        AnonymityRequirement(k=2, l=2)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_awkward_values_survive_every_format(tmp_path, fmt):
    awkward = ["comma, inside", 'quote " inside', "new\nline", "ünïcødé ✓", "", "tab\tinside", "back\\slash"]
    subjects = [
        SubjectRecord(
            uuid.UUID(int=i + 1),
            {"birth_date": "1990-01-01", "country": "DE"},
            [
                (text, "2026-11-01T00:00:00Z", value)
                for text, value in zip(awkward, [1.5, None, 3, 0.1, -2.0, 1e300, 7.0], strict=True)
            ],
        )
        for i in range(3)
    ]
    write_release(
        subjects,
        **COLUMNS,
        generalizer=GENERALIZER,
        requirement=AnonymityRequirement(k=2),
        pseudonymize=Pseudonymizer.for_release(),
        path=tmp_path / f"a.{fmt}",
        fmt=fmt,
    )
    rows = read_rows(tmp_path / f"a.{fmt}", fmt)
    assert [r["category"] for r in rows[:7]] == awkward
    values = [r["value"] for r in rows[:7]]
    if fmt == "csv":
        assert values == ["1.5", "", "3", "0.1", "-2.0", "1e+300", "7.0"]
    else:
        assert values == [1.5, None, 3, 0.1, -2.0, 1e300, 7.0]
    assert {r["birth_date"] for r in rows} == {"20-39"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_text_encoder_writes_what_the_standard_writers_would_even_with_braces_and_quotes(fmt):
    """The event part of a line is one format string: braces in names or values must come out as themselves."""
    import io

    from governance.gateway.anonymize.layout import _TextEncoder

    names = ["subject", "a{b}", "c}{", 'd,"x', "n"]
    values = ("p1", "x,y", 'q"{}\n', 1.5, None)
    encoder = _TextEncoder(fmt, names, 2)
    line = encoder.line(encoder.head(values[:2]), values[2:])
    if fmt == "jsonl":
        assert (
            line == json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False, separators=(",", ":")) + "\n"
        )
    else:
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\n").writerow(["" if v is None else v for v in values])
        assert line == expected.getvalue()


# an event value of every kind a payload can hold, including the ones the column fast paths must not take
_EVENT_VALUE = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["view", "a,b", 'q"{}', "\n", "\u2028"]),
    st.none(),
    st.integers(min_value=-(10**30), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_text_encoder_writes_a_chunk_column_by_column_exactly_as_line_by_line(fmt, data):
    """Pass one encodes a chunk's event parts column by column (C loops over columns of one kind); every line
    must be byte for byte what `line` writes for it, whatever the mix of kinds in a column."""
    from governance.gateway.anonymize.layout import _TextEncoder

    width = data.draw(st.integers(min_value=1, max_value=3))
    uniform = data.draw(st.sampled_from([None, st.text(max_size=4), st.floats(allow_nan=False), st.integers()]))
    value = uniform if uniform is not None else _EVENT_VALUE
    counts = data.draw(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4))
    bodies = [tuple(data.draw(st.lists(value, min_size=width, max_size=width))) for _ in range(sum(counts))]
    names = ["subject", "p", *(f"e{i}" for i in range(width))]
    chunked = _TextEncoder(fmt, names, 2)
    heads = [chunked.head((f"s{i}", "x")) for i in range(len(counts))]
    one_by_one = _TextEncoder(fmt, names, 2)
    expected = [
        one_by_one.line(one_by_one.head((f"s{i}", "x")), body)
        for i, body in zip([i for i, n in enumerate(counts) for _ in range(n)], bodies, strict=True)
    ]
    assert chunked.lines(heads, counts, bodies) == expected


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_chunk_counted_at_once_gives_every_class_the_same_subjects_as_counting_subject_by_subject(data):
    """Without l-diversity a chunk's subjects are counted with one Counter over their distinct class ids; each
    class must hold exactly the subjects the subject-by-subject count gives, also where the projection onto the
    counted quasi-identifiers merges combinations (one subject in two merged combinations counts once)."""
    from governance.gateway.anonymize.classes import _count_subjects, _count_with_values

    requirement = AnonymityRequirement(k=2)
    by_chunk, by_subject = ClassCounter(requirement), ClassCounter(requirement)
    for _chunk in range(data.draw(st.integers(min_value=1, max_value=3))):
        combos = data.draw(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("xy")), min_size=1, max_size=6))
        projected = [(first,) for first, _second in combos]  # the second position is not counted
        index = st.integers(min_value=0, max_value=len(combos) - 1)
        subjects = [
            (b"s", data.draw(st.lists(index, min_size=1, max_size=5)), None)
            for _ in range(data.draw(st.integers(0, 5)))
        ]
        _count_subjects(projected, subjects, by_chunk)
        _count_with_values(projected, subjects, by_subject)
    assert by_chunk.finish() == by_subject.finish()
    assert by_chunk._subjects == by_subject._subjects


def test_a_counter_with_l_diversity_refuses_counts_without_values():
    counter = ClassCounter(AnonymityRequirement(k=2, l=2, sensitive="value"))
    assert counter.counts_values
    with pytest.raises(ValueError, match="l-diversity"):
        counter.add_counts([(("a",), 3)])


def test_people_with_the_same_footprint_share_one_digest_across_chunks_and_the_cache_bound(monkeypatch):
    """A footprint's digest is reused from its cache, which stays within its bound, and is recomputed (equal)
    once the cache was cleared for other footprints."""
    from governance.gateway.anonymize import classes

    monkeypatch.setattr(classes, "_DIGESTS_KEPT", 1)
    people = classes._Footprints(AnonymityRequirement(k=2), {})
    people.add(uuid.uuid4().bytes, frozenset(['["a"]', '["b"]']), None)
    people.add(uuid.uuid4().bytes, frozenset(['["c"]']), None)  # the bound: the first footprint is dropped
    people.add(uuid.uuid4().bytes, frozenset(['["b"]', '["a"]']), None)
    assert len(people._digests) == 1
    assert people.digests[0] == people.digests[2] != people.digests[1]
    assert people.released(0) == people.digests[0]  # 2 people share it; k = 2
    assert people.released(1) is None
