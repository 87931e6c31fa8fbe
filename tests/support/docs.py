"""Code blocks of the documentation, for tests that run what the docs show."""

from __future__ import annotations

import re
from pathlib import Path


def code_blocks(document: Path, heading: str) -> dict[str, str]:
    """The fenced blocks of the section under ``heading`` (up to the next heading of level 2
    or 3), by the path each names in its first line (``# <path>``)."""
    text = document.read_text(encoding="utf-8")
    assert heading in text, f"{document} has no {heading!r} section"
    section = text.split(heading, 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    blocks: dict[str, str] = {}
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S):
        first = body.splitlines()[0]
        assert first.startswith("# "), f"a {lang} block must start with '# <path>'"
        blocks[first[2:].strip()] = body
    return blocks
