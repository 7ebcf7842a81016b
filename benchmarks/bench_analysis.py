#!/usr/bin/env python
"""The check stage per question: one shared Analysis against one recomputed for each consumer.

Issue 14.2 computes the question's terms, folding, per-passage sentence scores and evidence once
(rag.checks.analysis.analyze) and lets every check read that object. This times the whole check
stage of a question both ways, on the same inputs, in the same run:

- shared: one ``analyze(question, candidates)``; the prompt's sentence selection, the refusal
  (evidence) and answerability checks, grounding (support check, extractive answer), the chat's
  highlight (the span the support check found) and ``rag eval``'s row all read it;
- recomputed: each of those six consumers makes its own ``analyze()`` of the passages it reads,
  as before the refactor (the highlight re-scores the passage sentences for each answer sentence;
  the extractive answer reads grounding's analysis both ways).

Inputs are real: the questions and the model's own replies (checks off) of a ``rag eval`` rows file,
the passages retrieved for them from the index (no LLM call). Both ways must give the same checked
answer and the same eval row (the benchmark stops if they do not); the highlight may differ, since
the recomputed one is the pre-refactor second opinion, and the answers where it does are counted.
The variants alternate per question, so load from other processes falls on both alike.

    python benchmarks/bench_analysis.py [--rows ROWS.jsonl] [--index DIR] [--limit 80] [--repeat 5]
        [--hits HITS.json] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from rag.answer.cite import cite
from rag.checks.analysis import Analysis, analyze
from rag.checks.grounding import Grounded, GroundingSettings, ground, unanswerable
from rag.checks.support import supporting_sentence
from rag.eval.metrics import Report
from rag.eval.questions import Question
from rag.setup import wiring
from rag.setup.config import load_settings
from rag.types import Answer, Chunk, Hit


def check_stage(
    question: Question,
    reply: str,
    candidates: list[Hit],
    settings: GroundingSettings,
    *,
    prompt_chars: int,
    shared: bool,
) -> tuple[Grounded, list[tuple[int, int] | None], dict[str, Any]]:
    """Everything the checks do with one question: (the checked answer, the highlight spans, the eval row)."""
    q = question.question
    analysis = analyze(q, candidates) if shared else None

    def view(hits: list[Hit]) -> Analysis:
        """What one consumer reads: the shared analysis (renumbered for a subset), or its own."""
        if analysis is None:
            return analyze(q, hits)
        return analysis if hits is candidates else analysis.restrict(hits)

    selected = view(candidates).select(max_chars=prompt_chars)  # 1. the prompt's sentences
    assert len(selected) == len(candidates)
    shown_hits = list(candidates)  # the prompt's passages (all fit: no LLM here to count their tokens)
    shown = view(shown_hits)
    # 2. answerability (the retrieved passages' signals) and 3. refusal (evidence of the shown ones)
    reason = unanswerable(view(candidates), shown, settings)
    grounded = ground(view(shown_hits), reply, settings)  # 4. the support check and the extractive answer
    cited = cite(grounded.text, shown_hits)
    spans = highlight(q, grounded, shown_hits, shared=shared)  # 5. the chat's highlight
    answer = Answer(
        question=q,
        text=cited.text,
        citations=cited.citations,
        retrieved=tuple(candidates),
        sentences=grounded.sentences,
        outcome=grounded.outcome,
        passages=tuple(shown_hits),
        refusal_reason=reason or grounded.reason,
        analysis=analysis,  # None: Report.add analyses the passages itself
        short_answer=grounded.short_answer,
    )
    row = Report(k=len(candidates), prompt_k=len(candidates)).add(question, answer, generated=True)  # 6. eval
    return grounded, spans, row


def highlight(question: str, grounded: Grounded, hits: list[Hit], *, shared: bool) -> list[tuple[int, int] | None]:
    """The passage span the chat marks for each answer sentence: read from the check (shared), or found again."""
    if shared:
        return [s.span for s in grounded.sentences]
    again = analyze(question, hits)
    return [
        supporting_sentence(s.text, again.passages[s.supported_by - 1]) if s.supported_by else None
        for s in grounded.sentences
    ]


def load_rows(path: Path, limit: int) -> list[tuple[Question, str]]:
    """(question, the model's own reply) per row of a `rag eval` rows file (needs model_answer: eval with replies)."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines()[:limit]:
        row = json.loads(line)
        question = Question(row["id"], row["question"], tuple(row["answers"]))
        pairs.append((question, row.get("model_answer") or row.get("answer") or ""))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=Path("/work/idx/runs-checks/final-report-80.jsonl"))
    parser.add_argument("--index", type=Path, default=Path("/work/idx/mlqa-300/index"))
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the questions")
    parser.add_argument("--hits", type=Path, help="JSON of the retrieved passages: written once, then read")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    store = wiring.open_index(settings)
    checks = wiring.grounding_settings(settings, embedder_id=store.model_id)
    assert checks is not None, "the checks are off (check_answers = 0): nothing to time"
    pairs = load_rows(args.rows, args.limit)
    inputs = [
        (q, reply, hits) for (q, reply), hits in zip(pairs, retrieved(pairs, settings, store, args.hits), strict=True)
    ]

    def run(q: Question, reply: str, hits: list[Hit], shared: bool) -> Any:
        return check_stage(q, reply, hits, checks, prompt_chars=settings.prompt_chars, shared=shared)

    second_opinions = 0  # answers whose recomputed highlight marks another sentence than the check found
    for q, reply, hits in inputs:  # the same checked answer and eval row both ways
        (grounded, spans, row), (grounded_again, spans_again, row_again) = (
            run(q, reply, hits, True),
            run(q, reply, hits, False),
        )
        assert (grounded, row) == (grounded_again, row_again), f"{q.id}: the shared analysis changed the checks"
        second_opinions += spans != spans_again
    seconds: dict[str, list[float]] = {"shared": [], "recomputed": []}
    for n in range(args.repeat * len(inputs)):
        q, reply, hits = inputs[n % len(inputs)]
        for shared in (True, False) if n % 2 == 0 else (False, True):
            started = time.perf_counter()
            run(q, reply, hits, shared)
            seconds["shared" if shared else "recomputed"].append(time.perf_counter() - started)
    report(seconds, len(inputs), second_opinions, args)


def retrieved(pairs: list[tuple[Question, str]], settings: Any, store: Any, cache: Path | None) -> list[list[Hit]]:
    """The passages retrieved for each question (settings.k of them), from the cache file when it has them."""
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if [q.id for q, _ in pairs] == list(data)[: len(pairs)]:
            return [[_hit(h) for h in data[q.id]] for q, _ in pairs]
    assistant = wiring.build_assistant(settings, with_generator=False, store=store)
    hits = [assistant.retriever.search(q.question, settings.k) for q, _ in pairs]
    if cache is not None:
        records = {q.id: [_record(h) for h in found] for (q, _), found in zip(pairs, hits, strict=True)}
        cache.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return hits


def _record(hit: Hit) -> dict[str, Any]:
    return {
        "chunk": hit.chunk.to_dict(),
        "score": hit.score,
        "rank": hit.rank,
        "dense": hit.dense,
        "coverage": hit.coverage,
    }


def _hit(data: dict[str, Any]) -> Hit:
    return Hit(Chunk.from_dict(data["chunk"]), data["score"], data["rank"], data["dense"], data["coverage"])


def report(seconds: dict[str, list[float]], questions: int, second_opinions: int, args: argparse.Namespace) -> None:
    summary: dict[str, Any] = {"questions": questions, "repeat": args.repeat, "rows": str(args.rows)}
    summary["highlight_second_opinions"] = second_opinions
    for name, values in seconds.items():
        summary[name] = {
            "median_ms": round(statistics.median(values) * 1000, 3),
            "mean_ms": round(statistics.mean(values) * 1000, 3),
            "total_s": round(sum(values), 3),
        }
    summary["speedup_median"] = round(summary["recomputed"]["median_ms"] / summary["shared"]["median_ms"], 2)
    summary["speedup_total"] = round(summary["recomputed"]["total_s"] / summary["shared"]["total_s"], 2)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    print(f"check stage per question, {questions} questions x {args.repeat} passes ({args.rows.name})")
    for name in seconds:
        s = summary[name]
        print(
            f"  {name:<11} median {s['median_ms']:8.3f} ms   mean {s['mean_ms']:8.3f} ms   total {s['total_s']:.3f} s"
        )
    print(
        f"  one shared analysis is {summary['speedup_median']}x faster (median; {summary['speedup_total']}x in total)"
    )
    print(f"  same checked answers and eval rows both ways; the recomputed highlight differs on {second_opinions}")


if __name__ == "__main__":
    main()
