"""The README holds: its schema section is the one of ``core/schemas.py``, and its shell code
blocks that can run here (the demo, and commands over the demo's output) run and succeed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from corpusflow.core.schemas import schemas_markdown
from tests.helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
RUNNABLE = ("run", "validate", "mix", "inspect", "report", "export")


def test_schema_section_matches_schemas_py() -> None:
    m = re.search(r"<!-- schemas:begin -->\n(.*?)<!-- schemas:end -->", README, re.S)
    assert m, "README.md lost its <!-- schemas:begin/end --> section"
    assert m.group(1) == schemas_markdown(), (
        "README.md's schema section differs from corpusflow/core/schemas.py; regenerate it with "
        "python -c 'from corpusflow.core.schemas import schemas_markdown; print(schemas_markdown())'")


def readme_commands() -> list[list[str]]:
    """``corpusflow`` commands of the README's ```bash blocks, without placeholders (CONFIG, DIR)."""
    commands: list[list[str]] = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if len(words) < 2 or words[0] != "corpusflow" or words[1] not in RUNNABLE:
                    continue
                if any(re.fullmatch(r"[A-Z]+", w) for w in words):  # CONFIG, DIR, RUN: placeholders
                    continue
                if any(re.search(r"(^|[/=])[A-Z][A-Z0-9_]{2,}(/|$)", w) for w in words):  # CRAWL_2024/*.jsonl.gz
                    continue
                if any(w.startswith(("SparkRunner", "FlinkRunner", "DataflowRunner")) for w in words):
                    continue  # needs a cluster or a cloud: tests/test_engines.py and test_wheel.py run these

                commands.append(words[1:])
    return commands


def test_the_readme_has_runnable_commands() -> None:
    names = [c[0] for c in readme_commands()]
    assert names[0] == "run" and set(RUNNABLE) <= set(names), names


def test_readme_commands_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for words in readme_commands():
        args = [w.replace("configs/", f"{REPO}/configs/", 1) if w.startswith("configs/") else w for w in words]
        proc = subprocess.run([sys.executable, "-m", "corpusflow", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"corpusflow {shlex.join(words)}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert (tmp_path / "out" / "demo" / "manifest.json").is_file()
    assert (tmp_path / "out" / "demo" / "report" / "index.html").is_file()
