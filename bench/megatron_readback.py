"""Read a ``corpusflow export --format megatron`` back with Megatron-Core's own reader.

Runs in a Python that has ``megatron-core`` and torch (not corpusflow's environment):

    /tmp/venv-megatron/bin/python bench/megatron_readback.py EXPORT_DIR EXPECTED.npz [--json OUT]

``EXPECTED.npz`` (written by ``bench/bench_export.py`` from the run's Parquet rows, not from
the export) holds per dataset ``NAME.lengths`` (the rows' ``n_tokens`` + the EOD) and, for a
sample of documents, ``NAME.sample_index`` / ``NAME.sample_ids`` / ``NAME.sample_offsets`` (their
ids, re-encoded from the rows' text). For every prefix of ``EXPORT_DIR/export.json`` this
opens ``megatron.core.datasets.indexed_dataset.IndexedDataset`` and checks the document count,
the document boundaries (``document_indices``), every document's length, the token count,
that every document ends with the EOD, and the sampled documents' ids; it also parses
``data_path.txt`` with ``megatron.core.datasets.utils.get_blend_from_list`` (what
``--data-path`` goes through) and checks the prefixes and weights. With ``--gpt-samples N``
it also builds Megatron's training dataset from that blend (``BlendedMegatronDatasetBuilder`` of
``GPTDataset``, N samples of ``--seq-length`` tokens, single process) and compares the share
of samples drawn from each dataset with the export's token shares (the run's mixture).
Prints (and writes) JSON; exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("export_dir")
    ap.add_argument("expected")
    ap.add_argument("--json", default=None)
    ap.add_argument("--gpt-samples", type=int, default=0, help="also build a GPTDataset blend of N samples")
    ap.add_argument("--seq-length", type=int, default=2048)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import numpy as np

    t0 = time.perf_counter()
    import megatron.core
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from megatron.core.datasets.utils import get_blend_from_list

    import_s = time.perf_counter() - t0
    with open(os.path.join(args.export_dir, "export.json"), encoding="utf-8") as f:
        report = json.load(f)
    expected = np.load(args.expected)
    eod = report["eod"]["id"]
    out: dict = {"megatron_core": getattr(megatron.core, "__version__", None), "import_s": round(import_s, 2),
                 "datasets": [], "ok": True}
    try:
        from importlib.metadata import version

        out["megatron_core"] = version("megatron-core")
        out["torch"] = version("torch")
    except Exception:  # versions are informative only
        pass
    t1 = time.perf_counter()
    for d in report["datasets"]:
        name = d["prefix"]
        ds = IndexedDataset(os.path.join(args.export_dir, name), mmap=True)
        lengths = expected[f"{name}.lengths"]
        n = len(ds)
        seq = np.asarray(ds.sequence_lengths, dtype=np.int64)
        doc_idx = np.asarray(ds.document_indices, dtype=np.int64)
        ends_ok = all(int(ds[i][-1]) == eod for i in range(n))
        sample_index = expected[f"{name}.sample_index"]
        sample_ids = expected[f"{name}.sample_ids"]
        offsets = expected[f"{name}.sample_offsets"]
        sample_ok = all(
            np.array_equal(np.asarray(ds[int(i)], dtype=np.int64), sample_ids[offsets[k] : offsets[k + 1]])
            for k, i in enumerate(sample_index))
        row = {
            "prefix": name,
            "dtype": np.dtype(ds.index.dtype).name,
            "documents": n,
            "documents_expected": len(lengths),
            "tokens": int(seq.sum()),
            "tokens_expected": int(lengths.sum()),
            "boundaries_one_sequence_per_document": bool(np.array_equal(doc_idx, np.arange(len(lengths) + 1))),
            "lengths_equal_rows_n_tokens_plus_eod": bool(len(seq) == len(lengths) and np.array_equal(seq, lengths)),
            "every_document_ends_with_eod": ends_ok,
            "sampled_documents": len(sample_index),
            "sampled_documents_equal_reencoded_rows": sample_ok,
        }
        row["ok"] = (row["documents"] == row["documents_expected"] and row["tokens"] == row["tokens_expected"]
                     and row["boundaries_one_sequence_per_document"] and row["lengths_equal_rows_n_tokens_plus_eod"]
                     and ends_ok and sample_ok and row["dtype"] == report["dtype"])
        out["ok"] &= row["ok"]
        out["datasets"].append(row)
    with open(os.path.join(args.export_dir, "data_path.txt"), encoding="utf-8") as f:
        prefixes, weights = get_blend_from_list(f.read().split())
    want = [(os.path.join(os.path.realpath(args.export_dir), d["prefix"]), float(d["tokens"]))
            for d in report["datasets"] if d["tokens"] > 0]
    out["data_path"] = {"prefixes": len(prefixes), "equal_to_export": list(zip(prefixes, weights, strict=True)) == want}
    out["ok"] &= out["data_path"]["equal_to_export"]
    if args.gpt_samples:
        out["gpt_blend"] = gpt_blend(args.export_dir, report, prefixes, weights, args.gpt_samples, args.seq_length)
        out["ok"] &= out["gpt_blend"]["ok"]
    out["documents"] = sum(r["documents"] for r in out["datasets"])
    out["tokens"] = sum(r["tokens"] for r in out["datasets"])
    out["check_s"] = round(time.perf_counter() - t1, 2)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0 if out["ok"] else 1


class _Tokenizer:
    """What GPTDataset reads from a tokenizer: vocab size, EOD, pad, an identity for its cache."""

    def __init__(self, vocab_size: int, eod: int, name: str) -> None:
        self.vocab_size, self.eod, self.pad = vocab_size, eod, -1
        self.unique_identifiers = {"class": "corpusflow-export", "name": name, "vocab_size": vocab_size}


def gpt_blend(export_dir: str, report: dict, prefixes: list, weights: list, n: int, seq_length: int) -> dict:
    """Build Megatron's blended GPT training dataset from data_path.txt; compare sample shares."""
    import numpy as np
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    t0 = time.perf_counter()
    tok = _Tokenizer(report["tokenizer"]["vocab_size"], report["eod"]["id"], report["tokenizer"]["name"])
    cfg = GPTDatasetConfig(random_seed=1234, sequence_length=seq_length, blend=(prefixes, weights), split="1,0,0",
                           tokenizer=tok, reset_position_ids=False, reset_attention_mask=False,
                           eod_mask_loss=False, path_to_cache=None, create_attention_mask=False)
    train, _valid, _test = BlendedMegatronDatasetBuilder(GPTDataset, [n, 0, 0], lambda: True, cfg).build()
    first = train[0]
    eod_in_first = int((np.asarray(first["tokens"]) == tok.eod).sum())
    if len(prefixes) > 1:
        idx = np.asarray(train.dataset_index)
        shares = (np.bincount(idx, minlength=len(prefixes)) / len(idx)).tolist()
    else:
        shares = [1.0]
    want = [w / sum(weights) for w in weights]
    err = max(abs(a - b) for a, b in zip(shares, want, strict=True))
    return {"samples": len(train), "seq_length": seq_length, "sample_shares": [round(x, 6) for x in shares],
            "export_token_shares": [round(x, 6) for x in want], "max_abs_share_error": round(err, 6),
            "first_sample_tokens": int(np.asarray(first["tokens"]).size), "eod_in_first_sample": eod_in_first,
            "seconds": round(time.perf_counter() - t0, 2),
            "ok": bool(len(train) >= n and err <= 0.01 and np.asarray(first["tokens"]).size == seq_length)}


if __name__ == "__main__":
    sys.exit(main())
