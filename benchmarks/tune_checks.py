"""Fit the check settings on the tuning half by replaying recorded model replies (issue 15.6).

The checks change no prompt, so `rag eval --replies FILE` recordings answer every setting
tried here without the model: retrieval runs once per question, then each configuration
re-checks the same replies. Prints one JSON line per configuration (containment, the checks'
classes, refusals, short-answer F1...), for the tuning half only; the chosen values become
Settings defaults and README reports the other half with `rag eval`.

    python benchmarks/tune_checks.py tune.jsonl --index INDEX --replies replies.jsonl --limit 80 \
        [--unanswerable | --delete-answer-sentence] [--strip-diacritics] --grid key_threshold=0,0.3 reading=joint,each
    (a grid name that is an AnswerSettings field, e.g. reading or likelihood_weight, sets the answer settings)
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from rag.answer.settings import AnswerSettings
from rag.eval.metrics import Report
from rag.eval.questions import load_questions
from rag.eval.replay import RecordedGenerator
from rag.eval.unanswerable import WithoutAnswerSentence, WithoutOwnDocument
from rag.setup import wiring
from rag.setup.config import load_settings

KEYS = (
    "questions",
    "model_containment",
    "answer_containment",
    "checks_lost_right",
    "refusal_rate",
    "hedged_share",
    "extractive_share",
    "unchecked_share",
    "short_answer_token_f1",
    "short_answer_exact_match",
    "token_f1",
    "citation_precision",
    "prompt_tokens_mean",
    "total_ms_median",
    "vietnamese_share",
    "checks",
)


class Memo:
    """The wrapped retriever's hits, once per (question, query, k)."""

    def __init__(self, retriever: Any) -> None:
        self._retriever, self._hits, self.question = retriever, {}, None

    def search(self, query: str, k: int) -> list:
        key = (getattr(self.question, "id", None), query, k)
        if key not in self._hits:
            self._hits[key] = self._retriever.search(query, k)
        return self._hits[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--replies", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--unanswerable", action="store_true")
    parser.add_argument("--delete-answer-sentence", action="store_true")
    parser.add_argument("--strip-diacritics", action="store_true")
    parser.add_argument("--grid", nargs="*", default=[], help="NAME=v1,v2 over GroundingSettings fields")
    parser.add_argument("--out", type=Path, help="per-question rows of the last configuration")
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    generator = RecordedGenerator(wiring.build_generator(settings), args.replies)
    hidden: list[Any] = []

    def wrap(retriever: Any) -> Any:
        if args.unanswerable:
            retriever = WithoutOwnDocument(retriever)
        elif args.delete_answer_sentence:
            retriever = WithoutAnswerSentence(retriever)
        hidden.append(retriever)
        memo = Memo(retriever)
        hidden.append(memo)
        return memo

    base = wiring.build_assistant(settings, generator=generator, wrap_retriever=wrap)
    questions = load_questions(args.questions, limit=args.limit, strip_diacritics=args.strip_diacritics)
    grid = [
        (name, [_value(v) for v in values.split(",")]) for name, values in (item.split("=", 1) for item in args.grid)
    ]
    for combo in itertools.product(*(values for _, values in grid)):
        changes = {name: value for (name, _), value in zip(grid, combo, strict=True)}
        reading = {n: v for n, v in changes.items() if n in _ANSWER_FIELDS}
        checks = {n: v for n, v in changes.items() if n not in _ANSWER_FIELDS}
        grounding = replace(base._grounding, **checks)  # noqa: SLF001 - a benchmark re-wires the one assistant
        assistant = base.variant(grounding=grounding, **reading)
        report = Report(k=args.k, unanswerable=args.unanswerable or args.delete_answer_sentence, prompt_k=settings.k)
        for question in questions:
            for h in hidden:
                h.question = question
            report.add(question, assistant.ask(question.question, k=args.k, prompt_k=settings.k, unchecked=True))
        summary = report.summary()
        out = {"settings": changes, "generated": generator.generated} | {k: summary.get(k) for k in KEYS}
        out["refusals_by_reason"] = summary.get("refusals_by_reason")
        print(json.dumps(out, ensure_ascii=False), flush=True)
        if args.out:
            args.out.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in report.rows), encoding="utf-8"
            )


def _value(value: str) -> Any:
    words = {"none": None, "true": True, "false": False}
    if value in words:
        return words[value]
    try:
        return float(value)
    except ValueError:
        return value  # a word setting: reading=joint,each


_ANSWER_FIELDS = {f.name for f in fields(AnswerSettings)}  # reading=..., likelihood_weight=...: answer settings


if __name__ == "__main__":
    main()
