"""Tables as people really save them: semicolons and decimal commas, cp1252, byte-order marks, tabs and pipes,
UTF-16; target columns with missing values; a metric that does not fit the target. Each is read right, or
stopped with one clear message before any model call."""

from __future__ import annotations

import codecs
import csv
import json
import logging
import math
import random
from pathlib import Path

import pytest
from sklearn import metrics as skm

from agents.data.card import build_card
from agents.data.dialect import Dialect, sniff
from agents.data.render import card_text
from agents.data.session import check_data
from agents.data.task import make_task
from agents.errors import UserInputError
from agents.prompts import render_text
from agents.settings import Settings


def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", workspace=tmp_path / "ws")


def european(path: Path, n: int = 80) -> list[tuple[int, str, float]]:
    """A spreadsheet export: ';'-separated, decimal commas, cp1252 (accented text), CRLF line ends."""
    rng = random.Random(3)
    rows = [(i, f"café{i % 3}", round(rng.uniform(0, 100), 2)) for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["nr;lieu;prix"] + [f"{i};{lieu};{str(prix).replace('.', ',')}" for i, lieu, prix in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return rows


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        (b"a,b,c\n1,2,3\n4,5,6\n", ".csv", Dialect(",", "utf-8", ".")),
        (b"a;b;c\n1;2,5;3\n4;5,25;6\n", ".csv", Dialect(";", "utf-8", ",")),
        (b"a;b;c\n1;2.5;3\n4;5,25;6\n", ".csv", Dialect(";", "utf-8", ".")),  # a point anywhere: not decimal commas
        ("a;b\n1;é\n".encode("cp1252"), ".csv", Dialect(";", "cp1252", ".")),
        (b"\xef\xbb\xbfa,b\n1,2\n", ".csv", Dialect(",", "utf-8-sig", ".")),
        (b"a\tb\tc\n1\t2\t3\n", ".csv", Dialect("\t", "utf-8", ".")),
        (b"a|b\n1|2\n", ".csv", Dialect("|", "utf-8", ".")),
        (b'name,note\n"Smith; J.","a; b; c"\n"Doe; K.","d; e"\n', ".csv", Dialect(",", "utf-8", ".")),
        (b"a\tb\n1,5\t2\n", ".tsv", Dialect("\t", "utf-8", ",")),
        (b"single\n1\n2\n", ".csv", Dialect(",", "utf-8", ".")),
        (b"", ".csv", Dialect(",", "utf-8", ".")),
    ],
)
def test_sniff(tmp_path: Path, content: bytes, suffix: str, expected: Dialect) -> None:
    path = tmp_path / f"t{suffix}"
    path.write_bytes(content)
    assert sniff(path) == expected


def test_a_utf16_table_is_one_clear_message(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.csv").write_bytes("a,b\n1,2\n3,4\n".encode("utf-16"))
    with pytest.raises(UserInputError, match=r"t.csv.*UTF-16.*save it as UTF-8"):
        build_card(d)
    (d / "t.csv").write_bytes("a,b\n1,2\n3,4\n".encode("utf-16-le"))  # no byte-order mark
    with pytest.raises(UserInputError, match="UTF-16"):
        build_card(d)


def test_the_card_reads_a_spreadsheet_export(tmp_path: Path) -> None:
    european(tmp_path / "d" / "prices.csv")
    card = build_card(tmp_path / "d")
    entry = card.files[0]
    assert [c.name for c in entry.columns] == ["nr", "lieu", "prix"]
    assert (entry.delimiter, entry.encoding, entry.decimal) == (";", "cp1252", ",")
    prix = entry.columns[2]
    assert prix.type == "float" and prix.min is not None and 0 <= prix.min < prix.max <= 100  # type: ignore[operator]
    assert entry.columns[1].top[0].startswith("café")
    text = card_text(card)
    assert "read it with pandas.read_csv(path, sep=';', encoding='cp1252', decimal=',')" in text
    assert "first rows: nr;lieu;prix" in text


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.csv").write_bytes(b"\xef\xbb\xbfy,x\n" + b"".join(b"%d,%d\n" % (i % 2, i) for i in range(40)))
    card = build_card(d)
    assert [c.name for c in card.files[0].columns] == ["y", "x"]
    s = check_data(make_task(data=d, metric="accuracy", target="y", holdout=0.3), settings(tmp_path))
    assert s is not None and s.split is not None and set(s.split.read_labels()) == {"0", "1"}


def test_holdout_split_keeps_the_dialect_and_every_byte(tmp_path: Path) -> None:
    source = tmp_path / "d" / "prices.csv"
    rows = european(source)
    task = make_task(data=tmp_path / "d", goal="g", metric="rmse", target="prix", holdout=0.25)
    s = check_data(task, settings(tmp_path))
    assert s is not None and s.split is not None
    split = s.split
    train_bytes = (split.train_dir / "train.csv").read_bytes()
    feats_bytes = split.features.read_bytes()
    assert train_bytes.startswith(b"nr;lieu;prix\r\n") and feats_bytes.startswith(b"nr;lieu\r\n")
    assert "café".encode("cp1252") in train_bytes and "café".encode("cp1252") in feats_bytes
    train_lines = train_bytes.splitlines()[1:]
    held = {int(line.split(b";")[0]) for line in feats_bytes.splitlines()[1:]}
    original = source.read_bytes().splitlines()[1:]
    assert sorted(train_lines) == sorted(line for line in original if int(line.split(b";")[0]) not in held)
    truth = [prix for i, _, prix in rows if i in held]
    assert [float(v) for v in split.read_labels()] == truth  # decimal commas read as numbers
    # the models are told how to read both parts, and the example code does it
    prompt = s.prompt()
    assert prompt["read_args"] == ", sep=';', encoding='cp1252', decimal=','"
    env = {"strength": "small", "packages": ["pandas", "numpy", "sklearn"]}
    example = render_text("_partials/coder_data", {"data": prompt, "env": env})
    assert "read_csv(test_file(), sep=';', encoding='cp1252', decimal=',')" in example
    assert "café" in "\n".join(" ".join(r) for r in (s.visible_card() or build_card(tmp_path)).files[0].head)
    # Shoal scores a node's predictions against those numbers
    node = tmp_path / "node"
    node.mkdir()
    preds = [50.0] * len(truth)
    (node / "predictions.csv").write_text("prediction\n" + "\n".join(map(str, preds)) + "\n")
    metric, why = s.evaluate(node)
    assert metric is not None, why
    assert math.isclose(metric.values["held-out"], math.sqrt(skm.mean_squared_error(truth, preds)))


def test_a_test_table_in_another_dialect_is_written_in_the_training_tables(tmp_path: Path) -> None:
    """The held-out features are read with the training table's arguments, so they are written in its dialect."""
    d = tmp_path / "d"
    d.mkdir()
    rows = "".join(f"{i},5;café{i % 2};{i * 3},25\r\n" for i in range(30))
    (d / "train.csv").write_bytes(f"taille;lieu;prix\r\n{rows}".encode("cp1252"))
    test = tmp_path / "test.csv"
    test.write_text("taille,lieu,prix\n1.5,café1,12.5\n2.75,café2,7.25\n")
    s = check_data(make_task(data=d, metric="rmse", target="prix", test=test), settings(tmp_path))
    assert s is not None and s.split is not None
    assert s.prompt()["read_args"] == ", sep=';', encoding='cp1252', decimal=','"
    lines = s.split.features.read_bytes().decode("cp1252").splitlines()
    assert lines == ["taille;lieu", "1,5;café1", "2,75;café2"]
    assert s.split.read_labels() == ["12.5", "7.25"]


def test_rows_without_a_target_are_never_held_out(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    with (d / "t.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x", "y"])
        for i in range(200):
            w.writerow([i, "" if i % 4 == 0 else ("NA" if i % 4 == 1 else i * 0.5)])
    task = make_task(data=d, metric="rmse", target="y", holdout=0.3)
    s = check_data(task, settings(tmp_path))
    assert s is not None and s.split is not None
    labels = s.split.read_labels()
    assert labels and all(v not in ("", "NA") for v in labels) and s.split.unlabelled == 0
    train = list(csv.reader((s.split.train_dir / "train.csv").open()))[1:]
    assert len(train) + len(labels) == 200  # nothing dropped: the unlabelled rows stay in the training part
    assert sum(r[1] in ("", "NA") for r in train) == 100


def test_parquet_rows_without_a_target_are_never_held_out(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = tmp_path / "d"
    d.mkdir()
    ys = [None if i % 5 == 0 else (math.nan if i % 5 == 1 else i * 0.5) for i in range(100)]
    pq.write_table(pa.table({"x": list(range(100)), "y": ys}), d / "t.parquet")
    s = check_data(make_task(data=d, metric="rmse", target="y", holdout=0.3), settings(tmp_path))
    assert s is not None and s.split is not None
    labels = s.split.read_labels()
    assert labels and all(math.isfinite(float(v)) for v in labels)
    assert pq.read_table(s.split.train_dir / "train.parquet").num_rows + len(labels) == 100


def test_test_table_rows_without_a_target_are_left_out_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "train.csv").write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    test = tmp_path / "test.csv"
    test.write_text("x,y\n" + "".join(f"{i},{'' if i < 3 else i % 2}\n" for i in range(12)))
    with caplog.at_level(logging.WARNING):
        s = check_data(make_task(data=d, metric="accuracy", target="y", test=test), settings(tmp_path))
    assert s is not None and s.split is not None
    assert s.split.rows == 9 and s.split.unlabelled == 3
    assert "3 row(s) of test.csv have no 'y' value" in caplog.text
    test.write_text("x,y\n1,\n2,\n")
    with pytest.raises(UserInputError, match=r"no row of .*test.csv has a value in 'y'"):
        check_data(make_task(data=d, metric="accuracy", target="y", test=test), settings(tmp_path / "b"))


@pytest.mark.parametrize(
    ("metric", "values", "message"),
    [
        ("rmse", ["red", "green"], r"--metric rmse needs a numeric target, but 'y' holds text such as '(red|green)'"),
        ("accuracy", None, r"--metric accuracy scores classes, but 'y' is a continuous number .*use one of: rmse"),
        ("auc", "counts", r"--metric auc scores classes, but 'y' is a continuous number"),
    ],
)
def test_a_metric_that_does_not_fit_the_target_stops_early(
    tmp_path: Path, metric: str, values: list[str] | str | None, message: str
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    if values is None:
        ys = [f"{0.37 * i:.2f}" for i in range(300)]
    elif values == "counts":
        ys = [str(i * 3) for i in range(300)]
    else:
        ys = [values[i % len(values)] for i in range(300)]
    (d / "t.csv").write_text("x,y\n" + "".join(f"{i},{y}\n" for i, y in enumerate(ys)))
    with pytest.raises(UserInputError, match=message):
        check_data(make_task(data=d, metric=metric, target="y", holdout=0.2), settings(tmp_path))


@pytest.mark.parametrize(("metric", "ys"), [("accuracy", ["1", "2", "3"]), ("rmse", ["1", "2.5"]), ("f1", ["a", "b"])])
def test_fitting_metrics_pass(tmp_path: Path, metric: str, ys: list[str]) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.csv").write_text("x,y\n" + "".join(f"{i},{ys[i % len(ys)]}\n" for i in range(300)))
    assert check_data(make_task(data=d, metric=metric, target="y", holdout=0.2), settings(tmp_path)) is not None


def test_a_workbook_is_named_with_what_to_do(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "prices.xlsx").write_bytes(b"PK\x03\x04 not read")
    card = build_card(d)
    assert "spreadsheet workbook: not read; export its sheet as CSV" in card_text(card)
    with pytest.raises(UserInputError, match=r"prices.xlsx: export the sheet as CSV \(UTF-8\)"):
        check_data(make_task(data=d, metric="rmse", target="price", holdout=0.2), settings(tmp_path))


def test_json_files_with_a_byte_order_mark(tmp_path: Path) -> None:
    """JSON Lines and JSON saved by Windows tools: the card read the first line as 'not JSON' and a JSON document
    stopped the command ('Unexpected UTF-8 BOM'); both are read, and the card says how to open them."""
    d = tmp_path / "jd"
    d.mkdir()
    rows = "\n".join(json.dumps({"x": i, "label": "ab"[i % 2]}) for i in range(20))
    (d / "data.jsonl").write_bytes(codecs.BOM_UTF8 + rows.encode() + b"\n")
    (d / "meta.json").write_bytes(codecs.BOM_UTF8 + json.dumps({"source": "lab"}).encode())
    card = build_card(d)
    by = {f.path: f for f in card.files}
    assert by["data.jsonl"].rows == 20 and [c.name for c in by["data.jsonl"].columns] == ["x", "label"]
    assert by["meta.json"].note == "object with keys: source"
    text = card_text(card)
    assert text.count("starts with a UTF-8 byte-order mark: open it with encoding='utf-8-sig'") == 2
    assert "pandas.read_csv" not in text
    task = make_task(data=d, goal="g", metric="accuracy", target="label", holdout=0.2)
    with pytest.raises(UserInputError, match=r"'label' is a column of data.jsonl, a JSON file; .*pandas.read_json"):
        check_data(task, Settings(cache_dir=tmp_path / "cache"))  # it said no table had 'label' (columns: label, x)
