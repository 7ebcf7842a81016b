"""`rag serve`: the OpenAI-compatible API (and, with --ui, the browser chat) on one set of models."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import Any, TextIO

from rag.errors import ConfigError, RagError
from rag.setup.config import Settings


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the OpenAI-compatible API (http://127.0.0.1:8000/v1)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--api-key", help="require Authorization: Bearer KEY on /v1 (default: the api_key setting)")
    p.add_argument("--ui", action="store_true", help="also serve the browser chat at / with the same models")
    add_llm_flags(p)


def add_llm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-url", help="an OpenAI-compatible server as the LLM, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--llm-model", help="model name on that server (default: its first model)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str) -> None:
    """Refuse to serve beyond loopback without a key."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"--host {host} is reachable from other machines and no API key is set: "
            "set --api-key or RAG_API_KEY (setting api_key), or bind 127.0.0.1"
        )


def cmd_serve(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    import uvicorn

    from rag.ingest.progress import ProgressBar
    from rag.server.app import create_app
    from rag.server.service import Service

    settings = settings.replace(index=args.index, api_key=args.api_key)
    check_exposure(args.host, settings.api_key)
    service = Service(settings)
    app = create_app(service, api_key=settings.api_key)
    if args.ui:
        mount_ui(app, service)
    service.start_loading(progress=ProgressBar(err, every=5.0))
    where = f"http://{args.host}:{args.port}"
    chat = f"; the chat at {where}/" if args.ui else ""
    llm = f", LLM at {settings.llm_url}" if settings.llm_url else ""
    print(f"rag: API at {where}/v1 (503 until the models are loaded{llm}){chat}", file=err, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def mount_ui(app: Any, service: Any) -> None:
    """The Gradio chat at /, on the service's models (it offers the backend methods the chat calls)."""
    try:
        import gradio as gr

        from rag.ui.app import build_app
        from rag.ui.render import CSS, JS
    except ImportError as e:
        raise RagError(f"the browser chat needs gradio: run `pip install -e .` ({e})") from e
    gr.mount_gradio_app(app, build_app(service), path="/", css=CSS, js=JS, footer_links=[], show_error=False)
