"""`rag export-docs` and `rag eval` end to end, with the models replaced by fakes in rag.setup.wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import CliFakes, fake_cli_environment, run_cli

DOCS = [
    {"doc_id": "ha-noi", "title": "Hà Nội", "text": "Hà Nội là thủ đô của Việt Nam từ năm 1976."},
    {"doc_id": "hue", "title": "Huế", "text": "Huế là cố đô của triều Nguyễn, bên bờ sông Hương."},
    {"doc_id": "da-nang", "title": "Đà Nẵng", "text": "Đà Nẵng có cầu Rồng bắc qua sông Hàn."},
]
# Expected first hit (k=5): q1-q3 ask about their own document (rank 1); q4 asks about Huế (4 words
# shared with the Huế document) but its gold answer is in the Đà Nẵng document, which shares only
# 'sông' with it (rank 2); q5's answer is in the Hà Nội document, but its doc_id is 'hue' (never a hit).
QUESTIONS = [
    {"id": "q1", "question": "Thủ đô của Việt Nam là thành phố nào?", "answers": ["Hà Nội"], "doc_id": "ha-noi"},
    {"id": "q2", "question": "Cầu Rồng bắc qua sông nào?", "answers": ["sông Hàn"], "doc_id": "da-nang"},
    {"id": "q3", "question": "Cố đô của triều Nguyễn ở đâu?", "answers": ["Huế"], "doc_id": "hue"},
    {"id": "q4", "question": "Huế nằm bên bờ sông nào?", "answers": ["sông Hàn"], "doc_id": "da-nang"},
    {"id": "q5", "question": "Thủ đô của Việt Nam là gì?", "answers": ["Hà Nội"], "doc_id": "hue"},
]
RANKS = [1, 1, 1, 2, None]
SUMMARY = {"questions": 5, "recall@1": 0.6, "recall@5": 0.8, "mrr@5": 0.7}  # mrr = (1 + 1 + 1 + 1/2) / 5


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliFakes:
    """A clean environment in tmp_path with docs.jsonl and questions.jsonl, fake models in rag.setup.wiring."""
    state = fake_cli_environment(tmp_path, monkeypatch)
    _jsonl(tmp_path / "docs.jsonl", DOCS)
    _jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    return state


def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


run = run_cli


def build_index() -> None:
    code, out, err = run("export-docs", "docs.jsonl", "out")
    assert (code, out, err) == (0, "wrote 3 documents to out\n", "")
    code, out, err = run("ingest", "out", "--index", "idx")
    assert (code, err) == (0, "")
    assert out.startswith("idx: 3 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 3 chunks embedded in ")


def evaluate(*options: str) -> tuple[dict, list[dict]]:
    code, out, err = run(
        "eval", "questions.jsonl", "--index", "idx", "--json", "--k", "5", "--out", "rows.jsonl", *options
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 1
    rows = [json.loads(line) for line in Path("rows.jsonl").read_text(encoding="utf-8").splitlines()]
    return json.loads(lines[0]), rows


def test_export_docs_writes_one_file_per_doc_with_title_first(fakes: CliFakes, tmp_path: Path) -> None:
    code, out, _ = run("export-docs", "docs.jsonl", "out")
    assert (code, out) == (0, "wrote 3 documents to out\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["da-nang.txt", "ha-noi.txt", "hue.txt"]
    assert (tmp_path / "out" / "ha-noi.txt").read_text(encoding="utf-8") == (
        "Hà Nội\n\nHà Nội là thủ đô của Việt Nam từ năm 1976.\n"
    )
    assert (tmp_path / "out" / "hue.txt").read_text(encoding="utf-8").splitlines()[0] == "Huế"


def test_export_docs_rejects_a_bad_doc_id(fakes: CliFakes, tmp_path: Path) -> None:
    _jsonl(tmp_path / "bad.jsonl", [{"doc_id": "../x", "text": "Hà Nội"}])
    code, out, err = run("export-docs", "bad.jsonl", "out")
    assert (code, out) == (1, "")
    assert err == "rag: error: bad.jsonl:1: doc_id '../x' is not usable as a file name\n"


def test_eval_retrieve_only_exact_summary(fakes: CliFakes) -> None:
    build_index()
    summary, rows = evaluate("--retrieve-only")
    assert {k: summary[k] for k in SUMMARY} == SUMMARY
    assert set(summary) == {
        *SUMMARY,
        "retrieve_ms_median",
        "answer_in_prompt_passages",
        "index",
        "mode",
        "strip_diacritics",
        "unanswerable",
        "delete_answer_sentence",
        "per_question",
    }
    assert (summary["index"], summary["mode"], summary["strip_diacritics"], summary["per_question"]) == (
        "idx",
        "hybrid",
        False,
        "rows.jsonl",
    )
    assert [(r["id"], r["hit_rank"]) for r in rows] == list(zip(["q1", "q2", "q3", "q4", "q5"], RANKS, strict=True))
    assert [r["question"] for r in rows] == [q["question"] for q in QUESTIONS]
    assert [r["retrieved"][0]["source"] for r in rows] == [
        "out/ha-noi.txt",
        "out/da-nang.txt",
        "out/hue.txt",
        "out/hue.txt",
        "out/ha-noi.txt",
    ]
    assert [len(r["retrieved"]) for r in rows] == [3] * 5  # every chunk, fewer than k
    assert fakes.generators == []


def test_eval_lexical_mode(fakes: CliFakes) -> None:
    build_index()
    summary, rows = evaluate("--retrieve-only", "--mode", "lexical")
    assert {k: summary[k] for k in SUMMARY} == SUMMARY
    assert summary["mode"] == "lexical"
    assert [r["hit_rank"] for r in rows] == RANKS
    # BM25 returns only passages sharing a term with the question (dense mode would return all 3).
    assert [[x["source"] for x in r["retrieved"]] for r in rows] == [
        ["out/ha-noi.txt", "out/hue.txt"],
        ["out/da-nang.txt", "out/hue.txt"],
        ["out/hue.txt", "out/ha-noi.txt", "out/da-nang.txt"],  # 'có' of Đà Nẵng folds like 'cố'
        ["out/hue.txt", "out/da-nang.txt", "out/ha-noi.txt"],  # 'Nam' of Việt Nam folds like 'nằm'
        ["out/ha-noi.txt", "out/hue.txt"],
    ]


def test_eval_strip_diacritics(fakes: CliFakes) -> None:
    build_index()
    summary, rows = evaluate("--retrieve-only", "--strip-diacritics")
    # q4 drops to rank 3: 'nam' (for 'nằm', which the collection lacks) stays 'nam' and matches the
    # 'Việt Nam' of the Hà Nội document in both rankings.
    assert {k: summary[k] for k in SUMMARY} == {"questions": 5, "recall@1": 0.6, "recall@5": 0.8, "mrr@5": 0.6667}
    assert summary["strip_diacritics"] is True
    assert [r["question"] for r in rows] == [
        "Thu do cua Viet Nam la thanh pho nao?",
        "Cau Rong bac qua song nao?",
        "Co do cua trieu Nguyen o dau?",
        "Hue nam ben bo song nao?",
        "Thu do cua Viet Nam la gi?",
    ]
    assert [r["hit_rank"] for r in rows] == [1, 1, 1, 3, None]
    assert [r["retrieved"][1]["source"] for r in rows][3] == "out/ha-noi.txt"


def test_eval_rows_say_how_an_unaccented_question_was_read(fakes: CliFakes) -> None:
    build_index()
    fakes.replies = ["Hà Nội [1]."]
    _, [row] = evaluate("--strip-diacritics", "--limit", "1", "--no-baseline")
    assert (row["question"], row["read_as"]) == (
        "Thu do cua Viet Nam la thanh pho nao?",
        "Thủ đô của Việt Nam là thanh pho nào?",  # "thành phố" is not in these documents; "nào" is a question word
    )


def test_eval_limit_one(fakes: CliFakes) -> None:
    build_index()
    summary, rows = evaluate("--retrieve-only", "--limit", "1")
    assert {k: summary[k] for k in ("questions", "recall@1", "recall@5", "mrr@5")} == {
        "questions": 1,
        "recall@1": 1.0,
        "recall@5": 1.0,
        "mrr@5": 1.0,
    }
    assert [(r["id"], r["hit_rank"]) for r in rows] == [("q1", 1)]


def test_eval_k_one(fakes: CliFakes) -> None:
    build_index()
    code, out, _ = run("eval", "questions.jsonl", "--index", "idx", "--json", "--k", "1", "--retrieve-only")
    summary = json.loads(out)
    assert code == 0
    assert {k: summary[k] for k in ("questions", "recall@1", "mrr@1")} == {
        "questions": 5,
        "recall@1": 0.6,
        "mrr@1": 0.6,
    }
    assert "recall@5" not in summary
    # without --out the rows go into the index folder
    rows_path = Path(summary["per_question"])
    assert (rows_path.parent, rows_path.name[:5], rows_path.suffix) == (Path("idx"), "eval-", ".jsonl")
    assert len(rows_path.read_text(encoding="utf-8").splitlines()) == 5


def test_eval_with_generation(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CHECK_ANSWERS", "0")  # the metrics of the model's own text; checks: tests below
    monkeypatch.setenv("RAG_PROMPT_PASSAGES", "0")  # every passage in the prompt, so [2] is a passage
    build_index()
    fakes.replies = ["Hà Nội [1].", "Đó là sông Hàn [1] [2].", "Huế [1]", "I do not know.", "Hà Nội [1]."]
    summary, rows = evaluate("--no-baseline")
    assert {k: summary[k] for k in SUMMARY} == SUMMARY
    assert [(r["answer"], r["exact_match"], r["contains_answer"]) for r in rows] == [
        ("Hà Nội [1].", True, True),
        ("Đó là sông Hàn [1] [2].", False, True),
        ("Huế [1]", True, True),
        ("I do not know.", False, False),
        ("Hà Nội [1].", True, True),
    ]
    assert [r["citations"] for r in rows] == [1, 2, 1, 0, 1]
    # cited passages (the top retrieved ones): q2 [1] Đà Nẵng has 'sông Hàn', [2] does not
    assert [r["cited_with_answer"] for r in rows] == [1, 1, 1, 0, 1]
    assert (summary["exact_match"], summary["answer_containment"], summary["citation_precision"]) == (0.6, 0.8, 0.8)
    assert (summary["answers_with_citation"], summary["vietnamese_share"]) == (0.8, 0.8)
    # q2 "đó là sông hàn" vs "sông hàn": P 2/4, R 1 -> F1 2/3; the others 1, 1, 0, 1
    assert summary["token_f1"] == round((1 + 2 * (2 / 4) / (2 / 4 + 1) + 1 + 0 + 1) / 5, 4) == 0.7333
    assert len(fakes.generators) == 1


def test_eval_missing_index(fakes: CliFakes) -> None:
    code, out, err = run("eval", "questions.jsonl", "--index", "nowhere", "--retrieve-only")
    assert (code, out) == (1, "")
    assert err == "rag: error: no index at nowhere: build it with `rag ingest <folder> --index nowhere`\n"


def test_eval_bad_questions_file(fakes: CliFakes, tmp_path: Path) -> None:
    build_index()
    (tmp_path / "bad.jsonl").write_text('{"question": "Huế?"}\n', encoding="utf-8")
    code, out, err = run("eval", "bad.jsonl", "--index", "idx", "--retrieve-only")
    assert (code, out) == (1, "")
    assert err == "rag: error: bad.jsonl:1 needs JSON with 'question' and 'answers'\n"


def test_eval_unanswerable_hides_each_question_document(fakes: CliFakes) -> None:
    build_index()
    summary, rows = evaluate("--retrieve-only", "--unanswerable")
    assert summary["unanswerable"] is True
    own = {"q1": "ha-noi", "q2": "da-nang", "q3": "hue", "q4": "da-nang", "q5": "hue"}
    assert [own[r["id"]] in {Path(x["source"]).stem for x in r["retrieved"]} for r in rows] == [False] * 5
    assert [len(r["retrieved"]) for r in rows] == [2] * 5  # the 2 other documents
    assert summary["recall@5"] == 0.0
    # q5's gold answer "Hà Nội" is in the Hà Nội document, which is not q5's own (doc_id 'hue')
    assert [r["answer_in_prompt_passages"] for r in rows] == [False, False, False, False, True]


def test_eval_counts_refusals_and_checked_sentences(fakes: CliFakes) -> None:
    build_index()
    fakes.replies = [
        "Không tìm thấy thông tin này trong tài liệu.",
        "Cầu Rồng bắc qua sông Hàn [1].",
        "Cố đô của triều Nguyễn là Huế [1]. Huế có tháp Eiffel [1].",
        "Huế nằm bên bờ sông Hương [1].",
        "Thủ đô của Việt Nam là Hà Nội [1].",
    ]
    summary, rows = evaluate("--no-baseline")
    assert [r["refused"] for r in rows] == [True, False, False, False, False]
    assert [r["outcome"] for r in rows] == ["refused", "answered", "answered", "answered", "answered"]
    assert [[s["status"] for s in r["sentences"]] for r in rows] == [
        [],
        ["supported"],
        ["supported", "unsupported"],
        ["supported"],
        ["supported"],
    ]
    assert (summary["refusal_rate"], summary["extractive_share"], summary["dropped_sentence_share"]) == (
        0.2,
        0.0,
        0.2,  # 1 of 5 sentences
    )
    assert [r["refusal_reason"] for r in rows] == ["model", None, None, None, None]
    assert summary["refusals_by_reason"] == {"model": 0.2}
    assert rows[2]["answer"] == "Cố đô của triều Nguyễn là Huế [1]."
    assert [len(r["passages"]) for r in rows] == [1] * 5  # prompt_passages 1: the best passage alone


def test_eval_measures_the_checks_against_the_model_alone_and_the_naive_baseline(fakes: CliFakes) -> None:
    build_index()
    fakes.replies = [  # per question: the assistant's prompt, then the baseline's
        *("Hà Nội [1].", "Hà Nội [1]."),  # right, kept
        *("Cầu Rồng bắc qua sông Hàn [1].", "Tôi không biết."),  # right, kept; the baseline misses it
        *("Sài Gòn [1].", "Huế [1]."),  # wrong, unsupported: replaced by the passage sentence naming Huế
        *("Huế nằm bên bờ sông Hương [1].", "Sông Hương [1]."),  # wrong (gold: sông Hàn) but supported: kept
        *("Không tìm thấy thông tin này trong tài liệu.", "Hà Nội [1]."),  # the model refuses
    ]
    summary, rows = evaluate()
    assert [r["checks"] for r in rows] == ["right_kept", "right_kept", "wrong_rescued", "wrong_kept", "wrong_refused"]
    assert rows[2]["answer"] == "Huế là cố đô của triều Nguyễn, bên bờ sông Hương [1]."
    assert rows[2]["model_answer"] == "Sài Gòn [1]."
    assert summary["checks"] == {
        "right_kept": 2,
        "right_lost_dropped": 0,
        "right_lost_replaced": 0,
        "right_lost_refused": 0,
        "wrong_refused": 1,
        "wrong_rescued": 1,
        "wrong_replaced_wrong": 0,
        "wrong_kept": 1,
    }
    assert (summary["model_containment"], summary["answer_containment"], summary["checks_lost_right"]) == (
        0.4,
        0.6,
        0.0,
    )
    assert [r["baseline_contains_answer"] for r in rows] == [True, False, True, False, True]
    assert (summary["baseline_containment"], summary["baseline_exact_match"]) == (0.6, 0.6)
    # the baseline's prompt: BM25's passages, numbered, under one plain instruction
    baseline_prompt = fakes.generators[0].prompts[1][0].content
    assert baseline_prompt.startswith("Dựa vào các đoạn văn dưới đây, hãy trả lời câu hỏi bằng tiếng Việt")
    assert baseline_prompt.endswith("Câu hỏi: Thủ đô của Việt Nam là thành phố nào?\nTrả lời:")


def test_eval_prints_the_checks_table(fakes: CliFakes) -> None:
    build_index()
    fakes.replies = ["Hà Nội [1].", "Hà Nội [1]."]
    code, out, err = run("eval", "questions.jsonl", "--index", "idx", "--limit", "1", "--out", "rows.jsonl")
    assert (code, err) == (0, "")
    table = out[out.index("the model alone") :].splitlines()
    assert table[0] == "the model alone (checks off) was right on 1 of 1; what the checks did with its answer:"
    assert table[1] == f"  {'right, kept':<56} {1:>4}"
    assert len(table) == 9


def test_eval_replays_recorded_replies(fakes: CliFakes) -> None:
    build_index()
    fakes.replies = ["Hà Nội [1].", "Hà Nội [1]."]
    first, _ = evaluate("--limit", "1", "--replies", "replies.jsonl")
    fakes.replies = []  # a second run must not ask the model again
    second, rows = evaluate("--limit", "1", "--replies", "replies.jsonl")
    assert (rows[0]["answer"], rows[0]["baseline_answer"]) == (
        "Thủ đô của Việt Nam là thành phố Hà Nội [1].",
        "Hà Nội [1].",
    )
    assert {k: v for k, v in first.items() if "_ms" not in k} == {k: v for k, v in second.items() if "_ms" not in k}
    assert len(Path("replies.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_eval_delete_answer_sentence_keeps_the_article_but_not_its_answer(fakes: CliFakes) -> None:
    build_index()
    summary, rows = evaluate("--retrieve-only", "--delete-answer-sentence")
    assert (summary["unanswerable"], summary["delete_answer_sentence"]) == (False, True)
    # q1's own article (Hà Nội) is still retrieved first, but its one sentence held "Hà Nội": nothing of it is left
    # except the title line, so no prompt passage holds the gold answer; q5's gold is in another article
    assert [r["answer_in_prompt_passages"] for r in rows] == [False, False, False, False, True]
    assert [Path(r["retrieved"][0]["source"]).stem for r in rows][:3] == ["ha-noi", "da-nang", "hue"]


def test_without_answer_removes_only_the_sentences_holding_the_gold_answer() -> None:
    from rag.eval.questions import Question
    from rag.eval.unanswerable import without_answer
    from rag.types import Chunk

    text = "Huế là cố đô. Kinh thành được xây năm 1805. Sông Hương chảy qua."
    chunk = Chunk("c", "hue.txt", "Huế", text, 0, len(text))
    kept = without_answer(chunk, Question("q", "Kinh thành xây năm nào?", ("1805",), "hue"))
    assert kept.text == "Huế là cố đô. Sông Hương chảy qua."


def test_eval_unanswerable_hides_the_article_from_the_baseline_too(fakes: CliFakes) -> None:
    build_index()
    fakes.replies = ["Không tìm thấy thông tin này trong tài liệu.", "Tôi không biết."]
    summary, [row] = evaluate("--unanswerable", "--limit", "1")
    assistant_prompt, baseline_prompt = (p[-1].content for p in fakes.generators[0].prompts[:2])
    # q1's own article (Hà Nội) is in neither prompt; BM25 finds Huế's ("của" is shared), the assistant both others
    assert ["thủ đô của Việt Nam từ năm 1976" in p for p in (assistant_prompt, baseline_prompt)] == [False, False]
    assert ["cố đô của triều Nguyễn" in p for p in (assistant_prompt, baseline_prompt)] == [True, True]
    assert (row["baseline_answer"], summary["baseline_containment"]) == ("Tôi không biết.", 0.0)
