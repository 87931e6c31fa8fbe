"""Configure conda for Anaconda's repository: the legacy token, ``default_channels``, the
auth handler's ``channel_settings``. Needs conda (imported with this module).

The repository is ``CONDA_TOKEN_REPO_URL`` (read at each call), else :data:`REPO_URL`.
Differences from 0.15, on purpose: the condarc is edited in one atomic, comment-keeping
write (0.15 ran ``conda config`` once per key); token validation reads the condarc's
``ssl_verify`` (0.15 used conda's uninitialised context outside conda); a refused token says
why.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from os.path import abspath, expanduser, join
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import conda
from conda.gateways.anaconda_client import (
    read_binstar_tokens,
    remove_binstar_token,
    set_binstar_token,
)

from anaconda_auth._conda.condarc import CondaRC
from anaconda_auth._conda.config import HANDLER_NAME, _build_channel_settings
from anaconda_auth._conda.validation import CondaTokenError, check_token

__all__ = [
    "ACTIVE_CHANNELS",
    "ARCHIVE_CHANNELS",
    "MAIN_CHANNEL",
    "REPO_URL",
    "CondaTokenError",
    "configure_default_channels",
    "token_list",
    "token_remove",
    "token_set",
    "validate_token",
]

REPO_URL = os.getenv("CONDA_TOKEN_REPO_URL", "https://repo.anaconda.cloud/repo/")


def _parse_version(text: str) -> Any:
    from packaging.version import InvalidVersion, Version  # a dependency of conda

    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


#: conda's version (a ``packaging`` ``Version``), as 0.15 exposed it.
CONDA_VERSION = _parse_version(conda.__version__)
MAIN_CHANNEL = "main"
ACTIVE_CHANNELS = ["r", "msys2"]
ARCHIVE_CHANNELS = ["free", "mro-archive", "pro"]

user_rc_path = abspath(expanduser("~/.condarc"))
escaped_user_rc_path = user_rc_path.replace("%", "%%")
escaped_sys_rc_path = abspath(join(sys.prefix, ".condarc")).replace("%", "%%")


class CondaVersionWarning(UserWarning):
    pass


def repo_url() -> str:
    """The repository URL, ending in ``/``: ``CONDA_TOKEN_REPO_URL``, else :data:`REPO_URL`."""
    url = os.getenv("CONDA_TOKEN_REPO_URL") or REPO_URL
    return url if url.endswith("/") else url + "/"


def _conda_version() -> tuple[int, ...]:
    parts = []
    for piece in conda.__version__.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def can_restore_free_channel() -> bool:
    """``restore_free_channel`` exists from conda 4.7 until 25.9."""
    return (4, 7) <= _conda_version() < (25, 9)


def _condarc_path(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> Path:
    """The file ``conda config`` would write with these flags (:func:`_get_condarc_args`);
    without any, the user's condarc (:data:`.condarc.DEFAULT_CONDARC_PATH`)."""
    from anaconda_auth._conda import condarc as condarc_module

    for arg in _get_condarc_args(condarc_system, condarc_env, condarc_file):
        if arg == "--system":
            return Path(sys.prefix) / ".condarc"
        if arg == "--env" and os.getenv("CONDA_PREFIX"):
            return Path(os.environ["CONDA_PREFIX"]) / ".condarc"
        if arg.startswith("--file="):
            return Path(arg.removeprefix("--file=")).expanduser()
    return Path(condarc_module.DEFAULT_CONDARC_PATH)


def _context() -> Any:
    """conda's context, with the condarc files read (outside conda it is still empty)."""
    from conda.base.context import context, reset_context

    if not getattr(context, "_search_path", ()):
        reset_context()
    return context


def clean_index() -> None:
    """``conda clean -i``: repodata cached with other credentials must not be reused."""
    from conda.cli.main import main as conda_main

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        conda_main("clean", "-i", "-y", "-q")


def validate_token(token: str, no_ssl_verify: bool = False) -> None:
    """Check that the repository accepts ``token``; :class:`CondaTokenError` says why not.

    TLS follows the condarc's ``ssl_verify`` (a CA bundle path, ``truststore``, ``false``);
    ``no_ssl_verify`` turns verification off for this check only.
    """
    from conda.gateways.connection.session import CondaSession

    _context()
    if hasattr(CondaSession, "cache_clear"):
        CondaSession.cache_clear()
    session = CondaSession()
    if no_ssl_verify:
        session.verify = False
    check_token(session, repo_url(), token)


def _channels_are_configured(existing: list[str]) -> bool:
    base = repo_url()
    short = {c.removeprefix(base) for c in existing}
    return short == {MAIN_CHANNEL, *ACTIVE_CHANNELS}


def _prompt_to_set_default_channels(existing: list[str]) -> bool:
    from anaconda_cli_base import console
    from rich.prompt import Confirm

    if existing:
        console.print("Existing default channels found:")
        for c in existing:
            console.print(f"- {c}")
        console.print("This action will override the existing default_channels setting.")
    else:
        console.print("Prepared to set default channels in .condarc.")
    return Confirm.ask("Proceed?", default=False)


def configure_default_channels(
    condarc_system: bool = False,
    condarc_env: bool = False,
    condarc_file: str | None = None,
    include_archive_channels: list[str] | None = None,
    force: bool = False,
) -> None:
    """Make ``default_channels`` the repository's ``main``, ``r`` and ``msys2`` (plus the
    archive channels asked for), and map the repository host to the auth handler."""
    from anaconda_cli_base import console

    for c in include_archive_channels or []:
        if c not in ARCHIVE_CHANNELS:
            raise ValueError(f"The archive channel {c} is not one of {', '.join(ARCHIVE_CHANNELS)}")
    console.print("Configuring your [cyan].condarc[/cyan] file")
    condarc = CondaRC(_condarc_path(condarc_system, condarc_env, condarc_file))
    existing = [str(c) for c in condarc.get("default_channels") or []]
    if _channels_are_configured(existing) and not include_archive_channels:
        console.print("Default channels already configured, nothing to do.")
        return
    if not (force or _prompt_to_set_default_channels(existing)):
        return
    base = repo_url()
    channels = [urljoin(base, c) for c in [MAIN_CHANNEL, *ACTIVE_CHANNELS]]
    channels += [urljoin(base, c) for c in include_archive_channels or []]
    condarc.remove("default_channels")  # re-added last, where `conda config` (0.15) put it
    condarc.set("default_channels", channels)
    if can_restore_free_channel() and condarc.get("restore_free_channel"):
        condarc.set("restore_free_channel", False)
    condarc.backup()
    condarc.save()


def configure_plugin(condarc_file: str | None = None) -> None:
    """Map the repository host and the configured sites to the auth handler in the condarc
    (``channel_settings``), keeping every other entry."""
    host = urlsplit(repo_url()).netloc
    settings = _build_channel_settings(include_defaults=True, include_sites=False)
    wanted = {s["channel"] for s in settings} | {f"https://{host}/*"}
    condarc = CondaRC(_condarc_path(condarc_file=condarc_file))
    present = {
        s.get("channel")
        for s in condarc.get("channel_settings") or []
        if isinstance(s, dict) and s.get("auth") == HANDLER_NAME
    }
    if wanted <= present:
        return
    condarc.backup()
    for channel in sorted(wanted - present):
        condarc.update_channel_settings(channel, HANDLER_NAME)
    condarc.save()


def _set_keys(path: Path, values: dict[str, Any], remove: tuple[str, ...] = ()) -> None:
    condarc = CondaRC(path)
    changed = False
    for key, value in values.items():
        if condarc.get(key) != value:
            condarc.set(key, value)
            changed = True
    for key in remove:
        if key in condarc.data:
            condarc.remove(key)
            changed = True
    if changed:
        condarc.backup()
        condarc.save()


# -- 0.15's single-key helpers (each one edit of the chosen condarc) -----------------------


def _get_condarc_args(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> list[str]:
    """The ``conda config`` location flags for a condarc choice (as 0.15)."""
    if condarc_system:
        return ["--system"]
    if condarc_env:
        return ["--env"]
    if condarc_file:
        return [f"--file={condarc_file}"]
    return []


def _set_ssl_verify_false(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> None:
    """``ssl_verify: false`` for all of conda: only on request (``--no-ssl-verify``)."""
    _set_keys(_condarc_path(condarc_system, condarc_env, condarc_file), {"ssl_verify": False})


def _set_add_anaconda_token(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> None:
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    _set_keys(path, {"add_anaconda_token": True})


def _unset_restore_free_channel(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> None:
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    _set_keys(path, {"restore_free_channel": False})


def _get_from_condarc(
    key: str,
    default: Any = None,
    condarc_system: bool = False,
    condarc_env: bool = False,
    condarc_file: str | None = None,
) -> Any:
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    return CondaRC(path).get(key, default)


def _get_default_channels(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> list[str]:
    found = _get_from_condarc("default_channels", [], condarc_system, condarc_env, condarc_file)
    return [str(c) for c in found or []]


def _remove_default_channels(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> None:
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    if path.exists():
        _set_keys(path, {}, remove=("default_channels",))


def _set_channel(
    channel: str,
    prepend: bool = True,
    condarc_system: bool = False,
    condarc_env: bool = False,
    condarc_file: str | None = None,
) -> None:
    """Add the repository's ``channel`` to ``default_channels`` (first or last)."""
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    url = urljoin(repo_url(), channel)
    current = [str(c) for c in CondaRC(path).get("default_channels") or [] if str(c) != url]
    _set_keys(path, {"default_channels": [url, *current] if prepend else [*current, url]})


def enable_extra_safety_checks(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> None:
    """Turn on package signature verification (``extra_safety_checks``)."""
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    values = {"extra_safety_checks": True, "signing_metadata_url_base": repo_url().rstrip("/")}
    _set_keys(path, values)


def disable_extra_safety_checks(
    condarc_system: bool = False, condarc_env: bool = False, condarc_file: str | None = None
) -> None:
    path = _condarc_path(condarc_system, condarc_env, condarc_file)
    condarc = CondaRC(path)
    if "extra_safety_checks" in condarc.data or "signing_metadata_url_base" in condarc.data:
        _set_keys(path, {"extra_safety_checks": False}, remove=("signing_metadata_url_base",))


def token_list() -> dict[str, str]:
    """The legacy (binstar) tokens conda knows, by repository URL (any repository)."""
    return dict(read_binstar_tokens())


def token_remove(system: bool = False, env: bool = False, file: str | None = None) -> None:
    """Remove the repository token, the custom ``default_channels`` and signature
    verification, and clean conda's index cache."""
    remove_binstar_token(repo_url())
    path = _condarc_path(system, env, file)
    if path.exists():
        condarc = CondaRC(path)
        if "default_channels" in condarc.data:
            _set_keys(path, {}, remove=("default_channels",))
    disable_extra_safety_checks(system, env, file)
    clean_index()


def token_set(
    token: str,
    system: bool = False,
    env: bool = False,
    file: str | None = None,
    include_archive_channels: list[str] | None = None,
    no_ssl_verify: bool = False,
    enable_signature_verification: bool = False,
    force: bool = False,
) -> None:
    """Store the repository token where conda reads it (as 0.15: conda's token folder) and
    configure the condarc: ``add_anaconda_token``, ``default_channels``, optionally
    ``ssl_verify: false`` (only when asked) and signature verification."""
    url = repo_url()
    remove_binstar_token(url)
    set_binstar_token(url, token)
    path = _condarc_path(system, env, file)
    values: dict[str, Any] = {"add_anaconda_token": True}
    if no_ssl_verify:
        values["ssl_verify"] = False
    _set_keys(path, values)
    if enable_signature_verification:
        enable_extra_safety_checks(system, env, file)
    configure_default_channels(system, env, file, include_archive_channels, force=force)
    clean_index()
