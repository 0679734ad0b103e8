"""Model-written LaTeX that could read or write files or run commands: found, sent back, then removed.

A section body is the model's own LaTeX, pasted into our template. TeX can read any file it may open
(``\\input{/etc/passwd}`` typesets it into the PDF), write files (``\\openout``, ``\\write``), run commands
(``\\write18`` with shell escape) and build any of those from harmless-looking text (``\\csname``, ``\\catcode``,
the ``^^5c`` notation for a backslash, ``\\scantokens``). None of that belongs in a section of prose, so such a
construct is a problem sent back to the section writer (bounded, with the integrity rounds), and whatever is
left is removed line by line before the paper is rendered. The compiler runs with ``openin_any=p``,
``openout_any=p`` and no shell escape as well (agents/writeup/compile.py): this is the first of two fences.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agents.writeup.latex_templates import SectionDoc

# control words that read, write or execute, or that can build such a control word from other text
_EXACT = {
    "read", "readline", "immediate", "special", "usepackage", "requirepackage", "documentclass", "def", "edef",
    "gdef", "xdef", "let", "futurelet", "newread", "newwrite", "directlua", "latelua", "luaexec", "primitive",
    "pdfprimitive", "pdffiledump", "pdfmdfivesum", "pdffilemoddate", "pdffilesize", "everyeof", "endlinechar",
    "outer", "openin", "openout", "closein", "closeout", "shellescape", "ShellEscape", "loop",
}  # fmt: skip
_PARTS = ("input", "include", "write", "catcode", "csname", "scantokens", "openin", "openout", "verbatim")
_CONTROL_WORD = re.compile(r"\\([A-Za-z@]+)")
_HAT_HAT = re.compile(r"\^\^")
_WHY = (
    "model-written text must not read or write files or run commands; write the content itself instead "
    "(no \\input, \\include, \\openin, \\openout, \\write, \\read, \\catcode, \\csname, \\def, \\usepackage, ^^)"
)


def unsafe_constructs(body: str) -> list[str]:
    """The offending constructs in ``body`` (each once, in order of appearance)."""
    found: list[str] = []
    for m in _CONTROL_WORD.finditer(body):
        name = m.group(1).lstrip("@")
        low = name.lower()
        if low in _EXACT or name in _EXACT or any(p in low for p in _PARTS):
            token = "\\" + m.group(1)
            if token not in found:
                found.append(token)
    if _HAT_HAT.search(body):
        found.append("^^")
    return found


def problems_for(body: str) -> list[str]:
    """What to tell the section writer, or [] when the body is safe."""
    found = unsafe_constructs(body)
    return [f"Remove {', '.join(found)}: {_WHY}."] if found else []


def strip_unsafe(body: str) -> tuple[str, list[str]]:
    """The body without every line that holds an unsafe construct, and what was removed."""
    kept: list[str] = []
    removed: list[str] = []
    for line in body.splitlines():
        if unsafe_constructs(line):
            removed.append(line.strip()[:200])
        else:
            kept.append(line)
    return "\n".join(kept), removed


def send_back(
    sections: Callable[[], list[SectionDoc]],
    revise: Callable[[SectionDoc, list[str]], SectionDoc],
    replace: Callable[[SectionDoc], None],
    rounds: int,
) -> list[str]:
    """Bounded repair: each round, every section with unsafe constructs is revised with the problem named."""
    notes: list[str] = []
    for _ in range(rounds):
        unsafe = [(sec, problems_for(sec.body)) for sec in sections()]
        unsafe = [(sec, problems) for sec, problems in unsafe if problems]
        if not unsafe:
            break
        for sec, problems in unsafe:
            notes.append(f"{sec.name}: sent back for file or command access ({', '.join(unsafe_constructs(sec.body))})")
            replace(revise(sec, problems))
    return notes


def remove_left(sections: list[SectionDoc], replace: Callable[[SectionDoc], None]) -> list[str]:
    """The last resort before rendering: lines with unsafe constructs are removed; returns the notes."""
    notes: list[str] = []
    for sec in sections:
        body, removed = strip_unsafe(sec.body)
        if removed:
            notes.append(f"{sec.name}: removed {len(removed)} line(s) reading/writing files or running commands")
            replace(sec.model_copy(update={"body": body}))
    return notes
