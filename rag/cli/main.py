"""`rag ingest | ask | remove | models`: argument parsing and printing only."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from rag.answer.cite import chunk_place
from rag.checks.grounding import REFUSAL_REASONS
from rag.errors import QuestionError, RagError
from rag.setup.config import Settings, load_settings
from rag.text.formats.markdown import heading_span
from rag.text.structure import SEPARATOR
from rag.types import Answer

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130


def answer_record(answer: Answer, record_id: str | None = None) -> dict[str, Any]:
    """The stable JSON shape of one answer (see README, 'Machine-readable output')."""
    return {
        "id": record_id,
        "question": answer.question,
        "answer": answer.text,
        "citations": [
            {
                "marker": c.marker,
                "source": c.chunk.source,
                "title": c.chunk.title,
                "chunk_id": c.chunk.chunk_id,
                "text": c.chunk.text,
                "start": c.chunk.start,
                "end": c.chunk.end,
                "page": c.chunk.page,
                "page_end": c.chunk.page_end,
                "location": c.chunk.location,
            }
            for c in answer.citations
        ],
        "invalid_markers": list(answer.invalid_markers),
        "retrieved": [
            {
                "rank": h.rank,
                "source": h.chunk.source,
                "title": h.chunk.title,
                "chunk_id": h.chunk.chunk_id,
                "text": h.chunk.text,
                "start": h.chunk.start,
                "end": h.chunk.end,
                "page": h.chunk.page,
                "page_end": h.chunk.page_end,
                "location": h.chunk.location,
                "score": round(h.score, 6),
            }
            for h in answer.retrieved
        ],
        "timings": {
            "retrieve_ms": round(answer.timings.retrieve_ms, 1),
            "first_token_ms": None
            if answer.timings.first_token_ms is None
            else round(answer.timings.first_token_ms, 1),
            "total_ms": round(answer.timings.total_ms, 1),
        },
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens},
        "outcome": answer.outcome,
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "read_as": answer.read_as,
        "sentences": [
            {
                "text": s.text,
                "cited": list(s.cited),
                "supported_by": s.supported_by,
                "score": s.score,
                "status": s.status,
            }
            for s in answer.sentences
        ],
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Offline Vietnamese question answering over your documents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add or update documents in an index")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the corpus setting)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--rebuild", action="store_true", help="start the index afresh (after a model or chunking change)")
    p.add_argument("--prune", action="store_true", help="remove indexed files under PATHS that no longer exist")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("remove", help="remove documents from an index")
    p.add_argument("sources", nargs="+", help="source paths as listed by ingest")
    p.add_argument("--index", type=Path)

    p = sub.add_parser("ask", help="ask a question; the answer streams with [n] citations")
    p.add_argument("question", nargs="?", help="the question, in Vietnamese")
    p.add_argument("--batch", type=Path, help="JSONL file of {id, question}; one JSON answer per line")
    p.add_argument("--json", action="store_true", help="print JSON instead of streaming text")
    p.add_argument("--retrieve-only", action="store_true", help="skip generation, only retrieve passages")
    p.add_argument("--k", type=int, help="number of passages to retrieve (default 4)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--max-tokens", type=int, help="answer length limit in tokens")

    p = sub.add_parser("summarize", help="a cited summary of a document, or of the passages on a topic")
    p.add_argument("doc", nargs="?", help="an indexed document: its source path, file name or title")
    p.add_argument("--topic", help="what the summary is about; without DOC, the index's passages on it are summarised")
    p.add_argument("--k", type=int, default=8, help="passages retrieved for a --topic summary without DOC (default 8)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--max-tokens", type=int, help="summary length limit in tokens")
    p.add_argument("--json", action="store_true", help="print JSON instead of streaming text")

    p = sub.add_parser("eval", help="measure retrieval (and answers) on a questions JSONL file")
    p.add_argument("questions", type=Path, help="JSONL with id, question, answers (optional doc_id)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--k", type=int, default=10, help="passages retrieved per question (default 10)")
    p.add_argument("--retrieve-only", action="store_true", help="only measure retrieval")
    p.add_argument("--limit", type=int, help="use the first N questions")
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], help="retrieval mode (default: settings)")
    p.add_argument("--strip-diacritics", action="store_true", help="ask every question without diacritics")
    p.add_argument(
        "--unanswerable",
        action="store_true",
        help="hide each question's own article from retrieval (as an index lacking it): measures refusals",
    )
    p.add_argument("--out", type=Path, help="per-question JSONL (default eval-<timestamp>.jsonl in the index)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("export-docs", help="write a docs.jsonl (doc_id, title, text) as one .txt file per doc")
    p.add_argument("jsonl", type=Path)
    p.add_argument("out_dir", type=Path)

    p = sub.add_parser("ui", help="start the browser chat (http://127.0.0.1:7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")

    p = sub.add_parser("models", help="install or check the default offline models")
    p.add_argument("action", choices=["install", "status", "verify"])
    p.add_argument("--force", action="store_true", help="rebuild even if already installed")
    return parser


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=err, format="%(message)s")
    try:
        settings = load_settings()
        from rag.setup.wiring import apply_runtime_policy

        apply_runtime_policy(settings)
        if args.command == "ingest":
            return _cmd_ingest(args, settings, out, err)
        if args.command == "remove":
            return _cmd_remove(args, settings, out)
        if args.command == "ask":
            return _cmd_ask(args, settings, out, err)
        if args.command == "ui":
            return _cmd_ui(args, settings, err)
        if args.command == "summarize":
            return _cmd_summarize(args, settings, out, err)
        if args.command == "eval":
            return _cmd_eval(args, settings, out, err)
        if args.command == "export-docs":
            from rag.text.loaders import export_jsonl_documents

            written = export_jsonl_documents(args.jsonl, args.out_dir)
            print(f"wrote {len(written)} documents to {args.out_dir}", file=out)
            return EXIT_OK
        return _cmd_models(args, settings, out)
    except RagError as e:
        print(f"rag: error: {e}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rag: interrupted; the index on disk is the last complete state", file=err)
        return EXIT_INTERRUPTED


def _progress(err: TextIO):  # noqa: ANN202
    interactive = err.isatty()

    def report(done: int, total: int, current: str) -> None:
        if interactive:
            print(f"\r\033[K[{done}/{total}] {current}", end="" if done < total else "\n", file=err, flush=True)

    return report


def _cmd_ingest(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.ingest.progress import ProgressBar
    from rag.setup.wiring import run_ingest

    settings = settings.replace(index=args.index)
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
    argv += [flag for flag, on in (("--rebuild", args.rebuild), ("--prune", args.prune)) if on]
    return argv


def _cmd_remove(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def _cmd_ask(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.index.store import IndexStore, require_index
    from rag.setup.wiring import build_assistant, build_embedder, run_ingest

    if (args.question is None) == (args.batch is None):
        raise QuestionError("give either a QUESTION or --batch FILE.jsonl")
    if args.k is not None and not 1 <= args.k <= 100:
        raise QuestionError(f"--k {args.k} is out of range: use 1..100")
    settings = settings.replace(index=args.index, k=args.k, max_tokens=args.max_tokens)
    questions = _read_batch(args.batch) if args.batch else None
    if questions is None:
        # Check the question before loading any model, so a bad one fails fast.
        from rag.answer.assistant import check_question

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
        return _stream_answer(assistant, args.question, args.retrieve_only, out, err)
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


def _stream_answer(assistant: Any, question: str, retrieve_only: bool, out: TextIO, err: TextIO) -> int:
    answer = _print_stream(assistant.stream(question, retrieve_only=retrieve_only), out)
    if retrieve_only:
        _print_passages(((h.rank, h.chunk) for h in answer.retrieved), out, scores=[h.score for h in answer.retrieved])
        return EXIT_OK
    _print_sources(answer, out, err)
    return EXIT_OK


def _print_stream(events: Iterable[str | Answer], out: TextIO) -> Answer:
    """Print the text as it streams, one finished sentence at a time, so that it never ends in half a sentence.

    The checked answer is then shown once: when it only continues what was printed (a citation
    added, an unfinished last sentence dropped) the rest is printed; when the check changed
    what was printed, a terminal rewrites it in place, and other outputs get only the changes
    (a replaced answer under its label, re-cited sentences; dropped ones are listed with the sources).
    """
    answer: Answer | None = None
    shown, pending = "", ""
    for event in events:
        if isinstance(event, Answer):
            answer = event
            continue
        pending += event
        cut = _last_sentence_end(pending)
        if cut:
            piece = pending[:cut] if shown else pending[:cut].lstrip()
            print(piece, end="", file=out, flush=True)
            shown, pending = shown + piece, pending[cut:]
    assert answer is not None
    final = answer.text
    if final.startswith(shown) and (shown or not pending.strip() or final.startswith(pending.strip())):
        rest = final[len(shown) :]
        print(rest if shown else rest.lstrip(), end="", file=out, flush=True)  # finishes what was printed
        return answer
    label = {"refused": "Kết quả kiểm tra", "extractive": "Trích từ tài liệu"}.get(answer.outcome)
    if out.isatty() and shown:
        rows = _rows(shown)
        up = f"\033[{rows - 1}A" if rows > 1 else ""
        print(f"\r{up}\033[J{f'{label}: ' if label else ''}{final}", end="", file=out, flush=True)
        return answer
    if label or not shown:
        print(f"{chr(10) * 2 if shown else ''}{f'{label}: ' if label and shown else ''}{final}", end="", file=out)
        return answer
    tail = pending.strip()
    if tail and tail in final:  # the last sentence, kept by the check: it was not printed yet
        print(f" {tail}", end="", file=out)
    recited = [s for s in answer.sentences if s.status in ("reattributed", "added") and s.supported_by]
    for s in recited:
        print(f"\n\n(Sau kiểm tra, câu này trích dẫn [{s.supported_by}]: {s.text})", end="", file=out)
    out.flush()
    return answer


# where a sentence ends: its punctuation, any citation markers after it, closing quotes, then a space
_SENTENCE_END = re.compile(r"[.!?…](?:\s*\[\d+\])*[\"'”»)]*(?=\s)")


def _last_sentence_end(text: str) -> int:
    """End of the last finished sentence in streamed text (0: none yet)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return ends[-1] if ends else 0


def _rows(text: str) -> int:
    """Terminal rows the printed text takes (long lines wrap at the terminal width)."""
    import shutil

    columns = max(1, shutil.get_terminal_size().columns)
    return sum(max(1, -(-len(line) // columns)) for line in text.split("\n"))


def _print_sources(answer: Answer, out: TextIO, err: TextIO) -> None:
    print("\n", file=out)
    if answer.read_as:
        print(f"(Câu hỏi được hiểu là: {answer.read_as})", file=out)
    dropped = [s for s in answer.sentences if s.status == "unsupported"]
    for s in dropped:
        print(f"(Đã bỏ câu không có căn cứ trong tài liệu: {s.text})", file=out)
    if answer.refused:
        if answer.refusal_reason in REFUSAL_REASONS:
            print(f"(Lý do: {REFUSAL_REASONS[answer.refusal_reason]})", file=out)
        closest = answer.passages or answer.retrieved
        if closest:
            print("Các đoạn gần nhất:", file=out)
            _print_passages(((i, h.chunk) for i, h in enumerate(closest, start=1)), out)
    elif answer.citations:
        print("Nguồn:", file=out)
        _print_passages(((c.marker, c.chunk) for c in answer.citations), out)
    else:
        print("(Câu trả lời không trích dẫn đoạn nào.)", file=out)
    if answer.invalid_markers:
        markers = ", ".join(f"[{n}]" for n in answer.invalid_markers)
        print(f"rag: removed citation markers that point at no passage: {markers}", file=err)


def _print_passages(items: Iterable[tuple[int, Any]], out: TextIO, scores: list[float] | None = None) -> None:
    for i, (marker, chunk) in enumerate(items):
        score = f" score {scores[i]:.3f}" if scores else ""
        print(f"[{marker}] {chunk.source} ({chunk_place(chunk)}){score}: {one_line(chunk.text)}", file=out)


def one_line(passage: str) -> str:
    """A passage on one line for the terminal: Markdown headings lose their '#' and lead into the text."""
    words: list[str] = []
    headings: list[str] = []  # consecutive heading lines, shown as "A › B:" before the text under them
    for line in passage.splitlines():
        line = " ".join(line.split())
        heading = heading_span(line)
        if heading:
            headings.append(line[slice(*heading)])
        elif line:
            if headings:
                words.append(SEPARATOR.join(headings) + ":")
                headings = []
            words.append(line)
    if headings:
        words.append(SEPARATOR.join(headings))
    return " ".join(words)


def _read_batch(path: Path) -> list[tuple[str, str]]:
    from rag.text.loaders import read_jsonl

    if not path.is_file():
        raise QuestionError(f"batch file {path} does not exist")

    def parse(data: dict[str, Any], line_no: int) -> tuple[str, str]:
        return str(data.get("id", line_no)), str(data["question"])

    return list(read_jsonl(path, parse, error=QuestionError, problem="is not a JSON object with a 'question' field"))


def _cmd_summarize(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from rag.answer.assistant import collect
    from rag.index.store import require_index
    from rag.setup.wiring import build_assistant

    if args.doc is None and not args.topic:
        raise QuestionError("give a DOC to summarise (source path, file name or title) or --topic TEXT")
    settings = settings.replace(index=args.index, max_tokens=args.max_tokens)
    require_index(settings.index)
    assistant = build_assistant(settings)
    if args.doc is not None:
        store = assistant.retriever.store  # type: ignore[attr-defined]
        source = find_document(store.documents, args.doc)
        chunks = store.chunks_of(source)
        topic = args.topic or store.documents[source].title
    else:
        if not 1 <= args.k <= 100:
            raise QuestionError(f"--k {args.k} is out of range: use 1..100")
        topic = args.topic
        chunks = assistant.topic_passages(topic, k=args.k)
    on_topic = args.doc is None or bool(args.topic)  # DOC --topic X: the document's facts on X
    events = assistant.summarize(chunks, topic=topic, max_tokens=args.max_tokens, on_topic=on_topic)
    if args.json:
        print(json.dumps(answer_record(collect(events)), ensure_ascii=False), file=out)
        return EXIT_OK
    _print_sources(_print_stream(events, out), out, err)
    return EXIT_OK


def find_document(documents: dict[str, Any], name: str) -> str:
    """The indexed source that name designates: the exact source, else a unique file name, stem or title."""
    if name in documents:
        return name
    matches = [
        source
        for source, record in documents.items()
        if name in (Path(source).name, Path(source).stem, getattr(record, "title", None))
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise QuestionError(f"no indexed document is called {name!r}: give its source path as listed by `rag ingest`")
    listed = ", ".join(sorted(matches)[:5])
    raise QuestionError(f"{name!r} matches {len(matches)} documents ({listed}): give the source path")


def _cmd_ui(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    try:
        from ui.app import launch
    except ImportError as e:
        raise RagError(f"the browser chat needs gradio: run `pip install -e .` ({e})") from e
    settings = settings.replace(index=args.index)
    print(f"rag: loading models; the chat will be at http://{args.host}:{args.port}", file=err, flush=True)
    from rag.ingest.progress import ProgressBar

    launch(settings, host=args.host, port=args.port, progress=ProgressBar(err, every=5.0))
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    import time

    from rag.eval.metrics import Report, WithoutOwnDocument, load_questions
    from rag.index.store import require_index
    from rag.setup.wiring import build_assistant

    settings = settings.replace(index=args.index, retrieval=args.mode)
    if not 1 <= args.k <= 100:
        raise QuestionError(f"--k {args.k} is out of range: use 1..100")
    if args.out is not None and not args.out.parent.is_dir():
        raise QuestionError(f"--out {args.out}: folder {args.out.parent} does not exist")
    require_index(settings.index)
    questions = load_questions(args.questions, limit=args.limit, strip_diacritics=args.strip_diacritics)
    hide: WithoutOwnDocument | None = None

    def wrap(retriever: Any) -> Any:
        nonlocal hide
        hide = WithoutOwnDocument(retriever)
        return hide

    assistant = build_assistant(
        settings, with_generator=not args.retrieve_only, wrap_retriever=wrap if args.unanswerable else None
    )
    report = Report(k=args.k, unanswerable=args.unanswerable, prompt_k=settings.k)
    rows_path = args.out or settings.index / f"eval-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    progress = _progress(err)
    with rows_path.open("w", encoding="utf-8") as rows:
        for n, question in enumerate(questions, start=1):
            if hide is not None:
                hide.question = question
            answer = assistant.ask(question.question, k=args.k, prompt_k=settings.k, retrieve_only=args.retrieve_only)
            row = report.add(question, answer, generated=not args.retrieve_only)
            rows.write(json.dumps(row, ensure_ascii=False) + "\n")
            progress(n, len(questions), question.id)
    summary = report.summary() | {
        "index": str(settings.index),
        "mode": settings.retrieval,
        "strip_diacritics": args.strip_diacritics,
        "unanswerable": args.unanswerable,
        "per_question": str(rows_path),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), file=out)
    else:
        for key, value in summary.items():
            print(f"{key:>24}: {value}", file=out)
    return EXIT_OK


def _cmd_models(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.setup import models

    if args.action == "install":
        emb = models.ensure_embedder(settings.cache_dir, force=args.force)
        print(f"embedder: {emb}", file=out)
        llm = models.ensure_llm(settings.cache_dir, force=args.force)
        print(f"llm: {llm} (sha256 verified)", file=out)
        return EXIT_OK
    if args.action == "verify":
        path = models.llm_path(settings.cache_dir)
        if not path.is_file():
            print(f"llm: {path} is not assembled: run `rag models install`", file=out)
            return EXIT_ERROR
        digest = models.verify_file(path)
        ok = digest == models.LLM_SHA256
        print(f"llm: {path} sha256 {digest} {'OK' if ok else 'MISMATCH: run `rag models install --force`'}", file=out)
        return EXIT_OK if ok else EXIT_ERROR
    for item in models.status(settings.cache_dir):
        print(f"{item.name}: {item.detail} ({item.path})", file=out)
    from rag.answer.llama_cpu import current_path

    print(f"llama.cpp CPU path: {current_path(settings.llm_extra_buffers).describe()}", file=out)
    return EXIT_OK


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    main_entry()
