"""Reading the coder's answers: a full program in a fenced block, or SEARCH/REPLACE edits against the parent.

Edit format (aider-style)::

    <<<<<<< SEARCH
    lr = 0.1
    =======
    lr = 0.01
    >>>>>>> REPLACE

A SEARCH text must occur in the parent; it is matched exactly first, then line by line ignoring trailing
whitespace, then ignoring indentation (the replacement is re-indented to match). An edit whose SEARCH text is
missing, ambiguous, or the format's placeholder makes the whole patch fail: the caller falls back to a rewrite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_EDIT = re.compile(
    r"^<{5,9} ?SEARCH[^\n]*\n(.*?)^={5,9}[ \t]*\n(.*?)^>{5,9} ?REPLACE[^\n]*$",
    re.S | re.M,
)
_EDIT_MARK = re.compile(r"^(<{5,9} ?SEARCH|>{5,9} ?REPLACE)", re.M)
_PLAN = re.compile(r"^\s*(?:\*\*)?plan(?:\*\*)?\s*:\s*(.+)$", re.I | re.M)
_TAG = re.compile(r"^\s*(?:\*\*)?tag(?:\*\*)?\s*:\s*(.+)$", re.I | re.M)
_PLACEHOLDERS = ("...", "# existing code", "<code>", "original code")


class PatchError(ValueError):
    """The edits could not be applied to the parent program."""


@dataclass(frozen=True)
class Edit:
    search: str
    replace: str


def extract_plan(text: str) -> str:
    m = _PLAN.search(text.split("```", 1)[0]) or _PLAN.search(text)
    return m.group(1).strip()[:300] if m else ""


def extract_tag(text: str) -> str:
    m = _TAG.search(text.split("```", 1)[0])
    return m.group(1).strip().strip("`")[:80] if m else ""


def extract_code(text: str) -> str | None:
    """The program in the answer: the longest python (or untagged) fenced block; unfenced code as a fallback."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    py = [b for lang, b in blocks if lang in ("python", "py", "python3", "") and not _EDIT_MARK.search(b)]
    if py:
        code = max(py, key=len)
        return code.strip("\n") + "\n" if code.strip() else None
    stripped = text.strip()
    if re.search(r"^(import |from \w+ import |def |print\()", stripped, re.M) and "<<<<<<<" not in stripped:
        lines = stripped.splitlines()
        start = next((i for i, ln in enumerate(lines) if re.match(r"(import |from |def |[A-Za-z_]\w* ?=|#)", ln)), 0)
        return "\n".join(lines[start:]).strip("\n") + "\n"
    return None


def parse_edits(text: str) -> list[Edit]:
    # Models often wrap edits in a fence; the regex works across fences.
    return [Edit(m.group(1), m.group(2)) for m in _EDIT.finditer(text)]


def _is_placeholder(search: str) -> bool:
    s = search.strip()
    return not s or s in _PLACEHOLDERS or all(ln.strip() in _PLACEHOLDERS for ln in s.splitlines() if ln.strip())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _apply_one(code: str, edit: Edit) -> str:
    if _is_placeholder(edit.search):
        raise PatchError("a SEARCH block holds placeholder text instead of lines copied from the program")
    count = code.count(edit.search)
    if count == 1:
        return code.replace(edit.search, edit.replace, 1)
    if count > 1:
        raise PatchError(f"SEARCH text occurs {count} times; include more lines to make it unique")
    lines = code.splitlines(keepends=True)
    want = [ln.rstrip() for ln in edit.search.strip("\n").splitlines()]
    for strip_indent in (False, True):
        norm = (lambda s: s.strip()) if strip_indent else (lambda s: s.rstrip())
        target = [norm(w) for w in want]
        hits = [
            i for i in range(len(lines) - len(target) + 1) if [norm(x) for x in lines[i : i + len(target)]] == target
        ]
        if len(hits) > 1:
            raise PatchError("SEARCH text matches several places; include more lines to make it unique")
        if len(hits) == 1:
            i = hits[0]
            repl = edit.replace.strip("\n").splitlines()
            if strip_indent and repl:
                have, had = _indent(lines[i]), _indent(want[0])
                repl = [have + r[len(had) :] if r.startswith(had) else have + r.lstrip() for r in repl]
            new = "".join(r + "\n" for r in repl)
            return "".join(lines[:i]) + new + "".join(lines[i + len(target) :])
    first = want[0].strip() if want else ""
    raise PatchError(f"SEARCH text not found in the program (first line: {first[:80]!r})")


def apply_edits(code: str, edits: list[Edit]) -> str:
    """Apply every edit in order; PatchError when there are none or one does not apply."""
    if not edits:
        raise PatchError("no SEARCH/REPLACE block found")
    for edit in edits:
        code = _apply_one(code, edit)
    return code if code.endswith("\n") else code + "\n"


def syntax_error(code: str) -> str | None:
    """The program's SyntaxError (or a multi-file program's bad file name) as one line; None when it compiles."""
    from agents.experiments.program import bundle_syntax_error

    return bundle_syntax_error(code)
