"""The findings a reviewer is given beside the paper: a JSON file the user names, or a Shoal run's own.

A Shoal run's writeup stage records (``RunDir.writeup_findings()``, ``paper/findings.json``) the provenance of
every number, the issues it sent back to the writer, and what it removed before compiling. The reviewer reads the
final paper, so it is given what is true of that paper:

- a number still in the paper with no recorded source (provenance ``unmatched``): check it in the text;
- what was removed before compiling, marked so (the paper no longer says it): claims, citations, and numbers
  grouped by section, which tell what the writer wanted to say without a recorded result;
- not the issues sent back to the writer: each was fixed, or ended in a removal listed above (given as they were,
  they read as problems of the final text: the demo's review once listed numbers "that do not match the tables"
  which the paper no longer contained, and the twenty-line cap left out every removed claim).

Any other JSON (a list of strings, a dict of lists, records with a ``message``) becomes short lines as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.errors import UserInputError

MAX_FINDINGS = 20
WRITEUP_KEYS = frozenset({"numbers", "sent_back", "removed_numbers", "removed_citations", "removed_claims"})
REMOVED = "removed before compiling, not in the paper"


def is_writeup(data: dict[str, Any]) -> bool:
    """Whether ``data`` has the writeup stage's shape (its keys only, more than the numbers alone)."""
    return set(data) <= WRITEUP_KEYS and bool(set(data) - {"numbers"})


def writeup_lines(data: dict[str, Any]) -> list[str]:
    """The writeup stage's findings as the final paper stands (see the module's docstring), most telling first."""
    out = [
        f"{row.get('number')} in {row.get('section', '?')} matches no recorded result"
        for row in data.get("numbers") or []
        if isinstance(row, dict) and row.get("source") == "unmatched"
    ]
    out += [f"{REMOVED}: claim in {claim}" for claim in data.get("removed_claims") or [] if isinstance(claim, str)]
    out += [f"{REMOVED}: citation {c}" for c in data.get("removed_citations") or [] if isinstance(c, str)]
    by_section: dict[str, list[str]] = {}
    for item in data.get("removed_numbers") or []:
        if isinstance(item, str):
            section, _, number = item.partition(": ")
            by_section.setdefault(section, []).append(number or section)
    out += [
        f"{REMOVED}: numbers in {section} with no recorded source: {', '.join(numbers)}"
        for section, numbers in by_section.items()
    ]
    return [line[:300] for line in out][:MAX_FINDINGS]


def findings_lines(data: Any, prefix: str = "") -> list[str]:
    """A findings file (any JSON: a list of strings, a dict of lists, records with a message) as short lines; the
    writeup's own shape through ``writeup_lines``."""
    out: list[str] = []
    if isinstance(data, str):
        out = [f"{prefix}{data}"] if data.strip() else []
    elif isinstance(data, list):
        for item in data:
            out += findings_lines(item, prefix)
    elif isinstance(data, dict) and not prefix and is_writeup(data):
        out = writeup_lines(data)
    elif isinstance(data, dict) and {"number", "source"} <= set(data):
        # a provenance row of the writeup's number check: only a number with no recorded source is a problem
        if data["source"] == "unmatched":
            out = [f"{prefix}{data['number']} in {data.get('section', '?')} matches no recorded result"]
    elif isinstance(data, dict):
        text = next((data[k] for k in ("message", "finding", "problem", "what", "text") if k in data), None)
        if isinstance(text, str):
            why = data.get("why") or data.get("fix") or ""
            out = [f"{prefix}{text}" + (f" ({why})" if isinstance(why, str) and why else "")]
        else:
            for key, value in data.items():
                if isinstance(value, bool | int | float) or value in (None, "", [], {}):
                    continue
                out += findings_lines(value, f"{prefix}{key}: ")
    return [line[:300] for line in out][:MAX_FINDINGS]


def read_findings(path: Path) -> list[str]:
    """Findings from a JSON file the user names (``shoal review --findings FILE``)."""
    if not path.is_file():
        raise UserInputError(f"{path}: findings file not found")
    try:
        return findings_lines(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); give a JSON list or object") from exc


def run_findings(paper: Path) -> list[str]:
    """The writeup findings of the Shoal run ``paper`` belongs to (the run folder, or a file in it or its paper
    folder), through the run's own reader; empty outside a run or before a writing round."""
    from agents.rundir import open_run

    for folder in (paper, paper.parent, paper.parent.parent):
        try:
            run = open_run(folder)
        except UserInputError:
            continue
        return findings_lines(run.writeup_findings())
    return []
