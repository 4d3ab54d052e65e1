"""Tokenizer wrappers (SentencePiece, tiktoken, HF tokenizers), estimate mode, `corpusflow tokens`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpusflow.mixture.config import TokenizerSpec
from corpusflow.mixture.counting import count_documents, count_exact
from corpusflow.mixture.tokenizers import load_tokenizer
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import run_cli

JA_TEXTS = [
    "今日は良い天気です。明日も晴れるでしょう。",
    "東京都は日本の首都であり、人口は約1400万人である。",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
]
EN_TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Australian researchers say the findings could change how the disease is treated.",
]


@pytest.fixture(scope="module")
def llmjp():
    return load_tokenizer("llm-jp-v3.1")


@pytest.fixture(scope="module")
def llama3():
    return load_tokenizer("llama3")


@pytest.fixture(scope="module")
def real_docs(shared_data: Path) -> dict[str, list[str]]:
    ja = [r["text"] for r in read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=1500)]
    en = [r["text"] for r in read_jsonl(shared_data / "en" / "abc_news.jsonl.gz", limit=800)]
    return {"ja": ja, "en": en}


@pytest.fixture(scope="module")
def hf_tokenizer_file(tmp_path_factory, real_docs) -> Path:
    """A small byte-level BPE tokenizer.json trained on real JA/EN text (nothing downloaded)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(real_docs["ja"][:400] + real_docs["en"][:400], trainer=trainer)
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_presets_identity(llmjp, llama3) -> None:
    assert llmjp.kind == "sentencepiece" and llmjp.vocab_size == 98_452
    # Llama-3: 128,000 BPE ranks + 256 special tokens.
    assert llama3.kind == "tiktoken" and llama3.vocab_size == 128_256
    assert llama3._enc.encode("<|begin_of_text|>", allowed_special="all") == [128000]
    assert llama3._enc.encode("<|eot_id|>", allowed_special="all") == [128009]
    for t in (llmjp, llama3):
        info = t.info()
        assert len(info["sha256"]) == 64 and info["add_eos"] is False


def test_llama3_known_ids(llama3) -> None:
    # Published Llama-3 token ids (tokenizer card / meta-llama examples).
    assert llama3.encode("Hello world") == [9906, 1917]
    assert llama3.encode(" The") == [578]


@pytest.mark.parametrize("text", JA_TEXTS + EN_TEXTS)
def test_sentencepiece_roundtrip_and_count(llmjp, text: str) -> None:
    ids = llmjp.encode(text)
    assert llmjp._sp.decode(ids) == text
    assert int(llmjp.count([text])[0]) == len(ids)


@pytest.mark.parametrize("text", JA_TEXTS + EN_TEXTS)
def test_tiktoken_roundtrip_and_count(llama3, text: str) -> None:
    ids = llama3.encode(text)
    assert llama3._enc.decode(ids) == text
    assert int(llama3.count([text])[0]) == len(ids)


def test_special_token_text_is_ordinary(llama3) -> None:
    # A document that literally contains "<|endoftext|>"-like strings is counted as text.
    n = int(llama3.count(["a <|end_of_text|> b"])[0])
    assert n > 3


def test_counts_do_not_depend_on_batch_or_threads(llmjp, llama3, real_docs) -> None:
    texts = real_docs["ja"][:300] + real_docs["en"][:300]
    for tok in (llmjp, llama3):
        tok.threads = 1
        a = count_exact(tok, texts, batch_size=7)
        tok.threads = 2
        b = count_exact(tok, texts, batch_size=256)
        c = np.array([len(tok.encode(t)) for t in texts[:50]])
        assert np.array_equal(a, b)
        assert np.array_equal(a[:50], c)


def test_add_eos_adds_one() -> None:
    plain = load_tokenizer("llm-jp-v3.1")
    eos = load_tokenizer({"preset": "llm-jp-v3.1", "add_eos": True})
    assert list(eos.count(JA_TEXTS)) == [n + 1 for n in plain.count(JA_TEXTS)]


def test_hf_tokenizer_json(hf_tokenizer_file: Path, real_docs) -> None:
    t = load_tokenizer(str(hf_tokenizer_file))  # kind inferred from .json
    assert t.kind == "hf" and t.vocab_size <= 2000
    texts = JA_TEXTS + EN_TEXTS + real_docs["ja"][500:520]
    counts = t.count(texts)
    assert list(counts) == [len(t.encode(x)) for x in texts]
    t2 = load_tokenizer(f"hf:{hf_tokenizer_file}")
    assert list(t2.count(texts)) == list(counts)


@pytest.mark.parametrize(
    ("spec", "kind", "path_end"),
    [
        ("llm-jp-v3.1", "sentencepiece", "llm-jp-tokenizer-100k.ver3.1.model"),
        ("llama3", "tiktoken", "llama3.tiktoken"),
        ("sentencepiece:pkg:resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model",
         "sentencepiece", ".model"),
        ("tiktoken:/x/y.bpe", "tiktoken", "y.bpe"),
        ("/models/tok/tokenizer.json", "hf", "tokenizer.json"),
        ({"path": "a/b.model"}, "sentencepiece", "b.model"),
    ],
)
def test_spec_parsing(spec, kind: str, path_end: str) -> None:
    s = TokenizerSpec.model_validate(spec)
    assert s.kind == kind and s.path.endswith(path_end)


def test_spec_errors(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="sentencepiece, tiktoken, hf"):
        TokenizerSpec.model_validate("model.bin")
    with pytest.raises(ValidationError, match="unknown preset"):
        TokenizerSpec.model_validate({"preset": "gpt5"})
    with pytest.raises(FileNotFoundError, match="tokenizer file not found"):
        load_tokenizer(str(tmp_path / "missing.model"))


def test_efficiency_llmjp_beats_llama3_on_japanese(llmjp, llama3, real_docs) -> None:
    """Characters per token on real text: the JA-extended vocabulary is clearly more efficient on
    Japanese (the mixture.md §5.2 point: budgets must be in the training tokenizer)."""
    ja = real_docs["ja"][:500]
    en = real_docs["en"][:300]
    cpt = {}
    for t in (llmjp, llama3):
        for lang, texts in (("ja", ja), ("en", en)):
            cpt[(t.name, lang)] = sum(map(len, texts)) / int(count_exact(t, texts).sum())
    assert cpt[("llm-jp-v3.1", "ja")] > 1.25 * cpt[("llama3", "ja")]
    assert 1.3 < cpt[("llm-jp-v3.1", "ja")] < 3.0
    assert cpt[("llm-jp-v3.1", "en")] > 3.5 and cpt[("llama3", "en")] > 3.5


def test_estimate_mode_error_is_within_its_stderr(llmjp, real_docs) -> None:
    texts = real_docs["ja"] + real_docs["en"]
    cells = [("wiki", "ja")] * len(real_docs["ja"]) + [("news", "en")] * len(real_docs["en"])
    ids = [f"d{i}" for i in range(len(texts))]
    exact = count_exact(llmjp, texts)
    est = count_documents(llmjp, texts, cells=cells, ids=ids, mode="estimate", seed=3, sample_rate=0.05,
                          min_sample_docs=200)
    for cell in (("wiki", "ja"), ("news", "en")):
        ix = [i for i, c in enumerate(cells) if c == cell]
        cal = est.calibrations[cell]
        assert cal.n == max(200, int(est.sampled[ix].sum()))
        assert cal.n >= 200
        rse = cal.rel_stderr(len(ix))
        assert rse is not None and 0 < rse < 0.02
        true, got = int(exact[ix].sum()), int(est.n_tokens[ix].sum())
        # 4 standard errors plus per-document rounding.
        assert abs(got - true) / true < 4 * rse + 0.002
        # sampled documents carry their exact count
        s = [i for i in ix if est.sampled[i]]
        assert np.array_equal(est.n_tokens[s], exact[s])
    # the sample is chosen by keyed hashes: another seed picks other documents
    other = count_documents(llmjp, texts, cells=cells, ids=ids, mode="estimate", seed=4, sample_rate=0.05,
                            min_sample_docs=200)
    assert not np.array_equal(other.sampled, est.sampled)


def test_tokens_command(tmp_path: Path, real_docs) -> None:
    ja = tmp_path / "ja.jsonl.gz"
    en = tmp_path / "en.jsonl"
    write_jsonl(ja, [{"id": i, "body": t} for i, t in enumerate(real_docs["ja"][:200])], compress="gz")
    write_jsonl(en, [{"id": i, "body": t} for i, t in enumerate(real_docs["en"][:100])])
    out = tmp_path / "tokens.json"
    rc = run_cli("tokens", "--tokenizer", "llm-jp-v3.1", "--tokenizer", "llama3", str(ja), str(en),
                 "--field", "body", "--json", str(out))
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    by = {(r["tokenizer"], r["lang"]): r for r in rows}
    assert by[("llm-jp-v3.1", "ja")]["docs"] == 200 and by[("llama3", "en")]["docs"] == 100
    r = by[("llm-jp-v3.1", "ja")]
    assert r["chars"] == sum(len(t) for t in real_docs["ja"][:200])
    assert r["chars_per_token"] == round(r["chars"] / r["tokens"], 4)
    assert r["bytes_per_token"] > r["chars_per_token"]  # Japanese is ~3 UTF-8 bytes per char
    assert by[("llm-jp-v3.1", "ja")]["chars_per_token"] > by[("llama3", "ja")]["chars_per_token"]

    est_out = tmp_path / "est.json"
    rc = run_cli("tokens", "--tokenizer", "llm-jp-v3.1", str(ja), "--field", "body", "--lang", "ja",
                 "--estimate", "--min-sample-docs", "50", "--verify", "--json", str(est_out))
    assert rc == 0
    (row,) = json.loads(est_out.read_text())["rows"]
    assert row["sample_docs"] == 50 and row["exact_tokens"] == r["tokens"]
    assert abs(row["actual_rel_error"]) < 4 * row["rel_stderr"] + 0.002


def test_tokens_command_bad_tokenizer(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "a.jsonl", [{"text": "hello"}])
    assert run_cli("tokens", "--tokenizer", str(tmp_path / "nope.model"), str(f)) == 2
