"""Settings: the only module that reads environment variables and rag.toml.

Precedence, lowest first: built-in defaults, ``rag.toml`` (or the file named by ``RAG_CONFIG``),
``RAG_*`` environment variables, then command-line flags applied by the CLI.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.answer.llama_cpu import EXTRA_BUFFERS
from rag.answer.settings import ANSWER_FORMS, COPY_SPANS, PASSAGE_ORDERS, READINGS, SPAN_CHOICES, AnswerSettings
from rag.checks.grounding import GroundingSettings
from rag.errors import ConfigError
from rag.index.base import STORES
from rag.index.faiss.vector_index import DEFAULT_ANN_THRESHOLD, DEFAULT_NPROBE
from rag.retrieval.retriever import FUSIONS, MODES, RetrievalSettings
from rag.text.chunking import ChunkSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-vi"


# Each stage's settings object holds its defaults; the flat user-facing Settings reads them from there.
_CHUNKS, _RETRIEVAL, _CHECKS, _ANSWER = ChunkSettings(), RetrievalSettings(), GroundingSettings(), AnswerSettings()

# Settings with a fixed set of values: a bad value is refused here, when settings are read, and nowhere else.
CHOICES: dict[str, tuple[str, ...]] = {
    "llm_extra_buffers": EXTRA_BUFFERS,
    "retrieval": MODES,
    "fusion": FUSIONS,
    "store": STORES,
    "passage_order": PASSAGE_ORDERS,
    "reading": READINGS,
    "answer_form": ANSWER_FORMS,
    "copy_span": COPY_SPANS,
    "span_choice": SPAN_CHOICES,
}


@dataclass(frozen=True)
class Settings:
    """Everything a user can configure; field names match rag.toml keys and RAG_<NAME> variables."""

    index: Path = Path("indexes/default")
    corpus: Path = Path("corpus")
    cache_dir: Path = field(default_factory=_default_cache_dir)
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    embedder: str = "default"  # "default", a local sentence-transformers folder, or a hub name
    llm: str = "default"  # "default" or a path to a GGUF file
    k: int = _ANSWER.k  # passages given to the model
    max_tokens: int = _ANSWER.max_tokens  # answer length limit
    n_ctx: int = 4096
    threads: int = 0  # 0: all cores
    # llama.cpp's extra weight buffers (repacking, AMX): auto turns them off only on a CPU and build with
    # AMX, whose kernel crashes on Q4_K_M (llama.cpp#20824); on | off force them
    llm_extra_buffers: str = "auto"
    temperature: float = _ANSWER.temperature
    # any OpenAI-compatible server as the LLM instead of the in-process GGUF (README, "Any OpenAI-compatible server")
    llm_url: str = ""  # base URL, e.g. http://127.0.0.1:8080/v1; empty: the in-process model
    llm_model: str = ""  # model name on that server; empty: the server's first model
    llm_api_key: str = ""  # sent as Authorization: Bearer <key>
    llm_timeout: float = 120.0  # seconds without a byte from the server before giving up
    # `rag serve`: with a key set, every /v1 route needs Authorization: Bearer <key>
    api_key: str = ""
    retrieval: str = _RETRIEVAL.mode  # hybrid | dense | lexical
    fusion: str = _RETRIEVAL.fusion  # zscore | rrf
    rrf_k: int = _RETRIEVAL.rrf_k
    dense_weight: float = _RETRIEVAL.dense_weight
    lexical_weight: float = _RETRIEVAL.lexical_weight
    coverage_weight: float = _RETRIEVAL.coverage_weight  # best-sentence query coverage, added after zscore fusion
    candidates: int = _RETRIEVAL.candidates
    restore_diacritics: int = int(_RETRIEVAL.restore_diacritics)
    ann_threshold: int = DEFAULT_ANN_THRESHOLD  # from this many chunks on, FAISS switches from exact to IVF-SQ8
    nprobe: int = DEFAULT_NPROBE  # IVF lists scanned per query
    # for new indexes; an existing index keeps the chunking it was built with
    chunk_max_tokens: int = _CHUNKS.max_tokens
    chunk_overlap_tokens: int = _CHUNKS.overlap_tokens
    store: str = "faiss"  # faiss | milvus: for new indexes (and --rebuild); an index keeps the store it was built in
    milvus_uri: str = ""  # "": a Milvus Lite file milvus.db in the index folder; a path ending .db; http://host:19530
    embed_batch_size: int = 16
    max_question_chars: int = _ANSWER.max_question_chars
    uploads: Path = Path("uploads")  # where files uploaded in the browser are kept
    max_upload_mb: int = 50
    # login of the browser chat (rag ui): required when it is bound beyond loopback, unless --no-auth
    ui_user: str = "rag"
    ui_password: str = ""  # RAG_UI_PASSWORD; a long random token works as well as a password
    max_file_mb: int = 100  # larger files are reported and skipped by ingest (embedding 100 MB takes hours on 2 cores)
    offline: int = 1  # 1: never touch the network (HF_HUB_OFFLINE=1); 0: allow hub model names to download
    # Answers (README, "Answers you can trust"); tuned on MLQA-vi dev with distractors.
    passage_order: str = _ANSWER.passage_order  # retrieval | evidence (best question-covering sentence first)
    # joint: one prompt with all passages | each: one prompt per passage, best reply | fallback: each where joint fails
    reading: str = _ANSWER.reading
    likelihood_weight: float = _ANSWER.likelihood_weight  # weight of a reply's mean token log-prob (reading each)
    key_weight: float = _ANSWER.key_weight  # weight of its supporting sentence's share of the question's key terms
    answer_form: str = _ANSWER.answer_form  # sentence: "… vào năm 1226 [1]." from a checked "1226 [1]." | phrase
    # off | fallback: a reply that is no passage span is decoded again under a grammar of passage spans | always
    copy_span: str = _ANSWER.copy_span
    # free | likelihood: the reply's fact swapped for typed passage spans, the model's likeliest kept | unsupported
    span_choice: str = _ANSWER.span_choice
    span_margin: float = _ANSWER.span_margin  # log-probability a span must beat the free reply by
    span_prior: float = _ANSWER.span_prior  # weight of its log-probability without the passages, subtracted
    # 1: the model quotes the passage sentence holding the answer, then "→ phrase"; the quote is hidden
    quote_first: int = int(_ANSWER.quote_first)
    prompt_chars: int = (
        _ANSWER.prompt_chars
    )  # characters of question-relevant passage sentences in the prompt; 0: whole passages
    prompt_spread: int = int(_ANSWER.prompt_spread)  # 1: every passage's best sentence in the prompt first
    prompt_passages: int = _ANSWER.prompt_passages  # passages the prompt shows, best retrieved first; 0: all
    answer_prompt_tokens: int = (
        _ANSWER.answer_prompt_tokens or 0
    )  # passages are dropped, weakest first, until the answer prompt fits
    check_answers: int = 1  # 1: check every sentence against the passages, refuse or fall back; 0: raw model text
    support_threshold: float = _CHECKS.support_threshold  # claim coverage from which a passage supports a sentence
    evidence_threshold: float = _CHECKS.evidence_threshold  # question coverage below which the passages fail: refuse
    extractive_fallback: int = int(_CHECKS.extractive_fallback)  # 1: a failed answer becomes the best sentence
    # p(answerable) below which retrieval looks like "not in the documents" (rag.checks.answerability):
    # -1: the threshold fitted with the model (rag/data/answerability.json); 0: off; 0..1: your own
    answerability_threshold: float = -1.0
    # 1: a sentence holding the answer's phrase (folded, measure words optional) supports it
    phrase_support: int = int(_CHECKS.phrase_support)
    # share of the question's key terms the sentence supporting an answer (with its title) must hold
    # 0.3 was fitted on the tuning half but lost 5 of 35 right answers on the reporting half: off
    key_threshold: float = _CHECKS.key_threshold
    # the extractive answer must hold this share of the key terms and a year / number / name when the
    # question asks "năm nào" / "bao nhiêu" / "ai" / "ở đâu"; -1: any best-covering sentence
    extractive_key_threshold: float = _CHECKS.extractive_key_threshold
    # 1: an answer no check confirms and no passage sentence replaces is kept, marked unchecked
    keep_unchecked: int = int(_CHECKS.keep_unchecked)
    # 1: where retrieval or the support check would refuse, offer the closest passage sentence instead
    hedge: int = int(_CHECKS.hedge)
    # with hedge: an evidence refusal whose evidence is at least this hedges instead (-1: evidence always refuses)
    evidence_hedge: float = -1.0 if _CHECKS.evidence_hedge is None else _CHECKS.evidence_hedge
    # 1: where the answerability model would refuse, ask and keep a supported answer
    verify_unanswerable: int = int(_CHECKS.verify_unanswerable)
    # 1: where the model refuses though the gates passed, a passage sentence holding the question's key terms and
    # an answer of the type asked for replaces the refusal
    refusal_fallback: int = int(_CHECKS.refusal_fallback)

    def __post_init__(self) -> None:
        for key in CHOICES:
            _check_choice(key, getattr(self, key), "the settings")

    def replace(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; None values are ignored (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_settings(env: dict[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Defaults, then rag.toml, then RAG_* variables."""
    env = dict(os.environ) if env is None else env
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    config_file = Path(env["RAG_CONFIG"]) if env.get("RAG_CONFIG") else cwd / "rag.toml"
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{config_file} is not valid TOML: {e}; fix or remove it") from e
        section = data.get("rag", data)
        for key, value in section.items():
            values[key] = _coerce(key, value, str(config_file))
    elif env.get("RAG_CONFIG"):
        raise ConfigError(f"RAG_CONFIG={config_file} does not exist: point it at a rag.toml file")
    for f in fields(Settings):
        name = f"RAG_{f.name.upper()}"
        if env.get(name, "") != "":
            values[f.name] = _coerce(f.name, env[name], name)
    return Settings(**values)


def _coerce(key: str, value: Any, origin: str) -> Any:
    types = {f.name: f.type for f in fields(Settings)}
    if key not in types:
        raise ConfigError(f"unknown setting {key!r} in {origin}; known: {', '.join(sorted(types))}")
    kind = types[key]
    try:
        if kind == "Path":
            return Path(str(value)).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"setting {key}={value!r} from {origin} should be a {kind}") from e
    return _check_choice(key, str(value), origin)


def _check_choice(key: str, value: Any, origin: str) -> Any:
    """The value, where the setting takes any; ConfigError naming the allowed values where it is not one of them."""
    allowed = CHOICES.get(key)
    if allowed is not None and value not in allowed:
        raise ConfigError(f"setting {key}={value!r} from {origin}: use one of {', '.join(allowed)}")
    return value
