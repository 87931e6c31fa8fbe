"""``anaconda token`` and the conda auth handler, end to end: real conda, the kit's channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.conda import CondaRig

from anaconda_auth.token import TokenInfo


def stored_repo_tokens(rig: CondaRig) -> dict[str | None, str]:
    info = TokenInfo.load(rig.idp.domain, create=True)
    return {t.org_name: t.token for t in info.repo_tokens}


def test_install_then_conda_search_and_create_then_uninstall(
    conda_rig: CondaRig, anaconda_logged_in: Any
) -> None:
    rig = conda_rig
    # logged in through ANACONDA_AUTH_API_KEY only (0.15 issued the token, then crashed)
    info = TokenInfo.load(rig.idp.domain)
    info.delete()
    key = anaconda_logged_in.api_key
    result = rig.run_anaconda(
        "token", "install", "--org", "acme", "--yes", ANACONDA_AUTH_API_KEY=key
    )
    assert result.returncode == 0, result
    assert "Success! Your token has been installed and validated" in result.stdout
    token = stored_repo_tokens(rig)["acme"]
    assert rig.idp.repo.find(token) is not None
    condarc = rig.user_condarc.read_text()
    assert f"{rig.idp.repo_url}main" in condarc
    assert "auth: anaconda-auth" in condarc
    assert token not in condarc

    # conda, with no API key anywhere, gets in with the repo token as `token ...`
    rig.idp.clear_requests()
    found = rig.search(rig.channel("acme/main"))
    assert found.returncode == 0, found
    assert "hello-anaconda" in found.stdout
    assert token not in found.output
    headers = [r.headers.get("Authorization") for r in rig.channel_requests()]
    assert headers and all(h == f"token {token}" for h in headers)

    prefix = rig.tmp / "env"
    created = rig.run_conda(
        "create", "-p", str(prefix), "-c", rig.channel("acme/main"), "--override-channels",
        "hello-anaconda", "-y",
    )  # fmt: skip
    assert created.returncode == 0, created
    assert (prefix / "share/hello-anaconda/hello.txt").read_text().startswith("Hello")
    assert token not in created.output

    removed = rig.run_anaconda("token", "uninstall", "--org", "acme")
    assert removed.returncode == 0, removed
    assert stored_repo_tokens(rig) == {}
    refused = rig.search(rig.channel("acme/main"))
    assert refused.returncode != 0
    assert "Token not found for" in refused.stderr
    assert "Please install token with `anaconda" in refused.stderr


def test_api_key_login_lets_conda_in_with_bearer(
    conda_rig: CondaRig, anaconda_logged_in: Any
) -> None:
    rig = conda_rig
    rig.map_handler()
    found = rig.search(rig.channel("main"))
    assert found.returncode == 0, found
    headers = {r.headers.get("Authorization") for r in rig.channel_requests()}
    assert headers == {f"Bearer {anaconda_logged_in.api_key}"}
    assert anaconda_logged_in.api_key not in found.output

    rig.idp.revoke_api_key(anaconda_logged_in.api_key)
    refused = rig.search(rig.channel("other"))
    assert refused.returncode != 0
    assert "Received authentication error (403)" in refused.stderr
    assert "anaconda login" in refused.stderr


def test_expired_api_key_is_reported_as_expired(conda_rig: CondaRig) -> None:
    rig = conda_rig
    rig.map_handler()
    expired = rig.idp.mint_api_key(lifetime=-60)
    TokenInfo(domain=rig.idp.domain, api_key=expired).save()
    refused = rig.search(rig.channel("main"))
    assert refused.returncode != 0
    assert "expired on" in refused.stderr and "anaconda login" in refused.stderr
    # an expired key is not even sent
    assert all("Authorization" not in r.headers for r in rig.channel_requests())


def test_unknown_credential_type_is_a_clear_error(conda_rig: CondaRig) -> None:
    rig = conda_rig
    rig.map_handler(credential_type="passport")
    refused = rig.search(rig.channel("main"))
    assert refused.returncode != 0
    assert "credential_type 'passport'" in refused.stderr
    assert "'api-key', 'repo-token'" in refused.stderr
    assert "Traceback" not in refused.output


def test_repo_token_credential_type_picks_the_org_token(
    conda_rig: CondaRig, anaconda_logged_in: Any
) -> None:
    rig = conda_rig
    rig.idp.repo.add_organization("other")
    acme = rig.idp.repo.issue("acme").token
    other = rig.idp.repo.issue("other").token
    info = TokenInfo.load(rig.idp.domain)
    info.set_repo_token("other", other)
    info.set_repo_token("acme", acme)
    info.save()
    rig.map_handler(credential_type="repo-token")
    for org, token in (("acme", acme), ("other", other)):
        rig.idp.clear_requests()
        assert rig.search(rig.channel(f"{org}/main")).returncode == 0
        assert {r.headers.get("Authorization") for r in rig.channel_requests()} == {
            f"token {token}"
        }


def test_bad_token_says_why_and_is_not_stored(conda_rig: CondaRig, anaconda_logged_in: Any) -> None:
    rig = conda_rig
    result = rig.run_anaconda("token", "install", "not-a-token", "--org", "acme", "--yes")
    assert result.returncode == 1, result
    assert "The token could not be validated" in result.stderr
    assert "HTTP 403" in result.stderr
    assert "not-a-token" not in result.output
    assert stored_repo_tokens(rig) == {}


def test_existing_token_asks_before_reissuing(conda_rig: CondaRig, anaconda_logged_in: Any) -> None:
    rig = conda_rig
    old = rig.idp.repo.issue("acme").token
    declined = rig.run_anaconda("token", "install", "--org", "acme", input="n\n")
    assert declined.returncode == 1, declined
    assert "An existing token already exists for the organization acme" in declined.stdout
    assert rig.idp.repo.find(old) is not None  # nothing was revoked
    accepted = rig.run_anaconda(
        "token", "install", "--org", "acme", "--no-set-default-channels", input="y\n"
    )
    assert accepted.returncode == 0, accepted
    assert rig.idp.repo.find(old) is None
    assert stored_repo_tokens(rig)["acme"] != old
    assert not rig.user_condarc.exists()


def test_list_shows_repo_and_legacy_tokens(conda_rig: CondaRig, anaconda_logged_in: Any) -> None:
    rig = conda_rig
    empty = rig.run_anaconda("token", "list")
    assert empty.returncode == 1
    assert "No repo tokens are installed. Run anaconda token install." in empty.stderr
    info = TokenInfo.load(rig.idp.domain)
    info.set_repo_token("acme", "repo-token-value")
    info.save()
    legacy = rig.idp.repo.add_token("acme", "legacy-token-value").token
    assert rig.run_conda("token", "set", legacy, "--force-config-condarc").returncode == 0
    listed = rig.run_anaconda("token", "list")
    assert listed.returncode == 0, listed
    assert "Anaconda Repository Tokens" in listed.stdout
    assert "repo-token-value" in listed.stdout and "legacy-token-value" in listed.stdout


def test_config_keeps_comments_and_backs_up(conda_rig: CondaRig, anaconda_logged_in: Any) -> None:
    rig = conda_rig
    original = "# my conda settings\nalways_yes: true  # I like it\nchannels:\n  - conda-forge\n"
    rig.user_condarc.write_text(original)
    result = rig.run_anaconda("token", "config", "--force")
    assert result.returncode == 0, result
    text = rig.user_condarc.read_text()
    assert "# my conda settings" in text and "# I like it" in text and "conda-forge" in text
    assert "default_channels" in text and "ssl_verify" not in text
    assert Path(str(rig.user_condarc) + ".bak").read_text() == original
    again = rig.run_anaconda("token", "config", "--force")
    assert "Default channels already configured, nothing to do." in again.stdout


def test_conda_readers_and_token_writers_at_once_lose_nothing(
    conda_rig: CondaRig, anaconda_logged_in: Any
) -> None:
    import subprocess
    import sys

    from support.cli import ANACONDA

    rig = conda_rig
    rig.idp.repo.add_organization("other")
    rig.map_handler()
    search = [sys.executable, "-m", "conda", "search", "--override-channels", "hello-anaconda"]
    commands = [[*search, "-c", rig.channel(f"ch{i}")] for i in range(3)]
    commands += [[ANACONDA, "token", "install", "--org", org, "--yes"] for org in ("acme", "other")]
    procs = [
        subprocess.Popen(cmd, env=rig.env, cwd=rig.home, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]  # fmt: skip
    results = [(p.args, *p.communicate(timeout=240), p.returncode) for p in procs]
    assert all(rc == 0 for *_, rc in results), results
    info = TokenInfo.load(rig.idp.domain)
    assert info.api_key == anaconda_logged_in.api_key
    tokens = {t.org_name: t.token for t in info.repo_tokens}
    assert set(tokens) == {"acme", "other"}
    assert all(rig.idp.repo.find(t) for t in tokens.values())


def test_credentials_stay_out_of_conda_debug_output(
    conda_rig: CondaRig, anaconda_logged_in: Any
) -> None:
    rig = conda_rig
    rig.map_handler()
    key = anaconda_logged_in.api_key
    found = rig.run_conda("search", "-vvv", "-c", rig.channel("main"), "--override-channels",
                          "hello-anaconda")  # fmt: skip
    assert found.returncode == 0, found
    assert "hello-anaconda" in found.stdout
    assert key not in found.output
    token = rig.idp.repo.issue("acme").token
    info = TokenInfo.load(rig.idp.domain)
    info.api_key = None
    info.set_repo_token("acme", token)
    info.save()
    found = rig.run_conda("search", "-vvv", "-c", rig.channel("acme/main"), "--override-channels",
                          "hello-anaconda")  # fmt: skip
    assert found.returncode == 0, found
    assert token not in found.output
