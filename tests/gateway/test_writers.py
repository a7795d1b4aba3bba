"""The release writers: parts written by partition processes append to the same file one writer makes, and
Parquet row groups do not depend on how the rows arrived."""

from __future__ import annotations

import pytest

from governance.gateway.writers import Column, open_part_writer, open_writer

COLUMNS = [Column("subject"), Column("band"), Column("value", "number"), Column("count", "integer")]


def _rows(n: int, start: int = 0) -> list[tuple]:
    return [(f"p{i}", ["0-19", "20-39", {"nested": i}][i % 3], i / 4, i) for i in range(start, start + n)]


def _lines(rows: list[tuple]) -> list[str]:
    import json

    return [json.dumps(dict(zip([c.name for c in COLUMNS], r, strict=True))) + "\n" for r in rows]


def test_parquet_row_groups_hold_exactly_their_size_however_the_rows_arrive(tmp_path):
    import pyarrow.parquet as pq

    from governance.gateway import writers

    rows = _rows(40)
    whole = writers._ParquetWriter(tmp_path / "whole.parquet", COLUMNS, row_group_rows=7)
    whole.write_rows(rows)
    whole.close()
    pieces = writers._ParquetWriter(tmp_path / "pieces.parquet", COLUMNS, row_group_rows=7)
    pieces.write_rows(rows[:3])
    part = open_part_writer(tmp_path / "one.part", "parquet", COLUMNS)
    part.write_rows(rows[3:5])
    part.write_rows(rows[5:22])
    part.close()
    pieces.append_part(tmp_path / "one.part")
    pieces.write_rows([])
    pieces.write_rows(rows[22:])
    pieces.close()
    assert (tmp_path / "whole.parquet").read_bytes() == (tmp_path / "pieces.parquet").read_bytes()
    metadata = pq.ParquetFile(tmp_path / "whole.parquet").metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [7, 7, 7, 7, 7, 5]
    table = pq.read_table(tmp_path / "whole.parquet")
    assert table.column("subject").to_pylist() == [r[0] for r in rows]
    assert table.column("band").to_pylist()[2] == '{"nested": 2}'  # non-text in a text column: its JSON
    assert table.column("value").to_pylist() == [r[2] for r in rows]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_text_parts_append_byte_for_byte(tmp_path, fmt):
    rows = _rows(12)
    lines = _lines(rows)
    whole = open_writer(tmp_path / f"whole.{fmt}", fmt, COLUMNS)
    whole.write_encoded(lines)
    whole.close()
    pieces = open_writer(tmp_path / f"pieces.{fmt}", fmt, COLUMNS)
    pieces.write_encoded(lines[:4])
    for number, share in enumerate((lines[4:5], lines[5:12])):
        part = open_part_writer(tmp_path / f"{number}.part", fmt, COLUMNS)
        part.write_encoded(share)
        part.close()
        pieces.append_part(tmp_path / f"{number}.part")
    pieces.close()
    assert (tmp_path / f"whole.{fmt}").read_bytes() == (tmp_path / f"pieces.{fmt}").read_bytes()


def test_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown output format"):
        open_part_writer(tmp_path / "x.part", "xml", COLUMNS)
