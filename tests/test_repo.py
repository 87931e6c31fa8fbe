"""Repo tokens without conda subprocesses: ``RepoAPIClient``, the kit's repo API and channel,
token validation, the condarc writer, ``env_logger``, and the plugin staying off hot imports.
(Real conda: tests/conda.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from anaconda_auth.env_logger import fetch_org_features, get_orgs_with_env_logger
from anaconda_auth.repo import RepoAPIClient, TokenCreateResponse


@pytest.fixture
def without_conda(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands find no conda (its module is not importable), as where it is missing."""
    from anaconda_auth.plugins.cli import token

    monkeypatch.setattr(token, "_repo_config", lambda: None)


@pytest.fixture
def client(anaconda_logged_in: Any, anaconda_idp: Any) -> RepoAPIClient:
    anaconda_idp.repo.add_organization("acme", title="Acme Corp")
    anaconda_idp.repo.add_organization("hobby", product_code="starter_subscription")
    anaconda_idp.repo.add_organization("elsewhere", members=["bob@example.com"])
    return RepoAPIClient()


def test_organizations_and_business_filter(client: RepoAPIClient) -> None:
    names = [o.name for o in client.get_organizations_for_user()]
    assert names == ["acme", "hobby"]
    business = client.get_business_organizations_for_user()
    assert [(o.name, o.title) for o in business] == [("acme", "Acme Corp")]


def test_issue_token_and_token_info(client: RepoAPIClient, anaconda_idp: Any) -> None:
    assert client._get_repo_token_info("acme") is None
    token = client.issue_new_token("acme", yes=True)
    info = client._get_repo_token_info("acme")
    assert info is not None and anaconda_idp.repo.current["acme"].id == str(info.id)
    assert anaconda_idp.repo.find(token) is not None
    again = client._create_repo_token("acme")
    assert isinstance(again, TokenCreateResponse) and token not in repr(again)
    assert anaconda_idp.repo.find(token) is None  # the old one is revoked


def test_kit_channel_accepts_both_token_forms(client: RepoAPIClient, anaconda_idp: Any) -> None:
    token = anaconda_idp.repo.issue("acme").token
    base, repodata = anaconda_idp.url, "main/noarch/repodata.json"
    with anaconda_idp.http_session() as s:
        assert s.get(f"{base}/repo/{repodata}").status_code == 401
        assert s.get(f"{base}/t/{token}/repo/{repodata}").status_code == 200
        assert s.get(f"{base}/repo/{repodata}", headers={"Authorization": f"token {token}"}).ok
        assert s.get(f"{base}/t/wrong/repo/{repodata}").status_code == 403
        other = anaconda_idp.repo.issue("hobby").token
        assert s.get(f"{base}/t/{other}/repo/acme/{repodata}").status_code == 403
        package = s.get(f"{base}/t/{token}/repo/main/noarch/hello-anaconda-1.0-0.tar.bz2")
        assert package.ok and package.content.startswith(b"BZh")


def test_validation_says_why(anaconda_idp: Any, caplog: pytest.LogCaptureFixture) -> None:
    from anaconda_auth._conda.validation import CondaTokenError, check_token, token_url

    assert token_url("https://h/repo/", "a/b") == "https://h/t/a%2Fb/repo/main/noarch/repodata.json"
    session = anaconda_idp.http_session()
    with pytest.raises(CondaTokenError, match=r"typed it correctly\. \(HTTP 403"):
        check_token(session, anaconda_idp.repo_url, "bad-token")
    untrusting = requests.Session()
    untrusting.trust_env = False
    untrusting.mount("https://", requests.adapters.HTTPAdapter(max_retries=1))  # logs a retry
    with pytest.raises(CondaTokenError, match="TLS connection") as caught:
        check_token(untrusting, anaconda_idp.repo_url, "secret-value")
    assert "secret-value" not in str(caught.value)
    assert "secret-value" not in caplog.text  # urllib3's retry warnings name the URL
    assert "/t/<token>/" in caplog.text
    check_token(session, anaconda_idp.repo_url, anaconda_idp.repo.add_token("x", "good").token)


def test_env_logger_helpers(anaconda_logged_in: Any, anaconda_idp: Any) -> None:
    anaconda_idp.repo.add_organization("acme", features=["environments"])
    anaconda_idp.repo.add_organization("plain")
    features = fetch_org_features()
    assert features == [
        {"org": "acme", "features": ["environments"]},
        {"org": "plain", "features": []},
    ]
    assert get_orgs_with_env_logger(features) == ["acme"]
    anaconda_idp.faults.status["org_features"] = 500
    assert fetch_org_features() is None


# -- the condarc writer --------------------------------------------------------------------


@pytest.fixture
def condarc_cls() -> Any:
    pytest.importorskip("ruamel.yaml", reason="ruamel.yaml (a dependency of conda) is missing")
    from anaconda_auth._conda.condarc import CondaRC, CondaRCError

    return CondaRC, CondaRCError


def test_condarc_keeps_comments_and_writes_atomically(tmp_path: Path, condarc_cls: Any) -> None:
    CondaRC, _ = condarc_cls
    path = tmp_path / ".condarc"
    path.write_text("# mine\nchannels:  # ordered\n  - conda-forge\n")
    path.chmod(0o600)
    rc = CondaRC(path)
    rc.update_channel_settings("https://h/*", "anaconda-auth")
    rc.save()
    text = path.read_text()
    assert "# mine" in text and "# ordered" in text and "auth: anaconda-auth" in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == [".condarc"]


def test_condarc_unparsable_is_an_error_and_untouched(tmp_path: Path, condarc_cls: Any) -> None:
    CondaRC, CondaRCError = condarc_cls
    path = tmp_path / ".condarc"
    path.write_text("channels: [unclosed\n")
    with pytest.raises(CondaRCError, match="Could not parse condarc"):
        CondaRC(path)
    assert path.read_text() == "channels: [unclosed\n"


def test_condarc_symlink_is_written_through(tmp_path: Path, condarc_cls: Any) -> None:
    CondaRC, _ = condarc_cls
    target = tmp_path / "real.yml"
    target.write_text("always_yes: true\n")
    link = tmp_path / ".condarc"
    link.symlink_to(target)
    rc = CondaRC(link)
    rc.set("add_anaconda_token", True)
    rc.save()
    assert link.is_symlink() and "add_anaconda_token: true" in target.read_text()


# -- import cost ---------------------------------------------------------------------------


def test_conda_plugin_stays_off_the_client_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import anaconda_auth.client"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert "anaconda_auth.client" in imported
    assert not {m for m in imported if m.split(".")[0] in ("conda", "ruamel")}
    assert not {m for m in imported if m.startswith(("anaconda_auth._conda", "anaconda_auth.repo"))}


# -- post-login setup (0.15: after `anaconda auth login`, when conda is on PATH) -----------


def _fake_conda(tmp_path: Path, script: str) -> Path:
    """A `conda` on PATH that logs its arguments and runs ``script`` (a shell snippet)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    conda = folder / "conda"
    conda.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/conda.log"\n{script}\n')
    conda.chmod(0o755)
    return folder


def test_post_login_setup_installs_and_registers_for_environment_orgs(
    anaconda_logged_in: Any, anaconda_idp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth._conda.post_login import run_post_login_setup

    anaconda_idp.repo.add_organization("acme", features=["environments"])
    script = 'case "$1" in list) echo "[]";; run) exit 1;; esac; exit 0'
    monkeypatch.setenv("PATH", f"{_fake_conda(tmp_path, script)}:{os.environ['PATH']}")
    asked: list[str] = []
    run_post_login_setup(confirm=lambda q: asked.append(q) or True)
    calls = (tmp_path / "conda.log").read_text().splitlines()
    assert asked and "Environment Manager" in asked[0]
    assert "install --name base anaconda-cloud::anaconda-env-manager --yes --json" in calls
    assert calls[-1] == "env-log register"


def test_post_login_setup_does_nothing_without_environment_orgs_or_conda(
    anaconda_logged_in: Any, anaconda_idp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth._conda.post_login import run_post_login_setup

    anaconda_idp.repo.add_organization("plain")
    monkeypatch.setenv("PATH", f"{_fake_conda(tmp_path, 'exit 0')}:{os.environ['PATH']}")
    run_post_login_setup(confirm=lambda q: pytest.fail("asked"))
    assert not (tmp_path / "conda.log").exists()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    anaconda_idp.repo.add_organization("acme", features=["environments"])
    run_post_login_setup(confirm=lambda q: pytest.fail("asked"))


def test_post_login_setup_failure_is_a_warning(
    anaconda_logged_in: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from anaconda_auth._conda.post_login import run_post_login_setup

    def broken(**_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setenv("PATH", f"{_fake_conda(tmp_path, 'exit 0')}:{os.environ['PATH']}")
    run_post_login_setup(fetch=broken)
    assert "Post-login setup could not be completed" in capsys.readouterr().out


# -- `anaconda token` where conda is not installed -------------------------------------------


@pytest.mark.usefixtures("without_conda")
def test_install_without_conda_validates_with_the_site_tls_and_stores(
    client: RepoAPIClient, anaconda_idp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.plugins.cli.token import app
    from typer.testing import CliRunner

    from anaconda_auth.token import TokenInfo

    monkeypatch.setenv("CONDA_TOKEN_REPO_URL", anaconda_idp.repo_url)
    result = CliRunner().invoke(app, ["install", "--org", "acme", "--yes"])
    assert result.exit_code == 0, result.output
    assert "conda is not installed here" in result.output
    stored = TokenInfo.load(anaconda_idp.domain).get_repo_token("acme")
    assert anaconda_idp.repo.find(stored) is not None
    listed = CliRunner().invoke(app, ["list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and stored in listed.output
    refused = CliRunner().invoke(app, ["set", "x"])
    assert refused.exit_code == 1
    assert "conda, which is not installed" in refused.output
    removed = CliRunner().invoke(app, ["uninstall", "--all"])
    assert removed.exit_code == 0
    assert TokenInfo.load(anaconda_idp.domain).repo_tokens == []


@pytest.mark.usefixtures("without_conda")
def test_install_picks_the_only_business_org_and_aborts_without_one(
    anaconda_logged_in: Any, anaconda_idp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.plugins.cli.token import app
    from typer.testing import CliRunner

    from anaconda_auth.token import TokenInfo

    monkeypatch.setenv("CONDA_TOKEN_REPO_URL", anaconda_idp.repo_url)
    anaconda_idp.repo.add_organization("hobby", product_code="starter_subscription")
    none = CliRunner().invoke(app, ["install", "--yes"])
    assert none.exit_code == 1
    assert "No organizations found." in none.output
    anaconda_idp.repo.add_organization("acme")
    one = CliRunner().invoke(app, ["install", "--yes", "--no-set-default-channels"])
    assert one.exit_code == 0, one.output
    assert "Only one organization found, automatically selecting: acme" in one.output
    assert TokenInfo.load(anaconda_idp.domain).get_repo_token("acme")


def test_anaconda_auth_login_runs_the_post_login_setup(
    anaconda_idp: Any, anaconda_auth_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `anaconda auth login` (device flow against the kit's provider) ends with 0.15's
    set-up: asked, the environment manager installed and the machine registered."""
    from anaconda_cli_base.cli import app
    from typer.testing import CliRunner

    anaconda_idp.settings.device_auto_approve = True
    anaconda_idp.repo.add_organization("acme", features=["environments"])
    script = 'case "$1" in list) echo "[]";; run) exit 1;; esac; exit 0'
    monkeypatch.setenv("PATH", f"{_fake_conda(tmp_path, script)}:{os.environ['PATH']}")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["auth", "login", "--device"], input="y\n")
    assert result.exit_code == 0, result.output
    calls = (tmp_path / "conda.log").read_text().splitlines()
    assert "install --name base anaconda-cloud::anaconda-env-manager --yes --json" in calls
    assert calls[-1] == "env-log register"
