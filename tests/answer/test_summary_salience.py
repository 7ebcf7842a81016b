"""Plain nouns as facts on long documents (summary_salience), and headings visited first (sections)."""

from __future__ import annotations

from dataclasses import replace

from rag.answer.summarize import SummarySettings, candidate_units, select_units
from rag.answer.summary_salience import background, salient_terms, with_salience, word_pairs
from rag.answer.summary_units import sentence_units
from rag.types import Chunk

CEMENT = [
    "Nhà máy xi măng của thành phố được xây dựng trên địa bàn xã Quang Sơn từ nhiều năm trước.",
    "Thành phố có trữ lượng đá vôi lớn dùng cho công nghiệp xi măng và vật liệu xây dựng.",
    "Sản phẩm xi măng của thành phố được bán ra nhiều tỉnh lân cận và xuất khẩu.",
    "Thành phố còn có chợ trung tâm, bến xe khách và nhiều trường học của thành phố.",
]


def _chunk(text: str, *, source: str = "tam-diep.txt", n: int = 0) -> Chunk:
    return Chunk(f"{source}-{n}", source, "Tam Điệp", text, 0, len(text))


def test_the_background_is_the_packaged_viwiki_word_pair_list() -> None:
    articles, frequency = background()
    assert articles == 597  # the 625 viwiki articles without the benchmark's 28
    assert frequency["thành phố"] > 150 > frequency["xi măng"] >= 4
    assert "tích khảo" not in frequency  # the seam of "di tích" and "khảo cổ" is no word pair


def test_a_pair_frequent_here_and_rare_in_vietnamese_text_is_salient_a_common_one_less() -> None:
    assert word_pairs("nhà máy xi măng Tam Điệp và 3 lò") == {"nhà máy", "máy xi", "xi măng"}  # no name, no "và"
    terms = salient_terms(CEMENT, top=5)
    assert terms[0] == "xi măng"  # in 3 units, 15 of 597 articles
    assert "thành phố" in terms  # in all 4 units, but 207 articles: ranked below
    assert salient_terms(CEMENT[:2], top=5) == []  # no pair in 3 units


def test_only_long_documents_gain_salient_facts() -> None:
    units = sentence_units([_chunk(" ".join(CEMENT))])
    marked = with_salience(units, top=1, sources={"tam-diep.txt"})
    assert [sorted(k for k in u.facts if k.startswith("s:")) for u in marked] == [["s:xi măng"]] * 3 + [[]]
    assert with_salience(units, top=1, sources=set()) == units
    chunks = [_chunk(" ".join(CEMENT))]  # 68 words
    short = candidate_units(chunks)
    assert not any(k.startswith("s:") for u in short for k in u.facts)
    long = candidate_units(chunks, settings=replace(SummarySettings(), salient_min_words=60))
    assert sum("s:xi măng" in u.facts for u in long) == 3


def test_a_salient_noun_brings_its_sentence_into_a_full_summary() -> None:
    text = (
        "Tam Điệp có 8 hồ nước và 2 khu công nghiệp lớn trong tỉnh Ninh Bình.\n"
        + " ".join(CEMENT)
        + "\nThành phố có dân số 104.175 người sống ở 9 phường xã.\nNăm 2010, thành phố được tỉnh khen thưởng."
    )
    chunks = [_chunk(text)]
    settings = replace(SummarySettings(), max_sentences=3, salient_min_words=1)
    plain = select_units(candidate_units(chunks), budget_words=200, settings=replace(settings, salient_terms=0))
    salient = select_units(candidate_units(chunks, settings=settings), budget_words=200, settings=settings)
    assert not any("xi măng" in u.text for u in plain)
    assert [u.text for u in salient if "xi măng" in u.text] == [CEMENT[0]]  # one: the fact is then stated


def test_with_sections_a_heading_not_yet_visited_goes_first() -> None:
    text = (
        "Tam Điệp là thành phố công nghiệp của tỉnh Ninh Bình ở phía tây nam.\n== Hành chính ==\n"
        "Thành phố có 6 phường và 3 xã với 104.175 người năm 2015.\n"
        "Năm 1982 huyện Tam Điệp có 12 xã và 2 thị trấn với 80.000 người.\n== Công nghiệp ==\n"
        "Nhà máy xi măng Tam Điệp có công suất 1,4 triệu tấn mỗi năm."
    )
    units = candidate_units([_chunk(text)])
    assert [u.section for u in units] == [(), ((2, "Hành chính"),), ((2, "Hành chính"),), ((2, "Công nghiệp"),)]
    settings = replace(SummarySettings(), max_sentences=3)
    picks = [u.text[:12] for u in select_units(units, budget_words=200, settings=settings)]
    assert picks == ["Tam Điệp là ", "Thành phố có", "Năm 1982 huy"]
    visiting = [u.text[:12] for u in select_units(units, budget_words=200, settings=replace(settings, sections=2))]
    assert visiting == ["Tam Điệp là ", "Năm 1982 huy", "Nhà máy xi m"]
