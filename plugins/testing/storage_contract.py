"""A pytest kit that checks a storage backend against the ``StorageBackend`` contract.

Subclass :class:`StorageBackendContract` in a test module, name the subclass ``Test...`` and
override its ``backend`` fixture::

    from anaconda_auth.plugins.testing import StorageBackendContract

    class TestMyBackend(StorageBackendContract):
        @pytest.fixture
        def backend(self, storage_home):
            return MyBackend(storage_home / "vault")

Every inherited ``test_*`` method then runs against that backend. What is checked (and what is
deliberately not) is listed in the class docstring; ``docs/storage-backends.md`` is the guide.

This module needs pytest; :mod:`anaconda_auth.plugins.testing` imports it only when
``StorageBackendContract`` is asked for.
"""

from __future__ import annotations

import builtins
import contextvars
import getpass
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.plugins.testing.home import isolate_home

import anaconda_auth.config  # noqa: F401 - registers the default behind current_config()
from anaconda_auth.plugin_types import (
    DEFAULT_PRIORITY,
    StampedStorageBackend,
    StorageBackend,
    WriteCheckedStorageBackend,
    backend_priority,
)

__all__ = ["StorageBackendContract"]

#: Variables kept when the kit clears ``ANACONDA_*`` (they never point at a store).

#: A value the size of a stored token with a few repository tokens (base64 of JSON).
_TOKEN_SIZED = "eyJkb21haW4iOiAiYW5hY29uZGEuY29tIiwgImFwaV9rZXkiOiAi" * 40


class _Prompted(Exception):
    """Raised in place of a prompt while the kit calls ``is_available()``."""


def _exception_texts(exc: BaseException) -> Iterator[str]:
    """The text of ``exc`` and of every exception chained to it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (repr(arg) for arg in current.args)
        notes = getattr(current, "__notes__", None) or []
        yield from (str(note) for note in notes)
        current = current.__cause__ or current.__context__


def _unique(label: str) -> str:
    return f"anaconda-auth-contract {label} {uuid.uuid4().hex[:12]}"


class StorageBackendContract:
    """The storage backend contract as pytest tests; subclass it and override ``backend``.

    Checked for every backend:

    * shape: ``name`` is a non-empty ``str``, ``description`` a ``str``, ``read_only`` a
      ``bool``; the object is a :class:`~anaconda_auth.plugin_types.StorageBackend`;
      ``priority`` may be missing (it then counts as ``DEFAULT_PRIORITY``) but when present
      is an ``int`` or ``float`` (not a ``bool``); ``read_stamp`` and ``check_writable``, when
      present, are callable;
    * ``is_available()`` returns ``(bool, str)`` (a non-empty reason when unavailable) within
      :attr:`availability_timeout` seconds, with ``sys.stdin`` closed and ``input()`` /
      ``getpass.getpass()`` replaced by functions that fail the test: it must not prompt, hang
      or raise. It runs in a worker thread, so a hang fails the test instead of stalling it;
    * ``get_password`` of an entry nobody wrote is ``None``;
    * ``repr()`` and ``str()`` of the backend never contain a stored secret, and neither does
      the text of any exception an operation raises (its message, ``repr``, ``args``, notes and
      every chained ``__cause__`` / ``__context__``).

    Checked for writable backends (``read_only`` false, or :attr:`writable` set to ``True``):

    * round trip: ``set_password`` then ``get_password`` gives the value back; setting again
      replaces it; entries with the same service or the same username do not interfere;
    * a token-sized value (2 KiB) and non-ASCII service, username and secret round-trip;
    * deleting an existing entry removes it and leaves other entries alone;
    * ``read_stamp`` (if present) does not raise for a missing entry, and after a write it is
      ``None`` or differs from the stamp before the write.
    * ``check_writable`` (if present) answers ``(True, "")`` like ``is_available()`` (quickly,
      without prompting or raising) where a write then succeeds, and ``(False, reason)`` for
      ``failing_backend`` when that fixture is overridden.

    Not checked: deleting an entry that does not exist. anaconda-auth calls ``delete_password``
    only for entries it has just read, so the contract leaves that case to the backend (raising
    or ignoring it are both fine).

    Read-only backends get the write tests skipped with the reason shown by ``pytest -rs``.
    Every test that needs the store skips, with the backend's reason, when ``is_available()``
    says it cannot be used here (a Secret Service on a headless CI machine, say).

    Each test runs with a fresh temporary HOME (``storage_home``), no ``ANACONDA_*``
    variables except ``ANACONDA_AUTH_KEYRING_PATH`` pointing into that HOME, and the default
    configuration behind :func:`~anaconda_auth.plugin_types.current_config`. Entries the kit
    writes have unique names and are deleted afterwards (best effort), so a shared store such as
    the OS keyring is left as it was.
    """

    #: ``None``: writable unless ``backend.read_only``. ``True`` / ``False`` force the choice.
    writable: bool | None = None
    #: Seconds ``is_available()`` may take before the test fails.
    availability_timeout: float = 10.0

    _written: list[tuple[str, str]]

    # -- fixtures a subclass overrides -----------------------------------------------------

    @pytest.fixture
    def backend(self) -> StorageBackend:
        """The backend under test: override it to return a fresh instance."""
        pytest.fail(
            "StorageBackendContract: override the `backend` fixture to return a fresh instance "
            "of your storage backend",
            pytrace=False,
        )

    @pytest.fixture
    def failing_backend(self) -> StorageBackend | None:
        """Optional: a backend whose ``set_password`` fails (e.g. pointed at a read-only
        location), to check that the secret stays out of the error. ``None`` skips that test.
        """
        return None

    # -- the kit's own fixtures ------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def storage_home(
        self, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
    ) -> Path:
        """A fresh HOME for the test, with anaconda-auth's configuration and keyring in it."""
        return isolate_home(monkeypatch, tmp_path_factory.mktemp("storage-home"))

    @pytest.fixture
    def available_backend(self, backend: StorageBackend) -> Iterator[StorageBackend]:
        """``backend`` when it can be used here (else the test is skipped); entries written
        through :meth:`write` are deleted afterwards."""
        ok, reason = self._availability(backend)
        if not ok:
            pytest.skip(f"storage backend {backend.name!r} is not available here: {reason}")
        self._written = []
        yield backend
        for service, username in self._written:
            try:
                if backend.get_password(service, username) is not None:
                    backend.delete_password(service, username)
            except Exception:  # noqa: BLE001, S110 - cleanup is best effort
                pass

    @pytest.fixture
    def writable_backend(self, available_backend: StorageBackend) -> StorageBackend:
        """``available_backend``, or a skip when the backend is read-only."""
        if not self._is_writable(available_backend):
            pytest.skip(
                f"storage backend {available_backend.name!r} is read-only: anaconda-auth never "
                "writes to or deletes from it, so the write tests do not apply "
                "(set `writable = True` on the test class to run them anyway)"
            )
        return available_backend

    def write(self, backend: StorageBackend, service: str, username: str, secret: str) -> None:
        """``backend.set_password``, remembering the entry for the cleanup."""
        if not hasattr(self, "_written"):
            self._written = []
        self._written.append((service, username))
        backend.set_password(service, username, secret)

    # -- helpers ---------------------------------------------------------------------------

    def _is_writable(self, backend: StorageBackend) -> bool:
        return self.writable if self.writable is not None else not backend.read_only

    def _availability(
        self, backend: StorageBackend, method: str = "is_available"
    ) -> tuple[bool, str]:
        """``backend.is_available()`` (or another ``(bool, reason)`` method, ``method``) in a
        worker thread, without a usable stdin or prompt."""
        answer = getattr(backend, method)
        prompts: list[str] = []

        def refuse(*args: Any, **kwargs: Any) -> str:
            prompts.append(repr(args[0]) if args else "")
            raise _Prompted("is_available() must not prompt")

        outcome: list[tuple[bool, Any]] = []
        done = threading.Event()
        context = contextvars.copy_context()

        def call() -> None:
            try:
                outcome.append((True, context.run(answer)))
            except BaseException as exc:  # noqa: BLE001 - reported in the test's thread
                outcome.append((False, exc))
            finally:
                done.set()

        closed = open(os.devnull)  # noqa: SIM115 - closed at once: reading it raises
        closed.close()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "stdin", closed)
            patch.setattr(builtins, "input", refuse)
            patch.setattr(getpass, "getpass", refuse)
            worker = threading.Thread(target=call, name="storage-contract", daemon=True)
            worker.start()
            finished = done.wait(self.availability_timeout)
        if not finished:
            pytest.fail(
                f"{backend.name}.{method}() did not return within "
                f"{self.availability_timeout:g} s (with stdin closed): it must answer quickly",
                pytrace=False,
            )
        assert not prompts, f"{backend.name}.{method}() tried to prompt: {prompts}"
        ok, value = outcome[0]
        if not ok:
            pytest.fail(
                f"{backend.name}.{method}() raised {type(value).__name__}: {value}; it must "
                "return (False, reason) instead",
                pytrace=False,
            )
        assert isinstance(value, tuple) and len(value) == 2, (
            f"{method}() must return a (bool, str) tuple, not {value!r}"
        )
        available, reason = value
        assert isinstance(available, bool), f"{method}()[0] must be a bool: {available!r}"
        assert isinstance(reason, str), f"{method}()[1] must be a str: {reason!r}"
        if not available:
            assert reason.strip(), "an unavailable backend must say why (a non-empty reason)"
        return available, reason

    @staticmethod
    def _assert_secret_absent(secret: str, texts: Iterator[str] | list[str], where: str) -> None:
        for text in texts:
            assert secret not in text, f"the stored secret appears in {where}"

    def _raises_without_secret(self, secret: str, call: Callable[[], object], where: str) -> bool:
        """Run ``call``; if it raises, the secret must not be in the exception. Whether it did."""
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - any exception must keep the secret out
            self._assert_secret_absent(secret, _exception_texts(exc), f"the error of {where}")
            return True
        return False

    # -- shape -----------------------------------------------------------------------------

    def test_shape(self, backend: StorageBackend) -> None:
        assert isinstance(backend.name, str) and backend.name.strip(), "name: a non-empty str"
        assert isinstance(backend.description, str), "description must be a str"
        assert isinstance(backend.read_only, bool), "read_only must be a bool"
        assert isinstance(backend, StorageBackend), (
            "not a StorageBackend: it needs name, description, read_only, is_available, "
            "get_password, set_password and delete_password"
        )
        if hasattr(backend, "priority"):
            priority = backend.priority
            assert isinstance(priority, (int, float)) and not isinstance(priority, bool), (
                f"priority is optional, but when set it must be a number, not {priority!r}"
            )
            assert backend_priority(backend) == float(priority)
        else:
            assert backend_priority(backend) == DEFAULT_PRIORITY
        if hasattr(backend, "read_stamp"):
            assert callable(backend.read_stamp), "read_stamp must be a method"
            assert isinstance(backend, StampedStorageBackend)
        if hasattr(backend, "check_writable"):
            assert callable(backend.check_writable), "check_writable must be a method"
            assert isinstance(backend, WriteCheckedStorageBackend)

    def test_is_available_answers_quickly_without_prompting(self, backend: StorageBackend) -> None:
        self._availability(backend)

    # -- reading ---------------------------------------------------------------------------

    def test_missing_entry_is_none(self, available_backend: StorageBackend) -> None:
        assert available_backend.get_password(_unique("service"), _unique("user")) is None

    def test_secret_not_in_repr_or_str(self, available_backend: StorageBackend) -> None:
        backend = available_backend
        secret = _unique("secret-in-repr")
        if self._is_writable(backend):
            service, username = _unique("service"), _unique("user")
            self.write(backend, service, username, secret)
            assert backend.get_password(service, username) == secret
        self._assert_secret_absent(secret, [repr(backend), str(backend)], "repr()/str()")

    def test_secret_not_in_error_messages(
        self, backend: StorageBackend, failing_backend: StorageBackend | None
    ) -> None:
        secret = _unique("secret-in-error")
        service, username = _unique("service"), _unique("user")
        if failing_backend is not None:
            raised = self._raises_without_secret(
                secret,
                lambda: failing_backend.set_password(service, username, secret),
                "set_password on failing_backend",
            )
            assert raised, "the failing_backend fixture's set_password did not fail"
            self._assert_secret_absent(
                secret, [repr(failing_backend), str(failing_backend)], "repr()/str()"
            )
            return
        if backend.read_only:
            # Never called by anaconda-auth; if it refuses, it must still not echo the value.
            self._raises_without_secret(
                secret,
                lambda: backend.set_password(service, username, secret),
                "set_password on a read-only backend",
            )
            return
        pytest.skip(
            "override the failing_backend fixture (a backend whose set_password fails) to check "
            "that secrets stay out of error messages"
        )

    # -- writing ---------------------------------------------------------------------------

    def test_round_trip(self, writable_backend: StorageBackend) -> None:
        backend = writable_backend
        service, username = _unique("service"), _unique("user")
        self.write(backend, service, username, "first value")
        assert backend.get_password(service, username) == "first value"
        self.write(backend, service, username, "second value")
        assert backend.get_password(service, username) == "second value", "set must replace"

    def test_entries_are_independent(self, writable_backend: StorageBackend) -> None:
        backend = writable_backend
        service, other_service = _unique("service"), _unique("service")
        username, other_user = _unique("user"), _unique("user")
        self.write(backend, service, username, "a")
        self.write(backend, service, other_user, "b")
        self.write(backend, other_service, username, "c")
        assert backend.get_password(service, username) == "a"
        assert backend.get_password(service, other_user) == "b"
        assert backend.get_password(other_service, username) == "c"
        assert backend.get_password(other_service, other_user) is None

    def test_token_sized_value(self, writable_backend: StorageBackend) -> None:
        service, username = _unique("service"), _unique("user")
        self.write(writable_backend, service, username, _TOKEN_SIZED)
        assert writable_backend.get_password(service, username) == _TOKEN_SIZED

    def test_unicode_round_trip(self, writable_backend: StorageBackend) -> None:
        service = _unique("сервис \U0001f511")
        username = _unique("ユーザー é")
        secret = "秘密 ключ \u00e9\u0301 \U0001f510 \u200d end"
        self.write(writable_backend, service, username, secret)
        assert writable_backend.get_password(service, username) == secret

    def test_delete_existing_entry(self, writable_backend: StorageBackend) -> None:
        backend = writable_backend
        service, username, other = _unique("service"), _unique("user"), _unique("user")
        self.write(backend, service, username, "to delete")
        self.write(backend, service, other, "to keep")
        backend.delete_password(service, username)
        assert backend.get_password(service, username) is None, "the entry is still there"
        assert backend.get_password(service, other) == "to keep", "delete removed another entry"

    def test_read_stamp_changes_with_the_entry(self, writable_backend: StorageBackend) -> None:
        backend = writable_backend
        if not isinstance(backend, StampedStorageBackend):
            pytest.skip("the backend has no read_stamp (optional)")
        service, username = _unique("service"), _unique("user")
        before = backend.read_stamp(service, username)
        self.write(backend, service, username, "stamped")
        after = backend.read_stamp(service, username)
        assert before is None or after is None or before != after, (
            "read_stamp returned the same stamp before and after the entry changed"
        )

    # -- check_writable (optional) ------------------------------------------------------------

    def test_check_writable_says_a_write_would_succeed(
        self, writable_backend: StorageBackend
    ) -> None:
        backend = writable_backend
        if not isinstance(backend, WriteCheckedStorageBackend):
            pytest.skip("the backend has no check_writable (optional)")
        ok, reason = self._availability(backend, "check_writable")
        assert ok, f"check_writable() says a write would fail where it works: {reason}"
        service, username = _unique("service"), _unique("user")
        self.write(backend, service, username, "after the check")
        assert backend.get_password(service, username) == "after the check"

    def test_check_writable_refuses_where_writes_fail(
        self, backend: StorageBackend, failing_backend: StorageBackend | None
    ) -> None:
        if not isinstance(backend, WriteCheckedStorageBackend):
            pytest.skip("the backend has no check_writable (optional)")
        if failing_backend is None:
            pytest.skip(
                "override the failing_backend fixture (a backend whose set_password fails) to "
                "check that check_writable() sees it coming"
            )
        ok, reason = self._availability(failing_backend, "check_writable")
        assert not ok, "check_writable() says a write would succeed, but set_password fails"
        secret = _unique("secret-after-check")
        raised = self._raises_without_secret(
            secret,
            lambda: failing_backend.set_password(_unique("service"), _unique("user"), secret),
            "set_password on failing_backend",
        )
        assert raised, "the failing_backend fixture's set_password did not fail"
