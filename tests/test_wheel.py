"""``python -m build`` from a clean copy of the repository: what the sdist and the wheel hold.

The build runs in build's isolated environment (only ``[build-system] requires`` installed there,
so no ``wheel`` package is needed: setuptools >= 70.1 builds wheels itself), on a copy of the
repository so the work tree gets no ``build/`` or ``*.egg-info``. The wheel is built from the
sdist, as ``python -m build`` does by default, so both are checked at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "out",
                               ".pytest_cache", ".ruff_cache", ".hypothesis", "corpora", "work")

#: Files a worker needs from the wheel (read through pkg: paths).
REQUIRED = (
    "corpusflow/configs/pipelines/demo.yaml",
    "corpusflow/configs/recipes/README.md",
    "corpusflow/resources/lid.176.ftz",
    "corpusflow/resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model",
    "corpusflow/resources/tokenizers/llama3/llama3.tiktoken",
    "corpusflow/resources/tld/llm_jp_valid_tlds.txt",
    "corpusflow/data/sample/ja_wiki.jsonl.gz",
    "corpusflow/data/sample/LICENSE.md",
    "corpusflow/filters/profiles/ja_web.yaml",
    "corpusflow/filters/wordlists/promo_ja.txt",
)


def _package_files() -> set[str]:
    """Every file of the corpusflow package in the repository (configs/ through its symlink)."""
    out = set()
    for root, dirs, files in os.walk(REPO / "corpusflow", followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        out.update(str((Path(root) / f).relative_to(REPO)) for f in files if not f.endswith(".pyc"))
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src") / "corpusflow"
    shutil.copytree(REPO, src, symlinks=True, ignore=_SKIP)
    out = tmp_path_factory.mktemp("dist")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    wheel = next(out.glob("*.whl"))
    print(f"\npython -m build: {time.perf_counter() - start:.1f} s; wheel {wheel.stat().st_size:,} B")
    return out


@pytest.mark.slow
def test_wheel_holds_the_package_configs_and_resources_only(dist: Path) -> None:
    names = zipfile.ZipFile(next(dist.glob("corpusflow-*.whl"))).namelist()
    files = {n for n in names if ".dist-info/" not in n}
    assert [n for n in REQUIRED if n not in files] == []
    assert _package_files() - files == set()  # nothing of the package left out
    configs = {str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*") if p.is_file()}
    assert configs and {f"corpusflow/{c}" for c in configs} <= files
    assert {n.split("/")[0] for n in files} == {"corpusflow", "pipelines"}  # no tests/, bench/, docs/
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)


@pytest.mark.slow
def test_sdist_ships_configs_as_files(dist: Path) -> None:
    with tarfile.open(next(dist.glob("corpusflow-*.tar.gz"))) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
    assert "pyproject.toml" in members
    demo = members.get("corpusflow/configs/pipelines/demo.yaml")
    assert demo is not None and demo.isfile()  # a file, not the repository's symlink
    assert not any(m.issym() for m in members.values())
    assert [n for n in REQUIRED if n not in members] == []


# --------------------------------------------------------------------------------------------
# The Dataflow job graph, built offline from the wheel in a fresh virtualenv
# --------------------------------------------------------------------------------------------

IMAGE = "europe-west4-docker.pkg.dev/example-project/corpusflow/worker:0.1.0"
DATAFLOW_ARGS = ("--runner", "DataflowRunner", "--project", "example-project", "--region", "europe-west4",
                 "--temp_location", "gs://corpusflow-example/tmp", f"--sdk_container_image={IMAGE}",
                 "--dry_run=True")

#: Run inside the virtualenv: build the demo's Dataflow job as `corpusflow run` does and print
#: what the workers would get: the container image of every environment, the top-level steps,
#: and how many DoFn payloads (base64 of a zlib/bz2-compressed pickle) name a package data file
#: (sample inputs, models, tokenizers, word lists, configs) by the launcher's install path, which
#: a worker could not open. (The launcher's path does appear as the code file name of pickled
#: lambdas and as the label of a resolved filter profile; neither is opened on a worker.)
_GRAPH = r'''
import base64, bz2, json, re, sys, zlib
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2
from corpusflow.config.load import load_config
from corpusflow.run.rundir import plan_run
from corpusflow.stages.graph import build_pipeline
from corpusflow.run.runners import resolve_runner

cfg = load_config("pkg:configs/pipelines/demo.yaml")
argv, _ = resolve_runner("DataflowRunner", sys.argv[2:], cfg.runner)
p = beam.Pipeline(options=PipelineOptions(argv))
build_pipeline(p, plan_run(cfg, "gs://corpusflow-example/out/demo"))
pipeline = p.run().job.proto_pipeline
images = sorted({beam_runner_api_pb2.DockerPayload.FromString(e.payload).container_image
                 for e in pipeline.components.environments.values()})
payloads = []
for t in pipeline.components.transforms.values():
    if t.spec.urn == "beam:transform:pardo:v1":
        raw = base64.b64decode(beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload).do_fn.payload)
        try:
            payloads.append(zlib.decompress(raw))
        except zlib.error:
            payloads.append(bz2.decompress(raw))
local = re.compile(re.escape(sys.argv[1].encode()) + rb"/(data|resources|configs|filters/wordlists)/")
print(json.dumps({"images": images, "steps": sorted({t.unique_name.split("/")[0]
                  for t in pipeline.components.transforms.values()}),
                  "pardos": len(payloads), "pkg_paths": sum(b"pkg:data/sample/" in b for b in payloads),
                  "local_paths": sum(bool(local.search(b)) for b in payloads)}))
'''


def _offline_prefix() -> list[str]:
    """``unshare --net``: run in a network namespace with no interface up (root on Linux)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net"]
    return []


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv under the temp dir with the wheel installed (offline, ``--no-deps``).

    It sees the machine's site-packages (``--system-site-packages``) for Beam, numpy, pyarrow...
    so the test downloads nothing when they are there; corpusflow itself comes from the wheel
    (checked below). Beam's ``gcp`` extra, which DataflowRunner imports, is installed into the
    virtualenv from the package index only if the machine lacks it.
    """
    import apache_beam

    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "venv"
    py = env_dir / "bin" / "python"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True)
    wheel = next(dist.glob("corpusflow-*.whl"))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, cwd=root)
    took = time.perf_counter() - start
    probe = "from apache_beam.runners.dataflow.internal import apiclient"
    if subprocess.run([py, "-c", probe], capture_output=True, cwd=root).returncode != 0:
        start = time.perf_counter()
        subprocess.run([py, "-m", "pip", "install", "-q", f"apache-beam[gcp]=={apache_beam.__version__}"],
                       check=True, capture_output=True, cwd=root, timeout=1500)
        print(f"\ninstalled apache-beam[gcp] into the virtualenv in {time.perf_counter() - start:.1f} s")
    print(f"\nvirtualenv + wheel: {took:.1f} s")
    return env_dir


def _clean_env(home: Path) -> dict[str, str]:
    """No credentials, no gcloud config, nothing of the repository on the import path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "GOOGLE_APPLICATION_CREDENTIALS", "VIRTUAL_ENV") and not k.startswith("CLOUDSDK_")}
    env.update(HOME=str(home), CLOUDSDK_CONFIG=str(home / "gcloud"), PYTHONNOUSERSITE="1")
    return env


@pytest.mark.slow
def test_dataflow_dry_run_from_the_wheel_offline(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(tmp_path)
    py = str(venv / "bin" / "python")
    where = subprocess.run([py, "-c", "import corpusflow.core.paths as c; print(c.PACKAGE_DIR)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)) and str(REPO) not in where, where

    offline = _offline_prefix()
    start = time.perf_counter()
    proc = subprocess.run([*offline, str(venv / "bin" / "corpusflow"), "run", "pkg:configs/pipelines/demo.yaml",
                           "--output", "gs://corpusflow-example/out/demo", *DATAFLOW_ARGS],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dry run: the DataflowRunner job was built and validated; nothing was submitted" in proc.stdout
    print(f"\ncorpusflow run --runner DataflowRunner --dry_run=True: {took:.1f} s "
          f"({'no network namespace' if not offline else 'in a network namespace without interfaces'})")

    graph = subprocess.run([*offline, py, "-c", _GRAPH, where, *DATAFLOW_ARGS[2:]], cwd=work, env=env,
                           capture_output=True, text=True, timeout=600)
    assert graph.returncode == 0, graph.stderr[-3000:]
    job = json.loads(graph.stdout.strip().splitlines()[-1])
    assert job["images"] == [IMAGE]
    assert {"Read", "CleanSources+Normalize+IdentifyLanguage+ApplyFilters", "Deduplicate", "Mixture",
            "WriteRejected", "WriteDuplicates"} <= set(job["steps"])
    assert job["pardos"] > 10 and job["pkg_paths"] >= 1  # the read step carries pkg: paths...
    assert job["local_paths"] == 0  # ...and no step carries the launcher's install path
    assert not list(work.iterdir())  # nothing written locally
