"""Master-key providers: file (rotating, reloading) and environment (read-only)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from governance.vault.keyproviders import (
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    KeyProviderError,
    StaticKeyProvider,
    UnwrapError,
)

KEY1 = bytes(range(32))
KEY2 = bytes(range(32, 64))


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_providers_implement_the_protocol(tmp_path: Path) -> None:
    env = EnvKeyProvider({"GOVERNANCE_MASTER_KEYS": f"1:{_b64(KEY1)}"})
    for provider in (StaticKeyProvider.generate(), env, FileKeyProvider(tmp_path / "k.json", create=True)):
        assert isinstance(provider, KeyProvider)


def test_env_provider_versions_and_active() -> None:
    provider = EnvKeyProvider({"GOVERNANCE_MASTER_KEYS": f"1:{_b64(KEY1)}, 2:{_b64(KEY2)}"})
    assert list(provider.versions()) == [1, 2]
    assert provider.active_version() == 2
    wrapped = provider.wrap(1, b"d" * 32, b"ctx")
    assert provider.unwrap(1, wrapped, b"ctx") == b"d" * 32
    with pytest.raises(UnwrapError):
        provider.unwrap(2, wrapped, b"ctx")
    with pytest.raises(UnwrapError):
        provider.unwrap(1, wrapped, b"other context")
    with pytest.raises(KeyProviderError, match="read-only"):
        provider.add_version()


@pytest.mark.parametrize(
    "value",
    ["", "nonsense", "1:not-base64!", f"x:{_b64(KEY1)}", f"1:{_b64(b'short')}", f"0:{_b64(KEY1)}"],
)
def test_env_provider_rejects_bad_configuration_without_echoing_it(value: str) -> None:
    with pytest.raises(KeyProviderError) as caught:
        EnvKeyProvider({"GOVERNANCE_MASTER_KEYS": value})
    if value:
        assert value.partition(":")[2] not in str(caught.value) or not value.partition(":")[2]


def test_env_provider_active_must_exist() -> None:
    with pytest.raises(KeyProviderError):
        EnvKeyProvider({"GOVERNANCE_MASTER_KEYS": f"1:{_b64(KEY1)}", "GOVERNANCE_MASTER_KEY_ACTIVE": "3"})


def test_file_provider_creates_private_file_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "vault-master.json"
    provider = FileKeyProvider(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert provider.active_version() == 1
    wrapped = provider.wrap(1, KEY1, b"ctx")
    assert provider.add_version() == 2
    assert provider.active_version() == 2
    assert provider.unwrap(1, wrapped, b"ctx") == KEY1
    with pytest.raises(KeyProviderError, match="active"):
        provider.retire_version(2)
    provider.retire_version(1)
    assert list(provider.versions()) == [2]
    with pytest.raises(KeyProviderError, match="not available"):
        provider.unwrap(1, wrapped, b"ctx")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_provider_sees_versions_added_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "vault-master.json"
    worker_a = FileKeyProvider(path, create=True)
    worker_b = FileKeyProvider(path)
    new_version = worker_a.add_version()
    wrapped = worker_a.wrap(new_version, KEY2, b"ctx")
    assert worker_b.unwrap(new_version, wrapped, b"ctx") == KEY2
    assert worker_b.active_version() == new_version


def test_file_provider_missing_or_corrupt_file(tmp_path: Path) -> None:
    with pytest.raises(KeyProviderError, match="does not exist"):
        FileKeyProvider(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"keys": {"1": "!!"}}))
    with pytest.raises(KeyProviderError, match=r"not a valid key file|not valid base64"):
        FileKeyProvider(bad)


def test_file_provider_destroys_a_version_atomically(tmp_path) -> None:
    """Retiring a version rewrites the key file without it (temp file + rename): the key material is in no
    file of the key directory afterwards, another process's provider forgets it at its next refresh, and
    destroying it again is a no-op."""
    import base64
    import json

    from governance.vault.keyproviders import FileKeyProvider, KeyProviderError

    path = tmp_path / "keys" / "vault-master.json"
    provider = FileKeyProvider(path, create=True)
    other_process = FileKeyProvider(path)
    wrapped = provider.wrap(1, b"k" * 32, b"ctx")
    old_key = json.loads(path.read_text())["keys"]["1"]
    provider.add_version()
    other_process.refresh()
    assert other_process.unwrap(1, wrapped, b"ctx") == b"k" * 32
    inode = path.stat().st_ino
    provider.retire_version(1)
    assert path.stat().st_ino != inode  # a new file renamed into place, never rewritten in place
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for each in path.parent.iterdir():
        assert old_key.encode() not in each.read_bytes()
        assert base64.b64decode(old_key) not in each.read_bytes()
    assert [p.name for p in path.parent.iterdir()] == ["vault-master.json"]
    assert 1 in other_process._ciphers  # until it looks at the file again
    other_process.refresh()
    assert 1 not in other_process._ciphers
    with pytest.raises(KeyProviderError):
        other_process.unwrap(1, wrapped, b"ctx")
    provider.retire_version(1)  # again: nothing to do
    with pytest.raises(KeyProviderError):
        provider.retire_version(provider.active_version())
