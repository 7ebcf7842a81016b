"""Evaluation metrics on hand-made answers with known values: matching, F1, EM, hit ranks,
recall@k / MRR, generation metrics, and reading questions files."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.eval.metrics import (
    Report,
    contains_answer,
    exact_match,
    first_hit_rank,
    is_hit,
    normalize,
    token_f1,
)
from rag.eval.questions import Question, load_questions
from rag.types import Answer, Chunk, Citation, Hit, Timings, Usage


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _chunk(source: str, text: str, n: int = 0) -> Chunk:
    return Chunk(f"{source}-{n:05d}", source, "", text, 0, len(text))


FILLER = _chunk("docs/khac.txt", "Một đoạn không liên quan.")
HANOI = _chunk("docs/ha-noi.txt", "Hà Nội là thủ đô của Việt Nam.")
HUE = _chunk("docs/hue.txt", "Huế là cố đô của triều Nguyễn, không phải Hà Nội.")


def _answer(chunks: list[Chunk], text: str = "", citations: tuple[Citation, ...] = (), **timing: float) -> Answer:
    return Answer(
        question="q",
        text=text,
        citations=citations,
        retrieved=tuple(Hit(c, 1.0 / r, r) for r, c in enumerate(chunks, start=1)),
        timings=Timings(**timing),
    )


def _ranked(hit_at: int | None, n: int = 10) -> list[Chunk]:
    """n filler passages with the Hà Nội passage at rank hit_at (1-based)."""
    chunks = [_chunk("docs/khac.txt", f"Đoạn số {i}.", i) for i in range(n)]
    if hit_at is not None:
        chunks[hit_at - 1] = HANOI
    return chunks


CAPITAL = Question("q1", "Thủ đô của Việt Nam là gì?", ("Hà Nội",), "ha-noi")


# ---------------------------------------------------------------- matching
def test_normalize() -> None:
    assert normalize("  Hà   NỘI, Việt-Nam!\n") == "hà nội việt nam"
    assert normalize(_nfd("Đà Nẵng")) == "đà nẵng"
    assert normalize(_nfd("Đà Nẵng")) == normalize("ĐÀ NẴNG")
    assert normalize("...") == ""


def test_contains_answer_nfc_nfd_and_case() -> None:
    assert contains_answer(_nfd("Thủ đô là HÀ NỘI."), ["Hà Nội"]) is True
    assert contains_answer("Thủ đô là Hà Nội.", [_nfd("hà nội")]) is True
    assert contains_answer("Thủ đô là Hà Nội.", ["Ha Noi"]) is False  # marks matter
    assert contains_answer("Thủ đô là Hà Nội.", ["Huế", "thủ đô"]) is True  # any answer
    assert contains_answer("Thủ đô là Hà Nội.", ["", "!"]) is False  # empty answers never match


def test_token_f1_exact_values() -> None:
    # pred 4 tokens, gold 2, common 2: P = 2/4, R = 2/2, F1 = 2 * 0.5 * 1 / 1.5
    assert token_f1("04 lớp bồi dưỡng", ["04 lớp"]) == pytest.approx(2 * (2 / 4 * 2 / 2) / (2 / 4 + 2 / 2))
    assert token_f1("04 lớp bồi dưỡng", ["04 lớp"]) == pytest.approx(0.6667, abs=1e-4)
    assert token_f1("Hà Nội", [_nfd("hà nội")]) == 1.0
    assert token_f1("Huế", ["Hà Nội"]) == 0.0
    # best over the gold answers: "Hà Nội" gives 1.0, "thủ đô Hà Nội" (4 tokens) P 1, R 2/4 -> 2/3
    assert token_f1("Hà Nội", ["thủ đô Hà Nội", "Hà Nội"]) == 1.0
    assert token_f1("Hà Nội", ["thủ đô Hà Nội"]) == pytest.approx(2 / 3)
    # repeated tokens count once each: pred [a, a, b], gold [a, b] -> common 2, P 2/3, R 1 -> 0.8
    assert token_f1("sông sông Hồng", ["sông Hồng"]) == pytest.approx(0.8)
    assert token_f1("", ["Hà Nội"]) == 0.0


def test_exact_match_ignores_citation_markers() -> None:
    assert exact_match("Hà Nội [1]", ["Hà Nội"]) is True
    assert exact_match("Hà Nội[1][2].", ["hà nội"]) is True
    assert exact_match(_nfd("HÀ NỘI [3]"), ["Hà Nội"]) is True
    assert exact_match("Thủ đô là Hà Nội [1]", ["Hà Nội"]) is False
    assert exact_match("Hà Nội [a]", ["Hà Nội"]) is False  # only numeric markers are removed


def test_first_hit_rank_respects_doc_id() -> None:
    # HUE mentions Hà Nội but belongs to another document: not a hit for a question on ha-noi.
    assert is_hit(HUE, CAPITAL) is False
    assert is_hit(HANOI, CAPITAL) is True
    assert first_hit_rank([FILLER, HUE, HANOI], CAPITAL) == 3
    without_doc = Question("q1", CAPITAL.question, CAPITAL.answers)
    assert first_hit_rank([FILLER, HUE, HANOI], without_doc) == 2
    assert first_hit_rank([FILLER, HUE], CAPITAL) is None
    assert first_hit_rank([], CAPITAL) is None


# ---------------------------------------------------------------- retrieval summary
def test_report_recall_and_mrr_exact() -> None:
    report = Report(k=10)
    for n, (rank, ms) in enumerate([(1, 5.0), (3, 7.0), (None, 9.0), (7, 11.0)]):
        row = report.add(Question(f"q{n}", "?", ("Hà Nội",)), _answer(_ranked(rank, 12), retrieve_ms=ms))
        assert row["hit_rank"] == rank
        assert len(row["retrieved"]) == 10  # only the first k are recorded
    assert report.summary() == {
        "questions": 4,
        "recall@1": 0.25,
        "recall@5": 0.5,
        "recall@10": 0.75,
        "mrr@10": round((1 + 1 / 3 + 1 / 7) / 4, 4),  # 0.369
        "retrieve_ms_median": 8.0,
        "answer_in_prompt_passages": 0.5,  # ranks 1 and 3 are among the 4 passages a prompt holds
    }
    assert report.summary()["mrr@10"] == 0.369


def test_report_with_small_k_ignores_hits_beyond_it() -> None:
    report = Report(k=5)
    for n, rank in enumerate([1, 3, None, 7]):
        report.add(Question(f"q{n}", "?", ("Hà Nội",)), _answer(_ranked(rank)))
    assert [r["hit_rank"] for r in report.rows] == [1, 3, None, None]
    assert report.summary() == {
        "questions": 4,
        "recall@1": 0.25,
        "recall@5": 0.5,
        "mrr@5": 0.3333,
        "retrieve_ms_median": 0.0,
        "answer_in_prompt_passages": 0.5,
    }


def test_report_row_shape() -> None:
    report = Report(k=2)
    row = report.add(CAPITAL, _answer([FILLER, HANOI, HUE], retrieve_ms=12.34))
    assert row == {
        "id": "q1",
        "question": "Thủ đô của Việt Nam là gì?",
        "answers": ["Hà Nội"],
        "hit_rank": 2,
        "retrieved": [
            {"source": "docs/khac.txt", "chunk_id": "docs/khac.txt-00000"},
            {"source": "docs/ha-noi.txt", "chunk_id": "docs/ha-noi.txt-00000"},
        ],
        "retrieve_ms": 12.3,
        "evidence": 1.0,  # every question term ("thủ", "đô", "Việt", "Nam", pairs) is in the Hà Nội passage
        "answer_in_prompt_passages": True,
    }


def test_empty_report() -> None:
    assert Report(k=5).summary() == {"questions": 0}


# ---------------------------------------------------------------- generation summary
def test_generation_metrics_exact() -> None:
    report = Report(k=5)
    answers = [
        # not exact, contains the answer; cites one passage with it and one without; Vietnamese
        Answer(
            "Thủ đô?",
            "Thủ đô là Hà Nội [1] [2].",
            citations=(Citation(1, HANOI), Citation(2, FILLER)),
            retrieved=(Hit(HANOI, 1.0, 1), Hit(FILLER, 0.5, 2)),
            timings=Timings(4.0, 10.0, 100.0),
            usage=Usage(100, 8),
            short_answer="là Hà Nội",
        ),
        # exact once the marker is removed; its one citation has the answer
        Answer(
            "Thủ đô?",
            "Hà Nội [1]",
            citations=(Citation(1, HUE),),
            retrieved=(Hit(HUE, 1.0, 1),),
            timings=Timings(6.0, 20.0, 200.0),
            usage=Usage(200, 3),
            short_answer="Hà Nội",
        ),
        # English, wrong, no citation, no first token time
        Answer("Thủ đô?", "The capital is Paris.", timings=Timings(8.0, None, 300.0), usage=Usage(300, 5)),
    ]
    rows = [report.add(CAPITAL, a) for a in answers]
    assert [(r["exact_match"], r["contains_answer"], r["vietnamese"]) for r in rows] == [
        (False, True, True),
        (True, True, True),
        (False, False, False),
    ]
    # F1: "thủ đô là hà nội" vs "hà nội": P 2/5, R 1 -> 0.5714; then 1.0; then 0.0
    assert [r["token_f1"] for r in rows] == [0.5714, 1.0, 0.0]
    assert [(r["citations"], r["cited_with_answer"]) for r in rows] == [(2, 1), (1, 1), (0, 0)]
    assert [r["hit_rank"] for r in rows] == [1, None, None]  # HUE is from another document
    assert report.summary() == {
        "questions": 3,
        "recall@1": 0.3333,
        "recall@5": 0.3333,
        "mrr@5": 0.3333,
        "retrieve_ms_median": 6.0,
        "answer_in_prompt_passages": 0.6667,  # HANOI and HUE contain "Hà Nội"; the third has no passages
        "refusal_rate": 0.0,
        "refusals_by_reason": {},
        "extractive_share": 0.0,
        "hedged_share": 0.0,
        "unchecked_share": 0.0,
        # short answers "là Hà Nội" (F1 0.8, not exact), "Hà Nội" (exact), none (0)
        "short_answer_token_f1": round((0.8 + 1.0 + 0.0) / 3, 4),
        "short_answer_exact_match": 0.3333,
        "dropped_sentence_share": None,  # these answers carry no sentence checks
        "model_calls": 3,
        "exact_match": 0.3333,
        "token_f1": round((0.5714 + 1.0 + 0.0) / 3, 4),  # 0.5238
        "answer_containment": 0.6667,
        "citation_precision": 0.6667,  # 2 of 3 cited passages contain the answer
        "citation_precision_correct": 0.6667,  # the same 3 citations: both citing answers contain "Hà Nội"
        "answers_with_citation": 0.6667,
        "vietnamese_share": 0.6667,
        "prompt_tokens_mean": 200.0,
        "first_token_ms_median": 15.0,
        "total_ms_median": 200.0,
    }
    assert report.summary()["token_f1"] == 0.5238


def test_generation_metrics_without_citations() -> None:
    report = Report(k=5)
    report.add(CAPITAL, Answer("Thủ đô?", "Hà Nội", timings=Timings(1.0, None, 2.0)))
    summary = report.summary()
    assert (summary["citation_precision"], summary["answers_with_citation"], summary["exact_match"]) == (
        None,
        0.0,
        1.0,
    )
    assert summary["first_token_ms_median"] is None


def test_retrieve_only_rows_have_no_generation_metrics() -> None:
    report = Report(k=5)
    report.add(CAPITAL, _answer([HANOI]))
    report.add(CAPITAL, Answer("Thủ đô?", "Hà Nội [1]", citations=(Citation(1, HANOI),)))
    assert "answer" not in report.rows[0]
    assert report.rows[1]["answer"] == "Hà Nội [1]"
    summary = report.summary()
    assert (summary["exact_match"], summary["citation_precision"]) == (1.0, 1.0)  # over the one generated row
    assert (summary["recall@1"], summary["mrr@5"]) == (0.5, 0.5)


# ---------------------------------------------------------------- questions files
def _write(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def test_load_questions(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        [
            {
                "id": "a",
                "question": _nfd("Thủ đô của Việt Nam?"),
                "answers": [_nfd("Hà Nội"), "HN"],
                "doc_id": "ha-noi",
            },
            "",
            {"question": "Cố đô ở đâu?", "answers": "Huế"},
        ],
    )
    assert load_questions(path) == [
        Question("a", "Thủ đô của Việt Nam?", ("Hà Nội", "HN"), "ha-noi"),
        Question("3", "Cố đô ở đâu?", ("Huế",), None),  # no id: the line number
    ]
    assert [q.id for q in load_questions(path, limit=1)] == ["a"]


def test_load_questions_strip_diacritics(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        [
            {"id": "a", "question": _nfd("Đường nào dài nhất Việt Nam?"), "answers": ["Đường Hồ Chí Minh"]},
        ],
    )
    [question] = load_questions(path, strip_diacritics=True)
    assert question.question == "Duong nao dai nhat Viet Nam?"
    assert question.answers == ("Đường Hồ Chí Minh",)  # answers keep their marks


@pytest.mark.parametrize(
    "bad",
    ['{"question": "Thủ đô?"}', '{"answers": ["Hà Nội"]}', "not json", '["Thủ đô?", "Hà Nội"]'],
)
def test_load_questions_bad_line(tmp_path: Path, bad: str) -> None:
    path = _write(tmp_path / "q.jsonl", [{"question": "Huế?", "answers": ["Huế"]}, bad])
    with pytest.raises(ConfigError) as info:
        load_questions(path)
    assert str(info.value) == f"{path}:2 needs JSON with 'question' and 'answers'"


def test_load_questions_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_questions(tmp_path / "none.jsonl")
    assert str(info.value) == f"questions file {tmp_path / 'none.jsonl'} does not exist"


def test_numeric_doc_id_matches_its_exported_file(tmp_path: Path) -> None:
    # export-docs writes doc_id 7 as 7.txt (str(doc_id)); the question must then hit docs/7.txt.
    path = _write(tmp_path / "q.jsonl", [{"question": "Thủ đô?", "answers": ["Hà Nội"], "doc_id": 7}])
    [question] = load_questions(path)
    assert first_hit_rank([_chunk("docs/7.txt", "Hà Nội là thủ đô.")], question) == 1


@pytest.mark.parametrize(
    ("model_right", "final_right", "outcome", "expected"),
    [
        (True, True, "answered", "right_kept"),
        (True, True, "extractive", "right_kept"),  # replaced by a sentence that still holds the answer
        (True, False, "answered", "right_lost_dropped"),
        (True, False, "extractive", "right_lost_replaced"),
        (True, False, "refused", "right_lost_refused"),
        (False, False, "refused", "wrong_refused"),
        (False, True, "extractive", "wrong_rescued"),
        (False, False, "extractive", "wrong_replaced_wrong"),
        (False, False, "answered", "wrong_kept"),
        (True, False, "hedged", "right_lost_refused"),
        (False, False, "hedged", "wrong_refused"),
        (False, True, "hedged", "wrong_rescued"),  # the closest sentence it offers holds the answer
    ],
)
def test_check_class(model_right: bool, final_right: bool, outcome: str, expected: str) -> None:
    from rag.eval.check_classes import check_class

    assert check_class(model_right, final_right, outcome) == expected
