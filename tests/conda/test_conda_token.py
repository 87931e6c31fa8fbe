"""``conda token list|set|remove`` (the conda subcommand) and the ``conda-token`` script."""

from __future__ import annotations

from support.conda import CondaRig


def test_set_list_search_remove(conda_rig: CondaRig) -> None:
    rig = conda_rig
    token = rig.idp.repo.issue("acme").token
    missing = rig.run_conda("token", "list")
    assert missing.returncode == 1
    assert f"No tokens have been configured for {rig.idp.repo_url}" in missing.stderr

    result = rig.run_conda("token", "set", token, "--force-config-condarc")
    assert result.returncode == 0, result
    assert "Success! Your token was validated and Conda has been configured." in result.stdout
    condarc = rig.user_condarc.read_text()
    assert "add_anaconda_token: true" in condarc
    assert "ssl_verify" not in condarc  # never turned off unless asked
    assert token not in condarc

    listed = rig.run_conda("token", "list")
    assert listed.returncode == 0, listed
    assert listed.stdout.strip() == f"{rig.idp.repo_url} {token}"
    assert rig.conda_token_script("list").stdout == listed.stdout

    # conda puts the legacy token into the URL (/t/<token>/), with no auth handler
    found = rig.search(rig.channel("main"))
    assert found.returncode == 0, found
    assert any(r.path.startswith(f"/t/{token}/repo/main/") for r in rig.channel_requests())

    removed = rig.run_conda("token", "remove")
    assert removed.returncode == 0, removed
    assert rig.run_conda("token", "list").returncode == 1
    assert "default_channels" not in rig.user_condarc.read_text()


def test_set_refuses_a_bad_token_with_the_reason(conda_rig: CondaRig) -> None:
    result = conda_rig.run_conda("token", "set", "wrong-token")
    assert result.returncode == 1
    assert "The token could not be validated" in result.stderr
    assert "HTTP 403" in result.stderr
    assert conda_rig.run_conda("token", "list").returncode == 1


def test_set_follows_ssl_verify_of_the_condarc(conda_rig: CondaRig) -> None:
    """0.15.3 validated with conda's default TLS settings: a private CA failed."""
    rig = conda_rig
    token = rig.idp.repo.issue("acme").token
    ok = rig.conda_token_script("set", token, "--force-config-condarc")
    assert ok.returncode == 0, ok
    rig.condarc.write_text(rig.condarc.read_text().replace(str(rig.idp.ca_path), "true"))
    refused = rig.conda_token_script("set", token, "--force-config-condarc")
    assert refused.returncode == 1
    assert "TLS connection" in refused.stderr and "ssl_verify" in refused.stderr


def test_script_help_and_version(conda_rig: CondaRig) -> None:
    helped = conda_rig.conda_token_script()
    assert helped.returncode == 0
    assert "Configure token access for Anaconda Commercial Edition" in helped.stdout
    version = conda_rig.conda_token_script("--version")
    assert version.stdout.startswith("conda-token ")


def test_set_options_write_the_chosen_file_and_remove_reverts(conda_rig: CondaRig) -> None:
    rig = conda_rig
    token = rig.idp.repo.issue("acme").token
    target = rig.tmp / "team.condarc"
    target.write_text("# team settings\nalways_yes: true\n")
    result = rig.run_conda(
        "token", "set", token, "--file", str(target), "--include-archive-channels", "free",
        "pro", "--enable-signature-verification", "--force-config-condarc",
    )  # fmt: skip
    assert result.returncode == 0, result
    text = target.read_text()
    assert "# team settings" in text and "always_yes: true" in text
    assert "extra_safety_checks: true" in text
    assert f"signing_metadata_url_base: {rig.idp.repo_url.rstrip('/')}" in text
    for channel in ("main", "r", "msys2", "free", "pro"):
        assert f"- {rig.idp.repo_url}{channel}\n" in text
    assert not rig.user_condarc.exists()
    assert (rig.tmp / "team.condarc.bak").read_text().startswith("# team settings")

    removed = rig.run_conda("token", "remove", "--file", str(target))
    assert removed.returncode == 0, removed
    text = target.read_text()
    assert "default_channels" not in text and "signing_metadata_url_base" not in text
    assert "extra_safety_checks: false" in text and "# team settings" in text


def test_set_rejects_an_unknown_archive_channel(conda_rig: CondaRig) -> None:
    result = conda_rig.conda_token_script("set", "x", "--include-archive-channels", "nope")
    assert result.returncode == 2
    assert "invalid choice: 'nope'" in result.stderr
