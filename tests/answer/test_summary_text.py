"""Summary units read as whole sentences: no cut inside brackets, no dangling list word, no run-on source line."""

from __future__ import annotations

from dataclasses import replace

from rag.answer.cite import answer_sentences
from rag.answer.summarize import SummarySettings, candidate_units, select_units
from rag.answer.summary_text import counted_lists, list_share, refers_back, run_ons, tidied
from rag.answer.summary_units import trimmed
from rag.types import Chunk


def _units(text: str) -> list[str]:
    return [u.text for u in candidate_units([Chunk("doc-0", "doc.txt", "Tài liệu", text, 0, len(text))])]


def test_a_long_sentence_is_never_cut_inside_brackets_or_quotes() -> None:
    sentence = (
        "Nhà triết học người Hy Lạp Empedocles đã coi nước là một trong bốn nguồn gốc tạo ra vật chất "
        "(bên cạnh lửa; đất; và không khí, theo các bản chép còn lại đến nay) và ông viết rằng "
        '"nước: mẹ của muôn loài"; Nước cũng nằm trong Ngũ Hành của triết học cổ Trung Hoa cùng kim, mộc, hỏa, thổ.'
    )
    assert _units(sentence) == [
        "Nhà triết học người Hy Lạp Empedocles đã coi nước là một trong bốn nguồn gốc tạo ra vật chất "
        "(bên cạnh lửa; đất; và không khí, theo các bản chép còn lại đến nay) và ông viết rằng "
        '"nước: mẹ của muôn loài".',
        "Nước cũng nằm trong Ngũ Hành của triết học cổ Trung Hoa cùng kim, mộc, hỏa, thổ.",
    ]


def test_a_clause_going_on_with_the_noun_a_short_clause_ended_on_stays_with_it() -> None:
    sentence = (
        "Năm 2017, hệ thống tuyên giáo tập trung vào một số nhiệm vụ: tăng cường nắm và kịp thời tham mưu xử lý "
        "những vấn đề về tư tưởng phát sinh trong cán bộ, đảng viên và quần chúng; đẩy mạnh công tác giáo dục lịch "
        "sử truyền thống; lịch sử của Đảng bộ Khối và tổ chức tốt các hoạt động nhân dịp kỷ niệm 10 năm ngày thành "
        "lập Đảng bộ Khối (11/4/2007 - 11/4/2017)."
    )
    assert _units(sentence)[-1] == (  # alone, "Lịch sử của Đảng bộ Khối và tổ chức tốt …" would have no head
        "Đẩy mạnh công tác giáo dục lịch sử truyền thống; lịch sử của Đảng bộ Khối và tổ chức tốt các hoạt động "
        "nhân dịp kỷ niệm 10 năm ngày thành lập Đảng bộ Khối (11/4/2007 - 11/4/2017)."
    )
    long_before = (  # after a clause of its own (over 12 words), the next one stands alone
        "Trong các hang động quanh thành phố các nhà khảo cổ đã tìm thấy nhiều công cụ đá có niên đại khoảng 2.000 "
        "năm xa hơn nữa về phía Tây Nam có di tích Núi Một; di tích Núi Hai thuộc giai đoạn văn hóa Hòa Bình và "
        "có niên đại khoảng 10.000 năm."
    )
    assert (
        _units(long_before)[-1] == "Di tích Núi Hai thuộc giai đoạn văn hóa Hòa Bình và có niên đại khoảng 10.000 năm."
    )


def test_a_clause_cut_before_its_list_does_not_end_on_the_word_that_announced_it() -> None:
    sentence = (
        "Bộ Ngoại giao Việt Nam là cơ quan thuộc Chính phủ Việt Nam thực hiện chức năng quản lý nhà nước về "
        "đối ngoại gồm: công tác ngoại giao, biên giới lãnh thổ quốc gia, người Việt Nam ở nước ngoài, "
        "ký kết và thực hiện điều ước quốc tế."
    )
    assert _units(sentence)[0] == (
        "Bộ Ngoại giao Việt Nam là cơ quan thuộc Chính phủ Việt Nam thực hiện chức năng quản lý nhà nước về đối ngoại."
    )
    assert tidied("Tam Điệp cũng là vùng đất cổ với hàng loạt các di chỉ khảo cổ học được khai quật là:") == (
        "Tam Điệp cũng là vùng đất cổ với hàng loạt các di chỉ khảo cổ học được khai quật."
    )
    assert tidied("Công tác tuyên giáo trong toàn Đảng bộ còn một số hạn chế như.") == (
        "Công tác tuyên giáo trong toàn Đảng bộ còn một số hạn chế."
    )
    assert (
        tidied("Trên địa bàn thành phố có các cơ sở sản xuất lớn như:")
        == "Trên địa bàn thành phố có các cơ sở sản xuất lớn."
    )
    assert tidied("Đây là danh sách các đơn vị trực thuộc của:") == ""  # a connector without its object: left out


def test_a_sentence_that_ends_as_written_is_left_alone() -> None:
    for sentence in (
        "Ba năm sau, thị xã được công nhận là đô thị loại III.",  # "sau" ends a sentence when no list follows
        "Hồ Chí Minh (từ 2/9/1945 đến 2/3/1946)",  # a list line
        "Với lợi thế về tài nguyên khoáng sản như đá vôi, đôlômit, đất sét, than bùn...",  # an ellipsis
    ):
        assert tidied(sentence) == sentence
    assert (
        tidied("Thành phố Tam Điệp sẽ trở thành đô thị loại II..") == "Thành phố Tam Điệp sẽ trở thành đô thị loại II."
    )


def test_a_source_sentence_without_its_full_stop_is_split_where_the_next_one_starts() -> None:
    text = (
        "Tam Điệp trở thành đô thị loại III năm 2012, và được Quốc hội phê duyệt trở thành thành phố Tam Điệp "
        "vào tháng 4 năm 2015 Theo quy hoạch đô thị tỉnh Ninh Bình đến năm 2020, thành phố Tam Điệp sẽ trở thành "
        "đô thị loại II.."
    )
    assert _units(text) == [
        "Tam Điệp trở thành đô thị loại III năm 2012, và được Quốc hội phê duyệt trở thành thành phố Tam Điệp "
        "vào tháng 4 năm 2015.",
        "Theo quy hoạch đô thị tỉnh Ninh Bình đến năm 2020, thành phố Tam Điệp sẽ trở thành đô thị loại II.",
    ]
    for name in (  # a capitalised opener inside a name is no sentence start
        "Lê Hoài Trung, Ủy viên Trung ương Đảng, Bí thư Đảng ủy Ngoài nước.",
        "Dùng đường bộ từ Thăng Long vào Thanh Hóa hay từ Đàng Trong ra Bắc.",
        "Vở kịch Ngày mai tươi sáng được công diễn năm 1960.",
    ):
        assert run_ons(name) == [name]


def test_a_sentence_going_on_in_lower_case_after_an_ellipsis_stays_one_sentence() -> None:
    text = (
        "Phủ Lý nằm liền kề khu vực có nguồn vật liệu xây dựng lớn như đá vôi, xi măng Bút Sơn và các nguồn vật "
        "liệu xây dựng khác... nên Phủ Lý có nhiều cơ hội phát triển công nghiệp.\nnên đây là dòng mới của danh sách."
    )
    assert _units(text) == [
        "Phủ Lý nằm liền kề khu vực có nguồn vật liệu xây dựng lớn như đá vôi, xi măng Bút Sơn và các nguồn vật "
        "liệu xây dựng khác…, nên Phủ Lý có nhiều cơ hội phát triển công nghiệp.",
    ]  # the new line is not joined to it; it opens in lower case, so it is no summary line of its own either
    assert len(answer_sentences(_units(text)[0] + " [1]")) == 1  # read back as one cited sentence


def test_the_names_a_count_announces_are_left_out_when_there_are_exactly_that_many() -> None:
    text = (  # tam-diep.txt as written, its next line glued on without a space
        "Thành phố Tam Điệp có diện tích 10.497,9 ha với dân số 104.175 người (thống kê 2015) gồm 6 phường: "
        "Bắc Sơn, Nam Sơn, Tân Bình, Tây Sơn, Trung Sơn, Yên Bình và 3 xã: Đông Sơn, Quang Sơn, Yên Sơn."
        "Danh sách các đơn vị hành chính"
    )
    chunk = Chunk("doc-0", "doc.txt", "Tài liệu", text, 0, len(text))
    units = candidate_units([chunk], settings=SummarySettings(count_lists=True))
    assert [(u.text, u.sentence) for u in units] == [
        (
            "Thành phố Tam Điệp có diện tích 10.497,9 ha với dân số 104.175 người (thống kê 2015) "
            "gồm 6 phường và 3 xã.",
            True,  # a sentence, not a list line: the line it was glued to has no full stop
        ),
        ("Danh sách các đơn vị hành chính", False),
    ]
    assert (
        counted_lists(  # the names may repeat the counted noun ("hồ")
            "Tam Điệp có 8 hồ nước gồm hồ Yên Thắng chung với huyện Yên Mô và 7 hồ khác là hồ Mùa Thu, hồ Lồng Đèn, "
            "hồ Núi Vá, hồ Mang Cá, hồ Bống, hồ Lỳ và hồ Sòng Cầu."
        )
        == "Tam Điệp có 8 hồ nước gồm hồ Yên Thắng chung với huyện Yên Mô và 7 hồ khác."
    )
    assert candidate_units([chunk])[0].text == units[0].text  # on by default (stop 22, second round)
    off = candidate_units([chunk], settings=SummarySettings(count_lists=False))
    assert [u.text for u in off][:2] == [  # off: the long sentence is cut at its colons instead
        "Thành phố Tam Điệp có diện tích 10.497,9 ha với dân số 104.175 người (thống kê 2015) gồm 6 phường.",
        "Bắc Sơn, Nam Sơn, Tân Bình, Tây Sơn, Trung Sơn, Yên Bình và 3 xã.",
    ]
    for whole in (
        "Huyện có 4 xã: Yên Bình, Yên Sơn và Đông Sơn.",  # three names for a count of four: not the list it counts
        "Năm 2016 có 2 đồng chí: Trần Hồng Hà và Vũ Đức Nam.",  # two names are no list to drop
        "Đảng bộ có 12 chi bộ là các đơn vị trực thuộc Khối.",  # no names after the count
    ):
        assert counted_lists(whole) == whole


def test_a_full_stop_without_its_space_ends_a_sentence_only_between_words() -> None:
    assert run_ons("Thị xã gồm 6 phường và 3 xã.Danh sách các đơn vị hành chính") == [
        "Thị xã gồm 6 phường và 3 xã.",
        "Danh sách các đơn vị hành chính",
    ]
    for whole in ("Ông đến TP.Hồ Chí Minh năm 1975 để công tác.", "Tin đăng trên báo vnexpress.net ngày hôm qua."):
        assert run_ons(whole) == [whole]


def test_a_wiki_footnote_glued_to_a_word_is_not_kept_as_a_citation_but_a_bracketed_year_is_text() -> None:
    texts = _units(
        "Bản Hiến pháp được phát hành tới từng hộ gia đình[1]. Năm Minh Mạng thứ 18 [1837] đặt làm sở thuế quan."
    )
    assert texts == [
        "Bản Hiến pháp được phát hành tới từng hộ gia đình.",
        "Năm Minh Mạng thứ 18 [1837] đặt làm sở thuế quan.",
    ]


def _chunks(text: str, *cuts: int) -> list[Chunk]:
    """The text as passages cut at these offsets, as the chunker cuts a sentence too long for its budget."""
    bounds = [0, *cuts, len(text)]
    return [
        Chunk(f"doc-{i}", "doc.txt", "Tài liệu", text[a:b].strip(), a + (text[a] == " "), b)
        for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]


def test_a_sentence_the_chunker_cut_at_words_gives_no_line_that_starts_or_ends_inside_it() -> None:
    head = (
        "Tuyến đường đi qua địa phận các xã Tân Lập, Tân Hòa, Tân Phú (huyện Đông Sơn), Hòa Bình, Hòa An, Hòa Lạc, "
        "Hòa Thành, Hòa Phú (huyện Nam Giang) của tỉnh Quảng Đông; qua các xã An Bình, An Lạc, An Thịnh, Minh "
    )
    tail = (
        "Khai, Minh Tân, Minh Thành thuộc huyện Bắc Hà của tỉnh Hà Tây; tổng chiều dài toàn tuyến là "
        "264 km với 4 làn xe và 2 làn dừng khẩn cấp. Dự án khởi công vào năm 2009."
    )
    units = [u.text for u in candidate_units(_chunks(head + tail, len(head) - 1))]
    assert units == [
        # the first clause, whole in the first passage; not the clause cut between the passages ("Qua các xã …,
        # Minh." at the end of the first, "Khai, Minh Tân, …" at the start of the second)
        "Tuyến đường đi qua địa phận các xã Tân Lập, Tân Hòa, Tân Phú (huyện Đông Sơn), Hòa Bình, Hòa An, Hòa Lạc, "
        "Hòa Thành, Hòa Phú (huyện Nam Giang) của tỉnh Quảng Đông.",
        "Tổng chiều dài toàn tuyến là 264 km với 4 làn xe và 2 làn dừng khẩn cấp.",
        "Dự án khởi công vào năm 2009.",
    ]
    # a passage ending on a line without a full stop (a list item) is no cut: the next one starts a sentence
    items = "Ban chỉ đạo gồm đồng chí Nguyễn Văn An, Trưởng ban\nNgày 5 tháng 3 năm 2020, Ban chỉ đạo họp phiên đầu."
    assert [u.text for u in candidate_units(_chunks(items, items.index("\n") + 1))] == [
        "Ban chỉ đạo gồm đồng chí Nguyễn Văn An, Trưởng ban",
        "Ngày 5 tháng 3 năm 2020, Ban chỉ đạo họp phiên đầu.",
    ]


def test_a_line_starts_outside_brackets_and_its_quotes_are_closed() -> None:
    text = (
        'Hiến pháp năm 1946 rất ngắn gọn, chỉ gồm 70 điều. (Ví dụ Điều 10 được viết như sau: "Công dân có quyền '
        'tự do ngôn luận"). (Theo Báo Nhân Dân) ngày 9 tháng 11 năm 1946 Quốc hội đã thông qua bản Hiến pháp này. '
        'Ông Trần Văn Hai nói: "Ta ở lại đất Nghệ An này đến cùng. Không giữ được Nghệ An thì không về quê!". '
        "Thành có tọa độ 10o33'42\" vĩ độ Bắc và 107o23'41\" kinh độ Đông theo bản đồ năm 1930."
    )
    assert _units(text) == [
        "Hiến pháp năm 1946 rất ngắn gọn, chỉ gồm 70 điều.",  # the aside wholly in brackets after it: left out
        "Ngày 9 tháng 11 năm 1946 Quốc hội đã thông qua bản Hiến pháp này.",  # its opening bracket dropped
        'Ông Trần Văn Hai nói: "Ta ở lại đất Nghệ An này đến cùng".',  # each sentence of the quotation in quotes
        '"Không giữ được Nghệ An thì không về quê!".',
        "Thành có tọa độ 10o33'42\" vĩ độ Bắc và 107o23'41\" kinh độ Đông theo bản đồ năm 1930.",  # seconds, no quote
    ]


def test_a_full_stop_inside_brackets_does_not_end_the_sentence_that_opened_them() -> None:
    text = (
        "Xếp Quảng Bình vào Bắc Trung Bộ là hợp lý (về địa lý tỉnh giáp Hà Tĩnh ở phía bắc. Về văn hóa người "
        "Quảng Bình gần với người Nghệ Tĩnh) theo nhiều nhà nghiên cứu. Tỉnh có 8 đơn vị hành chính cấp huyện."
    )
    assert _units(text) == [
        "Xếp Quảng Bình vào Bắc Trung Bộ là hợp lý (về địa lý tỉnh giáp Hà Tĩnh ở phía bắc. Về văn hóa người "
        "Quảng Bình gần với người Nghệ Tĩnh) theo nhiều nhà nghiên cứu.",
        "Tỉnh có 8 đơn vị hành chính cấp huyện.",
    ]


def test_a_caption_label_a_gloss_s_empty_quotes_and_a_doubled_end_are_left_out() -> None:
    text = (
        "Ảnh: Đồng chí Lê Văn Ba, Bí thư Tỉnh ủy phát biểu tại Hội nghị.\n"
        'Tấm bia khắc bốn chữ "平安" (Bình An) ở mặt trước, cao 2 mét.\n'
        "Ông quát lớn rằng: Chính ta đã thắng, bây giờ các ngươi phải lui!."
    )
    assert _units(text) == [
        "Đồng chí Lê Văn Ba, Bí thư Tỉnh ủy phát biểu tại Hội nghị.",
        "Tấm bia khắc bốn chữ (Bình An) ở mặt trước, cao 2 mét.",
        "Ông quát lớn rằng: Chính ta đã thắng, bây giờ các ngươi phải lui!",  # the colon's clause kept whole
    ]


def test_a_count_s_names_go_with_the_bracket_after_the_last_one() -> None:
    sentence = (
        "Ban soạn thảo được thành lập năm 1945 gồm có 4 thành viên: Nguyễn Văn An, Trần Thị Bình, "
        "Lê Minh (Ba Lê) và Phạm Hùng (Tư Hùng)."
    )
    assert counted_lists(sentence) == "Ban soạn thảo được thành lập năm 1945 gồm có 4 thành viên."


def test_a_list_the_colon_opens_is_kept_whole_titles_in_quotes_included() -> None:
    titles = (
        'Năm 1938, ông tham gia triển lãm ở Hà Nội với ba bức tranh lụa: "Chiều thu", "Bến đò vắng khách" '
        'và "Chợ quê ngày tết".'
    )
    tasks = (
        "Năm 2022 Đảng ủy tập trung vào ba việc lớn: học tập nghị quyết trong toàn đảng bộ, "
        "tổ chức kỷ niệm ngày thành lập đảng bộ, tổng kết công tác năm của các chi bộ."
    )
    assert trimmed(titles) == titles  # not "… ba bức tranh lụa: "Chiều thu"."
    assert trimmed(tasks) == tasks  # not one of the three tasks


def test_list_share_is_the_share_of_words_in_a_list_of_names_or_numbers() -> None:
    communes = "Tuyến đi qua các xã Tân Lập, Tân Hòa (huyện Đông Sơn), Hòa Bình và Hòa An."
    assert list_share(communes) == 6 / 14  # "Tân Hòa", "Hòa Bình", "Hòa An"; the bracket left out
    assert list_share("Ông có ba con: Nguyễn An, Nguyễn Bình và Nguyễn Cúc.") == 6 / 11
    assert list_share("Đảng ủy Khối tổ chức Hội nghị ngày 20/12/2016, tại Hà Nội, với 200 đại biểu.") == 0.0  # 2 items
    assert list_share("Nước sôi ở 100 độ, đóng băng ở 0 độ, nặng nhất ở 4 độ.") == 0.0  # clauses end on no name


def test_a_unit_mostly_a_list_counts_as_one_fact_with_list_share_on() -> None:
    lead = "Đường cao tốc Bắc Nam là tuyến đường dài nhất Việt Nam."
    names = "Tuyến đi qua các xã Tân Lập, Tân Hòa, Tân Phú, Hòa Bình, Hòa An, Hòa Lạc, Hòa Thành và Hòa Phú."
    headline = "Dự án khởi công năm 2009 với tổng vốn 1,46 tỷ USD."
    units = candidate_units([Chunk("d-0", "d.txt", "Cao tốc", f"{lead} {names} {headline}", 0, 200)])
    listy = replace(SummarySettings(), max_sentences=2)
    assert listy.list_share == 0.3  # the default (stop 25)
    assert [u.text for u in select_units(units, budget_words=200, settings=listy)] == [lead, headline]
    off = replace(listy, list_share=0.0)
    assert [u.text for u in select_units(units, budget_words=200, settings=off)] == [lead, names]


def test_a_route_of_stops_between_dashes_is_a_list() -> None:
    route = "Lộ trình: Nội Bài – cầu Thăng Long – Phạm Văn Đồng – Hoàng Quốc Việt – Bến xe Ngọc Khánh."
    assert list_share(route) == 15 / 17  # all but "Lộ trình:"; the dashes are no words
    assert list_share("Sân bay cách trung tâm 35 km - theo đường bộ - về phía tây bắc.") == 0.0


def test_a_bare_list_a_clause_announced_is_no_line_without_it_but_a_statement_is() -> None:
    listed = (
        "Ban Tuyên giáo có nhiệm vụ tham mưu cho Ban Thường vụ Đảng ủy Khối về công tác tư tưởng và lý luận chính "
        "trị trong toàn Đảng bộ Khối gồm: học tập nghị quyết, tuyên truyền miệng, báo chí và xuất bản, văn hóa văn "
        "nghệ, thông tin đối ngoại."
    )
    stated = (
        "Bên cạnh những kết quả của năm 2016, công tác tuyên giáo trong toàn Đảng bộ còn một số hạn chế như: việc "
        "nắm bắt tình hình tư tưởng có lúc chưa kịp thời, nhất là những vấn đề có liên quan đến tình trạng tham nhũng."
    )
    assert _units(listed) == [
        "Ban Tuyên giáo có nhiệm vụ tham mưu cho Ban Thường vụ Đảng ủy Khối về công tác tư tưởng và lý luận chính "
        "trị trong toàn Đảng bộ Khối."
    ]
    assert _units(stated)[1] == "Việc nắm bắt tình hình tư tưởng có lúc chưa kịp thời."  # its trailing clause trimmed


def test_a_line_that_points_back_at_the_sentence_before_it_is_told() -> None:
    assert refers_back("Tầng này chỉ mở một cửa hình tròn ở mặt phía Đông.")
    assert refers_back("Trong đó 97,4% là nước mặn trong các đại dương.")
    assert refers_back("Nó đạt sức gió lớn nhất là 185 km/h vào ngày 11 tháng 11.")
    assert refers_back("Được khởi công năm 1937 trên nền Tả Vọng đình, là một loại hình kiến trúc đặc sắc.")
    assert not refers_back("Được xây dựng năm 1049, Chùa Một Cột là biểu tượng của Hà Nội.")  # its subject is named
    assert not refers_back("Họ Nguyễn là họ phổ biến nhất của người Việt.")  # a family name, not "they"
    assert not refers_back("Hiện nay, Việt Nam có 58 tỉnh và 5 thành phố trực thuộc Trung ương.")


def test_a_line_that_points_back_is_picked_only_after_the_sentence_it_points_at() -> None:
    text = (
        "Tháp Rùa nằm ở trung tâm hồ Hoàn Kiếm, được xây dựng năm 1886 trên gò Rùa.\n"
        "Hồ có diện tích khoảng 12 ha và nằm ở quận Hoàn Kiếm của Hà Nội.\n"
        "Đền Ngọc Sơn được Tín Trai lập ra trên nền cung Thụy Khánh cũ.\n"
        "Tầng này chỉ mở một cửa hình tròn ở mặt phía Đông, đường kính 0,68 mét, có 3 chữ Quy Sơn tháp."
    )
    units = candidate_units([Chunk("h-0", "ho.txt", "Hồ Hoàn Kiếm", text, 0, len(text))])
    anaphor = units[-1]
    assert refers_back(anaphor.text) and len(anaphor.facts) >= 3  # the densest line of the four

    def picked(n: int) -> list[str]:
        return [
            u.text for u in select_units(units, budget_words=200, settings=replace(SummarySettings(), max_sentences=n))
        ]

    assert anaphor.text not in picked(2)  # "Tầng này" without the sentence before it: which floor?
    assert len(picked(2)) == 2
    assert picked(4)[-2:] == [units[-2].text, anaphor.text]  # once that sentence is in, it may follow
