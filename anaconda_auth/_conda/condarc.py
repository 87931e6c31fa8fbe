"""Editing a ``.condarc`` without losing anything of the person's.

ruamel.yaml's round-trip mode keeps comments, key order and quoting; the file is replaced
atomically (a temporary file in the same folder, then ``os.replace``) with its mode kept, and
the previous content is copied to ``<name>.bak`` first (as 0.15 did; once per command). A
file that cannot be parsed is an error and is left untouched. A symlinked condarc is written
through to its target.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from anaconda_auth._conda.config import CredentialType

DEFAULT_CONDARC_PATH = Path("~/.condarc").expanduser()

#: condarc files this process has backed up (see :meth:`CondaRC.backup`).
_backed_up: set[str] = set()


class CondaRCError(Exception):
    """A condarc that cannot be read, parsed or written."""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


class CondaRC:
    """A condarc file, loaded on construction (an absent file is empty)."""

    def __init__(self, condarc_path: Path | str | None = None) -> None:
        self.condarc_path = Path(condarc_path) if condarc_path else DEFAULT_CONDARC_PATH
        self._loaded_yaml: Any = {}
        self.load()

    @property
    def _backup_condarc_path(self) -> Path:
        return self.condarc_path.with_name(self.condarc_path.name + ".bak")

    @property
    def data(self) -> Any:
        """The parsed content (a ruamel ``CommentedMap``); change it, then :meth:`save`."""
        return self._loaded_yaml

    def load(self, path: Path | None = None) -> None:
        from ruamel.yaml import YAMLError

        path = path or self.condarc_path
        try:
            contents = path.read_text(encoding="utf-8") if path.exists() else ""
        except OSError as exc:
            raise CondaRCError(f"Could not open condarc file {path}: {exc}") from None
        try:
            loaded = _yaml().load(contents)
        except YAMLError as exc:
            raise CondaRCError(f"Could not parse condarc {path}: {exc}") from None
        if loaded is None:
            from ruamel.yaml.comments import CommentedMap

            loaded = CommentedMap()
        if not isinstance(loaded, dict):
            raise CondaRCError(f"Could not parse condarc {path}: it is not a mapping")
        self._loaded_yaml = loaded

    def get(self, key: str, default: Any = None) -> Any:
        return self._loaded_yaml.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._loaded_yaml[key] = value

    def remove(self, key: str) -> bool:
        return self._loaded_yaml.pop(key, None) is not None

    def update_channel_settings(
        self,
        channel: str,
        auth_type: str,
        username: str | None = None,
        *,
        auth_domain: str | None = None,
        credential_type: CredentialType | None = None,
    ) -> None:
        """Set the ``channel_settings`` entry of ``channel`` (replacing an existing one)."""
        updated = {
            "channel": channel,
            "auth": auth_type,
            "username": username,
            "auth_domain": auth_domain,
            "credential_type": credential_type.value if credential_type else None,
        }
        updated = {k: v for k, v in updated.items() if v is not None}
        settings = self._loaded_yaml.get("channel_settings") or []
        kept = [s for s in settings if not (isinstance(s, dict) and s.get("channel") == channel)]
        kept.append(updated)
        self._loaded_yaml["channel_settings"] = kept

    def backup(self) -> None:
        """Copy the file as it is on disk to ``<name>.bak`` (nothing when there is no file).

        Once per file and process: a command that edits the file in several steps keeps the
        content from before its first step.
        """
        from anaconda_cli_base import console

        key = os.path.realpath(self.condarc_path)
        if not self.condarc_path.exists() or key in _backed_up:
            return
        _backed_up.add(key)
        console.print(f"Backing up config to {self._backup_condarc_path}")
        _atomic_write(self._backup_condarc_path, self.condarc_path.read_bytes())

    def restore(self) -> None:
        from anaconda_cli_base import console

        console.print(f"Restoring config from {self._backup_condarc_path}")
        self.load(self._backup_condarc_path)
        self.save()

    def save(self, path: Path | None = None) -> None:
        import io

        stream = io.StringIO()
        _yaml().dump(self._loaded_yaml, stream)
        _atomic_write(path or self.condarc_path, stream.getvalue().encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    target = path.resolve() if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fp:
                fp.write(data)
                fp.flush()
                os.fsync(fp.fileno())
            os.chmod(tmp, mode if mode is not None else 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CondaRCError(f"Could not save file {path}: {exc}") from None
