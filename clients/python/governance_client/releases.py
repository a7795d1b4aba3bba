"""Dataset releases streamed into files, pyarrow, pandas and PyTorch.

A release is fetched through a fresh download link (the link is the credential; no bearer token is sent) and
streamed in chunks into a spooled temporary file (in memory up to 16 MiB, then on disk) while its SHA-256 is
computed. The sum is checked against the one the service stored for the release (`GET /datasets/{id}`) before
a single row is handed over: a truncated or altered file raises `ChecksumMismatchError`, never half a dataset.
pyarrow then reads the file in record batches (CSV and JSON Lines incrementally; Parquet by row group), so
memory holds one batch, not the release.

pyarrow, pandas and torch are optional extras (`governance-client[arrow]`, `[pandas]`, `[torch]`), imported
inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from governance_client.errors import (
    ChecksumMismatchError,
    GovernanceError,
    TransportError,
    error_from_response,
)

if TYPE_CHECKING:
    from governance_client.client import GovernanceClient

CHUNK_BYTES = 1 << 20
SPOOL_BYTES = 16 << 20


def _stream_into(client: GovernanceClient, release_id: uuid.UUID, sink: IO[bytes]) -> tuple[Any, str]:
    """Write the release's bytes into `sink`; returns the release and its format after checking the sum."""
    release = client.datasets.get(release_id)
    if release.status != "ready":
        raise GovernanceError(f"the release is not ready (status {release.status})")
    expected = release.checksum_sha256 if isinstance(release.checksum_sha256, str) else None
    link = client.datasets.link(release_id)
    digest = hashlib.sha256()
    try:
        with client.stream_link(link.url) as response:
            if not response.is_success:
                response.read()
                raise error_from_response(response.status_code, response.content, response.headers)
            for chunk in response.iter_bytes(CHUNK_BYTES):
                digest.update(chunk)
                sink.write(chunk)
    except httpx.TransportError as exc:
        raise TransportError(type(exc).__name__) from None  # the message may hold the link: not kept
    if digest.hexdigest() != (expected or link.checksum_sha256):
        raise ChecksumMismatchError()
    sink.flush()
    return release, str(release.format_)


def download(client: GovernanceClient, release_id: uuid.UUID, destination: str | os.PathLike[str] | IO[bytes]) -> Any:
    """Stream the release into a path (written whole or not at all) or an open binary file."""
    if hasattr(destination, "write"):
        release, _ = _stream_into(client, release_id, destination)  # type: ignore[arg-type]
        return release
    target = Path(destination)  # type: ignore[arg-type]
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as sink:
            release, _ = _stream_into(client, release_id, sink)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return release


def _spooled(client: GovernanceClient, release_id: uuid.UUID) -> tuple[IO[bytes], str]:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the caller
    try:
        _, fmt = _stream_into(client, release_id, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, fmt


def _batches(source: IO[bytes] | str, fmt: str, batch_size: int) -> Iterator[Any]:
    """Record batches of at most `batch_size` rows from a verified release file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(source).iter_batches(batch_size=batch_size)
        return
    if fmt == "csv":
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=1 << 20))
    elif fmt == "jsonl":
        import pyarrow.json as pajson

        reader = pajson.open_json(source, read_options=pajson.ReadOptions(block_size=1 << 20))
    else:
        raise GovernanceError(f"unknown release format {fmt}")
    for batch in reader:
        for start in range(0, batch.num_rows, batch_size):
            yield batch.slice(start, batch_size)


def iter_batches(client: GovernanceClient, release_id: uuid.UUID, *, batch_size: int = 65_536) -> Iterator[Any]:
    spool, fmt = _spooled(client, release_id)
    with spool:
        yield from _batches(spool, fmt, batch_size)


def to_arrow(client: GovernanceClient, release_id: uuid.UUID) -> Any:
    import pyarrow as pa

    spool, fmt = _spooled(client, release_id)
    with spool:
        batches = list(_batches(spool, fmt, 1 << 20))
    if not batches:
        return pa.table({})
    return pa.Table.from_batches(batches)


def torch_dataset(
    client: GovernanceClient,
    release_id: uuid.UUID,
    *,
    columns: Sequence[str] | None = None,
    transform: Callable[[dict[str, Any]], Any] | None = None,
    batch_size: int = 4096,
) -> Any:
    """A `torch.utils.data.IterableDataset` over the release's rows.

    The release is downloaded and verified once, into a temporary file deleted with the dataset; each pass
    (epoch) reads it again in batches. Each item is a dict of the row's values (`columns` keeps only those),
    or `transform(row)`. With a `DataLoader` of several workers each worker reads every n-th batch, so every row
    is seen once per epoch.
    """
    from torch.utils.data import IterableDataset, get_worker_info

    folder = tempfile.mkdtemp(prefix="governance-release-")
    path = Path(folder) / "release"
    with path.open("wb") as sink:
        try:
            _, fmt = _stream_into(client, release_id, sink)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    keep = list(columns) if columns is not None else None

    class ReleaseDataset(IterableDataset):  # type: ignore[type-arg]
        format = fmt

        def __iter__(self) -> Iterator[Any]:
            info = get_worker_info()
            worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
            for index, batch in enumerate(_batches(str(path), fmt, batch_size)):
                if index % workers != worker:
                    continue
                if keep is not None:
                    batch = batch.select(keep)
                for row in batch.to_pylist():
                    yield transform(row) if transform is not None else row

    dataset = ReleaseDataset()
    weakref.finalize(dataset, shutil.rmtree, folder, True)
    return dataset
