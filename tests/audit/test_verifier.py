"""Tamper detection: every single-entry change to a sealed log is found, at the right position.

Two attackers are modelled:
- naive: edits rows but leaves every stored hash and sequence number as it was;
- recomputing: edits rows, then renumbers `seq` and recomputes every stored leaf hash, so the log is
  self-consistent; only the signed checkpoints (key outside the database) still disagree.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.audit import verifier
from governance.audit.canonical import entry_leaf_hash, format_time
from governance.audit.checkpoint import parse_checkpoint, sign_checkpoint
from tests.audit.logfactory import KEY_NAME, ORIGIN, make_entry, make_log

SIZE = 240
EVERY = 32
LOG = make_log(SIZE, checkpoint_every=EVERY)
OPS = ("alter", "delete", "insert", "swap", "truncate")
FIELDS = ("time", "actor", "action", "target", "request_id", "policy_version", "details", "seq", "v")


def verify(entries, checkpoints=None):
    checkpoints = LOG.checkpoints if checkpoints is None else checkpoints
    return verifier.verify_log(entries, checkpoints, LOG.public_keys)


def altered(entry: dict, field: str) -> dict:
    entry = copy.deepcopy(entry)
    if field == "time":
        entry["time"] = {"$time": format_time(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))}
    elif field == "actor":
        entry["actor"]["id"] = "someone-else"
    elif field == "target":
        entry["target"] = None
    elif field == "details":
        entry["details"]["count"] = 99
    elif field in ("seq", "v"):
        entry[field] += 1000
    else:
        entry[field] = "forged"
    return entry


def tamper(op: str, i: int, *, field: str = "action", j: int | None = None) -> tuple[list, int]:
    """Apply one naive change around position i; returns (entries, position the report must name)."""
    entries = list(LOG.entries)
    if op == "alter":
        entries[i] = (altered(entries[i][0], field), entries[i][1])
        return entries, i
    if op == "delete":
        del entries[i]
        return entries, i
    if op == "insert":
        forged = make_entry(i, start=dt.datetime(2029, 1, 1, tzinfo=dt.UTC))
        forged["details"]["forged"] = True
        entries.insert(i, (forged, entries[i][1]))  # a plausible row reusing the stored hash it displaces
        return entries, i
    if op == "swap":
        j = (i + 1) % SIZE if j is None or j == i else j
        entries[i], entries[j] = entries[j], entries[i]
        return entries, min(i, j)
    if op == "truncate":
        return entries[:i], i
    raise AssertionError(op)


def recompute(entries: list) -> list:
    """What an attacker with database access but without the signing key can do: renumber and rehash."""
    sealed = []
    for seq, (entry, _) in enumerate(entries):
        entry = {**entry, "seq": seq}  # nested values are never mutated here
        sealed.append((entry, entry_leaf_hash(entry)))
    return sealed


def test_the_untouched_log_verifies_up_to_the_last_checkpoint():
    report = verify(LOG.entries)
    assert report.ok, report.message
    assert report.entries == report.verified_entries == SIZE
    assert report.checkpoints_verified == len(LOG.checkpoints) == SIZE // EVERY + 1
    assert report.message == f"verified {SIZE} entries up to checkpoint {len(LOG.checkpoints) - 1}"
    assert report.unanchored_entries == 0


@pytest.mark.parametrize("op", OPS)
def test_every_naive_single_entry_change_is_named_exactly(op):
    for i in range(SIZE):
        entries, expected = tamper(op, i)
        report = verify(entries)
        assert not report.ok, (op, i)
        assert report.failure.position == expected, (op, i, report.message)
        assert report.verified_entries <= expected


@pytest.mark.slow
@pytest.mark.parametrize("op", OPS)
def test_every_recomputed_single_entry_change_is_caught_by_the_checkpoints(op):
    for i in range(SIZE):
        entries, first_change = tamper(op, i)
        report = verify(recompute(entries))
        assert not report.ok, (op, i)
        failure = report.failure
        # the prefix proven by the last good checkpoint never includes the changed entry ...
        assert report.verified_entries <= first_change
        if op == "truncate":
            assert failure.reason == verifier.LOG_TRUNCATED
            assert failure.position == report.entries == first_change  # the first missing entry, exactly
        elif failure.reason == verifier.CHECKPOINT_ROOT_MISMATCH:
            assert failure.position == report.verified_entries
            # ... and the change lies within one checkpoint interval: [position, range_end)
            assert failure.position <= first_change < failure.range_end
            assert failure.range_end - failure.position <= EVERY
        else:  # a deletion in the last interval shortens the log below the last checkpoint
            assert (op, failure.reason) == ("delete", verifier.LOG_TRUNCATED)
            assert failure.position == SIZE - 1


@settings(max_examples=150, deadline=None)
@given(
    op=st.sampled_from(OPS),
    i=st.integers(min_value=0, max_value=SIZE - 1),
    j=st.integers(min_value=0, max_value=SIZE - 1),
    field=st.sampled_from(FIELDS),
)
def test_random_changes_to_any_field_are_detected(op, i, j, field):
    entries, expected = tamper(op, i, field=field, j=j)
    naive = verify(entries)
    assert not naive.ok
    assert naive.failure.position == expected
    if (op, field) != ("alter", "seq"):  # renumbering undoes a changed seq: nothing left to detect
        assert not verify(recompute(entries)).ok


def test_reason_codes_name_the_kind_of_change():
    assert verify(tamper("alter", 5)[0]).failure.reason == verifier.LEAF_HASH_MISMATCH
    assert verify(tamper("delete", 5)[0]).failure.reason == verifier.SEQUENCE_GAP
    assert verify(tamper("swap", 5)[0]).failure.reason == verifier.SEQUENCE_GAP
    entries = list(LOG.entries)
    entries.insert(6, LOG.entries[5])  # a duplicated row
    assert verify(entries).failure.reason == verifier.SEQUENCE_REPEAT
    report = verify(tamper("truncate", 100)[0])
    assert (report.failure.reason, report.failure.position) == (verifier.LOG_TRUNCATED, 100)
    assert report.verified_entries == 96  # the prefix covered by checkpoint 2 (size 96) stays proven


def test_entries_after_the_last_checkpoint_are_reported_as_unanchored():
    report = verify(LOG.entries, LOG.checkpoints[:-1])
    assert report.ok
    assert report.verified_entries == (SIZE // EVERY) * EVERY
    assert report.unanchored_entries == SIZE - report.verified_entries
    assert "not yet covered" in report.message


def test_forged_or_foreign_checkpoints_fail_verification():
    genuine = LOG.checkpoints[2]
    text = genuine.to_text().replace(f"\n{genuine.size}\n", f"\n{genuine.size + 1}\n")
    report = verify(LOG.entries, [*LOG.checkpoints[:2], parse_checkpoint(text), *LOG.checkpoints[3:]])
    assert report.failure.reason == "checkpoint_signature_invalid"
    assert report.failure.checkpoint == 2

    # a checkpoint signed by another key over a recomputed (forged) log: not trusted
    foreign = sign_checkpoint(
        Ed25519PrivateKey.generate(),
        key_name=KEY_NAME,
        origin=ORIGIN,
        size=SIZE,
        root=bytes(32),
        time=genuine.time,
    )
    assert verify(LOG.entries, [foreign]).failure.reason == "checkpoint_unknown_key"


def test_a_fork_is_detected():
    """Two checkpoints for the same size with different roots cannot both match the entries."""
    other = sign_checkpoint(
        LOG.key, key_name=KEY_NAME, origin=ORIGIN, size=EVERY, root=bytes(32), time=LOG.checkpoints[0].time
    )
    report = verify(LOG.entries, [*LOG.checkpoints, other])
    assert report.failure.reason == verifier.CHECKPOINT_FORK
    assert report.failure.checkpoint == 1


def test_malformed_entries_are_reported_not_raised():
    entries = list(LOG.entries)
    entries[3] = ({**entries[3][0], "details": {"x": float("nan")}}, entries[3][1])
    assert verify(entries).failure.reason == verifier.MALFORMED_ENTRY
    entries[3] = ({"no": "seq"}, entries[3][1])
    assert verify(entries).failure.position == 3


def published_segments(log=LOG) -> list[tuple[int, bytes]]:
    """The leaf hashes of every checkpoint interval, as the published directory holds them."""
    segments, start = [], 0
    for checkpoint in log.checkpoints:
        segments.append((start, b"".join(digest for _, digest in log.entries[start : checkpoint.size])))
        start = checkpoint.size
    return segments


@pytest.mark.parametrize("op", OPS)
def test_with_published_leaves_every_recomputed_change_is_named_exactly(op):
    """Issue 19, finding 6: with the leaf hashes published outside the database, a recomputed insert, delete,
    swap or edit is named at its first changed position, not only within a checkpoint interval."""
    segments = published_segments()
    for i in range(SIZE):
        entries, first_change = tamper(op, i)
        report = verifier.verify_leaves(_leaves(recompute(entries)), LOG.checkpoints, LOG.public_keys,
                                        published=segments)  # fmt: skip
        assert not report.ok, (op, i)
        cut = op == "truncate" or (op == "delete" and i == SIZE - 1)  # deleting the last entry is a truncation
        expected = verifier.LOG_TRUNCATED if cut else verifier.PUBLISHED_LEAF_MISMATCH
        if op == "swap" and entries[first_change][0]["details"] == LOG.entries[first_change][0]["details"]:
            continue  # a swap of identical neighbours changes nothing
        assert (report.failure.reason, report.failure.position) == (expected, first_change), (op, i, report.message)
        assert report.unanchored_entries == report.entries - report.verified_entries >= 0


def _leaves(entries):
    from governance.audit.canonical import canonical_bytes

    for entry, stored in entries:
        yield entry["seq"], canonical_bytes(entry), stored
