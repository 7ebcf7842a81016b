#!/usr/bin/env python
"""Reading every passage (issue 15.4): one joint prompt vs one prompt per passage, same questions, alternating.

For each question the assistant answers twice with the real models, `reading = joint` and
`reading = each` (and `fallback` with --fallback), in alternating order so that load from other
processes falls on all alike; nothing is recorded or replayed. Prints per variant the median time
to the final answer, prompt and completion tokens per question, and the ratios to joint.

    python benchmarks/bench_reading.py QUESTIONS.jsonl --index DIR [--limit 10] [--fallback] [--json]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--fallback", action="store_true", help="also time reading = fallback")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    base = wiring.build_assistant(settings)
    readings = ["joint", "each", *(["fallback"] if args.fallback else [])]
    # one model shared by the variants, as one server shares it
    assistants = {name: base.variant(reading=name) for name in readings}
    results: dict[str, dict[str, list[float]]] = {
        n: {"ms": [], "prompt": [], "completion": [], "right": []} for n in readings
    }
    for n, question in enumerate(load_questions(args.questions, limit=args.limit)):
        for name in readings if n % 2 == 0 else list(reversed(readings)):
            answer = assistants[name].ask(question.question)
            results[name]["ms"].append(answer.timings.total_ms)
            results[name]["prompt"].append(answer.usage.prompt_tokens)
            results[name]["completion"].append(answer.usage.completion_tokens)
            results[name]["right"].append(float(contains_answer(answer.text, question.answers)))
    joint = {k: statistics.median(v) for k, v in results["joint"].items() if k != "right"}
    summary = {
        name: {
            "questions": len(r["ms"]),
            "total_ms_median": round(statistics.median(r["ms"]), 1),
            "prompt_tokens_median": statistics.median(r["prompt"]),
            "completion_tokens_median": statistics.median(r["completion"]),
            "containment": round(sum(r["right"]) / len(r["right"]), 3),
            "time_vs_joint": round(statistics.median(r["ms"]) / joint["ms"], 2),
            "prompt_tokens_vs_joint": round(statistics.median(r["prompt"]) / joint["prompt"], 2),
        }
        for name, r in results.items()
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for name, row in summary.items():
            print(f"{name:>9}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
