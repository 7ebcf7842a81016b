"""Settings: defaults < rag.toml < RAG_* variables; bad keys and values raise ConfigError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.setup.config import PROJECT_ROOT, Settings, load_settings


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder and an environment without RAG_* variables."""
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(cwd: Path) -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.index == Path("indexes/default")
    assert settings.corpus == Path("corpus")
    assert settings.cache_dir == cwd / "cache" / "rag-vi"
    assert settings.prompts_dir == PROJECT_ROOT / "prompts"
    assert (settings.embedder, settings.llm) == ("default", "default")
    assert (settings.k, settings.max_tokens, settings.n_ctx, settings.temperature) == (4, 384, 4096, 0.0)
    assert (settings.chunk_max_tokens, settings.chunk_overlap_tokens) == (300, 60)
    assert (settings.max_question_chars, settings.offline) == (2000, 1)


def test_rag_toml_overrides_defaults(cwd: Path) -> None:
    (cwd / "rag.toml").write_text(
        '[rag]\nk = 6\nindex = "indexes/luat"\ntemperature = 0.2\nllm = "models/x.gguf"\n', encoding="utf-8"
    )
    settings = load_settings()
    assert (settings.k, settings.index, settings.temperature, settings.llm) == (
        6,
        Path("indexes/luat"),
        0.2,
        "models/x.gguf",
    )
    assert settings.max_tokens == 384  # untouched keys keep their defaults


def test_rag_toml_without_table(cwd: Path) -> None:
    (cwd / "rag.toml").write_text("k = 3\n", encoding="utf-8")
    assert load_settings().k == 3


def test_env_overrides_toml(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cwd / "rag.toml").write_text("[rag]\nk = 6\nmax_tokens = 100\n", encoding="utf-8")
    monkeypatch.setenv("RAG_K", "8")
    monkeypatch.setenv("RAG_INDEX", "~/idx")
    settings = load_settings()
    assert (settings.k, settings.max_tokens) == (8, 100)
    assert settings.index == Path("~/idx").expanduser()


def test_empty_env_value_is_ignored(cwd: Path) -> None:
    assert load_settings(env={"RAG_K": ""}, cwd=cwd).k == 4


def test_explicit_env_and_cwd(tmp_path: Path, cwd: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "rag.toml").write_text("[rag]\nn_ctx = 2048\n", encoding="utf-8")
    settings = load_settings(env={"RAG_THREADS": "2"}, cwd=other)
    assert (settings.n_ctx, settings.threads) == (2048, 2)


def test_rag_config_names_the_file(cwd: Path) -> None:
    (cwd / "custom.toml").write_text("[rag]\nk = 9\n", encoding="utf-8")
    assert load_settings(env={"RAG_CONFIG": str(cwd / "custom.toml")}, cwd=cwd).k == 9
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"RAG_CONFIG": str(cwd / "missing.toml")}, cwd=cwd)


def test_unknown_key_in_toml(cwd: Path) -> None:
    (cwd / "rag.toml").write_text("[rag]\ntop_k = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting 'top_k' in .*rag\.toml"):
        load_settings()


@pytest.mark.parametrize(("name", "value"), [("RAG_K", "bốn"), ("RAG_MAX_TOKENS", "1.5"), ("RAG_TEMPERATURE", "nóng")])
def test_bad_number_in_env(cwd: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"from {name} should be a"):
        load_settings()


def test_bad_int_in_toml(cwd: Path) -> None:
    (cwd / "rag.toml").write_text('[rag]\nk = "four"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"setting k='four' from .*rag\.toml should be a int"):
        load_settings()


def test_invalid_toml(cwd: Path) -> None:
    (cwd / "rag.toml").write_text("[rag\nk = 4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings()


def test_replace_ignores_none() -> None:
    settings = Settings().replace(k=None, index=Path("x"))
    assert (settings.k, settings.index) == (4, Path("x"))


def test_a_bad_llm_extra_buffers_is_refused_when_settings_are_read(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LLM_EXTRA_BUFFERS", "maybe")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == "setting llm_extra_buffers='maybe' from RAG_LLM_EXTRA_BUFFERS: use one of auto, on, off"
    monkeypatch.delenv("RAG_LLM_EXTRA_BUFFERS")
    (cwd / "rag.toml").write_text('[rag]\nllm_extra_buffers = "ON"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"llm_extra_buffers='ON' from .*rag\.toml: use one of auto, on, off$"):
        load_settings()
    with pytest.raises(
        ConfigError, match=r"^setting llm_extra_buffers='' from the settings: use one of auto, on, off$"
    ):
        Settings(llm_extra_buffers="")
    with pytest.raises(ConfigError, match="from the settings: use one of auto, on, off"):
        Settings().replace(llm_extra_buffers="yes")
    (cwd / "rag.toml").unlink()
    assert [load_settings(env={"RAG_LLM_EXTRA_BUFFERS": v}).llm_extra_buffers for v in ("auto", "on", "off")] == [
        "auto",
        "on",
        "off",
    ]


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("retrieval", "hybrid, dense, lexical"),
        ("fusion", "zscore, rrf"),
        ("store", "faiss, milvus"),
        ("passage_order", "retrieval, evidence"),
        ("reading", "joint, each, fallback"),
        ("answer_form", "sentence, phrase"),
    ],
)
def test_every_setting_with_fixed_values_is_refused_when_read(cwd: Path, name: str, allowed: str) -> None:
    """Before any index is opened or built: the error names the value, where it came from and the allowed ones."""
    env_name = f"RAG_{name.upper()}"
    with pytest.raises(ConfigError) as raised:
        load_settings(env={env_name: "bogus"})
    assert str(raised.value) == f"setting {name}='bogus' from {env_name}: use one of {allowed}"
    assert getattr(load_settings(env={env_name: allowed.split(", ")[-1]}), name) == allowed.split(", ")[-1]
