"""The auth handler in-process, against conda's real context (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.conda import NO_CONDA, conda_importable

from anaconda_auth.token import TokenInfo


@pytest.fixture
def conda_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anaconda_auth_home: Path
) -> Iterator[Path]:
    if not conda_importable():
        pytest.skip(NO_CONDA)
    from conda.base.context import reset_context

    condarc = tmp_path / "condarc"
    condarc.write_text(
        "channel_settings:\n"
        "  - channel: https://repo.example.com/repo/*\n"
        "    auth: anaconda-auth\n"
        "    auth_domain: site.example.com\n"
    )
    monkeypatch.setenv("CONDARC", str(condarc))
    reset_context()
    yield condarc
    monkeypatch.delenv("CONDARC")
    reset_context()


def _authorization(handler: Any, url: str) -> str | None:
    prepared = requests.Request("GET", url).prepare()
    return handler(prepared).headers.get("Authorization")


def test_credential_only_for_urls_the_condarc_maps(conda_context: Path) -> None:
    from anaconda_auth._conda.auth_handler import AnacondaAuthHandler

    TokenInfo(domain="site.example.com", api_key="the-key").save()
    handler = AnacondaAuthHandler("https://repo.example.com/repo/main")
    mapped = "https://repo.example.com/repo/main/noarch/repodata.json"
    assert _authorization(handler, mapped) == "Bearer the-key"
    assert _authorization(handler, "https://elsewhere.example.org/repo/main/x.json") is None
    assert _authorization(handler, "http://repo.example.com/repo/main/x.json") is None
    # a URL no entry matches: the channel's own host only (conda chose the handler for it)
    assert _authorization(handler, "https://repo.example.com/other/x.json") == "Bearer the-key"


def test_header_is_masked_after_the_response_only_when_conda_logs(
    conda_context: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from anaconda_auth._conda.auth_handler import AnacondaAuthHandler

    TokenInfo(domain="site.example.com", api_key="the-key").save()
    handler = AnacondaAuthHandler("https://repo.example.com/repo/main")
    for level, expected in ((logging.WARNING, "Bearer the-key"), (logging.INFO, "Bearer <hidden>")):
        monkeypatch.setattr(logging.getLogger("conda"), "level", level)
        prepared = handler(
            requests.Request("GET", "https://repo.example.com/repo/main/a").prepare()
        )
        response = requests.Response()
        response.status_code = 200
        response.request = prepared
        for hook in prepared.hooks["response"]:
            hook(response)
        assert prepared.headers["Authorization"] == expected
