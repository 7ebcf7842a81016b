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


def _chunks(n: int) -> list[Chunk]:
    return [
        Chunk(f"d-{i:05d}", "docs/dai.txt", "Tài liệu dài", f"Đoạn số {i} nói về chủ đề {i}.", i * 40, i * 40 + 30)
        for i in range(n)
    ]


def test_short_document_summary_cites_its_passages(retriever) -> None:  # noqa: F811
    generator = ScriptedGenerator(["Tài liệu nói về chủ đề 0 [1] và chủ đề 2 [3]. Sai [9]."])
    events = list(_assistant(retriever, generator).summarize(_chunks(3), topic="Tài liệu dài"))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert answer.text == "Tài liệu nói về chủ đề 0 [1] và chủ đề 2 [3]. Sai."
    assert answer.invalid_markers == (9,)
    assert [(c.marker, c.chunk.chunk_id) for c in answer.citations] == [(1, "d-00000"), (3, "d-00002")]
    assert "".join(e for e in events if isinstance(e, str)) == answer.text
    prompt = generator.prompts[0][1].content
    assert '<tài_liệu số="1">\nTài liệu dài\nĐoạn số 0' in prompt
    assert '<tài_liệu số="3">\nTài liệu dài\nĐoạn số 2' in prompt
    assert "về: Tài liệu dài" in prompt


def test_long_document_is_summarised_in_parts_then_combined(retriever) -> None:  # noqa: F811
    generator = ScriptedGenerator(["Phần đầu [1].", "Phần giữa [3].", "Phần cuối [5].", "Tổng hợp [1][5]."])
    assistant = _assistant(retriever, generator)
    # the scripted generator counts words: a budget that holds two passages per part
    two = generator.count_prompt_tokens(assistant._builder.summary("Tài liệu dài", _chunks(2), [1, 2]))
    assistant._builder.max_prompt_tokens = two
    answer = list(assistant.summarize(_chunks(6), topic="Tài liệu dài"))[-1]
    assert len(generator.prompts) == 4
    part_prompts = [p[1].content for p in generator.prompts[:3]]
    assert ['số="1"' in p and 'số="2"' in p and 'số="3"' not in p for p in part_prompts[:1]] == [True]
    assert 'số="5">\nTài liệu dài' in part_prompts[2] and 'số="6">\nTài liệu dài' in part_prompts[2]
    combine = generator.prompts[3][1].content
    assert "Phần đầu [1].\n\nPhần giữa [3].\n\nPhần cuối [5]." in combine
    assert answer.text == "Tổng hợp [1][5]."
    assert [c.chunk.chunk_id for c in answer.citations] == ["d-00000", "d-00004"]


def test_summary_of_an_empty_document_is_refused(retriever) -> None:  # noqa: F811
    with pytest.raises(QuestionError, match="nothing to summarise"):
        list(_assistant(retriever, ScriptedGenerator([])).summarize([], topic="Trống"))


def test_repetition_cut_finds_the_first_repeated_sentence() -> None:
    from rag.answer.assistant import repetition_cut

    text = "Hợp tác xã trồng lúa hữu cơ [1]. Năm 2023 xuất khẩu gạo.\nHợp tác xã trồng lúa hữu cơ [2]. Năm"
    assert repetition_cut(text) == text.index("\nHợp") + 1
    assert repetition_cut("Có 57 thành viên. Có 57 thành viên.") is None  # short sentences may repeat
    assert repetition_cut("Hà Nội là thủ đô của Việt Nam. Hà Nội là thủ đô của Việt Nam") is None  # unfinished


def test_a_looping_answer_is_stopped_and_the_repeat_dropped(retriever) -> None:  # noqa: F811
    loop = "Hà Nội là thủ đô của Việt Nam [1]. " * 6
    generator = ScriptedGenerator([loop], piece_chars=4)
    answer = _assistant(retriever, generator).ask(QUESTION)
    assert answer.text == "Hà Nội là thủ đô của Việt Nam [1]."
