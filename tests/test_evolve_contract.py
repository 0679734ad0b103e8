"""Static contract checks of an evolved program (agents/evolve/contract.py): the two mistakes the embedded model
made in the 45-minute circle-packing run are found before evaluation and sent back for repair; correct programs,
the shipped examples and mistakes the parent already had are left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.evolve.blocks import apply_answer, split_program
from agents.evolve.contract import new_problems, problems
from agents.testing import text
from tests.evolve_support import one_rewrite_sample

ROOT = Path(__file__).resolve().parents[1]
CIRCLES = (ROOT / "examples" / "circle_packing" / "initial.py").read_text()


def _messages(code: str) -> list[str]:
    return [p.message for p in problems(code)]


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir()))
def test_the_shipped_examples_have_no_contract_problem(example: str) -> None:
    assert problems((ROOT / "examples" / example / "initial.py").read_text()) == []


def test_a_tuple_of_the_wrong_size_is_found() -> None:
    """Seen in the embedded-model run: construct_packing made to return three values; run_packing unpacks two."""
    p = split_program(CIRCLES)
    block = p.blocks[0].replace("    return centers, radii\n", "    return centers, radii, float(np.sum(radii))\n")
    assert block != p.blocks[0]
    code = p.render((block,))
    found = new_problems(CIRCLES, code)
    assert len(found) == 1
    assert "`construct_packing` returns 3 values" in found[0] and "unpacks 2" in found[0]
    assert "centers, radii = construct_packing()" in found[0]


def test_a_helper_that_lost_its_return_is_found() -> None:
    """Seen in the same run: compute_max_radii lost its `return radii`; the caller then computed with None."""
    p = split_program(CIRCLES)
    block = p.blocks[0]
    head, _, tail = block.rpartition("    return radii\n")
    assert head
    code = p.render((head + tail,))
    found = new_problems(CIRCLES, code)
    assert found and "`compute_max_radii` returns nothing" in found[0]
    assert "radii = compute_max_radii(centers)" in found[0]


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    return 1, 2\n\na, b = f()\n",  # sizes agree
        "def f():\n    t = (1, 2, 3)\n    return t\n\na, b = f()\n",  # a name: size unknown, not judged
        "def f():\n    return 1, 2, 3\n\na, *rest = f()\n",  # starred unpacking takes any size
        "def f():\n    print('x')\n\nf()\n",  # result unused
        "def f():\n    yield 1\n\nfor x in f():\n    pass\n",  # a generator
        "def f():\n    raise NotImplementedError\n\nx = f()\n",  # always raises: nothing to return
        "def f():\n    def g():\n        return 1\n    g()\n\nf()\n",  # nested return is g's, and f's value unused
        "class C:\n    def f(self):\n        pass\n\nx = C().f()\n",  # methods are not checked
        "def broken(:\n",  # syntax is checked elsewhere
        "def unused():\n    return typo_name\n",  # a function nothing calls never fails
        "class C:\n    def m(self):\n        return typo_name\n",  # methods are not judged
        "def outer():\n    k = 2\n    def inner():\n        return k\n    return inner()\n\nx = outer()\n",
        "def setup():\n    global G\n    G = 1\n    return G\n\ndef use():\n    return G\n\nx = setup() + use()\n",
        "from math import *\n\ndef f():\n    return sqrt(2) + tau\n\nx = f()\n",  # a star import: unknowable
        "import numpy as np\n\ndef f():\n    return np.zeros(3), len, __name__\n\nx = f()\n",  # imports, builtins
    ],
)
def test_correct_or_unjudgeable_code_passes(code: str) -> None:
    assert problems(code) == []


def test_a_line_edit_that_dropped_a_local_definition_is_found() -> None:
    """Seen in the run after the checks above: a LINES edit replaced the lines that computed `radii`, and the
    function still returned it (NameError at evaluation)."""
    p = split_program(CIRCLES)
    dropped = "    radii = compute_max_radii(centers)\n"
    block = p.blocks[0].replace(dropped, "    centers = np.clip(centers, 0.0, 1.0)\n")
    assert block != p.blocks[0]
    found = new_problems(CIRCLES, p.render((block,)))
    assert len(found) == 1 and "`radii` is read in `construct_packing`" in found[0]
    assert "return centers, radii" in found[0]


def test_an_undefined_name_in_a_class_body_or_at_module_level_is_found() -> None:
    assert problems("class C:\n    size = typo_name\n")[0].function == "typo_name"
    assert "the module" in problems("x = 1\ny = x + tpyo\n")[0].message


def test_a_problem_the_parent_already_had_is_not_the_new_codes() -> None:
    parent = "# EVOLVE-BLOCK-START\ndef f():\n    x = 1\n# EVOLVE-BLOCK-END\n\ndef main():\n    return f()\n"
    assert _messages(parent)  # the parent's own mistake (a branch never run, say)
    p = split_program(parent)
    child = apply_answer(p, "```python\ndef f():\n    x = 2\n```", "rewrite")
    assert new_problems(parent, child) == []


def test_the_engine_sends_a_broken_contract_back_before_evaluating_it(tmp_path: Path) -> None:
    broken = text("PLAN: more\n```python\ndef value():\n    base = 5\n```")
    fixed = text("PLAN: fixed\n```python\ndef value():\n    base = 5\n    return base\n```")
    run, outcome, repairs = one_rewrite_sample(tmp_path, broken, fixed)
    assert len(repairs) == 1
    assert "`value` returns nothing" in repairs[0].messages[-1]["content"]
    records = [json.loads(x) for x in (run.evolve_dir / "programs.jsonl").read_text().splitlines() if x.strip()]
    evaluated = [r for r in records if r["kind"] == "rewrite"]
    assert len(evaluated) == 1 and evaluated[0]["correct"] is True  # only the repaired program ran
    assert outcome.stats["best"] == 5.0


def test_a_local_read_before_it_is_assigned_is_found() -> None:
    code = (
        "import numpy as np\n\n\ndef build():\n    for i in range(3):\n        centers[i] = i\n"
        "    centers = np.zeros(3)\n    return centers\n\n\nprint(build())\n"
    )
    (message,) = [p.message for p in problems(code)]
    assert "`centers` is read in `build` (line 6" in message and "before it is assigned (line 7)" in message


@pytest.mark.parametrize(
    "body",
    [
        "    total = 0\n    for i in range(3):\n        total += i\n    return total\n",  # bound first
        "    for i in range(3):\n        if i:\n            last = prev\n        prev = i\n    return 0\n",  # one loop
        "    xs = [k * 2 for k in range(3)]\n    return xs\n",  # a comprehension's own variable
        "    global COUNT\n    COUNT += 1\n    return COUNT\n",  # a global, not a local
        "    def inner():\n        return later\n    later = 1\n    return inner()\n",  # read when called
    ],
)
def test_reads_that_run_after_a_bind_are_not_flagged(body: str) -> None:
    code = f"COUNT = 0\n\n\ndef build():\n{body}\n\nprint(build())\n"
    assert [p for p in problems(code) if p.kind == "unbound"] == []


def test_a_module_level_read_before_the_assignment_is_found() -> None:
    code = "import numpy as np\ncenters[0] = 1\ncenters = np.zeros(3)\nprint(len(centers))\n"
    (message,) = [p.message for p in problems(code)]
    assert "`centers` is read at module level (line 2" in message and "(line 3)" in message


def test_an_import_of_a_module_that_is_not_installed_is_found() -> None:
    code = "import numpy as np\nimport json\n\n\ndef f():\n    from circle_packing import pack\n    return pack()\n"
    assert problems(code) == []  # the environment is not known: no judgement
    (message,) = [p.message for p in problems(code, frozenset({"numpy", "scipy"}))]
    assert "imports `circle_packing`, which is not installed" in message


def test_code_after_a_return_is_not_judged() -> None:
    code = "def f():\n    x = 1\n    return x\n    y = angle * 2\n\n\nprint(f())\n"
    assert problems(code) == []


def test_the_environments_modules_are_listed_from_its_site_packages(tmp_path: Path) -> None:
    from agents.sandbox import pyenv

    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "numpy").mkdir(parents=True)
    (site / "numpy-2.0.dist-info").mkdir()
    (site / "six.py").write_text("")
    (site / "_cffi_backend.cpython-311-x86_64-linux-gnu.so").write_text("")
    assert pyenv.importable(tmp_path) == frozenset()  # not built: unknown
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    (tmp_path / pyenv.STAMP).write_text(pyenv.requirements_hash())
    pyenv.importable.cache_clear()
    assert pyenv.importable(tmp_path) == {"numpy", "six", "_cffi_backend"}


def test_an_assignment_reading_its_own_unbound_target_is_found() -> None:
    code = "import numpy as np\ncenters = np.clip(centers, 0.01, 0.99)\n"
    (message,) = [p.message for p in problems(code)]
    assert "`centers` is read at module level (line 2" in message
    fine = "import numpy as np\ncenters = np.zeros(3)\ncenters = np.clip(centers, 0.01, 0.99)\n"
    assert problems(fine) == []
