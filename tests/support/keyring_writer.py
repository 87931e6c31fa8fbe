"""A separate process that writes tokens into the anaconda-keyring (used by its tests).

    python keyring_writer.py save <prefix> <count> <ready-file> <go-file>

imports everything, creates ``<ready-file>``, waits for ``<go-file>`` (so that all writers
start together), then saves ``count`` tokens for the domains ``<prefix>-<i>.example`` with
``TokenInfo.save()``. HOME and the ANACONDA_AUTH_* variables come from the environment.

    python keyring_writer.py read <domain>

prints the API key stored for ``domain`` (exit 3 and the error message on stderr on a
``StorageError``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def api_key_for(domain: str) -> str:
    return f"key-for-{domain}"


def save(prefix: str, count: int, ready: Path, go: Path) -> None:
    from anaconda_auth.token import TokenInfo

    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to start")
        time.sleep(0.005)
    for i in range(count):
        domain = f"{prefix}-{i}.example"
        TokenInfo(domain=domain, api_key=api_key_for(domain), username=prefix).save()


def read(domain: str) -> int:
    from anaconda_auth.exceptions import StorageError
    from anaconda_auth.token import TokenInfo

    try:
        info = TokenInfo.load(domain)
    except StorageError as exc:
        print(exc, file=sys.stderr)
        return 3
    print(info.api_key)
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "save":
        save(argv[1], int(argv[2]), Path(argv[3]), Path(argv[4]))
        return 0
    if argv[0] == "read":
        return read(argv[1])
    raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
