"""Compile every numba kernel into numba's on-disk cache: ``python -m corpusflow.run.warmup``.

Run once when a worker image is built (``deploy/dataflow/Dockerfile``), so that no worker spends
its first seconds compiling: each kernel is ``njit(cache=True)``, and numba loads the machine
code of a signature it has seen from its cache instead of compiling it again.

A kernel is cached per argument types, so the warm-up runs the real stages on real documents
(the first ``--docs`` of every source of a pipeline config, the demo by default, over the shipped
sample) instead of calling the kernels with made-up arguments: normalisation, fastText language
ID, every shipped filter profile (a filter chain's set-up also runs the filter kernels' own
warm-up, which reaches the kernels no shipped profile uses), and the MinHash signatures of the
dedup stage. The kernels:

* ``fasttext_infer`` — the fastText predict kernel (language ID, quality models);
* ``filters.*`` — the filter rules' kernels (:mod:`corpusflow.filters.kernels`);
* ``dedup.minhash`` — MinHash signatures; ``dedup.ngram_hashes`` — shingle hashes.

``--check`` exits with code 1 if any kernel had to be compiled, i.e. was not served by the cache:
run it in a second process after the warm-up to prove that the cache holds everything (the image
build does). Where numba writes its cache: next to the module in ``__pycache__`` if that is
writable, else ``NUMBA_CACHE_DIR`` (numba's documentation, "Cache sharing"). The machine code is
for the CPU named by ``NUMBA_CPU_NAME`` (the build machine's own CPU when unset): an image built
on one machine and run on another needs ``NUMBA_CPU_NAME=generic`` at build and run time, or
numba recompiles on the workers.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

from corpusflow.config.checks import check_source_paths
from corpusflow.config.load import load_config
from corpusflow.core.document import Document
from corpusflow.core.jit import numba_enabled
from corpusflow.dedup import minhash, shingle
from corpusflow.dedup.core import SignatureComputer
from corpusflow.filters import kernels as filter_kernels
from corpusflow.filters.config import FilterStageConfig
from corpusflow.filters.profiles import PROFILE_DIR
from corpusflow.io.readers import iter_file, plan_files
from corpusflow.steps.filters import FilterStep
from corpusflow.steps.langid import LangIdStep
from corpusflow.steps.normalize import NormalizeStep
from corpusflow.text import fasttext_infer

DEMO = "pkg:configs/pipelines/demo.yaml"


def kernels() -> dict[str, Any]:
    """Name -> numba dispatcher of every kernel (built, not compiled); ``{}`` when numba is off."""
    if not numba_enabled():
        return {}

    out: dict[str, Any] = {
        "fasttext_infer": fasttext_infer._kernel(),
        "dedup.minhash": minhash._kernel(),
        "dedup.ngram_hashes": shingle._ngram_kernel(),
    }
    compiled = filter_kernels.get()
    if compiled is not None:
        out.update({f"filters.{name}": getattr(compiled, name) for name in filter_kernels._KERNEL_NAMES})
    return out


def cache_stats() -> dict[str, tuple[int, int, int]]:
    """Name -> (signatures, loaded from the cache, compiled) of every kernel, in this process."""
    out = {}
    for name, dispatcher in kernels().items():
        stats = dispatcher.stats
        out[name] = (len(dispatcher.signatures), sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    return out


def _shipped_profiles() -> list[str]:

    return sorted(p.stem for p in Path(PROFILE_DIR).glob("*.yaml"))


def warm_up(config: str = DEMO, docs_per_source: int = 40) -> int:
    """Run the per-document stages on the first documents of every source of ``config``; returns
    the number of documents that went through. Every compiled kernel is then in the cache."""

    cfg = load_config(config)
    docs: list[Document] = []
    for spec in plan_files(cfg.sources, check_source_paths(cfg)):
        source = cfg.source(spec.source)
        read = (o for o in iter_file(spec, source, cfg.limits.max_doc_chars) if isinstance(o, Document))
        docs.extend(islice(read, docs_per_source))
    first: list[Any] = [NormalizeStep(cfg.stages.normalize), LangIdStep(cfg.stages.langid)]
    profiles: list[Any] = []
    for name in _shipped_profiles():  # every shipped profile, for the language it is written for
        lang = name.split("_", 1)[0]
        resolved = FilterStageConfig(enabled=True, profiles={lang: name}).resolved_profiles()
        profiles.append(FilterStep(resolved, "filter", True))
    for step in first + profiles:
        step.setup()  # a filter chain's setup() also warms every filter kernel
    passed: list[Document] = []
    for doc in docs:
        out: Any = doc
        for step in first:
            out = step.apply(out)
            if not isinstance(out, Document):
                break
        else:
            for step in profiles:  # each profile on its own: one rejection must not hide the others
                step.apply(out)
            passed.append(out)
    if passed:
        SignatureComputer(cfg.stages.dedup, cfg.seed).compute(passed)
    return len(docs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m corpusflow.run.warmup", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=DEMO, help=f"pipeline config whose sources give the documents ({DEMO})")
    p.add_argument("--docs", type=int, default=40, help="documents per input file (40)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if any kernel was compiled instead of loaded from numba's cache")
    args = p.parse_args(argv)
    if not numba_enabled():
        print("numba is off (not installed, or CORPUSFLOW_NO_NUMBA is set): nothing to compile", file=sys.stderr)
        return 1 if args.check else 0
    start = time.perf_counter()
    n = warm_up(args.config, args.docs)
    stats = cache_stats()
    for name, (sigs, hits, misses) in stats.items():
        print(f"{name:32s} {sigs} signature(s): {hits} from the cache, {misses} compiled")
    compiled = sorted(name for name, (_, _, misses) in stats.items() if misses)
    print(f"{len(stats)} kernels warmed on {n} documents in {time.perf_counter() - start:.1f} s "
          "(0 signatures: a kernel only called by other kernels whose cached code already holds it)")
    if args.check and compiled:
        print(f"corpusflow.run.warmup --check: compiled, not loaded from the cache: {', '.join(compiled)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
