#!/usr/bin/env python
"""Time to first token: whole passages vs the selected sentences, on the same questions, alternating.

For each question both answer prompts are built from the same retrieved passages (k = settings.k)
and the model is asked for one token, the two variants in alternating order so that load from
other processes falls on both alike. Prints prompt tokens and time to first token per variant.

    python benchmarks/bench_prompt_size.py QUESTIONS.jsonl --index DIR [--limit 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.checks.analysis import analyze, excerpt
from rag.eval.questions import load_questions
from rag.setup import wiring
from rag.setup.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    assistant = wiring.build_assistant(settings)
    builder, generator = assistant._builder, assistant._generator  # noqa: SLF001 - a benchmark of the internals
    results: dict[str, dict[str, list[float]]] = {
        "whole passages": {"tokens": [], "ttft_ms": []},
        "selected sentences": {"tokens": [], "ttft_ms": []},
    }
    for n, question in enumerate(load_questions(args.questions, limit=args.limit)):
        hits = assistant.retriever.search(question.question, settings.k)
        texts = [excerpt(g) for g in analyze(question.question, hits).select(max_chars=settings.prompt_chars)]
        prompts = {
            "whole passages": builder.build(question.question, hits, generator.count_prompt_tokens),
            "selected sentences": builder.build(
                question.question,
                hits,
                generator.count_prompt_tokens,
                texts=texts,
                max_tokens=settings.answer_prompt_tokens,
            ),
        }
        order = list(prompts) if n % 2 == 0 else list(reversed(prompts))
        for name in order:
            started = time.perf_counter()
            for _ in generator.stream(prompts[name].messages, max_tokens=1):
                break
            results[name]["ttft_ms"].append((time.perf_counter() - started) * 1000)
            results[name]["tokens"].append(prompts[name].prompt_tokens)
    summary = {
        name: {
            "questions": len(r["tokens"]),
            "prompt_tokens_mean": round(statistics.mean(r["tokens"]), 1),
            "first_token_ms_median": round(statistics.median(r["ttft_ms"]), 1),
        }
        for name, r in results.items()
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for name, row in summary.items():
            print(f"{name:>20}: {row}")


if __name__ == "__main__":
    main()
