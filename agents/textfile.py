"""The encodings of files people give Shoal.

``read_user_text``: a topic, an idea or seed-ideas JSON, a baseline program, an evolve program and its evaluator are
UTF-8, with or without a byte-order mark; anything else is one ``UserInputError`` saying what the file is and how to
save it, never a mangled title or a JSON error about an invisible character. ``guess_encoding``: for the readers
that take text as it comes (a paper to review, a CSV table), the encoding a file was most likely saved in."""

from __future__ import annotations

import codecs
from pathlib import Path

from agents.errors import UserInputError

MAX_BYTES = 16 << 20  # a topic, an idea or a program; a larger file is not what was meant


def guess_encoding(raw: bytes) -> str:
    """``utf-16`` (by its byte-order mark), ``utf-8-sig``, ``utf-8``, ``cp1252`` or ``latin-1``: the first that
    decodes ``raw``, which may be the start of a file (a character cut at its end is fine)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for name in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(name)().decode(raw, final=False)
        except UnicodeDecodeError:
            continue
        return name
    return "latin-1"  # decodes any bytes


def read_user_text(path: Path, what: str, max_bytes: int = MAX_BYTES) -> str:
    """The text of ``path`` (a leading UTF-8 byte-order mark dropped); ``what`` names it in messages."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError
        if size > max_bytes:
            limit = max_bytes >> 20
            raise UserInputError(f"{what} {path} is {size / 2**20:.0f} MiB; a text file under {limit} MiB is expected")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise UserInputError(f"{what} {path} is a folder; give the path of a file") from None
    except OSError as exc:
        raise UserInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if guess_encoding(raw[:2]) == "utf-16":
        raise UserInputError(
            f"{what} {path} is UTF-16 text (as PowerShell and Notepad's 'Unicode' save it); save it as UTF-8"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        seen = raw[exc.start : exc.start + 1].decode("cp1252", errors="replace")
        raise UserInputError(
            f"{what} {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}, {seen!r} in "
            "Windows-1252); save it as UTF-8"
        ) from None
