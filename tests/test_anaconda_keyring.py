"""The anaconda-keyring backend: real files, real locks, real processes."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import random
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.storage_backends import anaconda_keyring as kr
from anaconda_auth.storage_backends.anaconda_keyring import (
    BACKEND,
    ENVELOPE_ENTRY,
    ENVELOPE_SERVICE,
    HEADER_SIZE,
    MAGIC,
    PASSPHRASE_ENV,
    AnacondaKeyringBackend,
    clear_caches,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.processes import modules_loaded_by

from anaconda_auth.exceptions import StorageError, TokenNotFoundError
from anaconda_auth.token import KEYRING_NAME, TokenInfo

WRITER = Path(__file__).parent / "support" / "keyring_writer.py"
POSIX = os.name == "posix"
ROOT = POSIX and os.geteuid() == 0
REMEDIES = ("move it aside", "Restore", "copy", "Copy", "Set ")


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def keyring(isolated_home: Path) -> Path:
    """The default keyring path of the isolated HOME."""
    return isolated_home / ".anaconda" / "keyring"


def key_of(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    """Wrap ``owner.name`` (for the test) so each call's arguments are recorded in the list."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def read_doc(path: Path) -> dict[str, dict[str, str]]:
    """Decrypt the file from scratch, as a new process would."""
    clear_caches()
    doc: dict[str, dict[str, str]] = kr._load(path, fresh=True).doc
    return doc


def sealed_of(path: Path) -> bytes:
    """The sealed keyring in the file: its JSON envelope's entry (or the file, in the bare form
    written before the envelope)."""
    raw = path.read_bytes()
    if raw.startswith(MAGIC):
        return raw
    doc = json.loads(raw)
    assert set(doc[ENVELOPE_SERVICE]) == {ENVELOPE_ENTRY}
    sealed = base64.b64decode(doc[ENVELOPE_SERVICE][ENVELOPE_ENTRY], validate=True)
    assert sealed.startswith(MAGIC)
    return sealed


def plain_of(path: Path) -> dict[str, dict[str, str]]:
    """The plaintext entries of the file (what anaconda-auth 0.15 sees)."""
    doc: dict[str, dict[str, str]] = json.loads(path.read_bytes())
    doc.pop(ENVELOPE_SERVICE, None)
    return doc


def with_sealed(raw: bytes, sealed: bytes) -> bytes:
    """``raw`` (an envelope file) with its sealed keyring replaced by ``sealed``."""
    doc = json.loads(raw)
    doc[ENVELOPE_SERVICE] = {ENVELOPE_ENTRY: base64.b64encode(sealed).decode()}
    return json.dumps(doc).encode()


def temp_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.glob(f".{path.name}*.tmp"))


def make_old(*paths: Path) -> None:
    """Date the files 10 s back, so the cache may trust their stamps (not 'racily clean')."""
    old = time.time_ns() - 10_000_000_000
    for p in paths:
        os.utime(p, ns=(old, old))


def run_writer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WRITER), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


# ------------------------------------------------------------------------------------------
# Basics


def test_round_trip_set_get_delete(tmp_path: Path) -> None:
    backend = AnacondaKeyringBackend(tmp_path / "kr" / "keyring")
    assert backend.get_password("svc", "alice") is None
    backend.set_password("svc", "alice", "s1")
    backend.set_password("svc", "bob", "s2")
    backend.set_password("other", "alice", "s3")
    assert backend.get_password("svc", "alice") == "s1"
    backend.set_password("svc", "alice", "s1-new")
    assert backend.get_password("svc", "alice") == "s1-new"
    backend.delete_password("svc", "alice")
    assert backend.get_password("svc", "alice") is None
    backend.delete_password("svc", "nobody")  # absent: a no-op
    assert read_doc(backend.path) == {"svc": {"bob": "s2"}, "other": {"alice": "s3"}}
    backend.delete_password("svc", "bob")
    assert read_doc(backend.path) == {"other": {"alice": "s3"}}


def test_delete_from_missing_keyring_creates_nothing(tmp_path: Path) -> None:
    backend = AnacondaKeyringBackend(tmp_path / "keyring")
    backend.delete_password("svc", "alice")
    assert not backend.path.exists()
    assert not backend.key_path.exists()


def test_is_the_default_store_for_tokeninfo(keyring: Path) -> None:
    from anaconda_auth.storage import access as token_storage

    assert token_storage.preferred_backend().name == "anaconda-keyring"
    assert token_storage.all_backends()["anaconda-keyring"] is BACKEND

    TokenInfo(domain="example.test", api_key="the-api-key", username="me").save()
    assert sealed_of(keyring).startswith(MAGIC)
    assert plain_of(keyring) == {}  # 0.15 parses the file and finds no login in it
    assert key_of(keyring).exists()

    clear_caches()
    loaded = TokenInfo.load("example.test")
    assert loaded.api_key == "the-api-key"
    assert loaded.username == "me"
    assert loaded.source == "anaconda-keyring"
    stored = read_doc(keyring)[KEYRING_NAME]["example.test"]
    assert json.loads(base64.b64decode(stored)) == {
        "domain": "example.test",
        "api_key": "the-api-key",
        "username": "me",
        "repo_tokens": [],
        "version": 2,
    }

    loaded.delete()
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("example.test")
    assert KEYRING_NAME not in read_doc(keyring)


def test_keyring_path_is_read_from_config_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(tmp_path / "a" / "keyring"))
    assert BACKEND.path == tmp_path / "a" / "keyring"
    BACKEND.set_password("svc", "u", "in-a")
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(tmp_path / "b" / "keyring"))
    assert BACKEND.get_password("svc", "u") is None
    BACKEND.set_password("svc", "u", "in-b")
    assert read_doc(tmp_path / "a" / "keyring") == {"svc": {"u": "in-a"}}
    assert read_doc(tmp_path / "b" / "keyring") == {"svc": {"u": "in-b"}}


def test_importing_the_module_loads_no_crypto_or_lock_library() -> None:
    module = "anaconda_auth.storage_backends.anaconda_keyring"
    assert modules_loaded_by([module], ["cryptography", "filelock"]) == []


# ------------------------------------------------------------------------------------------
# Permissions and secrecy


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_file_modes(keyring: Path) -> None:
    os.umask(old_umask := os.umask(0o022))  # read the umask without changing it
    TokenInfo(domain="example.test", api_key="k").save()
    assert stat.S_IMODE(keyring.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_of(keyring).stat().st_mode) == 0o600
    assert old_umask == os.umask(old_umask)


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        backend = AnacondaKeyringBackend(tmp_path / "new" / "keyring")
        backend.set_password("s", "u", "v")
    finally:
        os.umask(old)
    assert stat.S_IMODE(backend.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backend.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backend.path.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_existing_directory_is_not_chmodded(
    keyring: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring.parent.mkdir(mode=0o755)
    keyring.parent.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        TokenInfo(domain="example.test", api_key="k").save()
    assert stat.S_IMODE(keyring.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert not caplog.records  # readable by others is fine: the files themselves are 0600


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_group_writable_directory_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o777)
    with caplog.at_level(logging.WARNING):
        AnacondaKeyringBackend(directory / "keyring").set_password("s", "u", "v")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o777
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(directory) in record.getMessage()
    assert "chmod 700" in record.getMessage()


def test_secrets_appear_nowhere_in_the_files(keyring: Path) -> None:
    api_key = "sk-" + secrets.token_hex(24)
    info = TokenInfo(domain="example.test", api_key=api_key, username="me")
    info.save()
    stored = info._encode()
    forms = [
        api_key,
        base64.b64encode(api_key.encode()).decode(),
        base64.urlsafe_b64encode(api_key.encode()).decode(),
        stored,
        info.model_dump_json(exclude_none=True),
    ]
    # Any 12-character window of the stored base64 value (covers every alignment of the key).
    forms += [stored[i : i + 12] for i in range(len(stored) - 12)]
    for path in (keyring, key_of(keyring), keyring.with_name("keyring.lock")):
        data = path.read_bytes() if path.exists() else b""
        for form in forms:
            assert form.encode() not in data, f"{form!r} found in {path.name}"
    assert api_key not in repr(BACKEND)
    assert api_key not in repr(TokenInfo.load("example.test"))


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_lock_file_is_private(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="k").save()
    lock = keyring.with_name("keyring.lock")
    assert lock.exists()
    assert stat.S_IMODE(lock.stat().st_mode) & 0o077 == 0


@pytest.mark.skipif(not POSIX, reason="symlinks")
def test_symlinked_keyring_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "anaconda-keyring"
    AnacondaKeyringBackend(real).set_password("s", "u", "first")
    link = tmp_path / "home" / ".anaconda" / "keyring"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    shutil.copy2(key_of(real), key_of(link))  # ignored: the key file goes with the real path

    backend = AnacondaKeyringBackend(link)
    assert backend.get_password("s", "u") == "first"
    backend.set_password("s", "u", "second")
    assert link.is_symlink()
    assert read_doc(real) == {"s": {"u": "second"}}
    assert temp_files(real) == [] and temp_files(link) == []


def test_threads_in_one_process_do_not_lose_writes(tmp_path: Path) -> None:
    import threading

    backend = AnacondaKeyringBackend(tmp_path / "keyring")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                backend.set_password("svc", f"t{n}-{i}", str(i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(read_doc(backend.path)["svc"]) == 160


# ------------------------------------------------------------------------------------------
# Key file and passphrase


def test_passphrase_mode_uses_no_key_file(keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passphrase = "correct horse " + secrets.token_hex(4)
    monkeypatch.setenv(PASSPHRASE_ENV, passphrase)
    TokenInfo(domain="example.test", api_key="k1").save()
    raw = keyring.read_bytes()
    assert sealed_of(keyring)[9] == kr.KIND_PASSPHRASE
    assert not key_of(keyring).exists()
    assert passphrase.encode() not in raw

    assert TokenInfo.load("example.test").api_key == "k1"
    clear_caches()
    assert TokenInfo.load("example.test").api_key == "k1"

    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    clear_caches()
    with pytest.raises(StorageError) as exc_info:
        TokenInfo.load("example.test")
    message = str(exc_info.value)
    assert str(keyring) in message and PASSPHRASE_ENV in message
    assert "wrong" not in message and passphrase not in message

    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(StorageError, match="protected by a passphrase") as exc_info:
        TokenInfo(domain="other.test", api_key="k2").save()
    assert str(keyring) in str(exc_info.value)
    assert keyring.read_bytes() == raw


def test_passphrase_key_is_derived_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives.kdf import scrypt

    derivations = []
    real = scrypt.Scrypt

    def counting(*args: Any, **kwargs: Any) -> Any:
        derivations.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(scrypt, "Scrypt", counting)
    monkeypatch.setenv(PASSPHRASE_ENV, "pp")
    backend = AnacondaKeyringBackend(tmp_path / "keyring")
    for i in range(5):
        backend.set_password("svc", f"u{i}", "v")
        kr._snapshots.clear()  # force a full read each time; the derived key stays cached
        assert backend.get_password("svc", f"u{i}") == "v"
    assert len(derivations) == 1


def test_setting_a_passphrase_re_encrypts_a_key_file_keyring(
    keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TokenInfo(domain="a.test", api_key="ka").save()
    assert sealed_of(keyring)[9] == kr.KIND_KEY_FILE
    monkeypatch.setenv(PASSPHRASE_ENV, "now with a passphrase")
    assert TokenInfo.load("a.test").api_key == "ka"  # still readable through the key file
    TokenInfo(domain="b.test", api_key="kb").save()
    assert sealed_of(keyring)[9] == kr.KIND_PASSPHRASE
    key_of(keyring).unlink()
    assert {"a.test", "b.test"} <= read_doc(keyring)[KEYRING_NAME].keys()


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_a_copied_key_file_readable_by_others_is_made_private(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="k").save()
    key_of(keyring).chmod(0o644)  # what `scp` without -p leaves on the other machine
    clear_caches()
    assert TokenInfo.load("example.test").api_key == "k"
    assert stat.S_IMODE(key_of(keyring).stat().st_mode) == 0o600


def test_key_file_is_reused_when_the_keyring_is_recreated(keyring: Path) -> None:
    TokenInfo(domain="a.test", api_key="ka").save()
    key_bytes = key_of(keyring).read_bytes()
    keyring.unlink()
    TokenInfo(domain="b.test", api_key="kb").save()
    assert key_of(keyring).read_bytes() == key_bytes
    assert read_doc(keyring)[KEYRING_NAME].keys() == {"b.test"}


# ------------------------------------------------------------------------------------------
# Damaged files: always an error naming the file and the remedy, never overwritten


def _flip(offset: int) -> Callable[[bytes], bytes]:
    def damage(raw: bytes) -> bytes:
        data = bytearray(raw)
        data[offset] ^= 0x01
        return bytes(data)

    return damage


#: Damage done to the sealed keyring (inside the JSON envelope, or as a bare file).
CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated-magic": lambda raw: raw[:3],
    "truncated-header-only": lambda raw: raw[:HEADER_SIZE],
    "truncated-mid-ciphertext": lambda raw: raw[: HEADER_SIZE + 20],
    "truncated-last-byte": lambda raw: raw[:-1],
    "garbage": lambda raw: b"\x00" + os.urandom(400),
    "garbage-after-magic": lambda raw: MAGIC + os.urandom(400),
    "tampered-ciphertext": _flip(HEADER_SIZE + 3),
    "tampered-tag": _flip(-1),
    "tampered-nonce": _flip(40),
    "tampered-salt": _flip(15),
    "tampered-key-id": _flip(30),
    "newer-version": lambda raw: raw[:8] + b"\x07" + raw[9:],
    "unknown-key-kind": lambda raw: raw[:9] + b"\x09" + raw[10:],
}

#: Damage done to the whole file.
FILE_CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "json-wrong-shape": lambda raw: b'{"Anaconda Cloud": "not a table"}',
    "json-list": lambda raw: b'["x"]',
    "json-truncated": lambda raw: raw[: len(raw) // 2],
    "json-not-utf8": lambda raw: raw[:-3] + b'\xff"}}',
    "envelope-not-base64": lambda raw: json.dumps(
        {ENVELOPE_SERVICE: {ENVELOPE_ENTRY: "not base64!"}}
    ).encode(),
    "envelope-without-entry": lambda raw: json.dumps({ENVELOPE_SERVICE: {}}).encode(),
    "envelope-not-a-table": lambda raw: json.dumps({ENVELOPE_SERVICE: "x"}).encode(),
}


def _assert_refused(keyring: Path, expect: str | None = None) -> str:
    """Reads and writes fail with a message naming the file and a remedy; nothing changes."""
    before = keyring.read_bytes()
    key_before = key_of(keyring).read_bytes() if key_of(keyring).exists() else None
    messages = []
    for attempt in (
        lambda: BACKEND.get_password(KEYRING_NAME, "example.test"),
        lambda: TokenInfo.load("example.test"),
        lambda: BACKEND.set_password(KEYRING_NAME, "new.test", "value"),
        lambda: TokenInfo(domain="new.test", api_key="secret-api-key").save(),
        lambda: BACKEND.delete_password(KEYRING_NAME, "example.test"),
    ):
        clear_caches()
        with pytest.raises(StorageError) as exc_info:
            attempt()
        message = str(exc_info.value)
        messages.append(message)
        assert str(keyring) in message
        assert any(remedy in message for remedy in REMEDIES), message
        assert "secret-api-key" not in message
        if expect is not None:
            assert expect in message
    assert keyring.read_bytes() == before
    if key_before is not None:
        assert key_of(keyring).read_bytes() == key_before
    assert temp_files(keyring) == []
    return messages[0]


@pytest.mark.parametrize("form", ["envelope", "bare"])
@pytest.mark.parametrize("damage", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_damaged_keyring_is_refused(keyring: Path, damage: str, form: str) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    damaged = CORRUPTIONS[damage](sealed_of(keyring))
    keyring.write_bytes(
        with_sealed(keyring.read_bytes(), damaged) if form == "envelope" else damaged
    )
    _assert_refused(keyring)


@pytest.mark.parametrize("damage", list(FILE_CORRUPTIONS), ids=list(FILE_CORRUPTIONS))
def test_damaged_file_is_refused(keyring: Path, damage: str) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    keyring.write_bytes(FILE_CORRUPTIONS[damage](keyring.read_bytes()))
    make_old(keyring)  # not a write in progress: refused at once
    _assert_refused(keyring)


def test_newer_format_version_says_upgrade(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    sealed = sealed_of(keyring)
    keyring.write_bytes(with_sealed(keyring.read_bytes(), sealed[:8] + b"\x02" + sealed[9:]))
    assert "Upgrade anaconda-auth" in _assert_refused(keyring)


def test_newer_envelope_entry_says_upgrade(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    doc = json.loads(keyring.read_bytes())
    doc[ENVELOPE_SERVICE]["v2"] = "whatever a newer anaconda-auth keeps"
    keyring.write_text(json.dumps(doc))
    message = _assert_refused(keyring)
    assert "Upgrade anaconda-auth" in message and "'v2'" in message


def test_wrong_key_file_is_refused(keyring: Path, tmp_path: Path) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    other = AnacondaKeyringBackend(tmp_path / "other" / "keyring")
    other.set_password("s", "u", "v")
    shutil.copyfile(other.key_path, key_of(keyring))
    message = _assert_refused(keyring, expect=str(key_of(keyring)))
    assert "belongs to another keyring" in message


def test_damaged_key_file_is_refused(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    key_of(keyring).write_bytes(b"anaconda-keyring-key-v1:tooshort\n")
    message = _assert_refused(keyring, expect=str(key_of(keyring)))
    assert "damaged" in message


def test_missing_key_file_is_named(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="secret-api-key").save()
    key_of(keyring).unlink()
    message = _assert_refused(keyring, expect=str(key_of(keyring)))
    assert "does not exist" in message and "keyring.key" in message
    assert not key_of(keyring).exists()  # no new key was created behind the user's back


def test_empty_file_from_0_15_is_an_empty_keyring(keyring: Path) -> None:
    # anaconda-auth 0.15 probes the path with open("a"), leaving an empty file.
    keyring.parent.mkdir(mode=0o700)
    keyring.touch()
    assert BACKEND.get_password(KEYRING_NAME, "x") is None
    TokenInfo(domain="example.test", api_key="k").save()
    assert sealed_of(keyring).startswith(MAGIC) and plain_of(keyring) == {}


def test_unreadable_keyring_is_an_error(keyring: Path) -> None:
    keyring.mkdir(parents=True)  # a directory where the file should be
    ok, reason = BACKEND.is_available()
    assert not ok and str(keyring) in reason
    with pytest.raises(StorageError, match="is a directory"):
        BACKEND.get_password("s", "u")


# ------------------------------------------------------------------------------------------
# Availability


def test_available_in_a_fresh_home(keyring: Path) -> None:
    assert BACKEND.is_available() == (True, "")
    assert not keyring.parent.exists()  # probing creates nothing


def test_unavailable_when_the_directory_cannot_exist(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    backend = AnacondaKeyringBackend(tmp_path / "file" / "sub" / "keyring")
    ok, reason = backend.is_available()
    assert not ok and "not a directory" in reason and str(tmp_path / "file") in reason
    with pytest.raises(StorageError, match="not a directory|cannot be stored|Cannot create"):
        backend.set_password("s", "u", "v")


@pytest.mark.skipif(not POSIX or ROOT, reason="needs POSIX permissions as a non-root user")
def test_unavailable_when_the_directory_is_not_writable(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        ok, reason = AnacondaKeyringBackend(directory / "keyring").is_available()
        assert not ok and "not writable" in reason and str(directory) in reason
    finally:
        directory.chmod(0o700)


def test_is_available_is_cheap(keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answered from ``stat``/``access`` alone: it never opens, reads or decrypts the keyring,
    and looks for the crypto library once per process. (Its speed is measured in benchmarks/.)"""
    import importlib.util

    backend = AnacondaKeyringBackend(keyring)
    opens = count_calls(monkeypatch, os, "open")
    loads = count_calls(monkeypatch, kr, "_load")
    lookups = count_calls(monkeypatch, importlib.util, "find_spec")
    monkeypatch.setattr(kr, "_crypto_available", None)
    for _ in range(100):
        assert backend.is_available() == (True, "")  # no file yet: it can be created
    backend.set_password("s", "u", "v")
    opens.clear()
    loads.clear()
    for _ in range(100):
        assert backend.is_available() == (True, "")
    assert opens == [] and loads == []
    assert len(lookups) == 1


# ------------------------------------------------------------------------------------------
# Files shared with anaconda-auth 0.15 (its plaintext entries) and earlier forms of the file
# (tests/test_side_by_side_015.py runs the real 0.15.3 against the same file)


def legacy_value(domain: str, api_key: str) -> str:
    payload = {"domain": domain, "api_key": api_key, "repo_tokens": [], "version": 2}
    return base64.b64encode(json.dumps(payload).encode()).decode()


def write_like_015(path: Path, service: str, username: str, value: str | None) -> None:
    """What anaconda-auth 0.15's keyring backend does to set (or, ``None``, delete) an entry:
    load the whole JSON, change one entry, truncate the file and dump the whole JSON."""
    data = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    if value is None:
        data.get(service, {}).pop(username)
    else:
        data.setdefault(service, {})[username] = value
    with path.open("w") as fp:
        json.dump(data, fp)


def test_legacy_plaintext_file_is_read_then_upgraded(keyring: Path) -> None:
    legacy = {
        KEYRING_NAME: {
            "example.test": legacy_value("example.test", "legacy-key-1"),
            "other.test": legacy_value("other.test", "legacy-key-2"),
        },
        "some other service": {"someone": "their password"},
    }
    keyring.parent.mkdir(mode=0o755)
    keyring.write_text(json.dumps(legacy))
    keyring.chmod(0o644)
    before = keyring.read_bytes()

    loaded = TokenInfo.load("example.test")
    assert loaded.api_key == "legacy-key-1" and loaded.source == "anaconda-keyring"
    assert keyring.read_bytes() == before  # reading never rewrites

    TokenInfo(domain="new.test", api_key="new-key").save()
    raw = keyring.read_bytes()
    for value in legacy[KEYRING_NAME].values():
        assert value.encode() not in raw  # the logins are encrypted now
    # Another program's password (0.15's keyring backend was every program's) stays where
    # that program, run with 0.15, looks for it.
    assert plain_of(keyring) == {"some other service": {"someone": "their password"}}
    doc = read_doc(keyring)
    assert doc["some other service"] == {"someone": "their password"}
    assert doc[KEYRING_NAME]["example.test"] == legacy[KEYRING_NAME]["example.test"]
    assert doc[KEYRING_NAME]["other.test"] == legacy[KEYRING_NAME]["other.test"]
    assert TokenInfo.load("new.test").api_key == "new-key"
    if POSIX:
        assert stat.S_IMODE(keyring.stat().st_mode) == 0o600


def test_unchanged_write_still_upgrades_a_legacy_file(keyring: Path) -> None:
    value = legacy_value("example.test", "k")
    keyring.parent.mkdir(mode=0o700)
    keyring.write_text(json.dumps({KEYRING_NAME: {"example.test": value}}))
    BACKEND.set_password(KEYRING_NAME, "example.test", value)
    assert sealed_of(keyring).startswith(MAGIC) and plain_of(keyring) == {}
    assert read_doc(keyring) == {KEYRING_NAME: {"example.test": value}}


def test_bare_sealed_file_of_earlier_versions_is_read_and_rewritten_as_json(keyring: Path) -> None:
    TokenInfo(domain="a.test", api_key="ka").save()
    BACKEND.set_password("other", "u", "v")
    keyring.write_bytes(sealed_of(keyring))  # the form anaconda-auth wrote before the envelope
    make_old(keyring)
    clear_caches()
    assert TokenInfo.load("a.test").api_key == "ka"
    assert keyring.read_bytes().startswith(MAGIC)  # reading never rewrites

    TokenInfo(domain="b.test", api_key="kb").save()
    assert json.loads(keyring.read_bytes()).keys() == {ENVELOPE_SERVICE}
    doc = read_doc(keyring)
    assert doc.keys() == {KEYRING_NAME, "other"} and doc["other"] == {"u": "v"}
    assert doc[KEYRING_NAME].keys() == {"a.test", "b.test"}


def test_a_015_rewrite_keeps_the_encrypted_keyring(keyring: Path) -> None:
    TokenInfo(domain="ours.test", api_key="our-key").save()
    sealed = sealed_of(keyring)
    write_like_015(keyring, KEYRING_NAME, "theirs.test", legacy_value("theirs.test", "their-key"))
    assert sealed_of(keyring) == sealed
    assert TokenInfo.load("ours.test").api_key == "our-key"
    assert TokenInfo.load("theirs.test").api_key == "their-key"


def test_a_015_entry_written_after_ours_wins_until_our_next_write(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="ours").save()
    TokenInfo(domain="other.test", api_key="other").save()
    newer = legacy_value("example.test", "theirs-newer")
    write_like_015(keyring, KEYRING_NAME, "example.test", newer)
    assert TokenInfo.load("example.test").api_key == "theirs-newer"

    TokenInfo(domain="third.test", api_key="third").save()  # any write
    assert plain_of(keyring) == {}  # 0.15's login is encrypted now (0.15: "not logged in")
    assert newer.encode() not in keyring.read_bytes()
    clear_caches()
    assert TokenInfo.load("example.test").api_key == "theirs-newer"
    assert TokenInfo.load("other.test").api_key == "other"
    assert TokenInfo.load("third.test").api_key == "third"

    # A later 0.15 login of the same domain wins again.
    write_like_015(keyring, KEYRING_NAME, "example.test", legacy_value("example.test", "again"))
    assert TokenInfo.load("example.test").api_key == "again"


def test_other_services_plaintext_entries_stay_until_written_here(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="k").save()
    write_like_015(keyring, "https://upload.pypi.org/legacy/", "__token__", "pypi-secret")
    write_like_015(keyring, "https://upload.pypi.org/legacy/", "alice", "alice-secret")
    TokenInfo(domain="other.test", api_key="k2").save()
    assert plain_of(keyring) == {
        "https://upload.pypi.org/legacy/": {"__token__": "pypi-secret", "alice": "alice-secret"}
    }
    # A newer value from 0.15's side still wins, and stays plaintext.
    write_like_015(keyring, "https://upload.pypi.org/legacy/", "alice", "alice-new")
    TokenInfo(domain="third.test", api_key="k3").save()
    assert BACKEND.get_password("https://upload.pypi.org/legacy/", "alice") == "alice-new"

    # Written or deleted here: encrypted, or gone from both parts.
    BACKEND.set_password("https://upload.pypi.org/legacy/", "alice", "set-here")
    BACKEND.delete_password("https://upload.pypi.org/legacy/", "__token__")
    assert plain_of(keyring) == {}
    assert read_doc(keyring)["https://upload.pypi.org/legacy/"] == {"alice": "set-here"}


def test_deleting_here_removes_015s_plaintext_copy_too(keyring: Path) -> None:
    TokenInfo(domain="example.test", api_key="ours").save()
    write_like_015(keyring, KEYRING_NAME, "example.test", legacy_value("example.test", "theirs"))
    TokenInfo.load("example.test").delete()
    assert plain_of(keyring) == {}
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("example.test")


def test_a_write_by_015_in_progress_is_waited_for(
    keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.15 truncates the file, then writes it: a reader that comes in between (an empty or
    half-written file, modified a moment ago) pauses and reads again."""
    TokenInfo(domain="example.test", api_key="ours").save()
    full = json.loads(keyring.read_bytes())
    full[KEYRING_NAME] = {"theirs.test": legacy_value("theirs.test", "theirs")}
    complete = json.dumps(full).encode()
    pauses: list[float] = []

    def finish_the_write(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            keyring.write_bytes(complete)

    monkeypatch.setattr(kr.time, "sleep", finish_the_write)
    for in_progress in (b"", complete[: len(complete) // 2]):
        pauses.clear()
        keyring.write_bytes(in_progress)
        clear_caches()
        assert TokenInfo.load("theirs.test").api_key == "theirs"
        assert TokenInfo.load("example.test").api_key == "ours"
        assert len(pauses) == 2

    # ... and so does a write, which then loses nothing.
    pauses.clear()
    keyring.write_bytes(complete[:10])
    TokenInfo(domain="new.test", api_key="new").save()
    assert len(pauses) == 2
    assert read_doc(keyring)[KEYRING_NAME].keys() == {"example.test", "theirs.test", "new.test"}


def test_an_empty_or_broken_file_that_stays_so_is_not_waited_for_forever(
    keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(kr.time, "sleep", pauses.append)
    keyring.parent.mkdir(mode=0o700)
    keyring.write_bytes(b"")
    assert BACKEND.get_password(KEYRING_NAME, "x") is None
    assert pauses == list(kr.SETTLE_DELAYS)
    pauses.clear()
    keyring.write_bytes(b'{"Anaconda Cl')
    with pytest.raises(StorageError, match="neither an encrypted keyring nor a JSON"):
        BACKEND.get_password(KEYRING_NAME, "x")
    assert pauses == list(kr.SETTLE_DELAYS)
    pauses.clear()
    make_old(keyring)  # not modified a moment ago: no pause at all
    with pytest.raises(StorageError):
        BACKEND.get_password(KEYRING_NAME, "x")
    assert pauses == []


def test_a_015_write_during_ours_is_kept(keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0.15 takes no lock: a write of its between our read and our replace makes ours start
    over, so both survive."""
    TokenInfo(domain="example.test", api_key="ours").save()
    real_seal = kr.seal
    seals: list[int] = []

    def seal_while_015_writes(*args: Any) -> bytes:
        seals.append(1)
        if len(seals) == 1:
            write_like_015(keyring, KEYRING_NAME, "theirs.test", legacy_value("theirs.test", "t"))
        return real_seal(*args)

    monkeypatch.setattr(kr, "seal", seal_while_015_writes)
    TokenInfo(domain="new.test", api_key="new").save()
    assert len(seals) == 2
    assert read_doc(keyring)[KEYRING_NAME].keys() == {"example.test", "theirs.test", "new.test"}
    assert plain_of(keyring) == {}
    assert temp_files(keyring) == []


def test_a_file_that_keeps_changing_is_an_error_and_nothing_is_lost(
    keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TokenInfo(domain="example.test", api_key="ours").save()
    real_seal = kr.seal
    seals: list[int] = []

    def seal_while_015_writes(*args: Any) -> bytes:
        seals.append(1)
        write_like_015(
            keyring, KEYRING_NAME, f"t{len(seals)}.test", legacy_value("t.test", "secret-t")
        )
        return real_seal(*args)

    monkeypatch.setattr(kr, "seal", seal_while_015_writes)
    with pytest.raises(StorageError, match="rewrote it 5 times") as exc_info:
        TokenInfo(domain="new.test", api_key="secret-new").save()
    assert "secret" not in str(exc_info.value)
    assert len(seals) == kr.WRITE_ATTEMPTS
    doc = read_doc(keyring)[KEYRING_NAME]
    assert doc.keys() == {"example.test", *(f"t{i}.test" for i in range(1, 6))}
    assert temp_files(keyring) == []


def test_a_file_sealed_again_by_an_earlier_version_is_unwrapped(keyring: Path) -> None:
    """An anaconda-auth from before the envelope, run on an envelope file, takes it for 0.15's
    plaintext and seals all of it, envelope entry included: nothing inside is lost."""
    from anaconda_auth.storage_backends._keyring_format import key_file_header, seal
    from anaconda_auth.storage_backends._keyring_keys import read_key_file

    TokenInfo(domain="before.test", api_key="before").save()
    write_like_015(keyring, KEYRING_NAME, "theirs.test", legacy_value("theirs.test", "theirs"))
    as_plaintext = json.loads(keyring.read_bytes())  # what the earlier version saw
    as_plaintext[KEYRING_NAME]["during.test"] = legacy_value("during.test", "during")
    key = read_key_file(keyring, fresh=True)[0]
    keyring.write_bytes(seal(as_plaintext, key_file_header(key, os.urandom(12)), key))
    clear_caches()

    for domain in ("before", "theirs", "during"):
        assert TokenInfo.load(f"{domain}.test").api_key == domain
    TokenInfo(domain="after.test", api_key="after").save()
    assert json.loads(keyring.read_bytes()).keys() == {ENVELOPE_SERVICE}
    sealed = read_doc(keyring)
    assert ENVELOPE_SERVICE not in sealed
    assert sealed[KEYRING_NAME].keys() == {
        "before.test",
        "theirs.test",
        "during.test",
        "after.test",
    }


def test_the_envelope_service_is_reserved(keyring: Path) -> None:
    with pytest.raises(StorageError, match="reserved"):
        BACKEND.set_password(ENVELOPE_SERVICE, ENVELOPE_ENTRY, "x")
    TokenInfo(domain="example.test", api_key="k").save()
    assert BACKEND.get_password(ENVELOPE_SERVICE, ENVELOPE_ENTRY) is None


# ------------------------------------------------------------------------------------------
# The headless workflow: log in on one machine, copy the files to another


def test_headless_copy_needs_the_key_file_too(keyring: Path, tmp_path: Path) -> None:
    TokenInfo(domain="example.test", api_key="headless-key").save()
    other_home = tmp_path / "machine-b"
    (other_home / ".anaconda").mkdir(parents=True)
    shutil.copy2(keyring, other_home / ".anaconda" / "keyring")
    env = {**os.environ, "HOME": str(other_home), "USERPROFILE": str(other_home)}

    only_keyring = run_writer("read", "example.test", env=env)
    assert only_keyring.returncode == 3, only_keyring.stderr
    missing = str(other_home / ".anaconda" / "keyring.key")
    assert missing in only_keyring.stderr
    assert "copy keyring.key" in only_keyring.stderr
    assert "headless-key" not in only_keyring.stderr

    shutil.copy2(key_of(keyring), other_home / ".anaconda" / "keyring.key")
    with_key = run_writer("read", "example.test", env=env)
    assert with_key.returncode == 0, with_key.stderr
    assert with_key.stdout.strip() == "headless-key"


def test_headless_copy_with_a_passphrase(
    keyring: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "shared passphrase")
    TokenInfo(domain="example.test", api_key="headless-key").save()
    other_home = tmp_path / "machine-b"
    (other_home / ".anaconda").mkdir(parents=True)
    shutil.copy2(keyring, other_home / ".anaconda" / "keyring")
    env = {**os.environ, "HOME": str(other_home), "USERPROFILE": str(other_home)}

    assert run_writer("read", "example.test", env=env).stdout.strip() == "headless-key"
    wrong = run_writer("read", "example.test", env={**env, PASSPHRASE_ENV: "not it"})
    assert wrong.returncode == 3 and PASSPHRASE_ENV in wrong.stderr
    assert "not it" not in wrong.stderr and "shared passphrase" not in wrong.stderr
    env.pop(PASSPHRASE_ENV)
    unset = run_writer("read", "example.test", env=env)
    assert unset.returncode == 3 and "protected by a passphrase" in unset.stderr


# ------------------------------------------------------------------------------------------
# Caching


def test_warm_reads_stat_only_and_see_other_processes_writes(
    keyring: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    TokenInfo(domain="example.test", api_key="k").save()
    make_old(keyring, key_of(keyring))
    decrypts = []
    real = kr._decrypt

    def counting(*args: Any) -> Any:
        decrypts.append(1)
        return real(*args)

    monkeypatch.setattr(kr, "_decrypt", counting)
    backend = AnacondaKeyringBackend(keyring)
    clear_caches()
    assert backend.get_password(KEYRING_NAME, "example.test") is not None
    with monkeypatch.context() as patched:
        opens = count_calls(patched, os, "open")
        stats = count_calls(patched, os, "stat")
        for _ in range(200):
            backend.get_password(KEYRING_NAME, "example.test")
    assert len(decrypts) == 1
    assert opens == [], "a warm read opened a file"
    assert len(stats) <= 2 * 200, "a warm read is a stat of the keyring and of its key file"

    (tmp_path / "go").touch()
    done = run_writer("save", "fromother", "1", str(tmp_path / "ready"), str(tmp_path / "go"))
    assert done.returncode == 0, done.stderr
    assert backend.get_password(KEYRING_NAME, "fromother-0.example") is not None
    assert len(decrypts) == 2


def test_replaced_key_file_is_noticed_by_a_warm_process(keyring: Path, tmp_path: Path) -> None:
    TokenInfo(domain="example.test", api_key="k").save()
    make_old(keyring, key_of(keyring))
    for _ in range(2):
        assert BACKEND.get_password(KEYRING_NAME, "example.test") is not None
    other = AnacondaKeyringBackend(tmp_path / "other" / "keyring")
    other.set_password("s", "u", "v")
    shutil.copyfile(other.key_path, key_of(keyring))
    with pytest.raises(StorageError, match="belongs to another keyring"):
        BACKEND.get_password(KEYRING_NAME, "example.test")


def test_racily_clean_rewrite_with_same_stamp_is_seen(keyring: Path) -> None:
    """A rewrite in the same timestamp tick, same inode, same size: bytes are compared."""
    backend = AnacondaKeyringBackend(keyring)
    backend.set_password("s", "u", "aaaa")
    raw_a = keyring.read_bytes()
    backend.set_password("s", "u", "bbbb")
    raw_b = keyring.read_bytes()
    assert len(raw_a) == len(raw_b)
    mtime = keyring.stat().st_mtime_ns

    def rewrite_in_place(data: bytes) -> None:
        with keyring.open("r+b") as fp:
            fp.write(data)
        os.utime(keyring, ns=(mtime, mtime))

    rewrite_in_place(raw_a)
    clear_caches()
    assert backend.get_password("s", "u") == "aaaa"
    stamp = (keyring.stat().st_ino, keyring.stat().st_mtime_ns, keyring.stat().st_size)
    rewrite_in_place(raw_b)
    assert (keyring.stat().st_ino, keyring.stat().st_mtime_ns, keyring.stat().st_size) == stamp
    assert backend.get_password("s", "u") == "bbbb"


# ------------------------------------------------------------------------------------------
# Concurrency and crash safety


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(keyring: Path, tmp_path: Path) -> None:
    TokenInfo(domain="before.example", api_key="key-before").save()
    BACKEND.set_password("other service", "someone", "untouched")
    writers, per_writer = 8, 200
    go = tmp_path / "go"
    procs = []
    for w in range(writers):
        ready = tmp_path / f"ready-{w}"
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [
                        sys.executable,
                        str(WRITER),
                        "save",
                        f"w{w}",
                        str(per_writer),
                        str(ready),
                        str(go),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "writers did not start"
        assert all(p.poll() is None for _, p in procs), [p.communicate() for _, p in procs]
        time.sleep(0.02)
    go.touch()
    for _, proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err

    doc = read_doc(keyring)
    tokens = doc[KEYRING_NAME]
    assert len(tokens) == writers * per_writer + 1
    assert doc["other service"] == {"someone": "untouched"}
    assert TokenInfo.load("before.example").api_key == "key-before"
    for w in range(writers):
        for i in range(per_writer):
            domain = f"w{w}-{i}.example"
            data = json.loads(base64.b64decode(tokens[domain]))
            assert data["api_key"] == f"key-for-{domain}"
    assert temp_files(keyring) == []


def _state(i: int) -> str:
    return f"{i}:" + hashlib.sha256(str(i).encode()).hexdigest() * 1000  # ~64 KB


def _crash_child(path: Path, start: int, wrote_fd: int) -> None:
    """Write new states until killed; tell the parent (a byte on ``wrote_fd``) after the first,
    so every kill lands while this child is writing, however loaded the machine is."""
    try:
        backend = AnacondaKeyringBackend(path)
        deadline = time.monotonic() + 20
        i = start
        while time.monotonic() < deadline:
            i += 1
            backend.set_password("crash", "state", _state(i))
            if i == start + 1:
                os.write(wrote_fd, b"w")
    finally:
        os._exit(0)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_at_random_moments_never_leaves_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "keyring"
    backend = AnacondaKeyringBackend(path)
    backend.set_password("keep", "me", "untouched")
    backend.set_password("crash", "state", _state(0))
    rng = random.Random(20240601)
    last, kills, mid_write = 0, 0, 0
    started = time.monotonic()
    while kills < 120:
        wrote, wrote_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(wrote)
            _crash_child(path, last, wrote_w)
        os.close(wrote_w)
        try:
            ready, _, _ = select.select([wrote], [], [], 30)
            assert ready, "a writer did not complete its first write within 30 s"
            assert os.read(wrote, 1) == b"w"
        finally:
            os.close(wrote)
        time.sleep(rng.uniform(0.0, 0.015))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        mid_write += bool(temp_files(path))
        doc = read_doc(path)  # raises if the file is not a complete, authentic version
        value = doc["crash"]["state"]
        i = int(value.split(":", 1)[0])
        assert value == _state(i)
        assert i >= last
        last = i
        assert doc["keep"] == {"me": "untouched"}
        assert time.monotonic() - started < 40
    assert last > 20, "the writers made too little progress to test anything"
    assert mid_write >= 5, "no kill landed while a temporary file was being written"
    backend.set_password("keep", "me", "still")
    assert temp_files(path) == []  # the next writer removes what killed writers left


def test_lock_timeout_names_the_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = AnacondaKeyringBackend(tmp_path / "keyring")
    backend.set_password("s", "u", "v")
    before = backend.path.read_bytes()
    lock = tmp_path / "keyring.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom filelock import FileLock\n"
            "lock = FileLock(sys.argv[1])\nlock.acquire()\nprint('held', flush=True)\n"
            "time.sleep(60)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(kr, "LOCK_TIMEOUT", 0.3)
        with pytest.raises(StorageError) as exc_info:
            backend.set_password("s", "u", "w")
        assert str(lock) in str(exc_info.value)
        assert "Timed out" in str(exc_info.value)
        assert backend.get_password("s", "u") == "v"  # reads need no lock
    finally:
        holder.kill()
        holder.wait()
    assert backend.path.read_bytes() == before
    backend.set_password("s", "u", "w")
    assert backend.get_password("s", "u") == "w"


# ------------------------------------------------------------------------------------------
# Property: any services, usernames and secrets survive the file


texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=st.dictionaries(st.tuples(texts, texts), st.text(max_size=300), max_size=6))
@example(entries={("\ud800", "\x00"): "\U0001f511 ключ"})
@example(entries={("", ""): ""})
def test_any_entries_round_trip(tmp_path: Path, entries: dict[tuple[str, str], str]) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as directory:
        backend = AnacondaKeyringBackend(Path(directory) / "keyring")
        for (service, username), secret in entries.items():
            backend.set_password(service, username, secret)
        expected: dict[str, dict[str, str]] = {}
        for (service, username), secret in entries.items():
            expected.setdefault(service, {})[username] = secret
        if entries:
            assert read_doc(backend.path) == expected
        for (service, username), secret in entries.items():
            assert backend.get_password(service, username) == secret
