"""Hardening of token storage: never mint a key that cannot be stored, one lock per file
whatever the path, files that are not files, messages that blame the right thing,
and a fuzz target over the keyring reader (only the documented ``StorageError`` may escape).

Real components only: read-only bind mounts or another user (``setpriv``) where root would
bypass permissions, real FIFOs and symlinks, real subprocesses for the lock tests.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.storage_backends import anaconda_keyring as kr
from anaconda_auth.storage_backends.anaconda_keyring import (
    ENVELOPE_ENTRY,
    ENVELOPE_SERVICE,
    MAGIC,
    AnacondaKeyringBackend,
    clear_caches,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.login import Browser, RecordingUI

from anaconda_auth.actions import login
from anaconda_auth.config import AnacondaAuthConfig
from anaconda_auth.exceptions import StorageError, StorageUnavailableError
from anaconda_auth.storage import access
from anaconda_auth.token import TokenInfo

#: The size cap of a keyring file (``_keyring_files.MAX_FILE_SIZE``, stated in its errors).
MAX_FILE_SIZE = 16 << 20
POSIX = os.name == "posix"
ROOT = POSIX and os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
MOUNT = shutil.which("mount")

pytestmark = pytest.mark.usefixtures("fresh_discovery")


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


def key_of(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@contextmanager
def read_only_mount(directory: Path) -> Iterator[None]:
    """``directory`` made read-only with a bind mount onto itself (needs privileges), so that
    even root cannot write in it; the test is skipped where it cannot be done."""
    if not (POSIX and MOUNT and ROOT):
        pytest.skip("a read-only bind mount needs root (mount --bind -o ro)")
    done = subprocess.run(
        [MOUNT, "--bind", "-o", "ro", str(directory), str(directory)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()}")
    try:
        probe = directory / ".probe"
        with pytest.raises(OSError):
            probe.write_text("")
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def run_script(code: str, *args: str, timeout: float = 60, **kwargs: Any) -> Any:
    """``code`` in a fresh interpreter; a hang fails the test after ``timeout`` seconds."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


# ------------------------------------------------------------------------------------------
# 1. Never mint a key you cannot store


def _keyring_of_home() -> Path:
    return AnacondaAuthConfig().keyring_path


def test_login_with_a_read_only_keyring_directory_starts_no_flow(
    anaconda_idp: Any, fake_browser: Browser
) -> None:
    keyring = _keyring_of_home()
    TokenInfo(domain="other.example", api_key="kept").save()
    before = keyring.read_bytes()
    anaconda_idp.clear_requests()
    with read_only_mount(keyring.parent), pytest.raises(StorageUnavailableError) as info:
        login(device=False, ui=RecordingUI())
    message = str(info.value)
    assert str(keyring.parent) in message and "Read-only file system" in message
    assert "Nothing was sent to the server" in message
    assert anaconda_idp.requests == [] and fake_browser.hops() == []
    assert keyring.read_bytes() == before


def test_device_login_with_a_directory_as_lock_file_starts_no_flow(
    anaconda_idp: Any, login_home: Path
) -> None:
    keyring = _keyring_of_home()
    TokenInfo(domain="other.example", api_key="kept").save()
    lock = keyring.with_name(keyring.name + ".lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()
    anaconda_idp.settings.device_auto_approve = True
    anaconda_idp.clear_requests()
    ui = RecordingUI()
    with pytest.raises(StorageUnavailableError) as info:
        login(device=True, ui=ui)
    assert f"the lock file {lock} is a directory" in str(info.value)
    assert anaconda_idp.requests == [] and ui.device_codes == []


def test_a_save_with_a_directory_as_lock_file_names_it(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    backend = AnacondaKeyringBackend(keyring)
    backend.set_password("svc", "u", "old")
    before = keyring.read_bytes()
    lock = tmp_path / "keyring.lock"
    lock.unlink()
    lock.mkdir()
    with pytest.raises(StorageError) as info:
        backend.set_password("svc", "u", "new")
    assert f"The lock file {lock} of the token keyring {keyring} is a directory" in str(info.value)
    assert keyring.read_bytes() == before


@pytest.mark.skipif(not (POSIX and SETPRIV and ROOT), reason="needs setpriv, run as root")
def test_check_writable_as_a_user_who_cannot_write_the_directory() -> None:
    """Root writes anywhere; as ``nobody`` the keyring's directory (root's, 0755) is not
    writable, though the keyring in it is readable. (Outside pytest's 0700 temp root.)"""
    tmp_path = Path(tempfile.mkdtemp(prefix="anaconda-auth-nobody-"))
    try:
        _check_writable_as_nobody(tmp_path)
    finally:
        shutil.rmtree(tmp_path)


def _check_writable_as_nobody(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    directory = tmp_path / "keyrings"
    directory.mkdir(mode=0o755)
    keyring = directory / "keyring"
    AnacondaKeyringBackend(keyring).set_password("s", "u", "v")
    keyring.chmod(0o644)
    key_of(keyring).chmod(0o644)
    code = """
        import sys
        from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend
        backend = AnacondaKeyringBackend(sys.argv[1])
        print(backend.is_available())
        print(backend.get_password("s", "u"))
        print(backend.check_writable())
    """
    done = subprocess.run(
        [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c"]
        + [textwrap.dedent(code), str(keyring)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    available, value, writable = done.stdout.splitlines()
    assert available == "(True, '')" and value == "v"
    assert writable.startswith("(False,") and str(directory) in writable
    assert "Permission denied" in writable


@pytest.mark.skipif(not POSIX or ROOT, reason="as root: see the setpriv test above")
def test_check_writable_in_a_directory_this_user_cannot_write(tmp_path: Path) -> None:
    directory = tmp_path / "keyrings"
    directory.mkdir()
    keyring = directory / "keyring"
    AnacondaKeyringBackend(keyring).set_password("s", "u", "v")
    directory.chmod(0o555)
    try:
        backend = AnacondaKeyringBackend(keyring)
        assert backend.is_available() == (True, "") and backend.get_password("s", "u") == "v"
        ok, reason = backend.check_writable()
        assert not ok and str(directory) in reason and "Permission denied" in reason
    finally:
        directory.chmod(0o755)


def test_check_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    directory = tmp_path / "home"
    directory.mkdir()
    backend = AnacondaKeyringBackend(directory / ".anaconda" / "keyring")
    assert backend.check_writable() == (True, "")
    assert list(directory.iterdir()) == []  # not even the .anaconda directory
    backend.set_password("s", "u", "v")
    names = sorted(p.name for p in (directory / ".anaconda").iterdir())
    assert backend.check_writable() == (True, "")
    assert sorted(p.name for p in (directory / ".anaconda").iterdir()) == names


def test_check_writable_names_what_is_in_the_way(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    backend = AnacondaKeyringBackend(keyring)
    backend.set_password("s", "u", "v")
    key_of(keyring).unlink()
    key_of(keyring).mkdir()
    ok, reason = backend.check_writable()
    assert not ok and f"its key file {key_of(keyring)} is a directory" in reason


def test_preferred_backend_asks_check_writable_of_a_third_party_backend(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optional method of any backend is asked; one without it is not required to have it."""

    class Full:
        name = "anaconda-keyring"
        description = "full"
        read_only = False

        def is_available(self) -> tuple[bool, str]:
            return True, ""

        def check_writable(self) -> tuple[bool, str]:
            return False, "the vault is full"

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise AssertionError("never written")

        def delete_password(self, service: str, username: str) -> None:
            raise AssertionError("never deleted")

    monkeypatch.setattr(access, "all_backends", lambda: {"anaconda-keyring": Full()})
    config = AnacondaAuthConfig(preferred_token_storage="anaconda-keyring")
    with pytest.raises(StorageUnavailableError, match="cannot save a token now: the vault is full"):
        access.preferred_backend(config)
    assert access.preferred_backend(config, check_writable=False).description == "full"
    del Full.check_writable
    assert access.preferred_backend(config).description == "full"


# ------------------------------------------------------------------------------------------
# 4. One lock per file, whatever the path

_WRITER = """
import sys
from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend
from anaconda_auth.exceptions import StorageError
path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
backend = AnacondaKeyringBackend(path)
for i in range(count):
    try:
        backend.set_password("svc", f"{prefix}-{i}", f"value-{prefix}-{i}")
    except StorageError as exc:
        print("error", exc, file=sys.stderr, flush=True)
        continue
    print(f"{prefix}-{i}", flush=True)  # acknowledged
"""


def _symlinked_keyring(tmp_path: Path) -> tuple[Path, Path]:
    real = tmp_path / "dotfiles" / "keyring"
    link = tmp_path / "home" / ".anaconda" / "keyring"
    real.parent.mkdir()
    link.parent.mkdir(parents=True)
    AnacondaKeyringBackend(real).set_password("svc", "before", "value-before")
    link.symlink_to(real)
    # Where the key file used to be looked for (next to the configured path): present too,
    # so that the code before the fix can run this test at all.
    shutil.copy2(key_of(real), key_of(link))
    return real, link


@pytest.mark.slow
@pytest.mark.skipif(not POSIX, reason="symlinks")
def test_writers_through_a_symlink_and_the_real_path_lose_nothing(tmp_path: Path) -> None:
    real, link = _symlinked_keyring(tmp_path)
    per_writer = 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), f"{tag}{n}", str(per_writer)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
        for tag, path in (("link", link), ("real", real))
    ]
    acknowledged: list[str] = []
    errors = ""
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        acknowledged += out.split()
        errors += err
    assert len(acknowledged) == 6 * per_writer, errors[:2000]
    clear_caches()
    stored = AnacondaKeyringBackend(real).get_password
    lost = [user for user in acknowledged if stored("svc", user) != f"value-{user}"]
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes lost"
    assert stored("svc", "before") == "value-before"
    assert link.is_symlink()
    assert temp_files(real.parent) == [] and temp_files(link.parent) == []


@pytest.mark.skipif(not POSIX, reason="symlinks")
def test_the_lock_is_taken_at_the_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, link = _symlinked_keyring(tmp_path)
    lock = real.with_name("keyring.lock")
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
        with pytest.raises(StorageError, match="Timed out") as info:
            AnacondaKeyringBackend(link).set_password("svc", "through the link", "x")
        assert str(lock) in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    assert not link.with_name("keyring.lock").exists()


@pytest.mark.skipif(not POSIX, reason="symlinks")
def test_the_key_file_follows_the_real_path(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "keyring"
    link = tmp_path / "home" / "keyring"
    real.parent.mkdir()
    link.parent.mkdir()
    link.symlink_to(real)
    AnacondaKeyringBackend(link).set_password("svc", "u", "through the link")
    assert key_of(real).is_file() and not key_of(link).exists()
    assert AnacondaKeyringBackend(link).key_path == key_of(real)
    done = run_script(
        """
        import sys
        from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend
        print(AnacondaKeyringBackend(sys.argv[1]).get_password("svc", "u"))
        """,
        str(real),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "through the link"


_HOLD_TEMP = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"half a keyring")
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not POSIX, reason="flock")
def test_the_sweep_never_removes_a_live_writers_temp_file(tmp_path: Path) -> None:
    """A writer reaching the directory another way (a bind mount, an older version locking
    elsewhere) holds its temporary file: the sweep leaves it until that writer is gone."""
    keyring = tmp_path / "keyring"
    backend = AnacondaKeyringBackend(keyring)
    backend.set_password("svc", "u", "1")
    live = tmp_path / ".keyring.0123456789ab.tmp"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_TEMP, str(live)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        backend.set_password("svc", "u", "2")
        assert live.exists(), "the sweep removed a temporary file a live writer holds"
    finally:
        holder.kill()
        holder.wait()
    backend.set_password("svc", "u", "3")
    assert not live.exists(), "a dead writer's temporary file stays"


def test_stale_temp_files_go_even_when_a_save_changes_nothing(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    backend = AnacondaKeyringBackend(keyring)
    backend.set_password("svc", "u", "same")
    before = keyring.read_bytes()
    dead = [tmp_path / ".keyring.00000000000a.tmp", tmp_path / ".keyring.key.00000000000b.tmp"]
    for path in dead:
        path.write_bytes(b"left by a writer that was killed")
    backend.set_password("svc", "u", "same")  # nothing to change
    assert keyring.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_the_sweep_leaves_other_files_temp_files_alone(tmp_path: Path) -> None:
    """``.keyring.backup.<hex>.tmp`` belongs to ``keyring.backup`` (another lock), not to
    ``keyring``."""
    others = [
        tmp_path / ".keyring.backup.0123456789ab.tmp",
        tmp_path / ".keyring.notes.tmp",
        tmp_path / ".keyring.key2.0123456789ab.tmp",
    ]
    for path in others:
        path.write_text("someone else's")
    AnacondaKeyringBackend(tmp_path / "keyring").set_password("svc", "u", "v")
    assert all(path.exists() for path in others)


# ------------------------------------------------------------------------------------------
# 6. Files that are not files


_READ_THEN_WRITE = """
import sys
from anaconda_auth.exceptions import StorageError
from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend
backend = AnacondaKeyringBackend(sys.argv[1])
print(backend.is_available())
for action in (lambda: backend.get_password("svc", "u"),
               lambda: backend.set_password("svc", "u", "new")):
    try:
        action()
    except StorageError as exc:
        print("StorageError:", exc)
    else:
        print("no error")
"""


def _read_then_write(path: Path) -> list[str]:
    done = run_script(_READ_THEN_WRITE, str(path), timeout=30)
    assert done.returncode == 0, done.stderr
    lines: list[str] = done.stdout.splitlines()
    return lines


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_at_the_keyring_path_does_not_block(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    os.mkfifo(keyring)
    available, read, write = _read_then_write(keyring)  # a hang fails after 30 s
    assert available.startswith("(False,") and "named pipe (FIFO)" in available
    for line in (read, write):
        assert line.startswith("StorageError:") and str(keyring) in line
        assert "named pipe (FIFO)" in line
    assert stat.S_ISFIFO(os.lstat(keyring).st_mode)  # nothing overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring", "keyring.lock"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_keyring_symlinked_to_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    keyring.symlink_to("/dev/zero")
    available, read, write = _read_then_write(keyring)
    assert "character device" in available
    for line in (read, write):
        assert line.startswith("StorageError:") and str(keyring) in line
        assert "character device" in line
    assert os.readlink(keyring) == "/dev/zero"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_key_file_symlinked_to_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    AnacondaKeyringBackend(keyring).set_password("svc", "u", "old")
    before = keyring.read_bytes()
    key_of(keyring).unlink()
    key_of(keyring).symlink_to("/dev/zero")
    _, read, write = _read_then_write(keyring)
    for line in (read, write):
        assert line.startswith("StorageError:") and str(key_of(keyring)) in line
        assert "character device" in line
    assert keyring.read_bytes() == before and os.readlink(key_of(keyring)) == "/dev/zero"


def test_a_key_file_that_is_a_directory_is_named(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    AnacondaKeyringBackend(keyring).set_password("svc", "u", "old")
    before = keyring.read_bytes()
    key_of(keyring).unlink()
    key_of(keyring).mkdir()
    _, read, write = _read_then_write(keyring)
    for line in (read, write):
        assert line.startswith("StorageError:") and f"key file {key_of(keyring)}" in line
        assert "is a directory" in line
    assert keyring.read_bytes() == before and key_of(keyring).is_dir()


def test_a_key_file_directory_before_the_first_write_is_named(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    key_of(keyring).mkdir()
    with pytest.raises(StorageError, match="is a directory") as info:
        AnacondaKeyringBackend(keyring).set_password("svc", "u", "v")
    assert str(key_of(keyring)) in str(info.value)
    assert not keyring.exists()


def test_a_huge_keyring_is_refused_with_the_limit(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    with keyring.open("wb") as f:
        f.truncate(MAX_FILE_SIZE + 1)  # sparse: no disk used
    available, read, write = _read_then_write(keyring)
    assert available.startswith("(False,") and "16 MiB" in available
    for line in (read, write):
        assert line.startswith("StorageError:") and str(keyring) in line and "16 MiB" in line
    assert keyring.stat().st_size == MAX_FILE_SIZE + 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_token_load_with_a_fifo_keyring_says_so(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = isolated_home / "fifo-keyring"
    os.mkfifo(keyring)
    done = run_script(
        """
        from anaconda_auth.exceptions import StorageError
        from anaconda_auth.token import TokenInfo
        try:
            TokenInfo.load("anaconda.com")
        except StorageError as exc:
            print(type(exc).__name__, exc)
        """,
        env={**os.environ, "ANACONDA_AUTH_KEYRING_PATH": str(keyring)},
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "StorageUnavailableError" in done.stdout and str(keyring) in done.stdout
    assert "named pipe (FIFO)" in done.stdout


# ------------------------------------------------------------------------------------------
# 11. Messages that blame the right thing


def _sealed_file(tmp_path: Path) -> tuple[Path, bytes]:
    keyring = tmp_path / "keyring"
    AnacondaKeyringBackend(keyring).set_password("svc", "u", "v")
    doc = json.loads(keyring.read_bytes())
    sealed = base64.b64decode(doc[ENVELOPE_SERVICE][ENVELOPE_ENTRY])
    assert sealed.startswith(MAGIC)
    return keyring, sealed


def _with_sealed(keyring: Path, sealed: bytes) -> None:
    doc = {ENVELOPE_SERVICE: {ENVELOPE_ENTRY: base64.b64encode(sealed).decode()}}
    keyring.write_text(json.dumps(doc))
    clear_caches()


def _error(keyring: Path) -> str:
    with pytest.raises(StorageError) as info:
        AnacondaKeyringBackend(keyring).get_password("svc", "u")
    return str(info.value)


def test_version_0_header_is_damaged_not_newer(tmp_path: Path) -> None:
    keyring, sealed = _sealed_file(tmp_path)
    _with_sealed(keyring, sealed[:8] + b"\x00" + sealed[9:])
    message = _error(keyring)
    assert "is damaged" in message and "newer" not in message and "Upgrade" not in message


@pytest.mark.parametrize("offset", [29, 33, 36], ids=["key-id-first", "key-id-mid", "key-id-last"])
def test_a_damaged_key_id_does_not_blame_the_key_file(tmp_path: Path, offset: int) -> None:
    keyring, sealed = _sealed_file(tmp_path)
    damaged = bytearray(sealed)
    damaged[offset] ^= 0x01
    _with_sealed(keyring, bytes(damaged))
    message = _error(keyring)
    assert "is damaged" in message and "key id" in message
    assert "key file" not in message and "another keyring" not in message


@pytest.mark.parametrize(
    "offset", [10, 11, 12, 13, 28], ids=["log2n", "r", "p", "salt", "salt-end"]
)
def test_damaged_scrypt_fields_of_a_key_file_header_are_damage(tmp_path: Path, offset: int) -> None:
    keyring, sealed = _sealed_file(tmp_path)
    damaged = bytearray(sealed)
    damaged[offset] ^= 0x04
    _with_sealed(keyring, bytes(damaged))
    message = _error(keyring)
    assert "is damaged" in message and "key file" not in message


def test_a_key_file_of_another_keyring_is_still_blamed(tmp_path: Path) -> None:
    keyring, _ = _sealed_file(tmp_path)
    other = tmp_path / "other"
    AnacondaKeyringBackend(other).set_password("svc", "u", "w")
    shutil.copyfile(key_of(other), key_of(keyring))
    clear_caches()
    assert "belongs to another keyring" in _error(keyring)


# ------------------------------------------------------------------------------------------
# Fuzz: the keyring reader raises nothing but StorageError


def _mutations() -> st.SearchStrategy[tuple[str, int, bytes]]:
    return st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "replace"]),
        st.integers(min_value=0, max_value=400),
        st.binary(min_size=1, max_size=8),
    )


def _mutate(raw: bytes, how: tuple[str, int, bytes]) -> bytes:
    kind, at, data = how
    at = at % (len(raw) + 1)
    if kind == "flip" and at < len(raw):
        return raw[:at] + bytes([raw[at] ^ (data[0] or 1)]) + raw[at + 1 :]
    if kind == "truncate":
        return raw[:at]
    if kind == "insert":
        return raw[:at] + data + raw[at:]
    return raw[:at] + data + raw[at + len(data) :]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=st.sampled_from(["file", "sealed", "key", "raw", "json"]),
    how=_mutations(),
    raw=st.binary(max_size=200),
    value=_json_values,
)
@example(target="raw", how=("flip", 0, b"\x01"), raw=b"[" * 100_000, value=None)
@example(target="raw", how=("flip", 0, b"\x01"), raw=MAGIC + b"\x00" * 60, value=None)
@example(target="json", how=("flip", 0, b"\x01"), raw=b"", value={ENVELOPE_SERVICE: {"v1": 1}})
@example(target="sealed", how=("replace", 8, b"\x00"), raw=b"", value=None)
@example(target="sealed", how=("replace", 9, b"\x02\x14\x10\x04"), raw=b"", value=None)
def test_the_keyring_reader_raises_only_storage_errors(
    tmp_path_factory: pytest.TempPathFactory,
    target: str,
    how: tuple[str, int, bytes],
    raw: bytes,
    value: object,
) -> None:
    directory = tmp_path_factory.mktemp("fuzz")
    keyring = directory / "keyring"
    AnacondaKeyringBackend(keyring).set_password("svc", "u", "v")
    if target == "file":
        keyring.write_bytes(_mutate(keyring.read_bytes(), how))
    elif target == "sealed":
        doc = json.loads(keyring.read_bytes())
        sealed = base64.b64decode(doc[ENVELOPE_SERVICE][ENVELOPE_ENTRY])
        _with_sealed(keyring, _mutate(sealed, how))
    elif target == "key":
        key_of(keyring).write_bytes(_mutate(key_of(keyring).read_bytes(), how))
    elif target == "raw":
        keyring.write_bytes(raw)
    else:
        keyring.write_text(json.dumps(value))
    os.utime(keyring, ns=(time.time_ns() - 10**10,) * 2)  # not "being written": no settling
    clear_caches()
    backend = AnacondaKeyringBackend(keyring)
    try:
        got = backend.get_password("svc", "u")
    except StorageError as exc:
        assert str(keyring) in str(exc) or str(key_of(keyring)) in str(exc)
    else:
        assert got is None or isinstance(got, str)
