#!/usr/bin/env python
"""Fit rag/data/answerability.json: when are the retrieved passages able to answer at all?

Every question is asked twice (and twice more without diacritics): against the full index
(answerable) and with its own article dropped from the candidates before fusion, which is what
an index lacking it returns (unanswerable). A logistic model over the retrieval signals of
rag.checks.answerability is cross-validated with folds split by article (a question never shares an
article with the questions it is scored by), the threshold is set where the out-of-fold false
refusals on answerable questions reach --false-refusals (counting the evidence rule of
rag.checks.grounding too), and the model is refitted on everything.

    python benchmarks/fit_answerability.py QUESTIONS.jsonl --index DIR [--out rag/data/answerability.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from rag.checks.analysis import analyze
from rag.checks.answerability import DEFAULT_MODEL, FEATURES, AnswerabilityModel, features, fit
from rag.eval.metrics import contains_answer
from rag.eval.questions import load_questions
from rag.eval.unanswerable import is_own_document
from rag.setup import wiring
from rag.setup.config import load_settings
from rag.text.vietnamese import fold_diacritics


def collect(args: argparse.Namespace) -> tuple[list[dict], dict]:
    settings = load_settings().replace(index=args.index)
    wiring.apply_runtime_policy(settings)
    assistant = wiring.build_assistant(settings, with_generator=False)
    retriever = assistant.retriever
    rows = []
    for question in load_questions(args.questions, limit=args.limit):
        for folded in (False, True):
            text = fold_diacritics(question.question) if folded else question.question
            for hidden in (False, True):
                exclude = (lambda c, q=question: is_own_document(c, q)) if hidden else None
                hits = retriever.search(text, settings.k, exclude=exclude)
                x = features(analyze(text, hits))
                if x is None:
                    raise SystemExit(f"{settings.index}: hits carry no signals; use retrieval=hybrid, fusion=zscore")
                rows.append(
                    {
                        "doc": question.doc_id or question.id,
                        "folded": folded,
                        "answerable": not hidden,
                        "gold_in_passages": not hidden
                        and any(contains_answer(h.chunk.text, question.answers) for h in hits),
                        "x": x,
                        "low_evidence": x[FEATURES.index("evidence")] < settings.evidence_threshold,
                    }
                )
    store = retriever.store
    return rows, {
        "k": settings.k,
        "evidence_threshold": settings.evidence_threshold,
        "chunks": len(store),
        "embedder": store.model_id,
        "retrieval": wiring.answerability_retrieval(settings),
    }


def refusals(rows: list[dict], p: list[float], threshold: float) -> dict[str, float]:
    refused = [pi < threshold or r["low_evidence"] for r, pi in zip(rows, p, strict=True)]

    def share(select) -> float:  # noqa: ANN001 - predicate over rows
        chosen = [f for r, f in zip(rows, refused, strict=True) if select(r)]
        return round(sum(chosen) / len(chosen), 4) if chosen else float("nan")

    return {
        "refusal_unanswerable": share(lambda r: not r["answerable"]),
        "false_refusal": share(lambda r: r["answerable"]),
        "false_refusal_gold_in_passages": share(lambda r: r["gold_in_passages"]),
        "refusal_unanswerable_accented": share(lambda r: not r["answerable"] and not r["folded"]),
        "false_refusal_accented": share(lambda r: r["answerable"] and not r["folded"]),
        "refusal_unanswerable_unaccented": share(lambda r: not r["answerable"] and r["folded"]),
        "false_refusal_unaccented": share(lambda r: r["answerable"] and r["folded"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--false-refusals", type=float, default=0.10)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    started = time.perf_counter()
    rows, setup = collect(args)
    docs = sorted({r["doc"] for r in rows})
    random.Random(0).shuffle(docs)
    fold_of = {d: i % args.folds for i, d in enumerate(docs)}
    out_of_fold = [0.0] * len(rows)
    for fold in range(args.folds):
        train = [r for r in rows if fold_of[r["doc"]] != fold]
        weights, bias, mean, scale = fit([r["x"] for r in train], [r["answerable"] for r in train])
        model = AnswerabilityModel(weights, bias, mean, scale, 0.5, {})
        for i, r in enumerate(rows):
            if fold_of[r["doc"]] == fold:
                out_of_fold[i] = model.probability(r["x"])
    # the highest threshold whose out-of-fold false refusals stay within the target
    candidates = sorted({round(p, 4) for p in out_of_fold})
    threshold = 0.0
    for t in candidates:
        if refusals(rows, out_of_fold, t)["false_refusal"] <= args.false_refusals:
            threshold = t
    cv = refusals(rows, out_of_fold, threshold)
    weights, bias, mean, scale = fit([r["x"] for r in rows], [r["answerable"] for r in rows])
    info = {
        "fitted_on": f"{args.questions.name} ({len(rows) // 4} questions x accented/unaccented x with/without article)",
        "index_chunks": setup["chunks"],
        "k": setup["k"],
        "evidence_threshold": setup["evidence_threshold"],
        "folds": args.folds,
        "target_false_refusal": args.false_refusals,
        "cross_validated": cv,
        "command": f"python benchmarks/fit_answerability.py {args.questions} --index {args.index}",
    }
    model = AnswerabilityModel(
        weights, bias, mean, scale, threshold, info, embedder=setup["embedder"], retrieval=setup["retrieval"]
    )
    args.out.write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"features": FEATURES, "threshold": threshold, **cv}, ensure_ascii=False))
    print(f"{len(rows)} searches in {time.perf_counter() - started:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
