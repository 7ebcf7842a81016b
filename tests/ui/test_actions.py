"""The chat's summary actions (ui/actions.py) over a real index of three documents (hash embedder, no LLM call)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rag.ui.actions import ChatActions
from rag.ui.backend import Backend

from rag.setup.config import Settings
from tests.fakes import HashEmbedder, ScriptedGenerator

LAKES = (
    "Hồ Tây\n\nHồ Tây là hồ nước ngọt lớn nhất nội thành Hà Nội, rộng khoảng 500 héc-ta. "
    "Quanh hồ Tây có chùa Trấn Quốc được xây từ thế kỷ thứ sáu."
)
RIVERS = (
    "Sông Hồng\n\nSông Hồng dài 1.149 km và chảy qua Hà Nội. "
    "Hồ Tây rộng khoảng 500 héc-ta, là hồ lớn nhất nội thành Hà Nội, nằm gần sông Hồng. "
    "Năm 1999 hồ Tây được nạo vét 2 triệu mét khối bùn."
)
HUE = "Huế\n\nHuế là cố đô của triều Nguyễn, bên bờ sông Hương, có 10 lăng vua."


@pytest.fixture
def actions(tmp_path: Path) -> ChatActions:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in (("ho-tay.txt", LAKES), ("song-hong.txt", RIVERS), ("hue.txt", HUE)):
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(
        index=tmp_path / "index", corpus=corpus, uploads=tmp_path / "uploads", cache_dir=tmp_path / "cache", k=3
    )
    backend = Backend(settings, embedder=HashEmbedder(), generator=ScriptedGenerator([]))
    backend.ingest_corpus()
    return ChatActions(backend)


def _last(outputs) -> tuple:  # noqa: ANN001 - the yielded (chat, sources, turns) tuples
    steps = list(outputs)
    return steps, steps[-1]


def test_a_topic_summary_streams_then_shows_the_checked_text_cited_per_document(actions: ChatActions) -> None:
    steps, (chat, sources, turns) = _last(actions.summarize_topic("hồ Tây", [], max_tokens=400))
    assert steps[0][0][-1]["content"] == " ▌"  # the turn opens empty, streaming
    assert any(" ▌" in s[0][-1]["content"] and "500" in s[0][-1]["content"] for s in steps[1:-1])
    answer = turns[-1].answer
    assert turns[-1].question == "Tóm tắt chủ đề: hồ Tây"
    assert chat[0] == {"role": "user", "content": "Tóm tắt chủ đề: hồ Tây"}
    # the 500 ha figure is in both documents: said once; each other fact cited to the document stating it
    assert answer.text.count("500 héc-ta") == 1
    assert "1.149 km" not in answer.text and "Huế" not in answer.text  # off topic
    by_source = {c.chunk.source.rsplit("/", 1)[-1]: c.marker for c in answer.citations}
    assert set(by_source) == {"ho-tay.txt", "song-hong.txt"}
    assert f"Trấn Quốc được xây từ thế kỷ thứ sáu [{by_source['ho-tay.txt']}]." in answer.text
    assert f"2 triệu mét khối bùn [{by_source['song-hong.txt']}]." in answer.text
    assert all(s.status == "supported" for s in answer.sentences)
    assert " ▌" not in chat[-1]["content"]  # the streamed text was replaced by the checked one
    links = re.findall(r'href="#(src-0-\d+)"', chat[-1]["content"])  # each citation opens its passage
    assert links and all(f'id="{anchor}"' in sources for anchor in links)


def test_a_document_summary_narrowed_to_a_topic_keeps_that_documents_facts_on_it(actions: ChatActions) -> None:
    source = next(src for _, src in actions.backend.documents() if src.endswith("song-hong.txt"))
    _, (_, _, turns) = _last(actions.summarize_document(source, "hồ Tây", [], max_tokens=400))
    answer = turns[-1].answer
    assert turns[-1].question == "Tóm tắt tài liệu: Sông Hồng (chủ đề: hồ Tây)"
    assert "500 héc-ta" in answer.text and "1.149 km" not in answer.text
    assert {c.chunk.source for c in answer.citations} == {source}


def test_a_summary_with_nothing_chosen_asks_for_a_choice_and_adds_no_turn(actions: ChatActions) -> None:
    with pytest.warns(UserWarning, match="Hãy nhập một chủ đề để tóm tắt."):  # gr.Warning outside a request
        _, (chat, _, turns) = _last(actions.summarize_topic("   ", [], max_tokens=400))
    assert (chat, turns) == ([], [])
    with pytest.warns(UserWarning, match="Hãy chọn một tài liệu để tóm tắt."):
        _, (chat, _, turns) = _last(actions.summarize_document(None, "", [], max_tokens=400))
    assert (chat, turns) == ([], [])


def test_a_topic_summary_error_is_a_vietnamese_chat_message(actions: ChatActions) -> None:
    _, (chat, _, turns) = _last(actions.summarize_topic("x" * 5000, [], max_tokens=400))
    assert turns[-1].error.startswith("Câu hỏi quá dài: 5000 ký tự")
    assert "rag-error" in chat[-1]["content"]


def test_a_summary_keeps_to_the_sentences_the_slider_asks_for(actions: ChatActions) -> None:
    source = next(src for _, src in actions.backend.documents() if src.endswith("song-hong.txt"))
    _, (_, _, turns) = _last(actions.summarize_document(source, "", [], max_tokens=400))
    assert len(turns[-1].answer.sentences) == 3  # the whole document: its three sentences
    _, (_, _, turns) = _last(actions.summarize_document(source, "", [], max_tokens=400, sentences=1.0))
    assert [s.text for s in turns[-1].answer.sentences] == ["Sông Hồng dài 1.149 km và chảy qua Hà Nội."]
    _, (_, _, turns) = _last(actions.summarize_topic("hồ Tây", [], max_tokens=400, sentences=1))
    assert len(turns[-1].answer.sentences) == 1


def test_a_sentence_count_out_of_range_is_a_vietnamese_chat_message(actions: ChatActions) -> None:
    _, (chat, _, turns) = _last(actions.summarize_topic("hồ Tây", [], max_tokens=400, sentences=41))
    assert turns[-1].error == "Bản tóm tắt có thể dài từ 1 đến 40 câu, không phải 41 câu."
    assert "rag-error" in chat[-1]["content"]
