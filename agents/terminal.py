"""Text from models and generated programs, made safe to show on the user's terminal.

A node's last stderr line, an idea's title or an outcome message can hold anything: Rich markup (``[/data]`` is a
closing tag, and an unmatched one raises ``MarkupError`` inside the live view) or terminal escape sequences (an
OSC sequence can retitle the window or write the clipboard). ``plain`` makes a Rich ``Text`` of it: no markup,
and no control character but newline and tab.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """``value`` as a string without control characters (escape sequences lose their ESC and are inert)."""
    return _CONTROL.sub("", str(value))


def plain(value: object, style: str = "") -> Text:
    """``value`` as Rich text that is printed as it reads: markup is not interpreted, control characters dropped."""
    return Text(clean(value), style=style)
