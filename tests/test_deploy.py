"""deploy/dataflow/Dockerfile stays consistent with the package it installs (the image itself
cannot be built here: no Docker engine). What it runs is tested elsewhere: the warm-up in
tests/test_warmup.py, the wheel and the offline Dataflow job in tests/test_wheel.py."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "dataflow" / "Dockerfile"


def _args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.M))


def test_base_image_is_beams_sdk_image_of_the_pinned_version() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    pinned = re.search(r'^\s*"apache-beam==([\d.]+)",', pyproject, flags=re.M)
    requires = re.search(r'^requires-python = "([^"]+)"', pyproject, flags=re.M)
    assert pinned and requires
    args = _args()
    assert args["BEAM_VERSION"] == pinned[1]
    text = DOCKERFILE.read_text()
    assert "FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}" in text
    major, minor = (int(x) for x in args["PYTHON_VERSION"].split("."))
    low, high = re.findall(r"(\d+)\.(\d+)", requires[1])
    assert (int(low[0]), int(low[1])) <= (major, minor) < (int(high[0]), int(high[1]))
    import apache_beam

    assert apache_beam.__version__ == args["BEAM_VERSION"]  # the launcher here matches the image


def test_installs_the_wheel_and_fills_the_numba_cache() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^COPY dist/corpusflow-\*-py3-none-any\.whl ", text, flags=re.M)
    assert "pip install /tmp/wheels/corpusflow-" in text and "pip check" in text
    assert "python -m corpusflow.run.warmup \\" in text and "python -m corpusflow.run.warmup --check" in text
    assert re.search(r"NUMBA_CACHE_DIR=/\S+", text) and "NUMBA_CPU_NAME=generic" in text
    assert not re.search(r"^(ENTRYPOINT|CMD|USER)\b", text, flags=re.M)  # keep /opt/apache/beam/boot


def test_running_md_command_uses_this_image() -> None:
    doc = (REPO / "docs" / "running.md").read_text()
    assert "docker build -f deploy/dataflow/Dockerfile" in doc
    run = re.search(r"corpusflow run pkg:configs/pipelines/demo\.yaml[^`]*?--runner DataflowRunner[^`]*?```", doc, re.S)
    assert run, "docs/running.md: the Dataflow command for the demo"
    for flag in ("--project", "--region", "--temp_location gs://", "--sdk_container_image", "--output gs://"):
        assert flag in run.group(0), flag
