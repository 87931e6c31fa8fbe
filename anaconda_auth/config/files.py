"""Reading the configuration files: ``config.toml`` and ``.env``, parsed once per change.

Where the files are is :mod:`anaconda_auth.freshness`'s rule (computed at call time: tests and
tools change ``HOME``, the working directory and the environment). A parsed file is kept with
its stamp and parsed again only when the stamp changes; a file changed in the last two seconds
is always re-read (see :func:`anaconda_auth.freshness.stat_stamp`).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anaconda_auth import freshness
from anaconda_auth.config.errors import config_error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_TOML_ENV = freshness.CONFIG_TOML_ENV

_toml_cache: freshness.Memo[Path, tuple[freshness.Stamp, dict[str, Any]]] = freshness.Memo(8)
_dotenv_cache: freshness.Memo[Path, tuple[freshness.Stamp, DotenvFile]] = freshness.Memo(8)


def anaconda_dir() -> Path:
    return Path("~/.anaconda").expanduser()


def config_toml_path() -> Path:
    """``$ANACONDA_CONFIG_TOML`` or ``~/.anaconda/config.toml``, as anaconda-cli-base uses."""
    return Path(freshness.config_toml_path())


def secrets_dir() -> Path:
    """``$ANACONDA_SECRETS_DIR`` or ``/run/secrets`` (it may not exist)."""
    return Path(freshness.secrets_dir())


def dotenv_path() -> Path | None:
    """``.env`` in the working directory (``None`` if the working directory is gone)."""
    try:
        return Path.cwd() / freshness.DOTENV
    except OSError:
        return None


def display_path(path: Path) -> str:
    """The path for messages, with the home directory shown as ``~``."""
    try:
        home = Path.home()
        return "~/" + path.relative_to(home).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def _stamp(path: Path) -> tuple[bool, freshness.Stamp | None]:
    """``(exists, stamp)``; the stamp is ``None`` for a file too fresh to trust."""
    try:
        stamp = freshness.stat_stamp(str(path))
    except freshness.Racy:
        return True, None
    return stamp is not None, stamp


def read_config_toml(path: Path | None = None) -> dict[str, Any]:
    """Parse the config file; an absent file is empty. Re-read only when it changes on disk.

    A malformed file raises :class:`anaconda_auth.exceptions.ConfigError` (a ``ValueError``)
    naming the file and the line of the TOML error.
    """
    path = path or config_toml_path()
    try:
        exists, stamp = _stamp(path)
    except OSError as exc:  # a symlink loop, a directory that cannot be searched
        raise config_error(f"Cannot read {display_path(path)}: {exc.strerror or exc}") from None
    if not exists:
        _toml_cache.pop(path)
        return {}
    cached = _toml_cache.get(path)
    if cached is not None and stamp is not None and cached[0] == stamp:
        return cached[1]
    try:
        with path.open("rb") as fp:
            data = tomllib.load(fp)
    except tomllib.TOMLDecodeError as exc:
        raise config_error(
            f"{display_path(path)} is not valid TOML: {exc}. Fix the file or point "
            f"{CONFIG_TOML_ENV} at another one."
        ) from None
    except OSError as exc:
        raise config_error(f"Cannot read {display_path(path)}: {exc.strerror or exc}") from None
    if stamp is not None:
        _toml_cache.put(path, (stamp, data))
    return data


# --- .env -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DotenvFile:
    """The assignments of a ``.env`` file: name -> (value, line number), and its problems."""

    values: dict[str, tuple[str, int]]
    #: (line number, message, variable name or None) for lines that could not be parsed
    problems: tuple[tuple[int, str, str | None], ...] = ()


_ASSIGN = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)\Z", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _closing(body: str, quote: str) -> int | None:
    """Index of the unescaped closing quote in ``body``."""
    i = 0
    while i < len(body):
        char = body[i]
        if quote == '"' and char == "\\":
            i += 2
            continue
        if char == quote:
            return i
        i += 1
    return None


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse_dotenv(text: str) -> DotenvFile:
    """Parse ``.env`` text: ``KEY=value`` lines, optionally prefixed by ``export``.

    Values may be unquoted (surrounding spaces and a `` #`` comment removed), single-quoted
    (literal) or double-quoted (``\\n``, ``\\t``, ``\\"``, ``\\\\`` escapes); quoted values may
    span lines. Blank lines and ``#`` comments are skipped. ``${VAR}`` is left as written here:
    :func:`read_dotenv` expands it (:func:`interpolate`).
    Lines that cannot be parsed are reported in ``problems`` and skipped, so a ``.env`` written
    for another tool does not break anaconda-auth.
    """
    values: dict[str, tuple[str, int]] = {}
    problems: list[tuple[int, str, str | None]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGN.match(line)
        if match is None:
            word = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)", line)
            problems.append((lineno, "expected NAME=value", word.group(1) if word else None))
            continue
        name, rest = match.group(1), match.group(2).strip()
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            end = _closing(body, quote)
            j = i
            while end is None and j < len(lines):
                body += "\n" + lines[j]
                j += 1
                end = _closing(body, quote)
            if end is None:
                problems.append((lineno, f"the {quote} quote is never closed", name))
                continue  # resume at the next line: the rest may be valid
            after = body[end + 1 :].strip()
            if after and not after.startswith("#"):
                problems.append((lineno, "unexpected text after the closing quote", name))
                continue  # resume at the next line
            i = j
            raw = body[:end]
            value = _unescape(raw) if quote == '"' else raw
        else:
            value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
        values[name] = (value, lineno)
    return DotenvFile(values, tuple(problems))


_POSIX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def interpolate(parsed: DotenvFile) -> DotenvFile:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every value, as anaconda-auth 0.15 did
    (pydantic-settings read ``.env`` with python-dotenv's ``dotenv_values``), with
    python-dotenv's own grammar and rules: in file order, a name set earlier in the file
    winning over the environment, an unknown name expanding to the default or the empty
    string; ``$VAR`` without braces is left as written. One difference: a reference whose
    name is not a variable name (``${}``, ``${a b}``) is left as written, where python-dotenv
    made it empty. See docs/dev/decisions/0026-dotenv.md."""
    if not any("${" in value for value, _ in parsed.values.values()):
        return parsed  # nothing to expand: python-dotenv is not even imported
    from dotenv.variables import Variable, parse_variables

    env: dict[str, str | None] = dict(os.environ)
    values: dict[str, tuple[str, int]] = {}
    for name, (value, lineno) in parsed.values.items():
        parts = []
        for atom in parse_variables(value):
            if isinstance(atom, Variable) and not _POSIX_NAME.match(atom.name):
                default = "" if atom.default is None else f":-{atom.default}"
                parts.append(f"${{{atom.name}{default}}}")
            else:
                parts.append(atom.resolve(env))
        expanded = "".join(parts)
        env[name] = expanded
        values[name] = (expanded, lineno)
    return DotenvFile(values, parsed.problems)


def read_dotenv(path: Path) -> DotenvFile:
    """Parse a ``.env`` file (empty if absent), cached by its stamp like ``config.toml``; its
    ``${VAR}`` references are expanded on every read (they may name environment variables)."""
    exists, stamp = _stamp(path)
    if not exists:
        _dotenv_cache.pop(path)
        return DotenvFile({})
    cached = _dotenv_cache.get(path)
    if cached is not None and stamp is not None and cached[0] == stamp:
        return interpolate(cached[1])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise config_error(f"Cannot read {display_path(path)}: {exc}") from None
    parsed = parse_dotenv(text)
    if stamp is not None:
        _dotenv_cache.put(path, (stamp, parsed))
    return interpolate(parsed)
