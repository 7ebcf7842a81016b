"""What `pip install` ships: every package folder of rag/, and the chat as rag.ui (no generic `ui`)."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_package_folder_is_installed_and_ui_installs_as_rag_ui() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "rag").rglob("__init__.py")} | {
        "rag.ui"
    }
    assert sorted(config["packages"]) == sorted(folders)
    assert config["package-dir"] == {"rag.ui": "ui"}
    assert "ui" not in config["packages"]


def test_the_chat_imports_under_its_installed_name() -> None:
    import rag.ui.app

    assert rag.ui.app.__name__ == "rag.ui.app"
    assert rag.ui.app.__file__ is not None and rag.ui.app.__file__.startswith(str(REPO / "ui"))
