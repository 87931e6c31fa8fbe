"""A stand-in web browser for tests and demos: it opens a URL by following redirects.

Use it as ``$BROWSER`` (``IdentityProvider.browser_command`` builds the value)::

    python -m anaconda_auth.plugins.testing.browser --ca CA.pem [--login USER] URL

With the provider's ``auto_approve`` a plain GET that follows redirects completes a login:
the authorization endpoint redirects to the client's loopback ``redirect_uri``, which
redirects to the success page. Without it, ``--login USER`` fills in the login form with
``--password`` (default: ``password``, the provider's default), and ``--deny`` presses Deny.
Keep ``:`` out of ``$BROWSER`` values: it separates alternative commands there (so
``--login USER:PASSWORD`` is accepted only on a command line). Exit status 0 when the last
page answered below 400.
"""

from __future__ import annotations

import argparse
import re
import sys
from urllib.parse import urljoin


def main(argv: list[str] | None = None) -> int:
    import requests

    parser = argparse.ArgumentParser(prog="anaconda-auth-test-browser")
    parser.add_argument("url")
    parser.add_argument("--ca", default=None, help="CA bundle for https URLs")
    parser.add_argument("--login", default=None, metavar="USER", help="sign in as USER")
    parser.add_argument("--password", default=None, help="password for --login")
    parser.add_argument("--deny", action="store_true", help="press Deny on the login form")
    args = parser.parse_args(argv)

    with requests.Session() as s:
        s.trust_env = False
        s.verify = args.ca if args.ca else True
        try:
            r = s.get(args.url, timeout=30)
            form = re.search(r'<form id="login-form" method="post" action="([^"]*)"', r.text)
            if form and (args.login or args.deny):
                user, _, password = (args.login or "").partition(":")
                password = args.password or password or "password"
                action = urljoin(r.url, form.group(1).replace("&amp;", "&"))
                data = {"username": user, "password": password}
                data["action"] = "deny" if args.deny else "approve"
                r = s.post(action, data=data, timeout=30)
        except requests.RequestException as exc:
            print(f"browser: {type(exc).__name__}", file=sys.stderr)
            return 1
    return 0 if r.status_code < 400 else 2


if __name__ == "__main__":
    raise SystemExit(main())
