"""One small, real conda package and the repodata of a channel that holds it.

``hello-anaconda 1.0`` (``noarch: generic``) installs one text file,
``share/hello-anaconda/hello.txt``. The archive is built in memory, byte for byte the same on
every run (fixed modification times and order), so its checksums are stable.
"""

from __future__ import annotations

import bz2
import functools
import hashlib
import io
import json
import tarfile
from typing import Any

NAME = "hello-anaconda"
VERSION = "1.0"
BUILD = "0"
FILENAME = f"{NAME}-{VERSION}-{BUILD}.tar.bz2"
PAYLOAD_PATH = f"share/{NAME}/hello.txt"
PAYLOAD = b"Hello from the anaconda-auth test channel.\n"
TIMESTAMP = 1_700_000_000  # seconds, fixed
SUBDIRS = ("noarch", "linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64")


def _index() -> dict[str, Any]:
    return {
        "name": NAME,
        "version": VERSION,
        "build": BUILD,
        "build_number": 0,
        "depends": [],
        "license": "BSD-3-Clause",
        "noarch": "generic",
        "subdir": "noarch",
        "timestamp": TIMESTAMP * 1000,
    }


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = TIMESTAMP
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@functools.cache
def package_bytes() -> bytes:
    """The ``.tar.bz2`` archive of the package."""
    paths = {
        "paths": [
            {
                "_path": PAYLOAD_PATH,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
                "size_in_bytes": len(PAYLOAD),
            }
        ],
        "paths_version": 1,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _member(tar, "info/index.json", json.dumps(_index(), sort_keys=True).encode())
        _member(tar, "info/paths.json", json.dumps(paths, sort_keys=True).encode())
        _member(tar, "info/files", f"{PAYLOAD_PATH}\n".encode())
        _member(tar, PAYLOAD_PATH, PAYLOAD)
    return bz2.compress(raw.getvalue())


def repodata(subdir: str) -> dict[str, Any]:
    """``repodata.json`` of ``subdir``: the package in ``noarch``, nothing elsewhere."""
    packages: dict[str, Any] = {}
    if subdir == "noarch":
        data = package_bytes()
        packages[FILENAME] = {
            **_index(),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    return {
        "info": {"subdir": subdir},
        "packages": packages,
        "packages.conda": {},
        "removed": [],
        "repodata_version": 1,
    }
