"""Reading every passage (issue 15.4): one short prompt per passage, then the best candidate answer.

A 1.5B model given four passages answers from passage [1] (36 of 48 right when the answer is
there, 2 of 12 when it is in [2]-[4]). Asked about one passage at a time it reads each of them;
each reply cites [1] of its own prompt and is renumbered to the passage's place among the ones
shown. A reply saying the passage does not hold the answer is discarded; the others are ranked by
whether the answer check finds them in their own passage, then by the model's mean token
log-probability (times ``likelihood_weight``), then by passage rank. Pure Python: the assistant
generates, this module renumbers and chooses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.checks.analysis import Analysis
from rag.checks.grounding import GroundingSettings, is_refusal
from rag.checks.support import check_answer

JOINT, EACH, FALLBACK = "joint", "each", "fallback"
READINGS = (JOINT, EACH, FALLBACK)  # one prompt; one per passage; one per passage only when the joint reply fails

_MARKER = re.compile(r"\[\s*(\d{1,3})\s*\]")


@dataclass(frozen=True)
class Candidate:
    """One passage's reply: marker n is the passage's place among those shown."""

    marker: int
    raw: str  # as the model wrote it, markers renumbered to the shown passages
    logprob: float | None  # summed token log-probabilities (None: the generator does not report them)
    tokens: int  # completion tokens

    @property
    def mean_logprob(self) -> float:
        return self.logprob / self.tokens if self.logprob is not None and self.tokens else 0.0


def renumber(reply: str, marker: int) -> str:
    """A reply to a one-passage prompt with its markers pointing at that passage's place among all shown."""
    return _MARKER.sub(f"[{marker}]", reply)


def supported(candidate: Candidate, shown: Analysis, grounding: GroundingSettings | None) -> bool:
    """Does the answer check find the candidate in its own passage (no checks: every reply counts)?"""
    if grounding is None:
        return True
    own = shown.restrict([shown.hits[candidate.marker - 1]])
    checks = check_answer(
        renumber(candidate.raw, 1),
        own,
        threshold=grounding.support_threshold,
        key_threshold=grounding.key_threshold,
        phrases=grounding.phrase_support,
    )
    return any(c.status != "unsupported" for c in checks)


def choose(
    candidates: Sequence[Candidate],
    shown: Analysis,
    grounding: GroundingSettings | None,
    *,
    likelihood_weight: float,
) -> Candidate | None:
    """The best non-refusal candidate (see the module docstring), or None when every passage's reply refused."""
    answers = [c for c in candidates if c.raw.strip() and not is_refusal(c.raw)]
    if not answers:
        return None

    def score(c: Candidate) -> tuple[float, int]:
        return float(supported(c, shown, grounding)) + likelihood_weight * c.mean_logprob, -c.marker

    return max(answers, key=score)
