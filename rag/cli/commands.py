"""The `rag` subcommands: each turns parsed flags into calls of the rag API and prints the result."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from rag.answer.record import answer_record
from rag.answer.summary_settings import MAX_SENTENCES_ASKED
from rag.cli.codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL
from rag.cli.render import print_passages, print_sources, print_stream
from rag.errors import QuestionError, RagError
from rag.setup.config import Settings


def progress_printer(err: TextIO):  # noqa: ANN202
    interactive = err.isatty()

    def report(done: int, total: int, current: str) -> None:
        if interactive:
            print(f"\r\033[K[{done}/{total}] {current}", end="" if done < total else "\n", file=err, flush=True)

    return report


def cmd_ingest(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.ingest.progress import ProgressBar
    from rag.setup.wiring import run_ingest

    settings = settings.replace(index=args.index, store=args.store)
    paths = args.paths or [settings.corpus]
    bar = ProgressBar(err)
    try:
        report = run_ingest(settings, paths, rebuild=args.rebuild, prune=args.prune, progress=bar)
    finally:
        bar.clear()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False), file=out)
    else:
        print(
            f"{settings.index}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, {len(report.failed)} failed; "
            f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f}s "
            f"({report.files_per_second:.1f} files/s, {report.chunks_per_second:.1f} chunks/s); "
            f"{report.total_chunks} chunks in the index",
            file=out,
        )
        for source, reason in report.failed:
            print(f"  failed: {source}: {reason}", file=out)
        if report.resumed:
            print(f"  resumed: {len(report.resumed)} files embedded by an interrupted run were reused", file=out)
    if report.interrupted:
        command = " ".join(["rag", *(argv_of_ingest(args))])
        print(
            f"rag: interrupted; the index holds the files finished so far. Run `{command}` again to resume",
            file=err,
        )
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if report.failed else EXIT_OK


def argv_of_ingest(args: argparse.Namespace) -> list[str]:
    """The ingest command line that resumes this one (the same paths and options)."""
    argv = ["ingest", *(str(p) for p in args.paths)]
    if args.index is not None:
        argv += ["--index", str(args.index)]
    if args.store is not None:
        argv += ["--store", args.store]
    argv += [flag for flag, on in (("--rebuild", args.rebuild), ("--prune", args.prune)) if on]
    return argv


def cmd_remove(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.ingest.pipeline import remove, source_matches

    settings = settings.replace(index=args.index)
    removed = remove(args.sources, index=settings.index)
    missing = 0
    for wanted in args.sources:
        mine = [s for s in removed if s == wanted or source_matches(wanted, s)]
        for source in mine:
            print(f"removed: {source}", file=out)
        if not mine:
            missing += 1
            print(f"not in index: {wanted}", file=out)
    return EXIT_PARTIAL if missing else EXIT_OK


def cmd_ask(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.index.faiss.store import IndexStore
    from rag.index.files import require_index
    from rag.setup.wiring import build_assistant, build_embedder, run_ingest

    if (args.question is None) == (args.batch is None):
        raise QuestionError("give either a QUESTION or --batch FILE.jsonl")
    if args.k is not None and not 1 <= args.k <= 100:
        raise QuestionError(f"--k {args.k} is out of range: use 1..100")
    settings = settings.replace(index=args.index, k=args.k, max_tokens=args.max_tokens)
    questions = read_batch(args.batch) if args.batch else None
    if questions is None:
        # Check the question before loading any model, so a bad one fails fast.
        from rag.answer.question import check_question

        check_question(args.question, max_chars=settings.max_question_chars)
    if args.index is not None or not settings.corpus.is_dir():
        require_index(settings.index)  # only the default index is built on demand, from the corpus
    embedder = build_embedder(settings)
    if not IndexStore.exists(settings.index):
        from rag.ingest.progress import ProgressBar

        print(f"rag: no index yet, building {settings.index} from {settings.corpus}/ ...", file=err)
        run_ingest(settings, [settings.corpus], embedder=embedder, progress=ProgressBar(err))
    assistant = build_assistant(settings, embedder=embedder, with_generator=not args.retrieve_only)
    if questions is None:
        if args.json:
            answer = assistant.ask(args.question, retrieve_only=args.retrieve_only)
            print(json.dumps(answer_record(answer), ensure_ascii=False), file=out)
            return EXIT_OK
        return stream_answer(assistant, args.question, args.retrieve_only, out, err)
    failed = 0
    for record_id, question in questions:
        try:
            answer = assistant.ask(question, retrieve_only=args.retrieve_only)
            record = answer_record(answer, record_id)
        except QuestionError as e:
            failed += 1
            record = {"id": record_id, "question": question, "error": str(e)}
        print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
    return EXIT_PARTIAL if failed else EXIT_OK


def stream_answer(assistant: Any, question: str, retrieve_only: bool, out: TextIO, err: TextIO) -> int:
    answer = print_stream(assistant.stream(question, retrieve_only=retrieve_only), out)
    if retrieve_only:
        print_passages(((h.rank, h.chunk) for h in answer.retrieved), out, scores=[h.score for h in answer.retrieved])
        return EXIT_OK
    print_sources(answer, out, err)
    return EXIT_OK


def read_batch(path: Path) -> list[tuple[str, str]]:
    from rag.text.loaders import read_jsonl

    if not path.is_file():
        raise QuestionError(f"batch file {path} does not exist")

    def parse(data: dict[str, Any], line_no: int) -> tuple[str, str]:
        return str(data.get("id", line_no)), str(data["question"])

    return list(read_jsonl(path, parse, error=QuestionError, problem="is not a JSON object with a 'question' field"))


def cmd_summarize(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.answer.question import collect
    from rag.index.base import find_document
    from rag.index.files import require_index
    from rag.setup.wiring import build_assistant, open_index

    if args.doc is None and not args.topic:
        raise QuestionError("give a DOC to summarise (source path, file name or title) or --topic TEXT")
    if args.sentences is not None and not 1 <= args.sentences <= MAX_SENTENCES_ASKED:
        raise QuestionError(f"--sentences {args.sentences} is out of range: use 1..{MAX_SENTENCES_ASKED}")
    settings = settings.replace(index=args.index, max_tokens=args.max_tokens)
    require_index(settings.index)
    store = open_index(settings)
    assistant = build_assistant(settings, store=store)
    if args.doc is not None:
        source = find_document(store.documents, args.doc)
        chunks = store.chunks_of(source)
        topic = args.topic or store.documents[source].title
    else:
        if not 1 <= args.k <= 100:
            raise QuestionError(f"--k {args.k} is out of range: use 1..100")
        topic = args.topic
        chunks = assistant.topic_passages(topic, k=args.k)
    on_topic = args.doc is None or bool(args.topic)  # DOC --topic X: the document's facts on X
    events = assistant.summarize(
        chunks, topic=topic, max_tokens=args.max_tokens, on_topic=on_topic, sentences=args.sentences
    )
    if args.json:
        print(json.dumps(answer_record(collect(events)), ensure_ascii=False), file=out)
        return EXIT_OK
    print_sources(print_stream(events, out), out, err)
    return EXIT_OK


def cmd_ui(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    try:
        from rag.ui.app import launch, login
    except ImportError as e:
        raise RagError(f"the browser chat needs gradio: run `pip install -e .` ({e})") from e
    settings = settings.replace(index=args.index)
    auth = login(settings, args.host, no_auth=args.no_auth)  # before the models load: refuse at once
    print(f"rag: loading models; the chat will be at http://{args.host}:{args.port}", file=err, flush=True)
    from rag.ingest.progress import ProgressBar

    launch(settings, host=args.host, port=args.port, progress=ProgressBar(err, every=5.0), auth=auth)
    return EXIT_OK


def cmd_copy_index(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.index.transfer import copy_index
    from rag.setup.wiring import store_options

    kind = args.store or settings.store
    report = progress_printer(err)
    n = copy_index(
        args.source, args.target, kind=kind, options=store_options(settings), progress=lambda i, t: report(i, t, "")
    )
    print(f"{args.target}: {n} chunks copied from {args.source} into the {kind} store", file=out)
    return EXIT_OK


def cmd_models(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.setup import models

    if args.action == "install":
        emb = models.ensure_embedder(settings.cache_dir, force=args.force)
        print(f"embedder: {emb}", file=out)
        llm = models.ensure_llm(settings.cache_dir, force=args.force)
        print(f"llm: {llm} (sha256 verified)", file=out)
        return EXIT_OK
    if args.action == "verify":
        folder = models.embedder_dir(settings.cache_dir)
        problems = models.verify_embedder(folder)
        verdict = "OK (every file's sha256 as built, from the packages' files)" if not problems else "; ".join(problems)
        print(f"embedder: {folder} {verdict}", file=out)
        path = models.llm_path(settings.cache_dir)
        if not path.is_file():
            print(f"llm: {path} is not assembled: run `rag models install`", file=out)
            return EXIT_ERROR
        digest = models.verify_file(path)
        ok = digest == models.LLM_SHA256
        print(f"llm: {path} sha256 {digest} {'OK' if ok else 'MISMATCH: run `rag models install --force`'}", file=out)
        return EXIT_OK if ok and not problems else EXIT_ERROR
    for item in models.status(settings.cache_dir):
        print(f"{item.name}: {item.detail} ({item.path})", file=out)
    from rag.answer.llama_cpu import current_path

    print(f"llama.cpp CPU path: {current_path(settings.llm_extra_buffers).describe()}", file=out)
    return EXIT_OK
