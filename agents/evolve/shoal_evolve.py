"""shoal_evolve: the dependency-free helper an evolve evaluator runs with, copied beside it into the sandbox.

Shoal runs ``python shoal_evolve.py evaluate.py program.py RESULTS_DIR``. Two ways to write ``evaluate.py``:

1. As a function (the Python API)::

       from shoal_evolve import load_program

       def evaluate(program_path):
           prog = load_program(program_path)          # imports the candidate as a module
           score = ...
           return {"combined_score": score, "public": {"score": score}, "private": {}, "correct": True}

   Return ``correct: False`` with an ``error`` text for an invalid candidate; an exception raised by
   ``evaluate`` is recorded the same way, with the last lines of its traceback as the error.

2. As a script: without a top-level ``evaluate`` function the file runs as ``__main__`` with
   ``sys.argv = [evaluate.py, program.py, RESULTS_DIR]`` and writes ``RESULTS_DIR/metrics.json`` itself,
   for instance with ``write_metrics``.

metrics.json: ``{"combined_score": float (higher is better), "public": {...} (shown to the model),
"private": {...} (never shown), "correct": bool, "error": str}``.
"""

import ast
import importlib.util
import json
import math
import os
import runpy
import sys
import traceback

METRICS_FILE = "metrics.json"


def load_program(path, name="candidate"):
    """Import the candidate program at ``path`` as a module and return it."""
    spec = importlib.util.spec_from_file_location(name, os.path.abspath(path))
    if spec is None or spec.loader is None:
        raise ImportError("cannot load " + str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f if math.isfinite(f) else str(f)


def write_metrics(results_dir, combined_score, public=None, private=None, correct=True, error=""):
    """Write ``results_dir/metrics.json`` in the evolve format."""
    os.makedirs(results_dir, exist_ok=True)
    data = {
        "combined_score": _clean(combined_score),
        "public": _clean(public or {}),
        "private": _clean(private or {}),
        "correct": bool(correct),
        "error": str(error or ""),
    }
    tmp = os.path.join(results_dir, METRICS_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, os.path.join(results_dir, METRICS_FILE))


def _has_evaluate(path):
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), filename=path)
    return any(isinstance(node, ast.FunctionDef) and node.name == "evaluate" for node in tree.body)


def _error_text(exc):
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines[-4:]).strip()[-1500:]


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: python shoal_evolve.py evaluate.py program.py RESULTS_DIR\n")
        return 2
    evaluator, program, results = argv[1], argv[2], argv[3]
    sys.path.insert(0, os.path.dirname(os.path.abspath(evaluator)))
    if not _has_evaluate(evaluator):
        sys.argv = [evaluator, program, results]
        runpy.run_path(evaluator, run_name="__main__")
        return 0
    module = load_program(evaluator, name="shoal_evaluator")
    try:
        out = module.evaluate(program)
    except Exception as exc:  # the candidate (or the evaluator) failed: that is data, not a crash
        write_metrics(results, 0.0, correct=False, error=_error_text(exc))
        return 0
    if not isinstance(out, dict):
        sys.stderr.write("evaluate() must return a dict with combined_score, got " + type(out).__name__ + "\n")
        return 3
    write_metrics(
        results,
        out.get("combined_score"),
        public=out.get("public"),
        private=out.get("private"),
        correct=out.get("correct", True),
        error=out.get("error", ""),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
