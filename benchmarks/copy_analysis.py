"""How many of the model's wrong answers are a span of its prompt's passages (issue 15.4, constrained copying).

Copying the answer from the passages can only fix a wrong answer that is *not* a passage span
(a paraphrase or an invented phrase); a wrong span stays wrong. This replays the model's recorded
replies (``--replies``: no generation for prompts seen before) and, per question, classifies the
model's own answer (checks off) as right / wrong span / wrong not a span / refusal, and counts the
passages each prompt shows.

    PYTHONPATH=. python benchmarks/copy_analysis.py SPLIT/tune.jsonl --index INDEX --replies R.jsonl --limit 80
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rag.answer.copying import is_span, prompt_passages
from rag.checks.grounding import is_refusal
from rag.eval.metrics import contains_answer
from rag.eval.questions import load_questions
from rag.eval.replay import RecordedGenerator
from rag.setup.config import load_settings
from rag.setup.wiring import build_assistant, build_generator


class _Seen:
    """Wraps a generator and keeps the messages of the last call."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self._inner, self.last = inner, None

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    def stream(self, messages, **kw):  # noqa: ANN001, ANN003, ANN201
        self.last = list(messages)
        return self._inner.stream(messages, **kw)


def classify(model_answer: str, answers, passages: list[str]) -> str:  # noqa: ANN001
    if contains_answer(model_answer, answers):
        return "right"
    if not model_answer.strip() or is_refusal(model_answer):
        return "refusal"
    return "wrong_span" if is_span(model_answer, passages) else "wrong_not_span"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("questions", type=Path)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--replies", type=Path, required=True)
    p.add_argument("--limit", type=int, default=80)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    settings = load_settings().replace(index=args.index)
    seen = _Seen(RecordedGenerator(build_generator(settings), args.replies))
    assistant = build_assistant(settings, generator=seen)
    rows = []
    for q in load_questions(args.questions, limit=args.limit):
        seen.last = None
        answer = assistant.ask(q.question, unchecked=True)
        passages = prompt_passages(seen.last[-1].content) if seen.last else []
        model = answer.unchecked or ""
        gold_in = any(contains_answer(p.text, q.answers) for p in passages)
        rows.append(
            {
                "id": q.id,
                "model_answer": model,
                "answers": list(q.answers),
                "passages_shown": len(passages),
                "gold_in_prompt": gold_in,
                "class": classify(model, q.answers, passages),
            }
        )
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    summary = {
        "questions": len(rows),
        "model_answer": dict(Counter(r["class"] for r in rows)),
        "wrong_with_gold_in_prompt": dict(
            Counter(r["class"] for r in rows if r["gold_in_prompt"] and r["class"] != "right")
        ),
        "passages_shown": dict(sorted(Counter(r["passages_shown"] for r in rows).items())),
        "gold_in_prompt": sum(r["gold_in_prompt"] for r in rows),
        "generated": seen._inner.generated,  # noqa: SLF001
    }
    print(json.dumps(summary, ensure_ascii=False), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
