"""Language identification with fastText ``lid.176`` plus a Japanese script check.

The model (``lid.176.ftz``, CC BY-SA 3.0, the compressed 176-language model of Joulin et al.
2016) ships inside the package at ``corpusflow/resources/lid.176.ftz``; nothing is downloaded.

How a document is labelled:

1. The first ``max_chars`` characters, newlines replaced by spaces (fastText predicts one
   line; a newline would end the input early), go to the model: fastText's own arithmetic
   compiled with numba (:mod:`corpusflow.text.fasttext_infer`, bit-identical to the binding's
   ``model.f.predict``), or the binding itself (see :class:`FastTextLangId`).
2. The top label and its probability become ``lang`` / ``lang_score``.
3. Script check (on by default). Japanese is the only language written with kana, so:
   * a text labelled ``ja`` whose kana share of CJK characters is below ``min_kana_fraction``
     is kanji-only text: Chinese (or a list of kanji names) that lid.176 calls Japanese. It is
     rejected as ``langid.ja_without_kana``; Chinese is never accepted as ``ja``.
   * a text labelled with a Chinese label (``zh``, ``wuu``, ``yue``, ``gan``, ``lzh``) that is
     written in Japanese script (Han + kana at least :data:`JAPANESE_SCRIPT_SHARE` of its
     letters) with a clear kana share (at least :data:`KANA_RESCUE_FRACTION` of its CJK
     characters and at least :data:`KANA_RESCUE_MIN` kana) is relabelled ``ja``, with the
     model's ``ja`` probability kept in ``lang_score``: kanji-heavy Japanese (Wikipedia leads,
     government text) is the documented false negative of lid.176 on short strings.

Decisions (reason codes):

* ``langid.other_language``: ``lang`` is not one of the accepted languages.
* ``langid.low_score``: ``lang`` is accepted but its score is below the language's minimum.
* ``langid.ja_without_kana``: see above.
* ``langid.empty``: no letters to identify (empty or symbols only).

Pure Python: no Beam import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from corpusflow.text import fasttext_infer as fi

REASON_OTHER = "langid.other_language"
REASON_LOW_SCORE = "langid.low_score"
REASON_JA_WITHOUT_KANA = "langid.ja_without_kana"
REASON_EMPTY = "langid.empty"

#: A non-Japanese CJK label is corrected to ``ja`` when kana make up at least this share of the
#: CJK characters (Chinese text essentially never has 10% kana) ...
KANA_RESCUE_FRACTION = 0.10
#: ... and there are at least this many kana characters.
KANA_RESCUE_MIN = 5
#: ... and Han + kana make up at least this share of all letters (not an English page quoting
#: a Japanese word, not Korean text with Hanja).
JAPANESE_SCRIPT_SHARE = 0.5
#: Labels that lid.176 gives to kanji-heavy Japanese by mistake.
CJK_LABELS = frozenset({"zh", "wuu", "yue", "gan", "lzh"})

_LETTER = re.compile(r"[^\W\d_]")


def _script_masks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kana, Han, letter) masks of code points ``a`` (uint32); see :func:`script_stats`."""
    kana = (((a >= 0x3041) & (a <= 0x30FF)) | ((a >= 0x31F0) & (a <= 0x31FF))
            | ((a >= 0xFF66) & (a <= 0xFF9F)))
    han = (((a >= 0x3400) & (a <= 0x4DBF)) | ((a >= 0x4E00) & (a <= 0x9FFF))
           | ((a >= 0xF900) & (a <= 0xFAFF)))
    ascii_letters = ((a >= 0x41) & (a <= 0x5A)) | ((a >= 0x61) & (a <= 0x7A))
    high = a >= 0xC0
    not_letter = (((a >= 0x2000) & (a <= 0x2BFF)) | ((a >= 0x3000) & (a <= 0x3040))
                  | ((a >= 0xFF00) & (a <= 0xFF20)) | ((a >= 0xFF3B) & (a <= 0xFF40))
                  | ((a >= 0xFF5B) & (a <= 0xFF65)) | ((a >= 0xFE30) & (a <= 0xFE4F))
                  | (a == 0xD7) | (a == 0xF7))
    return kana, han, ascii_letters | (high & ~not_letter)


def _build_script_table() -> np.ndarray:
    """The masks of every BMP code point as bits (1 kana, 2 Han, 4 letter), computed once.

    Code points above U+FFFF are letters that are neither kana nor Han, exactly like U+FFFF, so
    :func:`script_stats` looks them up at U+FFFF.
    """
    kana, han, letter = _script_masks(np.arange(0x10000, dtype=np.uint32))
    return (kana.astype(np.uint8) | (han.astype(np.uint8) << 1) | (letter.astype(np.uint8) << 2))


_SCRIPT_TABLE = _build_script_table()


def script_stats(text: str) -> tuple[int, int, int]:
    """Return (kana, CJK characters incl. kana, letters of any script) in ``text``.

    Vectorised over the code points (numpy, one table lookup and one bincount), about 20x faster
    than regular expressions.
    "Letters" are ASCII letters and every code point from U+00C0 up except the punctuation,
    symbol and space blocks (General Punctuation, CJK Symbols and Punctuation, full-width ASCII
    punctuation and digits, box drawing, arrows...): a share, not a Unicode-exact count.
    """
    if not text:
        return 0, 0, 0
    a = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    c = np.bincount(_SCRIPT_TABLE[np.minimum(a, 0xFFFF)], minlength=8)
    kana = int(c[1] + c[3] + c[5] + c[7])
    han = int(c[2] + c[3] + c[6] + c[7])
    letters = int(c[4] + c[5] + c[6] + c[7])
    return kana, kana + han, letters


@dataclass(frozen=True, slots=True)
class LangResult:
    lang: str
    score: float
    reason: str | None  # None when accepted


class FastTextLangId:
    """Loads ``lid.176`` once and labels texts. Construct in a DoFn's ``setup()``.

    Prediction runs in :mod:`corpusflow.text.fasttext_infer` (compiled with numba, bit-identical labels
    and probabilities, ~4x faster; the kernel is compiled or loaded from numba's cache here, not
    on the first document). The fastText binding (``model.f.predict``, which works with numpy 2
    in every fastText build; the Python wrapper's ``predict`` breaks with numpy 2 in some builds
    because of ``np.array(copy=False)``) is used instead when ``CORPUSFLOW_NO_NUMBA=1`` is set or
    the model uses something the compiled path does not reproduce (:attr:`backend` says which).
    """

    def __init__(self, model_path: str, *, backend: str = "auto") -> None:
        if backend not in ("auto", "numba", "binding"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'binding', not {backend!r}")
        self._compiled: fi.FastTextModel | None = None
        if backend != "binding" and (backend == "numba" or fi.numba_enabled()):
            try:
                self._compiled = fi.FastTextModel(model_path)
            except fi.UnsupportedModel:
                if backend == "numba":
                    raise
            else:
                self._compiled.predict("warm up", 1)  # compile (or load the cached kernel) now
        if self._compiled is None:
            import fasttext  # imported here: the module must stay importable without the model

            # fastText prints a warning to stderr for .ftz "load_model" in some builds; harmless.
            self._predict = fasttext.load_model(model_path).f.predict
        self.backend = "numba" if self._compiled is not None else "binding"

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """Top-``k`` (label, probability), best first, probabilities clamped to [0, 1] (see
        :func:`probability`). ``text`` must not contain newlines."""
        if self._compiled is not None:
            return [(label, probability(p)) for label, p in self._compiled.predict(text, k)]
        out = self._predict(text, k, 0.0, "replace")
        return [(label[9:] if label.startswith("__label__") else label, probability(p)) for p, label in out]


def probability(p: float) -> float:
    """fastText's score as a probability in [0, 1].

    fastText's hierarchical softmax adds the log of each sigmoid on the label's path as
    ``std_log(x) = log(x + 1e-5)`` (``src/loss.cc``, facebookresearch/fastText), and predict
    returns ``exp`` of the sum: a confident prediction comes out slightly above 1 (lid.176 gives
    1.00001 for a plain Japanese or English sentence). That excess is the smoothing constant, not
    information, so the probability is clamped; a NaN (never seen) would become 0.
    """
    p = float(p)
    return min(p, 1.0) if p >= 0.0 else 0.0


def prepare_text(text: str, max_chars: int) -> str:
    """The text fastText sees: the head of the document on one line."""
    return " ".join(text[: max_chars].split())


def identify(
    model: FastTextLangId,
    text: str,
    *,
    languages: frozenset[str] | set[str],
    min_score: float,
    min_score_by_lang: Mapping[str, float],
    ja_script_check: bool = True,
    min_kana_fraction: float = 0.05,
    max_chars: int = 2000,
) -> LangResult:
    """Label ``text`` and decide whether it is accepted (see module docstring)."""
    line = prepare_text(text, max_chars)
    if not _LETTER.search(line):
        return LangResult("und", 0.0, REASON_EMPTY)
    preds = model.predict(line, k=5)
    if not preds:  # fastText found no known token at all
        return LangResult("und", 0.0, REASON_EMPTY)
    lang, score = preds[0]
    if ja_script_check:
        kana, cjk, letters = script_stats(line)
        if lang == "ja":
            if cjk == 0 or kana / cjk < min_kana_fraction:
                return LangResult(lang, score, REASON_JA_WITHOUT_KANA)
        elif (
            lang in CJK_LABELS
            and kana >= KANA_RESCUE_MIN
            and kana / cjk >= KANA_RESCUE_FRACTION
            and cjk / letters >= JAPANESE_SCRIPT_SHARE
        ):
            ja_p = next((p for lab, p in preds if lab == "ja"), 0.0)
            # Accepted on script evidence: the threshold of `ja` does not apply to the
            # (deliberately reported) model probability of `ja`.
            return LangResult("ja", float(ja_p), None if "ja" in languages else REASON_OTHER)
    if lang not in languages:
        return LangResult(lang, score, REASON_OTHER)
    if score < min_score_by_lang.get(lang, min_score):
        return LangResult(lang, score, REASON_LOW_SCORE)
    return LangResult(lang, score, None)
