"""Static checks of a new program before it is evaluated: do its functions still give their callers what the
callers take, and can it see every name it reads? Three mistakes a small model makes often, found by reading the
code, not by running it:

- a function whose result a caller uses, which no longer returns a value (a helper that lost its ``return``:
  the caller then computes with ``None``, e.g. ``float(None)``);
- a function that returns a tuple of one size where a caller unpacks another (``centers, radii =
  construct_packing()`` against ``return centers, radii, total``);
- a name a function (or the module) reads that is bound nowhere it can see: not in the function, not in an
  enclosing one, not at module level, not a builtin (a line-range edit that dropped the line defining ``radii``
  while a later line still returns it). Scopes come from the standard library's ``symtable``, as the compiler
  sees them; a star import turns this check off;
- a local read before anything assigns it (``UnboundLocalError``): in a function's own body, a statement reads a
  name that only a later statement of that body binds (a line edit that moved ``radii = ...`` below its first
  use). Judged statement by statement at the top of the body, so a read and a bind in the same loop or branch
  are left alone;
- an import of a module that is neither in the standard library nor installed in the experiment environment
  (``import circle_packing_module``: the model imagines a library that solves the task), when the environment's
  module list is known (``agents.sandbox.pyenv.importable``).

The first two are checked for top-level functions called by bare name anywhere in the program. A mistake the
parent program already had is not the new code's: ``new_problems`` reports only those the parent did not have.
The problems go back to the model as a patch error, for repair in the same conversation, before any evaluation.
"""

from __future__ import annotations

import ast
import builtins
import symtable
import sys
from dataclasses import dataclass

_MODULE_DUNDERS = {"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__", "__package__"}


@dataclass(frozen=True)
class _Function:
    name: str
    returns_value: bool  # some `return <expr>` other than `return None`
    generator: bool
    always_raises: bool
    tuple_sizes: tuple[tuple[int, int], ...]  # (size, line) of each `return a, b, ...` without a starred item


_SCOPES = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef


def _own_nodes(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of ``fn``'s own body, not of the functions, lambdas and classes nested in it."""
    return _scope_nodes(fn.body)


def _scope_nodes(statements: list[ast.stmt]) -> list[ast.AST]:
    """The nodes of ``statements`` and what they hold, not the insides of nested functions, lambdas and classes."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(statements)
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _SCOPES):
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
    kind: str  # "no-return", "unpack", "undefined", "unbound" or "import"
    function: str
    caller: str  # the calling line's text
    message: str


def problems(code: str, modules: frozenset[str] = frozenset()) -> list[Problem]:
    """The contract mistakes in ``code`` (none when it does not parse: syntax is checked elsewhere); imports are
    checked against ``modules`` (what the experiment environment installs) when it is not empty."""
    try:
        tree = without_dead_code(ast.parse(code))
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
    used = _used_functions(tree, [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)])
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in used:
            for name, read, bound in read_before_bound(node):
                caller = lines[read - 1].strip()
                message = (
                    f"`{name}` is read in `{node.name}` (line {read}: `{caller}`) before it is assigned (line {bound})"
                )
                found.setdefault(("unbound", name, caller), Problem("unbound", name, caller, message))
    for name, read, bound in read_before_bound(tree):
        caller = lines[read - 1].strip()
        message = f"`{name}` is read at module level (line {read}: `{caller}`) before it is assigned (line {bound})"
        found.setdefault(("unbound", name, caller), Problem("unbound", name, caller, message))
    for name, line in missing_imports(tree, modules):
        caller = lines[line - 1].strip()
        message = (
            f"line {line}: `{caller}` imports `{name}`, which is not installed: use the standard library and "
            "the modules the program already imports"
        )
        found.setdefault(("import", name, caller), Problem("import", name, caller, message))
    for name, scope in undefined_names(code, tree):
        line = _first_read(tree, name)
        caller = lines[line - 1].strip() if line else ""
        where = f"line {line}: `{caller}`" if line else "the program"
        message = f"`{name}` is read in {scope} ({where}) but is defined nowhere it can be seen"
        found.setdefault(("undefined", name, caller), Problem("undefined", name, caller, message))
    return list(found.values())


_ENDS = ast.Return | ast.Raise | ast.Continue | ast.Break


def without_dead_code(tree: ast.Module) -> ast.Module:
    """``tree`` without the statements that follow a ``return``, ``raise``, ``continue`` or ``break`` in the same
    block: they never run, so nothing they read can fail (a small model often leaves old lines after a return)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                end = next((i for i, st in enumerate(block) if isinstance(st, _ENDS)), None)
                if end is not None:
                    setattr(node, field, block[: end + 1])
    return tree


def undefined_names(code: str, tree: ast.Module | None = None) -> list[tuple[str, str]]:
    """(name, where) for each name read in a scope that would raise NameError: not bound in that scope or an
    enclosing one, not at module level, not a builtin. Only code that runs is judged: the module, class bodies,
    and the functions the program itself refers to (with what they nest); a function nothing refers to, and
    methods, are left alone (an unused helper with a typo never fails)."""
    tree = tree or without_dead_code(ast.parse(code))
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree)):
        return []
    try:
        top = symtable.symtable(ast.unparse(tree), "program.py", "exec")
    except SyntaxError:
        return []
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    defined = {n.name for n in defs}
    used = _used_functions(tree, defs)
    checked: list[symtable.SymbolTable] = [top]
    every: list[symtable.SymbolTable] = [top]
    # (table, whether the code around it runs, whether it is defined at module level)
    stack = [(child, True, True) for child in top.get_children()]
    while stack:
        table, around_runs, top_level = stack.pop()
        every.append(table)
        if table.get_type() == "class":
            runs = around_runs  # a class body runs when its definition does; its methods are not judged
            stack += [(child, False, False) for child in table.get_children()]
        else:
            # a function defined at module level runs only if the program refers to it; a lambda or a
            # comprehension there runs with the module
            named = top_level and table.get_name() in defined
            runs = around_runs and (not named or table.get_name() in used)
            stack += [(child, runs, False) for child in table.get_children()]
        if runs:
            checked.append(table)
    module = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    module |= {s.get_name() for t in every for s in t.get_symbols() if s.is_declared_global() and s.is_assigned()}
    known = module | set(dir(builtins)) | _MODULE_DUNDERS
    out: list[tuple[str, str]] = []
    for table in checked:
        where = "the module" if table is top else f"`{table.get_name()}`"
        for sym in table.get_symbols():
            if sym.is_referenced() and sym.is_global() and sym.get_name() not in known:
                out.append((sym.get_name(), where))
    return list(dict.fromkeys(out))


_LOCAL_MODULES = {"program", "evaluate", "shoal_evolve"}  # the files beside the program in its work dir


def missing_imports(tree: ast.Module, modules: frozenset[str]) -> list[tuple[str, int]]:
    """(top-level module, line) of each absolute import that is neither standard library nor in ``modules``;
    nothing when ``modules`` is empty (the environment is not known)."""
    if not modules:
        return []
    known = set(sys.stdlib_module_names) | modules | _LOCAL_MODULES
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        out += [(n.split(".")[0], node.lineno) for n in names if n.split(".")[0] not in known]
    return out


def _names(nodes: list[ast.AST]) -> tuple[dict[str, int], set[str]]:
    """(first line reading each name, names bound) among ``nodes``; an augmented assignment reads its target."""
    reads: dict[str, int] = {}
    bound: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                reads[node.id] = min(reads.get(node.id, node.lineno), node.lineno)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            reads[node.target.id] = min(reads.get(node.target.id, node.lineno), node.lineno)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name or "")
    # a comprehension's loop variables are its own (a scope of their own since Python 3)
    own = {
        n.id for c in nodes if isinstance(c, ast.comprehension) for n in ast.walk(c.target) if isinstance(n, ast.Name)
    }
    return {k: v for k, v in reads.items() if k not in own}, bound - own - {""}


def read_before_bound(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Module) -> list[tuple[str, int, int]]:
    """(name, line read, line first bound) for each local of ``fn`` (or name of the module) that a top-level
    statement of its body reads before any earlier statement binds it; globals, nonlocals and parameters are not
    locals here, and at module level a builtin read before it is shadowed is no mistake."""
    if isinstance(fn, ast.Module):
        params, declared = set(dir(builtins)), set()
    else:
        params = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
        params |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
        declared = {n for node in _own_nodes(fn) if isinstance(node, ast.Global | ast.Nonlocal) for n in node.names}
    per_statement = []
    for stmt in fn.body:
        nodes: list[ast.AST] = [stmt] if isinstance(stmt, _SCOPES) else _scope_nodes([stmt])
        reads, bound = _names(nodes)
        # an assignment evaluates its value before it binds: `x = f(x)` reads an x bound before it
        value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None else None
        first = set(_names(list(ast.walk(value)))[0]) if value is not None else set()
        per_statement.append((stmt.lineno, reads, bound, first))
    local = set().union(*(b for _, _, b, _ in per_statement)) - params - declared if per_statement else set()
    first_bound: dict[str, int] = {}
    out: list[tuple[str, int, int]] = []
    for lineno, reads, bound, first in per_statement:
        for name, line in sorted(reads.items()):
            if name in local and name not in first_bound and (name not in bound or name in first):
                later = [ln for ln, _, b, _ in per_statement if name in b and ln >= lineno]
                out.append((name, line, later[0] if later else lineno))
        for name in bound:
            first_bound.setdefault(name, lineno)
    return out


def _used_functions(tree: ast.Module, defs: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> set[str]:
    """The top-level functions ``defs`` whose name is read somewhere outside their own definition."""
    spans = {n.name: (n.lineno, n.end_lineno or n.lineno) for n in defs}
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in spans:
            start, end = spans[node.id]
            if not start <= node.lineno <= end:
                used.add(node.id)
    return used


def _first_read(tree: ast.Module, name: str) -> int:
    lines = [
        n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
    ]
    return min(lines) if lines else 0


def new_problems(parent_code: str, code: str, modules: frozenset[str] = frozenset()) -> list[str]:
    """The messages for the mistakes of ``code`` that ``parent_code`` did not have."""
    before = {(p.kind, p.function, p.caller) for p in problems(parent_code, modules)}
    return [p.message for p in problems(code, modules) if (p.kind, p.function, p.caller) not in before]
