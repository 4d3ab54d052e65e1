"""Output tables: the written Parquet schemas are core/schemas.py's, shared columns have one type,
``metadata`` is a typed struct (with ``extra`` JSON), every ``lang_score`` is in [0, 1], and token
ids stored by the counting pass export to the same Megatron bytes as re-tokenising.

One pipeline run on real JA/EN text from ../shared/data (thousands of documents; filters, dedup,
a mixture with ``count.keep_token_ids``), and the same run without stored ids.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from corpusflow.core.document import Document
from corpusflow.core.schemas import (
    DOC_SCHEMA,
    DUPLICATE_SCHEMA,
    ERROR_SCHEMA,
    METADATA_TYPE,
    POOL_SCHEMA,
    POOL_SCHEMA_TOKEN_IDS,
    REJECTED_SCHEMA,
    TABLES,
    TOKEN_IDS_FIELD,
    TRAIN_SCHEMA,
    TRAIN_SCHEMA_TOKEN_IDS,
    check_lang_score,
    doc_row,
    metadata_dict,
    metadata_struct,
    row_to_document,
)
from corpusflow.export.exporter import ExportOptions, export_run
from corpusflow.text.langid import probability
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import fixture, load_manifest, run_cli

pytestmark = pytest.mark.shared_data

N_WIKI, N_MC4, N_C4, N_DUP = 1500, 850, 1000, 60


# ------------------------------------------------------------------------------------------------
# metadata struct
# ------------------------------------------------------------------------------------------------

HIT = {"benchmark": "jsquad", "item": "a1b2-0", "field": "context", "overlap": 0.8125, "ngrams": 13,
       "spans": [[0, 42], [60, 71]], "items_sharing_text": 2, "excerpt": "東大寺は奈良県奈良市雑司町にある"}


@pytest.mark.parametrize(("meta", "typed", "extra"), [
    ({}, {}, {}),
    # the input's own fields go to extra, whatever their type
    ({"title": "東大寺", "date": "2019-04-25T12:00:00Z", "tags": ["寺", 1]},
     {"title": "東大寺"}, {"date": "2019-04-25T12:00:00Z", "tags": ["寺", 1]}),
    # what corpusflow writes: typed fields
    ({"cluster_size": 3, "filter_reasons": ["en.stop_words", "ja.hiragana_fraction"], "original_id": "c4-17"},
     {"cluster_size": 3, "filter_reasons": ["en.stop_words", "ja.hiragana_fraction"], "original_id": "c4-17"}, {}),
    ({"decontam": [HIT, {"benchmark": "mmlu", "item": "7", "field": "question", "overlap": 1, "ngrams": 20,
                         "spans": [[5, 90]]}]},
     {"decontam": [HIT, {"benchmark": "mmlu", "item": "7", "field": "question", "overlap": 1, "ngrams": 20,
                         "spans": [[5, 90]]}]}, {}),
    ({"warc_date": "2024-02-21T10:11:12Z", "warc_offset": 1234, "http_status": 200, "content_type": "text/html",
      "charset": "cp932", "charset_source": "meta", "html_bytes": 5120, "content_kind": "text",
      "extractor": "trafilatura", "html_lang": "ja"},
     {"warc_date": "2024-02-21T10:11:12Z", "warc_offset": 1234, "http_status": 200, "content_type": "text/html",
      "charset": "cp932", "charset_source": "meta", "html_bytes": 5120, "content_kind": "text",
      "extractor": "trafilatura", "html_lang": "ja"}, {}),
    # a known name with another type (an input field called "title" holding a number, a bool
    # status, a None) stays in extra: nothing is cast or lost
    ({"title": 7, "http_status": True, "cluster_size": None, "filter_reasons": "x"},
     {}, {"title": 7, "http_status": True, "cluster_size": None, "filter_reasons": "x"}),
    ({"decontam": [{"benchmark": "x", "unknown_key": 1}]}, {}, {"decontam": [{"benchmark": "x", "unknown_key": 1}]}),
])
def test_metadata_struct_round_trip(meta: dict, typed: dict, extra: dict) -> None:
    s = metadata_struct(meta)
    assert {k: v for k, v in s.items() if k != "extra"} == typed
    assert json.loads(s["extra"]) == extra
    # through Arrow and back: the same meta
    back = pa.array([s], type=METADATA_TYPE).to_pylist()[0]
    assert metadata_dict(back) == meta
    # an output written before the struct (metadata as JSON) is still read
    assert metadata_dict(json.dumps(meta)) == meta


def test_document_survives_a_doc_row() -> None:
    doc = Document(id="w1", text="東大寺は奈良県にある寺院である。", source="ja_wiki", lang="ja", lang_score=0.99,
                   url="https://ja.wikipedia.org/wiki/東大寺", meta={"title": "東大寺", "cluster_size": 2},
                   signals={"ja.hiragana_fraction": 0.31}, file="a.jsonl", line=4)
    t = pa.Table.from_pylist([doc_row(doc)], schema=DOC_SCHEMA)
    assert row_to_document(t.to_pylist()[0]) == doc


# ------------------------------------------------------------------------------------------------
# lang_score in [0, 1]
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "p"), [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (1.0000100135803223, 1.0),
                                        (1.5, 1.0), (-1e-9, 0.0), (float("nan"), 0.0)])
def test_probability_is_clamped(raw: float, p: float) -> None:
    assert probability(raw) == p


@pytest.mark.parametrize("bad", [1.00001, -0.1, float("nan"), float("inf")])
def test_writer_refuses_a_lang_score_outside_0_1(bad: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        check_lang_score(bad)
    with pytest.raises(ValueError, match="outside"):
        doc_row(Document(id="a", text="x", source="s", lang="en", lang_score=bad))


def test_lid176_gives_probabilities_above_1_that_are_clamped(langid_model) -> None:
    # fastText's own output (before the clamp) exceeds 1 on confident Japanese and English lines:
    # without FastTextLangId's clamp these would reach lang_score.
    texts = [r["text"] for r in read_jsonl(fixture("ja/ja_wiki_paragraphs.jsonl.gz"), limit=300)]
    texts += [r["text"] for r in read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=300)]
    raw_model = langid_model._compiled  # the bit-identical fastText kernel
    if raw_model is None:
        pytest.skip("numba kernel disabled")
    raw = [raw_model.predict(" ".join(t[:2000].split()), 1)[0][1] for t in texts]
    assert sum(p > 1.0 for p in raw) >= 10
    assert all(0.0 <= p <= 1.0 for t in texts for _, p in langid_model.predict(" ".join(t[:2000].split()), 5))


# ------------------------------------------------------------------------------------------------
# A pipeline run: every table
# ------------------------------------------------------------------------------------------------


def _config(d: Path, keep_ids: bool) -> Path:
    cfg = {
        "name": "schemas",
        "seed": 11,
        "sources": [
            {"name": "ja_wiki", "paths": [str(d / "wiki.jsonl")], "lang": "ja",
             "fields": {"id": None, "meta": ["title", "source"]}},
            {"name": "mc4ja", "paths": [str(d / "mc4ja.jsonl.gz")], "lang": "ja"},
            {"name": "c4", "paths": [str(d / "c4.jsonl.gz")], "fields": {"id": None, "url": "url", "meta": ["date"]}},
        ],
        "stages": {
            "langid": {"languages": ["ja", "en"], "min_score": 0.5, "min_score_by_lang": {"en": 0.65}},
            "filters": {"enabled": True},
            "dedup": {"enabled": True},
            "mixture": {"enabled": True, "tokenizer": "llm-jp-v3.1",
                        "count": {"mode": "exact", "keep_token_ids": keep_ids},
                        "unit": "tokens", "group_by": "lang", "groups": {"ja": 0.8, "en": 0.2}, "budget": "all",
                        "on_shortfall": "shrink", "shards": {"num_shards": 3}},
        },
        "output": {"shard_max_bytes": 2_000_000, "row_group_rows": 500},
        "limits": {"max_error_rate": 0.05},
    }
    path = d / f"cfg-{keep_ids}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared_data: Path) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    wiki = read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=N_WIKI)
    mc4 = read_jsonl(shared_data / "ja" / "mc4ja_quality_labels.dev.jsonl", limit=N_MC4)
    c4 = read_jsonl(shared_data / "en" / "c4_sample.jsonl.gz", limit=N_C4)
    assert (len(wiki), len(mc4), len(c4)) == (N_WIKI, N_MC4, N_C4)
    # exact copies of the longest paragraphs (duplicates/) and one cut line (errors/)
    lines = [json.dumps(r, ensure_ascii=False) for r in wiki]
    longest = sorted(range(len(wiki)), key=lambda i: -len(wiki[i]["text"]))[:N_DUP]
    lines += [lines[i] for i in longest]
    lines.append(lines[3][:25])
    (d / "wiki.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_jsonl(d / "mc4ja.jsonl.gz", mc4, compress="gz")
    write_jsonl(d / "c4.jsonl.gz", c4, compress="gz")
    return d


@pytest.fixture(scope="module")
def run_ids(tmp_path_factory, inputs: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "ids"
    assert run_cli("run", _config(inputs, True), "--output", out, "-q") == 0
    return out


@pytest.fixture(scope="module")
def run_plain(tmp_path_factory, inputs: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "plain"
    assert run_cli("run", _config(inputs, False), "--output", out, "-q") == 0
    return out


def _files(out: Path, sub: str) -> list[Path]:
    return sorted((out / sub).glob("*.parquet"))


def test_shared_columns_have_one_type_in_every_table() -> None:
    seen: dict[str, tuple[str, pa.DataType]] = {}
    for name, _where, _when, schema in (*TABLES, ("training rows + ids", "", "", TRAIN_SCHEMA_TOKEN_IDS),
                                        ("pool + ids", "", "", POOL_SCHEMA_TOKEN_IDS)):
        for f in schema:
            first = seen.setdefault(f.name, (name, f.type))
            assert f.type == first[1], f"{f.name}: {f.type} in {name}, {first[1]} in {first[0]}"
    assert seen["metadata"][1] == METADATA_TYPE and seen["token_ids"][1] == pa.list_(pa.uint32())
    assert TRAIN_SCHEMA_TOKEN_IDS.names[-1] == POOL_SCHEMA_TOKEN_IDS.names[-1] == TOKEN_IDS_FIELD.name


def test_every_written_table_has_its_schema(run_ids: Path, run_plain: Path) -> None:
    expected = {"data": TRAIN_SCHEMA_TOKEN_IDS, "pool": POOL_SCHEMA_TOKEN_IDS, "rejected": REJECTED_SCHEMA,
                "duplicates": DUPLICATE_SCHEMA, "errors": ERROR_SCHEMA}
    for sub, schema in expected.items():
        files = _files(run_ids, sub)
        assert files, sub
        for f in files:
            assert pq.read_schema(f).remove_metadata() == schema, f
    for sub, schema in (("data", TRAIN_SCHEMA), ("pool", POOL_SCHEMA)):
        for f in _files(run_plain, sub):
            assert pq.read_schema(f).remove_metadata() == schema, f
    m = load_manifest(run_ids)
    c = m["counts"]["total"]
    assert c["rejected"] > 0 and c["duplicates"] >= N_DUP and c["errors"] >= 1


def test_metadata_is_typed_in_the_output(run_ids: Path) -> None:
    pool = pa.concat_tables([pq.read_table(f, columns=["source", "metadata"]) for f in _files(run_ids, "pool")])
    rows = pool.to_pylist()
    # dedup wrote cluster_size on every kept document, as an int64 field
    assert all(isinstance(r["metadata"]["cluster_size"], int) for r in rows)
    assert any(r["metadata"]["cluster_size"] > 1 for r in rows if r["source"] == "ja_wiki")
    # the inputs' own fields: a known name with its type is a field (title), the rest in extra
    wiki = [r["metadata"] for r in rows if r["source"] == "ja_wiki"]
    assert wiki and all(m["title"] and json.loads(m["extra"])["source"].startswith("JaQuAD") for m in wiki)
    c4 = [json.loads(r["metadata"]["extra"]) for r in rows if r["source"] == "c4"]
    assert c4 and all("date" in e for e in c4)
    # training rows: url and lang_score are columns, metadata the same struct as the pool's
    data = pa.concat_tables([pq.read_table(f) for f in _files(run_ids, "data")])
    assert data.schema.field("metadata").type == pool.schema.field("metadata").type
    urls = data.filter(pa.compute.equal(data.column("source"), "c4")).column("url").to_pylist()
    assert urls and all(u.startswith("http") for u in urls)


def test_every_lang_score_in_the_output_is_in_0_1(run_ids: Path) -> None:
    scores: list[float] = []
    for sub in ("data", "pool", "rejected", "duplicates"):
        for f in _files(run_ids, sub):
            scores += [s for s in pq.read_table(f, columns=["lang_score"]).column("lang_score").to_pylist()
                       if s is not None]
    assert len(scores) >= N_WIKI + N_MC4 + N_C4  # kept (twice: pool + data) and dropped documents
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert sum(s == 1.0 for s in scores) > 100  # confident documents: fastText said 1.00001


def test_pyarrow_dataset_reads_data_and_pool(run_ids: Path) -> None:
    import pyarrow.dataset as ds

    for sub in ("data", "pool"):
        t = ds.dataset(str(run_ids / sub), format="parquet").to_table()
        assert t.num_rows == sum(pq.read_metadata(f).num_rows for f in _files(run_ids, sub))
        assert t.schema.field("metadata").type == METADATA_TYPE


# ------------------------------------------------------------------------------------------------
# stored token ids
# ------------------------------------------------------------------------------------------------


def test_stored_ids_are_the_counted_ids(run_ids: Path) -> None:
    from corpusflow.mixture.tokenizers import load_tokenizer

    tok = load_tokenizer("llm-jp-v3.1")
    t = pq.read_table(_files(run_ids, "data")[0], columns=["text", "n_tokens", "token_ids"]).slice(0, 200).to_pylist()
    assert t
    assert all(len(r["token_ids"]) == r["n_tokens"] for r in t)  # llm-jp-v3.1 preset: no add_eos
    assert [r["token_ids"] for r in t] == [tok.encode(r["text"]) for r in t]


def test_same_documents_and_counts_with_and_without_ids(run_ids: Path, run_plain: Path) -> None:
    cols = ["id", "source", "copy", "n_tokens", "text", "metadata", "lang_score", "url", "signals"]
    a = pa.concat_tables([pq.read_table(f, columns=cols) for f in _files(run_ids, "data")])
    b = pa.concat_tables([pq.read_table(f, columns=cols) for f in _files(run_plain, "data")])
    assert a.equals(b)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_megatron_export_from_stored_ids_equals_retokenising(run_ids: Path, run_plain: Path,
                                                             tmp_path: Path) -> None:
    stored = export_run(ExportOptions(run_dir=str(run_ids), output=str(tmp_path / "s"), per="group"))
    again = export_run(ExportOptions(run_dir=str(run_plain), output=str(tmp_path / "t"), per="group"))
    assert stored["token_ids_from"] == "stored" and stored["documents_tokenized"] == 0
    assert again["token_ids_from"] == "tokenizer" and again["documents_with_stored_ids"] == 0
    assert stored["tokens"] == again["tokens"] > 0
    assert stored["checks"]["per_document_counts_equal_recorded"] is True
    files = sorted(p.name for p in (tmp_path / "s").iterdir() if p.suffix in (".bin", ".idx"))
    assert files == sorted(p.name for p in (tmp_path / "t").iterdir() if p.suffix in (".bin", ".idx"))
    assert {"ja.bin", "ja.idx", "en.bin", "en.idx"} <= set(files)
    for name in files:
        assert _sha(tmp_path / "s" / name) == _sha(tmp_path / "t" / name), name


def test_export_refuses_stored_ids_that_disagree_with_n_tokens(run_ids: Path, tmp_path: Path) -> None:
    import shutil

    from corpusflow.export.exporter import ExportError

    bad = tmp_path / "bad"
    shutil.copytree(run_ids, bad)
    f = _files(bad, "data")[0]
    t = pq.read_table(f)
    ids = t.column("token_ids").to_pylist()
    ids[0] = ids[0][:-1]  # one id short of the recorded count
    t = t.set_column(t.column_names.index("token_ids"), TOKEN_IDS_FIELD, pa.array(ids, TOKEN_IDS_FIELD.type))
    pq.write_table(t, f)
    m = json.loads((bad / "manifest.json").read_text())
    for s in m["outputs"]["data"]:
        if s["file"] == f.name:
            s["sha256"] = _sha(f)
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ExportError, match="do not match the counts"):
        export_run(ExportOptions(run_dir=str(bad), output=str(tmp_path / "o")))


def _data_shas(out: Path) -> dict[str, str]:
    return {f.name: _sha(f) for f in _files(out, "data")}


def test_mix_from_a_pool_without_ids_counts_again_and_stores_them(run_ids: Path, run_plain: Path,
                                                                   inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "mix"
    assert run_cli("mix", inputs / "cfg-True.yaml", "--from", run_plain, "--output", out, "-q") == 0
    assert (out / "pool").is_dir()  # counted again: the new pool holds the ids for the next mix
    assert pq.read_schema(_files(out, "pool")[0]).remove_metadata() == POOL_SCHEMA_TOKEN_IDS
    assert _data_shas(out) == _data_shas(run_ids)  # the same shards as the pipeline run wrote


def test_mix_from_a_pool_with_ids_reuses_them(run_ids: Path, inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "mix"
    assert run_cli("mix", inputs / "cfg-True.yaml", "--from", run_ids, "--output", out, "-q") == 0
    assert not (out / "pool").exists()  # nothing counted again
    assert _data_shas(out) == _data_shas(run_ids)
    plain = tmp_path / "plain"  # the same pool mixed without keep_token_ids: the shards lose the column only
    assert run_cli("mix", inputs / "cfg-False.yaml", "--from", run_ids, "--output", plain, "-q") == 0
    a = pa.concat_tables([pq.read_table(f) for f in _files(out, "data")])
    b = pa.concat_tables([pq.read_table(f) for f in _files(plain, "data")])
    assert b.schema == TRAIN_SCHEMA and a.drop_columns(["token_ids"]).equals(b)


@pytest.mark.parametrize(("mixture", "ids", "schema"), [
    (False, False, DOC_SCHEMA), (True, False, TRAIN_SCHEMA), (True, True, TRAIN_SCHEMA_TOKEN_IDS)])
def test_card_lists_the_written_columns(mixture: bool, ids: bool, schema: pa.Schema) -> None:
    from corpusflow.export.card import columns_line

    line = columns_line(mixture, token_ids=ids)
    pos = 0
    for name in schema.names:  # every column, in schema order
        pos = line.index(f"`{name}`", pos) + 1
    assert ("`token_ids`" in line) == ids
