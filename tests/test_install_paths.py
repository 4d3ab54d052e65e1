"""No install path in outputs: files matched by ``pkg:`` globs keep their ``pkg:`` spelling.

The ``file`` column of pool/rejected/duplicates/errors rows, the manifest's ``inputs`` and the
keys the writers sort by are all taken from the planned file path; with the absolute install
path there, two installs of the same version wrote different bytes, and a worker whose package
lives elsewhere (a Dataflow container) was handed the launcher's path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import corpusflow.core.paths as config
from corpusflow.core.paths import package_path, resolve_path
from corpusflow.io.config import SourceConfig
from corpusflow.io.filesystems import expand_glob
from corpusflow.io.readers import estimated_size, iter_file, plan_files

REPO = Path(__file__).resolve().parents[1]


def test_pkg_glob_gives_pkg_paths_in_order() -> None:
    files = expand_glob("pkg:data/sample/*.jsonl.gz")
    assert files and all(f.startswith("pkg:data/sample/") for f in files)
    assert files == sorted(files)
    assert [resolve_path(f) for f in files] == sorted(
        str(p) for p in (config.PACKAGE_DIR / "data" / "sample").glob("*.jsonl.gz"))
    assert expand_glob("pkg:data/sample/ja_wiki.jsonl.gz") == ["pkg:data/sample/ja_wiki.jsonl.gz"]


def test_other_paths_are_left_as_given(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    assert expand_glob(str(tmp_path / "*.jsonl")) == [str(tmp_path / "a.jsonl")]
    assert package_path(str(tmp_path / "a.jsonl")) == str(tmp_path / "a.jsonl")
    assert package_path(str(config.PACKAGE_DIR / "data" / "x.txt")) == "pkg:data/x.txt"


def test_plan_keeps_pkg_spelling_ids_and_sizes() -> None:
    src = SourceConfig(name="wiki", paths=["pkg:data/sample/ja_*.jsonl.gz"], fields={"id": None})
    specs = plan_files([src], {"wiki": expand_glob(src.paths[0])})
    assert specs and all(s.path.startswith("pkg:data/sample/ja_") for s in specs)
    assert {s.file_key for s in specs} == {s.path.rsplit("/", 1)[1] for s in specs}  # as before the change
    wiki = next(s for s in specs if s.file_key == "ja_wiki.jsonl.gz")
    size = estimated_size(wiki)  # the range planner still sees the file (resolved on use)
    assert size is not None and size > os.path.getsize(resolve_path(wiki.path))
    doc = next(iter(iter_file(wiki, src, 1_000_000)))
    assert doc.file == "pkg:data/sample/ja_wiki.jsonl.gz" and doc.id == "wiki/ja_wiki.jsonl.gz#L1"


def test_two_package_dirs_plan_the_same_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plans = []
    for where in ("a", "b/deeper/site-packages"):
        pkg = tmp_path / where / "corpusflow"
        shutil.copytree(config.PACKAGE_DIR / "data", pkg / "data")
        monkeypatch.setattr(config, "PACKAGE_DIR", pkg)
        files = expand_glob("pkg:data/sample/*.jsonl.gz")
        assert resolve_path(files[0]).startswith(str(pkg))
        plans.append(files)
    assert plans[0] == plans[1]


def _copy_package(dest: Path) -> Path:
    """A copy of the corpusflow package as an install would lay it out (configs as real files)."""
    shutil.copytree(REPO / "corpusflow", dest / "corpusflow", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_demo_outputs_are_identical_between_two_installs(tmp_path: Path) -> None:
    """The demo (pkg: inputs, pkg: config) run from two copies of the package at different
    paths, from a folder with no repository in it: every output file has the same bytes
    (the manifest's wall-clock ``seconds`` aside) and none names either install path."""
    outs = []
    for where in ("one", "two/much/deeper/site-packages"):
        site = _copy_package(tmp_path / where)
        cwd = tmp_path / f"cwd-{len(outs)}"
        cwd.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(site)
        where_from = subprocess.run([sys.executable, "-c", "import corpusflow; print(corpusflow.__file__)"],
                                    cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout
        assert where_from.startswith(str(site)), where_from
        out = tmp_path / f"out-{len(outs)}"
        proc = subprocess.run(
            [sys.executable, "-m", "corpusflow", "run", "pkg:configs/pipelines/demo.yaml", "--output", str(out),
             "--quiet", "--progress", "off"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append((site, out))
    trees = [_tree(out) for _, out in outs]
    assert set(trees[0]) == set(trees[1]) and any(k.startswith("rejected/") for k in trees[0])
    manifests = [json.loads(t.pop("manifest.json")) for t in trees]
    for m in manifests:
        m.pop("seconds")
        assert all(i["path"].startswith("pkg:data/sample/") for i in m["inputs"])
    assert manifests[0] == manifests[1]
    # _work/ is the run's bookkeeping (the saved plan records the launch command), not output
    different = [k for k in trees[0] if trees[0][k] != trees[1][k] and not k.startswith("_work/")]
    assert different == []
    for site, out in outs:
        needle = str(site).encode()
        leaks = [str(p) for p in out.rglob("*") if p.is_file() and needle in p.read_bytes()]
        assert leaks == [], leaks


def test_pkg_inputs_pass_the_dataflow_path_check() -> None:
    """Workers resolve pkg: inputs in their own install; other local inputs stay refused."""
    from corpusflow.run.runners import check_paths_for_runner

    summary = {"runner": "DataflowRunner", "dry_run": False}
    files = expand_glob("pkg:data/sample/*.jsonl.gz")
    check_paths_for_runner(summary, "gs://corpusflow-example/out", files)
    with pytest.raises(ValueError, match="/tmp/local.jsonl"):
        check_paths_for_runner(summary, "gs://corpusflow-example/out", [*files, "/tmp/local.jsonl"])
    with pytest.raises(ValueError, match="--output out/demo"):
        check_paths_for_runner(summary, "out/demo", files)
