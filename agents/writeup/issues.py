"""One problem the pre-compile checks found in a section (numbers, claims, figures, citations, placeholders)."""

from __future__ import annotations

from pydantic import BaseModel


class Issue(BaseModel):
    kind: str  # number | caption | table | figure | citation | placeholder | comparison | significance | ...
    section: str
    detail: str
    token: str = ""
