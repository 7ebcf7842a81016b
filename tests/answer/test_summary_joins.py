"""More facts per summary sentence: units trimmed to their fact clauses, two short picks joined into one line."""

from __future__ import annotations

from dataclasses import replace

from rag.answer.question import collect
from rag.answer.summarize import Summarizer, SummarySettings, candidate_units
from rag.answer.summary_joins import clause_sentences, joined_text, pack
from rag.answer.summary_units import Unit, trimmed
from rag.checks.grounding import GroundingSettings
from rag.types import Chunk

CHECKS = GroundingSettings(support_threshold=0.6, evidence_threshold=0.3)
JOINS = replace(SummarySettings(), join_words=35, max_sentences=3, share=1.0, max_words=1000)


def _chunk(text: str, *, source: str = "docs/tam-diep.txt", title: str = "Tam Điệp", n: int = 0) -> Chunk:
    return Chunk(f"{source}-{n}", source, title, text, 0, len(text))


def _unit(text: str, position: int, *, marker: int = 1, source: str = "a", lead: bool = False) -> Unit:
    return Unit(text, marker, position, frozenset(), len(text.split()), lead=lead, source=source)


def test_trimming_drops_a_list_in_brackets_and_a_last_clause_that_states_no_fact() -> None:
    assert trimmed(
        "Huyện Tam Điệp được lập do sáp nhập huyện Yên Mô và 10 xã của huyện Yên Khánh (Khánh Hòa, Khánh Phú, "
        "Khánh An)."
    ) == ("Huyện Tam Điệp được lập do sáp nhập huyện Yên Mô và 10 xã của huyện Yên Khánh.")
    assert trimmed(
        "An Dương Vương có Cao Lỗ giúp đỡ, chế ra cái nỏ, bắn một phát giết chết quân Việt hàng vạn người, "
        "bắn ba phát giết đến ba vạn."
    ) == ("An Dương Vương có Cao Lỗ giúp đỡ, chế ra cái nỏ, bắn một phát giết chết quân Việt hàng vạn người.")


def test_trimming_keeps_figures_titles_openers_qualifiers_and_brackets_with_figures() -> None:
    kept = [
        "Bùi Thanh Sơn, Ủy viên Trung ương Đảng, Thứ trưởng Thường trực.",  # a title is capitalised
        "Tam Điệp có nhiều nhà máy lớn trong tỉnh, với 184 doanh nghiệp và cơ sở sản xuất.",  # a figure
        "Để giữ quyền kiểm soát cả vùng, ngày 9 tháng 3 năm 1945, quân đội kéo vào thành phố lớn.",  # an opener
        "Thị xã được mở rộng thêm nhiều lần trong thời gian qua, nhưng vẫn thiếu đất để xây dựng.",  # a qualifier
        "Hồ Chí Minh giữ chức bộ trưởng đầu tiên (từ 2/9/1945, đến 2/3/1946, và từ 3/11/1946).",  # dates
        "Đây là một câu ngắn, không có gì thêm nữa.",  # what would remain is under 8 words
    ]
    assert [trimmed(t) for t in kept] == kept


def test_trimmed_units_are_the_default_and_a_list_line_is_never_trimmed() -> None:
    text = (
        "Tam Điệp là thành phố công nghiệp nằm ở phía tây nam của tỉnh Ninh Bình, trên một trục giao thông "
        "chạy qua nhiều vùng của cả nước.\nLê Hoài Trung, Bí thư Đảng ủy, phụ trách nhiều công việc khác nhau"
    )
    assert SummarySettings().trim is True
    assert [u.text for u in candidate_units([_chunk(text)])] == [
        "Tam Điệp là thành phố công nghiệp nằm ở phía tây nam của tỉnh Ninh Bình.",
        "Lê Hoài Trung, Bí thư Đảng ủy, phụ trách nhiều công việc khác nhau",
    ]
    untrimmed = candidate_units([_chunk(text)], settings=replace(SummarySettings(), trim=False))
    assert untrimmed[0].text.endswith("chạy qua nhiều vùng của cả nước.")


def test_neighbours_share_a_line_only_when_short_of_one_document_and_on_a_shared_word() -> None:
    a = _unit("Tam Điệp cách Hà Nội 105 km.", 0)
    b = _unit("Tam Điệp có 8 hồ nước lớn.", 1)
    c = _unit("Sông Hồng dài 1.149 km.", 2)  # shares no content word with b
    d = _unit("Tam Điệp có 6 phường và 3 xã.", 3, source="b")  # another document
    assert [len(line) for line in pack([a, b, c, d], max_words=35)] == [2, 1, 1]
    assert [len(line) for line in pack([a, b], max_words=10)] == [1, 1]  # 13 words over the cap
    assert [len(line) for line in pack([_unit(a.text, 0, lead=True), b], max_words=35)] == [1, 1]  # the lead alone
    assert [len(line) for line in pack([a, b], max_words=0)] == [1, 1]  # off


def test_a_joined_line_cites_each_half_and_a_name_keeps_its_capital() -> None:
    assert joined_text([("Tam Điệp cách Hà Nội 105 km.", 3), ("Năm 1982, thị xã được thành lập.", 5)]) == (
        "Tam Điệp cách Hà Nội 105 km [3]; năm 1982, thị xã được thành lập [5]."
    )
    assert joined_text([("Thị xã có 6 phường.", 2), ("Tam Điệp có 8 hồ.", 2)]) == (
        "Thị xã có 6 phường [2]; Tam Điệp có 8 hồ [2]."
    )
    assert clause_sentences("Tam Điệp cách Hà Nội 105 km [3]; năm 1982, thị xã được lập [5]. Câu khác [1].") == (
        "Tam Điệp cách Hà Nội 105 km [3]. Năm 1982, thị xã được lập [5]. Câu khác [1]."
    )


def test_with_joins_five_facts_fit_three_lines_each_half_checked_against_its_own_passage() -> None:
    passages = [
        _chunk("Tam Điệp là thành phố công nghiệp của tỉnh Ninh Bình ở phía nam đồng bằng sông Hồng.", n=0),
        _chunk("Tam Điệp cách Hà Nội 105 km. Tam Điệp có 8 hồ nước.", n=1),
        _chunk("Thị xã Tam Điệp được thành lập năm 1982. Tam Điệp có 184 doanh nghiệp lớn nhỏ.", n=2),
    ]
    summarizer = Summarizer(None, None, grounding=CHECKS, settings=JOINS)
    events = list(summarizer.stream(passages, topic="Tam Điệp", asked="Tam Điệp"))
    answer = events[-1]
    assert answer.text == (
        "Tam Điệp là thành phố công nghiệp của tỉnh Ninh Bình ở phía nam đồng bằng sông Hồng [1]. "
        "Tam Điệp cách Hà Nội 105 km [2]; Tam Điệp có 8 hồ nước [2]. "
        "Thị xã Tam Điệp được thành lập năm 1982 [3]; Tam Điệp có 184 doanh nghiệp lớn nhỏ [3]."
    )
    assert "".join(e for e in events[:-1] if isinstance(e, str)) == answer.text  # read once
    assert [(s.supported_by, s.status) for s in answer.sentences] == [
        (1, "supported"),
        (2, "supported"),
        (2, "supported"),
        (3, "supported"),
        (3, "supported"),
    ]
    without = Summarizer(None, None, grounding=CHECKS, settings=replace(JOINS, join_words=0))
    assert collect(without.stream(passages, topic="Tam Điệp", asked="Tam Điệp")).text.count("[") == 3


def test_a_topic_summary_with_joins_still_cites_each_document_and_says_a_repeated_fact_once() -> None:
    a = _chunk("Nước sôi ở 100 độ C dưới áp suất 760 mm Hg.", source="docs/nuoc.md", title="Nước")
    b = _chunk("Ở áp suất 760 mm Hg nước sôi ở 100 độ C.", source="docs/hoa-hoc.md", title="Hóa học")
    c = _chunk("Nước có khối lượng riêng lớn nhất ở 4 độ C.", source="docs/hoa-hoc.md", title="Hóa học", n=1)
    summarizer = Summarizer(None, None, grounding=CHECKS, settings=JOINS)
    answer = collect(summarizer.stream([a, b, c], topic="nước", asked="nước", on_topic=True))
    # two documents: not joined across them, and the boiling point once
    assert answer.text == (
        "Nước sôi ở 100 độ C dưới áp suất 760 mm Hg [1]. Nước có khối lượng riêng lớn nhất ở 4 độ C [3]."
    )
    assert [c.chunk.source for c in answer.citations] == ["docs/nuoc.md", "docs/hoa-hoc.md"]
