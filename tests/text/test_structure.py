"""Section outline: which lines open a legal unit, heading paths, clause ranges, pages."""

from __future__ import annotations

from rag.text.structure import outline
from rag.types import Document, Heading

LAW = (
    "LUẬT MẪU\n"
    "Phần thứ nhất\nNHỮNG QUY ĐỊNH CHUNG\n"
    "Chương I: Phạm vi\n"
    "Điều 1. Phạm vi điều chỉnh\n"
    "Điều 5 của Luật này không áp dụng cho quân đội.\n"
    "1. Khoản một.\n2. Khoản hai.\n3. Khoản ba.\n"
    "Mục tiêu của luật là bảo vệ quyền lợi.\n"
    "Phần lớn người dân đồng tình.\n"
    "Mục 2. Thủ tục\n"
    "Điều 2: Hồ sơ\n"
)


def test_legal_units_and_sentences_that_only_look_like_them() -> None:
    o = outline(Document("l.txt", "Luật mẫu", LAW))
    assert [(LAW[s.start : s.heading_end], s.path, s.is_article) for s in o.sections] == [
        ("Phần thứ nhất\nNHỮNG QUY ĐỊNH CHUNG", ("Phần thứ nhất",), False),
        ("Chương I: Phạm vi", ("Phần thứ nhất", "Chương I"), False),
        ("Điều 1. Phạm vi điều chỉnh", ("Phần thứ nhất", "Chương I", "Điều 1"), True),
        ("Mục 2. Thủ tục", ("Phần thứ nhất", "Chương I", "Mục 2"), False),
        ("Điều 2: Hồ sơ", ("Phần thứ nhất", "Chương I", "Mục 2", "Điều 2"), True),
    ]
    assert [number for _, number in o.clauses] == ["1", "2", "3"]
    assert o.title_end == len("LUẬT MẪU")


def test_clause_ranges_in_locations() -> None:
    o = outline(Document("l.txt", "", LAW))
    one, two, three = LAW.index("1. Khoản"), LAW.index("2. Khoản"), LAW.index("3. Khoản")
    assert o.location(one, one + 5) == "Phần thứ nhất › Chương I › Điều 1 › Khoản 1"
    assert o.location(one + 3, two + 4) == "Phần thứ nhất › Chương I › Điều 1 › Khoản 1–2"
    assert o.location(two + 3, three + 4) == "Phần thứ nhất › Chương I › Điều 1 › Khoản 2–3"
    # all the clauses of the article: the article alone names the place
    assert o.location(one, three + 4) == "Phần thứ nhất › Chương I › Điều 1"
    assert o.location(LAW.index("Điều 1."), LAW.index("Mục tiêu")) == "Phần thứ nhất › Chương I › Điều 1"
    assert o.location(0, 5) == ""


def test_heading_path_pops_to_the_right_level_and_skips_the_title() -> None:
    text = "Việt Nam\nLịch sử\nCổ đại\nHiện đại\nĐịa lý\n"
    starts = [0, 9, 17, 24, 33]
    headings = tuple(Heading(s, lvl, text[s:].split("\n")[0]) for s, lvl in zip(starts, [1, 2, 3, 3, 2], strict=True))
    o = outline(Document("v.md", "Việt Nam", text, headings=headings))
    assert [s.path for s in o.sections] == [
        (),
        ("Lịch sử",),
        ("Lịch sử", "Cổ đại"),
        ("Lịch sử", "Hiện đại"),
        ("Địa lý",),
    ]


def test_pages_of_a_span() -> None:
    o = outline(Document("p.pdf", "", "một\n\nhai\n\nba", page_starts=(0, 5, 10)))
    assert [o.pages(0, 3), o.pages(0, 8), o.pages(5, 12), o.pages(10, 12)] == [(1, 1), (1, 2), (2, 3), (3, 3)]
    assert outline(Document("a.txt", "", "x")).pages(0, 1) == (None, None)
