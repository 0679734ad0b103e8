"""The data card: tables, JSON, Parquet, images and arrays described from real files; big files sampled, not
loaded; the same directory gives the same card; a file that cannot be read is one clear message."""

from __future__ import annotations

import csv
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.data.card import build_card
from agents.data.render import card_text
from agents.errors import UserInputError


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "houses"
    (d / "images").mkdir(parents=True)
    rows: list[list[object]] = [
        [i, 50 + i, "north" if i % 3 else "south", "" if i % 10 == 0 else 1.5 * i] for i in range(40)
    ]
    write_csv(d / "train.csv", ["id", "area", "region", "price"], rows)
    (d / "extra.jsonl").write_text("\n".join(json.dumps({"id": i, "tag": f"t{i % 2}"}) for i in range(5)) + "\n")
    (d / "meta.json").write_text(json.dumps({"source": "survey", "year": 2024}))
    np.save(d / "emb.npy", np.zeros((40, 8), dtype=np.float32))
    np.savez(d / "pair.npz", a=np.ones((2, 3)), b=np.arange(5))
    for i in range(3):
        Image.new("RGB", (16, 12)).save(d / "images" / f"{i}.png")
    Image.new("L", (4, 4)).save(d / "images" / "gray.png")
    (d / ".hidden").write_text("secret")
    return d


def test_card_describes_every_kind_of_file(data_dir: Path) -> None:
    card = build_card(data_dir)
    by = {f.path: f for f in card.files}
    assert set(by) == {
        "train.csv",
        "extra.jsonl",
        "meta.json",
        "emb.npy",
        "pair.npz",
    }  # images summarised, hidden skipped
    t = by["train.csv"]
    assert t.rows == 40 and not t.rows_estimated
    cols = {c.name: c for c in t.columns}
    assert cols["id"].type == "int" and cols["id"].min == 0 and cols["id"].max == 39
    assert cols["price"].type == "float" and cols["price"].missing == 4
    assert cols["region"].type == "string" and cols["region"].top == ["north", "south"]
    assert t.head[0] == ["0", "50", "south", ""]
    assert by["extra.jsonl"].rows == 5 and [c.name for c in by["extra.jsonl"].columns] == ["id", "tag"]
    assert by["meta.json"].kind == "json" and "source" in by["meta.json"].note
    assert by["emb.npy"].arrays == {"array": "(40, 8) float32"}
    assert by["pair.npz"].arrays["a"].startswith("(2, 3)") and by["pair.npz"].arrays["b"].startswith("(5,)")
    assert card.image_count == 4 and card.image_shapes == {"12x16x3": 3, "4x4x1": 1}
    assert card.total_files == 9
    text = card_text(card, 4000)
    assert "train.csv" in text and "40 rows" in text and "price (float; 4 missing" in text and "12x16x3 x3" in text


def test_card_is_deterministic_and_bounded(data_dir: Path) -> None:
    a, b = build_card(data_dir), build_card(data_dir)
    assert a.model_dump_json() == b.model_dump_json()
    short = card_text(a, 300)
    assert len(short) <= 300 and "more file(s) or folder(s) not shown" in short


def test_a_wide_table_is_shown_shorter_not_dropped(tmp_path: Path) -> None:
    """2,001 columns (an expression matrix): the whole entry is longer than the prompt's budget. It was dropped,
    leaving the card '1 file(s) ... 1 more file(s) not shown' and the coder nothing to go on."""
    d = tmp_path / "wide"
    d.mkdir()
    header = [f"gene_{i}" for i in range(2000)] + ["label"]
    rows = [",".join([f"{(r * 7 + i) % 13 / 3:.15f}" for i in range(2000)] + [("tumor", "normal")[r % 2]])
            for r in range(40)]  # fmt: skip
    (d / "expr.csv").write_text(",".join(header) + "\n" + "\n".join(rows) + "\n")
    card = build_card(d)
    text = card_text(card, 1250, keep=("label",))
    assert len(text) <= 1250 and "not shown" not in text
    assert "- expr.csv (" in text and "columns (2001): gene_0 (float" in text
    assert "label (string; values normal, tumor)" in text and "more (1" in text and " float)" in text
    tight = card_text(card, 250, keep=("label",))
    assert "- expr.csv (" in tight and "label (string" in tight and "first rows" not in tight


def test_a_text_corpus_is_one_line_per_folder_not_one_per_file(tmp_path: Path) -> None:
    """600 review files in train/pos and train/neg: the card listed them one by one ("train/neg/1.txt (26 B)" ...,
    its whole budget on names) and never said what a file held, nor that the folders are the labels."""
    d = tmp_path / "reviews"
    for label, words in (("pos", "A wonderful film"), ("neg", "A dull film")):
        (d / "train" / label).mkdir(parents=True)
        for i in range(300):
            (d / "train" / label / f"{i}.txt").write_text(f"{words}, number {i}.\nSecond line.\n")
    (d / "README.md").write_text("# Reviews\n\nOne review per file; the folder is the sentiment.\n")
    (d / "notes").mkdir()
    (d / "notes" / "a.txt").write_text("short note")
    card = build_card(d)
    assert card.total_files == 602 and [f.path for f in card.files] == ["README.md", "notes/a.txt"]
    assert {(g.folder, g.ext, g.count) for g in card.groups} == {("train/neg", ".txt", 300), ("train/pos", ".txt", 300)}
    text = card_text(card, 1500)
    assert len(text) <= 1500 and "not shown" not in text
    assert text.index("README.md") < text.index("train/<folder>/*.txt")  # the user's own description first
    assert '"# Reviews One review per file; the folder is the sentiment."' in text
    assert "train/<folder>/*.txt: 2 folders, 600 file(s) in all (neg 300, pos 300)" in text
    assert "the folder name is the label" in text and 'starts: "A dull film, number 0. Second line."' in text
    assert "train/neg/1.txt" not in text  # not listed file by file


def test_images_are_described_by_folder(tmp_path: Path) -> None:
    d = tmp_path / "pets"
    for label, size in (("cat", (16, 12)), ("dog", (16, 12))):
        (d / "images" / label).mkdir(parents=True)
        for i in range(60):
            Image.new("RGB", size).save(d / "images" / label / f"{i:03d}.png")
    (d / "misc").mkdir()
    Image.new("L", (4, 4)).save(d / "misc" / "logo.png")
    for i in range(12):
        (d / "audio").mkdir(exist_ok=True)
        (d / "audio" / f"clip{i:02d}.wav").write_bytes(b"RIFF" + bytes(60))
    card = build_card(d)
    assert card.image_count == 121 and card.files == []
    text = card_text(card, 2000)
    assert "121 image(s), shapes (HxWxC): 12x16x3 x100, 4x4x1 x1 (headers of 101 read)" in text
    assert "images/<folder>/*.png: 2 folders, 120 image(s) in all (cat 60, dog 60)" in text
    assert "- misc/*.png: 1 image(s)" in text and "shapes (HxWxC): 4x4x1 x1" in text
    assert "- audio/*.wav: 12 file(s), 64 B each (e.g. clip00.wav, clip01.wav, clip02.wav)" in text


def test_many_tables_in_a_folder_are_still_described_one_by_one(tmp_path: Path) -> None:
    """Tables (and arrays) are never grouped: the target column and the held-out split need their entries."""
    d = tmp_path / "series"
    d.mkdir()
    for i in range(12):
        write_csv(d / f"s{i:02d}.csv", ["t", "v"], [[0, i], [1, i + 1]])
    card = build_card(d)
    assert len(card.files) == 12 and card.groups == [] and card.table_with("v") is not None


def test_parquet_card(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = tmp_path / "pq"
    d.mkdir()
    table = pa.table({"x": list(range(100)), "y": [None if i % 4 == 0 else float(i) for i in range(100)]})
    pq.write_table(table, d / "t.parquet", row_group_size=30)
    f = build_card(d, sample_rows=20).files[0]
    assert f.rows == 100 and f.sampled_rows == 20
    cols = {c.name: c for c in f.columns}
    assert cols["x"].type == "int64" and cols["y"].type == "double" and cols["y"].missing == 25  # from statistics


def test_ten_gigabyte_file_is_sampled_not_loaded(tmp_path: Path) -> None:
    """A sparse 10 GB CSV: its first rows are real, the rest a hole the card must never read."""
    d = tmp_path / "big"
    d.mkdir()
    path = d / "big.csv"
    with path.open("w") as fh:
        fh.write("a,b,label\n")
        for i in range(5000):
            fh.write(f"{i},{i * 0.5},{i % 2}\n")
        fh.truncate(10 * 1024**3)
    tracemalloc.start()
    t0 = time.monotonic()
    card = build_card(d, exact_max_mb=64, sample_rows=1000)
    elapsed = time.monotonic() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    f = card.files[0]
    assert f.size_bytes == 10 * 1024**3
    assert f.rows_estimated and f.sampled_rows == 1000 and f.rows is not None and f.rows > 10**8
    assert elapsed < 10 and peak < 50 * 1024**2, (elapsed, peak)
    assert "(estimated; statistics from the first 1,000)" in card_text(card)


@pytest.mark.parametrize(
    ("name", "content"),
    [("broken.npy", b"not a numpy file"), ("broken.png", b"\x89PNG\r\n\x1a\nrubbish"), ("bad.json", b"{oops")],
)
def test_unreadable_file_is_one_clear_message(tmp_path: Path, name: str, content: bytes) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / name).write_bytes(content)
    with pytest.raises(UserInputError, match=rf"cannot read .*{name}.*fix or remove|cannot read .*{name}"):
        build_card(d)


def test_a_file_without_line_breaks_is_not_read_whole(tmp_path: Path) -> None:
    d = tmp_path / "oneline"
    d.mkdir()
    with (d / "huge.csv").open("wb") as fh:
        fh.truncate(1024**3)  # 1 GB of NUL bytes and not one newline
    t0 = time.monotonic()
    with pytest.raises(UserInputError, match="huge.csv.*longer than 16 MB"):
        build_card(d)
    assert time.monotonic() - t0 < 10


def test_the_start_of_a_text_file_in_its_encoding_and_not_of_a_binary(tmp_path: Path) -> None:
    from agents.data.layout import text_sample

    (tmp_path / "u16.txt").write_text("Hello wörld\nline two", encoding="utf-16")
    (tmp_path / "win.txt").write_bytes("Une étude\r\nsur".encode("cp1252"))
    (tmp_path / "weights").write_bytes(bytes(range(1, 256)) * 10)  # no extension, no NUL byte, not text
    (tmp_path / "long.md").write_text("word " * 1000)
    assert text_sample(tmp_path / "u16.txt") == "Hello wörld line two"
    assert text_sample(tmp_path / "win.txt") == "Une étude sur"
    assert text_sample(tmp_path / "weights") == ""
    long = text_sample(tmp_path / "long.md")
    assert long.endswith(" ...") and len(long) == 244
    card = build_card(tmp_path)
    assert {f.path: f.text for f in card.files}["weights"] == ""


def test_image_headers_read_are_bounded_in_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 per folder would be 50,000 header reads for a thousand class folders: there is a cap in all too."""
    import agents.data.card as card_module

    monkeypatch.setattr(card_module, "MAX_IMAGE_HEADERS_ALL", 25)
    for c in range(4):
        (tmp_path / f"c{c}").mkdir()
        for i in range(12):
            Image.new("RGB", (8, 8)).save(tmp_path / f"c{c}" / f"{i}.png")
    card = build_card(tmp_path)
    assert card.image_count == 48 and card.image_shapes == {"8x8x3": 25}
    assert "<folder>/*.png: 4 folders, 48 image(s) in all (c0 12, c1 12, c2 12, c3 12)" in card_text(card)
