"""Merge the values of the config sources into raw values, remembering where each came from.

This module has no state: every call asks each source for its values, so changes to the
environment and to the files are seen at once (the readers in :mod:`anaconda_auth.config.files`
keep the parsing cheap). It also turns pydantic's validation errors into messages that name the
source, the key and the expected form.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from anaconda_auth.config.constants import DEFAULT, EXPLICIT, MASK, SOURCE_RANKS
from anaconda_auth.config.errors import config_error

if TYPE_CHECKING:
    from pydantic import ValidationError

    from anaconda_auth.plugin_types import ConfigSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a source name and a human location."""

    source: str
    location: str


DEFAULT_ORIGIN = Origin(DEFAULT, "default")


class LocatedValues(dict[str, Any]):
    """What a source's ``load()`` may return instead of a plain mapping: values plus, for each
    key, its location (``locations[key]``), when the location is only known while loading (the
    selected site table, the actual file name in the secrets directory, a line of ``.env``)."""

    def __init__(
        self, values: Mapping[str, Any] | None = None, locations: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(values or {})
        self.locations: dict[str, str] = dict(locations or {})

    def __repr__(self) -> str:  # keys only: the values may be secrets
        return f"{type(self).__name__}(keys={sorted(self)!r})"


@dataclass
class Resolution:
    """The merged raw values, the origin of each, and keys no field knows."""

    values: dict[str, Any] = field(default_factory=dict, repr=False)  # raw: may hold secrets
    origins: dict[str, Origin] = field(default_factory=dict)
    unknown: list[tuple[str, Origin]] = field(default_factory=list)
    #: the lower places whose entries were merged into a table (see :func:`resolve`)
    contributors: list[Origin] = field(default_factory=list)

    def origin(self, key: str) -> Origin:
        return self.origins.get(key, DEFAULT_ORIGIN)


def _is_builtin(source: ConfigSource) -> bool:
    return source.name in SOURCE_RANKS and source.load.__module__.startswith("anaconda_auth.")


def _load(source: ConfigSource, resolved: Mapping[str, Any]) -> Mapping[str, Any]:
    """Values from one source. A third-party source that fails is skipped with a warning; a
    ``ConfigError`` (a bad file or value the user must fix) always propagates."""
    from anaconda_auth.exceptions import AnacondaAuthError, PluginWarning

    try:
        loaded = source.load(resolved)
        if not isinstance(loaded, Mapping):
            raise TypeError(f"load() returned {type(loaded).__name__}, not a mapping")
        return loaded
    except AnacondaAuthError:
        raise
    except Exception as exc:
        if _is_builtin(source):
            raise
        log.debug("config source %s failed", source.name, exc_info=True)
        warnings.warn(
            f"anaconda-auth config source {source.name!r} was skipped: {type(exc).__name__}: {exc}",
            PluginWarning,
            stacklevel=4,
        )
        return {}


class JSONTooDeep(ValueError):
    """A JSON text nested too deeply to parse (``RecursionError`` in ``json.loads``)."""


def parse_json(text: str) -> Any:
    """``json.loads``, raising only ``ValueError``: ``json.JSONDecodeError`` for malformed
    text, :class:`JSONTooDeep` for arrays or objects nested beyond what the parser can take."""
    try:
        return json.loads(text)
    except RecursionError:
        raise JSONTooDeep("the JSON is nested too deeply") from None


def as_table(value: Any) -> dict[str, Any] | None:
    """A table value as a dict (a mapping, or a JSON object string), else ``None``."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = parse_json(value)
        except ValueError:
            return None  # the validator reports it, naming its source
        return parsed if isinstance(parsed, dict) else None
    return None


def merge_tables(
    higher: Mapping[str, Any], lower: Mapping[str, Any], *, fold: bool
) -> dict[str, Any]:
    """``lower``'s entries under ``higher``'s: an entry of ``higher`` wins over one of the same
    name (in any case with ``fold``, as HTTP header names compare)."""

    def same(name: str) -> str:
        return name.lower() if fold else name

    taken = {same(name) for name in higher}
    merged = {name: value for name, value in lower.items() if same(name) not in taken}
    merged.update(higher)
    return merged


def resolve(
    explicit: Mapping[str, Any],
    sources: Iterable[ConfigSource],
    fields: Collection[str],
    ignored: Collection[str] = (),
    tables: Mapping[str, bool] | None = None,
) -> Resolution:
    """Raw values from ``sources`` (highest rank first); explicit arguments (not ``None``) win.

    ``fields`` are the model's field names: other keys are left out of the values and listed in
    ``Resolution.unknown`` (except those in ``ignored``, known keys that are not fields).
    ``tables`` are the fields whose tables merge entry by entry across places, as
    anaconda-auth 0.15's pydantic-settings merged them: an entry from a higher place wins,
    entries only a lower place sets are kept (the value says whether names compare in any
    case, as header names do). The origin of a merged table lists every place that gave
    entries, highest first; ``Resolution.contributors`` holds them all.
    """
    tables = tables or {}
    result = Resolution()
    for key, value in explicit.items():
        if value is None:
            continue
        origin = Origin(EXPLICIT, f"argument {key}=")
        if key in fields:
            result.values[key] = value
            result.origins[key] = origin
        else:
            result.unknown.append((key, origin))
    for source in sources:
        # the values so far, with where each came from (``resolved.locations``: a source that
        # rejects one of them, as the site source does an unknown site, names its origin)
        so_far = LocatedValues(
            result.values, {key: origin.location for key, origin in result.origins.items()}
        )
        loaded = _load(source, so_far)
        locations = loaded.locations if isinstance(loaded, LocatedValues) else {}
        for key, value in loaded.items():
            if value is None:
                continue
            if key not in fields:
                if key not in ignored:
                    where = locations.get(key) or source.location(key)
                    result.unknown.append((key, Origin(source.name, where)))
                continue
            if key in result.values:
                if key in tables:
                    _merge_under(
                        result,
                        key,
                        value,
                        source.name,
                        locations.get(key) or source.location(key),
                        tables[key],
                    )
                continue
            result.values[key] = value
            result.origins[key] = Origin(source.name, locations.get(key) or source.location(key))
    return result


def _merge_under(
    result: Resolution, key: str, value: Any, source: str, location: str, fold: bool
) -> None:
    higher = as_table(result.values[key])
    lower = as_table(value)
    if higher is None or lower is None:
        return  # not two tables (a malformed one is reported by the validator)
    merged = merge_tables(higher, lower, fold=fold)
    if merged == higher:
        return  # every entry of the lower place is overridden
    top = result.origins[key]
    result.values[key] = merged
    result.origins[key] = Origin(top.source, f"{top.location}, {location}")
    result.contributors.append(Origin(source, location))


# --- turning validation errors into ConfigError ----------------------------------------------

_SECRET_NAME = re.compile(
    r"api[-_]?key|token|secret|passw(?:or)?d|passphrase|credential|authori[sz]ation|cookie",
    re.IGNORECASE,
)


#: Names that match the pattern above but hold no secret.
_NOT_SECRET = frozenset({"preferred_token_storage", "use_unified_repo_api_key"})
#: Names that do not match the pattern above but hold secrets (``keyring``: the tokens 0.15's
#: ConfigKeyring kept in the configuration).
_SECRET = frozenset({"keyring"})


def is_secret_name(name: str) -> bool:
    """Whether a key (or header) name holds a secret whose value must never be shown."""
    if name in _SECRET:
        return True
    return name not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))


def mask_value(key: str, value: Any) -> tuple[Any, bool]:
    """The value to show for ``key``, and whether anything was hidden: the one masking rule
    of every display (``anaconda auth config``, ``repr()`` of a configuration, messages)."""
    if value is None:
        return None, False
    if is_secret_name(key):
        return MASK, True
    if isinstance(value, dict) and key in ("extra_headers", "oidc_request_headers"):
        shown = {k: MASK if is_secret_name(k) else v for k, v in value.items()}
        return shown, shown != value
    if isinstance(value, dict) and key == "proxy_servers":
        shown = {k: _mask_url(v) if isinstance(v, str) else v for k, v in value.items()}
        return shown, shown != value
    if isinstance(value, Path):
        return str(value), False
    return value, False


def brief(text: str, limit: int = 120) -> str:
    """``repr(text)`` for a message, cut to about ``limit`` characters (a value may be huge)."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 4]}...{shown[0]}"


def _cut(text: str, limit: int = 120) -> str:
    """``text`` as it is, or cut with "..." when longer than ``limit``."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(key: str, value: Any) -> str:
    if is_secret_name(key) or key in ("extra_headers", "proxy_servers", "oidc_request_headers"):
        # these can hold credentials: describe, never show
        return f"a value of type {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def raise_config_error(
    exc: ValidationError,
    origins: Mapping[str, Origin],
    expected: Mapping[str, str],
    values: Mapping[str, Any],
) -> NoReturn:
    """Re-raise a pydantic ``ValidationError`` as a ``ConfigError`` naming source, key and
    the expected form. Values of secret keys never appear in the message, and the original
    error (which holds the raw input) is not chained."""
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error.get("loc", ())
        key = str(loc[0]) if loc else "?"
        origin = origins.get(key, DEFAULT_ORIGIN)
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        sub = "".join(f"[{part!r}]" for part in loc[1:])
        where = origin.location
        if origin.source == EXPLICIT:
            where = f"the {key}= argument"
        line = f"Invalid {key}{sub} from {where}: {message}"
        if key in values and not sub and error.get("type") != "value_error":
            line += f" (got {_shown(key, values[key])})"
        if key in expected:
            line += f". Expected {expected[key]}."
        lines.append(line)
    if not lines:  # pragma: no cover - pydantic always reports at least one error
        lines.append("Invalid configuration")
    if len(lines) == 1:
        raise config_error(lines[0]) from None
    raise config_error("Invalid configuration:\n  - " + "\n  - ".join(lines)) from None


_NETLOC = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def normalize_domain(value: str) -> str:
    """``https://host:port/path`` or ``host:port`` -> ``host:port``; ``ValueError`` if none."""
    text = value.strip()
    if not text:
        raise ValueError("a domain name cannot be empty")
    url = text if re.match(r"(?i)https?://", text) else f"https://{text}"
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        raise ValueError(f"{_cut(value)} does not look like a domain name ({exc})") from None
    netloc = netloc.rsplit("@", 1)[-1]  # never keep credentials in a domain
    if not netloc or not re.fullmatch(
        r"[A-Za-z0-9._~\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?", netloc
    ):
        raise ValueError(f"{_cut(value)} does not look like a domain name")
    return netloc
