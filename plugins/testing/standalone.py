"""``anaconda-auth-idp`` (also ``python -m anaconda_auth.plugins.testing.idp``): the provider
in the foreground, for demos and manual tests.

It prints the domain, the CA and ``export`` lines; with ``--print-env FILE`` it also writes
those lines to FILE, atomically and only once the socket listens, so a script can wait for
the file and then source it. It stops on SIGINT or SIGTERM and removes its temporary CA
directory (unless ``--state-dir`` named one).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from anaconda_auth.plugins.testing.idp import IdentityProvider

#: Settings that command-line options of the same name override when given.
SETTING_OPTIONS = ("api_key_lifetime", "access_token_lifetime", "device_interval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anaconda-auth-idp",
        description="A local OpenID Connect provider for testing anaconda-auth (never for real "
        "credentials).",
    )
    add = parser.add_argument
    add("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    add(
        "--auto-approve",
        action="store_true",
        help="approve logins and device codes without the login form",
    )
    add("--device-auto-approve", action="store_true", help="approve device codes when issued")
    add("--api-key-lifetime", type=int, default=None, help="API key lifetime in seconds")
    add("--access-token-lifetime", type=int, default=None, help="access token lifetime (s)")
    add("--device-interval", type=float, default=None, help="device poll interval (seconds)")
    add("--user", default="alice@example.com", help="the test user's email")
    add("--password", default="password", help="the test user's password")
    add("--state-dir", type=Path, default=None, help="where to write the CA")
    add(
        "--print-env",
        type=Path,
        metavar="FILE",
        default=None,
        help="write `export VAR=value` lines to FILE once serving (for `source FILE`)",
    )
    add("-v", "--verbose", action="store_true", help="log requests (no query)")
    return parser


def provider_from(args: argparse.Namespace) -> IdentityProvider:
    from anaconda_auth.plugins.testing.models import Settings, User

    settings = Settings(
        auto_approve=args.auto_approve,
        device_auto_approve=args.device_auto_approve,
        users=[User(args.user, password=args.password)],
    )
    for name in SETTING_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            setattr(settings, name, value)
    return IdentityProvider(port=args.port, settings=settings, state_dir=args.state_dir)


def env_lines(idp: IdentityProvider) -> str:
    return "".join(f"export {name}={value}\n" for name, value in idp.env().items())


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that a reader never sees a partial file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def stop_event_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def print_banner(idp: IdentityProvider, args: argparse.Namespace) -> None:
    print(f"anaconda-auth test identity provider at {idp.url}")
    print(f"  domain:  {idp.domain}")
    print(f"  CA:      {idp.ca_path}")
    print(f"  user:    {args.user} (password: {args.password})")
    print(f"  approve: {'automatic' if args.auto_approve else 'login form'}")
    print("Point anaconda-auth at it with:")
    print(env_lines(idp), end="")


def run(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
    )
    idp = provider_from(args)
    stop = stop_event_on_signals()
    with idp:
        print_banner(idp, args)
        if args.print_env is not None:
            write_atomically(args.print_env, env_lines(idp))
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    print("stopped", flush=True)
    return 0
