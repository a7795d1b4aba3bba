"""Dataset releases through the client: requested, followed until built by the real worker, downloaded through
a real link with the checksum checked, and read into pyarrow, pandas and a PyTorch IterableDataset. A release
file altered on the server is refused before a single row is handed over."""

from __future__ import annotations

import csv
import io

import pytest

from governance_client import ChecksumMismatchError, NotAllowedError
from tests.gateway.conftest import PURPOSE

SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["birth_date", "country"],
    "event_categories": ["view"],
    "event_fields": ["category", "occurred_at", "item", "value"],
}
COLUMNS = ["subject", "birth_date", "country", "category", "occurred_at", "item", "value"]


@pytest.fixture
def trainer(server):
    return server.client(["datasets:request"], [PURPOSE])


def ready_release(trainer, fmt: str) -> object:
    requested = trainer.datasets.request({**SPEC, "format": fmt})
    assert requested.status == "queued"
    return trainer.datasets.wait(requested.release_id, timeout=300)


def release_path(server, release) -> object:
    from pathlib import Path

    settings = server.app.extensions["governance.settings"]
    folder = Path(settings.get("GATEWAY_RELEASE_DIR") or settings.instance_path / "releases")
    return folder / f"{release.release_id}.{release.format_}"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_release_streams_into_a_pyarrow_table(trainer, populate, fmt) -> None:
    people = populate(12, events=3)
    release = ready_release(trainer, fmt)
    table = trainer.datasets.to_arrow(release.release_id)
    assert table.column_names == COLUMNS
    assert table.num_rows == release.rows == 36
    assert len(set(table.column("subject").to_pylist())) == len(people.ids)
    assert set(table.column("category").to_pylist()) == {"view"}
    batches = list(trainer.datasets.iter_batches(release.release_id, batch_size=10))
    assert [b.num_rows for b in batches][:3] == [10, 10, 10]
    assert sum(b.num_rows for b in batches) == 36


def test_a_release_becomes_a_pandas_dataframe(trainer, populate) -> None:
    populate(12, events=2)
    release = ready_release(trainer, "parquet")
    frame = trainer.datasets.to_pandas(release.release_id)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 24
    assert frame["value"].between(10, 11).all()  # the population's dwell values 10.0 and 11.0
    assert frame.groupby("subject").size().eq(2).all()


def test_a_release_is_a_torch_iterable_dataset_seen_once_per_epoch(trainer, populate) -> None:
    import torch
    from torch.utils.data import DataLoader, IterableDataset

    populate(12, events=3)
    release = ready_release(trainer, "csv")
    dataset = trainer.datasets.torch_dataset(
        release.release_id,
        columns=["value"],
        transform=lambda row: torch.tensor([row["value"]], dtype=torch.float32),
        batch_size=5,
    )
    assert isinstance(dataset, IterableDataset)
    for _epoch in range(2):
        loaded = torch.cat(list(DataLoader(dataset, batch_size=8)))
        assert loaded.shape == (36, 1)
        assert float(loaded.sum()) == pytest.approx(12 * (10 + 11 + 12))
    rows = list(trainer.datasets.torch_dataset(release.release_id))
    assert len(rows) == 36
    assert set(rows[0]) == set(COLUMNS)


def test_a_release_file_altered_on_the_server_is_refused_whole(server, trainer, populate, tmp_path) -> None:
    populate(12, events=1)
    release = ready_release(trainer, "csv")
    path = release_path(server, release)
    original = path.read_bytes()
    rows = list(csv.reader(io.StringIO(original.decode())))
    rows[1][-1] = "999.0"  # one value changed, same length class: only the checksum tells
    path.write_text("\r\n".join(",".join(r) for r in rows) + "\r\n")
    assert path.read_bytes() != original
    with pytest.raises(ChecksumMismatchError):
        trainer.datasets.to_arrow(release.release_id)
    with pytest.raises(ChecksumMismatchError):
        trainer.datasets.torch_dataset(release.release_id)
    target = tmp_path / "release.csv"
    with pytest.raises(ChecksumMismatchError):
        trainer.datasets.download(release.release_id, target)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    path.write_bytes(original)
    trainer.datasets.download(release.release_id, target)
    assert target.read_bytes() == original


def test_a_refused_spec_lists_every_refused_item(trainer) -> None:
    with pytest.raises(NotAllowedError) as refused:
        trainer.datasets.request({**SPEC, "profile_fields": ["birth_date", "email", "name"]})
    assert refused.value.status_code == 403
    assert {(i["name"], i["reason"]) for i in refused.value.not_allowed} == {
        ("email", "direct_identifier"),
        ("name", "direct_identifier"),
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_release_of_nobody_is_an_empty_table(trainer, fmt) -> None:
    """No population at all: the release is built and ready with no rows; the client reads it as empty."""
    release = ready_release(trainer, fmt)
    assert release.rows == 0
    table = trainer.datasets.to_arrow(release.release_id)
    assert table.num_rows == 0
    assert list(trainer.datasets.torch_dataset(release.release_id)) == []
