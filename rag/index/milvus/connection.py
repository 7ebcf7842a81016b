"""Where a Milvus index lives: a Milvus Lite file (a path ending in .db) or a server URI.

Every failure to reach or open it becomes one StoreUnavailableError that names the URI and the fix.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import threading
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, StoreUnavailableError

DEFAULT_LITE_FILE = "milvus.db"
SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
CONNECT_TIMEOUT_S = 10.0
_lite_users: dict[str, int] = {}  # resolved Lite file -> stores of this process using it
_lite_lock = threading.Lock()


def is_lite(uri: str) -> bool:
    return not uri.startswith(SERVER_SCHEMES)


def check_uri(uri: str) -> None:
    """ConfigError unless uri is a .db file path or a server URI (checked before anything connects)."""
    if uri and is_lite(uri) and not uri.endswith(".db"):
        raise ConfigError(
            f"milvus_uri {uri!r} is neither a Milvus Lite file (a path ending in .db) nor a server URI "
            "(http://host:19530): fix milvus_uri in rag.toml or RAG_MILVUS_URI"
        )


def resolve(uri: str, folder: Path) -> str:
    """The URI to connect to: a relative Lite file lives inside the index folder."""
    uri = uri or DEFAULT_LITE_FILE
    if is_lite(uri) and not Path(uri).is_absolute():
        return str((Path(folder) / uri).resolve())
    return uri


def collection_name(folder: Path, generation: int) -> str:
    """A collection per index folder and generation, so one server can hold many indexes."""
    resolved = str(Path(folder).resolve())
    stem = re.sub(r"\W", "_", Path(resolved).name, flags=re.ASCII)[:40] or "index"
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:8]  # noqa: S324 - a name, not security
    return f"rag_{stem}_{digest}_g{generation}"


def connect(uri: str) -> Any:
    """A MilvusClient for a resolved URI."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as e:
        raise StoreUnavailableError(f"the Milvus store needs pymilvus and milvus-lite: pip install -e . ({e})") from e
    if is_lite(uri):
        # Milvus Lite's in-process gRPC server logs a traceback for each call it does not implement
        # (AllocTimestamp, which pymilvus tries and then does without): noise, not an error.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        logging.getLogger("milvus_lite.server_manager").setLevel(logging.CRITICAL)  # we raise the error below
        if not Path(uri).parent.is_dir():
            raise StoreUnavailableError(f"Milvus Lite file {uri}: folder {Path(uri).parent} does not exist")
        with _lite_lock:
            opened_here = _lite_users.get(uri, 0) > 0
        if not opened_here and _held_elsewhere(Path(uri) / "LOCK"):
            raise StoreUnavailableError(
                f"Milvus Lite file {uri} is open in another process, and Milvus Lite lets one process open a "
                "file at a time: stop that `rag` process (e.g. `rag ui`), or use a Milvus server "
                "(milvus_uri = http://host:19530)"
            )
        try:
            client = MilvusClient(uri, timeout=CONNECT_TIMEOUT_S)
        except MilvusException as e:
            raise StoreUnavailableError(
                f"cannot open Milvus Lite file {uri} ({_reason(e)}): Milvus Lite lets one process open a file "
                "at a time; stop the other `rag` process, or use a Milvus server (milvus_uri = http://host:19530)"
            ) from e
        with _lite_lock:
            _lite_users[uri] = _lite_users.get(uri, 0) + 1
        return client
    try:
        return MilvusClient(uri, timeout=CONNECT_TIMEOUT_S)
    except MilvusException as e:
        raise StoreUnavailableError(
            f"cannot reach Milvus at {uri} ({_reason(e)}): start the server or fix milvus_uri "
            "(rag.toml or RAG_MILVUS_URI)"
        ) from e


def _held_elsewhere(lock: Path) -> bool:
    """Whether another process holds Milvus Lite's lock on its data folder."""
    if not lock.is_file():
        return False
    with lock.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def disconnect(client: object, uri: str) -> None:
    """Close a client; the last store of this process using a Lite file stops its server, so another
    process can open the file (Milvus Lite lets one process hold it)."""
    client.close()  # type: ignore[attr-defined]
    if not is_lite(uri):
        return
    with _lite_lock:
        left = _lite_users.get(uri, 1) - 1
        if left > 0:
            _lite_users[uri] = left
            return
        _lite_users.pop(uri, None)
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(uri)


def _reason(e: Exception) -> str:
    message = getattr(e, "message", None) or str(e)
    return " ".join(str(message).split())[:200]
