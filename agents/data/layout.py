"""The shape of a data directory beyond its tables: many files of one kind in a folder as one group, the start
of text files, and folders that look like one folder per class.

A text corpus (``train/pos/*.txt``, ``train/neg/*.txt``) or an image folder (``train/cat/*.png``) was listed file
by file on the card, or for images only counted: 600 review files filled the card with names ("train/neg/1.txt
(26 B)" ...) and never said what one held, nor that the folder names are the labels. Here a folder holding
``GROUP_MIN`` or more files of one extension (any number of images) becomes one ``FileGroup``: its count, sizes,
first names, and the start of its first text file or the shapes of its images; a text file alone shows its
start too (a README that explains the columns is what the coder most needs to read). ``class_folders`` finds
sibling groups of one extension under one parent, which is how such datasets give their labels.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from agents.textfile import guess_encoding

GROUP_MIN = 10  # files of one extension in one folder shown as a group, not one by one
TEXT_EXT = {".txt", ".text", ".md", ".rst", ".tex", ".html", ".htm", ".xml", ".yaml", ".yml", ".toml", ".cfg", ".ini"}
SAMPLE_CHARS = 240
SAMPLE_BYTES = 4096
EXAMPLES = 3


class FileGroup(BaseModel):
    folder: str  # relative to the data directory ("" for the top level)
    ext: str  # lower-case, with the dot ("" for files without one)
    count: int = 0
    total_bytes: int = 0
    min_bytes: int | None = None
    max_bytes: int = 0
    examples: list[str] = Field(default_factory=list, description="the first few file names, sorted")
    sample: str = Field(default="", description="the start of the first text file")
    shapes: dict[str, int] = Field(default_factory=dict, description="images: 'HxWxC' -> count (headers read)")

    @property
    def pattern(self) -> str:
        """``train/pos/*.txt``: the group as a glob relative to the data directory."""
        return f"{self.folder}/*{self.ext}" if self.folder else f"*{self.ext}"

    def add(self, path: Path, size: int) -> None:
        self.count += 1
        self.total_bytes += size
        self.min_bytes = size if self.min_bytes is None else min(self.min_bytes, size)
        self.max_bytes = max(self.max_bytes, size)
        if len(self.examples) < EXAMPLES:
            self.examples.append(path.name)
        if not self.sample and self.ext in TEXT_EXT:
            self.sample = text_sample(path)

    def add_image(self, path: Path, max_headers: int) -> str | None:
        """An image's shape 'HxWxC' from its header, for the first ``max_headers`` of the group (else None)."""
        if sum(self.shapes.values()) >= max_headers:
            return None
        from PIL import Image

        with Image.open(path) as im:
            shape = f"{im.height}x{im.width}x{len(im.getbands())}"
        self.shapes[shape] = self.shapes.get(shape, 0) + 1
        return shape


def group_key(rel: str) -> tuple[str, str]:
    """(folder, extension) of a file's path relative to the data directory."""
    p = Path(rel)
    parent = p.parent.as_posix()
    return ("" if parent == "." else parent), p.suffix.lower()


def grouped_keys(rels: list[str], always: set[str], never: set[str]) -> set[tuple[str, str]]:
    """The (folder, extension) pairs shown as groups: ``GROUP_MIN`` files or more, or an extension in ``always``
    (images); never those in ``never`` (tables and arrays, which are described one by one)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for rel in rels:
        counts[group_key(rel)] += 1
    return {k for k, n in counts.items() if k[1] not in never and (n >= GROUP_MIN or k[1] in always)}


def text_sample(path: Path) -> str:
    """The first ``SAMPLE_CHARS`` characters of a text file on one line (``""`` when it looks binary)."""
    with path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    if b"\0" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ""
    text = raw.decode(guess_encoding(raw), errors="replace").lstrip("\ufeff")
    odd = sum(1 for c in text if c == "\ufffd" or (not c.isprintable() and not c.isspace()))
    if odd > len(text) // 10:
        return ""  # binary after all
    flat = " ".join(text.split())
    return flat[:SAMPLE_CHARS] + (" ..." if len(flat) > SAMPLE_CHARS or len(raw) == SAMPLE_BYTES else "")


def class_folders(groups: list[FileGroup]) -> list[tuple[str, str, list[FileGroup]]]:
    """(parent, extension, groups) where two or more sibling folders each hold files of that extension: the usual
    layout of a dataset whose folder names are the labels (``train/cat``, ``train/dog``)."""
    siblings: dict[tuple[str, str], list[FileGroup]] = defaultdict(list)
    for g in groups:
        if g.folder:
            parent = Path(g.folder).parent.as_posix()
            siblings[("" if parent == "." else parent, g.ext)].append(g)
    return [(parent, ext, gs) for (parent, ext), gs in sorted(siblings.items()) if len(gs) >= 2]
