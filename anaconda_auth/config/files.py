"""Reading the configuration files: ``config.toml`` and ``.env``, parsed once per change.

Where the files are is :mod:`anaconda_auth.freshness`'s rule (computed at call time: tests and
tools change ``HOME``, the working directory and the environment). A parsed file is kept with
its stamp and parsed again only when the stamp changes; a file changed in the last two seconds
is always re-read (see :func:`anaconda_auth.freshness.stat_stamp`).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
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


def config_toml_path() -> Path:
    """``$ANACONDA_CONFIG_TOML`` or ``~/.anaconda/config.toml``, as anaconda-cli-base uses.

    For writing it: ``ConfigError`` when there is no home directory and the variable is unset
    (readers use :func:`find_config_toml`, for which there is then no file).
    """
    path = find_config_toml()
    if path is None:
        raise config_error(
            "Cannot locate config.toml: HOME is not set and this user has no entry in the "
            f"password database. Set HOME, or set {CONFIG_TOML_ENV} to the file's path."
        )
    return path


def find_config_toml() -> Path | None:
    """The path of ``config.toml``, ``None`` without a home directory (and without
    ``$ANACONDA_CONFIG_TOML``): there is no file to read then."""
    path = freshness.config_toml_path()
    return None if path is None else Path(path)


def config_toml_shown() -> str:
    """The path of ``config.toml`` for messages (never raises for a missing home)."""
    path = find_config_toml()
    return display_path(path) if path is not None else "~/.anaconda/config.toml (no home directory)"


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
    home = freshness.home_dir()
    text = str(path)
    if home is not None:
        with contextlib.suppress(ValueError):  # not under the home directory
            text = "~/" + path.relative_to(home).as_posix()
    return text if len(text) <= 300 else f"{text[:150]}...{text[-100:]}"  # a path may be huge


#: The largest configuration file read (config.toml, .env): far above any real one, and a
#: bound on what a mistaken path (a log file, a disk image) costs.
MAX_FILE_BYTES = 16 * 1024 * 1024
_BOM = "\ufeff"


def _read_bytes(path: Path) -> bytes:
    """The bytes of a configuration file: a regular file (a FIFO or a device is refused, never
    waited on), at most :data:`MAX_FILE_BYTES`. ``ConfigError`` naming the file otherwise."""
    shown = display_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise config_error(f"Cannot read {shown}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise config_error(
                f"Cannot read {shown}: it is not a regular file. Replace it with a text file, "
                "or remove it."
            )
        if st.st_size > MAX_FILE_BYTES:
            raise config_error(
                f"Cannot read {shown}: it is {st.st_size} bytes, more than a configuration "
                f"file can be ({MAX_FILE_BYTES} bytes)."
            )
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise config_error(
                    f"Cannot read {shown}: it is more than a configuration file can be "
                    f"({MAX_FILE_BYTES} bytes)."
                )
        return b"".join(chunks)
    except OSError as exc:
        raise config_error(f"Cannot read {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 text; ``ConfigError`` naming the file, the line and the byte otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise config_error(
            f"{display_path(path)} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line "
            f"{line} cannot be decoded. Save the file as UTF-8."
        ) from None


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
    path = path or find_config_toml()
    if path is None:
        return {}
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
    text = _decode(_read_bytes(path), path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = " (the file starts with a byte order mark: save it as UTF-8 without one)"
        raise config_error(
            f"{display_path(path)} is not valid TOML: {exc}"
            f"{hint if text.startswith(_BOM) else ''}. Fix the file or point "
            f"{CONFIG_TOML_ENV} at another one."
        ) from None
    except RecursionError:
        raise config_error(
            f"{display_path(path)} is not usable: its arrays or tables are nested too deeply. "
            f"Fix the file or point {CONFIG_TOML_ENV} at another one."
        ) from None
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
    text = _decode(_read_bytes(path), path).removeprefix(_BOM)  # as Windows editors save it
    parsed = parse_dotenv(text)
    if stamp is not None:
        _dotenv_cache.put(path, (stamp, parsed))
    return interpolate(parsed)
