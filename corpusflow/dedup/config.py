"""Config of the dedup stage (see issue #4)."""

from __future__ import annotations

from pydantic import Field

from corpusflow.configbase import StrictModel


class DedupStageConfig(StrictModel):
    enabled: bool = Field(False, description="Run exact + MinHash near-duplicate removal.")
