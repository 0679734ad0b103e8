"""Last-resort LaTeX fallbacks for a section the model could not repair: structural checks and plain text."""

from __future__ import annotations

import re

from agents.writeup.latex_templates import tex_escape

_ESCAPED = re.compile(r"\\[\\{}$%&#_]")
# escaped specials (``\%``, ``\$``...) stand in as private-use characters while commands and math are removed
_ESCAPED_CHAR = re.compile(r"\\([{}$%&#_])")
_KEEP = {ch: chr(0xE000 + i) for i, ch in enumerate("{}$%&#_")}
_RESTORE = {ord(v): k for k, v in _KEEP.items()}


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
    """``body`` as text that always compiles: citations, references, environment names, commands, braces and math
    markers removed, the rest escaped; paragraphs kept, and each list item (with its ``\\item[label]``) becomes a
    paragraph of its own."""
    text = _ESCAPED_CHAR.sub(lambda m: _KEEP[m.group(1)], body)
    text = re.sub(r"\\(?:cite[a-zA-Z]*|ref|eqref|label)\*?(?:\[[^\]]*\])*\{[^}]*\}", "", text)
    text = re.sub(r"\\(?:begin|end)\{[^}]*\}(?:\[[^\]]*\])?", "\n\n", text)
    text = re.sub(r"\\item\b(?:\[([^\]]*)\])?", lambda m: "\n\n" + (m.group(1) or ""), text)
    text = re.sub(r"\\[a-zA-Z]+\*?(?:\[[^\]]*\])?", " ", text)
    text = re.sub(r"[{}$]", "", text)
    text = re.sub(r"[\\^_]", " ", text)
    text = text.translate(_RESTORE)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(tex_escape(p) for p in paragraphs if p)
