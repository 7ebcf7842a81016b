#!/usr/bin/env python
"""Span choice by likelihood (issue 15.4): span_choice free / likelihood, same questions, alternating, live.

For each question the assistant answers once per variant with the real models, in alternating order
so that load from other processes and the KV cache fall on both alike; nothing is recorded or
replayed. Prints per variant the mean and median time to the final answer and the ratio to free;
and for the scoring calls their number, candidates per call and median time.

    python benchmarks/bench_span_choice.py QUESTIONS.jsonl --index DIR [--limit 10] [--margin -1.5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.eval.metrics import contains_answer
from rag.eval.questions import load_questions
from rag.setup import wiring
from rag.setup.config import load_settings

VARIANTS = ("free", "likelihood")


class _Timed:
    """Wraps the generator: notes each scoring call's candidates and time."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self._inner, self.replies, self.score_ms = inner, [], []

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    def stream(self, messages, **kw):  # noqa: ANN001, ANN003, ANN201
        return self._inner.stream(messages, **kw)

    def score(self, messages, replies):  # noqa: ANN001, ANN201
        started = time.perf_counter()
        scores = self._inner.score(messages, replies)
        self.score_ms.append((time.perf_counter() - started) * 1000)
        self.replies.append(len(replies))
        return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--margin", type=float, default=-1.5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    base = wiring.build_assistant(settings)
    generator = _Timed(base._generator)  # noqa: SLF001 - one model shared by the variants
    assistants = {
        name: base.variant(generator=generator, span_choice=name, span_margin=args.margin) for name in VARIANTS
    }
    results = {n: {"ms": [], "right": []} for n in VARIANTS}
    for n, question in enumerate(load_questions(args.questions, limit=args.limit)):
        for name in VARIANTS if n % 2 == 0 else list(reversed(VARIANTS)):
            answer = assistants[name].ask(question.question)
            results[name]["ms"].append(answer.timings.total_ms)
            results[name]["right"].append(float(contains_answer(answer.text, question.answers)))
    free_ms = statistics.mean(results["free"]["ms"])
    summary: dict = {
        name: {
            "questions": len(r["ms"]),
            "total_ms_mean": round(statistics.mean(r["ms"]), 1),
            "total_ms_median": round(statistics.median(r["ms"]), 1),
            "containment": round(sum(r["right"]) / len(r["right"]), 3),
            "time_vs_free": round(statistics.mean(r["ms"]) / free_ms, 2),
        }
        for name, r in results.items()
    }
    if generator.score_ms:
        summary["scoring"] = {
            "calls": len(generator.score_ms),
            "replies_mean": round(statistics.mean(generator.replies), 1),
            "ms_median": round(statistics.median(generator.score_ms), 1),
            "ms_per_reply_median": round(
                statistics.median(t / k for t, k in zip(generator.score_ms, generator.replies, strict=True)), 1
            ),
        }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for name, row in summary.items():
            print(f"{name:>10}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
