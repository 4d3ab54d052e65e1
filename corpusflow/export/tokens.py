"""Token ids for an export: the same encode calls that counted the tokens, plus EOD/BOS ids.

:class:`corpusflow.mixture.tokenizers.TokenCounter` counts with one batch call per kind
(SentencePiece ``encode(..., num_threads)``, tiktoken ``encode_ordinary_batch``, HF
``encode_batch_fast(add_special_tokens=False)``); :func:`encode_batch` makes exactly those calls
and keeps the ids, so an exported document has exactly the ``n_tokens`` recorded for it (less
the EOS that ``add_eos`` counted). :func:`frame` appends the end-of-document token (and
prepends a BOS when asked) to many documents at once.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from corpusflow.mixture.tokenizers import TokenCounter

#: Default end-of-document / beginning-of-document tokens per kind when the tokenizer file
#: does not name them: Llama-3 pretraining separates documents with <|end_of_text|>.
TIKTOKEN_EOD = "<|end_of_text|>"
TIKTOKEN_BOS = "<|begin_of_text|>"


class TokenLookupError(ValueError):
    """A special token that the tokenizer does not have (or that cannot be found)."""


def encode_batch(tok: TokenCounter, texts: Sequence[str]) -> list[Sequence[int]]:
    """Token ids of ``texts`` (no BOS/EOS), by the call ``tok.count`` makes for its kind."""
    texts = list(texts)
    if not texts:
        return []
    return list(tok.encode_many(texts))


def flatten(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(all ids concatenated as int64, length of each)``."""
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def frame(flat: np.ndarray, lengths: np.ndarray, eod: int | None, bos: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Add ``bos`` before and ``eod`` after every document: returns ``(flat ids, lengths)``."""
    extra = int(eod is not None) + int(bos is not None)
    if extra == 0:
        return flat, lengths
    n = len(lengths)
    out_len = lengths + extra
    out = np.empty(int(out_len.sum()), dtype=np.int64)
    starts = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum(out_len[:-1], out=starts[1:])
    first = starts + int(bos is not None)
    # position of each original id: its document's first slot + its rank inside the document
    doc_of = np.repeat(np.arange(n), lengths)
    rank = np.arange(flat.size, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[first[doc_of] + rank] = flat
    if bos is not None:
        out[starts] = bos
    if eod is not None:
        out[starts + out_len - 1] = eod
    return out, out_len


def token_id(tok: TokenCounter, token: str | int) -> int:
    """The id of a token given as an id (``"2"``, ``2``) or as its string (``"</s>"``)."""
    if isinstance(token, int) or (isinstance(token, str) and token.isdigit()):
        i = int(token)
        if not 0 <= i < tok.vocab_size:
            raise TokenLookupError(f"token id {i} is outside the vocabulary (size {tok.vocab_size})")
        return i
    if tok.kind == "sentencepiece":
        sp = tok._sp  # type: ignore[attr-defined]
        i = sp.piece_to_id(token)
        if i == sp.unk_id() and token != sp.id_to_piece(sp.unk_id()):
            raise TokenLookupError(f"{token!r} is not a piece of {tok.name}")
        return int(i)
    if tok.kind == "tiktoken":
        try:
            return int(tok._enc.encode_single_token(token))  # type: ignore[attr-defined]
        except KeyError:
            raise TokenLookupError(f"{token!r} is not a token of {tok.name}") from None
    if tok.kind == "hf":
        i = tok._tok.token_to_id(token)  # type: ignore[attr-defined]
        if i is None:
            raise TokenLookupError(f"{token!r} is not a token of {tok.name}")
        return int(i)
    raise TokenLookupError(f"unknown tokenizer kind {tok.kind!r}")


def _hf_config_token(tok: TokenCounter, key: str) -> str | None:
    """``eos_token``/``bos_token`` from the ``tokenizer_config.json`` next to ``tokenizer.json``."""
    path = os.path.join(os.path.dirname(tok.path), "tokenizer_config.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        value = json.load(f).get(key)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def default_special(tok: TokenCounter, which: str) -> tuple[int, str]:
    """``(id, token string)`` of the tokenizer's own EOS (``which="eod"``) or BOS (``"bos"``):
    what Megatron's tokenizer classes use as ``eod``/``bos`` for this file."""
    if which not in ("eod", "bos"):
        raise ValueError(which)
    if tok.kind == "sentencepiece":
        sp = tok._sp  # type: ignore[attr-defined]
        i = sp.eos_id() if which == "eod" else sp.bos_id()
        if i < 0:
            raise TokenLookupError(f"{tok.name} defines no {'EOS' if which == 'eod' else 'BOS'} piece; "
                                   f"name one with --{which}")
        return int(i), str(sp.id_to_piece(i))
    if tok.kind == "tiktoken":
        name = TIKTOKEN_EOD if which == "eod" else TIKTOKEN_BOS
        return token_id(tok, name), name
    if tok.kind == "hf":
        hf_name = _hf_config_token(tok, "eos_token" if which == "eod" else "bos_token")
        if hf_name is None:
            raise TokenLookupError(f"{tok.path}: no {'eos' if which == 'eod' else 'bos'}_token in a "
                                   f"tokenizer_config.json beside it; name one with --{which}")
        return token_id(tok, hf_name), hf_name
    raise TokenLookupError(f"unknown tokenizer kind {tok.kind!r}")


def special_info(tok: TokenCounter, token: str | int | None, which: str) -> dict[str, Any]:
    """``{"id", "token"}`` of the EOD/BOS to use: ``token`` if given, else the tokenizer's own."""
    if token is None:
        i, name = default_special(tok, which)
        return {"id": i, "token": name}
    i = token_id(tok, token)
    return {"id": i, "token": str(token)}
