"""The example reviews shown to the model (our own text, ``templates/prompts/reviewer/example_*.md.j2``) and a
check for list items a model copied from them into the review of another paper."""

from __future__ import annotations

import json
import re
from functools import cache

from agents.prompts import render_text

EXAMPLES = ("example_reject", "example_accept")
COPY_OVERLAP = 0.7  # share of an item's words in one example item, and of that item's words in it, that is a copy
CONTAINED = 0.8  # share of an example item's words (5 or more) found in a longer item that is a copy too
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


@cache
def example_items() -> tuple[frozenset[str], ...]:
    """The word sets of every list item (strengths, weaknesses, questions, limitations) of every example."""
    items: list[frozenset[str]] = []
    for name in EXAMPLES:
        text = render_text(f"reviewer/{name}", {})
        review = json.loads(text[text.index("{") : text.rindex("}") + 1])
        items += [_words(str(item)) for value in review.values() if isinstance(value, list) for item in value]
    return tuple(i for i in items if len(i) >= 3)


def is_copied(item: str) -> bool:
    """True when ``item`` shares most of its words with an example item (both ways), or holds most of the words of
    an example item of five words or more (a copied sentence with words around it)."""
    words = _words(item)
    if len(words) < 3:
        return False
    for ex in example_items():
        common = len(words & ex)
        if common >= COPY_OVERLAP * len(words) and common >= COPY_OVERLAP * len(ex):
            return True
        if len(ex) >= 5 and common >= CONTAINED * len(ex):
            return True
    return False


def copied_items(fields: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(field, item) for each item of ``fields`` that repeats an example review's item."""
    return [(field, item) for field, items in fields.items() for item in items if is_copied(item)]
