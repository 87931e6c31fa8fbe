"""Every test runs with its own HOME, no ANACONDA_* variables, no session bus (so never the
developer's real keyring) and a fresh plugin manager.

Code shared by several test modules lives in the ``support`` package next to this file.
pytest runs with ``--import-mode=importlib``, which leaves ``sys.path`` alone, so this folder
(never the checkout root: the package-dir mapping needs the installed package) is put on it
here; test modules then ``from support.<module> import ...``.

Slow tests are marked here, in one place (:func:`pytest_collection_modifyitems`), so that
``pytest -m "not slow"`` (``tox -e fast``) is a quick tier while ``pytest`` runs everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
pytest.register_assert_rewrite("support")

#: Fixtures shared by several modules (the login tests' fake browser and home).
pytest_plugins = ["support.login"]

#: Folders (under tests/) whose tests are all slow: real browsers, CLI subprocesses, Node.js.
SLOW_FOLDERS = frozenset({"conda", "e2e", "interop"})
#: Modules (paths under tests/) that are slow as a whole: subprocesses, D-Bus, the 0.15.3 venv.
SLOW_MODULES = frozenset(
    {
        "test_accounts.py",  # real logins as two users, 8 concurrent processes
        "test_cli_plugin_failures.py",  # ~8 s of `anaconda` subprocesses
        "test_compat_differential.py",
        "test_hardening_config_fuzz.py",  # hypothesis over every config source (~20 s)
        "test_packaging.py",
        "test_panel_import.py",
        "test_side_by_side_015.py",  # ~20 subprocesses of the real anaconda-auth 0.15.3
        "test_system_backend.py",
        "test_token_update_lock.py",  # a device login in a subprocess
        "test_wire_parity.py",  # device logins at the provider's 1 s poll interval
    }
)
#: Single tests (``module::name``, every parametrization) of more than about 2 s, in otherwise
#: quick modules.
SLOW_TESTS = frozenset(
    {
        "test_anaconda_keyring.py::test_any_entries_round_trip",
        "test_anaconda_keyring.py::test_concurrent_writers_lose_nothing",
        "test_anaconda_keyring.py::test_headless_copy_needs_the_key_file_too",
        "test_anaconda_keyring.py::test_headless_copy_with_a_passphrase",
        "test_anaconda_keyring.py::test_keyring_written_by_anaconda_auth_0_15_3",
        "test_anaconda_keyring.py::test_sigkill_at_random_moments_never_leaves_a_partial_file",
        "test_anaconda_keyring.py::test_threads_in_one_process_do_not_lose_writes",
        "test_anaconda_keyring.py::test_warm_reads_stat_only_and_see_other_processes_writes",
        "test_caches.py::test_a_token_written_by_another_process_is_seen",
        "test_hardening_config.py::test_auth_config_cuts_huge_values",
        "test_cli.py::test_config_command_masks_secrets",
        "test_cli.py::test_config_error_is_reported",
        "test_cli.py::test_plugins_command",
        "test_idp.py::test_device_flow_pending_slow_down_approve",
        "test_idp.py::test_fixtures_in_a_downstream_project",
        "test_idp.py::test_readme_fixture_examples",
        "test_login_faults.py::test_a_replayed_callback_is_rejected_while_the_login_runs",
        "test_login_faults.py::test_ctrl_c_cancels_cleanly",
        "test_sites_cli.py::test_real_anaconda_sites_list_and_cloud",
        "test_compat_names.py::test_panel_login_handler_from_the_0_15_path",
        "test_storage_contract.py::test_guide_test_file_passes_as_written",
        "test_storage_contract.py::test_kit_reports_each_broken_rule",
        "test_third_party_plugin.py::test_contributing_example_stores_and_reads_tokens",
    }
)


def is_slow(item: pytest.Item) -> bool:
    if not item.path.is_relative_to(TESTS_DIR):
        return False
    path = item.path.relative_to(TESTS_DIR)
    name = item.nodeid.split("::", 1)[-1].split("[", 1)[0]
    return (
        path.parts[0] in SLOW_FOLDERS
        or path.as_posix() in SLOW_MODULES
        or f"{path.as_posix()}::{name}" in SLOW_TESTS
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    for name in list(os.environ):
        if (
            name.startswith(("ANACONDA_", "PANEL_OAUTH"))
            and name != "ANACONDA_CLI_DISABLE_TELEMETRY"
        ):
            monkeypatch.delenv(name, raising=False)
    # Never the developer's real keyring: tests that need a Secret Service start their own.
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    # The entry-point cache (anaconda_auth.plugin_discovery) goes to the test's HOME.
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(home / "no-secrets"))
    monkeypatch.chdir(home)
    from anaconda_auth.manager import reset_plugin_manager

    reset_plugin_manager()
    yield home
    reset_plugin_manager()
