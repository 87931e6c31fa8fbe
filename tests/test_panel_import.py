"""The ``panel.auth`` entry-point module imports cleanly in every order, each in a fresh process.

Panel loads every ``panel.auth`` entry point at the end of importing ``panel.auth`` itself, with
no error guard, so a module that imports ``panel.auth`` at top level breaks whichever import
comes first. Each case runs in its own interpreter so the import order is real.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("panel")

MODULE = "anaconda_auth.plugins.panel"

# Printed by every snippet: what Panel registered and what our module hands out.
REPORT = """
import json, sys
import panel.auth
mod = sys.modules["anaconda_auth.plugins.panel"]
registered = panel.auth.AUTH_PROVIDERS["anaconda_auth"]
print(json.dumps({
    "same": registered is mod.AnacondaLoginHandler,
    "name": registered.__name__,
    "module": registered.__module__,
    "generic": issubclass(registered, panel.auth.GenericLoginHandler),
    "choices": "anaconda_auth" in panel.config.param["_oauth_provider"].objects,
}))
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning:anaconda_auth", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )


def check(code: str) -> dict[str, object]:
    result = run(textwrap.dedent(code) + REPORT)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "same": True,
        "name": "AnacondaLoginHandler",
        "module": MODULE,
        "generic": True,
        "choices": True,
    }
    return report


def test_panel_auth_first_then_ours() -> None:
    check(
        """
        import panel.auth
        import anaconda_auth.plugins.panel
        """
    )


def test_ours_first_then_panel_auth() -> None:
    check(
        """
        import anaconda_auth.plugins.panel
        import panel.auth
        """
    )


def test_handler_attribute_first_then_panel_auth() -> None:
    # The attribute access imports panel.auth, which loads this entry point re-entrantly:
    # both must end up with one class.
    check(
        """
        from anaconda_auth.plugins.panel import AnacondaLoginHandler
        import panel.auth
        assert panel.auth.AUTH_PROVIDERS["anaconda_auth"] is AnacondaLoginHandler
        """
    )


def test_entry_point_load_alone() -> None:
    # What panel.auth does for each entry point, starting from a process with nothing imported.
    check(
        """
        from importlib.metadata import entry_points
        (ep,) = [e for e in entry_points(group="panel.auth") if e.name == "anaconda_auth"]
        assert ep.value == "anaconda_auth.plugins.panel:AnacondaLoginHandler", ep.value
        handler = ep.load()
        """
    )


def test_import_panel_alone() -> None:
    result = run(
        textwrap.dedent(
            """
            import sys
            import panel
            assert "anaconda_auth" not in sys.modules  # panel alone does not load providers
            import panel.command.serve  # what `panel serve` imports; it imports panel.auth
            assert "panel.auth" in sys.modules
            from panel.auth import AUTH_PROVIDERS
            print(AUTH_PROVIDERS["anaconda_auth"].__module__)
            """
        )
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [MODULE]


def test_panel_serve_help_lists_provider() -> None:
    # The `panel` command imports everything at start-up; it must not break.
    result = subprocess.run(
        [sys.executable, "-m", "panel", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--oauth-provider" in result.stdout


def test_module_imports_nothing_heavy_and_core_never_imports_panel() -> None:
    result = run(
        textwrap.dedent(
            """
            import sys
            import anaconda_auth
            import anaconda_auth.config
            import anaconda_auth.plugins.panel
            print(sorted(m for m in ("panel", "tornado", "bokeh") if m in sys.modules))
            """
        )
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_module_imports_without_panel_installed() -> None:
    # Panel absent: our module still imports; only the handler needs Panel.
    result = run(
        textwrap.dedent(
            """
            import sys
            from importlib.abc import MetaPathFinder

            class NoPanel(MetaPathFinder):
                def find_spec(self, name, path=None, target=None):
                    if name == "panel" or name.startswith("panel."):
                        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                    return None

            sys.meta_path.insert(0, NoPanel())
            import anaconda_auth.plugins.panel as mod
            try:
                mod.AnacondaLoginHandler
            except ModuleNotFoundError as exc:
                print("missing", exc.name)
            """
        )
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["missing", "panel"]


def test_unknown_attribute_is_attribute_error() -> None:
    import anaconda_auth.plugins.panel as mod

    with pytest.raises(AttributeError, match="no_such_thing"):
        mod.no_such_thing  # noqa: B018
