#!/usr/bin/env python
"""Copying the answer span (issue 15.4): copy_span off / fallback / always, same questions, alternating.

For each question the assistant answers once per variant with the real models, in alternating
order so that load from other processes and the KV cache fall on all alike; nothing is recorded
or replayed. Prints per variant the mean and median time to the final answer, prompt and
completion tokens, and the ratios to off; and the copy grammar's size (rules, characters) and the
time to build it in Python.

    python benchmarks/bench_copying.py QUESTIONS.jsonl --index DIR [--limit 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.answer.copying import copy_grammar, prompt_passages
from rag.eval.metrics import contains_answer
from rag.eval.questions import load_questions
from rag.setup import wiring
from rag.setup.config import load_settings

VARIANTS = ("off", "fallback", "always")


class _Grammars:
    """Wraps the generator: notes each grammar's size and the prompt's, and how long building it takes."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self._inner, self.rules, self.chars, self.build_ms = inner, [], [], []

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    def stream(self, messages, *, grammar=None, **kw):  # noqa: ANN001, ANN003, ANN201
        if grammar is not None:
            started = time.perf_counter()
            copy_grammar(prompt_passages(next(m.content for m in messages if m.role == "user")))
            self.build_ms.append((time.perf_counter() - started) * 1000)
            self.rules.append(grammar.count("\n"))
            self.chars.append(len(grammar))
            return self._inner.stream(messages, grammar=grammar, **kw)
        return self._inner.stream(messages, **kw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    base = wiring.build_assistant(settings)
    generator = _Grammars(base._generator)  # noqa: SLF001 - one model shared by the variants
    assistants = {name: base.variant(generator=generator, copy_span=name) for name in VARIANTS}
    results = {n: {"ms": [], "prompt": [], "completion": [], "right": []} for n in VARIANTS}
    for n, question in enumerate(load_questions(args.questions, limit=args.limit)):
        for name in VARIANTS if n % 2 == 0 else list(reversed(VARIANTS)):
            answer = assistants[name].ask(question.question)
            results[name]["ms"].append(answer.timings.total_ms)
            results[name]["prompt"].append(answer.usage.prompt_tokens)
            results[name]["completion"].append(answer.usage.completion_tokens)
            results[name]["right"].append(float(contains_answer(answer.text, question.answers)))
    off_ms, off_prompt = statistics.mean(results["off"]["ms"]), statistics.mean(results["off"]["prompt"])
    summary: dict = {
        name: {
            "questions": len(r["ms"]),
            "total_ms_mean": round(statistics.mean(r["ms"]), 1),
            "total_ms_median": round(statistics.median(r["ms"]), 1),
            "prompt_tokens_mean": round(statistics.mean(r["prompt"]), 1),
            "completion_tokens_mean": round(statistics.mean(r["completion"]), 1),
            "containment": round(sum(r["right"]) / len(r["right"]), 3),
            "time_vs_off": round(statistics.mean(r["ms"]) / off_ms, 2),
            "prompt_tokens_vs_off": round(statistics.mean(r["prompt"]) / off_prompt, 2),
        }
        for name, r in results.items()
    }
    if generator.rules:
        summary["grammar"] = {
            "grammars": len(generator.rules),
            "rules_median": statistics.median(generator.rules),
            "rules_max": max(generator.rules),
            "chars_median": statistics.median(generator.chars),
            "build_ms_median": round(statistics.median(generator.build_ms), 2),
        }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for name, row in summary.items():
            print(f"{name:>9}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
