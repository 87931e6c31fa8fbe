"""``conda token`` and the ``conda-token`` script: the legacy repository token, as in 0.15
(argparse, the same options, messages and exit codes)."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser, Namespace

from anaconda_auth._version import __version__


def token_list(args: Namespace) -> int:
    from anaconda_auth._conda import repo_config

    url = repo_config.repo_url()
    tokens = {k: v for k, v in repo_config.token_list().items() if k == url}
    if not tokens:
        print(f"No tokens have been configured for {url}", file=sys.stderr)
        return 1
    for token_url, token in tokens.items():
        print(token_url, token)
    return 0


def token_set(args: Namespace) -> int:
    from anaconda_auth._conda import repo_config
    from anaconda_auth._conda.condarc import CondaRCError

    try:
        repo_config.validate_token(args.token, no_ssl_verify=args.no_ssl_verify)
    except repo_config.CondaTokenError as e:
        print(e, file=sys.stderr)
        return 1
    try:
        repo_config.token_set(
            args.token,
            args.system,
            args.env,
            args.file,
            args.include_archive_channels,
            args.no_ssl_verify,
            args.enable_signature_verification,
            force=args.force_config_condarc,
        )
    except CondaRCError as e:
        print(e, file=sys.stderr)
        return 1
    print("Success! Your token was validated and Conda has been configured.")
    return 0


def token_remove(args: Namespace) -> int:
    from anaconda_auth._conda import repo_config

    repo_config.token_remove(args.system, args.env, args.file)
    return 0


def condarc_path_args(parser: ArgumentParser) -> None:
    user_rc = os.path.abspath(os.path.expanduser("~/.condarc")).replace("%", "%%")
    sys_rc = os.path.abspath(os.path.join(sys.prefix, ".condarc")).replace("%", "%%")
    group = parser.add_argument_group(
        "Config File Location Selection",
        f"Without one of these flags, the user config file at '{user_rc}' is used.",
    )
    location = group.add_mutually_exclusive_group()
    location.add_argument(
        "--system", action="store_true", help=f"Write to the system .condarc file at '{sys_rc}'."
    )
    prefix = os.getenv("CONDA_PREFIX", "<no active environment>").replace("%", "%%")
    location.add_argument(
        "--env",
        action="store_true",
        help=(
            f"Write to the active conda environment .condarc file ({prefix}). "
            f"If no environment is active, write to the user config file ({user_rc})."
        ),
    )
    location.add_argument("--file", action="store", help="Write to the given file.")


ARCHIVE_CHANNELS = ["free", "mro-archive", "pro"]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        "conda-token",
        usage="conda token",
        description="Configure token access for Anaconda Commercial Edition",
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        help="Show the conda-token version number and exit.",
        version=f"conda-token {__version__}",
    )
    subparser = parser.add_subparsers(help="Token commands")
    sub_list = subparser.add_parser("list", help="List token if configured.")
    sub_list.set_defaults(func=token_list)
    sub_remove = subparser.add_parser("remove", help="Remove token and revert default_channels.")
    condarc_path_args(sub_remove)
    sub_remove.set_defaults(func=token_remove)
    sub_set = subparser.add_parser("set", help="Set your token and configure default_channels.")
    sub_set.add_argument("token", help="Your token.")
    sub_set.add_argument(
        "--include-archive-channels",
        choices=ARCHIVE_CHANNELS,
        help="Add archived channels to default_channels. "
        "\nAvailable channels are mro, mro-archive, free, and pro.",
        nargs="+",
        default=None,
        metavar="CHANNEL_NAME",
    )
    sub_set.add_argument(
        "--no-ssl-verify",
        help="Force disabling SSL verification. By default conda-token will respect your "
        "ssl_verify flag in your Conda settings. Using this flag will add ssl_verify: false "
        "to your .condarc file. If not already set.",
        action="store_true",
    )
    sub_set.add_argument(
        "--enable-signature-verification",
        action="store_true",
        help="Enable Conda package signature verification. Default is off.",
    )
    sub_set.add_argument(
        "--force-config-condarc", action="store_true", help="Force configuration of .condarc"
    )
    condarc_path_args(sub_set)
    sub_set.set_defaults(func=token_set)
    return parser


def cli(argv: list[str] | None = None) -> int:
    """Run ``conda-token`` with ``argv`` (default: the process arguments); no command: help."""
    if argv is None:
        argv = sys.argv[1:]
    if not argv:
        argv = ["--help"]
    args = build_parser().parse_args(argv)
    if not hasattr(args, "func"):
        build_parser().print_help()
        return 0
    try:
        import conda  # noqa: F401
    except ImportError:
        print("conda-token needs conda; it is not installed in this environment.", file=sys.stderr)
        return 1
    result: int = args.func(args)
    return result


def main() -> None:
    """The ``conda-token`` console script."""
    raise SystemExit(cli())
