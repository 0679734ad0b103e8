"""Second readings of an answer whose new program does not compile, for the two ways a small model breaks one.

- **Cut at the token cap** (``rewrite``): the answer stops inside its last function (``'[' was never closed``,
  ``expected an indented block``). When the syntax error lies in the block's last top-level statement, that
  statement is dropped; a helper it defined comes back from the parent (``restore_definitions``), and a name only
  it defined is caught by the contract check and sent back for repair.
- **Indentation lost** (``lines``): the new lines are written flat, or start at the indentation of a loop body
  while replacing lines that start at the function's. The replaced lines' own indentation is tried: line by line
  when the answer has as many lines and writes them all at one level, else shifted so the first new line sits
  where the first replaced one did.

Each candidate is only offered: the caller keeps the first one that compiles and passes its checks.
"""

from __future__ import annotations

from collections.abc import Iterator

from agents.evolve.blocks import BlockError, Program, locate_lines, parse_lines, split_program
from agents.experiments.patches import PatchError


def _compiles(code: str) -> bool:
    try:
        compile(code, "<program>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _error_line(code: str) -> int | None:
    try:
        compile(code, "<program>", "exec")
    except SyntaxError as exc:
        return exc.lineno
    except ValueError:
        return None
    return None


def _top_level_starts(body: str) -> list[int]:
    """0-based indices of the body's lines at column 0 that may start a top-level statement (not comments and
    not closing brackets; a cut is only kept when what is left compiles)."""
    starts = []
    for i, line in enumerate(body.splitlines()):
        if line and not line[0].isspace() and not line.startswith(("#", ")", "]", "}")):
            starts.append(i)
    return starts


def cut_tail(program: Program, code: str) -> str | None:
    """``code`` (a rewrite of ``program``'s blocks) without the top-level statement the syntax error lies in,
    when that is its block's last one; None when the error lies elsewhere or nothing would be left."""
    line = _error_line(code)
    if line is None:
        return None
    try:
        new = split_program(code)
    except BlockError:
        return None
    if len(new.blocks) != len(program.blocks):
        return None
    first = 1
    for k, body in enumerate(new.blocks):
        first += new.parts[k].count("\n")
        n_lines = body.count("\n") + (0 if body.endswith("\n") or not body else 1)
        if first <= line <= first + n_lines:
            starts = _top_level_starts(body)
            before = [s for s in starts if s <= line - first]
            if not before or before[-1] == 0 or before[-1] != starts[-1]:
                return None  # nothing would be left, or the error is not in the last statement: not a cut answer
            cut = before[-1]
            lines = body.splitlines(keepends=True)
            bodies = list(new.blocks)
            bodies[k] = "".join(lines[:cut]).rstrip() + "\n"
            candidate = new.render(bodies)
            return candidate if _compiles(candidate) else None
        first += n_lines
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _by_content(new: list[str], old: list[str], block: list[str], start: int) -> list[str]:
    """Flat ``new`` lines indented as the block line with the same text (the nearest to where it goes), else as
    the line before them (one level deeper after a line ending in a colon)."""
    texts = [ln.strip() for ln in block]
    out: list[str] = []
    prev = old[0][: _indent(old[0])] if old else ""
    prev_opens = False
    for n in new:
        text = n.strip()
        if not text:
            out.append("")
            continue
        same = [i for i, t in enumerate(texts) if t == text]
        if same:
            at = start + len(out)
            match = block[min(same, key=lambda i: abs(i - at))]
            pad = match[: _indent(match)]
        else:
            pad = prev + ("    " if prev_opens else "")
        out.append(pad + text)
        prev, prev_opens = pad, text.endswith(":")
    return out


def reindented(new: list[str], old: list[str], block: list[str], start: int = 0) -> Iterator[list[str]]:
    """Other indentations of ``new`` (lines without newlines), taken from the ``old`` lines they replace and the
    ``block`` around them (``start``: the index of the first replaced line in it)."""
    text_new = [ln for ln in new if ln.strip()]
    text_old = [ln for ln in old if ln.strip()]
    if not text_new or not text_old:
        return
    if len({_indent(ln) for ln in text_new}) == 1 and any(ln.rstrip().endswith(":") for ln in text_new):
        yield _by_content(new, text_old, [ln.rstrip("\n") for ln in block], start)
    shift = _indent(text_old[0]) - _indent(text_new[0])
    if shift:
        out = []
        for ln in new:
            if not ln.strip():
                out.append(ln)
            elif shift > 0:
                out.append(" " * shift + ln)
            elif _indent(ln) >= -shift:
                out.append(ln[-shift:])
            else:
                return
        yield out


def lines_variants(program: Program, answer: str) -> Iterator[str]:
    """Programs for a ``LINES a-b`` answer with its new lines re-indented after the lines they replace; only
    those that compile."""
    try:
        a, b, new = parse_lines(answer)
        k, lines, lo, b = locate_lines(program, a, b)
    except PatchError:
        return
    old = [ln.rstrip("\n") for ln in lines[a - lo : b - lo + 1]]
    for variant in reindented(new, old, lines, a - lo):
        bodies = list(program.blocks)
        bodies[k] = "".join(lines[: a - lo] + [ln + "\n" for ln in variant] + lines[b - lo + 1 :])
        code = program.render(bodies)
        if _compiles(code):
            yield code


def second_readings(program: Program, answer: str, code: str, fmt: str) -> Iterator[tuple[str, str]]:
    """(name, program) for each second reading of an answer whose first reading ``code`` does not compile."""
    if fmt == "lines":
        for variant in lines_variants(program, answer):
            yield "reindented", variant
    elif fmt == "rewrite":
        cut = cut_tail(program, code)
        if cut is not None:
            yield "cut-tail", cut
