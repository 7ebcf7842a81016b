"""The Milvus store's generations: its collection's lifecycle, the manifest naming it, and what a rebuild replaces.

Each generation is one Milvus collection plus one catalog file (rag/index/milvus/catalog.py);
``manifest.json`` names the one in use. A rebuild fills the next generation and, once it is
committed, drops the one it replaced.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError
from rag.index import files
from rag.index.base import MANIFEST
from rag.index.milvus import connection
from rag.index.milvus import rows as layout

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
Call = Callable[..., Any]  # MilvusStore._call: (what, fn, *args, **kwargs), Milvus errors made one clear line


def catalog_name(generation: int) -> str:
    return f"catalog-{generation:06d}.sqlite"


def next_generation(path: Path) -> int:
    manifest = Path(path) / MANIFEST
    if manifest.is_file():
        try:
            data = files.read_json(manifest)
        except IndexCorruptError:
            return 1
        if data.get("store") == "milvus":
            return int(data["milvus"]["generation"]) + 1
    return 1


def create(client: Any, call: Call, path: Path, generation: int, name: str, dim: int) -> None:
    """A new, empty, loaded collection for a generation (dropping one a crashed rebuild left)."""
    if client.has_collection(name):
        call("drop the collection", client.drop_collection, name)
    (path / catalog_name(generation)).unlink(missing_ok=True)
    schema, index = layout.schema(client, dim)
    call("create the collection", client.create_collection, name, schema=schema, consistency_level="Strong")
    # indexes of an empty collection are ready at once: without sync=False pymilvus polls (0.5 s each)
    call("index the collection", client.create_index, name, index, sync=False)
    call("load the collection", client.load_collection, name)


def switch_to_ivf(client: Any, call: Call, name: str, nlist: int) -> None:
    """Replace the dense field's FLAT index by IVF_SQ8 (inner product), as the FAISS store does at scale."""
    call("release", client.release_collection, name)
    call("drop the index", client.drop_index, name, "dense")
    params = client.prepare_index_params()
    params.add_index("dense", index_type="IVF_SQ8", metric_type="IP", params={"nlist": nlist})
    call("build the index", client.create_index, name, params)
    call("load", client.load_collection, name)


def write_manifest(path: Path, generation: int, fields: dict[str, Any]) -> tuple[str, int, str] | None:
    """Name this generation in manifest.json; returns the (uri, generation, collection) it named before, if other."""
    previous = None
    manifest_path = path / MANIFEST
    if manifest_path.is_file():
        old = files.read_json(manifest_path)
        if old.get("store") == "milvus" and int(old["milvus"]["generation"]) != generation:
            previous = (old["milvus"]["uri"], int(old["milvus"]["generation"]), old["milvus"]["collection"])
    manifest = {"format_version": FORMAT_VERSION, "store": "milvus", **fields}
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    files.atomic_write(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=1))
    return previous


def drop_generation(
    client: Callable[[], Any], call: Call, path: Path, previous: tuple[str, int, str], here: str
) -> None:
    """After a rebuild is committed: the collection and catalog it replaced (here: this store's resolved URI)."""
    uri, generation, collection = previous
    (path / catalog_name(generation)).unlink(missing_ok=True)
    if connection.resolve(uri, path) == here:
        milvus = client()
        if milvus.has_collection(collection):
            call("drop the old collection", milvus.drop_collection, collection)
    else:
        log.warning("index %s moved from %s: drop its old collection %s there yourself", path, uri, collection)
