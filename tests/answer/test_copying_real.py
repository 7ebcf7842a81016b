"""Model tier: under the copy grammar the real model's reply is a span of a passage and that passage's marker,
in-process and through llama-cpp-python's server (which takes the grammar as a "grammar" field)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answer.copying import Passage, copy_grammar, is_span, prompt_passages
from rag.answer.prompting import PromptTemplates
from rag.types import Message

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[2]
TRAN = (
    "Nhà Trần là một triều đại quân chủ cai trị nước Đại Việt từ năm 1226 đến năm 1400. Đây là triều đại "
    "được lưu danh với những chiến công hiển hách trong lịch sử, ba lần đánh bại quân Nguyên Mông."
)
KEEPER = "Anh đạt 118 lần cản phá trong mùa giải 2019, nhiều nhất giải đấu. Đội bóng của anh là Hà Nội FC."


def _messages(question: str) -> list[Message]:
    t = PromptTemplates.load(REPO / "prompts")
    fenced = "\n\n".join(
        t.fill("passage", number=str(n), title=title, text=text)
        for n, title, text in ((1, "Nhà Trần", TRAN), (2, "Thủ môn", KEEPER))
    )
    return [
        Message("system", t.fill("answer_system")),
        Message("user", t.fill("answer_user", passages=fenced, question=question)),
    ]


@pytest.fixture(params=["llama-cpp", "openai-http"])
def generator(request: pytest.FixtureRequest):  # noqa: ANN201
    return request.getfixturevalue("real_generator" if request.param == "llama-cpp" else "http_generator")


def test_a_copied_reply_is_a_passage_span_and_its_own_passage_marker(generator) -> None:  # noqa: ANN001
    # free, the model answers this one with a name from neither passage ("Nhà Lý là vua đầu tiên của nhà Trần.")
    messages = _messages("Ai là vua đầu tiên của nhà Lý?")
    passages = prompt_passages(messages[-1].content)
    assert passages == [Passage(1, f"Nhà Trần\n{TRAN}"), Passage(2, f"Thủ môn\n{KEEPER}")]
    reply = generator.stream(messages, max_tokens=48, grammar=copy_grammar(passages)).text()
    found = re.fullmatch(r"(.+) \[(\d)\]\.", reply)
    assert found is not None, reply
    span, marker = found.group(1), int(found.group(2))
    assert is_span(span, [passages[marker - 1]])  # copied from the passage it cites


def test_a_right_short_answer_is_copied_unchanged(generator) -> None:  # noqa: ANN001
    messages = _messages("Nhà Trần được thành lập vào năm nào?")
    grammar = copy_grammar(prompt_passages(messages[-1].content))
    assert generator.stream(messages, max_tokens=48, grammar=grammar).text() == "1226 [1]."


def test_a_grammar_over_a_passage_with_a_han_gloss_decodes_without_aborting_the_process(generator) -> None:  # noqa: ANN001
    # the generator bans CJK tokens; a grammar that required "文" once made llama.cpp take token 0 and abort
    # ("Unexpected empty grammar stack after accepting piece: ! (0)"): the grammars leave such characters out
    from rag.answer.quoting import quote_grammar, split_reply

    t = PromptTemplates.load(REPO / "prompts")
    passage = "Tần Văn công (文公) là vị vua thứ 9 của nước Tần. Ông lên ngôi năm 765 TCN."
    fenced = t.fill("passage", number="1", title="Tần Văn công", text=passage)
    messages = [
        Message("system", t.fill("answer_system_quote")),
        Message("user", t.fill("answer_user", passages=fenced, question="Tần Văn công là vua thứ mấy của nước Tần?")),
    ]
    grammar = quote_grammar(prompt_passages(messages[-1].content))
    assert grammar is not None and "文" not in grammar
    quoted = split_reply(generator.stream(messages, max_tokens=64, grammar=grammar).text())
    assert quoted.quote == "Tần Văn công là vị vua thứ 9 của nước Tần.", quoted
    assert "9" in quoted.phrase
    copied = generator.stream(messages, max_tokens=32, grammar=copy_grammar(prompt_passages(messages[-1].content)))
    assert "文" not in copied.text()
