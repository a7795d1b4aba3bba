import uuid

import pytest

from governance.gateway.pseudonyms import Pseudonymizer, stable_key

SECRET = b"s" * 32


def test_two_default_releases_share_no_pseudonym():
    ids = [uuid.uuid4() for _ in range(5000)]
    first, second = Pseudonymizer.for_release(), Pseudonymizer.for_release()
    assert not {first(i) for i in ids} & {second(i) for i in ids}


def test_pseudonyms_are_stable_within_a_key_and_distinct_across_subjects():
    pseudonymize = Pseudonymizer.for_release()
    ids = [uuid.uuid4() for _ in range(5000)]
    names = [pseudonymize(i) for i in ids]
    assert names == [pseudonymize(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all(n.startswith("p_") and len(n) == 34 for n in names)


def test_stable_keys_are_per_client_and_purpose():
    base = stable_key(SECRET, client_id="a", purpose="p")
    assert base == stable_key(SECRET, client_id="a", purpose="p")
    others = {
        stable_key(SECRET, client_id="b", purpose="p"),
        stable_key(SECRET, client_id="a", purpose="q"),
        stable_key(SECRET, client_id="a", purpose="p", version=2),
        stable_key(b"t" * 32, client_id="a", purpose="p"),
    }
    assert base not in others
    assert len(others) == 4
    subject = uuid.uuid4()
    assert Pseudonymizer(base, "stable")(subject) != Pseudonymizer(stable_key(SECRET, client_id="b", purpose="p"))(
        subject
    )


def test_keys_never_show_and_short_keys_are_refused():
    key = b"x" * 32
    assert "x" * 8 not in repr(Pseudonymizer(key))
    with pytest.raises(ValueError, match="32 bytes"):
        Pseudonymizer(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        stable_key(b"short", client_id="a", purpose="p")
