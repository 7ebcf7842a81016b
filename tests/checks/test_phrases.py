"""Short answers: the answer phrase in a passage sentence, the type a question expects, the bare fact."""

from __future__ import annotations

import pytest

from rag.checks.analysis import analyze
from rag.checks.grounding import GroundingSettings, ground
from rag.checks.phrases import answer_runs, bare_fact, expected_type, holds_runs, typed_answer
from rag.checks.support import check_answer
from rag.types import Chunk, Hit

TRAN = "Nhà Trần được thành lập năm 1226. Triều đại kéo dài 175 năm."
DAN_SO = "Thị trấn có 1.610 người. Chợ họp vào sáng sớm."


def _hits(*texts: str, title: str = "") -> list[Hit]:
    return [Hit(Chunk(f"c{i}", f"d/{i}.txt", title, t, 0, len(t)), 1.0, i) for i, t in enumerate(texts, 1)]


@pytest.mark.parametrize(
    ("answer", "question", "passage", "held"),
    [
        ("Năm 1226.", "Nhà Trần được thành lập vào năm nào?", TRAN, True),  # measure word optional
        ("1226", "Nhà Trần được thành lập vào năm nào?", "Nhà Trần thành lập vào năm 1226.", True),
        ("1610 người", "Thị trấn có bao nhiêu người?", DAN_SO, True),  # "1.610" == "1610"
        ("1.600 người", "Thị trấn có bao nhiêu người?", DAN_SO, False),
        ("HÀ NỘI", "Thủ đô là gì?", "Thủ đô là Hà Nội.", True),  # case
        ("Ha Noi", "thu do la gi", "Thủ đô là Hà Nội.", True),  # typed without marks
        ("Nội Hà", "Thủ đô là gì?", "Thủ đô là Hà Nội.", False),  # words in order only
        ("Việt Nam", "Thủ đô là gì?", "Thủ đô là Hà Nội.", False),  # "Nam" is not the measure word "năm"
    ],
)
def test_the_answer_phrase_is_found_up_to_measure_words_number_formats_case_and_marks(
    answer: str, question: str, passage: str, held: bool
) -> None:
    assert holds_runs(answer_runs(answer, question), passage) is held


def test_answer_runs_leave_out_the_question_and_function_words() -> None:
    assert answer_runs("Thủ đô của Việt Nam là Hà Nội [1].", "Thủ đô của Việt Nam là gì?") == [("ha", "noi")]
    assert answer_runs("Thủ đô của Việt Nam.", "Thủ đô của Việt Nam là gì?") == []


def test_a_short_answer_is_supported_by_the_sentence_holding_it_and_records_that_sentence() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    [check] = check_answer("Năm 1226 [1].", analyze(question, _hits(TRAN)), threshold=0.6)
    assert (check.status, check.score, check.span) == ("supported", 1.0, (0, 33))
    # the earlier claim coverage alone: "năm" 1 + "1226" 3 found, the pair ("năm", "1226") is not -> 0.375
    [old] = check_answer("Năm 1226 [1].", analyze(question, _hits(TRAN)), threshold=0.6, phrases=False)
    assert (old.status, old.score) == ("supported", 1.0)  # "năm 1226" is in TRAN as written
    [old] = check_answer("Năm 1226 [1].", analyze(question, _hits("Nhà Trần lập 1226.")), threshold=0.6, phrases=False)
    assert (old.status, old.score) == ("unsupported", 0.375)
    [new] = check_answer("Năm 1226 [1].", analyze(question, _hits("Nhà Trần lập 1226.")), threshold=0.6)
    assert (new.status, new.score) == ("supported", 1.0)


def test_the_supporting_sentence_must_carry_the_question_key_terms() -> None:
    # "Lý Công Uẩn" occurs in the passage, but in a sentence about something else
    passage = "Lý Công Uẩn dời đô ra Thăng Long. Chùa Một Cột được xây năm 1049."
    question = "Ai cho xây chùa Một Cột?"
    analysis = analyze(question, _hits(passage))
    [loose] = check_answer("Lý Công Uẩn [1].", analysis, threshold=0.6)
    assert loose.status == "supported"
    [gated] = check_answer("Lý Công Uẩn [1].", analysis, threshold=0.6, key_threshold=0.3)
    assert (gated.status, gated.supported_by) == ("unsupported", None)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Nhà Trần được thành lập vào năm nào?", "year"),
        ("Khi nào nhà Trần sụp đổ?", "year"),
        ("Thị trấn có bao nhiêu người?", "number"),
        ("Ai lập ra nhà Trần?", "person"),
        ("ai lap ra nha tran", "person"),
        ("Chùa Một Cột ở đâu?", "place"),
        ("Người đầu tiên lên Mặt Trăng tên là gì?", None),  # "đầu" is not "đâu"
    ],
)
def test_expected_type(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


def test_typed_answer_finds_a_value_of_the_type_the_question_does_not_hold() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    assert typed_answer("year", TRAN, question) == "1226"
    assert typed_answer("year", "Triều đại kéo dài 175 năm.", question) == "175"
    assert typed_answer("year", "Triều đại kéo dài 17 năm.", question) is None
    assert typed_answer("number", "Có 1.610 người.", "Có bao nhiêu người?") == "1.610"
    assert typed_answer("person", "Người lập là Trần Thủ Độ.", "Ai lập nhà Trần?") == "Trần Thủ Độ"
    assert typed_answer("person", "Nhà Trần rất mạnh.", "Ai lập Nhà Trần?") is None


SETTINGS = GroundingSettings(extractive_key_threshold=0.3, keep_unchecked=False, hedge=False)


def test_the_extractive_answer_needs_the_key_terms_and_an_answer_of_the_expected_type() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    typed = ground(analyze(question, _hits(TRAN)), "Năm 1400 [1].", SETTINGS)
    assert (typed.outcome, typed.text, typed.short_answer) == (
        "extractive",
        "Nhà Trần được thành lập năm 1226 [1].",
        "1226",
    )
    # the only sentence about the question has no year: no replacement, the refusal
    untyped = ground(analyze(question, _hits("Nhà Trần được thành lập sau nhà Lý.")), "Năm 1400 [1].", SETTINGS)
    assert (untyped.outcome, untyped.reason, untyped.short_answer) == ("refused", "unsupported", None)


def test_with_refusal_fallback_a_model_refusal_gives_way_only_to_a_typed_passage_answer() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    refused = "Không tìm thấy thông tin này trong tài liệu."
    on = GroundingSettings(extractive_key_threshold=0.3, keep_unchecked=False, hedge=False, refusal_fallback=True)
    typed = ground(analyze(question, _hits(TRAN)), refused, on)
    assert (typed.outcome, typed.text, typed.short_answer) == (
        "extractive",
        "Nhà Trần được thành lập năm 1226 [1].",
        "1226",
    )
    untyped = ground(analyze(question, _hits("Nhà Trần được thành lập sau nhà Lý.")), refused, on)
    assert (untyped.outcome, untyped.reason) == ("refused", "model")  # no year to give: the refusal stands
    off = ground(analyze(question, _hits(TRAN)), refused, SETTINGS)  # the default: the model's refusal stands
    assert (off.outcome, off.reason) == ("refused", "model")


def test_an_answer_nothing_confirms_or_replaces_is_kept_marked_unchecked_when_asked() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    keep = GroundingSettings(extractive_key_threshold=0.3, keep_unchecked=True, hedge=False)
    grounded = ground(analyze(question, _hits("Nhà Trần được thành lập sau nhà Lý.")), "Năm 1400 [1].", keep)
    assert (grounded.outcome, grounded.text, grounded.short_answer) == ("unchecked", "Năm 1400 [1].", "1400")
    assert [s.status for s in grounded.sentences] == ["unchecked"]


def test_a_hedge_offers_the_closest_sentence_instead_of_a_flat_refusal() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    hedged = GroundingSettings(extractive_key_threshold=0.3, hedge=True, keep_unchecked=False)
    grounded = ground(analyze(question, _hits("Nhà Trần được thành lập sau nhà Lý.")), "Năm 1400 [1].", hedged)
    assert (grounded.outcome, grounded.reason, grounded.short_answer) == ("hedged", "unsupported", None)
    assert (
        grounded.text == "Tài liệu không nêu trực tiếp điều này; đoạn gần nhất: Nhà Trần được thành lập sau nhà Lý [1]."
    )


@pytest.mark.parametrize(
    ("answer", "question", "fact"),
    [
        ("Năm 1976 [1].", "Hà Nội trở thành thủ đô năm nào?", "1976"),
        ("Nhà Trần được thành lập vào năm 1226 [1].", "Nhà Trần được thành lập vào năm nào?", "1226"),
        ("Thủ đô của Việt Nam là Hà Nội [1].", "Thủ đô của Việt Nam là gì?", "Hà Nội"),
        ("12 tỉnh [2].", "Vùng có bao nhiêu tỉnh?", "12"),
    ],
)
def test_bare_fact(answer: str, question: str, fact: str) -> None:
    assert bare_fact(answer, question) == fact


def test_the_short_answer_of_a_long_answer_to_a_typed_question_is_the_value_asked_for() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    long = "Theo sử sách, nhà Trần được thành lập ở Thăng Long vào năm 1226 [1]."
    passage = "Nhà Trần được thành lập ở Thăng Long vào năm 1226."
    grounded = ground(analyze(question, _hits(passage)), long, SETTINGS)
    assert (grounded.outcome, grounded.short_answer) == ("answered", "1226")
