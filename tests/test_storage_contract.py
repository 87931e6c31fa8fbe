"""The storage backend test kit (``StorageBackendContract``) applied to every kind of backend.

The built-ins (``anaconda-keyring``, the read-only ``environment``, ``system`` on a private
Secret Service), a minimal third-party backend without ``priority`` (end to end through a real
plugin distribution), and the example of docs/storage-backends.md, run exactly as written.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import tempfile
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from anaconda_auth.plugins.testing import StorageBackendContract
from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend
from anaconda_auth.storage_backends.environment import EnvironmentBackend
from anaconda_auth.storage_backends.system import SystemKeyringBackend
from support.config_files import write_config_toml
from support.docs import code_blocks
from support.plugin_dists import write_dist
from support.processes import run_python
from support.secret_service import (
    AVAILABLE,
    UNAVAILABLE_REASON,
    KeyringSession,
    start_session,
)

from anaconda_auth.exceptions import StorageError
from anaconda_auth.plugin_types import DEFAULT_PRIORITY, StorageBackend, backend_priority

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "storage-backends.md"
EXAMPLE_SECTION = "## A complete example"
KIT_TESTS = sorted(name for name in dir(StorageBackendContract) if name.startswith("test_"))


def run_pytest(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a fresh interpreter, in ``cwd`` (a project of its own), ``-rfs`` reports."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- the built-in backends --------------------------------------------------------------------


class TestAnacondaKeyring(StorageBackendContract):
    @pytest.fixture
    def backend(self, storage_home: Path) -> StorageBackend:
        return AnacondaKeyringBackend(storage_home / "pinned" / "keyring")

    @pytest.fixture
    def failing_backend(self, storage_home: Path) -> StorageBackend:
        (storage_home / "a-file").write_text("")
        return AnacondaKeyringBackend(storage_home / "a-file" / "keyring")


class TestAnacondaKeyringAtTheConfiguredPath(StorageBackendContract):
    """The kit's isolation reaches a backend that reads ``keyring_path`` from current_config()."""

    @pytest.fixture
    def backend(self) -> StorageBackend:
        return AnacondaKeyringBackend()

    def test_path_is_in_the_kits_home(self, backend: StorageBackend, storage_home: Path) -> None:
        assert isinstance(backend, AnacondaKeyringBackend)
        assert backend.path == storage_home / ".anaconda" / "keyring"


class TestEnvironment(StorageBackendContract):
    @pytest.fixture
    def backend(self) -> StorageBackend:
        return EnvironmentBackend()


@pytest.fixture(scope="module")
def secret_service() -> Iterator[KeyringSession]:
    """GNOME Keyring with an unlocked default keyring on a private bus (or a skip, with why)."""
    if not AVAILABLE:
        pytest.skip(UNAVAILABLE_REASON)
    root = Path(tempfile.mkdtemp(prefix="anaconda-auth-gk-"))  # short: socket paths are bounded
    session = start_session(root)
    try:
        try:
            session.start_keyring(unlock=True)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            pytest.skip(f"the Secret Service (gnome-keyring-daemon) could not start: {exc}")
        yield session
    finally:
        session.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


class TestSystem(StorageBackendContract):
    @pytest.fixture
    def backend(
        self, secret_service: KeyringSession, monkeypatch: pytest.MonkeyPatch
    ) -> StorageBackend:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
        return SystemKeyringBackend()


# -- a third-party backend without priority -------------------------------------------------


class DictStorage:
    """A third-party style backend: no ``priority``, no ``read_stamp``, nothing subclassed."""

    name = "dict-store"
    description = "entries in a dict (test plugin)"
    read_only = False

    def __init__(self, capacity: int = 100) -> None:
        self.capacity = capacity
        self.entries: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return f"DictStorage({len(self.entries)} entries)"

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(self.entries) >= self.capacity:
            raise StorageError(f"dict-store is full ({self.capacity} entries); delete some.")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.entries[(service, username)]


class TestDictStorage(StorageBackendContract):
    @pytest.fixture
    def backend(self) -> StorageBackend:
        return DictStorage()

    @pytest.fixture
    def failing_backend(self) -> StorageBackend:
        return DictStorage(capacity=0)


DICT_PLUGIN = (
    "from __future__ import annotations\n\n"
    "from anaconda_auth import hookimpl\n"
    "from anaconda_auth.exceptions import StorageError\n\n\n"
    + inspect.getsource(DictStorage)
    + "\n\nSTORE = DictStorage()\n\n\n"
    "@hookimpl\ndef anaconda_auth_storage_backends():\n    return [STORE]\n"
)


def install_plugin(site: Path, monkeypatch: pytest.MonkeyPatch, modules: list[str]) -> None:
    """Put the distributions written in ``site`` on the path and rebuild the plugin manager."""
    from anaconda_auth.manager import reset_plugin_manager

    for module in modules:
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()


def test_backend_without_priority_works_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.manager import get_plugin_manager
    from anaconda_auth.token import KEYRING_NAME, TokenInfo

    module = f"dict_store_{uuid.uuid4().hex}"
    write_dist(tmp_path / "site", "dict-store", "1.0", {"dict": module}, {module: DICT_PLUGIN})
    install_plugin(tmp_path / "site", monkeypatch, [module])
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "dict-store")

    backend = get_plugin_manager().get_storage_backends()["dict-store"]
    assert not hasattr(backend, "priority")
    assert backend_priority(backend) == DEFAULT_PRIORITY
    TokenInfo(domain="dict.example.test", api_key="dict-key").save()
    assert set(backend.entries) == {(KEYRING_NAME, "dict.example.test")}  # type: ignore[attr-defined]
    loaded = TokenInfo.load("dict.example.test")
    assert (loaded.api_key, loaded.source) == ("dict-key", "dict-store")
    loaded.delete()
    assert backend.entries == {}  # type: ignore[attr-defined]


# -- the guide's example, exactly as written -------------------------------------------------


def guide_blocks() -> dict[str, str]:
    """The fenced blocks of the guide's example, by the path in their first-line comment."""
    return code_blocks(GUIDE, EXAMPLE_SECTION)


def example_module() -> types.ModuleType:
    """The guide's backend module, compiled from the guide."""
    source = guide_blocks()["src/acme_tokens/storage.py"]
    module = types.ModuleType("acme_tokens_guide_example")
    exec(compile(source, str(GUIDE), "exec"), module.__dict__)  # noqa: S102 - our own doc
    return module


EXAMPLE = example_module()


class TestGuideExample(StorageBackendContract):
    """The kit against the guide's class, in this process (the guide's test file runs below)."""

    @pytest.fixture
    def backend(self, storage_home: Path) -> StorageBackend:
        backend: StorageBackend = EXAMPLE.AcmeTokenFiles(storage_home / "tokens")
        return backend

    @pytest.fixture
    def failing_backend(self, storage_home: Path) -> StorageBackend:
        (storage_home / "a-file").write_text("")
        backend: StorageBackend = EXAMPLE.AcmeTokenFiles(storage_home / "a-file" / "tokens")
        return backend


def write_example_project(root: Path) -> dict[str, str]:
    """The guide's files under ``root`` as a project checkout; the blocks by path."""
    blocks = guide_blocks()
    for path, body in blocks.items():
        if path.startswith("~"):
            continue
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    (root / "src" / "acme_tokens" / "__init__.py").write_text("")
    return blocks


def test_guide_test_file_passes_as_written(tmp_path: Path) -> None:
    project = tmp_path / "acme-tokens"
    write_example_project(project)
    env = {
        "PYTHONPATH": str(project / "src"),
        "HOME": str(tmp_path / "home"),
    }
    out = run_pytest(project, env, "tests")
    assert out.returncode == 0, out.stdout + out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert re.search(rf"\b{len(KIT_TESTS) - 3} passed, 3 skipped in\b", summary), out.stdout
    # the only skips: the optional members it lacks
    assert "no read_stamp" in out.stdout and "no check_writable" in out.stdout


def test_guide_example_installs_and_stores_tokens(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.manager import get_plugin_manager
    from anaconda_auth.token import TokenInfo

    blocks = write_example_project(tmp_path / "project")
    project = tomllib.loads(blocks["pyproject.toml"])["project"]
    entry_points: dict[str, str] = project["entry-points"]["anaconda_auth"]
    source = blocks["src/acme_tokens/storage.py"]
    site = tmp_path / "site"
    write_dist(
        site, project["name"], project["version"], entry_points, {"acme_tokens.storage": source}
    )
    install_plugin(site, monkeypatch, ["acme_tokens", "acme_tokens.storage"])
    write_config_toml(isolated_home, blocks["~/.anaconda/config.toml"].split("\n", 1)[1])

    backend = get_plugin_manager().get_storage_backends()["acme-tokens"]
    assert backend_priority(backend) == DEFAULT_PRIORITY
    TokenInfo(domain="acme.example.test", api_key="acme-key").save()
    assert len(list((isolated_home / ".acme-tokens").iterdir())) == 1
    loaded = TokenInfo.load("acme.example.test")
    assert (loaded.api_key, loaded.source) == ("acme-key", "acme-tokens")
    loaded.delete()
    assert list((isolated_home / ".acme-tokens").iterdir()) == []


# -- the kit itself ---------------------------------------------------------------------------


def test_kit_is_imported_lazily() -> None:
    """The ``anaconda-auth-idp`` script imports this package where pytest may be missing."""
    out = run_python(
        """
        import sys
        import anaconda_auth.plugins.testing as testing
        print("pytest" in sys.modules)
        try:
            testing.NoSuchThing
        except AttributeError:
            print("AttributeError")
        from anaconda_auth.plugins.testing import StorageBackendContract
        print(StorageBackendContract.__module__)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "False",
        "AttributeError",
        "anaconda_auth.plugins.testing.storage_contract",
    ]


BROKEN_BACKENDS = """
import time

import pytest
from anaconda_auth.storage_backends.environment import EnvironmentBackend

from anaconda_auth.plugins.testing import StorageBackendContract


class Leaky:
    name = "leaky"
    description = "breaks the rules the kit checks"
    read_only = False
    priority = "high"

    def __init__(self, fail=False):
        self.fail = fail
        self.entries = {}

    def __repr__(self):
        return f"Leaky({self.entries})"

    def is_available(self):
        return True, ""

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        if self.fail:
            raise RuntimeError("cannot store " + password)
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        pass


class Prompting(Leaky):
    def is_available(self):
        return input("unlock? ") == "y", ""


class Slow(Leaky):
    def is_available(self):
        time.sleep(30)
        return True, ""


class TestLeaky(StorageBackendContract):
    @pytest.fixture
    def backend(self):
        return Leaky()

    @pytest.fixture
    def failing_backend(self):
        return Leaky(fail=True)


class TestPrompting(StorageBackendContract):
    @pytest.fixture
    def backend(self):
        return Prompting()


class TestSlow(StorageBackendContract):
    availability_timeout = 0.5

    @pytest.fixture
    def backend(self):
        return Slow()


class TestEnvironment(StorageBackendContract):
    @pytest.fixture
    def backend(self):
        return EnvironmentBackend()
"""


def test_kit_reports_each_broken_rule(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(BROKEN_BACKENDS)
    out = run_pytest(
        tmp_path,
        {"HOME": str(tmp_path)},
        "-k",
        "Leaky or Environment or answers_quickly",
        "test_broken.py",
    )
    failed = set(re.findall(r"^FAILED test_broken.py::(\w+::\w+)", out.stdout, flags=re.M))
    assert failed == {
        "TestLeaky::test_shape",
        "TestLeaky::test_secret_not_in_repr_or_str",
        "TestLeaky::test_secret_not_in_error_messages",
        "TestLeaky::test_delete_existing_entry",
        "TestPrompting::test_is_available_answers_quickly_without_prompting",
        "TestSlow::test_is_available_answers_quickly_without_prompting",
    }, out.stdout
    text = out.stdout
    assert "priority is optional, but when set it must be a number" in text
    assert "the stored secret appears in repr()/str()" in text
    assert "the stored secret appears in the error of set_password" in text
    assert "the entry is still there" in text
    assert "tried to prompt" in text
    assert "did not return within 0.5 s" in text
    skipped = re.findall(r"^SKIPPED \[(\d+)\] .*'environment' is read-only.*$", text, flags=re.M)
    assert sum(map(int, skipped)) == 7, text  # every write test, with the reason
    assert "writable = True" in text


def test_storage_backends_import_only_the_contract() -> None:
    """Backends depend on the contract alone (and on each other), so the core can move."""
    allowed = {
        "anaconda_auth.exceptions",
        "anaconda_auth.hookspecs",
        "anaconda_auth.plugin_types",
        "anaconda_auth.freshness",  # standard-library helpers: the one stat-stamp rule
        "anaconda_auth.plugin_discovery",  # standard-library entry-point cache (keyring's)
    }
    for path in sorted((REPO / "storage_backends").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        ours = {
            name
            for name in imported
            if name.startswith("anaconda_auth")
            and not name.startswith("anaconda_auth.storage_backends")
        }
        assert ours <= allowed, f"{path.name} imports {sorted(ours - allowed)}"
