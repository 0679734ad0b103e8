"""The data task: options and front matter, one clear message per bad input, the seeded held-out split, and
Shoal's own scoring of predictions (checked against scikit-learn)."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn import metrics as skm

from agents.data.card import build_card
from agents.data.metrics import PredictionError, resolve_metric, score
from agents.data.session import check_data
from agents.data.task import DataTask, front_matter_options, make_task, split_front_matter
from agents.errors import UserInputError
from agents.experiments import shoal_helper
from agents.settings import Settings


def table(path: Path, n: int = 50) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x1", "x2", "y"])
        for i in range(n):
            w.writerow([i, (i * 7) % 11, "a" if i % 3 else "b"])
    return path


def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", workspace=tmp_path / "ws")


def test_with_held_out_rows_a_node_sees_the_whole_directory_but_not_the_labels(tmp_path: Path) -> None:
    """A table of image paths and labels beside the images, a README and a second copy of the table: with
    --holdout a node saw only /data/train.csv, so the images the table names, and the README the card showed it,
    were not there. Now /data is the user's directory, the table under its own name holds the rows not held out,
    and another table with the target column (it could give the held-out labels) is there but empty."""
    from agents.data.render import card_text
    from agents.sandbox import make_sandbox

    d = tmp_path / "pets"
    (d / "images").mkdir(parents=True)
    for i in range(40):
        (d / "images" / f"{i}.txt").write_text(f"pixels of {i}")
    rows = "".join(f"images/{i}.txt,{'cat' if i % 2 else 'dog'}\n" for i in range(40))
    (d / "labels.csv").write_text("file,kind\n" + rows)
    (d / "zcopy.csv").write_text("file,kind\n" + rows)
    (d / "zcopy2.csv").write_text("kind,file\n" + rows)
    (d / "README.md").write_text("labels.csv names each picture and its kind\n")
    s = settings(tmp_path)
    session = check_data(make_task(data=d, goal="g", metric="accuracy", target="kind", holdout=0.25), s)
    assert session is not None and session.split is not None
    assert session.hidden_tables() == ["zcopy.csv", "zcopy2.csv"]
    mounts = session.mounts()
    assert len({m.source for m in mounts}) == len(mounts)  # Docker binds each source once: none shared
    card = card_text(session.visible_card() or build_card(d), 3000)
    held = session.split.rows
    assert "labels.csv (" in card and f"{40 - held} rows): the rows not held out ({held} held out by Shoal)" in card
    assert "zcopy.csv (" in card and "hidden from programs (empty): it also has 'kind'" in card
    files = session.prompt()["train_files"]
    assert files[0] == "/data/labels.csv (the rows not held out)" and not any("zcopy" in f for f in files)
    assert "/data/images/*.txt (40 files such as 0.txt: list them with glob.glob)" in files
    assert session.prompt()["train_table"] == "labels.csv"
    box = make_sandbox(s.sandbox)
    node = tmp_path / "node"
    node.mkdir()
    (node / "code.py").write_text(
        "import csv, os\n"
        "rows = list(csv.DictReader(open('/data/labels.csv')))\n"
        "print('ROWS', len(rows), 'READ', sum(len(open('/data/' + r['file']).read()) > 0 for r in rows))\n"
        "print('COPY', os.path.getsize('/data/zcopy.csv') + os.path.getsize('/data/zcopy2.csv'),\n"
        "      'README', open('/data/README.md').read().split()[0])\n"
        "print('TEST', sorted(os.listdir('/heldout')))\n"
    )
    res = box.run(node, ["python", "code.py"], timeout_s=30, mounts=mounts, env=session.env())
    assert res.exit_code == 0, res.stderr[-800:]
    assert f"ROWS {40 - held} READ {40 - held}" in res.stdout  # the training rows, and every image they name
    assert "COPY 0 README labels.csv" in res.stdout and "TEST ['test.csv']" in res.stdout
    assert (d / "zcopy.csv").stat().st_size > 0  # the user's own file is untouched


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": Path("/nonexistent/dir")}, "does not exist"),
        ({"data": "EMPTY"}, "holds no files"),
        ({"data": "FILE"}, "not a directory"),
        ({"data": "DATA", "metric": "wobble"}, "unknown metric 'wobble'.*--lower-is-better"),
        ({"data": "DATA", "metric": "wobble", "target": "y", "holdout": 0.2}, "unknown metric 'wobble'"),
        ({"data": "DATA", "metric": "accuracy", "lower_is_better": True}, "accuracy is better when higher"),
        ({"data": "DATA", "metric": "rmse", "test": "OUTSIDE"}, "--test FILE needs --target"),
        ({"data": "DATA", "target": "y", "holdout": 0.2}, "need --metric"),
        ({"data": "DATA", "metric": "rmse", "target": "y", "holdout": 1.5}, "--holdout 1.5"),
        ({"metric": "rmse", "target": "y", "holdout": 0.2}, "need --data"),
        ({"data": "DATA", "metric": "rmse", "target": "y", "test": "INSIDE"}, "lies inside --data"),
    ],
)
def test_bad_options_are_one_clear_message(tmp_path: Path, kwargs: dict, message: str) -> None:
    (tmp_path / "empty").mkdir()
    table(tmp_path / "data" / "t.csv")
    (tmp_path / "file.txt").write_text("x")
    subst = {"EMPTY": tmp_path / "empty", "FILE": tmp_path / "file.txt", "DATA": tmp_path / "data",
             "INSIDE": tmp_path / "data" / "t.csv", "OUTSIDE": tmp_path / "file.txt"}  # fmt: skip
    with pytest.raises(UserInputError, match=message):
        make_task(**{k: subst.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()})


def test_holdout_without_target_needs_class_folders(tmp_path: Path) -> None:
    table(tmp_path / "data" / "t.csv")
    task = make_task(data=tmp_path / "data", metric="accuracy", holdout=0.2)
    with pytest.raises(UserInputError, match=r"no folder per class .* give --target COLUMN"):
        check_data(task, settings(tmp_path))


def test_missing_target_column_is_reported_before_anything_runs(tmp_path: Path) -> None:
    table(tmp_path / "data" / "t.csv")
    task = make_task(data=tmp_path / "data", metric="accuracy", target="price", holdout=0.2)
    with pytest.raises(UserInputError, match=r"--target 'price'.*columns: x1, x2, y"):
        check_data(task, settings(tmp_path))
    task = make_task(data=tmp_path / "data", goal="g", target="price")  # no held-out scoring: still checked
    with pytest.raises(UserInputError, match="--target 'price'"):
        check_data(task, settings(tmp_path))


def test_front_matter(tmp_path: Path) -> None:
    text = "---\ndata: ./d\ngoal: predict y\nmetric: accuracy\ntarget: y\nholdout: 0.25\n---\n# Title: T\n"
    pairs, rest = split_front_matter(text)
    assert rest.startswith("# Title: T") and pairs["goal"] == "predict y"
    opts = front_matter_options(pairs, tmp_path)
    assert opts == {"data": tmp_path / "d", "goal": "predict y", "metric": "accuracy", "target": "y", "holdout": 0.25}
    with pytest.raises(UserInputError, match="metrc"):
        split_front_matter("---\nmetrc: rmse\n---\n")
    assert split_front_matter("# no front matter\n") == ({}, "# no front matter\n")


def test_metric_names_and_directions() -> None:
    assert resolve_metric("RMSE", None, held_out=True) == ("rmse", False)
    assert resolve_metric("roc_auc", None, held_out=True) == ("auc", True)
    assert resolve_metric("throughput", False, held_out=False) == ("throughput", True)


def test_scores_match_scikit_learn() -> None:
    y = ["3.0", "1", "2.5", "7"]
    p = ["2.5", "1.5", "2", "8"]
    yf, pf = [3.0, 1, 2.5, 7], [2.5, 1.5, 2, 8]
    assert math.isclose(score("rmse", y, p), math.sqrt(skm.mean_squared_error(yf, pf)))
    assert math.isclose(score("mae", y, p), skm.mean_absolute_error(yf, pf))
    assert math.isclose(score("r2", y, p), skm.r2_score(yf, pf))
    labels, preds = ["1", "0", "1", "1"], ["1.0", "0", "0", "1"]
    assert score("accuracy", labels, preds) == 0.75
    assert math.isclose(score("f1", labels, preds), skm.f1_score([1, 0, 1, 1], [1, 0, 0, 1]))
    probs = {"0": ["0.2", "0.9", "0.6", "0.3"], "1": ["0.8", "0.1", "0.4", "0.7"]}
    assert math.isclose(score("auc", labels, preds, probs), skm.roc_auc_score([1, 0, 1, 1], [0.8, 0.1, 0.4, 0.7]))
    assert math.isclose(score("log_loss", labels, preds, probs), skm.log_loss([1, 0, 1, 1], [0.8, 0.1, 0.4, 0.7]))
    with pytest.raises(PredictionError, match="3 predictions for 4"):
        score("accuracy", labels, preds[:3])
    with pytest.raises(PredictionError, match="needs class probabilities"):
        score("auc", labels, preds)
    with pytest.raises(PredictionError, match="not a number"):
        score("rmse", y, ["1", "x", "2", "3"])


def test_holdout_split_is_seeded_and_hides_the_labels(tmp_path: Path) -> None:
    table(tmp_path / "data" / "t.csv", n=200)
    task = make_task(data=tmp_path / "data", goal="g", metric="accuracy", target="y", holdout=0.25)
    a = check_data(task, settings(tmp_path))
    assert a is not None and a.split is not None
    split = a.split
    train = list(csv.reader((split.train_dir / "train.csv").open()))
    feats = list(csv.reader(split.features.open()))
    assert feats[0] == ["x1", "x2"] and train[0] == ["x1", "x2", "y"]
    assert len(train) - 1 + len(feats) - 1 == 200 and 25 < split.rows < 80 and split.rows == len(feats) - 1
    held_ids = {r[0] for r in feats[1:]}
    assert held_ids.isdisjoint({r[0] for r in train[1:]})
    assert split.labels.parent not in (split.train_dir, split.features.parent)  # labels are never mounted
    mounts = {m.target: m.source for m in a.mounts()}
    assert set(mounts) == {"/data", "/data/t.csv", "/heldout"}  # the table's own name holds the training part
    assert mounts["/data/t.csv"] == split.train_file and mounts["/data"] == tmp_path / "data"
    assert all(split.labels not in m.source.rglob("*") for m in a.mounts())
    b = check_data(task, settings(tmp_path))
    assert b is not None and b.split is not None and b.split.features.read_text() == split.features.read_text()


def test_user_test_file_mode(tmp_path: Path) -> None:
    table(tmp_path / "data" / "train.csv")
    test = table(tmp_path / "test.csv", n=12)
    s = check_data(make_task(data=tmp_path / "data", metric="accuracy", target="y", test=test), settings(tmp_path))
    assert s is not None and s.split is not None and s.split.rows == 12
    assert [m.source for m in s.mounts()] == [(tmp_path / "data").resolve(), s.split.features.parent]
    assert "y" not in s.split.features.read_text().splitlines()[0].split(",")


def test_evaluate_scores_the_nodes_predictions(tmp_path: Path) -> None:
    table(tmp_path / "data" / "t.csv", n=60)
    s = check_data(make_task(data=tmp_path / "data", metric="accuracy", target="y", holdout=0.3), settings(tmp_path))
    assert s is not None and s.split is not None
    node = tmp_path / "node"
    node.mkdir()
    metric, why = s.evaluate(node)
    assert metric is None and "no predictions.csv" in why
    labels = s.split.read_labels()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from shoal_helper import save_predictions; "
        f"save_predictions({[*labels[:-1], 'b' if labels[-1] == 'a' else 'a']!r})"
    )
    helper_dir = str(Path(shoal_helper.__file__).parent)
    env = {k: v for k, v in os.environ.items() if k != "EXPERIMENT_SEED"}
    subprocess.run([sys.executable, "-c", code, helper_dir], cwd=node, check=True, timeout=60, env=env)
    metric, why = s.evaluate(node)
    assert metric is not None and why == ""
    assert metric.name == "accuracy" and math.isclose(metric.values["held-out"], (len(labels) - 1) / len(labels))
    (node / "predictions.csv").write_text("prediction\na\n")
    metric, why = s.evaluate(node)
    assert metric is None and f"1 predictions for {len(labels)} held-out rows" in why


def test_example_rows_shown_to_models_come_from_the_training_part(tmp_path: Path) -> None:
    table(tmp_path / "data" / "t.csv", n=100)
    s = check_data(make_task(data=tmp_path / "data", metric="accuracy", target="y", holdout=0.5), settings(tmp_path))
    assert s is not None and s.split is not None and s.card is not None
    held = {r[0] for r in list(csv.reader(s.split.features.open()))[1:]}
    shown = s.visible_card()
    assert shown is not None and len(shown.files[0].head) == 3
    assert not held & {row[0] for row in shown.files[0].head}
    assert s.card.files[0].head[0][0] == "0"  # the cached card itself is unchanged


def test_parquet_holdout_split_and_scoring(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    (tmp_path / "data").mkdir()
    rows = 300
    pq.write_table(pa.table({"x": list(range(rows)), "y": [float(i % 7) for i in range(rows)]}),
                   tmp_path / "data" / "t.parquet", row_group_size=64)  # fmt: skip
    s = check_data(make_task(data=tmp_path / "data", metric="mae", target="y", holdout=0.2), settings(tmp_path))
    assert s is not None and s.split is not None
    train = pq.read_table(s.split.train_dir / "train.parquet")
    test = pq.read_table(s.split.features)
    assert test.column_names == ["x"] and train.num_rows + test.num_rows == rows == train.num_rows + s.split.rows
    node = tmp_path / "node"
    node.mkdir()
    truth = [str(float(x % 7)) for x in test.column("x").to_pylist()]
    (node / "predictions.csv").write_text("prediction\n" + "\n".join(truth) + "\n")
    metric, why = s.evaluate(node)
    assert metric is not None and metric.values["held-out"] == 0.0, why


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_holdout_holds_out_the_fraction_asked_for(tmp_path: Path, kind: str) -> None:
    """Each row held out with probability F (format 2) held out 12 of 100 rows at 0.25 with the default seed; now
    exactly round(F x labelled rows), rows without a target never among them, the same rows every time."""
    d = tmp_path / "data"
    d.mkdir()
    ys = ["" if i % 10 == 3 else str(i % 2) for i in range(100)]  # 10 rows without a label: 90 labelled
    if kind == "csv":
        (d / "t.csv").write_text("x,y\n" + "".join(f"{i},{y}\n" for i, y in enumerate(ys)))
    else:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        pq.write_table(pa.table({"x": list(range(100)), "y": [float(y) if y else None for y in ys]}), d / "t.parquet")
    for frac, held in ((0.25, 22), (0.2, 18), (0.5, 45), (0.001, 1), (0.999, 89)):  # at least one row each side
        task = make_task(data=d, metric="accuracy", target="y", holdout=frac)
        s = check_data(task, settings(tmp_path))
        assert s is not None and s.split is not None
        assert (s.split.rows, s.split.kept) == (held, 100 - held), frac
        again = check_data(task, Settings(cache_dir=tmp_path / f"other-cache-{frac}"))
        assert again is not None and again.split is not None
        assert again.split.features.read_bytes() == s.split.features.read_bytes()  # seeded, not cached luck


def test_a_run_begun_with_the_old_split_keeps_its_rows(tmp_path: Path) -> None:
    """A run records how its rows were split; resumed after the change, its held-out rows are the same ones."""
    table(tmp_path / "data" / "t.csv", n=100)
    task = make_task(data=tmp_path / "data", goal="g", metric="accuracy", target="y", holdout=0.25)
    old = DataTask.model_validate_json(task.model_dump_json(exclude={"split_format"}))  # data_task.json before it
    assert (task.split_format, old.split_format) == (3, 2)
    new_split, old_split = (check_data(t, settings(tmp_path)) for t in (task, old))
    assert new_split is not None and new_split.split is not None and new_split.split.rows == 25
    assert old_split is not None and old_split.split is not None and old_split.split.rows == 12  # as it was
    # and its nodes see what they saw: /data/train.csv alone (their programs read that name)
    assert {m.target: m.source for m in old_split.mounts()} == {
        "/data": old_split.split.train_dir,
        "/heldout": old_split.split.features.parent,
    }
    assert old_split.prompt()["train_table"] == "train.csv"
    assert old_split.prompt()["train_files"] == ["/data/train.csv (the rows of t.csv not held out)"]
    assert {m.target for m in new_split.mounts()} == {"/data", "/data/t.csv", "/heldout"}


def test_log_loss_normalises_probability_rows() -> None:
    probs = {"a": ["0.4", "0.1"], "b": ["0.4", "0.3"]}  # rows sum to 0.8 and 0.4
    assert math.isclose(
        score("log_loss", ["a", "b"], ["a", "b"], probs), skm.log_loss(["a", "b"], [[0.5, 0.5], [0.25, 0.75]])
    )


def test_resuming_a_run_whose_data_is_gone_is_one_clear_message(tmp_path: Path) -> None:
    import shutil

    from agents.data.session import DataSession, save_data
    from agents.rundir import create_run

    table(tmp_path / "data" / "t.csv")
    s = settings(tmp_path)
    run = create_run(s, "gone")
    save_data(run, check_data(make_task(data=tmp_path / "data", goal="g", metric="accuracy", target="y",
                                        holdout=0.2), s))  # fmt: skip
    assert DataSession.for_run(run, s) is not None
    shutil.rmtree(tmp_path / "data")
    with pytest.raises(UserInputError, match="which is gone; put it back"):
        DataSession.for_run(run, s)


def test_predictions_that_link_to_the_labels_are_refused(tmp_path: Path) -> None:
    table(tmp_path / "data" / "t.csv", n=40)
    s = check_data(make_task(data=tmp_path / "data", metric="accuracy", target="y", holdout=0.3), settings(tmp_path))
    assert s is not None and s.split is not None
    node = tmp_path / "node"
    node.mkdir()
    fake = tmp_path / "labels_as_predictions.csv"
    fake.write_text("prediction\n" + "\n".join(s.split.read_labels()) + "\n")
    (node / "predictions.csv").symlink_to(fake)
    metric, why = s.evaluate(node)
    assert metric is None and "regular file" in why
