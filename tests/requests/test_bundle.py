"""Export bundle writing (ZIP: export.json + CSV) and sealing (chunked AES-256-GCM with a per-bundle key)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.requests.bundle import (
    CSV_COLUMNS,
    ExportContent,
    new_bundle_key,
    open_sealed,
    seal,
    unwrap_bundle_key,
    wrap_bundle_key,
    write_bundle,
)
from governance.requests.bundle_schema import SCHEMA_ID, ExportDocument
from governance.requests.errors import BundleIntegrityError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SUBJECT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _content(events: int = 25) -> ExportContent:
    return ExportContent(
        generated_at=NOW,
        request={"id": str(uuid.uuid4()), "kind": "access", "received_at": NOW, "jurisdiction": "GDPR"},
        subject={"id": str(SUBJECT), "jurisdiction": "EU", "created_at": NOW - timedelta(days=400)},
        profile={"email": "ada@example.org", "name": "Ada Løvelace", "motto": '=HYPERLINK("x")', "age": 36},
        consent_decisions=[
            {
                "purpose": "personalization",
                "decision": "granted",
                "notice_version": "3",
                "method": "dashboard",
                "occurred_at": NOW - timedelta(days=30),
                "receipt_id": "r-1",
            },
            {"purpose": "marketing", "decision": "withdrawn", "occurred_at": NOW - timedelta(days=2)},
        ],
        consent_receipts=[{"receipt_id": "r-1", "issued_at": NOW - timedelta(days=30), "content": {"sig": "abc"}}],
        events=(
            {
                "id": f"e{i}",
                "category": "clicks",
                "occurred_at": NOW - timedelta(minutes=i),
                "data": {"page": f"/p/{i}", "note": "+1 à l'été" if i == 3 else None},
            }
            for i in range(events)
        ),
        requests=[
            {
                "id": "q1",
                "kind": "access",
                "status": "in_progress",
                "received_at": NOW,
                "due_on": "2026-04-01",
            }
        ],
        dataset_releases=[
            {
                "release_id": "rel-9",
                "purpose": "personalization",
                "released_at": NOW,
                "recipient": "recommender",
            }
        ],
        training_jobs=[
            {
                "model_id": "m-2",
                "purpose": "personalization",
                "trained_at": NOW,
                "status": "succeeded",
                "flagged": False,
            }
        ],
    )


def _zip_of(content: ExportContent) -> tuple[zipfile.ZipFile, object]:
    buffer = io.BytesIO()
    written = write_bundle(content, buffer)
    buffer.seek(0)
    return zipfile.ZipFile(buffer), written


def test_bundle_holds_a_valid_document_and_matching_csv_files() -> None:
    archive, written = _zip_of(_content(events=25))
    assert set(archive.namelist()) == {"README.txt", "index.html", "export.json", *CSV_COLUMNS}
    document = ExportDocument.model_validate_json(archive.read("export.json"))
    assert document.schema_ == SCHEMA_ID
    assert document.subject.id == str(SUBJECT)
    assert document.profile["name"] == "Ada Løvelace"
    assert document.profile["motto"] == '=HYPERLINK("x")'  # exact in JSON
    assert [e.id for e in document.events] == [f"e{i}" for i in range(25)]
    assert written.event_count == 25
    assert len(document.consent_decisions) == 2
    assert document.consent_receipts[0].content == {"sig": "abc"}
    assert document.dataset_releases[0].purpose == "personalization"
    assert document.training_jobs[0].model_id == "m-2"
    by_name = {f.name: f for f in document.files}
    assert set(by_name) == set(CSV_COLUMNS)
    for name, entry in by_name.items():
        raw = archive.read(name)
        assert hashlib.sha256(raw).hexdigest() == entry.sha256
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
        assert tuple(rows[0]) == CSV_COLUMNS[name]
        assert len(rows) - 1 == entry.rows
    assert by_name["events.csv"].rows == 25
    assert by_name["profile.csv"].rows == 4


def test_csv_cells_are_defused_against_formula_injection() -> None:
    archive, _ = _zip_of(_content())
    profile = dict(csv.reader(io.StringIO(archive.read("profile.csv").decode())))
    assert profile["motto"] == '\'=HYPERLINK("x")'
    assert profile["age"] == "36"
    details = list(csv.DictReader(io.StringIO(archive.read("event_details.csv").decode())))
    of_e3 = {d["name"]: d["value"] for d in details if d["event_id"] == "e3"}
    assert of_e3 == {"note": "'+1 à l'été", "page": "/p/3"}  # one item per row, defused, no JSON in a cell


def test_no_csv_cell_holds_json_and_index_html_gives_an_overview() -> None:
    archive, _ = _zip_of(_content(events=5))
    for name in CSV_COLUMNS:
        for row in csv.reader(io.StringIO(archive.read(name).decode())):
            for cell in row:
                assert not cell.startswith(("{", "[")), (name, cell)
    receipt = {
        d["name"]: d["value"] for d in csv.DictReader(io.StringIO(archive.read("consent_receipt_details.csv").decode()))
    }
    assert receipt == {"sig": "abc"}
    index = archive.read("index.html").decode()
    assert index.startswith("<!doctype html>")
    assert "<h1>Your data export</h1>" in index
    assert "Ada Løvelace" in index
    assert "<script" not in index


def test_empty_sections_still_produce_every_file() -> None:
    content = _content(events=0)
    content.consent_decisions, content.consent_receipts, content.requests = [], [], []
    content.dataset_releases, content.training_jobs = [], []
    archive, written = _zip_of(content)
    document = ExportDocument.model_validate_json(archive.read("export.json"))
    assert document.events == []
    assert written.event_count == 0
    assert {f.name: f.rows for f in document.files}["events.csv"] == 0


def test_rows_outside_the_schema_are_refused() -> None:
    content = _content()
    content.training_jobs = [{"model_id": "m", "purpose": "p", "secret_column": "x"}]
    with pytest.raises(ValueError, match="secret_column"):
        write_bundle(content, io.BytesIO())


# --- sealing ------------------------------------------------------------------------------------------------


def _seal(plain: bytes, key: bytes, bundle_id: uuid.UUID, chunk_size: int = 64) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(plain), out, key, bundle_id, chunk_size=chunk_size)
    return out.getvalue()


def _open(sealed: bytes, key: bytes, bundle_id: uuid.UUID) -> bytes:
    out = io.BytesIO()
    open_sealed(io.BytesIO(sealed), out, key, bundle_id)
    return out.getvalue()


@settings(max_examples=50)
@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=300))
def test_seal_roundtrip(plain: bytes, chunk_size: int) -> None:
    key, bundle_id = new_bundle_key(), uuid.uuid4()
    sealed = _seal(plain, key, bundle_id, chunk_size)
    assert _open(sealed, key, bundle_id) == plain
    if len(plain) >= 16:
        assert plain not in sealed


def test_sealed_bundle_resists_tampering_truncation_reordering_and_moving() -> None:
    key, bundle_id = new_bundle_key(), uuid.uuid4()
    plain = bytes(range(256)) * 2  # 512 bytes -> 8 chunks of 64
    sealed = _seal(plain, key, bundle_id)
    header, record = 20, 4 + 64 + 16
    flipped = bytearray(sealed)
    flipped[header + 10] ^= 1
    first, second = sealed[header : header + record], sealed[header + record : header + 2 * record]
    cases = {
        "bit flip": bytes(flipped),
        "truncated at a chunk boundary": sealed[: header + 3 * record],
        "truncated mid chunk": sealed[:-5],
        "chunks swapped": sealed[:header] + second + first + sealed[header + 2 * record :],
        "header only": sealed[:header],
        "empty": b"",
    }
    for name, variant in cases.items():
        with pytest.raises(BundleIntegrityError):
            _open(variant, key, bundle_id)
        assert name
    with pytest.raises(BundleIntegrityError):
        _open(sealed, new_bundle_key(), bundle_id)
    with pytest.raises(BundleIntegrityError):
        _open(sealed, key, uuid.uuid4())  # moved to another bundle


def test_each_bundle_key_is_fresh_and_only_stored_wrapped() -> None:
    kek, bundle_id = new_bundle_key(), uuid.uuid4()
    key = new_bundle_key()
    assert key != new_bundle_key()
    wrapped = wrap_bundle_key(kek, key, bundle_id)
    assert key not in wrapped
    assert unwrap_bundle_key(kek, wrapped, bundle_id) == key
    with pytest.raises(BundleIntegrityError):
        unwrap_bundle_key(kek, wrapped, uuid.uuid4())
    with pytest.raises(BundleIntegrityError):
        unwrap_bundle_key(new_bundle_key(), wrapped, bundle_id)


def test_a_sealed_bundle_reveals_nothing_of_its_content() -> None:
    buffer = io.BytesIO()
    write_bundle(_content(), buffer)
    key, bundle_id = new_bundle_key(), uuid.uuid4()
    sealed = _seal(buffer.getvalue(), key, bundle_id, chunk_size=1024 * 1024)
    for needle in (b"ada@example.org", b"export.json", b"PK\x03\x04"):
        assert needle not in sealed
    reopened = zipfile.ZipFile(io.BytesIO(_open(sealed, key, bundle_id)))
    assert b"ada@example.org" in reopened.read("export.json")


def test_documented_schema_is_the_schema() -> None:
    from pathlib import Path

    from governance.requests.bundle_schema import json_schema

    doc = (Path(__file__).resolve().parents[2] / "docs" / "requests.md").read_text()
    block = doc.split("## Export bundle JSON Schema", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == json_schema()
