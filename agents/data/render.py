"""The data card as compact text for prompts and docs, cut to a character budget (the small model loses track
in long prompts): files and sizes first, then each table's columns and a few rows, images, arrays."""

from __future__ import annotations

from agents.data.card import Column, DataCard, FileEntry


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
        extra = f" ... and {len(rest)} more ({_kinds(rest)})" if rest else ""
        head = f"  columns ({len(f.columns)}): " if rest else "  columns: "
        lines.append(head + "; ".join(_column(c) for c in shown) + extra)
    if f.head and f.columns and max_rows:
        names = [c.name for c in f.columns[:12]]
        sep = f.delimiter if f.delimiter in (";", "|") else ","
        lines.append("  first rows: " + sep.join(names))
        lines += ["    " + sep.join(r[:12]) for r in f.head[:max_rows]]
    for name, desc in f.arrays.items():
        lines.append(f"  array {name}: shape {desc}")
    return lines


# ever shorter forms of a file that does not fit whole: fewer columns and example rows, then its line alone
_SHORTER = ((30, 3), (12, 2), (5, 1), (0, 0))


def card_text(card: DataCard, max_chars: int = 3000, keep: tuple[str, ...] = ()) -> str:
    """The card in at most ``max_chars`` characters. A file that does not fit whole is shown shorter (fewer
    columns, the ``keep`` ones always among them, fewer rows); later files that do not fit at all are counted."""
    head = f"{card.total_files} file(s), {human_size(card.total_bytes)} in all."
    if card.image_count:
        shapes = ", ".join(f"{s} x{n}" for s, n in sorted(card.image_shapes.items(), key=lambda kv: -kv[1])[:5])
        head += f" {card.image_count} image(s), shapes (HxWxC): {shapes}."
    out = [head]
    used = len(head)
    for i, f in enumerate(card.files):
        for columns, rows in _SHORTER:
            block = "\n".join(file_text(f, columns, rows, keep))
            if used + len(block) + 1 <= max_chars:
                break
        else:
            out.append(f"... {len(card.files) - i} more file(s) not shown")
            break
        out.append(block)
        used += len(block) + 1
    return "\n".join(out)[:max_chars]
