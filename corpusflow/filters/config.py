"""Config of the quality-filter stage (see issue #3)."""

from __future__ import annotations

from pydantic import Field

from corpusflow.configbase import StrictModel


class FilterStageConfig(StrictModel):
    enabled: bool = Field(False, description="Run the quality-filter stage after language ID.")
