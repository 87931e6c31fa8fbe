"""``anaconda sites`` and the config.toml writer: real files in the test's HOME, the commands
through typer's CliRunner, one real ``anaconda sites list`` through anaconda-cli-base."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from anaconda_auth.plugins.cli.sites import app
from support.cli import ANACONDA, strip_ansi
from support.tokens import jwt
from typer.testing import CliRunner

from anaconda_auth.exceptions import ConfigError

COMMENTED = """\
# my settings, kept by hand
top = "level"  # a top-level key

[plugin.other]  # another tool's table
answer = 42

[sites.corp]  # the company site
domain = "corp.example.com"
ssl_verify = false  # behind a proxy
custom_key = "unknown to anaconda-auth"
"""


@pytest.fixture
def config(isolated_home: Path) -> Path:
    path = isolated_home / ".anaconda" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run(*args: str, input: str | None = None) -> typer.testing.Result:
    result = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    return result


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".config_"))


# -- list and show ------------------------------------------------------------------------------


def test_list_without_a_config_file_shows_anaconda_com() -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "anaconda.com" in result.stdout
    assert "anaconda sites show" in result.stdout


def test_list_shows_which_sites_are_logged_in(config: Path) -> None:
    config.write_text(COMMENTED + '\n[sites.other]\ndomain = "other.example.com"\n')
    from anaconda_auth.token import TokenInfo

    TokenInfo(domain="corp.example.com", api_key=jwt()).save()
    result = run("list")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "✔" in rows["corp"].split("│")[4]
    assert "✔" in rows["corp"].split("│")[3]  # the first table is the default
    assert "✔" not in rows["other"]


def test_list_shows_an_unreadable_store_and_does_not_crash(isolated_home: Path) -> None:
    keyring = isolated_home / ".anaconda" / "keyring"
    keyring.parent.mkdir(parents=True)
    keyring.mkdir()  # a directory where the token file should be
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "anaconda.com" in result.stdout


def test_show_default_all_and_hidden(config: Path) -> None:
    config.write_text(COMMENTED.replace("custom_key", 'api_key = "secret-key"\ncustom_key'))
    result = run("show")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["site"] == "corp" and data["domain"] == "corp.example.com"
    assert "api_key" not in data and "client_id" not in data
    hidden = json.loads(run("show", "corp", "--show-hidden").stdout)
    assert "client_id" in hidden
    assert "secret-key" not in json.dumps(hidden)
    everything = json.loads(run("show", "--all").stdout)
    assert list(everything) == ["corp"]
    assert run("show", "corp.example.com").exit_code == 0


def test_show_hidden_masks_every_secret(config: Path) -> None:
    config.write_text(
        '[sites.corp]\ndomain = "corp.example.com"\n'
        'extra_headers = { "X-Api-Token" = "header-secret", "X-Team" = "blue" }\n'
        'proxy_servers = { https = "http://user:proxy-secret@proxy.local:3128" }\n'
        '[sites.corp.keyring."Anaconda Cloud"]\n"corp.example.com" = "keyring-secret"\n'
    )
    result = run("show", "corp", "--show-hidden")
    assert result.exit_code == 0, result.output
    for secret in ("header-secret", "proxy-secret", "keyring-secret"):
        assert secret not in result.output
    shown = json.loads(result.stdout)
    assert shown["extra_headers"]["X-Team"] == "blue"  # only the secret header is masked
    assert shown["proxy_servers"]["https"].endswith("@proxy.local:3128")


def test_show_unknown_site_is_an_error(config: Path) -> None:
    config.write_text(COMMENTED)
    result = run("show", "nowhere")
    assert result.exit_code == 1
    assert "nowhere" in result.stderr and "Traceback" not in result.output


# -- add, modify, remove: the file keeps what the person wrote ---------------------------------


def test_add_keeps_comments_order_and_other_tables(config: Path) -> None:
    config.write_text(COMMENTED)
    result = run(
        "add",
        "--domain",
        "new.example.com",
        "--name",
        "new",
        "--extra-headers",
        '{"X-A": "1"}',
        "--yes",
    )
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stderr
    text = config.read_text()
    assert text.startswith(COMMENTED)  # everything the person wrote, byte for byte
    added = text[len(COMMENTED) :]
    assert "[sites.new]" in added and 'domain = "new.example.com"' in added
    assert 'extra_headers = {X-A = "1"}' in added or "X-A" in added
    from anaconda_auth.config import AnacondaAuthSitesConfig

    sites = AnacondaAuthSitesConfig()
    assert list(sites.sites.root) == ["corp", "new"]
    assert sites.sites.root["new"].extra_headers == {"X-A": "1"}
    assert sites.default_site == "corp"


def test_add_default_and_modify_and_remove(config: Path) -> None:
    config.write_text(COMMENTED)
    assert run("add", "--domain", "b.example.com", "--default", "--yes").exit_code == 0
    text = config.read_text()
    assert text.startswith("# my settings")
    assert text.index('default_site = "b.example.com"') < text.index("[plugin.other]")

    result = run("modify", "--name", "corp", "--use-truststore", "-y")
    assert result.exit_code == 0, result.output
    text = config.read_text()
    assert 'ssl_verify = "truststore"  # behind a proxy' in text
    assert "# the company site" in text and 'custom_key = "unknown' in text

    result = run("remove", "b.example.com", "--yes")
    assert result.exit_code == 0, result.output
    text = config.read_text()
    assert '[sites."b.example.com"]' not in text
    assert "[plugin.other]  # another tool's table" in text
    from anaconda_auth.config import AnacondaAuthSitesConfig

    assert AnacondaAuthSitesConfig().default_site == "corp"


def test_add_and_modify_pin_an_account_and_an_empty_one_unpins(config: Path) -> None:
    from anaconda_auth.actions import load_site_config

    result = run(
        "add", "--domain", "anaconda.com", "--name", "work", "--account", "a@corp.com", "-y"
    )
    assert result.exit_code == 0, result.output
    assert 'account = "a@corp.com"' in config.read_text()
    assert load_site_config("work").account == "a@corp.com"

    assert run("modify", "--name", "work", "--account", "b@corp.com", "-y").exit_code == 0
    assert load_site_config("work").account == "b@corp.com"

    assert run("modify", "--name", "work", "--account", "", "-y").exit_code == 0
    assert "account" not in config.read_text()
    assert load_site_config("work").account is None

    result = run("add", "--domain", "example.com", "--name", "ex", "--account", "", "-y")
    assert result.exit_code == 0, result.output
    assert "account" not in config.read_text()


def test_first_add_replaces_the_implicit_anaconda_com(config: Path) -> None:
    result = run("add", "--domain", "corp.example.com", "--yes")
    assert result.exit_code == 0, result.output
    # 0.15's layout: the default is written with the first site table
    assert config.read_text() == (
        'default_site = "corp.example.com"\n\n[sites."corp.example.com"]\n'
        'domain = "corp.example.com"\n'
    )
    from anaconda_auth.config import AnacondaAuthSitesConfig

    sites = AnacondaAuthSitesConfig()
    assert list(sites.sites.root) == ["corp.example.com"]
    assert sites.default_site == "corp.example.com"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # a new file may hold an API key


@pytest.mark.parametrize(
    ("flags", "default"), [([], "anaconda.com"), (["--default"], "corp")], ids=["kept", "default"]
)
def test_no_remove_anaconda_com_writes_the_implicit_site(
    config: Path, flags: list[str], default: str
) -> None:
    args = ["add", "--name", "corp", "--domain", "corp.example.com", "--no-remove-anaconda-com"]
    result = run(*args, *flags, "-y")
    assert result.exit_code == 0, result.output
    # without the [sites."anaconda.com"] table, a file with site tables has no anaconda.com
    assert config.read_text() == (
        f'default_site = "{default}"\n\n[sites."anaconda.com"]\n\n'
        '[sites.corp]\ndomain = "corp.example.com"\n'
    )
    from anaconda_auth.config import AnacondaAuthSitesConfig

    sites = AnacondaAuthSitesConfig()
    assert list(sites.sites.root) == ["anaconda.com", "corp"]
    assert sites.default_site == default


def test_a_written_anaconda_com_table_is_removed_only_when_asked(config: Path) -> None:
    text = '[sites."anaconda.com"]\nssl_verify = false  # mine\n'
    config.write_text(text)
    assert run("add", "--domain", "b.example.com", "-y").exit_code == 0
    assert config.read_text().startswith(text)  # kept: the person wrote it
    assert run("add", "--domain", "c.example.com", "--remove-anaconda-com", "-y").exit_code == 0
    assert "anaconda.com" not in config.read_text()


def test_typed_options_are_written_even_when_default(config: Path) -> None:
    config.write_text(COMMENTED)
    result = run("add", "--domain", "d.example.com", "--ssl-verify", "--no-use-device-flow", "-y")
    assert result.exit_code == 0, result.output
    added = config.read_text()[len(COMMENTED) :]
    assert added == (
        '\n[sites."d.example.com"]\ndomain = "d.example.com"\nssl_verify = true\n'
        "use_device_flow = false\n"
    )
    # an unchanged value keeps its line (and comment) as written
    assert run("modify", "--name", "corp", "--no-ssl-verify", "-y").exit_code == 0
    assert "ssl_verify = false  # behind a proxy" in config.read_text()


def test_the_default_from_the_environment_is_not_pinned(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_DEFAULT_SITE", "anaconda.com")
    assert run("add", "--domain", "d.example.com", "--no-remove-anaconda-com", "-y").exit_code == 0
    assert "default_site" not in config.read_text()


def test_write_config_writes_the_implicit_site_with_the_first_table(config: Path) -> None:
    """0.15's AnacondaAuthSitesConfig().add(...); .write_config(): both sites remain."""
    from anaconda_auth.config import AnacondaAuthSite, AnacondaAuthSitesConfig

    config.write_text("[plugin.auth]\nuse_device_flow = true\n")
    sites = AnacondaAuthSitesConfig()
    sites.add(AnacondaAuthSite(domain="foo.bar", site="foo-bar"))
    sites.write_config()
    again = AnacondaAuthSitesConfig()
    assert list(again.sites.root) == ["anaconda.com", "foo-bar"]
    assert again.default_site == "anaconda.com"
    assert again.sites["foo.bar"].use_device_flow is True  # [plugin.auth] still applies
    assert "[plugin.auth]\nuse_device_flow = true\n" in config.read_text()
    # writing an unchanged implicit site alone writes nothing
    config.unlink()
    AnacondaAuthSitesConfig().write_config()
    assert not config.exists()


def test_dry_run_prints_a_diff_and_writes_nothing(config: Path) -> None:
    config.write_text(COMMENTED)
    before = config.stat()
    result = run("add", "--domain", "d.example.com", "--dry-run")
    assert result.exit_code == 0, result.output
    assert '+[sites."d.example.com"]' in result.stdout
    assert config.read_text() == COMMENTED and config.stat().st_mtime_ns == before.st_mtime_ns
    assert list(config.parent.glob("config.backup.*")) == []


def test_confirmation_prompt(config: Path) -> None:
    config.write_text(COMMENTED)
    declined = run("add", "--domain", "d.example.com", input="n\n")
    assert declined.exit_code == 0 and config.read_text() == COMMENTED
    no_answer = run("add", "--domain", "d.example.com", input="")
    assert no_answer.exit_code == 1 and config.read_text() == COMMENTED
    accepted = run("add", "--domain", "d.example.com", input="y\n")
    assert accepted.exit_code == 0 and "d.example.com" in config.read_text()
    assert len(list(config.parent.glob("config.backup.*.toml"))) == 1


def test_mode_is_kept(config: Path) -> None:
    config.write_text(COMMENTED)
    config.chmod(0o640)
    assert run("add", "--domain", "d.example.com", "-y").exit_code == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


# -- bad input: clear message, 0.15's exit code, the file untouched ----------------------------


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["add", "--name", "x", "-y"], 2, "--domain"),
        (["add", "--domain", "corp.example.com", "--name", "corp", "-y"], 1, "already exists"),
        (["add", "--domain", "e.example.com", "--extra-headers", "{oops", "-y"], 2, "JSON"),
        (["add", "--domain", "e.example.com", "--proxy-servers", "[1]", "-y"], 1, "proxy_servers"),
        (["add", "--domain", "e.example.com", "--keyring", "nope", "-y"], 2, "JSON"),
        (["add", "--domain", "e.example.com", "--oidc-request-headers", "{", "-y"], 2, "JSON"),
        (["modify", "--name", "corp", "--proxy-servers", "{'a': 1}", "-y"], 2, "JSON"),
        (["modify", "--name", "corp", "--domain", "http://", "-y"], 1, "domain"),
        (["show", "nowhere"], 1, "The site or domain nowhere has not been configured"),
        (["add", "--domain", "e.example.com", "--no-ssl-verify", "--use-truststore"], 2, "both"),
        (["modify", "--name", "nowhere", "--use-device-flow", "-y"], 1, "nowhere"),
        (["modify", "--use-device-flow", "-y"], 2, "--domain or --name"),
        (["remove", "nowhere", "-y"], 1, "nowhere"),
        (["remove", "corp", "-y"], 1, "only configured site"),
        (["remove", "corp.example.com", "-y"], 1, "only configured site"),
    ],
)
def test_bad_input(config: Path, args: list[str], code: int, text: str) -> None:
    config.write_text(COMMENTED)
    result = run(*args)
    assert result.exit_code == code, result.output
    assert text in strip_ansi(result.output)
    assert "Traceback" not in result.output
    assert config.read_text() == COMMENTED
    assert leftovers(config.parent) == [] and not list(config.parent.glob("config.backup.*"))


EVERY_WRITE = [
    ["add", "--domain", "e.example.com", "-y"],
    ["add", "--domain", "e.example.com"],  # would ask
    ["modify", "--name", "corp", "--ssl-verify", "-y"],
    ["modify", "--domain", "corp.example.com", "--use-device-flow", "-y"],
    ["remove", "corp", "-y"],
]


@pytest.mark.parametrize("args", EVERY_WRITE)
def test_unparsable_config_is_named_and_left_alone(config: Path, args: list[str]) -> None:
    broken = COMMENTED + "[sites.bad\n"
    config.write_text(broken)
    result = run(*args, input="y\n")
    assert result.exit_code == 1
    assert "config.toml" in result.stderr and "TOML" in result.stderr
    assert "Traceback" not in result.output
    assert config.read_text() == broken
    assert leftovers(config.parent) == [] and not list(config.parent.glob("config.backup.*"))


@pytest.mark.parametrize("args", EVERY_WRITE)
def test_a_read_only_config_is_refused_before_asking(config: Path, args: list[str]) -> None:
    second = COMMENTED + '\n[sites.other]\ndomain = "other.example.com"\n'
    config.write_text(second)
    config.chmod(0o444)
    result = run(*args, input="y\n")
    assert result.exit_code == 1, result.output
    assert "read-only" in result.stderr and "config.toml" in result.stderr
    assert "Confirm" not in result.stdout
    assert config.read_text() == second and stat.S_IMODE(config.stat().st_mode) == 0o444
    assert leftovers(config.parent) == [] and not list(config.parent.glob("config.backup.*"))
    dry = run(*[a for a in args if a != "-y"], "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.startswith("---")  # a dry run still shows the diff


def test_unwritable_location(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = isolated_home / "not-a-dir"
    blocker.write_text("a file where the config directory should be")
    monkeypatch.setenv("ANACONDA_CONFIG_TOML", str(blocker / "config.toml"))
    result = run("add", "--domain", "e.example.com", "-y")
    assert result.exit_code == 1, result.output
    assert "Cannot" in result.stderr and "config.toml" in result.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory(config: Path) -> None:
    config.write_text(COMMENTED)
    config.parent.chmod(0o500)
    try:
        result = run("add", "--domain", "e.example.com", "-y")
    finally:
        config.parent.chmod(0o700)
    assert result.exit_code == 1 and "Cannot write" in result.stderr
    assert config.read_text() == COMMENTED


def test_a_failed_write_leaves_no_partial_file(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(COMMENTED)

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    result = run("add", "--domain", "e.example.com", "-y")
    assert result.exit_code == 1
    assert "No space left" in result.stderr
    assert config.read_text() == COMMENTED
    assert leftovers(config.parent) == []


# -- a config.toml that is a symbolic link: written through, the link kept ----------------------


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_symlinked_config_is_written_through(config: Path, isolated_home: Path) -> None:
    dotfiles = isolated_home / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "anaconda.toml"
    target.write_text(COMMENTED)
    target.chmod(0o644)
    config.symlink_to(target)
    result = run("add", "--domain", "e.example.com", "-y")
    assert result.exit_code == 0, result.output
    assert "symbolic link" in result.stderr
    assert config.is_symlink() and os.readlink(config) == str(target)
    assert target.read_text().startswith(COMMENTED) and "e.example.com" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(dotfiles) == []


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("args", EVERY_WRITE[2:])
def test_symlinked_config_modify_and_remove(
    config: Path, isolated_home: Path, args: list[str]
) -> None:
    target = isolated_home / "anaconda.toml"
    target.write_text(COMMENTED + '\n[sites.other]\ndomain = "other.example.com"\n')
    config.symlink_to(target)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert config.is_symlink() and os.readlink(config) == str(target)
    assert "# the company site" in target.read_text() or args[0] == "remove"
    assert "[plugin.other]  # another tool's table" in target.read_text()


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("loop", [False, True], ids=["dangling", "loop"])
@pytest.mark.parametrize("args", EVERY_WRITE[::2])
def test_a_link_that_cannot_be_followed_is_refused(
    config: Path, isolated_home: Path, loop: bool, args: list[str]
) -> None:
    if loop:
        other = isolated_home / "other.toml"
        other.symlink_to(config)
        config.symlink_to(other)
    else:
        config.symlink_to(isolated_home / "gone.toml")
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "config.toml" in result.stderr and "Traceback" not in result.output
    assert config.is_symlink() and not (isolated_home / "gone.toml").exists()


# -- the Python API ------------------------------------------------------------------------------


def test_write_config_api(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from anaconda_auth.config import AnacondaAuthSite, AnacondaAuthSitesConfig

    config.write_text(COMMENTED)
    sites = AnacondaAuthSitesConfig()
    sites.add(AnacondaAuthSite(domain="api.example.com", use_device_flow=True), name="api")
    sites.write_config(dry_run=True)
    assert "+[sites.api]" in capsys.readouterr().out
    assert config.read_text() == COMMENTED
    sites.write_config()
    again = AnacondaAuthSitesConfig()
    assert again.sites.root["api"].use_device_flow is True
    assert config.read_text().startswith(COMMENTED)

    again.remove("api")
    again.write_config(preserve_existing_keys=False)
    assert config.read_text() == COMMENTED


def test_write_config_refuses_unparsable_file(config: Path) -> None:
    from anaconda_auth.config import AnacondaAuthSitesConfig

    config.write_text(COMMENTED)
    sites = AnacondaAuthSitesConfig()
    config.write_text("not = [toml")
    with pytest.raises(ConfigError, match="config.toml"):
        sites.write_config()
    assert config.read_text() == "not = [toml"


# -- anaconda auth / anaconda cloud --------------------------------------------------------------


def test_login_accepts_no_force() -> None:
    from anaconda_auth.plugins.cli import app as auth_app

    login = typer.main.get_command(auth_app).commands["login"]  # type: ignore[attr-defined]
    assert login.make_context("login", ["--no-force"]).params["force"] is False
    assert login.make_context("login", ["--force"]).params["force"] is True


def test_auth_without_a_command_prints_help() -> None:
    from anaconda_auth.plugins.cli import app as auth_app

    result = CliRunner().invoke(auth_app, [])
    assert result.exit_code == 0
    assert "login" in result.stdout


IMPORT = """
import json, sys
import typer
loaded = set(sys.modules)
import anaconda_auth.plugins.cli.sites
print(json.dumps(sorted(set(sys.modules) - loaded)))
"""


def test_import_is_cheap() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True, timeout=60
    )
    heavy = {"rich", "requests", "pydantic", "keyring", "cryptography", "pluggy", "tomlkit"}
    assert [m for m in json.loads(out.stdout) if m.split(".")[0] in heavy] == []


def test_real_anaconda_sites_list_and_cloud(config: Path) -> None:
    config.write_text(COMMENTED)
    env = {**os.environ, "COLUMNS": "200", "ANACONDA_CLI_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(
        [ANACONDA, "sites", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "corp.example.com" in strip_ansi(result.stdout)
    auth = subprocess.run([ANACONDA, "auth"], capture_output=True, text=True, env=env, timeout=60)
    assert auth.returncode == 0 and "login" in auth.stdout
    cloud = subprocess.run(
        [ANACONDA, "cloud", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert cloud.returncode == 0 and "login" in cloud.stdout


@pytest.mark.slow
@pytest.mark.parametrize("group", ["auth", "cloud"])
def test_real_login_no_force_keeps_a_valid_login(config: Path, group: str) -> None:
    """`anaconda auth login --no-force` (and through the 0.15 alias `anaconda cloud`): with a
    valid stored key, nothing happens (no browser, no network) and the key stays."""
    from anaconda_auth.token import TokenInfo

    key = jwt()
    TokenInfo(domain="anaconda.com", api_key=key).save()
    env = {**os.environ, "COLUMNS": "200", "ANACONDA_CLI_DISABLE_TELEMETRY": "1", "BROWSER": ""}
    result = subprocess.run(
        [ANACONDA, group, "login", "--no-force"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "already logged in" in result.stderr
    assert TokenInfo.load("anaconda.com").api_key == key
    bare = subprocess.run([ANACONDA, group], capture_output=True, text=True, env=env, timeout=60)
    assert bare.returncode == 0 and "login" in bare.stdout  # no command: the help, exit 0


@pytest.mark.parametrize("command", [["list"], ["show"], ["show", "--all"]])
def test_reading_an_unparsable_config_is_a_clear_error(config: Path, command: list[str]) -> None:
    config.write_text("x = [\n")
    result = run(*command)
    assert result.exit_code == 1
    assert "config.toml" in result.stderr and "TOML" in result.stderr
    assert "Traceback" not in result.output


def test_an_ambiguous_domain_is_refused(config: Path) -> None:
    text = '[sites.a]\ndomain = "a.example.com"\n\n[sites.b]\ndomain = "a.example.com"\n'
    config.write_text(text)
    result = run("remove", "a.example.com", "-y")
    assert result.exit_code == 1 and "matches more than one configured site (a, b)" in result.stderr
    assert config.read_text() == text


def test_names_that_look_like_markup_are_shown_as_typed(config: Path) -> None:
    """Rich markup in a name, a domain or an option is text, never a MarkupError."""
    name = "[/x][bold]"
    result = run("remove", name, "-y")
    assert result.exit_code == 1 and f"The site or domain {name} has not" in result.stderr
    result = run("add", "--domain", "x.local", "--extra-headers", "[/x]", "-y")
    assert result.exit_code == 2 and "extra-headers=[/x] could not" in result.stderr
    assert run("add", "--domain", "x.local", "--name", name, "-y").exit_code == 0
    assert name in run("list").stdout
    result = run("add", "--domain", "y.local", "--name", name, "-y")
    assert result.exit_code == 1 and f"A site with name {name} already" in result.stderr
    assert "MarkupError" not in result.output
