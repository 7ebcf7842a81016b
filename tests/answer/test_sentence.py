"""A checked phrase answer said as one Vietnamese sentence built from the question (issue 15.5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer.sentence import answer_sentence, as_sentence
from rag.checks.analysis import analyze
from rag.checks.grounding import Grounded, short_answer
from rag.checks.phrases import bare_fact, leading_name
from rag.types import SentenceSupport


@pytest.mark.parametrize(
    ("question", "fact", "sentence"),
    [
        ("Nhà Trần được thành lập vào năm nào?", "1226", "Nhà Trần được thành lập vào năm 1226 [1]."),
        ("Ai là người rửa tội cho George?", "Thomas Secker", "Thomas Secker là người rửa tội cho George [1]."),
        ("Bộ phim được phát hành khi nào?", "2007", "Bộ phim được phát hành vào năm 2007 [1]."),
        ("Vào ngày nào cơn bão mạnh lên?", "31 tháng 8", "Vào ngày 31 tháng 8 cơn bão mạnh lên [1]."),
        ("Một bông hoa có bao nhiêu cánh?", "3 cánh", "Một bông hoa có 3 cánh [1]."),  # the unit once
        # the fact's own unit takes the place of the one the question names; a bare number keeps the question's
        ("Dãy Trường Sơn dài bao nhiêu ki-lô-mét?", "khoảng 1.100 km", "Dãy Trường Sơn dài khoảng 1.100 km [1]."),
        ("Góc liên kết của phân tử nước là bao nhiêu độ?", "104,45°", "Góc liên kết của phân tử nước là 104,45° [1]."),
        ("Quảng trường dài bao nhiêu mét?", "320", "Quảng trường dài 320 mét [1]."),
        (
            "Các nhà truyền giáo định cư ở đâu?",
            "Quần đảo Solomon",
            "Các nhà truyền giáo định cư ở Quần đảo Solomon [1].",
        ),
        ("Huế là cố đô của triều nào?", "Triều Nguyễn", "Huế là cố đô của triều Nguyễn [1]."),  # "triều" once
        ("Hãng thu âm nào ký hợp đồng với Kesha?", "RCA", "Hãng thu âm RCA ký hợp đồng với Kesha [1]."),
    ],
)
def test_the_fact_takes_the_question_words_place(question: str, fact: str, sentence: str) -> None:
    assert answer_sentence(question, fact, 1) == sentence


@pytest.mark.parametrize(
    "question",
    [
        "Tại sao người Anh tăng thuế?",  # why: no slot for a fact
        "Quần đảo Solomon có liên minh chính trị ổn định không?",  # yes / no
        "Ai đã gặp ai?",  # two question words
        "Nha Tran duoc thanh lap nam nao?",  # typed without diacritics: the sentence would be too
        "Năm nào ai lên ngôi?",
    ],
)
def test_no_sentence_where_the_slot_is_unclear(question: str) -> None:
    assert answer_sentence(question, "1226", 1) is None


def _answered(text: str, marker: int = 2) -> Grounded:
    check = SentenceSupport(text.replace(f" [{marker}]", ""), (marker,), marker, 1.0, "supported", (0, 10))
    return Grounded(text, (check,), "answered", short_answer=None)


def test_as_sentence_rewrites_only_a_bare_phrase_and_keeps_its_check() -> None:
    question = "Nhà Trần được thành lập vào năm nào?"
    built = as_sentence(_answered("Năm 1226 [2]."), question)
    assert built.text == "Nhà Trần được thành lập vào năm 1226 [2]."
    only = built.sentences[0]
    assert (only.text, only.supported_by, only.status, only.span) == (
        "Nhà Trần được thành lập vào năm 1226.",
        2,
        "supported",
        (0, 10),
    )
    # a sentence of the model's own, an extract, a refusal: as they were
    own = _answered("Nhà Trần ra đời năm 1226 [2].")
    assert as_sentence(own, question) is own
    capital = _answered("Hà Nội là thủ đô [2].")
    assert as_sentence(capital, "Thủ đô của Việt Nam là thành phố nào?") is capital
    extract = Grounded("Nhà Trần được thành lập năm 1226 [1].", _answered("x [1].", 1).sentences, "extractive")
    assert as_sentence(extract, question) is extract


def test_the_bare_fact_keeps_a_whole_name_and_a_person_is_the_leading_name() -> None:
    assert bare_fact("John Tyler [1].", "John Canfield Spencer làm việc với Tổng thống nào?") == "John Tyler"
    fact = "Maria, nữ Bá tước Waldegrave, con gái của Sir Edward Walpole"
    assert leading_name(fact, "Hoàng tử William kết hôn với ai?") == "Maria"
    assert leading_name("George, Hoàng tử xứ Wales", "Con trai cả của George là ai?") is None  # the question's name
    assert leading_name("nhà vua Lý Thái Tổ", "Ai dời đô?") is None
    # "Nam" is a name's word here, not the measure word "năm" folded (the answer is written with marks)
    question = "Hoàng tử Albert viết thư cho ai về của hồi môn?"
    assert bare_fact("Nam tước Storkmar [1].", question) == "Nam tước Storkmar"
    built = as_sentence(_answered("Nam tước Storkmar [1].", 1), question).text
    assert built == "Hoàng tử Albert viết thư cho Nam tước Storkmar về của hồi môn [1]."
    # an answer's own first word is capitalised as a sentence: alone it is no name ("Con gái … Konstantinous I")
    kind = analyze("Ai được nhắc tới ở đây?", [])
    assert short_answer("Con gái áp chót của Viktoria, Konstantinous I [1].", kind) == "Konstantinous I"
    assert short_answer("Ông kết hôn với Maria, nữ Bá tước Waldegrave [1].", kind) == "Maria"
    assert short_answer("Victoria và Elizabeth II sống lâu hơn ông [1].", kind) == "Victoria và Elizabeth II"
    both = "Victoria và Elizabeth II"
    assert leading_name(f"{both} sống lâu hơn", "Ai sống lâu hơn George III?") == both


def test_the_sentence_says_the_passage_span_the_short_answer_found_for_the_same_fact() -> None:
    # the model said "1974"; the sentence that supports it says "tháng 9 năm 1974" (rag.checks.short)
    grounded = replace(_answered("1974 [1].", 1), short_answer="tháng 9 năm 1974")
    built = as_sentence(grounded, "Hoàng đế Haile Selassie bị lật đổ khi nào?")
    assert built.text == "Hoàng đế Haile Selassie bị lật đổ vào tháng 9 năm 1974 [1]."
    counted = replace(_answered("12.961 [1].", 1), short_answer="12.961 hộ gia đình")
    assert as_sentence(counted, "Có bao nhiêu hộ gia đình theo báo cáo?").text == (
        "Có 12.961 hộ gia đình theo báo cáo [1]."
    )
    # a short answer that is not a fuller span of the model's fact is not put in its place
    other = replace(_answered("1974 [1].", 1), short_answer="1975")
    assert as_sentence(other, "Hoàng đế Haile Selassie bị lật đổ khi nào?").text == (
        "Hoàng đế Haile Selassie bị lật đổ vào năm 1974 [1]."
    )
