"""Fixtures of the rag serve tests: the app over a small index, with honest fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.server.app import create_app
from rag.server.service import Service
from rag.setup.config import Settings
from tests.serving import KeyedGenerator, keyed_generator, loaded_service


@pytest.fixture
def generator() -> KeyedGenerator:
    return keyed_generator()


@pytest.fixture
def service(tmp_path: Path, generator: KeyedGenerator) -> Service:
    return loaded_service(tmp_path, generator)


@pytest.fixture
def settings(service: Service) -> Settings:
    return service.settings


@pytest.fixture
def client(service: Service):  # noqa: ANN201 - starlette TestClient
    from fastapi.testclient import TestClient

    with TestClient(create_app(service)) as client:
        yield client
