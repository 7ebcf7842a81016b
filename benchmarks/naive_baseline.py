"""The naive baseline alone: BM25 top-4 passages, one plain Vietnamese prompt, the same model, no checks.

`rag eval` already answers every question this way too and reports it beside the assistant
(`baseline_*` in its summary); this script runs only the baseline, e.g. on a new questions file:

    python benchmarks/naive_baseline.py QUESTIONS.jsonl --index INDEX [--limit N] [--out rows.jsonl]

Prints containment, token F1, exact match and citation precision (rag.eval.metrics).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.eval.baseline import NaiveBaseline
from rag.eval.metrics import contains_answer, exact_match, token_f1
from rag.eval.questions import load_questions
from rag.index.faiss.store import IndexStore
from rag.retrieval.retriever import HybridRetriever, RetrievalSettings
from rag.setup import wiring
from rag.setup.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    embedder = wiring.build_embedder(settings)
    lexical = HybridRetriever(IndexStore.load(args.index), embedder, RetrievalSettings(mode="lexical"))
    baseline = NaiveBaseline(lexical.search, wiring.build_generator(settings), max_tokens=settings.max_tokens)
    rows = []
    for question in load_questions(args.questions, limit=args.limit):
        answer = baseline.ask(question.question)
        cited = [c.chunk for c in answer.citations]
        rows.append(
            {
                "id": question.id,
                "answer": answer.text,
                "contains_answer": contains_answer(answer.text, question.answers),
                "token_f1": round(token_f1(answer.text, question.answers), 4),
                "exact_match": exact_match(answer.text, question.answers),
                "citations": len(cited),
                "cited_with_answer": sum(contains_answer(c.text, question.answers) for c in cited),
            }
        )
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    n, cites = len(rows), sum(r["citations"] for r in rows)
    print(
        json.dumps(
            {
                "questions": n,
                "containment": round(sum(r["contains_answer"] for r in rows) / n, 4),
                "token_f1": round(sum(r["token_f1"] for r in rows) / n, 4),
                "exact_match": round(sum(r["exact_match"] for r in rows) / n, 4),
                "citation_precision": round(sum(r["cited_with_answer"] for r in rows) / cites, 4) if cites else None,
            }
        )
    )


if __name__ == "__main__":
    main()
