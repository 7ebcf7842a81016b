"""`rag ui` beyond loopback needs a login: it refuses to start without one, naming the setting."""

from __future__ import annotations

import pytest
import rag.ui.app

from tests.fakes import fake_cli_environment, run_cli


@pytest.fixture
def launched(tmp_path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:  # noqa: ANN001
    fake_cli_environment(tmp_path, monkeypatch)
    calls: list[dict] = []
    monkeypatch.setattr(rag.ui.app, "launch", lambda settings, **options: calls.append(options))
    return calls


def test_beyond_loopback_without_a_password_it_refuses_and_names_the_setting(launched: list[dict]) -> None:
    code, out, err = run_cli("ui", "--host", "0.0.0.0")
    assert code != 0
    assert launched == []  # the models were never loaded
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "RAG_UI_PASSWORD" in lines[0] and "ui_password" in lines[0] and "--no-auth" in lines[0]


def test_a_password_from_the_environment_becomes_the_login(launched: list[dict], monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAG_UI_PASSWORD", "mật-khẩu-dài-7f3a")
    code, _, _ = run_cli("ui", "--host", "0.0.0.0", "--port", "7999")
    assert code == 0
    assert [(c["host"], c["port"], c["auth"]) for c in launched] == [("0.0.0.0", 7999, ("rag", "mật-khẩu-dài-7f3a"))]


def test_a_password_set_for_loopback_is_asked_for_too(launched: list[dict], tmp_path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "rag.toml").write_text('ui_user = "an"\nui_password = "bí-mật"\n', encoding="utf-8")
    assert run_cli("ui")[0] == 0
    assert launched[0]["auth"] == ("an", "bí-mật")


def test_no_auth_is_an_explicit_opt_out(launched: list[dict]) -> None:
    assert run_cli("ui", "--host", "0.0.0.0", "--no-auth")[0] == 0
    assert launched[0]["auth"] is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.5", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("my-laptop", False),
    ],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert rag.ui.app.is_loopback(host) is loopback


def test_an_empty_user_name_with_a_password_is_one_clear_error(launched: list[dict], monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAG_UI_PASSWORD", "bí-mật")
    monkeypatch.setenv("RAG_UI_USER", " ")
    code, _, err = run_cli("ui")
    assert code != 0 and launched == []
    assert err.strip().splitlines() == [
        "rag: error: ui_user is empty: set the login's user name (RAG_UI_USER), e.g. rag"
    ]
