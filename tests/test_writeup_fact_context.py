"""A setting or a count is stated only where the sentence names it: "a learning rate of 0.05" states ``LR = 0.05``
from the program; a bare 0.05 (or 3 that is not about seeds) matches nothing. Real facts come from a real journal
through ``agents.writeup.facts.collect``, as the writeup stage builds them."""

from __future__ import annotations

import pytest

from agents.experiments.journal import Journal, Metric, MetricValue, Node, StageRecord
from agents.experiments.stages import aggregate_seeds
from agents.writeup.fact_context import code_constant_names, mentions, sentence_words
from agents.writeup.facts import collect, counts
from agents.writeup.integrity import check_numbers, provenance

PROGRAM = """
import numpy as np
LR, EPOCHS, N_TRAIN = 0.05, 100, 200
TEST_SIZE = 0.2
config = {"weight_decay": 0.001}
def train(x, momentum=0.9, *, batch_size=32):
    for epoch in range(EPOCHS):
        pass
    return x[:, 7] ** 2
rng = np.random.default_rng(11)
print(train(rng.normal(size=(N_TRAIN, 8)), momentum=0.9))
def make(name, n_examples):
    return name * n_examples
x_tr, y_tr = make("a", 40)
"""


def test_constants_come_with_the_names_they_are_given() -> None:
    names = {}
    for raw, given in code_constant_names(PROGRAM):
        names.setdefault(raw, []).extend(given)
    assert names["0.05"] == ["LR"] and names["100"] == ["EPOCHS"] and names["200"] == ["N_TRAIN"]
    assert names["0.2"] == ["TEST_SIZE"] and names["0.001"] == ["config", "weight_decay"]
    assert "momentum" in names["0.9"] and names["32"] == ["batch_size"]
    assert names["11"] == ["rng", "default_rng"]  # assigned, and passed to a function that names it
    assert "size" in names["8"]  # in a tuple given to a keyword
    assert sorted(names["40"]) == ["make", "n_examples", "x_tr", "y_tr"]  # a parameter of a function defined here


def test_a_swept_list_is_named_by_the_loop_over_it() -> None:
    """As in the demo's stage-3 program: values in a list, a loop over the list's name. "momentum values 0.05 and
    0.1" states them; before, only "focus_changes" named them and the check removed a true sentence."""
    code = "focus_changes = [0.05, 0.1]\nfor momentum in focus_changes:\n    print(momentum)\n"
    names = {raw: given for raw, given in code_constant_names(code)}
    assert names == {"0.05": ["focus_changes", "momentum"], "0.1": ["focus_changes", "momentum"]}
    node = Node(stage=3, kind="improve", status="done", plan="try other momentum values", code=code,
                metric=MetricValue(metrics=[Metric(name="val_mse_0.05", direction="minimize",
                                                   values={"synthetic": 0.26})]))  # fmt: skip
    j = Journal()
    j.add(node)
    j.stages.append(StageRecord(stage=3, status="done", best=node.id))
    facts = collect(j)
    assert check_numbers("abstract", "We compare momentum values of 0.05 and 0.1.", facts) == []
    assert [i.token for i in check_numbers("abstract", "The gain was 0.05 overall.", facts)] == ["0.05"]


def test_abbreviations_and_word_forms_are_understood() -> None:
    assert mentions(sentence_words("We use lr=0.05."), ["learning"])
    assert mentions(sentence_words("200 training examples"), ["train"])
    assert mentions(sentence_words("the validation split"), ["val"])
    assert mentions(sentence_words("after 100 epochs"), ["epochs"])
    assert not mentions(sentence_words("We also measured 0.05 here."), ["learning", "step"])
    assert mentions(sentence_words("anything at all"), [])  # a fact with no naming words matches as before


def _journal() -> Journal:
    j = Journal()
    nodes = []
    for stage, value in ((1, 0.41), (2, 0.33), (3, 0.29)):
        node = Node(stage=stage, kind="draft", status="done", plan="gradient descent, learning rate 0.05",
                    code=PROGRAM, metric=MetricValue(metrics=[Metric(name="val_mse", direction="minimize",
                                                                     values={"synthetic": value})]))  # fmt: skip
        j.add(node)
        nodes.append(node)
    best = nodes[-1]
    for seed, v in ((1, 0.30), (2, 0.28), (3, 0.31)):
        j.add(Node(stage=3, kind="seed", parent=best.id, status="done", seed=seed, code=PROGRAM,
                   metric=MetricValue(metrics=[Metric(name="val_mse", direction="minimize",
                                                      values={"synthetic": v})])))  # fmt: skip
    aggregate_seeds(j, best)
    j.stages += [StageRecord(stage=s, status="done", best=n.id) for s, n in zip((1, 2, 3), nodes, strict=True)]
    return j


@pytest.mark.parametrize(
    ("sentence", "bad"),
    [
        ("We train for 100 epochs with a learning rate of 0.05 on 200 training examples.", []),
        ("Momentum 0.9, batch size 32, weight decay 0.001, a 20\\% test split.", []),
        ("The mean over 4 seeds is reported.", []),
        ("The mean over 3 seeds is reported.", ["3"]),  # 4 runs went into the mean; seed number 3 is no count
        ("We also measured 0.05 here.", ["0.05"]),  # a recorded value, but the sentence does not say which
        ("A score of 100 and 3 improvements.", ["100", "3"]),
        ("Only 0.2\\% of the points moved.", ["0.2%"]),  # 0.2 is a fraction of the data, not 0.2 percent
        ("Momentum 0.05 worked best.", ["0.05"]),  # a real value named as the wrong setting
    ],
)
def test_settings_and_counts_need_their_name_in_the_sentence(sentence: str, bad: list[str]) -> None:
    j = _journal()
    facts = collect(j, counts(j))
    assert [i.token for i in check_numbers("experimental_setup", sentence, facts)] == bad


def test_a_table_names_its_columns_once_for_all_rows() -> None:
    j = _journal()
    facts = collect(j, counts(j))
    table = "\\begin{table}\\begin{tabular}{lc} Configuration & Seed \\\\ best & 2 \\\\ lr=0.05 & 1 \\end{tabular}"
    table += "\\end{table}"
    assert check_numbers("results", table, facts, table=True) == []
    rows = provenance("results", "Over 4 seeds, with a learning rate of 0.05.", facts)
    assert [r["source"].split(" of node")[0].split(" in the")[0] for r in rows] == ["seeds", "setting 0.05"]
