"""A keyring changed in the last two seconds is remembered by its bytes: every change is seen.

``AnacondaKeyring.read_stamp`` used to give up (no stamp, so no remembered read) while the file
was younger than two seconds; it now returns the file's bytes then. These tests rewrite the
keyring so that its stat cannot tell (same size, mtime put back) and check that the very next
load, in this process, sees the new token.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.processes import run_python
from support.tokens import jwt

from anaconda_auth.exceptions import TokenNotFoundError
from anaconda_auth.token import TokenInfo

DOMAIN = "anaconda.com"


def keyring(home: Path) -> Path:
    return home / ".anaconda" / "keyring"


def test_a_rewrite_keeping_the_stat_is_seen(isolated_home: Path) -> None:
    exp = 4102444800  # the same expiry, so both keys have the same length
    first, second = jwt(exp, sub="first-user"), jwt(exp, sub="secnd-user")
    assert len(first) == len(second)
    TokenInfo(domain=DOMAIN, api_key=first).save()
    assert TokenInfo.load(DOMAIN).api_key == first
    assert TokenInfo.load(DOMAIN).api_key == first  # remembered (by content: just written)
    path = keyring(isolated_home)
    before = path.stat()
    code = """
        import sys
        from anaconda_auth.token import TokenInfo
        TokenInfo(domain=sys.argv[1], api_key=sys.argv[2]).save()
        """
    out = run_python(code, dict(os.environ), args=[DOMAIN, second])
    assert out.returncode == 0, out.stderr
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert TokenInfo.load(DOMAIN).api_key == second


def test_logout_in_another_process_is_seen_at_once(isolated_home: Path) -> None:
    key = jwt(sub="user")
    TokenInfo(domain=DOMAIN, api_key=key).save()
    assert TokenInfo.load(DOMAIN).api_key == key
    assert TokenInfo.load(DOMAIN).api_key == key
    code = """
        import sys
        from anaconda_auth.token import TokenInfo
        TokenInfo.load(sys.argv[1]).delete()
        """
    out = run_python(code, dict(os.environ), args=[DOMAIN])
    assert out.returncode == 0, out.stderr
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load(DOMAIN)
