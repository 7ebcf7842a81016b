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

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-vi"


@dataclass(frozen=True)
class Settings:
    """Everything a user can configure; field names match rag.toml keys and RAG_<NAME> variables."""

    index: Path = Path("indexes/default")
    corpus: Path = Path("corpus")
    cache_dir: Path = field(default_factory=_default_cache_dir)
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    embedder: str = "default"  # "default", a local sentence-transformers folder, or a hub name
    llm: str = "default"  # "default" or a path to a GGUF file
    k: int = 4  # passages given to the model
    max_tokens: int = 384  # answer length limit
    n_ctx: int = 4096
    threads: int = 0  # 0: all cores
    # llama.cpp's extra weight buffers (repacking, AMX): auto turns them off only on a CPU and build with
    # AMX, whose kernel crashes on Q4_K_M (llama.cpp#20824); on | off force them
    llm_extra_buffers: str = "auto"
    temperature: float = 0.0
    retrieval: str = "hybrid"  # hybrid | dense | lexical
    fusion: str = "zscore"  # zscore | rrf
    rrf_k: int = 60
    dense_weight: float = 1.5
    lexical_weight: float = 1.0
    coverage_weight: float = 1.5  # best-sentence query coverage, added after zscore fusion
    candidates: int = 50
    restore_diacritics: int = 1
    ann_threshold: int = 200_000  # from this many chunks on, FAISS switches from exact to IVF-SQ8
    nprobe: int = 128  # IVF lists scanned per query
    chunk_max_tokens: int = 300  # for new indexes; an existing index keeps the chunking it was built with
    chunk_overlap_tokens: int = 60
    embed_batch_size: int = 16
    max_question_chars: int = 2000
    uploads: Path = Path("uploads")  # where files uploaded in the browser are kept
    max_upload_mb: int = 50
    max_file_mb: int = 100  # larger files are reported and skipped by ingest (embedding 100 MB takes hours on 2 cores)
    offline: int = 1  # 1: never touch the network (HF_HUB_OFFLINE=1); 0: allow hub model names to download
    # Answers (README, "Answers you can trust"); tuned on MLQA-vi dev with distractors.
    passage_order: str = "retrieval"  # retrieval | evidence (best question-covering sentence first)
    prompt_chars: int = 1000  # characters of question-relevant passage sentences in the prompt; 0: whole passages
    answer_prompt_tokens: int = 500  # passages are dropped, weakest first, until the answer prompt fits
    check_answers: int = 1  # 1: check every sentence against the passages, refuse or fall back; 0: raw model text
    support_threshold: float = 0.6  # claim coverage from which a passage supports an answer sentence
    evidence_threshold: float = 0.3  # question coverage below which the passages cannot hold the answer: refuse
    extractive_fallback: int = 1  # 1: a failed answer becomes the best passage sentence, cited; 0: the refusal
    # p(answerable) below which retrieval looks like "not in the documents" (rag.checks.answerability):
    # -1: the threshold fitted with the model (rag/data/answerability.json); 0: off; 0..1: your own
    answerability_threshold: float = -1.0
    phrase_support: int = 1  # 1: a sentence holding the answer's phrase (folded, measure words optional) supports it
    # share of the question's key terms the sentence supporting an answer (with its title) must hold
    key_threshold: float = 0.0  # 0.3 was fitted on the tuning half but lost 5 of 35 right answers on the reporting half
    # the extractive answer must hold this share of the key terms and a year / number / name when the
    # question asks "năm nào" / "bao nhiêu" / "ai" / "ở đâu"; -1: any best-covering sentence
    extractive_key_threshold: float = 0.2
    keep_unchecked: int = 1  # 1: an answer no check confirms and no passage sentence replaces is kept, marked unchecked
    hedge: int = 1  # 1: where retrieval or the support check would refuse, offer the closest passage sentence instead
    verify_unanswerable: int = 0  # 1: where the answerability model would refuse, ask and keep a supported answer

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
        return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"setting {key}={value!r} from {origin} should be a {kind}") from e
