"""The data card as compact text for prompts and docs, cut to a character budget (the small model loses track
in long prompts): files and sizes first, then each table's columns and a few rows, images, arrays."""

from __future__ import annotations

from pathlib import Path

from agents.data.card import IMAGE_EXT, Column, DataCard, FileEntry
from agents.data.layout import FileGroup, class_folders


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _column(c: Column) -> str:
    bits = [c.type]
    if c.missing:
        bits.append(f"{c.missing} missing")
    if c.min is not None and c.max is not None:
        bits.append(f"{c.min:g}..{c.max:g}")
    elif c.top:
        more = "" if (c.distinct or 0) <= len(c.top) else f" of {c.distinct}{'+' if c.distinct == 1000 else ''}"
        bits.append(f"values {', '.join(c.top)}{more}")
    return f"{c.name} ({'; '.join(bits)})"


def _rows(f: FileEntry) -> str:
    if f.rows is None:
        return ""
    if f.rows_estimated:
        return f", ~{f.rows:,} rows (estimated; statistics from the first {f.sampled_rows:,})"
    if f.sampled_rows is not None:
        return f", {f.rows:,} rows (statistics from the first {f.sampled_rows:,})"
    return f", {f.rows:,} rows"


def _kinds(columns: list[Column]) -> str:
    """``1998 float, 2 string``: the types of columns not listed one by one."""
    counts: dict[str, int] = {}
    for c in columns:
        counts[c.type] = counts.get(c.type, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def file_text(f: FileEntry, max_columns: int = 30, max_rows: int = 3, keep: tuple[str, ...] = ()) -> list[str]:
    """One file's lines: the first ``max_columns`` columns and those named in ``keep`` (the target), the types of
    the rest, and up to ``max_rows`` example rows."""
    lines = [f"- {f.path} ({human_size(f.size_bytes)}{_rows(f)})" + (f": {f.note}" if f.note else "")]
    if f.path.lower().endswith((".json", ".jsonl", ".ndjson")):
        if f.encoding == "utf-8-sig":
            lines.append("  starts with a UTF-8 byte-order mark: open it with encoding='utf-8-sig'")
    elif f.kind == "table" and f.dialect.read_args():
        lines.append(f"  not plain comma-separated UTF-8: read it with pandas.read_csv(path, {f.dialect.read_args()})")
    if f.columns:
        shown = f.columns[:max_columns] + [c for c in f.columns[max_columns:] if c.name in keep]
        rest = [c for c in f.columns if c not in shown]
        listed = "; ".join(_column(c) for c in shown)
        if not rest:
            lines.append(f"  columns: {listed}")
        else:
            more = f" ... and {len(rest)} more ({_kinds(rest)})" if shown else _kinds(rest)
            lines.append(f"  columns ({len(f.columns)}): {listed}{more}")
    if f.head and f.columns and max_rows:
        names = [c.name for c in f.columns[:12]]
        sep = f.delimiter if f.delimiter in (";", "|") else ","
        lines.append("  first rows: " + sep.join(names))
        lines += ["    " + sep.join(r[:12]) for r in f.head[:max_rows]]
    for name, desc in f.arrays.items():
        lines.append(f"  array {name}: shape {desc}")
    return lines


def _sizes(lo: int, hi: int) -> str:
    return human_size(hi) if lo == hi else f"{human_size(lo)} to {human_size(hi)}"


def _shapes(shapes: dict[str, int], count: int) -> str:
    """The commonest shapes; ``count`` images in all, of which only the headers counted here were read."""
    listed = ", ".join(f"{s} x{n}" for s, n in sorted(shapes.items(), key=lambda kv: -kv[1])[:3])
    read = sum(shapes.values())
    return listed if read >= count else f"{listed} (headers of {read} read)"


def _noun(ext: str) -> str:
    return "image(s)" if ext in IMAGE_EXT else "file(s)"


def group_text(g: FileGroup) -> list[str]:
    """A folder's files of one kind: count, sizes, first names, image shapes, the start of the first one."""
    line = f"- {g.pattern}: {g.count:,} {_noun(g.ext)}, {_sizes(g.min_bytes or 0, g.max_bytes)} each"
    line += f" (e.g. {', '.join(g.examples)})"
    if g.shapes:
        line += f"; shapes (HxWxC): {_shapes(g.shapes, g.count)}"
    return [line] + ([f'  {g.examples[0]} starts: "{g.sample}"'] if g.sample else [])


FOLDERS_LISTED = 20


def family_text(parent: str, ext: str, groups: list[FileGroup]) -> list[str]:
    """Sibling folders of one kind of file (``train/cat``, ``train/dog``): one line, the folder names as labels."""
    names = ", ".join(f"{Path(g.folder).name} {g.count:,}" for g in groups[:FOLDERS_LISTED])
    if len(groups) > FOLDERS_LISTED:
        names += f", ... and {len(groups) - FOLDERS_LISTED} more"
    where = f"{parent}/" if parent else ""
    lo, hi = min(g.min_bytes or 0 for g in groups), max(g.max_bytes for g in groups)
    line = (
        f"- {where}<folder>/*{ext}: {len(groups)} folders, {sum(g.count for g in groups):,} {_noun(ext)} in all "
        f"({names}), {_sizes(lo, hi)} each; one folder per class? then the folder name is the label"
    )
    shapes: dict[str, int] = {}
    for g in groups:
        for s, n in g.shapes.items():
            shapes[s] = shapes.get(s, 0) + n
    if shapes:
        line += f"; shapes (HxWxC): {_shapes(shapes, sum(g.count for g in groups))}"
    first = groups[0]
    return [line] + ([f'  {first.folder}/{first.examples[0]} starts: "{first.sample}"'] if first.sample else [])


def _other_text(f: FileEntry) -> list[str]:
    return file_text(f, 0, 0) + ([f'  starts: "{f.text}"'] if f.text else [])


# ever shorter forms of a file that does not fit whole: fewer columns and example rows, then its line alone
_SHORTER = ((30, 3), (12, 2), (5, 1), (0, 0))


def _blocks(card: DataCard, keep: tuple[str, ...]) -> list[list[str]]:
    """Each item of the card in its forms, longest first: text files at the top (a README), tables, folders of
    files, other files."""
    readmes = [f for f in card.files if f.text and "/" not in f.path]
    blocks = [["\n".join(lines), lines[0]] for lines in map(_other_text, readmes)]
    blocks += [
        ["\n".join(file_text(f, columns, rows, keep)) for columns, rows in _SHORTER]
        for f in card.files
        if f.kind == "table"
    ]
    families = class_folders(card.groups)
    in_family = {id(g) for _, _, gs in families for g in gs}
    for parent, ext, gs in families:
        lines = family_text(parent, ext, gs)
        blocks.append(["\n".join(lines), lines[0]])
    for g in card.groups:
        if id(g) not in in_family:
            lines = group_text(g)
            blocks.append(["\n".join(lines), lines[0]])
    for f in card.files:
        if f.kind != "table" and f not in readmes:
            lines = file_text(f) if f.kind != "other" else _other_text(f)
            blocks.append(["\n".join(lines), lines[0]])
    return blocks


_TRAILER = 50  # "... N more file(s) or folder(s) not shown"


def card_text(card: DataCard, max_chars: int = 3000, keep: tuple[str, ...] = ()) -> str:
    """The card in at most ``max_chars`` characters. An item that does not fit whole is shown shorter (a table:
    fewer columns, the ``keep`` ones always among them, fewer rows; a folder or file: its first line); later items
    that do not fit at all are counted."""
    head = f"{card.total_files} file(s), {human_size(card.total_bytes)} in all."
    if card.image_count:
        head += f" {card.image_count} image(s), shapes (HxWxC): {_shapes(card.image_shapes, card.image_count)}."
    out = [head]
    used = len(head)
    blocks = _blocks(card, keep)
    for i, forms in enumerate(blocks):
        room = max_chars - (0 if i == len(blocks) - 1 else _TRAILER)  # the count of what is left must fit too
        block = next((b for b in forms if used + len(b) + 1 <= room), None)
        if block is None:
            out.append(f"... {len(blocks) - i} more file(s) or folder(s) not shown")
            break
        out.append(block)
        used += len(block) + 1
    return "\n".join(out)[:max_chars]
