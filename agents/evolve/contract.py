"""Static checks of a new program before it is evaluated: do its functions still give their callers what the
callers take? Two mistakes a small model makes often, found by reading the code, not by running it:

- a function whose result a caller uses, which no longer returns a value (a helper that lost its ``return``:
  the caller then computes with ``None``, e.g. ``float(None)``);
- a function that returns a tuple of one size where a caller unpacks another (``centers, radii =
  construct_packing()`` against ``return centers, radii, total``).

Only top-level functions are checked, with the calls made by bare name anywhere in the program. A mistake the
parent program already had is not the new code's: ``new_problems`` reports only those the parent did not have.
The problems go back to the model as a patch error, for repair in the same conversation, before any evaluation.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class _Function:
    name: str
    returns_value: bool  # some `return <expr>` other than `return None`
    generator: bool
    always_raises: bool
    tuple_sizes: tuple[tuple[int, int], ...]  # (size, line) of each `return a, b, ...` without a starred item


def _own_nodes(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of ``fn``'s own body, not of the functions, lambdas and classes nested in it."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                stack.append(child)
    return out


def _describe(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> _Function:
    nodes = _own_nodes(fn)
    returns = [n for n in nodes if isinstance(n, ast.Return)]
    value = [
        r for r in returns if r.value is not None and not (isinstance(r.value, ast.Constant) and r.value.value is None)
    ]
    sizes = tuple(
        (len(r.value.elts), r.lineno)
        for r in value
        if isinstance(r.value, ast.Tuple) and not any(isinstance(e, ast.Starred) for e in r.value.elts)
    )
    return _Function(
        name=fn.name,
        returns_value=bool(value),
        generator=any(isinstance(n, ast.Yield | ast.YieldFrom) for n in nodes),
        always_raises=bool(fn.body) and isinstance(fn.body[-1], ast.Raise),
        tuple_sizes=sizes,
    )


@dataclass(frozen=True)
class Problem:
    kind: str  # "no-return" or "unpack"
    function: str
    caller: str  # the calling line's text
    message: str


def problems(code: str) -> list[Problem]:
    """The contract mistakes in ``code`` (none when it does not parse: syntax is checked elsewhere)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    functions = {n.name: _describe(n) for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    lines = code.splitlines()
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found: dict[tuple[str, str, str], Problem] = {}
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in functions):
            continue
        fn = functions[call.func.id]
        parent = parents.get(call)
        if isinstance(parent, ast.Expr | ast.Await):
            continue  # the result is not used
        caller = lines[call.lineno - 1].strip()
        where = f"line {call.lineno}: `{caller}`"
        if not (fn.returns_value or fn.generator or fn.always_raises):
            message = f"`{fn.name}` returns nothing (it has no `return` with a value), but {where} uses its result"
            found.setdefault(("no-return", fn.name, caller), Problem("no-return", fn.name, caller, message))
            continue
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and parent.value is call:
            target = parent.targets[0]
            if isinstance(target, ast.Tuple | ast.List) and not any(isinstance(e, ast.Starred) for e in target.elts):
                wrong = [(size, line) for size, line in fn.tuple_sizes if size != len(target.elts)]
                if wrong:
                    size, line = wrong[0]
                    message = f"`{fn.name}` returns {size} values (line {line}) but {where} unpacks {len(target.elts)}"
                    found.setdefault(("unpack", fn.name, caller), Problem("unpack", fn.name, caller, message))
    return list(found.values())


def new_problems(parent_code: str, code: str) -> list[str]:
    """The messages for the mistakes of ``code`` that ``parent_code`` did not have."""
    before = {(p.kind, p.function, p.caller) for p in problems(parent_code)}
    return [p.message for p in problems(code) if (p.kind, p.function, p.caller) not in before]
