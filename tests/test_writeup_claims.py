"""Claims before compile: comparisons against the recorded values and direction, significance only with a test,
prior work only through \\cite, no unsupported contributions, no label lines or caption copies; the "proposed
method" only when the research stage changed more than plotting."""

from __future__ import annotations

from agents.experiments.journal import Journal, Metric, MetricValue, Node
from agents.experiments.stages import aggregate_seeds
from agents.writeup.claims import check_claims, compare, cosmetic_only, key_sentences, remove_fragments
from agents.writeup.context import NO_CHANGE_LABEL, build_tables
from agents.writeup.latex_templates import SectionDoc

BASE = "import numpy as np\nlr = 0.1\nw = np.zeros(3)\nprint('mse', 0.2)\n"
MOMENTUM = "import numpy as np\nlr = 0.1\nmu = 0.9\nw = np.zeros(3)\nprint('mse', 0.2)\n"
PLOTTED = BASE + "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('a.png')\n"


def _journal(method_code: str, method_values: list[float], base_values: list[float]) -> Journal:
    j = Journal()
    for stage, code, values in ((2, BASE, base_values), (3, method_code, method_values)):
        node = j.add(Node(stage=stage, kind="tune" if stage == 2 else "improve", status="done", code=code,
                          metric=MetricValue(metrics=[Metric(name="val_mse", direction="minimize",
                                                             values={"synthetic": values[0]})])))  # fmt: skip
        for seed, v in enumerate(values[1:], start=1):
            j.add(Node(stage=stage, kind="seed", parent=node.id, status="done", seed=seed, code=code,
                       metric=MetricValue(metrics=[Metric(name="val_mse", direction="minimize",
                                                          values={"synthetic": v})])))  # fmt: skip
        aggregate_seeds(j, node)
    return j


def _kinds(body: str, j: Journal, captions: list[str] | None = None) -> list[str]:
    c = compare(j)
    sec = SectionDoc(name="results", title="Results", body=body)
    return sorted({i.kind for i in check_claims([sec], c, captions or [], key_sentences(c))})


def test_the_demo_papers_claims_are_caught() -> None:
    """The sentences of a real demo paper (embedded model): a worse value called significantly better, an
    uncited author-year mention, a theory that is not there, a label line and a caption copy."""
    j = _journal(MOMENTUM, [0.511, 0.4, 0.62], [0.268, 0.25, 0.28])  # minimised: the method is worse
    body = (
        "Hypothesis\n\nThe proposed method reaches a val_mse of 0.511, significantly better than the 0.268 "
        "baseline. Momentum was studied by M. I. Jordan et al., 2012 in depth. We also give a theoretical "
        "analysis of the update.\n\nFigure~: Training curves of the best run of each stage."
    )
    kinds = _kinds(body, j, ["Training curves of the best run of each stage."])
    assert kinds == ["caption-copy", "comparison", "contribution", "label-line", "prior-work", "significance"]
    assert "does not improve on the baseline" in key_sentences(compare(j))


def test_a_supported_claim_passes_and_significance_needs_its_p_value() -> None:
    j = _journal(MOMENTUM, [0.101, 0.1, 0.102, 0.099], [0.301, 0.3, 0.302, 0.299])
    c = compare(j)
    assert c is not None and c.improves and c.p_value is not None and c.significant
    key = key_sentences(c)
    assert "Welch t-test" in key and "is significant at the 0.05 level" in key and "over 4 seeds" in key
    assert _kinds("The proposed method outperforms the tuned baseline.", j) == []
    assert _kinds("The proposed method is significantly better than the baseline.", j) == ["significance"]
    ok = "The proposed method is significantly better than the baseline ($p = 0.001$)."
    assert _kinds(ok, j) == []
    assert _kinds("The proposed method is worse than the tuned baseline.", j) == ["comparison"]
    assert _kinds("Bishop (1995) showed this \\citep{bishop1995training}.", j) == []


def test_a_plot_only_change_is_not_a_proposed_method() -> None:
    assert cosmetic_only(BASE, PLOTTED) and not cosmetic_only(BASE, MOMENTUM)
    j = _journal(PLOTTED, [0.2, 0.21, 0.19], [0.3, 0.31, 0.29])
    c = compare(j)
    assert c is not None and not c.changed and not c.improves
    assert key_sentences(c).startswith("The research stage found no improvement over the tuned baseline")
    assert _kinds("The proposed method improves on the baseline.", j) == ["comparison"]
    table = build_tables(j)[0].tex
    assert NO_CHANGE_LABEL in table and "Proposed method" not in table


def test_removal_keeps_the_rest() -> None:
    text = "Hypothesis\n\nWe test momentum. It is significantly better. The end."
    assert remove_fragments(text, ["Hypothesis", "It is significantly better."]) == "We test momentum. The end."
