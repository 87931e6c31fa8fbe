"""The client's recheck window (decision 0050): a stored-key lookup is reused for
``RECHECK_NS`` while the environment and this process's own changes are unchanged.

The window's clock is replaced by a hand-driven one, so these tests do not depend on how fast
the machine is; the storage, the files and the other process are real.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import tokens

import anaconda_auth.client_auth as client_auth
from anaconda_auth.client import BaseClient
from anaconda_auth.token import TokenInfo

URL = "https://anaconda.com/api/account"
#: The keys, made once: a key made later would carry a later ``exp``.
FIRST, SECOND, FROM_ENV = (tokens.jwt(tag=tag) for tag in ("first", "second", "from-env"))


class Clock:
    def __init__(self) -> None:
        self.now = 10**12

    def __call__(self) -> int:
        return self.now

    def advance(self) -> None:
        self.now += client_auth.RECHECK_NS


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(client_auth, "_clock", fake)
    return fake


@pytest.fixture
def client(isolated_home: Path) -> Iterator[BaseClient]:
    TokenInfo(domain="anaconda.com", api_key=FIRST).save()
    c = BaseClient()
    yield c
    c.close()


def sent_key(client: BaseClient) -> str | None:
    """The key the client's auth puts on a request to its site (no network involved)."""
    prepared = client.prepare_request(requests.Request("GET", URL))
    client.auth(prepared)  # type: ignore[misc]
    value = prepared.headers.get("Authorization")
    return value.removeprefix("Bearer ") if value else None


def save_in_another_process(key: str) -> None:
    code = (
        "import sys; from anaconda_auth.token import TokenInfo; "
        "TokenInfo(domain='anaconda.com', api_key=sys.argv[1]).save()"
    )
    subprocess.run([sys.executable, "-c", code, key], check=True, timeout=120)


def test_another_process_login_is_seen_once_the_window_is_over(
    client: BaseClient, clock: Clock
) -> None:
    assert sent_key(client) == FIRST
    save_in_another_process(SECOND)
    assert sent_key(client) == FIRST  # within the window: the files are not looked at
    clock.advance()
    assert sent_key(client) == SECOND


def test_this_process_changes_are_seen_at_once(client: BaseClient, clock: Clock) -> None:
    assert sent_key(client) == FIRST
    TokenInfo(domain="anaconda.com", api_key=SECOND).save()
    assert sent_key(client) == SECOND
    TokenInfo.load("anaconda.com").delete()
    assert sent_key(client) is None


def test_an_environment_change_is_seen_at_once(
    client: BaseClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sent_key(client) == FIRST
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", FROM_ENV)
    assert sent_key(client) == FROM_ENV
    monkeypatch.delenv("ANACONDA_AUTH_API_KEY")
    assert sent_key(client) == FIRST


def test_within_the_window_no_file_is_looked_at(
    client: BaseClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for name in ("stat", "access", "open"):
        real = getattr(os, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, spy)
    sent_key(client)
    calls.clear()
    for _ in range(3):
        assert sent_key(client) == FIRST
    assert calls == []
    clock.advance()
    assert sent_key(client) == FIRST
    assert "stat" in calls  # past the window the store is checked again


def test_each_client_looks_for_itself(client: BaseClient, clock: Clock) -> None:
    assert sent_key(client) == FIRST
    save_in_another_process(SECOND)
    with BaseClient() as fresh:
        assert sent_key(fresh) == SECOND


def test_a_pickled_client_carries_neither_the_environment_nor_the_key(
    client: BaseClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNRELATED_SECRET", "s3cr3t-value-in-the-environment")
    assert sent_key(client) == FIRST
    data = pickle.dumps(client)
    assert b"s3cr3t-value-in-the-environment" not in data
    assert FIRST.encode() not in data
    again = pickle.loads(data)
    assert sent_key(again) == FIRST
