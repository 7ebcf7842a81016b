"""Reading every passage (issue 15.4): one prompt per passage, the reply its own passage supports chosen.

A real FAISS store with a HashEmbedder; a ScriptedGenerator answers each one-passage prompt in turn.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.reading import Candidate, choose, renumber
from rag.answer.settings import AnswerSettings
from rag.checks.analysis import analyze
from rag.checks.grounding import GroundingSettings
from rag.errors import ConfigError
from rag.retrieval.retriever import DenseRetriever
from rag.types import Chunk, Document, Hit
from tests.answer.test_assistant_checks import _assistant, _run
from tests.fakes import dense_retriever

DOCS = [
    Document("docs/hue.txt", "Huế", "Huế là cố đô của triều Nguyễn, bên bờ sông Hương."),
    Document("docs/ha-noi.txt", "Hà Nội", "Thủ đô của Việt Nam là Hà Nội từ năm 1976."),
]
QUESTION = "Thủ đô của Việt Nam là thành phố nào?"
CHECKS = GroundingSettings(support_threshold=0.6, evidence_threshold=0.3)


@pytest.fixture
def retriever(tmp_path: Path) -> DenseRetriever:
    return dense_retriever(DOCS, tmp_path / "idx")


def test_each_passage_is_asked_alone_and_the_supported_reply_wins(retriever: DenseRetriever) -> None:
    hits = retriever.search(QUESTION, 2)
    replies = {"docs/hue.txt": "Đà Lạt [1].", "docs/ha-noi.txt": "Hà Nội [1]."}  # Đà Lạt: in no passage
    assistant, generator = _assistant(retriever, [replies[h.chunk.source] for h in hits], reading="each", k=2)
    streamed, answer = _run(assistant, QUESTION)
    assert len(generator.prompts) == 2  # no joint prompt: one per passage
    for prompt, hit in zip(generator.prompts, hits, strict=True):
        user = prompt[-1].content
        assert user.count("<tài_liệu ") == 1 and hit.chunk.title in user and 'số="1"' in user
    hanoi = [h.chunk.source for h in hits].index("docs/ha-noi.txt") + 1
    assert answer.text == streamed == f"Hà Nội [{hanoi}]."
    assert [(s.status, s.supported_by) for s in answer.sentences] == [("supported", hanoi)]
    assert answer.usage.prompt_tokens == sum(generator.count_prompt_tokens(p) for p in generator.prompts)


def test_fallback_reads_each_passage_only_when_the_joint_reply_fails(retriever: DenseRetriever) -> None:
    assistant, generator = _assistant(retriever, ["Hà Nội [2]."], reading="fallback", k=2)
    _, answer = _run(assistant, QUESTION)
    assert len(generator.prompts) == 1 and answer.outcome == "answered"
    hits = retriever.search(QUESTION, 2)
    replies = {"docs/hue.txt": "Không tìm thấy thông tin này trong tài liệu.", "docs/ha-noi.txt": "Hà Nội [1]."}
    per_passage = [replies[h.chunk.source] for h in hits]
    assistant, generator = _assistant(retriever, ["Đà Lạt [1].", *per_passage], reading="fallback", k=2)
    _, answer = _run(assistant, QUESTION, unchecked=True)
    assert len(generator.prompts) == 3
    assert answer.unchecked == "Đà Lạt [1]."  # the model's own answer is the joint prompt's
    hanoi = [h.chunk.source for h in hits].index("docs/ha-noi.txt") + 1
    assert answer.sentences[0].supported_by == hanoi


def test_choose_ranks_support_then_likelihood_then_rank() -> None:
    hits = [Hit(Chunk(f"c{n}", f"d{n}.txt", t, t, 0, len(t)), 1.0, n) for n, t in enumerate(["Huế", "Hà Nội"], 1)]
    hits = [
        Hit(Chunk(h.chunk.chunk_id, h.chunk.source, h.chunk.title, text, 0, len(text)), 1.0, h.rank)
        for h, text in zip(hits, [DOCS[0].text, DOCS[1].text], strict=True)
    ]
    shown = analyze(QUESTION, hits)
    hue, hanoi = Candidate(1, "Đà Lạt [1].", -0.1, 2), Candidate(2, "Hà Nội [2].", -4.5, 3)
    assert choose([hue, hanoi], shown, CHECKS, likelihood_weight=0.0) is hanoi  # only Hà Nội is in its own passage
    assert choose([hue, hanoi], shown, CHECKS, likelihood_weight=1.0) is hue  # mean log-probs: -0.05 beats 1 - 1.5
    assert choose([hue, hanoi], shown, None, likelihood_weight=0.0) is hue  # no checks: rank decides ties
    refusal = Candidate(1, "Không tìm thấy thông tin này trong tài liệu.", -0.1, 9)
    assert choose([refusal], shown, CHECKS, likelihood_weight=0.0) is None
    assert renumber("Hà Nội [1], thủ đô [1].", 3) == "Hà Nội [3], thủ đô [3]."


def test_unknown_reading_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="reading 'all' is unknown: use one of joint, each, fallback"):
        AnswerSettings(reading="all")
