"""The ``anaconda sites`` command (as in anaconda-auth 0.15): list, show, add, modify, remove
the ``[sites.<name>]`` tables of ``config.toml``.

Mounted by anaconda-cli-base (entry point ``sites``), imported every time any ``anaconda``
command starts: only :mod:`typer` is imported at module level; the configuration, rich and the
storage are imported inside the commands.

Exit codes as 0.15: 0 success (also when a confirmation is declined), 1 a program error
(unknown or ambiguous site, duplicate name, a value the settings refuse, a config.toml that
cannot be read, parsed or written), 2 wrong usage (missing ``--domain``, an option that is not
valid JSON, conflicting options). Messages start with 0.15's words. Results (the table, JSON,
the diff, the prompt) go to stdout; warnings and errors go to stderr. What is written: see
docs/dev/decisions/0029-sites-writes-what-0-15-wrote.md.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

PROGRAM_ERROR = 1
ARGUMENT_ERROR = 2
CHECK_MARK = "[bold green]✔︎[/bold green]"

#: The fields ``show`` prints without ``--show-hidden``: the ones 0.15 printed. 0.15 listed the
#: fields it hid; the settings this version added (timeouts, ``disabled_plugins``) are hidden
#: too, so ``show`` prints what it printed in 0.15.
SHOWN = (
    "domain",
    "ssl_verify",
    "extra_headers",
    "use_unified_repo_api_key",
    "proxy_servers",
    "client_cert",
    "client_cert_key",
    "use_device_flow",
)

app = typer.Typer(
    name="sites",
    help="Manage your Anaconda site configuration (the sites of ~/.anaconda/config.toml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])


def _err(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message)


def _out() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _e(value: object) -> str:
    """``value`` as text for a rich message: a name like ``[/x]`` is shown, not parsed."""
    from rich.markup import escape

    return escape(str(value))


def _fail(message: str, code: int = PROGRAM_ERROR) -> typer.Exit:
    _err(message)
    return typer.Exit(code=code)


def _guarded(func: F) -> F:
    """Configuration errors, unknown sites, invalid values and a config.toml that cannot be
    examined: a message on stderr and exit code 1 (as 0.15, where they were uncaught
    exceptions). Nothing else is caught."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from anaconda_auth.exceptions import AnacondaAuthError

        try:
            return func(*args, **kwargs)
        except AnacondaAuthError as exc:
            raise _fail(f"[bold red]Error:[/] {_e(exc)}") from None
        except OSError as exc:  # e.g. a config.toml that is a symbolic link loop
            where = exc.filename or _config_path()
            raise _fail(
                f"[bold red]Error:[/] Cannot read {_e(where)}: {_e(exc.strerror or exc)}; "
                "nothing was changed."
            ) from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
            )
            raise _fail(f"[bold red]Invalid value:[/] {_e(problems)}") from None

    return wrapper  # type: ignore[return-value]


def _config_path() -> str:
    from anaconda_auth.config.files import config_toml_path

    return str(config_toml_path())


@app.command(name="list")
@_guarded
def sites_list() -> None:
    """List configured sites by name and domain, the default site, and where you are logged in."""
    from rich.table import Table

    from anaconda_auth.config import AnacondaAuthSitesConfig

    sites = AnacondaAuthSitesConfig()
    table = Table(
        "Site name", "Domain name", "Default site", "Logged in", header_style="bold green"
    )
    problems: list[str] = []
    for name, site in sites.sites.root.items():
        is_default = CHECK_MARK if name == sites.default_site else ""
        table.add_row(_e(name), _e(site.domain), is_default, _logged_in(name, problems))
    console = _out()
    console.print(table)
    for problem in problems:
        _err(f"[yellow]Warning:[/] {_e(problem)}")
    console.print(
        "[dim italic]To view full site details use[/] "
        "[dim bold]anaconda sites show \\[name or domain][/]"
    )


def _logged_in(name: str, problems: list[str]) -> str:
    """✔︎ when a key is stored (or configured) for the site; the error's name when its storage
    cannot be read (the error is added to ``problems``)."""
    from anaconda_auth.config import AnacondaAuthSitesConfig
    from anaconda_auth.exceptions import TokenNotFoundError
    from anaconda_auth.token import TokenInfo

    try:
        config = AnacondaAuthSitesConfig.load_site(name)
        info = TokenInfo.load(config.domain, config=config)
    except TokenNotFoundError:
        return ""
    except Exception as exc:  # noqa: BLE001 - one broken site never hides the others
        problems.append(f"site {name!r}: cannot read the stored login: {exc}")
        return f"[red]error ({type(exc).__name__})[/]"
    if info.api_key is None:
        return ""
    try:
        expired = info.expired
    except Exception:  # noqa: BLE001
        expired = False
    return "[yellow]expired[/]" if expired else CHECK_MARK


def _public_dump(site: Any, show_hidden: bool) -> dict[str, Any]:
    data: dict[str, Any] = site.model_dump(mode="json")
    data.pop("site", None)
    if not show_hidden:
        data = {k: v for k, v in data.items() if k in SHOWN}
    from anaconda_auth.config.explain import mask_value

    # Never print a secret (api_key, keyring, secret headers, proxy passwords), even when asked
    # for everything.
    return {k: mask_value(k, v)[0] for k, v in data.items()}


@app.command(name="show")
@_guarded
def sites_show(
    site: Annotated[
        str | None,
        typer.Argument(
            help="A configured site name or domain. Default: the configured default site."
        ),
    ] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Show all site configurations")] = False,
    show_hidden: Annotated[bool, typer.Option(help="Show hidden fields")] = False,
) -> None:
    """Show the configuration of the default site, or of the site given by name or domain."""
    from anaconda_auth.config import AnacondaAuthSitesConfig

    console = _out()
    sites = AnacondaAuthSitesConfig()
    if all_sites:
        # as 0.15: the site tables by name, without the name inside
        data = {
            name: _public_dump(config, show_hidden) for name, config in sites.sites.root.items()
        }
        console.print_json(data=data)
        return
    key = _lookup(sites, site or sites.default_site or "anaconda.com")
    config = sites.sites[key]
    console.print_json(data={"site": config.site, **_public_dump(config, show_hidden)})


def _lookup(sites: Any, key: str) -> str:
    """The name of the site called ``key``, else of the one site whose domain is ``key``;
    0.15's messages (exit code 1) when there is none or more than one."""
    from anaconda_auth.config.loader import normalize_domain

    root = sites.sites.root
    if key in root:
        return key
    try:
        domain = normalize_domain(key)
    except ValueError:
        domain = key
    matches = [name for name, site in root.items() if site.domain == domain]
    if len(matches) == 1:
        return str(matches[0])
    if matches:
        raise _fail(
            f"The domain {_e(key)} matches more than one configured site "
            f"({_e(', '.join(matches))}). "
            "Select one by name."
        )
    raise _fail(
        f"The site or domain {_e(key)} has not been configured in {_e(_config_path())} "
        f"(configured sites: {_e(', '.join(root))})."
    )


def _json_option(text: str | None, what: str) -> Any:
    """The value of a JSON option; 0.15's message and exit code 2 when it is not JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            f"{_e(what)} could not be parsed as JSON ({exc.msg} at character {exc.pos}).",
            ARGUMENT_ERROR,
        ) from None


def _confirm_write(
    sites: Any,
    yes: bool | None,
    preserve: bool,
    extra: Any = None,
    given: dict[str, set[str]] | None = None,
) -> None:
    """``--yes``: write; ``--dry-run``: print the diff; neither: print the diff and ask."""
    from anaconda_auth.config import writer

    plan = sites.plan_write(preserve_existing_keys=preserve, extra=extra, given=given)
    if plan.target != plan.path:
        _err(f"Note: {_e(plan.path)} is a symbolic link; its target {_e(plan.target)} is written.")
    console = _out()
    if yes is not True:
        if not plan.changed:
            console.print(f"[bold green]No change to {_e(plan.path)}[/bold green]")
            return
        from rich.syntax import Syntax

        console.print(Syntax(plan.diff(), "diff", word_wrap=True))
        if yes is False:
            return
        writer.check_writable(plan)  # before asking
        from rich.prompt import Confirm

        try:
            confirmed = Confirm.ask("Confirm:", console=console)
        except (EOFError, KeyboardInterrupt):
            raise _fail(
                f"\nNo answer: {_e(plan.path)} was not changed (use --yes to write, or --dry-run).",
            ) from None
        if not confirmed:
            _err(f"{_e(plan.path)} was not changed.")
            return
    writer.commit(plan)
    if plan.changed:
        _err(f"Wrote {_e(plan.path)}")


YesOption = Annotated[
    bool | None,
    typer.Option(
        "--yes/--dry-run",
        "-y",
        help="Confirm changes and write; --dry-run prints the diff and writes nothing",
    ),
]


def _ssl_value(ssl_verify: bool | None, use_truststore: bool | None) -> Any:
    if ssl_verify is None and use_truststore is None:
        return None
    if use_truststore and ssl_verify is False:
        raise _fail("Cannot set both --use-truststore and --no-ssl-verify", ARGUMENT_ERROR)
    if use_truststore:
        return "truststore"
    return ssl_verify is not False


def _sites_add_or_modify(
    ctx: typer.Context,
    domain: Annotated[
        str | None, typer.Option(help="Domain name for site, defaults to 'anaconda.com'")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Name for site, defaults to domain if not supplied")
    ] = None,
    default: Annotated[bool, typer.Option(help="Set this site as default")] = False,
    api_key: Annotated[
        str | None,
        typer.Option(help="API key for site. CAUTION: this will get written to config.toml"),
    ] = None,
    preferred_token_storage: Annotated[str | None, typer.Option(hidden=True)] = None,
    auth_domain_override: Annotated[str | None, typer.Option(hidden=True)] = None,
    keyring: Annotated[str | None, typer.Option(hidden=True)] = None,
    ssl_verify: Annotated[bool | None, typer.Option("--ssl-verify/--no-ssl-verify")] = None,
    use_truststore: Annotated[
        bool | None, typer.Option("--use-truststore/--no-use-truststore")
    ] = None,
    extra_headers: Annotated[
        str | None, typer.Option(help="Extra headers in JSON format to use for all requests")
    ] = None,
    client_id: Annotated[str | None, typer.Option(hidden=True)] = None,
    redirect_uri: Annotated[str | None, typer.Option(hidden=True)] = None,
    openid_config_path: Annotated[str | None, typer.Option(hidden=True)] = None,
    oidc_request_headers: Annotated[str | None, typer.Option(hidden=True)] = None,
    login_success_path: Annotated[str | None, typer.Option(hidden=True)] = None,
    login_error_path: Annotated[str | None, typer.Option(hidden=True)] = None,
    use_unified_repo_api_key: Annotated[
        bool | None,
        typer.Option("--use-unified-repo-api-key/--no-use-unified-repo-api-key"),
    ] = None,
    hash_hostname: Annotated[
        bool | None, typer.Option("--hash-host-name/--no-hash-host-name", hidden=True)
    ] = None,
    proxy_servers: Annotated[
        str | None, typer.Option(help="JSON string of proxy server mapping")
    ] = None,
    client_cert: Annotated[str | None, typer.Option()] = None,
    client_cert_key: Annotated[str | None, typer.Option()] = None,
    use_device_flow: Annotated[
        bool | None, typer.Option("--use-device-flow/--no-use-device-flow")
    ] = None,
    disable_conda_auto_config: Annotated[
        bool | None,
        typer.Option("--disable-conda-auto-config/--no-disable-conda-auto-config"),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            help="Pin this stored account (an email, as `anaconda auth status` lists it) for "
            "the site when several are logged in on its domain; '' unpins it",
            show_default=False,
        ),
    ] = None,
    remove_anaconda_com: Annotated[
        bool | None,
        typer.Option(
            "--remove-anaconda-com/--no-remove-anaconda-com",
            help="Remove the site named 'anaconda.com' if present "
            "[default: only the implicit one of a config.toml without site tables]",
            show_default=False,
        ),
    ] = None,
    yes: YesOption = None,
) -> None:
    # checks and warnings in 0.15's order
    ssl_value = _ssl_value(ssl_verify, use_truststore)
    if api_key is not None:
        _err(
            "[bold yellow]WARNING:[/bold yellow] Your API Key will be stored in "
            f"{_e(_config_path())} and may not be secure"
        )
    headers = _json_option(extra_headers, f"extra-headers={extra_headers}")
    proxies = _json_option(proxy_servers, f"proxy-servers={proxy_servers}")
    if keyring is not None:
        _err(
            "[bold yellow]WARNING:[/bold yellow] Your Keyring contents will be stored in "
            f"{_e(_config_path())} and may not be secure"
        )
    keyring_value = _json_option(keyring, "The keyring argument")
    oidc_headers = _json_option(oidc_request_headers, "The oidc-request-headers argument")
    values: dict[str, Any] = {
        "ssl_verify": ssl_value,
        "auth_domain_override": auth_domain_override,
        "preferred_token_storage": preferred_token_storage,
        "extra_headers": headers,
        "proxy_servers": proxies,
        "keyring": keyring_value,
        "oidc_request_headers": oidc_headers,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "openid_config_path": openid_config_path,
        "login_success_path": login_success_path,
        "login_error_path": login_error_path,
        "use_unified_repo_api_key": use_unified_repo_api_key,
        "hash_hostname": hash_hostname,
        "client_cert": client_cert,
        "client_cert_key": client_cert_key,
        "use_device_flow": use_device_flow,
        "disable_conda_auto_config": disable_conda_auto_config,
        "api_key": api_key,
        "domain": domain,
        "account": account or None,
    }
    values = {k: v for k, v in values.items() if v is not None}
    if ctx.command.name == "add":
        _add(domain, name, default, remove_anaconda_com, values, yes)
    else:
        if account == "":
            values["account"] = None  # unpinned: the key leaves the table
        _modify(domain, name, default, values, yes)


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields the site model knows, other keys written as given). A JSON option for a key
    the model does not know must be an object (the model checks the ones it knows)."""
    from anaconda_auth.config import AnacondaAuthSite

    known = AnacondaAuthSite.model_fields
    other = {k: v for k, v in values.items() if k not in known}
    for key, value in other.items():
        if key in JSON_OBJECTS and not isinstance(value, dict):
            raise _fail(
                f"[bold red]Invalid value:[/] {_e(key)}: must be a JSON object, got "
                f"{type(value).__name__}"
            )
    return {k: v for k, v in values.items() if k in known}, other


#: The options given as JSON objects.
JSON_OBJECTS = {"extra_headers", "proxy_servers", "keyring", "oidc_request_headers"}


@_guarded
def _add(
    domain: str | None,
    name: str | None,
    default: bool,
    remove_anaconda_com: bool | None,
    values: dict[str, Any],
    yes: bool | None,
) -> None:
    from anaconda_auth.config import AnacondaAuthSite, AnacondaAuthSitesConfig
    from anaconda_auth.config.constants import DEFAULT_DOMAIN
    from anaconda_auth.config.site_tables import read_sites

    if domain is None:
        raise _fail("You must supply at least --domain to add a new site", ARGUMENT_ERROR)
    name = name or domain
    sites = AnacondaAuthSitesConfig()
    root = sites.sites.root
    if name in root:  # as 0.15, also the implicit anaconda.com: `modify` configures it
        raise _fail(
            f"A site with name {_e(name)} already exists, use the modify subcommand to alter it"
        )
    known, extra = _split(values)
    site = AnacondaAuthSite(**known)
    # By default only the implicit anaconda.com (a file without site tables) is replaced; a
    # [sites."anaconda.com"] table the person wrote goes only when asked for by name.
    if DEFAULT_DOMAIN in root and (
        remove_anaconda_com or (remove_anaconda_com is None and not read_sites().tables)
    ):
        del root[DEFAULT_DOMAIN]
    sites.add(site, name=name)
    if default or len(root) == 1:  # as 0.15 (a removed anaconda.com stays the default)
        sites.default_site = name
    _confirm_write(
        sites, yes, preserve=True, extra={name: extra} if extra else None, given={name: set(known)}
    )


@_guarded
def _modify(
    domain: str | None,
    name: str | None,
    default: bool,
    values: dict[str, Any],
    yes: bool | None,
) -> None:
    from anaconda_auth.config import AnacondaAuthSite, AnacondaAuthSitesConfig

    if domain is None and name is None:
        raise _fail(
            "You must supply at least one of --domain or --name to modify a site", ARGUMENT_ERROR
        )
    sites = AnacondaAuthSitesConfig()
    key = _lookup(sites, name or domain or "")
    current = sites.sites.root[key]
    known, extra = _split(values)
    if name is not None and domain is not None:
        known["domain"] = domain  # --name selects the site, --domain changes its domain
    else:
        known.pop("domain", None)
    site = AnacondaAuthSite.model_validate({**current.model_dump(), **known})
    sites.add(site, name=key)
    if default:
        sites.default_site = key
    _confirm_write(
        sites, yes, preserve=True, extra={key: extra} if extra else None, given={key: set(known)}
    )


app.command(name="add", no_args_is_help=True, help="Add a new site configuration to config.toml")(
    _sites_add_or_modify
)
app.command(name="modify", no_args_is_help=True, help="Modify a site configuration in config.toml")(
    _sites_add_or_modify
)


@app.command(name="remove", no_args_is_help=True)
@_guarded
def sites_remove(
    site: Annotated[str, typer.Argument(help="Site name or domain name to remove.")],
    yes: YesOption = None,
) -> None:
    """Remove a site configuration by name or domain."""
    from anaconda_auth.config import AnacondaAuthSitesConfig

    sites = AnacondaAuthSitesConfig()
    if len(sites.sites.root) == 1 and (
        site in sites.sites.root or [site] == [s.domain for s in sites.sites.root.values()]
    ):
        raise _fail(f"{_e(site)} is the only configured site and cannot be removed")
    key = _lookup(sites, site)
    sites.remove(key)
    _confirm_write(sites, yes, preserve=False)
