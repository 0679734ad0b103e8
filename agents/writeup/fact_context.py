"""What a recorded setting or count *is*, in words, and whether the sentence quoting it says so.

A setting (``LR = 0.05``, ``epochs=100``, "learning rate 0.05" in a plan) or a count (seeds, runs per stage) is a
common number: a random 0.05 or 3 would match one by chance. So such a fact carries the words that name it (the
identifier it is assigned to, split and with the usual abbreviations spelled out; the words next to it in a plan;
the words of a count's description), and a number matches it only in a sentence, table or caption that mentions
one of them: "a learning rate of 0.05" states ``LR = 0.05``; "we also measured 0.05" does not. A fact whose name
says nothing (a one-letter variable) keeps no words and matches as before.
"""

from __future__ import annotations

import ast
import re

# abbreviations in programs and the words a paper uses for them
_ABBREV: dict[str, tuple[str, ...]] = {
    "lr": ("learning", "step"),
    "eta": ("learning", "step"),
    "n": ("number", "size", "samples", "examples", "points"),
    "num": ("number",),
    "val": ("validation",),
    "bs": ("batch",),
    "wd": ("weight", "decay"),
    "mom": ("momentum",),
    "beta": ("momentum", "beta"),
    "hid": ("hidden",),
    "dim": ("dimension",),
    "iters": ("iterations", "steps"),
    "iter": ("iterations", "steps"),
    "eps": ("epsilon",),
    "tol": ("tolerance",),
    "reg": ("regularization", "regularisation", "penalty"),
    "lam": ("lambda", "regularization", "regularisation", "penalty"),
    "alpha": ("alpha", "regularization", "regularisation", "penalty", "significance"),
    "k": ("neighbours", "neighbors", "folds", "clusters"),
    "std": ("standard", "deviation", "noise"),
    "sigma": ("noise", "standard", "deviation"),
    "max": ("maximum",),
    "min": ("minimum",),
    "est": ("estimators", "trees"),
    "estimators": ("trees",),
    "seed": ("random",),
    "run": ("ran", "experiment", "node", "trial", "attempt", "configuration", "ablation", "variant", "program"),
    "runs": ("ran", "experiment", "node", "trial", "attempt", "configuration", "ablation", "variant", "program"),
}
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or",
    "over", "per", "the", "to", "up", "we", "with", "without", "each", "all", "node", "nodes", "code", "plan",
    "setting", "settings", "use", "used", "using", "then", "than", "this", "that", "its",
})  # fmt: skip
_WORD = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def split_identifier(name: str) -> list[str]:
    """``N_TRAIN`` -> n, train; ``learningRate`` -> learning, rate."""
    return [w.lower() for part in name.split("_") for w in _CAMEL.split(part) if w]


def words_for(names: list[str]) -> list[str]:
    """The words that name a value: identifier parts (3+ letters, or a known abbreviation) and their expansions."""
    out: list[str] = []
    for name in names:
        for w in split_identifier(name):
            if w in _STOP:
                continue
            if len(w) >= 3:
                out.append(w)
            out += _ABBREV.get(w, ())
    return list(dict.fromkeys(out))


def sentence_words(text: str) -> set[str]:
    """The words of a sentence, table or caption (identifiers in ``\\texttt`` split too), lower case, with the
    usual abbreviations spelled out ("lr=0.05" names a learning rate)."""
    words = {w.lower() for tok in _WORD.findall(text.replace("_", " ")) for w in _CAMEL.split(tok) if w}
    return words | {e for w in words for e in _ABBREV.get(w, ())}


def mentions(words: set[str], context: list[str]) -> bool:
    """Whether ``words`` (of the quoting text) name the fact: a shared prefix of 3+ letters either way
    ("train"/"training", "epochs"/"epoch", "val"/"validation")."""
    if not context:
        return True
    for c in context:
        for w in words:
            if w == c or (len(w) >= 3 and w not in _STOP and (w.startswith(c) or c.startswith(w))):
                return True
    return False


def code_constant_names(code: str) -> list[tuple[str, list[str]]]:
    """Each numeric constant of a program (as Python writes it) with the names it is given: the target of its
    assignment (tuple assignments element by element), its keyword argument or parameter default, its dictionary
    key, its loop variable (also through a name: ``for momentum in momenta`` names the constants of ``momenta``), or
    the function it is passed to (and that function's parameter where the program defines it: ``make(name, 40)``
    with ``def make(name, n)`` names 40 "n"). Constants elsewhere (an index) come with no name."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    named: dict[int, list[str]] = {}
    params: dict[str, list[str]] = {}  # a function of the program -> its positional parameters
    values: dict[str, list[ast.expr]] = {}  # a plain name -> what it is assigned (for a loop over that name)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params[node.name] = [p.arg for p in (*node.args.posonlyargs, *node.args.args)]
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    values.setdefault(t.id, []).append(node.value)

    def name_of(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, ast.Attribute):
            return [node.attr]
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            return [str(node.slice.value)]
        return []

    def give(value: ast.AST, names: list[str]) -> None:
        for sub in ast.walk(value):
            if isinstance(sub, ast.Constant):
                named.setdefault(id(sub), []).extend(names)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if value is None:
                continue
            for t in targets:
                if isinstance(t, ast.Tuple) and isinstance(value, ast.Tuple) and len(t.elts) == len(value.elts):
                    for te, ve in zip(t.elts, value.elts, strict=True):
                        give(ve, name_of(te))
                elif isinstance(t, ast.Tuple):  # x_train, y_train = split(data, 0.2)
                    give(value, [n for te in t.elts for n in name_of(te)])
                else:
                    give(value, name_of(t))
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg:
                    give(kw.value, [kw.arg])
            called = name_of(node.func)
            own = params.get(called[0], []) if called else []
            for i, positional_arg in enumerate(node.args):  # make(name, 40) with def make(name, n): "n"
                give(positional_arg, called + own[i : i + 1])
        elif isinstance(node, ast.For | ast.comprehension):
            give(node.iter, name_of(node.target))  # for epoch in range(100)
            if isinstance(node.iter, ast.Name):  # momenta = [0.1, 0.5]; for momentum in momenta: "momentum" too
                for value in values.get(node.iter.id, []):
                    give(value, name_of(node.target))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = node.args
            positional = [*a.posonlyargs, *a.args]
            for param, default in zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True):
                give(default, [param.arg])
            for kwparam, kw_default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
                if kw_default is not None:
                    give(kw_default, [kwparam.arg])
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    give(v, [k.value])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            out.append((repr(node.value), named.get(id(node), [])))
    return out


def words_near(text: str, start: int, end: int) -> list[str]:
    """Up to three words before and two after a number in prose (a plan: "learning rate 0.05 for 100 epochs")."""
    before = [w for w in _WORD.findall(text[:start]) if w.lower() not in _STOP][-3:]
    after = [w for w in _WORD.findall(text[end:]) if w.lower() not in _STOP][:2]
    return words_for(before + after)
