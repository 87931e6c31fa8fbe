"""Writing the sites of ``config.toml``: ``default_site`` and the ``[sites.<name>]`` tables.

Only what changed is written: the person's comments, key order, formatting, unrelated tables
and keys this package does not know are kept (the file is edited with :mod:`tomlkit`, imported
here only when a file is written). The write is atomic: the new text goes to a temporary file in
the same directory, is flushed to disk and replaces the file with :func:`os.replace`; the file's
permission bits are kept (a new file is created ``0600``: it may hold an API key). A read-only
file (no write permission) is refused. On any error the file is left as it was and a
:class:`~anaconda_auth.exceptions.ConfigError` names it.

A ``config.toml`` that is a symbolic link is written through: the link's target is replaced
(atomically, in the target's directory) and the link stays a link, so a config file kept in a
dotfiles repository stays there. A link whose target does not exist (or a loop) is refused.

Before a file is changed, a copy is kept next to it as ``config.backup.<time>.toml`` (the five
most recent are kept), as anaconda-cli-base 0.15 did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anaconda_auth.config.errors import config_error
from anaconda_auth.config.files import config_toml_path, display_path
from anaconda_auth.freshness import note_local_change

#: In a site's changes: remove this key from the table.
REMOVE: Any = object()
KEEP_BACKUPS = 5


@dataclass
class SitesChanges:
    """What to change: ``default_site`` (when ``set_default``) and, by site name, the keys to
    set (``REMOVE`` deletes a key) or ``None`` to delete the whole ``[sites.<name>]`` table."""

    default_site: str | None = None
    set_default: bool = False
    sites: dict[str, dict[str, Any] | None] = field(default_factory=dict)


@dataclass
class Plan:
    """The file as it is and as it will be written."""

    path: Path  # the path the person knows (maybe a link)
    target: Path  # the file actually replaced
    before: str
    after: str
    exists: bool

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff of the change ('' when nothing changes)."""
        fmt = "%m-%d-%y %H:%M"
        modified = ""
        if self.exists:
            with contextlib.suppress(OSError):
                modified = dt.datetime.fromtimestamp(self.target.stat().st_mtime).strftime(fmt)
        lines = difflib.unified_diff(
            self.before.splitlines(),
            self.after.splitlines(),
            fromfile=str(self.path),
            fromfiledate=modified,
            tofile=str(self.path),
            tofiledate=dt.datetime.now().strftime(fmt),
            lineterm="",
        )
        return "\n".join(lines)


def resolve_target(path: Path) -> Path:
    """The file to replace: ``path``, or the final target of a symbolic link."""
    if not path.is_symlink():
        return path
    try:
        target = Path(os.path.realpath(path, strict=True))
    except (OSError, RuntimeError) as exc:
        raise config_error(
            f"{display_path(path)} is a symbolic link that cannot be followed "
            f"({getattr(exc, 'strerror', None) or exc}); it was left unchanged. Point it at an "
            "existing file or replace it with a file."
        ) from None
    if not target.is_file():
        raise config_error(
            f"{display_path(path)} is a symbolic link to {target}, which is not a regular "
            "file; it was left unchanged."
        )
    return target


def _load_document(target: Path, shown: str) -> tuple[Any, str, bool]:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        text = target.read_text(encoding="utf-8")
        exists = True
    except FileNotFoundError:
        text, exists = "", False
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise config_error(f"Cannot read {shown}: {reason}; it was left unchanged.") from None
    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, ValueError, RecursionError) as exc:
        raise config_error(
            f"{shown} is not valid TOML ({exc}); it was left unchanged. Fix the file and try again."
        ) from None
    return doc, text, exists


def _sites_table(doc: Any, shown: str, create: bool) -> Any:
    import tomlkit

    if "sites" not in doc:
        if not create:
            return None
        doc.add("sites", tomlkit.table(is_super_table=True))
    table = doc["sites"]
    if not isinstance(table, dict):
        raise config_error(
            f"Invalid sites in {shown}: expected [sites.<name>] tables, got "
            f"{type(table).__name__}; it was left unchanged."
        )
    return table


def _apply(doc: Any, changes: SitesChanges, shown: str) -> None:
    import tomlkit

    if changes.set_default:
        if changes.default_site is None:
            doc.pop("default_site", None)
        else:
            doc["default_site"] = changes.default_site  # tomlkit puts it before the tables
    for name, values in changes.sites.items():
        sites = _sites_table(doc, shown, create=values is not None)
        if values is None:
            if sites is not None and name in sites:
                del sites[name]
            continue
        if name not in sites:
            sites.add(name, tomlkit.table())
        table = sites[name]
        if not isinstance(table, dict):
            raise config_error(
                f"Invalid [sites] entry {name!r} in {shown}: expected a table; it was left "
                "unchanged."
            )
        for key, value in values.items():
            if value is REMOVE:
                table.pop(key, None)
            elif isinstance(value, dict):
                inline = tomlkit.inline_table()  # `extra_headers = {...}`, not a sub-table
                inline.update(value)
                table[key] = inline
            else:
                table[key] = value


def plan(changes: SitesChanges, path: Path | None = None) -> Plan:
    """Read ``config.toml`` and compute the text it would have after ``changes``."""
    import tomlkit

    path = path or config_toml_path()
    shown = display_path(path)
    target = resolve_target(path)
    doc, before, exists = _load_document(target, shown)
    _apply(doc, changes, shown)
    after = tomlkit.dumps(doc)
    after = after.rstrip("\n") + "\n" if after.strip() else ""
    if after == before.rstrip("\n") + "\n" or (not after and not before):
        after = before
    return Plan(path=path, target=target, before=before, after=after, exists=exists)


def _backup(plan: Plan) -> None:
    if not plan.exists:
        return
    stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S_%f")
    backup = plan.target.with_name(f"config.backup.{stamp}.toml")
    try:
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            fp.write(plan.before)
    except OSError as exc:
        raise config_error(
            f"Cannot write {display_path(plan.path)}: a backup copy could not be made in "
            f"{plan.target.parent} ({exc.strerror or exc}); it was left unchanged."
        ) from None
    with contextlib.suppress(OSError):
        backups = sorted(
            plan.target.parent.glob("config.backup.*.toml"), key=lambda p: p.name, reverse=True
        )
        for old in backups[KEEP_BACKUPS:]:
            old.unlink()


def check_writable(plan: Plan) -> None:
    """A ``ConfigError`` when the file is read-only. Replacing it would work (the directory is
    writable), but a file without write permission says "do not change me"."""
    if not plan.exists:
        return
    try:
        mode = stat.S_IMODE(plan.target.stat().st_mode)
    except OSError:
        return  # commit names the problem
    if not mode & 0o222 or not os.access(plan.target, os.W_OK):
        raise config_error(
            f"Cannot write {display_path(plan.path)}: the file is read-only (mode {mode:o}); it "
            "was left unchanged. Make it writable (chmod u+w) to let anaconda change it."
        )


def commit(plan: Plan) -> None:
    """Write ``plan.after`` atomically (nothing is written when nothing changes)."""
    if not plan.changed:
        return
    shown = display_path(plan.path)
    directory = plan.target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(plan.target.stat().st_mode) if plan.exists else 0o600
    except OSError as exc:
        raise config_error(f"Cannot write {shown}: {exc.strerror or exc}.") from None
    check_writable(plan)
    _backup(plan)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".config_", suffix=".toml.tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            fp.write(plan.after)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, plan.target)
        tmp = None
        note_local_change()
    except OSError as exc:
        raise config_error(
            f"Cannot write {shown}: {exc.strerror or exc}; it was left unchanged."
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    with contextlib.suppress(OSError):  # make the rename durable where the OS allows it
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def site_changes(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    defaults: Mapping[str, Any],
    in_file: Mapping[str, Any] | None,
    preserve_existing_keys: bool,
) -> dict[str, Any]:
    """The keys of one site table to change, from its old and new values (JSON-like dumps).

    A key whose value did not change is left as the person wrote it. A changed value equal to
    the default is removed from the table, unless the table has the key and
    ``preserve_existing_keys`` (0.15's rule: then the default is written).
    """
    out: dict[str, Any] = {}
    present = set(in_file or ())
    for key, value in new.items():
        if old is not None and key in old and old[key] == value:
            continue
        is_default = key in defaults and defaults[key] == value
        if value is None or is_default:
            if key in present and not (preserve_existing_keys and value is not None):
                out[key] = REMOVE
            elif key in present:
                out[key] = value
            continue
        out[key] = value
    if not preserve_existing_keys:
        for key in present:
            if key in new and key not in out and key in defaults and defaults[key] == new[key]:
                out[key] = REMOVE
    return out
