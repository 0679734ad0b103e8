"""With --holdout, every file that has or may hold the target column is found and shown empty to programs: not
only the tables on the data card (it stops at 200 files) but compressed copies and the archives a table came
from, read by their headers and member lists."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from agents.data.label_copies import label_copies
from agents.data.session import check_data
from agents.data.task import make_task
from agents.sandbox import make_sandbox
from agents.settings import Settings

ROWS = "".join(f"{i},{i % 7},{'a' if i % 2 else 'b'}\n" for i in range(60))
TABLE = "x1,x2,kind\n" + ROWS


def _tar(path: Path, name: str, data: bytes) -> None:
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def _workbook(path: Path, cells: list[str]) -> None:
    """An .xlsx as spreadsheet programs save it: its text cells in xl/sharedStrings.xml."""
    items = "".join(f"<si><t>{c}</t></si>" for c in cells)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/sharedStrings.xml", f'<sst count="{len(cells)}">{items}</sst>')


def directory(tmp_path: Path) -> Path:
    """A Kaggle-like download: the table, many notes before the copies (past the card's 200 files), copies of
    the table in every form a program could read, and files that are no copy at all."""
    d = tmp_path / "shop"
    d.mkdir()
    (d / "train.csv").write_text(TABLE)
    for i in range(23):  # folders of fewer than 10 files are listed file by file on the card
        notes = d / f"notes{i}"
        notes.mkdir()
        for j in range(9):
            (notes / f"n{j}.md").write_text(f"note {i}.{j}\n")
    (d / "zz").mkdir()
    (d / "zz" / "deep_copy.csv").write_text(TABLE.replace(",", ";"))
    (d / "zz" / "copy.tsv").write_text(TABLE.replace(",", "\t"))
    (d / "zz" / "copy.jsonl").write_text("".join(json.dumps({"x1": i, "kind": "a"}) + "\n" for i in range(5)))
    (d / "zz" / "copy.json").write_text(json.dumps([{"x1": 1, "kind": "a"}]))
    pq.write_table(pa.table({"x1": [1, 2], "kind": ["a", "b"]}), d / "zz" / "copy.parquet")
    with gzip.open(d / "zz" / "train.csv.gz", "wt") as fh:
        fh.write(TABLE)
    with bz2.open(d / "zz" / "train.jsonl.bz2", "wt") as fh:
        fh.write(json.dumps({"kind": "a"}) + "\n")
    with zipfile.ZipFile(d / "zz" / "download.zip", "w") as zf:
        zf.writestr("images/readme.md", "pictures")
        zf.writestr("data/train.csv", TABLE)
    _tar(d / "zz" / "bundle.tar.gz", "shop/train.csv", TABLE.encode())
    _workbook(d / "zz" / "original.xlsx", ["x1", "x2", "kind"])  # the sheet the CSV was exported from
    (d / "zz" / "train.csv.zst").write_bytes(b"\x28\xb5\x2f\xfd not really")
    (d / "zz" / "broken.zip").write_bytes(b"PK\x03\x04 cut off")
    # no copies: other columns, a column named like the target only in its values, images in an archive
    (d / "zz" / "stores.csv").write_text("store,city\n1,kind\n")
    (d / "zz" / "prices.parquet").write_bytes(b"")
    pq.write_table(pa.table({"x1": [1], "price": [2.0]}), d / "zz" / "prices.parquet")
    with zipfile.ZipFile(d / "zz" / "images.zip", "w") as zf:
        zf.writestr("a.png", b"\x89PNG")
    _tar(d / "zz" / "other.tar.gz", "shop/stores.csv", b"store,city\n1,x\n")
    _workbook(d / "zz" / "budget.xlsx", ["cost", "kinds"])
    (d / "zz" / "notes.txt").write_text("the kind of each order is in train.csv\n")
    return d


COPIES = {
    "zz/broken.zip": "could not read",
    "zz/bundle.tar.gz": "shop/train.csv",
    "zz/copy.json": "also has 'kind'",
    "zz/copy.jsonl": "also has 'kind'",
    "zz/copy.parquet": "also has 'kind'",
    "zz/copy.tsv": "also has 'kind'",
    "zz/deep_copy.csv": "also has 'kind'",
    "zz/download.zip": "(data/train.csv): it also has 'kind'",
    "zz/original.xlsx": "a workbook: it also has 'kind'",
    "zz/train.csv.gz": "compressed copy",
    "zz/train.csv.zst": "cannot read",
    "zz/train.jsonl.bz2": "compressed copy",
}


def test_every_copy_of_the_labels_is_found_by_its_header_and_nothing_else(tmp_path: Path) -> None:
    found = label_copies(directory(tmp_path), "kind", "train.csv")
    assert sorted(found) == sorted(COPIES)
    for rel, why in COPIES.items():
        assert why in found[rel], (rel, found[rel])


def test_a_node_sees_every_copy_empty_and_the_rest_as_it_is(tmp_path: Path) -> None:
    """The card describes only its first 200 files (tables apart): an archive after them was mounted as it was,
    and with it the held-out labels."""
    d = directory(tmp_path)
    s = Settings(cache_dir=tmp_path / "cache", workspace=tmp_path / "ws")
    session = check_data(make_task(data=d, goal="g", metric="accuracy", target="kind", holdout=0.25), s)
    assert session is not None and session.card is not None
    described = {f.path for f in session.card.files}
    assert "zz/deep_copy.csv" in described and "train.csv" in described  # tables are all described
    assert "zz/download.zip" not in described and "zz/train.csv.gz" not in described
    assert sorted(session.hidden_tables()) == sorted(COPIES)
    node = tmp_path / "node"
    node.mkdir()
    (node / "code.py").write_text(
        "import os\n"
        f"for rel in {sorted(COPIES)!r} + ['zz/stores.csv', 'zz/images.zip', 'zz/budget.xlsx', 'train.csv']:\n"
        "    print(rel, os.path.getsize('/data/' + rel))\n"
    )
    box = make_sandbox(s.sandbox)
    res = box.run(node, ["python", "code.py"], timeout_s=30, mounts=session.mounts(), env=session.env())
    assert res.exit_code == 0, res.stderr[-800:]
    sizes = dict(line.rsplit(" ", 1) for line in res.stdout.splitlines())
    assert all(sizes[rel] == "0" for rel in COPIES), sizes
    assert int(sizes["zz/stores.csv"]) > 0 and int(sizes["zz/images.zip"]) > 0 and int(sizes["train.csv"]) > 0
    assert (d / "zz" / "deep_copy.csv").stat().st_size > 0  # the user's own files are untouched
