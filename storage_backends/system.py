"""The ``system`` backend: the operating system's keyring through the ``keyring`` library.

Secret Service (GNOME Keyring, KWallet's Secret Service, KeePassXC) on Linux, the Keychain on
macOS, the Credential Locker on Windows: whatever ``keyring`` would pick for this process,
including a backend the user chose with ``PYTHON_KEYRING_BACKEND`` or ``keyringrc.cfg``.

Rules this module keeps:

* ``keyring`` is imported on first use, never at import time.
* It never changes keyring's process-wide state: no ``keyring.set_keyring``, no
  ``keyring.get_keyring`` (which would initialise the global), no ``KeyringBackend`` subclass
  (defining one registers it with keyring for every caller). The backend keyring would
  recommend is resolved here and kept privately, so pip or twine in the same process see what
  they would see without anaconda-auth.
* Every call runs in a daemon thread and is bounded by a timeout: ``ANACONDA_AUTH_KEYRING_TIMEOUT``
  seconds, default 5 (60 when stdin is a terminal, so an unlock prompt can be answered). A call
  that times out makes the backend unavailable for the rest of the process; the stuck thread
  cannot block the interpreter's exit.
* It never prompts when stdin is not a terminal: a locked Secret Service collection, or one that
  does not exist yet (creating it needs a prompt), makes the backend unavailable with a reason,
  instead of letting the Secret Service show a dialog nobody can answer.
* Availability is resolved once per process (per D-Bus session and keyring settings) and only
  when the backend is reached: a read answered by an earlier backend never imports keyring.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from anaconda_auth.exceptions import StorageError, StorageUnavailableError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import StorageBackend

log = logging.getLogger(__name__)

T = TypeVar("T")

TIMEOUT_ENV = "ANACONDA_AUTH_KEYRING_TIMEOUT"
DEFAULT_TIMEOUT = 5.0
#: Used instead of the default when stdin is a terminal: time to answer an unlock prompt.
INTERACTIVE_TIMEOUT = 60.0

_USE_OTHER = 'or set preferred_token_storage = "anaconda-keyring" to use the encrypted file'


class KeyringTimeout(StorageUnavailableError):
    """The OS keyring did not answer in time."""


def keyring_timeout() -> float:
    """Seconds each keyring call may take (``ANACONDA_AUTH_KEYRING_TIMEOUT``)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value > 0:
            return value
        log.warning(
            "%s=%r is not a positive number of seconds; using the default", TIMEOUT_ENV, raw
        )
    return INTERACTIVE_TIMEOUT if is_interactive() else DEFAULT_TIMEOUT


def is_interactive() -> bool:
    """Whether someone can answer a prompt: stdin is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached stdin
        return False


def run_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """``fn()`` in a daemon thread; :class:`KeyringTimeout` if it takes longer than ``timeout``."""
    outcome: list[Any] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome.append((False, exc))
        finally:
            done.set()

    thread = threading.Thread(target=target, name="anaconda-auth-keyring", daemon=True)
    thread.start()
    if not done.wait(timeout):
        raise KeyringTimeout(
            f"the system keyring did not answer within {timeout:g} s while {what} "
            f"(raise {TIMEOUT_ENV} if it is just slow; {_USE_OTHER})"
        )
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


@dataclass(frozen=True)
class _Resolved:
    keyring: Any  # a keyring.backend.KeyringBackend, or None when unavailable
    reason: str
    label: str


def _settings_key() -> tuple[str | None, ...]:
    """What keyring's choice of backend depends on, so a change means a fresh resolution."""
    env = os.environ
    return (
        env.get("DBUS_SESSION_BUS_ADDRESS"),
        env.get("PYTHON_KEYRING_BACKEND"),
        env.get("XDG_CONFIG_HOME"),
        env.get("HOME"),
        env.get("APPDATA"),
        env.get("LOCALAPPDATA"),
    )


def _label(kr: Any) -> str:
    cls = type(kr)
    return f"{cls.__module__}.{cls.__qualname__}"


def _priority(kr: Any) -> float | None:
    """A backend's priority, or ``None`` if asking fails (keyring's backends raise when not
    viable, and the chainer asks every backend it chains)."""
    try:
        return float(kr.priority)
    except Exception:  # noqa: BLE001
        return None


def _explicit_choice() -> Any:
    """The backend named by ``PYTHON_KEYRING_BACKEND`` or ``keyringrc.cfg``, else ``None``."""
    import keyring.core

    return keyring.core.load_env() or keyring.core.load_config()


def _detect() -> Any:
    """The viable backend with the highest priority, as keyring would pick it.

    The same rule as ``keyring.core``, but the result is returned, not installed as keyring's
    process-wide backend.
    """
    import keyring.backend

    from anaconda_auth.plugin_discovery import load_keyring_backends

    # perf: loads keyring's backend plugins (cached by keyring) through the entry-point cache
    # (was keyring.backend.get_all_keyring(), which reads every distribution's metadata)
    load_keyring_backends()
    best: tuple[float, Any] | None = None
    for cls in keyring.backend.KeyringBackend.get_viable_backends():
        try:
            kr = cls()
        except TypeError:
            continue  # needs constructor arguments: keyring skips those too
        priority = _priority(kr)
        if priority is not None and (best is None or priority > best[0]):
            best = (priority, kr)
    return None if best is None else best[1]


def _secret_service_parts(kr: Any) -> list[Any]:
    """The Secret Service backends ``kr`` uses (itself, or those it chains)."""
    try:
        from keyring.backends import SecretService, chainer
    except ImportError:  # pragma: no cover - keyring always ships both
        return []
    if isinstance(kr, SecretService.Keyring):
        return [kr]
    if isinstance(kr, chainer.ChainerBackend):
        return [b for b in kr.backends if isinstance(b, SecretService.Keyring)]
    return []


def _secret_service_problem(kr: Any) -> str | None:
    """Why the Secret Service would have to prompt (locked or missing collection), if it would."""
    import secretstorage
    from secretstorage.exceptions import ItemNotFoundException, SecretStorageException

    path = getattr(kr, "preferred_collection", None) or secretstorage.collection.DEFAULT_COLLECTION
    try:
        connection = secretstorage.dbus_init()
    except SecretStorageException as exc:
        return f"cannot connect to the Secret Service on D-Bus ({exc})"
    try:
        try:
            collection = secretstorage.Collection(connection, path)
        except ItemNotFoundException:
            return (
                "the Secret Service has no default keyring yet, and creating one needs a prompt "
                "(create a default keyring with your desktop's password manager, e.g. Seahorse, "
                f"{_USE_OTHER})"
            )
        if collection.is_locked():
            label = collection.get_label() or "default"
            return (
                f"the Secret Service keyring {label!r} is locked and anaconda-auth does not show "
                "unlock prompts without a terminal (unlock it by logging in to the desktop "
                "session or with `gnome-keyring-daemon --unlock`, "
                f"{_USE_OTHER})"
            )
        return None
    finally:
        connection.close()


def _is_secret_storage_error(exc: BaseException) -> bool:
    try:
        from secretstorage.exceptions import SecretStorageException
    except ImportError:  # pragma: no cover - not on macOS / Windows
        return False
    return isinstance(exc, SecretStorageException)


def _no_backend_reason() -> str:
    if sys.platform.startswith("linux") and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return (
            "there is no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set), so no Secret "
            "Service keyring can be reached; run inside a desktop session or `dbus-run-session`, "
            f"{_USE_OTHER}"
        )
    return (
        "the keyring library found no usable OS keyring here (on Linux a Secret Service "
        "provider such as GNOME Keyring or KeePassXC must be running in your D-Bus session); "
        f"{_USE_OTHER}"
    )


def _resolve() -> _Resolved:
    """Find the OS keyring and check it can be used without a prompt (runs in the worker)."""
    try:
        import keyring  # noqa: F401
    except ImportError as exc:
        return _Resolved(None, f"the keyring library could not be imported ({exc})", "")
    try:
        kr = _explicit_choice()
    except Exception as exc:  # noqa: BLE001 - e.g. PYTHON_KEYRING_BACKEND names a bad class
        return _Resolved(
            None,
            "the keyring backend chosen by PYTHON_KEYRING_BACKEND or keyringrc.cfg cannot be "
            f"used ({type(exc).__name__}: {exc})",
            "",
        )
    if kr is None:
        kr = _detect()
    if kr is None:
        return _Resolved(None, _no_backend_reason(), "")
    label = _label(kr)
    priority = _priority(kr)
    if priority is None:
        return _Resolved(None, f"the keyring backend {label} is not usable here", label)
    if priority <= 0:
        # keyring's "fail" and "null" backends, or a chainer with nothing to chain
        if type(kr).__module__ == "keyring.backends.null":
            reason = (
                "the keyring library is disabled (PYTHON_KEYRING_BACKEND or keyringrc.cfg selects "
                f"keyring.backends.null.Keyring); {_USE_OTHER}"
            )
        else:
            reason = _no_backend_reason()
        return _Resolved(None, reason, label)
    if not is_interactive():
        for part in _secret_service_parts(kr):
            problem = _secret_service_problem(part)
            if problem:
                return _Resolved(None, problem, label)
    return _Resolved(kr, "", label)


class SystemKeyringBackend:
    """The OS keyring, resolved privately and called with a timeout."""

    name = "system"
    description = (
        "the operating system's keyring (Secret Service, macOS Keychain, Windows Credential Locker)"
    )
    priority = 10
    read_only = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resolved: dict[tuple[str | None, ...], _Resolved] = {}

    def __repr__(self) -> str:
        return "SystemKeyringBackend()"

    def _state(self) -> _Resolved:
        key = _settings_key()
        state = self._resolved.get(key)
        if state is not None:
            return state
        with self._lock:
            state = self._resolved.get(key)
            if state is None:
                try:
                    state = run_with_timeout(_resolve, keyring_timeout(), "looking for it")
                except KeyringTimeout as exc:
                    state = _Resolved(None, str(exc), "")
                self._resolved[key] = state
                log.debug("system keyring: %s", state.label or state.reason)
        return state

    def _mark_unavailable(self, reason: str) -> None:
        self._resolved[_settings_key()] = _Resolved(None, reason, "")

    @property
    def keyring_name(self) -> str:
        """The class keyring uses here (``""`` when unavailable), for diagnostics."""
        return self._state().label

    def is_available(self) -> tuple[bool, str]:
        state = self._state()
        if state.keyring is None:
            return False, state.reason
        return True, ""

    def _run(self, what: str, op: Callable[[Any], T], secret: str = "") -> T:
        state = self._state()
        kr = state.keyring
        if kr is None:
            raise StorageUnavailableError(f"The system keyring is not available: {state.reason}.")
        interactive = is_interactive()

        def call() -> T:
            if not interactive:
                for part in _secret_service_parts(kr):
                    problem = _secret_service_problem(part)
                    if problem:
                        raise StorageUnavailableError(
                            f"The system keyring cannot be used: {problem}."
                        )
            return op(kr)

        try:
            return run_with_timeout(call, keyring_timeout(), what)
        except KeyringTimeout as exc:
            self._mark_unavailable(str(exc))
            raise StorageUnavailableError(f"The system keyring is not available: {exc}.") from None
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, what, secret) from None

    @staticmethod
    def _error(exc: Exception, what: str, secret: str) -> StorageError:
        import keyring.errors

        detail = str(exc)
        if secret and secret in detail:
            detail = detail.replace(secret, "<redacted>")
        message = f"The system keyring ({type(exc).__name__}) failed while {what}: {detail}"
        if isinstance(exc, (keyring.errors.KeyringLocked, keyring.errors.InitError)):
            return StorageUnavailableError(f"{message}. Unlock your keyring, {_USE_OTHER}.")
        if _is_secret_storage_error(exc):
            return StorageUnavailableError(f"{message}. Check your Secret Service, {_USE_OTHER}.")
        return StorageError(f"{message}.")

    def get_password(self, service: str, username: str) -> str | None:
        def op(kr: Any) -> str | None:
            value = kr.get_password(service, username)
            return None if value is None else str(value)

        return self._run("reading a token", op)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._run(
            "saving a token", lambda kr: kr.set_password(service, username, password), password
        )

    def delete_password(self, service: str, username: str) -> None:
        def op(kr: Any) -> None:
            import keyring.errors

            # already gone is fine: deleting is idempotent
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                kr.delete_password(service, username)

        self._run("deleting a token", op)


BACKEND = SystemKeyringBackend()


@hookimpl
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    return [BACKEND]
