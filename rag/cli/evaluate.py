"""`rag eval`: retrieval, answer and check measurements over a questions file."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rag.cli.codes import EXIT_OK
from rag.cli.commands import progress_printer
from rag.errors import QuestionError
from rag.setup.config import Settings


@dataclass
class EvalPipelines:
    """What `rag eval` asks each question: the assistant, the naive baseline, and the retrievers that hide answers."""

    assistant: Any
    baseline: Any  # rag.eval.baseline.NaiveBaseline, or None (--retrieve-only, --no-baseline)
    hides: list[Any]  # WithoutOwnDocument / WithoutAnswerSentence retrievers, told each question before it is asked
    retrieve_only: bool

    def ask(self, question: Any, *, k: int, prompt_k: int) -> tuple[Any, Any]:
        """(the assistant's answer, the baseline's answer or None) to one question."""
        for hide in self.hides:
            hide.question = question
        answer = self.assistant.ask(
            question.question,
            k=k,
            prompt_k=prompt_k,
            retrieve_only=self.retrieve_only,
            unchecked=not self.retrieve_only,
        )
        naive = self.baseline.ask(question.question) if self.baseline is not None else None
        return answer, naive


def checked_questions(args: argparse.Namespace, settings: Settings) -> list[Any]:
    """The questions to ask, after the options and the index are checked (QuestionError naming the fix)."""
    from rag.eval.questions import load_questions
    from rag.index.files import require_index

    if not 1 <= args.k <= 100:
        raise QuestionError(f"--k {args.k} is out of range: use 1..100")
    if args.out is not None and not args.out.parent.is_dir():
        raise QuestionError(f"--out {args.out}: folder {args.out.parent} does not exist")
    require_index(settings.index)
    questions = load_questions(args.questions, limit=args.limit, strip_diacritics=args.strip_diacritics)
    if args.unanswerable and args.delete_answer_sentence:
        raise QuestionError("--unanswerable and --delete-answer-sentence are two sets: choose one")
    return questions


def build_pipelines(args: argparse.Namespace, settings: Settings) -> EvalPipelines:
    """The assistant (with a recorded generator under --replies) and the lexical baseline, both hiding answers
    under --unanswerable / --delete-answer-sentence."""
    from rag.eval.baseline import NaiveBaseline
    from rag.eval.replay import RecordedGenerator
    from rag.eval.unanswerable import WithoutAnswerSentence, WithoutOwnDocument
    from rag.retrieval.retriever import HybridRetriever, RetrievalSettings
    from rag.setup.wiring import build_assistant, build_embedder, build_generator, open_index

    unanswerable = args.unanswerable or args.delete_answer_sentence
    hiding = WithoutOwnDocument if args.unanswerable else WithoutAnswerSentence
    hides: list[Any] = []

    def wrap(retriever: Any) -> Any:
        hides.append(hiding(retriever))
        return hides[-1]

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
    baseline = None
    if generator is not None and not args.no_baseline:
        lexical = HybridRetriever(open_index(settings), embedder, RetrievalSettings(mode="lexical"))
        search = wrap(lexical).search if unanswerable else lexical.search
        baseline = NaiveBaseline(search, generator, max_tokens=settings.max_tokens)
    return EvalPipelines(assistant, baseline, hides, retrieve_only=args.retrieve_only)


def print_summary(summary: dict[str, Any], out: TextIO, *, as_json: bool) -> None:
    """One JSON line, or one `key: value` line each and the checks' confusion table."""
    from rag.eval.check_classes import checks_table

    if as_json:
        print(json.dumps(summary, ensure_ascii=False), file=out)
        return
    for key, value in summary.items():
        if key != "checks":
            print(f"{key:>24}: {value}", file=out)
    if "checks" in summary:
        print(checks_table(summary), file=out)


def cmd_eval(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.eval.metrics import Report

    settings = settings.replace(index=args.index, retrieval=args.mode)
    questions = checked_questions(args, settings)
    pipelines = build_pipelines(args, settings)
    report = Report(k=args.k, unanswerable=args.unanswerable or args.delete_answer_sentence, prompt_k=settings.k)
    rows_path: Path = args.out or settings.index / f"eval-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    progress = progress_printer(err)
    with rows_path.open("w", encoding="utf-8") as rows:
        for n, question in enumerate(questions, start=1):
            answer, naive = pipelines.ask(question, k=args.k, prompt_k=settings.k)
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
    print_summary(summary, out, as_json=args.json)
    return EXIT_OK
