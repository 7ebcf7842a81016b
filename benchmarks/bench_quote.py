#!/usr/bin/env python
"""Quote, then answer (quote_first) against the plain phrase reply: same questions, alternating, live.

For each question the assistant answers once per variant with the real models, in alternating order
so that load from other processes and the KV cache fall on both alike; nothing is recorded or
replayed. Prints per variant the median time to the first token shown (quote_first generates its quote
unseen first), the median time to the final answer, completion tokens, containment, and the ratios to
the phrase reply.

    python benchmarks/bench_quote.py QUESTIONS.jsonl --index DIR [--limit 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from rag.eval.metrics import contains_answer
from rag.eval.questions import load_questions
from rag.setup import wiring
from rag.setup.config import load_settings

VARIANTS = {"phrase": False, "quote_first": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    base = wiring.build_assistant(settings)
    assistants = {name: base.variant(quote_first=quoted) for name, quoted in VARIANTS.items()}  # one model
    keys = ("first", "total", "tokens", "right")
    rows: dict[str, dict[str, list[float]]] = {n: {k: [] for k in keys} for n in VARIANTS}
    for n, question in enumerate(load_questions(args.questions, limit=args.limit)):
        for name in VARIANTS if n % 2 == 0 else list(reversed(VARIANTS)):
            answer = assistants[name].ask(question.question)
            if answer.timings.first_token_ms is None or not answer.usage.completion_tokens:
                continue  # refused before the model was asked: no generation to time
            rows[name]["first"].append(answer.timings.first_token_ms)
            rows[name]["total"].append(answer.timings.total_ms)
            rows[name]["tokens"].append(answer.usage.completion_tokens)
            rows[name]["right"].append(float(contains_answer(answer.text, question.answers)))
    plain = rows["phrase"]
    summary = {
        name: {
            "answers_timed": len(r["total"]),
            "first_shown_ms_median": round(statistics.median(r["first"]), 1),
            "total_ms_median": round(statistics.median(r["total"]), 1),
            "completion_tokens_mean": round(statistics.mean(r["tokens"]), 1),
            "containment": round(statistics.mean(r["right"]), 3),
            "first_shown_vs_phrase": round(statistics.median(r["first"]) / statistics.median(plain["first"]), 2),
            "total_vs_phrase": round(statistics.median(r["total"]) / statistics.median(plain["total"]), 2),
        }
        for name, r in rows.items()
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for name, row in summary.items():
            print(f"{name:>12}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
