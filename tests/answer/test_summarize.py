"""Fact-first summaries (rag.answer.summarize): selection, dedup, compression checks, topic summaries."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.answer.question import collect
from rag.answer.summarize import (
    Summarizer,
    SummarySettings,
    candidate_units,
    fact_keys,
    fused_text,
    on_topic,
    select_units,
    shortened,
    word_overlap,
)
from rag.checks.grounding import GroundingSettings
from rag.types import Answer, Chunk
from tests.fakes import ScriptedGenerator

REPO = Path(__file__).resolve().parents[2]
CHECKS = GroundingSettings(support_threshold=0.6, evidence_threshold=0.3)
EXTRACTIVE = SummarySettings()  # the default: no model call
COMPRESS = replace(SummarySettings(), compress=True)

REPORT = (
    "Báo cáo tổng kết đã khái quát và nêu bật được những kết quả khá toàn diện, góp phần thiết thực vào "
    "nhiệm vụ chung của Đảng bộ.\n"
    "Ngày 20/12/2016, tại Hà Nội, Đảng ủy Khối tổ chức Hội nghị tổng kết công tác tuyên giáo năm 2016.\n"
    "Công tác bồi dưỡng lý luận chính trị tiếp tục được tăng cường, có hiệu quả và ngày càng thiết thực.\n"
    "Các cấp ủy đã tổ chức 452 cuộc học tập với 8.842 đồng chí dự.\n"
    "Đồng chí Trần Hồng Hà, Phó Bí thư Đảng ủy Khối, phát biểu chỉ đạo Hội nghị.\n"
    "Ban Thường vụ ban hành Kế hoạch số 34-KH/ĐUK thực hiện Chỉ thị 05-CT/TW của Bộ Chính trị."
)


def _chunk(text: str, *, source: str = "docs/bao-cao.txt", title: str = "Báo cáo", n: int = 0) -> Chunk:
    return Chunk(f"{source}-{n}", source, title, text, 0, len(text))


def _summarizer(replies: list[str], settings: SummarySettings | None = None) -> tuple[Summarizer, ScriptedGenerator]:
    generator = ScriptedGenerator(replies)
    settings = settings or COMPRESS
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=3712)
    return Summarizer(generator, builder, grounding=CHECKS, settings=settings), generator


def test_fact_keys_count_a_date_once_and_name_documents_people_and_congresses() -> None:
    keys = fact_keys(
        "Ngày 20/12/2016, Trần Hồng Hà triển khai Chỉ thị số 05-CT/TW và Nghị quyết Đại hội XII, 02 chỉ thị."
    )
    assert keys == {"t:20/12/2016", "p:trần hồng hà", "d:chỉ:05-ct/tw", "d:nghị:đại", "r:XII", "n:5", "n:2"}
    assert fact_keys("vào ngày 2 tháng 9 năm 1945, tại Hà Nội") == {"t:2/9/1945", "p:hà nội"}


BOUNDS = (  # binh-thuan.txt (Vietnamese Wikipedia, CC BY-SA; benchmarks/data/summaries/SOURCES.md)
    "Bình Thuận có tọa độ địa lý từ 10o33'42\" đến 11o33'18\" vĩ độ Bắc, từ 107o23'41\" đến 108o52'18\" kinh độ Ðông.",
    "Phần đất liền của Bình Thuận nằm trong giới hạn 10°35'-11°38' Bắc và 107°24'-108°53' Đông.",
)


def test_a_sentence_s_coordinates_are_one_fact_not_twelve_numbers() -> None:
    assert fact_keys(BOUNDS[0]) == {"g:10", "p:bình thuận"}  # keyed by the first one's whole degrees
    assert fact_keys(BOUNDS[1]) == {"g:10", "p:bình thuận"}  # the same bounds: a repeat
    assert fact_keys("Nhiệt độ trung bình trong năm là 26 - 27oC, lúc 10 giờ 30'.") == {"n:26", "n:27", "n:10", "n:30"}
    people = "Tính đến 2015 dân số của Bình Thuận đạt 1.266.228 người, với 34 dân tộc."
    lead = "Bình Thuận là tỉnh duyên hải cực Nam Trung Bộ Việt Nam."
    units = candidate_units([_chunk("\n".join([lead, *BOUNDS, people]))])
    picks = select_units(units, budget_words=200, settings=replace(EXTRACTIVE, max_sentences=3))
    assert [u.text for u in picks][1:] == [BOUNDS[0], people]  # the second set of bounds states nothing new


def test_word_overlap_is_the_shared_share_of_the_shorter_sentence() -> None:
    # content words of the shorter one: hội nghị tổng kết năm 2016 (6); 5 of them in the other
    assert word_overlap("Hội nghị tổng kết năm 2016.", "Hội nghị tổng kết công tác tuyên giáo năm 2017.") == 5 / 6
    assert word_overlap("Nước sôi ở 100 độ.", "Hà Nội là thủ đô.") == 0.0


def test_units_skip_titles_headings_and_repeats_and_cut_long_sentences_into_clauses() -> None:
    long = (
        "Trong năm 2022 Ban Tuyên giáo tập trung vào bốn việc lớn của Đảng bộ Khối các cơ quan và doanh nghiệp "
        "tỉnh: tham mưu làm tốt công tác học tập nghị quyết cho toàn thể cán bộ đảng viên; kỷ niệm 30 năm "
        "tái lập tỉnh Trà Vinh với nhiều hoạt động tuyên truyền thiết thực."
    )
    first = _chunk(f"Báo cáo\n## Kết quả\n1. Các cấp ủy đã tổ chức 452 cuộc học tập với 8.842 đồng chí dự.\n{long}")
    again = _chunk("Các cấp ủy đã tổ chức 452 cuộc học tập với 8.842 đồng chí dự.", n=1)  # chunk overlap
    units = candidate_units([first, again])
    assert [(u.text, u.marker) for u in units] == [
        ("Các cấp ủy đã tổ chức 452 cuộc học tập với 8.842 đồng chí dự.", 1),
        (
            "Trong năm 2022 Ban Tuyên giáo tập trung vào bốn việc lớn của Đảng bộ Khối các cơ quan và doanh "
            "nghiệp tỉnh.",
            1,
        ),
        ("Tham mưu làm tốt công tác học tập nghị quyết cho toàn thể cán bộ đảng viên.", 1),
        ("Kỷ niệm 30 năm tái lập tỉnh Trà Vinh với nhiều hoạt động tuyên truyền thiết thực.", 1),
    ]
    assert units[0].lead and not units[1].lead


def test_fact_dense_sentences_are_chosen_and_praise_is_left_out() -> None:
    units = candidate_units([_chunk(REPORT)], settings=EXTRACTIVE)
    chosen = select_units(units, budget_words=85, settings=EXTRACTIVE)
    assert [u.text for u in chosen] == [
        "Báo cáo tổng kết đã khái quát và nêu bật được những kết quả khá toàn diện, góp phần thiết thực vào "
        "nhiệm vụ chung của Đảng bộ.",  # the lead: what the document is
        "Ngày 20/12/2016, tại Hà Nội, Đảng ủy Khối tổ chức Hội nghị tổng kết công tác tuyên giáo năm 2016.",
        "Các cấp ủy đã tổ chức 452 cuộc học tập với 8.842 đồng chí dự.",
        "Ban Thường vụ ban hành Kế hoạch số 34-KH/ĐUK thực hiện Chỉ thị 05-CT/TW của Bộ Chính trị.",
    ]
    without_lead = select_units(units, budget_words=85, settings=EXTRACTIVE, lead=False)
    assert "Công tác bồi dưỡng lý luận chính trị tiếp tục được tăng cường" not in " ".join(u.text for u in without_lead)
    assert [u.text.split()[0] for u in without_lead] == ["Ngày", "Các", "Đồng", "Ban"]


def test_the_summary_is_cited_checked_and_streamed_as_it_ends() -> None:
    summarizer, generator = _summarizer([], replace(EXTRACTIVE, share=1.0))
    events = list(summarizer.stream([_chunk(REPORT)], topic="Báo cáo", asked="Báo cáo"))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert "".join(e for e in events[:-1] if isinstance(e, str)) == answer.text  # read once: nothing replaced
    assert answer.text.endswith("Kế hoạch số 34-KH/ĐUK thực hiện Chỉ thị 05-CT/TW của Bộ Chính trị [1].")
    assert [s.status for s in answer.sentences] == ["supported"] * 5
    assert "tiếp tục được tăng cường" not in answer.text  # praise states no fact
    assert answer.question == "Tóm tắt: Báo cáo"
    assert generator.prompts == []


LONG = (
    "Trong năm 2021, Ban Tuyên giáo Đảng ủy Khối các cơ quan và doanh nghiệp tỉnh đã kịp thời tham mưu "
    "cho Ban Thường vụ Đảng ủy Khối mở được 04 lớp bồi dưỡng đối tượng kết nạp Đảng, có 386 học viên tham dự."
)


def test_a_shortened_sentence_is_kept_when_its_facts_survive() -> None:
    summarizer, generator = _summarizer(
        ["Câu rút gọn: Năm 2021, Ban Tuyên giáo giúp Ban Thường vụ mở 04 lớp, 386 học viên."]
    )
    answer = collect(summarizer.stream([_chunk(LONG)], topic="Báo cáo", asked="Báo cáo"))
    assert answer.text == "Năm 2021, Ban Tuyên giáo giúp Ban Thường vụ mở 04 lớp, 386 học viên [1]."
    assert [(s.status, s.supported_by) for s in answer.sentences] == [("supported", 1)]
    prompt = generator.prompts[0][1].content
    assert prompt.startswith("Tài liệu: Báo cáo\n<câu>Trong năm 2021, Ban Tuyên giáo")
    assert answer.usage.completion_tokens == 18  # the scripted generator counts words


def test_a_shortened_sentence_that_lost_a_number_gives_way_to_the_original() -> None:
    summarizer, _ = _summarizer(["Đảng ủy Khối mở 04 lớp bồi dưỡng đối tượng kết nạp Đảng trong năm."])  # 386 lost
    answer = collect(summarizer.stream([_chunk(LONG)], topic="Báo cáo", asked="Báo cáo"))
    assert answer.text == LONG[:-1] + " [1]."
    assert shortened(LONG, "Có 386 học viên và 04 lớp năm 2021 của Đảng ủy Khối.") is None  # "Ban Tuyên giáo" lost


def test_a_topic_summary_cites_each_fact_to_its_document_and_says_a_repeated_fact_once() -> None:
    a = _chunk("Nước sôi ở 100 độ C dưới áp suất 760 mm Hg.", source="docs/nuoc.md", title="Nước")
    b = _chunk("Ở áp suất 760 mm Hg nước sôi ở 100 độ C.", source="docs/hoa-hoc.md", title="Hóa học")
    c = _chunk("Nước có khối lượng riêng lớn nhất ở 4 độ C.", source="docs/hoa-hoc.md", title="Hóa học", n=1)
    d = _chunk("Sông Hồng dài 1.149 km, chảy qua Hà Nội.", source="docs/song.md", title="Sông")
    summarizer, _ = _summarizer([], EXTRACTIVE)
    answer = collect(summarizer.stream([a, b, c, d], topic="nước", asked="nước", on_topic=True))
    assert answer.text == (
        "Nước sôi ở 100 độ C dưới áp suất 760 mm Hg [1]. Nước có khối lượng riêng lớn nhất ở 4 độ C [3]."
    )
    assert [c.chunk.source for c in answer.citations] == ["docs/nuoc.md", "docs/hoa-hoc.md"]


def test_a_summary_never_exceeds_its_sentence_limit() -> None:
    nouns = ["cây cầu", "con đường", "ngôi trường", "khu chợ", "ngôi đền", "bến cảng", "nhà máy", "bệnh viện"]
    text = "\n".join(f"Năm {1900 + i} tỉnh xây thêm {i + 10} {noun} mới." for i, noun in enumerate(nouns))
    settings = replace(EXTRACTIVE, max_sentences=5, max_words=1000, share=1.0)
    summarizer, _ = _summarizer([], settings)
    answer = collect(summarizer.stream([_chunk(text)], topic="Báo cáo", asked="Báo cáo"))
    assert len(answer.sentences) == 5


def test_max_tokens_bounds_the_summary_length() -> None:
    summarizer, _ = _summarizer([], replace(EXTRACTIVE, share=1.0))
    answer = collect(summarizer.stream([_chunk(REPORT)], topic="Báo cáo", asked="Báo cáo", max_tokens=60))
    # 60 tokens ~ 40 words: the lead (28 words) leaves 12, and the shortest other sentence has 15
    assert [s.text.split()[0] for s in answer.sentences] == ["Báo"]


def test_a_long_document_summarised_in_parts_gives_each_part_its_share_of_sentences() -> None:
    first = [  # part one: two figures a sentence
        "Huyện mở 21 trường tiểu học cho 3.400 học sinh vùng cao.",
        "Bệnh viện huyện nhận 250 giường bệnh và 18 bác sĩ trẻ.",
        "Nông dân trồng 900 héc-ta lúa nếp thu về 5.200 tấn thóc.",
        "Công ty điện kéo 64 km đường dây tới 12 bản làng xa xôi.",
    ]
    second = [  # part two: one figure a sentence
        "Con đê ven sông Đáy được đắp lại bằng đá hộc năm 1999.",
        "Chợ phiên mỗi sáng chủ nhật họp dưới 7 gốc đa cổ thụ.",
        "Đền thờ Thánh Gióng trên núi Sóc có cổng tam quan cổ kính rêu phong.",
        "Lễ hội đua thuyền rồng mùa xuân thu hút 30 đội chèo.",
    ]
    units = candidate_units([_chunk(" ".join(first) + "\n" + " ".join(second))])
    one_part = replace(EXTRACTIVE, max_sentences=4)
    in_parts = replace(one_part, part_words=sum(u.words for u in units) // 2)
    assert [u.position for u in select_units(units, budget_words=200, settings=one_part, lead=False)] == [0, 1, 2, 3]
    # two parts, two sentences each; sentence 4 starts before the half-way word, so it is part one's (full)
    assert [u.position for u in select_units(units, budget_words=200, settings=in_parts, lead=False)] == [0, 1, 5, 7]


def test_people_weigh_like_numbers_and_the_subject_is_a_name_of_the_title() -> None:
    from rag.answer.summary_salience import subjects
    from rag.answer.summary_units import weight

    assert (weight("p:vũ đức nam"), weight("p:trần hồng hà"), weight("p:ban thường"), weight("n:386")) == (3, 3, 2, 3)
    text = (
        "Tam Điệp là thành phố của tỉnh Ninh Bình từ năm 2015.\nPhó Bí thư Nguyễn Văn A thăm Tam Điệp năm 2016.\n"
        "Tam Điệp có 8 hồ nước lớn nhỏ khác nhau.\nPhó Bí thư dự lễ khánh thành cầu mới năm 2017.\n"
        "Phó Bí thư trao 5 lá cờ thi đua cho các phường.\nPhó Bí thư họp với 12 doanh nghiệp của khu công nghiệp."
    )
    units = candidate_units([_chunk(text, source="tam-diep.txt", title="tam-diep")])
    assert subjects(units) == {"tam-diep.txt": "p:tam điệp"}  # "Phó Bí" (4 units) is more frequent, not in the title


FACTS = (  # one passage, five sentences with a figure each; the cap is 4
    "Tỉnh mở 21 trường tiểu học cho 3.400 học sinh vùng cao.\n"
    "Bệnh viện tỉnh nhận thêm 250 giường bệnh mới.\n"
    "Tỉnh có 18 bác sĩ trẻ về các xã.\n"
    "Nông dân trồng 900 héc-ta lúa nếp trên đồi.\n"
    "Chợ phiên họp dưới 7 gốc đa cổ thụ của làng."
)
FUSE = replace(EXTRACTIVE, fuse=True, max_sentences=4, fuse_pool=5, fuse_max_words=1000, share=1.0)


def test_fused_text_keeps_a_join_only_when_every_fact_of_both_survives_and_none_is_new() -> None:
    a, b = "Bệnh viện tỉnh nhận thêm 250 giường bệnh mới.", "Tỉnh có 18 bác sĩ trẻ về các xã."
    joined = "Câu viết lại (một câu): bệnh viện tỉnh nhận thêm 250 giường bệnh và có 18 bác sĩ trẻ về các xã."
    assert (
        fused_text(a, b, joined, passage=FACTS)
        == "Bệnh viện tỉnh nhận thêm 250 giường bệnh và có 18 bác sĩ trẻ về các xã."
    )
    assert (
        fused_text(a, b, "Bệnh viện tỉnh nhận thêm giường bệnh và có 18 bác sĩ trẻ về các xã.", passage=FACTS) is None
    )
    new = "Bệnh viện tỉnh nhận thêm 250 giường bệnh, có 18 bác sĩ trẻ và 40 y tá về các xã."  # 40: not in the passage
    assert fused_text(a, b, new, passage=FACTS) is None
    assert fused_text(a, b, f"{a} {b}", passage=FACTS) is None  # still two sentences


def test_fusion_joins_two_sentences_of_a_passage_so_all_five_facts_fit_four_sentences() -> None:
    # picked: the lead (21, 3.400), then 250, 18, 900, 7; the shortest pair (250 + 18, 18 words) is tried first
    summarizer, generator = _summarizer(
        ["Bệnh viện tỉnh nhận thêm 250 giường bệnh và có 18 bác sĩ trẻ về các xã."], FUSE
    )
    answer = collect(summarizer.stream([_chunk(FACTS)], topic="Báo cáo", asked="Báo cáo"))
    assert answer.text == (
        "Tỉnh mở 21 trường tiểu học cho 3.400 học sinh vùng cao [1]. Bệnh viện tỉnh nhận thêm 250 giường bệnh và "
        "có 18 bác sĩ trẻ về các xã [1]. Nông dân trồng 900 héc-ta lúa nếp trên đồi [1]. Chợ phiên họp dưới 7 "
        "gốc đa cổ thụ của làng [1]."
    )
    assert [s.status for s in answer.sentences] == ["supported"] * 4
    assert "<câu>Bệnh viện tỉnh nhận thêm 250 giường bệnh mới. Tỉnh có 18 bác sĩ" in generator.prompts[0][1].content


def test_a_join_that_lost_a_fact_keeps_the_originals_and_drops_the_last_picked_sentence() -> None:
    summarizer, generator = _summarizer(["Bệnh viện tỉnh có thêm giường bệnh và 18 bác sĩ trẻ về các xã."] * 2, FUSE)
    answer = collect(summarizer.stream([_chunk(FACTS)], topic="Báo cáo", asked="Báo cáo"))
    assert len(generator.prompts) == 2  # two pairs tried, both refused (250 lost)
    assert [s.text.split()[0] for s in answer.sentences] == ["Tỉnh", "Bệnh", "Tỉnh", "Nông"]
    without = collect(_summarizer([], replace(FUSE, fuse=False))[0].stream([_chunk(FACTS)], topic="B", asked="B"))
    assert answer.text == without.text  # the same four sentences as without fusion


SECTIONED = (  # a wiki article: its lead, then a section; the lead states the headline figure
    "# Tam Điệp\n"
    "Tam Điệp là thành phố công nghiệp của tỉnh Ninh Bình.\n"
    "Thành phố có 9 đơn vị hành chính cấp xã.\n"
    "## Kinh tế\n"
    "Khu công nghiệp của thành phố có 184 doanh nghiệp và 12 nhà máy."
)


def test_the_lead_of_a_sectioned_document_goes_before_a_denser_sentence_of_a_section() -> None:
    units = candidate_units([_chunk(SECTIONED, source="tam-diep.md", title="Tam Điệp")])
    two = replace(EXTRACTIVE, max_sentences=2, lead_bonus=1.0)

    def picked(settings: SummarySettings, topic: str = "") -> list[str]:
        return [u.text for u in select_units(units, budget_words=200, settings=settings, topic=topic)]

    lead = "Thành phố có 9 đơn vị hành chính cấp xã."
    section = "Khu công nghiệp của thành phố có 184 doanh nghiệp và 12 nhà máy."
    assert EXTRACTIVE.lead_bonus == 5.0  # the default since stop 25
    assert picked(two) == ["Tam Điệp là thành phố công nghiệp của tỉnh Ninh Bình.", lead]  # 3 x 2 > 3 + 0.8 x 3
    assert picked(replace(two, lead_bonus=0.0))[1] == section
    assert picked(two, topic="thành phố")[1] == section  # passages on a topic have no document's lead
    flat = SECTIONED.replace("## Kinh tế\n", "")  # a report without headings: all of it is body
    flat_units = candidate_units([_chunk(flat, source="bao-cao.txt", title="Báo cáo")])
    assert [u.text for u in select_units(flat_units, budget_words=200, settings=two)][1] == section


def test_a_list_item_that_is_only_a_name_is_no_summary_line() -> None:
    text = (
        "Mặt trận Tổ quốc Việt Nam là tổ chức liên minh chính trị của nhân dân Việt Nam.\n"
        "Các tổ chức thành viên gồm:\n"
        "Hội Cựu chiến binh Việt Nam Trung ương\n"
        "Hồ Chí Minh (từ 2/9/1945 đến 2/3/1946)\n"
        "Ngày 10 tháng 9 năm 1955, Mặt trận Tổ quốc Việt Nam được thành lập tại Hà Nội."
    )
    units = candidate_units([_chunk(text, source="mat-tran.txt", title="Mặt trận")])
    bare = next(u for u in units if u.text.startswith("Hội Cựu chiến binh"))
    dated = next(u for u in units if u.text.startswith("Hồ Chí Minh"))
    assert not bare.sentence and bare.facts and all(k.startswith("p:") for k in bare.facts)
    picked = [u.text for u in select_units(units, budget_words=200)]
    assert bare.text not in picked  # "Hội Cựu chiến binh Việt Nam" alone tells a reader nothing
    assert dated.text in picked  # a list item with its dates is a record: still a fact


def test_a_sentence_that_opens_a_list_is_a_sentence_not_a_list_item() -> None:
    text = "Hiến pháp Việt Nam hiện quy định 3 cấp hành chính là:\nTỉnh/Thành phố thuộc trung ương,\nXã/Phường."
    units = candidate_units([_chunk(text, source="phan-cap.txt", title="Phân cấp hành chính")])
    opening = units[0]
    assert opening.text == "Hiến pháp Việt Nam hiện quy định 3 cấp hành chính."
    assert opening.sentence  # its facts count in full, not as one list item's


WATER = (
    "Nước là hợp chất của oxy và hidro. Nước sôi ở 100 độ C. "
    "Bên cạnh nước thường còn có nước nặng và nước siêu nặng. Nước nặng được dùng trong lò phản ứng hạt nhân. "
    "Nặng nhất là nước ở 4 độ C. Năng lượng mặt trời làm nước bốc hơi."
)


def test_a_topic_keeps_the_units_that_hold_it_as_a_phrase_else_those_with_its_telling_words() -> None:
    units = candidate_units([_chunk(WATER, source="nuoc.md", title="Nước")])

    def texts(topic: str) -> list[str]:
        return [u.text for u in on_topic(units, topic)]

    heavy = [
        "Bên cạnh nước thường còn có nước nặng và nước siêu nặng.",
        "Nước nặng được dùng trong lò phản ứng hạt nhân.",
    ]
    assert texts("nước nặng") == heavy  # as a phrase: not every sentence saying "nước"
    assert texts("nuoc nang") == heavy  # typed without diacritics
    # no unit holds "nặng nước": "nước" is in every unit, so only "nặng" tells (not "Năng lượng")
    assert texts("nặng nước") == [*heavy, "Nặng nhất là nước ở 4 độ C."]
    assert texts("nang nuoc")[-1] == "Năng lượng mặt trời làm nước bốc hơi."  # without marks "nang" may be either
    assert texts("hạt nhân sôi") == ["Nước sôi ở 100 độ C.", "Nước nặng được dùng trong lò phản ứng hạt nhân."]
    assert len(texts("nước")) == 6  # every word common: the rarest is kept
    assert texts("Huế") == [] and texts("và") == []  # nothing on it; a function word is no topic
