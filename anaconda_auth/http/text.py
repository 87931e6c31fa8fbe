"""Text from a server made safe to print in a terminal."""

from __future__ import annotations

import re

#: ANSI/VT escape sequences (CSI, OSC, other ESC forms), then any other control character.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[@-_]?"  # any other ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences or control characters (tabs and newlines
    become spaces), so a server cannot recolour, retitle or clear the user's terminal."""
    text = _ESCAPES.sub("", text)
    text = _CONTROL.sub("", text)
    return text.replace("\t", " ").replace("\n", " ")
