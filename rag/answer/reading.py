"""Reading every passage (issue 15.4): one short prompt per passage, then the best candidate answer.

A 1.5B model given four passages answers from passage [1] (36 of 48 right when the answer is
there, 2 of 12 when it is in [2]-[4]). Asked about one passage at a time it reads each of them;
each reply cites [1] of its own prompt and is renumbered to the passage's place among the ones
shown. A reply saying the passage does not hold the answer is discarded; the others are ranked by
whether the answer check finds them in their own passage, plus how much of the question the
supporting sentence speaks of (times ``key_weight``) and the model's mean token log-probability
(times ``likelihood_weight``), then by passage rank. Pure Python: the assistant
generates, this module renumbers and chooses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.reply import Run
from rag.checks.analysis import Analysis
from rag.checks.grounding import REFUSAL, GroundingSettings, is_refusal
from rag.checks.support import check_answer
from rag.text.vietnamese import reads_vietnamese
from rag.types import Usage

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


def support(candidate: Candidate, shown: Analysis, grounding: GroundingSettings | None) -> tuple[bool, float]:
    """Does the answer check find the candidate in its own passage (no checks: every reply counts), and how much
    of the question's key terms the supporting sentence (with its title) holds, 0..1."""
    if grounding is None:
        return True, 0.0
    own = shown.restrict([shown.hits[candidate.marker - 1]])
    checks = check_answer(
        renumber(candidate.raw, 1),
        own,
        threshold=grounding.support_threshold,
        key_threshold=grounding.key_threshold,
        phrases=grounding.phrase_support,
    )
    held = [c for c in checks if c.status != "unsupported"]
    keys = {(s.start, s.end): s.key for s in own.passages[0].sentences}
    return bool(held), max((keys.get(c.span, 0.0) for c in held if c.span is not None), default=0.0)


def choose(
    candidates: Sequence[Candidate],
    shown: Analysis,
    grounding: GroundingSettings | None,
    *,
    likelihood_weight: float,
    key_weight: float = 0.0,
) -> Candidate | None:
    """The best non-refusal candidate (see the module docstring), or None when every passage's reply refused.

    Ranked by support in its own passage (1 or 0) + key_weight x the supporting sentence's share of
    the question's key terms + likelihood_weight x mean token log-probability, then passage rank."""
    answers = [c for c in candidates if c.raw.strip() and not is_refusal(c.raw)]
    if not answers:
        return None

    def score(c: Candidate) -> tuple[float, int]:
        held, key = support(c, shown, grounding)
        return float(held) + key_weight * key + likelihood_weight * c.mean_logprob, -c.marker

    return max(answers, key=score)


def read_each(
    every: Analysis,
    read_one: Callable[[Analysis], Run],
    grounding: GroundingSettings | None,
    *,
    usage: Usage,
    likelihood_weight: float = 0.0,
    key_weight: float = 0.0,
) -> Run:
    """One reply per passage of every (read_one: the model over that passage alone), then the chosen one (or the
    refusal) as a Run whose usage adds up every call to usage (what was spent before, e.g. the joint prompt)."""
    run = Run(usage=usage)
    candidates = []
    for marker, passage in enumerate(every.passages, start=1):
        one = read_one(every.restrict([passage.hit]))
        run.usage = Usage(
            run.usage.prompt_tokens + one.usage.prompt_tokens,
            run.usage.completion_tokens + one.usage.completion_tokens,
        )
        raw = one.raw if one.raw and reads_vietnamese(one.raw, context=every.context()) else ""
        candidates.append(Candidate(marker, renumber(raw, marker), one.logprob, one.usage.completion_tokens))
    best = choose(candidates, every, grounding, likelihood_weight=likelihood_weight, key_weight=key_weight)
    run.raw = best.raw if best is not None else REFUSAL
    return run
