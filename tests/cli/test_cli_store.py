"""`rag ingest --store milvus`: the manifest remembers the store, so ask, remove, --prune and eval need no flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import CliFakes, fake_cli_environment, run_cli

FILES = {
    "ha-noi.txt": "Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976.\n",
    "hue.txt": "Huế\nHuế là cố đô của triều Nguyễn, bên bờ sông Hương.\n",
    "da-nang.txt": "Đà Nẵng\nĐà Nẵng có cầu Rồng bắc qua sông Hàn.\n",
}


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliFakes:
    state = fake_cli_environment(tmp_path, monkeypatch)
    for rel, text in FILES.items():
        (tmp_path / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "docs" / rel).write_text(text, encoding="utf-8")
    return state


def _retrieved(question: str) -> list[tuple[str, str]]:
    code, out, err = run_cli("ask", question, "--retrieve-only", "--json", "--index", "idx")
    assert (code, err) == (0, "")
    return [(r["source"], r["text"]) for r in json.loads(out)["retrieved"]]


def test_milvus_index_is_reopened_by_every_command_without_a_flag(fakes: CliFakes, tmp_path: Path) -> None:
    code, out, err = run_cli("ingest", "docs", "--index", "idx", "--store", "milvus")
    assert (code, err) == (0, "")
    assert out.startswith("idx: 3 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 3 chunks embedded in ")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["store"], manifest["milvus"]["uri"]) == ("milvus", "milvus.db")
    assert (tmp_path / "idx" / "milvus.db").is_dir()
    # unaccented: the folded lexical field and the restored query find Hà Nội first
    assert _retrieved("thu do cua viet nam")[0] == (
        "docs/ha-noi.txt",
        "Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976.",
    )
    code, out, _ = run_cli("ingest", "docs", "--index", "idx")  # no --store: the manifest's
    assert out.startswith("idx: 0 added, 0 updated, 3 unchanged")
    code, out, _ = run_cli("remove", "docs/hue.txt", "--index", "idx")
    assert (code, out) == (0, "removed: docs/hue.txt\n")
    (tmp_path / "docs" / "da-nang.txt").unlink()
    code, out, _ = run_cli("ingest", "docs", "--index", "idx", "--prune")
    assert out.startswith("idx: 1 added, 0 updated, 1 unchanged, 1 removed, 0 failed; 1 chunks embedded")  # hue back
    assert sorted(source for source, _ in _retrieved("Huế cố đô")) == ["docs/ha-noi.txt", "docs/hue.txt"]


def test_store_flag_on_an_existing_index_keeps_its_store_until_rebuilt(
    fakes: CliFakes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_cli("ingest", "docs", "--index", "idx")[0] == 0
    assert run_cli("ingest", "docs", "--index", "idx", "--store", "milvus")[0] == 0
    assert [r.getMessage() for r in caplog.records] == [
        "idx keeps its faiss store (settings ask for milvus): "
        "`rag ingest --rebuild --store milvus --index idx` moves it"
    ]
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))["store"] == "faiss"
    code, out, err = run_cli("ingest", "docs", "--index", "idx", "--store", "milvus", "--rebuild")
    assert (code, err) == (0, "")
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))["store"] == "milvus"
    assert len(_retrieved("Đà Nẵng cầu Rồng")) == 3


def test_unreachable_milvus_server_is_one_error_line(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MILVUS_URI", "http://127.0.0.1:9")
    code, out, err = run_cli("ingest", "docs", "--index", "idx", "--store", "milvus")
    assert code == 1
    assert err.startswith("rag: error: cannot reach Milvus at http://127.0.0.1:9 (")
    assert err.count("\n") == 1 and "start the server or fix milvus_uri" in err


def test_wrong_milvus_uri_is_one_error_line(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MILVUS_URI", "localhost:19530")
    code, _, err = run_cli("ingest", "docs", "--index", "idx", "--store", "milvus")
    assert code == 1
    assert err == (
        "rag: error: milvus_uri 'localhost:19530' is neither a Milvus Lite file (a path ending in .db) nor a "
        "server URI (http://host:19530): fix milvus_uri in rag.toml or RAG_MILVUS_URI\n"
    )
