"""Benchmark of exact token counting per tokenizer, and the tokenizer-efficiency table.

    python bench/bench_tokens.py [--corpus /work/benchdata/c100k] [--docs 20000]

1. Speed: documents/s, characters/s and MB/s of exact counting on make_corpus web documents
   (JA/EN mix as generated) with each tokenizer: the shipped LLM-jp v3.1 SentencePiece model,
   the shipped Llama-3 tiktoken ranks, and a Hugging Face tokenizer.json (the LLM-jp v3.1
   Unigram model converted here from the shipped file: nothing is downloaded), with 1 and 2
   encoding threads, in batches of 256 documents (what the Beam stage does).
2. Efficiency: characters per token and UTF-8 bytes per token per language for the two
   shipped tokenizers on the real JA and EN text under ../shared/data (the shisa-base card's
   table), plus the estimate mode's reported relative standard error and its actual error.

Writes bench/results/tokens.json.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import machine

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")

JA_FILES = ["ja/ja_wiki_paragraphs.jsonl.gz", "ja/kwdlc_leads.jsonl", "ja/aozora_dev.jsonl.gz",
            "ja/abeja_cc_ja.jsonl", "ja/mc4ja_quality_labels.dev.jsonl"]
EN_FILES = ["en/c4_sample.jsonl.gz", "en/abc_news.jsonl.gz"]


def read_texts(path: str, limit: int | None = None) -> list[str]:
    op = gzip.open if path.endswith(".gz") else open
    out = []
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line)["text"])
                if limit and len(out) >= limit:
                    break
    return out


def convert_llmjp_to_hf(path: str) -> str:
    """The LLM-jp v3.1 SentencePiece Unigram model as a HF tokenizer.json (pieces + scores,
    byte fallback, dummy prefix, split digits), built from the shipped file: a realistic
    99k-vocabulary tokenizer for the `hf` kind without downloading anything."""
    import sentencepiece as spm
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from corpusflow.core.paths import resolve_path

    sp = spm.SentencePieceProcessor(
        model_file=resolve_path("pkg:resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model"))
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp.unk_id(), byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Digits(individual_digits=True)
    tok.save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/benchdata/c100k", help="make_corpus.py output folder")
    ap.add_argument("--docs", type=int, default=20000, help="documents for the speed test")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "tokens.json"))
    args = ap.parse_args()

    from corpusflow.commands.tokens import efficiency_rows, format_table
    from corpusflow.core.document import Document
    from corpusflow.mixture.counting import count_exact
    from corpusflow.mixture.tokenizers import load_tokenizer

    result: dict = {"machine": machine(), "corpus": args.corpus}
    web: list[str] = []
    for path in sorted(glob.glob(os.path.join(args.corpus, "web", "*.jsonl.gz"))):
        web.extend(read_texts(path, args.docs - len(web)))
        if len(web) >= args.docs:
            break
    chars = sum(map(len, web))
    nbytes = sum(len(t.encode("utf-8")) for t in web)
    result["speed_input"] = {"docs": len(web), "chars": chars, "mb": round(nbytes / 2**20, 2)}

    tmp = tempfile.mkdtemp()
    hf_path = convert_llmjp_to_hf(os.path.join(tmp, "tokenizer.json"))

    specs = {"llm-jp-v3.1": "llm-jp-v3.1", "llama3": "llama3",
             "llm-jp-v3.1 as HF tokenizer.json": {"path": hf_path, "name": "llm-jp-v3.1-hf"}}
    speed = []
    for label, spec in specs.items():
        t0 = time.perf_counter()
        tok = load_tokenizer(spec)
        load_s = time.perf_counter() - t0
        count_exact(tok, web[:500])  # warm up
        for threads in (1, 2):
            tok.threads = threads
            if tok.kind == "hf":  # rayon's pool size is fixed per process
                os.environ["RAYON_NUM_THREADS"] = str(threads)
            t0, c0 = time.perf_counter(), time.process_time()
            counts = count_exact(tok, web, batch_size=256)
            s, cpu = time.perf_counter() - t0, time.process_time() - c0
            # CPU time is the figure to trust on a shared machine: wall time depends on the load.
            row = {"tokenizer": label, "kind": tok.kind, "vocab_size": tok.vocab_size, "threads": threads,
                   "load_s": round(load_s, 2), "seconds": round(s, 2), "cpu_s": round(cpu, 2),
                   "docs_per_cpu_s": round(len(web) / cpu), "mb_per_cpu_s": round(nbytes / 2**20 / cpu, 2),
                   "load_1m": os.getloadavg()[0], "docs_per_s": round(len(web) / s),
                   "chars_per_s": round(chars / s), "mb_per_s": round(nbytes / 2**20 / s, 2),
                   "tokens": int(counts.sum())}
            if tok.kind == "hf":
                row["note"] = "tokenizers uses its own rayon pool; thread count not controllable per call"
            speed.append(row)
            print(json.dumps(row))
    result["speed"] = speed
    by = {r["tokenizer"]: r["tokens"] for r in speed}
    result["hf_conversion_token_ratio_vs_sentencepiece"] = round(
        by["llm-jp-v3.1 as HF tokenizer.json"] / by["llm-jp-v3.1"], 5)

    # Cells are (file, language), as `corpusflow tokens` makes them (the pipeline: (source, lang)).
    docs = []
    for f in JA_FILES + EN_FILES:
        lang = f.split("/")[0]
        src = os.path.basename(f).split(".")[0]
        docs += [Document(id=f"{src}-{i}", text=t, source=src, lang=lang)
                 for i, t in enumerate(read_texts(os.path.join(SHARED, f)))]
    langs = [d.lang for d in docs]
    table = []
    for name in ("llm-jp-v3.1", "llama3"):
        tok = load_tokenizer({"preset": name, "threads": 2})
        table += efficiency_rows(docs, langs, tok, estimate=False, seed=0, sample_rate=0.01,
                                 min_sample_docs=500, verify=False)
    # Estimate mode: reported relative standard error vs the actual error over 10 seeds.
    from corpusflow.mixture.counting import count_documents

    est = []
    texts = [d.text for d in docs]
    ids = [d.id for d in docs]
    for name in ("llm-jp-v3.1", "llama3"):
        tok = load_tokenizer({"preset": name, "threads": 2})
        exact = count_exact(tok, texts)
        for cells_kind in ("per (file, lang)", "one cell per lang"):
            cells = [(d.source if cells_kind.startswith("per") else "all", d.lang) for d in docs]
            for lang in ("ja", "en"):
                ix = [i for i, d in enumerate(docs) if d.lang == lang]
                errs, ses, sampled = [], [], []
                for seed in range(10):
                    t0 = time.perf_counter()
                    r = count_documents(tok, texts, cells=cells, ids=ids, mode="estimate", seed=seed,
                                        sample_rate=0.01, min_sample_docs=500)
                    est_s = time.perf_counter() - t0
                    got, true = int(r.n_tokens[ix].sum()), int(exact[ix].sum())
                    var = 0.0
                    for c, cal in r.calibrations.items():
                        if c[1] != lang:
                            continue
                        cix = [i for i in ix if cells[i] == c]
                        var += ((cal.rel_stderr(len(cix)) or 0.0) * int(r.n_tokens[cix].sum())) ** 2
                    errs.append((got - true) / true)
                    ses.append(var ** 0.5 / got)
                    sampled.append(int(r.sampled[ix].sum()))
                import statistics

                est.append({"tokenizer": name, "cells": cells_kind, "lang": lang, "docs": len(ix),
                            "sample_docs_mean": round(statistics.mean(sampled)),
                            "reported_rel_stderr_mean": round(statistics.mean(ses), 5),
                            "actual_rel_error_sd": round(statistics.pstdev(errs), 5),
                            "actual_rel_error_mean": round(statistics.mean(errs), 5),
                            "actual_rel_error_max_abs": round(max(map(abs, errs)), 5),
                            "seconds_per_estimate": round(est_s, 2)})
                print(json.dumps(est[-1]))
    result["efficiency"] = {"texts": {"ja": JA_FILES, "en": EN_FILES}, "rows": table}
    result["estimate_mode"] = est
    print(format_table(table))
    result["machine"]["load_1m_after"] = os.getloadavg()[0]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
