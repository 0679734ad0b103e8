"""A trivial leak detector: regular expressions for de-anonymisation and camera-ready cues.

It is the baseline the calibration must report: on post-decision texts (accepted papers de-anonymised, rejected
ones still "Anonymous authors") these cues alone predict the decision. Run on blind-cleaned text it should fall
to chance; if it does not, the cleaning misses something and a model could be scoring the leak, not the paper.

Score = (cues for a camera-ready version) - 2 x (cues for an anonymous submission); predicted accept when > 0.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

CUES: dict[str, re.Pattern[str]] = {
    "camera_ready": re.compile(
        r"published as a (?:conference|workshop) paper|accepted (?:at|to|for) (?:the )?\w|camera[- ]ready"
        r"|^\W*proceedings of\b",
        re.IGNORECASE | re.MULTILINE,
    ),
    "acknowledgements": re.compile(
        r"^\W*(?:\d+\.?\s*)?acknowledge?ments?\b|\bwe (?:would like to )?thank\b", re.IGNORECASE | re.MULTILINE
    ),
    "emails": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "affiliations": re.compile(
        r"\b(?:universit(?:y|é|ät|at)|institute of|inc\.|research(?: lab)?\b(?= ?[-,\n])|school of|department of"
        r"|college|google|microsoft|deepmind|facebook|meta ai|amazon|nvidia|openai|alibaba|tencent|baidu)",
        re.IGNORECASE,
    ),
    "code_urls": re.compile(r"\b(?:github|gitlab|bitbucket)\.(?:com|org|io)/\w", re.IGNORECASE),
}
ANONYMOUS = re.compile(r"anonymous authors?|author\(s\)|double-blind review|under review as", re.IGNORECASE)
_ABSTRACT = re.compile(r"^\W*abstract\b", re.IGNORECASE | re.MULTILINE)


class LeakCues(BaseModel):
    anonymous: bool
    cues: dict[str, bool]

    @property
    def score(self) -> int:
        return sum(self.cues.values()) - 2 * int(self.anonymous)

    @property
    def predicts_accept(self) -> bool:
        return self.score > 0


def front_matter(text: str, limit: int = 4000) -> str:
    """The part before the abstract (or the first ``limit`` characters): where authors and affiliations are."""
    m = _ABSTRACT.search(text[:limit])
    return text[: m.start()] if m else text[:limit]


def detect_leaks(text: str) -> LeakCues:
    """Which cues ``text`` (a whole paper, references excluded where possible) carries."""
    front = front_matter(text)
    cues = {
        "camera_ready": bool(CUES["camera_ready"].search(text[:6000])),
        "acknowledgements": bool(CUES["acknowledgements"].search(text)),
        "emails": bool(CUES["emails"].search(front)),
        "affiliations": bool(CUES["affiliations"].search(front)),
        "code_urls": bool(CUES["code_urls"].search(text)),
    }
    return LeakCues(anonymous=bool(ANONYMOUS.search(text[:6000])), cues=cues)
