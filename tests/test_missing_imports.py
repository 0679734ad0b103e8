"""Missing imports of well-known names are added before a coder-written program runs (agents/experiments/imports.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agents.experiments.imports import MARK, add_missing_imports
from agents.experiments.program import join_bundle, split_bundle

SMALL_MODEL_PROGRAM = '''"""Fit a baseline."""
from __future__ import annotations
from shoal_helper import log_metric
import pandas as pd

train = pd.read_csv(os.path.join(data_dir(), "train.csv"))
x = np.asarray(train.values)
log_metric("rows", float(len(x)))
'''


def test_names_used_but_never_imported_get_their_import_after_the_docstring() -> None:
    fixed, added = add_missing_imports(SMALL_MODEL_PROGRAM)
    assert added == ["data_dir", "np", "os"]
    lines = fixed.splitlines()
    assert lines[:2] == ['"""Fit a baseline."""', "from __future__ import annotations"]  # future imports stay first
    assert lines[2:5] == [
        "from shoal_helper import data_dir" + MARK,
        "import numpy as np" + MARK,
        "import os" + MARK,
    ]
    compile(fixed, "code.py", "exec")
    assert add_missing_imports(fixed) == (fixed, [])  # nothing twice


def test_the_fixed_program_runs(tmp_path: Path) -> None:
    code = "x = np.arange(3)\nprint(json.dumps({'sum': int(x.sum())}), Path('.').name == '')\n"
    fixed, added = add_missing_imports(code)
    assert added == ["Path", "json", "np"]
    (tmp_path / "code.py").write_text(fixed)
    out = subprocess.run([sys.executable, "code.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '{"sum": 3} True'


def test_bound_unknown_starred_and_broken_programs_are_left_alone() -> None:
    bound = "def os():\n    return 1\nnp = [1]\nfor pd in range(2):\n    print(os(), np, pd)\n"
    assert add_missing_imports(bound) == (bound, [])
    unknown = "print(undefined_thing, sns.__name__)\n"  # no conventional meaning known: the coder's bug to fix
    assert add_missing_imports(unknown) == (unknown, [])
    star = "from numpy import *\nprint(np, os)\n"
    assert add_missing_imports(star) == (star, [])
    broken = "print(np.arange(3)\n"
    assert add_missing_imports(broken) == (broken, [])
    builtin_shadow = "print(len([1]), time.time() > 0)\n"
    assert add_missing_imports(builtin_shadow)[1] == ["time"]


def test_every_python_file_of_a_bundle_is_fixed_and_others_untouched() -> None:
    bundle = join_bundle(
        [("main.py", "from model import fit\nprint(fit(np.ones(2)))\n"), ("model.py", "def fit(x):\n    return pd\n"),
         ("notes.txt", "np pd os\n")]
    )  # fmt: skip
    fixed, added = add_missing_imports(bundle)
    assert sorted(added) == ["np", "pd"]
    files = dict(split_bundle(fixed))
    assert files["main.py"].startswith("import numpy as np" + MARK + "\nfrom model import fit")
    assert files["model.py"].startswith("import pandas as pd" + MARK)
    assert files["notes.txt"] == "np pd os\n"
