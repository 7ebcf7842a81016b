"""Self-consistency probe (issue 15, run on the tuning half only): the greedy checked answer against a vote
among it and N answers sampled at a temperature, each passed through the checks.

Three ways to choose among the answers the checks kept (outcome "answered"; none kept: the greedy one): a
vote on their `short_answer` (a tie that includes the greedy answer keeps it), the one whose best sentence
the support check scored highest, and a vote on the passage sentence that supports each. The model is
asked in process; llama.cpp reuses the prompt's cache between the samples of one question. Prints one
JSON line; rows go to --out.

    PYTHONPATH=. flock /tmp/rag-heavy.lock python benchmarks/probe_self_consistency.py SPLIT/tune.jsonl \
        --index INDEX --limit 40 --samples 4 --temperature 0.7 --out rows.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

from rag.eval.metrics import contains_answer, normalize, token_f1
from rag.eval.questions import load_questions
from rag.setup.config import load_settings
from rag.setup.wiring import build_assistant


def _voted(greedy, answers):  # noqa: ANN001, ANN202 - rag.types.Answer
    kept = [a for a in answers if a.outcome == "answered" and a.short_answer]
    votes = collections.Counter(normalize(a.short_answer) for a in kept)
    if not votes:
        return greedy
    top, count = votes.most_common(1)[0]
    own = normalize(greedy.short_answer) if greedy.outcome == "answered" and greedy.short_answer else None
    if own is not None and votes[own] == count:
        top = own
    return next(a for a in kept if normalize(a.short_answer) == top)


def _best_supported(greedy, answers):  # noqa: ANN001, ANN202 - rag.types.Answer
    """The kept answer whose best sentence the checks scored highest (claim coverage in its passage)."""
    kept = [a for a in answers if a.outcome == "answered" and a.sentences]
    if not kept:
        return greedy
    return max(kept, key=lambda a: max(s.score for s in a.sentences))  # first (greedy) wins a tie


def _same_evidence(greedy, answers):  # noqa: ANN001, ANN202 - rag.types.Answer
    """A vote by the passage sentence that supports each kept answer (its span), not by its words."""
    kept = [a for a in answers if a.outcome == "answered" and a.sentences]
    key = lambda a: tuple((s.supported_by, tuple(s.span or ())) for s in a.sentences if s.status != "unsupported")  # noqa: E731
    votes = collections.Counter(key(a) for a in kept)
    if not votes:
        return greedy
    count = votes.most_common(1)[0][1]
    if greedy in kept and votes[key(greedy)] == count:
        return greedy
    top = votes.most_common(1)[0][0]
    return next(a for a in kept if key(a) == top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", required=True)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    questions = load_questions(args.questions, limit=args.limit)
    greedy = build_assistant(load_settings({"RAG_INDEX": args.index}))
    hot_settings = load_settings({"RAG_INDEX": args.index, "RAG_TEMPERATURE": str(args.temperature)})
    hot = build_assistant(hot_settings, generator=greedy._generator)  # noqa: SLF001 - one loaded model
    started = time.time()
    rows = []
    with args.out.open("w", encoding="utf-8") as out:
        for q in questions:
            g = greedy.ask(q.question)
            answers = [g] + [hot.ask(q.question) for _ in range(args.samples)]
            voted = _voted(g, answers)
            supported, evidence = _best_supported(g, answers), _same_evidence(g, answers)
            row = {
                "id": q.id,
                "greedy": g.text,
                "voted": voted.text,
                "greedy_ok": contains_answer(g.text, q.answers),
                "voted_ok": contains_answer(voted.text, q.answers),
                "greedy_f1": token_f1(g.short_answer or "", q.answers),
                "voted_f1": token_f1(voted.short_answer or "", q.answers),
                "supported_ok": contains_answer(supported.text, q.answers),
                "evidence_ok": contains_answer(evidence.text, q.answers),
                "supported_f1": token_f1(supported.short_answer or "", q.answers),
                "evidence_f1": token_f1(evidence.short_answer or "", q.answers),
                "any_ok": any(contains_answer(a.text, q.answers) for a in answers),
                "samples": [a.text for a in answers[1:]],
            }
            rows.append(row)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    n = len(rows)
    mean = lambda key: round(sum(r[key] for r in rows) / n, 3)  # noqa: E731
    print(
        json.dumps(
            {
                "questions": n,
                "samples": args.samples,
                "temperature": args.temperature,
                "seconds": round(time.time() - started),
                "greedy_containment": mean("greedy_ok"),
                "voted_containment": mean("voted_ok"),
                "greedy_short_f1": mean("greedy_f1"),
                "voted_short_f1": mean("voted_f1"),
                "best_supported_containment": mean("supported_ok"),
                "best_supported_short_f1": mean("supported_f1"),
                "same_evidence_containment": mean("evidence_ok"),
                "same_evidence_short_f1": mean("evidence_f1"),
                "any_answer_right": mean("any_ok"),
            }
        )
    )


if __name__ == "__main__":
    main()
