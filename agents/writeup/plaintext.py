"""Last-resort LaTeX fallbacks for a section the model could not repair: structural checks and plain text."""

from __future__ import annotations

import re

from agents.writeup.latex_templates import tex_escape

_ESCAPED = re.compile(r"\\[\\{}$%&#_]")


def unbalanced(body: str) -> bool:
    """True when a section's braces, inline math or environments do not close within it: such an error often
    shows up on a later line of the paper, in another section."""
    text = _ESCAPED.sub("", re.sub(r"(?<!\\)%.*$", "", body, flags=re.M))
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return True
    if depth != 0:
        return True
    if text.replace("$$", "").count("$") % 2:
        return True
    opened = re.findall(r"\\begin\{([^}]*)\}", text)
    closed = re.findall(r"\\end\{([^}]*)\}", text)
    return sorted(opened) != sorted(closed)


def plain_text(body: str) -> str:
    """``body`` with citations, references, commands, braces and math markers removed and the rest escaped:
    text that always compiles."""
    text = re.sub(r"\\(?:cite[a-zA-Z]*|ref|label)\*?(?:\[[^\]]*\])*\{[^}]*\}", "", body)
    text = re.sub(r"\\[a-zA-Z]+\*?(?:\[[^\]]*\])?", " ", text)
    text = re.sub(r"[{}$^_\\]", " ", text)
    return tex_escape(" ".join(text.split()))
