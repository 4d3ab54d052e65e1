"""The outcome vocabulary: counter names round-trip, and everything outside it is ``info``."""

from __future__ import annotations

import pytest

from corpusflow.core import outcomes


@pytest.mark.parametrize(
    ("kind", "detail", "name"),
    [
        ("in", "", "in"),
        ("kept", "", "kept"),
        ("rejected", "ja.hiragana_fraction.too_low", "rejected.ja.hiragana_fraction.too_low"),
        ("duplicate", "minhash", "duplicate.minhash"),
        ("error", "UnicodeDecodeError", "error.UnicodeDecodeError"),
        ("info", "lang.ja", "info.lang.ja"),
    ],
)
def test_counter_names_round_trip(kind: str, detail: str, name: str) -> None:
    assert outcomes.counter(kind, detail) == name
    assert outcomes.parse(name) == (kind, detail)


@pytest.mark.parametrize("name", ["records", "docs_in", "errors", "rejected", "exact_duplicates", "lang.ja"])
def test_names_outside_the_vocabulary_are_info(name: str) -> None:
    assert outcomes.parse(name) == ("info", name)


@pytest.mark.parametrize(("kind", "detail"), [("rejected", ""), ("error", ""), ("dropped", "x")])
def test_bad_counters_are_refused(kind: str, detail: str) -> None:
    with pytest.raises(ValueError):
        outcomes.counter(kind, detail)
