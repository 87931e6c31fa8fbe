"""A private Secret Service for tests: GNOME Keyring on its own ``dbus-daemon --session``.

Each session has its own HOME and runtime directory, so tests never touch the developer's
keyring. Needs the Debian packages dbus and gnome-keyring (dev/test.sh installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Whether this machine can run a private Secret Service at all.
AVAILABLE = bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))
UNAVAILABLE_REASON = "needs dbus-daemon and gnome-keyring-daemon (apt install dbus gnome-keyring)"

KEYRING_PASSWORD = b"test-keyring-password"


@dataclass
class KeyringSession:
    """A private D-Bus session bus, optionally with gnome-keyring-daemon on it."""

    root: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.env["DBUS_SESSION_BUS_ADDRESS"]

    def stop_keyring(self) -> None:
        for proc in self.processes[1:]:
            proc.terminate()
            proc.wait(10)
        del self.processes[1:]

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self.processes.clear()

    def start_keyring(self, unlock: bool) -> None:
        args = ["gnome-keyring-daemon", "--foreground", "--components=secrets"]
        if unlock:
            args.append("--unlock")
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if unlock else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        self.processes.append(proc)
        if unlock:
            assert proc.stdin is not None
            proc.stdin.write(KEYRING_PASSWORD)  # creates (or unlocks) the "login" keyring
            proc.stdin.close()
        self.wait_for_secret_service(need_default=unlock)

    def wait_for_secret_service(self, need_default: bool) -> None:
        import secretstorage
        from jeepney import DBus
        from jeepney.io.blocking import open_dbus_connection

        deadline = time.monotonic() + 15
        while True:
            conn = open_dbus_connection(bus=self.address)
            try:
                owned = conn.send_and_get_reply(DBus().NameHasOwner("org.freedesktop.secrets"))
                if owned.body[0]:
                    if not need_default:
                        return
                    try:
                        secretstorage.Collection(conn)
                        return
                    except secretstorage.exceptions.ItemNotFoundException:
                        pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring-daemon did not come up")
            time.sleep(0.05)


def start_session(root: Path) -> KeyringSession:
    root.mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANACONDA_", "DBUS_", "XDG_"))}
    env.update(
        HOME=str(root),
        XDG_RUNTIME_DIR=str(root / "run"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "config"),
    )
    dbus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", "--nosyslog"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert dbus.stdout is not None
    env["DBUS_SESSION_BUS_ADDRESS"] = dbus.stdout.readline().strip()
    return KeyringSession(root, env, [dbus])
