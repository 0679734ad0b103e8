"""What of a program runs: the code a change must touch to change the score.

A small model asked for "a better method" often writes one (a genetic algorithm, say) as a new function that
nothing calls, and leaves the function the program runs as it was: 19 of 20 valid programs in one embedded-model
run scored exactly their parent's 0.9598, most of them that way. Evaluating such a program teaches nothing.
``running_code`` reduces a program to what can run: module-level statements, the functions and classes the
program's interface names (``roots``: every top-level name of the initial program, so also an entry point only the
evaluator calls) and, transitively, those they refer to; docstrings dropped, comments and layout gone with the
parse. Two programs with the same running code compute the same thing; the novelty gate treats them as copies.
"""

from __future__ import annotations

import ast

_DEF = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def top_level_names(code: str) -> frozenset[str]:
    """The functions and classes ``code`` defines at module level (empty when it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset()
    return frozenset(n.name for n in tree.body if isinstance(n, _DEF))


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _strip_docstrings(node: ast.AST) -> None:
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if isinstance(n, _DEF | ast.Module) and isinstance(body, list) and body:
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                n.body = body[1:] or [ast.Pass()]


def running_code(code: str, roots: frozenset[str]) -> tuple[str, list[str]]:
    """(a canonical dump of what can run, the top-level functions and classes nothing reaches); the text itself
    and no names when ``code`` does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    defs: dict[str, ast.AST] = {n.name: n for n in tree.body if isinstance(n, _DEF)}
    frontier = set(roots) & defs.keys()
    for stmt in tree.body:
        if not isinstance(stmt, _DEF):
            frontier |= _reads(stmt) & defs.keys()
    reached: set[str] = set()
    while frontier:
        name = frontier.pop()
        reached.add(name)
        frontier |= (_reads(defs[name]) & defs.keys()) - reached
    unreached = [n for n in defs if n not in reached]
    tree.body = [s for s in tree.body if not (isinstance(s, _DEF) and s.name in unreached)]
    _strip_docstrings(tree)
    return ast.dump(tree, annotate_fields=False), unreached
