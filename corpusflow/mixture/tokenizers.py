"""Token counting with the target model's tokenizer (pure Python, no Beam).

Three kinds, all loaded from local files (nothing is downloaded):

* ``sentencepiece``: a SentencePiece ``.model`` (the LLM-jp-3 tokenizer ships as
  ``pkg:resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model``, vocab 98,452).
  Counted with ``encode(texts, num_threads=...)`` without BOS/EOS.
* ``tiktoken``: a BPE rank file read with ``tiktoken.load.load_tiktoken_bpe`` and the Llama-3
  pre-tokenizer split pattern (``pkg:resources/tokenizers/llama3/llama3.tiktoken``, 128,000
  ranks + 256 special tokens = 128,256, as used unchanged by Llama-3-Swallow). Counted with
  ``encode_ordinary_batch``: special-token strings inside documents are ordinary text.
* ``hf``: a Hugging Face ``tokenizer.json`` (``tokenizers`` package), counted with
  ``encode_batch_fast(..., add_special_tokens=False)``.

``add_eos`` adds one token per document (the EOS a trainer appends between documents).
Counts are exact and deterministic: they do not depend on batch size or thread count.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.core.registry import Registry
from corpusflow.mixture.config import TokenizerSpec

# The Llama-3 pre-tokenizer pattern (published with the Llama-3 tokenizer; tiktoken syntax).
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_NUM_SPECIAL = 256


def _llama3_special_tokens(n_ranks: int) -> dict[str, int]:
    """The 256 Llama-3 special tokens, numbered after the BPE ranks (ids 128000-128255)."""
    named = [
        "<|begin_of_text|>", "<|end_of_text|>",
        "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>",
    ]
    names = named + [f"<|reserved_special_token_{i}|>" for i in range(5, LLAMA3_NUM_SPECIAL - 5)]
    return {name: n_ranks + i for i, name in enumerate(names)}


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve_local(path: str) -> str:
    resolved = resolve_path(path)
    if is_remote(resolved):
        raise ValueError(f"tokenizer files must be local (shipped in the package or on the worker): {path}")
    if not os.path.isfile(resolved):
        raise FileNotFoundError(f"tokenizer file not found: {path} (resolved to {resolved})")
    return resolved


def _threads(n: int) -> int:
    return n if n > 0 else max(1, os.cpu_count() or 1)


class TokenCounter(ABC):
    """Counts tokens of texts with one tokenizer. Build with :func:`load_tokenizer`."""

    kind: str = ""

    def __init__(self, spec: TokenizerSpec, resolved_path: str) -> None:
        self.spec = spec
        self.path = resolved_path
        self.name = spec.display_name()
        self.threads = _threads(spec.threads)
        self.sha256 = file_sha256(resolved_path)

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode_many(self, texts: list[str]) -> Sequence[Sequence[int]]:
        """Token ids of ``texts`` (no BOS/EOS) by the kind's batch call: what :meth:`count` counts."""

    def _count(self, texts: list[str]) -> list[int]:
        return [len(x) for x in self.encode_many(texts)]

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of one text (no BOS/EOS), for tests and inspection."""

    def count(self, texts: Sequence[str]) -> np.ndarray:
        """Token counts of ``texts`` as int64 (plus one each when ``add_eos``)."""
        texts = list(texts)
        if not texts:
            return np.zeros(0, dtype=np.int64)
        out = np.fromiter(self._count(texts), dtype=np.int64, count=len(texts))
        if self.spec.add_eos:
            out += 1
        return out

    def info(self) -> dict[str, Any]:
        """Identity of the tokenizer for manifests: a re-mix reuses counts only if this matches."""
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.spec.path,
            "sha256": self.sha256,
            "vocab_size": self.vocab_size,
            "add_eos": self.spec.add_eos,
        }


class SentencePieceCounter(TokenCounter):
    kind = "sentencepiece"

    def __init__(self, spec: TokenizerSpec, resolved_path: str) -> None:
        super().__init__(spec, resolved_path)
        import sentencepiece as spm  # lazy: heavy or optional dependency, loaded only when used

        self._sp = spm.SentencePieceProcessor(model_file=resolved_path)

    @property
    def vocab_size(self) -> int:
        return int(self._sp.vocab_size())

    def encode_many(self, texts: list[str]) -> Sequence[Sequence[int]]:
        return self._sp.encode(texts, add_bos=False, add_eos=False, num_threads=self.threads)  # type: ignore[no-any-return]

    def encode(self, text: str) -> list[int]:
        return list(self._sp.encode(text, add_bos=False, add_eos=False))


class TiktokenCounter(TokenCounter):
    kind = "tiktoken"

    def __init__(self, spec: TokenizerSpec, resolved_path: str) -> None:
        super().__init__(spec, resolved_path)
        import tiktoken  # lazy: heavy or optional dependency, loaded only when used
        from tiktoken.load import (  # lazy: heavy or optional dependency, loaded only when used
            load_tiktoken_bpe,  # lazy: heavy or optional dependency, loaded only when used
        )

        # expected_hash makes tiktoken's path-keyed cache (in TMPDIR) verify its copy against
        # this exact file, so a changed file at the same path is never served stale.
        ranks = load_tiktoken_bpe(resolved_path, expected_hash=self.sha256)
        self._enc = tiktoken.Encoding(
            name=f"corpusflow-{self.name}",
            pat_str=LLAMA3_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=_llama3_special_tokens(len(ranks)),
        )

    @property
    def vocab_size(self) -> int:
        return int(self._enc.n_vocab)

    def encode_many(self, texts: list[str]) -> Sequence[Sequence[int]]:
        if len(texts) == 1 or self.threads == 1:
            return [self._enc.encode_ordinary(t) for t in texts]
        return self._enc.encode_ordinary_batch(texts, num_threads=self.threads)  # type: ignore[no-any-return]

    def encode(self, text: str) -> list[int]:
        return list(self._enc.encode_ordinary(text))


class HFCounter(TokenCounter):
    kind = "hf"

    def __init__(self, spec: TokenizerSpec, resolved_path: str) -> None:
        super().__init__(spec, resolved_path)
        from tokenizers import Tokenizer  # lazy: heavy or optional dependency, loaded only when used

        self._tok = Tokenizer.from_file(resolved_path)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def encode_many(self, texts: list[str]) -> Sequence[Sequence[int]]:
        fast = getattr(self._tok, "encode_batch_fast", None) or self._tok.encode_batch
        return [e.ids for e in fast(texts, add_special_tokens=False)]

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)


#: Tokenizer kinds by config name; a new kind is a TokenCounter subclass registered here
#: (and added to TokenizerSpec.kind).
TOKENIZER_KINDS: Registry[type[TokenCounter]] = Registry("tokenizer kind")
TOKENIZER_KINDS.register("sentencepiece")(SentencePieceCounter)
TOKENIZER_KINDS.register("tiktoken")(TiktokenCounter)
TOKENIZER_KINDS.register("hf")(HFCounter)


def load_tokenizer(spec: TokenizerSpec | str | dict[str, Any]) -> TokenCounter:
    """Load a tokenizer from a spec, a spec string (``llama3``, ``hf:tok.json``) or a dict."""
    if not isinstance(spec, TokenizerSpec):
        spec = TokenizerSpec.model_validate(spec)
    assert spec.kind is not None
    return TOKENIZER_KINDS.get(spec.kind)(spec, _resolve_local(spec.path))
