"""Follow-up rewriting and cited summaries, with a scripted generator that records its prompts."""

from __future__ import annotations

import pytest

from rag.errors import QuestionError
from rag.types import Answer, Chunk
from tests.answer.test_assistant import QUESTION, _assistant, retriever  # noqa: F401 - fixture reuse
from tests.fakes import ScriptedGenerator


def test_first_question_is_not_rewritten(retriever) -> None:  # noqa: F811
    generator = ScriptedGenerator([])
    assert _assistant(retriever, generator).condense([], "  Còn Huế thì sao? ") == "Còn Huế thì sao?"
    assert generator.prompts == []


def test_follow_up_is_rewritten_with_the_history_in_the_prompt(retriever) -> None:  # noqa: F811
    generator = ScriptedGenerator(['Câu hỏi viết lại: "Cố đô của Việt Nam dưới triều Nguyễn là thành phố nào?"\nthêm'])
    history = [(QUESTION, "Thủ đô của Việt Nam là Hà Nội [1].")]
    rewritten = _assistant(retriever, generator).condense(history, "Còn cố đô thì sao?")
    assert rewritten == "Cố đô của Việt Nam dưới triều Nguyễn là thành phố nào?"
    prompt = generator.prompts[0][1].content
    assert f"Người dùng: {QUESTION}" in prompt
    assert "Trợ lý: Thủ đô của Việt Nam là Hà Nội." in prompt  # citation markers stripped from history
    assert "Câu hỏi tiếp theo: Còn cố đô thì sao?" in prompt


def test_rewrite_that_is_not_vietnamese_falls_back_to_the_question(retriever) -> None:  # noqa: F811
    generator = ScriptedGenerator(["What was the former capital?"])
    assert _assistant(retriever, generator).condense([(QUESTION, "Hà Nội")], "Còn cố đô?") == "Còn cố đô?"


NOUNS = ["cây cầu", "con đường", "ngôi trường", "khu chợ", "ngôi đền", "bến cảng", "nhà máy", "bệnh viện"]


def _chunks(n: int) -> list[Chunk]:
    texts = [f"Năm {1900 + i} tỉnh xây thêm {i + 10} {NOUNS[i % 8]} mới." for i in range(n)]
    return [
        Chunk(f"d-{i:05d}", "docs/dai.txt", "Tài liệu dài", t, i * 40, i * 40 + len(t)) for i, t in enumerate(texts)
    ]


def test_a_long_document_is_summarised_from_all_its_parts_without_a_whole_document_prompt(retriever) -> None:  # noqa: F811
    generator = ScriptedGenerator([])
    events = list(_assistant(retriever, generator).summarize(_chunks(8), topic="Tài liệu dài"))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert "".join(e for e in events if isinstance(e, str)) == answer.text
    # 8 sentences of 9 words, a budget of 60 (the minimum): 6 of them; [5] "… ngôi đền" repeats [3] "… ngôi trường"
    # (6 of its 9 content words), so [6] and [7] come next
    assert [c.marker for c in answer.citations] == [1, 2, 3, 4, 6, 7]
    assert answer.text.startswith(
        "Năm 1900 tỉnh xây thêm 10 cây cầu mới [1]. Năm 1901 tỉnh xây thêm 11 con đường mới [2]."
    )
    assert generator.prompts == []


def test_summary_of_an_empty_document_is_refused(retriever) -> None:  # noqa: F811
    with pytest.raises(QuestionError, match="nothing to summarise"):
        list(_assistant(retriever, ScriptedGenerator([])).summarize([], topic="Trống"))


def test_repetition_cut_finds_the_first_repeated_sentence() -> None:
    from rag.answer.stops import repetition_cut

    text = "Hợp tác xã trồng lúa hữu cơ [1]. Năm 2023 xuất khẩu gạo.\nHợp tác xã trồng lúa hữu cơ [2]. Năm"
    assert repetition_cut(text) == text.index("\nHợp") + 1
    assert repetition_cut("Có 57 thành viên. Có 57 thành viên.") is None  # short sentences may repeat
    assert repetition_cut("Hà Nội là thủ đô của Việt Nam. Hà Nội là thủ đô của Việt Nam") is None  # unfinished


def test_a_looping_answer_is_stopped_and_the_repeat_dropped(retriever) -> None:  # noqa: F811
    loop = "Hà Nội là thủ đô của Việt Nam [1]. " * 6
    generator = ScriptedGenerator([loop], piece_chars=4)
    answer = _assistant(retriever, generator).ask(QUESTION)
    assert answer.text == "Hà Nội là thủ đô của Việt Nam [1]."


def test_an_extractive_summary_needs_no_language_model(retriever) -> None:  # noqa: F811
    answer = list(_assistant(retriever, None).summarize(_chunks(1), topic="Tài liệu dài"))[-1]
    assert answer.text == "Năm 1900 tỉnh xây thêm 10 cây cầu mới [1]."
