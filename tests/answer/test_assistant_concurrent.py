"""Many tabs, one shared model: each answer keeps its own text, usage and token-limit cut (threaded fakes)."""

from __future__ import annotations

import threading
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.types import Answer, Document
from tests.fakes import ThreadedGenerator, dense_retriever, make_assistant

REPO = Path(__file__).resolve().parents[2]

CITIES = {
    "Hà Nội": "Hà Nội là thủ đô của Việt Nam từ năm 1976.",
    "Huế": "Huế là cố đô của triều Nguyễn, bên bờ sông Hương.",
    "Đà Nẵng": "Đà Nẵng có cầu Rồng bắc qua sông Hàn.",
    "Cần Thơ": "Cần Thơ nổi tiếng với chợ nổi Cái Răng.",
    "Hạ Long": "Vịnh Hạ Long có hàng nghìn đảo đá vôi.",
    "Đà Lạt": "Đà Lạt có hồ Xuân Hương và nhiều đồi thông.",
    "Vũng Tàu": "Vũng Tàu có tượng Chúa Kitô trên núi Nhỏ.",
    "Hội An": "Hội An có Chùa Cầu do thương nhân Nhật Bản dựng.",
}
DOCS = [Document(f"docs/{n}.txt", city, text) for n, (city, text) in enumerate(CITIES.items())]
QUESTIONS = {city: f"{text[:-1]} phải không?" for city, text in CITIES.items()}
REPLIES = {f"Câu hỏi: {q}": f"{CITIES[city]} [1]" for city, q in QUESTIONS.items()}


def _assistant(tmp_path: Path, generator: ThreadedGenerator, **options) -> Assistant:
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4096 - 384)
    return make_assistant(dense_retriever(DOCS, tmp_path / "idx"), generator, builder, k=1, **options)


def test_eight_tabs_at_once_each_get_their_own_answer_and_usage(tmp_path: Path) -> None:
    generator = ThreadedGenerator(REPLIES, delay=0.001)
    assistant = _assistant(tmp_path, generator)
    answers: dict[str, Answer] = {}
    start = threading.Barrier(len(QUESTIONS))

    def tab(city: str) -> None:
        start.wait()
        answers[city] = assistant.ask(QUESTIONS[city])

    threads = [threading.Thread(target=tab, args=(city,)) for city in CITIES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not generator.overlapped  # one generation at a time on the one model
    for city, answer in answers.items():
        assert answer.text == f"{CITIES[city]} [1]"
        assert answer.citations[0].chunk.source == f"docs/{list(CITIES).index(city)}.txt"
        assert answer.usage == generator.usage_of[answer.text]  # what its own call produced
        assert answer.usage.completion_tokens == len(CITIES[city].split()) + 1
    assert len(answers) == 8


def test_a_tab_paused_mid_answer_neither_blocks_another_nor_takes_its_usage(tmp_path: Path) -> None:
    long_reply = "Hà Nội là thủ đô của Việt Nam [1]. Thành phố nằm bên sông Hồng và có"
    replies = {f"Câu hỏi: {QUESTIONS['Hà Nội']}": long_reply, f"Câu hỏi: {QUESTIONS['Huế']}": "Huế là cố đô [1]."}
    generator = ThreadedGenerator(replies, delay=0.0)
    assistant = _assistant(tmp_path, generator, max_tokens=16)
    first = assistant.stream(QUESTIONS["Hà Nội"])
    streamed = ""
    while len(streamed) < len("Hà Nội là thủ đô của Việt Nam [1]. Thành phố nằm bên sông Hồng và"):
        streamed += next(first)  # this tab reads its answer up to the last words, then pauses

    other: list[Answer] = []
    tab = threading.Thread(target=lambda: other.append(assistant.ask(QUESTIONS["Huế"])))
    tab.start()
    tab.join(timeout=5)
    assert [a.text for a in other] == ["Huế là cố đô [1]."]  # not stuck behind the paused tab

    answer = [event for event in first if isinstance(event, Answer)][0]
    assert answer.usage.completion_tokens == 16  # its own 16 tokens, not the other tab's 5
    assert answer.text == "Hà Nội là thủ đô của Việt Nam [1]."  # cut at the limit: unfinished sentence dropped
    assert other[0].usage.completion_tokens == 5
