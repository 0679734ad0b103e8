"""The EVOLVE-BLOCK contract and the three edit formats a model may answer in.

Only the lines between a ``EVOLVE-BLOCK-START`` line and the next ``EVOLVE-BLOCK-END`` line may change; the
marker lines and everything outside the blocks stay byte for byte. A program is split once into fixed parts and
block bodies, and every edit format produces new block bodies:

- ``rewrite``: the answer is one fenced code block per EVOLVE-BLOCK, in order, holding the new body. If the model
  copies the markers (or the whole program), the body between its markers is taken.
- ``diff``: SEARCH/REPLACE edits (``agents.experiments.patches``), each matched inside exactly one block.
- ``lines``: the block is shown with line numbers; the answer names a range (``LINES 12-18``) and gives the new
  lines in a fenced block. Small models follow this one: they need to copy nothing but two numbers.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from dataclasses import dataclass

from agents.experiments.patches import Edit, PatchError, apply_edits, extract_code, parse_edits

START = "EVOLVE-BLOCK-START"
END = "EVOLVE-BLOCK-END"
FORMATS = ("rewrite", "diff", "lines")

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_RANGE = re.compile(r"LINES?\s*:?\s*(\d+)\s*(?:-|–|to|\.\.)\s*(\d+)", re.I)
_SINGLE = re.compile(r"LINES?\s*:?\s*(\d+)\b(?!\s*(?:-|–|to|\.\.))", re.I)
_NUMBERED = re.compile(r"^\s*\d+\s*[|:]\s?")


class BlockError(ValueError):
    """The program breaks the EVOLVE-BLOCK contract (no block, unbalanced or nested markers)."""


@dataclass(frozen=True)
class Program:
    """A program cut at its markers: ``parts[i]`` is the fixed text before block ``i``; ``parts[-1]`` is the tail."""

    parts: tuple[str, ...]
    blocks: tuple[str, ...]

    def render(self, blocks: tuple[str, ...] | list[str] | None = None) -> str:
        bodies = tuple(self.blocks if blocks is None else blocks)
        if len(bodies) != len(self.blocks):
            raise PatchError(f"expected {len(self.blocks)} EVOLVE-BLOCK(s), got {len(bodies)}")
        out = []
        for fixed, body in zip(self.parts, bodies, strict=False):
            out.append(fixed)
            out.append(_with_newline(_without_markers(body)))
        out.append(self.parts[-1])
        return "".join(out)


def _without_markers(body: str) -> str:
    """A block body never holds a marker line (one would cut the program elsewhere): a model that copies
    ``# EVOLVE-BLOCK-END`` into its new code, or writes the word in a comment, loses that line, not the run."""
    if START not in body and END not in body:
        return body
    return "".join(ln for ln in body.splitlines(keepends=True) if START not in ln and END not in ln)


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def split_program(code: str) -> Program:
    """Cut ``code`` at its markers; BlockError when there is no complete block or markers are unbalanced."""
    lines = code.splitlines(keepends=True)
    parts: list[str] = []
    blocks: list[str] = []
    fixed: list[str] = []
    body: list[str] | None = None
    for no, line in enumerate(lines, 1):
        if START in line:
            if body is not None:
                raise BlockError(f"line {no}: {START} inside another block; close the first one with {END}")
            fixed.append(line)
            parts.append("".join(fixed))
            fixed, body = [], []
        elif END in line:
            if body is None:
                raise BlockError(f"line {no}: {END} without a matching {START} before it")
            blocks.append("".join(body))
            body = None
            fixed = [line]
        elif body is not None:
            body.append(line)
        else:
            fixed.append(line)
    if body is not None:
        raise BlockError(f"{START} without a matching {END}; add a '# {END}' line after the code to evolve")
    if not blocks:
        raise BlockError(
            f"no EVOLVE-BLOCK: mark the code to evolve with a '# {START}' line before it and a '# {END}' line after"
        )
    parts.append("".join(fixed))
    return Program(tuple(parts), tuple(blocks))


def numbered(text: str, start: int = 1) -> str:
    """``text`` with right-aligned line numbers, as the ``lines`` format shows a block."""
    lines = text.splitlines()
    width = len(str(start + len(lines)))
    return "\n".join(f"{i:>{width}}| {ln}" for i, ln in enumerate(lines, start))


def _fences(answer: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(answer) if lang.lower() in ("python", "py", "python3", "")]


def _inner(code: str) -> str:
    """The body between copied markers, when the model copied them; else ``code``."""
    if START in code:
        after = code.split(START, 1)[1].split("\n", 1)
        rest = after[1] if len(after) > 1 else ""
        return rest.split(END, 1)[0].rsplit("\n", 1)[0] + "\n" if END in rest else rest
    return code


def apply_rewrite(program: Program, answer: str) -> tuple[str, ...]:
    fences = [f for f in _fences(answer) if f.strip()]
    if len(program.blocks) == 1:
        if not fences:
            code = extract_code(answer)
            if code is None:
                raise PatchError("no fenced ```python block with the new code found")
            fences = [code]
        code = max(fences, key=len)
        if code.count(START) > 1:
            raise PatchError("the answer holds several EVOLVE-BLOCKs; give the code of the one block only")
        body = _inner(code)
        if not body.strip():
            raise PatchError("the new block is empty")
        return (body,)
    if START in "".join(fences):
        bodies = [b for f in fences for b in split_program(f).blocks] if all(START in f for f in fences) else []
    else:
        bodies = fences
    if len(bodies) != len(program.blocks):
        raise PatchError(f"expected {len(program.blocks)} fenced code blocks, one per EVOLVE-BLOCK; got {len(bodies)}")
    return tuple(bodies)


def apply_diff(program: Program, answer: str) -> tuple[str, ...]:
    edits = parse_edits(answer)
    if not edits:
        raise PatchError("no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block found")
    bodies = list(program.blocks)
    for edit in edits:
        hits = [i for i, b in enumerate(bodies) if _matches(b, edit)]
        if not hits:
            first = edit.search.strip().splitlines()[0][:80] if edit.search.strip() else ""
            raise PatchError(f"SEARCH text not found inside the EVOLVE-BLOCK (first line: {first!r})")
        if len(hits) > 1:
            raise PatchError("SEARCH text matches in several EVOLVE-BLOCKs; include more lines")
        bodies[hits[0]] = apply_edits(bodies[hits[0]], [edit])
    return tuple(bodies)


def _matches(body: str, edit: Edit) -> bool:
    try:
        apply_edits(body, [edit])
    except PatchError:
        return False
    return True


def parse_lines(answer: str) -> tuple[int, int, list[str]]:
    """(first, last, new lines without newlines) of a ``LINES a-b`` answer; PatchError when it has none."""
    head = answer.split("```", 1)[0]
    m = _RANGE.search(head) or _RANGE.search(answer)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
    else:
        single = _SINGLE.search(head)
        if not single:
            raise PatchError("no 'LINES a-b' line naming the lines to replace")
        a = b = int(single.group(1))
    fences = _fences(answer)
    if not fences:
        raise PatchError("no fenced ```python block with the replacement lines")
    return a, b, [_NUMBERED.sub("", ln) for ln in fences[0].rstrip("\n").splitlines()]


def locate_lines(program: Program, a: int, b: int) -> tuple[int, list[str], int, int]:
    """(block index, that block's lines with newlines, the number of its first line, the range's last line) for
    the range a..b (1-based, over all blocks numbered on); a range running past the last block's end stops
    there (a small model often names a line or two too many); PatchError when it does not start inside a block."""
    offset = 0
    for k, body in enumerate(program.blocks):
        lines = body.splitlines(keepends=True)
        lo, hi = offset + 1, offset + len(lines)
        if lo <= a <= hi:
            if b < a or (b > hi and k < len(program.blocks) - 1):
                raise PatchError(f"LINES {a}-{b}: the range must lie within one block (lines {lo}-{hi})")
            return k, lines, lo, min(b, hi)
        offset = hi
    raise PatchError(f"LINES {a}-{b}: the block has lines 1-{offset}")


def apply_lines(program: Program, answer: str) -> tuple[str, ...]:
    """``LINES a-b`` then a fenced block: lines a..b (1-based, over all blocks numbered on) are replaced."""
    a, b, new = parse_lines(answer)
    k, lines, lo, b = locate_lines(program, a, b)
    bodies = list(program.blocks)
    keep = _reindent(new, lines[a - lo : b - lo + 1])
    bodies[k] = "".join(lines[: a - lo] + keep + lines[b - lo + 1 :])
    return tuple(bodies)


def _indent_of(lines: list[str]) -> int | None:
    sizes = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    return min(sizes) if sizes else None


def _reindent(new: list[str], old: list[str]) -> list[str]:
    """The new lines, shifted right when the model dropped the indentation of the lines they replace."""
    have, want = _indent_of(new), _indent_of(old)
    pad = " " * (want - have) if have is not None and want is not None and want > have else ""
    return [(pad + ln if ln.strip() else ln).rstrip("\n") + "\n" for ln in new]


def lost_names(program: Program, new_code: str) -> list[str]:
    """Functions and classes the old blocks defined, the fixed code uses, and the new program no longer defines."""
    import ast

    def defined(code: str) -> set[str]:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return set()
        return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}

    fixed = "".join(program.parts)
    needed = [n for n in sorted(defined("".join(program.blocks))) if re.search(rf"\b{re.escape(n)}\b", fixed)]
    have = defined(new_code)
    return [n for n in needed if n not in have]


def restore_definitions(program: Program, new_code: str) -> tuple[str, list[str]]:
    """``new_code`` with the old blocks' top-level functions and classes put back where the new program still
    uses one but no longer defines it (a small model replacing lines 3-20 often drops a helper the new lines
    call: 5 of 18 invalid programs in one embedded-model run died of that NameError); and the names restored.
    Each goes back, as the parent wrote it, at the end of the block that held it."""
    import ast

    old: dict[str, tuple[int, str]] = {}
    for i, body in enumerate(program.blocks):
        try:
            tree = ast.parse(body)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                old[node.name] = (i, ast.get_source_segment(body, node, padded=True) or "")
    try:
        tree = ast.parse(new_code)
        new = split_program(new_code)
    except (SyntaxError, BlockError):
        return new_code, []
    if len(new.blocks) != len(program.blocks):
        return new_code, []
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    defined |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    # a restored helper may call another the answer dropped too (construct_packing -> compute_max_radii):
    # follow the calls of what is put back until nothing more is missing
    lost: list[str] = []
    frontier = sorted(n for n in old if n in read and n not in defined and old[n][1])
    while frontier:
        lost += frontier
        more: set[str] = set()
        for name in frontier:
            with contextlib.suppress(SyntaxError):
                piece = ast.parse(textwrap.dedent(old[name][1]))
                more |= {n.id for n in ast.walk(piece) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        frontier = sorted(n for n in old if n in more and n not in defined and n not in lost and old[n][1])
    if not lost:
        return new_code, []
    bodies = list(new.blocks)
    for name in lost:
        i, source = old[name]
        bodies[i] = _with_newline(bodies[i]) + "\n\n" + source.rstrip("\n") + "\n"
    restored = new.render(bodies)
    try:
        compile(restored, "<program>", "exec")
    except (SyntaxError, ValueError):  # a block that ends inside an open construct: leave the answer as it was
        return new_code, []
    return restored, lost


def apply_answer(program: Program, answer: str, fmt: str) -> str:
    """The new program for a model answer in format ``fmt``; PatchError when it cannot be applied."""
    if fmt == "diff":
        bodies = apply_diff(program, answer)
    elif fmt == "lines":
        bodies = apply_lines(program, answer)
    elif fmt == "rewrite":
        bodies = apply_rewrite(program, answer)
    else:
        raise ValueError(f"unknown edit format {fmt!r}; formats: {', '.join(FORMATS)}")
    return program.render(bodies)
