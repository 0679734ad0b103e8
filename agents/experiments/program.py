"""Programs of several files: one text (a *bundle*) that the coder, the patches and the journal handle as one.

A bundle is the files one after another, each opened by a marker line; the first file is the entry point::

    # === file: main.py ===
    from model import fit
    ...
    # === file: model.py ===
    def fit(...): ...

A program without markers is one file, ``code.py``. SEARCH/REPLACE edits work on the bundle text, so an edit may
touch any of its files. ``read_program_dir`` turns a user's code directory (template mode) into a bundle.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from agents.errors import UserInputError

MARK = re.compile(r"^# === file: (?P<name>[^\n]+?) ===[ \t]*$", re.M)
SINGLE = "code.py"
ENTRY_NAMES = ("main.py", "code.py", "run.py", "train.py")
RESERVED = {"shoal_helper.py", "seed.txt", "metrics.json", "predictions.csv", "stdout.txt", "stderr.txt"}
TEXT_EXT = {".py", ".txt", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".md", ".csv"}
MAX_FILE_BYTES = 100_000
MAX_TOTAL_BYTES = 300_000
MAX_FILES = 40


def is_bundle(code: str) -> bool:
    return MARK.search(code) is not None


def bad_name(name: str) -> str | None:
    """Why ``name`` cannot be a file of a program (absolute, escaping, reserved), or None."""
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or name.startswith("."):
        return f"file name {name!r} must be a relative path inside the program directory"
    if name in RESERVED:
        return f"file name {name!r} is reserved by Shoal"
    return None


def split_bundle(code: str) -> list[tuple[str, str]]:
    """[(file name, text)], the entry point first; a plain program is ``[("code.py", code)]``."""
    marks = list(MARK.finditer(code))
    if not marks:
        return [(SINGLE, code)]
    files = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(code)
        body = code[m.end() :].lstrip("\n") if i + 1 == len(marks) else code[m.end() : end].lstrip("\n")
        files.append((m.group("name").strip(), body.rstrip("\n") + "\n"))
    return files


def join_bundle(files: list[tuple[str, str]]) -> str:
    if len(files) == 1 and files[0][0] == SINGLE:
        return files[0][1]
    return "".join(f"# === file: {name} ===\n{text.rstrip(chr(10))}\n" for name, text in files)


def extract_program(text: str) -> str | None:
    """The program in a coder's answer: files of a multi-file program may come in several fenced blocks."""
    from agents.experiments.patches import _FENCE, extract_code

    parts = [body.strip("\n") for _, body in _FENCE.findall(text) if MARK.search(body)]
    if len(parts) > 1:
        return "\n".join(parts) + "\n"
    return extract_code(text)


def keep_missing_files(parent: str, child: str) -> str:
    """A rewrite of a multi-file program keeps the parent's files it leaves out (the model need not repeat
    unchanged files, and a prompt that cut the parent short loses nothing); a one-file answer replaces the
    entry point."""
    if not is_bundle(parent):
        return child
    old = split_bundle(parent)
    new = dict(split_bundle(child) if is_bundle(child) else [(old[0][0], child)])
    kept = [(name, new.pop(name, text)) for name, text in old]  # the parent's order: its entry point stays first
    return join_bundle(kept + list(new.items()))


def entry_point(code: str) -> str:
    return split_bundle(code)[0][0]


def bundle_syntax_error(code: str) -> str | None:
    """The first problem of a bundle: a bad file name, or a SyntaxError in one of its Python files."""
    files = split_bundle(code)
    if is_bundle(code):
        names = [n for n, _ in files]
        why = next((w for n in names if (w := bad_name(n))), None)
        if why:
            return f"Bundle error: {why}"
        if len(set(names)) != len(names):
            return "Bundle error: a file appears twice; give each file once"
        if not names[0].endswith(".py"):
            return f"Bundle error: the first file ({names[0]}) is the entry point and must be a .py file"
    for name, text in files:
        if not name.endswith(".py"):
            continue
        try:
            compile(text, name, "exec")
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if name == SINGLE else f"{name} line {exc.lineno}"
            return f"SyntaxError: {exc.msg} ({where})"
        except ValueError as exc:  # e.g. null bytes
            return f"SyntaxError: {exc} ({name})"
    return None


def write_bundle(code: str, directory: Path) -> str:
    """Write the program's files into ``directory``; returns the entry point's name."""
    files = split_bundle(code)
    for name, text in files:
        why = bad_name(name) if name != SINGLE else None
        if why:
            raise ValueError(why)
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return files[0][0]


def read_program_dir(path: Path, entry: str | None = None) -> str:
    """A user's code directory as a bundle (template mode); every problem is one UserInputError."""
    files: list[tuple[str, str]] = []
    total = 0
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if not p.is_file() or any(s.startswith(".") or s == "__pycache__" for s in p.relative_to(path).parts):
            continue
        if p.suffix.lower() not in TEXT_EXT:
            raise UserInputError(
                f"--code-to-use {path}: {rel} is not a source or text file; template mode takes code "
                "(pass data with --data DIR)"
            )
        size = p.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
            raise UserInputError(
                f"--code-to-use {path}: too large for template mode (at most {MAX_FILES} files, "
                f"{MAX_FILE_BYTES // 1000} KB each, {MAX_TOTAL_BYTES // 1000} KB in all); pass the code only"
            )
        try:
            files.append((rel, p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise UserInputError(f"--code-to-use {path}: cannot read {rel} ({exc})") from None
        why = bad_name(rel)
        if why:
            raise UserInputError(f"--code-to-use {path}: {why}; rename it")
    py = [n for n, _ in files if n.endswith(".py")]
    if not py:
        raise UserInputError(f"--code-to-use {path}: the directory holds no .py file")
    if entry is None:
        entry = next((n for n in ENTRY_NAMES if n in py), py[0] if len(py) == 1 else None)
    if entry not in py:
        raise UserInputError(
            f"--code-to-use {path}: no entry point; name it main.py (or one of {', '.join(ENTRY_NAMES)})"
        )
    files.sort(key=lambda f: f[0] != entry)
    return join_bundle(files)
