"""MinHash parity with datasketch, shingling, and band-key stability (no Beam)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from datasketch import MinHash

from corpusflow.dedup.minhash import (
    MinHasher,
    band_keys,
    estimated_jaccard,
    permutations,
    reference_signature,
)
from corpusflow.dedup.shingle import (
    SALT_CHAR,
    SALT_WORD,
    WordHasher,
    char_elements,
    char_shingles,
    hash_char_shingle,
    hash_word_shingle,
    ngram_hashes,
    ngram_hashes_numpy,
    normalize_chars,
    shingle_hashes,
    simplify_words,
    word_shingles,
)
from tests.helpers import fixture


def _texts(path, n, field="text"):
    op = gzip.open if str(path).endswith(".gz") else open
    out = []
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line)[field])
            if len(out) >= n:
                break
    return out


@pytest.fixture(scope="module")
def ja_texts():
    return _texts(fixture("ja/ja_wiki_paragraphs.jsonl.gz"), 12) + _texts(fixture("ja/kwdlc_leads.jsonl"), 6)


@pytest.fixture(scope="module")
def en_texts():
    return _texts(fixture("en/c4_sample.jsonl.gz"), 12) + _texts(fixture("en/abc_news.jsonl.gz"), 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ　１２３、東京タワー。", "abc000東京タワー"),  # NFKC, lower case, digits folded, punct removed
        ("  スマホ（iPhone 15）が！  ", "スマホiphone00が"),
        ("★☆★", ""),
        ("がぎぐ", "がぎぐ"),  # voiced kana survive (NFKC recomposes them)
        # Aozora Bunko ruby readings (kana in 《》) are skipped, so ruby and plain editions agree
        # (aozora_dev 51064_ruby_51722 and 56367_ruby_62767):
        ("村《むら》へ石油《せきゆ》を売《う》りにくる男《おとこ》がありました。", "村へ石油を売りにくる男がありました"),
        ("｜出羽《でわ》とか但馬《たじま》とか", "出羽とか但馬とか"),
        ("八五郎は語彙《ボキヤブラリー》を總仕舞にして", "八五郎は語彙を總仕舞にして"),
        ("《红楼梦》是一部小说", "红楼梦是一部小说"),  # a Chinese title mark is not a reading: kept
    ],
)
def test_normalize_chars(text, expected):
    assert normalize_chars(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café au lait, 2024-05-01!", ["cafe", "au", "lait", "0", "0", "0"]),
        ("The QUICK brown_fox.", ["the", "quick", "brown", "fox"]),
        ("", []),
    ],
)
def test_simplify_words(text, expected):
    assert simplify_words(text) == expected


def test_ruby_and_plain_editions_give_the_same_char_shingles():
    ruby = "\u3000林泉《りんせん》のほとりに今日《きょう》も若者《わかもの》はひとりうっそりしゃがんでいた。"
    plain = "\u3000林泉のほとりに今日も若者はひとりうっそりしゃがんでいた。"
    assert np.array_equal(shingle_hashes(ruby, "char", 5), shingle_hashes(plain, "char", 5))
    assert char_shingles(ruby, 5) == char_shingles(plain, 5)


def test_vectorised_hashes_equal_scalar_reference(ja_texts, en_texts):
    words = WordHasher()
    for t in ja_texts:
        ref = np.array([hash_char_shingle(s) for s in char_shingles(t, 5)], dtype=np.uint64)
        assert np.array_equal(shingle_hashes(t, "char", 5), ref)
    for t in en_texts:
        ref = np.array([hash_word_shingle(s) for s in word_shingles(t, 5)], dtype=np.uint64)
        assert np.array_equal(shingle_hashes(t, "word", 5, words), ref)


@pytest.mark.parametrize(
    ("text", "kind", "count"),
    [
        ("東京", "char", 1),  # shorter than one shingle: exactly one shingle of all its characters
        ("東京都庁", "char", 1),
        ("東京都庁舎", "char", 1),
        ("東京都庁舎の", "char", 2),
        ("。、！", "char", 0),  # nothing left after normalisation: no shingle at all
        ("hello world", "word", 1),
        ("a b c d e", "word", 1),
        ("a b c d e f", "word", 2),
        ("!!! ...", "word", 0),
    ],
)
def test_short_documents_get_one_shingle_or_none(text, kind, count):
    assert shingle_hashes(text, kind, 5).shape[0] == count


def test_short_shingle_differs_from_full_ngram_and_between_kinds():
    # A 3-element document and the same 3 elements inside a 5-gram never share a hash.
    els = np.array([1, 2, 3], dtype=np.uint64)
    assert ngram_hashes(els, 5, SALT_CHAR)[0] != ngram_hashes(np.array([1, 2, 3, 0, 0], np.uint64), 5, SALT_CHAR)[0]
    assert ngram_hashes(els, 5, SALT_CHAR)[0] != ngram_hashes(els, 5, SALT_WORD)[0]
    # Two different one-shingle documents do not collapse into one bucket.
    assert shingle_hashes("東京", "char", 5)[0] != shingle_hashes("大阪", "char", 5)[0]


def test_permutations_equal_datasketch():
    a, b = permutations(64, seed=7)
    m = MinHash(num_perm=64, seed=7, scheme="legacy")
    assert np.array_equal(a, m.permutations[0]) and np.array_equal(b, m.permutations[1])


@pytest.mark.parametrize(("num_perm", "seed"), [(200, 1), (112, 42)])
def test_signature_equals_datasketch_japanese(ja_texts, num_perm, seed):
    mh = MinHasher(num_perm, seed)
    for t in ja_texts:
        shingles = char_shingles(t, 5)
        ref = MinHash(num_perm=num_perm, seed=seed, hashfunc=hash_char_shingle, scheme="legacy")
        ref.update_batch(shingles)
        ours = mh.signature(shingle_hashes(t, "char", 5))
        assert np.array_equal(ours, ref.hashvalues.astype(np.uint32)), t[:40]


def test_signature_equals_datasketch_english(en_texts):
    mh = MinHasher(112, 1)
    words = WordHasher()
    for t in en_texts:
        shingles = word_shingles(t, 5)
        ref = MinHash(num_perm=112, seed=1, hashfunc=hash_word_shingle, scheme="legacy")
        ref.update_batch(shingles)
        assert np.array_equal(mh.signature(shingle_hashes(t, "word", 5, words)), ref.hashvalues.astype(np.uint32))


def test_kernel_exact_on_hard_inputs():
    """Repeated shingles, one shingle, more shingles than a block, and values forcing fix-ups."""
    rng = np.random.default_rng(5)
    mh = MinHasher(128, 3)
    cases = [
        rng.integers(0, 2**63, 1, dtype=np.int64).astype(np.uint64),
        np.repeat(rng.integers(0, 2**63, 7, dtype=np.int64).astype(np.uint64), 50),
        rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64) * np.uint64(2),
        np.arange(3000, dtype=np.uint64),
    ]
    # Shingles whose 32-bit image under permutation 0 lands just below 2^32 or near another one.
    a0, b0 = int(mh.a[0]), int(mh.b[0])
    inv = pow(a0 & 0xFFFFFFFF | 1, -1, 1 << 32) if a0 & 1 else None
    if inv is not None:
        targets = [(0xFFFFFFFF - k - b0) * inv % (1 << 32) for k in range(12)] + [(5 - b0) * inv % (1 << 32)]
        cases.append(np.array(targets, dtype=np.uint64) | (np.uint64(1) << np.uint64(62)))
    cases.append(np.array([0, 1, 2**61 - 2, 2**61 - 1, 2**61, 2**63, 2**64 - 1], dtype=np.uint64))  # wrap-around edges
    before = mh.fixups
    for h in cases:
        ref = reference_signature(h, mh.a, mh.b)
        assert np.array_equal(mh.signature(h), ref)  # compiled kernel (numba)
        assert np.array_equal(mh.signature_numpy(h), ref)
    assert mh.fixups > before  # the numpy fix-up path ran (repeated shingles tie the minimum)
    with pytest.raises(ValueError):
        mh.signature(np.empty(0, np.uint64))
    with pytest.raises(ValueError):
        mh.signature_numpy(np.empty(0, np.uint64))


@pytest.mark.parametrize("n", [1, 2, 5, 9])
@pytest.mark.parametrize("length", [1, 2, 4, 5, 6, 31, 2048])
def test_compiled_ngram_hashes_equal_numpy(length, n):
    """The numba n-gram kernel wraps around 2^64 exactly like numpy (full-range elements)."""
    import os

    from corpusflow.dedup import shingle

    if not os.environ.get("CORPUSFLOW_NO_NUMBA"):
        assert shingle._ngram_kernel() is not None
    rng = np.random.default_rng(length * 31 + n)
    els = rng.integers(0, 2**64 - 1, size=length, dtype=np.uint64, endpoint=True)
    for salt in (SALT_CHAR, SALT_WORD):
        assert np.array_equal(ngram_hashes(els, n, salt), ngram_hashes_numpy(els, n, salt))
    # a strided view and a uint32 input give the same values as a contiguous uint64 copy
    assert np.array_equal(ngram_hashes(els[::-1], n, SALT_CHAR), ngram_hashes_numpy(els[::-1].copy(), n, SALT_CHAR))
    small = (els & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    assert np.array_equal(ngram_hashes(small, n, SALT_CHAR), ngram_hashes_numpy(small.astype(np.uint64), n, SALT_CHAR))


def test_compiled_ngram_hashes_equal_numpy_on_real_text(ja_texts, en_texts):
    words = WordHasher()
    for t in ja_texts[:100]:
        els = char_elements(t)
        assert np.array_equal(ngram_hashes(els, 5, SALT_CHAR), ngram_hashes_numpy(els, 5, SALT_CHAR))
    for t in en_texts[:100]:
        els = words.elements(t)
        assert np.array_equal(ngram_hashes(els, 5, SALT_WORD), ngram_hashes_numpy(els, 5, SALT_WORD))


def test_compiled_kernel_is_used_and_equals_numpy_kernel(ja_texts, en_texts):
    """numba is a dependency: the fast kernel must be the one running, with identical values."""
    mh = MinHasher(200, 1)
    assert mh.compiled
    words = WordHasher()
    for t in ja_texts[:50] + en_texts[:50]:
        h = shingle_hashes(t, "char", 5) if any("\u3040" <= c <= "\u30ff" for c in t) else shingle_hashes(t, "word", 5, words)
        if h.size:
            assert np.array_equal(mh.signature(h), mh.signature_numpy(h))


def test_estimated_jaccard_tracks_true_jaccard(ja_texts):
    mh = MinHasher(200, 1)
    t = "".join(ja_texts[:3])
    edited = t[: len(t) * 3 // 4]  # a truncation
    s1, s2 = set(char_shingles(t, 5)), set(char_shingles(edited, 5))
    true_j = len(s1 & s2) / len(s1 | s2)
    est = estimated_jaccard(mh.signature(shingle_hashes(t, "char", 5)), mh.signature(shingle_hashes(edited, "char", 5)))
    assert abs(est - true_j) < 0.1


def test_band_keys_stable_and_include_band_index():
    sig = (np.arange(200, dtype=np.uint32) * np.uint32(2654435761)).reshape(1, 200)
    keys = band_keys(sig, 20, 10, salt=123)
    # Pinned values: a change here changes every band key, i.e. breaks dedup across runs/indexes.
    assert keys.dtype == np.uint64 and keys.shape == (1, 20)
    assert [int(k) for k in keys[0, :3]] == PINNED_BAND_KEYS
    # Same values in two bands give different keys (band index is part of the key)...
    same = np.tile(np.arange(10, dtype=np.uint32), 20).reshape(1, 200)
    k2 = band_keys(same, 20, 10, salt=123)[0]
    assert len(set(k2.tolist())) == 20
    # ...and the salt (profile, scope) separates otherwise equal bands.
    assert not set(band_keys(sig, 20, 10, salt=124)[0].tolist()) & set(keys[0].tolist())
    # Deterministic across calls and independent of the other documents in the batch.
    both = np.vstack([sig, same])
    assert np.array_equal(band_keys(both, 20, 10, salt=123)[0], keys[0])


PINNED_BAND_KEYS = [9777073776570491418, 7760871771249632656, 6520376022918726980]


def test_ascii_fast_path_equals_general_path(en_texts):
    import unicodedata

    from corpusflow.dedup import shingle as s

    def general(text):
        t = s._ACCENTS.sub("", unicodedata.normalize("NFKD", text)).lower()
        return s._WORD.findall(s._DIGITS.sub("0", t))

    samples = [t for t in en_texts if t.isascii()] + ["snake_case and CamelCase 3.14 x2 -- (a)b", "\t\n  "]
    assert len(samples) > 5
    for t in samples:
        assert s.simplify_words(t) == general(t)


TRICKY = [
    "ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΙΑ",  # capital sigma: lower() picks the final form by context -> regex path
    "İstanbul'da 3 gün",  # U+0130 lowers to two code points -> regex path
    "Crème brûlée à la carte, naïve café",  # accents removed
    "１２３４５ｘ　ＡＢＣ　①②③ ¼ ²",  # full-width digits, circled numbers, fractions, superscripts
    "がぎぐ ｶﾞｷﾞｸﾞ ﾊﾟﾝ ヴ゙",  # voicing marks (combining, kept by NFKC composition / removed as non-word)
    "emoji 😀👍🏽 and 𠮷野家 (astral CJK) 𝟏𝟐",  # characters outside the BMP
    "שָׁלוֹם עוֹלָם and नमस्ते",  # combining marks outside the accent ranges
    "snake_case__and___under_scores 1_000_000 a00b0c",
    "\ud800 lone surrogate \udfff",
    "Straße STRASSE ǅungla ﬁne ﬀ",
]


@pytest.mark.parametrize("text", TRICKY)
def test_table_simplifications_equal_regex_definitions(text):
    from corpusflow.dedup import shingle as s

    ref = np.frombuffer(s.normalize_chars(text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    assert np.array_equal(s.char_elements(text), ref.astype(np.uint64))
    assert s.simplify_words(text) == s.simplify_words_reference(text)


def test_table_simplifications_equal_regex_on_real_text_and_every_bmp_character(ja_texts, en_texts):
    from corpusflow.dedup import shingle as s

    for t in ja_texts + en_texts:
        ref = np.frombuffer(s.normalize_chars(t).encode("utf-32-le"), dtype=np.uint32)
        assert np.array_equal(s.char_elements(t), ref.astype(np.uint64))
        assert s.simplify_words(t) == s.simplify_words_reference(t)
    # Every BMP character between two letters, in chunks (one string per 512 code points).
    for start in range(0, 0x10000, 512):
        text = "".join(f"a{chr(cp)}b " for cp in range(start, start + 512) if not 0xD800 <= cp < 0xE000)
        ref = np.frombuffer(s.normalize_chars(text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        assert np.array_equal(s.char_elements(text), ref.astype(np.uint64)), hex(start)
        assert s.simplify_words(text) == s.simplify_words_reference(text), hex(start)


def test_kernel_exact_with_many_repeats():
    """Repeated shingles tie the minimum with themselves: the fix-up path must stay exact."""
    rng = np.random.default_rng(11)
    mh = MinHasher(112, 1)
    for _ in range(60):
        h = rng.integers(0, 2**63, int(rng.integers(1, 400)), dtype=np.int64).astype(np.uint64)
        h = np.repeat(h, rng.integers(1, 4, h.size))
        ref = reference_signature(h, mh.a, mh.b)
        assert np.array_equal(mh.signature(h), ref)
        assert np.array_equal(mh.signature_numpy(h), ref)
    assert mh.fixups > 0
