"""`rag eval`: retrieval, answer and check measurements over a questions file."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from rag.cli.codes import EXIT_OK
from rag.cli.commands import progress_printer
from rag.errors import QuestionError
from rag.setup.config import Settings


def cmd_eval(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    import time

    from rag.eval.baseline import NaiveBaseline
    from rag.eval.metrics import Report, WithoutAnswerSentence, WithoutOwnDocument, checks_table, load_questions
    from rag.eval.replay import RecordedGenerator
    from rag.index.files import require_index
    from rag.retrieval.retriever import HybridRetriever, RetrievalSettings
    from rag.setup.wiring import build_assistant, build_embedder, build_generator, open_index

    settings = settings.replace(index=args.index, retrieval=args.mode)
    if not 1 <= args.k <= 100:
        raise QuestionError(f"--k {args.k} is out of range: use 1..100")
    if args.out is not None and not args.out.parent.is_dir():
        raise QuestionError(f"--out {args.out}: folder {args.out.parent} does not exist")
    require_index(settings.index)
    questions = load_questions(args.questions, limit=args.limit, strip_diacritics=args.strip_diacritics)
    if args.unanswerable and args.delete_answer_sentence:
        raise QuestionError("--unanswerable and --delete-answer-sentence are two sets: choose one")
    hide: WithoutOwnDocument | WithoutAnswerSentence | None = None
    unanswerable = args.unanswerable or args.delete_answer_sentence

    def wrap(retriever: Any) -> Any:
        nonlocal hide
        hide = WithoutOwnDocument(retriever) if args.unanswerable else WithoutAnswerSentence(retriever)
        return hide

    generator = None
    if not args.retrieve_only:
        generator = build_generator(settings)
        if args.replies is not None:
            generator = RecordedGenerator(generator, args.replies)
    embedder = build_embedder(settings)
    assistant = build_assistant(
        settings,
        embedder=embedder,
        generator=generator,
        with_generator=not args.retrieve_only,
        wrap_retriever=wrap if unanswerable else None,
    )
    baseline, lexical_hide = None, None
    if generator is not None and not args.no_baseline:
        lexical = HybridRetriever(open_index(settings), embedder, RetrievalSettings(mode="lexical"))
        lexical_hide = WithoutOwnDocument(lexical) if args.unanswerable else WithoutAnswerSentence(lexical)
        baseline = NaiveBaseline(lexical_hide.search, generator, max_tokens=settings.max_tokens)
    report = Report(k=args.k, unanswerable=unanswerable, prompt_k=settings.k)
    rows_path = args.out or settings.index / f"eval-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    progress = progress_printer(err)
    with rows_path.open("w", encoding="utf-8") as rows:
        for n, question in enumerate(questions, start=1):
            if hide is not None:
                hide.question = question
            if lexical_hide is not None and unanswerable:
                lexical_hide.question = question
            answer = assistant.ask(
                question.question,
                k=args.k,
                prompt_k=settings.k,
                retrieve_only=args.retrieve_only,
                unchecked=generator is not None,
            )
            naive = baseline.ask(question.question) if baseline is not None else None
            row = report.add(question, answer, generated=not args.retrieve_only, baseline=naive)
            rows.write(json.dumps(row, ensure_ascii=False) + "\n")
            progress(n, len(questions), question.id)
    summary = report.summary() | {
        "index": str(settings.index),
        "mode": settings.retrieval,
        "strip_diacritics": args.strip_diacritics,
        "unanswerable": args.unanswerable,
        "delete_answer_sentence": args.delete_answer_sentence,
        "per_question": str(rows_path),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), file=out)
    else:
        for key, value in summary.items():
            if key != "checks":
                print(f"{key:>24}: {value}", file=out)
        if "checks" in summary:
            print(checks_table(summary), file=out)
    return EXIT_OK
