"""The built distribution installs exactly one import name, with the plugin folders mapped in."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pip(*args: str) -> None:
    """``python -m pip <args> -q`` in this venv; fails the test with pip's output."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "-q"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO))
    (built,) = out.glob("anaconda_auth-*.whl")
    return built


def test_only_anaconda_auth_and_its_0_15_alias_land_in_site_packages(wheel: Path) -> None:
    """``anaconda_cloud_auth`` (0.15's deprecated alias) is the one other name."""
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"anaconda_auth", "anaconda_cloud_auth"}


def test_plugin_folders_are_mapped_into_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "anaconda_auth/py.typed",
        "anaconda_auth/storage_backends/anaconda_keyring.py",
        "anaconda_auth/storage_backends/system.py",
        "anaconda_auth/storage_backends/environment.py",
        "anaconda_auth/plugins/config_sources.py",
        "anaconda_auth/plugins/cli/__init__.py",
        "anaconda_auth/plugins/panel.py",
        "anaconda_auth/plugins/testing/idp.py",
        "anaconda_auth/plugins/testing/pytest_plugin.py",
    ):
        assert expected in names, expected
    assert not any(n.startswith(("tests/", "benchmarks/", "dev/")) for n in names)


def test_entry_points_name_importable_modules(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel alone (dependencies come from this venv) and load every entry point."""
    target = tmp_path / "site"
    pip("install", "--no-deps", "--target", str(target), str(wheel))
    (dist,) = target.glob("anaconda_auth-*.dist-info")
    groups = (dist / "entry_points.txt").read_text()
    for group in ("anaconda_cli.subcommand", "panel.auth", "pytest11", "console_scripts"):
        assert f"[{group}]" in groups
    code = (
        "import sys, importlib.metadata as md\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "import anaconda_auth\n"
        f"assert anaconda_auth.__file__.startswith({str(target)!r}), anaconda_auth.__file__\n"
        f"dist = md.Distribution.at({str(dist)!r})\n"
        "for ep in dist.entry_points:\n"
        "    ep.load()\n"
        "from anaconda_auth.manager import BUILTIN_PLUGINS\n"
        "import importlib\n"
        "for mod in BUILTIN_PLUGINS.values():\n"
        "    importlib.import_module(mod.__name__)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
