"""pyproject.toml declares every third-party package that rag/ and ui/ import, with bounds the installed set meets."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

from tests.conftest import REPO

LOCAL = {"rag", "ui"}


def _declared() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = {}
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
        specs[_normal(name)] = requirement
    return specs


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> dict[str, str]:
    """Top-level module -> first file importing it, over rag/ and ui/ (imports inside functions included)."""
    found: dict[str, str] = {}
    for path in sorted([*(REPO / "rag").rglob("*.py"), *(REPO / "ui").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL:
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_third_party_import_is_declared() -> None:
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module, where in _imported_modules().items():
        names = {_normal(d) for d in distributions.get(module, [module])}
        if not names & declared.keys():
            missing[module] = where
    assert missing == {}


def test_the_imports_found_include_the_ones_once_missing() -> None:
    imported = _imported_modules()
    assert {"scipy", "gradio", "lxml", "tokenizers"} <= imported.keys()
    assert imported["scipy"] == "rag/index/lexical.py"


def test_lower_bounds_are_the_versions_the_code_needs() -> None:
    declared = _declared()
    assert declared["gradio"] == "gradio>=6.0"  # launch(css=, js=, footer_links=), Chatbot(buttons=)
    assert declared["llama-cpp-python"] == "llama-cpp-python>=0.3.15"  # llama_model_params.use_extra_bufts
    assert declared["sentence-transformers"] == "sentence-transformers>=5.5"  # get_embedding_dimension


def test_the_installed_packages_meet_the_declared_bounds() -> None:
    from packaging.requirements import Requirement

    for requirement in _declared().values():
        req = Requirement(requirement)
        installed = importlib.metadata.version(req.name)
        assert req.specifier.contains(installed, prereleases=True), f"{req.name} {installed} does not meet {req}"
