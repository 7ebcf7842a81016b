"""The chat's HTML: citation links, escaping, the sources panel and Vietnamese error lines."""

from __future__ import annotations

from rag.ui.backend import UploadTooLargeError, vietnamese_error
from rag.ui.render import Turn, answer_html, final_answer_html, location, sources_html

from rag.errors import IndexNotFoundError, ModelLoadError, QuestionError
from rag.types import Answer, Chunk, Citation, Hit

PASSAGE = "Năm 2021 có nhiều hoạt động. Ban đã mở được 04 lớp bồi dưỡng, có 386 học viên tham dự. Hết."
CITED = Chunk("a-00001", "corpus/bao-cao.txt", "Báo cáo 2021", PASSAGE, 100, 100 + len(PASSAGE))
OTHER = Chunk("b-00000", "corpus/khac.txt", "Khác", "Một đoạn <b>khác</b>.", 0, 20)


def _answer(text: str) -> Answer:
    return Answer(
        "Mở bao nhiêu lớp?",
        text,
        citations=(Citation(1, CITED),),
        retrieved=(Hit(CITED, 0.9, 1), Hit(OTHER, 0.5, 2)),
    )


def test_markers_become_links_to_the_turn_cards_and_text_is_escaped() -> None:
    html = answer_html("Đã mở 04 lớp <script>x</script> [1][2].", 3)
    assert html == (
        'Đã mở 04 lớp &lt;script&gt;x&lt;/script&gt; <a class="rag-cite" href="#src-3-1">[1]</a>'
        '<a class="rag-cite" href="#src-3-2">[2]</a>.'
    )


def test_sources_panel_marks_the_supporting_sentence_and_keeps_uncited_secondary() -> None:
    from dataclasses import replace

    from rag.checks.support import check_answer

    text = "Ban đã mở 04 lớp bồi dưỡng [1]."
    checks = check_answer(text, [PASSAGE], threshold=0.6)  # the check's own sentence is what gets marked
    turn = Turn(
        "Còn lớp bồi dưỡng?",
        "Ban đã mở bao nhiêu lớp bồi dưỡng năm 2021?",
        replace(_answer(text), sentences=tuple(checks)),
    )
    html = sources_html([turn])
    assert 'id="src-0-1"' in html
    assert '<mark class="rag-support">Ban đã mở được 04 lớp bồi dưỡng, có 386 học viên tham dự.</mark>' in html
    assert "Câu hỏi đã hiểu: <i>Ban đã mở bao nhiêu lớp bồi dưỡng năm 2021?</i>" in html
    assert "bao-cao.txt · ký tự 100–" in html
    others = html[html.index('<details class="rag-others">') :]
    assert "Các đoạn khác được tìm thấy (1)" in others
    assert "Một đoạn &lt;b&gt;khác&lt;/b&gt;." in others  # document text is escaped


def test_source_card_shows_page_and_location() -> None:
    chunk = Chunk(
        "c-00002",
        "docs/nghi-dinh.pdf",
        "Nghị định",
        PASSAGE,
        5,
        90,
        location="Chương II › Điều 5 › Khoản 2",
        page=3,
        page_end=4,
    )
    answer = Answer("Hỏi?", "Đáp [1].", citations=(Citation(1, chunk),), retrieved=(Hit(chunk, 0.9, 1),))
    html = sources_html([Turn("Hỏi?", "Hỏi?", answer)])
    assert (
        '<span class="rag-src-loc"> · nghi-dinh.pdf · trang 3–4 · Chương II › Điều 5 › Khoản 2 · ký tự 5–90</span>'
        in html
    )
    assert location(CITED) == f"ký tự 100–{100 + len(PASSAGE)}"
    assert location(Chunk("d", "a.pdf", "", "x", 0, 1, page=2, page_end=2)) == "trang 2 · ký tự 0–1"


def test_newest_turn_is_first_and_open() -> None:
    turns = [Turn("Câu 1", "Câu 1", _answer("A [1].")), Turn("Câu 2", "Câu 2", _answer("B [1]."))]
    html = sources_html(turns)
    assert html.index('id="turn-1" open') < html.index('id="turn-0"')
    assert 'id="turn-0" open' not in html


def test_errors_read_in_vietnamese() -> None:
    assert vietnamese_error(QuestionError("the question is empty: type a question")) == (
        "Câu hỏi đang trống: hãy nhập một câu hỏi."
    )
    long = QuestionError("the question has 3000 characters, the limit is 2000: shorten it")
    assert vietnamese_error(long) == "Câu hỏi quá dài: 3000 ký tự, tối đa 2000. Hãy rút gọn câu hỏi."
    assert vietnamese_error(IndexNotFoundError("no index")).startswith("Chưa có chỉ mục tài liệu.")
    assert "rag models install --force" in vietnamese_error(ModelLoadError("bad gguf"))
    assert vietnamese_error(UploadTooLargeError("Tệp a.txt quá lớn")) == "Tệp a.txt quá lớn"


def test_checked_answer_shows_dropped_and_re_cited_sentences() -> None:
    from rag.ui.render import final_answer_html

    from rag.types import SentenceSupport

    answer = Answer(
        "Mở bao nhiêu lớp?",
        "Ban đã mở 04 lớp [1].",
        citations=(Citation(1, CITED),),
        retrieved=(Hit(CITED, 0.9, 1), Hit(OTHER, 0.5, 2)),
        sentences=(
            SentenceSupport("Ban đã mở 04 lớp.", (2,), 1, 1.0, "reattributed"),
            SentenceSupport("Có <b>500</b> học viên.", (1,), None, 0.2, "unsupported"),
        ),
    )
    assert final_answer_html(answer, 0) == (
        'Ban đã mở 04 lớp <a class="rag-cite" href="#src-0-1">[1]</a>.<ul class="rag-check">'
        "<li>Đã sửa trích dẫn [2] → [1]: Ban đã mở 04 lớp.</li>"
        "<li>Đã bỏ câu không có căn cứ: <s>Có &lt;b&gt;500&lt;/b&gt; học viên.</s></li></ul>"
    )


def test_refusal_lists_the_closest_passages_open() -> None:
    refused = Answer(
        "Tháp Eiffel cao bao nhiêu?",
        "Không tìm thấy thông tin này trong tài liệu.",
        retrieved=(Hit(CITED, 0.9, 1), Hit(OTHER, 0.5, 2)),
        outcome="refused",
    )
    html = sources_html([Turn(refused.question, refused.question, refused)])
    assert "Không đoạn nào chứa câu trả lời; các đoạn gần nhất:" in html
    assert html.count('class="rag-src rag-uncited"') == 2
    assert "rag-others" not in html  # not folded away: they are the answer now
    assert "Câu trả lời không trích dẫn đoạn nào." not in html


def test_a_refusal_says_why() -> None:
    refused = Answer(
        "Tháp Eiffel cao bao nhiêu?",
        "Không tìm thấy thông tin này trong tài liệu.",
        retrieved=(Hit(CITED, 0.9, 1),),
        outcome="refused",
        refusal_reason="answerability",
    )
    assert final_answer_html(refused, 0) == (
        'Không tìm thấy thông tin này trong tài liệu.<ul class="rag-check">'
        "<li>Lý do: các đoạn gần nhất chỉ liên quan xa tới câu hỏi, có vẻ tài liệu không có câu trả lời.</li>"
        "<li>Các đoạn gần nhất được liệt kê ở mục Nguồn.</li></ul>"
    )


def test_a_question_read_with_restored_marks_says_how_it_was_read() -> None:
    answer = Answer("thu do la gi", "Hà Nội [1].", read_as="thủ đô là gì")
    assert final_answer_html(answer, 0) == (
        'Hà Nội <a class="rag-cite" href="#src-0-1">[1]</a>.<ul class="rag-check">'
        "<li>Câu hỏi được hiểu là: thủ đô là gì</li></ul>"
    )


MARKDOWN = (
    "# An Dương Vương\n\nAn Dương Vương, tên thật là Thục Phán, lập nước Âu Lạc.\n## Nguồn gốc\nCó giả thuyết <khác>."
)


def test_markdown_headings_show_bold_without_marks_and_only_the_answer_sentence_is_marked() -> None:
    chunk = Chunk("m-00000", "corpus/an-duong-vuong.md", "An Dương Vương", MARKDOWN, 0, len(MARKDOWN))
    from rag.checks.analysis import analyze
    from rag.checks.support import check_answer

    checks = check_answer("Thục Phán [1].", analyze("Tên thật?", [Hit(chunk, 0.9, 1)]), threshold=0.6)
    answer = Answer(
        "Tên thật?",
        "Thục Phán [1].",
        citations=(Citation(1, chunk),),
        retrieved=(Hit(chunk, 0.9, 1),),
        sentences=tuple(checks),
    )
    html = sources_html([Turn("Tên thật?", "Tên thật?", answer)])
    body = html[html.index('<div class="rag-src-text">') :]
    assert body.startswith(
        '<div class="rag-src-text"><b class="rag-heading">An Dương Vương</b>\n\n'
        '<mark class="rag-support">An Dương Vương, tên thật là Thục Phán, lập nước Âu Lạc.</mark>\n'
        '<b class="rag-heading">Nguồn gốc</b>\nCó giả thuyết &lt;khác&gt;.</div>'
    )
    assert "#" not in body


def test_an_unchecked_answer_marks_no_sentence() -> None:
    html = sources_html([Turn("Hỏi?", "Hỏi?", _answer("Ban đã mở 04 lớp bồi dưỡng [1]."))])
    assert 'id="src-0-1"' in html
    assert "rag-support" not in html  # no check ran, so there is no supporting sentence to show
