"""--holdout without --target on a directory with a folder per class: files are held out of every class folder,
a node sees the class folders without them and the held-out files under numbers, files that name or hold them
are shown empty, and Shoal scores the predicted folder names. In the real sandbox, with the coder's example."""

from __future__ import annotations

import shutil
import textwrap
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from agents.data.session import check_data
from agents.data.task import make_task
from agents.errors import UserInputError
from agents.experiments import shoal_helper
from agents.prompts import render_text
from agents.sandbox import make_sandbox
from agents.settings import Settings

WORDS = {"pos": "good great fine lovely", "neg": "bad awful poor dull"}


def corpus(root: Path, n: int = 30) -> Path:
    d = root / "reviews"
    for label, words in WORDS.items():
        (d / "train" / label).mkdir(parents=True)
        for i in range(n):
            (d / "train" / label / f"{i:04d}.txt").write_text(f"review {i}: {words.split()[i % 4]} film\n")
    (d / "README.md").write_text("one folder per sentiment\n")
    (d / "index.csv").write_text("path,label\n" + "".join(f"train/pos/{i:04d}.txt,pos\n" for i in range(n)))
    (d / "stats.csv").write_text("split,count\ntrain,60\n")
    with zipfile.ZipFile(d / "reviews.zip", "w") as zf:
        for i in range(n):
            zf.writestr(f"train/neg/{i:04d}.txt", "bad")
    return d


def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", workspace=tmp_path / "ws")


def example(session_prompt: dict) -> str:
    text = render_text(
        "_partials/coder_data",
        {"data": session_prompt, "env": {"strength": "small", "packages": ["pandas", "sklearn"]}},
    )
    code = text.split("- Load and save like this:\n", 1)[1]
    return textwrap.dedent("\n".join(line for line in code.splitlines() if line.startswith("  ")))


def run_node(tmp_path: Path, session, code: str):  # type: ignore[no-untyped-def]
    node = tmp_path / "node"
    shutil.rmtree(node, ignore_errors=True)
    node.mkdir()
    (node / "code.py").write_text(code)
    shutil.copy(Path(shoal_helper.__file__), node / "shoal_helper.py")
    box = make_sandbox(settings(tmp_path).sandbox)
    res = box.run(node, ["python", "code.py"], timeout_s=120, mounts=session.mounts(), env=session.env())
    assert res.exit_code == 0, res.stderr[-1500:]
    return node, res


def test_files_are_held_out_of_each_class_folder_and_scored_by_folder_name(tmp_path: Path) -> None:
    d = corpus(tmp_path)
    task = make_task(data=d, goal="classify the sentiment", metric="accuracy", holdout=0.25)
    s = check_data(task, settings(tmp_path))
    assert s is not None and s.split is not None and s.split.by_folder
    assert s.split.classes == ("train/neg", "train/pos") and s.split.rows == 16 and s.split.kept == 44  # 8 + 8
    labels = s.split.read_labels()
    assert sorted(labels) == ["neg"] * 8 + ["pos"] * 8 and labels != sorted(labels)  # shuffled: order tells nothing
    again = check_data(task, settings(tmp_path))
    assert again is not None and again.split is not None and again.split.root == s.split.root  # same data, same split
    assert sorted(s.hidden_tables()) == ["index.csv", "reviews.zip"]  # they name or hold held-out files
    prompt = s.prompt()
    assert prompt["train_files"][0].startswith(
        "/data/train/<class>/*.txt (44 files not held out, in 2 class folders: neg, pos; the folder name is the label"
    )
    assert not any("train/pos/*.txt" in f for f in prompt["train_files"])  # the class folders are one entry
    card = s.visible_card()
    assert card is not None and {g.folder: g.count for g in card.groups} == {"train/neg": 22, "train/pos": 22}
    kept_first = sorted((s.split.train_dir / "train" / "pos").iterdir())[0]
    pos = next(g for g in card.groups if g.folder == "train/pos")
    assert pos.examples[0] == kept_first.name and pos.sample.startswith(kept_first.read_text().strip()[:20])
    # what a node sees: the class folders without the held-out files, those under numbers, the copies empty
    node, res = run_node(
        tmp_path,
        s,
        "import csv, os\n"
        "for c in ('pos', 'neg'):\n"
        "    print(c, len(os.listdir('/data/train/' + c)))\n"
        "test = [r['file'] for r in csv.DictReader(open(os.environ['EXPERIMENT_TEST_FILE']))]\n"
        "print('TEST', len(test), all(os.path.isfile(p) for p in test), test[0])\n"
        "print('EMPTY', os.path.getsize('/data/index.csv'), os.path.getsize('/data/reviews.zip'))\n"
        "print('KEPT', os.path.getsize('/data/stats.csv') > 0, open('/data/README.md').read().split()[0])\n",
    )
    assert "pos 22" in res.stdout and "neg 22" in res.stdout
    assert "TEST 16 True /heldout/files/000001.txt" in res.stdout
    assert "EMPTY 0 0" in res.stdout and "KEPT True one" in res.stdout
    held = set((s.split.root / "features" / "files").iterdir())
    assert len(held) == 16 and {p.read_text().split(":")[1].split()[0] for p in held} <= set(
        " ".join(WORDS.values()).split()
    )
    # the coder's example for a small model runs as it is, and Shoal scores its predictions
    node, res = run_node(tmp_path, s, example(prompt))
    metric, why = s.evaluate(node)
    assert metric is not None, why
    assert metric.values["held-out"] == 1.0  # one word per class: a linear model gets every file right
    assert (d / "train" / "pos" / "0000.txt").is_file() and len(list((d / "train" / "pos").iterdir())) == 30


def test_image_folders_get_an_image_example_that_runs(tmp_path: Path) -> None:
    d = tmp_path / "shapes"
    for label, value in (("dark", 20), ("light", 230)):
        (d / label).mkdir(parents=True)
        for i in range(12):
            Image.new("RGB", (40, 30), (value + i, value, value)).save(d / label / f"img{i}.png")
    s = check_data(make_task(data=d, goal="g", metric="accuracy", holdout=0.25), settings(tmp_path))
    assert s is not None and s.split is not None and s.split.classes == ("dark", "light") and s.split.rows == 6
    code = example(s.prompt())
    assert "from PIL import Image" in code
    node, _ = run_node(tmp_path, s, code)
    metric, why = s.evaluate(node)
    assert metric is not None and metric.values["held-out"] == 1.0, why


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"a/x.txt": 1, "b/y.csv": 1}, "no folder per class"),
        ({"pos/0.txt": 1, "neg/0.txt": 1}, "each class needs two files or more"),
    ],
)
def test_folders_that_cannot_be_split_are_one_clear_message(tmp_path: Path, layout: dict, message: str) -> None:
    d = tmp_path / "d"
    for rel in layout:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text("x,y\n1,2\n")
    with pytest.raises(UserInputError, match=message):
        check_data(make_task(data=d, metric="accuracy", holdout=0.2), settings(tmp_path))


def test_a_test_folder_of_class_folders_is_the_held_out_part(tmp_path: Path) -> None:
    """--test DIR: the user's own test folders (test/pos, test/neg) are held out whole, scored by folder name."""
    d = corpus(tmp_path, n=12)
    test = tmp_path / "test"
    for label, words in WORDS.items():
        (test / label).mkdir(parents=True)
        for i in range(5):
            (test / label / f"t{i}.txt").write_text(f"{words.split()[i % 4]} film\n")
    task = make_task(data=d, goal="g", metric="accuracy", test=test)
    s = check_data(task, settings(tmp_path))
    assert s is not None and s.split is not None and s.split.by_folder and s.split.rows == 10
    assert sorted(s.split.read_labels()) == ["neg"] * 5 + ["pos"] * 5 and s.hidden_tables() == []
    assert s.split_note() == f"Shoal scores predictions of the 10 files of {test}'s class folders"
    assert s.prompt()["train_files"][0].startswith("/data/train/<class>/*.txt (24 files, in 2 class folders")
    node, _ = run_node(tmp_path, s, example(s.prompt()))
    metric, why = s.evaluate(node)
    assert metric is not None and metric.values["held-out"] == 1.0, why
    (test / "meh").mkdir()
    (test / "meh" / "m.txt").write_text("so so")
    with pytest.raises(UserInputError, match="class folder.s. meh are not among the training classes"):
        check_data(make_task(data=d, goal="g", metric="accuracy", test=test), settings(tmp_path))
    with pytest.raises(UserInputError, match="is a folder: give the test table's file with --target"):
        make_task(data=d, goal="g", metric="accuracy", target="y", test=test)
    with pytest.raises(UserInputError, match="lies inside --data"):
        make_task(data=d, goal="g", metric="accuracy", test=d / "train")


def test_the_card_never_shows_a_held_out_file(tmp_path: Path) -> None:
    """Class folders of a few text files are listed file by file, with each file's start: not the held-out ones."""
    d = corpus(tmp_path, n=4)
    s = check_data(make_task(data=d, goal="g", metric="accuracy", holdout=0.5), settings(tmp_path))
    assert s is not None and s.split is not None and s.split.rows == 4
    names = {f"train/{label}/{p.name}" for label in WORDS for p in (d / "train" / label).iterdir()}
    kept = {f"train/{p.parent.name}/{p.name}" for p in (s.split.train_dir / "train").glob("*/*")}
    assert s.card is not None and names <= {f.path for f in s.card.files}  # the whole card has all eight
    card = s.visible_card()
    assert card is not None and {f.path for f in card.files} & names == kept
