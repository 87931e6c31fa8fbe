"""Fixtures of the real-conda tests (the rig itself: support/conda.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.conda import DROPPED, NO_CONDA, CondaRig, conda_importable

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.idp import IdentityProvider


@pytest.fixture
def conda_rig(anaconda_idp: IdentityProvider, anaconda_auth_home: Path, tmp_path: Path) -> CondaRig:
    if not conda_importable():
        pytest.skip(NO_CONDA)
    rig = CondaRig(anaconda_idp, anaconda_auth_home, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED)}
    env.update(
        CONDARC=str(rig.condarc),
        CONDA_PKGS_DIRS=str(tmp_path / "pkgs"),
        CONDA_TOKEN_REPO_URL=anaconda_idp.repo_url,
        ANACONDA_CLI_DISABLE_TELEMETRY="1",
        COLUMNS="250",
        TERM="dumb",
    )
    rig.env = env
    rig.condarc.write_text(
        f"solver: classic\nchannels: []\nssl_verify: {anaconda_idp.ca_path}\n"
        "notify_outdated_conda: false\n"
    )
    anaconda_idp.repo.add_organization("acme", title="Acme Corp")
    return rig
