"""login/logout helpers honour the settings of the site they are given, not the default site's."""

from __future__ import annotations

import time
from pathlib import Path

from support.config_files import write_config_toml
from support.tokens import jwt

from anaconda_auth import actions
from anaconda_auth.token import TokenInfo


def _write_sites(home: Path, beta_extra: str) -> None:
    write_config_toml(
        home,
        'default_site = "alpha"\n'
        "[sites.alpha]\n"
        'domain = "alpha.example"\n'
        "[sites.beta]\n"
        'domain = "beta.example"\n' + beta_extra,
    )


def test_site_api_key_counts_for_that_site_only(isolated_home: Path) -> None:
    key = jwt(time.time() + 3600)
    _write_sites(isolated_home, f'api_key = "{key}"\n')

    assert actions.is_logged_in("beta")
    token = actions.current_token("beta")
    assert token.source == "environment"
    assert token.api_key == key
    assert not actions.is_logged_in("alpha")


def test_site_keyring_path_is_used_for_save_and_logout(isolated_home: Path) -> None:
    site_keyring = isolated_home / "beta-keyring"
    _write_sites(isolated_home, f'keyring_path = "{site_keyring}"\n')
    config = actions.load_site_config("beta")

    info = TokenInfo(domain=config.domain, api_key=jwt(time.time() + 3600))
    info.save(config=config)
    assert site_keyring.exists()
    assert not (isolated_home / ".anaconda" / "keyring").exists()
    assert actions.is_logged_in("beta")

    actions.logout("beta")
    assert not actions.is_logged_in("beta")
