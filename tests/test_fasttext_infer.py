"""The compiled fastText inference gives the binding's labels and probabilities, bit for bit.

Reference: the fastText binding's low-level ``model.f.predict(line, k, threshold, ...)`` on the
same line. Compared on every document of the real corpora in ../shared/data (prepared exactly as
the language-ID stage prepares them), on edge cases of fastText's tokenisation, and on small
models trained here (unquantized ``.bin`` with unpruned buckets; a softmax model, which the
compiled path refuses so that :class:`FastTextLangId` falls back to the binding).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpusflow.core.paths import resolve_path
from corpusflow.text.fasttext_infer import (
    FastTextModel,
    UnsupportedModel,
    _fnv1a_signed,
    _subword_buckets,
    numba_enabled,
)
from corpusflow.text.langid import FastTextLangId, prepare_text
from corpusflow.text.normalize import normalize_text
from tests.conftest import read_jsonl

pytestmark = pytest.mark.skipif(not numba_enabled(), reason="compiled path disabled (CORPUSFLOW_NO_NUMBA)")

LID = resolve_path("pkg:resources/lid.176.ftz")


@pytest.fixture(scope="module")
def binding():
    import fasttext

    return fasttext.load_model(LID)


@pytest.fixture(scope="module")
def compiled() -> FastTextModel:
    return FastTextModel(LID)


def _ref(model, line: str, k: int, threshold: float = 0.0) -> list[tuple[str, float]]:
    out = model.f.predict(line, k, threshold, "replace")
    return [(label[9:] if label.startswith("__label__") else label, float(p)) for p, label in out]


@pytest.mark.parametrize("word", ["日本語のテキスト", "the", "de", "xqzvw", "𠮷野家", "Ｔｏｋｙｏ", "é"])
def test_subword_rows_are_the_bindings(binding, compiled, word: str) -> None:
    """fastText hashes bytes as signed chars (the FNV-1a variant it keeps for compatibility);
    the rows of a word (in-vocabulary: own row + subwords; else its pruned n-gram buckets) equal
    the binding's ``get_subwords`` ids."""
    assert _fnv1a_signed(b"") == 2166136261
    assert _fnv1a_signed(b"a") == 0xE40C292C  # plain FNV-1a for ASCII
    textbook = ((2166136261 ^ 0xE3) * 16777619) & 0xFFFFFFFF
    assert _fnv1a_signed(b"\xe3") == ((2166136261 ^ 0xFFFFFFE3) * 16777619) & 0xFFFFFFFF != textbook
    w = word.encode()
    vocab = compiled.words[: compiled.nwords]
    if w in vocab:
        wid = vocab.index(w)
        ours = compiled._sub_rows[compiled._sub_off[wid]: compiled._sub_off[wid + 1]].tolist()
    else:
        buckets = _subword_buckets(b"<" + w + b">", compiled.args.minn, compiled.args.maxn, compiled.args.bucket)
        ours = [r for r in (compiled._push(b) for b in buckets) if r >= 0]
    _, ids = binding.get_subwords(word)
    assert ours == ids.tolist()


@pytest.mark.parametrize(
    "line",
    [
        "",
        " ",
        "a",
        "hello world",
        "本項東大寺の仏像では、奈良県奈良市にある聖武天皇ゆかりの寺院について説明する。",
        "コイントスを３回行う。 表が出た数だけ、フィールド上のモンスターを破壊する。",
        "小纽约网是纽约华人官方网站，提供分类信息和本地新闻。",
        "Después de mucho debate, las tripulaciones decidieron explorar un nuevo sistema.",
        "word\ttab\x0bvertical\x0cfeed\rreturn",  # fastText's other separators
        "nul\x00separated\x00tokens",
        "__label__en __label__ja hello __label__xyz",  # label tokens are not words
        "__label_ almost a label",
        "😀😀 絵文字 🇯🇵 テスト 𠮷野家",  # 4-byte UTF-8 characters
        "Ｔｏｋｙｏ 東京 ｶﾀｶﾅ",
        "e\u0301te\u0301 cafe\u0301",  # combining marks
        "</s> the end of sentence token",
        "first line\nsecond line is ignored",  # a newline ends fastText's input (as </s>)
        "\nleading newline",
        "trailing newline\n",
        "x" * 5000,
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        "안녕하세요 반갑습니다 한국어 텍스트입니다",
        "مرحبا بالعالم هذا نص عربي",
    ],
)
@pytest.mark.parametrize(("k", "threshold"), [(1, 0.0), (5, 0.0), (176, 0.0), (5, 0.05), (3, 0.9)])
def test_edge_cases_bit_identical(binding, compiled, line: str, k: int, threshold: float) -> None:
    assert compiled.predict(line, k, threshold) == _ref(binding, line, k, threshold)


def _corpus_lines(shared_data: Path) -> list[tuple[str, str]]:
    sets = [
        ("ja_wiki", read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=1500)),
        ("kwdlc", read_jsonl(shared_data / "ja" / "kwdlc_leads.jsonl", limit=1500)),
        ("abeja_cc", read_jsonl(shared_data / "ja" / "abeja_cc_ja.jsonl", limit=1000)),
        ("c4", read_jsonl(shared_data / "en" / "c4_sample.jsonl.gz", limit=1500)),
        ("abc", read_jsonl(shared_data / "en" / "abc_news.jsonl.gz", limit=1000)),
        ("multilingual", read_jsonl(shared_data / "en" / "cc_main_raw_multilingual.jsonl.gz")),
        ("react_docs", read_jsonl(shared_data / "mixed" / "ja_react_docs.jsonl", limit=300)),
    ]
    out = []
    for name, rows in sets:
        for r in rows:
            text = r.get("text") or r.get("content") or ""
            out.append((name, prepare_text(normalize_text(text), 2000)))
            out.append((name, prepare_text(text, 300)))  # raw and short heads too
    return out


def test_real_corpora_bit_identical(binding, compiled, shared_data) -> None:
    """Every document of the JA/EN/multilingual corpora: same top-5 labels and probabilities."""
    lines = _corpus_lines(shared_data)
    assert len(lines) > 10_000
    diffs = [(name, line[:60]) for name, line in lines if compiled.predict(line, 5) != _ref(binding, line, 5)]
    assert diffs == []


def test_langid_backends_agree(shared_data) -> None:
    numba = FastTextLangId(LID)
    assert numba.backend == "numba"
    ref = FastTextLangId(LID, backend="binding")
    assert ref.backend == "binding"
    rows = read_jsonl(shared_data / "en" / "cc_main_raw_multilingual.jsonl.gz")
    for r in rows[:300]:
        line = prepare_text(r["text"], 2000)
        assert numba.predict(line, 5) == ref.predict(line, 5)


def test_unencodable_text_fails_like_the_binding_and_becomes_an_error_record(binding, compiled) -> None:
    """A lone surrogate (json.loads makes one from "\\ud800") cannot be UTF-8: both backends raise
    (the binding a bare TypeError from pybind, the compiled path the clearer UnicodeEncodeError),
    and the language-ID step turns it into an error record instead of dropping the document."""
    from corpusflow.core.document import Document, ErrorRecord
    from corpusflow.steps.langid import LangIdStep
    from corpusflow.text.config import LangIdConfig

    line = "lone \ud800 surrogate"
    with pytest.raises(UnicodeEncodeError):
        compiled.predict(line, 5)
    with pytest.raises((TypeError, UnicodeEncodeError)):
        binding.f.predict(line, 5, 0.0, "replace")
    step = LangIdStep(LangIdConfig())
    step.setup()
    out = step.apply(Document(id="d1", text=line, source="s"))
    assert isinstance(out, ErrorRecord)
    assert out.stage == "langid" and out.error_class == "UnicodeEncodeError"


def test_no_numba_env_uses_the_binding(monkeypatch) -> None:
    monkeypatch.setenv("CORPUSFLOW_NO_NUMBA", "1")
    assert FastTextLangId(LID).backend == "binding"


_TRAIN = """
import sys, fasttext
kw = eval(sys.argv[3])
quantize = kw.pop("quantize", None)
kw.setdefault("dim", 8)
m = fasttext.train_supervised(input=sys.argv[1], epoch=3, minn=2, maxn=4, minCount=2, thread=1,
                              seed=7, verbose=0, **kw)
if quantize:
    m.quantize(input=sys.argv[1], retrain=False, **quantize)
m.save_model(sys.argv[2])
"""


def _train(tmp_path: Path, shared_data: Path, **kw) -> str:
    """Train a small model in a fresh interpreter (fastText training in a process that has loaded
    another model or numba gives "Encountered NaN"; see corpusflow.selection.quality)."""
    lines = []
    for lab, path, limit in (("ja", shared_data / "ja" / "kwdlc_leads.jsonl", 400),
                             ("en", shared_data / "en" / "abc_news.jsonl.gz", 400),
                             ("zh", shared_data / "en" / "cc_main_raw_multilingual.jsonl.gz", 200)):
        for r in read_jsonl(path, limit=limit):
            lines.append(f"__label__{lab} " + prepare_text(r["text"], 400))
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = str(tmp_path / "model.bin")
    subprocess.run([sys.executable, "-c", _TRAIN, str(train), out, repr(kw)], check=True)
    return out


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param(dict(loss="hs", bucket=5000), id="bin-dense-unpruned"),
        # dim 9: the last sub-quantizer has 1 dimension; qnorm: rows scaled by a quantized norm
        pytest.param(dict(loss="hs", bucket=5000, dim=9, quantize=dict(qnorm=True, cutoff=3000)),
                     id="ftz-qnorm-pruned"),
        pytest.param(dict(loss="hs", bucket=5000, quantize=dict(qnorm=False, cutoff=0)), id="ftz-no-cutoff"),
    ],
)
def test_trained_hs_models_bit_identical(tmp_path, shared_data, kw) -> None:
    import fasttext

    path = _train(tmp_path, shared_data, **kw)
    compiled, binding = FastTextModel(path), fasttext.load_model(path)
    rows = read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=300)
    rows += read_jsonl(shared_data / "en" / "c4_sample.jsonl.gz", limit=300)
    for r in rows:
        line = prepare_text(r["text"], 1000)
        assert compiled.predict(line, 3) == _ref(binding, line, 3)


def test_unsupported_models_are_refused_and_langid_falls_back(tmp_path, shared_data) -> None:
    path = _train(tmp_path, shared_data, loss="softmax", bucket=5000)
    with pytest.raises(UnsupportedModel, match="hierarchical softmax"):
        FastTextModel(path)
    with pytest.raises(UnsupportedModel):
        FastTextLangId(path, backend="numba")
    lid = FastTextLangId(path)
    assert lid.backend == "binding"
    assert lid.predict("hello world", 1)[0][0] in ("ja", "en", "zh")
    not_a_model = tmp_path / "x.bin"
    not_a_model.write_bytes(os.urandom(64))
    with pytest.raises(UnsupportedModel, match="not a fastText model"):
        FastTextModel(str(not_a_model))
