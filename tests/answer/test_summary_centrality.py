"""How central a unit is to its document (summary_centrality), and how it moves a summary's picks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rag.answer.question import collect
from rag.answer.summarize import Summarizer, SummarySettings, candidate_units, select_units
from rag.answer.summary_centrality import centrality
from rag.errors import RagError
from rag.types import Chunk
from tests.fakes import HashEmbedder

# a headline fact in words the rest of the document shares (the population), and a denser outlier (the peaks)
PROVINCE = [
    "Bình Thuận là tỉnh duyên hải cực Nam Trung Bộ của Việt Nam.",
    "Dân số của tỉnh Bình Thuận là 1.266.228 người, phần lớn sống ở ven biển của tỉnh.",
    "Kinh tế của tỉnh dựa vào biển, du lịch của tỉnh và nông nghiệp của tỉnh với 2 vụ lúa.",
    "Đất đai của tỉnh phần lớn là đồi cát ven biển, và khí hậu của tỉnh khô nhất 3 miền.",
    "Cao độ các đỉnh núi lần lượt là 1.302 m, 1.548 m và 1.642 m.",
]
SOURCE = "binh-thuan.txt"
TWO = replace(SummarySettings(), max_sentences=2, centrality_min_words=0)


def _units() -> list:
    text = "\n".join(PROVINCE)
    return candidate_units([Chunk("bt-0", SOURCE, "Bình Thuận", text, 0, len(text))])


def _rounded(scores: dict[int, float]) -> dict[int, float]:
    return {k: round(v, 2) for k, v in scores.items()}


def test_each_measure_scales_a_document_s_units_from_least_to_most_central() -> None:
    units, embedder = _units(), HashEmbedder()
    vectors = embedder.embed_passages([u.text for u in units])
    mean = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    raw = vectors @ mean  # the oracle: cosine with the mean, scaled to 0..1
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    scores = centrality(units, embedder, kind="centroid", sources={SOURCE})
    assert np.allclose([scores[u.position] for u in units], expected)
    assert _rounded(scores) == {0: 0.49, 1: 1.0, 2: 0.71, 3: 0.66, 4: 0.0}  # the population most, the peaks least
    # degree: how many other units each has a cosine of 0.25 or more with (1, 2, 2, 1, 0), scaled
    degree = centrality(units, embedder, kind="degree", threshold=0.25, sources={SOURCE})
    assert _rounded(degree) == {0: 0.5, 1: 1.0, 2: 1.0, 3: 0.5, 4: 0.0}
    # title: the cosine with "Bình Thuận" as a query; the two units naming it lead
    assert _rounded(centrality(units, embedder, kind="title", sources={SOURCE})) == {
        0: 0.79,
        1: 1.0,
        2: 0.32,
        3: 0.0,
        4: 0.53,
    }
    assert centrality(units, embedder, sources={"other.txt"}) == {}  # only the documents asked for


def test_centrality_lets_the_headline_fact_outrank_a_denser_outlier() -> None:
    units = _units()
    central = centrality(units, HashEmbedder(), kind="centroid", sources={SOURCE})

    def picks(**change: object) -> list[int]:
        settings = replace(TWO, **change)
        return [u.position for u in select_units(units, budget_words=200, settings=settings, central=central)]

    # off: the peaks' three heights (gain 3 + 2.4 + 1.92 = 7.32) beat the population (one new number: 3)
    assert picks() == [0, 4]
    assert picks(centrality_weight=1.0) == [0, 4]  # 3 x 2 = 6 < 7.32 x 1 (the peaks are least central: 0)
    assert picks(centrality_weight=2.0) == [0, 1]  # 3 x 3 = 9 > 7.32
    assert picks(centrality_weight=4.0, centrality_add=True) == [0, 4]  # 3 + 4 = 7 < 7.32
    assert picks(centrality_weight=5.0, centrality_add=True) == [0, 1]  # 3 + 5 = 8 > 7.32


def test_the_summarizer_embeds_a_long_document_once_and_works_without_an_embedder() -> None:
    text = "\n".join(PROVINCE)
    chunks = [Chunk("bt-0", SOURCE, "Bình Thuận", text, 0, len(text))]
    on = replace(TWO, centrality_weight=2.0)
    embedder = HashEmbedder()
    summary = collect(Summarizer(None, None, settings=on, embedder=embedder).stream(chunks, topic="", asked="BT"))
    assert (embedder.passage_calls, embedder.passages_embedded) == (1, 5)  # one call for the document's 5 units
    units = _units()
    lead, people, peaks = (units[i].text[:-1] for i in (0, 1, 4))
    assert summary.text == f"{lead} [1]. {people} [1]."  # "Dân số … là 1.266.228 người" (trimmed)
    # without an embedder (as `rag summarize` and the chat call it today) the setting changes nothing
    plain = collect(Summarizer(None, None, settings=on).stream(chunks, topic="", asked="BT"))
    assert plain.text == f"{lead} [1]. {peaks} [1]."
    # a document under centrality_min_words, and a topic summary, are not embedded
    short = HashEmbedder()
    collect(
        Summarizer(None, None, settings=replace(on, centrality_min_words=4000), embedder=short).stream(
            chunks, topic="", asked="BT"
        )
    )
    collect(Summarizer(None, None, settings=on, embedder=short).stream(chunks, topic="dân số", asked="", on_topic=True))
    assert short.passage_calls == 0


def test_an_unknown_measure_names_the_ones_there_are() -> None:
    with pytest.raises(RagError, match="'pagerank' is not one of centroid, degree, title"):
        centrality(_units(), HashEmbedder(), kind="pagerank", sources={SOURCE})
