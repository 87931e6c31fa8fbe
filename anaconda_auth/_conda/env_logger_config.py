"""The environment manager of 0.15's post-login setup, driven through the ``conda`` command.

Organizations with the *environments* feature ask their members to install
``anaconda-env-manager`` into conda's base environment and register the machine
(``conda env-log register``). Every helper reports failure as a value (``False``, an error
text) and logs details at DEBUG; the caller turns that into a warning, never a failed login.

The package comes from the configuration: ``env_manager_channel`` (default ``anaconda-cloud``),
``env_manager_package`` (``anaconda-env-manager``), ``env_manager_version`` (a version, or a
spec such as ``>=1.2``; none by default).
"""

from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

from anaconda_cli_base.console import console

logger = logging.getLogger(__name__)

TOS_PLUGIN = "conda-anaconda-tos"
DEFAULTS = {
    "env_manager_channel": "anaconda-cloud",
    "env_manager_package": "anaconda-env-manager",
    "env_manager_version": None,
}


def _setting(name: str) -> Any:
    from anaconda_auth.config import AnacondaAuthConfig

    value = getattr(AnacondaAuthConfig(), name, None)
    return DEFAULTS[name] if value in (None, "") else value


def _package_spec() -> str:
    version = _setting("env_manager_version")
    spec = f"{_setting('env_manager_channel')}::{_setting('env_manager_package')}"
    if version:
        version = str(version).strip()
        spec += version if version[0] in "=<>!~" else f"={version}"
    return spec


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None


def _in_base(conda_path: str, package: str) -> bool:
    """Whether ``package`` is installed in conda's base environment (``conda list --json``)."""
    proc = subprocess.run(
        [conda_path, "list", "-n", "base", package, "--json"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return False
    packages = _json(proc.stdout)
    if not isinstance(packages, list):
        return False
    return any(isinstance(p, dict) and p.get("name") == package for p in packages)


def is_env_manager_installed(conda_path: str) -> bool:
    """Whether the environment manager package is in the base environment."""
    package = _setting("env_manager_package")
    try:
        return _in_base(conda_path, package)
    except OSError as exc:
        logger.debug("Failed to check for %s: %s", package, exc)
        return False


def _tos_plugin_available(conda_path: str) -> bool:
    """Whether conda's Terms-of-Service plugin is installed in the base environment."""
    proc = subprocess.run(
        [conda_path, "list", "-n", "base", TOS_PLUGIN, "--json"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        logger.debug("%s probe failed (exit code %d): %s", TOS_PLUGIN, proc.returncode, proc.stderr)
        return False
    packages = _json(proc.stdout)
    return isinstance(packages, list) and any(
        isinstance(p, dict) and p.get("name") == TOS_PLUGIN for p in packages
    )


def _error_message(proc: Any) -> str | None:
    """The ``message`` of conda's ``--json`` error (stdout, or stderr from a pre-command hook)."""
    for stream in (proc.stdout, proc.stderr):
        data = _json(stream)
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    return None


def install_env_manager(conda_path: str) -> tuple[bool, str]:
    """Accept the channels' terms when conda's ToS plugin can ask, then install the package
    into base. ``(True, "")``, or ``(False, why)``; a confirmed ToS rejection stops before the
    install. The ToS step's own errors are logged, not shown: ``conda install`` enforces the
    terms itself and reports them."""
    console.print("Checking channel Terms of Service...")
    if _tos_plugin_available(conda_path):
        proc = subprocess.run([conda_path, "tos", "interactive"], stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            logger.debug("conda tos interactive exited %d: %s", proc.returncode, proc.stderr)
            stderr = proc.stderr if isinstance(proc.stderr, str) else ""
            if "CondaToSRejectedError" in stderr:
                detail = stderr.split("CondaToSRejectedError:", 1)[-1].strip()
                return False, detail or "Terms of Service were rejected."
    console.print("Installing anaconda-env-manager...")
    spec = _package_spec()
    proc = subprocess.run(
        [conda_path, "install", "--name", "base", spec, "--yes", "--json"],
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        return True, ""
    error = f"conda install exited with code {proc.returncode}."
    stderr = proc.stderr.strip() if isinstance(proc.stderr, str) else ""
    detail = _error_message(proc) or stderr
    if detail:
        error = f"{error} {detail}"
    logger.debug("Failed to install %s: %s", spec, error)
    return False, error


def get_client_token(conda_path: str) -> str | None:
    """anaconda-anon-usage's client token of the base environment, if it has one."""
    code = "from anaconda_anon_usage.tokens import client_token; print(client_token())"
    args = [conda_path, "run", "-n", "base", "--no-capture-output", "python", "-c", code]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        logger.debug("Failed to get client token: %s", proc.stderr)
        return None
    token = proc.stdout.strip() if isinstance(proc.stdout, str) else ""
    return token or None


def is_client_registered(conda_path: str) -> bool:
    """Whether this machine's client token is already registered with Anaconda."""
    token = get_client_token(conda_path)
    if not token:
        return False
    from anaconda_auth.env_logger import check_client_token_status

    return check_client_token_status(token)


def register_org(conda_path: str) -> bool:
    """``conda env-log register`` (interactive: it inherits the terminal)."""
    proc = subprocess.run([conda_path, "env-log", "register"])
    if proc.returncode != 0:
        logger.debug("Failed to register org (exit code %d)", proc.returncode)
        return False
    return True
